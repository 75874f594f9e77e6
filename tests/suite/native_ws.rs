//! Native sockets: the user socket and the conversation socket, live.

use crate::common;

use std::collections::HashSet;

use common::{TestServer, Ws};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn user_socket(s: &TestServer, token: &str) -> String {
    s.ws_url(&format!("/api/ws?token={token}"))
}

#[tokio::test]
async fn two_users_chat_live_on_the_user_socket() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;
    let mut wa = Ws::connect(&user_socket(&s, a.token())).await;
    let mut wb = Ws::connect(&user_socket(&s, b.token())).await;

    wa.send(json!({"action": "send", "conversation_id": d, "message": "hi bob", "client_id": "c-1"}))
        .await;
    let got = wb.next_action("message").await;
    assert_eq!(got["message"]["message"], "hi bob");
    assert_eq!(got["message"]["sender_id"], a.user_id.as_str());
    assert_eq!(got["message"]["conversation_id"], d.as_str());
    // The sender's own copy carries its client_id: that is the ack.
    let ack = wa.next_action("message").await;
    assert_eq!(ack["client_id"], "c-1");
    assert_eq!(ack["message"]["message_id"], got["message"]["message_id"]);

    // HTTP sends reach sockets too.
    b.say(&d, "hi alice").await;
    let got = wa.next_action("message").await;
    assert_eq!(got["message"]["message"], "hi alice");
    assert_eq!(got["message"]["sender_username"], "bob");

    // And both are in the history, in order.
    let hist = a.history(&d).await;
    let texts: Vec<&str> = hist.iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hi bob", "hi alice"]);
}

#[tokio::test]
async fn the_conversation_socket() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let room = a.room("talk").await;
    b.post(&format!("/api/rooms/{room}/join"), json!({})).await;

    // The seed's POST answers where the socket is.
    let (st, info) = a.post(&format!("/api/conversations/{room}/connect"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["status"], "WebSocket connected");
    assert_eq!(info["conversation_id"], room.as_str());
    let ws_url = info["ws_url"].as_str().unwrap();
    assert!(ws_url.starts_with("ws://") && ws_url.ends_with(&format!("/api/conversations/{room}/connect")));

    let mut ca = Ws::connect(&format!("{ws_url}?token={}", a.token())).await;
    let mut cb = Ws::connect(&s.ws_url(&format!("/api/conversations/{room}/connect?token={}", b.token()))).await;
    let mut ub = Ws::connect(&user_socket(&s, b.token())).await;
    ca.send(json!({"message": "hello everyone"})).await;
    for ws in [&mut ca, &mut cb, &mut ub] {
        let m = ws.next_action("message").await;
        assert_eq!(m["message"]["message"], "hello everyone");
    }

    // A conversation socket only hears its conversation.
    let other = b.room("other").await;
    b.say(&other, "elsewhere").await;
    assert_eq!(ub.next_action("message").await["message"]["message"], "elsewhere");
    assert!(cb.drain().await.iter().all(|f| f["action"] != "message"));
    // And it only sends into it.
    cb.send(json!({"action": "send", "conversation_id": other, "message": "x"}))
        .await;
    let e = cb.next_action("error").await;
    assert!(e["message"].as_str().unwrap().contains("bound to conversation"), "{e}");

    // A plain GET is not a socket.
    let (st, e) = a.get(&format!("/api/conversations/{room}/connect")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
}

#[tokio::test]
async fn a_third_user_is_refused_everywhere() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carl").await;
    let d = a.direct(&b).await;
    let room = a.room("private-ish").await;

    assert_eq!(Ws::refused(&s.ws_url("/api/ws")).await, 401);
    assert_eq!(Ws::refused(&s.ws_url("/api/ws?token=garbage")).await, 401);
    assert_eq!(
        Ws::refused(&s.ws_url(&format!("/api/conversations/{d}/connect?token={}", c.token()))).await,
        404
    );
    assert_eq!(
        Ws::refused(&s.ws_url(&format!("/api/conversations/{room}/connect?token={}", c.token()))).await,
        403
    );
    assert_eq!(
        c.post(&format!("/api/conversations/{d}/connect"), json!({})).await.0,
        StatusCode::NOT_FOUND
    );

    let mut wc = Ws::connect(&user_socket(&s, c.token())).await;
    a.say(&d, "just us").await;
    a.say(&room, "members only").await;
    wc.send(json!({"action": "send", "conversation_id": d, "message": "sneaky", "client_id": "x"}))
        .await;
    let e = wc.next_action("error").await;
    assert_eq!(e["code"], "not_found");
    assert_eq!(e["client_id"], "x");
    wc.send(json!({"action": "typing", "conversation_id": d})).await;
    assert_eq!(wc.next_action("error").await["code"], "not_found");
    let seen = wc.drain().await;
    assert!(seen.iter().all(|f| f["action"] != "message"), "carl saw: {seen:?}");
    assert_eq!(a.history(&d).await.len(), 1, "nothing of carl's was stored");
}

#[tokio::test]
async fn resume_with_since_has_no_gap_and_no_duplicate() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;
    let room = a.room("busy").await;
    b.post(&format!("/api/rooms/{room}/join"), json!({})).await;

    let mut wb = Ws::connect(&user_socket(&s, b.token())).await;
    a.say(&d, "before").await;
    let last = wb.next_action("message").await["message"]["message_id"]
        .as_i64()
        .unwrap();
    drop(wb);

    let mut sent = Vec::new();
    for i in 0..30 {
        let conv = if i % 2 == 0 { &d } else { &room };
        sent.push(a.say(conv, &format!("away {i}")).await["message_id"].as_i64().unwrap());
    }
    let mut wb = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={last}", b.token()))).await;
    let mut got = Vec::new();
    while got.len() < 30 {
        got.push(
            wb.next_action("message").await["message"]["message_id"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(got, sent, "every missed message once, in order");
    a.say(&d, "live again").await;
    let live = wb.next_action("message").await;
    assert_eq!(live["message"]["message"], "live again");
    assert!(
        wb.drain().await.iter().all(|f| f["action"] != "message"),
        "no duplicates after"
    );

    // since=0 replays everything, across pages.
    let mut all = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since=0", b.token()))).await;
    let mut n = 0;
    let mut prev = 0;
    while n < 32 {
        let id = all.next_action("message").await["message"]["message_id"]
            .as_i64()
            .unwrap();
        assert!(id > prev);
        prev = id;
        n += 1;
    }
    assert_eq!(
        Ws::refused(&s.ws_url(&format!("/api/ws?token={}&since=soon", b.token()))).await,
        400
    );
}

#[tokio::test]
async fn resume_while_messages_keep_arriving() {
    // Messages are sent during the replay: each must arrive exactly once.
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;
    for i in 0..1500 {
        if i % 500 == 0 {
            tokio::task::yield_now().await;
        }
        a.say(&d, &format!("old {i}")).await;
    }
    let sender = {
        let a = a.clone();
        let d = d.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                a.say(&d, &format!("new {i}")).await;
            }
        })
    };
    let mut wb = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since=0", b.token()))).await;
    let mut ids = Vec::new();
    while ids.len() < 1600 {
        ids.push(
            wb.next_action("message").await["message"]["message_id"]
                .as_i64()
                .unwrap(),
        );
    }
    sender.await.unwrap();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing, so no duplicates"
    );
    assert!(wb.drain().await.iter().all(|f| f["action"] != "message"));
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_socket_stays_open() {
    let s = TestServer::start_with(|c| c.max_message_bytes = 50).await;
    let a = s.register("alice").await;
    let room = a.room("frames").await;
    let mut w = Ws::connect(&user_socket(&s, a.token())).await;
    w.send_text("this is not json").await;
    let e = w.next().await;
    assert_eq!(e["action"], "error");
    assert_eq!(e["code"], "invalid");
    assert!(e["message"].as_str().unwrap().contains("malformed frame"), "{e}");
    w.send(json!({"action": "dance"})).await;
    assert!(
        w.next().await["message"]
            .as_str()
            .unwrap()
            .contains("unknown action `dance`")
    );
    w.send(json!({"hello": 1})).await;
    assert!(w.next().await["message"].as_str().unwrap().contains("no action"));
    w.send(json!({"action": "send", "message": "no conversation"})).await;
    assert!(
        w.next().await["message"]
            .as_str()
            .unwrap()
            .contains("conversation_id is required")
    );
    w.send(json!({"action": "send", "conversation_id": room, "message": "x".repeat(51), "client_id": "big"}))
        .await;
    let e = w.next().await;
    assert_eq!(e["code"], "too_large");
    assert_eq!(e["client_id"], "big");
    w.send(json!({"action": "read", "conversation_id": room})).await;
    assert!(w.next().await["message"].as_str().unwrap().contains("message_id"));
    w.stream.send_binary().await;
    assert!(w.next().await["message"].as_str().unwrap().contains("binary"));
    w.send(json!({"action": "ping"})).await;
    assert_eq!(w.next().await["action"], "pong");
    assert_eq!(a.history(&room).await.len(), 0);
}

trait SendBinary {
    async fn send_binary(&mut self);
}

impl<S: futures_util::Sink<Message> + Unpin> SendBinary for S
where
    S::Error: std::fmt::Debug,
{
    async fn send_binary(&mut self) {
        use futures_util::SinkExt;
        self.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    }
}

#[tokio::test]
async fn oversized_frames_close_the_socket() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 1024).await;
    let a = s.register("alice").await;
    let mut w = Ws::connect(&user_socket(&s, a.token())).await;
    w.send_text(&"x".repeat(5000)).await;
    let closed = w.closed().await;
    assert_eq!(closed.map(|(code, _)| code), Some(1009), "message too big");
}

#[tokio::test]
async fn typing_read_edit_delete_and_presence_events() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;
    let mut wa = Ws::connect(&user_socket(&s, a.token())).await;
    let mut wb = Ws::connect(&user_socket(&s, b.token())).await;
    // Alice was online first, so she hears bob come online.
    let p = wa.next_action("presence").await;
    assert_eq!(p["user_id"], b.user_id.as_str());
    assert_eq!(p["online"], true);
    let (_, users) = a.get("/api/users/").await;
    assert!(users.as_array().unwrap().iter().all(|u| u["online"] == true), "{users}");

    wa.send(json!({"action": "typing", "conversation_id": d})).await;
    let t = wb.next_action("typing").await;
    assert_eq!(t["user_id"], a.user_id.as_str());
    assert_eq!(t["username"], "alice");
    assert_eq!(t["conversation_id"], d.as_str());

    let m = a.say(&d, "read me").await;
    let id = m["message_id"].as_i64().unwrap();
    assert_eq!(wb.next_action("message").await["message"]["message_id"], id);
    wb.send(json!({"action": "read", "conversation_id": d, "message_id": id}))
        .await;
    let r = wa.next_action("read").await;
    assert_eq!(r["user_id"], b.user_id.as_str());
    assert_eq!(r["message_id"], id);

    a.patch(&format!("/api/messages/{id}"), json!({"message": "read me, edited"}))
        .await;
    let u = wb.next_action("message_updated").await;
    assert_eq!(u["message"]["message"], "read me, edited");
    assert_eq!(u["message"]["edited"], true);
    a.delete(&format!("/api/messages/{id}")).await;
    let del = wb.next_action("message_deleted").await;
    assert_eq!(del["message"]["message_id"], id);
    assert_eq!(del["message"]["deleted"], true);

    drop(wb);
    let p = wa.next_action("presence").await;
    assert_eq!(p["user_id"], b.user_id.as_str());
    assert_eq!(p["online"], false);
}

#[tokio::test]
async fn presence_goes_through_small_conversations_only() {
    // Rooms of more than 3 members carry no presence here (the default is 1000).
    let s = TestServer::start_with(|c| c.presence_max_members = 3).await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let c = s.register("carol").await;
    let d = s.register("dave").await;
    let e = s.register("erin").await;
    let big = a.room("big").await;
    for u in [&b, &c, &d] {
        let (st, body) = u.post(&format!("/api/rooms/{big}/join"), json!({})).await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    let small = c.room("small").await;
    let (st, body) = a.post(&format!("/api/rooms/{small}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    a.direct(&e).await;

    let mut wa = Ws::connect(&user_socket(&s, a.token())).await;
    // bob shares only the big room with alice; carol the big and a small
    // one; erin a direct conversation.
    let _wb = Ws::connect(&user_socket(&s, b.token())).await;
    let _wc = Ws::connect(&user_socket(&s, c.token())).await;
    let we = Ws::connect(&user_socket(&s, e.token())).await;
    let mut heard = HashSet::new();
    while heard.len() < 2 {
        let p = wa.next_action("presence").await;
        assert_eq!(p["online"], true, "{p}");
        assert!(
            heard.insert(p["user_id"].as_str().unwrap().to_owned()),
            "announced twice: {p}"
        );
    }
    assert_eq!(heard, HashSet::from([c.user_id.clone(), e.user_id.clone()]));
    // Every batch is out well within this; then nothing else came (bob's
    // presence would have gone out with carol's or erin's).
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let rest = wa.drain().await;
    assert!(rest.iter().all(|f| f["action"] != "presence"), "{rest:?}");
    // Who is online is still true everywhere else.
    let (_, users) = a.get("/api/users/").await;
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob["online"], true, "{users}");

    drop(we);
    let p = wa.next_action("presence").await;
    assert_eq!(
        (p["user_id"].as_str(), &p["online"]),
        (Some(e.user_id.as_str()), &json!(false))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_sends_from_twenty_sockets() {
    let s = TestServer::start().await;
    let owner = s.register("owner").await;
    let room = owner.room("crowd").await;
    let mut users = Vec::new();
    for i in 0..20 {
        let u = s.register(&format!("user{i:02}")).await;
        u.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        users.push(u);
    }
    let mut sockets = Vec::new();
    for u in &users {
        sockets.push(Ws::connect(&user_socket(&s, u.token())).await);
    }
    // Every socket fires its 10 sends at once, then reads all 200 messages.
    let mut tasks = Vec::new();
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                ws.send(json!({"action": "send", "conversation_id": room, "message": format!("{i}:{j}"), "client_id": format!("{i}:{j}")}))
                    .await;
            }
            let mut got: Vec<Value> = Vec::new();
            while got.len() < 200 {
                got.push(ws.next_action("message").await);
            }
            got
        }));
    }
    let mut per_socket = Vec::new();
    for t in tasks {
        per_socket.push(t.await.unwrap());
    }
    let reference: Vec<i64> = per_socket[0]
        .iter()
        .map(|m| m["message"]["message_id"].as_i64().unwrap())
        .collect();
    assert!(reference.windows(2).all(|w| w[0] < w[1]), "delivered in id order");
    for (i, got) in per_socket.iter().enumerate() {
        let ids: Vec<i64> = got
            .iter()
            .map(|m| m["message"]["message_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, reference, "socket {i} saw the same 200 messages in the same order");
        // Each socket's own ten came back as acks, in the order sent.
        let acks: Vec<&str> = got
            .iter()
            .filter(|m| m["message"]["sender_username"] == format!("user{i:02}"))
            .map(|m| m["client_id"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..10).map(|j| format!("{i}:{j}")).collect();
        assert_eq!(acks, expected);
    }
    let hist = owner.history(&room).await;
    assert_eq!(hist.len(), 200, "stored exactly once each");
    let texts: HashSet<&str> = hist.iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_cut_off_and_resumes_without_loss() {
    let s = TestServer::start_with(|c| c.socket_queue = 8).await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;

    // Bob's socket reads nothing, through a tiny receive buffer.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&s.addr.into()).unwrap();
    sock.set_nonblocking(true).unwrap();
    let tcp = tokio::net::TcpStream::from_std(sock.into()).unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(user_socket(&s, b.token()), tcp)
        .await
        .unwrap();
    // Alice's socket keeps reading, and must not be held back by bob.
    let mut watcher = Ws::connect(&user_socket(&s, a.token())).await;
    let watching = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < 700 {
            seen.push(
                watcher.next_action("message").await["message"]["message_id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        seen
    });

    let body = "z".repeat(16 * 1024 - 1);
    let mut ids = Vec::new();
    for _ in 0..700 {
        ids.push(a.say(&d, &body).await["message_id"].as_i64().unwrap());
    }
    assert_eq!(watching.await.unwrap(), ids, "the reading socket got every message");
    // Bob reads what reached him, then the close: 1013, try again.
    let mut got = Vec::new();
    let close = loop {
        match slow.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["action"] == "message" {
                    got.push(v["message"]["message_id"].as_i64().unwrap());
                }
            }
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => {}
            other => panic!("socket ended without a close frame: {other:?}"),
        }
    };
    let close = close.expect("close frame");
    assert_eq!(u16::from(close.code), 1013, "{close:?}");
    assert!(close.reason.contains("since"));
    assert!(got.len() < ids.len(), "bob was cut off before the end");
    assert_eq!(got[..], ids[..got.len()], "what arrived arrived in order");
    // Resuming from the last id received delivers the rest: nothing lost.
    let mut again = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={}", b.token(), got.last().unwrap()))).await;
    for id in &ids[got.len()..] {
        assert_eq!(again.next_action("message").await["message"]["message_id"], *id);
    }
}

#[tokio::test]
async fn joining_and_leaving_take_effect_on_the_next_message() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let room = a.room("doors").await;
    let mut wb = Ws::connect(&user_socket(&s, b.token())).await;
    // Warm everything up with bob outside.
    a.say(&room, "before bob").await;
    b.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    a.say(&room, "bob is in").await;
    assert_eq!(wb.next_action("message").await["message"]["message"], "bob is in");
    b.delete(&format!("/api/conversations/{room}/members/me")).await;
    a.say(&room, "bob left").await;
    // Events go out in commit order (an HTTP send is answered before its
    // fan-out): a message after it that bob does hear comes after it, if
    // it comes at all.
    let mine = b.room("bobs-own").await;
    b.say(&mine, "after").await;
    loop {
        let f = wb.next_action("message").await;
        assert_ne!(f["message"]["message"], "bob left", "nothing after leaving");
        if f["message"]["message"] == "after" {
            break;
        }
    }
    // And he cannot send into it any more, on the socket either.
    wb.send(json!({"action": "send", "conversation_id": room, "message": "still here?", "client_id": "x"}))
        .await;
    assert_eq!(wb.next_action("error").await["code"], "forbidden");
    b.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    a.say(&room, "welcome back").await;
    assert_eq!(wb.next_action("message").await["message"]["message"], "welcome back");
}

#[tokio::test]
async fn logging_out_closes_that_sessions_sockets_at_once() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let other = common::login(&s, "alice").await;
    let mut mine = Ws::connect(&user_socket(&s, a.token())).await;
    let mut room = Ws::connect(&s.ws_url(&format!(
        "/api/conversations/{}/connect?token={}",
        a.room("r").await,
        a.token()
    )))
    .await;
    let mut theirs = Ws::connect(&user_socket(&s, other.token())).await;
    assert_eq!(a.post("/api/auth/logout", json!({})).await.0, StatusCode::NO_CONTENT);
    for ws in [&mut mine, &mut room] {
        let (code, reason) = ws.closed().await.expect("a close frame");
        assert_eq!(code, 1008, "{reason}");
        assert!(reason.contains("session ended"), "{reason}");
    }
    // The other session's socket is untouched.
    theirs.send(json!({"action": "ping"})).await;
    assert_eq!(theirs.next().await["action"], "pong");
}

#[tokio::test]
async fn a_stolen_refresh_token_and_a_new_password_end_sockets_too() {
    let s = TestServer::start_with(|c| c.refresh_reuse_grace = std::time::Duration::ZERO).await;
    let a = s.register("alice").await;
    let mut ws = Ws::connect(&user_socket(&s, a.token())).await;
    let anon = s.anonymous();
    assert_eq!(
        anon.post("/api/auth/refresh", json!({"refresh_token": a.refresh}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        anon.post("/api/auth/refresh", json!({"refresh_token": a.refresh}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ws.closed().await.map(|(c, _)| c),
        Some(1008),
        "reuse revoked the session and its socket"
    );

    // A password change ends every other session, sockets included.
    let me = common::login(&s, "alice").await;
    let thief = common::login(&s, "alice").await;
    let mut thief_ws = Ws::connect(&user_socket(&s, thief.token())).await;
    let mut my_ws = Ws::connect(&user_socket(&s, me.token())).await;
    let (st, _) = me
        .patch(
            "/api/users/me",
            json!({"password": "brand-new-pass", "old_password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(thief_ws.closed().await.map(|(c, _)| c), Some(1008));
    assert_eq!(thief.get("/api/users/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anon.post("/api/auth/refresh", json!({"refresh_token": thief.refresh}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me.get("/api/users/me").await.0,
        StatusCode::OK,
        "the session that changed it stays"
    );
    my_ws.send(json!({"action": "ping"})).await;
    assert_eq!(my_ws.next().await["action"], "pong");
}

#[tokio::test]
async fn a_socket_does_not_outlive_its_token() {
    let s = TestServer::start_with(|c| c.access_ttl = std::time::Duration::from_secs(1)).await;
    let a = s.register("alice").await;
    let mut ws = Ws::connect(&user_socket(&s, a.token())).await;
    // JWT expiry has one-second resolution: wait it out for real.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    ws.send(json!({"action": "ping"})).await;
    let (code, reason) = ws.closed().await.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("token expired"), "{reason}");
}

/// A socket whose handshake was answered hears every message sent after
/// it: natter joins the hub before the 101 goes out, so a send right after
/// the handshake (here over HTTP, before the socket has read anything) is
/// never in a gap between the two. On PostgreSQL with the bus that gap
/// once held a database read.
#[tokio::test]
async fn a_socket_hears_what_is_sent_right_after_its_handshake() {
    let s = TestServer::start().await;
    let a = s.register("alice").await;
    let b = s.register("bob").await;
    let d = a.direct(&b).await;
    for i in 0..100 {
        let mut wb = Ws::connect(&user_socket(&s, b.token())).await;
        let text = format!("right away {i}");
        a.say(&d, &text).await;
        let got = wb.next_action("message").await;
        assert_eq!(got["message"]["message"], text.as_str(), "round {i}");
    }
}
