//! `fanout`: R rooms × U users × M messages each, every user on a socket.
//!
//! Every message body carries its send time (`b:<ns>:<sender>:<seq>`), so
//! every receiver measures send→deliver latency, and checks that nothing is
//! lost, doubled or out of order. A client of natter that is cut off as too
//! slow (close 1013) resumes with `?since=` like a real client, then resends
//! whatever of its own had not been stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, SplitSink};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::http::Http;
use crate::report::{Row, Samples};
use crate::server::{Target, rand_suffix};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Natter,
    Bare,
}

#[derive(Clone, Debug)]
pub struct Opts {
    pub rooms: usize,
    pub users: usize,
    pub messages: usize,
    /// Messages in flight per client (0: send them all at once).
    pub window: usize,
    /// Open loop: messages per second across all clients.
    pub rate: Option<f64>,
    /// Give up after this long without progress.
    pub stall: Duration,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone)]
struct Spec {
    /// The socket URL without `since`.
    url: String,
    /// What a send frame names: the conversation id (natter) or the room.
    conversation: String,
    /// Index of this user within its room (the sender number in bodies).
    me: usize,
}

/// Small socket buffers on the client side too: thousands of them share this process.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

pub async fn open(url: &str) -> Result<Ws, String> {
    let req = url.to_owned();
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(client_config()), true)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(ws)
}

/// Register `n` users named `{prefix}{i}` (8 at a time); returns (token, user id).
pub async fn register(base: &str, prefix: &str, n: usize) -> Vec<(String, String)> {
    // `buffered` keeps the input order, so user i is entry i.
    futures_util::stream::iter((0..n).map(|i| format!("{prefix}{i}")))
        .map(|name| {
            let base = base.to_owned();
            async move {
                let mut http = Http::connect(&base).await;
                let (st, b) = http
                    .post(
                        "/api/auth/register",
                        None,
                        &json!({"username": name, "password": "bench-password"}),
                    )
                    .await;
                assert_eq!(st, 201, "register {name}: {b}");
                (
                    b["access_token"].as_str().unwrap().to_owned(),
                    b["user_id"].as_str().unwrap().to_owned(),
                )
            }
        })
        .buffered(8)
        .collect()
        .await
}

async fn setup(target: &Target, kind: Kind, o: &Opts) -> Vec<Vec<Spec>> {
    let run = rand_suffix();
    if kind == Kind::Bare {
        return (0..o.rooms)
            .map(|r| {
                (0..o.users)
                    .map(|i| Spec {
                        // The shared yardstick's route names the user too; ours ignores the rest.
                        url: format!("{}/ws/room-{run}-{r}/u{i}", target.ws()),
                        conversation: format!("room-{run}-{r}"),
                        me: i,
                    })
                    .collect()
            })
            .collect();
    }
    let users = register(&target.base, &format!("b{run}u"), o.rooms * o.users).await;
    let mut http = Http::connect(&target.base).await;
    let mut rooms = Vec::new();
    for r in 0..o.rooms {
        let members = &users[r * o.users..(r + 1) * o.users];
        let others: Vec<&str> = members[1..].iter().map(|(_, id)| id.as_str()).collect();
        let (st, conv) = http
            .post(
                "/api/conversations",
                Some(&members[0].0),
                &json!({"name": format!("bench-{run}-{r}"), "participant_ids": others}),
            )
            .await;
        assert_eq!(st, 201, "create room: {conv}");
        let conv = conv["conversation_id"].as_str().unwrap().to_owned();
        rooms.push(
            members
                .iter()
                .enumerate()
                .map(|(i, (token, _))| Spec {
                    url: format!("{}/api/ws?token={token}", target.ws()),
                    conversation: conv.clone(),
                    me: i,
                })
                .collect(),
        );
    }
    rooms
}

/// A delivered message, read straight out of the frame text.
struct Seen {
    id: Option<u64>,
    t: u64,
    sender: usize,
    seq: usize,
}

fn number_after(text: &str, key: &str) -> Option<(u64, usize)> {
    let at = text.find(key)? + key.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    Some((text[at..at + digits].parse().ok()?, at + digits))
}

fn parse(text: &str) -> Option<Seen> {
    let body = text.find("\"message\":\"b:")? + "\"message\":\"".len();
    let mut parts = text[body + 2..].split([':', '"']);
    let t = parts.next()?.parse().ok()?;
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some(Seen {
        id: number_after(text, "\"message_id\":").map(|(n, _)| n),
        t,
        sender,
        seq,
    })
}

#[derive(Default)]
struct Stats {
    unique: u64,
    dups: u64,
    ooo: u64,
    lat: Samples,
    last_recv_ns: u64,
    resumes: u32,
}

struct Shared {
    epoch: Instant,
    kind: Kind,
    opts: Opts,
    total_clients: usize,
}

fn frame(spec: &Spec, epoch: Instant, seq: usize) -> Message {
    let t = epoch.elapsed().as_nanos() as u64;
    Message::Text(
        format!(
            r#"{{"action":"send","conversation_id":"{}","message":"b:{t}:{}:{seq}","client_id":"{seq}"}}"#,
            spec.conversation, spec.me
        )
        .into(),
    )
}

/// Send `resend` (already holding window permits), then `fresh` (taking one each).
#[allow(clippy::too_many_arguments)]
async fn sender(
    mut sink: SplitSink<Ws, Message>,
    spec: Spec,
    shared: Arc<Shared>,
    resend: Vec<usize>,
    fresh: std::ops::Range<usize>,
    window: Option<Arc<Semaphore>>,
    sent: Arc<Vec<AtomicBool>>,
    pace: Option<(tokio::time::Instant, Duration)>,
) {
    for seq in resend {
        if sink.send(frame(&spec, shared.epoch, seq)).await.is_err() {
            return;
        }
    }
    for seq in fresh {
        if let Some(w) = &window {
            match w.acquire().await {
                Ok(p) => p.forget(),
                Err(_) => return,
            }
        }
        if let Some((start, period)) = pace {
            tokio::time::sleep_until(start + period * seq as u32).await;
        }
        sent[seq].store(true, Ordering::Release);
        if sink.send(frame(&spec, shared.epoch, seq)).await.is_err() {
            return;
        }
    }
}

async fn client(spec: Spec, shared: Arc<Shared>, mut go: watch::Receiver<bool>, index: usize) -> Stats {
    let o = &shared.opts;
    let expected = (o.users * o.messages) as u64;
    let sent: Arc<Vec<AtomicBool>> = Arc::new((0..o.messages).map(|_| AtomicBool::new(false)).collect());
    let window = (o.window > 0).then(|| Arc::new(Semaphore::new(o.window)));
    let mut tally = Tally {
        epoch: shared.epoch,
        me: spec.me,
        stats: Stats::default(),
        seen: vec![vec![false; o.messages]; o.users],
        last_seq: vec![-1; o.users],
        last_id: 0,
        acked: vec![false; o.messages],
        window: window.clone(),
    };
    let mut ws = match open(&spec.url).await {
        Ok(ws) => ws,
        Err(e) => panic!("{e}"),
    };
    // Wait for the start, answering nothing; then go.
    let _ = go.wait_for(|g| *g).await;
    let pace = o.rate.map(|rate| {
        let period = Duration::from_secs_f64(shared.total_clients as f64 / rate);
        let offset = period.mul_f64(index as f64 / shared.total_clients as f64);
        (tokio::time::Instant::now() + offset, period)
    });
    let mut next_fresh = 0;
    let mut resend: Vec<usize> = Vec::new();
    'connection: loop {
        let (sink, mut stream) = ws.split();
        let from = next_fresh;
        let task = tokio::spawn(sender(
            sink,
            spec.clone(),
            shared.clone(),
            std::mem::take(&mut resend),
            from..o.messages,
            window.clone(),
            sent.clone(),
            pace,
        ));
        loop {
            let msg = match tokio::time::timeout(o.stall, stream.next()).await {
                Err(_) => break 'connection,
                Ok(None) | Ok(Some(Err(_))) => None,
                Ok(Some(Ok(m))) => Some(m),
            };
            let text = match msg {
                Some(Message::Text(t)) => t,
                Some(Message::Close(_)) | None => {
                    task.abort();
                    if shared.kind == Kind::Bare || tally.stats.unique == expected {
                        break 'connection;
                    }
                    // Cut off as too slow: resume from the last message seen.
                    tally.stats.resumes += 1;
                    next_fresh = sent.iter().take_while(|s| s.load(Ordering::Acquire)).count();
                    let url = format!("{}&since={}", spec.url, tally.last_id);
                    ws = match open(&url).await {
                        Ok(ws) => ws,
                        Err(_) => break 'connection,
                    };
                    // Replay first; our ping's pong marks its end. Then resend what
                    // we sent that never came back.
                    let _ = ws.send(Message::Text(r#"{"action":"ping"}"#.into())).await;
                    loop {
                        match tokio::time::timeout(o.stall, ws.next()).await {
                            Ok(Some(Ok(Message::Text(t)))) => {
                                if t.contains("\"pong\"") {
                                    break;
                                }
                                if let Some(s) = parse(&t) {
                                    tally.record(s);
                                }
                            }
                            Ok(Some(Ok(_))) => {}
                            _ => break 'connection,
                        }
                    }
                    resend = (0..next_fresh).filter(|&q| !tally.acked[q]).collect();
                    continue 'connection;
                }
                Some(_) => continue,
            };
            let Some(s) = parse(&text) else { continue };
            tally.record(s);
            if tally.stats.unique == expected {
                task.abort();
                break 'connection;
            }
        }
    }
    tally.stats
}

/// What one client has received so far.
struct Tally {
    epoch: Instant,
    me: usize,
    stats: Stats,
    /// [sender][seq]: delivered yet?
    seen: Vec<Vec<bool>>,
    last_seq: Vec<i64>,
    last_id: u64,
    /// Our own messages that came back (the ack).
    acked: Vec<bool>,
    window: Option<Arc<Semaphore>>,
}

impl Tally {
    fn record(&mut self, s: Seen) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let Some(slot) = self.seen.get_mut(s.sender).and_then(|v| v.get_mut(s.seq)) else {
            return;
        };
        if *slot {
            self.stats.dups += 1;
            return;
        }
        *slot = true;
        self.stats.unique += 1;
        self.stats.last_recv_ns = now;
        self.stats.lat.push(now.saturating_sub(s.t));
        if (s.seq as i64) < self.last_seq[s.sender] {
            self.stats.ooo += 1;
        }
        self.last_seq[s.sender] = self.last_seq[s.sender].max(s.seq as i64);
        if let Some(id) = s.id {
            if id <= self.last_id {
                self.stats.ooo += 1;
            }
            self.last_id = self.last_id.max(id);
        }
        if s.sender == self.me && !self.acked[s.seq] {
            self.acked[s.seq] = true;
            if let Some(w) = &self.window {
                w.add_permits(1);
            }
        }
    }
}

/// Run the scenario against `target`; one result row.
pub async fn run(target: &Target, kind: Kind, o: &Opts) -> Row {
    let rooms = setup(target, kind, o).await;
    let total_clients = o.rooms * o.users;
    let epoch = Instant::now();
    let shared = Arc::new(Shared {
        epoch,
        kind,
        opts: o.clone(),
        total_clients,
    });
    let (go_tx, go_rx) = watch::channel(false);
    let mut tasks = FuturesUnordered::new();
    let mut index = 0;
    for room in rooms {
        for spec in room {
            tasks.push(tokio::spawn(client(spec, shared.clone(), go_rx.clone(), index)));
            index += 1;
        }
    }
    // Everyone connected? The server's health counts natter sockets; for the
    // bare server, give the handshakes a moment.
    let mut http = Http::connect(&target.base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, h) = http.get("/api/health", None).await;
        if kind == Kind::Bare
            || h["sockets"].as_u64().unwrap_or(0) as usize >= total_clients
            || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if kind == Kind::Bare {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let cpu0 = target.cpu_seconds();
    let client0 = crate::server::own_cpu_seconds();
    let start_ns = epoch.elapsed().as_nanos() as u64;
    let _ = go_tx.send(true);
    let mut all = Stats::default();
    while let Some(done) = tasks.next().await {
        let s = done.expect("client task");
        all.unique += s.unique;
        all.dups += s.dups;
        all.ooo += s.ooo;
        all.resumes += s.resumes;
        all.last_recv_ns = all.last_recv_ns.max(s.last_recv_ns);
        all.lat.extend(s.lat);
    }
    let client_cpu = crate::server::own_cpu_seconds() - client0;
    let cpu = match (cpu0, target.cpu_seconds()) {
        (Some(a), Some(b)) => Value::from(b - a),
        _ => Value::Null,
    };
    let expected = (o.rooms * o.users * o.users * o.messages) as u64;
    let secs = (all.last_recv_ns.saturating_sub(start_ns)) as f64 / 1e9;
    let mut row = Row::default();
    row.set("server", if kind == Kind::Natter { "natter" } else { "bare" })
        .set("expected", expected)
        .set("received", all.unique)
        .set("lost", expected - all.unique.min(expected))
        .set("duplicated", all.dups)
        .set("out_of_order", all.ooo)
        .set("seconds", secs)
        .set(
            "deliveries_per_s",
            if secs > 0.0 { all.unique as f64 / secs } else { f64::NAN },
        );
    for (k, v) in all.lat.summary() {
        row.set(k, v);
    }
    row.set("server_cpu_s", cpu)
        .set("client_cpu_s", client_cpu)
        .set("server_rss_mb", target.rss_kb().map(|k| k as f64 / 1024.0))
        .set("server_peak_rss_mb", target.peak_rss_kb().map(|k| k as f64 / 1024.0))
        .set("resumes", all.resumes);
    row
}
