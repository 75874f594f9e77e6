//! Connections before HTTP: who the client is (the peer, or the nearest
//! untrusted hop of `X-Forwarded-For` behind a `--trusted-proxy`), how many
//! connections one address and everyone together may hold open, how long a
//! request body may take to arrive, and a quiet log when accepting fails.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};

/// The connection's peer, put on every request it carries.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The client's address: the peer, unless the peer is a trusted proxy; then
/// the nearest hop of `X-Forwarded-For` that is not one (a client can
/// prepend anything to that header, so only hops added by trusted proxies
/// are believed).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for hop in text.split(',') {
            match hop.trim().parse() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    PerAddress(u32),
    Total(usize),
}

impl Refused {
    pub fn message(self) -> String {
        match self {
            Refused::PerAddress(n) => format!("too many connections from your address (the limit is {n})"),
            Refused::Total(n) => format!("the server is at its limit of {n} connections; try again soon"),
        }
    }
}

/// Open connections, per address and in all.
pub struct ConnLimits {
    per_address: u32,
    total: usize,
    trusted: Vec<IpAddr>,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
    all: Arc<AtomicUsize>,
}

/// One open connection; dropping it frees its place.
pub struct ConnGuard {
    ip: Option<IpAddr>,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
    all: Arc<AtomicUsize>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.all.fetch_sub(1, Ordering::Relaxed);
        if let Some(ip) = self.ip {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

impl ConnLimits {
    /// `per_address` and `total` 0: no bound.
    pub fn new(per_address: u32, total: usize, trusted: Vec<IpAddr>) -> Self {
        ConnLimits {
            per_address,
            total,
            trusted,
            open: Arc::default(),
            all: Arc::default(),
        }
    }

    /// Take a place for a connection from `peer`, or say why not. A
    /// trusted proxy's connections count only toward the total: its
    /// clients are told apart per request.
    pub fn admit(&self, peer: IpAddr) -> Result<ConnGuard, Refused> {
        let now = self.all.fetch_add(1, Ordering::Relaxed) + 1;
        let guard = ConnGuard {
            ip: None,
            open: self.open.clone(),
            all: self.all.clone(),
        };
        if self.total > 0 && now > self.total {
            return Err(Refused::Total(self.total));
        }
        if self.per_address == 0 || self.trusted.contains(&peer) {
            return Ok(guard);
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(peer).or_insert(0);
        if *n >= self.per_address {
            return Err(Refused::PerAddress(self.per_address));
        }
        *n += 1;
        let mut guard = guard;
        guard.ip = Some(peer);
        Ok(guard)
    }
}

/// The answer to a refused connection, written before closing it.
pub fn refusal_response(refused: Refused) -> Vec<u8> {
    let body = format!("{{\"error\":{{\"message\":\"{}\",\"status\":503}}}}", refused.message());
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Log accept failures (out of file descriptors, say) at most once per
/// `every`, with how many there were: they come thousands a second.
pub struct QuietLog {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl QuietLog {
    pub fn new(every: Duration) -> Self {
        QuietLog {
            every,
            last: None,
            suppressed: 0,
        }
    }

    pub fn accept_failed(&mut self, error: &std::io::Error) {
        if self.last.is_some_and(|t| t.elapsed() < self.every) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(%error, more = self.suppressed, "accept failed (logged at most every {:?})", self.every);
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

/// A request body that must arrive by a deadline. Past it the body fails
/// (the handler sees a read error) and `expired` is set, so the answer
/// becomes 408 and the connection closes.
pub struct TimedBody<B> {
    inner: B,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
    /// Past the deadline the body stays failed: nothing reads it further
    /// (not even the drain of an unread body, which would hold the
    /// connection open for the rest of it).
    timed_out: bool,
}

impl<B> TimedBody<B> {
    /// `limit` zero: no deadline.
    pub fn new(inner: B, limit: Duration, expired: Arc<AtomicBool>) -> Self {
        TimedBody {
            inner,
            deadline: (!limit.is_zero()).then(|| Box::pin(tokio::time::sleep(limit))),
            expired,
            timed_out: false,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        let this = &mut *self;
        if this.timed_out {
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if frame.is_none() {
                this.deadline = None;
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.deadline = None;
            this.timed_out = true;
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Set on a request whose body is timed: `handle` checks it afterwards.
#[derive(Debug, Clone, Default)]
pub struct BodyDeadline(pub Arc<AtomicBool>);

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 1.2.3.4".parse().unwrap());
        let proxy = ip("10.0.0.1");
        assert_eq!(client_ip(ip("9.9.9.9"), &h, &[proxy]), ip("9.9.9.9"), "not a proxy");
        assert_eq!(client_ip(proxy, &h, &[proxy]), ip("1.2.3.4"), "the hop the proxy added");
        h.insert("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &h, &[proxy, ip("10.0.0.2")]),
            ip("1.2.3.4"),
            "two proxies"
        );
        h.insert("x-forwarded-for", "junk".parse().unwrap());
        assert_eq!(client_ip(proxy, &h, &[proxy]), proxy, "unreadable: the proxy itself");
    }

    #[test]
    fn places_are_given_back() {
        let limits = ConnLimits::new(2, 3, vec![ip("10.0.0.1")]);
        let a = limits.admit(ip("1.1.1.1")).unwrap();
        let _b = limits.admit(ip("1.1.1.1")).unwrap();
        assert_eq!(limits.admit(ip("1.1.1.1")).err(), Some(Refused::PerAddress(2)));
        drop(a);
        let _c = limits.admit(ip("1.1.1.1")).unwrap();
        // A trusted proxy is not limited per address, only in the total.
        let _p = limits.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(limits.admit(ip("10.0.0.1")).err(), Some(Refused::Total(3)));
    }
}
