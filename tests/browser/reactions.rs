//! Replies and reactions in the page: reply from a message's Reply button
//! (the server stores `reply_to`, the page shows the quote, and the quote
//! goes to the original), react from the palette, see someone else's
//! reaction arrive live, and take one's own back from its chip.

use serde_json::{Value, json};

use super::common::{self, TestServer};
use super::{View, with_views};

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn reply_and_react_from_the_page_and_see_others_live() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("plans").await;
    with_views("reactions", &[View::wide(1200), View::PHONE.dark()], |pages| async move {
        let (d, ph) = (&pages[0], &pages[1]);
        d.sign_up(&s, "alice").await;
        let alice = common::login(&s, "alice").await;
        let (st, _) = alice.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        assert_eq!(st, reqwest::StatusCode::OK);
        let original = bob.say(&room, "Lunch at noon?").await;
        let oid = original["message_id"].as_i64().unwrap();
        // Enough messages after it that it is off screen.
        for i in 0..25 {
            bob.say(&room, &format!("filler {i}")).await;
        }
        d.c.refresh().await.unwrap();
        d.connect_to("#room-list button.conv-item").await;
        d.wait_message("filler 24").await;

        // Reply: the bar names what is answered; the sent message quotes it.
        d.js(&format!(
            "document.querySelector('#messages li[data-id=\"{oid}\"] button.reply').click(); return true;"
        ))
        .await;
        d.until("the reply bar", "return !document.getElementById('reply-bar').hidden").await;
        let bar: String = serde_json::from_value(d.js("return document.getElementById('reply-bar').textContent").await).unwrap();
        assert!(bar.contains("Replying to") && bar.contains("Lunch at noon?"), "{bar}");
        d.say("Yes, see you there").await;
        d.until("the bar to close", "return document.getElementById('reply-bar').hidden").await;
        let history = bob.history(&room).await;
        let reply = history.last().unwrap();
        assert_eq!(reply["message"], "Yes, see you there");
        assert_eq!(reply["reply_to"], oid, "the server stored what it answers");
        let rid = reply["message_id"].as_i64().unwrap();
        let quote = format!("#messages li[data-id=\"{rid}\"] .reply-quote");
        d.until("the quote", &format!("return !!document.querySelector('{quote}')")).await;
        let quoted: String = serde_json::from_value(d.js(&format!("return document.querySelector('{quote}').textContent")).await).unwrap();
        assert!(quoted.contains("bob") && quoted.contains("Lunch at noon?"), "{quoted}");
        // The quote goes to the original: scrolled into view and marked.
        d.js(&format!("document.querySelector('{quote}').click(); return true;")).await;
        d.until(
            "the original in view",
            &format!(
                "const li = document.querySelector('#messages li[data-id=\"{oid}\"]'); \
                 const r = li.getBoundingClientRect(), box = document.getElementById('messages-log').getBoundingClientRect(); \
                 return li.classList.contains('flash') && r.top >= box.top && r.bottom <= box.bottom;"
            ),
        )
        .await;

        // React from the palette.
        let item = format!("#messages li[data-id=\"{oid}\"]");
        d.js(&format!("document.querySelector('{item} button.react').click(); return true;")).await;
        d.click(&format!("{item} .palette button[data-emoji=\"👍\"]")).await;
        let chip = format!("{item} .reactions button[data-emoji=\"👍\"]");
        let state = |p: &'static str| {
            format!(
                "const c = document.querySelector('{chip}'); \
                 return c ? [c.querySelector('.count').textContent, c.getAttribute('aria-pressed')] : {p};"
            )
        };
        d.until("my reaction", &format!("return JSON.stringify((() => {{ {} }})()) === '[\"1\",\"true\"]'", state("null"))).await;
        // Bob's arrives live.
        let (st, _) = bob
            .post(&format!("/api/messages/{oid}/reactions"), json!({"emoji": "👍"}))
            .await;
        assert_eq!(st, reqwest::StatusCode::OK);
        d.until("bob's reaction", &format!("return JSON.stringify((() => {{ {} }})()) === '[\"2\",\"true\"]'", state("null"))).await;
        let title: Value = d.js(&format!("return document.querySelector('{chip}').title")).await;
        assert_eq!(title, json!("alice, bob"));
        // Pressing my chip takes mine back.
        d.click(&chip).await;
        d.until("mine taken back", &format!("return JSON.stringify((() => {{ {} }})()) === '[\"1\",\"false\"]'", state("null"))).await;
        let (_, m) = bob.get(&format!("/api/conversations/{room}?limit=100")).await;
        let stored = m.as_array().unwrap().iter().find(|x| x["message_id"] == oid).unwrap().clone();
        assert_eq!(stored["reactions"], json!([{"emoji": "👍", "count": 1, "users": [{"user_id": bob.user_id, "username": "bob"}]}]));
        let found = d.axe().await;
        assert!(found.is_empty(), "accessibility: {found:#?}");
        d.shot("reactions").await;

        // A phone in dark mode shows the same, and can react too.
        ph.sign_up(&s, "carol").await;
        let carol = common::login(&s, "carol").await;
        carol.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        ph.c.refresh().await.unwrap();
        ph.connect_to("#room-list button.conv-item").await;
        ph.wait_message("Yes, see you there").await;
        ph.js(&format!("document.querySelector('{item}').scrollIntoView(); document.querySelector('{item} button.react').click(); return true;")).await;
        ph.click(&format!("{item} .palette button[data-emoji=\"🎉\"]")).await;
        d.until(
            "carol's reaction on the desktop",
            &format!("return !!document.querySelector('{item} .reactions button[data-emoji=\"🎉\"]')"),
        )
        .await;
        let found = ph.axe().await;
        assert!(found.is_empty(), "accessibility on the phone: {found:#?}");
        ph.shot("reactions-phone-dark").await;

        // A reply to a message further up than a reload loads: its quote
        // opens the history around the original.
        for i in 0..60 {
            bob.say(&room, &format!("more {i}")).await;
        }
        let (st, late) = bob
            .post(
                "/api/messages/",
                json!({"conversation_id": room, "message": "back to lunch", "reply_to": oid}),
            )
            .await;
        assert_eq!(st, reqwest::StatusCode::OK, "{late}");
        let lid = late["message_id"].as_i64().unwrap();
        d.c.refresh().await.unwrap();
        d.connect_to("#room-list button.conv-item").await;
        d.wait_message("back to lunch").await;
        let loaded: Value = d.js(&format!("return !!document.querySelector('{item}')")).await;
        assert_eq!(loaded, json!(false), "the original is not loaded after a reload");
        d.js(&format!("document.querySelector('#messages li[data-id=\"{lid}\"] .reply-quote').click(); return true;")).await;
        d.until(
            "the original, loaded and in view",
            &format!(
                "const li = document.querySelector('{item}'); if (!li) return false; \
                 const r = li.getBoundingClientRect(), box = document.getElementById('messages-log').getBoundingClientRect(); \
                 return r.top >= box.top && r.bottom <= box.bottom;"
            ),
        )
        .await;
        s
    })
    .await;
}
