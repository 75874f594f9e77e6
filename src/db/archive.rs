//! Whole tables, row by row, for `natter export` and `natter import`.
//!
//! These rows are the export file's lines (the `archive` module adds the
//! `type` tag), so they derive serde: an export is the database's own rows,
//! keyed by the same integer numbers, which is what lets an import keep
//! every id. Password hashes, sessions, tokens and the signing secret are
//! never read here.

use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};

use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRow {
    pub number: i64,
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub profile_picture: String,
    pub public_key: Option<String>,
    pub ready_to_chat: bool,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub is_bot: bool,
    /// `admin` or `member` (exports made before roles say nothing: member).
    #[serde(default = "member")]
    pub role: String,
    #[serde(default)]
    pub deactivated_at: Option<i64>,
}

fn member() -> String {
    "member".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationRow {
    pub number: i64,
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub direct_key: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRow {
    pub conversation: i64,
    pub user: i64,
    pub last_read: i64,
    pub joined_at: i64,
}

/// A file's metadata; its bytes travel beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRow {
    pub number: i64,
    pub id: String,
    pub owner: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: i64,
    pub conversation: i64,
    pub sender: i64,
    pub body: String,
    pub file: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
    pub incomplete: bool,
    pub reply_to: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FriendRow {
    pub user: i64,
    pub friend: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostRow {
    pub id: i64,
    pub author: i64,
    pub title: String,
    pub content: String,
    pub created_at: i64,
}

/// Run `f` on every row of `sql`, without collecting them: a table of a
/// million messages streams through.
fn each<T>(
    c: &Connection,
    sql: &str,
    map: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    mut f: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        f(map(row)?)?;
    }
    Ok(())
}

pub fn each_user(c: &Connection, f: impl FnMut(UserRow) -> Result<()>) -> Result<()> {
    let sql = "SELECT number, id, username, email, name, first_name, last_name, bio, profile_picture, public_key,
                      ready_to_chat, created_at, last_seen_at, is_bot, role, deactivated_at
               FROM users ORDER BY number";
    let map = |r: &Row<'_>| {
        Ok(UserRow {
            number: r.get(0)?,
            id: r.get(1)?,
            username: r.get(2)?,
            email: r.get(3)?,
            name: r.get(4)?,
            first_name: r.get(5)?,
            last_name: r.get(6)?,
            bio: r.get(7)?,
            profile_picture: r.get(8)?,
            public_key: r.get(9)?,
            ready_to_chat: r.get(10)?,
            created_at: r.get(11)?,
            last_seen_at: r.get(12)?,
            is_bot: r.get(13)?,
            role: r.get(14)?,
            deactivated_at: r.get(15)?,
        })
    };
    each(c, sql, map, f)
}

pub fn each_conversation(c: &Connection, f: impl FnMut(ConversationRow) -> Result<()>) -> Result<()> {
    let sql = "SELECT number, id, kind, name, direct_key, created_by, created_at FROM conversations ORDER BY number";
    let map = |r: &Row<'_>| {
        Ok(ConversationRow {
            number: r.get(0)?,
            id: r.get(1)?,
            kind: r.get(2)?,
            name: r.get(3)?,
            direct_key: r.get(4)?,
            created_by: r.get(5)?,
            created_at: r.get(6)?,
        })
    };
    each(c, sql, map, f)
}

pub fn each_member(c: &Connection, f: impl FnMut(MemberRow) -> Result<()>) -> Result<()> {
    let sql = "SELECT conversation, user, last_read, joined_at FROM members ORDER BY conversation, user";
    let map = |r: &Row<'_>| {
        Ok(MemberRow {
            conversation: r.get(0)?,
            user: r.get(1)?,
            last_read: r.get(2)?,
            joined_at: r.get(3)?,
        })
    };
    each(c, sql, map, f)
}

/// Every file with its bytes, one at a time.
pub fn each_file(c: &Connection, f: impl FnMut((FileRow, Vec<u8>)) -> Result<()>) -> Result<()> {
    let sql = "SELECT number, id, owner, name, content_type, size, created_at, data FROM files ORDER BY number";
    let map = |r: &Row<'_>| {
        Ok((
            FileRow {
                number: r.get(0)?,
                id: r.get(1)?,
                owner: r.get(2)?,
                name: r.get(3)?,
                content_type: r.get(4)?,
                size: r.get(5)?,
                created_at: r.get(6)?,
            },
            r.get(7)?,
        ))
    };
    each(c, sql, map, f)
}

pub fn each_message(c: &Connection, f: impl FnMut(MessageRow) -> Result<()>) -> Result<()> {
    let sql = "SELECT id, conversation, sender, body, file, created_at, updated_at, deleted, incomplete, reply_to
               FROM messages ORDER BY id";
    let map = |r: &Row<'_>| {
        Ok(MessageRow {
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
    };
    each(c, sql, map, f)
}

pub fn each_friend(c: &Connection, f: impl FnMut(FriendRow) -> Result<()>) -> Result<()> {
    let sql = "SELECT user, friend, created_at FROM friends ORDER BY user, friend";
    let map = |r: &Row<'_>| {
        Ok(FriendRow {
            user: r.get(0)?,
            friend: r.get(1)?,
            created_at: r.get(2)?,
        })
    };
    each(c, sql, map, f)
}

pub fn each_post(c: &Connection, f: impl FnMut(PostRow) -> Result<()>) -> Result<()> {
    let sql = "SELECT id, author, title, content, created_at FROM posts ORDER BY id";
    let map = |r: &Row<'_>| {
        Ok(PostRow {
            id: r.get(0)?,
            author: r.get(1)?,
            title: r.get(2)?,
            content: r.get(3)?,
            created_at: r.get(4)?,
        })
    };
    each(c, sql, map, f)
}

/// Insert a user with `password_hash` (an import's is unusable).
pub fn insert_user(c: &Connection, u: &UserRow, password_hash: &str) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO users (number, id, username, username_key, email, email_key, password_hash, name, first_name,
                            last_name, bio, profile_picture, public_key, ready_to_chat, created_at, last_seen_at,
                            is_bot, role, deactivated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        u.number,
        u.id,
        u.username,
        super::users::key(&u.username),
        u.email,
        u.email.as_deref().map(super::users::key),
        password_hash,
        u.name,
        u.first_name,
        u.last_name,
        u.bio,
        u.profile_picture,
        u.public_key,
        u.ready_to_chat,
        u.created_at,
        u.last_seen_at,
        u.is_bot,
        u.role,
        u.deactivated_at
    ])?;
    Ok(())
}

pub fn insert_conversation(c: &Connection, v: &ConversationRow) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO conversations (number, id, kind, name, direct_key, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        v.number,
        v.id,
        v.kind,
        v.name,
        v.direct_key,
        v.created_by,
        v.created_at
    ])?;
    Ok(())
}

pub fn insert_member(c: &Connection, m: &MemberRow) -> Result<()> {
    c.prepare_cached("INSERT INTO members (conversation, user, last_read, joined_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![m.conversation, m.user, m.last_read, m.joined_at])?;
    Ok(())
}

pub fn insert_file(c: &Connection, f: &FileRow, data: &[u8]) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO files (number, id, owner, name, content_type, size, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        f.number,
        f.id,
        f.owner,
        f.name,
        f.content_type,
        data.len() as i64,
        data,
        f.created_at
    ])?;
    Ok(())
}

pub fn insert_message(c: &Connection, m: &MessageRow) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO messages (id, conversation, sender, body, file, created_at, updated_at, deleted, incomplete,
                               reply_to)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        m.id,
        m.conversation,
        m.sender,
        m.body,
        m.file,
        m.created_at,
        m.updated_at,
        m.deleted,
        m.incomplete,
        m.reply_to
    ])?;
    // Its id stays taken in the change log's sequence, which new messages
    // take their ids from.
    super::changes::imported_message(
        &super::Tx::sqlite(c),
        crate::model::MessageId(m.id),
        crate::model::ConversationId(m.conversation),
        crate::model::UserId(m.sender),
        crate::model::Timestamp(m.created_at),
    )
}

pub fn insert_friend(c: &Connection, f: &FriendRow) -> Result<()> {
    c.prepare_cached("INSERT INTO friends (user, friend, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![f.user, f.friend, f.created_at])?;
    Ok(())
}

pub fn insert_post(c: &Connection, p: &PostRow) -> Result<()> {
    c.prepare_cached("INSERT INTO posts (id, author, title, content, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![p.id, p.author, p.title, p.content, p.created_at])?;
    Ok(())
}

/// Files owned by `user` (metadata only), for a user's own export.
pub fn files_of(c: &super::Tx<'_>, user: crate::model::UserId) -> Result<Vec<crate::model::FileMeta>> {
    super::collect(
        c,
        "SELECT f.number, f.id, f.owner, f.name, f.content_type, f.size FROM files f WHERE f.owner = ?1
         ORDER BY f.number",
        super::params![user],
        super::files::from_row,
    )
}
