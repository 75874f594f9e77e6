//! Two natter processes on one PostgreSQL database with `--bus postgres`:
//! clients on both hear each other live, in order and exactly once; typing
//! and presence cross; a logout on one node closes the session's sockets on
//! the other; and a node killed with SIGKILL loses nothing it acknowledged,
//! its clients resuming on the other node from their cursor.
//!
//! Needs a PostgreSQL server: `.ci/run` starts Debian's with
//! `tools/pg/up.sh` and runs
//! `NATTER_TEST_POSTGRES=<its URL> cargo test --test suite -- --ignored nodes::`.

use crate::common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::fake_ai::{FakeAi, Step};
use common::{Client, PATIENCE, Ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

use tokio::process::Child;

const NEEDS_PG: &str =
    "needs PostgreSQL: NATTER_TEST_POSTGRES=$(tools/pg/up.sh) cargo test --test suite -- --ignored nodes::";

/// A natter node serving `db` with the bus; its base URL.
async fn node(db: &str) -> (Child, String) {
    node_with(db, &[]).await
}

/// `node` with more flags.
async fn node_with(db: &str, extra: &[&str]) -> (Child, String) {
    let mut cmd = common::process::natter(&std::env::temp_dir());
    cmd.args([
        "--db",
        db,
        "--bus",
        "postgres",
        "--listen",
        "127.0.0.1:0",
        "--registration",
        "open",
        "--send-rate",
        "0",
        "--log",
        "warn",
    ])
    .args(extra);
    let (child, base, mut lines) = common::process::serving(cmd, Stdio::inherit()).await;
    // The rest of stdout is drained so the node never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

fn socket(base: &str, token: &str, since: Option<i64>) -> String {
    let ws = base.replacen("http://", "ws://", 1);
    match since {
        Some(id) => format!("{ws}/api/ws?token={token}&since={id}"),
        None => format!("{ws}/api/ws?token={token}"),
    }
}

/// The same user (same session) talking to another node.
fn on(client: &Client, base: &str) -> Client {
    Client {
        base: base.to_owned(),
        ..client.clone()
    }
}

/// The next `message` frames until `n` have come: their (event id, text).
async fn messages(ws: &mut Ws, n: usize) -> Vec<(i64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let f = ws.next_action("message").await;
        got.push((
            f["event_id"].as_i64().unwrap_or_else(|| panic!("no event_id: {f}")),
            f["message"]["message"].as_str().unwrap().to_owned(),
        ));
    }
    got
}

/// Every id once, in increasing order.
fn in_order_once(ids: &[i64]) -> bool {
    ids.windows(2).all(|w| w[0] < w[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: NATTER_TEST_POSTGRES=$(tools/pg/up.sh) cargo test --test suite -- --ignored nodes:: (see .ci/run)"]
async fn two_nodes_serve_one_chat_live() {
    let _ = NEEDS_PG;
    let db = common::pg::fresh_database();
    let (_a, base_a) = node(&db).await;
    let (_b, base_b) = node(&db).await;

    let alice = Client::new(&base_a).register("alice").await;
    let bob = Client::new(&base_b).register("bob").await;
    let room = alice.room("general").await;
    let (st, b) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");

    let mut alice_a = Ws::connect(&socket(&base_a, alice.token(), None)).await;
    // Bob's socket is on node B; alice hears him come online on node A.
    let mut bob_b = Ws::connect(&socket(&base_b, bob.token(), None)).await;
    let p = alice_a.next_action("presence").await;
    assert_eq!(p["user_id"], bob.user_id.as_str());
    assert_eq!(p["online"], true);
    let (_, users) = alice.get("/api/users/").await;
    let bob_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == bob.user_id.as_str() || u["id"] == bob.user_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("bob in {users}"));
    assert_eq!(
        bob_row["online"], true,
        "node A counts bob's socket on node B: {bob_row}"
    );

    // Typing on B reaches A.
    bob_b.send(json!({"action": "typing", "conversation_id": room})).await;
    let t = alice_a.next_action("typing").await;
    assert_eq!(t["user_id"], bob.user_id.as_str());
    assert_eq!(t["conversation_id"], room.as_str());

    // Both post at once, 25 each, through different nodes.
    const EACH: usize = 25;
    let sends = |c: Client, who: &'static str| {
        let room = room.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                ids.push(
                    c.say(&room, &format!("{who} {i}")).await["message_id"]
                        .as_i64()
                        .unwrap(),
                );
            }
            ids
        })
    };
    let (from_a, from_b) = (sends(alice.clone(), "alice"), sends(bob.clone(), "bob"));
    let mut acked: Vec<i64> = from_a.await.unwrap();
    acked.extend(from_b.await.unwrap());
    acked.sort();

    for (who, ws) in [("alice on A", &mut alice_a), ("bob on B", &mut bob_b)] {
        let got = messages(ws, 2 * EACH).await;
        let ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
        assert!(in_order_once(&ids), "{who}: in order, once each: {ids:?}");
        assert_eq!(ids, acked, "{who}: exactly what was acknowledged");
        // And nothing more is queued (no doubles behind them).
        let rest: Vec<Value> = ws
            .drain()
            .await
            .into_iter()
            .filter(|f| f["action"] == "message")
            .collect();
        assert!(rest.is_empty(), "{who}: nothing doubled: {rest:?}");
        // Each sender's own messages in the order they were sent.
        for sender in ["alice", "bob"] {
            let mine: Vec<usize> = got
                .iter()
                .filter_map(|(_, t)| t.strip_prefix(sender).map(|n| n.trim().parse().unwrap()))
                .collect();
            assert_eq!(mine, (0..EACH).collect::<Vec<_>>(), "{who}: {sender}'s in order");
        }
    }

    // Logout on B closes bob's sockets on A too, and his token stops working there.
    let mut bob_a = Ws::connect(&socket(&base_a, bob.token(), None)).await;
    bob_a.drain().await;
    let (st, _) = bob.post("/api/auth/logout", json!({})).await;
    assert!(st.is_success(), "{st}");
    assert!(bob_a.closed().await.is_some(), "bob's socket on node A closed");
    assert!(bob_b.closed().await.is_some(), "bob's socket on node B closed");
    let (st, _) = on(&bob, &base_a).get("/api/conversations").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "node A refuses the ended session");

    // Bob's sockets are gone from both nodes: alice hears him go offline.
    let p = loop {
        let p = alice_a.next_action("presence").await;
        if p["user_id"] == bob.user_id.as_str() {
            break p;
        }
    };
    assert_eq!(p["online"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: NATTER_TEST_POSTGRES=$(tools/pg/up.sh) cargo test --test suite -- --ignored nodes:: (see .ci/run)"]
async fn a_node_killed_loses_nothing_and_its_clients_resume_on_the_other() {
    let db = common::pg::fresh_database();
    let (mut a, base_a) = node(&db).await;
    let (_b, base_b) = node(&db).await;

    let alice = Client::new(&base_a).register("alice").await;
    let erin = Client::new(&base_a).register("erin").await;
    let room = alice.room("general").await;
    let (st, b) = erin.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");

    // Erin listens on node A.
    let mut erin_a = Ws::connect(&socket(&base_a, erin.token(), None)).await;
    erin_a.drain().await;
    // Fred, in the same room, listens on node B: he hears erin online.
    let fred = Client::new(&base_b).register("fred").await;
    let (st, b) = fred.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let mut fred_b = Ws::connect(&socket(&base_b, fred.token(), None)).await;
    fred_b.drain().await;
    let (_, users) = fred.get("/api/users/").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "erin" && u["online"] == true),
        "node B counts erin's socket on node A: {users}"
    );

    // Alice posts through both nodes at once, without pause; node A is
    // killed while it is serving her.
    let alice_b = on(&alice, &base_b);
    let through = |c: Client, tag: &'static str| {
        let room = room.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..150 {
                let res = c
                    .http
                    .post(format!("{}/api/messages/", c.base))
                    .bearer_auth(c.token())
                    .json(&json!({"conversation_id": room, "message": format!("{tag} {i}")}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let v: Value = r.json().await.unwrap();
                        acked.push(v["message_id"].as_i64().unwrap());
                    }
                    Ok(r) if tag == "b" => panic!("node B answered {}: {:?}", r.status(), r.text().await),
                    // The node is gone: what it did not answer was not acknowledged.
                    _ => break,
                }
            }
            acked
        })
    };
    let via_a = through(alice.clone(), "a");
    let via_b = through(alice_b.clone(), "b");

    // Erin hears some of it live on A; once she has seen alice's twelfth
    // send through A, A dies. Each send follows the answer to the one
    // before, so A has by then acknowledged at least eleven (a count of
    // messages instead left it to timing how many were A's).
    let mut seen: Vec<i64> = Vec::new();
    loop {
        let (id, text) = messages(&mut erin_a, 1).await.remove(0);
        seen.push(id);
        if text == "a 11" {
            break;
        }
    }
    a.start_kill().expect("kill -9 node A");
    a.wait().await.unwrap();
    let acked_a = via_a.await.unwrap();
    let acked_b = via_b.await.unwrap();
    assert!(
        acked_a.len() >= 10,
        "node A acknowledged sends before it died: {}",
        acked_a.len()
    );
    assert_eq!(acked_b.len(), 150, "node B went on serving");
    // What reached erin before the kill (its socket ends without a close frame).
    loop {
        match tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut erin_a.stream)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let f: Value = serde_json::from_str(&t).unwrap();
                if f["action"] == "message" {
                    seen.push(f["event_id"].as_i64().unwrap());
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    assert!(in_order_once(&seen), "live on A, in order: {seen:?}");

    // Node A is silent now: within its silence (10 s) and a beat, fred on
    // node B hears that erin, whose only socket was on A, is offline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let frame = tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut fred_b.stream))
            .await
            .expect("fred hears erin go offline after node A died");
        let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = frame else {
            continue;
        };
        let f: Value = serde_json::from_str(&t).unwrap();
        if f["action"] == "presence" && f["user_id"] == erin.user_id.as_str() && f["online"] == false {
            break;
        }
    }

    // Erin resumes on node B from the last event she saw.
    let cursor = *seen.last().unwrap();
    let mut erin_b = Ws::connect(&socket(&base_b, erin.token(), Some(cursor))).await;
    let resumed: Vec<i64> = erin_b
        .drain()
        .await
        .into_iter()
        .filter(|f| f["action"] == "message")
        .map(|f| f["event_id"].as_i64().unwrap())
        .collect();
    let mut all = seen.clone();
    all.extend(&resumed);
    assert!(in_order_once(&all), "resumed after the cursor, nothing twice");
    eprintln!(
        "node A acknowledged {}, node B {}; erin saw {} live on A and {} on resuming on B",
        acked_a.len(),
        acked_b.len(),
        seen.len(),
        resumed.len()
    );

    // Every acknowledged message is stored and reached erin once.
    let mut acked: BTreeSet<i64> = acked_a.iter().copied().collect();
    acked.extend(&acked_b);
    let got: BTreeSet<i64> = all.iter().copied().collect();
    let lost: Vec<&i64> = acked.difference(&got).collect();
    assert!(lost.is_empty(), "acknowledged but never delivered: {lost:?}");
    let history: BTreeSet<i64> = on(&erin, &base_b)
        .history(&room)
        .await
        .iter()
        .map(|m| m["message_id"].as_i64().unwrap())
        .collect();
    assert!(acked.is_subset(&history), "every acknowledged message is stored");
    // Anything delivered beyond what was acknowledged was committed by A
    // before it died (its answer was lost): stored too, never invented.
    assert!(got.is_subset(&history), "delivered only what is stored");

    // Live on B after the resume.
    alice_b.say(&room, "after").await;
    let after = messages(&mut erin_b, 1).await;
    assert_eq!(after[0].1, "after");
    assert!(after[0].0 > *all.last().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: NATTER_TEST_POSTGRES=$(tools/pg/up.sh) cargo test --test suite -- --ignored nodes:: (see .ci/run)"]
async fn an_agents_reply_streams_to_a_socket_on_the_other_node() {
    let ai = FakeAi::start().await;
    ai.then(Step::slow(&["Hel", "lo ", "there", "!"], Duration::from_millis(80)));
    let db = common::pg::fresh_database();
    let flags = [
        "--ai-url",
        ai.url.as_str(),
        "--ai-model",
        "smol",
        "--ai-requests-per-minute",
        "0",
    ];
    let (_a, base_a) = node_with(&db, &flags).await;
    let (_b, base_b) = node_with(&db, &flags).await;

    let alice = Client::new(&base_a).register("alice").await;
    let (st, b) = alice.post("/api/conversations", json!({"is_ai": true})).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let conv = b["conversation_id"].as_str().unwrap().to_owned();
    // Alice's page is on node B; her message goes to node A, whose agent answers.
    let mut on_b = Ws::connect(&socket(&base_b, alice.token(), None)).await;
    on_b.drain().await;
    let asked = alice.say(&conv, "hi there").await["message_id"].as_i64().unwrap();

    let mut deltas = Vec::new();
    let reply = loop {
        let f = on_b.next().await;
        match f["action"].as_str() {
            Some("message_delta") => deltas.push(f),
            Some("message") if f["message"]["message_id"] != asked => break f,
            _ => {}
        }
    };
    assert_eq!(reply["message"]["message"], "Hello there!");
    assert_eq!(reply["message"]["reply_to"], asked);
    let reply_id = reply["reply_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the stored reply carries its reply id on node B too: {reply}"));
    let streamed: Vec<&Value> = deltas.iter().filter(|f| f["state"] == "streaming").collect();
    assert!(
        streamed.len() >= 2,
        "the reply streamed to node B in pieces: {deltas:?}"
    );
    assert!(deltas.iter().all(|f| f["reply_id"] == reply_id), "{deltas:?}");
    let last = streamed.last().unwrap();
    assert!("Hello there!".starts_with(last["text"].as_str().unwrap()), "{last}");
    // Nothing of the draft comes after the reply (a page would show it again).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late: Vec<Value> = on_b
        .drain()
        .await
        .into_iter()
        .filter(|f| f["action"] == "message_delta")
        .collect();
    assert!(late.is_empty(), "deltas after the stored reply: {late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: NATTER_TEST_POSTGRES=$(tools/pg/up.sh) cargo test --test suite -- --ignored nodes:: (see .ci/run)"]
async fn only_natters_nodes_speak_on_the_bus() {
    let db = common::pg::fresh_database();
    let (_a, base_a) = node(&db).await;
    let alice = Client::new(&base_a).register("alice").await;
    let mut ws = Ws::connect(&socket(&base_a, alice.token(), None)).await;
    ws.drain().await;
    // Anyone who can connect to the database can NOTIFY. A forged "this
    // session ended" (alice's session id is in her token) is not signed by
    // a node, and changes nothing.
    let claims = alice.token().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    let sid = claims["sid"].as_str().unwrap().to_owned();
    let forged = json!({"node": uuid::Uuid::new_v4(), "t": "ended", "user": null, "sessions": [sid]}).to_string();
    for payload in [forged.clone(), format!("{} {forged}", "0".repeat(64))] {
        let sql = format!(
            "SELECT pg_notify('natter_live', '{}')::text",
            payload.replace('\'', "''")
        );
        let _: Option<String> = common::pg::query(&db, &sql);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (st, _) = alice.get("/api/conversations").await;
    assert_eq!(st, StatusCode::OK, "the forged message did not end alice's session");
    assert!(ws.drain().await.iter().all(|f| f["action"] != "closed"));
    // Her real logout does (signed by the node).
    let (st, _) = alice.post("/api/auth/logout", json!({})).await;
    assert!(st.is_success());
    assert!(ws.closed().await.is_some());
}
