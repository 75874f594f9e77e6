//! Backups and restores of the database file, and the server's own
//! schedule of backups.
//!
//! A backup is made while the server runs and writes (SQLite's online
//! backup, one read transaction: the database as of one commit), written
//! beside its final name and renamed only once it has passed
//! `integrity_check`, so a half-made copy never carries a backup's name.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Caller, Core};
use crate::db::{self, SCHEMA_VERSION, backup::Checked, lock::DbLock};
use crate::error::{Error, Result};
use crate::model::Timestamp;

/// What a backup made.
#[derive(Debug)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub took: Duration,
    pub checked: Checked,
}

/// What a restore did, step by step, for the operator to read.
#[derive(Debug, Default)]
pub struct RestoreReport {
    pub steps: Vec<String>,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A compact UTC time for file names, to the millisecond: `20261126T110400.123Z`.
fn stamp() -> String {
    let t = Timestamp::now().rfc3339();
    // 2026-11-26T11:04:00.123456Z
    format!(
        "{}{}{}T{}{}{}.{}Z",
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16],
        &t[17..19],
        &t[20..23]
    )
}

/// Copy the database at `db` to `out` (which must not exist yet) and check the copy.
pub fn backup_file(db: &Path, out: &Path) -> Result<BackupReport> {
    let started = Instant::now();
    if !db.is_file() {
        return Err(Error::NotFound(format!("{} does not exist", db.display())));
    }
    if out.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists; choose a new name",
            out.display()
        )));
    }
    let partial = with_suffix(out, ".partial");
    let _ = std::fs::remove_file(&partial);
    let made = db::backup::copy(db, &partial).and_then(|()| db::backup::check(&partial));
    let checked = match made {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&partial, out))
        .map_err(|e| Error::Internal(format!("cannot put the backup at {}: {e}", out.display())))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        path: out.to_owned(),
        bytes,
        took: started.elapsed(),
        checked,
    })
}

/// Put the copy `from` in place of the database at `db`. Refused while a
/// server holds `db`. The old file is kept as `<db>.before-restore-<time>`
/// (with its WAL, so nothing it held is lost).
pub fn restore(db: &Path, from: &Path) -> Result<RestoreReport> {
    let mut report = RestoreReport::default();
    let _lock = DbLock::acquire(db)?;
    let checked = db::backup::check(from)?;
    if checked.schema_version > SCHEMA_VERSION {
        return Err(Error::Invalid(format!(
            "{} has schema version {}, newer than this natter ({SCHEMA_VERSION}); use a newer natter",
            from.display(),
            checked.schema_version
        )));
    }
    report.steps.push(format!(
        "checked {}: integrity ok, schema version {}",
        from.display(),
        checked.schema_version
    ));
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Copy first, beside the target, so the swap below is two renames.
    let incoming = with_suffix(db, ".restoring");
    std::fs::copy(from, &incoming)
        .and_then(|_| std::fs::File::open(&incoming)?.sync_all())
        .map_err(|e| Error::Internal(format!("cannot copy {} to {}: {e}", from.display(), dir.display())))?;
    if db.exists() {
        let aside = with_suffix(db, &format!(".before-restore-{}", stamp()));
        std::fs::rename(db, &aside).map_err(Error::internal)?;
        report
            .steps
            .push(format!("moved the old database to {}", aside.display()));
        // The WAL goes with its database: opening the old copy replays it.
        let wal = with_suffix(db, "-wal");
        if wal.exists() {
            let to = with_suffix(&aside, "-wal");
            std::fs::rename(&wal, &to).map_err(Error::internal)?;
            report
                .steps
                .push(format!("moved its write-ahead log to {}", to.display()));
        }
    }
    for stale in ["-wal", "-shm"] {
        let path = with_suffix(db, stale);
        if path.exists() {
            std::fs::remove_file(&path).map_err(Error::internal)?;
            report.steps.push(format!("removed the stale {}", path.display()));
        }
    }
    std::fs::rename(&incoming, db).map_err(Error::internal)?;
    report
        .steps
        .push(format!("put {} in place as {}", from.display(), db.display()));
    for (table, n) in &checked.tables {
        report.steps.push(format!("  {table}: {n} rows"));
    }
    Ok(report)
}

/// `natter-<time>.db` in `dir`.
pub fn scheduled_name(dir: &Path) -> PathBuf {
    dir.join(format!("natter-{}.db", stamp()))
}

/// Keep the newest `keep` scheduled backups in `dir` (0 keeps all); the
/// names sort by time. Returns the ones removed.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    if keep == 0 {
        return Ok(Vec::new());
    }
    let mut ours: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(Error::internal)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("natter-") && n.ends_with(".db"))
        })
        .collect();
    ours.sort();
    let excess = ours.len().saturating_sub(keep);
    let old: Vec<PathBuf> = ours.drain(..excess).collect();
    for p in &old {
        std::fs::remove_file(p).map_err(Error::internal)?;
    }
    Ok(old)
}

/// The server's schedule: a backup every `every` into `dir`, keeping `keep`.
pub(super) fn schedule(core: &Arc<Core>, dir: PathBuf, every: Duration, keep: usize) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(core);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(core) = weak.upgrade() else { return };
            // `Core::open` refuses a schedule on PostgreSQL: there is no file.
            let Some(db) = core.db.path().map(Path::to_owned) else {
                return;
            };
            let dir = dir.clone();
            let made = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
                let report = backup_file(&db, &scheduled_name(&dir))?;
                let removed = prune(&dir, keep)?;
                Ok::<_, Error>((report, removed))
            })
            .await
            .map_err(Error::internal)
            .and_then(|r| r);
            match made {
                Ok((report, removed)) => {
                    core.metrics.backup("ok");
                    tracing::info!(
                        path = %report.path.display(),
                        bytes = report.bytes,
                        ms = report.took.as_millis() as u64,
                        removed = removed.len(),
                        "backup made"
                    );
                }
                Err(e) => {
                    core.metrics.backup("failed");
                    tracing::error!(error = %e, "scheduled backup failed");
                }
            }
        }
    })
}

impl Core {
    /// A fresh, checked backup as an open file for the caller to stream
    /// (admins only). The file has no name left on disk: it disappears when
    /// the stream is done with it.
    pub async fn backup_for_download(&self, caller: &Caller) -> Result<(std::fs::File, u64)> {
        self.require_admin(caller).await?;
        let db = self.db.path().map(Path::to_owned).ok_or_else(|| {
            Error::Unsupported(
                "this server keeps its data in PostgreSQL: back it up with pg_dump or PostgreSQL's own backups".into(),
            )
        })?;
        let tmp = with_suffix(&db, &format!(".download-{}", uuid::Uuid::new_v4()));
        tokio::task::spawn_blocking(move || {
            let report = backup_file(&db, &tmp);
            let opened = report.and_then(|r| {
                std::fs::File::open(&r.path)
                    .map(|f| (f, r.bytes))
                    .map_err(Error::internal)
            });
            let _ = std::fs::remove_file(&tmp);
            opened
        })
        .await
        .map_err(Error::internal)?
    }

    /// Can the database take a write right now? A real, tiny commit through
    /// the writer, given `within` to finish: a full disk, a broken file or a
    /// stuck writer all answer with the reason.
    pub async fn ready(&self, within: Duration) -> Result<()> {
        let write = self
            .db
            .writer()
            .submit(|c| db::backup::probe(c, Timestamp::now()), |_| {});
        match tokio::time::timeout(within, write).await {
            Ok(Ok(())) => match crate::error::recent_disk_full(Duration::from_secs(30)) {
                // The probe is small; a message or a file may still not fit.
                Some(ago) => Err(Error::Unavailable(format!(
                    "the server's disk is full: a write failed for want of space {} s ago",
                    ago.as_secs()
                ))),
                None => Ok(()),
            },
            Ok(Err(e @ (Error::DiskFull(_) | Error::Busy(_)))) => Err(Error::Unavailable(e.to_string())),
            Ok(Err(e)) => {
                // The detail (SQLite's words) is for the log, not the prober.
                tracing::error!(error = %e, "readiness write failed");
                Err(Error::Unavailable(
                    "the database does not take writes (the log says why)".into(),
                ))
            }
            Err(_) => Err(Error::Unavailable(format!(
                "the writer did not commit within {} ms: it is stuck or the disk is too slow",
                within.as_millis()
            ))),
        }
    }
}
