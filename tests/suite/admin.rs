//! Running natter for others, through the real server: who may sign up
//! (open, by invitation, closed, and the default), invitations, the first
//! account as the admin, what admins may do and members may not, the
//! deactivation of an account, password reset links, and the audit log.

use crate::common;

use common::{Client, TestServer, Ws};
use natter::config::Registration;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sign `name` up through the native API with `invite`, as it answers.
async fn sign_up(s: &TestServer, name: &str, invite: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"username": name, "password": "password1"});
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    s.anonymous().post("/api/auth/register", body).await
}

async fn log_in(s: &TestServer, name: &str, password: &str) -> (StatusCode, Value) {
    s.anonymous()
        .post("/api/auth/login", json!({"username": name, "password": password}))
        .await
}

/// A client with the tokens of a sign-up answer.
fn client(s: &TestServer, name: &str, tokens: &Value) -> Client {
    let mut c = s.anonymous();
    c.token = Some(tokens["access_token"].as_str().unwrap().to_owned());
    c.refresh = tokens["refresh_token"].as_str().unwrap_or_default().to_owned();
    c.user_id = tokens["user_id"].as_str().unwrap().to_owned();
    c.username = name.to_owned();
    c
}

/// An invitation made by `by` (201), and its code.
async fn invite(by: &Client, body: Value) -> (String, String) {
    let (st, inv) = by.post("/api/invites", body).await;
    assert_eq!(st, StatusCode::CREATED, "{inv}");
    let code = inv["code"].as_str().unwrap().to_owned();
    assert_eq!(inv["url"], format!("/#/invite/{code}"));
    (inv["invite_id"].as_str().unwrap().to_owned(), code)
}

fn message(body: &Value) -> String {
    body.to_string()
}

#[tokio::test]
async fn by_default_the_first_account_is_the_admin_and_then_sign_up_needs_an_invitation() {
    let s = TestServer::start_with(|c| c.registration = None).await;
    let (_, info) = s.anonymous().get("/api/server").await;
    assert_eq!(info["registration"], "open", "{info}");

    let (st, body) = sign_up(&s, "alice", None).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let alice = client(&s, "alice", &body);
    let (st, overview) = alice.get("/api/admin/overview").await;
    assert_eq!(st, StatusCode::OK, "the first account is the admin: {overview}");
    assert_eq!(overview["users"], 1);
    assert_eq!(alice.get("/api/users/me").await.1["role"], "admin");
    let (_, info) = s.anonymous().get("/api/server").await;
    assert_eq!(info["registration"], "invite");
    assert_eq!(info["members_invite"], false);

    // Without an invitation, every dialect's sign-up refuses, in its shape.
    let (st, body) = sign_up(&s, "mallory", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("by invitation"), "{body}");
    let (st, body) = s
        .anonymous()
        .post("/auth/signup/", json!({"username": "mallory", "password": "password1"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "whisper: {body}");
    assert_eq!(body["status"], 403, "whisper's envelope: {body}");
    assert!(message(&body).contains("by invitation"), "{body}");
    let (st, body) = s
        .anonymous()
        .post(
            "/accounts/api/users/",
            json!({"username": "mallory", "email": "m@example.com", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "messenger: {body}");
    assert!(message(&body).contains("by invitation"), "{body}");
    let res = reqwest::Client::new()
        .post(s.url("/create_user"))
        .form(&[("username", "mallory"), ("password", "password1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "chatroom");
    assert!(res.text().await.unwrap().contains("by invitation"));
    let (_, users) = alice.get("/api/users").await;
    assert!(!users.to_string().contains("mallory"), "nobody was made: {users}");

    // An invitation for two: one sign-up through the native API, one
    // through whisper's, and a third is refused.
    let (_, code) = invite(&alice, json!({"max_uses": 2, "expires_in_days": 3})).await;
    let (st, body) = sign_up(&s, "bob", Some(&code)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let bob = client(&s, "bob", &body);
    let (st, body) = s
        .anonymous()
        .post(
            "/auth/signup/",
            json!({"username": "carol", "password": "password1", "invite": code}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "whisper with the invitation: {body}");
    let (st, body) = s
        .anonymous()
        .post(
            "/accounts/api/users/",
            json!({"username": "dave", "email": "d@example.com", "password": "password1", "invite": code}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("used up"), "{body}");
    let (_, invites) = alice.get("/api/invites").await;
    assert_eq!(invites[0]["uses"], 2, "{invites}");
    assert_eq!(invites[0]["usable"], false);
    assert!(invites[0].get("code").is_none(), "a code is shown once: {invites}");

    // Later accounts are members: no admin endpoint, no invitations.
    assert_eq!(bob.get("/api/users/me").await.1["role"], "member");
    for path in [
        "/api/admin/users",
        "/api/admin/overview",
        "/api/admin/audit",
        "/api/admin/backup",
    ] {
        let (st, body) = bob.get(path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(s.anonymous().get(path).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (st, body) = bob.post("/api/invites", json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("only an admin may invite"), "{body}");
}

#[tokio::test]
async fn open_invite_and_closed_say_who_may_sign_up() {
    let open = TestServer::start_with(|c| c.registration = Some(Registration::Open)).await;
    for name in ["ann", "ben", "cat"] {
        assert_eq!(sign_up(&open, name, None).await.0, StatusCode::CREATED, "{name}");
    }
    assert_eq!(open.anonymous().get("/api/server").await.1["registration"], "open");

    // `invite`: the first account still comes in (someone must invite).
    let inv = TestServer::start_with(|c| c.registration = Some(Registration::Invite)).await;
    let (st, body) = sign_up(&inv, "root", None).await;
    assert_eq!(st, StatusCode::CREATED);
    let root = client(&inv, "root", &body);
    assert_eq!(sign_up(&inv, "eve", None).await.0, StatusCode::FORBIDDEN);
    let (_, code) = invite(&root, json!({})).await;
    assert_eq!(sign_up(&inv, "eve", Some(&code)).await.0, StatusCode::CREATED);
    let (st, body) = sign_up(&inv, "fay", Some("not-a-code")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("not valid"), "{body}");

    // `closed`: nobody signs up, not even the first; accounts come from
    // `natter admin create` (tested in tests/cli.rs).
    let closed = TestServer::start_with(|c| c.registration = Some(Registration::Closed)).await;
    let (st, body) = sign_up(&closed, "first", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("closed"), "{body}");
    assert_eq!(closed.anonymous().get("/api/server").await.1["registration"], "closed");
}

#[tokio::test]
async fn invitations_expire_can_be_withdrawn_and_members_may_invite_when_allowed() {
    let s = TestServer::start_with(|c| {
        c.registration = Some(Registration::Invite);
        c.members_invite = true;
    })
    .await;
    let alice = s.register("alice").await;
    let (first, code) = invite(&alice, json!({"expires_in_days": 1})).await;
    let (st, body) = sign_up(&s, "bob", Some(&code)).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let bob = client(&s, "bob", &body);

    // Expired: the clock is moved by writing the expiry into the past.
    // (`first` is a UUID the server made: no quoting to worry about.)
    assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
    let expired: Option<String> = common::db_query(
        &s.config,
        &format!("UPDATE invites SET expires_at = 1 WHERE id = '{first}' RETURNING id"),
    );
    assert_eq!(expired.as_deref(), Some(first.as_str()));
    let (st, body) = sign_up(&s, "carol", Some(&code)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("expired"), "{body}");

    // A member's own invitation: they see and withdraw only theirs.
    let (mine, code) = invite(&bob, json!({"max_uses": 5})).await;
    let (_, list) = bob.get("/api/invites").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["created_by"], "bob");
    let (_, list) = alice.get("/api/invites").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "an admin sees all: {list}");
    assert_eq!(
        bob.delete(&format!("/api/invites/{first}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.delete(&format!("/api/invites/{mine}")).await.0,
        StatusCode::NO_CONTENT
    );
    let (st, body) = sign_up(&s, "carol", Some(&code)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("withdrawn"), "{body}");

    // Bad numbers get a clear error.
    for bad in [
        json!({"max_uses": 0}),
        json!({"expires_in_days": 0}),
        json!({"expires_in_days": 400}),
    ] {
        let (st, body) = alice.post("/api/invites", bad.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn admins_change_roles_but_never_lose_the_last_admin() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    s.register("bobby").await;

    let (st, users) = alice.get("/api/admin/users?q=bob").await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<_> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, [json!("bob"), json!("bobby")], "{users}");
    assert_eq!(users[0]["role"], "member");
    assert!(!users.to_string().contains("argon2"), "no hash: {users}");

    // Alone, alice can neither step down nor deactivate herself.
    let (st, body) = alice
        .patch(
            &format!("/api/admin/users/{}", alice.user_id),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("last admin"), "{body}");
    let (st, body) = alice
        .patch(
            &format!("/api/admin/users/{}", alice.user_id),
            json!({"deactivated": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (st, body) = alice
        .patch(&format!("/api/admin/users/{}", bob.user_id), json!({"role": "owner"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");

    // Bob made an admin may do admin things; then alice may step down.
    let (st, body) = alice
        .patch(&format!("/api/admin/users/{}", bob.user_id), json!({"role": "admin"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "admin");
    assert_eq!(bob.get("/api/admin/overview").await.0, StatusCode::OK);
    let (st, _) = alice
        .patch(
            &format!("/api/admin/users/{}", alice.user_id),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(alice.get("/api/admin/overview").await.0, StatusCode::FORBIDDEN);
    let (st, _) = bob
        .patch(&format!("/api/admin/users/{}", bob.user_id), json!({"role": "member"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "bob is now the last admin");
    assert_eq!(
        bob.patch("/api/admin/users/not-a-uuid", json!({"role": "member"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_deactivated_account_is_out_at_once_and_its_messages_stay() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("team").await;
    assert_eq!(
        bob.post(&format!("/api/rooms/{room}/join"), json!({})).await.0,
        StatusCode::OK
    );
    bob.say(&room, "still here after I go").await;
    let mut socket = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;
    socket.send(json!({"action": "ping"})).await;
    assert_eq!(socket.next().await["action"], "pong");

    let (st, body) = alice
        .patch(
            &format!("/api/admin/users/{}", bob.user_id),
            json!({"deactivated": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["deactivated"], true);
    let (code, reason) = socket.closed().await.expect("bob's socket is closed");
    assert_eq!(code, 1008, "{reason}");
    assert_eq!(bob.get("/api/users/me").await.0, StatusCode::UNAUTHORIZED);
    let anon = s.anonymous();
    assert_eq!(
        anon.post("/api/auth/refresh", json!({"refresh_token": bob.refresh}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (st, body) = log_in(&s, "bob", "password1").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("deactivated"), "{body}");
    // A wrong password says nothing about the account's state.
    assert_eq!(log_in(&s, "bob", "wrong-password").await.0, StatusCode::UNAUTHORIZED);
    let texts: Vec<_> = alice
        .history(&room)
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert!(texts.contains(&json!("still here after I go")), "{texts:?}");

    let (st, _) = alice
        .patch(
            &format!("/api/admin/users/{}", bob.user_id),
            json!({"deactivated": false}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(log_in(&s, "bob", "password1").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_the_old_sessions() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (st, link) = bob
        .post(&format!("/api/admin/users/{}/reset-link", alice.user_id), json!({}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "a member cannot: {link}");
    let (st, link) = alice
        .post(&format!("/api/admin/users/{}/reset-link", bob.user_id), json!({}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{link}");
    let token = link["token"].as_str().unwrap();
    assert_eq!(link["url"], format!("/#/reset/{token}"));
    // Until the link is used the old password still works.
    assert_eq!(log_in(&s, "bob", "password1").await.0, StatusCode::OK);

    let anon = s.anonymous();
    let (st, body) = anon
        .post("/api/auth/reset", json!({"token": token, "password": "short"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = anon
        .post("/api/auth/reset", json!({"token": token, "password": "a new secret"}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        bob.get("/api/users/me").await.0,
        StatusCode::UNAUTHORIZED,
        "old sessions end"
    );
    assert_eq!(log_in(&s, "bob", "password1").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(log_in(&s, "bob", "a new secret").await.0, StatusCode::OK);
    let (st, body) = anon
        .post("/api/auth/reset", json!({"token": token, "password": "another one"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("used already"), "{body}");
    let (st, _) = anon
        .post(
            "/api/auth/reset",
            json!({"token": "made-up", "password": "another one"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admins_moderate_any_message_and_room_and_every_action_is_audited() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let room = bob.room("bobs-room").await;
    assert_eq!(
        carol.post(&format!("/api/rooms/{room}/join"), json!({})).await.0,
        StatusCode::OK
    );
    let said = bob.say(&room, "something rude").await;
    let id = said["message_id"].as_i64().unwrap();
    let mut watching = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", carol.token()))).await;

    // A member cannot; an admin who is not in the room can.
    assert_eq!(
        carol.delete(&format!("/api/admin/messages/{id}")).await.0,
        StatusCode::FORBIDDEN
    );
    let (st, body) = alice.delete(&format!("/api/admin/messages/{id}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let event = watching.next_action("message_deleted").await;
    assert_eq!(event["message"]["message_id"], id, "{event}");
    assert!(
        bob.history(&room)
            .await
            .iter()
            .all(|m| m["message"] != "something rude"),
        "gone from history"
    );
    assert_eq!(
        alice.delete("/api/admin/messages/999999").await.0,
        StatusCode::NOT_FOUND
    );

    let direct = bob.direct(&carol).await;
    assert_eq!(
        alice.delete(&format!("/api/admin/conversations/{direct}")).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        carol.delete(&format!("/api/admin/conversations/{room}")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        alice.delete(&format!("/api/admin/conversations/{room}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        bob.get(&format!("/api/conversations/{room}")).await.0,
        StatusCode::NOT_FOUND
    );

    let (_, code) = invite(&alice, json!({"max_uses": 1})).await;
    let (_, link) = alice
        .post(&format!("/api/admin/users/{}/reset-link", carol.user_id), json!({}))
        .await;
    let token = link["token"].as_str().unwrap().to_owned();
    alice
        .patch(
            &format!("/api/admin/users/{}", carol.user_id),
            json!({"deactivated": true}),
        )
        .await;

    let (st, audit) = alice.get("/api/admin/audit").await;
    assert_eq!(st, StatusCode::OK);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.deactivate",
            "user.reset_link",
            "invite.create",
            "room.delete",
            "message.delete"
        ],
        "newest first: {audit}"
    );
    assert!(
        audit.as_array().unwrap().iter().all(|e| e["actor"] == "alice"),
        "{audit}"
    );
    assert_eq!(audit[0]["target"], "carol");
    assert_eq!(audit[3]["target"], "bobs-room");
    for secret in [&code, &token] {
        assert!(
            !audit.to_string().contains(secret.as_str()),
            "no secret in the audit log: {audit}"
        );
    }

    let (_, overview) = alice.get("/api/admin/overview").await;
    assert_eq!(overview["users"], 3, "{overview}");
    assert_eq!(overview["messages"], 0, "{overview}");
    assert!(overview["database_bytes"].as_u64().unwrap() > 0);
}
