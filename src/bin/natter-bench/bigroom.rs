//! `bigroom`: N distinct users in one room, each on one socket.
//!
//! What a big room costs: how long until all N are subscribed, what each
//! socket costs the server's memory once the presence storm of N people
//! arriving is over, how many presence frames that storm took, and then
//! P posters sending into the room over HTTP: each post's answer time
//! (while the fan-outs of the posts before it run) and post→all-received,
//! the time until the last of the N sockets has it.
//!
//! Sign-up is not what this measures, so a natter it starts hashes
//! passwords as cheaply as argon2 allows (8 KiB, 1 pass).
//!
//! With `--deflate` every socket offers permessage-deflate (as browsers
//! do) and inflates what comes compressed; either way the bytes each socket
//! reads off TCP are counted, so the two runs compare bytes on the wire.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use natter::http::deflate::Peer;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::fanout::{client_config, register};
use crate::http::Http;
use crate::report::{Row, Samples};
use crate::server::{Target, rand_suffix};

#[derive(Clone, Debug)]
pub struct Opts {
    pub users: usize,
    pub posters: usize,
    /// Messages each poster sends.
    pub messages: usize,
    /// Each poster's sends per second: one round of posts per rate.
    pub rates: Vec<f64>,
    /// Sockets being opened at once.
    pub concurrency: usize,
    /// Offer permessage-deflate on every socket.
    pub deflate: bool,
}

/// Per message: receivers so far, and the latest receive time (ns since `t0`).
struct Tally {
    t0: Instant,
    received: Vec<AtomicU64>,
    sent_ns: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    presence: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    /// Bytes the sockets read off TCP: frame headers, compressed or not.
    wire: Arc<AtomicU64>,
}

impl Tally {
    fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    /// A frame a socket read: count it, and if it is one of the posts
    /// (body `bm:<seq>:`), note when.
    fn saw(&self, text: &str) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
        if text.contains("\"action\":\"presence\"") {
            self.presence.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(at) = text.find("bm:") else { return };
        let rest = &text[at + 3..];
        let Some(end) = rest.find(':') else { return };
        if !text.contains("\"action\":\"message\"") {
            return;
        }
        if let Ok(seq) = rest[..end].parse::<usize>()
            && seq < self.received.len()
        {
            let now = self.now_ns();
            self.received[seq].fetch_add(1, Ordering::Relaxed);
            self.last_ns[seq].fetch_max(now, Ordering::Relaxed);
        }
    }
}

async fn health_sockets(http: &mut Http) -> u64 {
    let (_, h) = http.get("/api/health", None).await;
    h["sockets"].as_u64().unwrap_or(0)
}

pub async fn run(target: &Target, o: &Opts) -> Vec<Row> {
    let mut row = Row::default();
    row.set("users", o.users as u64);
    let run = rand_suffix();
    eprintln!("signing up {} users…", o.users);
    let started = Instant::now();
    let users = register(&target.base, &format!("g{run}u"), o.users).await;
    let mut http = Http::connect(&target.base).await;
    let (st, conv) = http
        .post(
            "/api/conversations",
            Some(&users[0].0),
            &json!({"name": format!("big-{run}"), "kind": "room"}),
        )
        .await;
    assert_eq!(st, 201, "create the room: {conv}");
    let conv = conv["conversation_id"].as_str().expect("conversation_id").to_owned();
    futures_util::stream::iter(users[1..].iter().map(|(t, _)| t.clone()))
        .map(|token| {
            let (base, conv) = (target.base.clone(), conv.clone());
            async move {
                let mut http = Http::connect(&base).await;
                let (st, b) = http
                    .post(&format!("/api/rooms/{conv}/join"), Some(&token), &json!({}))
                    .await;
                assert_eq!(st, 200, "join: {b}");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    row.set("setup_s", started.elapsed().as_secs_f64());
    eprintln!(
        "{} users in one room after {:.1} s; connecting…",
        o.users,
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = target.rss_kb();

    let per_round = o.posters * o.messages;
    let total = per_round * o.rates.len();
    let tally = Arc::new(Tally {
        t0: Instant::now(),
        received: (0..total).map(|_| AtomicU64::new(0)).collect(),
        sent_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
        last_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
        presence: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        wire: Arc::new(AtomicU64::new(0)),
    });
    let connect_started = Instant::now();
    let urls: Vec<String> = users
        .iter()
        .map(|(token, _)| format!("{}/api/ws?token={token}", target.ws()))
        .collect();
    let held: Vec<_> = futures_util::stream::iter(urls)
        .map(|url| {
            let tally = tally.clone();
            let deflate = o.deflate;
            async move {
                let ws = open(&url, deflate, tally.wire.clone()).await;
                let (sink, mut stream) = ws.split();
                tokio::spawn(async move {
                    let _sink = sink;
                    while let Some(Ok(m)) = stream.next().await {
                        if let Message::Text(t) = m {
                            tally.saw(&t);
                        }
                    }
                })
                .abort_handle()
            }
        })
        .buffer_unordered(o.concurrency)
        .collect()
        .await;
    let opened_s = connect_started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (health_sockets(&mut http).await as usize) < o.users && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let subscribed_s = connect_started.elapsed().as_secs_f64();
    row.set("sockets_opened_s", opened_s);
    row.set("all_subscribed_s", subscribed_s);
    // The presence storm is over when no frame has arrived for a second.
    let mut last = tally.frames.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = tally.frames.load(Ordering::Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    let storm_s = (connect_started.elapsed() - quiet_since.elapsed()).as_secs_f64();
    let presence = tally.presence.load(Ordering::Relaxed);
    row.set("presence_frames", presence);
    row.set("presence_frames_per_connect", presence as f64 / o.users as f64);
    row.set("frames_settled_s", storm_s);
    let after = target.rss_kb();
    row.set("server_rss_mb", after.map(|k| k as f64 / 1024.0));
    if let (Some(b), Some(a)) = (before, after) {
        row.set(
            "kb_per_socket",
            a.saturating_sub(b) as f64 * 1024.0 / o.users as f64 / 1000.0,
        );
    }
    eprintln!("subscribed in {subscribed_s:.2} s, {presence} presence frames");
    let mut rows = Vec::new();
    for (round, &rate) in o.rates.iter().enumerate() {
        let mut r = if round == 0 { row.clone() } else { Row::default() };
        r.set("rate_per_poster", rate);
        eprintln!("{} posters × {} messages at {rate}/s each…", o.posters, o.messages);
        posts(target, o, &tally, &conv, &users, round * per_round, rate, &mut r).await;
        rows.push(r);
    }
    for h in held {
        h.abort();
    }
    rows
}

/// One round of posts, sequence numbers from `first`: answer times and
/// post→all-received into `row`.
#[allow(clippy::too_many_arguments)]
async fn posts(
    target: &Target,
    o: &Opts,
    tally: &Arc<Tally>,
    conv: &str,
    users: &[(String, String)],
    first: usize,
    rate: f64,
    row: &mut Row,
) {
    // The posters: each its own keep-alive connection, paced.
    let frames_before = tally.frames.load(Ordering::Relaxed);
    let bytes_before = tally.bytes.load(Ordering::Relaxed);
    let wire_before = tally.wire.load(Ordering::Relaxed);
    let cpu_before = target.cpu_seconds();
    let sends: Vec<Samples> = futures_util::future::join_all((0..o.posters).map(|p| {
        let (base, conv, token, tally) = (target.base.clone(), conv.to_owned(), users[p].0.clone(), tally.clone());
        let (messages, gap) = (o.messages, Duration::from_secs_f64(1.0 / rate.max(0.001)));
        async move {
            let mut http = Http::connect(&base).await;
            let mut answers = Samples::default();
            let mut tick = tokio::time::interval(gap);
            for i in 0..messages {
                tick.tick().await;
                let seq = first + p * messages + i;
                let at = tally.now_ns();
                tally.sent_ns[seq].store(at, Ordering::Relaxed);
                let t = Instant::now();
                let (st, b) = http
                    .post(
                        "/api/messages",
                        Some(&token),
                        &json!({"conversation_id": conv, "message": format!("bm:{seq}:{at}")}),
                    )
                    .await;
                answers.push(t.elapsed().as_nanos() as u64);
                assert_eq!(st, 200, "post: {b}");
            }
            answers
        }
    }))
    .await;
    let mut answers = Samples::default();
    for s in sends {
        answers.extend(s);
    }
    // Wait for every socket to have every post (or 30 s).
    let expected = o.users as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && tally.received[first..first + o.posters * o.messages]
            .iter()
            .any(|r| r.load(Ordering::Relaxed) < expected)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut all = Samples::default();
    let mut lost = 0;
    for (seq, got) in tally
        .received
        .iter()
        .enumerate()
        .skip(first)
        .take(o.posters * o.messages)
    {
        let got = got.load(Ordering::Relaxed);
        lost += expected.saturating_sub(got);
        if got >= expected {
            all.push(
                tally.last_ns[seq]
                    .load(Ordering::Relaxed)
                    .saturating_sub(tally.sent_ns[seq].load(Ordering::Relaxed)),
            );
        }
    }
    let [(_, a50), (_, a90), (_, a99), (_, amax)] = answers.summary();
    row.set("post_answer_p50_ms", a50);
    row.set("post_answer_p90_ms", a90);
    row.set("post_answer_p99_ms", a99);
    row.set("post_answer_max_ms", amax);
    let [(_, r50), (_, r90), (_, r99), (_, rmax)] = all.summary();
    row.set("post_to_all_p50_ms", r50);
    row.set("post_to_all_p90_ms", r90);
    row.set("post_to_all_p99_ms", r99);
    row.set("post_to_all_max_ms", rmax);
    row.set("deliveries_lost", lost);
    let frames = tally.frames.load(Ordering::Relaxed) - frames_before;
    let bytes = tally.bytes.load(Ordering::Relaxed) - bytes_before;
    let wire = tally.wire.load(Ordering::Relaxed) - wire_before;
    let per = |n: u64| if frames > 0 { n as f64 / frames as f64 } else { 0.0 };
    row.set("deflate", o.deflate);
    row.set("bytes_per_delivery", per(bytes));
    row.set("wire_bytes_per_delivery", per(wire));
    if let (Some(b), Some(a)) = (cpu_before, target.cpu_seconds()) {
        row.set("server_cpu_s_posting", a - b);
        if frames > 0 {
            row.set("server_cpu_us_per_delivery", (a - b) * 1e6 / frames as f64);
        }
    }
    row.set("server_rss_mb_after_posts", target.rss_kb().map(|k| k as f64 / 1024.0));
    tokio::time::sleep(Duration::from_secs(5)).await;
    row.set("server_rss_mb_5s_later", target.rss_kb().map(|k| k as f64 / 1024.0));
}

/// A socket to `url` (`ws://host:port/path?query`), offering compression
/// if `deflate`; what it reads off TCP is added to `wire`. The handshake
/// is done here, not by tungstenite, so the inflating layer can go under
/// tungstenite once the handshake's bytes are read.
async fn open(url: &str, deflate: bool, wire: Arc<AtomicU64>) -> WebSocketStream<Peer<Counted>> {
    let uri: http::Uri = url.parse().expect("a ws:// URL");
    let authority = uri.authority().expect("host:port").as_str();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut tcp = TcpStream::connect(authority).await.expect("connect");
    tcp.set_nodelay(true).ok();
    let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
    let offer = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n{offer}\r\n"
    );
    tcp.write_all(req.as_bytes()).await.expect("send the handshake");
    // The server says nothing before its answer is read, so peeking finds
    // where the answer ends and leaves the first frame unread.
    let mut head = vec![0u8; 4096];
    let end = loop {
        let n = tcp.peek(&mut head).await.expect("read the handshake");
        assert!(n > 0, "{url}: closed during the handshake");
        if let Some(i) = head[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let mut answer = vec![0u8; end];
    tcp.read_exact(&mut answer).await.expect("read the handshake");
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 101"), "{url}: {answer}");
    let agreed = answer.contains("sec-websocket-extensions: permessage-deflate");
    assert_eq!(agreed, deflate, "{url}: compression offered {deflate}, agreed {agreed}");
    let io = Counted { io: tcp, read: wire };
    let io = if deflate {
        Peer::inflating(io, 0)
    } else {
        Peer::plain(io)
    };
    WebSocketStream::from_raw_socket(io, Role::Client, Some(client_config())).await
}

/// A TCP stream that counts the bytes read from it.
pub struct Counted {
    io: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        this.read
            .fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
