//! Upgrades: a database made by schema version 1 (tests/fixtures/, see
//! schema-v1.sql for how it was made) opens with this natter, is migrated,
//! and everything in it is still there and usable.

use crate::common;

use common::{Client, TestServer};
use serde_json::json;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.db");
const LOBBY: &str = "5e1d7a52-0c1f-4c3e-8d8e-7b1a2a3b4c01";
const DIRECT: &str = "5e1d7a52-0c1f-4c3e-8d8e-7b1a2a3b4c02";

async fn log_in(s: &TestServer, username: &str) -> Client {
    let mut c = s.anonymous();
    let (status, body) = c
        .post(
            "/api/auth/login",
            json!({"username": username, "password": "password1"}),
        )
        .await;
    assert_eq!(
        status, 200,
        "{username} logs in with the password set under schema 1: {body}"
    );
    c.token = Some(body["access_token"].as_str().unwrap().to_owned());
    c.user_id = body["user_id"].as_str().unwrap().to_owned();
    c
}

#[tokio::test]
async fn a_schema_1_database_opens_migrated_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("natter.db");
    std::fs::copy(FIXTURE, &db).unwrap();
    let version = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&db), 1, "the fixture is schema 1");

    let s = TestServer::start_in(dir, common::sqlite_config(&db)).await;
    let ada = log_in(&s, "ada").await;
    let ben = log_in(&s, "ben").await;
    assert_eq!(version(&db), natter::db::SCHEMA_VERSION, "migrated on start");

    // History as it was: ids, texts, the edit, the deletion, the attachment.
    let lobby = ada.history(LOBBY).await;
    let ids: Vec<i64> = lobby.iter().map(|m| m["message_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(lobby[0]["message"], "Welcome to the lobby");
    assert_eq!(lobby[1]["edited"], true);
    assert_eq!(lobby[2]["deleted"], true);
    assert!(
        lobby
            .iter()
            .all(|m| m["incomplete"].is_null() && m["reply_to"].is_null()),
        "new columns default"
    );
    let direct = ben.history(DIRECT).await;
    assert_eq!(direct.len(), 2);
    assert_eq!(direct[0]["seen"], true, "ben's read mark from schema 1");
    let url = direct[0]["attachment"]["url"].as_str().unwrap();
    let bytes = ben
        .http
        .get(s.url(url))
        .bearer_auth(ben.token())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"notes from schema v1");

    // Conversations, profiles, friends and posts are all there.
    let (_, convs) = ada.get("/api/conversations").await;
    assert_eq!(convs.as_array().unwrap().len(), 2);
    let (_, me) = ada.get("/api/users/me").await;
    assert_eq!(me["email"], "ada@example.org");
    assert_eq!(me["is_bot"], false);
    let (status, posts) = ben.get("/profiles/api/posts/").await;
    assert_eq!(status, 200, "{posts}");
    assert!(posts.to_string().contains("My first post"), "{posts}");

    // The messages written before search existed are in its index.
    let (status, found) = ben
        .send(
            ben.http
                .get(s.url("/api/search"))
                .bearer_auth(ben.token())
                .query(&[("q", "notes")]),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["results"][0]["message"]["message_id"], 4, "{found}");
    let (_, found) = ada
        .send(
            ada.http
                .get(s.url("/api/search"))
                .bearer_auth(ada.token())
                .query(&[("q", "lobby")]),
        )
        .await;
    assert_eq!(found["results"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["results"][0]["message"]["message"], "Welcome to the lobby");

    // And it goes on: new messages get ids after the old ones.
    let sent = ada.say(LOBBY, "hello from the new schema").await;
    assert_eq!(sent["message_id"], 6);
    let reply = ben.say(DIRECT, "still works").await;
    assert_eq!(reply["message_id"], 7);
    assert_eq!(ada.history(LOBBY).await.len(), 4);
}
