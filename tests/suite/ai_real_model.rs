//! The AI agent against a real model: SmolLM2-135M-Instruct served by a real
//! OpenAI-compatible server (llama.cpp through node-llama-cpp), started by
//! `tools/ai/test-real-model.sh`, which passes its URL in
//! `NATTER_TEST_AI_URL`. `.ci/run` runs it.

use crate::common;

use common::{TestServer, Ws};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
#[ignore = "needs a real model server: run tools/ai/test-real-model.sh (as .ci/run does)"]
async fn a_real_model_streams_a_reply_that_is_stored() {
    let url = std::env::var("NATTER_TEST_AI_URL")
        .expect("NATTER_TEST_AI_URL: the model server's base URL (tools/ai/test-real-model.sh sets it)");
    let s = TestServer::start_with(move |c| {
        c.ai.ai_url = Some(url);
        c.ai.ai_model = "smollm2".into();
        c.ai.ai_max_tokens = 48;
    })
    .await;
    let alice = s.register("alice").await;
    let (st, conv) = alice.post("/api/conversations", json!({"is_ai": true})).await;
    assert_eq!(st, StatusCode::CREATED, "{conv}");
    let conv = conv["conversation_id"].as_str().unwrap().to_owned();
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", alice.token()))).await;
    ws.send(json!({"action": "send", "conversation_id": conv, "message": "What is the capital of France?", "client_id": "q"}))
        .await;
    let mut streamed = Vec::new();
    let reply = loop {
        let f = ws.next().await;
        match f["action"].as_str() {
            Some("message_delta") if f["state"] == "streaming" => streamed.push(f["text"].as_str().unwrap().to_owned()),
            Some("message") if f["reply_id"].is_string() => break f,
            Some("error") => panic!("the model failed: {f}"),
            _ => {}
        }
    };
    let text = reply["message"]["message"].as_str().unwrap();
    println!("the model said: {text:?} ({} delta frames)", streamed.len());
    assert!(!text.trim().is_empty());
    assert!(reply["message"].get("incomplete").is_none(), "{reply}");
    assert!(!streamed.is_empty(), "the reply streamed in");
    assert!(
        text.starts_with(streamed.last().unwrap().as_str()),
        "the deltas led up to the reply"
    );
    let history = alice.history(&conv).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["message"], text, "stored");
}
