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
//! are written once, and a second storage engine is a second body for those
//! functions behind the same `Tx`, not a second copy of the rules. Only
//! this module and its siblings see the engine: the methods below are
//! private to `db`.

use rusqlite::{CachedStatement, Connection, Params, Row};

/// A storage connection for the length of one read or one write.
pub struct Tx<'a> {
    c: &'a Connection,
}

impl<'a> Tx<'a> {
    /// Over a SQLite connection. Outside `db` only the tools that work on
    /// the SQLite file itself (`natter admin`, `natter import`) make one.
    pub fn sqlite(c: &'a Connection) -> Tx<'a> {
        Tx { c }
    }

    pub(super) fn prepare_cached(&self, sql: &str) -> rusqlite::Result<CachedStatement<'a>> {
        self.c.prepare_cached(sql)
    }

    pub(super) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.c.query_row(sql, params, f)
    }

    pub(super) fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.c.execute(sql, params)
    }

    pub(super) fn last_insert_rowid(&self) -> i64 {
        self.c.last_insert_rowid()
    }
}
