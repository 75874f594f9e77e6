//! The server under test: a natter (or bare) child process of ours, whose CPU
//! time and memory we read from /proc, or an external server at `--url`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A directory removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(tag: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("natter-bench-{tag}-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn rand_suffix() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{n:08x}")
}

pub struct Target {
    /// `http://host:port`
    pub base: String,
    pub child: Option<Child>,
    /// From spawning to the first answered request.
    pub start_ms: Option<f64>,
    pub _dir: Option<ScratchDir>,
}

/// The `natter` binary next to this one (both live in target/<profile>/).
pub fn natter_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_owned();
    }
    let me = std::env::current_exe().expect("current exe");
    me.with_file_name("natter")
}

impl Target {
    pub fn external(url: &str) -> Target {
        Target {
            base: url.trim_end_matches('/').to_owned(),
            child: None,
            start_ms: None,
            _dir: None,
        }
    }

    /// Start natter on a fresh database (or `db`), on a free loopback port.
    pub async fn natter(bin: &Path, db: Option<(ScratchDir, PathBuf)>, extra: &[String]) -> Target {
        let (dir, db) = match db {
            Some(d) => d,
            None => {
                let dir = ScratchDir::new("db");
                let db = dir.0.join("bench.db");
                (dir, db)
            }
        };
        let mut cmd = Command::new(bin);
        cmd.arg("--db")
            .arg(&db)
            .args(["--listen", "127.0.0.1:0", "--send-rate", "0", "--log", "warn"])
            .args(extra);
        // The bench signs many users up, from one address, with many
        // sockets and password checks at once: open sign-up and no limits
        // per client. Through the environment, so an older natter (in an
        // A/B comparison) that has no such flags runs too.
        for (var, value) in [
            ("NATTER_REGISTRATION", "open"),
            ("NATTER_SIGNUPS_PER_HOUR", "0"),
            ("NATTER_HASHES_PER_ADDRESS", "0"),
            ("NATTER_LOGIN_FAILURES_PER_ADDRESS", "0"),
            ("NATTER_CONNECTIONS_PER_ADDRESS", "0"),
            ("NATTER_SOCKETS_PER_USER", "0"),
            ("NATTER_UPLOADS_PER_MINUTE", "0"),
        ] {
            if std::env::var_os(var).is_none() {
                cmd.env(var, value);
            }
        }
        Self::spawn(cmd, Some(dir)).await
    }

    /// Start a bare broadcast server in a child process: this tool's own,
    /// or `external` (`../shared/bench/bare`, the yardstick's: it prints
    /// `listening on IP:PORT` and serves `/ws/{room}/{user}`).
    pub async fn bare(external: Option<&Path>) -> Target {
        let mut cmd = match external {
            Some(bin) => {
                let mut cmd = Command::new(bin);
                cmd.arg("127.0.0.1:0");
                cmd
            }
            None => {
                let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
                cmd.args(["bare-server", "--listen", "127.0.0.1:0"]);
                cmd
            }
        };
        cmd.kill_on_drop(true);
        Self::spawn(cmd, None).await
    }

    async fn spawn(mut cmd: Command, dir: Option<ScratchDir>) -> Target {
        let started = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the server: {e} (build it: cargo build --release)"));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the server printed nothing in 30 s")
            .expect("stdout")
            .expect("the server exited");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let base = if addr.starts_with("http://") {
            addr.to_owned()
        } else {
            format!("http://{addr}")
        };
        // Keep reading stdout so the child never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let mut t = Target {
            base,
            child: Some(child),
            start_ms: None,
            _dir: dir,
        };
        let mut http = crate::http::Http::connect(&t.base).await;
        loop {
            if http.get("/api/health", None).await.0 > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        t.start_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        t
    }

    pub fn ws(&self) -> String {
        self.base.replacen("http", "ws", 1)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// User + system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(&self.pid()?.to_string())
    }

    fn status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Resident memory now, in KiB.
    pub fn rss_kb(&self) -> Option<u64> {
        self.status_kb("VmRSS:")
    }

    /// Peak resident memory, in KiB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.status_kb("VmHWM:")
    }
}

/// CPU seconds this process (the benchmark client) has used.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("self").unwrap_or(0.0)
}

/// User + system CPU seconds of a process, from `/proc/<pid>/stat`.
fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}
