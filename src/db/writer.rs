//! The single writer: one thread, one connection, group commit.
//!
//! Writes arrive as jobs over a channel in the order they were submitted. The
//! thread opens a transaction (IMMEDIATE on SQLite: the file's write lock is
//! taken at once), runs every job that is waiting (each
//! in its own savepoint, so one failing job does not undo the others), commits
//! once, and only then completes the jobs, in order: each job's
//! `after_commit` runs (the core publishes live events there) and its caller
//! is answered (a send's caller first, then its fan-out:
//! `submit_answer_first`). A hundred concurrent sends therefore cost one
//! fsync, not a hundred, and nobody hears of a write before it is durable.

use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{PgConn, SqlError, SqlResult, Tx};
use crate::error::{Error, Result};
use crate::metrics::WriterMetrics;

/// Most jobs in one transaction: bounds how long the first caller waits.
const MAX_BATCH: usize = 512;

/// Runs after the batch's commit; gets the commit error, if any.
type Completion = Box<dyn FnOnce(Option<&SqlError>) + Send>;
/// Runs inside the transaction, or gets the error that kept the
/// transaction from starting; says whether it succeeded (else its
/// savepoint is undone).
type Job = Box<dyn FnOnce(Result<&Tx<'_>, &SqlError>) -> (bool, Completion) + Send>;

/// A failed commit as the caller sees it: a full disk and a lock held by
/// another program are said as such (507, 503), a database out of reach is
/// 503, anything else is internal.
fn commit_failed(e: &SqlError) -> Error {
    match e {
        SqlError::Sqlite(e) => Error::storage(e).unwrap_or_else(|| Error::Internal(format!("commit failed: {e}"))),
        SqlError::Postgres(e) => Error::from_postgres(e),
        e => Error::Internal(format!("commit failed: {e}")),
    }
}

/// The writer's connection, of either engine. (One per server: its size
/// does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Conn {
    Sqlite(Connection),
    /// With what it takes to connect again: a PostgreSQL connection can
    /// be lost (a restart, a network fault) and the writer outlives it.
    Postgres {
        conn: RefCell<PgConn>,
        config: postgres::Config,
    },
}

impl Conn {
    fn begin(&mut self) -> SqlResult<()> {
        match self {
            Conn::Sqlite(c) => exec(c, "BEGIN IMMEDIATE"),
            Conn::Postgres { conn, config } => {
                match conn.get_mut().batch("BEGIN") {
                    // The client learns that its connection is gone only by
                    // using it (a server restart, a network fault): connect
                    // again once, so the first batch after it is served.
                    Err(SqlError::Postgres(e)) if e.code().is_none() => {
                        tracing::warn!(error = %e, "the writer's PostgreSQL connection was lost; connecting again");
                        *conn.get_mut() = PgConn::new(config.connect(postgres::NoTls)?);
                        conn.get_mut().batch("BEGIN")
                    }
                    other => other,
                }
            }
        }
    }

    fn exec(&self, sql: &str) -> SqlResult<()> {
        match self {
            Conn::Sqlite(c) => exec(c, sql),
            Conn::Postgres { conn, .. } => conn.borrow_mut().batch(sql),
        }
    }

    /// Is the batch's transaction still open? SQLite rolls it all back on
    /// some faults (a full disk among them); PostgreSQL keeps it until
    /// ROLLBACK unless the connection is gone.
    fn in_transaction(&self) -> bool {
        match self {
            Conn::Sqlite(c) => !c.is_autocommit(),
            Conn::Postgres { conn, .. } => !conn.borrow().client.is_closed(),
        }
    }

    fn tx(&self) -> Tx<'_> {
        match self {
            Conn::Sqlite(c) => Tx::sqlite(c),
            Conn::Postgres { conn, .. } => Tx::postgres(conn),
        }
    }
}

enum Msg {
    Job(Job),
    Stop(oneshot::Sender<()>),
}

pub struct Writer {
    tx: mpsc::Sender<Msg>,
    stats: Arc<Stats>,
}

/// Counters: how many jobs ran and in how many commits.
#[derive(Debug, Default)]
pub struct Stats {
    pub jobs: AtomicU64,
    pub commits: AtomicU64,
    /// The writer is waiting for the write lock: the search indexer lets
    /// it have it after its current chunk.
    pub wants_lock: AtomicBool,
    /// Held by whichever of the writer and the search indexer has a write
    /// transaction open on the SQLite file. SQLite's own lock is not waited
    /// for but polled: its busy handler sleeps 1, 2, 5, 10… ms between
    /// tries, so a commit that met an indexing chunk waited up to ~8 ms
    /// for a lock freed after 1–2. This lock hands over at once.
    pub gate: Mutex<()>,
}

impl Writer {
    pub fn start(conn: Conn, metrics: WriterMetrics) -> Result<Writer> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let counters = stats.clone();
        thread::Builder::new()
            .name("natter-writer".into())
            .spawn(move || run(conn, rx, &counters, &metrics))
            .map_err(|e| Error::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(Writer { tx, stats })
    }

    /// Queue `op` now (so writes keep the order they were submitted in) and
    /// return a future that resolves once it is committed. `after_commit` runs
    /// on the writer thread right after the commit, before later jobs'
    /// completions: events published there go out in commit order.
    pub fn submit<T, F, P>(
        &self,
        op: F,
        after_commit: P,
    ) -> impl Future<Output = Result<T>> + Send + 'static + use<T, F, P>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
        P: FnOnce(&T) + Send + 'static,
    {
        self.queue(op, move |result, done_tx| {
            if let Ok(value) = &result {
                after_commit(value);
            }
            let _ = done_tx.send(result);
        })
    }

    /// As `submit`, but the caller is answered before `after_commit` runs.
    /// For a send into a big room: `after_commit` wakes every member's
    /// socket, and an answer woken after them would wait its turn behind
    /// all of their writes (measured: 160 ms in a room of 10,000).
    pub fn submit_answer_first<T, F, P>(
        &self,
        op: F,
        after_commit: P,
    ) -> impl Future<Output = Result<T>> + Send + 'static + use<T, F, P>
    where
        T: Clone + Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
        P: FnOnce(&T) + Send + 'static,
    {
        self.queue(op, move |result, done_tx| match result {
            Ok(value) => {
                let _ = done_tx.send(Ok(value.clone()));
                after_commit(&value);
            }
            Err(e) => drop(done_tx.send(Err(e))),
        })
    }

    /// Queue `op`; `finish` gets its result once committed (or failed), and
    /// the sender that answers the caller.
    fn queue<T, F, D>(&self, op: F, finish: D) -> impl Future<Output = Result<T>> + Send + 'static + use<T, F, D>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
        D: FnOnce(Result<T>, oneshot::Sender<Result<T>>) + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let tx = match conn {
                Ok(tx) => tx,
                Err(e) => {
                    let err = commit_failed(e);
                    return (false, Box::new(move |_| drop(done_tx.send(Err(err)))));
                }
            };
            let result = op(tx);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit_error| {
                let result = match (commit_error, result) {
                    (None, Ok(value)) => Ok(value),
                    (Some(e), Ok(_)) => Err(commit_failed(e)),
                    (_, Err(e)) => Err(e),
                };
                finish(result, done_tx);
            });
            (ok, completion)
        });
        let queued = self.tx.send(Msg::Job(job)).is_ok();
        async move {
            if !queued {
                return Err(Error::Unavailable("the server is shutting down".into()));
            }
            done_rx
                .await
                .map_err(|_| Error::Internal("the write could not be completed".into()))?
        }
    }

    /// The live counters (the checkpoint thread watches `commits` to tell
    /// when writes pause).
    pub(super) fn shared_stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// (jobs, commits) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.jobs.load(Ordering::Relaxed),
            self.stats.commits.load(Ordering::Relaxed),
        )
    }

    /// Commit what is queued, then stop the thread.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn run(mut conn: Conn, rx: mpsc::Receiver<Msg>, stats: &Stats, metrics: &WriterMetrics) {
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        let first = match rx.recv() {
            Ok(Msg::Job(job)) => job,
            Ok(Msg::Stop(ack)) => {
                stop = Some(ack);
                break;
            }
            Err(_) => break,
        };
        let mut completions: Vec<Completion> = Vec::new();
        stats.wants_lock.store(true, Ordering::Relaxed);
        let gate = stats.gate.lock().unwrap_or_else(|e| e.into_inner());
        let begun = conn.begin();
        stats.wants_lock.store(false, Ordering::Relaxed);
        if let Err(e) = begun {
            // Another program holds the write lock past the busy timeout
            // (or the disk is gone): this job and everything waiting are
            // told why, and the next job tries again.
            tracing::warn!(error = %e, "cannot begin a write transaction");
            let mut completions = vec![first(Err(&e)).1];
            loop {
                match rx.try_recv() {
                    Ok(Msg::Job(job)) => completions.push(job(Err(&e)).1),
                    Ok(Msg::Stop(ack)) => {
                        stop = Some(ack);
                        break;
                    }
                    Err(_) => break,
                }
            }
            drop(gate);
            for completion in completions {
                completion(None);
            }
            continue;
        }
        let mut fault: Option<SqlError> = None;
        let (completion, f) = run_job(&conn, first);
        completions.push(completion);
        fault = fault.or(f);
        // Keep taking jobs while they are waiting: everything that arrived
        // during this batch shares its commit. Not once the transaction is
        // gone (SQLite rolls it all back on some faults, a full disk among
        // them): a job then would run, and commit, on its own.
        while completions.len() < MAX_BATCH && conn.in_transaction() && fault.is_none() {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => {
                    let (completion, f) = run_job(&conn, job);
                    completions.push(completion);
                    fault = fault.or(f);
                }
                Ok(Msg::Stop(ack)) => {
                    stop = Some(ack);
                    break;
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let committed = match fault.take() {
            // A savepoint that could not be set or released: SQLite has
            // then lost the transaction, and PostgreSQL has aborted it (a
            // COMMIT there would quietly roll it back and report success).
            // Nothing of the batch is kept, and every job hears why.
            Some(f) => Err(f),
            None => conn.exec("COMMIT"),
        };
        // Counted once committed: the search indexer reads this counter to
        // know there is something to index, and must then find it.
        stats.jobs.fetch_add(completions.len() as u64, Ordering::Relaxed);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        metrics.batch_size.observe(completions.len() as f64);
        metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        let commit_error = committed.err().map(|e| {
            let _ = conn.exec("ROLLBACK");
            tracing::warn!(error = %e, jobs = completions.len(), "commit failed");
            e
        });
        drop(gate);
        for completion in completions {
            if catch_unwind(AssertUnwindSafe(|| completion(commit_error.as_ref()))).is_err() {
                tracing::error!("a write's completion panicked");
            }
        }
    }
    if let Some(ack) = stop {
        let _ = ack.send(());
    }
}

/// Run one job inside a savepoint, undoing it if it fails or panics; with
/// the error of a release that failed (the batch's commit then fails too).
fn run_job(conn: &Conn, job: Job) -> (Completion, Option<SqlError>) {
    if let Err(e) = conn.exec("SAVEPOINT job") {
        // Without a savepoint the job could not be undone alone: it does
        // not run, and the batch ends here.
        tracing::error!(error = %e, "savepoint failed");
        let completion = job(Err(&e)).1;
        return (completion, Some(e));
    }
    let tx = conn.tx();
    let completion = match catch_unwind(AssertUnwindSafe(|| job(Ok(&tx)))) {
        Ok((true, completion)) => {
            if let Err(e) = conn.exec("RELEASE job") {
                return (completion, Some(e));
            }
            completion
        }
        Ok((false, completion)) => {
            let _ = conn.exec("ROLLBACK TO job").and_then(|_| conn.exec("RELEASE job"));
            completion
        }
        Err(_) => {
            tracing::error!("a write panicked; it was rolled back");
            let _ = conn.exec("ROLLBACK TO job").and_then(|_| conn.exec("RELEASE job"));
            // Its caller's channel was dropped with the job: it sees an error.
            let nothing: Completion = Box::new(|_: Option<&SqlError>| {});
            nothing
        }
    };
    (completion, None)
}

/// A statement without results, prepared once: these run for every job.
fn exec(conn: &Connection, sql: &str) -> SqlResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
