//! Native API: conversations, rooms, history, messages, read marks, files.

use crate::common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn rooms_create_list_join_leave() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let (st, room) = a.post("/api/conversations", json!({"name": "general"})).await;
    assert_eq!(st, StatusCode::CREATED, "{room}");
    assert_eq!(room["kind"], "room");
    assert_eq!(room["is_ai"], false);
    assert_eq!(room["name"], "general");
    assert_eq!(room["participants"].as_array().unwrap().len(), 1);
    let id = room["conversation_id"].as_str().unwrap().to_owned();

    // Names are unique, whatever the case.
    let (st, e) = b.post("/api/conversations", json!({"name": "General"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    for bad in ["".to_string(), "   ".to_string(), "a/b".to_string(), "r".repeat(65)] {
        let (st, e) = b.post("/api/conversations", json!({"name": bad, "kind": "room"})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad:?}: {e}");
    }
    // Surrounding spaces are trimmed.
    let (st, padded) = b.post("/api/conversations", json!({"name": "  padded  "})).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(padded["name"], "padded");

    let (st, rooms) = b.get("/api/rooms").await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["general", "padded"]);
    assert_eq!(rooms[0]["joined"], false);
    assert_eq!(rooms[0]["member_count"], 1);

    // Not a member yet: a room says so (403), it does not pretend to be missing.
    let (st, e) = b.get(&format!("/api/conversations/{id}")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let (st, e) = b
        .post("/api/messages/", json!({"conversation_id": id, "message": "hi"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");

    let (st, joined) = b.post(&format!("/api/rooms/{id}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{joined}");
    assert_eq!(joined["participants"].as_array().unwrap().len(), 2);
    // Joining twice is harmless.
    assert_eq!(
        b.post(&format!("/api/rooms/{id}/join"), json!({})).await.0,
        StatusCode::OK
    );
    b.say(&id, "hello room").await;
    let (_, rooms) = b.get("/api/rooms").await;
    assert_eq!(rooms[0]["joined"], true);
    assert_eq!(rooms[0]["member_count"], 2);

    let (st, _) = b.delete(&format!("/api/conversations/{id}/members/me")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        b.get(&format!("/api/conversations/{id}")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.delete(&format!("/api/conversations/{id}/members/me")).await.0,
        StatusCode::FORBIDDEN
    );
    let (st, _) = b
        .post("/api/rooms/00000000-0000-0000-0000-000000000000/join", json!({}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_room_with_participants() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carl").await;
    let (st, room) = a
        .post(
            "/api/conversations",
            json!({"name": "team", "participant_ids": [b.user_id, c.user_id]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{room}");
    assert_eq!(room["participants"].as_array().unwrap().len(), 3);
    let id = room["conversation_id"].as_str().unwrap();
    c.say(id, "in").await;
    let (st, e) = a
        .post(
            "/api/conversations",
            json!({"name": "x", "participant_ids": ["00000000-0000-0000-0000-000000000000"]}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
}

#[tokio::test]
async fn direct_conversations_are_one_per_pair() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carl").await;
    let (st, d1) = a.post("/api/conversations", json!({"participant_id": b.user_id})).await;
    assert_eq!(st, StatusCode::CREATED, "{d1}");
    assert_eq!(d1["kind"], "direct");
    assert_eq!(d1["name"], Value::Null);
    let id = d1["conversation_id"].as_str().unwrap();
    // Asked again, from either side, it is the same one: 200, same id.
    let (st, d2) = a.post("/api/conversations", json!({"participant_id": b.user_id})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d2["conversation_id"], id);
    let (st, d3) = b
        .post(
            "/api/conversations",
            json!({"participant_ids": [a.user_id], "kind": "direct"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d3}");
    assert_eq!(d3["conversation_id"], id);

    let (st, e) = a.post("/api/conversations", json!({"participant_id": a.user_id})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (st, e) = a
        .post(
            "/api/conversations",
            json!({"participant_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (st, e) = a.post("/api/conversations", json!({"kind": "chat"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");

    // A third user does not even learn it exists.
    assert_eq!(
        c.get(&format!("/api/conversations/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (st, _) = c
        .post("/api/messages/", json!({"conversation_id": id, "message": "let me in"}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(
        c.post(&format!("/api/rooms/{id}/join"), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.post(&format!("/api/conversations/{id}/read"), json!({"message_id": 0}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // And it cannot be left.
    assert_eq!(
        a.delete(&format!("/api/conversations/{id}/members/me")).await.0,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn ai_conversations_say_how_to_enable_them() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let (st, e) = a.post("/api/conversations", json!({"is_ai": true})).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert!(e["error"]["message"].as_str().unwrap().contains("--ai-url"), "{e}");
}

#[tokio::test]
async fn conversation_list_has_last_message_and_unread_counts() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let direct = a.direct(&b).await;
    let room = a.room("lobby").await;
    a.say(&direct, "one").await;
    a.say(&direct, "two").await;
    let last = a.say(&direct, "three").await;
    let (st, list) = b.get("/api/conversations").await;
    assert_eq!(st, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "bob is not in the lobby");
    let conv = &list[0];
    assert_eq!(conv["conversation_id"], direct.as_str());
    assert_eq!(conv["unread_count"], 3);
    assert_eq!(conv["last_message"]["message"], "three");
    let names: Vec<&str> = conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // Reading moves the mark (forward only) and the count drops.
    let (st, r) = b
        .post(
            &format!("/api/conversations/{direct}/read"),
            json!({"message_id": last["message_id"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["last_read_id"], last["message_id"]);
    let (_, list) = b.get("/api/conversations").await;
    assert_eq!(list[0]["unread_count"], 0);
    let first_id = a.history(&direct).await[0]["message_id"].clone();
    let (_, r) = b
        .post(
            &format!("/api/conversations/{direct}/read"),
            json!({"message_id": first_id}),
        )
        .await;
    assert_eq!(r["last_read_id"], last["message_id"], "the mark never moves back");
    // A message of another conversation is not a valid mark.
    let other = a.say(&room, "elsewhere").await;
    let (st, _) = a
        .post(
            &format!("/api/conversations/{direct}/read"),
            json!({"message_id": other["message_id"]}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Seen marks: alice's messages are seen once bob has read them.
    let hist = a.history(&direct).await;
    assert!(hist.iter().all(|m| m["seen"] == true), "{hist:?}");
    let (_, list) = a.get("/api/conversations").await;
    assert_eq!(list[0]["conversation_id"], room.as_str(), "most recent activity first");
}

#[tokio::test]
async fn history_pages_back_and_forward() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let room = a.room("history").await;
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(a.say(&room, &format!("m{i}")).await["message_id"].as_i64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids strictly increase");

    let (st, page) = a.get(&format!("/api/conversations/{room}")).await;
    assert_eq!(st, StatusCode::OK);
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 50, "default page is the newest 50");
    assert_eq!(page[0]["message"], "m70");
    assert_eq!(page[49]["message"], "m119");
    for key in ["message_id", "sender_id", "message", "timestamp"] {
        assert!(page[0].get(key).is_some(), "message has {key}");
    }
    assert!(page[0]["timestamp"].as_str().unwrap().ends_with('Z'));

    let (_, older) = a
        .get(&format!("/api/conversations/{room}?before={}&limit=30", ids[70]))
        .await;
    let older = older.as_array().unwrap();
    assert_eq!(older.len(), 30);
    assert_eq!(older[0]["message"], "m40");
    assert_eq!(older[29]["message"], "m69");

    let (_, newer) = a
        .get(&format!("/api/conversations/{room}?after={}&limit=5", ids[10]))
        .await;
    let texts: Vec<&str> = newer
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m11", "m12", "m13", "m14", "m15"]);

    let (_, none) = a.get(&format!("/api/conversations/{room}?after={}", ids[119])).await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let (st, e) = a.get(&format!("/api/conversations/{room}?before=abc")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (_, capped) = a.get(&format!("/api/conversations/{room}?limit=100000")).await;
    assert_eq!(capped.as_array().unwrap().len(), 120);
    assert_eq!(a.get("/api/conversations/not-a-uuid").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn send_edit_and_delete_messages() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;

    // The seed's shape: sender_id, when given, must be the caller.
    let (st, m) = a
        .post(
            "/api/messages/",
            json!({"conversation_id": d, "sender_id": a.user_id, "message": "Hello, how are you?"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["message"], "Hello, how are you?");
    assert!(m["message_id"].is_i64());
    assert!(m["timestamp"].is_string());
    let (st, e) = b
        .post(
            "/api/messages/",
            json!({"conversation_id": d, "sender_id": a.user_id, "message": "spoof"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    for (body, status) in [
        (json!({"conversation_id": d, "message": "   "}), StatusCode::BAD_REQUEST),
        (json!({"conversation_id": d}), StatusCode::BAD_REQUEST),
        (json!({"message": "where to?"}), StatusCode::BAD_REQUEST),
        (
            json!({"conversation_id": "00000000-0000-0000-0000-000000000000", "message": "x"}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (st, e) = a.post("/api/messages", body.clone()).await;
        assert_eq!(st, status, "{body}: {e}");
    }

    let id = m["message_id"].as_i64().unwrap();
    let (st, e) = b
        .patch(&format!("/api/messages/{id}"), json!({"message": "not mine"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let (st, edited) = a
        .patch(&format!("/api/messages/{id}"), json!({"message": "Hello!"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{edited}");
    assert_eq!(edited["message"], "Hello!");
    assert_eq!(edited["edited"], true);

    assert_eq!(b.delete(&format!("/api/messages/{id}")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(a.delete(&format!("/api/messages/{id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(a.delete(&format!("/api/messages/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        a.patch(&format!("/api/messages/{id}"), json!({"message": "back"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Soft delete: the row stays in history, its text does not.
    let hist = b.history(&d).await;
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0]["deleted"], true);
    assert_eq!(hist[0]["message"], "");

    // Outsiders learn nothing about the message.
    let c = s.register("carl").await;
    assert_eq!(
        c.patch(&format!("/api/messages/{id}"), json!({"message": "x"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(c.delete("/api/messages/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(c.delete("/api/messages/abc").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn messages_over_the_limit_are_413_and_not_stored() {
    let s = TestServer::start_with(|c| c.max_message_bytes = 100).await;
    let a = s.register("alice").await;
    let room = a.room("limits").await;
    let (st, e) = a
        .post(
            "/api/messages/",
            json!({"conversation_id": room, "message": "é".repeat(51)}),
        )
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("102 bytes"), "{e}");
    a.say(&room, &"x".repeat(100)).await;
    assert_eq!(
        a.history(&room).await.len(),
        1,
        "only the message within the limit is stored"
    );
    let id = a.history(&room).await[0]["message_id"].as_i64().unwrap();
    let (st, _) = a
        .patch(&format!("/api/messages/{id}"), json!({"message": "y".repeat(101)}))
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn send_rate_is_limited_per_user() {
    let s = TestServer::start_with(|c| {
        c.send_rate = 1;
        c.send_burst = 3;
    })
    .await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let room = a.room("rate").await;
    b.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    for i in 0..3 {
        a.say(&room, &format!("burst {i}")).await;
    }
    let (st, e) = a
        .post(
            "/api/messages/",
            json!({"conversation_id": room, "message": "one too many"}),
        )
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("per second"));
    // Another user has their own allowance.
    b.say(&room, "my turn").await;
    assert_eq!(a.history(&room).await.len(), 4);
}

#[tokio::test]
async fn files_upload_download_and_access() {
    let s = TestServer::start_with(|c| c.max_upload_bytes = 1000).await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carl").await;

    // Multipart.
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3];
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png.clone())
            .file_name("../../etc/pic.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (st, f) = a.send(a.http.post(s.url("/api/files")).multipart(form)).await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    assert_eq!(f["name"], "pic.png", "only the last path component is kept");
    assert_eq!(f["size"], 7);
    assert_eq!(f["content_type"], "image/png");
    let file_id = f["file_id"].as_str().unwrap().to_owned();

    // Raw body with ?name=.
    let (st, t) = a
        .send(
            a.http
                .post(s.url("/api/files?name=notes.txt"))
                .header("content-type", "text/plain")
                .body("hello"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    assert_eq!(t["content_type"], "text/plain");
    let (st, e) = a.send(a.http.post(s.url("/api/files")).body("no name")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (st, e) = a
        .send(a.http.post(s.url("/api/files?name=big.bin")).body(vec![0u8; 1001]))
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("1000 bytes"), "{e}");
    let (st, _) = a.send(a.http.post(s.url("/api/files?name=empty.txt")).body("")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // The uploader can read it; nobody else, until it is sent to them.
    let res = a
        .http
        .get(s.url(&format!("/api/files/{file_id}")))
        .bearer_auth(a.token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().to_vec(), png);
    assert_eq!(b.get(&format!("/api/files/{file_id}")).await.0, StatusCode::NOT_FOUND);

    let d = a.direct(&b).await;
    let (st, m) = a
        .post(
            "/api/messages/",
            json!({"conversation_id": d, "message": "", "attachment_id": file_id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["attachment"]["file_id"], file_id.as_str());
    assert_eq!(m["attachment"]["url"], format!("/api/files/{file_id}"));
    let res = b
        .http
        .get(s.url(&format!("/api/files/{file_id}")))
        .bearer_auth(b.token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a member of the conversation can read it now"
    );
    assert_eq!(c.get(&format!("/api/files/{file_id}")).await.0, StatusCode::NOT_FOUND);
    // Only your own uploads can be attached.
    let (st, _) = b
        .post(
            "/api/messages/",
            json!({"conversation_id": d, "message": "mine now", "attachment_id": file_id}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Anything that is not a plain image is served as a download.
    let (_, h) = a
        .send(
            a.http
                .post(s.url("/api/files?name=x.html"))
                .header("content-type", "text/html")
                .body("<script>alert(1)</script>"),
        )
        .await;
    let res = a
        .http
        .get(s.url(&format!("/api/files/{}", h["file_id"].as_str().unwrap())))
        .bearer_auth(a.token())
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_share_commits() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let room = a.room("batch").await;
    let (_, before) = s.anonymous().get("/api/health").await;
    let mut sends = Vec::new();
    for i in 0..100 {
        let (a, room) = (a.clone(), room.clone());
        sends.push(tokio::spawn(async move { a.say(&room, &format!("b{i}")).await }));
    }
    for t in sends {
        t.await.unwrap();
    }
    let (st, after) = s.anonymous().get("/api/health").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(after["status"], "ok");
    let jobs = after["writer"]["jobs"].as_u64().unwrap() - before["writer"]["jobs"].as_u64().unwrap();
    let commits = after["writer"]["commits"].as_u64().unwrap() - before["writer"]["commits"].as_u64().unwrap();
    assert!(jobs >= 100, "{jobs} jobs");
    // Group commit: the hundred sends did not each pay for their own fsync.
    assert!(commits * 4 < jobs * 3, "{jobs} jobs in {commits} commits");
    println!("100 concurrent sends: {jobs} write jobs in {commits} commits");
    assert_eq!(a.history(&room).await.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_checkpoints_the_wal_into_the_database_file() {
    let s = TestServer::start_sqlite().await;
    let db = s.dir.path().join("natter.db");
    let a = s.register("alice").await;
    let room = a.room("log").await;
    let before = std::fs::metadata(&db).unwrap().len();
    let long = "x".repeat(1000);
    for _ in 0..300 {
        a.say(&room, &long).await;
    }
    // Commits go to the WAL; the checkpoint thread copies them into the
    // database file within a second or so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(&db).unwrap().len();
        if now > before + 200_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "database file still {now} bytes (was {before})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
