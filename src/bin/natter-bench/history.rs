//! `history`: a database with a million messages in a thousand
//! conversations, seeded straight through natter's db layer; then the newest
//! page, a page deep in the past, and a `?since=` resume that replays 10,000
//! missed messages are timed through the real server.

use std::path::Path;
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHasher;
use futures_util::StreamExt;
use natter::db;
use natter::model::{Timestamp, UserId};
use rusqlite::Connection;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::fanout::open;
use crate::http::Http;
use crate::report::{Row, Samples};
use crate::server::Target;

#[derive(Clone, Debug)]
pub struct Opts {
    pub messages: usize,
    pub conversations: usize,
    pub resume: usize,
    pub requests: usize,
    pub resumes: usize,
}

/// What the timed part needs to know about the seeded data.
pub struct Seeded {
    /// The reader's conversations (UUIDs) and, for each, an id 100 messages
    /// into its history (for the deep page).
    reader: Vec<(String, i64)>,
    /// Resume from here to get exactly `resume` messages.
    since: i64,
    pub seconds: f64,
}

const WRITERS: usize = 10;
/// The reader is in every 50th conversation.
const READER_EVERY: usize = 50;

pub fn seed(path: &Path, o: &Opts) -> Seeded {
    let started = Instant::now();
    db::init(path).expect("init database");
    let mut c = Connection::open(path).expect("open database");
    c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF;")
        .expect("pragmas");
    let hash = argon2::Argon2::default()
        .hash_password(b"bench-password")
        .expect("hash")
        .to_string();
    let tx = c.transaction().expect("tx");
    let user = |name: &str| -> UserId {
        let new = db::users::NewUser {
            username: name,
            email: None,
            password_hash: &hash,
            name: "",
            first_name: "",
            last_name: "",
            public_key: None,
        };
        db::users::insert(&db::Tx::sqlite(&tx), &new).expect("user").id
    };
    let reader = user("reader");
    let writers: Vec<UserId> = (0..WRITERS).map(|i| user(&format!("writer{i}"))).collect();
    let mut convs = Vec::with_capacity(o.conversations);
    for i in 0..o.conversations {
        let mut members = vec![writers[(i + 1) % WRITERS]];
        if i.is_multiple_of(READER_EVERY) {
            members.push(reader);
        }
        let conv = db::conversations::create_room(
            &db::Tx::sqlite(&tx),
            &format!("history-{i}"),
            writers[i % WRITERS],
            &members,
        )
        .expect("room");
        convs.push(conv);
    }
    tx.commit().expect("commit");
    // Round-robin over the conversations, as real traffic interleaves them.
    // The deep page reads back from a tenth of the way into each history
    // (at least a page and a bit, so it is a full page).
    let per_conversation = o.messages / o.conversations;
    let depth = (per_conversation / 10).max(60).min(per_conversation.saturating_sub(1));
    let mut reader_ids = Vec::new();
    let mut deep = vec![0i64; o.conversations];
    let mut k = 0;
    while k < o.messages {
        let tx = c.transaction().expect("tx");
        for _ in 0..100_000.min(o.messages - k) {
            let i = k % o.conversations;
            let text = format!("history message {k}");
            let new = db::messages::NewMessage {
                conversation: convs[i].id,
                sender: writers[i % WRITERS],
                text: &text,
                file: None,
                at: Timestamp::now(),
                incomplete: false,
                reply_to: None,
                reply_id: None,
            };
            let id = db::messages::insert(&db::Tx::sqlite(&tx), &new).expect("message");
            if i.is_multiple_of(READER_EVERY) {
                reader_ids.push(id.0);
            }
            if k / o.conversations == depth {
                deep[i] = id.0;
            }
            k += 1;
        }
        // Indexed for search as the writer would (migration 0008).
        db::search::index_queued(&db::Tx::sqlite(&tx)).expect("index");
        tx.commit().expect("commit");
    }
    let since = if reader_ids.len() > o.resume {
        reader_ids[reader_ids.len() - o.resume - 1]
    } else {
        0
    };
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").expect("checkpoint");
    let reader = convs
        .iter()
        .enumerate()
        .filter(|(i, _)| i.is_multiple_of(READER_EVERY))
        .map(|(i, conv)| (conv.uuid.to_string(), deep[i]))
        .collect();
    Seeded {
        reader,
        since,
        seconds: started.elapsed().as_secs_f64(),
    }
}

pub async fn run(target: &Target, seeded: &Seeded, o: &Opts) -> Vec<Row> {
    let mut http = Http::connect(&target.base).await;
    let (st, login) = http
        .post(
            "/api/auth/login",
            None,
            &json!({"username": "reader", "password": "bench-password"}),
        )
        .await;
    assert_eq!(st, 200, "login: {login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    let mut rows = Vec::new();

    for (label, deep) in [("newest page (50)", false), ("deep page (50)", true)] {
        // Warm up, then measure.
        let mut lat = Samples::default();
        for i in 0..o.requests + 50 {
            let (conv, before) = &seeded.reader[i % seeded.reader.len()];
            let path = if deep {
                format!("/api/conversations/{conv}?limit=50&before={before}")
            } else {
                format!("/api/conversations/{conv}?limit=50")
            };
            let t = Instant::now();
            let (st, page) = http.get(&path, Some(&token)).await;
            let took = t.elapsed().as_nanos() as u64;
            assert_eq!(st, 200, "{path}: {page}");
            assert_eq!(page.as_array().map(Vec::len), Some(50), "a full page");
            if i >= 50 {
                lat.push(took);
            }
        }
        let mut row = Row::default();
        row.set("what", label).set("runs", o.requests as u64);
        for (k, v) in lat.summary() {
            row.set(k, v);
        }
        rows.push(row);
    }

    let mut lat = Samples::default();
    for run in 0..o.resumes + 1 {
        let url = format!("{}/api/ws?token={token}&since={}", target.ws(), seeded.since);
        let t = Instant::now();
        let mut ws = open(&url).await.expect("socket");
        let mut n = 0;
        while n < o.resume {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) if text.starts_with("{\"action\":\"message\"") => n += 1,
                Ok(Some(Ok(_))) => {}
                other => panic!("resume stopped after {n} messages: {other:?}"),
            }
        }
        if run > 0 {
            lat.push(t.elapsed().as_nanos() as u64);
        }
    }
    let mut row = Row::default();
    row.set("what", format!("resume of {} messages", o.resume))
        .set("runs", o.resumes as u64);
    for (k, v) in lat.summary() {
        row.set(k, v);
    }
    rows.push(row);
    rows
}
