//! What `/metrics` shows, in the Prometheus text format.
//!
//! One `Metrics` per server, shared by the writer, the core and the HTTP
//! layer. The hot paths (a send, a frame written to a socket) touch only
//! plain counters held directly, never a labelled family: a family lookup
//! hashes its labels under a lock, fine once per request or socket, too
//! much once per recipient.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DialectLabel {
    pub dialect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// A route template (`/api/conversations/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// The writer's share: how many jobs each commit carried and how long it took.
#[derive(Clone, Debug)]
pub struct WriterMetrics {
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
}

impl Default for WriterMetrics {
    fn default() -> Self {
        WriterMetrics {
            // 1, 2, 4, … 512 (MAX_BATCH).
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            // 50 µs … ~1.6 s.
            commit_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
        }
    }
}

pub struct Metrics {
    registry: Registry,
    pub sockets: Family<DialectLabel, Gauge>,
    pub sockets_compressed: Gauge,
    pub messages_stored: Counter,
    pub messages_delivered: Counter,
    pub delivery_seconds: Histogram,
    pub writer: WriterMetrics,
    pub http_requests: Family<HttpLabels, Counter>,
    pub rate_limited: Family<LimitLabel, Counter>,
    pub auth_refused: Family<ReasonLabel, Counter>,
    pub ai_requests: Family<OutcomeLabel, Counter>,
    pub backups: Family<OutcomeLabel, Counter>,
    pub pushes: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("natter");
        let m = Metrics {
            registry: Registry::default(),
            sockets: Family::default(),
            sockets_compressed: Gauge::default(),
            messages_stored: Counter::default(),
            messages_delivered: Counter::default(),
            // 100 µs … ~3.3 s.
            delivery_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 16)),
            writer: WriterMetrics::default(),
            http_requests: Family::default(),
            rate_limited: Family::default(),
            auth_refused: Family::default(),
            ai_requests: Family::default(),
            backups: Family::default(),
            pushes: Family::default(),
        };
        registry.register("sockets_open", "WebSockets open, by dialect", m.sockets.clone());
        registry.register(
            "sockets_compressed",
            "Open WebSockets whose client agreed to permessage-deflate",
            m.sockets_compressed.clone(),
        );
        registry.register("messages_stored", "Messages committed", m.messages_stored.clone());
        registry.register(
            "messages_delivered",
            "Message frames written to sockets (one per recipient socket)",
            m.messages_delivered.clone(),
        );
        registry.register(
            "delivery_latency_seconds",
            "From a send being accepted to its frame written to the first recipient socket",
            m.delivery_seconds.clone(),
        );
        registry.register(
            "writer_batch_size",
            "Write jobs sharing one commit (group commit)",
            m.writer.batch_size.clone(),
        );
        registry.register(
            "writer_commit_seconds",
            "How long each commit (with its fsync) took",
            m.writer.commit_seconds.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            m.http_requests.clone(),
        );
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit, by limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "auth_refusals",
            "Refused authentications, by reason",
            m.auth_refused.clone(),
        );
        registry.register("ai_requests", "AI backend requests, by outcome", m.ai_requests.clone());
        registry.register("backups", "Backups made, by outcome", m.backups.clone());
        registry.register(
            "pushes",
            "Web Push notifications, by outcome: sent, gone (the subscription was deleted), failed, \
             dropped (the queue was full)",
            m.pushes.clone(),
        );
        // Every dialect's gauge shows from the start, at 0.
        for dialect in ["native", "chatroom", "threads", "messenger"] {
            m.sockets.get_or_create(&DialectLabel { dialect }).set(0);
        }
        Metrics { registry, ..m }
    }

    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited.get_or_create(&LimitLabel { limit }).inc();
    }

    pub fn auth_refused(&self, reason: &'static str) {
        self.auth_refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn ai_request(&self, outcome: &'static str) {
        self.ai_requests.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    pub fn backup(&self, outcome: &'static str) {
        self.backups.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    pub fn push(&self, outcome: &'static str) {
        self.pushes.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    pub fn socket_opened(&self, dialect: &'static str, compressed: bool) {
        self.sockets.get_or_create(&DialectLabel { dialect }).inc();
        if compressed {
            self.sockets_compressed.inc();
        }
    }

    pub fn socket_closed(&self, dialect: &'static str, compressed: bool) {
        self.sockets.get_or_create(&DialectLabel { dialect }).dec();
        if compressed {
            self.sockets_compressed.dec();
        }
    }

    /// A frame of a message went out on a socket. `first` is the event's
    /// once-only flag: the latency is observed for its first delivery only,
    /// so each further recipient costs two atomic operations.
    pub fn delivered(&self, first: &AtomicBool, accepted: Instant) {
        self.messages_delivered.inc();
        if !first.swap(true, Ordering::Relaxed) {
            self.delivery_seconds.observe(accepted.elapsed().as_secs_f64());
        }
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        out
    }
}
