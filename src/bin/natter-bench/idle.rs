//! `idle`: open N sockets, hold them, and see what each costs the server.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::fanout::register;
use crate::http::Http;
use crate::report::Row;
use crate::server::{Target, rand_suffix};

const SOCKETS_PER_USER: usize = 100;

/// Open a socket to `url` from the loopback address 127.0.0.`source`
/// (0: let the kernel choose). One source address has some 28,000 ports
/// to a given server port; 100,000 sockets need several.
async fn open_from(url: &str, source: u8, config: WebSocketConfig) -> Ws {
    if source == 0 {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .expect("socket");
        return ws;
    }
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .expect("host:port")
        .parse::<std::net::SocketAddr>()
        .expect("a numeric address in the URL");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, source], 0)))
        .unwrap_or_else(|e| panic!("bind 127.0.0.{source}: {e}"));
    let tcp = socket.connect(addr).await.expect("connect");
    let _ = tcp.set_nodelay(true);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(tcp), Some(config))
        .await
        .expect("socket");
    ws
}

type Ws = tokio_tungstenite::WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// `sources`: spread the client's sockets over 127.0.0.2 … 127.0.0.(sources+1); 0: one address.
pub async fn run(target: &Target, sockets: usize, sources: u8) -> Row {
    let mut row = Row::default();
    let idle_rss = target.rss_kb();
    row.set("sockets", sockets as u64);
    row.set("idle_server_rss_mb", idle_rss.map(|k| k as f64 / 1024.0));
    let users = register(
        &target.base,
        &format!("i{}u", rand_suffix()),
        sockets.div_ceil(SOCKETS_PER_USER),
    )
    .await;
    // Settle after the logins (argon2's buffers) before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = target.rss_kb();
    let started = Instant::now();
    let urls: Vec<String> = (0..sockets)
        .map(|i| format!("{}/api/ws?token={}", target.ws(), users[i / SOCKETS_PER_USER].0))
        .collect();
    let config = WebSocketConfig::default().read_buffer_size(1024).write_buffer_size(0);
    let held: Vec<_> = futures_util::stream::iter(urls.into_iter().enumerate())
        .map(|(i, url)| async move {
            let source = if sources == 0 {
                0
            } else {
                2 + (i % sources as usize) as u8
            };
            let ws = open_from(&url, source, config).await;
            // Keep reading (presence frames, pings) without holding on to anything.
            let (sink, mut stream) = ws.split();
            let reader = tokio::spawn(async move {
                let _sink = sink;
                while let Some(Ok(_)) = stream.next().await {}
            });
            reader.abort_handle()
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let connect_s = started.elapsed().as_secs_f64();
    let mut http = Http::connect(&target.base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, h) = http.get("/api/health", None).await;
        if h["sockets"].as_u64().unwrap_or(0) as usize >= sockets || Instant::now() > deadline {
            row.set("server_counts", h["sockets"].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = target.rss_kb();
    row.set("connect_s", connect_s);
    row.set("server_rss_mb", after.map(|k| k as f64 / 1024.0));
    let per = match (before, after) {
        (Some(b), Some(a)) => Value::from(a.saturating_sub(b) as f64 * 1024.0 / sockets as f64 / 1000.0),
        _ => Value::Null,
    };
    row.set("kb_per_socket", per);
    for h in held {
        h.abort();
    }
    row
}
