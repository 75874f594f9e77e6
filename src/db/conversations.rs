//! Conversations (rooms, direct pairs, AI chats) and their members.

use super::{Optional, Row, params};

use super::{SqlResult, Tx};
use uuid::Uuid;

use super::users::{BRIEF_COLUMNS, brief_from_row, parse_uuid};
use crate::error::{Error, Result};
use crate::model::{
    Conversation, ConversationId, ConversationSummary, Kind, MessageId, NotifyLevel, Timestamp, UserBrief, UserId,
};

fn from_row(r: &Row<'_>) -> SqlResult<Conversation> {
    let kind: String = r.get(2)?;
    Ok(Conversation {
        id: r.get(0)?,
        uuid: parse_uuid(&r.get::<_, String>(1)?)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Room),
        name: r.get(3)?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
    })
}

fn direct_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo}:{hi}")
}

fn one(c: &Tx<'_>, sql: &str, arg: &dyn super::Value) -> Result<Option<Conversation>> {
    Ok(c.prepare_cached(sql)?.query_row(&[arg], from_row).optional()?)
}

macro_rules! select_one {
    ($clause:literal) => {
        concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM conversations c WHERE ",
            $clause
        )
    };
}

pub fn by_id(c: &Tx<'_>, id: ConversationId) -> Result<Option<Conversation>> {
    one(c, select_one!("c.number = ?1"), &id)
}

pub fn by_uuid(c: &Tx<'_>, id: &Uuid) -> Result<Option<Conversation>> {
    one(c, select_one!("c.id = ?1"), &id.to_string())
}

pub fn room_by_name(c: &Tx<'_>, name: &str) -> Result<Option<Conversation>> {
    one(c, select_one!("c.kind = 'room' AND c.name = ?1"), &name)
}

pub fn direct_between(c: &Tx<'_>, a: UserId, b: UserId) -> Result<Option<Conversation>> {
    one(c, select_one!("c.direct_key = ?1"), &direct_key(a, b))
}

fn insert(c: &Tx<'_>, kind: Kind, name: Option<&str>, key: Option<&str>, by: UserId) -> Result<Conversation> {
    let uuid = Uuid::new_v4();
    let now = Timestamp::now();
    let id: ConversationId = c
        .prepare_cached(
            "INSERT INTO conversations (id, kind, name, direct_key, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING number",
        )?
        .query_row(params![uuid.to_string(), kind.as_str(), name, key, by, now], |r| {
            r.get(0)
        })?;
    Ok(Conversation {
        id,
        uuid,
        kind,
        name: name.map(str::to_owned),
        created_by: Some(by),
        created_at: now,
    })
}

/// A new room with its creator and `others` as members.
pub fn create_room(c: &Tx<'_>, name: &str, creator: UserId, others: &[UserId]) -> Result<Conversation> {
    if room_by_name(c, name)?.is_some() {
        return Err(Error::Conflict(format!("a room named `{name}` already exists")));
    }
    let conv = insert(c, Kind::Room, Some(name), None, creator)?;
    add_member(c, conv.id, creator)?;
    for &u in others {
        add_member(c, conv.id, u)?;
    }
    Ok(conv)
}

/// The one conversation of a pair (`kind` direct, or ai when one of them is
/// the agent), created on first use; true if new.
pub fn get_or_create_pair(c: &Tx<'_>, a: UserId, b: UserId, kind: Kind) -> Result<(Conversation, bool)> {
    if let Some(conv) = direct_between(c, a, b)? {
        return Ok((conv, false));
    }
    let conv = insert(c, kind, None, Some(&direct_key(a, b)), a)?;
    add_member(c, conv.id, a)?;
    add_member(c, conv.id, b)?;
    Ok((conv, true))
}

/// Add a member (no-op if already one); true if added.
pub fn add_member(c: &Tx<'_>, conv: ConversationId, user: UserId) -> Result<bool> {
    // A new member starts with everything before joining marked read.
    let n = c
        .prepare_cached(
            "INSERT INTO members (conversation, \"user\", last_read, joined_at)
             VALUES (?1, ?2, COALESCE((SELECT MAX(id) FROM messages WHERE conversation = ?1), 0), ?3)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![conv, user, Timestamp::now()])?;
    Ok(n > 0)
}

pub fn remove_member(c: &Tx<'_>, conv: ConversationId, user: UserId) -> Result<bool> {
    let n = c
        .prepare_cached("DELETE FROM members WHERE conversation = ?1 AND \"user\" = ?2")?
        .execute(params![conv, user])?;
    Ok(n > 0)
}

/// The member's last-read id, or `None` if not a member.
pub fn membership(c: &Tx<'_>, conv: ConversationId, user: UserId) -> Result<Option<MessageId>> {
    Ok(
        c.prepare_cached("SELECT last_read FROM members WHERE conversation = ?1 AND \"user\" = ?2")?
            .query_row(params![conv, user], |r| r.get(0))
            .optional()?,
    )
}

pub fn member_ids(c: &Tx<'_>, conv: ConversationId) -> Result<Vec<UserId>> {
    super::collect(
        c,
        "SELECT \"user\" FROM members WHERE conversation = ?1 ORDER BY \"user\"",
        params![conv],
        |r| r.get(0),
    )
}

/// The members, in user-number order (the primary key's order: no sort).
pub fn members(c: &Tx<'_>, conv: ConversationId) -> Result<Vec<UserBrief>> {
    let sql = concat!(
        "SELECT ",
        brief_columns!(),
        " FROM members m JOIN users u ON u.number = m.user WHERE m.conversation = ?1 ORDER BY m.user"
    );
    super::collect(c, sql, params![conv], |r| brief_from_row(r, 0))
}

/// Move a member's read mark forward (never back); returns the new mark.
/// Move `user`'s read mark forward to `upto`: the mark now, and whether it moved.
pub fn mark_read(c: &Tx<'_>, conv: ConversationId, user: UserId, upto: MessageId) -> Result<(MessageId, bool)> {
    let moved = c
        .prepare_cached(
            "UPDATE members SET last_read = ?3 WHERE conversation = ?1 AND \"user\" = ?2 AND last_read < ?3",
        )?
        .execute(params![conv, user, upto])?
        > 0;
    let mark = membership(c, conv, user)?.ok_or_else(|| Error::forbidden("not a member of this conversation"))?;
    Ok((mark, moved))
}

pub fn member_count(c: &Tx<'_>, conv: ConversationId) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT COUNT(*) FROM members WHERE conversation = ?1")?
            .query_row(params![conv], |r| r.get(0))?,
    )
}

pub fn rename_room(c: &Tx<'_>, conv: ConversationId, name: &str) -> Result<()> {
    if let Some(other) = room_by_name(c, name)?
        && other.id != conv
    {
        return Err(Error::Conflict(format!("a room named `{name}` already exists")));
    }
    c.prepare_cached("UPDATE conversations SET name = ?2 WHERE number = ?1 AND kind = 'room'")?
        .execute(params![conv, name])?;
    Ok(())
}

/// Delete a conversation with its members and messages.
pub fn delete(c: &Tx<'_>, conv: ConversationId) -> Result<()> {
    c.prepare_cached("DELETE FROM conversations WHERE number = ?1")?
        .execute(params![conv])?;
    Ok(())
}

/// The ids of the user's conversations.
pub fn ids_of(c: &Tx<'_>, user: UserId) -> Result<Vec<ConversationId>> {
    super::collect(
        c,
        "SELECT conversation FROM members WHERE \"user\" = ?1",
        params![user],
        |r| r.get(0),
    )
}

/// The user's conversations, newest activity first.
pub fn for_user(c: &Tx<'_>, user: UserId) -> Result<Vec<ConversationSummary>> {
    let sql = concat!(
        "SELECT ",
        conversation_columns!(),
        ", m.last_read, m.notify FROM members m JOIN conversations c ON c.number = m.conversation
         WHERE m.user = ?1
         ORDER BY COALESCE((SELECT MAX(id) FROM messages WHERE conversation = c.number), 0) DESC, c.number DESC"
    );
    let rows: Vec<(Conversation, MessageId, String)> =
        super::collect(c, sql, params![user], |r| Ok((from_row(r)?, r.get(6)?, r.get(7)?)))?;
    rows.into_iter()
        .map(|(conversation, last_read, notify)| {
            let mark = Mark {
                last_read,
                notify: NotifyLevel::parse(&notify).unwrap_or_default(),
            };
            summary(c, conversation, user, mark)
        })
        .collect()
}

/// Where a member has read to, and what they want to hear.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    pub last_read: MessageId,
    pub notify: NotifyLevel,
}

/// The member's read mark and notify level, or `None` if not a member.
pub fn mark(c: &Tx<'_>, conv: ConversationId, user: UserId) -> Result<Option<Mark>> {
    let row: Option<(MessageId, String)> = c
        .prepare_cached("SELECT last_read, notify FROM members WHERE conversation = ?1 AND \"user\" = ?2")?
        .query_row(params![conv, user], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(last_read, notify)| Mark {
        last_read,
        notify: NotifyLevel::parse(&notify).unwrap_or_default(),
    }))
}

/// Set what a member wants to hear of `conv`; whether it changed (`None`:
/// not a member).
pub fn set_notify(c: &Tx<'_>, conv: ConversationId, user: UserId, level: NotifyLevel) -> Result<Option<bool>> {
    let Some(was) = mark(c, conv, user)? else {
        return Ok(None);
    };
    if was.notify == level {
        return Ok(Some(false));
    }
    c.prepare_cached("UPDATE members SET notify = ?3 WHERE conversation = ?1 AND \"user\" = ?2")?
        .execute(params![conv, user, level.as_str()])?;
    Ok(Some(true))
}

/// Each member's notify level (for who hears of a message).
pub fn notify_levels(c: &Tx<'_>, conv: ConversationId) -> Result<Vec<(UserId, NotifyLevel)>> {
    super::collect(
        c,
        "SELECT \"user\", notify FROM members WHERE conversation = ?1",
        params![conv],
        |r| {
            let level: String = r.get(1)?;
            Ok((r.get(0)?, NotifyLevel::parse(&level).unwrap_or_default()))
        },
    )
}

/// One conversation as `user` (a member, whose mark is `mark`) sees it.
pub fn summary(c: &Tx<'_>, conversation: Conversation, user: UserId, mark: Mark) -> Result<ConversationSummary> {
    let last_read = mark.last_read;
    let newest = super::messages::Page {
        before: None,
        after: None,
        limit: 1,
    };
    let last_message = super::messages::page(c, conversation.id, newest)?.pop();
    let unread: i64 = c
        .prepare_cached(
            "SELECT COUNT(*) FROM messages
             WHERE conversation = ?1 AND id > ?2 AND sender != ?3 AND NOT deleted",
        )?
        .query_row(params![conversation.id, last_read, user], |r| r.get(0))?;
    let unread_mentions = if unread > 0 {
        super::mentions::unread(c, user, conversation.id, last_read)?
    } else {
        0
    };
    let members = members(c, conversation.id)?;
    Ok(ConversationSummary {
        conversation,
        members,
        last_message,
        unread,
        unread_mentions,
        notify: mark.notify,
        last_read,
    })
}

/// Public rooms with their member counts and whether `user` is in each.
pub fn rooms(c: &Tx<'_>, user: UserId) -> Result<Vec<(Conversation, i64, bool)>> {
    let sql = concat!(
        "SELECT ",
        conversation_columns!(),
        ", (SELECT COUNT(*) FROM members WHERE conversation = c.number),
           EXISTS (SELECT 1 FROM members WHERE conversation = c.number AND \"user\" = ?1)
         FROM conversations c WHERE c.kind = 'room' ORDER BY c.name"
    );
    super::collect(c, sql, params![user], |r| Ok((from_row(r)?, r.get(6)?, r.get(7)?)))
}

/// Everyone who shares a conversation of at most `max_members` members
/// with `user` (0: of any size), for presence. A bigger room's count stops
/// at the limit.
pub fn contacts(c: &Tx<'_>, user: UserId, max_members: u32) -> Result<Vec<UserId>> {
    macro_rules! sql {
        ($($more:literal)?) => {
            concat!(
                "SELECT DISTINCT b.user FROM members a JOIN members b ON b.conversation = a.conversation
                 WHERE a.user = ?1 AND b.user != ?1"
                $(, $more)?
            )
        };
    }
    if max_members == 0 {
        return super::collect(c, sql!(), params![user], |r| r.get(0));
    }
    super::collect(
        c,
        sql!(
            " AND (SELECT COUNT(*) FROM (SELECT 1 FROM members n WHERE n.conversation = a.conversation LIMIT ?2) AS x) < ?2"
        ),
        params![user, i64::from(max_members) + 1],
        |r| r.get(0),
    )
}

/// Direct conversations of a user, with the other member (threads dialect).
pub fn directs_of(c: &Tx<'_>, user: UserId) -> Result<Vec<(Conversation, UserBrief, Option<MessageId>)>> {
    let sql = concat!(
        "SELECT ",
        conversation_columns!(),
        ", ",
        brief_columns!(),
        ", (SELECT MAX(id) FROM messages WHERE conversation = c.number) AS last_id
         FROM members me
         JOIN conversations c ON c.number = me.conversation AND c.kind IN ('direct', 'ai')
         JOIN members other ON other.conversation = c.number AND other.user != me.user
         JOIN users u ON u.number = other.user
         WHERE me.user = ?1
         ORDER BY c.number"
    );
    super::collect(c, sql, params![user], |r| {
        Ok((from_row(r)?, brief_from_row(r, 6)?, r.get(6 + BRIEF_COLUMNS)?))
    })
}
