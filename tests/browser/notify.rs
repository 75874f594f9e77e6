//! Mentions and notifications in the page: a mention of you is marked in
//! the message and listed under Mentions (which opens it in place); each
//! conversation's notify level is chosen in its header and decides its
//! badge; and a message you would want to hear of, in a conversation you
//! are not looking at, raises a system notification (through the service
//! worker, where the browser lists it).

use serde_json::{Value, json};

use super::common::{self, TestServer};
use super::{View, with_views};

fn text(v: Value) -> String {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn mentions_levels_and_notifications_in_the_page() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("plans").await;
    with_views("notify", &[View::wide(1200).notifying(), View::PHONE.dark()], |pages| async move {
        let (d, ph) = (&pages[0], &pages[1]);
        d.sign_up(&s, "alice").await;
        let alice = common::login(&s, "alice").await;
        let (st, _) = alice.post(&format!("/api/rooms/{room}/join"), json!({})).await;
        assert_eq!(st, reqwest::StatusCode::OK);
        let dm = alice.direct(&bob).await;
        let mentioned = bob.say(&room, "Lunch, @alice? Ask `@alice` in code, not ann@alice.org").await;
        let mid = mentioned["message_id"].as_i64().unwrap();
        for i in 0..25 {
            bob.say(&room, &format!("filler {i}")).await;
        }
        d.c.refresh().await.unwrap();
        d.until("the room in the list", "return !!document.querySelector('#room-list button.conv-item')").await;
        // The badge marks the mention (and the Mentions button counts it).
        let badge = text(d.js("return document.querySelector('#room-list .badge').getAttribute('aria-label')").await);
        assert_eq!(badge, "26 unread, 1 mention you");
        assert_eq!(text(d.js("return document.getElementById('mentions-unread').textContent").await), "1");
        // Allowed, without a push service (headless): on while the page is open.
        d.click("#profile-button").await;
        d.until(
            "the notifications status",
            "return document.getElementById('push-status').textContent === 'on while natter is open (push is off)'",
        )
        .await;
        d.click("#profile-close").await;

        // Mentions lists it; choosing it opens the room at that message.
        d.click("#mentions-button").await;
        d.until("the mention listed", &format!("return !!document.querySelector('#mention-results button[data-id=\"{mid}\"]')")).await;
        let listed = text(d.js("return document.querySelector('#mention-results .snippet .mention.me').textContent").await);
        assert_eq!(listed, "@alice");
        d.shot("mentions").await;
        d.click(&format!("#mention-results button[data-id=\"{mid}\"]")).await;
        let item = format!("#messages li[data-id=\"{mid}\"]");
        d.until(
            "the message in view, marked",
            &format!(
                "const li = document.querySelector('{item}'); if (!li) return false; \
                 const r = li.getBoundingClientRect(), box = document.getElementById('messages-log').getBoundingClientRect(); \
                 return li.classList.contains('mentions-me') && r.top >= box.top && r.bottom <= box.bottom;"
            ),
        )
        .await;
        // Only the mention is marked: not the code, not the address.
        let marks: Vec<String> = serde_json::from_value(
            d.js(&format!("return [...document.querySelectorAll('{item} .text .mention')].map(e => e.textContent)")).await,
        )
        .unwrap();
        assert_eq!(marks, ["@alice"]);
        let code = text(d.js(&format!("return document.querySelector('{item} .text code').textContent")).await);
        assert_eq!(code, "@alice");

        // The level, chosen in the header, is stored on the server.
        d.until("the level picker", "return document.getElementById('notify-level').value === 'all'").await;
        d.js("const s = document.getElementById('notify-level'); s.value = 'mentions'; s.dispatchEvent(new Event('change')); return true;")
            .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (_, list) = alice.get("/api/conversations").await;
            let mine = list.as_array().unwrap().iter().find(|x| x["conversation_id"] == room.as_str()).unwrap().clone();
            if mine["notify"] == "mentions" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the level was not stored: {mine}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }

        // Watch what the page hands the browser to show (see below).
        d.js(
            "const show = ServiceWorkerRegistration.prototype.showNotification;
             window.__shown = []; window.__shownDone = 0;
             ServiceWorkerRegistration.prototype.showNotification = function (title, o) {
               window.__shown.push([title, o.body, o.tag]);
               return show.call(this, title, o).then((r) => { window.__shownDone += 1; return r; });
             };
             return true;",
        )
        .await;
        // Away in the direct conversation: the room counts only mentions now.
        d.js("document.querySelector('#direct-list button.conv-item').click(); return true;").await;
        d.until("the direct conversation", &format!("return window.natter.state.current === '{dm}'")).await;
        bob.say(&room, "plain news").await;
        d.until("the news in the list", "return document.querySelector('#room-list .last').textContent === 'plain news'").await;
        assert_eq!(text(d.js("return document.querySelector('#room-list .badge').textContent").await), "");
        bob.say(&room, "@alice are you in?").await;
        d.until("a mention badge", "return document.querySelector('#room-list .badge.mention')?.textContent === '1'").await;

        // ... and a system notification, through the service worker: one,
        // for the mention only. What the page asked the browser to show is
        // read from the registration's own showNotification (wrapped before
        // the news came, calling through): headless Chromium under load
        // sometimes resolves showNotification and yet never lists the
        // notification in getNotifications, so the list is not the witness.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let shown = loop {
            let v = d.js("return window.__shown || []").await;
            if v.as_array().is_some_and(|a| !a.is_empty()) {
                break v;
            }
            assert!(std::time::Instant::now() < deadline, "no notification shown");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(shown, json!([["bob in # plans", "@alice are you in?", room]]));
        // It went to the browser: the call resolved without an error.
        d.until("the notification shown", "return window.__shownDone === 1").await;

        // Alice's phone heard of the level she chose on the desktop, live.
        ph.open(&s).await;
        ph.type_into("#login-username", "alice").await;
        ph.type_into("#login-password", "password1").await;
        ph.click("#login-submit").await;
        ph.until("the signed-in page", "return !document.getElementById('app').hidden").await;
        ph.connect_to("#room-list button.conv-item").await;
        ph.until("the level", "return document.getElementById('notify-level').value === 'mentions'").await;
        d.js("document.querySelector('#room-list button.conv-item').click(); return true;").await;
        d.until("the room", &format!("return window.natter.state.current === '{room}'")).await;
        d.js("const s = document.getElementById('notify-level'); s.value = 'nothing'; s.dispatchEvent(new Event('change')); return true;")
            .await;
        ph.until("the level from the other device", "return document.getElementById('notify-level').value === 'nothing'").await;
        ph.until("the muted room", "return !!document.querySelector('#room-list button.conv-item.muted')").await;
        ph.shot("notify-level-phone").await;
        d.shot("notify-level").await;
        assert_eq!(d.axe().await, Vec::<Value>::new(), "mentions and levels");
        assert_eq!(ph.axe().await, Vec::<Value>::new(), "mentions and levels on a dark phone");
    })
    .await;
}
