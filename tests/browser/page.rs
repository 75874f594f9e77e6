//! The page as people expect a chat app to behave, at desktop and phone
//! size, light and dark: one test per thing a first-time user ran into,
//! axe-core on the main views, and the screenshots docs/PAGE.md shows.

use serde_json::{Value, json};

use super::common::TestServer;
use super::{View, with_views};

/// Keys: Shift down, Enter, modifiers up (a new line in a text box).
const SHIFT_ENTER: &str = "\u{E008}\u{E007}\u{E000}";

fn text_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn logging_out_leaves_nothing_for_the_next_person_on_the_device() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    with_views("shared-device", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        let alice = super::common::login(&s, "alice").await;
        let d = bob.direct(&alice).await;
        bob.say(&d, "a secret for alice").await;
        p.c.refresh().await.unwrap();
        p.connect_to("#direct-list button.conv-item").await;
        p.wait_message("a secret for alice").await;
        p.say("alice's reply").await;
        // Alice logs out with the conversation open; carol signs up in the same tab.
        p.click("#logout").await;
        p.until("the login form", "return !document.getElementById('auth').hidden").await;
        assert_eq!(p.js("return location.hash").await, json!(""));
        let leftovers = p
            .js("return Object.keys(localStorage).concat(Object.keys(sessionStorage)).filter(k => k.startsWith('natter.'))")
            .await;
        assert_eq!(leftovers, json!([]), "nothing of alice in storage");
        p.type_into("#signup-username", "carol").await;
        p.type_into("#signup-password", "password1\u{E007}").await;
        p.until("carol's page", "return document.getElementById('me').textContent === 'Signed in as carol'").await;
        let body = p.js("return document.body.innerText").await;
        let body = text_of(&body);
        assert!(!body.contains("secret") && !body.contains("alice's reply") && !body.contains("bob"), "{body}");
        assert_eq!(p.js("return document.querySelectorAll('#messages li').length").await, json!(0));
        assert_eq!(p.js("return document.getElementById('conversation').hidden").await, json!(true));
        assert_eq!(p.js("return document.querySelectorAll('#direct-list .conv-item').length").await, json!(0));
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn connect_once_then_every_conversation_is_live_and_a_reload_comes_back() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let lobby = bob.room("lobby").await;
    bob.say(&lobby, "lobby history").await;
    with_views("connect-once", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        // Before Connect: the status says offline, not connected.
        assert_eq!(
            p.js("return document.getElementById('conn-status').textContent").await,
            json!("offline")
        );
        p.new_room("notes").await;
        p.until(
            "connected",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        p.say("in notes").await;
        // Another conversation: history and composer at once, no second Connect.
        p.click("#public-list button[data-room]").await;
        p.until(
            "the lobby",
            "return document.getElementById('conv-title').textContent === '# lobby'",
        )
        .await;
        p.wait_message("lobby history").await;
        assert_eq!(
            p.js("return document.getElementById('connect').hidden").await,
            json!(true)
        );
        assert_eq!(
            p.js("return document.getElementById('composer').hidden").await,
            json!(false)
        );
        // …and live.
        bob.say(&lobby, "live in the lobby").await;
        p.wait_message("live in the lobby").await;
        // Each conversation has its URL; a reload comes back to it, live.
        let hash = p.js("return location.hash").await;
        assert_eq!(hash, json!(format!("#/c/{lobby}")));
        p.c.refresh().await.unwrap();
        p.wait_message("live in the lobby").await;
        p.until(
            "connected again",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        assert_eq!(
            p.js("return document.getElementById('conv-title').textContent").await,
            json!("# lobby")
        );
        // Back goes to the previous conversation.
        p.click("#room-list button.conv-item[data-id]:not([aria-current='true'])")
            .await;
        p.wait_message("in notes").await;
        p.c.back().await.unwrap();
        p.until(
            "back in the lobby",
            "return document.getElementById('conv-title').textContent === '# lobby'",
        )
        .await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn editing_keeps_line_breaks_and_has_save_and_cancel() {
    let s = TestServer::start().await;
    with_views("edit-lines", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        p.new_room("poems").await;
        p.type_into("#message-input", &format!("line one{SHIFT_ENTER}line two\u{E007}"))
            .await;
        p.wait_message("line one\nline two").await;
        // Saved unchanged: byte for byte the same, not marked edited.
        p.click("#messages li[data-id] button.edit").await;
        assert_eq!(
            p.js("return document.querySelector('#messages .edit-input').value")
                .await,
            json!("line one\nline two")
        );
        p.click("#messages .edit-form button.save").await;
        p.until(
            "the edit closed",
            "return !document.querySelector('#messages .edit-form')",
        )
        .await;
        assert_eq!(p.messages().await, ["line one\nline two"]);
        assert_eq!(
            p.js("return document.querySelector('#messages li[data-id] .meta').textContent.includes('edited')")
                .await,
            json!(false)
        );
        // Focus is back on the message's Edit button, not on <body>.
        assert_eq!(
            p.js("return document.activeElement.classList.contains('edit')").await,
            json!(true)
        );
        // Cancel leaves it; an empty text is refused inside the form.
        p.click("#messages li[data-id] button.edit").await;
        p.click("#messages .edit-form button.cancel").await;
        p.until("cancelled", "return !document.querySelector('#messages .edit-form')")
            .await;
        p.click("#messages li[data-id] button.edit").await;
        let input = p.find("#messages .edit-input").await;
        input.clear().await.unwrap();
        p.click("#messages .edit-form button.save").await;
        p.until(
            "the error in the form",
            "return document.querySelector('#messages .edit-form .error').textContent.includes('cannot be empty')",
        )
        .await;
        assert_eq!(
            p.js("return document.getElementById('composer-error').textContent")
                .await,
            json!("")
        );
        // A real change with a third line.
        input
            .send_keys(&format!("line one{SHIFT_ENTER}line two{SHIFT_ENTER}line three"))
            .await
            .unwrap();
        p.click("#messages .edit-form button.save").await;
        p.wait_message("line one\nline two\nline three").await;
        p.until(
            "the edited mark",
            "return document.querySelector('#messages li[data-id] .meta').textContent.includes('edited')",
        )
        .await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn a_phone_fits_the_screen_and_enter_makes_a_new_line() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    with_views("phone", &[View::PHONE], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        let long = "a-room-name-of-sixty-four-characters-that-goes-on-and-on-and-on!";
        assert_eq!(long.chars().count(), 64);
        p.new_room(long).await;
        let fits = "return document.documentElement.scrollWidth <= window.innerWidth";
        assert_eq!(p.js(fits).await, json!(true), "no sideways scrolling with a 64-character name");
        let send_visible = "const r = document.getElementById('send').getBoundingClientRect(); return r.right <= window.innerWidth && r.bottom <= window.innerHeight";
        assert_eq!(p.js(send_visible).await, json!(true), "Send is on screen");
        // On a touch screen Enter is a new line; Send sends.
        p.type_into("#message-input", "first line\u{E007}second line").await;
        assert_eq!(p.js("return document.getElementById('message-input').value").await, json!("first line\nsecond line"));
        p.click("#send").await;
        p.wait_message("first line\nsecond line").await;
        // Edit and Delete are big enough to tap.
        let sizes = p.js("return [...document.querySelectorAll('#messages .actions button')].map(b => b.getBoundingClientRect().height)").await;
        for h in sizes.as_array().unwrap() {
            assert!(h.as_f64().unwrap() >= 24.0, "tap target {h} px tall");
        }
        assert_eq!(p.js(fits).await, json!(true));
        p.shot("phone-conversation").await;
        // A direct message elsewhere: the Conversations button shows it.
        let alice = super::common::login(&s, "alice").await;
        let d = bob.direct(&alice).await;
        bob.say(&d, "psst").await;
        p.until("the badge", "return document.getElementById('total-unread').textContent === '1'").await;
        p.until("the tab title", "return document.title === '(1) natter'").await;
        p.click("#show-sidebar").await;
        p.until("the list", "return document.getElementById('sidebar').offsetParent !== null").await;
        assert_eq!(p.js(fits).await, json!(true));
        p.shot("phone-list").await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn errors_are_in_words_and_limits_are_said_before_they_bite() {
    let s = TestServer::start_with(|c| c.max_upload_bytes = 1024 * 1024).await;
    let addr = s.addr.to_string();
    with_views("errors", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.open(&s).await;
        // The rules are there before anything fails.
        let hint = p.js("return document.getElementById('signup-username-hint').textContent").await;
        assert!(text_of(&hint).contains("3 to 64 characters"), "{hint}");
        // An empty sign-up: words, not a parser's message.
        p.click("#signup-submit").await;
        p.until("the error", "return document.getElementById('signup-error').textContent === 'Choose a username.'").await;
        assert_eq!(p.js("return document.activeElement.id").await, json!("signup-username"));
        p.type_into("#signup-username", "al").await;
        p.click("#signup-submit").await;
        p.until("the rule", "return document.getElementById('signup-error').textContent.startsWith('A username is 3 to 64')").await;
        p.type_into("#signup-username", "ice").await;
        p.click("#signup-submit").await;
        p.until("the password rule", "return document.getElementById('signup-error').textContent === 'Choose a password of at least 6 characters.'").await;
        p.type_into("#signup-password", "password1\u{E007}").await;
        p.until("signed in", "return !document.getElementById('app').hidden").await;
        // Focus lands somewhere useful, not on <body>.
        p.until("focus in the page", "return document.activeElement.id === 'new-room-name'").await;
        p.new_room("errors").await;
        // The upload limit is said up front, and a file over it is refused before uploading.
        let title = p.js("return document.getElementById('file-label').title").await;
        assert_eq!(title, json!("Attach a file (up to 1 MB)"));
        p.js("const f = new File([new Uint8Array(2 * 1024 * 1024)], 'big.bin'); \
              const dt = new DataTransfer(); dt.items.add(f); \
              const i = document.getElementById('file-input'); i.files = dt.files; \
              i.dispatchEvent(new Event('change')); return true").await;
        p.until("the size error", "return document.getElementById('composer-error').textContent === 'big.bin is 2 MB; files can be at most 1 MB.'").await;
        // Offline: a send waits for the connection instead of saying "Failed to fetch"…
        let (dir, config) = s.stop().await;
        p.until("reconnecting", "return document.getElementById('conn-status').textContent === 'reconnecting…'").await;
        p.type_into("#message-input", "sent while offline\u{E007}").await;
        p.until("waiting", "const w = document.querySelector('#messages li.waiting .state'); return !!w && w.textContent === 'waiting for the connection…'").await;
        let shown = text_of(&p.js("return document.body.innerText").await);
        assert!(!shown.contains("Failed to fetch"), "{shown}");
        // …and goes out once the server is back, with nothing left on screen about it.
        let s = TestServer::start_on(dir, config, &addr).await;
        p.wait_message("sent while offline").await;
        p.until("connected", "return document.getElementById('conn-status').textContent === 'connected'").await;
        assert_eq!(p.js("return document.querySelectorAll('#messages li.waiting, #messages li.failed').length").await, json!(0));
        assert_eq!(p.js("return document.getElementById('composer-error').textContent").await, json!(""));
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn new_rooms_and_member_counts_are_live() {
    let s = TestServer::start().await;
    with_views("live-rooms", &[View::DESKTOP, View::DESKTOP], |pages| async move {
        let (a, b) = (&pages[0], &pages[1]);
        a.sign_up(&s, "alice").await;
        b.sign_up(&s, "bob").await;
        b.click("#connect-top").await;
        b.until(
            "bob connected",
            "return document.getElementById('conn-status').textContent === 'connected'",
        )
        .await;
        a.new_room("announcements").await;
        // Bob sees it among the public rooms within 5 s, without a reload.
        let start = std::time::Instant::now();
        b.until(
            "the new room",
            "return [...document.querySelectorAll('#public-list .name')].some(n => n.textContent === 'announcements')",
        )
        .await;
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        a.until(
            "one member",
            "return document.getElementById('conv-presence').textContent === '1 member'",
        )
        .await;
        b.click("#public-list button[data-room]").await;
        a.until(
            "two members",
            "return document.getElementById('conv-presence').textContent === '2 members'",
        )
        .await;
        // The member list shows bob, and alice (the creator) may rename the room, live for bob.
        a.click("#members-button").await;
        a.until(
            "bob listed",
            "return [...document.querySelectorAll('#member-list .name')].some(n => n.textContent === 'bob')",
        )
        .await;
        let input = a.find("#rename-input").await;
        input.clear().await.unwrap();
        input.send_keys("news\u{E007}").await.unwrap();
        b.until(
            "renamed for bob",
            "return document.getElementById('conv-title').textContent === '# news'",
        )
        .await;
        // Bob leaves: alice's count drops.
        b.click("#members-button").await;
        assert_eq!(
            b.js("return document.getElementById('delete-room').hidden").await,
            json!(true),
            "only the creator deletes"
        );
        b.click("#leave-room").await;
        a.until(
            "one member again",
            "return document.getElementById('conv-presence').textContent === '1 member'",
        )
        .await;
        b.until(
            "back to the list",
            "return document.getElementById('conversation').hidden",
        )
        .await;
        // Alice deletes it: gone from bob's public list too.
        a.click("#delete-room").await;
        a.click("#delete-room").await;
        a.until(
            "gone for alice",
            "return document.getElementById('conversation').hidden",
        )
        .await;
        b.until(
            "gone for bob",
            "return ![...document.querySelectorAll('#public-list .name')].some(n => n.textContent === 'news')",
        )
        .await;
        s
    })
    .await;
}

/// Move messages whose text starts with `prefix` a day back (in the
/// database itself, either engine).
fn yesterday(s: &TestServer, prefix: &str) {
    assert!(prefix.chars().all(|c| c.is_ascii_alphanumeric()), "a plain prefix");
    // Both engines make every change of an UPDATE … RETURNING before its
    // first row is read.
    let moved: Option<i64> = super::common::db_query(
        &s.config,
        &format!(
            "UPDATE messages SET created_at = created_at - 86400000000, \
             updated_at = updated_at - 86400000000 WHERE body LIKE '{prefix}%' RETURNING id"
        ),
    );
    assert!(moved.is_some(), "moved {prefix}… a day back");
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn days_runs_names_and_what_is_new_are_easy_to_see() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    bob.patch("/api/users/me", json!({"name": "Bob Builder"})).await;
    let room = bob.room("daily").await;
    for t in ["old one", "old two"] {
        bob.say(&room, t).await;
    }
    yesterday(&s, "old");
    with_views("reading", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        p.click("#public-list button[data-room]").await;
        p.go_live().await;
        p.wait_message("old two").await;
        p.say("my answer").await;
        // Away to another room while bob writes: unread in the list and the tab title.
        p.new_room("elsewhere").await;
        for t in ["new one", "new two", "new three"] {
            bob.say(&room, t).await;
        }
        p.until("the unread count", "return document.title === '(3) natter'").await;
        // Back: a "New" divider above what came while away, day separators, a run named once.
        p.click(&format!("#room-list button[data-id='{room}']")).await;
        p.wait_message("new three").await;
        let items = p
            .js("return [...document.querySelectorAll('#messages > li')].map(li => li.classList.contains('day') ? 'day:' + li.textContent : li.classList.contains('new-divider') ? 'NEW' : li.querySelector('.text').textContent)")
            .await;
        assert_eq!(
            items,
            json!(["day:Yesterday", "old one", "old two", "day:Today", "my answer", "NEW", "new one", "new two", "new three"])
        );
        assert_eq!(p.js("return document.title").await, json!("natter"), "read now");
        let runs = p
            .js("return [...document.querySelectorAll('#messages li[data-id]')].map(li => li.classList.contains('cont'))")
            .await;
        assert_eq!(runs, json!([false, true, false, false, true, true]), "each run names its sender once");
        // Display names, and the date on the time's tooltip.
        let sender = p.js("return document.querySelector('#messages li[data-id] .sender').textContent").await;
        assert_eq!(sender, json!("Bob Builder"));
        let tip = p.js("return document.querySelector('#messages li[data-id] time').title").await;
        assert!(text_of(&tip).len() > 12, "a full date: {tip}");
        // Scrolled up, a new message shows "New messages ↓" instead of pulling the view down.
        for i in 0..30 {
            bob.say(&room, &format!("filler {i}")).await;
        }
        p.wait_message("filler 29").await;
        p.js("document.getElementById('scroller').scrollTop = 0; document.getElementById('scroller').dispatchEvent(new Event('scroll')); return true").await;
        bob.say(&room, "while scrolled up").await;
        p.until("the new-below button", "return !document.getElementById('new-below').hidden").await;
        p.click("#new-below").await;
        p.until("at the end", "const s = document.getElementById('scroller'); return s.scrollHeight - s.scrollTop - s.clientHeight < 80").await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn attachments_are_previewed_dropped_pasted_and_shown_large() {
    let s = TestServer::start().await;
    with_views("attachments", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        p.new_room("pictures").await;
        let make_png = "const c = document.createElement('canvas'); c.width = 40; c.height = 30; \
                        const g = c.getContext('2d'); g.fillStyle = '#c33'; g.fillRect(0, 0, 40, 30); \
                        return new Promise(r => c.toBlob(b => r(new File([b], NAME, { type: 'image/png' }))));";
        // Chosen: a preview first, nothing sent; Remove takes it back.
        p.js(&format!("window.pick = async () => {{ {} }}; return true", make_png.replace("NAME", "'chosen.png'"))).await;
        p.c.execute_async(
            "const done = arguments[arguments.length - 1]; pick().then(f => { const dt = new DataTransfer(); dt.items.add(f); \
             const i = document.getElementById('file-input'); i.files = dt.files; i.dispatchEvent(new Event('change')); done(true); });",
            vec![],
        )
        .await
        .unwrap();
        p.until("the preview", "return !!document.querySelector('#attachment-preview img.thumb')").await;
        assert_eq!(p.js("return document.querySelectorAll('#messages li[data-id]').length").await, json!(0));
        p.click("#attachment-preview button.remove").await;
        assert_eq!(p.js("return document.getElementById('attachment-preview').hidden").await, json!(true));
        // Dropped on the conversation, sent with a caption.
        p.c.execute_async(
            &format!("const done = arguments[arguments.length - 1]; (async () => {{ {} }})().then(f => {{ \
              const dt = new DataTransfer(); dt.items.add(f); \
              const t = document.getElementById('conversation'); \
              t.dispatchEvent(new DragEvent('dragover', {{ dataTransfer: dt, bubbles: true, cancelable: true }})); \
              t.dispatchEvent(new DragEvent('drop', {{ dataTransfer: dt, bubbles: true, cancelable: true }})); done(true); }});",
              make_png.replace("NAME", "'dropped.png'")),
            vec![],
        )
        .await
        .unwrap();
        p.until("the dropped file", "return document.querySelector('#attachment-preview .name')?.textContent.startsWith('dropped.png')").await;
        p.type_into("#message-input", "a caption\u{E007}").await;
        p.wait_message("a caption").await;
        p.until("the image", "const i = document.querySelector('#messages img.preview'); return !!i && i.naturalWidth === 40").await;
        // Pasted into the message box.
        p.c.execute_async(
            &format!("const done = arguments[arguments.length - 1]; (async () => {{ {} }})().then(f => {{ \
              const dt = new DataTransfer(); dt.items.add(f); \
              document.getElementById('message-input').dispatchEvent(new ClipboardEvent('paste', {{ clipboardData: dt, bubbles: true, cancelable: true }})); done(true); }});",
              make_png.replace("NAME", "'pasted.png'")),
            vec![],
        )
        .await
        .unwrap();
        p.until("the pasted file", "return document.querySelector('#attachment-preview .name')?.textContent.startsWith('pasted.png')").await;
        p.click("#attachment-preview button.remove").await;
        // The lightbox: open on a click, closed with Escape.
        p.click("#messages .image-button").await;
        p.until("the lightbox", "return document.getElementById('lightbox').open").await;
        assert_eq!(p.js("return document.getElementById('lightbox-image').naturalWidth").await, json!(40));
        p.type_into("#lightbox-close", "\u{E00C}").await;
        p.until("closed", "return !document.getElementById('lightbox').open").await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn profile_members_and_dark_mode() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("lounge").await;
    bob.say(&room, "welcome").await;
    with_views("profile-dark", &[View::DESKTOP.dark()], |pages| async move {
        let p = &pages[0];
        p.sign_up(&s, "alice").await;
        // Dark mode follows the system.
        let bg = p.js("return getComputedStyle(document.body).backgroundColor").await;
        assert_eq!(bg, json!("rgb(15, 19, 26)"), "the dark background");
        // Profile: a display name, a picture, a new password.
        p.click("#profile-button").await;
        p.until("the dialog", "return document.getElementById('profile-dialog').open").await;
        let name = p.find("#profile-name").await;
        name.send_keys("Alice Liddell").await.unwrap();
        p.c.execute_async(
            "const done = arguments[arguments.length - 1]; const c = document.createElement('canvas'); c.width = 8; c.height = 8; \
             c.toBlob(b => { const dt = new DataTransfer(); dt.items.add(new File([b], 'me.png', { type: 'image/png' })); \
             const i = document.getElementById('avatar-input'); i.files = dt.files; i.dispatchEvent(new Event('change')); done(true); });",
            vec![],
        )
        .await
        .unwrap();
        p.type_into("#profile-old-password", "password1").await;
        p.type_into("#profile-new-password", "password2").await;
        p.click("#profile-save").await;
        p.until("saved", "return document.getElementById('profile-ok').textContent.startsWith('Saved')").await;
        p.click("#profile-close").await;
        assert_eq!(p.js("return document.getElementById('me').textContent").await, json!("Signed in as Alice Liddell"));
        assert_eq!(p.js("return document.activeElement.id").await, json!("profile-button"), "focus returns");
        let (st, _) = s.anonymous().post("/api/auth/login", json!({"username": "alice", "password": "password2"})).await;
        assert_eq!(st, reqwest::StatusCode::OK, "the new password works");
        let (_, users) = bob.get("/api/users/?q=alice").await;
        assert!(users[0]["profile_picture"].as_str().unwrap().starts_with("/api/files/"), "{users}");
        // Members of a room, with who is online in words.
        p.click("#public-list button[data-room]").await;
        p.go_live().await;
        p.wait_message("welcome").await;
        p.click("#members-button").await;
        let members = p.js("return [...document.querySelectorAll('#member-list li')].map(li => li.textContent)").await;
        let members: Vec<String> = serde_json::from_value(members).unwrap();
        assert!(members.iter().any(|m| m.contains("Alice Liddell") && m.contains("(online)")), "{members:?}");
        assert!(members.iter().any(|m| m.contains("bob") && m.contains("(offline)")), "{members:?}");
        p.shot("dark-conversation").await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn axe_finds_nothing_serious_and_the_screens_are_recorded() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("general").await;
    for t in ["Morning all!", "Anyone up for lunch at noon?"] {
        bob.say(&room, t).await;
    }
    with_views("axe", &[View::DESKTOP, View::PHONE], |pages| async move {
        let (d, ph) = (&pages[0], &pages[1]);
        d.open(&s).await;
        d.until("the forms", "return !document.getElementById('auth').hidden")
            .await;
        assert_eq!(d.axe().await, Vec::<Value>::new(), "signed out");
        d.shot("signed-out").await;
        d.sign_up(&s, "alice").await;
        d.click("#public-list button[data-room]").await;
        d.go_live().await;
        d.wait_message("Anyone up for lunch at noon?").await;
        d.say("Count me in.").await;
        assert_eq!(d.axe().await, Vec::<Value>::new(), "a conversation");
        // The skip link is the first thing Tab reaches, and it leads to the conversation.
        assert_eq!(
            d.js("return document.querySelector('#app a.skip-link').getAttribute('href')")
                .await,
            json!("#view")
        );
        d.shot("desktop-conversation").await;
        ph.sign_up(&s, "carol").await;
        assert_eq!(ph.axe().await, Vec::<Value>::new(), "the phone's list");
        ph.click("#public-list button[data-room]").await;
        ph.go_live().await;
        ph.wait_message("Count me in.").await;
        assert_eq!(ph.axe().await, Vec::<Value>::new(), "a conversation on a phone");
        ph.shot("phone-room").await;
        s
    })
    .await;
}
