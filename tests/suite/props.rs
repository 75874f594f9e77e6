//! Property tests of every dialect's body, query, path and frame parsers,
//! against the real server: arbitrary JSON, wrong types, huge numbers, deep
//! nesting, unicode, form and multipart bodies, arbitrary bytes.
//!
//! Whatever a client sends, natter must answer: no 5xx, no panic, the
//! connection not dropped, and a refusal in the dialect's documented error
//! shape. A socket must answer with an error frame (and stay open) or close
//! with a code that says why — never just drop (1006) or hang.
//!
//! Each test starts one server and runs its cases against it.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::raw_ws::{RawFrame, RawWs, Seen};
use common::shapes::{Dialect, error_shape};
use common::{Client, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use Dialect::*;

// Cases per property (per socket, for the socket ones): enough to find
// what the parsers trip on, few enough that the file runs in seconds.
// `NATTER_PROPS_SCALE=20` multiplies them, for a long hunt.
const BODY_CASES: u32 = 256;
const QUERY_CASES: u32 = 128;
const PATH_CASES: u32 = 128;
const FRAME_CASES: u32 = 128;
const BYTES_FRAME_CASES: u32 = 64;
const WIRE_CASES: u32 = 64;

/// The body limit of the servers here: small, so bodies over it are common
/// among the cases, and a socket's frame limit (the same) is quick to pad
/// up to.
const MAX_BODY: usize = 8 * 1024;

// ----- the server and who is on it -----

/// Panics on the server's own threads (a handler, the writer), counted
/// whatever became of them.
static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            if name.starts_with("tokio-runtime-worker") || name.starts_with("natter-") {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

struct World {
    rt: tokio::runtime::Runtime,
    s: TestServer,
    alice: Client,
    alice_uid: i64,
    bob: Client,
    room: String,
    message: i64,
}

fn world() -> World {
    count_server_panics();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (s, alice, bob, room, message) = rt.block_on(async {
        let s = TestServer::start_with(|c| {
            c.max_body_bytes = MAX_BODY;
            c.max_upload_bytes = MAX_BODY;
            // Cases sign people up: cheap hashes keep that quick.
            c.argon2_memory_kib = 64;
            c.argon2_iterations = 1;
        })
        .await;
        s.register("root").await;
        let alice = s.register("alice").await;
        let bob = s.register("bob").await;
        let (_, room) = alice.post("/api/conversations", json!({"name": "lobby"})).await;
        let room = room["conversation_id"].as_str().unwrap().to_owned();
        alice.direct(&bob).await;
        let message = alice.say(&room, "hello").await["message_id"].as_i64().unwrap();
        (s, alice, bob, room, message)
    });
    let alice_uid = common::tokens::claims(alice.token())["uid"].as_i64().unwrap();
    World {
        rt,
        s,
        alice,
        alice_uid,
        bob,
        room,
        message,
    }
}

/// One case's check, run on the world's runtime.
type Case<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), TestCaseError>> + 'a>>;

/// Run `cases` cases of `strategy` through `test` on `w`'s runtime; panic
/// with the smallest failing input, or if the server panicked meanwhile.
fn check<'a, S: Strategy>(w: &'a World, name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Case<'a>)
where
    S::Value: std::fmt::Debug,
{
    let scale = std::env::var("NATTER_PROPS_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    let mut runner = TestRunner::new(Config {
        cases: cases * scale.max(1),
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let result = runner.run(&strategy, |v| w.rt.block_on(test(v)));
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0, "{name}: the server panicked");
}

// ----- what clients send -----

/// Field names the dialects read, so values land where parsers look.
const KEYS: &[&str] = &[
    "username",
    "password",
    "email",
    "name",
    "first_name",
    "last_name",
    "public_key",
    "invite",
    "refresh_token",
    "token",
    "participant_id",
    "participant_ids",
    "kind",
    "is_ai",
    "conversation_id",
    "sender_id",
    "message",
    "attachment_id",
    "client_id",
    "message_id",
    "bio",
    "profile_picture",
    "ready_to_chat",
    "old_password",
    "max_uses",
    "expires_in_days",
    "role",
    "deactivated",
    "Option",
    "option",
    "room",
    "refresh",
    "title",
    "content",
    "recipient",
    "action",
    "receiver_id",
    "message_body",
    "file_name",
    "file_base64",
    "since",
    "limit",
    "q",
    "before",
    "after",
];

/// Numbers no field can hold, written as JSON text.
const HUGE: &[&str] = &[
    "1e999",
    "-1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890123456789",
    "1.7976931348623157e309",
    "4.9e-400",
    "9223372036854775807",
    "-9223372036854775808",
    "12.0",
    "-0",
    "1E+2",
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => any::<String>(),
        2 => prop::collection::vec(any::<char>(), 0..24).prop_map(|c| c.into_iter().collect()),
        1 => prop::sample::select(vec![
            "", " ", "\0", "\u{202e}evil", "Ёжик", "👩‍👩‍👧‍👦", "a\u{0}b", "%00", "../../etc/passwd",
            "' OR 1=1 --", "<script>alert(1)</script>", "\u{feff}", "\r\n\r\n", "alice", "bob", "lobby",
            "alice_bob", "send", "ping", "typing", "read", "chat_message", "chat_file", "true", "false",
            "00000000-0000-0000-0000-000000000000", "data:text/plain;base64,aGk=", "=?&",
        ])
        .prop_map(str::to_owned),
        1 => (1usize..40_000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => text()].boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// An object of the fields parsers read, with values of any type: the
/// wrong types a careless client sends.
fn wrong_types() -> BoxedStrategy<Value> {
    prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..6)
        .prop_map(|kv| {
            let map: Map<String, Value> = kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(map)
        })
        .boxed()
}

/// JSON text a serializer would not write: huge numbers in known fields,
/// nesting deeper than any parser's limit.
fn odd_json() -> BoxedStrategy<String> {
    prop_oneof![
        (prop::sample::select(KEYS), prop::sample::select(HUGE)).prop_map(|(k, n)| format!(r#"{{"{k}": {n}}}"#)),
        (1usize..20_000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..3_000, prop::sample::select(KEYS)).prop_map(|(n, k)| format!(
            "{}1{}",
            format!(r#"{{"{k}": "#).repeat(n),
            "}".repeat(n)
        )),
        (1usize..20_000).prop_map(|n| "[".repeat(n)),
        text().prop_map(|t| format!(r#"{{"message": "{t}"#)),
    ]
    .boxed()
}

/// A request body and its content type.
#[derive(Debug, Clone)]
enum Payload {
    Json(Value),
    Text(String),
    Form(Vec<(String, String)>),
    Multipart(Vec<(String, String)>),
    Bytes(Vec<u8>, Option<&'static str>),
}

fn payload() -> BoxedStrategy<Payload> {
    let pairs = || prop::collection::vec((key(), text()), 0..6);
    prop_oneof![
        3 => json_value().prop_map(Payload::Json),
        3 => wrong_types().prop_map(Payload::Json),
        2 => odd_json().prop_map(Payload::Text),
        2 => pairs().prop_map(Payload::Form),
        1 => pairs().prop_map(Payload::Multipart),
        2 => (
            prop::collection::vec(any::<u8>(), 0..512),
            prop::sample::select(vec![
                None,
                Some("application/json"),
                Some("application/x-www-form-urlencoded"),
                Some("multipart/form-data; boundary=zz"),
                Some("multipart/form-data"),
                Some("text/plain"),
                Some("application/json; charset=latin1"),
            ])
        )
            .prop_map(|(b, ct)| Payload::Bytes(b, ct)),
    ]
    .boxed()
}

fn multipart(parts: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in parts {
        out.extend_from_slice(b"--XnatterX\r\nContent-Disposition: form-data; name=\"");
        out.extend_from_slice(name.replace(['"', '\r', '\n'], "").as_bytes());
        out.extend_from_slice(b"\"\r\n\r\n");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--XnatterX--\r\n");
    out
}

// ----- the HTTP side -----

/// An endpoint that reads a body: its dialect, method and path, and
/// whether it is called signed in.
type Endpoint = (Dialect, &'static str, &'static str, bool);

const BODY_ENDPOINTS: &[Endpoint] = &[
    (Native, "POST", "/api/auth/register", false),
    (Native, "POST", "/api/auth/login", false),
    (Native, "POST", "/api/auth/refresh", false),
    (Native, "POST", "/api/auth/reset", false),
    (Native, "PATCH", "/api/users/me", true),
    (Native, "POST", "/api/conversations", true),
    (Native, "PATCH", "/api/conversations/{room}", true),
    (Native, "POST", "/api/conversations/{room}/read", true),
    (Native, "POST", "/api/messages", true),
    (Native, "PATCH", "/api/messages/{message}", true),
    (Native, "POST", "/api/invites", true),
    (Native, "PATCH", "/api/admin/users/{bob}", true),
    (Native, "POST", "/api/files", true),
    (Native, "POST", "/api/files?name=a.txt", true),
    (Whisper, "POST", "/auth/signup/", false),
    (Whisper, "POST", "/auth/login/", false),
    (Whisper, "POST", "/find-user/", false),
    (Whisper, "PUT", "/profile/", true),
    (Whisper, "PATCH", "/profile/", true),
    (Whisper, "POST", "/ready-to-chat/", true),
    (Chatroom, "POST", "/login", false),
    (Chatroom, "POST", "/create_user", false),
    (Chatroom, "POST", "/create_room", true),
    (Chatroom, "POST", "/join_room", true),
    (Chatroom, "POST", "/send_message", true),
    (Chatroom, "POST", "/list_message", true),
    (Threads, "POST", "/auth/users/", true),
    (Messenger, "POST", "/accounts/api/users/", false),
    (Messenger, "POST", "/accounts/api/token/", false),
    (Messenger, "POST", "/accounts/api/token/refresh/", false),
    (Messenger, "POST", "/profiles/api/posts/", true),
    (Messenger, "POST", "/profiles/api/add-friend/", true),
    (Messenger, "POST", "/profiles/api/remove-friend/", true),
    (Messenger, "POST", "/messenger/api/chatrooms/", true),
    (Messenger, "POST", "/messenger/api/chatrooms/lobby/messages/", true),
];

impl World {
    fn fill(&self, path: &str) -> String {
        path.replace("{room}", &self.room)
            .replace("{message}", &self.message.to_string())
            .replace("{bob}", &self.bob.user_id)
    }

    /// Send and judge: an answer (not a dropped connection), below 500, a
    /// refusal in `dialect`'s shape.
    async fn judge(&self, dialect: Dialect, what: &str, req: reqwest::RequestBuilder) -> Result<(), TestCaseError> {
        let res = req
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .map_err(|e| TestCaseError::fail(format!("{what}: no answer (connection dropped?): {e}")))?;
        let status = res.status().as_u16();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| TestCaseError::fail(format!("{what}: the answer was cut off: {e}")))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        prop_assert!(status < 500, "{}: {} {}", what, status, String::from_utf8_lossy(&bytes));
        if status >= 400 {
            error_shape(dialect, status, &body).map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
        }
        Ok(())
    }

    fn request(&self, method: &str, path: &str, signed_in: bool) -> reqwest::RequestBuilder {
        let req = self.alice.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            self.s.url(&self.fill(path)),
        );
        if signed_in {
            req.bearer_auth(self.alice.token())
        } else {
            req
        }
    }
}

#[test]
fn every_body_parser_answers_in_its_dialect_without_failing() {
    let w = world();
    let endpoint = prop::sample::select(BODY_ENDPOINTS);
    check(
        &w,
        "bodies",
        BODY_CASES,
        (endpoint, payload()),
        |((dialect, method, path, auth), p)| {
            let w = &w;
            Box::pin(async move {
                let req = w.request(method, path, auth);
                let req = match &p {
                    Payload::Json(v) => req.header("content-type", "application/json").body(v.to_string()),
                    Payload::Text(t) => req.header("content-type", "application/json").body(t.clone()),
                    Payload::Form(pairs) => req.form(pairs),
                    Payload::Multipart(parts) => req
                        .header("content-type", "multipart/form-data; boundary=XnatterX")
                        .body(multipart(parts)),
                    Payload::Bytes(b, ct) => {
                        let req = req.body(b.clone());
                        match ct {
                            Some(ct) => req.header("content-type", *ct),
                            None => req,
                        }
                    }
                };
                w.judge(dialect, &format!("{method} {path}"), req).await
            })
        },
    );
    // The accounts the cases ran as are intact.
    w.rt.block_on(async {
        assert_eq!(w.alice.get("/api/users/me").await.0, 200);
        assert_eq!(w.bob.get("/api/users/me").await.0, 200);
    });
}

/// Query strings: arbitrary pairs (numbers out of range, wrong types,
/// repeated keys) and raw bytes. Under 32 KiB: a URL over 64 KiB is
/// refused by the HTTP layer (hyper: 414 or 431, with no body) before any
/// dialect sees it (docs/API.md, Limits).
fn query() -> BoxedStrategy<String> {
    let value = prop_oneof![
        text(),
        prop::sample::select(HUGE).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
    ];
    prop_oneof![
        3 => prop::collection::vec((key(), value), 0..5)
            .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap_or_default()),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| {
            // Whatever reaches a URL: percent-encode what would not.
            percent_encoding::percent_encode(&b, percent_encoding::CONTROLS).to_string().replace(['#', ' '], "%23")
        }),
    ]
    .prop_filter("a URL the HTTP layer takes", |q| q.len() < 32 * 1024)
    .boxed()
}

const QUERY_ENDPOINTS: &[(Dialect, &str)] = &[
    (Native, "/api/users"),
    (Native, "/api/admin/users"),
    (Native, "/api/admin/audit"),
    (Native, "/api/conversations/{room}"),
    (Native, "/api/ws"),
    (Chatroom, "/list_message"),
    (Messenger, "/profiles/api/search-user/"),
    (Threads, "/chat/get-user-threads/"),
    (Whisper, "/online-users/"),
];

#[test]
fn every_query_parser_answers_in_its_dialect_without_failing() {
    let w = world();
    let endpoint = prop::sample::select(QUERY_ENDPOINTS);
    check(
        &w,
        "queries",
        QUERY_CASES,
        (endpoint, query()),
        |((dialect, path), q)| {
            let w = &w;
            Box::pin(async move {
                let url = format!("{}?{q}", w.s.url(&w.fill(path)));
                let req = w.alice.http.get(&url).bearer_auth(w.alice.token());
                w.judge(dialect, &format!("GET {path}?{q}"), req).await
            })
        },
    );
}

const PATH_ENDPOINTS: &[(Dialect, &str, &str)] = &[
    (Native, "GET", "/api/users/{x}"),
    (Native, "GET", "/api/conversations/{x}"),
    (Native, "POST", "/api/conversations/{x}/read"),
    (Native, "POST", "/api/rooms/{x}/join"),
    (Native, "PATCH", "/api/messages/{x}"),
    (Native, "DELETE", "/api/messages/{x}"),
    (Native, "GET", "/api/files/{x}"),
    (Native, "POST", "/api/conversations/{x}/connect"),
    (Native, "DELETE", "/api/invites/{x}"),
    (Native, "PATCH", "/api/admin/users/{x}"),
    (Threads, "GET", "/chat/messages/{x}/"),
    (Messenger, "GET", "/messenger/api/chatrooms/{x}/messages/"),
    (Messenger, "POST", "/messenger/api/chatrooms/{x}/messages/"),
];

#[test]
fn every_path_parameter_answers_in_its_dialect_without_failing() {
    let w = world();
    let segment = prop_oneof![
        text(),
        prop::sample::select(HUGE).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
    ];
    let endpoint = prop::sample::select(PATH_ENDPOINTS);
    check(
        &w,
        "paths",
        PATH_CASES,
        (endpoint, segment),
        |((dialect, method, path), x)| {
            let w = &w;
            Box::pin(async move {
                let x = percent_encoding::utf8_percent_encode(&x, percent_encoding::NON_ALPHANUMERIC).to_string();
                let path = path.replace("{x}", &x);
                let req = w
                    .request(method, &path, true)
                    .header("content-type", "application/json")
                    .body(r#"{"message": "x", "content": "x", "message_id": 0}"#);
                w.judge(dialect, &format!("{method} {path}"), req).await
            })
        },
    );
}

// ----- the sockets -----

/// A dialect's socket: what it is, its dialect, its path (with a token),
/// its frame limit.
fn sockets(w: &World) -> Vec<(&'static str, Dialect, String, usize)> {
    let t = w.alice.token();
    vec![
        ("native user socket", Native, format!("/api/ws?token={t}"), MAX_BODY),
        (
            "native conversation socket",
            Native,
            format!("/api/conversations/{}/connect?token={t}", w.room),
            MAX_BODY,
        ),
        (
            "chatroom room socket",
            Chatroom,
            format!("/ws/chat/lobby/{}?token={t}", w.alice_uid),
            MAX_BODY,
        ),
        // Files travel on it, as base64.
        (
            "threads socket",
            Threads,
            format!("/ws/chat/room/?token={t}"),
            MAX_BODY / 3 * 4 + 64 * 1024,
        ),
        (
            "messenger room socket",
            Messenger,
            format!("/messenger/ws/ws/chat/lobby/?token={t}"),
            MAX_BODY,
        ),
    ]
}

/// An error frame in `dialect`'s socket shape.
fn error_frame(dialect: Dialect, f: &Value) -> bool {
    match dialect {
        Native => f["action"] == "error" && f["code"].is_string() && f["message"].is_string(),
        Chatroom => f["type"] == "error" && f["message"].is_string(),
        Threads => f["action"] == "error" && f["status"] == "failure" && f["success"] == false,
        Messenger => f["detail"].is_string(),
        Whisper => false,
    }
}

/// A frame the server may send on `dialect`'s socket: an error in its
/// shape, or what it sends anyway (messages, presence, history).
fn known_frame(dialect: Dialect, f: &Value) -> bool {
    let error = error_frame(dialect, f);
    let other = match dialect {
        Native => f["action"].is_string(),
        Chatroom => f["type"] == "chat",
        Threads => f["action"] == "re_message",
        Messenger => f["type"] == "message_history" || f["content"].is_string(),
        Whisper => false,
    };
    error || other
}

/// An open socket, and the probes sent on it so far.
struct Probed {
    ws: RawWs,
    dialect: Dialect,
    probes: u64,
}

/// A probe: a frame whose field has the wrong type, refused at once (after
/// every immediate reply to what was sent before it), with an error that
/// quotes the number it carried, so its answer is told from any other.
fn probe(dialect: Dialect, n: u64) -> String {
    let field = match dialect {
        Chatroom | Messenger => "message",
        _ => "action",
    };
    format!(r#"{{"{field}": {n}}}"#)
}

async fn open(w: &World, path: &str, dialect: Dialect) -> Probed {
    let ws = RawWs::connect(w.s.addr, path).await.expect("the socket opens");
    let mut p = Probed { ws, dialect, probes: 0 };
    p.settle(path, dialect).await.expect("the first probe is answered");
    p
}

impl Probed {
    /// Send a probe and read to its answer: every frame on the way is
    /// JSON the dialect sends; how many of them were errors.
    async fn settle(&mut self, what: &str, dialect: Dialect) -> Result<usize, TestCaseError> {
        self.probes += 1;
        let n = 7_000_000_000_000 + self.probes;
        if !self.ws.send_text(&probe(self.dialect, n)).await {
            return Err(TestCaseError::fail(format!("{what}: the server hung up")));
        }
        let answer = format!("`{n}`");
        let mut errors = 0;
        loop {
            match self.ws.next_within(Duration::from_secs(20)).await {
                Seen::Text(t) if t.contains(&answer) => return Ok(errors),
                Seen::Text(t) => {
                    let f: Value = serde_json::from_str(&t)
                        .map_err(|e| TestCaseError::fail(format!("{what}: a frame that is not JSON ({e}): {t}")))?;
                    prop_assert!(known_frame(dialect, &f), "{}: an unknown frame: {}", what, t);
                    if error_frame(dialect, &f) {
                        errors += 1;
                    }
                }
                other => return Err(TestCaseError::fail(format!("{what}: the socket ended: {other:?}"))),
            }
        }
    }
}

/// A text frame's content: JSON values, frames with the right keys and
/// wrong values, odd JSON, any text.
fn frame_text() -> BoxedStrategy<(String, bool)> {
    prop_oneof![
        // Not an object: every dialect must refuse it at once.
        2 => json_value().prop_filter("not an object", |v| !v.is_object()).prop_map(|v| (v.to_string(), true)),
        3 => wrong_types().prop_map(|v| (v.to_string(), false)),
        2 => json_value().prop_map(|v| (v.to_string(), false)),
        1 => odd_json().prop_map(|t| (t, false)),
        1 => text().prop_map(|t| (t, false)),
    ]
    .boxed()
}

#[test]
fn every_socket_answers_any_text_frame_and_stays_open() {
    let w = world();
    for (what, dialect, path, limit) in sockets(&w) {
        let socket = tokio::sync::Mutex::new(w.rt.block_on(open(&w, &path, dialect)));
        check(&w, what, FRAME_CASES, frame_text(), |(frame, refused)| {
            let (socket, w, path) = (&socket, &w, &path);
            Box::pin(async move {
                let mut s = socket.lock().await;
                prop_assert!(s.ws.send_text(&frame).await, "{}: the server hung up", what);
                if frame.len() > limit {
                    // Over the limit: closed with 1009, as documented.
                    let end = s.ws.end().await;
                    prop_assert!(
                        matches!(end, Seen::Close(Some(1009), _)),
                        "{}: a frame of {} bytes ended with {:?}",
                        what,
                        frame.len(),
                        end
                    );
                    *s = open(w, path, dialect).await;
                    return Ok(());
                }
                let errors = s.settle(what, dialect).await?;
                if refused {
                    prop_assert!(errors >= 1, "{}: no error frame for {}", what, frame);
                }
                Ok(())
            })
        });
    }
}

#[test]
fn every_socket_answers_any_bytes_in_a_frame() {
    let w = world();
    for (what, dialect, path, _) in sockets(&w) {
        let socket = tokio::sync::Mutex::new(w.rt.block_on(open(&w, &path, dialect)));
        let bytes = (prop::collection::vec(any::<u8>(), 0..256), any::<bool>());
        check(&w, what, BYTES_FRAME_CASES, bytes, |(payload, binary)| {
            let (socket, w, path) = (&socket, &w, &path);
            Box::pin(async move {
                let mut s = socket.lock().await;
                let frame = if binary {
                    RawFrame::binary(payload.clone())
                } else {
                    RawFrame::text(payload.clone())
                };
                prop_assert!(s.ws.send(&frame).await, "{}: the server hung up", what);
                if !binary && std::str::from_utf8(&payload).is_err() {
                    // Not UTF-8: a protocol error, closed with 1007 (RFC 6455 8.1).
                    let end = s.ws.end().await;
                    prop_assert!(
                        matches!(end, Seen::Close(Some(1007), _)),
                        "{}: text that is not UTF-8 ended with {:?}",
                        what,
                        end
                    );
                    *s = open(w, path, dialect).await;
                    return Ok(());
                }
                let errors = s.settle(what, dialect).await?;
                if binary {
                    prop_assert!(errors >= 1, "{}: no error frame for a binary frame", what);
                }
                Ok(())
            })
        });
    }
}

#[test]
fn every_socket_ends_any_bytes_on_the_wire_with_a_close_code() {
    let w = world();
    for (what, _, path, limit) in sockets(&w) {
        let wire = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            // Frames made of any header bits and payload.
            (any::<u8>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)).prop_map(
                |(b0, masked, payload)| {
                    RawFrame {
                        fin: b0 & 0x80 != 0,
                        rsv: (b0 >> 4) & 7,
                        opcode: b0 & 0xF,
                        masked,
                        payload,
                    }
                    .encode()
                }
            ),
        ];
        check(&w, what, WIRE_CASES, wire, |bytes| {
            let (w, path) = (&w, &path);
            Box::pin(async move {
                let mut ws = RawWs::connect(w.s.addr, path).await.expect("the socket opens");
                ws.send_bytes(&bytes).await;
                // Whatever frame those bytes began, this ends it, and the
                // zeros after it are frames no client may send (unmasked).
                ws.send_bytes(&vec![0u8; limit + 16]).await;
                let end = ws.end().await;
                prop_assert!(
                    matches!(end, Seen::Close(_, _)),
                    "{}: {:?} ended with {:?}",
                    what,
                    bytes,
                    end
                );
                if let Seen::Close(Some(code), _) = end {
                    // The server's own codes, or the peer's own close echoed.
                    prop_assert!(
                        matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999),
                        "{}: close code {}",
                        what,
                        code
                    );
                }
                Ok(())
            })
        });
    }
}

#[test]
fn the_judges_tell_right_from_wrong() {
    // The properties above pass only if their judges can fail: a good send
    // passes, a refusal in another dialect's shape does not, and a socket's
    // error frames are counted.
    let w = world();
    w.rt.block_on(async {
        let req = w
            .request("POST", "/api/messages", true)
            .json(&json!({"conversation_id": w.room, "message": "fine"}));
        w.judge(Native, "a good send", req).await.unwrap();
        let bad = || {
            w.request("POST", "/api/messages", true)
                .json(&json!({"conversation_id": 5}))
        };
        w.judge(Native, "a bad send", bad()).await.unwrap();
        assert!(
            w.judge(Messenger, "a native refusal judged as messenger's", bad())
                .await
                .is_err(),
            "the shape is checked"
        );
        let mut s = open(&w, &format!("/api/ws?token={}", w.alice.token()), Native).await;
        s.ws.send_text(&json!({"action": "send", "conversation_id": w.room, "message": "hi"}).to_string())
            .await;
        assert_eq!(s.settle("native", Native).await.unwrap(), 0);
        s.ws.send_text("[1]").await;
        assert_eq!(s.settle("native", Native).await.unwrap(), 1);
    });
}
