//! The messenger dialect (seed 004), through the real server.

use crate::common;

use common::{Client, TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Register through `/accounts/api/users/` and log in through `/accounts/api/token/`.
async fn account(s: &TestServer, name: &str) -> (Client, i64) {
    let anon = s.anonymous();
    let (st, u) = anon
        .post(
            "/accounts/api/users/",
            json!({"username": name, "email": format!("{name}@example.com"), "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    assert_eq!(
        u,
        json!({"id": u["id"], "username": name, "email": format!("{name}@example.com")})
    );
    let (st, t) = anon
        .post(
            "/accounts/api/token/",
            json!({"username": name, "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let mut c = anon.clone();
    c.token = Some(t["access"].as_str().unwrap().to_owned());
    c.refresh = t["refresh"].as_str().unwrap().to_owned();
    c.username = name.to_owned();
    (c, u["id"].as_i64().unwrap())
}

fn detail(b: &Value) -> &str {
    b["detail"].as_str().unwrap_or_else(|| panic!("DRF error shape: {b}"))
}

#[tokio::test]
async fn accounts_and_tokens() {
    // No grace: the second use of a refresh token below is theft.
    let s = TestServer::start_with(|c| c.refresh_reuse_grace = std::time::Duration::ZERO).await;
    let (a, a_id) = account(&s, "user1").await;
    account(&s, "user2").await;
    let anon = s.anonymous();
    let (st, e) = anon
        .post(
            "/accounts/api/users/",
            json!({"username": "user1", "email": "x@example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(detail(&e).contains("taken"));
    let (st, e) = anon
        .post(
            "/accounts/api/users/",
            json!({"username": "user3", "email": "bad", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");

    let (st, users) = a.get("/accounts/api/users/").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        users[0],
        json!({"id": a_id, "username": "user1", "email": "user1@example.com"})
    );
    assert_eq!(users.as_array().unwrap().len(), 2);
    let (st, e) = anon.get("/accounts/api/users/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(detail(&e), "Authentication credentials were not provided.");

    let (st, e) = anon
        .post(
            "/accounts/api/token/",
            json!({"username": "user1", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(detail(&e), "No active account found with the given credentials");

    let (st, r) = anon
        .post("/accounts/api/token/refresh/", json!({"refresh": a.refresh}))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert!(r["access"].is_string() && r["refresh"].is_string());
    let mut fresh = a.clone();
    fresh.token = Some(r["access"].as_str().unwrap().to_owned());
    assert_eq!(fresh.get("/profiles/api/profile/").await.0, StatusCode::OK);
    // The old refresh token again: the session is revoked, as SimpleJWT's clients understand it.
    let (st, e) = anon
        .post("/accounts/api/token/refresh/", json!({"refresh": a.refresh}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(e["code"], "token_not_valid");
    let (st, e) = fresh.get("/profiles/api/profile/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "a revoked token is refused");
    assert_eq!(e["code"], "token_not_valid");
}

#[tokio::test]
async fn profiles_posts_search_and_friends() {
    let s = TestServer::start().await;
    let (a, a_id) = account(&s, "example_user").await;
    let (b, b_id) = account(&s, "jane_doe").await;
    a.patch("/api/users/me", json!({"bio": "Био"})).await;
    let (st, p) = a
        .post("/profiles/api/posts/", json!({"title": "Пост 1", "content": "Текст"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    assert_eq!(p["title"], "Пост 1");
    assert!(p["id"].is_i64() && p["created_at"].is_string());
    b.post("/profiles/api/posts/", json!({"title": "Jane's", "content": "hello"}))
        .await;
    let (st, e) = a
        .post("/profiles/api/posts/", json!({"title": "", "content": "x"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");

    let (st, all) = b.get("/profiles/api/posts/").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 2);

    let (st, me) = a.get("/profiles/api/profile/").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["id"], a_id);
    assert_eq!(me["username"], "example_user");
    assert_eq!(me["profile"]["bio"], "Био");
    assert!(me["profile"].get("image").is_some());
    assert_eq!(me["posts"].as_array().unwrap().len(), 1, "only my posts");

    let (st, m) = a
        .post("/profiles/api/add-friend/", json!({"username": "jane_doe"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(m, json!({"message": "jane_doe добавлен в друзья."}));
    let (st, found) = b.get("/profiles/api/search-user/?username=example_user").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(found["profile"]["friends"], json!([b_id]));
    assert_eq!(found["posts"][0]["title"], "Пост 1");
    let (st, e) = a.get("/profiles/api/search-user/?username=nobody").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    detail(&e);
    assert_eq!(a.get("/profiles/api/search-user/").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.post("/profiles/api/add-friend/", json!({"username": "nobody"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.post("/profiles/api/add-friend/", json!({"username": "example_user"}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (st, m) = a
        .post("/profiles/api/remove-friend/", json!({"username": "jane_doe"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(m, json!({"message": "jane_doe удален из друзей."}));
    let (_, found) = b.get("/profiles/api/search-user/?username=example_user").await;
    assert_eq!(found["profile"]["friends"], json!([]));
}

#[tokio::test]
async fn chatrooms_by_name_and_their_messages() {
    let s = TestServer::start().await;
    let (u2, u2_id) = account(&s, "user2").await;
    let (u1, u1_id) = account(&s, "user1").await;
    let (st, room) = u1
        .post("/messenger/api/chatrooms/", json!({"recipient": "user2"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{room}");
    assert_eq!(room["name"], "user1_user2", "usernames sorted");
    assert_eq!(room["display_name"], "user2");
    let mut members: Vec<i64> = serde_json::from_value(room["members"].clone()).unwrap();
    members.sort();
    assert_eq!(members, [u2_id.min(u1_id), u2_id.max(u1_id)]);
    // Existing: the same room.
    let (st, again) = u2
        .post("/messenger/api/chatrooms/", json!({"recipient": "user1"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again["id"], room["id"]);
    assert_eq!(again["display_name"], "user1");
    assert_eq!(
        u1.post("/messenger/api/chatrooms/", json!({"recipient": "ghost"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        u1.post("/messenger/api/chatrooms/", json!({"recipient": "user1"}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    for path in ["/messenger/api/chatrooms/", "/messenger/api/user/chatrooms/"] {
        let (st, list) = u1.get(path).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["name"], "user1_user2");
    }

    let (st, m) = u1
        .post(
            "/messenger/api/chatrooms/user1_user2/messages/",
            json!({"content": "Привет!"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["user"], "user1");
    assert_eq!(m["content"], "Привет!");
    assert!(m["id"].is_i64() && m["timestamp"].is_string());
    // Either order of the pair finds the same room.
    u2.post(
        "/messenger/api/chatrooms/user2_user1/messages/",
        json!({"content": "Hi"}),
    )
    .await;
    let (st, msgs) = u2.get("/messenger/api/chatrooms/user1_user2/messages/").await;
    assert_eq!(st, StatusCode::OK);
    let texts: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Привет!", "Hi"]);
    let (st, e) = u1
        .post("/messenger/api/chatrooms/user1_user2/messages/", json!({"content": ""}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(
        u1.get("/messenger/api/chatrooms/nowhere/messages/").await.0,
        StatusCode::NOT_FOUND
    );

    // A native room shows up by its name too.
    let native = common::login(&s, "user1").await;
    native.room("lobby").await;
    let (_, list) = u1.get("/messenger/api/chatrooms/").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "lobby" && r["display_name"] == "lobby")
    );
    assert_eq!(
        u2.get("/messenger/api/chatrooms/lobby/messages/").await.0,
        StatusCode::FORBIDDEN,
        "not a member"
    );
}

#[tokio::test]
async fn the_room_socket() {
    let s = TestServer::start().await;
    let (u1, _) = account(&s, "user1").await;
    let (u2, _) = account(&s, "user2").await;
    u1.post("/messenger/api/chatrooms/", json!({"recipient": "user2"}))
        .await;
    let url = |c: &Client| s.ws_url(&format!("/messenger/ws/ws/chat/user1_user2/?token={}", c.token()));
    let (mut w1, history) = Ws::messenger(&url(&u1)).await;
    assert!(history.is_empty());
    // Bearer instead of ?token= works too.
    let bearer = format!("Bearer {}", u2.token());
    let mut w2 = Ws::connect_with(
        &s.ws_url("/messenger/ws/ws/chat/user1_user2/"),
        &[("authorization", &bearer)],
    )
    .await
    .expect("bearer socket");
    assert_eq!(w2.next().await["type"], "message_history");
    w1.send(json!({"message": "Привет!"})).await;
    for ws in [&mut w1, &mut w2] {
        let m = ws.next().await;
        assert_eq!(m["user"], "user1");
        assert_eq!(m["content"], "Привет!");
        assert!(m["id"].is_i64() && m["timestamp"].is_string());
        assert_eq!(m.as_object().unwrap().len(), 4, "exactly the seed's fields: {m}");
    }
    u2.post(
        "/messenger/api/chatrooms/user1_user2/messages/",
        json!({"content": "via http"}),
    )
    .await;
    assert_eq!(w1.next().await["content"], "via http");
    assert_eq!(w2.next().await["content"], "via http");
    w2.send(json!({"text": "wrong field"})).await;
    assert!(w2.next().await["detail"].is_string());

    assert_eq!(Ws::refused(&s.ws_url("/messenger/ws/ws/chat/user1_user2/")).await, 401);
    let (u3, _) = account(&s, "user3").await;
    assert_eq!(Ws::refused(&url(&u3)).await, 404);
    assert_eq!(
        u3.get("/messenger/api/chatrooms/user1_user2/messages/").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        u3.post(
            "/messenger/api/chatrooms/user1_user2/messages/",
            json!({"content": "x"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (st, e) = u3.get("/messenger/api/nothing/").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    detail(&e);
}
