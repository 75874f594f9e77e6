//! A smoke run of natter-bench: it starts the real natter, drives it, and
//! reports a clean result. (The figures themselves are not checked here:
//! benchmarks are run by hand, see docs/PERFORMANCE.md.)

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_natter-bench"))
        .args(["--natter", env!("CARGO_BIN_EXE_natter")])
        .args(args)
        .output()
        .expect("run natter-bench");
    assert!(
        out.status.success(),
        "natter-bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).expect("a JSON line");
    serde_json::from_str(line).expect("JSON")
}

#[test]
fn fanout_and_baseline_deliver_everything_once_in_order() {
    let j = bench(&[
        "baseline",
        "--rooms",
        "2",
        "--users",
        "3",
        "--messages",
        "5",
        "--window",
        "0",
    ]);
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "bare and natter");
    for r in results {
        assert_eq!(r["expected"], 2 * 3 * 3 * 5);
        assert_eq!(r["received"], r["expected"], "{r}");
        assert_eq!(r["lost"], 0);
        assert_eq!(r["duplicated"], 0);
        assert_eq!(r["out_of_order"], 0);
    }
    assert!(j["ratio_to_bare"].as_f64().unwrap() > 0.0);
    assert!(j["server_start_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn bigroom_delivers_every_post_to_every_member() {
    let j = bench(&[
        "bigroom",
        "--users",
        "30",
        "--messages",
        "5",
        "--rate",
        "50",
        "--posters",
        "2",
    ]);
    let r = &j["results"][0];
    assert_eq!(r["users"], 30);
    assert_eq!(r["deliveries_lost"], 0, "{r}");
    // 30 members: under --presence-max-members, so presence flows.
    assert!(r["presence_frames"].as_u64().unwrap() > 0, "{r}");
    for k in [
        "all_subscribed_s",
        "kb_per_socket",
        "post_answer_p99_ms",
        "post_to_all_p99_ms",
    ] {
        assert!(r[k].as_f64().is_some_and(|v| v > 0.0), "{k}: {r}");
    }
    // Plain frames: the wire carries the text and a few header bytes each.
    let (text, wire) = (
        r["bytes_per_delivery"].as_f64().unwrap(),
        r["wire_bytes_per_delivery"].as_f64().unwrap(),
    );
    assert!(wire > text && wire < text + 16.0, "{r}");

    // --deflate: every socket agrees to compression (the bench asserts the
    // answer header), and the same text takes fewer bytes on the wire.
    let j = bench(&[
        "bigroom",
        "--users",
        "10",
        "--messages",
        "5",
        "--rate",
        "50",
        "--deflate",
    ]);
    let r = &j["results"][0];
    assert_eq!(
        (r["deflate"].as_bool(), r["deliveries_lost"].as_u64()),
        (Some(true), Some(0)),
        "{r}"
    );
    let (text, wire) = (
        r["bytes_per_delivery"].as_f64().unwrap(),
        r["wire_bytes_per_delivery"].as_f64().unwrap(),
    );
    assert!(wire < text * 0.8, "compressed: {r}");
}

#[test]
fn idle_and_login_report_their_figures() {
    let j = bench(&["idle", "--sockets", "20", "--sources", "2"]);
    assert_eq!(j["results"][0]["server_counts"], 20);
    assert!(j["results"][0]["kb_per_socket"].is_number());
    let j = bench(&["login", "--logins", "4", "--concurrency", "2"]);
    assert_eq!(j["results"][0]["logins"], 4);
}

#[test]
fn history_seeds_through_the_db_layer_and_times_reads() {
    let j = bench(&[
        "history",
        "--messages",
        "3000",
        "--conversations",
        "30",
        "--resume",
        "20",
        "--requests",
        "5",
        "--resumes",
        "2",
    ]);
    let what: Vec<&str> = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["newest page (50)", "deep page (50)", "resume of 20 messages"]);
}
