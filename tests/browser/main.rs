//! The bundled page in real headless Chromium, driven over WebDriver
//! (chromedriver) against the real server.
//!
//! These need Debian's `chromium` and `chromium-driver` packages, so they are
//! ignored by a plain `cargo test`; `.ci/run` installs both and runs them with
//! `cargo test --test browser -- --ignored`. Each test saves a screenshot of
//! every browser's final page under `target/tmp/browser-screenshots/`.

mod admin;
#[path = "../common/mod.rs"]
mod common;
mod markdown;
mod notify;
mod page;
mod push;
mod reactions;
mod search;

use std::future::Future;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestServer, Ws};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// A chromedriver process of our own, on a free port.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bin = std::env::var("NATTER_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e} (install chromium-driver)"));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = reqwest::get(format!("{url}/status")).await
                && res.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver { child, url }
    }

    /// A new browser: headless, with its own empty profile.
    async fn browser(&self, profile: &std::path::Path, view: View) -> Client {
        let mut caps = serde_json::Map::new();
        let mut args = vec![
            json!("--headless"),
            json!("--no-sandbox"),
            json!("--disable-gpu"),
            json!("--disable-dev-shm-usage"),
            json!("--disable-background-networking"),
            json!("--disable-component-update"),
            json!("--disable-sync"),
            json!("--no-first-run"),
            json!("--disable-quic"),
            json!(format!("--user-data-dir={}", profile.display())),
            json!(format!("--window-size={},{}", view.width, view.height)),
        ];
        if view.dark {
            // prefers-color-scheme: dark for the page.
            args.push(json!("--force-dark-mode"));
        }
        let mut options = json!({ "args": args });
        if view.phone {
            // A phone: its size, and touch as the main input (pointer: coarse).
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": view.width, "height": view.height, "pixelRatio": 3, "touch": true},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
            });
        }
        if view.notifications {
            // What "Allow" in the permission prompt stores.
            options["prefs"] = json!({"profile.default_content_setting_values.notifications": 1});
        }
        if let Ok(bin) = std::env::var("NATTER_CHROMIUM") {
            options["binary"] = json!(bin);
        }
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How a browser sees the page.
#[derive(Debug, Clone, Copy)]
struct View {
    width: u32,
    height: u32,
    dark: bool,
    /// A phone: touch, mobile viewport.
    phone: bool,
    /// The site may show notifications (as if the user had allowed them).
    notifications: bool,
}

impl View {
    const DESKTOP: View = View {
        width: 1280,
        height: 800,
        dark: false,
        phone: false,
        notifications: false,
    };
    const PHONE: View = View {
        width: 390,
        height: 844,
        dark: false,
        phone: true,
        notifications: false,
    };

    fn wide(width: u32) -> View {
        View {
            width,
            height: 900,
            ..View::DESKTOP
        }
    }

    fn dark(self) -> View {
        View { dark: true, ..self }
    }

    fn notifying(self) -> View {
        View {
            notifications: true,
            ..self
        }
    }
}

/// Run a browser test with `n` browsers; screenshots are saved whether it
/// passes or fails, then the browsers are closed. Whatever the test returns
/// (a server, say) lives until the screenshots are taken.
async fn with_browsers<F, Fut, T>(name: &str, n: usize, width: u32, f: F)
where
    F: FnOnce(Vec<Page>) -> Fut,
    Fut: Future<Output = T>,
{
    with_views(name, &vec![View::wide(width); n], f).await
}

/// `with_browsers` with a view per browser.
async fn with_views<F, Fut, T>(name: &str, views: &[View], f: F)
where
    F: FnOnce(Vec<Page>) -> Fut,
    Fut: Future<Output = T>,
{
    let driver = Driver::start().await;
    let profiles = tempfile::tempdir().unwrap();
    let mut pages = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let profile = profiles.path().join(format!("p{i}"));
        pages.push(Page {
            c: driver.browser(&profile, *view).await,
        });
    }
    let clients: Vec<Client> = pages.iter().map(|p| p.c.clone()).collect();
    let result = AssertUnwindSafe(f(pages)).catch_unwind().await;
    for (i, c) in clients.into_iter().enumerate() {
        if let Ok(png) = c.screenshot().await {
            let _ = std::fs::write(screenshot_dir().join(format!("{name}-{i}.png")), png);
        }
        let _ = c.close().await;
    }
    drop(driver.child);
    match result {
        Ok(kept) => drop(kept),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// One browser tab with small helpers that wait the way a person would.
struct Page {
    c: Client,
}

const WAIT: Duration = Duration::from_secs(10);

impl Page {
    async fn open(&self, s: &TestServer) {
        self.c.goto(&s.url("/")).await.unwrap();
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let e = self.find(css).await;
            match e.click().await {
                Ok(()) => return,
                Err(err) if Instant::now() > deadline => panic!("click {css}: {err}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.unwrap();
    }

    /// Evaluate a script (the body of a function) and return its value.
    async fn js(&self, script: &str) -> Value {
        self.c.execute(script, vec![]).await.unwrap()
    }

    /// Wait until `script` returns true.
    async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        while self.js(script).await != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Run axe-core (from npm, installed by `.ci/run` into target/axe) on
    /// the page as it is; its serious and critical violations.
    async fn axe(&self) -> Vec<Value> {
        let path = std::env::var("NATTER_AXE_JS").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/axe/node_modules/axe-core/axe.min.js"
            )
            .into()
        });
        let src = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: {e} (npm install --prefix target/axe axe-core@4.14.1, as .ci/run does)")
        });
        self.js(&format!("{src}\nwindow.axe = axe; return true;")).await;
        let found = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then((r) => done(r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ')) }))))
                   .catch((e) => done([{ id: 'axe-error', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(found).unwrap()
    }

    /// A screenshot for docs/PAGE.md: kept under target/tmp/page-screens,
    /// and copied to `$NATTER_PAGE_SCREENSHOTS` when that is set.
    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page-screens");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        if let Ok(docs) = std::env::var("NATTER_PAGE_SCREENSHOTS") {
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(PathBuf::from(docs).join(format!("{name}.png")), &png).unwrap();
        }
    }

    /// The texts of the message bubbles shown, in order.
    async fn messages(&self) -> Vec<String> {
        let v = self
            .js("return [...document.querySelectorAll('#messages li .text')].map(e => e.textContent)")
            .await;
        serde_json::from_value(v).unwrap()
    }

    async fn wait_message(&self, text: &str) {
        let script = format!(
            "return [...document.querySelectorAll('#messages li[data-id] .text')].some(e => e.textContent === {})",
            json!(text)
        );
        self.until(&format!("message {text:?}"), &script).await;
    }

    async fn sign_up(&self, s: &TestServer, username: &str) {
        self.open(s).await;
        self.type_into("#signup-username", username).await;
        self.type_into("#signup-password", "password1").await;
        self.click("#signup-submit").await;
        self.until("the signed-in page", "return !document.getElementById('app').hidden")
            .await;
    }

    /// Send a message the way a person does: type, press Enter.
    async fn say(&self, text: &str) {
        self.type_into("#message-input", &format!("{text}\u{E007}")).await;
        self.wait_message(text).await;
    }

    /// Create a room with the sidebar's form and be live in it.
    async fn new_room(&self, name: &str) {
        self.type_into("#new-room-name", &format!("{name}\u{E007}")).await;
        let title = format!(
            "return document.getElementById('conv-title').textContent === {}",
            json!(format!("# {name}"))
        );
        self.until("the new room", &title).await;
        self.go_live().await;
    }

    /// Press Connect if this visit has not yet; wait for the composer.
    async fn go_live(&self) {
        if self.js("return !document.getElementById('connect').hidden").await == json!(true) {
            self.click("#connect").await;
        }
        self.until("the composer", "return !document.getElementById('composer').hidden")
            .await;
    }

    /// Open a conversation from the sidebar and be live in it.
    async fn connect_to(&self, sidebar_css: &str) {
        self.click(sidebar_css).await;
        self.go_live().await;
    }
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn two_people_chat_live_in_a_room() {
    let s = TestServer::start().await;
    with_browsers("room", 2, 1100, |pages| async move {
        let (a, b) = (&pages[0], &pages[1]);
        a.sign_up(&s, "alice").await;
        b.sign_up(&s, "bob").await;
        // Alice makes a room and connects to it.
        a.type_into("#new-room-name", "lobby\u{E007}").await;
        a.until("the room view", "return document.getElementById('conv-title').textContent === '# lobby'").await;
        a.click("#connect").await;
        a.until("the composer", "return !document.getElementById('composer').hidden").await;
        // Bob finds it among the public rooms, joins and connects.
        b.c.refresh().await.unwrap();
        b.click("#public-list button[data-room]").await;
        b.until("the room view", "return document.getElementById('conv-title').textContent === '# lobby'").await;
        b.click("#connect").await;
        b.until("the composer", "return !document.getElementById('composer').hidden").await;

        a.say("hello from alice").await;
        b.wait_message("hello from alice").await;
        b.say("hi alice, bob here").await;
        a.wait_message("hi alice, bob here").await;
        assert_eq!(a.messages().await, ["hello from alice", "hi alice, bob here"]);
        assert_eq!(b.messages().await, ["hello from alice", "hi alice, bob here"]);
        // Own messages are confirmed by the ack: nothing is left pending.
        assert_eq!(a.js("return document.querySelectorAll('#messages .pending, #messages .failed').length").await, json!(0));
        // Every control has a label.
        let unlabeled = a
            .js("return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')].filter(e => !e.labels || e.labels.length === 0).map(e => e.id)")
            .await;
        assert_eq!(unlabeled, json!([]), "controls without a label");
        assert_eq!(a.js("return document.getElementById('conn-status').textContent").await, json!("connected"));
        // Chromium offers permessage-deflate and natter takes it: both pages'
        // sockets are compressed, and the chat above went through them.
        let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
        let compressed = metrics.lines().find(|l| l.starts_with("natter_sockets_compressed "));
        assert_eq!(compressed, Some("natter_sockets_compressed 2"), "{metrics}");
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn a_direct_conversation_with_typing_and_seen_marks() {
    let s = TestServer::start().await;
    with_browsers("direct", 2, 1100, |pages| async move {
        let (a, b) = (&pages[0], &pages[1]);
        a.sign_up(&s, "alice").await;
        b.sign_up(&s, "bob").await;
        // Bob goes live (Connect in the top bar): he is online from now on.
        b.click("#connect-top").await;
        b.until(
            "bob connected",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        // Alice finds bob and starts a direct conversation.
        a.type_into("#user-search", "bo").await;
        a.click("#search-results button[data-user='bob']").await;
        a.until(
            "the direct view",
            "return document.getElementById('conv-title').textContent === 'bob'",
        )
        .await;
        a.until(
            "bob online",
            "return document.getElementById('conv-presence').textContent === 'online'",
        )
        .await;
        a.click("#connect").await;
        a.say("hi bob").await;
        assert_eq!(
            a.js("return document.querySelector('#messages .seen-mark').textContent")
                .await,
            json!("✓ sent")
        );
        // Bob's sidebar shows it live, unread.
        b.until(
            "the new conversation",
            "return document.querySelector('#direct-list .badge')?.textContent === '1'",
        )
        .await;
        b.connect_to("#direct-list button.conv-item").await;
        b.wait_message("hi bob").await;
        // Bob read it: alice sees the seen mark.
        a.until(
            "the seen mark",
            "return document.querySelector('#messages .seen-mark').textContent === '✓✓ seen'",
        )
        .await;
        // Typing shows on the other side.
        b.type_into("#message-input", "typing").await;
        a.until(
            "typing indicator",
            "return document.getElementById('typing').textContent === 'bob is typing…'",
        )
        .await;
        b.type_into("#message-input", "\u{E007}").await;
        a.wait_message("typing").await;
        a.until(
            "the typing line clears",
            "return document.getElementById('typing').textContent === ''",
        )
        .await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn reload_keeps_the_session_and_the_history_at_phone_width() {
    let s = TestServer::start().await;
    with_browsers("reload-phone", 1, 390, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        a.new_room("notes").await;
        for text in ["one", "two", "three"] {
            a.say(text).await;
        }
        a.c.refresh().await.unwrap();
        a.until(
            "signed in after reload",
            "return !document.getElementById('app').hidden",
        )
        .await;
        assert_eq!(a.js("return document.getElementById('auth').hidden").await, json!(true));
        // The reload is back in the same conversation, live again by itself.
        a.wait_message("three").await;
        assert_eq!(
            a.js("return document.getElementById('conv-title').textContent").await,
            json!("# notes")
        );
        assert_eq!(a.messages().await, ["one", "two", "three"]);
        let width = a
            .js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await;
        assert_eq!(width, json!(true), "no sideways scrolling at phone width");
        // Logging out revokes the session: a reload shows the login form.
        a.click("#show-sidebar").await;
        a.click("#logout").await;
        a.until("the login form", "return !document.getElementById('auth').hidden")
            .await;
        a.c.refresh().await.unwrap();
        a.until(
            "the login form after reload",
            "return !document.getElementById('auth').hidden",
        )
        .await;
        // Wrong password: the server's message, inline.
        a.type_into("#login-username", "alice").await;
        a.type_into("#login-password", "wrong-password\u{E007}").await;
        a.until(
            "the error",
            "return document.getElementById('login-error').textContent === 'invalid username or password'",
        )
        .await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn html_in_a_message_is_shown_as_text() {
    let s = TestServer::start().await;
    with_browsers("xss", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "mallory").await;
        a.new_room("safe").await;
        let evil = "<img src=x onerror=alert(1)>";
        a.say(evil).await;
        a.c.refresh().await.unwrap();
        a.connect_to("#room-list button.conv-item").await;
        a.wait_message(evil).await;
        assert_eq!(a.messages().await, [evil]);
        assert_eq!(
            a.js("return document.querySelectorAll('#messages img').length").await,
            json!(0)
        );
        assert!(a.c.get_alert_text().await.is_err(), "no alert ran");
        // The room name and sidebar preview are text too.
        let preview = a
            .js("return document.querySelector('#room-list .last').textContent")
            .await;
        assert_eq!(preview, json!(format!("You: {evil}")));
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn messages_from_other_dialects_appear_live() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    with_browsers("other-dialects", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        let alice = common::login(&s, "alice").await;
        bob.direct(&alice).await;
        a.c.refresh().await.unwrap();
        a.connect_to("#direct-list button.conv-item").await;
        // Bob uses the threads socket…
        let mut threads = Ws::connect(&s.ws_url(&format!("/ws/chat/room/?token={}", bob.token()))).await;
        threads
            .send(json!({"action": "chat_message", "message_body": "sent from threads", "receiver_id": alice.user_id}))
            .await;
        a.wait_message("sent from threads").await;
        // …then messenger over HTTP, then the chatroom socket.
        let (st, _) = bob
            .post(
                "/messenger/api/chatrooms/alice_bob/messages/",
                json!({"content": "sent from messenger"}),
            )
            .await;
        assert_eq!(st, reqwest::StatusCode::CREATED);
        a.wait_message("sent from messenger").await;
        let (_, users) = bob.get("/get_users").await;
        let bob_number = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "bob")
            .unwrap()["user_id"]
            .clone();
        let mut room = Ws::connect(&s.ws_url(&format!("/ws/chat/alice_bob/{bob_number}?token={}", bob.token()))).await;
        room.send(json!({"message": "sent from chatroom"})).await;
        a.wait_message("sent from chatroom").await;
        assert_eq!(
            a.messages().await,
            ["sent from threads", "sent from messenger", "sent from chatroom"]
        );
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn edit_delete_and_attach_an_image() {
    let s = TestServer::start().await;
    with_browsers("edit-attach", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        a.new_room("photos").await;
        a.say("first draft").await;
        a.click("#messages li[data-id] button.edit").await;
        let input = a.find("#messages .edit-input").await;
        input.clear().await.unwrap();
        input.send_keys("final text\u{E007}").await.unwrap();
        a.wait_message("final text").await;
        a.until("the edited mark", "return document.querySelector('#messages li[data-id] .meta').textContent.includes('edited')").await;
        a.say("delete me").await;
        a.click("#messages li[data-id]:last-of-type button.delete").await;
        a.click("#messages li[data-id]:last-of-type button.delete").await;
        a.wait_message("message deleted").await;

        // Attach a PNG: it is uploaded, sent, and previewed inline.
        let png = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
        std::fs::write(png.path(), PNG_1X1).unwrap();
        a.find("#file-input").await.send_keys(&png.path().display().to_string()).await.unwrap();
        // Chosen, previewed in the composer, sent with Send.
        a.until("the chosen file", "return !document.getElementById('attachment-preview').hidden").await;
        a.click("#send").await;
        a.until("the image preview", "const i = document.querySelector('#messages img.preview'); return !!i && i.complete && i.naturalWidth === 1").await;
        let name = png.path().file_name().unwrap().to_string_lossy().into_owned();
        let link = a.js("return document.querySelector('#messages .attachment a').textContent").await;
        assert!(link.as_str().unwrap().contains(&name), "{link}");
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn reconnects_and_resumes_after_the_server_restarts() {
    let s = TestServer::start().await;
    let addr = s.addr.to_string();
    let bob = s.register("bob").await;
    with_browsers("reconnect", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        let alice = common::login(&s, "alice").await;
        let d = bob.direct(&alice).await;
        a.c.refresh().await.unwrap();
        a.connect_to("#direct-list button.conv-item").await;
        bob.say(&d, "before").await;
        a.wait_message("before").await;

        let (dir, config) = s.stop().await;
        a.until(
            "the reconnecting state",
            "return document.getElementById('conn-status').textContent === 'reconnecting…'",
        )
        .await;
        let s = TestServer::start_on(dir, config, &addr).await;
        let mut bob = bob.clone();
        bob.base = s.base.clone();
        for text in ["while away 1", "while away 2"] {
            bob.say(&d, text).await;
        }
        a.wait_message("while away 2").await;
        a.until(
            "connected again",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        bob.say(&d, "after").await;
        a.wait_message("after").await;
        assert_eq!(
            a.messages().await,
            ["before", "while away 1", "while away 2", "after"],
            "nothing missed or doubled"
        );
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn scrolling_up_loads_older_pages() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("archive").await;
    for i in 0..120 {
        bob.say(&room, &format!("m{i}")).await;
    }
    with_browsers("older-pages", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        a.click("#public-list button[data-room]").await;
        a.click("#connect").await;
        a.wait_message("m119").await;
        assert_eq!(a.messages().await.len(), 50, "the newest page first");
        let count = "return document.querySelectorAll('#messages li[data-id]').length";
        a.js("document.getElementById('scroller').scrollTop = 0").await;
        a.until("the second page", &format!("{count} === 100")).await;
        a.js("document.getElementById('scroller').scrollTop = 0").await;
        a.until("everything", &format!("{count} === 120")).await;
        let shown = a.messages().await;
        let expected: Vec<String> = (0..120).map(|i| format!("m{i}")).collect();
        assert_eq!(shown, expected, "in order, none twice");
        assert_eq!(
            a.js("return document.getElementById('load-older').hidden").await,
            json!(true)
        );
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn nothing_is_skipped_when_the_page_sends_over_http_while_its_socket_is_down() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    with_browsers("socket-down", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        let alice = common::login(&s, "alice").await;
        let d = bob.direct(&alice).await;
        a.c.refresh().await.unwrap();
        a.connect_to("#direct-list button.conv-item").await;
        // Drop the page's socket and hold the reconnect off for a few seconds.
        a.js("natter.state.retry = 3; natter.state.ws.close();").await;
        a.until(
            "the reconnecting state",
            "return document.getElementById('conn-status').textContent === 'reconnecting…'",
        )
        .await;
        bob.say(&d, "from bob while alice is offline").await;
        // Alice sends now: over HTTP, and it gets a newer id than bob's.
        a.say("from alice over http").await;
        a.wait_message("from bob while alice is offline").await;
        a.until(
            "connected again",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        assert_eq!(
            a.messages().await,
            ["from bob while alice is offline", "from alice over http"]
        );
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn the_page_survives_its_access_token_expiring() {
    let s = TestServer::start_with(|c| c.access_ttl = std::time::Duration::from_secs(2)).await;
    with_browsers("token-expiry", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        a.new_room("first").await;
        a.say("before expiry").await;
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        // Several requests at once find the token expired: one refresh serves them all.
        a.type_into("#new-room-name", "second\u{E007}").await;
        a.until(
            "the new room",
            "return document.getElementById('conv-title').textContent === '# second'",
        )
        .await;
        // Connected once this visit: the new room is live at once.
        assert_eq!(
            a.js("return document.getElementById('connect').hidden").await,
            json!(true)
        );
        a.say("after expiry").await;
        assert_eq!(
            a.js("return document.getElementById('app').hidden").await,
            json!(false),
            "still signed in"
        );
        a.until(
            "connected",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        s
    })
    .await;
}

/// A 1×1 PNG.
const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn an_ai_chat_streams_its_reply_in() {
    use common::fake_ai::{FakeAi, Step};
    let ai = FakeAi::start().await;
    let (step, gate) = Step::gated(&["The capital ", "of France "], &["is Paris."]);
    ai.then(step).then(Step::Status(503, "model loading".into()));
    let url = ai.url.clone();
    let s = TestServer::start_with(move |c| {
        c.ai.ai_url = Some(url);
        c.ai.ai_name = "Claude Bot".into();
    })
    .await;
    with_browsers("ai-chat", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        // The option is there because the server has an agent.
        a.until(
            "the AI chat button",
            "return !document.getElementById('ai-chat').hidden",
        )
        .await;
        assert_eq!(
            a.js("return document.getElementById('ai-chat-button').textContent")
                .await,
            json!("Chat with Claude Bot")
        );
        a.click("#ai-chat-button").await;
        a.until(
            "the AI conversation",
            "return document.getElementById('conv-title').textContent === 'Claude Bot'",
        )
        .await;
        a.click("#connect").await;
        a.until("the composer", "return !document.getElementById('composer').hidden")
            .await;
        a.say("What is the capital of France?").await;
        // The reply streams in: the text so far, marked as being written…
        a.until(
            "the reply so far",
            "const d = document.querySelector('#messages li.draft'); \
             return !!d && d.querySelector('.text').textContent === 'The capital of France ' \
                && d.querySelector('.state').textContent === 'writing…'",
        )
        .await;
        gate.notify_one();
        // …then it is the stored message, and the draft is gone.
        a.wait_message("The capital of France is Paris.").await;
        assert_eq!(
            a.js("return document.querySelectorAll('#messages li.draft').length")
                .await,
            json!(0)
        );
        assert_eq!(
            a.messages().await,
            ["What is the capital of France?", "The capital of France is Paris."]
        );
        // A failure is shown in the conversation, and the agent's note is stored.
        a.say("And of Spain?").await;
        a.until(
            "the failure notice",
            "const n = document.querySelector('#messages li.notice'); \
             return !!n && n.textContent.includes('HTTP status 503')",
        )
        .await;
        a.wait_message("I could not answer: the AI backend answered with HTTP status 503: model loading.")
            .await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn without_an_agent_the_page_offers_no_ai_chat() {
    let s = TestServer::start().await;
    with_browsers("no-ai", 1, 1100, |pages| async move {
        let a = &pages[0];
        a.sign_up(&s, "alice").await;
        a.until(
            "the sidebar",
            "return document.querySelectorAll('#room-list li').length > 0",
        )
        .await;
        assert_eq!(
            a.js("return document.getElementById('ai-chat').hidden").await,
            json!(true)
        );
        s
    })
    .await;
}
