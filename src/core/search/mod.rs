//! Full-text search over the messages of the caller's conversations.
//!
//! What the user typed is cut into terms (words, or "quoted phrases"); a
//! message matches when it has every term, ignoring case and diacritics.
//! Each term goes to storage as folded text to match (`db::search::Term`),
//! which each engine turns into its own query without ever reading it as
//! syntax. How a term is looked up depends on its length, because a
//! trigram index cannot see fewer than 3 characters:
//!
//! * 3 characters or more: anywhere in the text (the trigram index).
//! * 1–2 characters: the start of a word ("ok" finds "OK" and "okay", not
//!   "book") through the word index; but in scripts written without spaces
//!   (Chinese, Japanese, Thai…), where a "word" is a whole clause, anywhere
//!   (on SQLite through the trigrams that start with it, see migration 0005
//!   and `db::search`).

mod fold;
mod snippet;

use uuid::Uuid;

pub use snippet::Segment;
use snippet::{Needle, snippet};

use super::conversations::{load_uuid, require_member};
use super::{Caller, Core};
use crate::db::{
    self,
    search::{Match, Query},
};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, Timestamp};

/// Results per page when the client does not say.
pub const DEFAULT_RESULTS: i64 = 20;
/// The most results one page may ask for.
pub const MAX_RESULTS: i64 = 100;
/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// The most terms a query may have.
const MAX_TERMS: usize = 16;
/// The most characters a snippet shows.
const SNIPPET_CHARS: usize = 160;

/// A search, as a dialect hands it over.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    /// Only this conversation (the caller must be a member).
    pub conversation: Option<Uuid>,
    /// Only messages of this user.
    pub sender: Option<Uuid>,
    /// Sent at or after this.
    pub after: Option<Timestamp>,
    /// Sent before this.
    pub before: Option<Timestamp>,
    /// Only messages older than this one: the previous page's cursor.
    pub cursor: Option<MessageId>,
    pub limit: i64,
}

/// A message found, with the part of it to show.
#[derive(Debug, Clone)]
pub struct Hit {
    pub message: Message,
    pub snippet: Vec<Segment>,
}

/// One page of results, newest first.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Where the next page starts, when there is one.
    pub next: Option<MessageId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Anywhere,
    WordStart,
    /// Anywhere, though shorter than a trigram: 1–2 characters of a script
    /// without spaces.
    Expand,
}

#[derive(Debug, Clone)]
struct Term {
    /// Folded as the indexes fold it.
    folded: String,
    how: How,
}

/// A script written without spaces between words.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1780..=0x17FF     // Khmer
        | 0x2E80..=0x2FDF     // CJK radicals
        | 0x3040..=0x312F     // Hiragana, Katakana, Bopomofo
        | 0x31F0..=0x31FF     // Katakana extensions
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0xFF66..=0xFF9F     // halfwidth Katakana
        | 0x20000..=0x3134F) // CJK extensions B–G
}

/// The words and "quoted phrases" of `text`.
fn split(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut flush = |cur: &mut String| {
        let t = cur.trim();
        if !t.is_empty() {
            out.push(t.to_owned());
        }
        cur.clear();
    };
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == '"' {
            flush(&mut cur);
            quoted = !quoted;
        } else if c.is_whitespace() && !quoted {
            flush(&mut cur);
        } else {
            cur.push(c);
        }
    }
    flush(&mut cur);
    out
}

fn parse(text: &str) -> Result<Vec<Term>> {
    if text.trim().is_empty() {
        return Err(Error::invalid("q must not be empty: say what to search for"));
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid(format!(
            "q is too long: at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let mut terms = Vec::new();
    for raw in split(text) {
        let folded = fold::fold(&raw);
        let n = folded.chars().count();
        let term = if n >= 3 {
            Term {
                folded,
                how: How::Anywhere,
            }
        } else if folded.chars().any(unspaced) {
            Term {
                folded,
                how: How::Expand,
            }
        } else {
            // The word index sees letters and digits only ("c#" is "c").
            let folded: String = folded.chars().filter(|c| c.is_alphanumeric()).collect();
            if folded.is_empty() {
                continue;
            }
            Term {
                folded,
                how: How::WordStart,
            }
        };
        terms.push(term);
    }
    if terms.is_empty() {
        return Err(Error::invalid(
            "q has nothing to search for: give a word, a letter or a digit",
        ));
    }
    if terms.len() > MAX_TERMS {
        return Err(Error::invalid(format!("q has too many words: at most {MAX_TERMS}")));
    }
    Ok(terms)
}

/// `terms` as storage takes them: a term of a script without spaces is
/// found anywhere, whatever its length (how is the engine's business).
fn storage_terms(terms: &[Term]) -> Vec<db::search::Term> {
    terms
        .iter()
        .map(|t| db::search::Term {
            folded: t.folded.clone(),
            how: match t.how {
                How::WordStart => Match::WordStart,
                How::Anywhere | How::Expand => Match::Anywhere,
            },
        })
        .collect()
}

fn needles(terms: &[Term]) -> Vec<Needle> {
    terms
        .iter()
        .map(|t| {
            let chars = t.folded.chars().collect();
            match t.how {
                How::WordStart => Needle::WordStart(chars),
                How::Anywhere | How::Expand => Needle::Anywhere(chars),
            }
        })
        .collect()
}

impl Core {
    /// The caller's messages (of conversations they are a member of now)
    /// that match, newest first.
    pub async fn search(&self, caller: &Caller, req: SearchRequest) -> Result<SearchPage> {
        let terms = parse(&req.text)?;
        let me = caller.user;
        let limit = req.limit.clamp(1, MAX_RESULTS);
        // Messages committed before the search began are found (the index
        // is written just after each commit, see db::indexer).
        self.db.search_caught_up().await?;
        self.db
            .read(move |c| {
                let conversation = match &req.conversation {
                    Some(id) => {
                        let conv = load_uuid(c, id)?;
                        require_member(c, &conv, me)?;
                        Some(conv.id)
                    }
                    None => None,
                };
                let sender = match &req.sender {
                    Some(id) => Some(db::users::by_uuid(c, id)?.ok_or_else(|| Error::not_found("user"))?.id),
                    None => None,
                };
                let mut ids = db::search::find(
                    c,
                    &Query {
                        terms: storage_terms(&terms),
                        member: me,
                        conversation,
                        sender,
                        after: req.after,
                        before: req.before,
                        below: req.cursor,
                        limit: limit + 1,
                    },
                )?;
                let next = if ids.len() as i64 > limit {
                    ids.truncate(limit as usize);
                    ids.last().copied()
                } else {
                    None
                };
                let needles = needles(&terms);
                let hits = db::messages::by_ids(c, &ids)?
                    .into_iter()
                    .map(|message| Hit {
                        snippet: snippet(&message.text, &needles, SNIPPET_CHARS),
                        message,
                    })
                    .collect();
                Ok(SearchPage { hits, next })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<(String, How)> {
        parse(q).unwrap().into_iter().map(|t| (t.folded, t.how)).collect()
    }

    #[test]
    fn terms_by_length_and_script() {
        use How::*;
        assert_eq!(
            kinds(r#"Café ok "good  morning" 東京 c# x"#),
            [
                ("cafe".into(), Anywhere),
                ("ok".into(), WordStart),
                ("good  morning".into(), Anywhere),
                ("東京".into(), Expand),
                ("c".into(), WordStart),
                ("x".into(), WordStart),
            ]
        );
        assert_eq!(
            kinds(r#"say "unclosed phrase"#),
            [("say".into(), Anywhere), ("unclosed phrase".into(), Anywhere)]
        );
        assert_eq!(
            kinds("a\u{0}b\tc"),
            [
                ("a".into(), WordStart),
                ("b".into(), WordStart),
                ("c".into(), WordStart)
            ]
        );
    }

    #[test]
    fn refuses_what_cannot_be_searched() {
        for q in ["", "   ", "\"\"", "!", "?! ..", &"x ".repeat(17), &"y".repeat(257)] {
            assert!(matches!(parse(q), Err(Error::Invalid(_))), "{q:?}");
        }
    }
}
