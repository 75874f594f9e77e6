//! Web Push against a scripted push service: an HTTP server of the test's
//! own on 127.0.0.1:0 (allowed by `--push-allow-insecure-endpoints`), which
//! records every POST. The test plays the browser too: it makes the
//! subscription's P-256 key pair and auth secret, and decrypts what the
//! server sent with them.

use crate::common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use bytes::Bytes;
use common::{Client, TestServer, Ws};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One POST the push service received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: http::HeaderMap,
    body: Bytes,
}

/// The scripted push service: answers 201, 410 on paths with `gone`, and
/// never on paths with `hang`.
struct PushService {
    origin: String,
    got: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl PushService {
    async fn start() -> PushService {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let (g, a) = (got.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (g, a) = (g.clone(), a.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (g, a) = (g.clone(), a.clone());
                        async move {
                            let path = req.uri().path().to_owned();
                            let headers = req.headers().clone();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let status = if path.contains("gone") { 410 } else { 201 };
                            let hang = path.contains("hang");
                            g.lock().unwrap().push(Received { path, headers, body });
                            a.notify_waiters();
                            if hang {
                                std::future::pending::<()>().await;
                            }
                            let mut res = Response::new(Full::new(Bytes::new()));
                            *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(res)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        PushService { origin, got, arrived }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait (up to 10 s) until a POST to `path` has come whose payload
    /// `keys` decrypts to a text `text`; returns it and its payload.
    async fn wait_for(&self, path: &str, keys: &Browser, text: &str) -> (Received, Value) {
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let waiting = self.arrived.notified();
                for r in self.received() {
                    if r.path == path {
                        let payload = keys.decrypt(&r);
                        if payload["text"] == text {
                            return (r, payload);
                        }
                    }
                }
                waiting.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no push to {path} with {text:?}; got {:?}", self.paths()))
    }

    fn paths(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.path).collect()
    }
}

/// The browser's side of a subscription.
struct Browser {
    keys: ece::EcKeyComponents,
    public: Vec<u8>,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let (pair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
        Browser {
            keys: pair.raw_components().unwrap(),
            public: pair.pub_as_raw().unwrap(),
            auth,
        }
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    fn subscription(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {"p256dh": B64.encode(&self.public), "auth": B64.encode(self.auth)},
        })
    }

    fn decrypt(&self, r: &Received) -> Value {
        let plain =
            ece::decrypt(&self.keys, &self.auth, &r.body).expect("the payload decrypts with the browser's keys");
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }
}

async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.push.push_allow_insecure_endpoints = true;
        c.push.push_subject = "mailto:ops@natter.test".into();
    })
    .await
}

async fn subscribe(c: &Client, body: Value) -> (StatusCode, Value) {
    c.post("/api/push/subscriptions", body).await
}

/// A room of `owner`'s that `others` have joined.
async fn room(owner: &Client, name: &str, others: &[&Client]) -> String {
    let room = owner.room(name).await;
    for o in others {
        let (st, b) = o.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }
    room
}

#[derive(serde::Deserialize)]
struct VapidClaims {
    aud: String,
    sub: String,
    exp: u64,
}

#[tokio::test]
async fn a_member_without_a_socket_is_pushed_a_signed_encrypted_message_and_the_sender_is_not() {
    let service = PushService::start().await;
    let s = server().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let garden = room(&bob, "garden", &[&alice]).await;
    let (ab, bb) = (Browser::new(), Browser::new());
    let (st, body) = subscribe(&alice, ab.subscription(&service.url("/push/alice"))).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = subscribe(&bob, bb.subscription(&service.url("/push/bob"))).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, key) = alice.get("/api/push/key").await;
    assert_eq!(st, StatusCode::OK, "{key}");
    let key = key["public_key"].as_str().unwrap().to_owned();
    let raw = B64.decode(&key).unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");

    let long = "word ".repeat(60);
    bob.say(&garden, &long).await;
    let cut: String = long.chars().take(200).collect::<String>() + "…";
    let (got, payload) = service.wait_for("/push/alice", &ab, &cut).await;
    assert_eq!(payload["conversation_id"], garden.as_str());
    assert_eq!(payload["conversation_name"], "garden");
    assert_eq!(payload["sender"], "bob");

    // RFC 8291: the body is aes128gcm, encrypted to the browser's keys
    // (decrypting it above is the proof).
    assert_eq!(got.headers["content-encoding"], "aes128gcm");
    assert!(got.headers.contains_key("ttl"), "{:?}", got.headers);
    // RFC 8292: `vapid t=<JWT>, k=<the server's public key>`, the JWT
    // signed by that key (ES256) for the push service's origin.
    let auth = got.headers["authorization"].to_str().unwrap();
    let rest = auth.strip_prefix("vapid ").unwrap_or_else(|| panic!("{auth}"));
    let mut t = None;
    let mut k = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').unwrap();
        match name {
            "t" => t = Some(value.to_owned()),
            "k" => k = Some(value.to_owned()),
            _ => panic!("{auth}"),
        }
    }
    assert_eq!(k.as_deref(), Some(key.as_str()));
    let x = B64.encode(&raw[1..33]);
    let y = B64.encode(&raw[33..65]);
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(&x, &y).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[&service.origin]);
    let claims = jsonwebtoken::decode::<VapidClaims>(t.unwrap(), &decoding, &validation)
        .expect("the JWT verifies with the key from /api/push/key")
        .claims;
    assert_eq!(claims.aud, service.origin);
    assert_eq!(claims.sub, "mailto:ops@natter.test");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(claims.exp > now && claims.exp <= now + 24 * 3600, "{}", claims.exp);

    // The sender is never pushed their own message: bob hears of alice's
    // reply, and of nothing of his own.
    alice.say(&garden, "a reply").await;
    service.wait_for("/push/bob", &bb, "a reply").await;
    alice.say(&garden, "and another").await;
    service.wait_for("/push/bob", &bb, "and another").await;
    let to_bob: Vec<Value> = service
        .received()
        .iter()
        .filter(|r| r.path == "/push/bob")
        .map(|r| bb.decrypt(r)["text"].clone())
        .collect();
    assert_eq!(to_bob, [json!("a reply"), json!("and another")]);

    // A direct conversation is named after the sender.
    let direct = bob.direct(&alice).await;
    bob.say(&direct, "just us").await;
    let (_, payload) = service.wait_for("/push/alice", &ab, "just us").await;
    assert_eq!(payload["conversation_name"], "bob");
    assert_eq!(payload["conversation_id"], direct.as_str());
}

#[tokio::test]
async fn a_member_with_a_live_socket_gets_no_push() {
    let service = PushService::start().await;
    let s = server().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let direct = bob.direct(&alice).await;
    let ab = Browser::new();
    let (st, body) = subscribe(&alice, ab.subscription(&service.url("/push/alice"))).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    bob.say(&direct, "while online").await;
    let live = ws.next_action("message").await;
    assert_eq!(live["message"]["message"], "while online");
    drop(ws);

    // Once the server has seen the socket go, messages are pushed again;
    // the first push is one of those, never the one the socket showed.
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        for i in 0.. {
            bob.say(&direct, &format!("after {i}")).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(r) = service.received().first() {
                return ab.decrypt(r);
            }
        }
        unreachable!()
    })
    .await
    .expect("a push once the socket closed");
    assert!(first["text"].as_str().unwrap().starts_with("after "), "{first}");
}

#[tokio::test]
async fn a_gone_subscription_is_deleted_and_pushed_no_more() {
    let service = PushService::start().await;
    let s = server().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let direct = bob.direct(&alice).await;
    let (gone, kept) = (Browser::new(), Browser::new());
    let gone_url = service.url("/push/gone");
    subscribe(&alice, gone.subscription(&gone_url)).await;
    bob.say(&direct, "first").await;
    service.wait_for("/push/gone", &gone, "first").await;

    // The 410 deleted it: the next message goes to the subscription left.
    let (st, body) = subscribe(&alice, kept.subscription(&service.url("/push/kept"))).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    // /metrics counts a gone push once its subscription is deleted.
    let counted = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
            if metrics.contains("natter_pushes_total{outcome=\"gone\"} 1") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "no gone push in /metrics");
    let (st, body) = alice
        .delete(&format!("/api/push/subscriptions?endpoint={}", encode(&gone_url)))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "the 410 deleted the subscription: {body}");
    let before = service.paths().iter().filter(|p| *p == "/push/gone").count();
    bob.say(&direct, "second").await;
    service.wait_for("/push/kept", &kept, "second").await;
    let after = service.paths().iter().filter(|p| *p == "/push/gone").count();
    assert_eq!(before, after, "no POST to the gone endpoint: {:?}", service.paths());
}

fn encode(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

#[tokio::test]
async fn past_the_bound_the_oldest_subscription_goes() {
    let s = TestServer::start_with(|c| {
        c.push.push_allow_insecure_endpoints = true;
        c.push.push_subscriptions_per_user = 2;
    })
    .await;
    let alice = s.register("alice").await;
    let b = Browser::new();
    for i in 0..3 {
        let (st, body) = subscribe(&alice, b.subscription(&format!("https://push.example.com/{i}"))).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
    let delete = |i: u32| {
        let alice = alice.clone();
        async move {
            alice
                .delete(&format!(
                    "/api/push/subscriptions?endpoint={}",
                    encode(&format!("https://push.example.com/{i}"))
                ))
                .await
                .0
        }
    };
    assert_eq!(delete(0).await, StatusCode::NOT_FOUND, "the oldest was replaced");
    assert_eq!(delete(1).await, StatusCode::NO_CONTENT);
    assert_eq!(delete(2).await, StatusCode::NO_CONTENT);
    assert_eq!(delete(2).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoints_must_be_public_https_and_bad_subscriptions_are_400s() {
    // Without --push-allow-insecure-endpoints.
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let b = Browser::new();
    let refused = |body: Value| {
        let alice = alice.clone();
        async move {
            let (st, res) = subscribe(&alice, body.clone()).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{body} → {res}");
            res["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    let msg = refused(b.subscription("http://127.0.0.1:9/push")).await;
    assert!(msg.contains("https://"), "{msg}");
    for inside in [
        "https://127.0.0.1/push",
        "https://10.0.0.7/push",
        "https://192.168.1.1/push",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push",
        "https://localhost/push",
    ] {
        let msg = refused(b.subscription(inside)).await;
        assert!(msg.contains("public address"), "{inside}: {msg}");
    }
    let msg = refused(json!({"keys": {"p256dh": "x", "auth": "y"}})).await;
    assert!(msg.contains("endpoint"), "{msg}");
    let msg = refused(json!({"endpoint": "https://push.example.com/1"})).await;
    assert!(msg.contains("keys"), "{msg}");
    let mut bad = b.subscription("https://push.example.com/1");
    bad["keys"]["auth"] = json!("c2hvcnQ");
    let msg = refused(bad).await;
    assert!(msg.contains("keys.auth"), "{msg}");
    // 65 bytes that are not a point on the curve.
    let mut bad = b.subscription("https://push.example.com/1");
    bad["keys"]["p256dh"] = json!(B64.encode([4u8; 65]));
    let msg = refused(bad).await;
    assert!(msg.contains("keys.p256dh"), "{msg}");

    let (st, body) = alice.delete("/api/push/subscriptions").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = alice
        .delete("/api/push/subscriptions?endpoint=https%3A%2F%2Fpush.example.com%2Fnone")
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
    let (st, body) = subscribe(&alice, b.subscription("https://push.example.com/1")).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, _) = s.anonymous().get("/api/push/key").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logging_out_ends_the_sessions_subscriptions() {
    let s = server().await;
    let alice = s.register("alice").await;
    let b = Browser::new();
    let (st, body) = subscribe(&alice, b.subscription("https://push.example.com/device")).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, _) = alice.post("/api/auth/logout", json!({})).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let again = common::login(&s, "alice").await;
    let (st, body) = again
        .delete("/api/push/subscriptions?endpoint=https%3A%2F%2Fpush.example.com%2Fdevice")
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn the_service_worker_is_served_from_the_root_with_a_shell_that_all_answers() {
    let s = TestServer::start().await;
    let res = reqwest::get(s.url("/sw.js")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/javascript"), "{ct}");
    let js = res.text().await.unwrap();
    assert!(!js.contains("__NATTER_"), "the build fills in the placeholders");
    let version = js
        .split("const VERSION = '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap();
    assert_eq!(version.len(), 16, "{version}");
    // Every file of the shell answers, or the worker's install would fail.
    let list = js
        .split("const SHELL = ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap();
    let shell: Vec<String> = serde_json::from_str(list).unwrap();
    for needed in [
        "/",
        "/static/app.css",
        "/static/js/main.js",
        "/static/js/push.js",
        "/manifest.webmanifest",
    ] {
        assert!(shell.iter().any(|p| p == needed), "{needed} not in {shell:?}");
    }
    assert!(
        !shell.iter().any(|p| p.starts_with("/api/") || p.contains("api-docs")),
        "{shell:?}"
    );
    for path in &shell {
        let res = reqwest::get(s.url(path)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
}

/// natter_pushes_total{outcome=…} from /metrics.
async fn pushes(s: &TestServer, outcome: &str) -> u64 {
    let text = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    let key = format!("natter_pushes_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn a_push_service_that_never_answers_holds_up_no_send_and_times_out() {
    let service = PushService::start().await;
    let s = server().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let direct = bob.direct(&alice).await;
    let b = Browser::new();
    let (st, body) = subscribe(&alice, b.subscription(&service.url("/push/hang"))).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    // More messages than the queue and the sends in flight can hold: every
    // send is still answered at once, and the overflow is dropped.
    let sends = tokio::time::timeout(Duration::from_secs(60), async {
        for i in 0..1100 {
            bob.say(&direct, &format!("m{i}")).await;
        }
    })
    .await;
    assert!(sends.is_ok(), "sends were held up by the push service");
    assert!(pushes(&s, "dropped").await > 0, "a full queue drops pushes");
    // The first pushes are given up after the timeout (10 s).
    let timed_out = tokio::time::timeout(Duration::from_secs(20), async {
        while pushes(&s, "failed").await == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(timed_out.is_ok(), "no push timed out");
    assert!(!service.received().is_empty());
}

#[tokio::test]
async fn the_notify_level_decides_who_is_pushed() {
    let service = PushService::start().await;
    let s = server().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = room(&alice, "plans", &[&bob]).await;
    let direct = alice.direct(&bob).await;
    let keys = Browser::new();
    let (st, body) = subscribe(&bob, keys.subscription(&service.url("/push/bob"))).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let level = |conv: &str, level: &str| {
        let (bob, conv, level) = (bob.clone(), conv.to_owned(), level.to_owned());
        async move {
            let (st, body) = bob
                .put(&format!("/api/conversations/{conv}/notify"), json!({"level": level}))
                .await;
            assert_eq!(st, StatusCode::OK, "{body}");
        }
    };

    // Mentions only: a plain message is not pushed, a mention is.
    level(&room, "mentions").await;
    alice.say(&room, "plain news").await;
    alice.say(&room, "are you in, @bob?").await;
    service.wait_for("/push/bob", &keys, "are you in, @bob?").await;
    // Nothing: not even a mention.
    level(&room, "nothing").await;
    alice.say(&room, "@bob, muted").await;
    // In a direct conversation every message counts as a mention.
    level(&direct, "mentions").await;
    alice.say(&direct, "just us").await;
    service.wait_for("/push/bob", &keys, "just us").await;
    // Jobs are handled in order, so what came before the last push has
    // been decided: the two bob does not hear of never went out.
    let texts: Vec<String> = service
        .received()
        .iter()
        .map(|r| keys.decrypt(r)["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["are you in, @bob?", "just us"]);
}
