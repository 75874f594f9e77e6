//! Full-text search. On SQLite: the FTS5 indexes of migration 0005 (see
//! that file for what each index holds and why), written from the queue of
//! migration 0008 by `db::indexer` just after each commit. On PostgreSQL:
//! the GIN indexes over `messages.body_folded` (migrations/postgres, its
//! NOTES.md "Search"), written with the row.
//!
//! The caller says what to look for as [`Term`]s (folded text, and whether
//! it is the start of a word or anywhere); each engine builds its own query
//! from them. User text is only ever a bound value: an FTS5 string in
//! double quotes on SQLite, a parameter on PostgreSQL.

use super::params;

use super::{Row, SqlResult, Tx, Value};

use crate::error::{Error, Result};
use crate::model::{ConversationId, MessageId, Timestamp, UserId};

/// A short term of a script without spaces is looked up on SQLite through
/// the trigrams that start with it; one that starts more is refused as too
/// common (the lookup would be most of the index).
const MAX_TRIGRAMS_PER_TERM: i64 = 500;

/// Index every message queued, in the caller's transaction (at start, on
/// import, in the benches' seeding; a running server's queue is indexed by
/// `db::indexer`).
pub fn index_queued(c: &Tx<'_>) -> Result<()> {
    // LIMIT -1: no limit.
    index_oldest(c, -1)?;
    Ok(())
}

/// Index the `limit` oldest queued messages and take them off the queue;
/// how many were taken. A queued message deleted or emptied since is
/// skipped. The same ids each time: the caller's transaction holds them.
pub(super) fn index_oldest(c: &Tx<'_>, limit: i64) -> SqlResult<usize> {
    if c.as_sqlite().is_none() {
        // PostgreSQL has no queue and no FTS5 tables: its GIN indexes are
        // written by the statement that writes the message.
        return Ok(0);
    }
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
        c.prepare_cached(sql)?.execute(params![limit])?;
    }
    c.prepare_cached("DELETE FROM search_queue WHERE id IN (SELECT id FROM search_queue ORDER BY id LIMIT ?1)")?
        .execute(params![limit])
}

/// How a term is matched, in text folded as the indexes fold it (case and
/// diacritics ignored: `core::search::fold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The start of a word: "ok" finds "OK" and "okay", not "book". Its
    /// text is letters and digits only, as the word indexes see words.
    WordStart,
    /// Anywhere in the text, as one string, spaces included: "afé" finds
    /// "Café", "good morning" finds "Good morning!" and not "good, morning".
    Anywhere,
}

/// One thing a message must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Folded (`core::search::fold`).
    pub folded: String,
    pub how: Match,
}

/// What to look for, and where.
#[derive(Debug, Clone)]
pub struct Query {
    /// A message matches when it has every one; none finds nothing.
    pub terms: Vec<Term>,
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

/// The ids of the matching messages, newest first, at most `q.limit`.
pub fn find(c: &Tx<'_>, q: &Query) -> Result<Vec<MessageId>> {
    if q.terms.is_empty() {
        return Ok(Vec::new());
    }
    match c.as_sqlite() {
        Some(_) => find_fts5(c, q),
        None => find_postgres(c, q),
    }
}

// SQLite: FTS5.
//
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

fn find_fts5(c: &Tx<'_>, q: &Query) -> Result<Vec<MessageId>> {
    let Some((trigrams, words)) = fts5_expressions(c, &q.terms)? else {
        return Ok(Vec::new());
    };
    let (sql, first, words) = match (&trigrams, &words) {
        (Some(t), None) => (BY_TRIGRAMS, t, None),
        (Some(t), Some(w)) => (BY_BOTH, t, Some(w)),
        (None, Some(w)) => (BY_WORDS, w, None),
        (None, None) => return Ok(Vec::new()),
    };
    let below = q.below.map_or(i64::MAX, |m| m.0);
    let (m, cv, sd, af, bf, n) = (q.member, q.conversation, q.sender, q.after, q.before, q.limit);
    let id = |r: &Row<'_>| r.get::<_, MessageId>(0);
    match words {
        Some(w) => super::collect(c, sql, params![first, below, m, cv, sd, af, bf, n, w], id),
        None => super::collect(c, sql, params![first, below, m, cv, sd, af, bf, n], id),
    }
}

/// `s` as an FTS5 string: in double quotes, each quote doubled. Whatever
/// it holds, FTS5 reads it as text to match, never as syntax.
fn fts5_string(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The FTS5 expressions for `terms` (trigram index, word index), or `None`
/// when a term cannot match anything. A trigram index cannot see fewer than
/// 3 characters, so a shorter term to find anywhere (1–2 characters of a
/// script without spaces) is every trigram of the index that starts with
/// it, OR-ed.
fn fts5_expressions(c: &Tx<'_>, terms: &[Term]) -> Result<Option<(Option<String>, Option<String>)>> {
    let mut trigrams = Vec::new();
    let mut words = Vec::new();
    for t in terms {
        match t.how {
            Match::WordStart => words.push(format!("{}*", fts5_string(&t.folded))),
            Match::Anywhere if t.folded.chars().nth(2).is_some() => trigrams.push(fts5_string(&t.folded)),
            Match::Anywhere => {
                let found = trigrams_starting(c, &t.folded, MAX_TRIGRAMS_PER_TERM + 1)?;
                if found.is_empty() {
                    return Ok(None);
                }
                if found.len() as i64 > MAX_TRIGRAMS_PER_TERM {
                    return Err(Error::invalid(format!(
                        "“{}” is in too many messages to search for on its own: add a character next to it",
                        t.folded
                    )));
                }
                let any: Vec<String> = found.iter().map(|f| fts5_string(f)).collect();
                trigrams.push(format!("({})", any.join(" OR ")));
            }
        }
    }
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(" AND "));
    Ok(Some((join(trigrams), join(words))))
}

// PostgreSQL: tsvector and pg_trgm over `messages.body_folded`.
//
// The statement is put together from fixed pieces by which parts the query
// has (ten texts at most, each prepared once per connection); the terms and
// filters are always parameters. The parts an index can serve (the terms,
// the conversation) are left out when absent rather than written
// `CAST(?N …) IS NULL OR …`: a custom plan folds that away, but PostgreSQL
// may switch a prepared statement to a generic plan after five runs, and
// under such an OR no index applies. The sender and the time range have no
// index, so they stay in every text that way.
//
// The terms go in folded by Rust and are folded again by the schema's
// functions (`natter_like_anywhere`, `natter_word_starts`), so that they
// meet the text under unaccent's rules, which fold more than Rust's
// ("straße" finds "Strasse"). What Rust folds (case, Latin diacritics,
// combining marks) unaccent and lower() fold alike, so the second fold
// gives what folding the typed text would. LIKE's wildcards are escaped in
// there, after that fold (unaccent makes fullwidth ％ ＿ ＼ into % _ \),
// which `like_pattern` here, before it, could not do.
//
// * Anywhere: the longest term as `body_folded LIKE natter_like_anywhere(…)`,
//   which the trigram index serves (from 3 characters) and which a custom
//   plan folds to a constant pattern the planner estimates from the column's
//   statistics: a common 東京 walks the ids backwards and stops after
//   `limit`, a rare one reads every message (no trigram selects 2
//   characters; NOTES.md, open question 4). The other terms are `LIKE ALL`
//   over a JSON array, a recheck of the rows the first brings.
// * Word starts: all of them as one tsquery, `'ok':* & 'c':*`, which the
//   word index serves. They are letters and digits only (`Match::WordStart`),
//   so a space joins them unambiguously.
// * Newest first, `LIMIT`: the planner either walks the primary key
//   backwards with the search as a filter, or takes the GIN index's rows and
//   sorts them; `m.id < ?1` is the cursor either way.

// `NOT m.deleted`: both GIN indexes are partial on it.
const PG_HEAD: &str = "SELECT m.id FROM messages m
      WHERE m.id < ?1
        AND m.conversation IN (SELECT conversation FROM members WHERE \"user\" = ?2)
        AND (CAST(?3 AS bigint) IS NULL OR m.sender = ?3)
        AND (CAST(?4 AS bigint) IS NULL OR m.created_at >= ?4)
        AND (CAST(?5 AS bigint) IS NULL OR m.created_at < ?5)
        AND NOT m.deleted";

fn find_postgres(c: &Tx<'_>, q: &Query) -> Result<Vec<MessageId>> {
    let mut anywhere: Vec<&str> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for t in &q.terms {
        match t.how {
            Match::Anywhere => anywhere.push(&t.folded),
            Match::WordStart => words.push(&t.folded),
        }
    }
    // The longest has the most trigrams: the fewest candidates.
    let lead = anywhere
        .iter()
        .enumerate()
        .map(|(i, t)| (t.chars().count(), i))
        .max()
        .map(|(_, i)| anywhere.remove(i));
    let others = (!anywhere.is_empty())
        .then(|| serde_json::to_string(&anywhere))
        .transpose()
        .map_err(|e| Error::Internal(format!("encoding search terms: {e}")))?;
    let words = (!words.is_empty()).then(|| words.join(" "));

    let below = q.below.map_or(i64::MAX, |m| m.0);
    // The parts this query has, each with its value: `?N` is its place.
    let mut parts: Vec<(&str, &dyn Value)> = Vec::new();
    if let Some(t) = &lead {
        parts.push((" AND m.body_folded LIKE natter_like_anywhere(?N)", t));
    }
    if let Some(j) = &others {
        parts.push((
            " AND m.body_folded LIKE ALL (ARRAY(SELECT natter_like_anywhere(t)
                  FROM json_array_elements_text(CAST(CAST(?N AS text) AS json)) AS j(t)))",
            j,
        ));
    }
    if let Some(w) = &words {
        parts.push((
            " AND natter_words(m.body_folded) @@ natter_word_starts(string_to_array(CAST(?N AS text), ' '))",
            w,
        ));
    }
    if let Some(cv) = &q.conversation {
        parts.push((" AND m.conversation = ?N", cv));
    }
    parts.push((" ORDER BY m.id DESC LIMIT ?N", &q.limit));

    let mut args: Vec<&dyn Value> = vec![&below, &q.member, &q.sender, &q.after, &q.before];
    let mut sql = String::from(PG_HEAD);
    for (piece, value) in parts {
        args.push(value);
        sql.push_str(&piece.replace("?N", &format!("?{}", args.len())));
    }
    super::collect(c, &sql, &args, |r| r.get::<_, MessageId>(0))
}

/// The trigrams in the index that start with `prefix` (one or two folded
/// characters), at most `limit`: how a short term of a script without
/// spaces is found anywhere in a text.
pub fn trigrams_starting(c: &Tx<'_>, prefix: &str, limit: i64) -> Result<Vec<String>> {
    if c.as_sqlite().is_none() {
        // fts5vocab has no PostgreSQL counterpart: a short term of a script
        // without spaces is a LIKE filter there (migrations/postgres/NOTES.md).
        return Ok(Vec::new());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;

    fn found(c: &Tx<'_>, term: &str) -> Vec<i64> {
        let mut ids = Vec::new();
        for table in ["messages_trigrams", "messages_words"] {
            let sql = format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid");
            let mut st = c.prepare_cached(&sql).unwrap();
            let rows = st
                .query_map(params![format!("\"{term}\"")], |r| r.get::<_, i64>(0))
                .unwrap();
            ids.extend(rows);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    #[test]
    fn quoting_keeps_fts5_syntax_out() {
        assert_eq!(fts5_string(r#"a "b" OR c*"#), r#""a ""b"" OR c*""#);
    }

    fn queued(c: &Tx<'_>) -> i64 {
        c.query_row("SELECT COUNT(*) FROM search_queue", params![], |r| r.get(0))
            .unwrap()
    }

    /// The changes a batch can hold before its flush, and after it: each id
    /// ends in the indexes with its last text, or nowhere; the queue empties.
    #[test]
    fn the_queue_and_the_indexes_agree_whatever_a_batch_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        db::init(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let c = Tx::sqlite(&conn);
        let user = db::users::insert(
            &c,
            &db::users::NewUser {
                username: "ann",
                email: None,
                password_hash: "x",
                name: "",
                first_name: "",
                last_name: "",
                public_key: None,
            },
        )
        .unwrap()
        .id;
        let room = db::conversations::create_room(&c, "r", user, &[]).unwrap().id;
        let send = |text: &str| {
            db::messages::insert(
                &c,
                &db::messages::NewMessage {
                    conversation: room,
                    sender: user,
                    text,
                    file: None,
                    at: crate::model::Timestamp::now(),
                    incomplete: false,
                    reply_to: None,
                    reply_id: None,
                },
            )
            .unwrap()
        };
        // One batch: sent then edited, sent then deleted, sent and kept.
        let edited = send("apple pie");
        db::messages::edit(&c, edited, "banana bread").unwrap();
        let deleted = send("cherry tart");
        db::messages::delete(&c, deleted).unwrap();
        let kept = send("damson jam");
        assert!(found(&c, "apple").is_empty(), "nothing is indexed before the flush");
        index_queued(&c).unwrap();
        assert_eq!(queued(&c), 0);
        assert!(found(&c, "apple").is_empty(), "the text it had before its edit");
        assert_eq!(found(&c, "banana"), [edited.0]);
        assert!(found(&c, "cherry").is_empty(), "deleted before it was indexed");
        assert_eq!(found(&c, "damson"), [kept.0]);
        // The next batch: an indexed message edited, then edited again; one deleted.
        db::messages::edit(&c, edited, "elder wine").unwrap();
        db::messages::edit(&c, edited, "fig roll").unwrap();
        db::messages::delete(&c, kept).unwrap();
        assert!(found(&c, "banana").is_empty(), "an edit takes the old text out at once");
        assert!(found(&c, "damson").is_empty());
        index_queued(&c).unwrap();
        assert_eq!(queued(&c), 0);
        assert_eq!(found(&c, "fig"), [edited.0]);
        assert!(found(&c, "elder").is_empty());
        // A room deleted with a message still queued: nothing is left behind.
        send("grape soda");
        db::conversations::delete(&c, room).unwrap();
        assert_eq!(queued(&c), 0);
        index_queued(&c).unwrap();
        assert!(found(&c, "grape").is_empty() && found(&c, "fig").is_empty());
    }
}
