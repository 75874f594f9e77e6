//! A shutdown keeps its word: every socket of every dialect is told with a
//! close frame (1001), every committed message has been acknowledged to its
//! sender and every acknowledged one is stored, and the database file alone
//! holds it all. And the write-ahead log does not grow without end.

use crate::common;

use std::time::{Duration, Instant};

use common::load::{Load, stored_texts, texts_of_the_file_alone, wal_size};
use common::{PATIENCE, TestServer, Ws, post_form};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Read a socket to its end, as a client should (the server's close frame
/// is answered). The close frame's code and reason and when it came; `None`
/// if the connection ended without one (a browser would report 1006).
async fn close_of(mut ws: Ws) -> Option<(u16, String, Instant)> {
    let mut close = None;
    while let Some(frame) = ws.stream.next().await {
        match frame {
            Ok(Message::Close(f)) => close = f.map(|f| (u16::from(f.code), f.reason.to_string(), Instant::now())),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    close
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sockets_of_every_dialect_are_closed_with_1001() {
    // Two people with 200 sockets from one address: far over the limits
    // per user and per address, which have their own tests.
    let s = TestServer::start_with(|c| {
        c.guards.sockets_per_user = 0;
        c.guards.connections_per_address = 0;
    })
    .await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let (st, room) = post_form(&a, "/create_room", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::OK, "{room}");
    let (_, rooms) = b.get("/api/rooms").await;
    let lobby = rooms[0]["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        b.post(&format!("/api/rooms/{lobby}/join"), json!({})).await.0,
        StatusCode::OK
    );
    let (_, users) = a.get("/get_users").await;
    let a_number = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap()["user_id"]
        .as_i64()
        .unwrap();
    let (ta, tb) = (a.token(), b.token());
    // Every dialect's socket, natives most (they are most of a real load).
    let kinds: Vec<(&str, String)> = vec![
        ("native user socket", format!("/api/ws?token={ta}")),
        ("native user socket", format!("/api/ws?token={tb}")),
        (
            "native conversation socket",
            format!("/api/conversations/{lobby}/connect?token={tb}"),
        ),
        ("threads socket", format!("/ws/chat/room/?token={ta}")),
        ("messenger socket", format!("/messenger/ws/ws/chat/lobby/?token={tb}")),
        ("chatroom socket", format!("/ws/chat/lobby/{a_number}?token={ta}")),
    ];
    let mut readers = Vec::new();
    for i in 0..200 {
        // 100 native user sockets, then the other kinds in turn.
        let (kind, path) = if i < 100 {
            &kinds[i % 2]
        } else {
            &kinds[i % kinds.len()]
        };
        let ws = Ws::connect(&s.ws_url(path)).await;
        readers.push((*kind, tokio::spawn(close_of(ws))));
    }
    // Something live on them, so they are all registered and in use.
    a.say(&lobby, "before the stop").await;

    let started = Instant::now();
    s.stop().await;
    let stopped = Instant::now();
    let took = stopped - started;
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for (kind, reader) in readers {
        let close = tokio::time::timeout(PATIENCE, reader)
            .await
            .unwrap_or_else(|_| panic!("{kind}: still open after the stop"))
            .unwrap();
        let (code, reason, at) = close.unwrap_or_else(|| panic!("{kind}: ended without a close frame (1006)"));
        assert_eq!(code, 1001, "{kind}: {reason}");
        assert!(reason.contains("shutting down"), "{kind}: {reason}");
        // A process exits when `serve` returns: what comes later never comes.
        assert!(
            at <= stopped,
            "{kind}: the close frame came {:?} after the server had stopped",
            at - stopped
        );
        *by_kind.entry(kind).or_default() += 1;
    }
    eprintln!("200 sockets closed with 1001 ({by_kind:?}); the stop took {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "clients that answer promptly are not waited on: {took:?}"
    );
}

/// Users with a room each, so every socket hears only its own sends.
async fn senders(s: &TestServer, n: usize) -> Vec<(common::Client, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let c = s.register(&format!("sender{i}")).await;
        let room = c.room(&format!("room{i}")).await;
        out.push((c, room));
    }
    out
}

/// Sockets and HTTP clients send as fast as they are answered while the
/// server stops.
async fn load_through_a_stop(s: TestServer) -> (common::load::Outcome, std::path::PathBuf, tempfile::TempDir) {
    let ws_base = format!("ws://{}", s.addr);
    let mut load = Load::new();
    for (i, (c, room)) in senders(&s, 6).await.iter().enumerate() {
        load.socket(&ws_base, c, room, &format!("socket{i}")).await;
        load.http(c, room, &format!("http{i}a"));
        load.http(c, room, &format!("http{i}b"));
    }
    // Let it run: the stop lands in the middle of sends, commits and acks.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (dir, config) = s.stop().await;
    let outcome = load.finish(PATIENCE).await;
    (outcome, config.db, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_what_is_stored_is_exactly_what_was_acknowledged() {
    let s = TestServer::start().await;
    let (outcome, db, _dir) = load_through_a_stop(s).await;
    assert!(
        outcome.acked.len() > 200,
        "a real load: {} acknowledged",
        outcome.acked.len()
    );
    for close in &outcome.socket_closes {
        assert_eq!(close.as_ref().map(|c| c.0), Some(1001), "{close:?}");
    }
    let stored = stored_texts(&db);
    let unacknowledged: Vec<_> = stored.difference(&outcome.acked).collect();
    let lost: Vec<_> = outcome.acked.difference(&stored).collect();
    assert!(
        unacknowledged.is_empty(),
        "stored but never acknowledged (a client would send them again): {unacknowledged:?}"
    );
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    eprintln!(
        "{} sends acknowledged and stored, {} cut off by the stop (neither acknowledged nor stored); errors: {:?}",
        outcome.acked.len(),
        outcome.unacked,
        outcome.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_stop_the_database_file_alone_holds_every_acknowledged_message() {
    let s = TestServer::start_sqlite().await;
    let (outcome, db, _dir) = load_through_a_stop(s).await;
    assert!(outcome.acked.len() > 200, "{} acknowledged", outcome.acked.len());
    assert_eq!(wal_size(&db), 0, "the last checkpoint emptied the WAL");
    let alone = texts_of_the_file_alone(&db);
    let missing: Vec<_> = outcome.acked.difference(&alone).collect();
    assert!(missing.is_empty(), "the copied natter.db lacks {missing:?}");
    let unacknowledged: Vec<_> = alone.difference(&outcome.acked).collect();
    assert!(
        unacknowledged.is_empty(),
        "and holds nothing unacknowledged: {unacknowledged:?}"
    );
    eprintln!("the file alone holds all {} acknowledged messages", alone.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_grows_in_a_burst_and_is_emptied_when_writes_pause() {
    let s = TestServer::start_sqlite().await;
    let db = s.config.db.clone();
    let c = s.register("writer").await;
    let room = c.room("burst").await;
    let before = wal_size(&db);
    let text = "x".repeat(1000);
    let mut burst = Vec::new();
    for _ in 0..32 {
        let (c, room, text) = (c.clone(), room.clone(), text.clone());
        burst.push(tokio::spawn(async move {
            for _ in 0..40 {
                c.say(&room, &text).await;
            }
        }));
    }
    for task in burst {
        task.await.unwrap();
    }
    let burst_ended = Instant::now();
    let at_end = wal_size(&db);
    let mut emptied = None;
    while burst_ended.elapsed() < Duration::from_secs(8) {
        if wal_size(&db) == 0 {
            emptied = Some(burst_ended.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let emptied = emptied.unwrap_or_else(|| panic!("the WAL is still {} bytes 8 s after the burst", wal_size(&db)));
    assert!(
        at_end > before + 256 * 1024,
        "the burst went through the WAL: {before} bytes before it, {at_end} at its end"
    );
    eprintln!("WAL: {before} bytes before, {at_end} when the burst of 1280 sends ended, 0 after {emptied:?}");
    // Writing goes on into a fresh WAL.
    c.say(&room, "after the pause").await;
    let latest = c.history(&room).await;
    assert!(latest.iter().any(|m| m["message"] == "after the pause"), "{latest:?}");
    let (_dir, config) = s.stop().await;
    let stored: i64 = rusqlite::Connection::open(&config.db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 32 * 40 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_steady_writes_the_wal_is_cut_back_to_its_limit() {
    // Without a pause there is no idle moment to empty the WAL in, and the
    // passive checkpoints never catch up with a writer that never stops:
    // the limit alone keeps the file small.
    const LIMIT: u64 = 256 * 1024;
    let s = TestServer::start_sqlite_with(|c| c.wal_limit_bytes = LIMIT).await;
    let db = s.config.db.clone();
    let c = s.register("writer").await;
    let room = c.room("steady").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..16 {
        let (c, room, stop) = (c.clone(), room.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let text = "y".repeat(1000);
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.say(&room, &text).await;
                sent += 1;
            }
            sent
        }));
    }
    let mut sizes = Vec::new();
    // Times the file went over the limit and was later seen back under it.
    let mut over = false;
    let mut cut_back = 0;
    let started = Instant::now();
    // At least 4 s of load; longer (up to 30 s) on a busy machine, where
    // fewer writes, and so fewer cut-backs, fit in 4 s.
    while started.elapsed() < Duration::from_secs(4) || (cut_back < 4 && started.elapsed() < Duration::from_secs(30)) {
        let size = wal_size(&db);
        sizes.push(size);
        if size > LIMIT {
            over = true;
        } else if over {
            over = false;
            cut_back += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for t in load {
        sent += t.await.unwrap();
    }
    let max = *sizes.iter().max().unwrap();
    eprintln!(
        "steady writes ({sent} sends in {took:?}), limit {LIMIT}: the WAL peaked at {max} bytes and was cut back {cut_back} times"
    );
    assert!(max > LIMIT, "the load went past the limit: {max}");
    assert!(
        cut_back >= 4,
        "cut back while writes went on: {cut_back} times; sizes {sizes:?}"
    );
}
