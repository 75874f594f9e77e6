//! `GET /api/docs`: a page of our own that renders `/api/openapi.json`,
//! built into the binary (no CDN). Its script is a file, never inline, so
//! the page runs under `script-src 'self'`, and it builds the page with
//! `textContent` only: nothing in the spec can become markup.

use http::HeaderMap;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Response;
use super::page::file;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `/api/docs` and its two files (embedded and compressed with the page's, under `static/api-docs/`).
pub fn routes() -> BoxedFilter<(Response,)> {
    let get = || warp::get().or(warp::head()).unify().and(warp::header::headers_cloned());
    let page = warp::path!("api" / "docs")
        .and(get())
        .map(|h: HeaderMap| file("api-docs/index.html", &h, CSP));
    let script = warp::path!("api" / "docs" / "api-docs.js")
        .and(get())
        .map(|h: HeaderMap| file("api-docs/api-docs.js", &h, CSP));
    let style = warp::path!("api" / "docs" / "api-docs.css")
        .and(get())
        .map(|h: HeaderMap| file("api-docs/api-docs.css", &h, CSP));
    page.or(script).unify().or(style).unify().boxed()
}
