//! Full-text search (`GET /api/search`) and "jump to this message"
//! (`GET /api/conversations/{id}?around=`), through the real server.

use crate::common;

use std::collections::BTreeSet;

use common::{Client, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn search(c: &Client, query: &[(&str, &str)]) -> (StatusCode, Value) {
    c.send(c.http.get(format!("{}/api/search", c.base)).query(query)).await
}

/// The texts found for `q`, newest first.
async fn found(c: &Client, q: &str) -> Vec<String> {
    found_with(c, &[("q", q)]).await
}

async fn found_with(c: &Client, query: &[(&str, &str)]) -> Vec<String> {
    let (s, b) = search(c, query).await;
    assert_eq!(s, StatusCode::OK, "{query:?}: {b}");
    b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["message"].as_str().unwrap().to_owned())
        .collect()
}

/// A result's snippet with its matches in [brackets].
fn marked(result: &Value) -> String {
    result["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t = p["text"].as_str().unwrap();
            if p["match"] == true {
                format!("[{t}]")
            } else {
                t.to_owned()
            }
        })
        .collect()
}

fn id(v: &Value) -> i64 {
    v["message_id"].as_i64().unwrap()
}

#[tokio::test]
async fn finds_words_accents_substrings_and_cjk_text() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let room = alice.room("lobby").await;
    for text in [
        "Un café au lait",
        "cafe\u{301} written with a combining accent",
        "The BOOKSHELF is full",
        "私は東京に住んでいます",
        "行こう東京",
        "東京タワーに登った",
        "OK see you",
        "a book is okay",
        "naïve résumé",
    ] {
        alice.say(&room, text).await;
    }

    // Diacritics and case do not matter, either way round.
    let cafe = [
        "cafe\u{301} written with a combining accent".to_owned(),
        "Un café au lait".to_owned(),
    ];
    assert_eq!(found(&alice, "cafe").await, cafe);
    assert_eq!(found(&alice, "CAFÉ").await, cafe);
    assert_eq!(found(&alice, "resume NAIVE").await, ["naïve résumé"]);
    // Inside words, and every term must be there.
    assert_eq!(found(&alice, "shelf").await, ["The BOOKSHELF is full"]);
    assert_eq!(found(&alice, "cafe lait").await, ["Un café au lait"]);
    assert_eq!(found(&alice, "\"au lait\"").await, ["Un café au lait"]);
    assert!(
        found(&alice, "\"lait au\"").await.is_empty(),
        "a phrase keeps its order"
    );
    // Japanese: no spaces between words, so a term matches anywhere, even
    // a two-character one, even at the very end of a message.
    assert_eq!(
        found(&alice, "東京").await,
        ["東京タワーに登った", "行こう東京", "私は東京に住んでいます"]
    );
    assert_eq!(found(&alice, "京タ").await, ["東京タワーに登った"]);
    assert_eq!(found(&alice, "タワー").await, ["東京タワーに登った"]);
    assert_eq!(found(&alice, "京").await.len(), 3);
    // A 1–2 character term of a spaced script is the start of a word.
    assert_eq!(found(&alice, "ok").await, ["a book is okay", "OK see you"]);
    assert_eq!(found(&alice, "B").await, ["a book is okay", "The BOOKSHELF is full"]);

    // The snippet marks what matched, in the text as it was written.
    let (_, b) = search(&alice, &[("q", "cafe")]).await;
    let results = b["results"].as_array().unwrap();
    assert_eq!(marked(&results[1]), "Un [café] au lait");
    assert_eq!(marked(&results[0]), "[cafe\u{301}] written with a combining accent");
    assert_eq!(results[1]["message"]["conversation_id"], room.as_str());
    assert_eq!(results[1]["message"]["sender_username"], "alice");
    let (_, b) = search(&alice, &[("q", "東京 住")]).await;
    assert_eq!(marked(&b["results"][0]), "私は[東京]に[住]んでいます");
    let (_, b) = search(&alice, &[("q", "ok")]).await;
    assert_eq!(marked(&b["results"][0]), "a book is [ok]ay");
    assert_eq!(b["next_cursor"], Value::Null);
}

#[tokio::test]
async fn no_input_is_an_error_of_the_server() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let room = alice.room("lobby").await;
    alice
        .say(&room, r#"quotes " and stars * and NEAR(a b) and col:umn"#)
        .await;
    // FTS5 syntax, quotes, operators: all of it is text to look for.
    for q in [
        "\"",
        "\"\"\"",
        "*",
        "a*",
        "NEAR(a b)",
        "NEAR",
        "AND",
        "OR x",
        "NOT",
        "x AND",
        "col:umn",
        ":",
        "^x",
        "-x",
        "(",
        ")(",
        "{a b}:x",
        "'",
        "\\",
        "%",
        "_",
        "a\"b",
        "\"a\" OR \"b\"",
        "stars *",
    ] {
        let (status, body) = search(&alice, &[("q", q)]).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{q:?}: {status} {body}"
        );
    }
    assert_eq!(found(&alice, "col:umn").await.len(), 1);
    assert_eq!(found(&alice, "NEAR(a").await.len(), 1);
    assert_eq!(found(&alice, "\" and stars *").await.len(), 1);

    // What cannot be searched for is a 400 that says why.
    for query in [
        vec![],
        vec![("q", "")],
        vec![("q", "   ")],
        vec![("q", "!")],
        vec![("q", "cafe"), ("after", "yesterday")],
        vec![("q", "cafe"), ("before", "2024-02-30")],
        vec![("q", "cafe"), ("cursor", "not-a-cursor")],
        vec![("q", "cafe"), ("limit", "many")],
        vec![("q", "cafe"), ("conversation_id", "not-a-uuid")],
    ] {
        let (status, body) = search(&alice, &query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5, "{body}");
    }
    let long = "x".repeat(257);
    let (status, _) = search(&alice, &[("q", &long)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = search(&s.anonymous(), &[("q", "cafe")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_the_callers_conversations_are_searched() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let direct = alice.direct(&bob).await;
    let room = alice.room("plans").await;
    alice.say(&direct, "the secret plan, between us").await;
    alice.say(&room, "the secret plan, for the room").await;

    assert_eq!(found(&alice, "secret").await.len(), 2);
    assert_eq!(found(&bob, "secret").await, ["the secret plan, between us"]);
    assert!(found(&carol, "secret").await.is_empty(), "a stranger finds nothing");

    // Naming a conversation does not help a stranger: a room says "join
    // first" (it is public), a direct conversation is not admitted to exist.
    let (status, body) = search(&carol, &[("q", "secret"), ("conversation_id", &room)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = search(&carol, &[("q", "secret"), ("conversation_id", &direct)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = search(
        &carol,
        &[
            ("q", "secret"),
            ("conversation_id", "00000000-0000-4000-8000-000000000000"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("secret plan"));

    // Joining the room shows its messages; leaving hides them again.
    let (status, _) = carol.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found(&carol, "secret").await, ["the secret plan, for the room"]);
    let (status, _) = carol.delete(&format!("/api/conversations/{room}/members/me")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(found(&carol, "secret").await.is_empty());

    // A deleted room's messages leave the index with it.
    let (status, _) = alice.delete(&format!("/api/conversations/{room}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(found(&alice, "secret").await, ["the secret plan, between us"]);
    // Read behind the API: SQLite's trigram index, or on PostgreSQL the
    // folded text its indexes are built on.
    let indexed: i64 = common::db_query(
        &s.config,
        if common::on_postgres() {
            "SELECT count(*) FROM messages WHERE body_folded LIKE '%for the room%'"
        } else {
            "SELECT count(*) FROM messages_trigrams WHERE messages_trigrams MATCH '\"for the room\"'"
        },
    )
    .expect("a count");
    assert_eq!(indexed, 0, "the deleted room's message is out of the index");
}

#[tokio::test]
async fn filters_by_conversation_sender_and_time() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("lobby").await;
    let (status, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let direct = alice.direct(&bob).await;
    let first = alice.say(&room, "report one").await;
    let second = bob.say(&room, "report two").await;
    let third = alice.say(&direct, "report three").await;

    assert_eq!(
        found(&alice, "report").await,
        ["report three", "report two", "report one"]
    );
    assert_eq!(
        found_with(&alice, &[("q", "report"), ("conversation_id", &room)]).await,
        ["report two", "report one"]
    );
    assert_eq!(
        found_with(&alice, &[("q", "report"), ("sender_id", &bob.user_id)]).await,
        ["report two"]
    );
    assert_eq!(
        found_with(
            &alice,
            &[
                ("q", "report"),
                ("sender_id", &alice.user_id),
                ("conversation_id", &direct)
            ]
        )
        .await,
        ["report three"]
    );
    let t2 = second["timestamp"].as_str().unwrap();
    assert_eq!(
        found_with(&alice, &[("q", "report"), ("after", t2)]).await,
        ["report three", "report two"],
        "after is inclusive"
    );
    assert_eq!(
        found_with(&alice, &[("q", "report"), ("before", t2)]).await,
        ["report one"],
        "before is exclusive"
    );
    let t3 = third["timestamp"].as_str().unwrap();
    assert_eq!(
        found_with(&alice, &[("q", "report"), ("after", t2), ("before", t3)]).await,
        ["report two"]
    );
    // A date alone is its midnight (UTC).
    assert!(
        found_with(&alice, &[("q", "report"), ("before", "2000-01-01")])
            .await
            .is_empty()
    );
    assert_eq!(
        found_with(&alice, &[("q", "report"), ("after", "2000-01-01")])
            .await
            .len(),
        3
    );
    assert!(first["message_id"].as_i64() < second["message_id"].as_i64());

    let (status, body) = search(
        &alice,
        &[("q", "report"), ("sender_id", "00000000-0000-4000-8000-000000000000")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn pages_follow_the_cursor_without_duplicates_or_gaps() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let room = alice.room("lobby").await;
    let mut expected = Vec::new();
    for i in 0..47 {
        expected.push(id(&alice.say(&room, &format!("needle number {i}")).await));
        if i % 5 == 0 {
            alice.say(&room, "hay").await;
        }
    }
    expected.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("q", "needle".to_owned()), ("limit", "10".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = search(&alice, &query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().unwrap();
        seen.extend(results.iter().map(|r| id(&r["message"])));
        pages += 1;
        if pages == 2 {
            // New messages while paging go to the top, not into later pages.
            alice.say(&room, "needle that came late").await;
        }
        match body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(results.len(), 10);
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, expected, "every match once, newest first");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());

    // The limit is kept between 1 and 100.
    let (_, body) = search(&alice, &[("q", "needle"), ("limit", "0")]).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let (_, body) = search(&alice, &[("q", "needle")]).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 20, "20 by default");
}

#[tokio::test]
async fn edits_and_deletions_change_what_is_found() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let room = alice.room("lobby").await;
    let m = id(&alice.say(&room, "the original wording").await);
    assert_eq!(found(&alice, "original").await, ["the original wording"]);

    let (status, _) = alice
        .patch(&format!("/api/messages/{m}"), json!({"message": "a better phrasing"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(found(&alice, "original").await.is_empty(), "the old text is gone");
    assert_eq!(found(&alice, "phrasing").await, ["a better phrasing"]);
    assert_eq!(found(&alice, "bet").await, ["a better phrasing"]);

    let (status, _) = alice.delete(&format!("/api/messages/{m}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        found(&alice, "phrasing").await.is_empty(),
        "a deleted message is not found"
    );
    assert!(found(&alice, "be").await.is_empty());
}

#[tokio::test]
async fn around_loads_the_history_surrounding_a_message() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("lobby").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(id(&alice.say(&room, &format!("message {i}")).await));
    }
    let page = |v: Value| -> Vec<i64> { v.as_array().unwrap().iter().map(id).collect() };

    let (status, body) = alice
        .get(&format!("/api/conversations/{room}?around={}&limit=11", ids[15]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(page(body), ids[10..21], "5 before, the message, 5 after, oldest first");
    // Near the start there is less before it: more after it fills the page.
    let (_, body) = alice
        .get(&format!("/api/conversations/{room}?around={}&limit=11", ids[1]))
        .await;
    assert_eq!(page(body), ids[0..11]);
    // Near the end the page is short: nothing newer is left to load.
    let (_, body) = alice
        .get(&format!("/api/conversations/{room}?around={}&limit=11", ids[28]))
        .await;
    assert_eq!(page(body), ids[23..30]);

    // The message must be in this conversation, and the caller a member.
    let other = alice.room("elsewhere").await;
    let (status, _) = alice
        .get(&format!("/api/conversations/{other}?around={}", ids[15]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = bob.get(&format!("/api/conversations/{room}?around={}", ids[15])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let direct = alice.direct(&bob).await;
    let hidden = id(&alice.say(&direct, "between us").await);
    let carol = s.register("carol").await;
    let (status, body) = carol.get(&format!("/api/conversations/{direct}?around={hidden}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("between us"));
    let (status, _) = alice
        .get(&format!(
            "/api/conversations/{room}?around={}&before={}",
            ids[15], ids[20]
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// How many messages wait for the search index, and how many the trigram
/// index holds, read from the database file.
fn index_state(db: &std::path::Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let queued = c
        .query_row("SELECT COUNT(*) FROM search_queue", [], |r| r.get(0))
        .unwrap();
    let indexed = c
        .query_row(
            "SELECT COUNT(*) FROM messages_trigrams WHERE messages_trigrams MATCH '\"burst\"'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (queued, indexed)
}

#[tokio::test]
async fn messages_are_indexed_beside_the_writer_and_all_of_them_by_shutdown() {
    // SQLite's indexer thread and its queue; PostgreSQL indexes a message in
    // the statement that writes it.
    let s = TestServer::start_sqlite().await;
    let alice = s.register("alice").await;
    let room = alice.room("burst").await;
    let db = s.config.db.clone();
    // Indexed on its own, with no search to wait for it.
    alice.say(&room, "a burst of one").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while index_state(&db) != (0, 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "not indexed: {:?}",
            index_state(&db)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A burst, stopped at once: the stop indexes what is left.
    let texts: Vec<String> = (0..200).map(|i| format!("burst {i}")).collect();
    futures_util::future::join_all(texts.iter().map(|t| alice.say(&room, t))).await;
    let (_dir, config) = s.stop().await;
    assert_eq!(index_state(&config.db), (0, 201));
}
