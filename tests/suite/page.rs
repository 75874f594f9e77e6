//! How the bundled page is delivered: precompressed, with its security
//! headers, as ES modules with no build step.

use crate::common;

use std::io::Read;

use common::TestServer;
use reqwest::StatusCode;

async fn get(s: &TestServer, path: &str, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(s.url(path));
    if let Some(ae) = accept_encoding {
        req = req.header("accept-encoding", ae);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn scripts_and_styles_are_served_compressed_when_the_browser_accepts_it() {
    let s = TestServer::start().await;
    for path in ["/static/js/main.js", "/static/app.css", "/"] {
        let plain = get(&s, path, None).await;
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(plain.headers()["vary"], "Accept-Encoding");
        let plain = plain.bytes().await.unwrap();

        let br = get(&s, path, Some("gzip, deflate, br")).await;
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
        let br = br.bytes().await.unwrap();
        assert!(
            br.len() < plain.len() / 2,
            "{path}: {} of {} bytes",
            br.len(),
            plain.len()
        );
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut out).unwrap();
        assert_eq!(out, plain, "{path}: brotli decodes to the file");

        let gz = get(&s, path, Some("gzip")).await;
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{path}");
        let gz = gz.bytes().await.unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, plain, "{path}: gzip decodes to the file");

        let refused = get(&s, path, Some("br;q=0, identity")).await;
        assert!(
            refused.headers().get("content-encoding").is_none(),
            "{path}: q=0 refuses"
        );
    }
}

#[tokio::test]
async fn the_page_is_modules_under_a_strict_policy() {
    let s = TestServer::start().await;
    let index = get(&s, "/", None).await;
    let csp = index.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = index.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/static/js/main.js"></script>"#));
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline script or style"
    );
    let js = get(&s, "/static/js/main.js", None).await;
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        get(&s, "/static/js/nope.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&s, "/static/../Cargo.toml", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_page_can_be_installed_as_an_app() {
    let s = TestServer::start().await;
    let res = get(&s, "/manifest.webmanifest", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/manifest+json");
    let manifest: serde_json::Value = res.json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["start_url"], "/");
    let icons = manifest["icons"].as_array().unwrap();
    for size in ["192x192", "512x512"] {
        let icon = icons.iter().find(|i| i["sizes"] == size).expect(size);
        let res = get(&s, icon["src"].as_str().unwrap(), None).await;
        assert_eq!(res.status(), StatusCode::OK, "{icon}");
        assert_eq!(res.headers()["content-type"], "image/png");
        let png = res.bytes().await.unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    let html = get(&s, "/", None).await.text().await.unwrap();
    assert!(html.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));
    assert!(html.contains(r#"<meta name="theme-color""#));
}
