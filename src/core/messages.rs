//! Messages: send, history, edit, delete, read marks, typing, resume.
//!
//! A send is one writer job: resolve the conversation (creating a direct one
//! if needed), check membership, store any attachment and the message, and
//! collect who must hear of it. The event is published right after the
//! commit, on the writer thread, so live delivery follows id order.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::db::Tx;
use uuid::Uuid;

use super::cache::{Cache, Members};
use super::conversations::{load, load_uuid, member_among, require_member};
use super::files::{Upload, prepare};
use super::hub::{ConnId, Event, EventKind};
use super::{Caller, Core, validate};
use crate::db::{self, changes, messages::Page};
use crate::error::{Error, Result};
use crate::model::{Conversation, ConversationId, FileMeta, Kind, Message, MessageId, Timestamp, UserBrief, UserId};

/// Where a message goes.
#[derive(Debug, Clone)]
pub enum Target {
    Conversation(ConversationId),
    ConversationUuid(Uuid),
    /// The direct conversation with this user, created on first use.
    DirectWith(Uuid),
}

#[derive(Debug, Clone, Default)]
pub enum Attachment {
    #[default]
    None,
    /// A file the sender uploaded before.
    File(Uuid),
    /// A file that comes with the message.
    Upload(Upload),
}

#[derive(Debug, Clone)]
pub struct SendRequest {
    pub to: Target,
    pub text: String,
    pub attachment: Attachment,
    /// Echoed in the live `message` event: the sender's acknowledgement.
    pub client_id: Option<String>,
    /// The socket it came from.
    pub origin: Option<ConnId>,
    /// The message it answers (of the same conversation).
    pub reply_to: Option<MessageId>,
}

impl SendRequest {
    pub fn text(to: Target, text: impl Into<String>) -> Self {
        SendRequest {
            to,
            text: text.into(),
            attachment: Attachment::None,
            client_id: None,
            origin: None,
            reply_to: None,
        }
    }
}

/// Largest history page.
pub const MAX_PAGE: i64 = 1000;
/// History page when the client does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// A page no larger than `MAX_PAGE` (and at least one message).
pub(crate) fn clamp(page: Page) -> Page {
    Page {
        limit: page.limit.clamp(1, MAX_PAGE),
        ..page
    }
}

/// The kind of conversation a pair with `other` is: `ai` with the agent.
pub(crate) fn pair_kind(other: &crate::model::User) -> Kind {
    if other.is_bot { Kind::Ai } else { Kind::Direct }
}

fn resolve(c: &Tx<'_>, cache: &Cache, to: &Target, me: UserId) -> Result<Arc<Conversation>> {
    match to {
        Target::Conversation(id) => load(c, *id).map(Arc::new),
        Target::ConversationUuid(id) => cache.conversation(c, id),
        Target::DirectWith(other) => {
            let other = db::users::by_uuid(c, other)?.ok_or_else(|| Error::not_found("recipient"))?;
            if other.id == me {
                return Err(Error::invalid("you cannot send a direct message to yourself"));
            }
            let kind = pair_kind(&other);
            Ok(Arc::new(
                db::conversations::get_or_create_pair(c, me, other.id, kind)?.0,
            ))
        }
    }
}

/// The conversation `to` names, without starting one: a direct conversation
/// that does not exist yet is not found. (For typing and read marks.)
fn find(c: &Tx<'_>, cache: &Cache, to: &Target, me: UserId) -> Result<Arc<Conversation>> {
    match to {
        Target::DirectWith(other) => {
            let other = db::users::by_uuid(c, other)?.ok_or_else(|| Error::not_found("recipient"))?;
            let conv = db::conversations::direct_between(c, me, other.id)?;
            Ok(Arc::new(conv.ok_or_else(|| Error::not_found("conversation"))?))
        }
        _ => resolve(c, cache, to, me),
    }
}

/// The member of a pair who is not `me`.
pub(super) fn peer(members: &[Arc<UserBrief>], kind: Kind, me: UserId) -> Option<Arc<UserBrief>> {
    kind.is_pair()
        .then(|| members.iter().find(|m| m.id != me).cloned())
        .flatten()
}

/// A message stored and about to be published.
#[derive(Clone)]
pub(super) struct Sent {
    pub message: Arc<Message>,
    conversation: Arc<Conversation>,
    members: Members,
}

/// What a message carries besides its sender and conversation.
pub(super) struct Stored {
    pub text: String,
    /// An agent's reply that was cut short.
    pub incomplete: bool,
    /// The message it answers.
    pub reply_to: Option<MessageId>,
    /// An agent's reply: the id its deltas went out under.
    pub reply_id: Option<Uuid>,
}

/// Insert one message (inside a writer job) and build it: the stored
/// message is built here, not read back.
fn insert(
    c: &Tx<'_>,
    conversation: Arc<Conversation>,
    members: Members,
    sender: Arc<UserBrief>,
    file: Option<FileMeta>,
    stored: &Stored,
) -> Result<Sent> {
    let now = Timestamp::now();
    let mentions = super::mentions::find(&stored.text, sender.id, super::mentions::member_named(c, &members))?;
    let id = db::messages::insert(
        c,
        &db::messages::NewMessage {
            conversation: conversation.id,
            sender: sender.id,
            text: &stored.text,
            file: file.as_ref().map(|f| f.id),
            at: now,
            incomplete: stored.incomplete,
            reply_to: stored.reply_to,
            reply_id: stored.reply_id,
        },
    )?;
    if !mentions.is_empty() {
        let ids: Vec<UserId> = mentions.iter().map(|m| m.id).collect();
        db::mentions::add(c, id, &ids)?;
    }
    let message = Arc::new(Message {
        id,
        conversation: conversation.id,
        conversation_uuid: conversation.uuid,
        sender,
        text: stored.text.clone(),
        file,
        created_at: now,
        updated_at: now,
        deleted: false,
        incomplete: stored.incomplete,
        reply_to: stored.reply_to,
        seen: false,
        reactions: Vec::new(),
        mentions,
    });
    Ok(Sent {
        message,
        conversation,
        members,
    })
}

/// How a stored message goes out: who hears it, and what to count.
struct Publish<'a> {
    hub: &'a super::Hub,
    push: &'a super::push::Push,
    metrics: &'a crate::metrics::Metrics,
    /// When the send was accepted: delivery latency starts here.
    accepted: Instant,
}

/// Tell every member's sockets (after the commit, on the writer thread).
fn publish(to: Publish<'_>, sent: &Sent, client_id: Option<String>, origin: Option<ConnId>, reply_id: Option<Uuid>) {
    to.metrics.messages_stored.inc();
    let hub = to.hub;
    let ids: Vec<UserId> = sent.members.iter().map(|m| m.id).collect();
    let receiver = peer(&sent.members, sent.conversation.kind, sent.message.sender.id);
    let event = Event::accepted_at(
        EventKind::Message {
            message: sent.message.clone(),
            conversation: sent.conversation.clone(),
            receiver,
            client_id,
            origin,
            reply_id,
        },
        to.accepted,
    );
    hub.publish(event, &ids);
    // Members without a live socket hear of it by Web Push; this only
    // queues (or drops) the pushes, so the writer never waits on them.
    to.push.offer(&sent.conversation, &sent.message, &sent.members, hub);
}

impl Core {
    /// Queue a message now, so messages from one client keep their order,
    /// and resolve once it is committed (its fan-out to the members'
    /// sockets starts right after: see `Writer::submit_answer_first`).
    pub fn send(
        &self,
        caller: &Caller,
        req: SendRequest,
    ) -> impl Future<Output = Result<Arc<Message>>> + Send + 'static + use<> {
        let queued = self.queue_send(caller, req);
        async move { queued?.await }
    }

    fn queue_send(
        &self,
        caller: &Caller,
        req: SendRequest,
    ) -> Result<impl Future<Output = Result<Arc<Message>>> + Send + 'static + use<>> {
        let has_file = !matches!(req.attachment, Attachment::None);
        validate::message(&req.text, self.limits.max_message_bytes, has_file)?;
        if let Some(id) = &req.client_id {
            validate::client_id(id)?;
        }
        let attachment = match req.attachment {
            Attachment::Upload(up) => Attachment::Upload(prepare(up, self.limits.max_upload_bytes)?),
            other => other,
        };
        self.sends
            .check(caller.user)
            .inspect_err(|_| self.metrics.rate_limited("send"))?;
        let me = caller.user;
        let accepted = Instant::now();
        let (hub, cache, metrics) = (self.hub.clone(), self.cache.clone(), self.metrics.clone());
        let push = self.push.clone();
        let SendRequest {
            to,
            text,
            client_id,
            origin,
            reply_to,
            ..
        } = req;
        let core = self.me.clone();
        // The hot path: one INSERT; the conversation and its members come
        // from the cache.
        let job = move |c: &Tx<'_>| -> Result<Sent> {
            let conversation = resolve(c, &cache, &to, me)?;
            let members = cache.members(c, conversation.id)?;
            let sender = member_among(&members, &conversation, me)?;
            if let Some(original) = reply_to {
                if conversation.kind == Kind::Ai {
                    // The agent's own replies use this link to know what it answered.
                    return Err(Error::invalid(
                        "replies to a message are not available in AI conversations",
                    ));
                }
                if db::messages::conversation_of(c, original)? != Some(conversation.id) {
                    return Err(Error::NotFound(
                        "the message replied to is not in this conversation".into(),
                    ));
                }
            }
            if conversation.kind == Kind::Ai {
                let core = core
                    .upgrade()
                    .ok_or_else(|| Error::Unavailable("the server is shutting down".into()))?;
                core.admit_to_agent(&members, me)?;
            }
            let file = match &attachment {
                Attachment::None => None,
                Attachment::File(id) => {
                    let f = db::files::by_uuid(c, id)?.ok_or_else(|| Error::not_found("attachment"))?;
                    if f.owner != me {
                        return Err(Error::forbidden("you can only attach files you uploaded"));
                    }
                    Some(f)
                }
                Attachment::Upload(up) => Some(db::files::insert(
                    c,
                    me,
                    &up.name,
                    up.content_type.as_deref().unwrap_or_default(),
                    &up.data,
                )?),
            };
            let stored = Stored {
                text,
                incomplete: false,
                reply_to,
                reply_id: None,
            };
            insert(c, conversation, members, sender, file, &stored)
        };
        let agent_core = self.me.clone();
        let fut = self.db.writer().submit_answer_first(job, move |sent: &Sent| {
            let to = Publish {
                hub: &hub,
                push: &push,
                metrics: &metrics,
                accepted,
            };
            publish(to, sent, client_id, origin, None);
            if sent.conversation.kind == Kind::Ai
                && let Some(core) = agent_core.upgrade()
                && let Some(agent) = &core.agent
            {
                agent.enqueue(sent.conversation.clone(), sent.message.id);
            }
        });
        Ok(async move { fut.await.map(|sent| sent.message) })
    }

    /// Store a message from `sender` (the agent) in `conversation`.
    /// `in_job` runs inside the write, before its commit; `committed` right
    /// after the commit, before the message is published.
    pub(super) async fn store_message(
        &self,
        conversation: Arc<Conversation>,
        sender: Arc<UserBrief>,
        stored: Stored,
        in_job: impl FnOnce() + Send + 'static,
        committed: impl FnOnce() + Send + 'static,
    ) -> Result<Arc<Message>> {
        let (hub, cache, metrics) = (self.hub.clone(), self.cache.clone(), self.metrics.clone());
        let push = self.push.clone();
        let accepted = Instant::now();
        let reply_id = stored.reply_id;
        let sent = self
            .db
            .writer()
            .submit(
                move |c| {
                    let members = cache.members(c, conversation.id)?;
                    let sender = member_among(&members, &conversation, sender.id)?;
                    in_job();
                    insert(c, conversation, members, sender, None, &stored)
                },
                move |sent: &Sent| {
                    committed();
                    let to = Publish {
                        hub: &hub,
                        push: &push,
                        metrics: &metrics,
                        accepted,
                    };
                    publish(to, sent, None, None, reply_id);
                },
            )
            .await?;
        Ok(sent.message)
    }

    /// A page of a conversation's history, oldest first (members only).
    pub async fn history(&self, caller: &Caller, conv: Uuid, page: Page) -> Result<Vec<Message>> {
        self.history_where(caller, move |c| load_uuid(c, &conv), page).await
    }

    /// The same, by the conversation's integer key.
    pub async fn history_of(&self, caller: &Caller, conv: ConversationId, page: Page) -> Result<Vec<Message>> {
        self.history_where(caller, move |c| load(c, conv), page).await
    }

    /// A page of a conversation's history around one of its messages,
    /// oldest first (members only): what "jump to this message" shows.
    pub async fn history_around(&self, caller: &Caller, conv: Uuid, at: MessageId, limit: i64) -> Result<Vec<Message>> {
        let me = caller.user;
        let limit = limit.clamp(1, MAX_PAGE);
        self.db
            .read(move |c| {
                let conv = load_uuid(c, &conv)?;
                require_member(c, &conv, me)?;
                if db::messages::conversation_of(c, at)? != Some(conv.id) {
                    return Err(Error::NotFound("message not found in this conversation".into()));
                }
                db::messages::around(c, conv.id, at, limit)
            })
            .await
    }

    async fn history_where<F>(&self, caller: &Caller, conversation: F, page: Page) -> Result<Vec<Message>>
    where
        F: FnOnce(&Tx<'_>) -> Result<Conversation> + Send + 'static,
    {
        let me = caller.user;
        let page = clamp(page);
        self.db
            .read(move |c| {
                let conv = conversation(c)?;
                require_member(c, &conv, me)?;
                db::messages::page(c, conv.id, page)
            })
            .await
    }

    /// Change the text of one of the caller's own messages.
    pub async fn edit_message(&self, caller: &Caller, id: MessageId, text: String) -> Result<Message> {
        validate::message(&text, self.limits.max_message_bytes, false)?;
        self.change_message(caller, id, Some(text)).await
    }

    /// Soft-delete one of the caller's own messages.
    pub async fn delete_message(&self, caller: &Caller, id: MessageId) -> Result<Message> {
        self.change_message(caller, id, None).await
    }

    async fn change_message(&self, caller: &Caller, id: MessageId, text: Option<String>) -> Result<Message> {
        self.change_message_as(caller.user, false, id, text).await
    }

    /// Delete anyone's message, as the admin `admin` (recorded in the audit log).
    pub(super) async fn moderate_message(&self, admin: UserId, id: MessageId) -> Result<Message> {
        self.change_message_as(admin, true, id, None).await
    }

    async fn change_message_as(&self, me: UserId, admin: bool, id: MessageId, text: Option<String>) -> Result<Message> {
        let hub = self.hub.clone();
        let deleting = text.is_none();
        self.db
            .writer()
            .submit(
                move |c| {
                    let msg = db::messages::by_id(c, id)?.ok_or_else(|| Error::not_found("message"))?;
                    let conv = load(c, msg.conversation)?;
                    if msg.deleted {
                        return Err(Error::not_found("message"));
                    }
                    if admin {
                        let detail = format!("by {} in {}", msg.sender.username, conv.uuid);
                        db::admin::audit(c, Some(me), "message.delete", &msg.id.to_string(), &detail)?;
                    } else {
                        // Someone outside the conversation must not learn the message exists.
                        require_member(c, &conv, me).map_err(|_| Error::not_found("message"))?;
                        if msg.sender.id != me {
                            return Err(Error::forbidden("only the sender can change a message"));
                        }
                    }
                    let kind = match &text {
                        Some(t) => {
                            db::messages::edit(c, id, t)?;
                            // An edit may add or take back mentions.
                            let members: Vec<Arc<UserBrief>> = db::conversations::members(c, conv.id)?
                                .into_iter()
                                .map(Arc::new)
                                .collect();
                            let named = super::mentions::member_named(c, &members);
                            let mentioned: Vec<UserId> = super::mentions::find(t, msg.sender.id, named)?
                                .iter()
                                .map(|m| m.id)
                                .collect();
                            db::mentions::replace(c, id, &mentioned)?;
                            changes::Kind::Edited
                        }
                        None => {
                            db::messages::delete(c, id)?;
                            changes::Kind::Deleted
                        }
                    };
                    let logged = changes::record(
                        c,
                        &changes::New {
                            conversation: conv.id,
                            kind,
                            message: Some(id),
                            user: Some(me),
                            audience: changes::Audience::Members,
                            data: None,
                        },
                    )?;
                    let msg = db::messages::by_id(c, id)?.ok_or_else(|| Error::not_found("message"))?;
                    Ok((Arc::new(msg), db::conversations::member_ids(c, conv.id)?, logged))
                },
                move |(msg, members, logged)| {
                    let kind = if deleting {
                        EventKind::MessageDeleted { message: msg.clone() }
                    } else {
                        EventKind::MessageUpdated { message: msg.clone() }
                    };
                    hub.publish(Event::recorded(kind, Some(*logged)), members);
                },
            )
            .await
            .map(|(msg, _, _)| Arc::unwrap_or_clone(msg))
    }

    /// Move the caller's read mark forward to `upto` (a message of this
    /// conversation, or 0); returns the new mark.
    pub async fn mark_read(&self, caller: &Caller, conv: Target, upto: MessageId) -> Result<MessageId> {
        let me = caller.user;
        let (hub, cache) = (self.hub.clone(), self.cache.clone());
        self.db
            .writer()
            .submit(
                // The page sends one of these per message read: the member
                // list comes from the writer's cache, as for a send.
                move |c| {
                    let conv = find(c, &cache, &conv, me)?;
                    let members = cache.members(c, conv.id)?;
                    let user = member_among(&members, &conv, me)?;
                    if upto.0 != 0 && db::messages::conversation_of(c, upto)? != Some(conv.id) {
                        return Err(Error::NotFound("message not found in this conversation".into()));
                    }
                    let (mark, moved) = db::conversations::mark_read(c, conv.id, me, upto)?;
                    // A mark that did not move is no change: nothing to log.
                    let logged = if moved {
                        let data = changes::Data {
                            upto: Some(mark.0),
                            ..changes::Data::default()
                        };
                        Some(changes::record(
                            c,
                            &changes::New {
                                conversation: conv.id,
                                kind: changes::Kind::Read,
                                message: None,
                                user: Some(me),
                                audience: changes::Audience::Members,
                                data: Some(&data),
                            },
                        )?)
                    } else {
                        None
                    };
                    Ok((conv, mark, user, members, logged))
                },
                move |(conv, mark, user, members, logged)| {
                    let ids: Vec<UserId> = members.iter().map(|m| m.id).collect();
                    let read = EventKind::Read {
                        conversation: conv.clone(),
                        user: UserBrief::clone(user),
                        upto: *mark,
                    };
                    hub.publish(Event::recorded(read, *logged), &ids);
                },
            )
            .await
            .map(|(_, mark, _, _, _)| mark)
    }

    /// Tell the other members the caller is typing.
    pub async fn typing(&self, caller: &Caller, conv: Target) -> Result<()> {
        let me = caller.user;
        let cache = self.cache.clone();
        let (conv, user, members) = self
            .db
            .read(move |c| {
                let conv = find(c, &cache, &conv, me)?;
                let members = db::conversations::members(c, conv.id)?;
                let user = member_among(&members, &conv, me)?;
                Ok((conv, user, members))
            })
            .await?;
        let others: Vec<UserId> = members.iter().map(|m| m.id).filter(|&u| u != me).collect();
        self.hub.publish(
            Event::new(EventKind::Typing {
                conversation: conv,
                user,
            }),
            &others,
        );
        Ok(())
    }
}
