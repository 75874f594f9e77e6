//! Hostile and careless users (issue 12): clients that break the WebSocket
//! protocol, what a message's `client_id` tells others, whose email anyone
//! may read, tokens whose two names for the user disagree, and compressed
//! frames (permessage-deflate, issue 15), well made and not.

use crate::common;

use common::raw_ws::{CLOSE, PING, RawFrame, RawWs, Seen};
use common::{Client, TestServer, Ws, tokens};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every dialect's socket, open for `c` (who is in `room` and has a direct
/// conversation with someone): (what it is, its path).
fn sockets(c: &Client, uid: i64, room_id: &str) -> Vec<(&'static str, String)> {
    let t = c.token();
    vec![
        ("native user socket", format!("/api/ws?token={t}")),
        (
            "native conversation socket",
            format!("/api/conversations/{room_id}/connect?token={t}"),
        ),
        ("chatroom room socket", format!("/ws/chat/lobby/{uid}?token={t}")),
        ("threads socket", format!("/ws/chat/room/?token={t}")),
        (
            "messenger room socket",
            format!("/messenger/ws/ws/chat/lobby/?token={t}"),
        ),
    ]
}

/// Is `frame` the error frame of the dialect whose socket `what` is?
fn is_error_frame(what: &str, f: &Value) -> bool {
    let message = |k: &str| f[k].as_str().is_some_and(|m| !m.is_empty());
    if what.starts_with("native") {
        f["action"] == "error" && f["code"].is_string() && message("message")
    } else if what.starts_with("chatroom") {
        f["type"] == "error" && message("message")
    } else if what.starts_with("threads") {
        f["action"] == "error" && f["status"] == "failure" && f["success"] == false && message("message")
    } else {
        message("detail")
            && f.as_object()
                .is_some_and(|o| o.keys().all(|k| k == "detail" || k == "code"))
    }
}

/// The next error frame, skipping what the socket sends anyway (presence,
/// messenger's history); panics if the socket ends first.
async fn error_frame(what: &str, ws: &mut RawWs) -> Value {
    loop {
        let f = ws.next_json().await;
        if is_error_frame(what, &f) {
            return f;
        }
    }
}

fn uid_of(c: &Client) -> i64 {
    tokens::claims(c.token())["uid"].as_i64().unwrap()
}

/// A server with small size limits (4 KB bodies, 3 KB uploads), alice
/// in a direct conversation with bob and in the room `lobby`, and every
/// dialect's socket path for her.
async fn small_limits_and_every_socket() -> (TestServer, Client, Vec<(&'static str, String)>) {
    let s = TestServer::start_with(|c| {
        c.max_body_bytes = 4096;
        c.max_upload_bytes = 3072;
    })
    .await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    a.direct(&b).await;
    let (st, room) = a.post("/api/conversations", json!({"name": "lobby"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let room_id = room["conversation_id"].as_str().unwrap().to_owned();
    let paths = sockets(&a, uid_of(&a), &room_id);
    (s, a, paths)
}

#[tokio::test]
async fn protocol_violations_close_with_a_code_on_every_socket() {
    let (s, a, sockets) = small_limits_and_every_socket().await;

    let header_only = |len: u64| {
        let mut h = vec![0x81, 0x80 | 127];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[1, 2, 3, 4]);
        h
    };
    let unmasked = RawFrame {
        masked: false,
        ..RawFrame::text(r#"{"action": "ping"}"#)
    };
    let rsv1 = RawFrame {
        rsv: 0b100,
        ..RawFrame::text(r#"{"action": "ping"}"#)
    };
    let reserved_data = RawFrame {
        opcode: 0x3,
        ..RawFrame::text("x")
    };
    let reserved_control = RawFrame {
        opcode: 0xB,
        ..RawFrame::text("x")
    };
    let stray_continuation = RawFrame {
        opcode: 0x0,
        ..RawFrame::text("x")
    };
    let fragmented_ping = RawFrame {
        fin: false,
        opcode: PING,
        ..RawFrame::text("x")
    };
    let long_ping = RawFrame {
        opcode: PING,
        ..RawFrame::text(vec![b'p'; 126])
    };
    let bad_close_code = RawFrame {
        opcode: CLOSE,
        ..RawFrame::text(vec![0x03, 0xE7]) // 999: not a code a peer may send
    };
    let split_text = [
        RawFrame {
            fin: false,
            ..RawFrame::text(b"{\"message\": \"ab\xC3".to_vec())
        },
        RawFrame {
            opcode: 0x0,
            ..RawFrame::text(b"(\"}".to_vec())
        },
    ];
    let violations: Vec<(&str, Vec<Vec<u8>>, u16)> = vec![
        ("an unmasked frame", vec![unmasked.encode()], 1002),
        ("a reserved bit", vec![rsv1.encode()], 1002),
        ("a reserved data opcode", vec![reserved_data.encode()], 1002),
        ("a reserved control opcode", vec![reserved_control.encode()], 1002),
        (
            "a continuation with nothing to continue",
            vec![stray_continuation.encode()],
            1002,
        ),
        ("a fragmented ping", vec![fragmented_ping.encode()], 1002),
        ("a ping over 125 bytes", vec![long_ping.encode()], 1002),
        (
            "a close with a code no peer may send",
            vec![bad_close_code.encode()],
            1002,
        ),
        (
            "a text frame that is not UTF-8",
            vec![RawFrame::text(b"{\"message\": \"\xFF\xFE\"}".to_vec()).encode()],
            1007,
        ),
        (
            "a fragmented text whose pieces are not UTF-8",
            split_text.iter().map(RawFrame::encode).collect(),
            1007,
        ),
        ("a frame of 100 MB", vec![header_only(100_000_000)], 1009),
    ];

    for (what, path) in sockets {
        // What is not a protocol violation keeps the socket open: bad JSON
        // and binary frames get the dialect's error frame, again and again.
        let mut ws = RawWs::connect(s.addr, &path)
            .await
            .unwrap_or_else(|st| panic!("{what}: {st}"));
        for bad in [&b"{not json"[..], b"[1, 2", b"\"just a string\"", b"{}"] {
            assert!(ws.send(&RawFrame::text(bad)).await);
            error_frame(what, &mut ws).await;
        }
        assert!(ws.send(&RawFrame::binary(vec![0, 159, 146, 150])).await);
        let e = error_frame(what, &mut ws).await;
        assert!(e.to_string().contains("binary"), "{what}: {e}");
        assert!(ws.send(&RawFrame::text("{oops")).await);
        error_frame(what, &mut ws).await;

        // A client's own clean close is answered, as RFC 6455 5.5.1 asks:
        // without the answer a browser reports 1006 for it.
        let mut ws = RawWs::connect(s.addr, &path).await.unwrap();
        let bye = RawFrame {
            opcode: CLOSE,
            ..RawFrame::text(b"\x03\xe8bye".to_vec())
        };
        ws.send(&bye).await;
        assert_eq!(
            ws.end().await,
            Seen::Close(Some(1000), "bye".into()),
            "{what}: a clean close"
        );

        for (violation, frames, code) in &violations {
            let mut ws = RawWs::connect(s.addr, &path).await.unwrap();
            for f in frames {
                ws.send_bytes(f).await;
            }
            match ws.end().await {
                Seen::Close(Some(got), reason) => {
                    assert_eq!(got, *code, "{what}, {violation}: {reason}");
                    assert!(!reason.is_empty(), "{what}, {violation}: a close says why");
                }
                other => panic!("{what}, {violation}: expected close {code}, got {other:?}"),
            }
        }
    }
    // The size limit is the dialect's own: the threads socket takes files.
    let mut ws = RawWs::connect(s.addr, &format!("/ws/chat/room/?token={}", a.token()))
        .await
        .unwrap();
    ws.send_bytes(&header_only(70_000)).await;
    assert!(
        matches!(ws.end().await, Seen::Close(Some(1009), _)),
        "over the threads socket's limit"
    );
}

#[tokio::test]
async fn client_id_reaches_only_the_sending_socket() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let room = a.room("talk").await;
    b.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let user_socket = |c: &Client| s.ws_url(&format!("/api/ws?token={}", c.token()));
    let mut sender = Ws::connect(&user_socket(&a)).await;
    let mut senders_other = Ws::connect(&user_socket(&a)).await;
    let mut senders_room =
        Ws::connect(&s.ws_url(&format!("/api/conversations/{room}/connect?token={}", a.token()))).await;
    let mut member = Ws::connect(&user_socket(&b)).await;
    let mut members_room =
        Ws::connect(&s.ws_url(&format!("/api/conversations/{room}/connect?token={}", b.token()))).await;

    sender
        .send(json!({"action": "send", "conversation_id": room, "message": "hello", "client_id": "c-1"}))
        .await;
    let ack = sender.next_action("message").await;
    assert_eq!(ack["client_id"], "c-1", "the sending socket's copy is its ack: {ack}");
    let id = ack["message"]["message_id"].clone();
    for (who, ws) in [
        ("the sender's other socket", &mut senders_other),
        ("the sender's conversation socket", &mut senders_room),
        ("another member's socket", &mut member),
        ("another member's conversation socket", &mut members_room),
    ] {
        let f = ws.next_action("message").await;
        assert_eq!(f["message"]["message_id"], id, "{who}");
        assert!(f.get("client_id").is_none(), "{who} sees no client_id: {f}");
    }

    // The same from a conversation socket.
    members_room
        .send(json!({"message": "from the room socket", "client_id": "r-9"}))
        .await;
    let ack = members_room.next_action("message").await;
    assert_eq!(ack["client_id"], "r-9");
    for (who, ws) in [
        ("the sender's user socket", &mut member),
        ("the other member's socket", &mut sender),
    ] {
        let f = ws.next_action("message").await;
        assert_eq!(f["message"]["message"], "from the room socket");
        assert!(f.get("client_id").is_none(), "{who} sees no client_id: {f}");
    }

    // Over HTTP the answer is the ack: no socket is shown the client_id.
    let (st, sent) = b
        .post(
            "/api/messages",
            json!({"conversation_id": room, "message": "over http", "client_id": "h-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{sent}");
    for ws in [
        &mut sender,
        &mut senders_other,
        &mut senders_room,
        &mut member,
        &mut members_room,
    ] {
        let mut f = ws.next_action("message").await;
        while f["message"]["message"] != "over http" {
            f = ws.next_action("message").await;
        }
        assert!(f.get("client_id").is_none(), "{f}");
    }
}

#[tokio::test]
async fn emails_are_shown_only_to_their_owner_and_admins() {
    let s = TestServer::start().await;
    let root = s.register("root").await; // the first account: the admin
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    for (c, email) in [
        (&root, "root@example.com"),
        (&alice, "alice@example.com"),
        (&bob, "bob@example.com"),
    ] {
        let (st, me) = c.patch("/api/users/me", json!({"email": email})).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(me["email"], email, "one's own email, back to oneself");
    }
    let (_, me) = root.get("/api/users/me").await;
    assert_eq!(me["role"], "admin");
    let d = alice.direct(&bob).await;
    alice.say(&d, "hello bob").await;
    bob.say(&d, "hello alice").await;

    let email_of = |name: &str| format!("{name}@example.com");
    // What `viewer` sees of `owner`'s email, in every place a user shows.
    // Each place keeps its `email` key (null when hidden): the seeds'
    // clients read it.
    async fn seen(viewer: &Client, owner: &Client) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let mut key = |place: &str, v: &Value| {
            let o = v.as_object().unwrap_or_else(|| panic!("{place}: {v}"));
            assert!(o.contains_key("email"), "{place} keeps its email key: {v}");
            out.push((place.to_owned(), v["email"].clone()));
        };
        let find = |list: &Value, field: &str, value: &str| -> Value {
            list.as_array()
                .unwrap_or_else(|| panic!("a list: {list}"))
                .iter()
                .find(|u| u[field] == value)
                .cloned()
                .unwrap_or_else(|| panic!("{value} in {list}"))
        };
        let (_, all) = viewer.get("/api/users").await;
        key("GET /api/users", &find(&all, "username", &owner.username));
        let (_, some) = viewer.get(&format!("/api/users?q={}", owner.username)).await;
        key("GET /api/users?q=", &find(&some, "username", &owner.username));
        let (_, one) = viewer.get(&format!("/api/users/{}", owner.user_id)).await;
        key("GET /api/users/{id}", &one);
        let (_, t) = viewer.get("/auth/users/").await;
        key("threads /auth/users/", &find(&t["entity"], "username", &owner.username));
        let (_, m) = viewer.get("/accounts/api/users/").await;
        key("messenger /accounts/api/users/", &find(&m, "username", &owner.username));
        let (_, p) = viewer
            .get(&format!("/profiles/api/search-user/?username={}", owner.username))
            .await;
        key("messenger search-user", &p);
        if viewer.user_id != owner.user_id {
            let (st, h) = viewer.get(&format!("/chat/messages/{}/", owner.user_id)).await;
            assert_eq!(st, StatusCode::OK);
            for m in h["entity"]["messages"].as_array().unwrap() {
                for side in ["sender", "receiver"] {
                    if m[side]["id"] == owner.user_id.as_str() {
                        key(&format!("threads message {side}"), &m[side]);
                    }
                }
            }
            let (_, threads) = viewer.get("/chat/get-user-threads/").await;
            for t in threads["entity"].as_array().unwrap() {
                for side in ["user_one", "user_two"] {
                    if t[side]["id"] == owner.user_id.as_str() {
                        key(&format!("threads thread {side}"), &t[side]);
                    }
                }
            }
        }
        out
    }

    // A member sees no one else's email (alice and bob even share a
    // conversation), the owner their own, an admin everyone's.
    for (viewer, owner, visible) in [
        (&bob, &alice, false),
        (&alice, &bob, false),
        (&alice, &root, false),
        (&alice, &alice, true),
        (&bob, &bob, true),
        (&root, &alice, true),
        (&root, &bob, true),
    ] {
        let places = seen(viewer, owner).await;
        assert!(places.len() >= 6, "{places:?}");
        if [viewer.username.as_str(), owner.username.as_str()] == ["alice", "bob"]
            || [viewer.username.as_str(), owner.username.as_str()] == ["bob", "alice"]
        {
            assert!(
                places.iter().any(|(p, _)| p.starts_with("threads message")),
                "the threads history shows {}: {places:?}",
                owner.username
            );
        }
        for (place, email) in places {
            let expected = if visible {
                json!(email_of(&owner.username))
            } else {
                Value::Null
            };
            assert_eq!(
                email, expected,
                "{place}: {} looking at {}",
                viewer.username, owner.username
            );
        }
    }

    // Made an admin, a member sees everyone's; made a member again, not.
    let (st, _) = root
        .patch(&format!("/api/admin/users/{}", alice.user_id), json!({"role": "admin"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(seen(&alice, &bob).await[0].1, json!("bob@example.com"));
    let (st, _) = root
        .patch(
            &format!("/api/admin/users/{}", alice.user_id),
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(seen(&alice, &bob).await[0].1, Value::Null);
}

#[tokio::test]
async fn a_token_whose_sub_and_uid_disagree_is_refused() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let secret = tokens::secret(&s);
    let mine = tokens::claims(a.token());
    let theirs = tokens::claims(b.token());
    let as_token = |claims: &Value| {
        let mut c = a.clone();
        c.token = Some(tokens::sign(&secret, claims));
        c
    };

    // Re-signed as it was, the token works: the forging is sound, so what
    // is refused below is refused for its claims.
    let same = as_token(&mine);
    let (st, me) = same.get("/api/users/me").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["username"], "alice");

    let mut uid_of_bob = mine.clone();
    uid_of_bob["uid"] = theirs["uid"].clone();
    let mut sub_of_bob = mine.clone();
    sub_of_bob["sub"] = theirs["sub"].clone();
    let mut nobody = mine.clone();
    nobody["uid"] = json!(987_654);
    for (what, claims) in [
        ("alice's sub with bob's uid", &uid_of_bob),
        ("bob's sub with alice's uid", &sub_of_bob),
        ("a uid no user has", &nobody),
    ] {
        let c = as_token(claims);
        let (st, e) = c.get("/api/users/me").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}: {e}");
        assert_eq!(e["error"]["message"], "invalid token", "{what}");
        let (st, e) = c.get("/profiles/api/profile/").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}, messenger: {e}");
        assert_eq!(e["code"], "token_not_valid");
        let (st, _) = c.get("/chat/get-user-threads/").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{what}, threads");
        let url = s.ws_url(&format!("/api/ws?token={}", c.token()));
        assert_eq!(Ws::refused(&url).await, 401, "{what}, socket");
    }
    // bob's own token still works, and says bob.
    let (st, me) = b.get("/api/users/me").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["username"], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_its_413_not_a_reset() {
    // The server refuses the body before it has all of it; unless it reads
    // the rest, the kernel resets the connection under the client, which
    // then sees no answer at all (this failed about one time in four).
    let s = TestServer::start_with(|c| {
        c.max_body_bytes = 8192;
        c.max_upload_bytes = 8192;
    })
    .await;
    let a = s.register("alice").await;
    let http = reqwest::Client::new();
    for (path, auth) in [
        ("/api/conversations", true),
        ("/login", false),
        ("/accounts/api/token/", false),
        ("/api/files?name=big.bin", true),
    ] {
        for size in [100_000, 1_000_000] {
            for _ in 0..15 {
                let mut req = http
                    .post(s.url(path))
                    .header("content-type", "application/json")
                    .body(format!("{{\"name\": \"{}\"}}", "x".repeat(size)));
                if auth {
                    req = req.bearer_auth(a.token());
                }
                let res = req
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{path}, {size} bytes: no answer: {e}"));
                assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
                let body: Value = res.json().await.expect("the whole answer");
                assert!(body.to_string().contains("limit"), "{path}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_refused_not_read_as_one() {
    // serde reads a struct from an array too: `["hi"]` was stored as the
    // message "hi" on a room socket, and an array was a valid body.
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let room = a.room("lobby").await;
    let uid = uid_of(&a);

    let (st, e) = a
        .send(
            a.http
                .post(s.url("/api/messages"))
                .header("content-type", "application/json")
                .body(format!(r#"["{room}", null, "from an array"]"#)),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("JSON object"), "{e}");
    for (path, body) in [
        ("/send_message", r#"["from an array"]"#),
        ("/accounts/api/token/", r#"["alice", "password1"]"#),
        ("/auth/login/", r#"["alice", "password1"]"#),
    ] {
        let (st, e) = a
            .send(
                a.http
                    .post(s.url(path))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {e}");
        assert!(e.to_string().contains("JSON object"), "{path}: {e}");
    }

    for (what, path, frame) in [
        (
            "native",
            format!("/api/ws?token={}", a.token()),
            format!(r#"["send", "{room}", "from an array"]"#),
        ),
        (
            "chatroom",
            format!("/ws/chat/lobby/{uid}?token={}", a.token()),
            r#"["from an array"]"#.to_owned(),
        ),
        (
            "messenger",
            format!("/messenger/ws/ws/chat/lobby/?token={}", a.token()),
            r#"["from an array"]"#.to_owned(),
        ),
        (
            "threads",
            format!("/ws/chat/room/?token={}", a.token()),
            r#"["chat_message", "x", null]"#.to_owned(),
        ),
    ] {
        let mut ws = RawWs::connect(s.addr, &path).await.unwrap();
        ws.send_text(&frame).await;
        let e = error_frame(what, &mut ws).await;
        assert!(e.to_string().contains("JSON object"), "{what}: {e}");
    }
    assert!(a.history(&room).await.is_empty(), "nothing was stored from an array");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_nobody_reads_costs_neither_the_answer_nor_the_connection() {
    // A body the server answers without reading (a refusal before the body
    // is looked at, a route that takes none): unless it is read anyway,
    // hyper closes the connection over it, and either this answer is lost
    // or the client's next request on the kept-alive connection fails
    // (about one time in four at 100 KB).
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let http = reqwest::Client::new();
    for (path, auth, status) in [
        ("/auth/users/", true, StatusCode::OK),
        ("/api/messages", false, StatusCode::UNAUTHORIZED),
        ("/no/such/route", false, StatusCode::NOT_FOUND),
        ("/api/health", false, StatusCode::METHOD_NOT_ALLOWED),
    ] {
        for size in [100_000, 2_000_000] {
            for _ in 0..12 {
                let mut req = http.post(s.url(path)).body("x".repeat(size));
                if auth {
                    req = req.bearer_auth(a.token());
                }
                let res = req
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{path}, {size} bytes: no answer: {e}"));
                assert_eq!(res.status(), status, "{path}");
                res.bytes().await.expect("the whole answer");
                // The next request, most likely on the same connection.
                let res = http
                    .get(s.url("/api/users/me"))
                    .bearer_auth(a.token())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("after {path}, {size} bytes: the next request failed: {e}"));
                assert_eq!(res.status(), StatusCode::OK);
            }
        }
    }
}

/// A browser's permessage-deflate offer (RFC 7692), as Chromium sends it.
const DEFLATE_OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

/// The extension as natter agrees to it, if the handshake's answer has it.
fn agreed_extension(handshake: &str) -> Option<String> {
    handshake.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim().to_owned())
    })
}

/// A native send frame, compressed.
fn compressed(payload: &[u8]) -> RawFrame {
    RawFrame {
        rsv: 0b100,
        ..RawFrame::text(common::raw_ws::deflate(payload))
    }
}

/// The next frame on `ws` with `action`, skipping others (presence).
async fn next_action(ws: &mut RawWs, action: &str) -> Value {
    loop {
        let f = ws.next_json().await;
        if f["action"] == action {
            return f;
        }
    }
}

#[tokio::test]
async fn sockets_that_offer_compression_get_it_and_chat_with_those_that_do_not() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;
    let long = |what: &str| format!("{what}: {}", "the quick brown fox jumps over the lazy dog ".repeat(8));

    let mut wa = RawWs::connect_with(s.addr, &format!("/api/ws?token={}", a.token()), DEFLATE_OFFER)
        .await
        .unwrap();
    assert_eq!(
        agreed_extension(&wa.handshake).as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        "{}",
        wa.handshake
    );
    // bob's client offers nothing and gets plain frames, as before.
    let mut wb = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", b.token()))).await;
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "natter_sockets_compressed 1"), "{metrics}");

    // A compressed message from alice, in one frame.
    let text = long("one frame");
    let send = json!({"action": "send", "conversation_id": d, "message": text, "client_id": "z-1"});
    assert!(wa.send(&compressed(send.to_string().as_bytes())).await);
    assert_eq!(wb.next_action("message").await["message"]["message"], text.as_str());
    let ack = next_action(&mut wa, "message").await;
    assert_eq!(
        (ack["client_id"].as_str(), ack["message"]["message"].as_str()),
        (Some("z-1"), Some(text.as_str()))
    );
    assert!(wa.last_compressed, "alice's ack is long enough to come compressed");

    // In two frames, with a ping between them (control frames may come
    // between a message's fragments, and are never compressed).
    let text = long("two frames");
    let send = json!({"action": "send", "conversation_id": d, "message": text});
    let z = common::raw_ws::deflate(send.to_string().as_bytes());
    let (first, rest) = z.split_at(z.len() / 2);
    let frames = [
        RawFrame {
            fin: false,
            ..compressed(b"")
        },
        RawFrame {
            opcode: PING,
            ..RawFrame::text("hi")
        },
        RawFrame {
            opcode: 0x0,
            ..RawFrame::text(rest)
        },
    ];
    let mut frames = frames.to_vec();
    frames[0].payload = first.to_vec();
    for f in &frames {
        assert!(wa.send(f).await);
    }
    assert_eq!(wb.next_action("message").await["message"]["message"], text.as_str());

    // Uncompressed frames still do on a socket that agreed to compression.
    let send = json!({"action": "send", "conversation_id": d, "message": "plain"});
    assert!(wa.send_text(&send.to_string()).await);
    assert_eq!(wb.next_action("message").await["message"]["message"], "plain");

    // bob's message reaches alice compressed.
    let text = long("from bob");
    b.say(&d, &text).await;
    loop {
        let f = next_action(&mut wa, "message").await;
        if f["message"]["message"] == text.as_str() {
            assert!(wa.last_compressed, "a long broadcast comes compressed");
            break;
        }
    }
    // A frame of a few bytes is not worth compressing.
    assert!(wa.send_text(r#"{"action": "ping"}"#).await);
    next_action(&mut wa, "pong").await;
    assert!(!wa.last_compressed, "a pong goes as it is");

    // Another dialect's socket: chatroom's room socket, with bob on a plain one.
    let (st, _) = a.post("/api/conversations", json!({"name": "lobby"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let room = |c: &Client| format!("/ws/chat/lobby/{}?token={}", uid_of(c), c.token());
    let mut ra = RawWs::connect_with(s.addr, &room(&a), DEFLATE_OFFER).await.unwrap();
    assert!(agreed_extension(&ra.handshake).is_some());
    let mut rb = Ws::connect(&s.ws_url(&room(&b))).await;
    let text = long("in the lobby");
    rb.send(json!({ "message": text })).await;
    loop {
        let f = ra.next_json().await;
        if f["message"] == text.as_str() {
            assert!(ra.last_compressed);
            break;
        }
    }

    // An offer natter cannot honour (a smaller window for its own frames)
    // is declined: the socket works without compression.
    let small_window = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n";
    let mut ws = RawWs::connect_with(s.addr, &format!("/api/ws?token={}", a.token()), small_window)
        .await
        .unwrap();
    assert_eq!(agreed_extension(&ws.handshake), None);
    b.say(&d, &long("to a plain socket")).await;
    next_action(&mut ws, "message").await;
    assert_eq!(ws.compressed, 0);
}

#[tokio::test]
async fn compressed_frames_that_break_the_rules_close_with_a_code_on_every_socket() {
    let (s, _alice, sockets) = small_limits_and_every_socket().await;

    // 200 KB that deflate to a few hundred bytes: over every socket's limit
    // once inflated (the threads socket's is ~70 KB here).
    let bomb = compressed(&vec![b' '; 200_000]);
    assert!(bomb.payload.len() < 1000);
    let corrupt = RawFrame {
        rsv: 0b100,
        ..RawFrame::text(vec![0xff; 16])
    };
    let z = common::raw_ws::deflate(br#"{"action": "ping"}"#);
    let rsv1_continuation = [
        RawFrame {
            fin: false,
            ..compressed(b"")
        },
        RawFrame {
            opcode: 0x0,
            rsv: 0b100,
            ..RawFrame::text(z[1..].to_vec())
        },
    ];
    let mut rsv1_continuation = rsv1_continuation.to_vec();
    rsv1_continuation[0].payload = z[..1].to_vec();
    let compressed_ping = RawFrame {
        opcode: PING,
        rsv: 0b100,
        ..RawFrame::text(common::raw_ws::deflate(b"hi"))
    };
    let violations: Vec<(&str, Vec<RawFrame>, u16)> = vec![
        ("a message that inflates past the limit", vec![bomb.clone()], 1009),
        ("compressed bytes that are not deflate", vec![corrupt], 1007),
        ("RSV1 on a continuation", rsv1_continuation, 1002),
        ("a compressed ping", vec![compressed_ping], 1002),
    ];
    for (what, path) in sockets {
        for (violation, frames, code) in &violations {
            let mut ws = RawWs::connect_with(s.addr, &path, DEFLATE_OFFER).await.unwrap();
            assert!(agreed_extension(&ws.handshake).is_some(), "{what}: compression agreed");
            for f in frames {
                ws.send(f).await;
            }
            match ws.end().await {
                Seen::Close(Some(got), reason) => {
                    assert_eq!(got, *code, "{what}, {violation}: {reason}");
                    assert!(!reason.is_empty(), "{what}, {violation}: a close says why");
                }
                other => panic!("{what}, {violation}: expected close {code}, got {other:?}"),
            }
        }
        // A compressed message within the limit works on the same socket kind.
        let mut ws = RawWs::connect_with(s.addr, &path, DEFLATE_OFFER).await.unwrap();
        ws.send(&compressed(b"{not json")).await;
        error_frame(what, &mut ws).await;
    }

    // With --ws-deflate false nothing is agreed, and RSV1 is the protocol
    // error it is without an extension.
    let s = TestServer::start_with(|c| c.ws_deflate = false).await;
    let a = s.register("alice").await;
    let mut ws = RawWs::connect_with(s.addr, &format!("/api/ws?token={}", a.token()), DEFLATE_OFFER)
        .await
        .unwrap();
    assert_eq!(agreed_extension(&ws.handshake), None);
    ws.send(&compressed(br#"{"action": "ping"}"#)).await;
    assert!(matches!(ws.end().await, Seen::Close(Some(1002), _)));
}
