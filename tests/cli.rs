//! The real binary: flags, `--init-db`, serving on the printed port, and
//! durability when it is killed.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::Client;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_natter");

fn natter(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("RUST_LOG").kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("NATTER_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Start serving and return the child and its base URL from the first stdout line.
async fn serve(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn natter");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("natter printed nothing")
        .unwrap()
        .expect("stdout closed");
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "real port: {base}"
    );
    (child, base)
}

#[tokio::test]
async fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--db",
        "--listen",
        "--init-db",
        "--access-ttl",
        "--refresh-ttl",
        "--max-message-bytes",
        "--max-upload-bytes",
        "--max-body-bytes",
        "--send-rate",
        "--sync",
        "--socket-queue",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}");
    }
    for env in [
        "NATTER_DB",
        "NATTER_LISTEN",
        "NATTER_INIT_DB",
        "NATTER_MAX_UPLOAD_BYTES",
    ] {
        assert!(help.contains(env), "--help mentions {env}");
    }
}

#[tokio::test]
async fn bad_flags_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = natter(dir.path()).args(["--access-ttl", "5y"]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown duration unit"));
    let out = natter(dir.path())
        .args(["--listen", "not-an-address"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on not-an-address"));
}

#[tokio::test]
async fn init_db_then_serve_on_the_printed_port() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let out = natter(dir.path())
        .args(["--init-db", "--db"])
        .arg(&db)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("created database"), "{text}");
    assert!(text.contains("from schema version 0 to 1"), "{text}");
    assert!(text.contains("created a new JWT signing secret"), "{text}");
    assert!(db.exists());
    // Again: nothing to do.
    let out = natter(dir.path())
        .args(["--init-db", "--db"])
        .arg(&db)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("up to date") && text.contains("kept the existing"),
        "{text}"
    );

    let mut cmd = natter(dir.path());
    cmd.arg("--db").arg(&db).args(["--listen", "127.0.0.1:0"]);
    let (child, base) = serve(cmd).await;
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    Client::new(&base).register("cli").await; // asserts 201
    // SIGTERM shuts it down cleanly.
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn plain_start_creates_natter_db_and_reads_env() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = natter(dir.path());
    cmd.env("NATTER_LISTEN", "127.0.0.1:0");
    let (mut child, base) = serve(cmd).await;
    assert!(
        dir.path().join("natter.db").exists(),
        "./natter.db is created on first start"
    );
    let res = reqwest::get(format!("{base}/api/users/")).await.unwrap();
    assert_eq!(res.status(), 401);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut cmd = natter(dir.path());
        cmd.args(["--listen", "127.0.0.1:0", "--send-rate", "0"]);
        cmd
    };
    let (mut child, base) = serve(start()).await;
    let c = Client::new(&base).register("durable").await;
    let room = c.room("vault").await;
    // Concurrent sends, so group commit batches them; each 200 is an ack
    // (`say` asserts it).
    let mut sends = Vec::new();
    for i in 0..100 {
        let (c, room) = (c.clone(), room.clone());
        sends.push(tokio::spawn(async move {
            c.say(&room, &format!("keep {i}")).await;
        }));
    }
    for s in sends {
        s.await.unwrap();
    }
    child.start_kill().unwrap(); // SIGKILL: no chance to flush anything
    child.wait().await.unwrap();

    let (mut child, base) = serve(start()).await;
    let c = Client { base, ..c }; // the same token, on the restarted server
    let hist = c.history(&room).await;
    assert_eq!(hist.len(), 100, "every acknowledged message is there");
    child.kill().await.unwrap();
}
