//! Copies of the database file: made online, checked, and counted.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::params;

use crate::error::{Error, Result};

/// What a check of a database file found.
#[derive(Debug, Clone)]
pub struct Checked {
    pub schema_version: i64,
    /// Every table and its row count, by name.
    pub tables: Vec<(String, i64)>,
}

/// Copy the database at `src` to `dst` (a new file) while other
/// connections keep writing. The whole copy is one step of SQLite's online
/// backup, so it runs inside one read transaction: it is the database as of
/// one commit, and in WAL mode writers go on meanwhile.
pub fn copy(src: &Path, dst: &Path) -> Result<()> {
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI)
        .map_err(|e| Error::Internal(format!("cannot open {}: {e}", src.display())))?;
    from.busy_timeout(Duration::from_secs(5))?;
    let mut to = Connection::open(dst).map_err(|e| Error::Internal(format!("cannot create {}: {e}", dst.display())))?;
    let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
    loop {
        match backup.step(-1)? {
            rusqlite::backup::StepResult::Done => break,
            // Locked or busy: another connection holds a lock for a moment.
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    drop(backup);
    // A copy stands alone: no WAL beside it.
    to.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    Ok(())
}

/// Open `path` read-only, run `PRAGMA integrity_check` and count every table's rows.
pub fn check(path: &Path) -> Result<Checked> {
    if !path.is_file() {
        return Err(Error::NotFound(format!("{} does not exist", path.display())));
    }
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Error::Invalid(format!("cannot open {}: {e}", path.display())))?;
    let problems: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| Error::Invalid(format!("{} is not a natter database: {e}", path.display())))?;
    if problems != ["ok"] {
        return Err(Error::Invalid(format!(
            "{} failed its integrity check: {}",
            path.display(),
            problems.join("; ")
        )));
    }
    let schema_version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let names: Vec<String> = super::collect(
        &super::Tx::sqlite(&c),
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        params![],
        |r| r.get(0),
    )?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        // A table name cannot be a bound parameter; this one comes from
        // sqlite_master and is quoted as an identifier.
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = c.query_row(&sql, [], |r| r.get(0))?;
        tables.push((name, n));
    }
    Ok(Checked { schema_version, tables })
}

/// True if the database holds no users, conversations, messages or files:
/// what `import` may fill.
pub fn is_empty(c: &super::Tx<'_>) -> Result<bool> {
    Ok(c.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM conversations)
            AND NOT EXISTS (SELECT 1 FROM messages) AND NOT EXISTS (SELECT 1 FROM files)",
        params![],
        |r| r.get(0),
    )?)
}

/// A small real write: proves the file takes commits (for `/readyz`).
pub fn probe(c: &super::Tx<'_>, now: crate::model::Timestamp) -> Result<()> {
    let sql = match c.as_sqlite() {
        Some(_) => "INSERT OR REPLACE INTO meta (key, value) VALUES ('ready_probe', ?1)",
        // PostgreSQL's meta is bytea (the secrets) and takes no integer.
        None => {
            "INSERT INTO meta_integers (key, value) VALUES ('ready_probe', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        }
    };
    c.prepare_cached(sql)?.execute(params![now])?;
    Ok(())
}
