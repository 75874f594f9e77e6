//! The AI agent (seed 002's `is_ai`), through the real server, against a
//! scripted OpenAI-compatible backend (`common::fake_ai`): streaming,
//! context, queueing, every failure, resume mid-reply, the agent in every
//! dialect, the rate limit, and a reply cut short by a shutdown.

use crate::common;

use std::time::Duration;

use common::fake_ai::{FakeAi, Step, nowhere};
use common::{Client, TestServer, Ws, post_form};
use natter::config::Secret;
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str = "sk-test-0123456789";

async fn with_agent(url: &str, tweak: impl FnOnce(&mut natter::Config)) -> TestServer {
    let url = url.to_owned();
    TestServer::start_with(move |c| {
        c.ai.ai_url = Some(url);
        c.ai.ai_model = "smol".into();
        c.ai.ai_key = Some(Secret(KEY.into()));
        c.ai.ai_requests_per_minute = 0;
        tweak(c);
    })
    .await
}

/// The caller's conversation with the agent.
async fn ai_chat(c: &Client) -> String {
    let (st, b) = c.post("/api/conversations", json!({"is_ai": true})).await;
    assert!(st == StatusCode::CREATED || st == StatusCode::OK, "{st} {b}");
    assert_eq!(b["kind"], "ai");
    assert_eq!(b["is_ai"], true);
    b["conversation_id"].as_str().unwrap().to_owned()
}

async fn user_socket(s: &TestServer, c: &Client) -> Ws {
    Ws::connect(&s.ws_url(&format!("/api/ws?token={}", c.token()))).await
}

/// The next frame that is not presence, typing or a read mark.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let f = ws.next().await;
        if !matches!(f["action"].as_str(), Some("presence" | "typing" | "read")) {
            return f;
        }
    }
}

/// Frames up to and including the agent's stored reply (a `message` from the agent).
async fn until_reply(ws: &mut Ws) -> (Vec<Value>, Value) {
    let mut before = Vec::new();
    loop {
        let f = next(ws).await;
        if f["action"] == "message" && f["reply_id"].is_string() {
            return (before, f);
        }
        before.push(f);
    }
}

async fn send(ws: &mut Ws, conv: &str, text: &str) -> i64 {
    ws.send(json!({"action": "send", "conversation_id": conv, "message": text, "client_id": text}))
        .await;
    loop {
        let f = next(ws).await;
        if f["action"] == "message" && f["client_id"] == text {
            return f["message"]["message_id"].as_i64().unwrap();
        }
        assert_ne!(f["action"], "error", "{f}");
    }
}

#[tokio::test]
async fn a_reply_streams_in_and_is_stored() {
    let ai = FakeAi::start().await;
    ai.then(Step::slow(&["Hel", "lo ", "there", "!"], Duration::from_millis(80)));
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;

    // The server says it has an agent; the agent is a user marked as a bot.
    let (_, info) = alice.get("/api/server").await;
    assert_eq!(info["ai_agent"]["username"], "assistant");
    assert_eq!(info["ai_agent"]["name"], "Assistant");
    let agent_id = info["ai_agent"]["user_id"].as_str().unwrap().to_owned();
    let (_, agent) = alice.get(&format!("/api/users/{agent_id}")).await;
    assert_eq!(agent["is_bot"], true, "{agent}");
    let (_, me) = alice.get("/api/users/me").await;
    assert_eq!(me["is_bot"], false);

    let conv = ai_chat(&alice).await;
    // One AI conversation per person, like a direct one.
    let (st, again) = alice.post("/api/conversations", json!({"is_ai": true})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again["conversation_id"], conv.as_str());
    let participants = again["participants"].as_array().unwrap();
    assert!(
        participants
            .iter()
            .any(|p| p["user_id"] == agent_id.as_str() && p["is_bot"] == true),
        "{again}"
    );

    let mut ws = user_socket(&s, &alice).await;
    let asked = send(&mut ws, &conv, "hi there").await;
    let (progress, reply) = until_reply(&mut ws).await;
    // thinking…, then the text as it grows, all under one reply id.
    assert_eq!(progress[0]["action"], "message_delta", "{progress:?}");
    assert_eq!(progress[0]["state"], "thinking");
    assert_eq!(progress[0]["text"], "");
    assert_eq!(progress[0]["user_id"], agent_id.as_str());
    let reply_id = progress[0]["reply_id"].as_str().unwrap();
    let streamed: Vec<&Value> = progress.iter().filter(|f| f["state"] == "streaming").collect();
    assert!(streamed.len() >= 2, "the reply arrives in pieces: {progress:?}");
    let mut so_far = String::new();
    for f in &streamed {
        assert_eq!(f["reply_id"], reply_id);
        assert_eq!(f["conversation_id"], conv.as_str());
        so_far.push_str(f["delta"].as_str().unwrap());
        assert_eq!(f["text"], so_far.as_str(), "text is the reply so far");
    }
    assert_eq!(reply["reply_id"], reply_id);
    let m = &reply["message"];
    assert_eq!(m["message"], "Hello there!");
    assert_eq!(m["sender_id"], agent_id.as_str());
    assert_eq!(m["reply_to"], asked);
    assert!(m.get("incomplete").is_none(), "{m}");

    // Stored, in order, for everyone who reads the history.
    let history = alice.history(&conv).await;
    let texts: Vec<&str> = history.iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hi there", "Hello there!"]);

    // What the backend was sent: the system prompt, the message, streaming, the key.
    let req = &ai.requests()[0];
    assert_eq!(req["model"], "smol");
    assert_eq!(req["stream"], true);
    assert_eq!(req["max_tokens"], 1024);
    assert_eq!(req["messages"][0]["role"], "system");
    assert_eq!(req["messages"][1], json!({"role": "user", "content": "hi there"}));
    assert_eq!(ai.authorization()[0].as_deref(), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test]
async fn the_context_is_the_system_prompt_and_the_latest_messages() {
    let ai = FakeAi::start().await;
    let s = with_agent(&ai.url, |c| {
        c.ai.ai_context_messages = 3;
        c.ai.ai_system_prompt = "Be terse.".into();
    })
    .await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        ai.then(Step::reply(&[&format!("answer {}", i + 1)]));
        send(&mut ws, &conv, text).await;
        until_reply(&mut ws).await;
    }
    let last = &ai.requests()[2];
    assert_eq!(
        last["messages"],
        json!([
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "answer 2"},
            {"role": "user", "content": "three"},
        ]),
        "the prompt, then the newest 3 messages, the agent's as the assistant's"
    );
}

#[tokio::test]
async fn messages_sent_during_a_reply_are_answered_after_it_in_order() {
    let ai = FakeAi::start().await;
    let (first, gate) = Step::gated(&["first "], &["answer"]);
    ai.then(first)
        .then(Step::reply(&["second answer"]))
        .then(Step::reply(&["third answer"]));
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    let m1 = send(&mut ws, &conv, "q1").await;
    ai.wait_for_requests(1).await;
    let m2 = send(&mut ws, &conv, "q2").await;
    let m3 = send(&mut ws, &conv, "q3").await;
    // Still one request: the next waits for the reply in progress.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ai.requests().len(), 1);
    gate.notify_one();
    let mut answered = Vec::new();
    for _ in 0..3 {
        let (_, reply) = until_reply(&mut ws).await;
        answered.push((
            reply["message"]["reply_to"].as_i64().unwrap(),
            reply["message"]["message"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        answered,
        [
            (m1, "first answer".to_owned()),
            (m2, "second answer".to_owned()),
            (m3, "third answer".to_owned())
        ]
    );
    assert_eq!(ai.most_at_once(), 1, "one reply at a time per conversation");
    // Each answer saw the conversation up to its question, not later ones.
    let second = &ai.requests()[1]["messages"];
    let contents: Vec<&str> = second
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["q1", "first answer", "q2"]);
}

/// Run one failing reply; return the error frame and the stored reply.
async fn failing(step: Option<Step>, tweak: impl FnOnce(&mut natter::Config)) -> (Value, Value, Vec<Value>) {
    let ai = FakeAi::start().await;
    let url = match step {
        Some(step) => {
            ai.then(step);
            ai.url.clone()
        }
        None => nowhere().await,
    };
    let s = with_agent(&url, tweak).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    send(&mut ws, &conv, "are you there?").await;
    let (frames, reply) = until_reply(&mut ws).await;
    let error = frames
        .iter()
        .find(|f| f["action"] == "error")
        .cloned()
        .unwrap_or_else(|| panic!("no error frame before the reply: {frames:?}"));
    assert_eq!(error["conversation_id"], conv.as_str());
    assert_eq!(error["reply_id"], reply["reply_id"]);
    // The server is still up and the conversation still works.
    let (st, _) = alice.get("/api/health").await;
    assert_eq!(st, StatusCode::OK);
    let history = alice.history(&conv).await;
    assert_eq!(history.len(), 2);
    (error, reply["message"].clone(), history)
}

#[tokio::test]
async fn a_backend_that_is_down_is_named_and_noted() {
    let (error, reply, _) = failing(None, |_| {}).await;
    assert_eq!(error["code"], "ai_unreachable");
    assert!(
        error["message"].as_str().unwrap().contains("could not be reached"),
        "{error}"
    );
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .starts_with("I could not answer: the AI backend could not be reached")
    );
    assert_eq!(reply["incomplete"], true);
}

#[tokio::test]
async fn a_backend_error_status_is_named_without_the_key() {
    let body = format!(r#"{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}"#);
    let (error, reply, _) = failing(Some(Step::Status(401, body)), |_| {}).await;
    assert_eq!(error["code"], "ai_error");
    let text = error["message"].as_str().unwrap();
    assert!(
        text.contains("HTTP status 401") && text.contains("Incorrect API key"),
        "{text}"
    );
    assert!(
        !text.contains(KEY) && !reply.to_string().contains(KEY),
        "the key never shows: {text}"
    );
    assert_eq!(reply["incomplete"], true);
}

#[tokio::test]
async fn a_silent_backend_times_out() {
    let (error, reply, _) = failing(Some(Step::Hang), |c| c.ai.ai_timeout = Duration::from_secs(1)).await;
    assert_eq!(error["code"], "ai_timeout");
    assert!(error["message"].as_str().unwrap().contains("within 1 s"), "{error}");
    assert_eq!(reply["incomplete"], true);
}

#[tokio::test]
async fn a_malformed_stream_is_refused() {
    let (error, reply, _) = failing(Some(Step::Malformed), |_| {}).await;
    assert_eq!(error["code"], "ai_bad_stream");
    assert!(reply["message"].as_str().unwrap().contains("not valid JSON"), "{reply}");
}

#[tokio::test]
async fn a_truncated_stream_keeps_what_arrived() {
    let step = Step::Truncated(vec!["The answer ".into(), "is".into()]);
    let (error, reply, history) = failing(Some(step), |_| {}).await;
    assert_eq!(error["code"], "ai_bad_stream");
    assert!(error["message"].as_str().unwrap().contains("ended before"), "{error}");
    assert_eq!(reply["message"], "The answer is", "what arrived is kept");
    assert_eq!(reply["incomplete"], true);
    assert_eq!(history[1]["incomplete"], true, "and stored as incomplete");
}

#[tokio::test]
async fn an_error_event_mid_stream_is_named() {
    let step = Step::ErrorEvent(vec!["Partly".into()], "model overloaded".into());
    let (error, reply, _) = failing(Some(step), |_| {}).await;
    assert_eq!(error["code"], "ai_bad_stream");
    assert!(
        error["message"].as_str().unwrap().contains("model overloaded"),
        "{error}"
    );
    assert_eq!(reply["message"], "Partly");
    assert_eq!(reply["incomplete"], true);
}

#[tokio::test]
async fn a_stuck_reply_does_not_hold_up_other_conversations() {
    let ai = FakeAi::start().await;
    let (stuck, gate) = Step::gated(&["wait"], &["ed"]);
    ai.then(stuck).then(Step::reply(&["bob's answer"]));
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let (ca, cb) = (ai_chat(&alice).await, ai_chat(&bob).await);
    let (mut wa, mut wb) = (user_socket(&s, &alice).await, user_socket(&s, &bob).await);
    send(&mut wa, &ca, "slow question").await;
    ai.wait_for_requests(1).await;
    send(&mut wb, &cb, "quick question").await;
    let (_, reply) = until_reply(&mut wb).await;
    assert_eq!(reply["message"]["message"], "bob's answer");
    gate.notify_one();
    let (_, reply) = until_reply(&mut wa).await;
    assert_eq!(reply["message"]["message"], "waited");
    // Bob never heard of alice's reply, nor alice of bob's.
    assert!(wb.drain().await.iter().all(|f| f["conversation_id"] != ca.as_str()));
}

#[tokio::test]
async fn a_socket_that_reconnects_mid_reply_sees_the_text_so_far() {
    let ai = FakeAi::start().await;
    let (step, gate) = Step::gated(&["Once ", "upon "], &["a time"]);
    ai.then(step);
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    let asked = send(&mut ws, &conv, "tell me a story").await;
    loop {
        let f = next(&mut ws).await;
        if f["action"] == "message_delta" && f["text"] == "Once upon " {
            break;
        }
    }
    drop(ws);
    // Back, with the cursor of the last message it saw.
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={asked}", alice.token()))).await;
    let f = next(&mut ws).await;
    assert_eq!(f["action"], "message_delta", "the reply so far comes first: {f}");
    assert_eq!(f["text"], "Once upon ");
    gate.notify_one();
    let (_, reply) = until_reply(&mut ws).await;
    assert_eq!(reply["message"]["message"], "Once upon a time");
    assert_eq!(reply["reply_id"], f["reply_id"]);
    // A conversation socket on another conversation is not shown it.
    let room = alice.room("lobby").await;
    let (gated, gate) = Step::gated(&["x"], &["y"]);
    ai.then(gated);
    let mut ws2 = user_socket(&s, &alice).await;
    send(&mut ws2, &conv, "again").await;
    ai.wait_for_requests(2).await;
    let mut other = Ws::connect(&s.ws_url(&format!("/api/conversations/{room}/connect?token={}", alice.token()))).await;
    assert!(
        other.drain().await.is_empty(),
        "nothing of the AI chat on the room's socket"
    );
    gate.notify_one();
    until_reply(&mut ws2).await;
}

#[tokio::test]
async fn the_agent_is_the_other_side_in_every_dialect() {
    let ai = FakeAi::start().await;
    ai.then(Step::reply(&["Bonjour!"])).then(Step::reply(&["Via threads."]));
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let (_, info) = alice.get("/api/server").await;
    let agent_uuid = info["ai_agent"]["user_id"].as_str().unwrap().to_owned();
    // Sockets of the other dialects on that conversation: they see only the final message.
    let mut threads = Ws::connect(&s.ws_url(&format!("/ws/chat/room/?token={}", alice.token()))).await;
    let (mut messenger, _) = Ws::messenger(&s.ws_url(&format!(
        "/messenger/ws/ws/chat/alice_assistant/?token={}",
        alice.token()
    )))
    .await;
    let mut ws = user_socket(&s, &alice).await;
    send(&mut ws, &conv, "Say hello in French").await;
    until_reply(&mut ws).await;
    let m = messenger.next().await;
    assert_eq!(
        (m["user"].as_str(), m["content"].as_str()),
        (Some("alice"), Some("Say hello in French"))
    );
    let m = messenger.next().await;
    assert_eq!(
        (m["user"].as_str(), m["content"].as_str()),
        (Some("assistant"), Some("Bonjour!"))
    );
    // alice's own message reaches her other sockets; then the final reply only.
    assert_eq!(threads.next().await["message_body"], "Say hello in French");
    let t = threads.next().await;
    assert_eq!(t["message_body"], "Bonjour!", "only the final reply: {t}");
    assert_eq!(t["sender_id"], agent_uuid.as_str());

    // Every dialect's history shows it.
    let (_, msgs) = alice.get("/messenger/api/chatrooms/alice_assistant/messages/").await;
    assert_eq!(msgs[1]["content"], "Bonjour!");
    let (_, rooms) = alice.get("/messenger/api/chatrooms/").await;
    assert_eq!(rooms[0]["display_name"], "assistant");
    let (_, th) = alice.get(&format!("/chat/messages/{agent_uuid}/")).await;
    let listed = th["entity"]["messages"].as_array().unwrap();
    assert_eq!(listed[1]["message"], "Bonjour!", "{th}");
    let (_, threads_list) = alice.get("/chat/get-user-threads/").await;
    assert_eq!(threads_list["entity"][0]["user_two"]["is_bot"], true, "{threads_list}");
    let (st, list) = alice.get("/list_message?room=alice_assistant").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["messages"][1]["message"], "Bonjour!");
    let (_, users) = alice.get("/accounts/api/users/").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "assistant" && u["is_bot"] == true),
        "{users}"
    );

    // Asking through another dialect gets an answer too.
    threads
        .send(json!({"action": "chat_message", "message_body": "and you?", "receiver_id": agent_uuid}))
        .await;
    let t = threads.next().await;
    assert_eq!(t["message_body"], "Via threads.", "{t}");
    assert_eq!(ai.requests()[1]["messages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn ai_requests_have_a_per_user_limit() {
    let ai = FakeAi::start().await;
    let s = with_agent(&ai.url, |c| c.ai.ai_requests_per_minute = 2).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    for q in ["one", "two"] {
        send(&mut ws, &conv, q).await;
        until_reply(&mut ws).await;
    }
    let (st, b) = alice
        .post("/api/messages/", json!({"conversation_id": conv, "message": "three"}))
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{b}");
    let text = b["error"]["message"].as_str().unwrap();
    assert!(text.contains("2 per minute") && text.contains("try again in"), "{text}");
    ws.send(json!({"action": "send", "conversation_id": conv, "message": "four", "client_id": "c4"}))
        .await;
    let e = next(&mut ws).await;
    assert_eq!(
        (e["action"].as_str(), e["code"].as_str()),
        (Some("error"), Some("rate_limited"))
    );
    assert_eq!(alice.history(&conv).await.len(), 4, "refused messages are not stored");
    // Other conversations are not limited by it.
    let room = alice.room("lobby").await;
    for i in 0..5 {
        alice.say(&room, &format!("room {i}")).await;
    }
}

#[tokio::test]
async fn the_agent_cannot_log_in_and_its_name_cannot_be_taken() {
    let ai = FakeAi::start().await;
    let s = with_agent(&ai.url, |_| {}).await;
    let anon = s.anonymous();
    for password in ["", "!", "password1"] {
        let (st, _) = anon
            .post(
                "/api/auth/login",
                json!({"username": "assistant", "password": password}),
            )
            .await;
        assert!(st == StatusCode::UNAUTHORIZED || st == StatusCode::BAD_REQUEST, "{st}");
    }
    let (st, _) = post_form(&anon, "/login", &[("username", "assistant"), ("password", "!")]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = anon
        .post(
            "/api/auth/register",
            json!({"username": "Assistant", "password": "password1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
}

#[tokio::test]
async fn without_a_backend_is_ai_is_refused_clearly() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let (st, b) = alice.post("/api/conversations", json!({"is_ai": true})).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert!(b["error"]["message"].as_str().unwrap().contains("--ai-url"), "{b}");
    let (_, info) = alice.get("/api/server").await;
    assert_eq!(info["ai_agent"], Value::Null);
    assert!(info["limits"]["max_upload_bytes"].is_u64());
}

#[tokio::test]
async fn a_reply_cut_short_by_a_shutdown_is_kept_and_the_rest_answered_after_restart() {
    let ai = FakeAi::start().await;
    let (step, _gate) = Step::gated(&["Half an "], &["answer"]);
    ai.then(step).then(Step::reply(&["Answered after the restart."]));
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    let m1 = send(&mut ws, &conv, "first").await;
    loop {
        let f = next(&mut ws).await;
        if f["text"] == "Half an " {
            break;
        }
    }
    let m2 = send(&mut ws, &conv, "second, while you write").await;
    let (dir, config) = s.stop().await;

    // The reply in progress was stored with what arrived; the message after
    // it is answered once the server is back.
    let s = TestServer::start_in(dir, config).await;
    let alice = common::login(&s, "alice").await;
    let mut history = Vec::new();
    for _ in 0..200 {
        history = alice.history(&conv).await;
        if history.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(history.len(), 4, "{history:?}");
    assert_eq!(history[0]["message_id"], m1);
    assert_eq!(history[1]["message_id"], m2);
    assert_eq!(history[2]["message"], "Half an ");
    assert_eq!(history[2]["incomplete"], true);
    assert_eq!(history[2]["reply_to"], m1);
    assert_eq!(history[3]["message"], "Answered after the restart.");
    assert_eq!(history[3]["reply_to"], m2);
}

#[tokio::test]
async fn a_person_cannot_reply_to_a_message_in_an_ai_conversation() {
    // The agent's own replies are what `reply_to` links in these.
    let ai = FakeAi::start().await;
    ai.then(Step::reply(&["hi"]));
    let s = with_agent(&ai.url, |_| {}).await;
    let alice = s.register("alice").await;
    let conv = ai_chat(&alice).await;
    let mut ws = user_socket(&s, &alice).await;
    let first = send(&mut ws, &conv, "hello").await;
    until_reply(&mut ws).await;
    let (st, body) = alice
        .post(
            "/api/messages/",
            json!({"conversation_id": conv, "message": "about that", "reply_to": first}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("not available in AI conversations"), "{body}");
}
