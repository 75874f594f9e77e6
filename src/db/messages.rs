//! Messages: history pages, resume ranges, send, edit, soft delete.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::users::{brief_from_row, parse_uuid};
use crate::error::{Error, Result};
use crate::model::{ConversationId, FileId, FileMeta, Message, MessageId, Timestamp, UserId};

/// One SELECT shape for every message read, so every dialect sees the same fields.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT m.id, m.conversation, c.id, m.body, m.created_at, m.updated_at, m.deleted,
        CASE WHEN c.kind = 'direct' THEN EXISTS (
            SELECT 1 FROM members o
            WHERE o.conversation = m.conversation AND o.user != m.sender AND o.last_read >= m.id)
        ELSE 0 END,
        u.number, u.id, u.username, u.email, u.name, u.first_name, u.last_name, u.profile_picture,
        f.number, f.id, f.owner, f.name, f.content_type, f.size
    FROM messages m
    JOIN conversations c ON c.number = m.conversation
    JOIN users u ON u.number = m.sender
    LEFT JOIN files f ON f.number = m.file ",
            $rest
        )
    };
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    let file = match r.get::<_, Option<FileId>>(16)? {
        Some(id) => Some(FileMeta {
            id,
            uuid: parse_uuid(&r.get::<_, String>(17)?)?,
            owner: r.get(18)?,
            name: r.get(19)?,
            content_type: r.get(20)?,
            size: r.get(21)?,
        }),
        None => None,
    };
    Ok(Message {
        id: r.get(0)?,
        conversation: r.get(1)?,
        conversation_uuid: parse_uuid(&r.get::<_, String>(2)?)?,
        text: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        deleted: r.get(6)?,
        seen: r.get(7)?,
        sender: brief_from_row(r, 8)?,
        file,
    })
}

fn many(c: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Message>> {
    super::collect(c, sql, args, from_row)
}

pub fn by_id(c: &Connection, id: MessageId) -> Result<Option<Message>> {
    Ok(c.prepare_cached(select!("WHERE m.id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
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
pub fn page(c: &Connection, conv: ConversationId, p: Page) -> Result<Vec<Message>> {
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

/// Messages after `after` in every conversation `user` is in, oldest first.
pub fn since_for_user(c: &Connection, user: UserId, after: MessageId, limit: i64) -> Result<Vec<Message>> {
    let sql = select!(
        "WHERE m.conversation IN (SELECT conversation FROM members WHERE user = ?1)
           AND m.id > ?2 ORDER BY m.id LIMIT ?3"
    );
    many(c, sql, &[&user, &after, &limit])
}

pub fn last_id(c: &Connection) -> Result<MessageId> {
    Ok(c.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))?)
}

/// Store a message sent at `at`; returns its id.
pub fn insert(
    c: &Connection,
    conv: ConversationId,
    sender: UserId,
    text: &str,
    file: Option<FileId>,
    at: Timestamp,
) -> Result<MessageId> {
    c.prepare_cached(
        "INSERT INTO messages (conversation, sender, body, file, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![conv, sender, text, file, at])?;
    Ok(MessageId(c.last_insert_rowid()))
}

pub fn edit(c: &Connection, id: MessageId, text: &str) -> Result<()> {
    let n = c
        .prepare_cached("UPDATE messages SET body = ?2, updated_at = ?3 WHERE id = ?1 AND NOT deleted")?
        .execute(params![id, text, Timestamp::now()])?;
    if n == 0 {
        return Err(Error::not_found("message"));
    }
    Ok(())
}

/// Soft delete: the row (and its id) stays, its text and attachment go.
pub fn delete(c: &Connection, id: MessageId) -> Result<()> {
    let n = c
        .prepare_cached(
            "UPDATE messages SET body = '', file = NULL, deleted = 1, updated_at = ?2
             WHERE id = ?1 AND NOT deleted",
        )?
        .execute(params![id, Timestamp::now()])?;
    if n == 0 {
        return Err(Error::not_found("message"));
    }
    Ok(())
}
