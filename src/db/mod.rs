//! Storage: one SQLite file in WAL mode, or a PostgreSQL database
//! (`--db postgres://…`, see `pg`).
//!
//! Reads run on an r2d2 pool of connections inside `spawn_blocking`. Every
//! write goes to one writer thread (see `writer`), which owns this node's
//! only writing connection and commits in batches. The functions in the
//! submodules are plain synchronous SQL over a `Tx` of either engine;
//! nothing above this module writes SQL.

// Column lists as macros, so every SQL string is a compile-time constant:
// no formatting or allocation per query, and a cheap statement-cache lookup.
macro_rules! user_columns {
    () => {
        "u.number, u.id, u.username, u.email, u.name, u.first_name, u.last_name, u.bio, u.profile_picture, \
         u.public_key, u.ready_to_chat, u.created_at, u.last_seen_at, u.is_bot, u.role, u.deactivated_at"
    };
}
/// The columns `users::brief_from_row` reads.
macro_rules! brief_columns {
    () => {
        "u.number, u.id, u.username, u.email, u.name, u.first_name, u.last_name, u.profile_picture, u.is_bot"
    };
}
/// `IN (…)` over a JSON array of ids bound as `?1` (`messages::id_list`):
/// one statement for any number of ids. PostgreSQL's json_each() takes
/// objects only, so there the same JSON text is read as an array.
macro_rules! in_id_list {
    (sqlite) => {
        "IN (SELECT value FROM json_each(?1))"
    };
    (postgres) => {
        "IN (SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST(CAST(?1 AS text) AS json)))"
    };
}
macro_rules! conversation_columns {
    () => {
        "c.number, c.id, c.kind, c.name, c.created_by, c.created_at"
    };
}

pub mod admin;
pub mod archive;
pub mod backup;
pub mod changes;
pub mod conversations;
pub mod files;
pub mod indexer;
pub mod lock;
pub mod mentions;
pub mod messages;
pub mod pg;
pub mod push;
pub mod reactions;
pub mod search;
pub mod sessions;
pub mod social;
mod tx;
pub mod users;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::config::SyncMode;
use crate::error::{Error, Result};
use crate::metrics::WriterMetrics;
use lock::DbLock;
pub(crate) use tx::params;
pub use tx::{Column, Optional, PgConn, Row, SqlError, SqlResult, Tx, Value};
use writer::Conn;
pub use writer::Writer;

/// The migrations, in order; `PRAGMA user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_ai_agent.sql"),
    include_str!("../../migrations/0003_admin.sql"),
    include_str!("../../migrations/0004_changes.sql"),
    include_str!("../../migrations/0005_search.sql"),
    include_str!("../../migrations/0006_reactions.sql"),
    include_str!("../../migrations/0007_mentions.sql"),
    include_str!("../../migrations/0008_search_at_commit.sql"),
    include_str!("../../migrations/0009_push.sql"),
    include_str!("../../migrations/0010_changes_by_conversation.sql"),
];
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const JWT_SECRET_KEY: &str = "jwt_secret";

/// What `init` found and did, for `--init-db` to print.
#[derive(Debug, Default)]
pub struct InitReport {
    pub created_file: bool,
    pub from_version: i64,
    pub to_version: i64,
    pub created_secret: bool,
    pub created_vapid_key: bool,
}

impl InitReport {
    pub fn lines(&self, path: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let p = pg::display(path);
        if self.created_file {
            out.push(format!("created database {p}"));
        }
        if self.from_version == self.to_version {
            out.push(format!(
                "database {p} is at schema version {} (up to date)",
                self.to_version
            ));
        } else {
            out.push(format!(
                "migrated database {p} from schema version {} to {}",
                self.from_version, self.to_version
            ));
        }
        if self.created_secret {
            out.push("created a new JWT signing secret".into());
        } else {
            out.push("kept the existing JWT signing secret".into());
        }
        if self.created_vapid_key {
            out.push("created a VAPID key pair for Web Push".into());
        }
        out
    }
}

fn apply_pragmas(conn: &Connection, sync: SyncMode) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // Room for every statement natter prepares, so none is re-prepared.
    conn.set_prepared_statement_cache_capacity(128);
    conn.execute_batch(match sync {
        SyncMode::Full => "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
        SyncMode::Normal => "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
    })
}

/// Create or migrate the database at `path` (a file, or a `postgres://`
/// URL) and make sure it has its secrets.
pub fn init(path: &Path) -> Result<InitReport> {
    if pg::is_url(path) {
        return pg::init(path);
    }
    let mut report = InitReport {
        created_file: !path.exists(),
        ..Default::default()
    };
    let mut conn =
        Connection::open(path).map_err(|e| Error::Internal(format!("cannot open database {}: {e}", path.display())))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!(
            "could not switch {} to WAL (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Internal(format!(
            "database {} has schema version {version}, newer than this natter ({SCHEMA_VERSION}); \
             upgrade natter",
            path.display()
        )));
    }
    report.from_version = version;
    report.to_version = SCHEMA_VERSION;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    report.created_secret = ensure_jwt_secret(&Tx::sqlite(&tx))?;
    // Whatever an older version, or a write outside the writer, left queued.
    search::index_queued(&Tx::sqlite(&tx))?;
    report.created_vapid_key = push::ensure_vapid_key(&Tx::sqlite(&tx))?;
    tx.commit()?;
    Ok(report)
}

/// Store `make()` in `meta` under `key` unless something is there (a
/// secret made once and kept); true if it was made now.
pub(crate) fn ensure_meta(c: &Tx<'_>, key: &str, make: impl FnOnce() -> Vec<u8>) -> Result<bool> {
    let has: Option<i64> = c
        .query_row("SELECT CAST(1 AS bigint) FROM meta WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()?;
    if has.is_some() {
        return Ok(false);
    }
    c.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![key, make()])?;
    Ok(true)
}

/// The JWT signing secret, made if there is none; true if it was made.
fn ensure_jwt_secret(c: &Tx<'_>) -> Result<bool> {
    ensure_meta(c, JWT_SECRET_KEY, || rand::random::<[u8; 32]>().to_vec())
}

/// Run `f` in one transaction on the database at `path` (a file or a
/// URL), outside a server: `natter admin`. On a file, the server may be
/// running (SQLite keeps the two apart); on PostgreSQL, any number may.
pub fn offline<T>(path: &Path, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
    if pg::is_url(path) {
        init(path)?;
        return pg::transaction(path, |c| f(&Tx::postgres(c)));
    }
    if !path.exists() {
        return Err(Error::invalid(format!(
            "{} does not exist: start natter once (or run --init-db) first",
            path.display()
        )));
    }
    init(path)?;
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    let t = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let out = f(&Tx::sqlite(&t))?;
    t.commit()?;
    Ok(out)
}

/// The open database: a pool for reads, a writer for writes.
pub struct Db {
    store: Store,
    writer: Writer,
}

/// What each engine keeps beside the writer.
enum Store {
    Sqlite {
        path: PathBuf,
        pool: r2d2::Pool<SqliteConnectionManager>,
        checkpointer: Checkpointer,
        indexer: indexer::Indexer,
        /// Held while serving (see `lock`); let go at shutdown.
        lock: Mutex<Option<DbLock>>,
    },
    /// No lock, checkpoints or indexer: other nodes share the database,
    /// PostgreSQL keeps its own log, and its search indexes are written by
    /// the statements that change a message.
    Postgres {
        pool: pg::Pool,
        /// `--db`, for the connections the bus opens.
        url: PathBuf,
        /// This process among the nodes sharing the database.
        node: uuid::Uuid,
    },
}

impl Db {
    /// Open the database at `path` (creating or migrating as needed) and
    /// start the writer thread: a file (its lock taken first) or a
    /// `postgres://` URL. `wal_limit` is `--wal-limit-bytes` (0: no limit;
    /// SQLite's alone, as is `sync`: PostgreSQL's commits are durable by
    /// its own `synchronous_commit`).
    pub fn open(path: &Path, sync: SyncMode, wal_limit: u64, metrics: WriterMetrics) -> Result<(Db, InitReport)> {
        if pg::is_url(path) {
            return Self::open_postgres(path, metrics);
        }
        let lock = DbLock::acquire(path)?;
        let report = init(path)?;
        // Readers map the file: pages are read in place, not copied in by pread.
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(move |c| {
                apply_pragmas(c, sync)?;
                c.execute_batch("PRAGMA mmap_size = 1073741824;")
            });
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| Error::Internal(format!("cannot open read pool: {e}")))?;
        let conn = Connection::open(path)?;
        apply_pragmas(&conn, sync)?;
        // Checkpoints copy the WAL into the database and fsync it: tens of
        // milliseconds that would land on whichever commit crossed the
        // threshold. A thread of its own does them instead (see `checkpoints`).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        // The writer is who starts the WAL over after a checkpoint, and
        // SQLite cuts the file back to this limit when it does.
        conn.pragma_update(None, "journal_size_limit", journal_size_limit(wal_limit))?;
        let writer = Writer::start(Conn::Sqlite(conn), metrics)?;
        let checkpointer = checkpoints(path, sync, wal_limit, writer.shared_stats())?;
        let indexer = indexer::Indexer::start(path, sync, wal_limit, writer.shared_stats())?;
        Ok((
            Db {
                store: Store::Sqlite {
                    path: path.to_owned(),
                    pool,
                    checkpointer,
                    indexer,
                    lock: Mutex::new(Some(lock)),
                },
                writer,
            },
            report,
        ))
    }

    fn open_postgres(url: &Path, metrics: WriterMetrics) -> Result<(Db, InitReport)> {
        let report = pg::init(url)?;
        let config = pg::config(url)?;
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .build(pg::Manager { config: config.clone() })
            .map(pg::Pool::new)
            .map_err(|e| {
                Error::Unavailable(format!(
                    "cannot open the PostgreSQL read pool for {}: {e}",
                    pg::display(url)
                ))
            })?;
        let node = uuid::Uuid::new_v4();
        let config = pg::tagged(&config, node);
        let conn = std::cell::RefCell::new(pg::connect(&config, url)?);
        let writer = Writer::start(Conn::Postgres { conn, config }, metrics)?;
        Ok((
            Db {
                store: Store::Postgres {
                    pool,
                    url: url.to_owned(),
                    node,
                },
                writer,
            },
            report,
        ))
    }

    /// On PostgreSQL: `--db` and this node's id among those sharing it.
    pub fn postgres(&self) -> Option<(&Path, uuid::Uuid)> {
        match &self.store {
            Store::Sqlite { .. } => None,
            Store::Postgres { url, node, .. } => Some((url, *node)),
        }
    }

    /// The database file; `None` on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        match &self.store {
            Store::Sqlite { path, .. } => Some(path),
            Store::Postgres { .. } => None,
        }
    }

    /// How many bytes the database takes: the file (not its WAL), or what
    /// PostgreSQL says the database's size is.
    pub async fn size(&self) -> Result<u64> {
        match &self.store {
            Store::Sqlite { path, .. } => Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)),
            Store::Postgres { .. } => {
                let n: i64 = self
                    .read(|c| Ok(c.query_row("SELECT pg_database_size(current_database())", params![], |r| r.get(0))?))
                    .await?;
                Ok(n.max(0) as u64)
            }
        }
    }

    /// The last step before letting go of the file: copy the whole WAL
    /// into the database and empty it, and wait for that, so the database
    /// file alone holds every commit. Call it once the writer has stopped.
    /// (Nothing to do on PostgreSQL: a commit there is whole.)
    pub async fn checkpoint_and_stop(&self) {
        if let Store::Sqlite {
            checkpointer, indexer, ..
        } = &self.store
        {
            // What the writer queued last is indexed first: the file is whole.
            indexer.finish().await;
            checkpointer.finish().await;
        }
    }

    /// Wait (up to `indexer::CATCH_UP`) until what was queued for the
    /// search index when this was called is indexed: a search then finds
    /// every message committed before it began. (PostgreSQL indexes in the
    /// transaction that changes a message: nothing to wait for.)
    pub async fn search_caught_up(&self) -> Result<()> {
        let Store::Sqlite { indexer, .. } = &self.store else {
            return Ok(());
        };
        let Some(upto) = self.read(indexer::queued_upto).await? else {
            return Ok(());
        };
        indexer.poke();
        let deadline = Instant::now() + indexer::CATCH_UP;
        while !self.read(move |c| indexer::indexed_upto(c, upto)).await? && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Let go of the file's lock: the server is done with it.
    pub fn unlock(&self) {
        if let Store::Sqlite { lock, .. } = &self.store {
            lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }

    /// Run a read on a pooled connection, off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let task = match &self.store {
            Store::Sqlite { pool, .. } => {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || {
                    let conn = pool.get()?;
                    // One read transaction for all of `f`'s statements: one
                    // snapshot, and the file and WAL locks taken once. Left
                    // to autocommit, each statement takes and drops them
                    // (four fcntl calls), a quarter of a history page's CPU.
                    conn.execute_batch("BEGIN")?;
                    let out = f(&Tx::sqlite(&conn));
                    // A read has nothing to commit; COMMIT only ends it. If
                    // even that fails, roll back so the pooled connection is
                    // not handed on inside a transaction.
                    if conn.execute_batch("COMMIT").is_err() && !conn.is_autocommit() {
                        conn.execute_batch("ROLLBACK")?;
                    }
                    out
                })
            }
            Store::Postgres { pool, .. } => {
                let pool = pool.get().clone();
                tokio::task::spawn_blocking(move || {
                    let conn = pool
                        .get()
                        .map_err(|e| Error::Unavailable(format!("no connection to the database: {e}")))?;
                    f(&Tx::postgres(&conn))
                })
            }
        };
        task.await
            .map_err(|e| Error::Internal(format!("read task failed: {e}")))?
    }

    /// The writer: all writes go through it.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The JWT secret created by `init`.
    pub async fn jwt_secret(&self) -> Result<Vec<u8>> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", params![JWT_SECRET_KEY], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }
}

/// How often the checkpoint thread looks at the WAL's size (a `stat`).
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How often it copies the WAL into the database while writes go on.
const PASSIVE_EVERY: Duration = Duration::from_secs(1);
/// No commit for this long counts as a pause in writing: the WAL is then
/// emptied (TRUNCATE), so between bursts `natter.db` alone is complete and
/// the `-wal` file takes no room.
const IDLE_BEFORE_TRUNCATE: Duration = Duration::from_secs(2);
/// How long emptying the WAL while serving may wait for readers. The
/// writer is held up while it waits, so it gives up quickly, and after
/// giving up it is not tried again for `PASSIVE_EVERY` (a long reader, such
/// as a backup, costs writers about 1% of their time).
const EMPTY_PATIENCE: Duration = Duration::from_millis(10);
/// How often, while it waits, it looks whether the readers have gone.
/// SQLite's own busy handler sleeps 1, 2, 5, 10… ms between looks, and
/// every one of those the writer would wait too.
const EMPTY_POLL: Duration = Duration::from_micros(100);
/// How long the last checkpoint, at shutdown, may wait for readers.
const FINAL_PATIENCE: Duration = Duration::from_secs(5);

/// The checkpoint thread's handle: `finish` runs the last checkpoint and
/// waits for it. Dropping it without `finish` still ends the thread (with
/// the same last checkpoint, unwaited).
struct Checkpointer {
    tx: mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
}

impl Checkpointer {
    /// Copy the whole WAL into the database, empty it and stop the thread;
    /// resolves when that is done (at once if the thread has already stopped).
    async fn finish(&self) {
        let (done, finished) = tokio::sync::oneshot::channel();
        if self.tx.send(done).is_ok() {
            let _ = finished.await;
        }
    }
}

/// SQLite's `journal_size_limit` for `--wal-limit-bytes` (whose 0 means no
/// limit; SQLite's 0 would mean "as small as possible", its -1 no limit).
fn journal_size_limit(limit: u64) -> i64 {
    if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

/// The size of `db`'s write-ahead log file (0 if there is none).
fn wal_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// Copy the WAL back into the database every second, off the writer's path.
/// Passive checkpoints never block the writer or readers, but under steady
/// writes they never catch up with the end of the WAL, so SQLite never
/// starts it over and the file only grows. So whenever the file is over
/// `wal_limit`, and whenever writes pause (`IDLE_BEFORE_TRUNCATE` without a
/// commit), the WAL is emptied (`empty`), giving up quickly if readers are
/// in the way. The thread runs until `Checkpointer::finish` (or until the
/// handle is dropped), then checkpoints with TRUNCATE one last time.
fn checkpoints(path: &Path, sync: SyncMode, wal_limit: u64, stats: Arc<writer::Stats>) -> Result<Checkpointer> {
    let conn = Connection::open(path)?;
    apply_pragmas(&conn, sync)?;
    conn.pragma_update(None, "journal_size_limit", journal_size_limit(wal_limit))?;
    let path = path.to_owned();
    let (tx, rx) = mpsc::channel::<tokio::sync::oneshot::Sender<()>>();
    std::thread::Builder::new()
        .name("natter-checkpoint".into())
        .spawn(move || {
            let mut commits = stats.commits.load(Ordering::Relaxed);
            let mut last_commit = Instant::now();
            let mut last_passive = Instant::now();
            // Not before this may a TRUNCATE be tried (one gave up).
            let mut truncate_after = Instant::now();
            loop {
                let done = match rx.recv_timeout(LOOK_EVERY) {
                    Err(RecvTimeoutError::Timeout) => None,
                    Ok(done) => Some(Some(done)),
                    Err(RecvTimeoutError::Disconnected) => Some(None),
                };
                if let Some(done) = done {
                    match checkpoint(&conn, "TRUNCATE", FINAL_PATIENCE) {
                        Ok(true) => tracing::debug!("last checkpoint: the database file is complete"),
                        Ok(false) => tracing::warn!(
                            "last checkpoint: readers kept part of the WAL from being copied; \
                             keep the -wal file with the database"
                        ),
                        Err(e) => tracing::warn!(error = %e, "last checkpoint failed"),
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
                let now = Instant::now();
                let seen = stats.commits.load(Ordering::Relaxed);
                if seen != commits {
                    commits = seen;
                    last_commit = now;
                }
                let size = wal_size(&path);
                let idle = now.duration_since(last_commit) >= IDLE_BEFORE_TRUNCATE;
                let over = wal_limit > 0 && size > wal_limit;
                let result = if size > 0 && (idle || over) && now >= truncate_after {
                    last_passive = now;
                    empty(&conn, &stats.gate, idle).inspect(|&emptied| {
                        if !emptied {
                            tracing::debug!(
                                wal_bytes = size,
                                "readers kept the WAL from being emptied; trying later"
                            );
                            truncate_after = now + PASSIVE_EVERY;
                        }
                    })
                } else if now.duration_since(last_passive) >= PASSIVE_EVERY {
                    last_passive = now;
                    checkpoint(&conn, "PASSIVE", FINAL_PATIENCE)
                } else {
                    Ok(true)
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "checkpoint failed");
                }
            }
        })
        .map_err(|e| Error::Internal(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(Checkpointer { tx })
}

/// Copy the whole WAL into the database and start it over; true if done.
/// Writers are kept out only for the end of it: a PASSIVE checkpoint first
/// copies what the WAL holds beside them, then, behind the writers' gate,
/// the frames written meanwhile are copied and the checkpoint waits for
/// readers to leave the WAL. While writes go on it starts the log over in
/// place (RESTART): the next commit writes from its start, and SQLite cuts
/// the file back to `journal_size_limit` then. TRUNCATE, which empties the
/// file and makes the next commits grow it again (an fsync that grows a
/// file also writes its metadata), is kept for when writes have paused.
fn empty(conn: &Connection, gate: &std::sync::Mutex<()>, paused: bool) -> rusqlite::Result<bool> {
    let started = Instant::now();
    checkpoint(conn, "PASSIVE", FINAL_PATIENCE)?;
    let beside = started.elapsed();
    let _gate = gate.lock().unwrap_or_else(|e| e.into_inner());
    let gated = Instant::now();
    conn.busy_handler(Some(wait_for_readers))?;
    let mode = if paused { "TRUNCATE" } else { "RESTART" };
    let emptied = run_checkpoint(conn, mode)?;
    tracing::debug!(
        mode,
        passive_ms = beside.as_secs_f64() * 1e3,
        writers_held_ms = gated.elapsed().as_secs_f64() * 1e3,
        emptied,
        "WAL checkpoint"
    );
    Ok(emptied)
}

/// `empty`'s busy handler: look again every `EMPTY_POLL`, as many times as
/// fit in `EMPTY_PATIENCE` (`tries` is how many times it has been called
/// before); each sleep overshoots a little, so the wait can be longer.
fn wait_for_readers(tries: i32) -> bool {
    let most = (EMPTY_PATIENCE.as_micros() / EMPTY_POLL.as_micros()) as i32;
    if tries >= most {
        return false;
    }
    std::thread::sleep(EMPTY_POLL);
    true
}

/// Run `PRAGMA wal_checkpoint(mode)`, waiting up to `patience` for readers
/// and the writer; true if the whole WAL was copied into the database.
fn checkpoint(conn: &Connection, mode: &str, patience: Duration) -> rusqlite::Result<bool> {
    conn.busy_timeout(patience)?;
    run_checkpoint(conn, mode)
}

/// Run `PRAGMA wal_checkpoint(mode)` with the connection's busy handling
/// as it is; true if the whole WAL was copied into the database.
fn run_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<bool> {
    // One row: busy (1 if it could not finish), frames in the WAL, frames copied.
    let (busy, log, copied): (i64, i64, i64) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(busy == 0 && log == copied)
}

/// Let the database grow to about `bytes` on this connection
/// (`max_page_count`); it never shrinks below what it already holds.
pub fn set_max_bytes(c: &Tx<'_>, bytes: u64) -> Result<()> {
    let Some(c) = c.as_sqlite() else {
        return Err(Error::Invalid(
            "--max-database-bytes caps a SQLite file; PostgreSQL's own quotas do that there".into(),
        ));
    };
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = (bytes / page.max(512) as u64).max(1) as i64;
    c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
    Ok(())
}

/// `LIKE` pattern for a user-supplied search text, with its wildcards escaped.
pub(crate) fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// Run a cached query and collect its rows.
pub(crate) fn collect<T, F>(c: &Tx<'_>, sql: &str, params: &[&dyn Value], f: F) -> Result<Vec<T>>
where
    F: FnMut(&Row<'_>) -> SqlResult<T>,
{
    Ok(c.prepare_cached(sql)?.query_map(params, f)?)
}
