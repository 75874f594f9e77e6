use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use natter::{Config, Core};

fn main() -> ExitCode {
    let config = Config::parse();
    natter::raise_fd_limit();
    return_big_allocations();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("natter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    if config.init_db {
        let path = config.db.clone();
        let report = tokio::task::spawn_blocking(move || natter::db::init(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        for line in report.lines(&config.db) {
            println!("{line}");
        }
        return Ok(());
    }
    let listener = natter::bind(&config.listen).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (core, report) = Core::open(&config).await.map_err(|e| e.to_string())?;
    for line in report.lines(&config.db) {
        tracing::info!("{line}");
    }
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    natter::serve_core(core, listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

/// argon2 allocates ~19 MiB per hash. glibc raises its mmap threshold after
/// the first such buffer is freed, and from then on keeps them in per-thread
/// arenas: a few logins would leave natter holding 100+ MB. A fixed threshold
/// keeps big buffers on mmap, so they go back to the system when freed.
fn return_big_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
