//! The whisper dialect (seed 000), through the real server.

use crate::common;

use common::{TestServer, Ws, post_form};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn signup(s: &TestServer, name: &str, key: Option<&str>) -> String {
    let mut body = json!({"username": name, "password": "password1"});
    if let Some(k) = key {
        body["public_key"] = json!(k);
    }
    let (st, b) = s.anonymous().post("/auth/signup/", body).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    b["id"].as_str().unwrap().to_owned()
}

async fn token(s: &TestServer, name: &str) -> common::Client {
    let mut c = s.anonymous();
    let (st, b) = c
        .post("/auth/login/", json!({"username": name, "password": "password1"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    c.token = Some(b["access_token"].as_str().unwrap().to_owned());
    c
}

fn assert_error(b: &Value, status: u16) {
    assert_eq!(b["status"], status, "{b}");
    let m = b["messages"].as_array().expect("messages array");
    assert!(m[0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
}

#[tokio::test]
async fn signup_json_and_form_with_and_without_slash() {
    let s = TestServer::start().await;
    let anon = s.anonymous();
    let (st, b) = anon
        .post(
            "/auth/signup/",
            json!({"username": "Al-Areef", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(b["status"], 201);
    assert!(uuid::Uuid::parse_str(b["id"].as_str().unwrap()).is_ok(), "{b}");
    let (st, b) = post_form(
        &anon,
        "/auth/signup",
        &[("username", "bea"), ("password", "password1"), ("public_key", "PK-B")],
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");

    // Duplicates and bad input: 400 in the seed's error shape.
    let (st, b) = anon
        .post(
            "/auth/signup/",
            json!({"username": "al-areef", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&b, 400);
    assert!(b["messages"][0]["message"].as_str().unwrap().contains("taken"));
    for body in [
        json!({"username": "x"}),
        json!({"password": "password1"}),
        json!({"username": "a b", "password": "password1"}),
    ] {
        let (st, b) = anon.post("/auth/signup/", body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert_error(&b, 400);
    }
    let (st, b) = anon
        .send(
            anon.http
                .post(s.url("/auth/signup/"))
                .header("content-type", "application/json")
                .body("{oops"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&b, 400);
}

#[tokio::test]
async fn login_and_profile() {
    let s = TestServer::start().await;
    signup(&s, "Al-Areef", Some("public_key_value")).await;
    let anon = s.anonymous();
    let (st, b) = post_form(
        &anon,
        "/auth/login/",
        &[("username", "Al-Areef"), ("password", "password1")],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], 200);
    let t = b["access_token"].as_str().unwrap().to_owned();
    let (st, b) = anon
        .post("/auth/login", json!({"username": "Al-Areef", "password": "nope-nope"}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&b, 401);
    let (st, b) = anon.post("/auth/login/", json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&b, 401);

    let mut c = anon.clone();
    c.token = Some(t);
    let (st, b) = c.get("/profile/").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        b,
        json!({"status": 200, "data": {"username": "Al-Areef", "public_key": "public_key_value", "ready_to_chat": false}})
    );
    let (st, b) = anon.get("/profile").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&b, 401);

    // Setting the key (an extension): PUT or PATCH, JSON or form.
    let (st, b) = c
        .send(c.http.put(s.url("/profile/")).json(&json!({"public_key": "new-key"})))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["public_key"], "new-key");
    let (st, b) = c
        .send(c.http.patch(s.url("/profile/")).form(&[("public_key", "form-key")]))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["public_key"], "form-key");
    let (st, b) = c.patch("/profile/", json!({})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&b, 400);
    let (st, b) = c.send(c.http.delete(s.url("/profile/"))).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&b, 405);
}

#[tokio::test]
async fn ready_to_chat_accepts_the_seed_forms_and_refuses_others() {
    let s = TestServer::start().await;
    signup(&s, "carl", Some("k")).await;
    let c = token(&s, "carl").await;
    let ok = json!({"status": 200, "message": "Ready to chat status updated."});
    let (st, b) = c.post("/ready-to-chat/", json!({"Option": true})).await;
    assert_eq!((st, &b), (StatusCode::OK, &ok));
    assert_eq!(c.get("/profile/").await.1["data"]["ready_to_chat"], true);
    let (st, b) = post_form(&c, "/ready-to-chat", &[("Option", "false")]).await;
    assert_eq!((st, &b), (StatusCode::OK, &ok));
    assert_eq!(c.get("/profile/").await.1["data"]["ready_to_chat"], false);
    let (st, _) = c.post("/ready-to-chat/", json!({"option": "TRUE"})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(c.get("/profile/").await.1["data"]["ready_to_chat"], true);
    for bad in [
        json!({"Option": "yes"}),
        json!({"Option": 1}),
        json!({}),
        json!({"Option": null}),
    ] {
        let (st, b) = c.post("/ready-to-chat/", bad.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
        assert_error(&b, 400);
    }
    assert_eq!(
        c.get("/profile/").await.1["data"]["ready_to_chat"],
        true,
        "bad requests changed nothing"
    );
    let (st, _) = s.anonymous().post("/ready-to-chat/", json!({"Option": true})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn online_users_are_the_ready_and_active_others() {
    let s = TestServer::start().await;
    for (name, key) in [
        ("ann", "KEY-ANN"),
        ("ben", "KEY-BEN"),
        ("cat", "KEY-CAT"),
        ("eve", "KEY-EVE"),
    ] {
        signup(&s, name, Some(key)).await;
    }
    // Whisper sign-up always gives a key; an account made elsewhere has none.
    s.register("dan").await;
    for name in ["ann", "ben", "dan", "eve"] {
        let c = token(&s, name).await;
        assert_eq!(
            c.post("/ready-to-chat/", json!({"Option": true})).await.0,
            StatusCode::OK
        );
    }
    let ann = token(&s, "ann").await;
    let (st, b) = ann.get("/online-users/").await;
    assert_eq!(st, StatusCode::OK);
    // Not ann herself, not cat (not ready), not dan (no key).
    let mut keys: Vec<String> = serde_json::from_value(b["public_keys"].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["KEY-BEN", "KEY-EVE"]);
    assert_eq!(b["status"], 200);

    // After a restart nobody has been seen yet; eve's socket makes her online.
    let eve = token(&s, "eve").await;
    let (dir, config) = s.stop().await;
    let s = TestServer::start_in(dir, config).await;
    let mut ann = ann.clone();
    ann.base = s.base.clone();
    assert_eq!(ann.get("/online-users/").await.1["public_keys"], json!([]));
    let _socket = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", eve.token()))).await;
    assert_eq!(ann.get("/online-users/").await.1["public_keys"], json!(["KEY-EVE"]));
    // Logging in counts as being active too.
    token(&s, "ben").await;
    let mut keys: Vec<String> =
        serde_json::from_value(ann.get("/online-users/").await.1["public_keys"].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["KEY-BEN", "KEY-EVE"]);
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let s = TestServer::start().await;
    signup(&s, "fay", Some("k")).await;
    let c = token(&s, "fay").await;
    assert_eq!(c.get("/profile/").await.0, StatusCode::OK);
    assert_eq!(c.post("/api/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    let (st, b) = c.get("/profile/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&b, 401);
    assert_eq!(c.get("/online-users/").await.0, StatusCode::UNAUTHORIZED);
    let (st, b) = c.get("/auth/unknown/").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_error(&b, 404);
}
