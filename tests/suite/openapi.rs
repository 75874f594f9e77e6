//! The OpenAPI document at /api/openapi.json against the routes the server
//! really serves, and the page at /api/docs.

use crate::common;

use std::collections::BTreeSet;

use common::TestServer;
use natter::dialects::native::openapi::ROUTES;
use serde_json::Value;

#[tokio::test]
async fn every_native_route_is_in_the_spec_and_every_spec_route_is_served() {
    let s = TestServer::start().await;
    let alice = s.register("alice").await;
    let res = reqwest::get(s.url("/api/openapi.json")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let spec: Value = res.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut in_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            in_spec.insert((method.to_uppercase(), path.clone()));
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(listed.len(), ROUTES.len(), "ROUTES has no duplicates");
    let missing: Vec<_> = listed.difference(&in_spec).collect();
    assert!(missing.is_empty(), "routes not in the spec: {missing:?}");
    let extra: Vec<_> = in_spec.difference(&listed).collect();
    assert!(extra.is_empty(), "spec paths not in ROUTES: {extra:?}");

    // Each listed route is served: no "no such endpoint", no 405.
    for (method, path) in ROUTES {
        let url = s.url(
            &path
                .replace("/messages/{id}", "/messages/999999")
                .replace("{id}", "00000000-0000-4000-8000-000000000000"),
        );
        let req = alice
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), &url)
            .bearer_auth(alice.token())
            .header("content-type", "application/json")
            .body("{}");
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("no such endpoint") && status != 405,
            "{method} {path} is not served: {status} {body}"
        );
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
}

#[tokio::test]
async fn the_docs_page_renders_the_spec_with_its_own_script() {
    let s = TestServer::start().await;
    let res = reqwest::get(s.url("/api/docs")).await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<script src="/api/docs/api-docs.js" defer></script>"#));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    for (file, ct) in [("api-docs.js", "text/javascript"), ("api-docs.css", "text/css")] {
        let res = reqwest::get(s.url(&format!("/api/docs/{file}"))).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with(ct));
    }
    let js = reqwest::get(s.url("/api/docs/api-docs.js"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("/api/openapi.json") && !js.contains("innerHTML"));
}
