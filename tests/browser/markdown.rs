//! Messages formatted with the page's Markdown subset (static/js/markdown.js):
//! text sent through the real server, and the DOM the page builds for it,
//! element by element. Hostile text must come out as the text it is: no
//! element, attribute or script of its own.

use serde_json::{Value, json};

use super::common::{self, Client, TestServer};
use super::{Page, View, with_views};

const REL: &str = "noopener noreferrer nofollow";

/// The children of a message's text as a tree: a text node is its string,
/// an element is `[tag, {attributes}, ...children]`.
const TREE: &str = "const tree = (n) => n.nodeType === 3 ? n.data \
     : [n.localName, Object.fromEntries([...n.attributes].map((a) => [a.name, a.value])), ...[...n.childNodes].map(tree)]; \
     const t = document.querySelector('#messages li[data-id=\"ID\"] .text'); \
     return t ? [...t.childNodes].map(tree) : null;";

fn link(href: &str, kids: Value) -> Value {
    let mut node = json!(["a", {"href": href, "rel": REL, "target": "_blank"}]);
    node.as_array_mut()
        .unwrap()
        .extend(kids.as_array().unwrap().iter().cloned());
    node
}

fn code_block(lang: Option<&str>, body: &str) -> Value {
    let pre = json!(["pre", {"tabindex": "0"}, ["code", {}, body]]);
    match lang {
        Some(l) => json!(["div", {"class": "code-block"}, ["span", {"class": "code-lang"}, l], pre]),
        None => json!(["div", {"class": "code-block"}, pre]),
    }
}

/// Wait for the message with this id, and its text as a tree.
async fn shown(p: &Page, m: &Value) -> Value {
    let id = m["message_id"].to_string();
    p.until(
        &format!("message {id}"),
        &format!("return !!document.querySelector('#messages li[data-id=\"{id}\"] .text')"),
    )
    .await;
    p.js(&TREE.replace("ID", &id)).await
}

/// Say `text` over the native API and check what `p` shows for it.
async fn check(p: &Page, who: &Client, room: &str, text: &str, expected: Value) -> Value {
    let m = who.say(room, text).await;
    assert_eq!(m["message"], json!(text), "the server keeps the raw text");
    assert_eq!(shown(p, &m).await, expected, "{text:?}");
    m
}

/// Sign `name` up in the page and open `room` live.
async fn join(p: &Page, s: &TestServer, name: &str, room: &str) -> Client {
    p.sign_up(s, name).await;
    let me = common::login(s, name).await;
    let (st, body) = me.post(&format!("/api/rooms/{room}/join"), json!({})).await;
    assert_eq!(st, reqwest::StatusCode::OK, "{body}");
    p.c.refresh().await.unwrap();
    p.connect_to("#room-list button.conv-item").await;
    me
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn each_construct_renders_as_its_elements_and_editing_shows_the_raw_text() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("deploys").await;
    with_views("markdown", &[View::wide(1200), View::PHONE.dark()], |pages| async move {
        let (d, ph) = (&pages[0], &pages[1]);
        let alice = join(d, &s, "alice", &room).await;
        join(ph, &s, "carol", &room).await;

        check(
            d,
            &bob,
            &room,
            "Morning! The release notes are up: https://example.com/notes/2026-03. **Please read them before Friday**, _especially_ the part on limits.",
            json!([
                "Morning! The release notes are up: ",
                link("https://example.com/notes/2026-03", json!(["https://example.com/notes/2026-03"])),
                ". ",
                ["strong", {}, "Please read them before Friday"],
                ", ",
                ["em", {}, "especially"],
                " the part on limits."
            ]),
        )
        .await;
        let quoted = "> Please read them before Friday\nOn it. Is the flag still `--max-message-bytes`?";
        let mine = check(
            d,
            &alice,
            &room,
            quoted,
            json!([
                ["blockquote", {}, "Please read them before Friday"],
                "On it. Is the flag still ",
                ["code", {}, "--max-message-bytes"],
                "?"
            ]),
        )
        .await;
        let command = "natter --max-message-bytes 32768 --db /var/lib/natter/natter.db --listen 0.0.0.0:8080";
        let block = check(
            d,
            &bob,
            &room,
            &format!("Yes, *and* the default changed:\n```sh\n{command}\n```\nDetails in [the **README**](https://example.com/natter#flags)."),
            json!([
                "Yes, ",
                ["em", {}, "and"],
                " the default changed:\n",
                code_block(Some("sh"), command),
                "Details in ",
                link("https://example.com/natter#flags", json!(["the ", ["strong", {}, "README"]])),
                "."
            ]),
        )
        .await;
        check(
            d,
            &alice,
            &room,
            "> Yes, *and* the default changed\n> (and it is in bytes)\n\nThanks! ***Much*** clearer now. Mail me at mailto:alice@example.com",
            json!([
                ["blockquote", {}, "Yes, ", ["em", {}, "and"], " the default changed\n(and it is in bytes)"],
                "\nThanks! ",
                ["em", {}, ["strong", {}, "Much"]],
                " clearer now. Mail me at ",
                link("mailto:alice@example.com", json!(["mailto:alice@example.com"]))
            ]),
        )
        .await;

        // Looks: monospace code, a code block that scrolls sideways on a
        // phone while the page itself does not, a quote set off by a rule.
        let id = block["message_id"].to_string();
        let pre = format!("document.querySelector('#messages li[data-id=\"{id}\"] pre')");
        ph.until("the code block on the phone", &format!("return !!{pre}")).await;
        assert_eq!(
            ph.js(&format!(
                "const p = {pre}, c = getComputedStyle(p); \
                 return [c.overflowX, c.whiteSpace, getComputedStyle(p.firstChild).fontFamily.includes('monospace'), p.scrollWidth > p.clientWidth]"
            ))
            .await,
            json!(["auto", "pre", true, true]),
            "overflow-x, white-space, monospace, scrolls"
        );
        assert_eq!(
            ph.js("return document.documentElement.scrollWidth <= window.innerWidth").await,
            json!(true),
            "the page does not scroll sideways"
        );
        // Dark: the code's background is darker than light text, not a light box.
        let bg = ph.js(&format!("return getComputedStyle({pre}).backgroundColor")).await;
        assert!(bg.as_str().unwrap().starts_with("rgba(255, 255, 255,"), "{bg}");
        assert_eq!(
            d.js("return getComputedStyle(document.querySelector('#messages blockquote')).borderLeftStyle").await,
            json!("solid")
        );
        // Links, quotes and code blocks (focusable, as they scroll) pass axe.
        assert_eq!(d.axe().await, Vec::<Value>::new(), "formatted messages");
        assert_eq!(ph.axe().await, Vec::<Value>::new(), "formatted messages on a dark phone");
        d.shot("markdown").await;
        ph.shot("markdown-phone-dark").await;

        // Editing shows the raw Markdown, and cancelling leaves it formatted.
        let id = mine["message_id"].to_string();
        d.click(&format!("#messages li[data-id=\"{id}\"] button.edit")).await;
        assert_eq!(
            d.js("return document.querySelector('#messages .edit-input').value").await,
            json!(quoted)
        );
        d.click("#messages .edit-form button.cancel").await;
        assert_eq!(shown(d, &mine).await[0][0], json!("blockquote"));

        // Written in the page: formatted in the conversation, plain in the sidebar.
        d.type_into("#message-input", "**sent** from the page\u{E007}").await;
        d.until(
            "the sent message",
            "const t = [...document.querySelectorAll('#messages li[data-id] .text')].at(-1); \
             return t.textContent === 'sent from the page' && t.firstChild.localName === 'strong'",
        )
        .await;
        d.until(
            "the preview",
            "return document.querySelector('#room-list .last').textContent === 'You: **sent** from the page'",
        )
        .await;
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: run `cargo test --test browser -- --ignored` (see .ci/run)"]
async fn edge_rules_and_hostile_text() {
    let s = TestServer::start().await;
    let bob = s.register("bob").await;
    let room = bob.room("edges").await;
    with_views("markdown-edges", &[View::DESKTOP], |pages| async move {
        let p = &pages[0];
        join(p, &s, "alice", &room).await;
        // Hostile text: each shows exactly as it was written, as one text node.
        let hostile = [
            "<img src=x onerror=\"window.__pwned = 1\">",
            "<script>window.__pwned = 1</script>",
            "[click](javascript:window.__pwned=1)",
            "[click](JaVaScRiPt:window.__pwned=1)",
            "[click](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+)",
            "[click](vbscript:msgbox)",
            "[click](//evil.example/x)",
            "[click](/relative/path)",
            "javascript:window.__pwned=1 and data:text/html,hi and file:///etc/passwd",
            "&lt;script&gt; &amp; &#60;b&#62; &quot;",
            "snake_case_names and 2 * 3 * 4 and __init__",
            "**unclosed bold and *unclosed italic and `unclosed code and [unclosed link",
            "```\nan unclosed fence\nstays text",
            "https:// and http:// alone",
        ];
        for text in hostile {
            check(p, &bob, &room, text, json!([text])).await;
        }
        // HTML is text; only the bare URL in it is a link, of natter's making.
        check(
            p,
            &bob,
            &room,
            "<b>not bold</b> <a href=\"https://example.com\" onclick=\"window.__pwned=1\">a link?</a>",
            json!([
                "<b>not bold</b> <a href=\"",
                link("https://example.com/", json!(["https://example.com"])),
                "\" onclick=\"window.__pwned=1\">a link?</a>"
            ]),
        )
        .await;
        // The URL ends at a quote; what follows is text, not an attribute.
        check(
            p,
            &bob,
            &room,
            "https://example.com/\"onmouseover=\"window.__pwned=1\"",
            json!([
                link("https://example.com/", json!(["https://example.com/"])),
                "\"onmouseover=\"window.__pwned=1\""
            ]),
        )
        .await;
        check(
            p,
            &bob,
            &room,
            "[x](https://example.com/\" onclick=\"window.__pwned=1)",
            json!([
                "[x](",
                link("https://example.com/", json!(["https://example.com/"])),
                "\" onclick=\"window.__pwned=1)"
            ]),
        )
        .await;
        // Code wins: nothing inside a code span or block is read as anything.
        check(
            p,
            &bob,
            &room,
            "`<b>**not bold**</b> [x](https://example.com)` and ``a ` b``",
            json!([
                ["code", {}, "<b>**not bold**</b> [x](https://example.com)"],
                " and ",
                ["code", {}, "a ` b"]
            ]),
        )
        .await;
        check(
            p,
            &bob,
            &room,
            "```html\n<script>window.__pwned = 1</script>\n> not a quote *not em*\n```",
            json!([code_block(Some("html"), "<script>window.__pwned = 1</script>\n> not a quote *not em*")]),
        )
        .await;
        // Nesting: emphasis inside quotes and links, links inside emphasis.
        check(
            p,
            &bob,
            &room,
            "> **[a *quoted* link](https://example.com/a_(b))** and _https://example.com/x_",
            json!([[
                "blockquote",
                {},
                ["strong", {}, link("https://example.com/a_(b)", json!(["a ", ["em", {}, "quoted"], " link"]))],
                " and ",
                ["em", {}, link("https://example.com/x", json!(["https://example.com/x"]))]
            ]]),
        )
        .await;
        // Runs of markers pair as CommonMark pairs them (its rule of three too).
        check(
            p,
            &bob,
            &room,
            "***x** y* and **a* and a*b*c",
            json!([
                ["em", {}, ["strong", {}, "x"], " y"],
                " and *",
                ["em", {}, "a"],
                " and a",
                ["em", {}, "b"],
                "c"
            ]),
        )
        .await;
        // Markers do not pair across lines; line breaks stay.
        check(
            p,
            &bob,
            &room,
            "*one\ntwo*\n\n(see https://example.com/docs.)",
            json!([
                "*one\ntwo*\n\n(see ",
                link("https://example.com/docs", json!(["https://example.com/docs"])),
                ".)"
            ]),
        )
        .await;
        // A 4000-character line of markup and markers.
        let long: String = "<img src=x onerror=window.__pwned=1>**_`[x](".repeat(100).chars().take(4000).collect();
        assert_eq!(long.chars().count(), 4000);
        let m = bob.say(&room, &long).await;
        let tree = shown(p, &m).await;
        let id = m["message_id"].to_string();
        let text = p
            .js(&format!("return document.querySelector('#messages li[data-id=\"{id}\"] .text').textContent"))
            .await;
        assert!(text.as_str().unwrap().contains("<img src=x onerror=window.__pwned=1>"), "{tree}");
        let tags = p
            .js(&format!(
                "return [...new Set([...document.querySelectorAll('#messages li[data-id=\"{id}\"] .text *')].map((e) => e.localName))]"
            ))
            .await;
        for tag in tags.as_array().unwrap() {
            assert!(["strong", "em", "code"].contains(&tag.as_str().unwrap()), "{tag} in {tree}");
        }
        // One hostile line at the maximum length, as a plain text node.
        let plain: String = "<script>window.__pwned=1</script> ".repeat(200).chars().take(4000).collect();
        check(p, &bob, &room, &plain, json!([plain])).await;

        // Nothing anywhere in the conversation but what the subset makes.
        let tags = p
            .js("return [...new Set([...document.querySelectorAll('#messages li .text *')].map((e) => e.localName))].sort()")
            .await;
        assert_eq!(
            tags,
            json!(["a", "blockquote", "code", "div", "em", "pre", "span", "strong"])
        );
        let hrefs = p
            .js("return [...document.querySelectorAll('#messages .text a')].map((a) => a.getAttribute('href'))")
            .await;
        for href in hrefs.as_array().unwrap() {
            let href = href.as_str().unwrap();
            assert!(href.starts_with("https://") || href.starts_with("mailto:"), "{href}");
        }
        let handlers = p
            .js("return [...document.querySelectorAll('#messages .text *')].flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on'))")
            .await;
        assert_eq!(handlers, json!([]));
        assert_eq!(p.js("return window.__pwned === undefined").await, json!(true), "no script ran");
        assert!(p.c.get_alert_text().await.is_err(), "no alert");
        // The page still works after all that.
        p.type_into("#message-input", "still _here_\u{E007}").await;
        p.until(
            "the last message",
            "const t = [...document.querySelectorAll('#messages li[data-id] .text')].at(-1); return t.textContent === 'still here'",
        )
        .await;
        s
    })
    .await;
}
