//! Messages: history pages, resume ranges, send, edit, soft delete.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::{Optional, Row, params};

use super::{SqlResult, Tx};
use uuid::Uuid;

use super::users::{brief_from_row, parse_uuid};
use crate::error::{Error, Result};
use crate::model::{ConversationId, FileId, Message, MessageId, Timestamp, UserBrief, UserId};

/// The message columns; who sent it, which conversation (UUID), its file and
/// whether it was seen are looked up once per batch in `assemble`, not joined
/// onto every row.
macro_rules! select {
    ($($rest:expr),+) => {
        concat!(
            "SELECT m.id, m.conversation, m.sender, m.body, m.file, m.created_at, m.updated_at, m.deleted,
                    m.incomplete, m.reply_to
             FROM messages m ",
            $($rest),+
        )
    };
}

struct Row_ {
    id: MessageId,
    conversation: ConversationId,
    sender: UserId,
    body: String,
    file: Option<FileId>,
    created_at: Timestamp,
    updated_at: Timestamp,
    deleted: bool,
    incomplete: bool,
    reply_to: Option<MessageId>,
}

fn from_row(r: &Row<'_>) -> SqlResult<Row_> {
    Ok(Row_ {
        id: r.get(0)?,
        conversation: r.get(1)?,
        sender: r.get(2)?,
        body: r.get(3)?,
        file: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        deleted: r.get(7)?,
        incomplete: r.get(8)?,
        reply_to: r.get(9)?,
    })
}

/// Turn rows into messages: each sender, conversation and file is read once
/// per batch, and `seen` (direct conversations) comes from the other
/// member's read mark.
fn assemble(c: &Tx<'_>, rows: Vec<Row_>) -> Result<Vec<Message>> {
    /// A conversation as its messages need it.
    struct Conv {
        uuid: Uuid,
        /// Direct conversations: each member's read mark.
        marks: Option<Vec<(UserId, MessageId)>>,
    }
    let mut senders: HashMap<UserId, Arc<UserBrief>> = HashMap::new();
    let mut convs: HashMap<ConversationId, Conv> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    let ids: Vec<MessageId> = rows.iter().map(|r| r.id).collect();
    let mut reactions = super::reactions::of_many(c, &ids)?;
    for r in rows {
        let sender = match senders.entry(r.sender) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(
                c.prepare_cached(concat!(
                    "SELECT ",
                    brief_columns!(),
                    " FROM users u WHERE u.number = ?1"
                ))?
                .query_row(params![r.sender], |row| brief_from_row(row, 0).map(Arc::new))?,
            ),
        };
        let conv = match convs.entry(r.conversation) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let (uuid, direct): (String, bool) = c
                    .prepare_cached("SELECT id, kind IN ('direct', 'ai') FROM conversations WHERE number = ?1")?
                    .query_row(params![r.conversation], |row| Ok((row.get(0)?, row.get(1)?)))?;
                let marks = if direct {
                    Some(super::collect(
                        c,
                        "SELECT \"user\", last_read FROM members WHERE conversation = ?1",
                        params![r.conversation],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )?)
                } else {
                    None
                };
                e.insert(Conv {
                    uuid: parse_uuid(&uuid)?,
                    marks,
                })
            }
        };
        let seen = conv
            .marks
            .as_ref()
            .is_some_and(|m| m.iter().any(|(u, read)| *u != r.sender && *read >= r.id));
        let file = match r.file {
            Some(f) => super::files::by_id(c, f)?,
            None => None,
        };
        // Only a text with an `@` can mention anyone: most messages cost no
        // lookup.
        let mentions = if r.body.contains('@') {
            super::mentions::of(c, r.id, &r.body)?
        } else {
            Vec::new()
        };
        out.push(Message {
            id: r.id,
            conversation: r.conversation,
            conversation_uuid: conv.uuid,
            sender: sender.clone(),
            text: r.body,
            file,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted: r.deleted,
            incomplete: r.incomplete,
            reply_to: r.reply_to,
            seen,
            reactions: reactions.remove(&r.id).unwrap_or_default(),
            // Only a text with an `@` can mention anyone: most messages
            // cost no lookup.
            mentions,
        });
    }
    Ok(out)
}

/// Message ids as one JSON array, bound as a single value (`in_id_list!`).
pub(super) fn id_list(ids: &[MessageId]) -> Result<String> {
    serde_json::to_string(&ids.iter().map(|m| m.0).collect::<Vec<_>>())
        .map_err(|e| Error::Internal(format!("encoding message ids: {e}")))
}

fn many(c: &Tx<'_>, sql: &str, args: &[&dyn super::Value]) -> Result<Vec<Message>> {
    let rows = super::collect(c, sql, args, from_row)?;
    assemble(c, rows)
}

pub fn by_id(c: &Tx<'_>, id: MessageId) -> Result<Option<Message>> {
    Ok(many(c, select!("WHERE m.id = ?1"), &[&id])?.pop())
}

/// These messages (that exist), newest first.
pub fn by_ids(c: &Tx<'_>, ids: &[MessageId]) -> Result<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = id_list(ids)?;
    let sql = match c.as_sqlite() {
        Some(_) => select!("WHERE m.id ", in_id_list!(sqlite), " ORDER BY m.id DESC"),
        None => select!("WHERE m.id ", in_id_list!(postgres), " ORDER BY m.id DESC"),
    };
    many(c, sql, &[&list])
}

/// Which slice of a conversation's history to read.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Only messages with a smaller id.
    pub before: Option<MessageId>,
    /// Only messages with a larger id; the page then starts right after it.
    pub after: Option<MessageId>,
    pub limit: i64,
}

/// A page of history, oldest first. Without `after` it is the newest `limit`
/// messages (before `before`); with `after` the oldest `limit` after it.
pub fn page(c: &Tx<'_>, conv: ConversationId, p: Page) -> Result<Vec<Message>> {
    let lo = p.after.map_or(0, |m| m.0);
    let hi = p.before.map_or(i64::MAX, |m| m.0);
    if p.after.is_some() {
        let sql = select!("WHERE m.conversation = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id LIMIT ?4");
        many(c, sql, &[&conv, &lo, &hi, &p.limit])
    } else {
        let sql = select!("WHERE m.conversation = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id DESC LIMIT ?4");
        let mut v = many(c, sql, &[&conv, &lo, &hi, &p.limit])?;
        v.reverse();
        Ok(v)
    }
}

/// A page of history around `at` (a message of `conv`), oldest first: up to
/// `(limit - 1) / 2` messages before it, then it and those after it, as
/// many as fit (more after it when there are fewer before).
pub fn around(c: &Tx<'_>, conv: ConversationId, at: MessageId, limit: i64) -> Result<Vec<Message>> {
    let limit = limit.max(1);
    let mut out = page(
        c,
        conv,
        Page {
            before: Some(at),
            after: None,
            limit: (limit - 1) / 2,
        },
    )?;
    let rest = limit - out.len() as i64;
    out.extend(page(
        c,
        conv,
        Page {
            before: None,
            after: Some(MessageId(at.0 - 1)),
            limit: rest,
        },
    )?);
    Ok(out)
}

/// Messages after `after` in every conversation `user` is in, oldest first.
pub fn since_for_user(c: &Tx<'_>, user: UserId, after: MessageId, limit: i64) -> Result<Vec<Message>> {
    let sql = select!(
        "WHERE m.conversation IN (SELECT conversation FROM members WHERE \"user\" = ?1)
           AND m.id > ?2 ORDER BY m.id LIMIT ?3"
    );
    many(c, sql, &[&user, &after, &limit])
}

/// Which conversation a message is in, if it exists.
pub fn conversation_of(c: &Tx<'_>, id: MessageId) -> Result<Option<ConversationId>> {
    Ok(c.prepare_cached("SELECT conversation FROM messages WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?)
}

/// A message to store.
pub struct NewMessage<'a> {
    pub conversation: ConversationId,
    pub sender: UserId,
    pub text: &'a str,
    pub file: Option<FileId>,
    pub at: Timestamp,
    /// An agent's reply that was cut short.
    pub incomplete: bool,
    /// The message this one answers.
    pub reply_to: Option<MessageId>,
    /// An agent's reply: the id its deltas went out under (kept in its change).
    pub reply_id: Option<uuid::Uuid>,
}

/// Store a message (and its `message` change, whose id it takes); its id.
pub fn insert(c: &Tx<'_>, m: &NewMessage<'_>) -> Result<MessageId> {
    let id = super::changes::next_message_id(c, m.conversation, m.sender, m.reply_id)?;
    c.prepare_cached(
        "INSERT INTO messages (id, conversation, sender, body, file, created_at, updated_at, incomplete, reply_to)
         VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
    )?
    .execute(params![
        m.conversation,
        m.sender,
        m.text,
        m.file,
        m.at,
        m.incomplete,
        m.reply_to,
        id
    ])?;
    Ok(id)
}

pub fn edit(c: &Tx<'_>, id: MessageId, text: &str) -> Result<()> {
    let n = c
        .prepare_cached("UPDATE messages SET body = ?2, updated_at = ?3 WHERE id = ?1 AND NOT deleted")?
        .execute(params![id, text, Timestamp::now()])?;
    if n == 0 {
        return Err(Error::not_found("message"));
    }
    Ok(())
}

/// Soft delete: the row (and its id) stays, its text, attachment and
/// mentions go.
pub fn delete(c: &Tx<'_>, id: MessageId) -> Result<()> {
    super::mentions::replace(c, id, &[])?;
    let n = c
        .prepare_cached(
            "UPDATE messages SET body = '', file = NULL, deleted = TRUE, updated_at = ?2
             WHERE id = ?1 AND NOT deleted",
        )?
        .execute(params![id, Timestamp::now()])?;
    if n == 0 {
        return Err(Error::not_found("message"));
    }
    Ok(())
}

/// Messages of people in AI conversations, sent since `since`, that no
/// message answers yet (oldest first): what the agent still owes a reply.
pub fn unanswered(c: &Tx<'_>, since: Timestamp) -> Result<Vec<(ConversationId, MessageId)>> {
    super::collect(
        c,
        "SELECT m.conversation, m.id FROM messages m
           JOIN conversations c ON c.number = m.conversation AND c.kind = 'ai'
           JOIN users u ON u.number = m.sender AND NOT u.is_bot
          WHERE m.created_at > ?1 AND NOT m.deleted
            AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id)
          ORDER BY m.id",
        params![since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The context for an answer to `upto`: the newest `limit` messages of
/// `conv` up to and including it, and the replies to the messages before it
/// (stored later, when messages came in while a reply was written), each
/// reply right after the message it answers; oldest first, without deleted
/// messages or replies that were cut short.
pub fn context(c: &Tx<'_>, conv: ConversationId, upto: MessageId, limit: i64) -> Result<Vec<Message>> {
    let sql = select!(
        "WHERE m.conversation = ?1 AND (m.id <= ?2 OR m.reply_to < ?2) AND NOT m.deleted AND NOT m.incomplete
         ORDER BY COALESCE(m.reply_to, m.id) DESC, m.id DESC LIMIT ?3"
    );
    let mut v = many(c, sql, &[&conv, &upto, &limit])?;
    v.reverse();
    Ok(v)
}
