//! What operators watch: /healthz, /readyz, /metrics and request ids.

use crate::common;

use common::{PATIENCE, TestServer, Ws};
use serde_json::json;

async fn metrics(s: &TestServer) -> String {
    let res = reqwest::get(s.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    res.text().await.unwrap()
}

/// The value of the sample line starting with `name` (labels included).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let s = TestServer::start().await;
    let res = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok\n");
    let res = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ready\n");
}

#[tokio::test]
async fn readyz_says_why_when_the_database_takes_no_writes() {
    let s = TestServer::start_sqlite().await;
    let alice = s.register("alice").await;
    // Another process holding SQLite's write lock: the writer waits, as it
    // would on a stuck disk.
    let blocker = rusqlite::Connection::open(&s.config.db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let res = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    let text = res.text().await.unwrap();
    assert!(text.contains("did not commit within 2000 ms"), "{text}");
    let res = reqwest::get(s.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200, "the process is still up");
    blocker.execute_batch("ROLLBACK").unwrap();
    let started = std::time::Instant::now();
    loop {
        let res = reqwest::get(s.url("/readyz")).await.unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "never ready again");
    }
    alice.room("after").await;
}

#[tokio::test]
async fn metrics_count_sends_deliveries_requests_and_refusals() {
    let s = TestServer::start_with(|c| {
        c.send_rate = 1;
        c.send_burst = 2;
    })
    .await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("metered").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;
    ws.drain().await; // a pong: the socket is registered
    let before = metrics(&s).await;
    assert_eq!(
        sample(&before, "natter_sockets_open{dialect=\"native\"}"),
        Some(1.0),
        "{before}"
    );
    assert_eq!(sample(&before, "natter_sockets_open{dialect=\"threads\"}"), Some(0.0));

    alice.say(&room, "one").await;
    ws.next_action("message").await;
    alice.say(&room, "two").await;
    ws.next_action("message").await;
    let (status, _) = alice
        .post("/api/messages", json!({"conversation_id": room, "message": "three"}))
        .await;
    assert_eq!(status, 429, "past the burst");
    let (status, _) = s.anonymous().get("/api/users/me").await;
    assert_eq!(status, 401);
    let (status, _) = s
        .anonymous()
        .post("/api/auth/login", json!({"username": "alice", "password": "wrong-one"}))
        .await;
    assert_eq!(status, 401);

    let after = metrics(&s).await;
    assert_eq!(sample(&after, "natter_messages_stored_total"), Some(2.0), "{after}");
    // One socket (bob's) is open: each message was delivered once.
    assert_eq!(sample(&after, "natter_messages_delivered_total"), Some(2.0));
    assert_eq!(sample(&after, "natter_delivery_latency_seconds_count"), Some(2.0));
    assert_eq!(
        sample(&after, "natter_rate_limit_refusals_total{limit=\"send\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "natter_auth_refusals_total{reason=\"missing\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "natter_auth_refusals_total{reason=\"bad_password\"}"),
        Some(1.0)
    );
    assert!(sample(&after, "natter_writer_batch_size_count").unwrap() >= 4.0);
    assert!(sample(&after, "natter_writer_commit_seconds_count").unwrap() >= 4.0);
    assert_eq!(
        sample(
            &after,
            "natter_http_requests_total{method=\"POST\",route=\"/api/messages\",status=\"429\"}"
        ),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            "natter_http_requests_total{method=\"POST\",route=\"/api/rooms/{id}/join\",status=\"200\"}"
        ),
        Some(1.0)
    );
    assert!(!after.contains(&room), "no raw ids in labels");
    assert!(!after.contains("metered"));
    drop(ws);
}

#[tokio::test]
async fn unknown_paths_are_one_label_and_room_names_stay_out() {
    let s = TestServer::start().await;
    for i in 0..5 {
        let res = reqwest::get(s.url(&format!("/wp-admin/{i}/probe.php"))).await.unwrap();
        assert_eq!(res.status(), 404);
    }
    let text = metrics(&s).await;
    assert_eq!(
        sample(
            &text,
            "natter_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(5.0),
        "{text}"
    );
    assert!(!text.contains("wp-admin"));
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_the_callers() {
    let s = TestServer::start().await;
    let client = reqwest::Client::new();
    let res = client.get(s.url("/api/health")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    let res = client
        .get(s.url("/api/health"))
        .header("x-request-id", "proxy-7f3a.1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "proxy-7f3a.1");
    // Not one that could forge log lines.
    let res = client
        .get(s.url("/api/health"))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "a b\"c");
}
