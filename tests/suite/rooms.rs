//! Rooms over their life, live: created, joined, left, renamed, deleted —
//! and what everyone's sockets hear of it. Also the profile picture a
//! person uploads, which everyone may see.

use crate::common;

use common::{TestServer, Ws};
use reqwest::StatusCode;
use serde_json::json;

async fn socket(s: &TestServer, c: &common::Client) -> Ws {
    Ws::connect(&s.ws_url(&format!("/api/ws?token={}", c.token()))).await
}

#[tokio::test]
async fn room_changes_reach_the_people_they_concern() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let (mut wa, mut wb, mut wc) = (
        socket(&s, &alice).await,
        socket(&s, &bob).await,
        socket(&s, &carol).await,
    );

    // A new room: news to everyone online.
    let room = alice.room("lobby").await;
    for ws in [&mut wa, &mut wb, &mut wc] {
        let f = ws.next_action("room").await;
        assert_eq!(f["change"], "created");
        assert_eq!(f["conversation_id"], room.as_str());
        assert_eq!(f["name"], "lobby");
        assert_eq!(f["member_count"], 1);
    }
    // Bob joins: the members (alice, bob) hear it with the new count; carol does not.
    let (st, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    for ws in [&mut wa, &mut wb] {
        let f = ws.next_action("room").await;
        assert_eq!(
            (f["change"].as_str(), f["member_count"].as_i64()),
            (Some("joined"), Some(2))
        );
        assert_eq!(f["user_id"], bob.user_id.as_str());
    }
    assert!(
        wc.drain().await.iter().all(|f| f["action"] != "room"),
        "carol is not a member"
    );
    // Joining twice changes nothing and says nothing.
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert!(wa.drain().await.iter().all(|f| f["action"] != "room"));

    // Only the creator renames or deletes.
    let (st, b) = bob
        .patch(&format!("/api/conversations/{room}"), json!({"name": "bobs"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    let (st, b) = bob.delete(&format!("/api/conversations/{room}")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    let (st, b) = carol
        .patch(&format!("/api/conversations/{room}"), json!({"name": "x"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "not a member: {b}");
    let (st, b) = alice
        .patch(&format!("/api/conversations/{room}"), json!({"name": " "}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    alice.room("taken").await;
    for ws in [&mut wa, &mut wb, &mut wc] {
        ws.next_action("room").await;
    }
    let (st, _) = alice
        .patch(&format!("/api/conversations/{room}"), json!({"name": "TAKEN"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, b) = alice
        .patch(&format!("/api/conversations/{room}"), json!({"name": "the lobby"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["name"], "the lobby");
    for ws in [&mut wa, &mut wb, &mut wc] {
        let f = ws.next_action("room").await;
        assert_eq!(
            (f["change"].as_str(), f["name"].as_str()),
            (Some("renamed"), Some("the lobby"))
        );
    }
    // Messages still go to the renamed room; sending by its new name works in other dialects.
    alice.say(&room, "still here").await;
    let (st, _) = bob.get("/messenger/api/chatrooms/the%20lobby/messages/").await;
    assert_eq!(st, StatusCode::OK);

    // Bob leaves: the remaining members and bob hear it.
    let (st, _) = bob.delete(&format!("/api/conversations/{room}/members/me")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    for ws in [&mut wa, &mut wb] {
        let f = ws.next_action("room").await;
        assert_eq!(
            (f["change"].as_str(), f["member_count"].as_i64()),
            (Some("left"), Some(1))
        );
    }

    // Deleted: gone for everyone, with its messages.
    let (st, _) = alice.delete(&format!("/api/conversations/{room}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    for ws in [&mut wa, &mut wb, &mut wc] {
        let f = ws.next_action("room").await;
        assert_eq!(f["change"], "deleted");
        assert_eq!(f["conversation_id"], room.as_str());
    }
    let (st, _) = alice.get(&format!("/api/conversations/{room}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, rooms) = carol.get("/api/rooms").await;
    assert!(
        rooms
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["conversation_id"] != room.as_str())
    );
    // A direct conversation is not a room: it cannot be renamed or deleted.
    let d = alice.direct(&bob).await;
    let (st, body) = alice.delete(&format!("/api/conversations/{d}")).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (st, _) = alice
        .patch(
            &format!("/api/conversations/{d}"),
            serde_json::json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
}

async fn upload(c: &common::Client, name: &str, ct: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
    let req = c
        .http
        .post(format!("{}/api/files?name={name}", c.base))
        .header("content-type", ct)
        .body(body);
    c.send(req).await
}

#[tokio::test]
async fn a_profile_picture_is_the_owners_image_and_everyone_may_see_it() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1,
        8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ];
    let (st, pic) = upload(&alice, "me.png", "image/png", PNG.to_vec()).await;
    assert_eq!(st, StatusCode::CREATED, "{pic}");
    let url = pic["url"].as_str().unwrap().to_owned();
    // Bob cannot read it yet: it is alice's private upload.
    assert_eq!(bob.get(&url).await.0, StatusCode::NOT_FOUND);
    // Not someone else's file, not a non-image.
    let (st, _) = bob.patch("/api/users/me", json!({"profile_picture": url})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (_, txt) = upload(&alice, "notes.html", "text/html", b"<script>x</script>".to_vec()).await;
    let (st, b) = alice
        .patch("/api/users/me", json!({"profile_picture": txt["url"]}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (st, me) = alice.patch("/api/users/me", json!({"profile_picture": url})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["profile_picture"], url.as_str());
    let res = bob
        .http
        .get(format!("{}{url}", bob.base))
        .bearer_auth(bob.token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "now anyone signed in may see it");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    // A different picture: the old file is private again.
    alice.patch("/api/users/me", json!({"profile_picture": ""})).await;
    assert_eq!(bob.get(&url).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sign_up_and_log_in_say_what_is_missing_in_words() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let (st, b) = anon.post("/api/auth/register", json!({})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["message"], "a username or an email is required");
    let (st, b) = anon.post("/api/auth/register", json!({"username": "zed"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["message"], "password must be at least 6 characters long");
    let (st, b) = anon.post("/api/auth/login", json!({"username": "zed"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["message"], "username and password are required");
    // Messages carry the sender's display name.
    let alice = s.register("alice").await;
    alice.patch("/api/users/me", json!({"name": "Alice Liddell"})).await;
    let room = alice.room("r").await;
    let m = alice.say(&room, "hi").await;
    assert_eq!(m["sender_name"], "Alice Liddell");
}
