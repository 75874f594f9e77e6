//! Filters every dialect shares: who is calling, request bodies with a size
//! limit, query strings. Failures reject with a `Problem` carrying a core
//! error; each dialect's `recover` renders it in its own error shape.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use warp::{Filter, Rejection};

use crate::core::{Caller, Core};
use crate::error::Error;
use crate::http::requests::AuthNote;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "natter_session";

/// A rejection that carries a core error (401, 400, 413, …).
#[derive(Debug)]
pub struct Problem(pub Error);

impl warp::reject::Reject for Problem {}

pub fn problem(err: Error) -> Rejection {
    warp::reject::custom(Problem(err))
}

pub fn with_core(core: Arc<Core>) -> impl Filter<Extract = (Arc<Core>,), Error = Infallible> + Clone {
    warp::any().map(move || core.clone())
}

/// The client's address (see `conn::client_ip`): what sign-ups, logins
/// and password hashes are limited by.
pub fn client(core: Arc<Core>) -> impl Filter<Extract = (std::net::IpAddr,), Error = Infallible> + Clone {
    warp::ext::optional::<super::conn::Peer>()
        .and(warp::header::headers_cloned())
        .map(move |peer: Option<super::conn::Peer>, headers: HeaderMap| {
            let peer = peer.map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
            super::conn::client_ip(peer, &headers, &core.guards.trusted_proxy)
        })
}

/// Where a token was found; a cookie alone needs a same-site origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Header,
    Query,
    Cookie,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt")).then(|| token.trim())
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn query_token(query: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// A cookie-authenticated request must come from our own site: a page on
/// another origin must not act with a visitor's session (CSRF, and
/// cross-site WebSocket hijacking).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // No Origin: a non-browser client, or a browser navigating (a link,
        // an <img>). Browsers say where a navigation came from in
        // Sec-Fetch-Site; only our own pages (or the user typing the URL) may
        // use the cookie.
        return headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|site| site == "same-origin" || site == "none");
    };
    // Behind a reverse proxy `Host` may be the upstream address; the proxy
    // says what the browser asked for in X-Forwarded-Host. (A page on another
    // site cannot set that header: CORS lets it send only two.)
    let origin_host = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'));
    [http::header::HOST.as_str(), "x-forwarded-host"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|host| origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host.trim())))
    })
}

/// Find and check the caller's token. `query` allows `?token=` (socket URLs).
/// A refusal's reason goes on `note`, counted once when the answer goes out
/// (several routes may try the same request).
pub async fn authenticate(
    core: &Core,
    headers: &HeaderMap,
    query: Option<&str>,
    note: Option<&AuthNote>,
) -> Result<(Caller, Via), Error> {
    let refused = |reason: &'static str| {
        if let Some(n) = note {
            n.refused(reason);
        }
    };
    let (token, via) = if let Some(t) = bearer(headers) {
        (t.to_owned(), Via::Header)
    } else if let Some(t) = query.and_then(query_token) {
        (t, Via::Query)
    } else if let Some(t) = cookie(headers, SESSION_COOKIE) {
        (t.to_owned(), Via::Cookie)
    } else {
        refused("missing");
        return Err(Error::Unauthorized(
            "authentication required: log in, then send `Authorization: Bearer <token>` (or the session cookie)".into(),
        ));
    };
    let caller = core.authenticate_why(&token).await.map_err(|(e, why)| {
        refused(why);
        e
    })?;
    if via == Via::Cookie && !same_origin(headers) {
        refused("cross_site");
        return Err(Error::forbidden(
            "cross-site request refused: the Origin does not match this server",
        ));
    }
    Ok((caller, via))
}

fn raw_query() -> impl Filter<Extract = (Option<String>,), Error = Infallible> + Clone {
    warp::query::raw().map(Some).or(warp::any().map(|| None)).unify()
}

/// The authenticated caller (Bearer header or session cookie).
pub fn caller(core: Arc<Core>) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::ext::optional::<AuthNote>())
        .and_then(move |headers: HeaderMap, note: Option<AuthNote>| {
            let core = core.clone();
            async move {
                authenticate(&core, &headers, None, note.as_ref())
                    .await
                    .map(|(c, _)| c)
                    .map_err(problem)
            }
        })
}

/// The caller and how they authenticated, also accepting `?token=` (sockets).
pub fn socket_caller(core: Arc<Core>) -> impl Filter<Extract = ((Caller, Via),), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and(raw_query())
        .and(warp::ext::optional::<AuthNote>())
        .and_then(
            move |headers: HeaderMap, query: Option<String>, note: Option<AuthNote>| {
                let core = core.clone();
                async move {
                    authenticate(&core, &headers, query.as_deref(), note.as_ref())
                        .await
                        .map_err(problem)
                }
            },
        )
}

pub async fn read_limited<S, B>(mut body: S, limit: usize) -> Result<Bytes, Error>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| Error::invalid(format!("could not read the request body: {e}")))?;
        if buf.len() + chunk.remaining() > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            buf.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

fn too_large(limit: usize) -> Error {
    Error::TooLarge(format!("request body is larger than the limit of {limit} bytes"))
}

/// The raw body, refused with 413 past `limit` bytes (by Content-Length
/// up front when given, else while reading).
pub fn body_bytes(limit: usize) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    body_limited(limit, too_large)
}

/// `body_bytes` with its own "too large" error. (What is left of a refused
/// body is read and thrown away after the answer: `requests::Drained`.)
pub fn body_limited<E>(limit: usize, too_large: E) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone
where
    E: Fn(usize) -> Error + Clone + Send + Sync + 'static,
{
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |length: Option<u64>, body| {
            let too_large = too_large.clone();
            async move {
                if length.is_some_and(|n| n > limit as u64) {
                    return Err(problem(too_large(limit)));
                }
                read_limited(Box::pin(body), limit).await.map_err(|e| match e {
                    Error::TooLarge(_) => problem(too_large(limit)),
                    other => problem(other),
                })
            }
        })
}

/// The content type's essence (`application/json`), lowercase.
pub fn content_type() -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type").map(|ct: Option<String>| {
        ct.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .unwrap_or_default()
    })
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("request body is empty: expected JSON"));
    }
    super::from_object(body).map_err(|e| Error::invalid(format!("malformed JSON body: {e}")))
}

/// A JSON body of type `T` (400 if malformed, 413 past the body limit).
pub fn json<T: DeserializeOwned + Send>(limit: usize) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    body_bytes(limit).and_then(|body: Bytes| async move { parse_json(&body).map_err(problem) })
}

/// A body that may be JSON, `application/x-www-form-urlencoded` or
/// `multipart/form-data` (text fields), as the seeds' clients send it. Form
/// fields arrive as strings; the target type must accept them.
pub fn json_or_form<T: DeserializeOwned + Send>(
    limit: usize,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(body_bytes(limit))
        .and_then(
            |ct: Option<String>, body: Bytes| async move { parse_any(ct.as_deref(), body).await.map_err(problem) },
        )
}

pub async fn parse_any<T: DeserializeOwned>(content_type: Option<&str>, body: Bytes) -> Result<T, Error> {
    let essence = content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let value = match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => form_value(&body)?,
        Some("multipart/form-data") => multipart_value(content_type.unwrap_or_default(), body).await?,
        _ if body.iter().all(u8::is_ascii_whitespace) => serde_json::Value::Object(Default::default()),
        Some(ct) if ct.contains("json") => parse_json(&body)?,
        // No (or an odd) content type: JSON if it parses, else a form.
        _ => match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) if body.contains(&b'=') => form_value(&body)?,
            Err(e) => return Err(Error::invalid(format!("malformed JSON body: {e}"))),
        },
    };
    if !value.is_object() {
        return Err(Error::invalid("invalid request body: expected a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| Error::invalid(format!("invalid request body: {e}")))
}

fn form_value(body: &[u8]) -> Result<serde_json::Value, Error> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| Error::invalid(format!("malformed form body: {e}")))?;
    Ok(serde_json::Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
    ))
}

async fn multipart_value(content_type: &str, body: Bytes) -> Result<serde_json::Value, Error> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| Error::invalid(format!("malformed multipart body: {e}")))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut map = serde_json::Map::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Error::invalid(format!("malformed multipart body: {e}")))?
    {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        if field.file_name().is_some() {
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|e| Error::invalid(format!("malformed multipart body: {e}")))?;
        map.insert(name, serde_json::Value::String(text));
    }
    Ok(serde_json::Value::Object(map))
}

/// A query string parsed into `T` (400 if it does not fit).
pub fn query<T: DeserializeOwned + Send + 'static>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    raw_query().and_then(|q: Option<String>| async move {
        serde_urlencoded::from_str::<T>(q.as_deref().unwrap_or(""))
            .map_err(|e| problem(Error::invalid(format!("invalid query string: {e}"))))
    })
}

/// A path segment with its percent-escapes decoded (warp hands them over raw).
pub fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Was the request made over HTTPS (as a reverse proxy reports it)?
pub fn https() -> impl Filter<Extract = (bool,), Error = Rejection> + Clone {
    warp::header::optional::<String>("x-forwarded-proto").map(|p: Option<String>| p.is_some_and(|p| p == "https"))
}
