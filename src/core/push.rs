//! Web Push: a notification to each browser that asked for them, for a
//! message its user did not see live.
//!
//! The send path never waits on a push service. After a message commits,
//! `Push::offer` (on the writer thread) picks who should hear of it
//! (`push_recipients`) and hands the message to a bounded queue; a full
//! queue drops the push and counts it. One background task takes the queue,
//! looks up the recipients' subscriptions, and sends each push (VAPID-signed,
//! the payload encrypted to the browser's keys, RFC 8291/8292) with a
//! timeout; a subscription its push service calls gone (404, 410) is deleted.
//!
//! The server POSTs to URLs its users give it, so by default only `https://`
//! endpoints at public addresses are used: checked when a subscription is
//! made (the URL) and again when a push is sent (every address its host
//! resolves to, at connect time, so a name cannot be pointed at the inside
//! afterwards).

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency, VapidSignatureBuilder,
    WebPushMessageBuilder,
};

use super::mentions::wants as wants_notification;
use super::{Caller, Core, Hub};
use crate::config::PushConfig;
use crate::db;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::{Conversation, Kind, Message, Timestamp, UserBrief, UserId};

/// Messages waiting for their pushes; past it a push is dropped (and
/// counted), so a slow push service never holds up a send.
const QUEUE: usize = 1024;
/// Pushes being sent at once.
const IN_FLIGHT: usize = 16;
/// How long one push (connect, TLS, request, answer) may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a push service keeps a push for a browser that is offline: a
/// day-old "new message" is no longer news.
const TTL_SECS: u32 = 24 * 3600;
/// Characters of the message's text in a push.
const TEXT_CHARS: usize = 200;
/// Longest endpoint URL accepted.
const MAX_ENDPOINT: usize = 2048;

/// What the service worker gets, as JSON. Small: push services take about
/// 4 KB, and a notification shows a line or two.
#[derive(Debug, Serialize)]
pub struct Payload {
    pub conversation_id: uuid::Uuid,
    /// The room's name, or in a direct conversation the sender's name.
    pub conversation_name: String,
    pub sender: String,
    pub text: String,
    pub message_id: i64,
}

/// Who may be pushed a message, decided as it is committed: the
/// conversation's members other than the sender, not the agent, and with no
/// live socket (a socket shows it already). The background task then keeps
/// those whose notify level hears of it (`wants_notification`: all, a
/// mention of them or a direct message, nothing), read from the database
/// there so the send path makes no query.
pub fn push_recipients(
    conversation: &Conversation,
    message: &Message,
    members: &[Arc<UserBrief>],
    hub: &Hub,
) -> Vec<UserId> {
    // The level of each is read later, off the send path.
    let _ = conversation;
    let candidates: Vec<UserId> = members
        .iter()
        .filter(|m| m.id != message.sender.id && !m.is_bot)
        .map(|m| m.id)
        .collect();
    if candidates.is_empty() {
        return candidates;
    }
    // With a bus, a socket on another node counts too.
    let online = hub.online_anywhere_of(&candidates);
    candidates.into_iter().filter(|u| !online.contains(u)).collect()
}

/// A message whose pushes are to be sent.
struct Job {
    conversation: Arc<Conversation>,
    message: Arc<Message>,
    recipients: Vec<UserId>,
}

/// The server's push side: its VAPID key, the queue, and who has subscribed.
pub struct Push {
    public_key: String,
    per_user: u32,
    insecure: bool,
    queue: mpsc::Sender<Job>,
    /// Users with a subscription, so a message to nobody with push costs
    /// a set lookup. Rows may go (a session revoked) without this knowing:
    /// such a user only costs a lookup that finds nothing.
    subscribed: RwLock<HashSet<UserId>>,
    metrics: Arc<Metrics>,
}

/// The sending half, owned by the background task.
pub struct Sender {
    vapid: PartialVapidSignatureBuilder,
    subject: String,
    insecure: bool,
    http: Client<HttpsConnector<HttpConnector<Resolver>>, Full<Bytes>>,
    metrics: Arc<Metrics>,
}

/// What the background task takes from the queue.
pub struct Queue(mpsc::Receiver<Job>);

impl Push {
    /// Set up with the stored private key (32 raw bytes) and the users who
    /// have subscriptions. The `Sender` goes to `run`.
    pub(super) fn new(
        config: &PushConfig,
        private_key: &[u8],
        subscribed: Vec<UserId>,
        metrics: Arc<Metrics>,
    ) -> Result<(Push, Sender, Queue)> {
        // The private key stays in these builders; it is never logged.
        let vapid = VapidSignatureBuilder::from_base64_no_sub(&URL_SAFE_NO_PAD.encode(private_key))
            .map_err(|_| Error::Internal("the stored VAPID key is not a P-256 private key".into()))?;
        let public_key = URL_SAFE_NO_PAD.encode(vapid.get_public_key());
        let subject = config.push_subject.trim().to_owned();
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(Error::invalid(
                "--push-subject must be a mailto: or https: URL (e.g. mailto:you@example.com)",
            ));
        }
        let tls = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("cannot set up TLS for Web Push: {e}")))?
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth();
        let insecure = config.push_allow_insecure_endpoints;
        let mut plain = HttpConnector::new_with_resolver(Resolver { any_address: insecure });
        plain.enforce_http(false);
        plain.set_connect_timeout(Some(TIMEOUT));
        plain.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if insecure {
            builder.https_or_http().enable_http1().wrap_connector(plain)
        } else {
            builder.https_only().enable_http1().wrap_connector(plain)
        };
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let (queue, rx) = mpsc::channel(QUEUE);
        let push = Push {
            public_key,
            per_user: config.push_subscriptions_per_user,
            insecure,
            queue,
            subscribed: RwLock::new(subscribed.into_iter().collect()),
            metrics: metrics.clone(),
        };
        let sender = Sender {
            vapid,
            subject,
            insecure,
            http,
            metrics,
        };
        Ok((push, sender, Queue(rx)))
    }

    /// After a commit, on the writer thread: queue the message's pushes, or
    /// drop them if the queue is full. Never waits.
    pub(super) fn offer(
        &self,
        conversation: &Arc<Conversation>,
        message: &Arc<Message>,
        members: &[Arc<UserBrief>],
        hub: &Hub,
    ) {
        if self.subscribed.read().unwrap_or_else(|e| e.into_inner()).is_empty() {
            return;
        }
        let mut recipients = push_recipients(conversation, message, members, hub);
        {
            let subscribed = self.subscribed.read().unwrap_or_else(|e| e.into_inner());
            recipients.retain(|u| subscribed.contains(u));
        }
        if recipients.is_empty() {
            return;
        }
        let job = Job {
            conversation: conversation.clone(),
            message: message.clone(),
            recipients,
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(job) {
            self.metrics.push("dropped");
        }
    }
}

/// Send the queued pushes until the core is gone. Each push runs on its
/// own task, at most `IN_FLIGHT` at once; while all are busy the queue
/// fills and further pushes are dropped, not waited for.
pub(super) fn run(core: &Arc<Core>, sender: Sender, queue: Queue) {
    let weak = Arc::downgrade(core);
    let sender = Arc::new(sender);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let Queue(mut rx) = queue;
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let Some(core) = weak.upgrade() else { return };
            let users = job.recipients.clone();
            let (conv, kind) = (job.conversation.id, job.conversation.kind);
            let mentioned: Vec<UserId> = job.message.mentions.iter().map(|u| u.id).collect();
            let subs = core
                .db
                .read(move |c| {
                    // Each one's notify level decides (read here, off the
                    // send path): the rule the page's badges follow too.
                    let levels = db::conversations::notify_levels(c, conv)?;
                    let users: Vec<UserId> = users
                        .into_iter()
                        .filter(|u| {
                            levels
                                .iter()
                                .find(|(id, _)| id == u)
                                .is_some_and(|(_, level)| wants_notification(*level, kind, mentioned.contains(u)))
                        })
                        .collect();
                    db::push::of_users(c, &users, Timestamp::now())
                })
                .await;
            drop(core);
            let subs = match subs {
                Ok(subs) => subs,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read push subscriptions");
                    continue;
                }
            };
            if subs.is_empty() {
                continue;
            }
            let payload = match serde_json::to_vec(&payload(&job)) {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    tracing::warn!(error = %e, "could not encode a push");
                    continue;
                }
            };
            let topic = job.conversation.uuid.simple().to_string();
            for sub in subs {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (sender, payload, weak, topic) = (sender.clone(), payload.clone(), weak.clone(), topic.clone());
                tokio::spawn(async move {
                    let outcome = sender.send(&sub, &payload, topic).await;
                    drop(permit);
                    match &outcome {
                        Outcome::Sent => {}
                        Outcome::Gone => {
                            // The browser unsubscribed or the subscription expired.
                            if let Some(core) = weak.upgrade() {
                                let id = sub.id;
                                let removed = core.db.writer().submit(move |c| db::push::remove_id(c, id), |_| {});
                                if let Err(e) = removed.await {
                                    tracing::warn!(error = %e, "could not remove a gone push subscription");
                                }
                            }
                        }
                        // The endpoint may hold a token of the user's: only its host is logged.
                        Outcome::Failed(why) => {
                            tracing::info!(host = %host_of(&sub.endpoint), "push not delivered: {why}");
                        }
                    }
                    // Counted once handled: a gone subscription is deleted by then.
                    sender.metrics.push(outcome.label());
                });
            }
        }
    });
}

/// The JSON a push carries.
fn payload(job: &Job) -> Payload {
    let m = &job.message;
    let sender = &m.sender;
    let who = if sender.name.trim().is_empty() {
        sender.username.clone()
    } else {
        sender.name.clone()
    };
    let conversation_name = match (&job.conversation.kind, &job.conversation.name) {
        (Kind::Room, Some(name)) => name.clone(),
        _ => who,
    };
    let text = if m.text.trim().is_empty() {
        match &m.file {
            Some(f) => format!("sent a file: {}", f.name),
            None => String::new(),
        }
    } else {
        m.text.clone()
    };
    Payload {
        conversation_id: job.conversation.uuid,
        conversation_name,
        sender: sender.username.clone(),
        text: cut(&text, TEXT_CHARS),
        message_id: m.id.0,
    }
}

/// At most `n` characters, with an ellipsis if something was cut.
fn cut(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

enum Outcome {
    Sent,
    Gone,
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Gone => "gone",
            Outcome::Failed(_) => "failed",
        }
    }
}

impl Sender {
    async fn send(&self, sub: &db::push::Subscription, payload: &[u8], topic: String) -> Outcome {
        let req = match self.request(sub, payload, topic) {
            Ok(req) => req,
            Err(why) => return Outcome::Failed(why),
        };
        match tokio::time::timeout(TIMEOUT, self.http.request(req)).await {
            Err(_) => Outcome::Failed(format!("no answer within {}s", TIMEOUT.as_secs())),
            Ok(Err(e)) => Outcome::Failed(describe(&e)),
            Ok(Ok(res)) => match res.status().as_u16() {
                200..=299 => Outcome::Sent,
                404 | 410 => Outcome::Gone,
                status => Outcome::Failed(format!("the push service answered {status}")),
            },
        }
    }

    /// The signed, encrypted POST to the subscription's push service.
    fn request(
        &self,
        sub: &db::push::Subscription,
        payload: &[u8],
        topic: String,
    ) -> std::result::Result<http::Request<Full<Bytes>>, String> {
        let uri: http::Uri = sub
            .endpoint
            .parse()
            .map_err(|_| "the endpoint is not a URL".to_owned())?;
        check_endpoint(&uri, self.insecure).map_err(|e| e.public_message())?;
        let info = SubscriptionInfo::new(sub.endpoint.as_str(), sub.p256dh.as_str(), sub.auth.as_str());
        let mut vapid = self.vapid.clone().add_sub_info(&info);
        vapid.add_claim("sub", self.subject.as_str());
        // RFC 8292: the audience is the push resource's origin, port included
        // (web-push would leave a non-default port out).
        vapid.add_claim("aud", origin(&uri));
        let vapid = vapid.build().map_err(|e| format!("could not sign: {e}"))?;
        let mut message = WebPushMessageBuilder::new(&info);
        message.set_ttl(TTL_SECS);
        message.set_urgency(Urgency::High);
        // A newer push of the same conversation replaces one not yet delivered.
        message.set_topic(topic);
        message.set_payload(ContentEncoding::Aes128Gcm, payload);
        message.set_vapid_signature(vapid);
        let message = message.build().map_err(|e| format!("could not encrypt: {e}"))?;
        // web-push builds on http 0.2; hyper here speaks http 1.
        let (parts, body) = web_push::request_builder::build_request::<Vec<u8>>(message).into_parts();
        let mut req = http::Request::post(uri);
        for (name, value) in &parts.headers {
            req = req.header(name.as_str(), value.as_bytes());
        }
        req.body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("could not build the request: {e}"))
    }
}

/// `scheme://host[:port]`.
fn origin(uri: &http::Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            // Without any userinfo (refused anyway when subscribing).
            let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
            format!("{scheme}://{host_port}")
        }
        _ => String::new(),
    }
}

/// The endpoint's host, for the log.
fn host_of(endpoint: &str) -> String {
    endpoint
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default()
}

/// A transport error in words, without the URL.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("could not reach the push service: {cause}")
}

/// May the server POST to this endpoint? `https://`, no userinfo, and not
/// a loopback, private or link-local address written as such (names are
/// checked as they resolve, by `Resolver`); with `insecure`, `http://` and
/// any address too.
fn check_endpoint(uri: &http::Uri, insecure: bool) -> Result<()> {
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if insecure => {}
        _ => return Err(Error::invalid("endpoint must be an https:// URL")),
    }
    let Some(authority) = uri.authority() else {
        return Err(Error::invalid("endpoint must be an https:// URL with a host"));
    };
    if authority.as_str().contains('@') {
        return Err(Error::invalid("endpoint must not hold a user name or password"));
    }
    if insecure {
        return Ok(());
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    let local_name = lower == "localhost" || lower.ends_with(".localhost");
    if local_name || host.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip)) {
        return Err(Error::invalid(
            "endpoint must be at a public address, not a loopback, private or link-local one",
        ));
    }
    Ok(())
}

/// Not loopback, private, link-local, unspecified, multicast or otherwise
/// reserved: an address a push service on the internet may have.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // 100.64.0.0/10, carrier-grade NAT; 240.0.0.0/4, reserved.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local())
        }
    }
}

/// The system resolver, keeping only public addresses (all of them with
/// `--push-allow-insecure-endpoints`). The connector connects only to what
/// this returns, so the check holds at connect time.
#[derive(Clone)]
struct Resolver {
    any_address: bool,
}

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let any = self.any_address;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| any || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the push service's host has no public address",
                ));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// A subscription as a browser's `PushSubscription.toJSON()` gives it.
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// base64url without padding, as push keys are written (browsers add no
/// padding; some libraries do, and some use the standard alphabet).
fn key_bytes(field: &str, value: &str, len: usize) -> Result<Vec<u8>> {
    let clean: String = value
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    match URL_SAFE_NO_PAD.decode(&clean) {
        Ok(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(Error::invalid(format!(
            "{field} must be {len} bytes, base64url-encoded"
        ))),
    }
}

impl Core {
    /// The VAPID public key (uncompressed P-256 point, base64url): what a
    /// page passes as `applicationServerKey`.
    pub fn push_key(&self) -> &str {
        &self.push.public_key
    }

    /// Store the caller's browser's subscription (tied to the caller's
    /// session). Past `--push-subscriptions-per-user`, the user's oldest go.
    pub async fn subscribe_push(&self, caller: &Caller, new: NewSubscription) -> Result<()> {
        let endpoint = new.endpoint.trim().to_owned();
        if endpoint.is_empty() {
            return Err(Error::invalid(
                "endpoint is required: the PushSubscription's endpoint URL",
            ));
        }
        if endpoint.len() > MAX_ENDPOINT {
            return Err(Error::invalid(format!("endpoint is longer than {MAX_ENDPOINT} bytes")));
        }
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|_| Error::invalid("endpoint must be an https:// URL"))?;
        check_endpoint(&uri, self.push.insecure)?;
        let p256dh = key_bytes("keys.p256dh", &new.p256dh, 65)?;
        let auth = key_bytes("keys.auth", &new.auth, 16)?;
        let (p256dh, auth) = (URL_SAFE_NO_PAD.encode(p256dh), URL_SAFE_NO_PAD.encode(auth));
        // Encrypting something to the key is the check that it is a point
        // on the curve: better a 400 now than pushes that never arrive.
        let info = SubscriptionInfo::new(endpoint.as_str(), p256dh.as_str(), auth.as_str());
        let mut probe = WebPushMessageBuilder::new(&info);
        probe.set_payload(ContentEncoding::Aes128Gcm, b"{}");
        if probe.build().is_err() {
            return Err(Error::invalid("keys.p256dh is not a P-256 public key"));
        }
        let (user, session, keep) = (caller.user, caller.session, self.push.per_user);
        let replaced = self
            .db
            .writer()
            .submit(
                move |c| {
                    let new = db::push::NewSubscription {
                        user,
                        session: &session,
                        endpoint: &endpoint,
                        p256dh: &p256dh,
                        auth: &auth,
                    };
                    db::push::add(c, &new, keep)
                },
                |_| {},
            )
            .await?;
        if replaced > 0 {
            tracing::debug!(user = %user, replaced, "oldest push subscriptions replaced");
        }
        self.push
            .subscribed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user);
        if let Some(bus) = self.bus.get() {
            bus.subscribed(user);
        }
        Ok(())
    }

    /// Remove the caller's subscription with this endpoint.
    pub async fn unsubscribe_push(&self, caller: &Caller, endpoint: String) -> Result<()> {
        let endpoint = endpoint.trim().to_owned();
        if endpoint.is_empty() {
            return Err(Error::invalid(
                "endpoint is required: ?endpoint=<the subscription's endpoint URL>",
            ));
        }
        let user = caller.user;
        let removed = self
            .db
            .writer()
            .submit(move |c| db::push::remove(c, user, &endpoint), |_| {})
            .await?;
        if removed {
            Ok(())
        } else {
            Err(Error::not_found("push subscription"))
        }
    }
}

/// Load what `Push::new` needs from the database.
impl Core {
    /// Another node's user subscribed to Web Push.
    pub(super) fn push_subscribed_elsewhere(&self, user: UserId) {
        self.push
            .subscribed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user);
    }

    /// Read who has a push subscription again (the bus reconnected and may
    /// have missed other nodes' news of new ones).
    pub(super) async fn reload_push_subscriptions(&self) {
        match self.db.read(db::push::subscribed_users).await {
            Ok(users) => self
                .push
                .subscribed
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .extend(users),
            Err(e) => tracing::warn!(error = %e, "bus: could not read push subscriptions"),
        }
    }
}

pub(super) async fn load(db: &crate::db::Db) -> Result<(Vec<u8>, Vec<UserId>)> {
    db.read(|c| {
        let key = db::push::vapid_key(c)?
            .ok_or_else(|| Error::Internal("the database has no VAPID key (run natter --init-db)".into()))?;
        Ok((key, db::push::subscribed_users(c)?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_endpoints_without_the_flag() {
        let ok = |u: &str, insecure| check_endpoint(&u.parse().unwrap(), insecure).is_ok();
        assert!(ok("https://fcm.googleapis.com/fcm/send/abc", false));
        assert!(ok("https://8.8.8.8/x", false));
        assert!(!ok("http://push.example.com/x", false));
        assert!(!ok("https://127.0.0.1/x", false));
        assert!(!ok("https://10.1.2.3/x", false));
        assert!(!ok("https://192.168.0.1/x", false));
        assert!(!ok("https://169.254.169.254/latest", false));
        assert!(!ok("https://[::1]/x", false));
        assert!(!ok("https://[fe80::1]/x", false));
        assert!(!ok("https://[fd00::1]/x", false));
        assert!(!ok("https://[::ffff:127.0.0.1]/x", false));
        assert!(!ok("https://localhost/x", false));
        assert!(!ok("https://a.localhost:8443/x", false));
        assert!(!ok("https://user:pw@push.example.com/x", false));
        assert!(!ok("ftp://push.example.com/x", false));
        assert!(ok("http://127.0.0.1:9/x", true));
    }

    #[test]
    fn the_audience_keeps_the_port() {
        assert_eq!(
            origin(&"http://127.0.0.1:4567/p/1".parse().unwrap()),
            "http://127.0.0.1:4567"
        );
        assert_eq!(
            origin(&"https://push.example.com/x".parse().unwrap()),
            "https://push.example.com"
        );
    }

    #[test]
    fn text_is_cut_on_a_character() {
        assert_eq!(cut("héllo", 2), "hé…");
        assert_eq!(cut("hi", 200), "hi");
    }
}
