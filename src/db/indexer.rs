//! The search indexer: a thread of its own that moves what the writer
//! queued (migration 0008's `search_queue`) into the FTS5 indexes.
//!
//! Indexing a message's text costs ~65–100 µs of CPU (nearly all of it the
//! trigram index), 5–10 times what storing the message costs. Done in the
//! writer's transaction it capped the writer at ~5,500 messages a second and
//! cut the fan-out figures by 60% and more (docs/PERFORMANCE.md). Here it
//! runs beside the writer, at a lower CPU priority, in small transactions,
//! once the writer has been quiet for `QUIET` (or `MAX_LAG` after the first
//! unindexed commit): a burst of sends is stored and delivered at full
//! speed and indexed right after, and on a quiet server a message is
//! searchable within ~100 ms.
//!
//! Each chunk indexes the oldest queued ids and takes them off the queue in
//! one transaction, so a crash loses nothing: what was not indexed is still
//! queued, and is indexed on the next start. The chunks are committed
//! without an fsync of their own (`synchronous = NORMAL`): the index is
//! derived data, and the writer's next commit (which does fsync the WAL)
//! makes them durable with it; a chunk lost with the power comes back with
//! its queue rows. Between chunks the indexer lets the writer go first
//! whenever it is waiting for the write lock.
//!
//! A search first waits (up to `CATCH_UP`) until what was queued when it
//! began is indexed, so a sender finds the message they just sent.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{Optional, SqlResult, params};

use super::writer::Stats;
use crate::config::SyncMode;
use crate::error::{Error, Result};

/// Messages indexed per transaction: small, so the write lock is held for
/// ~1–2 ms and a send waiting behind a chunk waits about that long.
const CHUNK: i64 = 24;
/// How often the thread looks for new commits of the writer when nobody
/// wakes it (a counter read; SQL only when there is work).
const LOOK_EVERY: Duration = Duration::from_millis(20);
/// Indexing waits until the writer has committed nothing for this long:
/// a burst of sends is stored and delivered first, with the CPU to itself
/// (on a small machine the index's CPU is what the fan-out would lose).
const QUIET: Duration = Duration::from_millis(100);
/// ... but never longer than this behind the first unindexed commit, so a
/// server that never goes quiet still keeps its index close.
const MAX_LAG: Duration = Duration::from_secs(10);
/// How long a search waits for the index to catch up before it answers
/// from what is indexed.
pub const CATCH_UP: Duration = Duration::from_secs(2);
/// After a failure (a full disk, a lock held elsewhere), wait this long.
const BACK_OFF: Duration = Duration::from_secs(1);
/// How long the stop may index what is left.
const STOP_BUDGET: Duration = Duration::from_millis(500);
/// Niceness of the thread (Linux): below the server's other threads, so
/// indexing takes the CPU they leave.
const NICENESS: i32 = 10;

enum Msg {
    /// Something may be queued: index it now.
    Poke,
    /// Index everything left, then stop.
    Stop(tokio::sync::oneshot::Sender<()>),
}

pub struct Indexer {
    tx: mpsc::Sender<Msg>,
}

impl Indexer {
    pub(super) fn start(path: &Path, sync: SyncMode, wal_limit: u64, stats: Arc<Stats>) -> Result<Indexer> {
        let conn = Connection::open(path)?;
        super::apply_pragmas(&conn, sync)?;
        // NORMAL: in WAL mode a commit is not fsynced (see the module's
        // comment), but a checkpoint is. No automatic checkpoints from this
        // connection (the checkpointer does them, as for the writer), and
        // the same WAL size limit as the writer's.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")?;
        conn.pragma_update(None, "journal_size_limit", super::journal_size_limit(wal_limit))?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("natter-index".into())
            .spawn(move || run(&conn, &rx, &stats))
            .map_err(|e| Error::Internal(format!("cannot start the search indexer: {e}")))?;
        Ok(Indexer { tx })
    }

    /// Index what is queued now rather than at the next look.
    pub fn poke(&self) {
        let _ = self.tx.send(Msg::Poke);
    }

    /// Index everything still queued and stop the thread.
    pub(super) async fn finish(&self) {
        let (done, finished) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Stop(done)).is_ok() {
            let _ = finished.await;
        }
    }
}

fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id; no memory is involved.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICENESS);
    }
}

fn run(conn: &Connection, rx: &mpsc::Receiver<Msg>, stats: &Stats) {
    lower_priority();
    // Whatever a previous run left is work from the start.
    let mut seen = u64::MAX;
    let mut last_commit = Instant::now();
    let mut pending_since: Option<Instant> = None;
    let mut last_warning: Option<Instant> = None;
    loop {
        // A search waiting (a poke) or the stop: index now.
        let (stop, now) = match rx.recv_timeout(LOOK_EVERY) {
            Ok(Msg::Poke) => (None, true),
            Ok(Msg::Stop(ack)) => (Some(Some(ack)), true),
            Err(RecvTimeoutError::Timeout) => (None, false),
            Err(RecvTimeoutError::Disconnected) => (Some(None), true),
        };
        let commits = stats.commits.load(Ordering::Relaxed);
        if commits != seen {
            seen = commits;
            last_commit = Instant::now();
            pending_since.get_or_insert(last_commit);
        }
        let due = pending_since.is_some_and(|p| last_commit.elapsed() >= QUIET || p.elapsed() >= MAX_LAG);
        if !now && !due {
            continue;
        }
        // Pokes that piled up while working are one (a stop among them is kept).
        let mut stop = stop;
        while let Ok(msg) = rx.try_recv() {
            if let Msg::Stop(ack) = msg {
                stop = Some(Some(ack));
            }
        }
        // At the stop, a short while only: what is left is indexed at the
        // next start (`db::init`), and a stop must not wait on a backlog.
        let budget = if stop.is_some() { Some(STOP_BUDGET) } else { None };
        let done = index_all(conn, stats, budget);
        if let Ok(true) = done {
            pending_since = None;
        }
        if let Err(e) = done {
            if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(error = %e, "search indexing failed; it is tried again");
                last_warning = Some(Instant::now());
            }
            if stop.is_none() {
                std::thread::sleep(BACK_OFF);
            }
        }
        if let Some(ack) = stop {
            if let Some(ack) = ack {
                let _ = ack.send(());
            }
            return;
        }
    }
}

/// Index chunks until the queue is empty (true), or the writer wants the
/// lock or `budget` is spent (false: the writer goes first; the rest waits
/// for the next quiet spell, or the next start).
fn index_all(conn: &Connection, stats: &Stats, budget: Option<Duration>) -> SqlResult<bool> {
    let started = Instant::now();
    while index_chunk(conn, stats)? == CHUNK as usize {
        let spent = budget.is_some_and(|b| started.elapsed() >= b);
        if spent || (budget.is_none() && stats.wants_lock.load(Ordering::Relaxed)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Index the oldest `CHUNK` queued messages; how many were taken.
fn index_chunk(conn: &Connection, stats: &Stats) -> SqlResult<usize> {
    let _gate = stats.gate.lock().unwrap_or_else(|e| e.into_inner());
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = super::search::index_oldest(&super::Tx::sqlite(conn), CHUNK);
    // A failed COMMIT may leave the transaction open (and the write lock
    // held): roll it back, as for a failed statement.
    match result.and_then(|n| Ok(conn.execute_batch("COMMIT").map(|()| n)?)) {
        Ok(n) => Ok(n),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(e)
        }
    }
}

/// The newest id queued now, if any: what a search waits to see indexed.
pub fn queued_upto(c: &super::Tx<'_>) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT MAX(id) FROM search_queue")?
        .query_row(params![], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

/// Whether every id up to `upto` has left the queue (been indexed).
pub fn indexed_upto(c: &super::Tx<'_>, upto: i64) -> Result<bool> {
    Ok(!c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM search_queue WHERE id <= ?1)")?
        .query_row(params![upto], |r| r.get::<_, bool>(0))?)
}
