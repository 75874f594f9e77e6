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
//! without an fsync of their own: the index is derived data, and the next
//! commit of the writer (which does fsync) makes them durable with it; a
//! chunk lost with the power comes back with its queue rows.
//!
//! A search first waits (up to `CATCH_UP`) until what was queued when it
//! began is indexed, so a sender finds the message they just sent.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

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
    pub(super) fn start(path: &Path, sync: SyncMode, stats: Arc<Stats>) -> Result<Indexer> {
        let conn = Connection::open(path)?;
        super::apply_pragmas(&conn, sync)?;
        // See the module's comment: the writer's next fsync covers these.
        conn.execute_batch("PRAGMA synchronous = OFF;")?;
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
        // Pokes that piled up while working are one.
        while let Ok(Msg::Poke) = rx.try_recv() {}
        let done = index_all(conn);
        if done.is_ok() {
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

/// Index chunks until the queue is empty.
fn index_all(conn: &Connection) -> rusqlite::Result<()> {
    while index_chunk(conn)? == CHUNK as usize {}
    Ok(())
}

/// Index the oldest `CHUNK` queued messages; how many were taken.
fn index_chunk(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        // The same ids three times: nothing else writes inside this transaction.
        for sql in [
            "INSERT INTO messages_words (rowid, body)
             SELECT m.id, m.body FROM messages m
              WHERE m.id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)
                AND NOT m.deleted AND m.body != ''",
            // Two trailing spaces: see migration 0005.
            "INSERT INTO messages_trigrams (rowid, body)
             SELECT m.id, m.body || '  ' FROM messages m
              WHERE m.id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)
                AND NOT m.deleted AND m.body != ''",
        ] {
            conn.prepare_cached(sql)?.execute(params![CHUNK])?;
        }
        conn.prepare_cached("DELETE FROM search_queue WHERE id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)")?
            .execute(params![CHUNK])
    })();
    match result {
        Ok(n) => {
            conn.execute_batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The newest id queued now, if any: what a search waits to see indexed.
pub fn queued_upto(c: &Connection) -> Result<Option<i64>> {
    Ok(c.prepare_cached("SELECT MAX(id) FROM search_queue")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

/// Whether every id up to `upto` has left the queue (been indexed).
pub fn indexed_upto(c: &Connection, upto: i64) -> Result<bool> {
    Ok(!c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM search_queue WHERE id <= ?1)")?
        .query_row([upto], |r| r.get::<_, bool>(0))?)
}
