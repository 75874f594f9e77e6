//! Command-line flags and subcommands. Every flag can also be set through a
//! `NATTER_*` environment variable or in the `--config` file; a flag on the
//! command line wins over the environment, which wins over the file, which
//! wins over the default (see `file`).

mod file;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

pub use file::{LoadError, Loaded, Source, load};

/// How nodes sharing a database hear each other (`--bus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BusKind {
    /// PostgreSQL's LISTEN/NOTIFY, on the database in --db.
    Postgres,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "natter",
    version,
    about = "A self-hosted chat server: one binary, one SQLite file, five chat APIs, live WebSockets.",
    after_help = "Every flag can also be given as an environment variable: --max-upload-bytes is \
                  NATTER_MAX_UPLOAD_BYTES, and so on, or in the --config file as max_upload_bytes = 1048576. \
                  Durations take a unit: 90s, 15m, 1h, 30d. Without a subcommand, natter serves."
)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// SQLite database file, created on first start; or a PostgreSQL URL
    /// (postgres://user:password@host:port/database), migrated on start.
    #[arg(
        long,
        env = "NATTER_DB",
        default_value = "natter.db",
        global = true,
        hide_env_values = true
    )]
    pub db: PathBuf,

    /// A TOML file of settings (`listen = "0.0.0.0:8080"`, one per flag,
    /// named like the flag with `_` for `-`). Flags and NATTER_* variables win over it.
    #[arg(long, env = "NATTER_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "NATTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Create or migrate the database, create the JWT secret, print what was done and exit.
    #[arg(long, env = "NATTER_INIT_DB")]
    pub init_db: bool,

    /// How long an access token stays valid.
    #[arg(long, env = "NATTER_ACCESS_TTL", default_value = "1h", value_parser = parse_duration)]
    pub access_ttl: Duration,

    /// How long a session lasts without being refreshed (refresh tokens, cookies).
    #[arg(long, env = "NATTER_REFRESH_TTL", default_value = "30d", value_parser = parse_duration)]
    pub refresh_ttl: Duration,

    /// A refresh token presented again within this window after its first
    /// use counts as the same client racing itself (two tabs) and is refused
    /// with 409 instead of revoking the session; `0s` revokes on any reuse.
    #[arg(long, env = "NATTER_REFRESH_REUSE_GRACE", default_value = "10s", value_parser = parse_grace)]
    pub refresh_reuse_grace: Duration,

    /// Longest message text accepted, in bytes of UTF-8.
    #[arg(long, env = "NATTER_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// Largest file upload accepted, in bytes.
    #[arg(long, env = "NATTER_MAX_UPLOAD_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_upload_bytes: usize,

    /// Largest JSON or form request body accepted, in bytes (uploads have their own limit).
    #[arg(long, env = "NATTER_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Different reactions one user may leave on one message; 0 turns the limit off.
    #[arg(long, env = "NATTER_MAX_REACTIONS", default_value_t = 20)]
    pub max_reactions: u32,

    /// Messages a user may send per second, sustained; 0 turns the limit off.
    #[arg(long, env = "NATTER_SEND_RATE", default_value_t = 20)]
    pub send_rate: u32,

    /// Messages a user may send in a burst above the sustained rate.
    #[arg(long, env = "NATTER_SEND_BURST", default_value_t = 100)]
    pub send_burst: u32,

    /// Events a socket may have waiting before it counts as too slow and is
    /// closed (the client resumes with `?since=`).
    #[arg(long, env = "NATTER_SOCKET_QUEUE", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub socket_queue: u32,

    /// Presence (who comes online, who leaves) is sent through rooms of at
    /// most this many members, and direct conversations; bigger rooms carry
    /// none (their members see who is online when they load the member
    /// list). 0 sends it through rooms of any size.
    #[arg(long, env = "NATTER_PRESENCE_MAX_MEMBERS", default_value_t = 1000)]
    pub presence_max_members: u32,

    /// Compress socket frames (permessage-deflate) for clients that offer
    /// it: each broadcast is compressed once and shared by every socket.
    /// `false` sends every frame as it is.
    #[arg(long, env = "NATTER_WS_DEFLATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub ws_deflate: bool,

    /// argon2id memory cost per password hash, in KiB (the OWASP default is 19456).
    #[arg(long, env = "NATTER_ARGON2_MEMORY_KIB", default_value_t = 19 * 1024, value_parser = clap::value_parser!(u32).range(8..))]
    pub argon2_memory_kib: u32,

    /// argon2id passes over memory (OWASP: 2). `natter-bench login` shows what a setting costs.
    #[arg(long, env = "NATTER_ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub argon2_iterations: u32,

    /// When a commit is durable: `full` survives power loss, `normal` survives a
    /// crash or kill of natter but may lose the last commits on power loss.
    #[arg(long, env = "NATTER_SYNC", value_enum, default_value_t = SyncMode::Full)]
    pub sync: SyncMode,

    /// Largest size the write-ahead log (<db>-wal) is left at, in bytes: a
    /// bigger one is cut back once it has been copied into the database
    /// (and cut to nothing whenever writes pause for a moment). 0: no limit.
    #[arg(long, env = "NATTER_WAL_LIMIT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub wal_limit_bytes: u64,

    /// How long changes stay in the change log that sockets resume from
    /// (`?since=`); a socket resuming from before that is told to reload
    /// its history. Messages themselves are kept; `0` keeps the log forever.
    #[arg(long, env = "NATTER_CHANGE_LOG_RETENTION", default_value = "30d", value_parser = parse_grace)]
    pub change_log_retention: Duration,

    /// Run as one of several nodes on one PostgreSQL database: `postgres`
    /// (needs --db postgres://…) delivers every node's changes to this
    /// node's sockets through LISTEN/NOTIFY and the change log. Without it,
    /// run one node per database.
    #[arg(long, env = "NATTER_BUS", value_enum)]
    pub bus: Option<BusKind>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `natter=debug`).
    #[arg(long, env = "NATTER_LOG", default_value = "natter=info,warn", global = true)]
    pub log: String,

    /// Log lines as text for people (`pretty`) or one JSON object each (`json`).
    #[arg(long, env = "NATTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,

    /// Serve /metrics on this address instead of the main one (e.g.
    /// 127.0.0.1:9100, out of the public's reach). Unset: /metrics is on the main address.
    #[arg(long, env = "NATTER_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,

    /// Who may sign up: `open` (anyone), `invite` (with an invitation),
    /// `closed` (nobody; admins create accounts with `natter admin create`).
    /// Unset: open until the first account exists (it becomes the admin),
    /// then `invite`.
    #[arg(long, env = "NATTER_REGISTRATION", value_enum)]
    pub registration: Option<Registration>,

    /// Members, not only admins, may make invitations.
    #[arg(long, env = "NATTER_MEMBERS_INVITE")]
    pub members_invite: bool,

    #[command(flatten)]
    pub backup: BackupConfig,

    #[command(flatten)]
    pub guards: GuardConfig,

    #[command(flatten)]
    pub ai: AiConfig,

    #[command(flatten)]
    pub push: PushConfig,
}

/// Web Push: notifications to browsers that have no live socket.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Web Push")]
pub struct PushConfig {
    /// Who runs this server, as push services are told (the VAPID `sub`):
    /// a `mailto:` or `https:` URL they can reach you at if your pushes
    /// cause trouble. Set it: some push services refuse the default.
    #[arg(long, env = "NATTER_PUSH_SUBJECT", default_value = "mailto:webpush@natter.example")]
    pub push_subject: String,

    /// Push subscriptions (browsers with notifications on) one user may
    /// have; a new one past it replaces that user's oldest. 0 turns the limit off.
    #[arg(long, env = "NATTER_PUSH_SUBSCRIPTIONS_PER_USER", default_value_t = 10)]
    pub push_subscriptions_per_user: u32,

    /// Accept push endpoints over plain `http://` and at loopback, private
    /// and link-local addresses. For tests with a push service of their
    /// own: with it, any user can make the server POST to your internal network.
    #[arg(long, env = "NATTER_PUSH_ALLOW_INSECURE_ENDPOINTS")]
    pub push_allow_insecure_endpoints: bool,
}

/// Who may sign up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    Open,
    Invite,
    Closed,
}

/// What natter does; without one it serves.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Copy the database while it is in use (a server may be running and
    /// writing), check the copy and print its row counts.
    Backup {
        /// Where the copy goes; must not exist yet.
        out: PathBuf,
    },
    /// Put a backup in place of the database. Refused while a server uses it.
    /// The old file is kept as <db>.before-restore-<time>.
    Restore {
        /// The backup to restore.
        from: PathBuf,
    },
    /// Write every user (without password hashes), conversation, membership,
    /// message and file as JSON Lines.
    Export {
        /// Where the export goes; must not exist yet.
        out: PathBuf,
        /// `inline`: files as base64 in the export; `ref`: in <OUT>.files/ beside it.
        #[arg(long, env = "NATTER_EXPORT_FILES", value_enum, default_value_t = crate::archive::FilesMode::Inline)]
        files: crate::archive::FilesMode,
    },
    /// Load an export into a new or empty database. Imported users have no
    /// usable password: each needs a new one before they can log in.
    Import {
        /// The export to read.
        input: PathBuf,
    },
    /// Print the settings in force (flags, environment, config file,
    /// defaults) as TOML, secrets masked, and where each came from.
    Config,
    /// Accounts, for when nobody can log in: create an admin, set a
    /// password, list users. Passwords come from a prompt or
    /// NATTER_ADMIN_PASSWORD, never from the command line.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create an account with the admin role (or give an existing one the role).
    Create {
        username: String,
        /// Create a member, not an admin.
        #[arg(long)]
        member: bool,
    },
    /// Set a user's password and end all their sessions.
    ResetPassword { username: String },
    /// List every account with its role and state.
    ListUsers,
}

/// What one client may spend, so that nobody can hurt the others. Each
/// limit is 0 to turn it off (load tests, trusted networks).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits per client")]
pub struct GuardConfig {
    /// Proxies whose `X-Forwarded-For` is believed (comma-separated IPs).
    /// The client's address is then the nearest hop that is not one of
    /// them; otherwise it is the connection's peer.
    #[arg(long, env = "NATTER_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,

    /// Sign-ups per client address per hour.
    #[arg(long, env = "NATTER_SIGNUPS_PER_HOUR", default_value_t = 10)]
    pub signups_per_hour: u32,

    /// Failed logins for one account from one address before each further
    /// try waits twice as long as the last (1 s up to 15 minutes). Only
    /// that address waits: the owner elsewhere is never locked out.
    #[arg(long, env = "NATTER_LOGIN_BACKOFF_AFTER", default_value_t = 5)]
    pub login_backoff_after: u32,

    /// Failed logins from one address (for any accounts) in 10 minutes
    /// before that address may try no more until the 10 minutes are up.
    #[arg(long, env = "NATTER_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 50)]
    pub login_failures_per_address: u32,

    /// Password hashes (sign-up, login, password change) one address may
    /// have running at once; more are refused with 429.
    #[arg(long, env = "NATTER_HASHES_PER_ADDRESS", default_value_t = 2)]
    pub hashes_per_address: u32,

    /// Files a user may upload per minute.
    #[arg(long, env = "NATTER_UPLOADS_PER_MINUTE", default_value_t = 30)]
    pub uploads_per_minute: u32,

    /// Bytes of files a user may keep stored in all.
    #[arg(long, env = "NATTER_UPLOAD_QUOTA_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub upload_quota_bytes: u64,

    /// Uploaded files neither attached to a message nor used as a profile
    /// picture are removed after this long; 0 keeps them.
    #[arg(long, env = "NATTER_UNATTACHED_UPLOAD_TTL", default_value = "1h", value_parser = parse_grace)]
    pub unattached_upload_ttl: Duration,

    /// A request's body must arrive within this, else 408 and the
    /// connection is closed.
    #[arg(long, env = "NATTER_BODY_TIMEOUT", default_value = "30s", value_parser = parse_grace)]
    pub body_timeout: Duration,

    /// Open connections (HTTP and sockets) per client address. Connections
    /// from a --trusted-proxy are not counted here.
    #[arg(long, env = "NATTER_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub connections_per_address: u32,

    /// Open sockets per user, over all dialects; the newest over it is
    /// closed with 1008.
    #[arg(long, env = "NATTER_SOCKETS_PER_USER", default_value_t = 32)]
    pub sockets_per_user: u32,

    /// Open connections in all. Unset: the file descriptor limit less 256,
    /// kept for the database, the listener and the log.
    #[arg(long, env = "NATTER_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,

    /// The database may grow to this many bytes; past it writes are refused
    /// with 507 as on a full disk.
    #[arg(long, env = "NATTER_MAX_DATABASE_BYTES", default_value_t = 0)]
    pub max_database_bytes: u64,
}

/// Backups the server makes on its own.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Backups")]
pub struct BackupConfig {
    /// Directory for scheduled backups (natter-<time>.db).
    #[arg(long, env = "NATTER_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// How often to make a backup into --backup-dir; 0 turns scheduled backups off.
    #[arg(long, env = "NATTER_BACKUP_EVERY", default_value = "0", value_parser = parse_grace)]
    pub backup_every: Duration,

    /// How many scheduled backups to keep (the newest); 0 keeps them all.
    #[arg(long, env = "NATTER_BACKUP_KEEP", default_value_t = 7)]
    pub backup_keep: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The AI agent: an OpenAI-compatible chat-completions backend. Without
/// `--ai-url` there is no agent and `is_ai` conversations are refused.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "AI agent")]
pub struct AiConfig {
    /// Base URL of an OpenAI-compatible API (`…/v1`: natter posts to
    /// `{url}/chat/completions`), e.g. http://127.0.0.1:11434/v1 for Ollama.
    #[arg(long, env = "NATTER_AI_URL")]
    pub ai_url: Option<String>,

    /// The model to ask for.
    #[arg(long, env = "NATTER_AI_MODEL", default_value = "default")]
    pub ai_model: String,

    /// API key sent as a Bearer token. Prefer the environment variable or
    /// --ai-key-file: a flag's value is visible to other users in `ps`.
    #[arg(long, env = "NATTER_AI_KEY", hide_env_values = true)]
    pub ai_key: Option<Secret>,

    /// A file holding the API key (its first line).
    #[arg(long, env = "NATTER_AI_KEY_FILE")]
    pub ai_key_file: Option<PathBuf>,

    /// The agent's username (an account that cannot log in).
    #[arg(long, env = "NATTER_AI_USERNAME", default_value = "assistant")]
    pub ai_username: String,

    /// The agent's display name.
    #[arg(long, env = "NATTER_AI_NAME", default_value = "Assistant")]
    pub ai_name: String,

    /// The system prompt sent before the conversation.
    #[arg(
        long,
        env = "NATTER_AI_SYSTEM_PROMPT",
        default_value = "You are a helpful assistant in a chat app. Answer briefly and clearly."
    )]
    pub ai_system_prompt: String,

    /// How many of the conversation's latest messages are sent as context.
    #[arg(long, env = "NATTER_AI_CONTEXT_MESSAGES", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub ai_context_messages: u32,

    /// Longest reply, in tokens (`max_tokens`); 0 leaves it to the backend.
    #[arg(long, env = "NATTER_AI_MAX_TOKENS", default_value_t = 1024)]
    pub ai_max_tokens: u32,

    /// How long the backend may stay silent (before its first token, or
    /// between two) before the reply is given up.
    #[arg(long, env = "NATTER_AI_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub ai_timeout: Duration,

    /// Messages a user may send into AI conversations per minute; 0 turns the limit off.
    #[arg(long, env = "NATTER_AI_REQUESTS_PER_MINUTE", default_value_t = 10)]
    pub ai_requests_per_minute: u32,
}

/// A secret from the command line or the environment: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncMode {
    Full,
    Normal,
}

impl Config {
    /// The defaults with a database path: what tests and tools start from.
    pub fn with_db(db: impl Into<PathBuf>) -> Self {
        let mut config = Config::parse_from(["natter"]);
        config.db = db.into();
        config.listen = "127.0.0.1:0".into();
        config
    }
}

/// `90`, `90s`, `15m`, `1h`, `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 90s, 15m, 1h or 30d"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => return Err(format!("unknown duration unit `{other}`: use s, m, h or d")),
    };
    if secs == 0 {
        return Err("a duration must be at least one second".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Like `parse_duration`, but zero (`0`, `0s`, `0m`, …) is allowed.
fn parse_grace(text: &str) -> Result<Duration, String> {
    if text.trim().trim_end_matches(['s', 'm', 'h', 'd']) == "0" {
        Ok(Duration::ZERO)
    } else {
        parse_duration(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
