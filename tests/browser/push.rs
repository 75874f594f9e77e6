//! The installable page: the service worker that controls it, the offline
//! shell it keeps, and the notifications control in the profile dialog.
//! (Headless Chromium has no push service, so subscribing cannot succeed
//! here; the control must still say plainly where it stands.)

use super::common::TestServer;
use super::{View, with_views};

const STATUSES: &str = "['on', 'off', 'blocked by the browser', 'push is not available here']";

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn the_worker_keeps_the_shell_offline_and_the_notifications_control_says_where_it_stands() {
    let s = TestServer::start().await;
    with_views("push", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        p.until(
            "the service worker to control the page",
            "return !!navigator.serviceWorker.controller && navigator.serviceWorker.controller.scriptURL.endsWith('/sw.js')",
        )
        .await;

        // The shell is cached (the worker controls the page only once its
        // install has cached it), and nothing under /api/ ever is (the page
        // has made plenty of API calls by now).
        let cached = p
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 (async () => {
                   const out = [];
                   for (const k of await caches.keys())
                     for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
                   return out;
                 })().then(done, (e) => done(String(e)));",
                vec![],
            )
            .await
            .unwrap();
        let cached: Vec<String> = serde_json::from_value(cached).unwrap();
        for needed in ["/", "/static/js/push.js", "/static/app.css"] {
            assert!(cached.iter().any(|p| p == needed), "{needed}: {cached:?}");
        }
        assert!(!cached.iter().any(|p| p.starts_with("/api/")), "{cached:?}");

        // A notification clicked while the page is open: the worker tells
        // the page, which opens that conversation.
        p.new_room("garden").await;
        let id = p.js("return location.hash.slice('#/c/'.length)").await;
        p.js("location.hash = ''; return true;").await;
        p.until("no conversation open", "return document.getElementById('conversation').hidden").await;
        p.js(&format!(
            "navigator.serviceWorker.dispatchEvent(new MessageEvent('message', {{ data: {{ type: 'natter.open', conversation_id: {id} }} }})); return true;"
        ))
        .await;
        p.until(
            "the conversation the notification named",
            "return !document.getElementById('conversation').hidden && document.getElementById('conv-title').textContent === '# garden'",
        )
        .await;

        // The control, on a user's click: a status a person can read.
        p.click("#profile-button").await;
        p.until(
            "the status before asking",
            &format!("return {STATUSES}.includes(document.getElementById('push-status').textContent)"),
        )
        .await;
        p.click("#push-button").await;
        p.until(
            "a status after asking",
            &format!(
                "const t = document.getElementById('push-status').textContent; \
                 return {STATUSES}.includes(t) || t.startsWith('off:') || t.startsWith('on while natter is open')"
            ),
        )
        .await;
        let status = p.js("return document.getElementById('push-status').textContent").await;
        assert_ne!(status, "on", "headless Chromium has no push service");
        p.shot("notifications-control").await;
        let serious = p.axe().await;
        assert!(serious.is_empty(), "the profile dialog with its notifications control: {serious:#?}");
        p.click("#profile-close").await;

        // The server goes away: a reload still shows the page, from the
        // worker's cache, and it says it cannot reach the server.
        let kept = s.stop().await;
        p.c.refresh().await.unwrap();
        p.until(
            "the cached shell, saying it is offline",
            "const n = document.getElementById('auth-notice'); \
             return !!n && !n.hidden && n.textContent.includes('offline')",
        )
        .await;
        let styled = p
            .js("return getComputedStyle(document.body).fontFamily !== '' && !!document.querySelector('link[href=\"/static/app.css\"]').sheet")
            .await;
        assert_eq!(styled, serde_json::json!(true), "the cached stylesheet applies");
        kept
    })
    .await;
}
