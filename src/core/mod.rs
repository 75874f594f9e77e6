//! The core: natter's rules, shared by every dialect.
//!
//! `Core` owns the database, the hub and the signing keys. Dialects call its
//! methods with plain values and get model types back; the core checks who
//! may do what, writes through the single writer, and publishes live events
//! after each commit. Nothing here knows about HTTP or any wire format.

pub mod admin;
pub mod ai;
mod auth;
pub mod backup;
pub mod bus;
mod cache;
pub mod changes;
mod conversations;
pub mod files;
pub mod hub;
pub mod keypair;
mod limits;
mod live;
mod mentions;
mod messages;
pub mod push;
mod reactions;
mod rooms;
pub mod search;
pub mod shutdown;
mod social;
mod users;
mod validate;

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

pub use auth::{Caller, Registration, Tokens, hash_password};
pub use conversations::{DirectThread, NewConversation, RoomInfo, direct_name};
pub use files::{FileData, Upload};
pub use hub::{ConnId, Encoded, Ended, Event, EventKind, Hub, Outgoing, Scope, Subscription};
pub use mentions::MentionPage;
pub use messages::{Attachment, DEFAULT_PAGE, MAX_PAGE, SendRequest, Target};
pub use search::{Hit, SearchPage, SearchRequest, Segment};
pub use users::{ProfileUpdate, UserExport, Viewer};

use crate::config::Config;
use crate::db::{Db, InitReport};
use crate::error::Error;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::model::{UserBrief, UserId};
use limits::{Activity, InFlight, LoginThrottle, RateLimiter, SendLimiter, WindowLimit};
use shutdown::{Draining, TaskGuard, Tracker};

/// How long a shutdown waits, once the hub has closed the sockets, for
/// their last frames and close frames (and the answers to the last HTTP
/// requests) to go out.
const FLUSH_GRACE: Duration = Duration::from_secs(3);

/// What `is_ai` and sends to an AI conversation are told without an agent.
const NO_AGENT: &str = "AI conversations are not enabled on this server: no AI backend is configured \
                        (start natter with --ai-url, and --ai-model, to enable them)";

/// Sizes and rates the server enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_upload_bytes: usize,
    pub max_body_bytes: usize,
    /// Different reactions one user may leave on one message; 0: no limit.
    pub max_reactions: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Health {
    pub sockets: usize,
    pub write_jobs: u64,
    pub commits: u64,
}

pub struct Core {
    db: Db,
    cache: Arc<cache::Cache>,
    pub hub: Hub,
    auth: auth::Keys,
    pub limits: Limits,
    sends: SendLimiter,
    logins: LoginThrottle,
    /// Sign-ups per client address per hour.
    signups: WindowLimit<std::net::IpAddr>,
    /// Password hashes running per client address.
    hashes: InFlight<std::net::IpAddr>,
    /// Uploads per user per minute.
    uploads: RateLimiter,
    /// What one client may spend (the flags).
    pub guards: crate::config::GuardConfig,
    activity: Activity,
    /// The AI agent, when a backend is configured.
    pub agent: Option<ai::Agent>,
    /// This core, for work that outlives a call (the agent's replies).
    me: Weak<Core>,
    pub metrics: Arc<Metrics>,
    /// `/metrics` is on its own address (`--metrics-listen`), not the main one.
    pub metrics_elsewhere: bool,
    /// The backup schedule, when there is one; stopped at shutdown.
    backups: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Who may sign up and invite.
    policy: admin::Policy,
    /// HTTP connections being served (counted by the server loop).
    pub connections: Tracker,
    /// Socket tasks, from the upgrade until the TCP connection is let go.
    sockets: Tracker,
    /// Set when a shutdown begins: sockets stop reading.
    draining: Draining,
    /// Web Push: the VAPID key and the queue of pushes to send.
    push: Arc<push::Push>,
    /// The bus to the other nodes (`--bus`), once started.
    bus: std::sync::OnceLock<bus::Bus>,
    /// Presence changes waiting to be announced together.
    presence: live::PresenceBatch,
    newest: Mutex<live::Newest>,
    /// `--presence-max-members`.
    presence_max_members: u32,
    /// Sockets compress frames for clients that offer it (`--ws-deflate`).
    pub ws_deflate: bool,
}

impl Core {
    /// Open the database (creating or migrating it) and build the core.
    pub async fn open(config: &Config) -> Result<(Arc<Core>, InitReport)> {
        let path: &Path = &config.db;
        let metrics = Arc::new(Metrics::new());
        if !config.backup.backup_every.is_zero() && config.backup.backup_dir.is_none() {
            return Err(Error::invalid(
                "--backup-every needs --backup-dir: say where the backups go",
            ));
        }
        if config.bus.is_some() && !crate::db::pg::is_url(path) {
            return Err(Error::invalid(
                "--bus postgres needs --db postgres://…: nodes share one PostgreSQL database (a SQLite file has one node)",
            ));
        }
        if crate::db::pg::is_url(path) && !config.backup.backup_every.is_zero() {
            return Err(Error::invalid(
                "--backup-every makes copies of a SQLite file; this server keeps its data in PostgreSQL: \
                 back it up with pg_dump or PostgreSQL's own backups",
            ));
        }
        let (db, report) = {
            let path = path.to_owned();
            let sync = config.sync;
            let writer_metrics = metrics.writer.clone();
            let wal_limit = config.wal_limit_bytes;
            tokio::task::spawn_blocking(move || Db::open(&path, sync, wal_limit, writer_metrics))
                .await
                .map_err(crate::error::Error::internal)??
        };
        let auth = auth::Keys::load(&db, config).await?;
        let agent = ai::Agent::start(&config.ai, &db).await?;
        let (vapid_key, subscribed) = push::load(&db).await?;
        let (pusher, push_sender, push_queue) = push::Push::new(&config.push, &vapid_key, subscribed, metrics.clone())?;
        let core = Arc::new_cyclic(|me: &Weak<Core>| Core {
            agent: agent.map(|a| a.with_core(me.clone())),
            me: me.clone(),
            db,
            cache: Arc::default(),
            hub: Hub::new(config.socket_queue as usize),
            auth,
            limits: Limits {
                max_message_bytes: config.max_message_bytes,
                max_upload_bytes: config.max_upload_bytes,
                max_body_bytes: config.max_body_bytes,
                max_reactions: i64::from(config.max_reactions),
            },
            sends: SendLimiter::new(config.send_rate, config.send_burst),
            logins: LoginThrottle::new(
                config.guards.login_backoff_after,
                config.guards.login_failures_per_address,
            ),
            signups: {
                let n = config.guards.signups_per_hour;
                WindowLimit::new(n, std::time::Duration::from_secs(3600), move || {
                    format!("too many sign-ups from your address (the limit is {n} an hour)")
                })
            },
            hashes: {
                let n = config.guards.hashes_per_address;
                InFlight::new(n as usize, move || {
                    format!("too many password checks at once from your address (the limit is {n})")
                })
            },
            uploads: {
                let n = config.guards.uploads_per_minute;
                RateLimiter::new(f64::from(n) / 60.0, n, move || {
                    format!("too many uploads (the limit is {n} a minute)")
                })
            },
            guards: config.guards.clone(),
            activity: Activity::default(),
            metrics,
            metrics_elsewhere: config.metrics_listen.is_some(),
            backups: Mutex::default(),
            policy: admin::Policy {
                registration: config.registration,
                members_invite: config.members_invite,
            },
            connections: Tracker::default(),
            sockets: Tracker::default(),
            draining: Draining::default(),
            push: Arc::new(pusher),
            bus: std::sync::OnceLock::new(),
            presence: live::PresenceBatch::default(),
            newest: Mutex::default(),
            presence_max_members: config.presence_max_members,
            ws_deflate: config.ws_deflate,
        });
        if config.bus.is_some() {
            let bus = bus::start(&core).await?;
            let _ = core.bus.set(bus);
        }
        push::run(&core, push_sender, push_queue);
        if let Some(agent) = &core.agent {
            agent.resume(&core).await?;
        }
        if let Some(dir) = &config.backup.backup_dir
            && !config.backup.backup_every.is_zero()
        {
            let task = backup::schedule(
                &core,
                dir.clone(),
                config.backup.backup_every,
                config.backup.backup_keep as usize,
            );
            *core.backups.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        }
        let max_bytes = config.guards.max_database_bytes;
        if max_bytes > 0 {
            // The writer's connection is the one that grows the file; past
            // this size its writes fail as on a full disk (507).
            core.db
                .writer()
                .submit(move |c| crate::db::set_max_bytes(c, max_bytes), |_| {})
                .await?;
        }
        if !config.guards.unattached_upload_ttl.is_zero() {
            sweep_uploads(&core, config.guards.unattached_upload_ttl);
        }
        if !config.change_log_retention.is_zero() {
            changes::prune_now_and_then(&core, config.change_log_retention);
        }
        Ok((core, report))
    }

    /// The agent, or the error `is_ai` gets without one.
    pub fn agent(&self) -> Result<&ai::Agent> {
        self.agent.as_ref().ok_or_else(|| Error::Unavailable(NO_AGENT.into()))
    }

    /// May `me` send to the AI conversation of `members`? (Inside the
    /// send's write: a refused message is not stored.)
    fn admit_to_agent(&self, members: &[Arc<UserBrief>], me: UserId) -> Result<()> {
        let agent = self.agent()?;
        if !members.iter().any(|m| m.id == agent.user.id) {
            return Err(Error::Unavailable(
                "this AI conversation's agent is no longer configured on this server".into(),
            ));
        }
        agent.admit(me).inspect_err(|e| {
            if matches!(e, Error::RateLimited(..)) {
                self.metrics.rate_limited("ai");
            }
        })
    }

    /// Health figures: live sockets, writer jobs and commits so far.
    pub fn health(&self) -> Health {
        let (write_jobs, commits) = self.db.writer().stats();
        Health {
            sockets: self.hub.connection_count(),
            write_jobs,
            commits,
        }
    }

    /// Count a socket's task until the guard is dropped: a shutdown waits
    /// for it to send its last frames and its close frame.
    pub fn track_socket(&self) -> TaskGuard {
        self.sockets.track()
    }

    /// A receiver that turns true when a shutdown begins (sockets stop
    /// reading then; see `begin_shutdown`).
    pub fn draining(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.watch()
    }

    /// The first step of a shutdown: sockets stop reading new frames (they
    /// finish the ones they have read). Nothing they have not read is
    /// stored, so nothing needs an answer; what they have read is.
    pub fn begin_shutdown(&self) {
        self.draining.begin();
    }

    /// The rest of a shutdown, once no new requests come in: commit what is
    /// queued and stop the writer (each commit's answers and live events go
    /// out as usual); then the hub closes every socket, which sends what it
    /// has queued and a close frame (1001), and this waits for them (and
    /// for the HTTP connections still answering) up to `FLUSH_GRACE`; then
    /// the WAL is copied into the database file, so that file alone holds
    /// every commit; then the file is free for `natter restore`.
    pub async fn shutdown(&self) {
        self.begin_shutdown();
        if let Some(task) = self.backups.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        if let Some(agent) = &self.agent {
            agent.shutdown().await;
        }
        self.db.writer().stop().await;
        // Only now: the writer's last commits published their events (the
        // senders' acks among them) into the queues this closes.
        self.hub.close_all();
        let flushed = tokio::time::timeout(FLUSH_GRACE, async {
            tokio::join!(self.sockets.idle(), self.connections.idle());
        })
        .await;
        if flushed.is_err() {
            tracing::warn!(
                sockets = self.sockets.running(),
                connections = self.connections.running(),
                "shutdown: some clients did not take their last frames in time"
            );
        }
        self.db.checkpoint_and_stop().await;
        self.db.unlock();
    }
}

/// Remove never-attached uploads now and then (a tenth of their time to
/// live, at least a second and at most ten minutes), until the core is gone.
fn sweep_uploads(core: &Arc<Core>, ttl: std::time::Duration) {
    let every = (ttl / 10).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(600));
    now_and_then(core, every, "uploads never attached to a message", |core| async move {
        core.sweep_unattached().await
    });
}

/// Run `task` now and every `every` until the core is gone, logging what it
/// removed (`what`) or why it could not.
pub(super) fn now_and_then<F, Fut>(core: &Arc<Core>, every: std::time::Duration, what: &'static str, task: F)
where
    F: Fn(Arc<Core>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<usize>> + Send,
{
    let weak = Arc::downgrade(core);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(core) = weak.upgrade() else { return };
            match task(core).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "removed {what}"),
                Err(e) => tracing::warn!(error = %e, "could not remove {what}"),
            }
        }
    });
}
