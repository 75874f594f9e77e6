//! Public rooms over their life: created, joined, left, renamed, deleted —
//! each change published live, so lists and member counts never go stale.
//!
//! A new, renamed or deleted room is news to everyone with a socket open
//! (rooms are public, and these are rare). Joins and leaves go to the
//! room's members only: a count that changes with every join must not cost
//! a frame per online user.

use std::sync::Arc;

use crate::db::Tx;
use uuid::Uuid;

use super::cache::Cache;
use super::conversations::{conversation_not_found, load, load_uuid, require_member};
use super::hub::{Event, EventKind, Hub, RoomChange};
use super::{Caller, Core, validate};
use crate::db::{self, changes, changes::Audience};
use crate::error::{Error, Result};
use crate::model::{Conversation, ConversationId, EventId, Kind, UserBrief, UserId};

/// A change to a room, ready to publish after its commit.
pub(crate) struct Changed {
    conversation: Arc<Conversation>,
    change: RoomChange,
    member_count: i64,
    user: Option<Arc<UserBrief>>,
    /// Who hears of it; `None`: everyone online.
    to: Option<Vec<UserId>>,
    /// Its entry in the change log.
    logged: EventId,
}

/// Write a room's change to the change log (inside its write).
fn log(
    c: &Tx<'_>,
    conv: &Conversation,
    change: RoomChange,
    member_count: i64,
    user: Option<UserId>,
    audience: Audience,
) -> Result<EventId> {
    let data = changes::Data {
        change: Some(change.as_str().to_owned()),
        room: Some(conv.uuid.to_string()),
        name: conv.name.clone(),
        member_count: Some(member_count),
        ..changes::Data::default()
    };
    changes::record(
        c,
        &changes::New {
            conversation: conv.id,
            kind: changes::Kind::Room,
            message: None,
            user,
            audience,
            data: Some(&data),
        },
    )
}

impl Changed {
    /// A change every one online hears of (a room made, renamed, deleted),
    /// logged inside its write.
    fn for_everyone(c: &Tx<'_>, conversation: Conversation, change: RoomChange, member_count: i64) -> Result<Self> {
        let logged = log(c, &conversation, change, member_count, None, Audience::Everyone)?;
        Ok(Changed {
            conversation: Arc::new(conversation),
            change,
            member_count,
            user: None,
            to: None,
            logged,
        })
    }

    pub(crate) fn publish(&self, hub: &Hub) {
        let event = Event::recorded(
            EventKind::Room {
                conversation: self.conversation.clone(),
                change: self.change,
                member_count: self.member_count,
                user: self.user.clone(),
            },
            Some(self.logged),
        );
        match &self.to {
            Some(users) => hub.publish(event, users),
            None => hub.publish_all(event),
        }
    }
}

/// `me` joins `conv` (inside a writer job); the change, if `me` was not a member.
pub(crate) fn joined(c: &Tx<'_>, cache: &Cache, conv: &Conversation, me: UserId) -> Result<Option<Changed>> {
    if !db::conversations::add_member(c, conv.id, me)? {
        return Ok(None);
    }
    cache.forget_members(conv.id);
    membership_changed(c, conv, RoomChange::Joined, me).map(Some)
}

fn membership_changed(c: &Tx<'_>, conv: &Conversation, change: RoomChange, user: UserId) -> Result<Changed> {
    let mut to = db::conversations::member_ids(c, conv.id)?;
    let member_count = to.len() as i64;
    let audience = if change == RoomChange::Left {
        // The one who left hears it too (their other tabs).
        to.push(user);
        Audience::MembersAndUser
    } else {
        Audience::Members
    };
    let logged = log(c, conv, change, member_count, Some(user), audience)?;
    let user = db::users::by_id(c, user)?.map(|u| Arc::new(UserBrief::from(&u)));
    Ok(Changed {
        conversation: Arc::new(conv.clone()),
        change,
        member_count,
        user,
        to: Some(to),
        logged,
    })
}

/// A room `me` may manage: its creator, or any room for an admin
/// (`admin`: the caller checked the role).
fn managed(c: &Tx<'_>, conv: Uuid, me: UserId, admin: bool) -> Result<Conversation> {
    let conv = load_uuid(c, &conv)?;
    if conv.kind != Kind::Room {
        return Err(Error::Conflict(
            "a direct conversation cannot be renamed or deleted; only a room can".into(),
        ));
    }
    if !admin {
        require_member(c, &conv, me)?;
        if conv.created_by != Some(me) {
            return Err(Error::forbidden("only the room's creator can rename or delete it"));
        }
    }
    Ok(conv)
}

impl Core {
    /// A new public room with the caller (and `others`) in it.
    pub async fn create_room(&self, caller: &Caller, name: &str, others: Vec<UserId>) -> Result<Conversation> {
        validate::room_name(name)?;
        let me = caller.user;
        let name = name.to_owned();
        let hub = self.hub.clone();
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = db::conversations::create_room(c, &name, me, &others)?;
                    let member_count = db::conversations::member_count(c, conv.id)?;
                    Changed::for_everyone(c, conv, RoomChange::Created, member_count)
                },
                move |changed| changed.publish(&hub),
            )
            .await
            .map(|changed| Arc::unwrap_or_clone(changed.conversation))
    }

    /// Join a public room (a no-op if already in it).
    pub async fn join_room(&self, caller: &Caller, room: ConversationId) -> Result<Conversation> {
        let me = caller.user;
        let (cache, hub) = (self.cache.clone(), self.hub.clone());
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = load(c, room)?;
                    if conv.kind != Kind::Room {
                        return Err(conversation_not_found());
                    }
                    let changed = joined(c, &cache, &conv, me)?;
                    Ok((conv, changed))
                },
                move |(_, changed)| {
                    if let Some(changed) = changed {
                        changed.publish(&hub);
                    }
                },
            )
            .await
            .map(|(conv, _)| conv)
    }

    pub async fn join_room_uuid(&self, caller: &Caller, room: Uuid) -> Result<Conversation> {
        let conv = self.db.read(move |c| load_uuid(c, &room)).await?;
        self.join_room(caller, conv.id).await
    }

    /// Leave a room. Direct conversations cannot be left: there is one per pair.
    pub async fn leave(&self, caller: &Caller, conv: Uuid) -> Result<()> {
        let me = caller.user;
        let (cache, hub) = (self.cache.clone(), self.hub.clone());
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = load_uuid(c, &conv)?;
                    require_member(c, &conv, me)?;
                    if conv.kind.is_pair() {
                        return Err(Error::Conflict(
                            "a direct conversation cannot be left; only a room can".into(),
                        ));
                    }
                    db::conversations::remove_member(c, conv.id, me)?;
                    cache.forget_members(conv.id);
                    membership_changed(c, &conv, RoomChange::Left, me)
                },
                move |changed| changed.publish(&hub),
            )
            .await
            .map(|_| ())
    }

    /// Rename a room (its creator only).
    pub async fn rename_room(&self, caller: &Caller, room: Uuid, name: &str) -> Result<Conversation> {
        let name = name.trim().to_owned();
        validate::room_name(&name)?;
        let me = caller.user;
        let (cache, hub) = (self.cache.clone(), self.hub.clone());
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = managed(c, room, me, false)?;
                    db::conversations::rename_room(c, conv.id, &name)?;
                    cache.forget_conversation(&conv.uuid);
                    let conv = load(c, conv.id)?;
                    let member_count = db::conversations::member_count(c, conv.id)?;
                    Changed::for_everyone(c, conv, RoomChange::Renamed, member_count)
                },
                move |changed| changed.publish(&hub),
            )
            .await
            .map(|changed| Arc::unwrap_or_clone(changed.conversation))
    }

    /// Delete a room with its messages (its creator only).
    pub async fn delete_room(&self, caller: &Caller, room: Uuid) -> Result<()> {
        self.remove_room(caller.user, room, false).await
    }

    /// Delete a room: by `me`, its creator, or (`admin`) by an admin, which
    /// the audit log records.
    pub(super) async fn remove_room(&self, me: UserId, room: Uuid, admin: bool) -> Result<()> {
        let (cache, hub) = (self.cache.clone(), self.hub.clone());
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = managed(c, room, me, admin)?;
                    if admin {
                        db::admin::audit(c, Some(me), "room.delete", conv.name.as_deref().unwrap_or_default(), "")?;
                    }
                    // Everyone online hears of it: members to close it, the rest to
                    // drop it from their public list.
                    db::conversations::delete(c, conv.id)?;
                    cache.forget_members(conv.id);
                    cache.forget_conversation(&conv.uuid);
                    Changed::for_everyone(c, conv, RoomChange::Deleted, 0)
                },
                move |changed| changed.publish(&hub),
            )
            .await
            .map(|_| ())
    }
}
