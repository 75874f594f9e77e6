//! The change log: every kind of change made while a socket is away comes
//! back on resume exactly once, in order, and a cursor older than the log
//! is told to reload.

use crate::common;

use std::time::Duration;

use common::{TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn event_id(f: &Value) -> i64 {
    f["event_id"].as_i64().unwrap_or_else(|| panic!("no event_id in {f}"))
}

/// The frames up to the pong, without presence (not a logged change).
async fn logged(ws: &mut Ws) -> Vec<Value> {
    ws.drain()
        .await
        .into_iter()
        .filter(|f| f["action"] != "presence")
        .collect()
}

/// A short description of a frame to compare lists with.
fn what(f: &Value) -> String {
    match f["action"].as_str().unwrap_or_default() {
        "message" | "message_updated" | "message_deleted" => {
            format!(
                "{} {}",
                f["action"].as_str().unwrap(),
                f["message"]["message"].as_str().unwrap_or("?")
            )
        }
        "read" => format!("read {} by {}", f["message_id"], f["user_id"].as_str().unwrap_or("?")),
        "room" => format!(
            "room {} {}",
            f["change"].as_str().unwrap(),
            f["username"].as_str().or(f["name"].as_str()).unwrap_or("?")
        ),
        "reaction" => format!("reaction {} {}", f["emoji"].as_str().unwrap(), f["added"]),
        other => other.to_owned(),
    }
}

#[tokio::test]
async fn every_kind_of_change_made_while_away_arrives_once_in_order() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let room = alice.room("general").await;
    let (st, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let first = alice.say(&room, "first").await;
    let first_id = first["message_id"].as_i64().unwrap();

    // Bob is connected, sees the first message, notes the cursor, and goes.
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;
    let before = logged(&mut ws).await;
    assert!(before.is_empty(), "nothing to replay without ?since=: {before:?}");
    drop(ws);
    let cursor = first_id;

    // While he is away: every kind of change.
    let second = alice.say(&room, "second").await;
    let second_id = second["message_id"].as_i64().unwrap();
    let (st, _) = alice
        .patch(
            &format!("/api/messages/{first_id}"),
            json!({"message": "first, edited"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = alice.delete(&format!("/api/messages/{second_id}")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // Bob reads on another device (his other tabs must hear it too).
    let (st, b) = bob
        .post(
            &format!("/api/conversations/{room}/read"),
            json!({"message_id": second_id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, _) = alice
        .patch(&format!("/api/conversations/{room}"), json!({"name": "lounge"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = carol.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = carol.delete(&format!("/api/conversations/{room}/members/me")).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let other = carol.room("elsewhere").await;
    let dm = alice.direct(&bob).await;
    alice.say(&dm, "psst").await;
    // A read mark that does not move is no change.
    let (st, _) = bob
        .post(
            &format!("/api/conversations/{room}/read"),
            json!({"message_id": first_id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    let url = s.ws_url(&format!("/api/ws?token={}&since={cursor}", bob.token()));
    let mut ws = Ws::connect(&url).await;
    let replayed = logged(&mut ws).await;
    let got: Vec<String> = replayed.iter().map(what).collect();
    let want = vec![
        // The message as it is now: deleted (its deletion follows).
        "message ".to_owned(),
        "message_updated first, edited".to_owned(),
        "message_deleted ".to_owned(),
        format!("read {second_id} by {}", bob.user_id),
        "room renamed lounge".to_owned(),
        "room joined carol".to_owned(),
        "room left carol".to_owned(),
        "room created elsewhere".to_owned(),
        "message psst".to_owned(),
    ];
    assert_eq!(got, want, "{replayed:#?}");
    let ids: Vec<i64> = replayed.iter().map(event_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, once each: {ids:?}");
    assert_eq!(ids[0], second_id, "a message's event id is its id");
    assert!(replayed.iter().any(|f| f["conversation_id"] == other));

    // Resuming from the last of them replays nothing; live goes on.
    let last = *ids.last().unwrap();
    drop(ws);
    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={last}", bob.token()))).await;
    assert!(logged(&mut ws).await.is_empty());
    alice.say(&room, "live").await;
    let live = ws.next_action("message").await;
    assert_eq!(live["message"]["message"], "live");
    assert!(event_id(&live) > last);

    // From every cursor in between, exactly the rest.
    for (i, id) in ids.iter().enumerate() {
        let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={id}", bob.token()))).await;
        let rest: Vec<String> = logged(&mut ws).await.iter().map(what).collect();
        let mut expected: Vec<String> = want[i + 1..].to_vec();
        expected.push("message live".to_owned());
        assert_eq!(rest, expected, "resumed from {id}");
    }
}

#[tokio::test]
async fn a_stranger_replays_only_what_is_theirs_or_public() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let mallory = s.register("mallory").await;
    let room = alice.room("general").await;
    let (st, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let dm = alice.direct(&bob).await;
    let m = alice.say(&dm, "secret").await;
    let id = m["message_id"].as_i64().unwrap();
    alice
        .patch(&format!("/api/messages/{id}"), json!({"message": "secret, edited"}))
        .await;
    bob.post(&format!("/api/conversations/{dm}/read"), json!({"message_id": id}))
        .await;
    alice.say(&room, "in the room").await;
    alice
        .patch(&format!("/api/conversations/{room}"), json!({"name": "lounge"}))
        .await;

    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since=0", mallory.token()))).await;
    let got: Vec<String> = logged(&mut ws).await.iter().map(what).collect();
    // Rooms are public: their making and renaming, not their messages.
    assert_eq!(got, vec!["room created general", "room renamed lounge"]);
}

#[tokio::test]
async fn a_conversation_socket_replays_only_its_conversation() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let room = alice.room("general").await;
    bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    let dm = alice.direct(&bob).await;
    let start = alice.say(&room, "start").await["message_id"].as_i64().unwrap();
    alice.say(&dm, "elsewhere").await;
    let m = alice.say(&room, "here").await["message_id"].as_i64().unwrap();
    alice.delete(&format!("/api/messages/{m}")).await;
    let url = s.ws_url(&format!(
        "/api/conversations/{room}/connect?token={}&since={start}",
        bob.token()
    ));
    let mut ws = Ws::connect(&url).await;
    let got: Vec<String> = logged(&mut ws).await.iter().map(what).collect();
    assert_eq!(got, vec!["message ", "message_deleted "]);
}

#[tokio::test]
async fn a_cursor_older_than_the_log_is_told_to_reload() {
    let s = TestServer::start_with(|c| c.change_log_retention = Duration::from_secs(1)).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let dm = alice.direct(&bob).await;
    let old = alice.say(&dm, "old").await["message_id"].as_i64().unwrap();
    alice.say(&dm, "older than the log").await;
    // The log keeps a second; pruning runs every second.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let latest = alice.say(&dm, "new").await["message_id"].as_i64().unwrap();

    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={old}", bob.token()))).await;
    let frames = logged(&mut ws).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["action"], "reload", "{frames:?}");
    assert!(event_id(&frames[0]) >= latest, "{frames:?}");
    assert!(frames[0]["message"].as_str().unwrap().contains("reload history"));
    // The socket carries on live.
    alice.say(&dm, "live").await;
    assert_eq!(ws.next_action("message").await["message"]["message"], "live");

    // History itself is kept: the messages are all there.
    let texts: Vec<String> = bob
        .history(&dm)
        .await
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, vec!["old", "older than the log", "new", "live"]);
}

/// A resume reads each of the reader's conversations from the cursor on and
/// merges them, a few dozen rows of each at a time (up to 64 conversations;
/// in more, it walks the log): across 40 or 70 rooms, two of them far
/// busier than the rest, with public rooms made, a room left and a setting
/// changed among the messages, it replays exactly what a socket that stayed
/// saw live, in order, from any cursor.
#[tokio::test]
async fn a_resume_across_many_busy_conversations_replays_what_went_out_live() {
    resume_across(40).await;
}

#[tokio::test]
async fn a_resume_across_more_conversations_than_it_merges_replays_what_went_out_live() {
    resume_across(70).await;
}

async fn resume_across(n: usize) {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let carol = s.register("carol").await;
    let mut rooms = Vec::new();
    for i in 0..n {
        let room = alice.room(&format!("room-{i}")).await;
        let (st, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        assert_eq!(st, StatusCode::OK);
        rooms.push(room);
    }
    let cursor = alice.say(&rooms[0], "start").await["message_id"].as_i64().unwrap();
    let mut stayed = Ws::connect(&s.ws_url(&format!("/api/ws?token={}", bob.token()))).await;

    // Half the messages go to one busy room, a quarter to another (so
    // their reads end at different places), the rest go round.
    let room_of = |i: usize| match i % 4 {
        0 | 1 => 0,
        2 => 1,
        _ => 2 + (i / 4) % (n - 2),
    };
    for i in 0..300 {
        let room = &rooms[room_of(i)];
        alice.say(room, &format!("m{i}")).await;
        match i {
            60 => {
                carol.room("public news").await;
            }
            150 => {
                let (st, _) = bob.delete(&format!("/api/conversations/{}/members/me", rooms[5])).await;
                assert_eq!(st, StatusCode::NO_CONTENT);
            }
            180 => {
                let (st, _) = bob
                    .put(
                        &format!("/api/conversations/{}/notify", rooms[0]),
                        json!({"level": "mentions"}),
                    )
                    .await;
                assert_eq!(st, StatusCode::OK);
            }
            _ => {}
        }
    }
    // The last one bob hears live (the round may end in the room he left).
    let last = alice.say(&rooms[0], "end").await["message_id"].as_i64().unwrap();
    let mut live = Vec::new();
    loop {
        let f = stayed.next().await;
        if f["action"] == "presence" || f["event_id"].is_null() {
            continue;
        }
        let id = event_id(&f);
        // Replays follow membership as it is now: the room bob left replays
        // its leaving, and none of its messages.
        let left_room = f["action"] == "message" && f["message"]["conversation_id"] == rooms[5].as_str();
        live.push((id, what(&f), left_room));
        if id == last {
            break;
        }
    }
    assert!(live.len() > 300, "{} changes seen live", live.len());
    for kind in ["room created public news", "room left bob", "notify_level"] {
        assert!(live.iter().any(|(_, w, _)| w == kind), "{kind} went out live");
    }
    let before_leaving = (0..=150).filter(|&i| room_of(i) == 5).count();
    assert!(before_leaving > 0);
    assert_eq!(live.iter().filter(|(_, _, left)| *left).count(), before_leaving);
    let live: Vec<(i64, String)> = live
        .into_iter()
        .filter(|(_, _, left)| !left)
        .map(|(id, w, _)| (id, w))
        .collect();

    // Read in pages of any size, the log gives the same, and each page
    // ends where the next begins.
    let config = s.config.clone();
    let from_log = tokio::task::spawn_blocking(move || {
        common::with_db(&config, |tx| {
            let bob = natter::db::users::by_username(tx, "bob").unwrap().unwrap().id;
            [1, 7, 100, 150, 200, 1000].map(|limit| {
                let (mut seen, mut at) = (Vec::new(), natter::model::EventId(cursor));
                loop {
                    let (page, upto, more) = natter::db::changes::after(tx, bob, None, at, limit).unwrap();
                    assert!(page.len() as i64 <= limit);
                    seen.extend(page.iter().map(|c| c.id.0));
                    if !more {
                        break;
                    }
                    assert!(upto > at, "a page of {limit} after {at:?} covered nothing");
                    at = upto;
                }
                (limit, seen)
            })
        })
    })
    .await
    .unwrap();
    let live_ids: Vec<i64> = live.iter().map(|(id, _)| *id).collect();
    for (limit, seen) in from_log {
        assert_eq!(seen, live_ids, "read in pages of {limit}");
    }

    for from in [cursor, live[100].0, live[230].0] {
        let url = s.ws_url(&format!("/api/ws?token={}&since={from}", bob.token()));
        let mut ws = Ws::connect(&url).await;
        let replayed: Vec<(i64, String)> = logged(&mut ws).await.iter().map(|f| (event_id(f), what(f))).collect();
        let want: Vec<(i64, String)> = live.iter().filter(|(id, _)| *id > from).cloned().collect();
        assert_eq!(replayed, want, "resumed from {from}");
    }
}

/// A resume longer than one read (the socket reads 2,000 changes at a
/// time, the next while it writes the last) arrives whole and once, in
/// order, and so do the messages sent while it is under way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_of_many_pages_arrives_once_in_order_while_sends_go_on() {
    const AWAY: usize = 4500;
    const DURING: usize = 300;
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let mut rooms = Vec::new();
    for name in ["one", "two"] {
        let room = alice.room(name).await;
        let (st, _) = bob.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        assert_eq!(st, StatusCode::OK);
        rooms.push(room);
    }
    let cursor = alice.say(&rooms[0], "start").await["message_id"].as_i64().unwrap();
    let senders = 8;
    let mut tasks = Vec::new();
    for t in 0..senders {
        let (alice, rooms) = (alice.clone(), rooms.clone());
        tasks.push(tokio::spawn(async move {
            for i in (t..AWAY).step_by(senders) {
                alice.say(&rooms[i % 2], &format!("away {i}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let mut ws = Ws::connect(&s.ws_url(&format!("/api/ws?token={}&since={cursor}", bob.token()))).await;
    let during = {
        let (alice, rooms) = (alice.clone(), rooms.clone());
        tokio::spawn(async move {
            for i in 0..DURING {
                alice.say(&rooms[i % 2], &format!("during {i}")).await;
            }
            alice.say(&rooms[1], "end").await;
        })
    };
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    loop {
        let f = ws.next().await;
        if f["action"] != "message" {
            continue;
        }
        ids.push(event_id(&f));
        let text = f["message"]["message"].as_str().unwrap().to_owned();
        if text == "end" {
            break;
        }
        texts.push(text);
    }
    during.await.unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "frames out of order");
    let mut want: Vec<String> = (0..AWAY).map(|i| format!("away {i}")).collect();
    want.extend((0..DURING).map(|i| format!("during {i}")));
    want.sort();
    let got = texts.len();
    texts.sort();
    assert_eq!(got, AWAY + DURING, "every message once");
    assert_eq!(texts, want);
}
