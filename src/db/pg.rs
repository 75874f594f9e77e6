//! The PostgreSQL backend's own parts: telling a URL from a file, connecting,
//! the read pool's connections, and migrations under an advisory lock.
//!
//! Everything else (the storage bodies, the writer's group commit) is shared
//! with SQLite through `Tx`.

use std::cell::RefCell;
use std::path::Path;
use std::str::FromStr;

use postgres::NoTls;

use super::{InitReport, PgConn, Tx};
use crate::error::{Error, Result};

/// PostgreSQL's migrations, in order; `natter_schema.version` counts how
/// many have run. Numbered on their own: version 1 is the state SQLite's
/// version 9 reaches.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_initial.sql"),
    include_str!("../../migrations/postgres/0002_bus.sql"),
    include_str!("../../migrations/postgres/0003_changes_by_conversation.sql"),
];
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock every natter node takes before migrating: two nodes
/// starting at once on a new database must not both create it. Any fixed
/// number; this one spells "natter".
const MIGRATION_LOCK: i64 = 0x6e61_7474_6572;

/// Is `--db` a PostgreSQL URL rather than a file?
pub fn is_url(db: &Path) -> bool {
    db.to_str()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// `--db` as it may be printed: a URL without its password.
pub fn display(db: &Path) -> String {
    let Some(url) = db.to_str().filter(|_| is_url(db)) else {
        return db.display().to_string();
    };
    let (url, query) = url.split_once('?').map_or((url, None), |(u, q)| (u, Some(q)));
    // scheme://user:password@host… → scheme://user@host…
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    };
    // …?password=… is a password too.
    if let Some(query) = query {
        let shown: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&shown.join("&"));
    }
    out
}

/// The connection settings in `--db`.
pub fn config(db: &Path) -> Result<postgres::Config> {
    let url = db.to_str().unwrap_or_default();
    postgres::Config::from_str(url).map_err(|e| {
        Error::invalid(format!(
            "--db {} is not a PostgreSQL URL natter can use: {e}",
            display(db)
        ))
    })
}

/// One connection, with the error said without the password.
pub fn connect(config: &postgres::Config, db: &Path) -> Result<PgConn> {
    config
        .connect(NoTls)
        .map(PgConn::new)
        .map_err(|e| Error::Unavailable(format!("cannot connect to PostgreSQL at {}: {e}", display(db))))
}

/// The writer's connection settings: `natter.node` names this node, so the
/// changes it writes carry it (migration 0002) and its bus can tell its own
/// changes from other nodes'.
///
/// The writer also holds the lock that orders every node's changes from its
/// first change to its commit (migration 0001): if its machine vanishes
/// mid-transaction, PostgreSQL must notice soon, not after the system's
/// two-hour keepalive, or every node's writes wait that long.
pub fn tagged(config: &postgres::Config, node: uuid::Uuid) -> postgres::Config {
    let mut config = config.clone();
    let ours = format!("-c natter.node={node} -c idle_in_transaction_session_timeout=60s {KEEPALIVE}");
    config.options(&after_given(config.get_options(), &ours));
    config
}

/// Startup `options`: ours after any that `--db` gave.
fn after_given(given: Option<&str>, ours: &str) -> String {
    match given {
        Some(o) if !o.trim().is_empty() => format!("{o} {ours}"),
        _ => ours.to_owned(),
    }
}

/// Server-side keepalives: a vanished node's sessions end within a minute.
const KEEPALIVE: &str = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3";

/// The bus's listening connection, with the same keepalives (a vanished
/// node's listener would hold back PostgreSQL's notification queue).
pub fn keep_alive(config: &mut tokio_postgres::Config) {
    let options = after_given(config.get_options(), KEEPALIVE);
    config.options(&options);
}

/// The read pool's connections: each keeps the statements prepared on it.
pub struct Manager {
    pub config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = RefCell<PgConn>;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Self::Connection, Self::Error> {
        self.config.connect(NoTls).map(|c| RefCell::new(PgConn::new(c)))
    }

    fn is_valid(&self, conn: &mut Self::Connection) -> std::result::Result<(), Self::Error> {
        conn.get_mut().client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.get_mut().client.is_closed()
    }
}

/// The read pool. Dropped on a thread of its own: the sync client closes a
/// connection by blocking on a runtime of its own, which panics on a thread
/// of the server's runtime (where the last `Db` goes away).
pub struct Pool(Option<r2d2::Pool<Manager>>);

impl Pool {
    pub fn new(pool: r2d2::Pool<Manager>) -> Pool {
        Pool(Some(pool))
    }

    pub fn get(&self) -> &r2d2::Pool<Manager> {
        // Taken only by `drop`.
        self.0.as_ref().expect("the read pool is there until dropped")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("natter-pg-close".into())
                .spawn(move || drop(pool));
        }
    }
}

/// Create or migrate the database at `db` and make sure it has its secrets:
/// what `super::init` does for a file. Every node runs it at start; the
/// advisory lock makes the others wait while one migrates.
pub fn init(db: &Path) -> Result<InitReport> {
    transaction(db, migrate)
}

/// Run `f` in one transaction on a connection of its own (outside the
/// server's writer: migrations, `natter admin`); committed if it succeeds.
pub fn transaction<T>(db: &Path, f: impl FnOnce(&RefCell<PgConn>) -> Result<T>) -> Result<T> {
    let conn = RefCell::new(connect(&config(db)?, db)?);
    conn.borrow_mut().batch("BEGIN")?;
    let out = f(&conn);
    if out.is_ok() {
        conn.borrow_mut().batch("COMMIT")?;
    } else {
        let _ = conn.borrow_mut().batch("ROLLBACK");
    }
    out
}

fn migrate(conn: &RefCell<PgConn>) -> Result<InitReport> {
    let version = {
        let mut c = conn.borrow_mut();
        c.client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(super::SqlError::from)?;
        let exists: bool = c
            .client
            .query_one("SELECT to_regclass('natter_schema') IS NOT NULL", &[])
            .and_then(|r| r.try_get(0))
            .map_err(super::SqlError::from)?;
        if exists {
            c.client
                .query_one("SELECT version FROM natter_schema", &[])
                .and_then(|r| r.try_get::<_, i64>(0))
                .map_err(super::SqlError::from)?
        } else {
            0
        }
    };
    if version > SCHEMA_VERSION {
        return Err(Error::Internal(format!(
            "the PostgreSQL database has schema version {version}, newer than this natter \
             ({SCHEMA_VERSION}); upgrade natter"
        )));
    }
    let mut report = InitReport {
        created_file: version == 0,
        from_version: version,
        to_version: SCHEMA_VERSION,
        ..Default::default()
    };
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let mut c = conn.borrow_mut();
        c.batch(sql)?;
        c.client
            .execute("UPDATE natter_schema SET version = $1", &[&((i + 1) as i64)])
            .map_err(super::SqlError::from)?;
    }
    let tx = Tx::postgres(conn);
    report.created_secret = super::ensure_jwt_secret(&tx)?;
    report.created_vapid_key = super::push::ensure_vapid_key(&tx)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_files_and_printed_without_passwords() {
        assert!(is_url(Path::new("postgres://u:p@h/db")));
        assert!(is_url(Path::new("postgresql://h/db")));
        assert!(!is_url(Path::new("natter.db")));
        assert!(!is_url(Path::new("./postgres://x")));
        assert_eq!(
            display(Path::new("postgres://u:secret@h:5432/db")),
            "postgres://u@h:5432/db"
        );
        assert_eq!(display(Path::new("postgres://h/db")), "postgres://h/db");
        assert_eq!(display(Path::new("natter.db")), "natter.db");
        assert_eq!(
            display(Path::new("postgres://h/db?user=u&password=secret&sslmode=disable")),
            "postgres://h/db?user=u&password=***&sslmode=disable"
        );
    }
}
