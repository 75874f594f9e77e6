//! Resume from the change log: every change a socket missed, in order, as
//! the events it was published as; and the log kept to its retention.
//!
//! A replayed change carries its message as it is now (an edit that was
//! later deleted replays as an edit of a deleted message, then the
//! deletion): the client ends where a live socket would have.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::db::Tx;

use super::Core;
use super::hub::{Event, EventKind, RoomChange, Scope, To};
use crate::db::{self, changes::Audience, changes::Change, changes::Kind as ChangeKind};
use crate::error::Result;
use crate::model::{Conversation, EventId, Kind, Message, MessageId, NotifyLevel, Timestamp, UserBrief, UserId};

/// One missed change, ready for a dialect.
pub enum Missed {
    /// A message sent: the dialect's replay frame.
    Message(Arc<Message>),
    /// Anything else, as the event that went out live.
    Event(Arc<Event>),
}

/// What a resume from a cursor gets.
pub enum Resume {
    /// The log was pruned past the cursor: reload history, then carry on
    /// from `latest`.
    Reload { latest: EventId },
    /// The next changes after the cursor, with the last id read (the
    /// cursor for the next page) and whether more may follow.
    Page {
        changes: Vec<(EventId, Missed)>,
        read_upto: EventId,
        more: bool,
    },
}

/// Changes deleted per write while pruning, so sends wait for none long.
const PRUNE_BATCH: i64 = 5000;

fn room_change(s: Option<&str>) -> Option<RoomChange> {
    Some(match s? {
        "created" => RoomChange::Created,
        "joined" => RoomChange::Joined,
        "left" => RoomChange::Left,
        "renamed" => RoomChange::Renamed,
        "deleted" => RoomChange::Deleted,
        _ => return None,
    })
}

fn brief(c: &Tx<'_>, user: Option<UserId>) -> Result<Option<Arc<UserBrief>>> {
    Ok(match user {
        Some(u) => db::users::by_id(c, u)?.map(|u| Arc::new(UserBrief::from(&u))),
        None => None,
    })
}

/// The event a change went out as (or `None` if what it was about is gone).
/// `read`: the messages of a whole page of changes, read at once (a
/// resume of 10,000 messages read one at a time took 500 ms): one not
/// among them is gone. `None`: the change's message is read here.
fn materialize(c: &Tx<'_>, ch: Change, read: Option<&HashMap<MessageId, Arc<Message>>>) -> Result<Option<Missed>> {
    let message = |c: &Tx<'_>| -> Result<Option<Arc<Message>>> {
        Ok(match (ch.message, read) {
            (Some(m), Some(read)) => read.get(&m).cloned(),
            (Some(m), None) => db::messages::by_id(c, m)?.map(Arc::new),
            (None, _) => None,
        })
    };
    let event = |kind| Some(Missed::Event(Event::recorded(kind, Some(ch.id))));
    Ok(match ch.kind {
        ChangeKind::Message => message(c)?.map(Missed::Message),
        ChangeKind::Edited => message(c)?.and_then(|message| event(EventKind::MessageUpdated { message })),
        ChangeKind::Deleted => message(c)?.and_then(|message| event(EventKind::MessageDeleted { message })),
        ChangeKind::Read => {
            let (Some(conv), Some(user)) = (db::conversations::by_id(c, ch.conversation)?, brief(c, ch.user)?) else {
                return Ok(None);
            };
            event(EventKind::Read {
                conversation: Arc::new(conv),
                user: UserBrief::clone(&user),
                upto: crate::model::MessageId(ch.data.upto.unwrap_or(0)),
            })
        }
        ChangeKind::Room => {
            let Some(change) = room_change(ch.data.change.as_deref()) else {
                return Ok(None);
            };
            // A deleted room has no row: it is rebuilt from what the change kept.
            let conversation = match db::conversations::by_id(c, ch.conversation)? {
                Some(conv) => Conversation {
                    name: ch.data.name.clone().or(conv.name),
                    ..conv
                },
                None => {
                    let Some(uuid) = ch.data.room.as_deref().and_then(|u| uuid::Uuid::parse_str(u).ok()) else {
                        return Ok(None);
                    };
                    Conversation {
                        id: ch.conversation,
                        uuid,
                        kind: Kind::Room,
                        name: ch.data.name.clone(),
                        created_by: None,
                        created_at: Timestamp(0),
                    }
                }
            };
            event(EventKind::Room {
                conversation: Arc::new(conversation),
                change,
                member_count: ch.data.member_count.unwrap_or(0),
                user: brief(c, ch.user)?,
            })
        }
        ChangeKind::Notify => {
            let (Some(conv), Some(level)) = (
                db::conversations::by_id(c, ch.conversation)?,
                ch.data.level.as_deref().and_then(NotifyLevel::parse),
            ) else {
                return Ok(None);
            };
            event(EventKind::Notify {
                conversation: Arc::new(conv),
                level,
            })
        }
        ChangeKind::Reaction => {
            let Some(message) = message(c)? else {
                return Ok(None);
            };
            let (Some(user), Some(emoji)) = (brief(c, ch.user)?, ch.data.emoji.clone()) else {
                return Ok(None);
            };
            event(EventKind::Reaction {
                message,
                user,
                emoji,
                added: ch.data.added.unwrap_or(true),
            })
        }
    })
}

impl Core {
    /// The changes after `after` that a socket of `user` with `scope` would
    /// have been sent, oldest first, at most `limit` (read from the log).
    pub async fn missed_changes(&self, user: UserId, scope: Scope, after: EventId, limit: i64) -> Result<Resume> {
        self.db
            .read(move |c| {
                if after < db::changes::floor(c)? {
                    return Ok(Resume::Reload {
                        latest: db::changes::latest(c)?,
                    });
                }
                let conversation = match scope {
                    Scope::All => None,
                    Scope::Conversation(conv) => Some(conv),
                };
                let (rows, read_upto, more) = db::changes::after(c, user, conversation, after, limit)?;
                let mut ids: Vec<MessageId> = rows.iter().filter_map(|ch| ch.message).collect();
                ids.sort_unstable();
                ids.dedup();
                let read: HashMap<MessageId, Arc<Message>> = db::messages::by_ids(c, &ids)?
                    .into_iter()
                    .map(|m| (m.id, Arc::new(m)))
                    .collect();
                let mut changes = Vec::with_capacity(rows.len());
                for ch in rows {
                    let id = ch.id;
                    if let Some(m) = materialize(c, ch, Some(&read))? {
                        changes.push((id, m));
                    }
                }
                Ok(Resume::Page {
                    changes,
                    read_upto,
                    more,
                })
            })
            .await
    }

    /// Delete changes older than `retention` (a batch per write).
    pub async fn prune_changes(&self, retention: Duration) -> Result<usize> {
        let cutoff = Timestamp(Timestamp::now().0 - retention.as_micros() as i64);
        let Some(upto) = self.db.read(move |c| db::changes::last_before(c, cutoff)).await? else {
            return Ok(0);
        };
        let mut total = 0;
        loop {
            let n = self
                .db
                .writer()
                .submit(move |c| db::changes::prune(c, upto, PRUNE_BATCH), |_| {})
                .await?;
            total += n;
            if (n as i64) < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}

/// Prune the change log every hour (and at start), until the core is gone.
pub(super) fn prune_now_and_then(core: &Arc<Core>, retention: Duration) {
    let every = (retention / 24).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    super::now_and_then(core, every, "old entries of the change log", move |core| async move {
        core.prune_changes(retention).await
    });
}

/// A change another node wrote, as the event its node published and who
/// hears it here (the members as they are now, as on resume); `None` if what
/// it was about is gone, or if nobody who would hear it has a socket on
/// this node (`hub`): then nothing more is read for it.
pub(super) fn from_elsewhere(
    c: &Tx<'_>,
    hub: &super::Hub,
    logged: db::changes::Logged,
) -> Result<Option<(Arc<Event>, To)>> {
    let db::changes::Logged { change, audience, .. } = logged;
    let (id, conversation, user) = (change.id, change.conversation, change.user);
    let reply_id = change.data.reply.as_deref().and_then(|r| uuid::Uuid::parse_str(r).ok());
    // Read once: who hears it, and a direct message's other member.
    let members: Vec<Arc<UserBrief>> = match (audience, change.kind) {
        (Audience::Members | Audience::MembersAndUser, _) | (_, ChangeKind::Message) => {
            db::conversations::members(c, conversation)?
                .into_iter()
                .map(Arc::new)
                .collect()
        }
        _ => Vec::new(),
    };
    let to = match audience {
        Audience::Everyone => To::All,
        Audience::User => To::Users(user.into_iter().collect()),
        Audience::Members => To::Users(members.iter().map(|m| m.id).collect()),
        Audience::MembersAndUser => {
            let mut users: Vec<UserId> = members.iter().map(|m| m.id).collect();
            if let Some(u) = user.filter(|u| !users.contains(u)) {
                users.push(u);
            }
            To::Users(users)
        }
    };
    let heard_here = match &to {
        To::All => hub.connection_count() > 0,
        To::Users(users) => !hub.online_of(users).is_empty(),
    };
    if !heard_here {
        return Ok(None);
    }
    let event = match materialize(c, change, None)? {
        None => return Ok(None),
        Some(Missed::Event(event)) => event,
        Some(Missed::Message(message)) => {
            let Some(conv) = db::conversations::by_id(c, conversation)? else {
                return Ok(None);
            };
            let receiver = super::messages::peer(&members, conv.kind, message.sender.id);
            Event::recorded(
                EventKind::Message {
                    message,
                    conversation: Arc::new(conv),
                    receiver,
                    client_id: None,
                    origin: None,
                    reply_id,
                },
                Some(id),
            )
        }
    };
    Ok(Some((event, to)))
}
