//! The bundled web page, embedded in the binary, with its security headers.

use http::{HeaderValue, StatusCode, header};
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Response;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:literal) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../../static/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// No inline script or style, no framing, nothing from other origins:
/// user text can only ever be text.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

fn serve(asset: &'static Asset) -> Response {
    let mut res = http::Response::new(asset.body.into());
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

fn by_name(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `GET /` and `GET /static/{file}`.
pub fn routes() -> BoxedFilter<(Response,)> {
    let get = || warp::get().or(warp::head()).unify();
    let index = warp::path::end()
        .and(get())
        .map(|| serve(by_name("index.html").expect("index.html is bundled")));
    let favicon = warp::path!("favicon.ico")
        .and(get())
        .map(|| serve(by_name("favicon.svg").expect("favicon.svg is bundled")));
    let file = warp::path!("static" / String)
        .and(get())
        .map(|name: String| match by_name(&name) {
            Some(asset) => serve(asset),
            None => {
                let mut res = http::Response::new("not found".into());
                *res.status_mut() = StatusCode::NOT_FOUND;
                res
            }
        });
    index.or(favicon).unify().or(file).unify().boxed()
}
