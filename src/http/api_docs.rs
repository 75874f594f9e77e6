//! `GET /api/docs`: a page of our own that renders `/api/openapi.json`,
//! built into the binary (no CDN). Its script is a file, never inline, so
//! the page runs under `script-src 'self'`, and it builds the page with
//! `textContent` only: nothing in the spec can become markup.

use http::{HeaderValue, header};
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Response;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn serve(body: &'static [u8], content_type: &'static str) -> Response {
    let mut res = http::Response::new(body.into());
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// `/api/docs` and its two files.
pub fn routes() -> BoxedFilter<(Response,)> {
    let get = || warp::get().or(warp::head()).unify();
    let page = warp::path!("api" / "docs").and(get()).map(|| {
        serve(
            include_bytes!("../../static/api-docs/index.html"),
            "text/html; charset=utf-8",
        )
    });
    let script = warp::path!("api" / "docs" / "api-docs.js").and(get()).map(|| {
        serve(
            include_bytes!("../../static/api-docs/api-docs.js"),
            "text/javascript; charset=utf-8",
        )
    });
    let style = warp::path!("api" / "docs" / "api-docs.css").and(get()).map(|| {
        serve(
            include_bytes!("../../static/api-docs/api-docs.css"),
            "text/css; charset=utf-8",
        )
    });
    page.or(script).unify().or(style).unify().boxed()
}
