//! One conversation, every dialect: a message sent through any of them
//! reaches, live, the sockets of all the others, and shows in every
//! dialect's history, in the same order.

use crate::common;

use common::{TestServer, Ws, post_form};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The text of a message frame in any dialect's format.
fn text_of(frame: &Value) -> String {
    let t = frame["message"]["message"]
        .as_str()
        .or(frame["message_body"].as_str())
        .or(frame["content"].as_str())
        .or(frame["message"].as_str());
    t.unwrap_or_else(|| panic!("not a message frame: {frame}")).to_owned()
}

/// Next message frame, skipping presence/typing/read frames of the native socket.
async fn next_message(ws: &mut Ws) -> Value {
    loop {
        let f = ws.next().await;
        match f["action"].as_str() {
            Some("presence" | "typing" | "read") => continue,
            _ => return f,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_direct_conversation_through_every_dialect() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let (_, me_a) = a.get("/api/users/me").await;
    let (_, users) = a.get("/get_users").await;
    let number = |name: &str| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["user_id"]
            .as_i64()
            .unwrap()
    };
    let (a_num, b_num) = (number("alice"), number("bob"));
    assert_eq!(me_a["user_id"], a.user_id.as_str());

    // Started as a messenger chatroom…
    let (st, room) = a.post("/messenger/api/chatrooms/", json!({"recipient": "bob"})).await;
    assert_eq!(st, StatusCode::CREATED, "{room}");
    // …it is the native direct conversation of the pair…
    let (st, native) = b.post("/api/conversations", json!({"participant_id": a.user_id})).await;
    assert_eq!(st, StatusCode::OK, "already exists: {native}");
    let conv = native["conversation_id"].as_str().unwrap().to_owned();
    // …and the threads dialect's thread between them.
    let (_, threads) = a.get("/chat/get-user-threads/").await;
    assert_eq!(threads["entity"][0]["id"], room["id"]);

    let t = |c: &common::Client| c.token().to_owned();
    let mut sockets: Vec<(&str, Ws)> = vec![
        (
            "native user socket (alice)",
            Ws::connect(&s.ws_url(&format!("/api/ws?token={}", t(&a)))).await,
        ),
        (
            "native conversation socket (bob)",
            Ws::connect(&s.ws_url(&format!("/api/conversations/{conv}/connect?token={}", t(&b)))).await,
        ),
        (
            "threads socket (alice)",
            Ws::connect(&s.ws_url(&format!("/ws/chat/room/?token={}", t(&a)))).await,
        ),
        (
            "threads socket (bob)",
            Ws::connect(&s.ws_url(&format!("/chat/room/ws/?token={}", t(&b)))).await,
        ),
        (
            "messenger socket (alice)",
            Ws::messenger(&s.ws_url(&format!("/messenger/ws/ws/chat/alice_bob/?token={}", t(&a))))
                .await
                .0,
        ),
        (
            "messenger socket (bob)",
            Ws::messenger(&s.ws_url(&format!("/messenger/ws/ws/chat/alice_bob/?token={}", t(&b))))
                .await
                .0,
        ),
        (
            "chatroom socket (alice)",
            Ws::connect(&s.ws_url(&format!("/ws/chat/alice_bob/{a_num}?token={}", t(&a)))).await,
        ),
        (
            "chatroom socket (bob)",
            Ws::connect(&s.ws_url(&format!("/ws/chat/alice_bob/{b_num}?token={}", t(&b)))).await,
        ),
    ];
    const THREADS_BOB: usize = 3;
    // Bob's chatroom session sits in the conversation too.
    assert_eq!(
        post_form(&b, "/join_room", &[("room", "alice_bob")]).await.0,
        StatusCode::OK
    );

    let mut sent: Vec<String> = Vec::new();
    let mut seen: Vec<Vec<String>> = vec![Vec::new(); sockets.len()];
    let mut ids: Vec<i64> = Vec::new();
    for step in 0..8 {
        let text = match step {
            0 => {
                a.say(&conv, "native over http").await;
                "native over http"
            }
            1 => {
                sockets[0]
                    .1
                    .send(json!({"action": "send", "conversation_id": conv, "message": "native over the user socket"}))
                    .await;
                "native over the user socket"
            }
            2 => {
                sockets[1]
                    .1
                    .send(json!({"message": "native over the conversation socket"}))
                    .await;
                "native over the conversation socket"
            }
            3 => {
                sockets[THREADS_BOB]
                    .1
                    .send(json!({"action": "chat_message", "message_body": "threads socket", "receiver_id": a.user_id}))
                    .await;
                "threads socket"
            }
            4 => {
                let (st, _) = b
                    .post(
                        "/messenger/api/chatrooms/alice_bob/messages/",
                        json!({"content": "messenger over http"}),
                    )
                    .await;
                assert_eq!(st, StatusCode::CREATED);
                "messenger over http"
            }
            5 => {
                sockets[4].1.send(json!({"message": "messenger socket"})).await;
                "messenger socket"
            }
            6 => {
                let (st, _) = post_form(&b, "/send_message", &[("message", "chatroom over http")]).await;
                assert_eq!(st, StatusCode::OK);
                "chatroom over http"
            }
            _ => {
                sockets[6].1.send(json!({"message": "chatroom socket"})).await;
                "chatroom socket"
            }
        };
        sent.push(text.to_owned());
        // Every socket hears it live before the next one is sent; the threads
        // socket it was sent from is the only one that does not.
        for (i, (name, ws)) in sockets.iter_mut().enumerate() {
            if step == 3 && i == THREADS_BOB {
                continue;
            }
            let frame = next_message(ws).await;
            assert_eq!(text_of(&frame), text, "{name} at step {step}: {frame}");
            seen[i].push(text_of(&frame));
            if i == 0 {
                ids.push(frame["message"]["message_id"].as_i64().unwrap());
            }
            if i == 2 {
                assert_eq!(frame["created_msg_id"], ids[step], "threads sees the same message id");
            }
            if i == 5 {
                assert_eq!(frame["id"], ids[step], "messenger sees the same message id");
            }
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for (i, (name, _)) in sockets.iter().enumerate() {
        let expected: Vec<String> = sent
            .iter()
            .enumerate()
            .filter(|(step, _)| !(i == THREADS_BOB && *step == 3))
            .map(|(_, t)| t.clone())
            .collect();
        assert_eq!(seen[i], expected, "{name}");
    }

    // Every dialect's history: the same eight, in the same order.
    let native_hist: Vec<String> = a
        .history(&conv)
        .await
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect();
    let (_, th) = a.get(&format!("/chat/messages/{}/", b.user_id)).await;
    let threads_hist: Vec<String> = th["entity"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect();
    let (_, mh) = b.get("/messenger/api/chatrooms/alice_bob/messages/").await;
    let messenger_hist: Vec<String> = mh
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    let (_, ch) = post_form(&a, "/list_message", &[("room", "bob_alice")]).await;
    let chatroom_hist: Vec<String> = ch["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect();
    for (name, hist) in [
        ("native", &native_hist),
        ("threads", &threads_hist),
        ("messenger", &messenger_hist),
        ("chatroom", &chatroom_hist),
    ] {
        assert_eq!(hist, &sent, "{name} history");
    }
}

#[tokio::test]
async fn a_chatroom_room_is_a_native_room() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    // Made through the chatroom dialect…
    let (st, room) = post_form(&a, "/create_room", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::OK, "{room}");
    // …joined and used natively…
    let (_, rooms) = b.get("/api/rooms").await;
    assert_eq!(rooms[0]["name"], "lobby");
    let id = rooms[0]["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        b.post(&format!("/api/rooms/{id}/join"), json!({})).await.0,
        StatusCode::OK
    );
    let mut native = Ws::connect(&s.ws_url(&format!("/api/conversations/{id}/connect?token={}", b.token()))).await;
    let (mut messenger, _) =
        Ws::messenger(&s.ws_url(&format!("/messenger/ws/ws/chat/lobby/?token={}", b.token()))).await;
    let mut chat = Ws::connect(&s.ws_url(&format!("/ws/chat/lobby/{}?token={}", room["room_id"], a.token()))).await;
    chat.send(json!({"message": "from the chatroom socket"})).await;
    assert_eq!(
        text_of(&native.next_action("message").await),
        "from the chatroom socket"
    );
    assert_eq!(text_of(&messenger.next().await), "from the chatroom socket");
    assert_eq!(text_of(&chat.next().await), "from the chatroom socket");
    b.say(&id, "from native").await;
    assert_eq!(text_of(&chat.next().await), "from native");
    assert_eq!(text_of(&messenger.next().await), "from native");
    // …and listed by messenger by its name.
    let (_, list) = b.get("/messenger/api/chatrooms/").await;
    assert_eq!(list[0]["name"], "lobby");
    assert_eq!(list[0]["id"], room["room_id"]);
}

#[tokio::test]
async fn an_attachment_shows_in_the_dialects_without_files() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let room = a.room("lobby").await;
    assert_eq!(
        b.post(&format!("/api/rooms/{room}/join"), json!({})).await.0,
        StatusCode::OK
    );
    let (_, users) = b.get("/get_users").await;
    let b_num = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bob")
        .unwrap()["user_id"]
        .clone();
    let mut chat = Ws::connect(&s.ws_url(&format!("/ws/chat/lobby/{b_num}?token={}", b.token()))).await;
    let (mut messenger, _) =
        Ws::messenger(&s.ws_url(&format!("/messenger/ws/ws/chat/lobby/?token={}", b.token()))).await;

    a.say(&room, "plain").await;
    let (st, f) = a
        .send(
            a.http
                .post(s.url("/api/files?name=notes.txt"))
                .header("content-type", "text/plain")
                .body("hello bob"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let file_id = f["file_id"].as_str().unwrap();
    let (st, sent) = a
        .post(
            "/api/messages/",
            json!({"conversation_id": room, "message": "see file", "attachment_id": file_id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{sent}");
    let expected = json!({"name": "notes.txt", "url": format!("/api/files/{file_id}")});

    // Live, on both room sockets: no field for the plain message, then the file.
    for (name, ws) in [("chatroom", &mut chat), ("messenger", &mut messenger)] {
        let plain = ws.next().await;
        assert_eq!(text_of(&plain), "plain", "{name}");
        assert!(plain.get("attachment").is_none(), "{name}: {plain}");
        let with_file = ws.next().await;
        assert_eq!(text_of(&with_file), "see file", "{name}");
        assert_eq!(with_file["attachment"], expected, "{name}: {with_file}");
    }
    // In both histories.
    let (st, list) = b.get("/list_message?room=lobby").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let listed = list["messages"].as_array().unwrap();
    assert!(listed[0].get("attachment").is_none(), "{list}");
    assert_eq!(listed[1]["attachment"], expected, "{list}");
    let (st, list) = b.get("/messenger/api/chatrooms/lobby/messages/").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert!(list[0].get("attachment").is_none(), "{list}");
    assert_eq!(list[1]["attachment"], expected, "{list}");
    // The URL serves the file to a member, with their own token.
    let res = b
        .http
        .get(s.url(expected["url"].as_str().unwrap()))
        .bearer_auth(b.token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "hello bob");
}
