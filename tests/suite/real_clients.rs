//! What the seeds' real clients need beyond their API documents, through
//! the real server: a CORS preflight that allows what a browser client asks
//! for, the messenger socket where its React frontend opens it (and its
//! `message_history` frame), friends in the messenger profile, and whisper
//! accounts that always have a key.

use crate::common;

use base64::Engine;
use common::{Client, TestServer, Ws, post_form};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A messenger account: register, log in, and the user's integer id.
async fn messenger_account(s: &TestServer, name: &str) -> (Client, i64) {
    let anon = s.anonymous();
    let (st, u) = anon
        .post(
            "/accounts/api/users/",
            json!({"username": name, "email": format!("{name}@example.com"), "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    let (st, t) = anon
        .post(
            "/accounts/api/token/",
            json!({"username": name, "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let mut c = anon.clone();
    c.token = Some(t["access"].as_str().unwrap().to_owned());
    c.username = name.to_owned();
    (c, u["id"].as_i64().unwrap())
}

/// The messenger chat room of `a` and `b` (`a_b`), made as the frontend does.
async fn chatroom(a: &Client, b: &Client) -> String {
    let (st, room) = a
        .post("/messenger/api/chatrooms/", json!({"recipient": b.username}))
        .await;
    assert!(st == StatusCode::CREATED || st == StatusCode::OK, "{room}");
    room["name"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_preflight_allows_what_the_browser_asks_for_but_never_credentials() {
    let s = TestServer::start().await;
    let (alice, _) = messenger_account(&s, "alice").await;
    let http = reqwest::Client::new();
    // What Chromium sends before the React frontend's axios POST: its
    // instance adds a `responsetype` header to every request.
    let res = http
        .request(reqwest::Method::OPTIONS, s.url("/accounts/api/token/"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,responsetype",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-headers"], "authorization,content-type,responsetype",
        "the asked-for headers are allowed"
    );
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        assert!(methods.split(", ").any(|x| x == m), "{m} missing from {methods}");
    }
    assert_eq!(h["access-control-max-age"], "86400");
    assert!(h.get("access-control-allow-credentials").is_none());
    assert!(h["vary"].to_str().unwrap().contains("Access-Control-Request-Headers"));

    // A preflight without a header list still answers.
    let res = http
        .request(reqwest::Method::OPTIONS, s.url("/api/conversations"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );

    // The call itself, with the odd header: answered for any origin, with
    // the headers a script may need to read exposed.
    let res = http
        .get(s.url("/profiles/api/profile/"))
        .bearer_auth(alice.token())
        .header("origin", "http://localhost:3000")
        .header("responsetype", "json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    let exposed = h["access-control-expose-headers"].to_str().unwrap();
    for name in ["Retry-After", "Location", "Content-Disposition"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
}

#[tokio::test]
async fn three_dialects_share_the_ws_chat_paths() {
    let s = TestServer::start().await;
    let (alice, alice_number) = messenger_account(&s, "alice").await;
    let (bob, _) = messenger_account(&s, "bob").await;
    let room = chatroom(&alice, &bob).await;
    assert_eq!(room, "alice_bob");

    // messenger, where its frontend opens it: one segment after `chat`.
    let mut front = Ws::connect(&s.ws_url(&format!("/ws/chat/{room}/?token={}", alice.token()))).await;
    // messenger, as the seed documents it.
    let mut seed = Ws::connect(&s.ws_url(&format!("/messenger/ws/ws/chat/{room}/?token={}", bob.token()))).await;
    // chatroom: two segments after `chat`.
    let mut chat = Ws::connect(&s.ws_url(&format!("/ws/chat/{room}/{alice_number}?token={}", alice.token()))).await;
    // threads: `/ws/chat/room/`.
    let mut threads = Ws::connect(&s.ws_url(&format!("/ws/chat/room/?token={}", bob.token()))).await;

    for ws in [&mut front, &mut seed] {
        let first = ws.next().await;
        assert_eq!(first, json!({"type": "message_history", "messages": []}));
    }
    front.send(json!({"message": "through the frontend's path"})).await;
    for ws in [&mut front, &mut seed] {
        let got = ws.next().await;
        assert_eq!(got["content"], "through the frontend's path", "{got}");
        assert_eq!(got["user"], "alice");
        assert!(got.get("type").is_none(), "a messenger frame: {got}");
    }
    let got = chat.next().await;
    assert_eq!(got["type"], "chat", "a chatroom frame: {got}");
    assert_eq!(got["message"], "through the frontend's path");
    let got = threads.next().await;
    assert_eq!(got["action"], "re_message", "a threads frame: {got}");
    assert_eq!(got["message_body"], "through the frontend's path");

    // A room called `room`: `/ws/chat/room/` stays threads' socket, so the
    // messenger client reaches that room by the seed's path only.
    let (st, _) = alice.post("/api/conversations", json!({"name": "room"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let mut t = Ws::connect(&s.ws_url(&format!("/ws/chat/room/?token={}", alice.token()))).await;
    t.send(json!({"action": "chat_message", "message_body": "x"})).await;
    let e = t.next().await;
    assert_eq!(e["action"], "error", "threads answered: {e}");
    let mut m = Ws::connect(&s.ws_url(&format!("/messenger/ws/ws/chat/room/?token={}", alice.token()))).await;
    assert_eq!(m.next().await["type"], "message_history");

    // Strangers are refused on the alias as on the seed's path, in DRF's shape.
    let (carol, _) = messenger_account(&s, "carol").await;
    for path in [
        format!("/ws/chat/{room}/?token={}", carol.token()),
        format!("/messenger/ws/ws/chat/{room}/?token={}", carol.token()),
    ] {
        assert_eq!(Ws::refused(&s.ws_url(&path)).await, 404, "{path}");
    }
    let res = reqwest::Client::new()
        .get(s.url(&format!("/ws/chat/{room}/")))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["detail"], "Authentication credentials were not provided.");
}

#[tokio::test]
async fn the_messenger_socket_opens_with_the_history_then_goes_live() {
    let s = TestServer::start().await;
    let (alice, _) = messenger_account(&s, "alice").await;
    let (bob, _) = messenger_account(&s, "bob").await;
    let room = chatroom(&alice, &bob).await;
    let path = format!("/messenger/api/chatrooms/{room}/messages/");
    let mut ids = Vec::new();
    for text in ["one", "two", "oops", "three"] {
        let (st, m) = alice.post(&path, json!({"content": text})).await;
        assert_eq!(st, StatusCode::CREATED, "{m}");
        ids.push(m["id"].as_i64().unwrap());
    }
    // A deleted message is not in the history (as over HTTP).
    let (st, _) = alice.delete(&format!("/api/messages/{}", ids[2])).await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    let mut ws = Ws::connect(&s.ws_url(&format!("/ws/chat/{room}/?token={}", bob.token()))).await;
    let history = ws.next().await;
    assert_eq!(history["type"], "message_history");
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two", "three"], "oldest first, deleted left out");
    let (_, over_http) = bob.get(&path).await;
    assert_eq!(history["messages"], over_http, "the same messages as GET …/messages/");

    // Messages sent while sockets connect are in the history or live, once each.
    let sender = {
        let (alice, path) = (alice.clone(), path.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..60 {
                let (st, m) = alice.post(&path, json!({"content": format!("race {i}")})).await;
                assert_eq!(st, StatusCode::CREATED);
                sent.push(m["id"].as_i64().unwrap());
            }
            sent
        })
    };
    let mut sockets = Vec::new();
    for _ in 0..6 {
        sockets.push(Ws::connect(&s.ws_url(&format!("/ws/chat/{room}/?token={}", bob.token()))).await);
        tokio::task::yield_now().await;
    }
    let sent = sender.await.unwrap();
    let last = *sent.last().unwrap();
    for mut ws in sockets {
        let first = ws.next().await;
        assert_eq!(first["type"], "message_history", "the history comes first: {first}");
        let mut seen: Vec<i64> = first["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        while seen.last() != Some(&last) {
            let live = ws.next().await;
            assert!(live.get("type").is_none(), "only one history frame: {live}");
            seen.push(live["id"].as_i64().unwrap());
        }
        let seen: Vec<i64> = seen.into_iter().filter(|id| sent.contains(id)).collect();
        assert_eq!(seen, sent, "every message once, in order");
    }

    // The other room sockets open without a history frame.
    let number = {
        let (_, users) = alice.get("/accounts/api/users/").await;
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "bob")
            .unwrap()["id"]
            .clone()
    };
    let mut chat = Ws::connect(&s.ws_url(&format!("/ws/chat/{room}/{number}?token={}", bob.token()))).await;
    alice.post(&path, json!({"content": "after"})).await;
    assert_eq!(chat.next().await["message"], "after");
}

#[tokio::test]
async fn the_messenger_profile_lists_the_callers_friends() {
    let s = TestServer::start().await;
    let (alice, _) = messenger_account(&s, "alice").await;
    let (_, bob_id) = messenger_account(&s, "bob").await;
    let (_, me) = alice.get("/profiles/api/profile/").await;
    assert_eq!(me["profile"]["friends"], json!([]), "{me}");
    let (st, _) = alice
        .post("/profiles/api/add-friend/", json!({"username": "bob"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, me) = alice.get("/profiles/api/profile/").await;
    assert_eq!(me["profile"]["friends"], json!([bob_id]));
    let (_, found) = alice.get("/profiles/api/search-user/?username=alice").await;
    assert_eq!(
        found["profile"]["friends"], me["profile"]["friends"],
        "as search-user shows them"
    );
    alice
        .post("/profiles/api/remove-friend/", json!({"username": "bob"}))
        .await;
    let (_, me) = alice.get("/profiles/api/profile/").await;
    assert_eq!(me["profile"]["friends"], json!([]));
}

/// The 32 key bytes of an X25519 PEM (SPKI or PKCS#8: the key is last).
fn x25519_bytes(pem: &str, label: &str) -> [u8; 32] {
    assert!(pem.starts_with(&format!("-----BEGIN {label}-----\n")), "{pem}");
    assert!(pem.trim_end().ends_with(&format!("-----END {label}-----")), "{pem}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    // The X25519 algorithm identifier, 1.3.101.110.
    assert!(
        der.windows(5).any(|w| w == [0x06, 0x03, 0x2b, 0x65, 0x6e]),
        "not X25519"
    );
    der[der.len() - 32..].try_into().unwrap()
}

#[tokio::test]
async fn whisper_accounts_without_a_key_get_a_key_pair() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    // The original CLI signs up with a form of username and password only.
    let mut private = Vec::new();
    for name in ["alice", "bob"] {
        let (st, b) = post_form(&anon, "/auth/signup/", &[("username", name), ("password", "password1")]).await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        private.push(b["private_key"].as_str().expect("the private key, once").to_owned());
    }
    assert_ne!(private[0], private[1]);
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let mut c = s.anonymous();
        let (st, b) = post_form(&c, "/auth/login/", &[("username", name), ("password", "password1")]).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        c.token = Some(b["access_token"].as_str().unwrap().to_owned());
        let (st, _) = post_form(&c, "/ready-to-chat/", &[("Option", "True")]).await;
        assert_eq!(st, StatusCode::OK);
        clients.push(c);
    }
    // Each sees the other's public key, and it is the pair of the private
    // key that went back at sign-up.
    for (i, c) in clients.iter().enumerate() {
        let (st, b) = c.get("/online-users/").await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let keys = b["public_keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1, "{b}");
        let other = 1 - i;
        let public = x25519_bytes(keys[0].as_str().unwrap(), "PUBLIC KEY");
        let secret = x25519_bytes(&private[other], "PRIVATE KEY");
        let derived = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret));
        assert_eq!(&public, derived.as_bytes());
        // The profile shows the public key; the private key is never shown again.
        let (_, p) = c.get("/profile/").await;
        assert!(p["data"]["public_key"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
        assert!(!p.to_string().contains("PRIVATE"), "{p}");
    }
    // Nobody's private key is anywhere else either.
    for path in ["/api/users", "/api/users/me", "/accounts/api/users/"] {
        let (_, b) = clients[0].get(path).await;
        assert!(!b.to_string().contains("PRIVATE KEY"), "{path}: {b}");
    }

    // A client that brings its own key keeps its private half to itself.
    let (st, b) = anon
        .post(
            "/auth/signup/",
            json!({"username": "carol", "password": "password1", "public_key": "PK-CAROL"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert!(b.get("private_key").is_none(), "{b}");
    let (_, b) = clients[0].get("/online-users/").await;
    assert_eq!(b["public_keys"].as_array().unwrap().len(), 1, "carol is not ready yet");
}

#[tokio::test]
async fn the_whisper_cli_can_find_a_user() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    post_form(
        &anon,
        "/auth/signup/",
        &[("username", "alice"), ("password", "password1")],
    )
    .await;
    let (st, b) = post_form(&anon, "/find-user/", &[("username", "Alice")]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b, json!({"status": 200, "message": "User found", "username": "alice"}));
    let (st, b) = post_form(&anon, "/find-user/", &[("username", "nobody")]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(b["status"], 404);
    assert_eq!(b["messages"][0]["message"], "user `nobody` not found");
    let (st, b) = post_form(&anon, "/find-user", &[]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
}
