//! natter: a self-hosted chat server in one binary.
//!
//! `serve` is everything a caller (the binary, a test, the benchmark) needs:
//! hand it a config and a bound listener and it serves until the shutdown
//! future resolves.

pub mod archive;
pub mod cli;
pub mod config;
pub mod core;
pub mod db;
pub mod dialects;
pub mod error;
pub mod http;
pub mod metrics;
pub mod model;

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use crate::config::Config;
pub use crate::core::Core;
pub use crate::error::{Error, Result};

/// Bind `addr` with TCP_NODELAY set on the listening socket: Linux hands it
/// on to every accepted socket, so small frames are not held back waiting
/// for delayed ACKs.
pub fn bind(addr: &str) -> std::io::Result<std::net::TcpListener> {
    let addr: SocketAddr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("cannot resolve {addr}")))?;
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Every socket is a file descriptor: lift the soft limit to the hard one
/// so a small box can hold thousands of sockets without tuning. Returns the
/// limit now in force.
pub fn raise_fd_limit() -> u64 {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            if lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            return lim.rlim_cur;
        }
    }
    0
}

/// Open the database and serve on `listener` until `shutdown` resolves;
/// then shut down as `serve_core` says. With `--metrics-listen`, `/metrics`
/// is served there too.
pub async fn serve(
    config: Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (core, _) = Core::open(&config).await?;
    let metrics = match &config.metrics_listen {
        Some(addr) => {
            let l = bind(addr).map_err(|e| Error::Internal(format!("cannot listen on {addr} for metrics: {e}")))?;
            Some(tokio::spawn(serve_metrics(core.clone(), l)))
        }
        None => None,
    };
    let served = serve_core(core, listener, shutdown).await;
    if let Some(task) = metrics {
        task.abort();
    }
    served
}

/// Serve `/metrics` alone on `listener` (`--metrics-listen`), until the
/// task is dropped.
pub async fn serve_metrics(core: Arc<Core>, listener: std::net::TcpListener) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let service = warp::service(http::ops::metrics_routes(core));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(move |req| {
                        let mut service = service.clone();
                        tower_service::Service::call(&mut service, req)
                    }),
                );
            let _ = conn.await;
        });
    }
}

/// How long a shutdown waits for HTTP requests in flight to finish.
const REQUEST_GRACE: Duration = Duration::from_secs(5);

/// `serve` with a core that is already open. When `shutdown` resolves:
/// stop accepting; let the requests in flight finish (up to
/// `REQUEST_GRACE`) while sockets stop reading new frames and finish the
/// ones they read; then `Core::shutdown`: the queued writes commit and are
/// answered, every socket gets its last events and a close frame with 1001,
/// and the database file is made complete on its own. Every write that was
/// committed has then been answered, as far as the clients took their
/// frames in time; nothing that was not committed was acknowledged.
pub async fn serve_core(
    core: Arc<Core>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = TcpListener::from_std(listener).map_err(Error::internal)?;
    let service = warp::service(http::routes(core.clone()));
    let guards = core.guards.clone();
    let conns = Arc::new(http::conn::ConnLimits::new(
        guards.connections_per_address,
        max_connections(guards.max_connections),
        guards.trusted_proxy.clone(),
    ));
    let mut accept_log = http::conn::QuietLog::new(Duration::from_secs(10));
    let mut shutdown = std::pin::pin!(shutdown);
    // Connections watch `stop`, and count themselves in `core.connections`
    // while they run.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    accept_log.accept_failed(&e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let place = match conns.admit(peer.ip()) {
            Ok(place) => place,
            Err(refused) => {
                core.metrics.rate_limited("connections");
                tokio::spawn(refuse(stream, refused));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (service, metrics) = (service.clone(), core.metrics.clone());
        let body_timeout = guards.body_timeout;
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .max_buf_size(64 * 1024)
            .serve_connection(
                TokioIo::new(stream),
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let deadline = http::conn::BodyDeadline::default();
                    let mut req = req.map(|body| http::conn::TimedBody::new(body, body_timeout, deadline.0.clone()));
                    req.extensions_mut().insert(http::conn::Peer(peer));
                    req.extensions_mut().insert(deadline);
                    http::requests::handle(service.clone(), metrics.clone(), req)
                }),
            )
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let alive = core.connections.track();
        tokio::spawn(async move {
            let _alive = alive;
            let _place = place;
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    let started = std::time::Instant::now();
    drop(listener);
    // Idle connections close; busy ones close after their request.
    let _ = stop_tx.send(true);
    core.begin_shutdown();
    // Requests in flight get a few seconds to finish; their writes commit
    // and are answered as usual. (An upgrade among them still becomes a
    // socket: the hub closes it with the others.)
    let _ = tokio::time::timeout(REQUEST_GRACE, core.connections.idle()).await;
    core.shutdown().await;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "shut down");
    Ok(())
}

/// `--max-connections`: as given, or (unset) the file descriptor limit less
/// 256 kept for the database, the listener and the log. 0: no bound.
fn max_connections(flag: Option<u32>) -> usize {
    match flag {
        Some(n) => n as usize,
        None => {
            let fds = raise_fd_limit();
            if fds == 0 || fds == libc::RLIM_INFINITY {
                0
            } else {
                fds.saturating_sub(256).max(64) as usize
            }
        }
    }
}

/// Tell a connection turned away why (a plain 503), then close it.
async fn refuse(mut stream: tokio::net::TcpStream, refused: http::conn::Refused) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        stream.write_all(&http::conn::refusal_response(refused)),
    )
    .await;
    let _ = stream.shutdown().await;
}

async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
