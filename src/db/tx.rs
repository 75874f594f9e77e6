//! The storage boundary: what the core's rules run against.
//!
//! The core never names a database engine. A write is a closure over a
//! [`Tx`] handed to the writer (it runs inside the writer's transaction);
//! a read is a closure over a `Tx` on a pooled connection. Inside those
//! closures the core calls the functions of this module's siblings, each
//! named by what chat needs (`messages::insert`, `conversations::member_ids`,
//! `changes::record`, …), and never SQL.
//!
//! So the rules (who may send where, what a send logs, who hears of it)
//! are written once, and a second storage engine is a second body for
//! those functions behind the same `Tx`, not a second copy of the rules.
//!
//! The bodies themselves are written once too, wherever one SQL text means
//! the same on SQLite and PostgreSQL: a statement is prepared from SQLite's
//! `?N` text (rewritten to PostgreSQL's `$N` once, when first prepared on a
//! connection), values are bound as [`Value`]s and read as [`Column`]s,
//! which both engines know, and rows come as a [`Row`] of either. Only what
//! has no common SQL (full-text search, the WAL's care) has a body per
//! engine.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::{CachedStatement, Connection};

/// A value both engines can bind.
pub trait Value: rusqlite::ToSql + postgres::types::ToSql + Sync {}
impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync + ?Sized> Value for T {}

/// A column type both engines can read.
pub trait Column: rusqlite::types::FromSql + for<'r> postgres::types::FromSql<'r> {}
impl<T: rusqlite::types::FromSql + for<'r> postgres::types::FromSql<'r>> Column for T {}

/// The values of a statement: `params![a, b]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::Value]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::db::Value),+] as &[&dyn $crate::db::Value]
    };
}
pub(crate) use params;

/// A statement's failure, from either engine.
#[derive(Debug)]
pub enum SqlError {
    /// A query for one row found none.
    NoRows,
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// A column held what its Rust type cannot be made from.
    Decode(String),
}

pub type SqlResult<T> = std::result::Result<T, SqlError>;

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => SqlError::NoRows,
            e => SqlError::Sqlite(e),
        }
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> Self {
        SqlError::Postgres(e)
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::NoRows => f.write_str("query returned no rows"),
            SqlError::Sqlite(e) => write!(f, "sqlite: {e}"),
            SqlError::Postgres(e) => write!(f, "postgres: {e}"),
            SqlError::Decode(e) => write!(f, "a stored value could not be read: {e}"),
        }
    }
}

/// `.optional()`: a missing row as `None`.
pub trait Optional<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}

impl<T> Optional<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(SqlError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A column's position in a row.
pub trait RowIndex {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result, from either engine.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    pub fn get<I: RowIndex, T: Column>(&self, i: I) -> SqlResult<T> {
        let i = i.index();
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            Row::Postgres(r) => r.try_get(i).map_err(SqlError::from),
        }
    }
}

/// A PostgreSQL connection with the statements prepared on it, by their
/// SQLite text (as SQLite's statement cache does).
pub struct PgConn {
    pub(super) client: postgres::Client,
    prepared: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            prepared: HashMap::new(),
        }
    }

    /// Run statements with no values and no rows (a migration, a BEGIN).
    pub fn batch(&mut self, sql: &str) -> SqlResult<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn prepare(&mut self, sql: &str) -> SqlResult<postgres::Statement> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(&postgres_text(sql))?;
        self.prepared.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

/// SQLite's `?N` and `?` placeholders as PostgreSQL's `$N`, outside
/// quoted text.
pub(crate) fn postgres_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next = 1u32;
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            out.push(ch);
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' => {
                quote = Some(ch);
                out.push(ch);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = if digits.is_empty() {
                    next
                } else {
                    digits.parse().unwrap_or(next)
                };
                next = next.max(n + 1);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(ch),
        }
    }
    out
}

enum Engine<'a> {
    Sqlite(&'a Connection),
    Postgres(&'a RefCell<PgConn>),
}

/// A storage connection for the length of one read or one write.
pub struct Tx<'a> {
    e: Engine<'a>,
}

/// A prepared statement of either engine.
pub struct Stmt<'a> {
    s: StmtOf<'a>,
}

enum StmtOf<'a> {
    Sqlite(CachedStatement<'a>),
    Postgres(&'a RefCell<PgConn>, postgres::Statement),
}

fn sqlite_params<'p>(p: &'p [&'p dyn Value]) -> impl rusqlite::Params + 'p {
    rusqlite::params_from_iter(p.iter().map(|v| *v as &dyn rusqlite::ToSql))
}

fn postgres_params<'p>(p: &'p [&'p dyn Value]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    p.iter().map(|v| *v as &(dyn postgres::types::ToSql + Sync)).collect()
}

impl<'a> Stmt<'a> {
    pub fn execute(&mut self, p: &[&dyn Value]) -> SqlResult<usize> {
        match &mut self.s {
            StmtOf::Sqlite(s) => Ok(s.execute(sqlite_params(p))?),
            StmtOf::Postgres(c, s) => Ok(c.borrow_mut().client.execute(&*s, &postgres_params(p))? as usize),
        }
    }

    /// The first row, made into a `T` by `f`; `SqlError::NoRows` if none.
    pub fn query_row<T, F>(&mut self, p: &[&dyn Value], f: F) -> SqlResult<T>
    where
        F: FnOnce(&Row<'_>) -> SqlResult<T>,
    {
        match &mut self.s {
            StmtOf::Sqlite(s) => {
                let mut rows = s.query(sqlite_params(p))?;
                match rows.next()? {
                    Some(r) => f(&Row::Sqlite(r)),
                    None => Err(SqlError::NoRows),
                }
            }
            StmtOf::Postgres(c, s) => {
                let row = c.borrow_mut().client.query_opt(&*s, &postgres_params(p))?;
                match row {
                    Some(r) => f(&Row::Postgres(&r)),
                    None => Err(SqlError::NoRows),
                }
            }
        }
    }

    /// Every row, each made into a `T` by `f`.
    pub fn query_map<T, F>(&mut self, p: &[&dyn Value], mut f: F) -> SqlResult<Vec<T>>
    where
        F: FnMut(&Row<'_>) -> SqlResult<T>,
    {
        match &mut self.s {
            StmtOf::Sqlite(s) => {
                let mut rows = s.query(sqlite_params(p))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
                Ok(out)
            }
            StmtOf::Postgres(c, s) => {
                let rows = c.borrow_mut().client.query(&*s, &postgres_params(p))?;
                rows.iter().map(|r| f(&Row::Postgres(r))).collect()
            }
        }
    }
}

impl<'a> Tx<'a> {
    /// Over a SQLite connection. Outside `db` only the tools that work on
    /// the SQLite file itself (`natter admin`, `natter import`) make one.
    pub fn sqlite(c: &'a Connection) -> Tx<'a> {
        Tx { e: Engine::Sqlite(c) }
    }

    /// Over a PostgreSQL connection.
    pub fn postgres(c: &'a RefCell<PgConn>) -> Tx<'a> {
        Tx { e: Engine::Postgres(c) }
    }

    /// The SQLite connection, for the bodies that are SQLite's alone.
    pub(super) fn as_sqlite(&self) -> Option<&'a Connection> {
        match self.e {
            Engine::Sqlite(c) => Some(c),
            Engine::Postgres(_) => None,
        }
    }

    pub(super) fn prepare_cached(&self, sql: &str) -> SqlResult<Stmt<'a>> {
        let s = match self.e {
            Engine::Sqlite(c) => StmtOf::Sqlite(c.prepare_cached(sql)?),
            Engine::Postgres(c) => StmtOf::Postgres(c, c.borrow_mut().prepare(sql)?),
        };
        Ok(Stmt { s })
    }

    pub(super) fn query_row<T, F>(&self, sql: &str, p: &[&dyn Value], f: F) -> SqlResult<T>
    where
        F: FnOnce(&Row<'_>) -> SqlResult<T>,
    {
        self.prepare_cached(sql)?.query_row(p, f)
    }

    pub(super) fn execute(&self, sql: &str, p: &[&dyn Value]) -> SqlResult<usize> {
        self.prepare_cached(sql)?.execute(p)
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_text;

    #[test]
    fn placeholders_become_postgres_ones_outside_quotes() {
        assert_eq!(
            postgres_text("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?3' AND \"e?\" = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?3' AND \"e?\" = $13"
        );
    }
}
