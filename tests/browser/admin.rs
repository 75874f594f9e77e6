//! Running the server from the page: the first account is the admin, an
//! invitation link signs a friend up, the admin view resets a password with
//! a link, moderates a message, deactivates an account (whose page is
//! signed out at once) and shows what admins did; a member downloads their
//! own data.

use serde_json::json;

use super::common::{self, TestServer};
use super::{View, with_views};

fn text(v: serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn an_admin_invites_resets_moderates_and_deactivates_from_the_page() {
    // The default rule: open for the first account, then by invitation.
    let s = TestServer::start_with(|c| c.registration = None).await;
    with_views("admin", &[View::DESKTOP, View::DESKTOP], |pages| async move {
        let (a, b) = (&pages[0], &pages[1]);
        a.sign_up(&s, "alice").await;
        a.until("the admin's buttons", "return !document.getElementById('admin-button').hidden").await;
        assert_eq!(a.js("return document.getElementById('invite-button').hidden").await, json!(false));

        // Without an invitation the page says how to join, and offers no form.
        b.open(&s).await;
        b.until(
            "the invitation notice",
            "return document.getElementById('signup-notice').textContent.includes('by invitation')",
        )
        .await;
        assert_eq!(b.js("return document.getElementById('signup-fields').hidden").await, json!(true));

        // Alice makes a one-use invitation; bob signs up with its link.
        a.click("#invite-button").await;
        a.until("the invite dialog", "return document.getElementById('invite-dialog').open").await;
        a.type_into("#invite-uses", "1").await;
        a.click("#invite-create").await;
        a.until("the link", "return document.getElementById('invite-link').value.includes('/#/invite/')").await;
        let link = text(a.js("return document.getElementById('invite-link').value").await);
        a.until("the list", "return document.querySelectorAll('#invite-list li[data-invite]').length === 1").await;
        a.shot("invite").await;
        a.click("#invite-close").await;

        b.c.goto(&link).await.unwrap();
        b.until(
            "the invited notice",
            "return document.getElementById('signup-notice').textContent.startsWith('You were invited')",
        )
        .await;
        b.type_into("#signup-username", "bob").await;
        b.type_into("#signup-password", "password1\u{E007}").await;
        b.until("bob's page", "return document.getElementById('me').textContent === 'Signed in as bob'").await;
        assert_eq!(b.js("return location.hash").await, json!(""), "the used link is gone");
        assert_eq!(b.js("return document.getElementById('server-section').hidden").await, json!(true), "a member");
        let (st, body) = s
            .anonymous()
            .post("/api/auth/register", json!({"username": "carol", "password": "password1", "invite": link.rsplit('/').next().unwrap()}))
            .await;
        assert_eq!(st, reqwest::StatusCode::FORBIDDEN, "used up: {body}");

        // Bob downloads his data.
        b.click("#profile-button").await;
        b.click("#export-button").await;
        b.until("the download", "return document.getElementById('profile-ok').textContent === 'Your data is downloading.'").await;
        assert_eq!(b.js("return document.getElementById('profile-error').textContent").await, json!(""));
        b.click("#profile-close").await;

        // Moderation: alice deletes bob's message in her room.
        a.new_room("lobby").await;
        let bob = common::login(&s, "bob").await;
        let room = text(a.js("return window.natter.state.current").await);
        assert_eq!(bob.post(&format!("/api/rooms/{room}/join"), json!({})).await.0, reqwest::StatusCode::OK);
        bob.say(&room, "buy cheap watches").await;
        a.wait_message("buy cheap watches").await;
        a.click("#messages li:not(.mine) .delete").await;
        a.click("#messages li:not(.mine) .delete").await;
        a.until(
            "the deleted message",
            "return [...document.querySelectorAll('#messages li .text')].some(e => e.textContent === 'message deleted')",
        )
        .await;
        assert!(bob.history(&room).await.iter().all(|m| m["message"] != "buy cheap watches"));

        // The admin view: figures, people, a reset link for bob.
        a.click("#admin-button").await;
        a.until("the admin view", "return document.querySelectorAll('#admin-users li[data-user]').length === 2").await;
        a.until(
            "the figures",
            "return document.getElementById('admin-overview').textContent.includes('Healthready')",
        )
        .await;
        a.click("#admin-users li[data-user='bob'] button:nth-of-type(3)").await;
        a.until("the reset link", "return document.getElementById('admin-link-input').value.includes('/#/reset/')").await;
        let reset = text(a.js("return document.getElementById('admin-link-input').value").await);
        a.click("#admin-backup").await;
        a.until("the backup", "return document.getElementById('admin-backup').textContent === 'Download a backup'").await;
        let said = a.js("return document.getElementById('admin-error').textContent").await;
        if common::on_postgres() {
            // A backup is a copy of the SQLite file: on PostgreSQL the page
            // says what to use instead.
            assert!(said.as_str().is_some_and(|t| t.contains("pg_dump")), "{said}");
            a.js("document.getElementById('admin-error').textContent = ''").await;
        } else {
            assert_eq!(said, json!(""));
        }
        let axe = a.axe().await;
        assert!(axe.is_empty(), "axe on the admin view: {axe:#?}");
        a.shot("admin").await;

        // Bob follows the reset link: a new password, then logs in with it.
        b.c.goto(&reset).await.unwrap();
        b.until("the reset form", "return !document.getElementById('reset-form').hidden").await;
        b.type_into("#reset-password", "a new secret\u{E007}").await;
        b.until(
            "the login form with a notice",
            "return document.getElementById('auth-notice').textContent === 'Your new password is set: log in with it.'",
        )
        .await;
        b.type_into("#login-username", "bob").await;
        b.type_into("#login-password", "a new secret\u{E007}").await;
        b.until("bob's page", "return document.getElementById('me').textContent === 'Signed in as bob'").await;
        b.click("#connect-top").await;
        b.until("bob online", "return document.getElementById('conn-status').textContent === 'connected'").await;

        // Alice deactivates bob: his page is signed out at once.
        a.click("#admin-users li[data-user='bob'] button:nth-of-type(2)").await;
        a.click("#admin-users li[data-user='bob'] button:nth-of-type(2)").await;
        a.until(
            "bob deactivated",
            "return document.querySelector(\"#admin-users li[data-user='bob']\").textContent.includes('deactivated')",
        )
        .await;
        b.until("bob signed out", "return !document.getElementById('auth').hidden").await;
        b.type_into("#login-username", "bob").await;
        b.type_into("#login-password", "a new secret\u{E007}").await;
        b.until(
            "the refusal",
            "return document.getElementById('login-error').textContent.includes('deactivated')",
        )
        .await;
        let audit = text(a.js("return document.getElementById('admin-audit').textContent").await);
        for what in ["deactivated bob", "made a reset link for bob", "deleted message", "made an invitation"] {
            assert!(audit.contains(what), "{what} in the audit view: {audit}");
        }
        s
    })
    .await;
}
