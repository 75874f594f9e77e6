//! Mentions and notify levels: `@username` parsed by the server, stored,
//! carried on every message, listed as "mentions of me", and counted in
//! unread counts that follow each member's notify level.

use crate::common;

use common::{Client, TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn mentioned(m: &Value) -> Vec<String> {
    m["mentions"]
        .as_array()
        .unwrap_or_else(|| panic!("no mentions in {m}"))
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

/// The caller's conversation `conv` as the list shows it.
async fn summary(c: &Client, conv: &str) -> Value {
    let (st, list) = c.get("/api/conversations").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["conversation_id"] == conv)
        .unwrap_or_else(|| panic!("{conv} not in {list}"))
        .clone()
}

async fn mentions_of(c: &Client, query: &str) -> Value {
    let (st, body) = c.get(&format!("/api/mentions{query}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn mentions_are_parsed_stored_and_carried_everywhere() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let room = alice.room("general").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let mut bws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;

    // Carol is no member: naming her mentions nobody. An address is no
    // mention, nor is a name in code, nor the sender herself.
    let m = alice
        .say(&room, "@Bob, see `@alice` and mail carol@example.com; @carol @alice")
        .await;
    assert_eq!(mentioned(&m), ["bob"]);
    assert_eq!(m["mentions"][0]["user_id"], bob.user_id);
    let live = bws.next_action("message").await;
    assert_eq!(mentioned(&live["message"]), ["bob"]);
    let plain = alice.say(&room, "no one here").await;
    assert!(mentioned(&plain).is_empty());
    let history = bob.history(&room).await;
    assert_eq!(mentioned(&history[0]), ["bob"]);
    assert!(mentioned(&history[1]).is_empty());

    // Over the socket too.
    let mut aws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    aws.send(json!({"action": "send", "conversation_id": room, "message": "@bob again", "client_id": "m1"}))
        .await;
    let ack = aws.next_action("message").await;
    assert_eq!(mentioned(&ack["message"]), ["bob"]);

    // An edit that takes the mention back takes it off the list; one that
    // adds a member's name adds it.
    let id = m["message_id"].as_i64().unwrap();
    let (st, edited) = alice
        .patch(&format!("/api/messages/{id}"), json!({"message": "never mind"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{edited}");
    assert!(mentioned(&edited).is_empty());
    let pid = plain["message_id"].as_i64().unwrap();
    let (_, edited) = alice
        .patch(&format!("/api/messages/{pid}"), json!({"message": "now @bob"}))
        .await;
    assert_eq!(mentioned(&edited), ["bob"]);
    let list = mentions_of(&bob, "").await;
    let ids: Vec<i64> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_i64().unwrap())
        .collect();
    let again = ack["message"]["message_id"].as_i64().unwrap();
    assert_eq!(ids, [again, pid], "newest first, the taken-back one gone");
    assert_eq!(mentions_of(&alice, "").await["messages"], json!([]));
    assert_eq!(mentions_of(&carol, "").await["messages"], json!([]));

    // Deleted: gone from the list.
    let (st, _) = alice.delete(&format!("/api/messages/{pid}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let list = mentions_of(&bob, "").await;
    assert_eq!(list["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_mentions_list_pages_and_forgets_rooms_one_left() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("general").await;
    let other = alice.room("other").await;
    for r in [&room, &other] {
        bob.post(&format!("/api/rooms/{r}/join"), json!({})).await;
    }
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            alice.say(&room, &format!("@bob number {i}")).await["message_id"]
                .as_i64()
                .unwrap(),
        );
    }
    alice.say(&other, "@bob elsewhere").await;
    let page = mentions_of(&bob, "?limit=3").await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 3);
    assert_eq!(page["messages"][0]["message"], "@bob elsewhere");
    let next = page["next_before"].as_i64().expect("a next page");
    let page2 = mentions_of(&bob, &format!("?limit=3&before={next}")).await;
    let texts: Vec<&str> = page2["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["@bob number 2", "@bob number 1", "@bob number 0"]);
    assert!(page2.get("next_before").is_none(), "the last page: {page2}");

    let (st, _) = bob.delete(&format!("/api/conversations/{other}/members/me")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let page = mentions_of(&bob, "?limit=100").await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 5, "not the room bob left");

    for bad in ["?limit=0", "?limit=1001", "?limit=x", "?before=x"] {
        let (st, body) = bob.get(&format!("/api/mentions{bad}")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (st, _) = s.anonymous().get("/api/mentions").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unread_counts_follow_the_notify_level() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("general").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let dm = alice.direct(&bob).await;
    alice.say(&room, "one").await;
    alice.say(&room, "two @bob").await;
    alice.say(&room, "three").await;
    alice.say(&dm, "hi").await;
    alice.say(&dm, "there").await;

    let c = summary(&bob, &room).await;
    assert_eq!(c["notify"], "all");
    assert_eq!(
        (
            c["unread_count"].as_i64(),
            c["unread_total"].as_i64(),
            c["unread_mentions"].as_i64()
        ),
        (Some(3), Some(3), Some(1))
    );

    let (st, body) = bob
        .put(
            &format!("/api/conversations/{room}/notify"),
            json!({"level": "mentions"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"conversation_id": room, "level": "mentions"}));
    let c = summary(&bob, &room).await;
    assert_eq!(c["notify"], "mentions");
    assert_eq!(c["unread_count"], 1, "only the mention counts: {c}");
    assert_eq!(c["unread_total"], 3);

    bob.put(
        &format!("/api/conversations/{room}/notify"),
        json!({"level": "nothing"}),
    )
    .await;
    let c = summary(&bob, &room).await;
    assert_eq!(c["unread_count"], 0, "muted: {c}");
    assert_eq!(c["unread_total"], 3);

    // In a direct conversation every message is addressed to you.
    bob.put(&format!("/api/conversations/{dm}/notify"), json!({"level": "mentions"}))
        .await;
    let c = summary(&bob, &dm).await;
    assert_eq!(c["unread_count"], 2, "{c}");

    // The level is bob's alone.
    assert_eq!(summary(&bob, &room).await["notify"], "nothing");
    assert_eq!(summary(&alice, &room).await["notify"], "all");

    // Read past the mention: no unread mentions left.
    let last = bob.history(&room).await.last().unwrap()["message_id"].as_i64().unwrap();
    bob.post(&format!("/api/conversations/{room}/read"), json!({"message_id": last}))
        .await;
    let c = summary(&bob, &room).await;
    assert_eq!(
        (c["unread_total"].as_i64(), c["unread_mentions"].as_i64()),
        (Some(0), Some(0))
    );

    // Bad levels, strangers, and nothing else accepted.
    let (st, body) = bob
        .put(&format!("/api/conversations/{room}/notify"), json!({"level": "loud"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("all, mentions or nothing"), "{body}");
    let carol = s.register("carol").await;
    let (st, _) = carol
        .put(&format!("/api/conversations/{room}/notify"), json!({"level": "all"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = carol
        .put(&format!("/api/conversations/{dm}/notify"), json!({"level": "all"}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_level_change_reaches_the_users_other_sockets_and_resumes() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("general").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let mut bws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;
    let mut aws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    let cursor = alice.say(&room, "before").await["message_id"].as_i64().unwrap();
    bws.next_action("message").await;
    aws.next_action("message").await;

    bob.put(
        &format!("/api/conversations/{room}/notify"),
        json!({"level": "mentions"}),
    )
    .await;
    let f = bws.next_action("notify_level").await;
    assert_eq!(f["conversation_id"], room.as_str());
    assert_eq!(f["level"], "mentions");
    let event = f["event_id"].as_i64().expect("an event id");
    assert!(event > cursor);
    // The same level again is no change: no frame, nothing logged.
    bob.put(
        &format!("/api/conversations/{room}/notify"),
        json!({"level": "mentions"}),
    )
    .await;
    alice.say(&room, "after").await;
    let next = bws.next().await;
    assert_eq!(next["action"], "message", "no second notify_level frame: {next}");
    // Alice's sockets never hear of bob's settings, live or on resume.
    assert_eq!(aws.next().await["action"], "message");
    let mut again = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={cursor}", alice.token()))).await;
    let replay = again.drain().await;
    assert!(replay.iter().all(|f| f["action"] != "notify_level"), "{replay:?}");

    // Bob's socket that was away gets it on resume, once, in order.
    let mut back = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={cursor}", bob.token()))).await;
    // Presence is live, not logged, and may arrive at any time (alice came
    // online a batch interval after her socket opened): left out.
    let replay: Vec<_> = back
        .drain()
        .await
        .into_iter()
        .filter(|f| f["action"] != "presence")
        .collect();
    let kinds: Vec<&str> = replay.iter().filter_map(|f| f["action"].as_str()).collect();
    assert_eq!(kinds, ["notify_level", "message"], "{replay:?}");
    assert_eq!(replay[0]["event_id"], event);
}
