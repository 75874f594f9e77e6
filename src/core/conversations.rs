//! Conversations: rooms anyone may join, one direct conversation per pair,
//! and who may see what.

use std::borrow::Borrow;

use crate::db::Tx;
use uuid::Uuid;

use super::{Caller, Core};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{
    Conversation, ConversationId, ConversationSummary, Kind, Message, MessageId, User, UserBrief, UserId,
};

/// What `POST /api/conversations` (and its cousins) asks for.
#[derive(Debug, Default, Clone)]
pub struct NewConversation {
    pub participants: Vec<Uuid>,
    pub name: Option<String>,
    pub kind: Option<Kind>,
    pub is_ai: bool,
}

/// A public room as the room list shows it.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    pub conversation: Conversation,
    pub member_count: i64,
    pub joined: bool,
}

/// The member's read mark, or the error a non-member gets: rooms are public,
/// so a room says "join first" (403); a direct or AI conversation does not
/// admit it exists (404).
pub(crate) fn require_member(c: &Tx<'_>, conv: &Conversation, user: UserId) -> Result<MessageId> {
    db::conversations::membership(c, conv.id, user)?.ok_or_else(|| not_a_member(conv))
}

/// `conv` as the member `user` sees it in a list (or why they may not).
fn member_summary(c: &Tx<'_>, conv: Conversation, user: UserId) -> Result<ConversationSummary> {
    let mark = db::conversations::mark(c, conv.id, user)?.ok_or_else(|| not_a_member(&conv))?;
    db::conversations::summary(c, conv, user, mark)
}

/// What a non-member is told about `conv`.
pub(crate) fn not_a_member(conv: &Conversation) -> Error {
    if conv.kind == Kind::Room {
        Error::Forbidden(format!(
            "you are not a member of room `{}`; join it first",
            conv.name.as_deref().unwrap_or_default()
        ))
    } else {
        Error::not_found("conversation")
    }
}

/// `user` among `conv`'s `members`, or the error a non-member gets.
pub(crate) fn member_among<M: Borrow<UserBrief> + Clone>(
    members: &[M],
    conv: &Conversation,
    user: UserId,
) -> Result<M> {
    members
        .iter()
        .find(|m| Borrow::<UserBrief>::borrow(*m).id == user)
        .cloned()
        .ok_or_else(|| not_a_member(conv))
}

pub(crate) fn conversation_not_found() -> Error {
    Error::not_found("conversation")
}

pub(crate) fn load(c: &Tx<'_>, id: ConversationId) -> Result<Conversation> {
    db::conversations::by_id(c, id)?.ok_or_else(conversation_not_found)
}

pub(crate) fn load_uuid(c: &Tx<'_>, id: &Uuid) -> Result<Conversation> {
    db::conversations::by_uuid(c, id)?.ok_or_else(conversation_not_found)
}

impl Core {
    /// The caller's conversations, most recently active first.
    pub async fn conversations(&self, caller: &Caller) -> Result<Vec<ConversationSummary>> {
        let user = caller.user;
        self.db.read(move |c| db::conversations::for_user(c, user)).await
    }

    /// The ids of the caller's conversations.
    pub async fn conversation_ids(&self, caller: &Caller) -> Result<Vec<ConversationId>> {
        let user = caller.user;
        self.db.read(move |c| db::conversations::ids_of(c, user)).await
    }

    /// A conversation the caller is a member of, by UUID.
    pub async fn conversation(&self, caller: &Caller, id: Uuid) -> Result<ConversationSummary> {
        let user = caller.user;
        self.db
            .read(move |c| {
                let conv = load_uuid(c, &id)?;
                member_summary(c, conv, user)
            })
            .await
    }

    /// Start a conversation: a room (with a name), a direct one (one other
    /// participant; the existing one if the pair already has it), or an AI one.
    /// The bool is true if something new was created.
    pub async fn create_conversation(
        &self,
        caller: &Caller,
        new: NewConversation,
    ) -> Result<(ConversationSummary, bool)> {
        if new.is_ai || new.kind == Some(Kind::Ai) {
            // The caller's conversation with the agent: one per person, like a direct one.
            let agent = self.agent()?.user.id;
            let me = caller.user;
            let (conv, created) = self.direct_with(caller, agent).await?;
            let summary = self.db.read(move |c| member_summary(c, conv, me)).await?;
            return Ok((summary, created));
        }
        let kind = match new.kind {
            Some(k) => k,
            None if new.name.is_some() || new.participants.len() != 1 => Kind::Room,
            None => Kind::Direct,
        };
        let me = caller.user;
        let (conv, created) = match kind {
            Kind::Direct => {
                let [other] = new.participants[..] else {
                    return Err(Error::invalid(
                        "a direct conversation needs exactly one other participant_id",
                    ));
                };
                let other = self
                    .user_by_uuid(other)
                    .await
                    .map_err(|_| Error::invalid("participant not found"))?;
                self.direct_with(caller, other.id).await?
            }
            _ => {
                let name = new
                    .name
                    .map(|n| n.trim().to_owned())
                    .ok_or_else(|| Error::invalid("a room needs a name"))?;
                let mut others = Vec::with_capacity(new.participants.len());
                for p in new.participants {
                    let u = self
                        .user_by_uuid(p)
                        .await
                        .map_err(|_| Error::invalid(format!("participant {p} not found")))?;
                    if u.id != me {
                        others.push(u.id);
                    }
                }
                (self.create_room(caller, &name, others).await?, true)
            }
        };
        let summary = self.db.read(move |c| member_summary(c, conv, me)).await?;
        Ok((summary, created))
    }

    /// The caller's direct conversation with `other`, created on first use.
    pub async fn direct_with(&self, caller: &Caller, other: UserId) -> Result<(Conversation, bool)> {
        if other == caller.user {
            return Err(Error::invalid("you cannot start a direct conversation with yourself"));
        }
        let me = caller.user;
        self.db
            .writer()
            .submit(
                move |c| {
                    let other = db::users::by_id(c, other)?.ok_or_else(|| Error::not_found("user"))?;
                    db::conversations::get_or_create_pair(c, me, other.id, super::messages::pair_kind(&other))
                },
                |_| {},
            )
            .await
    }

    pub async fn rooms(&self, caller: &Caller) -> Result<Vec<RoomInfo>> {
        let me = caller.user;
        let rows = self.db.read(move |c| db::conversations::rooms(c, me)).await?;
        Ok(rows
            .into_iter()
            .map(|(conversation, member_count, joined)| RoomInfo {
                conversation,
                member_count,
                joined,
            })
            .collect())
    }

    /// The chatroom dialect's "current room" of the caller's session.
    pub async fn set_current_room(&self, caller: &Caller, room: ConversationId) -> Result<()> {
        let session = caller.session;
        self.db
            .writer()
            .submit(move |c| db::sessions::set_current_room(c, &session, room), |_| {})
            .await
    }

    pub async fn current_room(&self, caller: &Caller) -> Result<Option<ConversationId>> {
        let session = caller.session;
        self.db.read(move |c| db::sessions::current_room(c, &session)).await
    }
}

/// The name a direct conversation goes by in the dialects that address
/// conversations by name (messenger's `a_b`): both usernames, sorted without
/// regard to case, joined by `_`.
pub fn direct_name(a: &str, b: &str) -> String {
    if a.to_lowercase() <= b.to_lowercase() {
        format!("{a}_{b}")
    } else {
        format!("{b}_{a}")
    }
}

/// Find the conversation `name` means to `me`: a direct pair name with `me`
/// as one side (either order), else a room of that name. With `create`, a
/// direct conversation that does not exist yet is started.
fn named(c: &Tx<'_>, me: UserId, name: &str, create: bool) -> Result<Option<Conversation>> {
    let my_name = db::users::by_id(c, me)?
        .ok_or_else(|| Error::not_found("user"))?
        .username;
    for (i, _) in name.match_indices('_') {
        let (left, right) = (&name[..i], &name[i + 1..]);
        let other = if left.eq_ignore_ascii_case(&my_name) {
            right
        } else if right.eq_ignore_ascii_case(&my_name) {
            left
        } else {
            continue;
        };
        let Some(other) = db::users::by_username(c, other)? else {
            continue;
        };
        if other.id == me {
            continue;
        }
        if create {
            let kind = super::messages::pair_kind(&other);
            return Ok(Some(db::conversations::get_or_create_pair(c, me, other.id, kind)?.0));
        }
        if let Some(conv) = db::conversations::direct_between(c, me, other.id)? {
            return Ok(Some(conv));
        }
    }
    db::conversations::room_by_name(c, name)
}

/// A direct conversation as the threads dialect lists it.
#[derive(Debug, Clone)]
pub struct DirectThread {
    pub conversation: Conversation,
    /// Who started it.
    pub creator: UserBrief,
    /// The other member.
    pub peer: UserBrief,
    pub last_message: Option<Message>,
}

impl Core {
    /// A conversation by name (see `direct_name`), which the caller must be in.
    pub async fn named_conversation(&self, caller: &Caller, name: &str) -> Result<Conversation> {
        let (me, name) = (caller.user, name.trim().to_owned());
        self.db
            .read(move |c| {
                let conv = named(c, me, &name, false)?
                    .ok_or_else(|| Error::NotFound(format!("conversation `{name}` not found")))?;
                require_member(c, &conv, me)?;
                Ok(conv)
            })
            .await
    }

    /// Enter a conversation by name: join a room, or start (or find) the
    /// direct conversation with the other side of `a_b`.
    pub async fn enter_named(&self, caller: &Caller, name: &str) -> Result<Conversation> {
        let (me, name) = (caller.user, name.trim().to_owned());
        let (cache, hub) = (self.cache.clone(), self.hub.clone());
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = named(c, me, &name, true)?
                        .ok_or_else(|| Error::NotFound(format!("room `{name}` not found")))?;
                    let joined = if conv.kind == Kind::Room {
                        super::rooms::joined(c, &cache, &conv, me)?
                    } else {
                        None
                    };
                    require_member(c, &conv, me)?;
                    Ok((conv, joined))
                },
                move |(_, joined)| {
                    if let Some(change) = joined {
                        change.publish(&hub);
                    }
                },
            )
            .await
            .map(|(conv, _)| conv)
    }

    /// The caller's direct conversations with their last messages, oldest first.
    pub async fn direct_threads(&self, caller: &Caller) -> Result<Vec<DirectThread>> {
        let me = caller.user;
        self.db
            .read(move |c| {
                let mine = db::users::by_id(c, me)?.ok_or_else(|| Error::not_found("user"))?;
                let mine = UserBrief::from(&mine);
                let viewer = super::users::Viewer::read(c, me)?;
                let mut out = Vec::new();
                for (conversation, peer, last_id) in db::conversations::directs_of(c, me)? {
                    let peer = viewer.brief(peer);
                    let last_message = match last_id {
                        Some(id) => db::messages::by_id(c, id)?,
                        None => None,
                    };
                    let (creator, peer) = if conversation.created_by == Some(peer.id) {
                        (peer, mine.clone())
                    } else {
                        (mine.clone(), peer)
                    };
                    out.push(DirectThread {
                        conversation,
                        creator,
                        peer,
                        last_message,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// The caller's direct history with `other`: the other user (as the
    /// caller may see them) and the messages of their conversation (none if
    /// they have not started one).
    pub async fn direct_history(
        &self,
        caller: &Caller,
        other: Uuid,
        page: db::messages::Page,
    ) -> Result<(User, Vec<Message>)> {
        let (me, page) = (caller.user, super::messages::clamp(page));
        self.db
            .read(move |c| {
                let other = db::users::by_uuid(c, &other)?.ok_or_else(|| Error::not_found("user"))?;
                let other = super::users::Viewer::read(c, me)?.user(other);
                let messages = match db::conversations::direct_between(c, me, other.id)? {
                    Some(conv) => db::messages::page(c, conv.id, page)?,
                    None => Vec::new(),
                };
                Ok((other, messages))
            })
            .await
    }
}
