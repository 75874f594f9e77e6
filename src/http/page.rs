//! The bundled web page, embedded in the binary, with its security headers.
//!
//! Every file under `static/` is embedded by `build.rs` as is, gzipped and
//! brotli'd at build time; the variant the browser accepts is served, so
//! nothing is compressed per request.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Response;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzip: Option<&'static [u8]>,
    brotli: Option<&'static [u8]>,
}

const ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// No inline script or style, no framing, nothing from other origins:
/// user text can only ever be text.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// Does `Accept-Encoding` allow `coding` (and not with `q=0`)?
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    serve_with(asset, headers, CSP)
}

/// A bundled file by its path under `static/`, with `csp`; 404 if there is none.
pub(super) fn file(name: &str, headers: &HeaderMap, csp: &'static str) -> Response {
    by_name(name).map_or_else(not_found, |a| serve_with(a, headers, csp))
}

fn serve_with(asset: &'static Asset, headers: &HeaderMap, csp: &'static str) -> Response {
    let (body, encoding) = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts(headers, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(headers, "gzip") => (gz, Some("gzip")),
        _ => (asset.body, None),
    };
    let mut res = http::Response::new(body.into());
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if let Some(e) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    if asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

fn by_name(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn not_found() -> Response {
    let mut res = http::Response::new("not found".into());
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// `GET /`, `GET /static/{path}`, and the files browsers look for at the
/// root (the icon, the manifest, the service worker).
pub fn routes() -> BoxedFilter<(Response,)> {
    let get = || warp::get().or(warp::head()).unify().and(warp::header::headers_cloned());
    let index = warp::path::end()
        .and(get())
        .map(|h: HeaderMap| by_name("index.html").map_or_else(not_found, |a| serve(a, &h)));
    let favicon = warp::path!("favicon.ico")
        .and(get())
        .map(|h: HeaderMap| by_name("favicon.svg").map_or_else(not_found, |a| serve(a, &h)));
    let manifest = warp::path!("manifest.webmanifest")
        .and(get())
        .map(|h: HeaderMap| by_name("manifest.webmanifest").map_or_else(not_found, |a| serve(a, &h)));
    // The service worker is served from the root: its scope is the
    // directory it is served from, and it must cover the whole page.
    let worker = warp::path!("sw.js")
        .and(get())
        .map(|h: HeaderMap| by_name("sw.js").map_or_else(not_found, |a| serve(a, &h)));
    let file = warp::path("static")
        .and(warp::path::tail())
        .and(get())
        .map(|tail: warp::path::Tail, h: HeaderMap| by_name(tail.as_str()).map_or_else(not_found, |a| serve(a, &h)));
    index
        .or(favicon)
        .unify()
        .or(manifest)
        .unify()
        .or(worker)
        .unify()
        .or(file)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(ae: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(ae).unwrap());
        h
    }

    #[test]
    fn encodings_are_negotiated() {
        assert!(accepts(&with("gzip, deflate, br"), "br"));
        assert!(accepts(&with("gzip;q=1.0, br;q=0.5"), "gzip"));
        assert!(!accepts(&with("gzip, br;q=0"), "br"));
        assert!(!accepts(&with("identity"), "gzip"));
        assert!(accepts(&with("GZIP"), "gzip"));
    }
}
