//! The core error: what went wrong, in words a client may see.
//!
//! Every variant but `Internal` carries a message meant for the user. An
//! `Internal` error is logged in full where it is turned into a reply, and the
//! client only ever sees a generic sentence: no SQL text leaves the server.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    /// Too many requests; the client may try again after the duration.
    #[error("{0}")]
    RateLimited(String, Duration),
    #[error("{0}")]
    Unavailable(String),
    /// The database is locked by someone else (another program): try again soon.
    #[error("{0}")]
    Busy(String),
    /// The disk (or `--max-database-bytes`) is full: nothing was written.
    #[error("{0}")]
    DiskFull(String),
    /// This server cannot do it as it is set up (a file backup of a
    /// PostgreSQL database): 501.
    #[error("{0}")]
    Unsupported(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn not_found(what: impl fmt::Display) -> Self {
        Error::NotFound(format!("{what} not found"))
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn internal(err: impl fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }
    /// Too many requests: `what` is refused, say when to try again (whole
    /// seconds, never "0 s").
    pub fn rate_limited(what: impl fmt::Display, wait: Duration) -> Self {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        Error::RateLimited(
            format!("{what}; try again in {}", say_secs(secs)),
            Duration::from_secs(secs),
        )
    }

    /// How long a client should wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited(_, wait) => Some((*wait).max(Duration::from_secs(1))),
            Error::Busy(_) => Some(Duration::from_secs(2)),
            Error::DiskFull(_) => Some(Duration::from_secs(60)),
            _ => None,
        }
    }

    /// The HTTP status a dialect answers with, unless its seed says otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::Invalid(_) => 400,
            Error::TooLarge(_) => 413,
            Error::RateLimited(..) => 429,
            Error::Unavailable(_) => 503,
            Error::Busy(_) => 503,
            Error::DiskFull(_) => 507,
            Error::Unsupported(_) => 501,
            Error::Internal(_) => 500,
        }
    }

    /// A short machine-readable code, used in socket `error` frames.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::Invalid(_) => "invalid",
            Error::TooLarge(_) => "too_large",
            Error::RateLimited(..) => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Busy(_) => "busy",
            Error::DiskFull(_) => "disk_full",
            Error::Unsupported(_) => "unsupported",
            Error::Internal(_) => "internal",
        }
    }

    /// What the client is told. `Internal` details go to the log instead.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal server error".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(e, _) = &err
            && e.code == rusqlite::ErrorCode::ConstraintViolation
            && matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
        {
            return Error::Conflict("already exists".into());
        }
        Error::storage(&err).unwrap_or_else(|| Error::Internal(format!("sqlite: {err}")))
    }
}

impl From<crate::db::SqlError> for Error {
    fn from(err: crate::db::SqlError) -> Self {
        use crate::db::SqlError;
        match err {
            SqlError::Sqlite(e) => e.into(),
            SqlError::NoRows => Error::Internal("storage: a row that should be there is not".into()),
            SqlError::Decode(e) => Error::Internal(format!("storage: {e}")),
            SqlError::Postgres(e) => Error::from_postgres(&e),
        }
    }
}

impl Error {
    /// A PostgreSQL failure as the caller sees it: a duplicate key is a
    /// conflict (409), a full disk 507, a database out of reach 503.
    pub fn from_postgres(e: &postgres::Error) -> Error {
        use postgres::error::SqlState;
        match e.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => Error::Conflict("already exists".into()),
            Some(c) if *c == SqlState::DISK_FULL => {
                Error::DiskFull("the server's disk is full: nothing was saved; try again later".into())
            }
            // PostgreSQL's text holds no NUL character (SQLite's does): a
            // name or text with one can be neither stored nor found there.
            Some(c) if *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE => {
                Error::Invalid("text may not contain the NUL character (U+0000)".into())
            }
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CANNOT_CONNECT_NOW => {
                Error::Unavailable("the database is restarting; try again in a few seconds".into())
            }
            // No SQL state: the server was never reached or the connection
            // broke (its cause is an I/O error).
            None if e.is_closed()
                || std::error::Error::source(e).is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()) =>
            {
                Error::Unavailable("the server lost its database connection; try again in a few seconds".into())
            }
            _ => Error::Internal(format!("postgres: {e}")),
        }
    }

    /// A storage fault said as such: a full disk (507) or a database
    /// locked by another program (503); `None` for any other SQLite error.
    /// Used for failed statements and failed commits alike.
    pub fn storage(err: &rusqlite::Error) -> Option<Error> {
        match err.sqlite_error_code()? {
            rusqlite::ErrorCode::DiskFull => {
                storage_fault("disk full", err);
                Some(Error::DiskFull(
                    "the server's disk is full: nothing was saved; try again later".into(),
                ))
            }
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                storage_fault("database locked by another program", err);
                Some(Error::Busy(
                    "the server's database is busy (locked by another program); try again in a few seconds".into(),
                ))
            }
            _ => None,
        }
    }
}

/// "1 s", "42 s", "3 minutes".
fn say_secs(secs: u64) -> String {
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} minutes", secs.div_ceil(60))
    }
}

/// When a storage fault was last logged (seconds since the epoch).
static FAULT_LOGGED: AtomicU64 = AtomicU64::new(0);
/// When a write last failed for want of space (seconds since the epoch).
static DISK_FULL_AT: AtomicU64 = AtomicU64::new(0);

/// How long ago a write last failed because the disk (or
/// `--max-database-bytes`) was full, if within `window`: `/readyz` says so.
pub fn recent_disk_full(window: Duration) -> Option<Duration> {
    let at = DISK_FULL_AT.load(Ordering::Relaxed);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (at > 0 && now.saturating_sub(at) <= window.as_secs()).then(|| Duration::from_secs(now.saturating_sub(at)))
}

/// Log a storage fault at most once every 10 seconds: a full disk fails
/// every write, and the log must not fill what is left of it.
fn storage_fault(what: &str, err: &rusqlite::Error) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        DISK_FULL_AT.store(now, Ordering::Relaxed);
    }
    let last = FAULT_LOGGED.load(Ordering::Relaxed);
    if now >= last + 10
        && FAULT_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::error!(error = %err, "storage fault: {what} (writes fail until it clears; logged at most every 10 s)");
    }
}

impl From<r2d2::Error> for Error {
    fn from(err: r2d2::Error) -> Self {
        Error::Internal(format!("connection pool: {err}"))
    }
}
