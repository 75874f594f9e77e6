use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use natter::config::{Command, LoadError, LogFormat};
use natter::{Config, Core};

fn main() -> ExitCode {
    let loaded = match natter::config::load(std::env::args_os().collect()) {
        Ok(loaded) => loaded,
        Err(LoadError::Clap(e)) => e.exit(),
        Err(LoadError::File(msg)) => {
            eprintln!("natter: {msg}");
            return ExitCode::from(2);
        }
    };
    let config = loaded.config.clone();
    natter::raise_fd_limit();
    return_big_allocations();
    init_logs(&config);
    match &config.command {
        Some(Command::Config) => {
            print!("{}", loaded.describe());
            return ExitCode::SUCCESS;
        }
        Some(command) => {
            return match natter::cli::run(command, &config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("natter: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => {}
    }
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

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(false).init(),
        LogFormat::Pretty => logs.with_ansi(std::io::stderr().is_terminal()).init(),
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
    let metrics = match &config.metrics_listen {
        Some(m) => Some(natter::bind(m).map_err(|e| format!("cannot listen on {m} for metrics: {e}"))?),
        None => None,
    };
    let (core, report) = Core::open(&config).await.map_err(|e| e.to_string())?;
    for line in report.lines(&config.db) {
        tracing::info!("{line}");
    }
    println!("listening on http://{addr}");
    if let Some(m) = metrics {
        let at = m.local_addr().map_err(|e| e.to_string())?;
        println!("metrics on http://{at}/metrics");
        tokio::spawn(natter::serve_metrics(core.clone(), m));
    }
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
