//! The chatroom dialect (seed 001), through the real server: form bodies, the
//! session cookie, rooms by name and the room socket.

use crate::common;

use common::{TestServer, Ws, post_form};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A browser-like client: keeps cookies, sends forms.
struct Browser {
    http: reqwest::Client,
    base: String,
    /// The session cookie, as `natter_session=…`, for sockets.
    cookie: String,
    user_id: i64,
}

impl Browser {
    fn new(s: &TestServer) -> Browser {
        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        Browser {
            http,
            base: s.base.clone(),
            cookie: String::new(),
            user_id: 0,
        }
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let (s, b, _) = self
            .call(self.http.post(format!("{}{path}", self.base)).form(form))
            .await;
        (s, b)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, b, _) = self.call(self.http.get(format!("{}{path}", self.base))).await;
        (s, b)
    }

    /// `/create_user`, which also logs in.
    async fn create_user(s: &TestServer, name: &str) -> Browser {
        let mut b = Browser::new(s);
        let (st, body, headers) = b
            .call(
                b.http
                    .post(format!("{}/create_user", b.base))
                    .form(&[("username", name), ("password", "password1")]),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"info": "User created successfully"}));
        b.take_cookie(&headers);
        let (_, users) = b.get("/get_users").await;
        b.user_id = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["user_id"]
            .as_i64()
            .unwrap();
        b
    }

    fn take_cookie(&mut self, headers: &reqwest::header::HeaderMap) {
        let set = headers["set-cookie"].to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
            "{set}"
        );
        self.cookie = set.split(';').next().unwrap().to_owned();
    }

    fn socket_url(&self, s: &TestServer, room: &str) -> String {
        s.ws_url(&format!("/ws/chat/{room}/{}", self.user_id))
    }

    async fn socket(&self, s: &TestServer, room: &str) -> Ws {
        Ws::connect_with(&self.socket_url(s, room), &[("cookie", &self.cookie)])
            .await
            .expect("room socket")
    }
}

#[tokio::test]
async fn accounts_login_logout_and_the_cookie() {
    let s = TestServer::start().await;
    let a = Browser::create_user(&s, "esubalew").await;
    let (st, b) = a
        .post("/create_user", &[("username", "esubalew"), ("password", "password1")])
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(b["error"].as_str().unwrap().contains("taken"), "{b}");
    let (st, b) = a.post("/create_user/", &[("username", "x")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");

    let mut fresh = Browser::new(&s);
    let (st, b, h) = fresh
        .call(
            fresh
                .http
                .post(s.url("/login"))
                .form(&[("username", "esubalew"), ("password", "password1")]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["user_id"], a.user_id);
    assert!(b["user_id"].is_i64() && b["message"].is_string());
    fresh.take_cookie(&h);
    // JSON bodies work too (a second session; its cookie replaces the first).
    let (st, _, h) = fresh
        .call(
            fresh
                .http
                .post(s.url("/login/"))
                .json(&json!({"username": "esubalew", "password": "password1"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let first_session = std::mem::take(&mut fresh.cookie);
    fresh.take_cookie(&h);
    let (st, b) = fresh
        .post("/login", &[("username", "esubalew"), ("password", "wrong-password")])
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(b["error"].is_string(), "{b}");

    let (st, users) = fresh.get("/get_users").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        users,
        json!({"users": [{"user_id": a.user_id, "username": "esubalew"}]})
    );
    let (st, b) = Browser::new(&s).get("/get_users").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(b["error"].is_string());

    // Logout revokes the session: the old cookie is refused even if replayed.
    let old_cookie = fresh.cookie.clone();
    let (st, b, h) = fresh.call(fresh.http.get(s.url("/logout"))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["message"].is_string());
    assert!(h["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(fresh.get("/get_users").await.0, StatusCode::UNAUTHORIZED);
    let replay = reqwest::Client::new()
        .get(s.url("/get_users"))
        .header("cookie", &old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    // The other sessions are untouched.
    assert_eq!(a.get("/get_users").await.0, StatusCode::OK);
    let other = reqwest::Client::new()
        .get(s.url("/get_users"))
        .header("cookie", &first_session)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    // A Bearer token works in this dialect as well.
    let bearer = common::login(&s, "esubalew").await;
    assert_eq!(bearer.get("/get_rooms").await.0, StatusCode::OK);
}

#[tokio::test]
async fn rooms_join_send_and_list() {
    let s = TestServer::start().await;
    let a = Browser::create_user(&s, "alice").await;
    let b = Browser::create_user(&s, "bob").await;
    let (st, room) = a.post("/create_room", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::OK, "{room}");
    assert_eq!(room["room_name"], "lobby");
    assert!(room["room_id"].is_i64());
    let (st, e) = b.post("/create_room/", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"].as_str().unwrap().contains("already exists"));
    let (st, e) = b.post("/create_room", &[("room", "")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (_, rooms) = b.get("/get_rooms").await;
    assert_eq!(
        rooms,
        json!({"rooms": [{"room_id": room["room_id"], "room_name": "lobby"}]})
    );

    let (st, e) = b.post("/send_message", &[("message", "too early")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().contains("join a room first"));
    // A public room: reading it needs membership.
    let (st, e) = b.post("/list_message", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let (st, e) = b.post("/join_room", &[("room", "nowhere")]).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{e}");
    let (st, j) = b.post("/join_room", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::OK, "{j}");
    assert!(j["message"].is_string());
    let (st, m) = b.post("/send_message", &[("message", "hello lobby")]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(m, json!({"message": "hello lobby"}));
    a.post("/join_room", &[("room", "lobby")]).await;
    a.post("/send_message/", &[("message", "hi bob")]).await;

    let (st, list) = a.post("/list_message", &[("room", "lobby")]).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["room"], "lobby");
    let msgs = list["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["username"], "bob");
    assert_eq!(msgs[0]["message"], "hello lobby");
    assert!(msgs[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(msgs[1]["username"], "alice");
    let (st, same) = a.get("/list_message?room=lobby").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(same, list);
    assert_eq!(
        a.post("/list_message", &[("room", "ghost")]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(a.post("/list_message", &[]).await.0, StatusCode::BAD_REQUEST);

    // The room is a native room: natively listed, with the same history.
    let native = common::login(&s, "alice").await;
    let (_, rooms) = native.get("/api/rooms").await;
    let id = rooms[0]["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(rooms[0]["name"], "lobby");
    let hist = native.history(&id).await;
    assert_eq!(
        hist.iter().map(|m| m["message"].as_str().unwrap()).collect::<Vec<_>>(),
        ["hello lobby", "hi bob"]
    );
}

#[tokio::test]
async fn limits_and_cross_site_requests() {
    let s = TestServer::start_with(|c| c.max_message_bytes = 10).await;
    let a = Browser::create_user(&s, "alice").await;
    a.post("/create_room", &[("room", "r")]).await;
    a.post("/join_room", &[("room", "r")]).await;
    let (st, e) = a.post("/send_message", &[("message", "this is far too long")]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert!(e["error"].as_str().unwrap().contains("limit is 10 bytes"));
    // The cookie from another site's page is not enough.
    let (st, _, _) = a
        .call(
            a.http
                .post(s.url("/send_message"))
                .header("origin", "http://evil.example")
                .form(&[("message", "hi")]),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = a
        .call(
            a.http
                .post(s.url("/send_message"))
                .header("origin", &format!("http://{}", s.addr))
                .form(&[("message", "ok")]),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        a.post("/list_message", &[("room", "r")]).await.1["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_room_socket() {
    let s = TestServer::start().await;
    let a = Browser::create_user(&s, "alice").await;
    let b = Browser::create_user(&s, "bob").await;
    a.post("/create_room", &[("room", "general chat")]).await;
    // The user joins on connect; the room name is percent-encoded in the path.
    let mut wa = a.socket(&s, "general%20chat").await;
    let mut wb = b.socket(&s, "general%20chat").await;
    wa.send(json!({"message": "hello from alice"})).await;
    for ws in [&mut wa, &mut wb] {
        let f = ws.next().await;
        assert_eq!(f["type"], "chat");
        assert_eq!(f["message"], "hello from alice");
        assert_eq!(f["username"], "alice");
        assert!(f["timestamp"].is_string());
    }
    // send_message (HTTP) reaches the sockets too.
    b.post("/join_room", &[("room", "general chat")]).await;
    b.post("/send_message", &[("message", "via http")]).await;
    assert_eq!(wa.next().await["message"], "via http");
    assert_eq!(wb.next().await["message"], "via http");

    wb.send_text("not json").await;
    let e = wb.next().await;
    assert_eq!(e["type"], "error");
    wb.send(json!({"message": "still open"})).await;
    assert_eq!(wb.next().await["message"], "still open");
    assert_eq!(wa.next().await["message"], "still open");

    // Refusals: someone else's user id, unknown room, no session, another site.
    assert_eq!(
        Ws::connect_with(&b.socket_url(&s, "general%20chat"), &[("cookie", &a.cookie)])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        Ws::connect_with(&a.socket_url(&s, "nowhere"), &[("cookie", &a.cookie)])
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        Ws::connect_with(&a.socket_url(&s, "general%20chat"), &[]).await.err(),
        Some(401)
    );
    assert_eq!(
        Ws::connect_with(
            &a.socket_url(&s, "general%20chat"),
            &[("cookie", &a.cookie), ("origin", "http://evil.example")]
        )
        .await
        .err(),
        Some(403)
    );
    // `?token=` works instead of the cookie.
    let bearer = common::login(&s, "alice").await;
    let url = format!("{}?token={}", a.socket_url(&s, "general%20chat"), bearer.token());
    Ws::connect_with(&url, &[]).await.expect("token socket");
}

#[tokio::test]
async fn a_third_user_cannot_reach_a_direct_conversation() {
    let s = TestServer::start().await;
    let a = Browser::create_user(&s, "alice").await;
    let b = Browser::create_user(&s, "bob").await;
    let c = Browser::create_user(&s, "carl").await;
    // alice and bob talk in their direct conversation, by its name.
    assert_eq!(a.post("/join_room", &[("room", "alice_bob")]).await.0, StatusCode::OK);
    a.post("/send_message", &[("message", "just us")]).await;
    let (st, list) = b.post("/list_message", &[("room", "alice_bob")]).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["messages"][0]["message"], "just us");
    // carl cannot join, read, or open its socket.
    assert_eq!(
        c.post("/join_room", &[("room", "alice_bob")]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.post("/list_message", &[("room", "alice_bob")]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        Ws::connect_with(&c.socket_url(&s, "alice_bob"), &[("cookie", &c.cookie)])
            .await
            .err(),
        Some(404)
    );
    let (_, e) = post_form(&common::login(&s, "carl").await, "/send_message", &[("message", "x")]).await;
    assert!(e["error"].as_str().unwrap().contains("join a room first"));
}

#[tokio::test]
async fn a_link_on_another_site_cannot_log_you_out() {
    let s = TestServer::start().await;
    let a = Browser::create_user(&s, "alice").await;
    // A top-level navigation from another site: the cookie comes along, no Origin does.
    let res = reqwest::Client::new()
        .get(s.url("/logout"))
        .header("cookie", &a.cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(a.get("/get_users").await.0, StatusCode::OK, "still logged in");
    // The user typing the address, or our own page, is fine.
    for site in ["none", "same-origin"] {
        let res = reqwest::Client::new()
            .get(s.url("/get_users"))
            .header("cookie", &a.cookie)
            .header("sec-fetch-site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{site}");
    }
}

#[tokio::test]
async fn behind_a_reverse_proxy_the_forwarded_host_counts_as_ours() {
    let s = TestServer::start().await;
    let a = Browser::create_user(&s, "alice").await;
    // nginx's default: Host is the upstream, X-Forwarded-Host what the browser used.
    let call = |origin: &'static str| {
        reqwest::Client::new()
            .get(s.url("/get_users"))
            .header("cookie", &a.cookie)
            .header("x-forwarded-host", "chat.example.org")
            .header("origin", origin)
            .send()
    };
    assert_eq!(call("https://chat.example.org").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        call("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}
