//! Finding messages in the page: the search dialog, its marked matches,
//! "Load more", the scope, and opening a result at its place in the
//! conversation, on a desktop and on a phone.

use serde_json::json;

use super::common::{TestServer, login};
use super::{Page, View, with_views};

/// Search for `q` in the open dialog and wait for `n` results.
async fn search_for(p: &Page, q: &str, n: usize) {
    p.js("const i = document.getElementById('message-search'); i.value = ''; return true;")
        .await;
    p.type_into("#message-search", &format!("{q}\u{E007}")).await;
    p.until(
        &format!("{n} results for {q:?}"),
        &format!("return document.querySelectorAll('#message-results li').length === {n} && !document.getElementById('search-status').textContent.startsWith('Searching')"),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn search_marks_matches_loads_more_and_opens_a_result_in_its_history() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    with_views("search", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        let alice = login(&s, "alice").await;
        let room = alice.room("archive").await;
        let mut needles = Vec::new();
        for i in 0..150 {
            let text = if i % 6 == 0 {
                format!("the needle number {i}")
            } else {
                format!("filler {i}")
            };
            let sent = alice.say(&room, &text).await;
            if i % 6 == 0 {
                needles.push(sent["message_id"].as_i64().unwrap());
            }
        }
        alice.say(&room, "<b>not bold</b> needle <img src=x onerror=alert(1)>").await;
        let direct = bob.direct(&alice).await;
        bob.say(&direct, "a needle from bob, in private").await;
        p.c.refresh().await.unwrap();
        p.until("the sidebar", "return document.querySelectorAll('#room-list .conv-item').length === 1").await;

        // 25 + 2 needles: a first page of 20, then the rest with "Load more".
        p.click("#search-button").await;
        p.until("the dialog", "return document.getElementById('search-dialog').open").await;
        search_for(p, "NEEDLE", 20).await;
        let marks = p
            .js("return [...document.querySelectorAll('#message-results mark')].map(m => m.textContent)")
            .await;
        assert!(marks.as_array().unwrap().iter().all(|m| m == "needle"), "{marks}");
        assert_eq!(marks.as_array().unwrap().len(), 20);
        // User text stays text: the tags show as written, none is made.
        let first = p.js("return document.querySelector('#message-results li').textContent").await;
        assert!(first.as_str().unwrap().contains("a needle from bob"), "newest first: {first}");
        let html = p.js("return document.querySelectorAll('#message-results li')[1].textContent").await;
        assert!(html.as_str().unwrap().contains("<b>not bold</b>"), "{html}");
        assert_eq!(
            p.js("return document.querySelectorAll('#message-results b, #message-results img').length").await,
            json!(0)
        );
        assert_eq!(p.js("return document.getElementById('search-more').hidden").await, json!(false));
        p.shot("search").await;
        p.click("#search-more").await;
        p.until("all 27", "return document.querySelectorAll('#message-results li').length === 27").await;
        assert_eq!(p.js("return document.getElementById('search-more').hidden").await, json!(true));
        let ids = p
            .js("return [...document.querySelectorAll('#message-results button.result')].map(b => Number(b.dataset.id))")
            .await;
        let ids: Vec<i64> = serde_json::from_value(ids).unwrap();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), 27, "no result twice");

        // The oldest needle is far back in the room's history: opening it
        // shows the messages around it, scrolled to it and marked.
        let oldest = needles[0];
        assert_eq!(*ids.last().unwrap(), oldest);
        p.click(&format!("#message-results button.result[data-id='{oldest}']")).await;
        p.until("the dialog closed", "return !document.getElementById('search-dialog').open").await;
        p.until(
            "the found message",
            &format!("return !!document.querySelector('#messages li.found[data-id=\"{oldest}\"]')"),
        )
        .await;
        assert_eq!(
            p.js("return document.getElementById('conv-title').textContent").await,
            json!("# archive")
        );
        assert_eq!(p.js("return location.hash").await, json!(format!("#/c/{room}")));
        let visible = p
            .js(&format!(
                "const r = document.querySelector('#messages li[data-id=\"{oldest}\"]').getBoundingClientRect();
                 const s = document.getElementById('scroller').getBoundingClientRect();
                 return r.top >= s.top && r.bottom <= s.bottom"
            ))
            .await;
        assert_eq!(visible, json!(true), "the found message is in view");
        let shown = p.messages().await;
        assert!(shown.contains(&"filler 1".to_owned()), "what follows it: {shown:?}");
        assert!(!shown.contains(&"filler 149".to_owned()), "not the newest: {shown:?}");
        assert_eq!(p.js("return document.getElementById('load-newer').hidden").await, json!(false));

        // Scrolling down brings the rest, up to the newest message.
        p.until(
            "the newest message",
            "const s = document.getElementById('scroller'); s.scrollTop = s.scrollHeight;
             s.dispatchEvent(new Event('scroll'));
             return [...document.querySelectorAll('#messages li .text')].some(e => e.textContent === 'filler 149')",
        )
        .await;
        p.until("all loaded", "return document.getElementById('load-newer').hidden").await;
        let shown = p.messages().await;
        let last = shown.iter().position(|t| t == "filler 149").unwrap();
        assert_eq!(shown[last - 1], "filler 148", "no gap: {shown:?}");
        // Live messages arrive as usual again.
        alice.say(&room, "after the jump").await;
        p.wait_message("after the jump").await;

        // "This conversation" leaves bob's direct message out.
        p.click("#search-button").await;
        p.js("const s = document.getElementById('search-scope'); s.value = 'current'; s.dispatchEvent(new Event('change')); return true;")
            .await;
        p.until(
            "room results only",
            "return document.querySelectorAll('#message-results li').length === 20
               && ![...document.querySelectorAll('#message-results li')].some(li => li.textContent.includes('bob'))",
        )
        .await;
        search_for(p, "東京", 0).await;
        assert_eq!(
            p.js("return document.getElementById('search-status').textContent").await,
            json!("No messages found.")
        );
        p.click("#search-close").await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn search_on_a_phone_opens_the_conversation_at_the_message() {
    let s = TestServer::start().await;
    with_views("search-phone", &[View::PHONE], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        let alice = login(&s, "alice").await;
        let room = alice.room("travel").await;
        for i in 0..80 {
            let text = if i == 10 {
                "来週は東京タワーに行きます".to_owned()
            } else {
                format!("plan {i}")
            };
            alice.say(&room, &text).await;
        }
        p.c.refresh().await.unwrap();
        p.until(
            "the sidebar",
            "return document.querySelectorAll('#room-list .conv-item').length === 1",
        )
        .await;
        p.click("#search-button").await;
        search_for(p, "東京", 1).await;
        assert_eq!(
            p.js("return document.querySelector('#message-results mark').textContent")
                .await,
            json!("東京")
        );
        let fits = p
            .js(
                "const r = document.getElementById('search-dialog').getBoundingClientRect();
                 return r.left >= 0 && r.right <= window.innerWidth
                   && document.documentElement.scrollWidth <= window.innerWidth",
            )
            .await;
        assert_eq!(fits, json!(true), "the dialog fits a phone's width");
        p.shot("phone-search").await;
        p.click("#message-results button.result").await;
        p.until(
            "the found message",
            "return !!document.querySelector('#messages li.found')",
        )
        .await;
        assert_eq!(
            p.js("return document.querySelector('#messages li.found .text').textContent")
                .await,
            json!("来週は東京タワーに行きます")
        );
        // On a phone the list gives way to the conversation.
        assert_eq!(
            p.js("return document.getElementById('app').classList.contains('viewing')")
                .await,
            json!(true)
        );
        assert_eq!(
            p.js("return getComputedStyle(document.getElementById('sidebar')).display")
                .await,
            json!("none")
        );
        s
    })
    .await;
}
