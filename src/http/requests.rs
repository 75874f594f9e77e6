//! Every HTTP request: a request id, one log line, one count.
//!
//! The id is the caller's `X-Request-Id` when it sent a sane one (a proxy's),
//! else a new one; it goes back in the response header and onto every log
//! line the request causes. Logs and metrics name the route template
//! (`/api/conversations/{id}`), never the raw path or query: a path holds
//! room names, and a query may hold `?token=`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Buf;
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tower_service::Service;
use tracing::Instrument;

use super::Response;
use crate::metrics::{HttpLabels, Metrics};

/// Marks the answer for a path no route matched (its template would be
/// whatever a scanner made up).
#[derive(Debug, Clone, Copy)]
pub struct Unmatched;

/// Why authentication refused this request, if it did: set by the auth
/// filters (perhaps several times, as routes are tried), counted once here.
#[derive(Debug, Clone, Default)]
pub struct AuthNote(Arc<OnceLock<&'static str>>);

impl AuthNote {
    pub fn refused(&self, reason: &'static str) {
        let _ = self.0.set(reason);
    }
}

const REQUEST_ID: &str = "x-request-id";

/// The literal path segments of every route; any other segment is a value.
const LITERALS: &[&str] = &[
    "accounts",
    "add-friend",
    "admin",
    "api",
    "auth",
    "backup",
    "chat",
    "chatrooms",
    "connect",
    "conversations",
    "create_room",
    "create_user",
    "docs",
    "export",
    "favicon.ico",
    "files",
    "find-user",
    "get-user-threads",
    "get_rooms",
    "get_users",
    "health",
    "healthz",
    "join",
    "join_room",
    "list_message",
    "login",
    "logout",
    "me",
    "members",
    "messages",
    "messenger",
    "metrics",
    "online-users",
    "openapi.json",
    "posts",
    "profile",
    "profiles",
    "read",
    "ready-to-chat",
    "readyz",
    "refresh",
    "register",
    "remove-friend",
    "room",
    "rooms",
    "search-user",
    "send_message",
    "server",
    "signup",
    "static",
    "token",
    "user",
    "users",
    "ws",
    "api-docs.js",
    "api-docs.css",
];
/// Deeper paths are cut here: the label set stays small whatever comes in.
const MAX_SEGMENTS: usize = 8;

/// The low-cardinality template of `path`.
pub fn route_template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        if i == MAX_SEGMENTS {
            out.push_str("/…");
            break;
        }
        out.push('/');
        if LITERALS.contains(&seg) {
            out.push_str(seg);
        } else if seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("{n}");
        } else if uuid::Uuid::parse_str(seg).is_ok() {
            out.push_str("{id}");
        } else {
            out.push_str("{name}");
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The methods a native path answers (for a 405's `Allow`), from the one
/// list of native routes.
fn allowed_methods(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let fits = |template: &str| {
        let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        t.len() == segments.len() && t.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
    };
    let mut methods: Vec<&str> = crate::dialects::native::openapi::ROUTES
        .iter()
        .filter(|(_, template)| fits(template))
        .map(|(method, _)| *method)
        .collect();
    if methods.is_empty() {
        return None;
    }
    methods.sort_unstable();
    methods.dedup();
    methods.push("OPTIONS");
    Some(methods.join(", "))
}

fn sane_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .then_some(s)
}

fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// An unread request body is read to its end, and thrown away, up to this
/// many bytes.
const DRAIN_LIMIT: u64 = 16 << 20;

/// A request body that, if the handler leaves it unread (a refusal before
/// the body is looked at, a route that takes none), is read to its end
/// anyway. Otherwise hyper closes the connection over the unread bytes: the
/// kernel resets it under a client still sending (who then never sees the
/// answer), and a client that had finished sending reuses the connection
/// for its next request, which fails.
pub struct Drained<B: Body + Send + Unpin + 'static> {
    inner: Option<B>,
    /// The body already failed (cut off by its deadline, or the client
    /// went away): there is nothing left worth reading.
    failed: bool,
}

impl<B: Body + Send + Unpin + 'static> Body for Drained<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let frame = match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        };
        if let Poll::Ready(Some(Err(_))) = frame {
            self.failed = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B: Body + Send + Unpin + 'static> Drop for Drained<B> {
    fn drop(&mut self) {
        // Nothing left, a body that already failed, or more declared than
        // is worth reading: hyper closes.
        let failed = self.failed;
        let Some(mut body) = self
            .inner
            .take()
            .filter(|b| !failed && !b.is_end_stream() && b.size_hint().lower() <= DRAIN_LIMIT)
        else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let mut read = 0u64;
            while read <= DRAIN_LIMIT {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.remaining() as u64),
                    _ => return,
                }
            }
        });
    }
}

/// Run `req` through `svc`, logging and counting it.
pub async fn handle<S, B>(mut svc: S, metrics: Arc<Metrics>, req: Request<B>) -> Result<Response, Infallible>
where
    S: Service<Request<Drained<B>>, Response = Response, Error = Infallible>,
    B: Body + Send + Unpin + 'static,
{
    let mut req = req.map(|b| Drained {
        inner: Some(b),
        failed: false,
    });
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(sane_id)
        .map_or_else(new_id, str::to_owned);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = route_template(&path);
    let note = AuthNote::default();
    req.extensions_mut().insert(note.clone());
    let deadline = req.extensions().get::<super::conn::BodyDeadline>().cloned();
    let span = tracing::info_span!("request", id = %id);
    let mut res = svc.call(req).instrument(span).await?;
    if deadline.is_some_and(|d| d.0.load(std::sync::atomic::Ordering::Relaxed)) {
        // The body did not arrive in time: whatever the handler made of the
        // cut body, the answer is 408, and the connection closes.
        res = super::json(
            http::StatusCode::REQUEST_TIMEOUT,
            &serde_json::json!({"error": {"message": "the request body did not arrive in time", "status": 408}}),
        );
        res.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    let route = if res.extensions().get::<Unmatched>().is_some() {
        "unmatched".to_owned()
    } else {
        route
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    let status = res.status().as_u16();
    if status == 405
        && let Some(allow) = allowed_methods(&path)
        && let Ok(v) = HeaderValue::from_str(&allow)
    {
        res.headers_mut().insert(http::header::ALLOW, v);
    }
    if let Some(reason) = note.0.get()
        && (status == 401 || status == 403)
    {
        metrics.auth_refused(reason);
    }
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method: method.as_str().to_owned(),
            route,
            status,
        })
        .inc();
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn templates_hide_values() {
        assert_eq!(route_template("/"), "/");
        assert_eq!(route_template("/api/messages/"), "/api/messages");
        assert_eq!(route_template("/api/messages/42"), "/api/messages/{n}");
        assert_eq!(
            route_template("/api/conversations/1d402658-be12-481a-bf6e-c9bf9df59de3/read"),
            "/api/conversations/{id}/read"
        );
        assert_eq!(route_template("/ws/chat/general/7"), "/ws/chat/{name}/{n}");
        assert_eq!(
            route_template("/a/b/c/d/e/f/g/h/i/j"),
            "/{name}/{name}/{name}/{name}/{name}/{name}/{name}/{name}/…"
        );
    }
}
