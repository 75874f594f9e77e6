//! Who may call what: every route and socket of every dialect that needs a
//! login, called as six kinds of caller, against the status each must get.
//!
//! | caller | what they hold | expected |
//! | --- | --- | --- |
//! | anonymous | nothing | 401 |
//! | forged | a token signed with the wrong secret | 401 |
//! | expired | a token signed with the real secret, `exp` in the past | 401 |
//! | revoked | a token of a session that logged out | 401 |
//! | non-member | a valid token of someone the resource is not theirs (an admin route: a member) | the row's (403/404, or 2xx where the route has no owner) |
//! | member | a valid token of the resource's owner (an admin route: the admin) | the row's 2xx (101 for a socket) |
//!
//! The rows come from each dialect's `ROUTES`; a route with no row (and not
//! listed as open to anyone) fails the test, so a new route cannot skip it.

use crate::common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use common::shapes::{Dialect, error_shape, message};
use common::{Client, TestServer, Ws, login, tokens};
use reqwest::StatusCode;
use serde_json::{Value, json};

use Dialect::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    Anonymous,
    Forged,
    Expired,
    Revoked,
    NonMember,
    Member,
}

/// In this order: a member's call may change things (delete, leave), so it
/// comes last.
const CREDS: [Cred; 6] = [
    Cred::Anonymous,
    Cred::Forged,
    Cred::Expired,
    Cred::Revoked,
    Cred::NonMember,
    Cred::Member,
];

#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    Form(&'static [(&'static str, &'static str)]),
    /// Raw bytes, as a file upload sends them.
    Raw(&'static str),
}

#[derive(Debug, Clone)]
struct Row {
    dialect: Dialect,
    method: &'static str,
    /// The route as its dialect's `ROUTES` names it.
    route: &'static str,
    /// The path called, with placeholders (see `Fixture::fill`).
    path: &'static str,
    body: Body,
    socket: bool,
    /// An admin route: the member is the admin, the non-member a member.
    admin: bool,
    /// A call the same caller makes first (the chatroom's current room).
    before: Option<(&'static str, Body)>,
    non_member: &'static [u16],
    member: &'static [u16],
}

/// A row for a route open to every signed-in user: the non-member gets
/// what the member gets.
fn any(dialect: Dialect, method: &'static str, route: &'static str, ok: &'static [u16]) -> Row {
    Row {
        dialect,
        method,
        route,
        path: route,
        body: Body::None,
        socket: false,
        admin: false,
        before: None,
        non_member: ok,
        member: ok,
    }
}

/// A row for a route whose resource belongs to someone: the non-member gets `refused`.
fn owned(
    dialect: Dialect,
    method: &'static str,
    route: &'static str,
    refused: &'static [u16],
    ok: &'static [u16],
) -> Row {
    Row {
        non_member: refused,
        ..any(dialect, method, route, ok)
    }
}

fn admin(method: &'static str, route: &'static str, ok: &'static [u16]) -> Row {
    Row {
        admin: true,
        ..owned(Native, method, route, &[403], ok)
    }
}

impl Row {
    fn at(mut self, path: &'static str) -> Row {
        self.path = path;
        self
    }
    fn json(mut self, body: &'static str) -> Row {
        self.body = Body::Json(body);
        self
    }
    fn form(mut self, body: &'static [(&'static str, &'static str)]) -> Row {
        self.body = Body::Form(body);
        self
    }
    fn raw(mut self, body: &'static str) -> Row {
        self.body = Body::Raw(body);
        self
    }
    fn socket(mut self) -> Row {
        self.socket = true;
        self
    }
    fn after(mut self, path: &'static str, body: Body) -> Row {
        self.before = Some((path, body));
        self
    }
}

/// Every route that needs a login. Placeholders: `{room}`/`{room_name}`
/// (a room of the member's), `{direct}`/`{direct_name}` (the member's
/// direct conversation with bob), `{message}` (the member's message in
/// the room), `{file}` (the member's upload), `{bob}`/`{bob_name}`,
/// `{invite}` (the admin's), `{push}` (the member's push subscription's
/// endpoint, query-encoded), `{me_uid}` (the caller's user number),
/// `{nonce}` (fresh each call).
fn table() -> Vec<Row> {
    const OK: &[u16] = &[200];
    const CREATED: &[u16] = &[201];
    const GONE: &[u16] = &[204];
    const SOCKET: &[u16] = &[101];
    vec![
        // ----- native -----
        any(Native, "POST", "/api/auth/logout", GONE),
        any(Native, "GET", "/api/users", OK),
        any(Native, "GET", "/api/users/me", OK),
        any(Native, "PATCH", "/api/users/me", OK).json(r#"{"bio": "hi"}"#),
        any(Native, "GET", "/api/users/me/export", OK),
        any(Native, "GET", "/api/users/{id}", OK).at("/api/users/{bob}"),
        any(Native, "GET", "/api/conversations", OK),
        any(Native, "POST", "/api/conversations", CREATED).json(r#"{"name": "new {nonce}"}"#),
        // Members only: 403 for a room (it is public, so it may be named),
        // 404 for a direct conversation (its existence is not told).
        owned(Native, "GET", "/api/conversations/{id}", &[403], OK).at("/api/conversations/{room}"),
        owned(Native, "GET", "/api/conversations/{id}", &[404], OK).at("/api/conversations/{direct}"),
        // "Jump to this message": the same rule for the page around one.
        owned(Native, "GET", "/api/conversations/{id}", &[403], OK).at("/api/conversations/{room}?around={message}"),
        owned(Native, "POST", "/api/conversations/{id}/read", &[403], OK)
            .at("/api/conversations/{room}/read")
            .json(r#"{"message_id": 0}"#),
        owned(Native, "POST", "/api/conversations/{id}/read", &[404], OK)
            .at("/api/conversations/{direct}/read")
            .json(r#"{"message_id": 0}"#),
        owned(Native, "PUT", "/api/conversations/{id}/notify", &[403], OK)
            .at("/api/conversations/{room}/notify")
            .json(r#"{"level": "mentions"}"#),
        owned(Native, "PUT", "/api/conversations/{id}/notify", &[404], OK)
            .at("/api/conversations/{direct}/notify")
            .json(r#"{"level": "nothing"}"#),
        owned(Native, "DELETE", "/api/conversations/{id}/members/me", &[403], GONE)
            .at("/api/conversations/{room}/members/me"),
        owned(Native, "PATCH", "/api/conversations/{id}", &[403], OK)
            .at("/api/conversations/{room}")
            .json(r#"{"name": "renamed {nonce}"}"#),
        owned(Native, "DELETE", "/api/conversations/{id}", &[403], GONE).at("/api/conversations/{room}"),
        any(Native, "GET", "/api/rooms", OK),
        // Rooms are public: anyone may join one; a direct conversation is not a room.
        any(Native, "POST", "/api/rooms/{id}/join", OK).at("/api/rooms/{room}/join"),
        owned(Native, "POST", "/api/rooms/{id}/join", &[404], &[404]).at("/api/rooms/{direct}/join"),
        owned(Native, "POST", "/api/messages", &[403], OK).json(r#"{"conversation_id": "{room}", "message": "hi"}"#),
        owned(Native, "POST", "/api/messages", &[404], OK).json(r#"{"conversation_id": "{direct}", "message": "hi"}"#),
        owned(Native, "PATCH", "/api/messages/{id}", &[404], OK)
            .at("/api/messages/{message}")
            .json(r#"{"message": "edited"}"#),
        // Reactions: members only; to anyone else the message does not exist.
        owned(Native, "POST", "/api/messages/{id}/reactions", &[404], OK)
            .at("/api/messages/{message}/reactions")
            .json(r#"{"emoji": "+1"}"#),
        owned(Native, "DELETE", "/api/messages/{id}/reactions", &[404], OK)
            .at("/api/messages/{message}/reactions?emoji=%2B1"),
        owned(Native, "DELETE", "/api/messages/{id}", &[404], GONE).at("/api/messages/{message}"),
        // Anyone's own mentions (of conversations they are in).
        any(Native, "GET", "/api/mentions", OK),
        // Search answers anyone signed in (with their own conversations
        // only); naming a conversation they are not in is refused.
        any(Native, "GET", "/api/search", OK).at("/api/search?q=room"),
        owned(Native, "GET", "/api/search", &[403], OK).at("/api/search?q=room&conversation_id={room}"),
        owned(Native, "GET", "/api/search", &[404], OK).at("/api/search?q=hi&conversation_id={direct}"),
        any(Native, "POST", "/api/files", CREATED)
            .at("/api/files?name=n.txt")
            .raw("some bytes"),
        owned(Native, "GET", "/api/files/{id}", &[404], OK).at("/api/files/{file}"),
        any(Native, "GET", "/api/ws", SOCKET).socket(),
        owned(Native, "GET", "/api/conversations/{id}/connect", &[403], SOCKET)
            .at("/api/conversations/{room}/connect")
            .socket(),
        owned(Native, "GET", "/api/conversations/{id}/connect", &[404], SOCKET)
            .at("/api/conversations/{direct}/connect")
            .socket(),
        owned(Native, "POST", "/api/conversations/{id}/connect", &[403], OK).at("/api/conversations/{room}/connect"),
        owned(Native, "POST", "/api/conversations/{id}/connect", &[404], OK).at("/api/conversations/{direct}/connect"),
        // A file backup; on PostgreSQL that is pg_dump's job (501).
        admin("GET", "/api/admin/backup", if common::on_postgres() { &[501] } else { OK }),
        admin("GET", "/api/admin/users", OK),
        admin("PATCH", "/api/admin/users/{id}", OK)
            .at("/api/admin/users/{bob}")
            .json(r#"{"role": "member"}"#),
        admin("POST", "/api/admin/users/{id}/reset-link", CREATED).at("/api/admin/users/{bob}/reset-link"),
        admin("DELETE", "/api/admin/messages/{id}", GONE).at("/api/admin/messages/{message}"),
        admin("DELETE", "/api/admin/conversations/{id}", GONE).at("/api/admin/conversations/{room}"),
        admin("GET", "/api/admin/audit", OK),
        admin("GET", "/api/admin/overview", OK),
        // Invitations: an admin's (members may not invite on this server);
        // a member lists their own (none); another's cannot be withdrawn.
        admin("POST", "/api/invites", CREATED).json("{}"),
        Row {
            non_member: OK,
            ..admin("GET", "/api/invites", OK)
        },
        Row {
            non_member: &[404],
            ..admin("DELETE", "/api/invites/{id}", GONE).at("/api/invites/{invite}")
        },
        // Web Push: the key and one's own subscriptions; another's
        // subscription is not found.
        any(Native, "GET", "/api/push/key", OK),
        any(Native, "POST", "/api/push/subscriptions", CREATED).json(
            r#"{"endpoint": "https://push.example.com/s/{nonce}", "keys": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4", "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}"#,
        ),
        owned(Native, "DELETE", "/api/push/subscriptions", &[404], GONE).at("/api/push/subscriptions?endpoint={push}"),
        // ----- whisper -----
        any(Whisper, "GET", "/profile/", OK),
        any(Whisper, "PUT", "/profile/", OK).json(r#"{"public_key": "PK-{nonce}"}"#),
        any(Whisper, "PATCH", "/profile/", OK).json(r#"{"public_key": "PK-{nonce}"}"#),
        any(Whisper, "POST", "/ready-to-chat/", OK).json(r#"{"Option": true}"#),
        any(Whisper, "GET", "/online-users/", OK),
        // ----- chatroom -----
        any(Chatroom, "GET", "/logout", OK),
        any(Chatroom, "POST", "/logout", OK),
        any(Chatroom, "GET", "/get_users", OK),
        any(Chatroom, "POST", "/create_room", OK).form(&[("room", "made {nonce}")]),
        any(Chatroom, "GET", "/get_rooms", OK),
        // A room is public (joining is the point); a direct conversation
        // by its name only for its two members.
        any(Chatroom, "POST", "/join_room", OK).form(&[("room", "{room_name}")]),
        owned(Chatroom, "POST", "/join_room", &[404], OK).form(&[("room", "{direct_name}")]),
        // Sends go to the current room: a non-member never got one.
        owned(Chatroom, "POST", "/send_message", &[400], OK)
            .form(&[("message", "hello")])
            .after("/join_room", Body::Form(&[("room", "{direct_name}")])),
        owned(Chatroom, "POST", "/list_message", &[404], OK).form(&[("room", "{direct_name}")]),
        owned(Chatroom, "GET", "/list_message", &[404], OK).at("/list_message?room={direct_name}"),
        owned(Chatroom, "GET", "/ws/chat/{room_name}/{user_id}", &[404], SOCKET)
            .at("/ws/chat/{direct_name}/{me_uid}")
            .socket(),
        // ----- threads -----
        // The caller's own thread with bob: there is no one else's to ask for.
        any(Threads, "GET", "/chat/messages/{user_uuid}/", OK).at("/chat/messages/{bob}/"),
        any(Threads, "GET", "/chat/get-user-threads/", OK),
        any(Threads, "GET", "/auth/users/", OK),
        any(Threads, "POST", "/auth/users/", OK),
        any(Threads, "GET", "/ws/chat/room/", SOCKET).socket(),
        any(Threads, "GET", "/chat/room/ws/", SOCKET).socket(),
        // ----- messenger -----
        any(Messenger, "GET", "/accounts/api/users/", OK),
        any(Messenger, "GET", "/profiles/api/profile/", OK),
        any(Messenger, "GET", "/profiles/api/posts/", OK),
        any(Messenger, "POST", "/profiles/api/posts/", CREATED).json(r#"{"title": "t", "content": "c"}"#),
        any(Messenger, "GET", "/profiles/api/search-user/", OK).at("/profiles/api/search-user/?username={bob_name}"),
        any(Messenger, "POST", "/profiles/api/add-friend/", OK).json(r#"{"username": "{bob_name}"}"#),
        any(Messenger, "POST", "/profiles/api/remove-friend/", OK).json(r#"{"username": "{bob_name}"}"#),
        any(Messenger, "GET", "/messenger/api/chatrooms/", OK),
        // The member's pair exists (200); the non-member's is made (201).
        Row {
            non_member: CREATED,
            ..any(Messenger, "POST", "/messenger/api/chatrooms/", OK).json(r#"{"recipient": "{bob_name}"}"#)
        },
        any(Messenger, "GET", "/messenger/api/user/chatrooms/", OK),
        owned(
            Messenger,
            "GET",
            "/messenger/api/chatrooms/{room_name}/messages/",
            &[404],
            OK,
        )
        .at("/messenger/api/chatrooms/{direct_name}/messages/"),
        owned(
            Messenger,
            "GET",
            "/messenger/api/chatrooms/{room_name}/messages/",
            &[403],
            OK,
        )
        .at("/messenger/api/chatrooms/{room_name}/messages/"),
        owned(
            Messenger,
            "POST",
            "/messenger/api/chatrooms/{room_name}/messages/",
            &[404],
            CREATED,
        )
        .at("/messenger/api/chatrooms/{direct_name}/messages/")
        .json(r#"{"content": "hi"}"#),
        owned(
            Messenger,
            "POST",
            "/messenger/api/chatrooms/{room_name}/messages/",
            &[403],
            CREATED,
        )
        .at("/messenger/api/chatrooms/{room_name}/messages/")
        .json(r#"{"content": "hi"}"#),
        owned(Messenger, "GET", "/messenger/ws/ws/chat/{room_name}/", &[404], SOCKET)
            .at("/messenger/ws/ws/chat/{direct_name}/")
            .socket(),
        owned(Messenger, "GET", "/messenger/ws/ws/chat/{room_name}/", &[403], SOCKET)
            .at("/messenger/ws/ws/chat/{room_name}/")
            .socket(),
        owned(Messenger, "GET", "/ws/chat/{room_name}/", &[404], SOCKET)
            .at("/ws/chat/{direct_name}/")
            .socket(),
    ]
}

/// Routes anyone may call (signing up, logging in, what the server is).
const OPEN: &[(Dialect, &str, &str)] = &[
    (Native, "POST", "/api/auth/register"),
    (Native, "POST", "/api/auth/login"),
    (Native, "POST", "/api/auth/refresh"),
    (Native, "POST", "/api/auth/reset"),
    (Native, "GET", "/api/health"),
    (Native, "GET", "/api/server"),
    (Native, "GET", "/api/openapi.json"),
    (Whisper, "POST", "/auth/signup/"),
    (Whisper, "POST", "/auth/login/"),
    (Whisper, "POST", "/find-user/"),
    (Chatroom, "POST", "/login"),
    (Chatroom, "POST", "/create_user"),
    (Messenger, "POST", "/accounts/api/users/"),
    (Messenger, "POST", "/accounts/api/token/"),
    (Messenger, "POST", "/accounts/api/token/refresh/"),
];

fn routes_of(d: Dialect) -> &'static [(&'static str, &'static str)] {
    use natter::dialects::*;
    match d {
        Native => native::openapi::ROUTES,
        Whisper => whisper::ROUTES,
        Chatroom => chatroom::ROUTES,
        Threads => threads::ROUTES,
        Messenger => messenger::ROUTES,
    }
}

#[test]
fn every_route_that_needs_a_login_has_a_row() {
    let mut listed = BTreeSet::new();
    for d in [Native, Whisper, Chatroom, Threads, Messenger] {
        for (method, route) in routes_of(d) {
            assert!(
                listed.insert((format!("{d:?}"), *method, *route)),
                "{d:?} lists {method} {route} twice"
            );
        }
    }
    let open: BTreeSet<_> = OPEN.iter().map(|(d, m, r)| (format!("{d:?}"), *m, *r)).collect();
    let rows: BTreeSet<_> = table()
        .iter()
        .map(|r| (format!("{:?}", r.dialect), r.method, r.route))
        .collect();
    let covered: BTreeSet<_> = open.union(&rows).cloned().collect();
    let missing: Vec<_> = listed.difference(&covered).collect();
    assert!(missing.is_empty(), "routes with no row in the auth matrix: {missing:?}");
    let stale: Vec<_> = covered.difference(&listed).collect();
    assert!(stale.is_empty(), "rows for routes no dialect lists: {stale:?}");
    let both: Vec<_> = open.intersection(&rows).collect();
    assert!(both.is_empty(), "open routes with auth rows: {both:?}");
}

/// What each row's calls act on, made fresh for the row.
struct Fixture {
    room: String,
    room_name: String,
    direct: String,
    direct_name: String,
    message: i64,
    file: String,
    bob: String,
    bob_name: String,
    invite: String,
    push: String,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

impl Fixture {
    async fn make(alice: &Client, bob: &Client, root: &Client, direct: &str) -> Fixture {
        let n = NONCE.fetch_add(1, Ordering::Relaxed);
        let room_name = format!("room-{n}");
        let room = alice.room(&room_name).await;
        let message = alice.say(&room, "in the room").await["message_id"].as_i64().unwrap();
        let (st, file) = alice
            .send(
                alice
                    .http
                    .post(alice.url_of("/api/files?name=f.txt"))
                    .header("content-type", "text/plain")
                    .body("file bytes"),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{file}");
        let (st, invite) = root.post("/api/invites", json!({})).await;
        assert_eq!(st, StatusCode::CREATED, "{invite}");
        let endpoint = format!("https://push.example.com/fixture/{n}");
        let (st, sub) = alice
            .post(
                "/api/push/subscriptions",
                json!({"endpoint": endpoint, "keys": {
                    "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                    "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{sub}");
        Fixture {
            room,
            room_name,
            direct: direct.to_owned(),
            direct_name: format!("{}_{}", alice.username, bob.username),
            message,
            file: file["file_id"].as_str().unwrap().to_owned(),
            bob: bob.user_id.clone(),
            bob_name: bob.username.clone(),
            invite: invite["invite_id"].as_str().unwrap().to_owned(),
            push: endpoint.replace(':', "%3A").replace('/', "%2F"),
        }
    }

    fn fill(&self, text: &str, me_uid: i64) -> String {
        let n = NONCE.fetch_add(1, Ordering::Relaxed);
        text.replace("{room_name}", &self.room_name)
            .replace("{room}", &self.room)
            .replace("{direct_name}", &self.direct_name)
            .replace("{direct}", &self.direct)
            .replace("{message}", &self.message.to_string())
            .replace("{file}", &self.file)
            .replace("{bob_name}", &self.bob_name)
            .replace("{bob}", &self.bob)
            .replace("{invite}", &self.invite)
            .replace("{push}", &self.push)
            .replace("{me_uid}", &me_uid.to_string())
            .replace("{nonce}", &n.to_string())
    }
}

trait UrlOf {
    fn url_of(&self, path: &str) -> String;
}

impl UrlOf for Client {
    fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Call `row` as `token` (none: anonymous): the status and body.
async fn call(s: &TestServer, row: &Row, fx: &Fixture, token: Option<&str>, me_uid: i64) -> (u16, Value) {
    let path = fx.fill(row.path, me_uid);
    if row.socket {
        let url = match token {
            Some(t) => s.ws_url(&format!(
                "{path}{}token={t}",
                if path.contains('?') { '&' } else { '?' }
            )),
            None => s.ws_url(&path),
        };
        return match Ws::connect_with(&url, &[]).await {
            Ok(_) => (101, Value::Null),
            Err(status) => (status, Value::Null),
        };
    }
    let client = Client {
        token: token.map(str::to_owned),
        ..Client::new(&s.base)
    };
    if let Some((before, body)) = row.before {
        send(&client, "POST", &fx.fill(before, me_uid), body, fx, me_uid).await;
    }
    let (st, body) = send(&client, row.method, &path, row.body, fx, me_uid).await;
    (st.as_u16(), body)
}

async fn send(c: &Client, method: &str, path: &str, body: Body, fx: &Fixture, me_uid: i64) -> (StatusCode, Value) {
    let req = c
        .http
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), c.url_of(path));
    let req = match body {
        Body::None => req,
        Body::Json(j) => req.header("content-type", "application/json").body(fx.fill(j, me_uid)),
        Body::Form(pairs) => {
            let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), fx.fill(v, me_uid))).collect();
            req.form(&pairs)
        }
        Body::Raw(r) => req.header("content-type", "text/plain").body(r),
    };
    c.send(req).await
}

#[tokio::test]
async fn every_route_refuses_whom_it_must_and_serves_whom_it_should() {
    let s = TestServer::start_with(|c| {
        // The matrix logs in twice a row: cheap hashes keep it quick.
        c.argon2_memory_kib = 64;
        c.argon2_iterations = 1;
    })
    .await;
    let root = s.register("root").await; // the first account: the admin
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let direct = alice.direct(&bob).await;
    let uid = |c: &Client| tokens::claims(c.token())["uid"].as_i64().unwrap();

    let secret = tokens::secret(&s);
    let mut claims = tokens::claims(alice.token());
    let forged = tokens::sign(b"not the server's secret, though as long as one", &claims);
    let now = tokens::now();
    claims["iat"] = json!(now - 3600);
    claims["exp"] = json!(now - 60);
    let expired = tokens::sign(&secret, &claims);
    let revoked = login(&s, "alice").await;
    let (st, _) = revoked.post("/api/auth/logout", json!({})).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let revoked = revoked.token().to_owned();
    // The same claims with the real secret and a live `exp` would pass: so
    // the refusals below are for the signature, the time and the session.
    claims["exp"] = json!(now + 600);
    let control = tokens::sign(&secret, &claims);
    let (st, _) = Client {
        token: Some(control),
        ..Client::new(&s.base)
    }
    .get("/api/users/me")
    .await;
    assert_eq!(st, StatusCode::OK);

    let mut cells = 0;
    let mut failures = Vec::new();
    for row in table() {
        let fx = Fixture::make(&alice, &bob, &root, &direct).await;
        for cred in CREDS {
            // Fresh sessions for the callers who may change things (a
            // logout row ends the session it is called with).
            let (token, me_uid) = match cred {
                Cred::Anonymous => (None, uid(&alice)),
                Cred::Forged => (Some(forged.clone()), uid(&alice)),
                Cred::Expired => (Some(expired.clone()), uid(&alice)),
                Cred::Revoked => (Some(revoked.clone()), uid(&alice)),
                Cred::NonMember => {
                    let who = if row.admin { "alice" } else { "carol" };
                    let c = login(&s, who).await;
                    (c.token.clone(), uid(&c))
                }
                Cred::Member => {
                    let who = if row.admin { "root" } else { "alice" };
                    let c = login(&s, who).await;
                    (c.token.clone(), uid(&c))
                }
            };
            let expected: &[u16] = match cred {
                Cred::NonMember => row.non_member,
                Cred::Member => row.member,
                _ => &[401],
            };
            let (status, body) = call(&s, &row, &fx, token.as_deref(), me_uid).await;
            cells += 1;
            let cell = format!(
                "{:?} {} {} as {cred:?}",
                row.dialect,
                row.method,
                fx.fill(row.path, me_uid)
            );
            if !expected.contains(&status) {
                failures.push(format!("{cell}: expected {expected:?}, got {status} {body}"));
                continue;
            }
            if status >= 400 && !row.socket {
                if let Err(e) = error_shape(row.dialect, status, &body) {
                    failures.push(format!("{cell}: {e}"));
                }
                // Each refusal for its own reason, in words.
                let why = match cred {
                    Cred::Forged => Some("invalid token"),
                    Cred::Expired => Some("expired"),
                    Cred::Revoked => Some("logged out"),
                    _ => None,
                };
                if let Some(why) = why
                    && !message(row.dialect, &body).is_some_and(|m| m.contains(why))
                {
                    failures.push(format!("{cell}: expected a refusal saying `{why}`: {body}"));
                }
                // SimpleJWT's clients refresh on `token_not_valid`, and ask
                // for a login on DRF's "not provided".
                if row.dialect == Messenger && status == 401 {
                    let good = match cred {
                        Cred::Anonymous => body["detail"] == "Authentication credentials were not provided.",
                        _ => body["code"] == "token_not_valid",
                    };
                    if !good {
                        failures.push(format!("{cell}: messenger's 401 as SimpleJWT says it: {body}"));
                    }
                }
            }
        }
    }
    // None of this leaked: alice, bob and carol still work (and the admin).
    for c in [&root, &alice, &bob, &carol] {
        assert_eq!(c.get("/api/users/me").await.0, StatusCode::OK, "{}", c.username);
    }
    // Open routes are served to anyone: no 404, no 405, and no 401 but a
    // failed login's (an empty body is one, in some dialects).
    let fx = Fixture::make(&alice, &bob, &root, &direct).await;
    for (d, method, route) in OPEN {
        let (st, body) = send(&s.anonymous(), method, route, Body::Json("{}"), &fx, 0).await;
        let logs_in = ["login", "token", "refresh"].iter().any(|w| route.contains(w));
        assert!(
            st != StatusCode::UNAUTHORIZED || logs_in,
            "{d:?} {method} {route} is open, but: {st} {body}"
        );
        assert!(
            st != StatusCode::NOT_FOUND && st != StatusCode::METHOD_NOT_ALLOWED && st.as_u16() < 500,
            "{d:?} {method} {route}: {st} {body}"
        );
    }
    println!("{cells} cells in {} rows", table().len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
