//! The HTTP side: shared filters, the socket upgrade, the bundled page, and
//! `routes`, which puts every dialect behind one warp filter.

pub mod api_docs;
pub mod conn;
pub mod deflate;
pub mod filters;
pub mod ops;
pub mod page;
pub mod requests;
pub mod ws;

use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::{Filter, Rejection, Reply};

use crate::core::Core;
use crate::dialects;
use filters::Problem;

pub type Response = warp::reply::Response;

/// Read a request body or a socket frame, which is always a JSON object.
/// serde alone would also read a struct from an array (`["hi"]` as
/// `{"message": "hi"}`), a shape no client is told about; a client that
/// sends one has made a mistake and should hear of it.
pub fn from_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(bytes),
        _ => Err(serde::de::Error::custom("expected a JSON object")),
    }
}

/// Serialize `body` as a JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut res = http::Response::new(bytes.into());
            *res.status_mut() = status;
            res.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "could not encode a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn status(status: StatusCode) -> Response {
    status.into_response()
}

/// How one dialect shows an error.
pub trait ErrorShape {
    /// The status for a conflict (a name already taken). Some seeds say 400.
    const CONFLICT: StatusCode = StatusCode::CONFLICT;

    fn render(status: StatusCode, message: &str) -> Response;

    fn error(err: &crate::error::Error) -> Response {
        let status = match err {
            crate::error::Error::Conflict(_) => Self::CONFLICT,
            other => StatusCode::from_u16(other.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        with_retry_after(Self::render(status, &err.public_message()), err)
    }

    /// A handler's result as a response.
    fn reply(r: Result<Response, crate::error::Error>) -> Response {
        r.unwrap_or_else(|e| Self::error(&e))
    }
}

/// Say when to try again (`Retry-After`, in seconds) on an answer to a
/// refusal that passes: a rate limit, a busy database, a full disk.
pub fn with_retry_after(mut res: Response, err: &crate::error::Error) -> Response {
    if let Some(wait) = err.retry_after() {
        res.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(wait.as_secs().max(1)),
        );
    }
    res
}

/// The status and message for a rejection, or `None` when no route matched
/// (so the next dialect gets its turn).
pub fn classify(r: &Rejection) -> Option<(StatusCode, String)> {
    if r.is_not_found() {
        return None;
    }
    if let Some(Problem(err)) = r.find::<Problem>() {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some((status, err.public_message()));
    }
    if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        return Some((StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this path".into()));
    }
    if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        return Some((StatusCode::PAYLOAD_TOO_LARGE, "request body is too large".into()));
    }
    if let Some(e) = r.find::<warp::reject::InvalidHeader>() {
        return Some((StatusCode::BAD_REQUEST, format!("invalid header: {}", e.name())));
    }
    if let Some(e) = r.find::<warp::reject::MissingHeader>() {
        return Some((StatusCode::BAD_REQUEST, format!("missing header: {}", e.name())));
    }
    if r.find::<warp::reject::InvalidQuery>().is_some() {
        return Some((StatusCode::BAD_REQUEST, "invalid query string".into()));
    }
    tracing::warn!(rejection = ?r, "unexpected rejection");
    Some((StatusCode::BAD_REQUEST, "bad request".into()))
}

/// A dialect's `recover`: render what went wrong in its shape, but pass
/// "no such route" on so it never swallows another dialect's paths.
pub async fn recover<S: ErrorShape>(r: Rejection) -> Result<Response, Rejection> {
    match classify(&r) {
        Some((status, message)) => {
            let res = S::render(status, &message);
            Ok(match r.find::<Problem>() {
                Some(Problem(err)) => with_retry_after(res, err),
                None => res,
            })
        }
        None => Err(r),
    }
}

/// Every method natter serves, as a preflight allows them.
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/// Headers a script on another origin may read from an answer.
const EXPOSED_HEADERS: &str = "Retry-After, Location, Content-Disposition";

/// A CORS preflight: any origin may call the API with a Bearer token.
/// `*` never admits credentials, so the session cookie stays same-site.
/// Whatever headers the preflight asks for are allowed: clients add their
/// own (axios instances send `responsetype`), and a Bearer API gains nothing
/// by refusing them. (`Allow-Headers: *` would not do: it never covers
/// `Authorization`.)
fn preflight() -> BoxedFilter<(Response,)> {
    warp::options()
        .and(warp::header::<String>("access-control-request-method"))
        .and(warp::header::optional::<http::HeaderValue>(
            "access-control-request-headers",
        ))
        .map(|_, asked: Option<http::HeaderValue>| {
            let mut res = status(StatusCode::NO_CONTENT);
            let h = res.headers_mut();
            h.insert(
                http::header::ACCESS_CONTROL_ALLOW_METHODS,
                http::HeaderValue::from_static(ALLOWED_METHODS),
            );
            h.insert(
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                asked.unwrap_or_else(|| http::HeaderValue::from_static("authorization, content-type")),
            );
            h.insert(
                http::header::ACCESS_CONTROL_MAX_AGE,
                http::HeaderValue::from_static("86400"),
            );
            // The answer depends on what was asked: caches must keep them apart.
            h.insert(
                http::header::VARY,
                http::HeaderValue::from_static("Access-Control-Request-Headers"),
            );
            res
        })
        .boxed()
}

fn allow_any_origin(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::HeaderValue::from_static("*"),
    );
    h.insert(
        http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
        http::HeaderValue::from_static(EXPOSED_HEADERS),
    );
    res
}

/// Every route natter serves.
pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let fallback = warp::path::full().map(|path: warp::path::FullPath| {
        let mut res = dialects::not_found(path.as_str());
        res.extensions_mut().insert(requests::Unmatched);
        res
    });
    preflight()
        .or(page::routes())
        .unify()
        .or(ops::routes(core.clone(), !core.metrics_elsewhere))
        .unify()
        .or(api_docs::routes())
        .unify()
        .or(dialects::routes(core))
        .unify()
        .or(fallback)
        .unify()
        .map(allow_any_origin)
        .boxed()
}
