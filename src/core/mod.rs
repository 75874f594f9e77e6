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
mod cache;
mod conversations;
pub mod files;
pub mod hub;
pub mod keypair;
mod limits;
mod live;
mod messages;
mod rooms;
mod social;
mod users;
mod validate;

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

pub use auth::{Caller, Registration, Tokens, hash_password};
pub use conversations::{DirectThread, NewConversation, RoomInfo, direct_name};
pub use files::{FileData, Upload};
pub use hub::{ConnId, Ended, Event, EventKind, Hub, Scope, Subscription};
pub use messages::{Attachment, DEFAULT_PAGE, MAX_PAGE, SendRequest, Target};
pub use users::{ProfileUpdate, UserExport, Viewer};

use crate::config::Config;
use crate::db::{Db, InitReport};
use crate::error::Error;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::model::{UserBrief, UserId};
use limits::{Activity, LoginThrottle, SendLimiter};

/// What `is_ai` and sends to an AI conversation are told without an agent.
const NO_AGENT: &str = "AI conversations are not enabled on this server: no AI backend is configured \
                        (start natter with --ai-url, and --ai-model, to enable them)";

/// Sizes and rates the server enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_upload_bytes: usize,
    pub max_body_bytes: usize,
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
        let (db, report) = {
            let path = path.to_owned();
            let sync = config.sync;
            let writer_metrics = metrics.writer.clone();
            tokio::task::spawn_blocking(move || Db::open(&path, sync, writer_metrics))
                .await
                .map_err(crate::error::Error::internal)??
        };
        let auth = auth::Keys::load(&db, config).await?;
        let agent = ai::Agent::start(&config.ai, &db).await?;
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
            },
            sends: SendLimiter::new(config.send_rate, config.send_burst),
            logins: LoginThrottle::default(),
            activity: Activity::default(),
            metrics,
            metrics_elsewhere: config.metrics_listen.is_some(),
            backups: Mutex::default(),
            policy: admin::Policy {
                registration: config.registration,
                members_invite: config.members_invite,
            },
        });
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
            if matches!(e, Error::RateLimited(_)) {
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

    /// Commit what is queued and stop the writer: the last step of a
    /// shutdown. Then the database file is free for `natter restore`.
    pub async fn shutdown(&self) {
        if let Some(task) = self.backups.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        if let Some(agent) = &self.agent {
            agent.shutdown().await;
        }
        self.db.writer().stop().await;
        self.db.unlock();
    }
}
