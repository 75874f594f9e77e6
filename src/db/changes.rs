//! The change log: one row per change a client must not miss, written in
//! the same transaction as the change, read back in id order on resume, and
//! pruned by age.
//!
//! A message's id is its `message` change's id: `next_message_id` takes the
//! id from this table's sequence and the message is stored under it.

use super::{Optional, params};

use super::{Row, SqlResult, Tx};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{ConversationId, EventId, MessageId, Timestamp, UserId};

/// The highest id pruned from the log: a cursor below it may have missed
/// changes that are gone.
const FLOOR_KEY: &str = "changes_floor";

/// What kind of change a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message,
    Edited,
    Deleted,
    Read,
    Room,
    Reaction,
    /// A member's notify level for a conversation (theirs alone).
    Notify,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Edited => "edited",
            Kind::Deleted => "deleted",
            Kind::Read => "read",
            Kind::Room => "room",
            Kind::Reaction => "reaction",
            Kind::Notify => "notify",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "message" => Kind::Message,
            "edited" => Kind::Edited,
            "deleted" => Kind::Deleted,
            "read" => Kind::Read,
            "room" => Kind::Room,
            "reaction" => Kind::Reaction,
            "notify" => Kind::Notify,
            _ => return None,
        })
    }
}

/// Who may see a change on resume (besides what the live event reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The conversation's members (as they are when it is replayed).
    Members = 0,
    /// The members and the change's user (someone who left hears it).
    MembersAndUser = 1,
    /// Everyone (a room made, renamed or deleted: rooms are public).
    Everyone = 2,
    /// The change's user alone (their own settings).
    User = 3,
}

/// What a change needs, besides its row, to be replayed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Data {
    /// `read`: the new mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upto: Option<i64>,
    /// `room`: created, joined, left, renamed or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// `room`: the room's UUID and name then (a deleted room has no row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `room`: its member count then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<i64>,
    /// `reaction`: the emoji, and whether it was added (or taken back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<bool>,
    /// `notify`: the new level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// `message`, an agent's reply: the id its deltas went out under (other
    /// nodes read the reply from the log and send it under that id, so the
    /// clients they serve swap the streamed draft for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// One row of the log.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: EventId,
    pub conversation: ConversationId,
    pub kind: Kind,
    /// The message it is about (a `message` change: the message itself).
    pub message: Option<MessageId>,
    pub user: Option<UserId>,
    pub data: Data,
}

/// A change to write.
pub struct New<'a> {
    pub conversation: ConversationId,
    pub kind: Kind,
    pub message: Option<MessageId>,
    pub user: Option<UserId>,
    pub audience: Audience,
    pub data: Option<&'a Data>,
}

/// Write a change (inside the write that makes it); its id.
pub fn record(c: &Tx<'_>, new: &New<'_>) -> Result<EventId> {
    let data = new
        .data
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| crate::error::Error::Internal(format!("change data: {e}")))?;
    Ok(c.prepare_cached(
        "INSERT INTO changes (conversation, kind, message, \"user\", audience, data, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )?
    .query_row(
        params![
            new.conversation,
            new.kind.as_str(),
            new.message,
            new.user,
            new.audience as i64,
            data,
            Timestamp::now()
        ],
        |r| r.get(0),
    )?)
}

/// The id a new message is stored under: a `message` change is written and
/// its id is the message's. `reply`: an agent's reply id (`Data::reply`).
pub fn next_message_id(
    c: &Tx<'_>,
    conversation: ConversationId,
    sender: UserId,
    reply: Option<uuid::Uuid>,
) -> Result<MessageId> {
    let data = reply.map(|r| format!("{{\"reply\":\"{r}\"}}"));
    Ok(c.prepare_cached(
        "INSERT INTO changes (conversation, kind, \"user\", data, at) VALUES (?1, 'message', ?2, ?3, ?4) RETURNING id",
    )?
    .query_row(params![conversation, sender, data, Timestamp::now()], |r| r.get(0))?)
}

/// An imported message keeps its id: its `message` change gets the same.
pub fn imported_message(
    c: &Tx<'_>,
    id: MessageId,
    conversation: ConversationId,
    sender: UserId,
    at: Timestamp,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO changes (id, conversation, kind, \"user\", at) VALUES (?1, ?2, 'message', ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![id, conversation, sender, at])?;
    Ok(())
}

fn from_row(r: &Row<'_>) -> SqlResult<Option<Change>> {
    let id: EventId = r.get(0)?;
    let kind: String = r.get(2)?;
    let data: Option<String> = r.get(5)?;
    let Some(kind) = Kind::parse(&kind) else {
        return Ok(None);
    };
    let message: Option<MessageId> = r.get(3)?;
    Ok(Some(Change {
        id,
        conversation: r.get(1)?,
        kind,
        message: if kind == Kind::Message {
            Some(MessageId(id.0))
        } else {
            message
        },
        user: r.get(4)?,
        // A row this version cannot read is replayed without its extras.
        data: data.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_default(),
    }))
}

/// A conversation's changes are read at least this many at a time when a
/// resume merges the reader's conversations.
const MIN_PER_CONVERSATION: i64 = 64;
/// A reader in more conversations than this has the log walked in id order
/// instead (a read per conversation per page would cost more than the rows
/// the walk passes over that are not theirs).
const MERGE_MAX_CONVERSATIONS: usize = 64;

macro_rules! change_columns {
    () => {
        "SELECT id, conversation, kind, message, \"user\", data, audience FROM changes"
    };
}

/// A row read for a page: its id, its change (if this version can read
/// it), and whether it is for a conversation's members rather than the
/// user alone (`audience != 3`).
type Read = (EventId, Option<Change>, ConversationId, bool);

fn read_row(r: &Row<'_>) -> SqlResult<Read> {
    let audience: i64 = r.get(6)?;
    Ok((r.get(0)?, from_row(r)?, r.get(1)?, audience != Audience::User as i64))
}

/// The changes after `after` that `user` may see, in order, at most
/// `limit`; the id they cover the log up to (rows of a kind this version
/// cannot read are skipped, and covered); whether there may be more. With
/// `conversation`, only that conversation's.
///
/// A merged page reads up to the newest id when it began (`latest`): on
/// PostgreSQL each statement has a snapshot of its own, and ids commit in
/// order, so the changes up to that id are the same for all its
/// statements. What commits later reaches the socket live (it subscribed
/// before this read).
///
/// A reader in few conversations (`MERGE_MAX_CONVERSATIONS`) has each read
/// from the cursor on (the `changes_by_conversation` index), and the few
/// changes that reach people beyond a conversation's members (a partial
/// index), and the rows merged in id order. Each source is read
/// `limit / sources` rows at a time (at least `MIN_PER_CONVERSATION`); one
/// that returned all it was asked for may hold more, so the page ends at
/// the lowest last id of those, and they are read further until the page
/// holds `limit` or they run out. A page so costs about `limit` rows
/// however the changes are spread, where walking the log in id order read
/// every change after the cursor, the other conversations' too (500,000
/// rows to replay 10,000 for a reader in 20 of 1,000 busy rooms).
pub fn after(
    c: &Tx<'_>,
    user: UserId,
    conversation: Option<ConversationId>,
    after: EventId,
    limit: i64,
) -> Result<(Vec<Change>, EventId, bool)> {
    // One statement, one snapshot: the page is what it read.
    let whole = |read: Vec<Read>| {
        let more = read.len() as i64 == limit;
        page(read.into_iter().map(|(id, ch, _, _)| (id, ch)).collect(), after, more)
    };
    if let Some(conv) = conversation {
        return Ok(whole(super::collect(
            c,
            concat!(
                change_columns!(),
                " WHERE conversation = ?2 AND id > ?1 AND (audience != 3 OR \"user\" = ?4) ORDER BY id LIMIT ?3"
            ),
            params![after, conv, limit, user],
            read_row,
        )?));
    }
    let conversations = super::conversations::ids_of(c, user)?;
    if conversations.len() > MERGE_MAX_CONVERSATIONS {
        return Ok(whole(super::collect(
            c,
            concat!(
                change_columns!(),
                " WHERE id > ?1
                    AND ((audience != 3 AND conversation IN (SELECT conversation FROM members WHERE \"user\" = ?2))
                         OR audience = 2 OR (audience IN (1, 3) AND \"user\" = ?2))
                  ORDER BY id LIMIT ?3"
            ),
            params![after, user, limit],
            read_row,
        )?));
    }
    // Many statements: each reads up to the same newest id.
    let newest = latest(c)?;
    let mut rows: Vec<(EventId, Option<Change>)> = Vec::new();
    let members: std::collections::HashSet<ConversationId> = conversations.iter().copied().collect();
    // Each source: a conversation (None: the changes beyond members), how
    // far it was read, and whether that read returned all it asked for.
    let mut sources: Vec<(Option<ConversationId>, EventId, bool)> = conversations
        .into_iter()
        .map(Some)
        .chain([None])
        .map(|conv| (conv, after, true))
        .collect();
    let per = (limit / sources.len() as i64).max(MIN_PER_CONVERSATION);
    let mut to_read: Vec<usize> = (0..sources.len()).collect();
    let cut = loop {
        for &i in &to_read {
            let (conv, from, _) = sources[i];
            let read = match conv {
                Some(conv) => super::collect(
                    c,
                    concat!(
                        change_columns!(),
                        " WHERE conversation = ?2 AND id > ?1 AND id <= ?4 AND audience != 3 ORDER BY id LIMIT ?3"
                    ),
                    params![from, conv, per, newest],
                    read_row,
                )?,
                // Public rooms' changes, and the user's own; those of the
                // user's conversations other than their own settings came
                // with the conversation (the same member list: one view of
                // who is a member for the whole page).
                None => super::collect(
                    c,
                    concat!(
                        change_columns!(),
                        " WHERE audience != 0 AND id > ?1 AND id <= ?4
                            AND (audience = 2 OR (audience IN (1, 3) AND \"user\" = ?2))
                          ORDER BY id LIMIT ?3"
                    ),
                    params![from, user, per, newest],
                    read_row,
                )?,
            };
            sources[i].2 = read.len() as i64 == per;
            if let Some((last, ..)) = read.last() {
                sources[i].1 = *last;
            }
            rows.extend(
                read.into_iter()
                    .filter(|(_, _, conv_of, for_members)| {
                        conv.is_some() || !(*for_members && members.contains(conv_of))
                    })
                    .map(|(id, ch, _, _)| (id, ch)),
            );
        }
        // Up to the lowest id a source that may hold more reached, every
        // change is read.
        let Some(cut) = sources.iter().filter(|s| s.2).map(|s| s.1).min() else {
            break None;
        };
        if rows.iter().filter(|(id, _)| *id <= cut).count() as i64 >= limit {
            break Some(cut);
        }
        to_read = (0..sources.len())
            .filter(|&i| sources[i].2 && sources[i].1 == cut)
            .collect();
    };
    rows.sort_unstable_by_key(|(id, _)| *id);
    let mut more = cut.is_some();
    if let Some(cut) = cut {
        rows.retain(|(id, _)| *id <= cut);
    }
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        more = true;
    }
    Ok(page(rows, after, more))
}

/// Rows read, in id order, as a page: its changes, the id it covers up to.
fn page(rows: Vec<(EventId, Option<Change>)>, after: EventId, more: bool) -> (Vec<Change>, EventId, bool) {
    let upto = rows.last().map_or(after, |(id, _)| *id);
    (rows.into_iter().filter_map(|(_, ch)| ch).collect(), upto, more)
}

/// The newest id handed out (0 before the first change).
pub fn latest(c: &Tx<'_>) -> Result<EventId> {
    let sql = match c.as_sqlite() {
        Some(_) => "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)",
        // PostgreSQL has no sqlite_sequence, and its sequence's value may be
        // an id not yet committed. Pruning deletes the oldest ids only, so
        // the newest id is MAX(id), or the floor once every row is pruned
        // (the number sqlite_sequence holds).
        None => {
            "SELECT COALESCE((SELECT MAX(id) FROM changes),
                 (SELECT value FROM meta_integers WHERE key = 'changes_floor'), 0)"
        }
    };
    Ok(c.prepare_cached(sql)?.query_row(params![], |r| r.get(0))?)
}

/// The highest id pruned: a cursor below it may have missed changes.
pub fn floor(c: &Tx<'_>) -> Result<EventId> {
    let sql = match c.as_sqlite() {
        Some(_) => "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1",
        // PostgreSQL's meta is bytea (the secrets); its integers have a table
        // of their own.
        None => "SELECT value FROM meta_integers WHERE key = ?1",
    };
    let v: Option<i64> = c
        .prepare_cached(sql)?
        .query_row(params![FLOOR_KEY], |r| r.get(0))
        .optional()?;
    Ok(EventId(v.unwrap_or(0)))
}

/// The newest change made before `cutoff`, found by bisecting ids (they
/// grow with time; `at` has no index, and the send path is kept free of one).
pub fn last_before(c: &Tx<'_>, cutoff: Timestamp) -> Result<Option<EventId>> {
    let at_or_after = |id: i64| -> Result<Option<(i64, Timestamp)>> {
        Ok(
            c.prepare_cached("SELECT id, at FROM changes WHERE id >= ?1 ORDER BY id LIMIT 1")?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?,
        )
    };
    let Some((first, first_at)) = at_or_after(0)? else {
        return Ok(None);
    };
    if first_at >= cutoff {
        return Ok(None);
    }
    // `lo` is a change before the cutoff; `hi` is past every such change.
    let (mut lo, mut hi) = (first, latest(c)?.0 + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match at_or_after(mid)? {
            Some((id, at)) if at < cutoff => lo = id,
            _ => hi = mid,
        }
    }
    Ok(Some(EventId(lo)))
}

/// Delete up to `batch` changes with ids up to `upto`, and raise the floor;
/// how many went.
pub fn prune(c: &Tx<'_>, upto: EventId, batch: i64) -> Result<usize> {
    let n = c
        .prepare_cached("DELETE FROM changes WHERE id IN (SELECT id FROM changes WHERE id <= ?1 ORDER BY id LIMIT ?2)")?
        .execute(params![upto, batch])?;
    // The floor is the newest id gone (or to go, if this batch did not
    // reach it): a resume from below it must reload.
    let gone: Option<i64> = c
        .prepare_cached("SELECT MIN(id) - 1 FROM changes WHERE id <= ?1")?
        .query_row(params![upto], |r| r.get(0))?;
    let floor = gone.unwrap_or(upto.0);
    // Raised, never lowered.
    let sql = match c.as_sqlite() {
        Some(_) => {
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)"
        }
        None => {
            "INSERT INTO meta_integers (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE
             SET value = CASE WHEN excluded.value > meta_integers.value THEN excluded.value ELSE meta_integers.value END"
        }
    };
    c.prepare_cached(sql)?.execute(params![FLOOR_KEY, floor])?;
    Ok(n)
}

/// The node id the writer's connection writes into `changes.node`
/// (PostgreSQL only: the `natter.node` setting of `pg::tagged`).
pub fn writer_node(c: &Tx<'_>) -> Result<Option<String>> {
    Ok(c.prepare_cached("SELECT current_setting('natter.node', true)")?
        .query_row(params![], |r| r.get(0))?)
}

/// A change as the bus hands it to every node: the row, who may see it, and
/// the node that wrote it (`None`: written outside a node, by `natter admin`
/// or an import).
pub struct Logged {
    pub change: Change,
    pub audience: Audience,
    pub node: Option<String>,
}

impl Audience {
    fn from_i64(n: i64) -> Audience {
        match n {
            1 => Audience::MembersAndUser,
            2 => Audience::Everyone,
            3 => Audience::User,
            _ => Audience::Members,
        }
    }
}

/// Every change after `after`, in id order, at most `limit` (PostgreSQL
/// only: the `node` column is its migration 0002's). The last id read comes
/// back too, and how many rows were read: a row this version cannot read
/// still moves the cursor and counts toward the page.
pub fn for_bus(c: &Tx<'_>, after: EventId, limit: i64) -> Result<(Vec<Logged>, Option<EventId>, usize)> {
    let rows = super::collect(
        c,
        "SELECT id, conversation, kind, message, \"user\", data, audience, node FROM changes
          WHERE id > ?1 ORDER BY id LIMIT ?2",
        params![after, limit],
        |r| {
            let id: EventId = r.get(0)?;
            let audience: i64 = r.get(6)?;
            let node: Option<String> = r.get(7)?;
            Ok((
                id,
                from_row(r)?.map(|change| Logged {
                    change,
                    audience: Audience::from_i64(audience),
                    node,
                }),
            ))
        },
    )?;
    let last = rows.last().map(|(id, _)| *id);
    let read = rows.len();
    Ok((rows.into_iter().filter_map(|(_, l)| l).collect(), last, read))
}
