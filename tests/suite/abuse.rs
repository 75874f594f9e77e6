//! One person must not be able to hurt the others, through the real server:
//! sign-ups per address, logins that back off per account *and* address (so
//! nobody locks out the owner from elsewhere), password checks at once per
//! address, uploads per minute and per user, unattached uploads swept, slow
//! bodies cut off with 408, connections per address, sockets per user,
//! `Retry-After` on every 429, a full database (507) and a database locked
//! by another program (503) said clearly on every path, and working again
//! once it clears.

use crate::common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{Client, TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Another address on this machine (all of 127/8 is loopback on Linux).
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn from(s: &TestServer, ip: IpAddr) -> Client {
    let mut c = s.anonymous();
    c.http = reqwest::Client::builder().local_address(ip).build().unwrap();
    c
}

async fn sign_up(c: &Client, name: &str) -> (StatusCode, Value) {
    c.post("/api/auth/register", json!({"username": name, "password": "password1"}))
        .await
}

async fn log_in(c: &Client, name: &str, password: &str) -> reqwest::Response {
    c.http
        .post(format!("{}/api/auth/login", c.base))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}", res.status()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn sign_ups_are_limited_per_address_and_behind_a_proxy_per_client() {
    let s = TestServer::start_with(|c| c.guards.signups_per_hour = 3).await;
    let here = s.anonymous();
    for name in ["ann", "ben", "cat"] {
        assert_eq!(sign_up(&here, name).await.0, StatusCode::CREATED);
    }
    let res = here
        .http
        .post(s.url("/api/auth/register"))
        .json(&json!({"username": "dan", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&res);
    assert!((3000..=3600).contains(&wait), "about an hour: {wait}");
    let body: Value = res.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("too many sign-ups from your address") && msg.contains("try again in"),
        "{msg}"
    );
    assert!(!msg.contains(" 0 s"), "{msg}");
    // Another address is not affected.
    assert_eq!(sign_up(&from(&s, ELSEWHERE), "dan").await.0, StatusCode::CREATED);

    // Behind a trusted proxy, X-Forwarded-For tells clients apart; from
    // anyone else it is ignored.
    let s = TestServer::start_with(|c| {
        c.guards.signups_per_hour = 1;
        c.guards.trusted_proxy = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    })
    .await;
    let via = |ip: &str, name: &str| {
        let (http, url, ip) = (reqwest::Client::new(), s.url("/api/auth/register"), ip.to_owned());
        let name = name.to_owned();
        async move {
            http.post(url)
                .header("x-forwarded-for", format!("6.6.6.6, {ip}"))
                .json(&json!({"username": name, "password": "password1"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(via("1.1.1.1", "one").await, StatusCode::CREATED);
    assert_eq!(via("1.1.1.1", "two").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        via("2.2.2.2", "two").await,
        StatusCode::CREATED,
        "another client of the proxy"
    );
    let untrusted = from(&s, ELSEWHERE);
    let spoof = |name: &'static str| {
        untrusted
            .http
            .post(s.url("/api/auth/register"))
            .header("x-forwarded-for", "3.3.3.3")
            .json(&json!({"username": name, "password": "password1"}))
            .send()
    };
    assert_eq!(spoof("three").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(
        spoof("four").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a client that is not a proxy cannot pick its address"
    );
}

#[tokio::test]
async fn wrong_passwords_from_one_address_never_lock_the_owner_out() {
    let s = TestServer::start_with(|c| {
        c.guards.login_backoff_after = 3;
        c.guards.login_failures_per_address = 8;
    })
    .await;
    s.register("alice").await;
    let attacker = from(&s, ELSEWHERE);
    let owner = s.anonymous();
    for _ in 0..3 {
        assert_eq!(
            log_in(&attacker, "alice", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Now the attacker must wait, and waits longer each time.
    let res = log_in(&attacker, "alice", "guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        log_in(&attacker, "alice", "guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = log_in(&attacker, "alice", "guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res), 2, "the wait doubles");
    // Even the right password waits, from the attacker's address...
    assert_eq!(
        log_in(&attacker, "alice", "password1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...but the owner, elsewhere, is never locked out.
    assert_eq!(log_in(&owner, "alice", "password1").await.status(), StatusCode::OK);

    // Guessing many accounts from one address: the address is stopped.
    for i in 0..8 {
        let res = log_in(&attacker, &format!("nobody{i}"), "guess").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    let res = log_in(&attacker, "someone-else", "guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&res) > 60, "until the 10 minutes are up");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("from your address"),
        "{body}"
    );
    assert_eq!(log_in(&owner, "alice", "password1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_checks_at_once_are_bounded_per_address() {
    let s = TestServer::start_with(|c| c.guards.hashes_per_address = 1).await;
    s.register("alice").await;
    let attacker = from(&s, ELSEWHERE);
    let tries: Vec<_> = (0..6)
        .map(|_| {
            let a = attacker.clone();
            tokio::spawn(async move { log_in(&a, "alice", "wrong").await.status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(statuses.contains(&StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(
        log_in(&s.anonymous(), "alice", "password1").await.status(),
        StatusCode::OK
    );
}

async fn upload(c: &Client, name: &str, bytes: usize) -> reqwest::Response {
    c.http
        .post(format!("{}/api/files?name={name}", c.base))
        .bearer_auth(c.token())
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; bytes])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn uploads_have_a_rate_and_a_quota_per_user() {
    let s = TestServer::start_with(|c| {
        c.guards.uploads_per_minute = 3;
        c.guards.upload_quota_bytes = 10_000;
    })
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    for i in 0..3 {
        assert_eq!(
            upload(&alice, &format!("f{i}"), 3000).await.status(),
            StatusCode::CREATED
        );
    }
    let res = upload(&alice, "f3", 10).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&res) >= 1);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("too many uploads"),
        "{body}"
    );
    // Bob is not affected; his quota is his own.
    assert_eq!(upload(&bob, "b1", 4000).await.status(), StatusCode::CREATED);
    assert_eq!(upload(&bob, "b2", 4000).await.status(), StatusCode::CREATED);
    let res = upload(&bob, "b3", 4000).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = res.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("quota of 9.8 KiB") && msg.contains("7.8 KiB stored"),
        "{msg}"
    );
}

#[tokio::test]
async fn uploads_never_attached_are_swept_and_the_others_stay() {
    let s = TestServer::start_with(|c| c.guards.unattached_upload_ttl = Duration::from_secs(2)).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let id = |res: Value| res["file_id"].as_str().unwrap().to_owned();
    let stray = id(upload(&alice, "stray", 100).await.json().await.unwrap());
    let sent = id(upload(&alice, "sent", 100).await.json().await.unwrap());
    let picture = id(alice
        .send(
            alice
                .http
                .post(s.url("/api/files?name=me.png"))
                .header("content-type", "image/png")
                .body(include_bytes!("../../static/icons/icon-192.png").to_vec()),
        )
        .await
        .1);
    let d = alice.direct(&bob).await;
    let (st, _) = alice
        .post(
            "/api/messages/",
            json!({"conversation_id": d, "message": "a file", "attachment_id": sent}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = alice
        .patch(
            "/api/users/me",
            json!({"profile_picture": format!("/api/files/{picture}")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let started = Instant::now();
    while alice.get(&format!("/api/files/{stray}")).await.0 != StatusCode::NOT_FOUND {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the stray upload was never removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        bob.get(&format!("/api/files/{sent}")).await.0,
        StatusCode::OK,
        "attached: kept"
    );
    assert_eq!(
        bob.get(&format!("/api/files/{picture}")).await.0,
        StatusCode::OK,
        "a picture: kept"
    );
}

/// Send raw bytes on a new connection and read what comes back until the
/// server closes it (or `within` passes).
async fn raw(s: &TestServer, bytes: &[u8], within: Duration) -> (String, bool) {
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(within, tcp.read_to_end(&mut out)).await.is_ok();
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[tokio::test]
async fn a_body_that_never_arrives_is_cut_off_with_408() {
    let s = TestServer::start_with(|c| c.guards.body_timeout = Duration::from_secs(1)).await;
    let started = Instant::now();
    let (answer, closed) = raw(
        &s,
        b"POST /api/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    assert!(closed, "the connection is closed");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // A body that does arrive is fine.
    let (st, _) = s
        .anonymous()
        .post("/api/auth/login", json!({"username": "x", "password": "y"}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let s = TestServer::start_with(|c| c.guards.connections_per_address = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(s.addr).await.unwrap());
    }
    let (answer, closed) = raw(
        &s,
        b"GET /api/health HTTP/1.1\r\nhost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections from your address"), "{answer}");
    assert!(answer.to_lowercase().contains("retry-after: 5"), "{answer}");
    assert!(closed);
    // Another address is served.
    let res = from(&s, ELSEWHERE).get("/api/health").await;
    assert_eq!(res.0, StatusCode::OK);
    // Closing one frees a place.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (answer, _) = raw(
        &s,
        b"GET /api/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn sockets_per_user_are_capped_with_1008() {
    let s = TestServer::start_with(|c| c.guards.sockets_per_user = 2).await;
    let alice = s.register("alice").await;
    let url = s.ws_url(&format!("/api/ws?token={}", alice.token()));
    let mut first = Ws::connect(&url).await;
    let _second = Ws::connect(&url).await;
    let mut third = Ws::connect(&url).await;
    let (code, reason) = third.closed().await.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(
        reason.contains("too many sockets") && reason.contains("limit is 2"),
        "{reason}"
    );
    // Another dialect's socket counts too; the first still works.
    first.send(json!({"action": "ping"})).await;
    assert_eq!(first.next_action("pong").await["action"], "pong");
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = Ws::connect(&url).await;
    again.send(json!({"action": "ping"})).await;
    assert_eq!(again.next_action("pong").await["action"], "pong");
}

#[tokio::test]
async fn every_429_says_when_to_try_again_in_whole_seconds() {
    let s = TestServer::start_with(|c| {
        c.send_rate = 1;
        c.send_burst = 1;
    })
    .await;
    let alice = s.register("alice").await;
    let room = alice.room("quick").await;
    alice.say(&room, "one").await;
    let res = alice
        .http
        .post(s.url("/api/messages/"))
        .bearer_auth(alice.token())
        .json(&json!({"conversation_id": room, "message": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res), 1);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().ends_with("try again in 1 s"),
        "{body}"
    );
}

#[tokio::test]
async fn a_full_database_is_said_clearly_everywhere_and_recovers() {
    let s = TestServer::start_sqlite_with(|c| {
        c.guards.max_database_bytes = 1024 * 1024;
        c.guards.unattached_upload_ttl = Duration::from_secs(4);
        c.guards.uploads_per_minute = 0;
    })
    .await;
    let alice = s.register("alice").await;
    let room = alice.room("full").await;
    // Fill it with uploads (never attached: they will be swept later).
    let mut full = None;
    for i in 0..40 {
        let res = upload(&alice, &format!("fill{i}"), 64 * 1024).await;
        if res.status() != StatusCode::CREATED {
            full = Some(res);
            break;
        }
    }
    let res = full.expect("the database filled up");
    assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert!(retry_after(&res) >= 1);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("disk is full"),
        "{body}"
    );
    // Then messages, until they do not fit either.
    let mut refused = None;
    for i in 0..500 {
        let (st, body) = alice
            .post(
                "/api/messages/",
                json!({"conversation_id": room, "message": format!("{i} {}", "x".repeat(8000))}),
            )
            .await;
        if st != StatusCode::OK {
            refused = Some((st, body));
            break;
        }
    }
    let (st, body) = refused.expect("a send was refused");
    assert_eq!(st, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    // On a socket: an error frame that says so.
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    ws.send(json!({"action": "send", "conversation_id": room, "message": "y".repeat(8000), "client_id": "full-1"}))
        .await;
    let e = ws.next_action("error").await;
    assert_eq!(e["code"], "disk_full", "{e}");
    // Another dialect, in its own shape. (Twice the size of the message
    // refused: the pages left cannot hold it, whichever table it goes to.)
    let (st, body) = alice
        .post(
            "/profiles/api/posts/",
            json!({"title": "t", "content": "z".repeat(16000)}),
        )
        .await;
    assert_eq!(st, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(body.to_string().contains("disk is full"), "{body}");
    let ready = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.text().await.unwrap().contains("disk is full"));
    // The stray uploads are swept; then sending works again.
    let started = Instant::now();
    loop {
        let (st, _) = alice
            .post(
                "/api/messages/",
                json!({"conversation_id": room, "message": "room again"}),
            )
            .await;
        if st == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never recovered: {st}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_database_locked_by_another_program_is_503_with_retry_after_on_every_path() {
    let s = TestServer::start_sqlite().await;
    let alice = s.register("alice").await;
    let room = alice.room("locked").await;
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    // Another program takes the write lock and keeps it.
    let path = s.dir.path().join("natter.db");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv();
        c.execute_batch("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let http = {
        let alice = alice.clone();
        let room = room.clone();
        tokio::spawn(async move {
            alice
                .http
                .post(format!("{}/api/messages/", alice.base))
                .bearer_auth(alice.token())
                .json(&json!({"conversation_id": room, "message": "while locked"}))
                .send()
                .await
                .unwrap()
        })
    };
    ws.send(json!({"action": "send", "conversation_id": room, "message": "socket while locked", "client_id": "l-1"}))
        .await;
    let res = http.await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&res), 2);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locked by another program"),
        "{body}"
    );
    let e = ws.next_action("error").await;
    assert_eq!(e["code"], "busy", "the socket says the same: {e}");
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    alice.say(&room, "after the lock").await;
    let texts: Vec<Value> = alice
        .history(&room)
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(texts, [json!("after the lock")], "nothing half-written");
}
