//! Replies and reactions: through HTTP and the socket, live to the members,
//! in history, and in the change log for resume.

use crate::common;

use common::{TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn reactions(m: &Value) -> Vec<(String, u64)> {
    m["reactions"]
        .as_array()
        .unwrap_or_else(|| panic!("no reactions in {m}"))
        .iter()
        .map(|r| (r["emoji"].as_str().unwrap().to_owned(), r["count"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_reply_names_its_original_and_must_be_of_the_same_conversation() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("general").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let other = alice.room("other").await;
    let original = alice.say(&room, "lunch?").await["message_id"].as_i64().unwrap();
    let elsewhere = alice.say(&other, "elsewhere").await["message_id"].as_i64().unwrap();

    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    let (st, reply) = bob
        .post(
            "/api/messages/",
            json!({"conversation_id": room, "message": "yes", "reply_to": original}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{reply}");
    assert_eq!(reply["reply_to"], original);
    let live = ws.next_action("message").await;
    assert_eq!(live["message"]["reply_to"], original);
    let history = alice.history(&room).await;
    assert_eq!(history.last().unwrap()["reply_to"], original);

    // Over the socket too.
    let mut bws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;
    bws.send(
        json!({"action": "send", "conversation_id": room, "message": "again", "reply_to": original, "client_id": "r1"}),
    )
    .await;
    let ack = bws.next_action("message").await;
    assert_eq!(ack["client_id"], "r1");
    assert_eq!(ack["message"]["reply_to"], original);

    // Not to a message of another conversation, nor one that does not exist.
    for bad in [elsewhere, original + 100_000] {
        let (st, body) = bob
            .post(
                "/api/messages/",
                json!({"conversation_id": room, "message": "x", "reply_to": bad}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
        assert!(body.to_string().contains("not in this conversation"), "{body}");
    }
    let n = alice.history(&room).await.len();
    assert_eq!(n, 3, "nothing refused was stored");
}

#[tokio::test]
async fn reactions_toggle_count_and_are_heard_live() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let dm = alice.direct(&bob).await;
    let id = alice.say(&dm, "good news").await["message_id"].as_i64().unwrap();
    let mut aws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;

    let (st, m) = bob
        .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "👍"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(reactions(&m), vec![("👍".to_owned(), 1)]);
    assert_eq!(m["reactions"][0]["users"][0]["username"], "bob");
    let f = aws.next_action("reaction").await;
    assert_eq!(f["emoji"], "👍");
    assert_eq!(f["added"], true);
    assert_eq!(f["message_id"], id);
    assert_eq!(f["username"], "bob");
    assert!(f["event_id"].as_i64().unwrap() > id);

    // Twice is once: no change, no frame.
    let (st, m) = bob
        .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "👍"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(reactions(&m), vec![("👍".to_owned(), 1)]);
    // Alice adds the same and another, over the socket.
    aws.send(json!({"action": "react", "message_id": id, "emoji": "👍"}))
        .await;
    aws.send(json!({"action": "react", "message_id": id, "emoji": "🎉"}))
        .await;
    let seen: Vec<Value> = vec![aws.next_action("reaction").await, aws.next_action("reaction").await];
    assert_eq!(seen[0]["username"], "alice");
    assert_eq!(seen[1]["emoji"], "🎉");
    let history = alice.history(&dm).await;
    assert_eq!(reactions(&history[0]), vec![("👍".to_owned(), 2), ("🎉".to_owned(), 1)]);
    // Taken back (the emoji in the query string).
    let (st, m) = bob
        .delete(&format!("/api/messages/{id}/reactions?emoji=%F0%9F%91%8D"))
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(reactions(&m), vec![("👍".to_owned(), 1), ("🎉".to_owned(), 1)]);
    let f = aws.next_action("reaction").await;
    assert_eq!(f["added"], false);
    assert_eq!(f["username"], "bob");

    // A stranger cannot react, nor learn the message exists.
    let (st, _) = carol
        .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "👎"}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Bad emoji are refused in words.
    for bad in ["", "a b", "\u{7}", "abcdefghijklmnopq"] {
        let (st, body) = bob
            .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": bad}))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert!(body.to_string().contains("emoji"), "{body}");
    }
    // Nobody heard of what was refused.
    let rest = aws.drain().await;
    assert!(rest.iter().all(|f| f["action"] != "reaction"), "{rest:?}");
}

#[tokio::test]
async fn each_message_of_a_page_keeps_its_own_reactions() {
    // A page's reactions are read in one statement for all its messages.
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("lunch").await;
    let (st, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for text in ["one", "two", "three"] {
            ids.push(alice.say(&room, text).await["message_id"].as_i64().unwrap());
        }
        ids
    };
    for (who, id, emoji) in [
        (&bob, ids[0], "🎉"),
        (&alice, ids[0], "👍"),
        (&bob, ids[0], "👍"),
        (&alice, ids[2], "❤️"),
    ] {
        let (st, m) = who
            .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": emoji}))
            .await;
        assert_eq!(st, StatusCode::OK, "{m}");
    }
    let history = alice.history(&room).await;
    let of = |id: i64| history.iter().find(|m| m["message_id"] == id).unwrap().clone();
    // In the order each emoji was first used; who reacted, oldest first.
    assert_eq!(reactions(&of(ids[0])), vec![("🎉".to_owned(), 1), ("👍".to_owned(), 2)]);
    assert_eq!(of(ids[0])["reactions"][1]["users"][0]["username"], "alice");
    assert_eq!(of(ids[0])["reactions"][1]["users"][1]["username"], "bob");
    assert_eq!(reactions(&of(ids[1])), vec![]);
    assert_eq!(reactions(&of(ids[2])), vec![("❤️".to_owned(), 1)]);
}

#[tokio::test]
async fn reactions_per_user_and_message_are_limited() {
    let s = TestServer::start_with(|c| c.max_reactions = 3).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let dm = alice.direct(&bob).await;
    let id = alice.say(&dm, "react to me").await["message_id"].as_i64().unwrap();
    for e in ["1", "2", "3"] {
        let (st, _) = bob
            .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": e}))
            .await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, body) = bob
        .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "4"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("the limit"), "{body}");
    // One already there is still fine, and others are not held back.
    let (st, _) = bob
        .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "3"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = alice
        .post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "4"}))
        .await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn reactions_made_while_away_are_replayed_in_order() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let dm = alice.direct(&bob).await;
    let id = alice.say(&dm, "hello").await["message_id"].as_i64().unwrap();
    bob.post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "👋"}))
        .await;
    bob.delete(&format!("/api/messages/{id}/reactions?emoji=%F0%9F%91%8B"))
        .await;
    bob.post(&format!("/api/messages/{id}/reactions"), json!({"emoji": "❤️"}))
        .await;
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={id}", alice.token()))).await;
    let got: Vec<(String, bool)> = ws
        .drain()
        .await
        .iter()
        .filter(|f| f["action"] == "reaction")
        .map(|f| (f["emoji"].as_str().unwrap().to_owned(), f["added"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("👋".to_owned(), true),
            ("👋".to_owned(), false),
            ("❤️".to_owned(), true)
        ]
    );
}

#[tokio::test]
async fn other_dialects_carry_replies_and_reactions_as_extra_fields() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("lobby").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let plain = alice.say(&room, "plain").await["message_id"].as_i64().unwrap();
    let (_, reply) = bob
        .post(
            "/api/messages/",
            json!({"conversation_id": room, "message": "answer", "reply_to": plain}),
        )
        .await;
    alice
        .post(&format!("/api/messages/{plain}/reactions"), json!({"emoji": "🎉"}))
        .await;
    let (st, msgs) = alice.get("/messenger/api/chatrooms/lobby/messages/").await;
    assert_eq!(st, StatusCode::OK, "{msgs}");
    let msgs = msgs.as_array().unwrap();
    let first = msgs.iter().find(|m| m["id"] == plain).unwrap();
    assert_eq!(first["reactions"], json!([{"emoji": "🎉", "count": 1}]));
    assert!(first.get("reply_to").is_none(), "left out when there is none: {first}");
    let second = msgs.iter().find(|m| m["id"] == reply["message_id"]).unwrap();
    assert_eq!(second["reply_to"], plain);
    assert!(
        second.get("reactions").is_none(),
        "left out when there are none: {second}"
    );
}
