//! `natter export` and `natter import` through the real binary, and a
//! user's own export over HTTP.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::fake_ai::{FakeAi, Step};
use common::{Client, TestServer, login};
use serde_json::{Value, json};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_natter");

/// Run natter with `args` in `dir`; (success, stdout, stderr).
async fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("RUST_LOG").kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("NATTER_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.args(args).output().await.expect("run natter");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Upload `bytes` as `name` and return the file id.
async fn upload(c: &Client, name: &str, bytes: Vec<u8>) -> String {
    let (s, b) = c
        .send(
            c.http
                .post(format!("{}/api/files?name={name}", c.base))
                .header("content-type", "application/octet-stream")
                .body(bytes),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["file_id"].as_str().unwrap().to_owned()
}

/// A server with a bit of everything: rooms, a direct and an AI
/// conversation, edits, deletions, read marks, an attachment, an agent's
/// reply (`reply_to`) and one cut short (`incomplete`).
async fn populated() -> (TestServer, FakeAi, Vec<u8>) {
    let ai = FakeAi::start().await;
    let url = ai.url.clone();
    let s = TestServer::start_sqlite_with(|c| c.ai.ai_url = Some(url)).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("general").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let direct = alice.direct(&bob).await;
    alice.say(&room, "hello room").await;
    let edited = bob.say(&room, "typo").await;
    bob.patch(
        &format!("/api/messages/{}", edited["message_id"]),
        json!({"message": "fixed"}),
    )
    .await;
    let gone = alice.say(&direct, "secret").await;
    alice.delete(&format!("/api/messages/{}", gone["message_id"])).await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let file = upload(&alice, "blob.bin", bytes.clone()).await;
    let (st, b) = alice
        .post(
            "/api/messages",
            json!({"conversation_id": direct, "message": "a file", "attachment_id": file}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let last = bob.say(&direct, "got it").await;
    alice
        .post(
            &format!("/api/conversations/{direct}/read"),
            json!({"message_id": last["message_id"]}),
        )
        .await;
    // The agent answers one message in full and is cut off on the next.
    ai.then(Step::reply(&["Hi ", "Alice."]));
    ai.then(Step::Truncated(vec!["Half an ans".into()]));
    let (_, conv) = alice.post("/api/conversations", json!({"is_ai": true})).await;
    let conv = conv["conversation_id"].as_str().unwrap().to_owned();
    alice.say(&conv, "hi bot").await;
    wait_for(&alice, &conv, 2).await;
    alice.say(&conv, "and?").await;
    wait_for(&alice, &conv, 4).await;
    (s, ai, bytes)
}

async fn wait_for(c: &Client, conv: &str, n: usize) {
    for _ in 0..400 {
        if c.history(conv).await.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{conv} never had {n} messages");
}

/// The export's lines without the header's time, for comparing two exports.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["type"] == "header" {
                v["exported_at"] = Value::Null;
            }
            v
        })
        .collect()
}

#[tokio::test]
async fn export_then_import_keeps_every_message_id_and_byte() {
    let (s, _ai, bytes) = populated().await;
    let dir = tempfile::tempdir().unwrap();
    let live = s.config.db.to_str().unwrap().to_owned();
    let first = dir.path().join("all.jsonl");
    // Exported while the server runs.
    let (ok, stdout, stderr) = run(dir.path(), &["export", "--db", &live, first.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("messages: 9"), "{stdout}");
    assert!(stdout.contains("must set a new password"), "{stdout}");
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password_hash"),
        "no password hashes"
    );
    let all = lines(&first);
    assert_eq!(all[0]["type"], "header");
    assert_eq!(all[0]["format_version"], 1);
    assert_eq!(all[0]["schema_version"], natter::db::SCHEMA_VERSION);
    assert_eq!(all.last().unwrap()["type"], "end");
    let messages: Vec<&Value> = all.iter().filter(|l| l["type"] == "message").collect();
    assert!(messages.iter().any(|m| m["deleted"] == true && m["body"] == ""));
    assert!(
        messages
            .iter()
            .any(|m| m["body"] == "fixed" && m["updated_at"] != m["created_at"])
    );
    assert!(
        messages
            .iter()
            .any(|m| m["incomplete"] == true && m["reply_to"].is_i64())
    );
    assert!(
        messages
            .iter()
            .any(|m| m["incomplete"] == false && m["reply_to"].is_i64())
    );
    assert!(messages.iter().any(|m| m["file"].is_i64()));
    assert!(
        all.iter()
            .any(|l| l["type"] == "member" && l["last_read"].as_i64() > Some(0))
    );

    // Into a new database; exporting that gives the very same lines.
    let copy = dir.path().join("imported.db");
    let (ok, stdout, stderr) = run(
        dir.path(),
        &["import", "--db", copy.to_str().unwrap(), first.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("messages: 9") && stdout.contains("no usable password"),
        "{stdout}"
    );
    let second = dir.path().join("again.jsonl");
    let (ok, _, stderr) = run(
        dir.path(),
        &["export", "--db", copy.to_str().unwrap(), second.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(lines(&first), lines(&second), "the round trip changes nothing");

    // With the files beside the export instead of inside it.
    let by_ref = dir.path().join("refs.jsonl");
    let (ok, stdout, stderr) = run(
        dir.path(),
        &["export", "--files", "ref", "--db", &live, by_ref.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("refs.jsonl.files"), "{stdout}");
    let file_line = lines(&by_ref).into_iter().find(|l| l["type"] == "file").unwrap();
    assert!(file_line["data"].is_null(), "{file_line}");
    let stored = std::fs::read(dir.path().join(file_line["path"].as_str().unwrap())).unwrap();
    assert_eq!(stored, bytes);
    let third = dir.path().join("from-refs.db");
    let (ok, _, stderr) = run(
        dir.path(),
        &["import", "--db", third.to_str().unwrap(), by_ref.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{stderr}");
    let fourth = dir.path().join("from-refs.jsonl");
    let (ok, _, _) = run(
        dir.path(),
        &["export", "--db", third.to_str().unwrap(), fourth.to_str().unwrap()],
    )
    .await;
    assert!(ok);
    assert_eq!(lines(&first), lines(&fourth));
    s.stop().await;

    // The imported database serves: history and attachment bytes as they
    // were; the old password does not log in (it was never exported).
    let s2 = TestServer::start_in(dir, common::sqlite_config(&copy)).await;
    let (status, body) = s2
        .anonymous()
        .post("/api/auth/login", json!({"username": "alice", "password": "password1"}))
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, users) = s2.register("carol").await.get("/api/users").await;
    assert_eq!(status, 200);
    assert_eq!(
        users.as_array().unwrap().len(),
        4,
        "alice, bob, the agent, carol: {users}"
    );
}

#[tokio::test]
async fn import_refuses_what_it_cannot_take_whole() {
    let (s, _ai, _) = populated().await;
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("all.jsonl");
    let live = s.config.db.to_str().unwrap().to_owned();
    assert!(
        run(dir.path(), &["export", "--db", &live, export.to_str().unwrap()])
            .await
            .0
    );

    // Not into a database that has data, nor one a server is using.
    let (ok, _, stderr) = run(dir.path(), &["import", "--db", &live, export.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(
        stderr.contains("is using") && stderr.contains("stop it first"),
        "{stderr}"
    );
    let (_live_dir, _) = s.stop().await;
    let (ok, _, stderr) = run(dir.path(), &["import", "--db", &live, export.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("import only into a new or empty database"), "{stderr}");

    // A cut-off file: nothing is imported.
    let text = std::fs::read_to_string(&export).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    let cut_path = dir.path().join("cut.jsonl");
    std::fs::write(&cut_path, cut[..cut.len() - 1].join("\n")).unwrap();
    let target = dir.path().join("new.db");
    let (ok, _, stderr) = run(
        dir.path(),
        &["import", "--db", target.to_str().unwrap(), cut_path.to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("cut short; nothing was imported"), "{stderr}");
    let c = rusqlite::Connection::open(&target).unwrap();
    let users: i64 = c.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(users, 0, "all or nothing");

    // A line that is not an export line names its number.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"type\": \"user\", \"number\": \"x\"}}\n", cut[0])).unwrap();
    let (ok, _, stderr) = run(
        dir.path(),
        &["import", "--db", target.to_str().unwrap(), bad.to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[tokio::test]
async fn a_user_downloads_their_own_data() {
    let (s, _ai, bytes) = populated().await;
    let alice = login(&s, "alice").await;
    let carol = s.register("carol").await;
    let secret_room = carol.room("carols-own").await;
    carol.say(&secret_room, "not for alice").await;

    let res = alice
        .http
        .get(s.url("/api/users/me/export"))
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "no password or hash"
    );
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["format"], "natter-user-export");
    assert_eq!(export["user"]["username"], "alice");
    let conversations = export["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 3, "general, the direct one with bob, the agent's");
    let messages = export["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 9, "every message of her conversations, bob's too");
    assert!(messages.iter().any(|m| m["sender_username"] == "bob"));
    assert!(
        !text.contains("not for alice"),
        "nothing from conversations she is not in"
    );
    let files = export["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let (status, _) = alice.get(files[0]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(files[0]["size"], bytes.len());

    let (status, _) = s.anonymous().get("/api/users/me/export").await;
    assert_eq!(status, 401);
}
