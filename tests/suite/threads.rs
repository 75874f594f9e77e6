//! The threads dialect (seed 003), through the real server: the envelope,
//! messages of a thread, threads, users, and the `re_message` socket.

use crate::common;

use common::{Client, TestServer, Ws, login};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn socket(s: &TestServer, c: &Client) -> String {
    s.ws_url(&format!("/ws/chat/room/?token={}", c.token()))
}

fn assert_failure(b: &Value) {
    assert_eq!(b["status"], "failure", "{b}");
    assert_eq!(b["success"], false);
    assert_eq!(b["entity"], Value::Null);
    assert!(b["message"].is_string());
}

#[tokio::test]
async fn chatting_on_the_socket() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let mut wa = Ws::connect(&socket(&s, &a)).await;
    let mut wa2 = Ws::connect(&s.ws_url(&format!("/chat/room/ws/?token={}", a.token()))).await;
    let mut wb = Ws::connect(&socket(&s, &b)).await;

    wa.send(json!({"action": "chat_message", "message_body": "hello there", "receiver_id": b.user_id}))
        .await;
    let got = wb.next().await;
    assert_eq!(got["action"], "re_message");
    assert_eq!(got["message_body"], "hello there");
    assert_eq!(got["sender_id"], a.user_id.as_str());
    assert_eq!(got["receiver_id"], b.user_id.as_str());
    assert!(got["created_msg_id"].is_i64());
    assert!(got["timestamp"].as_str().unwrap().ends_with("+00:00"), "{got}");
    // The sender's other socket hears it too…
    assert_eq!(wa2.next().await["created_msg_id"], got["created_msg_id"]);

    // …but not the socket it was sent on: its next frame is bob's reply.
    wb.send(json!({"action": "chat_message", "message_body": "hi alice", "receiver_id": a.user_id}))
        .await;
    let reply = wa.next().await;
    assert_eq!(reply["message_body"], "hi alice");
    assert_eq!(reply["receiver_id"], a.user_id.as_str());
    assert_eq!(wa2.next().await["message_body"], "hi alice");

    // Mistakes get an error frame; the socket stays open.
    wa.send(
        json!({"action": "chat_message", "message_body": "?", "receiver_id": "87c8b8e2-3efc-4a4a-b667-1f9c0d7e8437"}),
    )
    .await;
    let e = wa.next().await;
    assert_eq!(e["action"], "error");
    assert_eq!(e["message"], "Invalid receipient");
    for bad in [
        json!({"action": "chat_message", "message_body": "no receiver"}),
        json!({"action": "dance", "receiver_id": b.user_id}),
        json!({"message_body": "x"}),
    ] {
        wa.send(bad).await;
        assert_eq!(wa.next().await["status"], "failure");
    }
    wa.send_text("{not json").await;
    assert_eq!(wa.next().await["action"], "error");
    wa.send(json!({"action": "chat_message", "message_body": "still here", "receiver_id": b.user_id}))
        .await;
    assert_eq!(wb.next().await["message_body"], "still here");
}

#[tokio::test]
async fn files_on_the_socket() {
    let s = TestServer::start_with(|c| c.max_upload_bytes = 64).await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let mut wa = Ws::connect(&socket(&s, &a)).await;
    let mut wb = Ws::connect(&socket(&s, &b)).await;
    wa.send(json!({"action": "chat_file", "receiver_id": b.user_id, "message_body": "see file", "file_name": "note.txt", "file_base64": "aGVsbG8gYm9i"}))
        .await;
    let got = wb.next().await;
    assert_eq!(got["action"], "re_message");
    assert_eq!(got["message_body"], "see file");
    assert_eq!(got["attached_file_name"], "note.txt");
    assert_eq!(got["attached_file_size"], "1kb");
    let url = got["attached_file"].as_str().unwrap();
    let res = b.http.get(s.url(url)).bearer_auth(b.token()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "hello bob");
    // A data: URL prefix is fine; over the limit or not base64 is refused.
    wa.send(json!({"action": "chat_file", "receiver_id": b.user_id, "file_name": "x.txt", "file_base64": "data:text/plain;base64,eA"})).await;
    assert_eq!(wb.next().await["attached_file_name"], "x.txt");
    let big = "A".repeat(100);
    wa.send(json!({"action": "chat_file", "receiver_id": b.user_id, "file_name": "big.bin", "file_base64": big}))
        .await;
    let e = wa.next().await;
    assert!(
        e["message"].as_str().unwrap().contains("the upload limit is 64 bytes"),
        "{e}"
    );
    wa.send(json!({"action": "chat_file", "receiver_id": b.user_id, "file_name": "x", "file_base64": "%%%"}))
        .await;
    assert!(wa.next().await["message"].as_str().unwrap().contains("base64"));
    wa.send(json!({"action": "chat_file", "receiver_id": b.user_id, "file_base64": "eA"}))
        .await;
    assert!(wa.next().await["message"].as_str().unwrap().contains("file_name"));

    let (_, hist) = b.get(&format!("/chat/messages/{}/", a.user_id)).await;
    let msgs = hist["entity"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["attached_file_name"], "note.txt");
    assert_eq!(msgs[0]["attached_file"], url);
}

#[tokio::test]
async fn messages_of_a_thread() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    a.patch(
        "/api/users/me",
        json!({"email": "alice@example.com", "profile_picture": "/pic.png"}),
    )
    .await;
    let (st, empty) = a.get(&format!("/chat/messages/{}/", b.user_id)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(empty["entity"]["messages"], json!([]), "no thread yet: no messages");
    let d = a.direct(&b).await;
    a.say(&d, "hello").await;
    b.say(&d, "hi").await;

    let (st, body) = a.get(&format!("/chat/messages/{}/", b.user_id)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["status"], "success");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Messages retreived successfully");
    let msgs = body["entity"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    let m = &msgs[0];
    for key in [
        "id",
        "sender",
        "receiver",
        "message",
        "created",
        "updated",
        "seen",
        "deleted",
        "attached_file",
        "attached_file_name",
        "attached_file_size",
        "thread",
    ] {
        assert!(m.get(key).is_some(), "message has {key}: {m}");
    }
    assert!(m["id"].is_i64() && m["thread"].is_i64());
    assert_eq!(
        m["sender"],
        json!({"id": a.user_id, "email": "alice@example.com", "profile": {"image": "/pic.png"}})
    );
    assert_eq!(m["receiver"]["id"], b.user_id.as_str());
    assert_eq!(m["receiver"]["profile"], Value::Null);
    assert_eq!(m["attached_file_size"], "0kb");
    assert_eq!(msgs[1]["sender"]["id"], b.user_id.as_str());
    assert_eq!(msgs[1]["receiver"]["id"], a.user_id.as_str());
    // Bob reads: alice's message is now seen.
    let (_, from_b) = b.get(&format!("/chat/messages/{}", a.user_id)).await;
    assert_eq!(from_b["entity"]["messages"].as_array().unwrap().len(), 2);
    b.post(
        &format!("/api/conversations/{d}/read"),
        json!({"message_id": msgs[1]["id"]}),
    )
    .await;
    let (_, again) = a.get(&format!("/chat/messages/{}/", b.user_id)).await;
    assert_eq!(again["entity"]["messages"][0]["seen"], true);

    for bad in ["87c8b8e2-3efc-4a4a-b667-1f9c0d7e8437", "not-a-uuid"] {
        let (st, e) = a.get(&format!("/chat/messages/{bad}/")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_failure(&e);
        assert_eq!(e["message"], "Invalid receipient");
    }
}

#[tokio::test]
async fn user_threads_and_users() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carl").await;
    a.patch("/api/users/me", json!({"first_name": "Alice", "last_name": "A"}))
        .await;
    let ab = a.direct(&b).await;
    c.direct(&a).await;
    a.say(&ab, "hello there, how are you").await;
    let (st, body) = a.get("/chat/get-user-threads/").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], Value::Null);
    let threads = body["entity"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    let t = &threads[0];
    assert!(t["id"].is_i64());
    assert_eq!(
        t["user_one"],
        json!({"id": a.user_id, "email": null, "first_name": "Alice", "last_name": "A"})
    );
    assert_eq!(t["user_two"]["id"], b.user_id.as_str());
    assert_eq!(t["last_message"], "hello there, how are you");
    assert!(t["craeted"].is_string() && t["created"] == t["craeted"]);
    // carl started the second one.
    assert_eq!(threads[1]["user_one"]["id"], c.user_id.as_str());
    assert_eq!(threads[1]["last_message"], Value::Null);

    for req in [a.http.post(s.url("/auth/users/")), a.http.get(s.url("/auth/users"))] {
        let (st, users) = a.send(req).await;
        assert_eq!(st, StatusCode::OK);
        let list = users["entity"].as_array().unwrap();
        assert_eq!(list.len(), 3);
        for u in list {
            for secret in ["password", "password_hash", "available_balance", "is_superuser"] {
                assert!(u.get(secret).is_none(), "{secret} must not be listed: {u}");
            }
            assert!(u["id"].is_string() && u["user_number"].is_i64());
        }
    }
    let (st, e) = s.anonymous().post("/auth/users/", json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_failure(&e);
    let (st, e) = a.get("/exec/coin/enable/").await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "the exchange endpoints are out of scope: {e}"
    );
    let (st, e) = a.get("/chat/unknown/").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_failure(&e);
}

#[tokio::test]
async fn a_third_user_and_a_revoked_token() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carl").await;
    let mut wc = Ws::connect(&socket(&s, &c)).await;
    let mut wa = Ws::connect(&socket(&s, &a)).await;
    a.say(&a.direct(&b).await, "private").await;
    wa.send(json!({"action": "chat_message", "message_body": "also private", "receiver_id": b.user_id}))
        .await;
    // carl's next frame is the one meant for him: nothing of alice and bob's came first.
    a.say(&a.direct(&c).await, "for carl").await;
    assert_eq!(wc.next().await["message_body"], "for carl");
    // Asking for alice's messages shows carl only his own thread with her.
    let (_, mine) = c.get(&format!("/chat/messages/{}/", a.user_id)).await;
    let texts: Vec<&str> = mine["entity"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["for carl"]);
    let (_, threads) = c.get("/chat/get-user-threads/").await;
    assert_eq!(threads["entity"].as_array().unwrap().len(), 1);

    assert_eq!(c.post("/api/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    let (st, e) = c.get("/chat/get-user-threads/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_failure(&e);
    assert_eq!(Ws::refused(&socket(&s, &c)).await, 401);
    assert_eq!(Ws::refused(&s.ws_url("/ws/chat/room/")).await, 401);
    let again = login(&s, "carl").await;
    assert_eq!(again.get("/chat/get-user-threads/").await.0, StatusCode::OK);
}
