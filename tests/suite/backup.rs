//! Backups and restores with the real binary, against a server that is
//! running and taking writes.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{PATIENCE, TestServer, login};

use common::process::natter;

/// Run natter with `args`; (success, stdout, stderr).
async fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = natter(dir).args(args).output().await.expect("run natter");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn message_ids(db: &Path) -> BTreeSet<i64> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut stmt = c.prepare("SELECT id FROM messages").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[tokio::test]
async fn a_backup_under_write_load_holds_every_message_acknowledged_before_it() {
    let s = TestServer::start_sqlite().await;
    let alice = s.register("alice").await;
    let room = alice.room("busy").await;
    let live = s.config.db.clone();

    // Eight clients send as fast as they are answered; each 200 is an ack.
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for w in 0..8 {
        let (c, room, acked, stop) = (alice.clone(), room.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 2000 {
                let m = c.say(&room, &format!("w{w} #{i}")).await;
                acked.lock().unwrap().push(m["message_id"].as_i64().unwrap());
                i += 1;
            }
        }));
    }
    // Let some writes land, then note what was acknowledged and back up.
    let started = std::time::Instant::now();
    while acked.lock().unwrap().len() < 200 {
        assert!(started.elapsed() < PATIENCE, "sends are too slow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before: Vec<i64> = acked.lock().unwrap().clone();
    let out = s.dir.path().join("copy.db");
    let (ok, stdout, stderr) = run(
        s.dir.path(),
        &["backup", "--db", live.to_str().unwrap(), out.to_str().unwrap()],
    )
    .await;
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for t in senders {
        t.await.unwrap();
    }
    assert!(ok, "backup failed: {stderr}");
    assert!(stdout.contains("integrity ok"), "{stdout}");
    assert!(stdout.contains("messages: "), "row counts are printed: {stdout}");
    assert!(
        during > before.len(),
        "writes went on while the backup ran ({} before, {during} after)",
        before.len()
    );
    let total = acked.lock().unwrap().len();
    let (_live_dir, _) = s.stop().await;

    // Restore into a fresh path: every message acknowledged before the
    // backup began is there.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = fresh_dir.path().join("restored.db");
    let (ok, stdout, stderr) = run(
        fresh_dir.path(),
        &["restore", "--db", fresh.to_str().unwrap(), out.to_str().unwrap()],
    )
    .await;
    assert!(ok, "restore failed: {stderr}");
    assert!(stdout.contains("put ") && stdout.contains("integrity ok"), "{stdout}");
    let restored = message_ids(&fresh);
    let missing: Vec<_> = before.iter().filter(|id| !restored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing: {missing:?}"
    );
    assert!(restored.len() <= total, "nothing invented");
    eprintln!(
        "acked before backup: {}, in the copy: {}, acked in all: {total}",
        before.len(),
        restored.len()
    );

    // The restored database serves: login works, the history is there, sending works.
    let s = TestServer::start_in(fresh_dir, common::sqlite_config(&fresh)).await;
    let alice = login(&s, "alice").await;
    let (status, page) = alice.get(&format!("/api/conversations/{room}?limit=1000")).await;
    assert_eq!(status, 200);
    assert_eq!(page.as_array().unwrap().len(), restored.len().min(1000));
    alice.say(&room, "after the restore").await;
}

#[tokio::test]
async fn restore_is_refused_while_a_server_uses_the_database() {
    let s = TestServer::start_sqlite().await;
    let alice = s.register("alice").await;
    let room = alice.room("kept").await;
    alice.say(&room, "still here").await;
    let live = s.config.db.to_str().unwrap().to_owned();
    let copy = s.dir.path().join("copy.db");
    let (ok, _, stderr) = run(s.dir.path(), &["backup", "--db", &live, copy.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");

    let (ok, stdout, stderr) = run(s.dir.path(), &["restore", "--db", &live, copy.to_str().unwrap()]).await;
    assert!(!ok, "restore went ahead under a running server: {stdout}");
    assert!(
        stderr.contains("is using")
            && stderr.contains("stop it first")
            && stderr.contains(&std::process::id().to_string()),
        "says a server (this pid) holds it: {stderr}"
    );
    // Nothing was touched: the server goes on.
    assert_eq!(alice.history(&room).await.len(), 1);
    alice.say(&room, "and goes on").await;
    let names: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("before-restore")), "{names:?}");

    // Once it stops, the same restore goes through and keeps the old file.
    let (dir, _) = s.stop().await;
    let (ok, stdout, stderr) = run(dir.path(), &["restore", "--db", &live, copy.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("moved the old database to"), "{stdout}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("natter.db.before-restore-") && !n.ends_with("-wal"))
        .collect();
    assert_eq!(aside.len(), 1, "the old file is kept");
    assert_eq!(
        message_ids(&dir.path().join(&aside[0])).len(),
        2,
        "the kept file has both messages"
    );
    assert_eq!(message_ids(Path::new(&live)).len(), 1, "the backup is in place");
}

#[tokio::test]
async fn restore_refuses_broken_and_newer_copies() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("natter.db");
    let (ok, _, _) = run(dir.path(), &["--init-db", "--db", live.to_str().unwrap()]).await;
    assert!(ok);

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database at all, not even close").unwrap();
    let (ok, _, stderr) = run(
        dir.path(),
        &["restore", "--db", live.to_str().unwrap(), garbage.to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("not a natter database"), "{stderr}");

    let newer = dir.path().join("newer.db");
    std::fs::copy(&live, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let (ok, _, stderr) = run(
        dir.path(),
        &["restore", "--db", live.to_str().unwrap(), newer.to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("schema version 99, newer than this natter"), "{stderr}");

    let (ok, _, stderr) = run(
        dir.path(),
        &["backup", "--db", live.to_str().unwrap(), garbage.to_str().unwrap()],
    )
    .await;
    assert!(!ok, "a backup never overwrites a file");
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[tokio::test]
async fn the_server_makes_backups_on_schedule_and_keeps_the_newest() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_owned();
    let s = TestServer::start_sqlite_with(|c| {
        c.backup.backup_dir = Some(dir.clone());
        c.backup.backup_every = Duration::from_secs(1);
        c.backup.backup_keep = 2;
    })
    .await;
    let alice = s.register("alice").await;
    let room = alice.room("scheduled").await;
    alice.say(&room, "in every backup").await;
    let started = std::time::Instant::now();
    loop {
        let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
        if metrics.contains("natter_backups_total{outcome=\"ok\"} 3") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no third backup: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    assert_eq!(files.len(), 2, "keeps the newest two: {files:?}");
    for f in files {
        assert_eq!(message_ids(&f).len(), 1, "{}", f.display());
    }
}

#[tokio::test]
async fn the_http_backup_is_for_admins_only() {
    let s = TestServer::start_sqlite().await;
    // The first account is the admin; bob is a member.
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("backed-up").await;
    alice.say(&room, "in the download").await;
    let (status, body) = bob.get("/api/admin/backup").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["message"], "only an admin may do this");
    let (status, _) = s.anonymous().get("/api/admin/backup").await;
    assert_eq!(status, 401);

    let res = alice
        .http
        .get(s.url("/api/admin/backup"))
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/vnd.sqlite3");
    let bytes = res.bytes().await.unwrap();
    let copy = s.dir.path().join("downloaded.db");
    std::fs::write(&copy, &bytes).unwrap();
    assert_eq!(message_ids(&copy).len(), 1, "the message is in the download");
}
