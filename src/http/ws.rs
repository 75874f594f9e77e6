//! WebSockets: the upgrade, done by hand, and the loop that drives a socket.
//!
//! warp's own `ws()` cannot change tungstenite's buffers, and their 128 KiB
//! default read buffer stays resident for every idle socket. So we answer
//! the upgrade ourselves (hyper leaves `OnUpgrade` in the request) and build
//! the stream with small, deliberate buffers.
//!
//! One task runs each socket: it forwards hub events (frames encoded once per
//! event per format and shared), reads client frames and hands them to the
//! dialect's `Protocol`, keeps a bounded number of sends in flight, and pings
//! idle peers. Sends from one socket are queued to the writer in the order
//! they arrive, so they are stored and delivered in that order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, interval_at, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use warp::{Filter, Rejection};

use super::Response;
use super::deflate::{self, InflateError, Peer};
use super::filters::problem;
use crate::core::changes::{Missed, Resume};
use crate::core::{Caller, ConnId, Core, Ended, Event, Outgoing, Scope, Subscription};
use crate::error::Error;
use crate::model::{EventId, Message as ChatMessage, MessageId, Timestamp};

/// Read buffer per socket. Chat frames are a few hundred bytes and a chat
/// server reads far less than it writes; bigger frames still arrive, in more
/// reads. Measured at 10,000 idle sockets: 4 KiB cost 8.1 KB a socket, 1 KiB
/// 5.0 KB, with no loss of fan-out throughput.
const READ_BUFFER: usize = 1024;
/// Outgoing frames are gathered up to this size before a write syscall.
/// Each loopback write runs the whole TCP path, so this sets the syscalls
/// per delivery: measured in a burst, 8 KiB gave 0.79 M deliveries/s and
/// 32 KiB 1.2 M, with half the CPU per delivery (128 KiB: no better).
/// tungstenite keeps the buffer's capacity, so a socket that once had a
/// burst of 32 KiB queued holds that much; an idle socket holds nothing.
const WRITE_BUFFER: usize = 32 * 1024;
/// Client frames being processed at once per socket before reading pauses.
const MAX_IN_FLIGHT: usize = 64;
/// Hub events written per flush.
const MAX_BATCH: usize = 256;
const PING_EVERY: Duration = Duration::from_secs(30);
/// A peer silent this long (no frame, no pong) is gone.
const IDLE_LIMIT: Duration = Duration::from_secs(75);
/// A peer that has not taken a frame for this long is gone (or stuck).
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// Changes replayed per database read on `?since=`.
const REPLAY_PAGE: i64 = 2000;
/// After its close frame the server waits this long for the client's, as
/// RFC 6455 asks, before letting go of the TCP connection. Letting go with
/// the client's frames unread makes the kernel answer with a reset, which
/// can cost the client the close frame (it sees 1006, not the code).
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// A WebSocket handshake, accepted but not yet answered.
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    accept: String,
    /// Our answer to the client's permessage-deflate offer, if it made one
    /// we take.
    deflate: Option<&'static str>,
}

fn header_has_token(headers: &http::HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Match a WebSocket upgrade request (GET with the upgrade headers).
pub fn upgrade() -> impl Filter<Extract = (Upgrade,), Error = Rejection> + Clone {
    warp::get()
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<OnUpgrade>())
        .and_then(|headers: http::HeaderMap, on_upgrade: Option<OnUpgrade>| async move {
            let is_upgrade = header_has_token(&headers, http::header::CONNECTION, "upgrade")
                && header_has_token(&headers, http::header::UPGRADE, "websocket");
            let key = headers.get(http::header::SEC_WEBSOCKET_KEY);
            let (true, Some(key), Some(on_upgrade)) = (is_upgrade, key, on_upgrade) else {
                return Err(problem(Error::invalid(
                    "this endpoint is a WebSocket: connect with a WebSocket client",
                )));
            };
            if headers
                .get(http::header::SEC_WEBSOCKET_VERSION)
                .is_none_or(|v| v != "13")
            {
                return Err(problem(Error::invalid("unsupported WebSocket version: use 13")));
            }
            let extensions = headers
                .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
                .iter()
                .filter_map(|v| v.to_str().ok());
            Ok(Upgrade {
                on_upgrade,
                accept: derive_accept_key(key.as_bytes()),
                deflate: deflate::negotiate(extensions),
            })
        })
}

impl Upgrade {
    /// Join the hub, answer 101, and run the socket with `proto` once the
    /// connection is handed over. The socket is tracked
    /// (`core.track_socket()`) until it ends: a shutdown waits for it.
    /// Compression is agreed if the client offered it and `--ws-deflate` is on.
    pub async fn reply<P: Protocol + Sync>(
        self,
        core: Arc<Core>,
        caller: Caller,
        proto: P,
        since: Option<EventId>,
    ) -> Response {
        let tracked = core.track_socket();
        let max_frame = proto.max_frame(&core);
        // Joined before the 101 goes out: whatever is committed after the
        // client sees its handshake answered reaches the socket (a client
        // may send the moment it is connected).
        let joined = join(&core, &caller, proto.scope(), since).await;
        let answer = self.deflate.filter(|_| core.ws_deflate);
        let deflate = answer.is_some();
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let _tracked = tracked;
            match on_upgrade.await {
                Ok(upgraded) => {
                    let config = WebSocketConfig::default()
                        .read_buffer_size(READ_BUFFER)
                        .write_buffer_size(WRITE_BUFFER)
                        .max_write_buffer_size(WRITE_BUFFER + max_frame.max(1 << 20) * 2)
                        .max_message_size(Some(max_frame))
                        .max_frame_size(Some(max_frame));
                    let io = TokioIo::new(upgraded);
                    let io = if deflate {
                        Peer::inflating(io, max_frame)
                    } else {
                        Peer::plain(io)
                    };
                    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    drive(core, caller, proto, since, joined, ws).await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "websocket upgrade failed");
                    if let Ok((sub, _)) = joined {
                        core.disconnect(&caller, sub);
                    }
                }
            }
        });
        let mut res = http::Response::new(warp::hyper::body::Bytes::new().into());
        *res.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
        let h = res.headers_mut();
        h.insert(http::header::CONNECTION, http::HeaderValue::from_static("upgrade"));
        h.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
        if let Ok(v) = http::HeaderValue::from_str(&self.accept) {
            h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
        }
        if let Some(answer) = answer {
            h.insert(
                http::header::SEC_WEBSOCKET_EXTENSIONS,
                http::HeaderValue::from_static(answer),
            );
        }
        res
    }
}

pub type Pending = Pin<Box<dyn Future<Output = Option<Utf8Bytes>> + Send>>;

/// Frames sent once on connect, before anything live, with the id of the
/// last message they hold.
pub type Greeting = Pin<Box<dyn Future<Output = Result<(Vec<Utf8Bytes>, MessageId), Error>> + Send>>;

/// What to do with a client frame.
pub enum Handled {
    Nothing,
    /// Answer at once.
    Reply(Utf8Bytes),
    /// Work under way (a send, a read mark): may end in a frame (an error).
    Pending(Pending),
}

/// A dialect's socket: which events it shows, how, and what clients may say.
pub trait Protocol: Send + 'static {
    /// The dialect's name, for logs and metrics.
    fn dialect(&self) -> &'static str;

    /// Which conversations this socket hears.
    fn scope(&self) -> Scope;

    /// Largest client frame accepted, in bytes.
    fn max_frame(&self, core: &Core) -> usize {
        core.limits.max_body_bytes
    }

    /// The frame for a hub event, or `None` if this socket does not show it.
    /// `me` is this socket's id (to tell its own sends apart). A frame
    /// cached on the event (`Event::frame`) is compressed once for every socket.
    fn frame(&self, event: &Event, me: ConnId) -> Option<Outgoing>;

    /// A stored message being replayed after `?since=`.
    fn replay(&self, _message: &ChatMessage) -> Option<Utf8Bytes> {
        None
    }

    /// The frame telling a client that resumed from before the change log's
    /// oldest entry to reload its history, then carry on from `latest`.
    fn reload(&self, _latest: EventId) -> Option<Utf8Bytes> {
        None
    }

    /// The frame this socket opens with, if its clients expect one
    /// (messenger's `message_history`). Live messages it already holds are
    /// not sent again.
    fn greeting(&self, _core: &Arc<Core>, _caller: &Caller) -> Option<Greeting> {
        None
    }

    /// A text frame from the client.
    fn on_text(&mut self, core: &Arc<Core>, caller: &Caller, me: ConnId, text: &str) -> Handled;

    /// The frame telling the client something it sent was refused.
    fn error_frame(&self, err: &Error, client_id: Option<&str>) -> Utf8Bytes;
}

/// Register a socket with the hub, and the change it is live from: a
/// subscription, or why the socket is refused.
async fn join(core: &Arc<Core>, caller: &Caller, scope: Scope, since: Option<EventId>) -> Joined {
    let sub = core.connect(caller, scope)?;
    // Left again (and the user's coming online taken back) if the client
    // gives up while the read below is under way.
    let mut joining = Joining {
        core,
        caller,
        sub: Some(sub),
    };
    // What was committed before the socket opened is history, not news,
    // though its fan-out may come after the join (`Core::live_from`). Read
    // after joining, so that whatever commits later has a greater id and
    // reaches the socket.
    let history = match since {
        None => core.live_from().await,
        Some(_) => EventId(0),
    };
    match joining.sub.take() {
        Some(sub) => Ok((sub, history)),
        None => Err("the socket left while joining".into()),
    }
}

/// A subscription being set up: unless taken, it is left on drop.
struct Joining<'a> {
    core: &'a Arc<Core>,
    caller: &'a Caller,
    sub: Option<Subscription>,
}

impl Drop for Joining<'_> {
    fn drop(&mut self) {
        if let Some(sub) = self.sub.take() {
            self.core.disconnect(self.caller, sub);
        }
    }
}

/// A socket's subscription and the newest change before it, or the reason
/// it was refused.
type Joined = Result<(Subscription, EventId), String>;

/// Run a socket until either side closes it.
async fn drive<P: Protocol, S>(
    core: Arc<Core>,
    caller: Caller,
    mut proto: P,
    since: Option<EventId>,
    joined: Joined,
    mut ws: WebSocketStream<Peer<S>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let wire = Wire {
        deflate: ws.get_ref().is_inflating(),
    };
    let (mut sub, history) = match joined {
        Ok(joined) => joined,
        Err(reason) => {
            let frame = CloseFrame {
                code: CloseCode::Policy,
                reason: reason.into(),
            };
            let _ = timeout(WRITE_TIMEOUT, ws.close(Some(frame))).await;
            return;
        }
    };
    let me = sub.id;
    let dialect = proto.dialect();
    let opened = std::time::Instant::now();
    core.metrics.socket_opened(dialect, wire.deflate);
    tracing::info!(socket = me, dialect, user = %caller.uuid, deflate = wire.deflate, "socket opened");
    let _closed = Closed {
        core: &core,
        dialect,
        compressed: wire.deflate,
        socket: me,
        opened,
    };
    // Replay what was missed; events published meanwhile wait in the queue
    // and are skipped below if the replay already covered them.
    let mut replayed = match since {
        Some(since) => match replay(&core, &caller, &proto, wire, since, &mut ws).await {
            Some(last) => last,
            None => {
                core.disconnect(&caller, sub);
                return;
            }
        },
        None => history,
    };
    if let Some(greeting) = proto.greeting(&core, &caller) {
        let frames = match greeting.await {
            Ok((frames, last)) => {
                replayed = replayed.max(EventId(last.0));
                frames
            }
            Err(e) => vec![proto.error_frame(&e, None)],
        };
        for frame in frames {
            if !write(&mut ws, wire.message(frame.into())).await {
                core.disconnect(&caller, sub);
                return;
            }
        }
    }

    let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut heartbeat = interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    // Cleared when a shutdown begins: from then on the client's frames stay
    // unread (so unstored, and owed no answer) while what was read finishes
    // and the hub delivers the last events; then the hub closes the queue.
    let mut draining = core.draining();
    let mut reading = true;
    let close = loop {
        tokio::select! {
            () = shutting_down(&mut draining), if reading => {
                reading = false;
            }
            event = sub.rx.recv() => {
                let Some(event) = event else {
                    break Some(match sub.ended() {
                        Some(Ended::TooSlow) => close_frame(CloseCode::Again, "too slow: reconnect with ?since=<last event id>"),
                        Some(Ended::SessionEnded) => close_frame(CloseCode::Policy, "session ended: log in again"),
                        None => close_frame(CloseCode::Away, "server shutting down"),
                    });
                };
                let sent = timeout(WRITE_TIMEOUT, async {
                    let mut ok = send_event(&core.metrics, &mut ws, wire, &proto, &event, me, replayed).await;
                    let mut n = 1;
                    while ok && n < MAX_BATCH {
                        let Ok(event) = sub.rx.try_recv() else { break };
                        ok = send_event(&core.metrics, &mut ws, wire, &proto, &event, me, replayed).await;
                        n += 1;
                    }
                    ok && ws.flush().await.is_ok()
                })
                .await;
                if sent != Ok(true) {
                    break None;
                }
            }
            Some(answer) = pending.next(), if !pending.is_empty() => {
                if let Some(frame) = answer
                    && !write(&mut ws, wire.message(frame.into())).await
                {
                    break None;
                }
            }
            incoming = ws.next(), if reading && pending.len() < MAX_IN_FLIGHT => {
                last_heard = Instant::now();
                if expired(&caller) {
                    break Some(close_frame(CloseCode::Policy, TOKEN_EXPIRED));
                }
                let reply = match incoming {
                    Some(Ok(Message::Text(text))) => match proto.on_text(&core, &caller, me, &text) {
                        Handled::Nothing => None,
                        Handled::Reply(frame) => Some(frame),
                        Handled::Pending(fut) => {
                            pending.push_back(fut);
                            None
                        }
                    },
                    Some(Ok(Message::Binary(_))) => Some(proto.error_frame(&Error::invalid("binary frames are not supported: send JSON text"), None)),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => None,
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "socket read failed");
                        break refusal(&e);
                    }
                };
                if let Some(frame) = reply
                    && !write(&mut ws, wire.message(frame.into())).await
                {
                    break None;
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    break Some(close_frame(CloseCode::Away, "no answer to pings"));
                }
                if expired(&caller) {
                    break Some(close_frame(CloseCode::Policy, TOKEN_EXPIRED));
                }
                if !write(&mut ws, Message::Ping(Default::default())).await {
                    break None;
                }
            }
        }
    };
    // Let sends already queued finish: they are committed either way.
    while let Some(answer) = pending.next().await {
        if let Some(frame) = answer {
            let _ = timeout(WRITE_TIMEOUT, ws.feed(wire.message(frame.into()))).await;
        }
    }
    core.disconnect(&caller, sub);
    let said_why = close.is_some();
    let closed = timeout(WRITE_TIMEOUT, async {
        match close {
            // We end it: say why.
            Some(frame) => ws.close(Some(frame)).await,
            // The peer ended it, and tungstenite has queued the answer to its
            // close frame: flush that (`ws.close` would try to send a second
            // close and fail, and the peer would never see its close answered,
            // which a browser reports as 1006). Or the peer is gone.
            None => SinkExt::close(&mut ws).await,
        }
    })
    .await;
    if said_why && matches!(closed, Ok(Ok(()))) {
        // Frames the client sent meanwhile are read and dropped, unanswered:
        // none of them was stored.
        let _ = timeout(CLOSE_LINGER, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }
}

/// How a socket puts text on the wire: compressed, when that was agreed
/// and makes it smaller, or as it is.
#[derive(Debug, Clone, Copy)]
struct Wire {
    deflate: bool,
}

impl Wire {
    fn message(self, out: Outgoing) -> Message {
        if self.deflate {
            let compressed = match &out {
                Outgoing::Shared(e) => e.compressed(deflate::compress).cloned(),
                Outgoing::Own(text) => deflate::compress(text.as_bytes()),
            };
            if let Some(payload) = compressed {
                // RSV1 marks a compressed message (RFC 7692 6).
                let mut frame = Frame::message(payload, OpCode::Data(OpData::Text), true);
                frame.header_mut().rsv1 = true;
                return Message::Frame(frame);
            }
        }
        match out {
            Outgoing::Shared(e) => Message::Text(e.text.clone()),
            Outgoing::Own(text) => Message::Text(text),
        }
    }
}

const TOKEN_EXPIRED: &str = "token expired: reconnect with a fresh token";

/// Resolves once a shutdown has begun (`Core::draining`).
async fn shutting_down(draining: &mut tokio::sync::watch::Receiver<bool>) {
    // An error means the core is gone, which cannot happen while a socket
    // holds it; then this never resolves, as if no shutdown began.
    if draining.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Logs and counts a socket's end, however `drive` returns.
struct Closed<'a> {
    core: &'a Core,
    dialect: &'static str,
    compressed: bool,
    socket: ConnId,
    opened: std::time::Instant,
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.core.metrics.socket_closed(self.dialect, self.compressed);
        tracing::info!(
            socket = self.socket,
            dialect = self.dialect,
            secs = self.opened.elapsed().as_secs(),
            "socket closed"
        );
    }
}

fn expired(caller: &Caller) -> bool {
    Timestamp::now().unix_secs() as u64 >= caller.expires
}

fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// The close frame for a client that broke the protocol, so it learns why
/// (RFC 6455 7.4.1) instead of seeing the connection just end; `None` when
/// the peer is gone and nothing can reach it.
fn refusal(e: &WsError) -> Option<CloseFrame> {
    match e {
        WsError::Io(io) => match deflate::inflate_error(io)? {
            InflateError::TooLarge => Some(close_frame(CloseCode::Size, "message too large once inflated")),
            InflateError::Corrupt => Some(close_frame(
                CloseCode::Invalid,
                "compressed message is not valid deflate data",
            )),
        },
        WsError::Capacity(_) => Some(close_frame(CloseCode::Size, "frame too large")),
        WsError::Utf8(_) => Some(close_frame(CloseCode::Invalid, "text frame is not valid UTF-8")),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(p) => Some(CloseFrame {
            code: CloseCode::Protocol,
            reason: close_reason(&format!("protocol error: {p}")),
        }),
        _ => None,
    }
}

/// A close frame's reason: at most 123 bytes (its payload is 125), cut at
/// a character boundary.
fn close_reason(text: &str) -> Utf8Bytes {
    let mut end = text.len().min(123);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Utf8Bytes::from(text[..end].to_owned())
}

/// Send one frame; false if the peer is gone or has not read for `WRITE_TIMEOUT`.
async fn write<S>(ws: &mut WebSocketStream<S>, msg: Message) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    matches!(timeout(WRITE_TIMEOUT, ws.send(msg)).await, Ok(Ok(())))
}

/// Send every change after `since` from the change log, page by page, in
/// the dialect's frames (a kind it has no frame for is skipped); the last
/// id covered, or `None` if the socket failed.
async fn replay<P: Protocol, S>(
    core: &Core,
    caller: &Caller,
    proto: &P,
    wire: Wire,
    since: EventId,
    ws: &mut WebSocketStream<S>,
) -> Option<EventId>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let read = |from| core.missed_changes(caller.user, proto.scope(), from, REPLAY_PAGE);
    let mut cursor = since;
    let mut page = read(cursor).await;
    loop {
        let (changes, read_upto, more) = match page {
            Ok(Resume::Page {
                changes,
                read_upto,
                more,
            }) => (changes, read_upto, more),
            Ok(Resume::Reload { latest }) => {
                if let Some(frame) = proto.reload(latest)
                    && !write(ws, wire.message(frame.into())).await
                {
                    return None;
                }
                return Some(latest);
            }
            Err(e) => {
                write(ws, wire.message(proto.error_frame(&e, None).into())).await;
                return Some(cursor);
            }
        };
        let send = timeout(WRITE_TIMEOUT, async {
            for (_, missed) in &changes {
                let frame = match missed {
                    Missed::Message(m) => proto.replay(m).map(Outgoing::Own),
                    // No socket's id is 0: nothing replayed is this socket's own send.
                    Missed::Event(e) => proto.frame(e, 0),
                };
                if let Some(frame) = frame
                    && ws.feed(wire.message(frame)).await.is_err()
                {
                    return false;
                }
            }
            ws.flush().await.is_ok()
        });
        // The next page is read (on a database thread) while this one is
        // encoded and written: the two no longer take turns.
        let (sent, next) = if more {
            let (sent, next) = tokio::join!(send, read(read_upto));
            (sent, Some(next))
        } else {
            (send.await, None)
        };
        if sent != Ok(true) {
            return None;
        }
        cursor = read_upto;
        match next {
            Some(next) => page = next,
            None => return Some(cursor),
        }
    }
}

async fn send_event<P: Protocol, S>(
    metrics: &crate::metrics::Metrics,
    ws: &mut WebSocketStream<S>,
    wire: Wire,
    proto: &P,
    event: &Event,
    me: ConnId,
    replayed: EventId,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // The replay (or the greeting) already covered it.
    if event.change.is_some_and(|c| c <= replayed) {
        return true;
    }
    match proto.frame(event, me) {
        Some(frame) => {
            let ok = ws.feed(wire.message(frame)).await.is_ok();
            if ok && matches!(event.kind, crate::core::EventKind::Message { .. }) {
                metrics.delivered(&event.delivered, event.accepted);
            }
            ok
        }
        None => true,
    }
}
