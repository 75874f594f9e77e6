//! Full-text search: the FTS5 indexes that migration 0005 keeps in step with
//! `messages` (see that file for what each index holds and why).
//!
//! The caller hands over FTS5 expressions that it built from quoted
//! strings only (`core::search`); user text is never an expression here.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::model::{ConversationId, MessageId, Timestamp, UserId};

/// What to look for, and where.
#[derive(Debug, Clone)]
pub struct Query {
    /// An expression over `messages_trigrams` (substrings), if any term needs it.
    pub trigrams: Option<String>,
    /// An expression over `messages_words` (word prefixes), if any term needs it.
    pub words: Option<String>,
    /// Only conversations this user is a member of.
    pub member: UserId,
    pub conversation: Option<ConversationId>,
    pub sender: Option<UserId>,
    /// Sent at or after this.
    pub after: Option<Timestamp>,
    /// Sent before this.
    pub before: Option<Timestamp>,
    /// Only messages older (smaller id) than this: the cursor.
    pub below: Option<MessageId>,
    pub limit: i64,
}

// The filters every variant shares. `?N IS NULL OR …` keeps one statement
// per variant (so each is prepared once); the FTS5 index drives the scan,
// newest first, and stops after `limit` rows pass.
macro_rules! filters {
    () => {
        " AND m.conversation IN (SELECT conversation FROM members WHERE user = ?3)
          AND (?4 IS NULL OR m.conversation = ?4)
          AND (?5 IS NULL OR m.sender = ?5)
          AND (?6 IS NULL OR m.created_at >= ?6)
          AND (?7 IS NULL OR m.created_at < ?7)
          AND NOT m.deleted"
    };
}

const BY_TRIGRAMS: &str = concat!(
    "SELECT m.id FROM messages_trigrams t JOIN messages m ON m.id = t.rowid
      WHERE messages_trigrams MATCH ?1 AND t.rowid < ?2",
    filters!(),
    " ORDER BY t.rowid DESC LIMIT ?8"
);

// Both indexes: the trigram index drives, and each candidate is checked
// against the word index by its id (FTS5 seeks to one rowid).
const BY_BOTH: &str = concat!(
    "SELECT m.id FROM messages_trigrams t JOIN messages m ON m.id = t.rowid
      WHERE messages_trigrams MATCH ?1 AND t.rowid < ?2",
    filters!(),
    " AND EXISTS (SELECT 1 FROM messages_words w WHERE messages_words MATCH ?9 AND w.rowid = m.id)
      ORDER BY t.rowid DESC LIMIT ?8"
);

const BY_WORDS: &str = concat!(
    "SELECT m.id FROM messages_words w JOIN messages m ON m.id = w.rowid
      WHERE messages_words MATCH ?1 AND w.rowid < ?2",
    filters!(),
    " ORDER BY w.rowid DESC LIMIT ?8"
);

/// The ids of the matching messages, newest first, at most `q.limit`.
pub fn find(c: &Connection, q: &Query) -> Result<Vec<MessageId>> {
    let (sql, first, words) = match (&q.trigrams, &q.words) {
        (Some(t), None) => (BY_TRIGRAMS, t, None),
        (Some(t), Some(w)) => (BY_BOTH, t, Some(w)),
        (None, Some(w)) => (BY_WORDS, w, None),
        (None, None) => return Ok(Vec::new()),
    };
    let below = q.below.map_or(i64::MAX, |m| m.0);
    let (m, cv, sd, af, bf, n) = (q.member, q.conversation, q.sender, q.after, q.before, q.limit);
    let id = |r: &rusqlite::Row<'_>| r.get::<_, MessageId>(0);
    match words {
        Some(w) => super::collect(c, sql, params![first, below, m, cv, sd, af, bf, n, w], id),
        None => super::collect(c, sql, params![first, below, m, cv, sd, af, bf, n], id),
    }
}

/// The trigrams in the index that start with `prefix` (one or two folded
/// characters), at most `limit`: how a short term of a script without
/// spaces is found anywhere in a text.
pub fn trigrams_starting(c: &Connection, prefix: &str, limit: i64) -> Result<Vec<String>> {
    // Every trigram starting with `prefix` sorts between it and it followed
    // by the last code point.
    let upper = format!("{prefix}\u{10FFFF}\u{10FFFF}");
    super::collect(
        c,
        "SELECT term FROM messages_trigram_terms WHERE term >= ?1 AND term < ?2 LIMIT ?3",
        params![prefix, upper, limit],
        |r| r.get(0),
    )
}
