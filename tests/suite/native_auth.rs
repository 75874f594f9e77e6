//! Native API: accounts, tokens, sessions, users — through the real server.

use crate::common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_login_and_me() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let (st, b) = anon
        .post(
            "/api/auth/register",
            json!({"username": "alice", "password": "password1", "name": "Alice"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["username"], "alice");
    assert_eq!(b["token_type"], "Bearer");
    assert!(b["expires_in"].as_u64().unwrap() > 0);
    assert!(b["refresh_token"].as_str().unwrap().len() > 20);
    let user_id = b["user_id"].as_str().unwrap().to_owned();

    // Login by username, case-insensitively.
    let (st, b) = anon
        .post("/api/auth/login", json!({"username": "ALICE", "password": "password1"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["user_id"], user_id.as_str());
    let mut alice = anon.clone();
    alice.token = Some(b["access_token"].as_str().unwrap().to_owned());

    let (st, me) = alice.get("/api/users/me").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["user_id"], user_id.as_str());
    assert_eq!(me["name"], "Alice");
    // No endpoint ever returns a password hash.
    assert!(!me.to_string().contains("argon2"), "{me}");
    assert!(me.get("password").is_none() && me.get("password_hash").is_none());
}

#[tokio::test]
async fn register_rejects_bad_input() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    s.register("taken").await;
    let cases = [
        (
            json!({"username": "taken", "password": "password1"}),
            StatusCode::CONFLICT,
            "already taken",
        ),
        (
            json!({"username": "TAKEN", "password": "password1"}),
            StatusCode::CONFLICT,
            "already taken",
        ),
        (
            json!({"username": "ab", "password": "password1"}),
            StatusCode::BAD_REQUEST,
            "3 to 64",
        ),
        (
            json!({"username": "no spaces", "password": "password1"}),
            StatusCode::BAD_REQUEST,
            "may only contain",
        ),
        (
            json!({"username": "<b>x</b>", "password": "password1"}),
            StatusCode::BAD_REQUEST,
            "may only contain",
        ),
        (
            json!({"username": "x".repeat(65), "password": "password1"}),
            StatusCode::BAD_REQUEST,
            "3 to 64",
        ),
        (
            json!({"username": "bob", "password": "123"}),
            StatusCode::BAD_REQUEST,
            "at least 6",
        ),
        (json!({"username": "bob"}), StatusCode::BAD_REQUEST, "password"),
        (
            json!({"password": "password1"}),
            StatusCode::BAD_REQUEST,
            "username or an email",
        ),
        (
            json!({"email": "not-an-email", "password": "password1"}),
            StatusCode::BAD_REQUEST,
            "not a valid email",
        ),
    ];
    for (body, status, needle) in cases {
        let (st, b) = anon.post("/api/auth/register", body.clone()).await;
        assert_eq!(st, status, "{body} -> {b}");
        assert_eq!(b["error"]["status"], status.as_u16(), "{b}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: `{msg}` should mention `{needle}`");
    }
}

#[tokio::test]
async fn email_becomes_the_username_and_can_log_in() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let (st, b) = anon
        .post(
            "/api/auth/register",
            json!({"email": "Ann@Example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["username"], "Ann@Example.com");
    let (st, _) = anon
        .post(
            "/api/auth/login",
            json!({"email": "ann@example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // The same email cannot register twice.
    let (st, b) = anon
        .post(
            "/api/auth/register",
            json!({"username": "ann2", "email": "ann@example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
}

#[tokio::test]
async fn bad_credentials_are_401() {
    let s = TestServer::start().await;
    s.register("carol").await;
    let anon = s.anonymous();
    let (st, b) = anon
        .post(
            "/api/auth/login",
            json!({"username": "carol", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["message"], "invalid username or password");
    // An unknown user gets the very same answer.
    let (st, b2) = anon
        .post(
            "/api/auth/login",
            json!({"username": "nobody", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(b, b2);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled() {
    let s = TestServer::start().await;
    s.register("dave").await;
    let anon = s.anonymous();
    for _ in 0..5 {
        let (st, _) = anon
            .post(
                "/api/auth/login",
                json!({"username": "dave", "password": "guess-guess"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits, from this address (the owner
    // elsewhere is not held up: tests/abuse.rs).
    let (st, b) = anon
        .post("/api/auth/login", json!({"username": "dave", "password": "password1"}))
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many failed logins for this account from your address")
    );
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let s = TestServer::start().await;
    let mut c = s.anonymous();
    let (st, b) = c.get("/api/users/me").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("authentication required")
    );
    c.token = Some("not-a-jwt".into());
    let (st, b) = c.get("/api/users/me").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["message"], "invalid token");
}

#[tokio::test]
async fn expired_access_tokens_are_refused_and_refresh_works() {
    let s = TestServer::start_with(|c| c.access_ttl = std::time::Duration::from_secs(1)).await;
    let mut a = s.register("erin").await;
    let (st, _) = a.get("/api/users/me").await;
    assert_eq!(st, StatusCode::OK);
    // JWT expiry has one-second resolution: wait it out for real.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (st, b) = a.get("/api/users/me").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(b["error"]["message"].as_str().unwrap().contains("expired"), "{b}");
    let (st, b) = s
        .anonymous()
        .post("/api/auth/refresh", json!({"refresh_token": a.refresh}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    a.token = Some(b["access_token"].as_str().unwrap().to_owned());
    let (st, _) = a.get("/api/users/me").await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    // No grace: any second use of a refresh token is theft.
    let s = TestServer::start_with(|c| c.refresh_reuse_grace = std::time::Duration::ZERO).await;
    let a = s.register("frank").await;
    let anon = s.anonymous();
    let (st, first) = anon
        .post("/api/auth/refresh", json!({"refresh_token": a.refresh}))
        .await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let new_refresh = first["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, a.refresh, "refresh tokens rotate");
    let mut fresh = a.clone();
    fresh.token = Some(first["access_token"].as_str().unwrap().to_owned());
    assert_eq!(fresh.get("/api/users/me").await.0, StatusCode::OK);

    // The old token again: someone copied it. The whole session dies.
    let (st, b) = anon
        .post("/api/auth/refresh", json!({"refresh_token": a.refresh}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(b["error"]["message"].as_str().unwrap().contains("revoked"), "{b}");
    assert_eq!(fresh.get("/api/users/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(a.get("/api/users/me").await.0, StatusCode::UNAUTHORIZED);
    let (st, _) = anon
        .post("/api/auth/refresh", json!({"refresh_token": new_refresh}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the rotated token died with the session");
    // Garbage is just invalid.
    let (st, b) = anon.post("/api/auth/refresh", json!({"refresh_token": "nope"})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["message"], "invalid refresh token");
}

#[tokio::test]
async fn logout_kills_the_access_token_at_once() {
    let s = TestServer::start().await;
    let a = s.register("gina").await;
    // A second session of the same user is not affected.
    let (_, other) = s
        .anonymous()
        .post("/api/auth/login", json!({"username": "gina", "password": "password1"}))
        .await;
    let mut second = a.clone();
    second.token = Some(other["access_token"].as_str().unwrap().to_owned());

    let (st, _) = a.post("/api/auth/logout", json!({})).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, b) = a.get("/api/users/me").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(b["error"]["message"].as_str().unwrap().contains("logged out"));
    let (st, _) = s
        .anonymous()
        .post("/api/auth/refresh", json!({"refresh_token": a.refresh}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the session's refresh token is dead too");
    assert_eq!(second.get("/api/users/me").await.0, StatusCode::OK);
}

#[tokio::test]
async fn logout_survives_a_restart() {
    let s = TestServer::start().await;
    let a = s.register("hank").await;
    assert_eq!(a.post("/api/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    let (dir, config) = s.stop().await;
    let s = TestServer::start_in(dir, config).await;
    let mut a = a.clone();
    a.base = s.base.clone();
    assert_eq!(a.get("/api/users/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 1024).await;
    let http = reqwest::Client::new();
    let res = http
        .post(s.url("/api/auth/login"))
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let b: serde_json::Value = res.json().await.unwrap();
    assert!(
        b["error"]["message"].as_str().unwrap().contains("malformed JSON"),
        "{b}"
    );

    let res = http.post(s.url("/api/auth/login")).body("").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let big = json!({"username": "x", "password": "y".repeat(2000)}).to_string();
    let res = http.post(s.url("/api/auth/login")).body(big).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let b: serde_json::Value = res.json().await.unwrap();
    assert!(b["error"]["message"].as_str().unwrap().contains("1024 bytes"), "{b}");

    // Without a Content-Length (chunked), the limit still holds.
    let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b' '; 400])));
    let res = http
        .post(s.url("/api/auth/login"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Wrong types are a 400 that names the field.
    let res = http
        .post(s.url("/api/auth/login"))
        .json(&json!({"username": 5, "password": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let s = TestServer::start().await;
    let a = s.register("ivan").await;
    let (st, b) = a.get("/api/nothing-here").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["status"], 404);
    let (st, b) = a.send(a.http.put(s.url("/api/users/me"))).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["error"]["status"], 405);
    // Trailing slashes work as in the seed.
    assert_eq!(a.get("/api/users/").await.0, StatusCode::OK);
    assert_eq!(a.get("/api/users").await.0, StatusCode::OK);
}

#[tokio::test]
async fn users_list_search_and_lookup() {
    let s = TestServer::start().await;
    let a = s.register("judy").await;
    let b = s.register("julian").await;
    s.register("kate").await;
    let (st, all) = a.get("/api/users/").await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["judy", "julian", "kate"]);
    for u in all.as_array().unwrap() {
        for key in ["user_id", "username", "email", "name", "profile_picture"] {
            assert!(u.get(key).is_some(), "user has {key}: {u}");
        }
    }
    let (_, found) = a.get("/api/users/?q=jul").await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["user_id"], b.user_id.as_str());
    // LIKE wildcards in the query are taken literally.
    let (_, none) = a.get("/api/users/?q=%25").await;
    assert_eq!(none.as_array().unwrap().len(), 0);

    let (st, one) = a.get(&format!("/api/users/{}", b.user_id)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["username"], "julian");
    let (st, _) = a.get("/api/users/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = a.get("/api/users/not-a-uuid").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s.anonymous().get("/api/users/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn patch_me_updates_the_profile_and_password() {
    let s = TestServer::start().await;
    let a = s.register("leo").await;
    s.register("mia").await;
    let (st, me) = a
        .patch("/api/users/me", json!({"name": "Leo L", "bio": "hi", "email": "leo@example.com", "public_key": "KEY", "ready_to_chat": true}))
        .await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "Leo L");
    assert_eq!(me["email"], "leo@example.com");
    assert_eq!(me["public_key"], "KEY");
    assert_eq!(me["ready_to_chat"], true);
    // null clears; absent keeps.
    let (_, me) = a.patch("/api/users/me", json!({"public_key": null})).await;
    assert_eq!(me["public_key"], serde_json::Value::Null);
    assert_eq!(me["name"], "Leo L");

    let (st, b) = a.patch("/api/users/me", json!({"email": "bad"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (_, _) = s
        .register("nia")
        .await
        .patch("/api/users/me", json!({"email": "nia@example.com"}))
        .await;
    let (st, _) = a.patch("/api/users/me", json!({"email": "nia@example.com"})).await;
    assert_eq!(st, StatusCode::CONFLICT);

    let (st, b) = a.patch("/api/users/me", json!({"password": "newpassword"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (st, _) = a
        .patch(
            "/api/users/me",
            json!({"password": "newpassword", "old_password": "wrong"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = a
        .patch(
            "/api/users/me",
            json!({"password": "newpassword", "old_password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let anon = s.anonymous();
    assert_eq!(
        anon.post("/api/auth/login", json!({"username": "leo", "password": "password1"}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anon.post("/api/auth/login", json!({"username": "leo", "password": "newpassword"}))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_page_is_served_with_security_headers() {
    let s = TestServer::start().await;
    let res = reqwest::get(s.url("/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("referrer-policy"));
    let res = reqwest::get(s.url("/static/js/main.js")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let res = reqwest::get(s.url("/static/missing.js")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_session_cookie_works_but_not_from_another_site() {
    let s = TestServer::start().await;
    let a = s.register("olga").await;
    let http = reqwest::Client::new();
    let cookie = format!("natter_session={}", a.token());
    let res = http
        .get(s.url("/api/users/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let same = format!("http://{}", s.addr);
    let res = http
        .get(s.url("/api/users/me"))
        .header("cookie", &cookie)
        .header("origin", &same)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Another origin riding on the cookie is refused (CSRF).
    let res = http
        .post(s.url("/api/conversations"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .json(&json!({"name": "csrf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let b: serde_json::Value = res.json().await.unwrap();
    assert!(b["error"]["message"].as_str().unwrap().contains("cross-site"), "{b}");
    // A Bearer token is not a cookie: any origin may use it.
    let res = http
        .get(s.url("/api/users/me"))
        .bearer_auth(a.token())
        .header("origin", "http://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Nor may another site open a socket with the cookie (cross-site WebSocket hijacking).
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = s.ws_url("/api/ws").into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status().as_u16(), 403),
        other => panic!("expected a refused upgrade, got {:?}", other.map(|_| ())),
    }
    let mut req = s.ws_url("/api/ws").into_client_request().unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req.headers_mut().insert("origin", same.parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_ok(),
        "same-origin socket with the cookie"
    );
}

#[tokio::test]
async fn other_origins_may_use_bearer_tokens_cors() {
    let s = TestServer::start().await;
    let a = s.register("pia").await;
    let http = reqwest::Client::new();
    let res = http
        .request(reqwest::Method::OPTIONS, s.url("/messenger/api/chatrooms/"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let res = http
        .get(s.url("/api/users/me"))
        .bearer_auth(a.token())
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers().get("access-control-allow-credentials").is_none(),
        "never with credentials"
    );
}

#[tokio::test]
async fn a_refresh_raced_by_the_same_client_is_not_theft() {
    // Two tabs (or two requests) refresh with the same token at once.
    let s = TestServer::start().await;
    let a = s.register("quinn").await;
    let anon = s.anonymous();
    let body = json!({"refresh_token": a.refresh});
    let (r1, r2) = tokio::join!(
        anon.post("/api/auth/refresh", body.clone()),
        anon.post("/api/auth/refresh", body)
    );
    let mut statuses = [r1.0, r2.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{r1:?} {r2:?}");
    let (winner, loser) = if r1.0 == StatusCode::OK {
        (r1.1, r2.1)
    } else {
        (r2.1, r1.1)
    };
    assert!(
        loser["error"]["message"].as_str().unwrap().contains("a moment ago"),
        "{loser}"
    );
    // The session lives on: the winner's tokens work.
    let mut c = a.clone();
    c.token = Some(winner["access_token"].as_str().unwrap().to_owned());
    assert_eq!(c.get("/api/users/me").await.0, StatusCode::OK);
    let (st, _) = anon
        .post("/api/auth/refresh", json!({"refresh_token": winner["refresh_token"]}))
        .await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn nobody_can_take_over_another_users_login_name() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let (st, _) = anon
        .post(
            "/api/auth/register",
            json!({"username": "carol", "email": "carol@x.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    // Someone else's email is not available as a username, in any case…
    for name in ["carol@x.com", "Carol@X.com"] {
        let (st, b) = anon
            .post("/api/auth/register", json!({"username": name, "password": "password2"}))
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{name}: {b}");
    }
    // …nor a username as an email.
    let (st, b) = anon
        .post(
            "/api/auth/register",
            json!({"username": "dave", "email": "CAROL", "password": "password2"}),
        )
        .await;
    assert!(st == StatusCode::BAD_REQUEST || st == StatusCode::CONFLICT, "{b}");
    let (st, _) = anon
        .post(
            "/api/auth/register",
            json!({"username": "mal@x.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let mal = common::login(&s, "mal@x.com").await;
    let (st, _) = mal.patch("/api/users/me", json!({"email": "carol"})).await;
    assert_ne!(st, StatusCode::OK, "an email equal to someone's username is refused");
    // So carol's email logs carol in.
    let (st, b) = anon
        .post(
            "/api/auth/login",
            json!({"email": "carol@x.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["username"], "carol");
}

#[tokio::test]
async fn usernames_are_unique_without_regard_to_case_in_any_script() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    for (first, second) in [("Ёжик", "ёжик"), ("ÉCOLE", "école")] {
        let (st, _) = anon
            .post(
                "/api/auth/register",
                json!({"username": first, "password": "password1"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, b) = anon
            .post(
                "/api/auth/register",
                json!({"username": second, "password": "password1"}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{second}: {b}");
        let (st, b) = anon
            .post("/api/auth/login", json!({"username": second, "password": "password1"}))
            .await;
        assert_eq!(st, StatusCode::OK, "logging in as {second}: {b}");
        assert_eq!(b["username"], first);
    }
}
