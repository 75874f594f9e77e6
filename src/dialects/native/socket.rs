//! The native sockets: `/api/ws` (every conversation of the user) and
//! `/api/conversations/{id}/connect` (one conversation).
//!
//! Client frames: `send`, `typing`, `read`, `ping` (a bare `{"message": …}`
//! is a `send`). Server frames: `message` (on the socket that sent it, with
//! its `client_id`: the sender's ack), `message_updated`, `message_deleted`, `typing`, `read`, `presence`,
//! `error`, `pong`. `?since=ID` replays what was missed before going live.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{ClientFrame, ConnectOut, MessageOut, SocketQuery};
use super::openapi::UpgradeHeaders;
use crate::core::{Attachment, Caller, ConnId, Core, Event, EventKind, Outgoing, Scope, SendRequest, Target};
use crate::dialects::SLOT_NATIVE;
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{Via, caller, query, socket_caller, with_core};
use crate::http::ws::{Greeting, Handled, Protocol, Upgrade, upgrade};
use crate::http::{Response, json};
use crate::model::{ConversationId, EventId, Message, MessageId};

const TYPING_EVERY: Duration = Duration::from_millis(1000);

#[derive(Serialize)]
struct MessageFrame<'a> {
    action: &'static str,
    /// The change's id in the log: where a resume starts from.
    event_id: i64,
    message: MessageOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    /// An agent's reply: the id its `message_delta` frames went out under.
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_id: Option<Uuid>,
}

#[derive(Serialize)]
struct DeltaFrame<'a> {
    action: &'static str,
    conversation_id: Uuid,
    reply_id: Uuid,
    user_id: Uuid,
    username: &'a str,
    state: &'static str,
    text: &'a str,
    delta: &'a str,
}

#[derive(Serialize)]
struct TypingFrame<'a> {
    action: &'static str,
    conversation_id: Uuid,
    user_id: Uuid,
    username: &'a str,
}

#[derive(Serialize)]
struct ReadFrame {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<i64>,
    conversation_id: Uuid,
    user_id: Uuid,
    message_id: i64,
}

#[derive(Serialize)]
struct RoomFrame<'a> {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<i64>,
    change: &'static str,
    conversation_id: Uuid,
    name: Option<&'a str>,
    member_count: i64,
    /// Who joined or left.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
}

#[derive(Serialize)]
struct ReloadFrame {
    action: &'static str,
    event_id: i64,
    message: &'static str,
}

#[derive(Serialize)]
struct NotifyFrame {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<i64>,
    conversation_id: Uuid,
    level: &'static str,
}

#[derive(Serialize)]
struct ReactionFrame<'a> {
    action: &'static str,
    event_id: Option<i64>,
    conversation_id: Uuid,
    message_id: i64,
    user_id: Uuid,
    username: &'a str,
    emoji: &'a str,
    added: bool,
}

#[derive(Serialize)]
struct PresenceFrame {
    action: &'static str,
    user_id: Uuid,
    online: bool,
}

#[derive(Serialize)]
struct ErrorFrame<'a> {
    action: &'static str,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_id: Option<Uuid>,
}

fn to_frame<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

/// A message as the socket it was sent on sees it: with the sender's
/// `client_id`, its acknowledgement.
fn encode_ack(event: &Event) -> Option<String> {
    let EventKind::Message {
        message,
        client_id,
        reply_id,
        ..
    } = &event.kind
    else {
        return encode(event);
    };
    to_frame(&MessageFrame {
        action: "message",
        event_id: message.id.0,
        message: MessageOut::from(message.as_ref()),
        client_id: client_id.as_deref(),
        reply_id: *reply_id,
    })
}

/// An event as every socket but a message's sending one sees it. A
/// `client_id` is the sender's own bookkeeping: shown to others it tells
/// them what the sender's client is doing, and to the sender's other
/// sockets it would acknowledge a send they never made.
fn encode(event: &Event) -> Option<String> {
    // Edits and deletions that came before the change log have no change:
    // their frames carry the message's id, as they always did.
    let event_id = event.change.map(|e| e.0);
    match &event.kind {
        EventKind::Message { message, reply_id, .. } => to_frame(&MessageFrame {
            action: "message",
            event_id: message.id.0,
            message: MessageOut::from(message.as_ref()),
            client_id: None,
            reply_id: *reply_id,
        }),
        EventKind::MessageUpdated { message } => to_frame(&MessageFrame {
            action: "message_updated",
            event_id: event_id.unwrap_or(message.id.0),
            message: MessageOut::from(message.as_ref()),
            client_id: None,
            reply_id: None,
        }),
        EventKind::MessageDeleted { message } => to_frame(&MessageFrame {
            action: "message_deleted",
            event_id: event_id.unwrap_or(message.id.0),
            message: MessageOut::from(message.as_ref()),
            client_id: None,
            reply_id: None,
        }),
        EventKind::MessageDelta {
            conversation,
            reply_id,
            agent,
            state,
            text,
            delta,
        } => to_frame(&DeltaFrame {
            action: "message_delta",
            conversation_id: conversation.uuid,
            reply_id: *reply_id,
            user_id: agent.uuid,
            username: &agent.username,
            state: state.as_str(),
            text,
            delta,
        }),
        EventKind::Room {
            conversation,
            change,
            member_count,
            user,
        } => to_frame(&RoomFrame {
            action: "room",
            event_id,
            change: change.as_str(),
            conversation_id: conversation.uuid,
            name: conversation.name.as_deref(),
            member_count: *member_count,
            user_id: user.as_ref().map(|u| u.uuid),
            username: user.as_ref().map(|u| u.username.as_str()),
            user_name: user.as_ref().map(|u| u.name.as_str()),
        }),
        EventKind::AgentFailed {
            conversation,
            reply_id,
            code,
            message,
        } => to_frame(&ErrorFrame {
            action: "error",
            code,
            message: message.clone(),
            client_id: None,
            conversation_id: Some(conversation.uuid),
            reply_id: Some(*reply_id),
        }),
        EventKind::Typing { conversation, user } => to_frame(&TypingFrame {
            action: "typing",
            conversation_id: conversation.uuid,
            user_id: user.uuid,
            username: &user.username,
        }),
        EventKind::Read {
            conversation,
            user,
            upto,
        } => to_frame(&ReadFrame {
            action: "read",
            event_id,
            conversation_id: conversation.uuid,
            user_id: user.uuid,
            message_id: upto.0,
        }),
        EventKind::Reaction {
            message,
            user,
            emoji,
            added,
        } => to_frame(&ReactionFrame {
            action: "reaction",
            event_id,
            conversation_id: message.conversation_uuid,
            message_id: message.id.0,
            user_id: user.uuid,
            username: &user.username,
            emoji,
            added: *added,
        }),
        EventKind::Notify { conversation, level } => to_frame(&NotifyFrame {
            action: "notify_level",
            event_id,
            conversation_id: conversation.uuid,
            level: level.as_str(),
        }),
        EventKind::Presence { user, online } => to_frame(&PresenceFrame {
            action: "presence",
            user_id: *user,
            online: *online,
        }),
    }
}

pub fn error_frame(err: &Error, client_id: Option<&str>) -> Utf8Bytes {
    let frame = ErrorFrame {
        action: "error",
        code: err.code(),
        message: err.public_message(),
        client_id,
        conversation_id: None,
        reply_id: None,
    };
    Utf8Bytes::from(serde_json::to_string(&frame).unwrap_or_default())
}

struct NativeSocket {
    /// The conversation this socket is bound to, if it is a conversation socket.
    bound: Option<(ConversationId, Uuid)>,
    last_typing: Option<Instant>,
}

impl NativeSocket {
    fn target(&self, requested: Option<Uuid>) -> Result<Target, Error> {
        match (self.bound, requested) {
            (Some((_, uuid)), Some(req)) if req != uuid => Err(Error::invalid(format!(
                "this socket is bound to conversation {uuid}; use /api/ws for other conversations"
            ))),
            (Some((id, _)), _) => Ok(Target::Conversation(id)),
            (None, Some(req)) => Ok(Target::ConversationUuid(req)),
            (None, None) => Err(Error::invalid("conversation_id is required")),
        }
    }

    fn handle(&mut self, core: &Arc<Core>, caller: &Caller, me: ConnId, f: ClientFrame) -> Result<Handled, Error> {
        let action = f
            .action
            .as_deref()
            .unwrap_or(if f.message.is_some() { "send" } else { "" });
        match action {
            "send" => {
                let to = self.target(f.conversation_id)?;
                let client_id = f.client_id.clone();
                let sent = core.send(
                    caller,
                    SendRequest {
                        to,
                        text: f.message.unwrap_or_default(),
                        attachment: f.attachment_id.map_or(Attachment::None, Attachment::File),
                        client_id: f.client_id,
                        origin: Some(me),
                        reply_to: f.reply_to.map(MessageId),
                    },
                );
                Ok(Handled::Pending(Box::pin(async move {
                    sent.await.err().map(|e| error_frame(&e, client_id.as_deref()))
                })))
            }
            "typing" => {
                let to = self.target(f.conversation_id)?;
                if self.last_typing.is_some_and(|t| t.elapsed() < TYPING_EVERY) {
                    return Ok(Handled::Nothing);
                }
                self.last_typing = Some(Instant::now());
                let (core, caller) = (core.clone(), caller.clone());
                Ok(Handled::Pending(Box::pin(async move {
                    core.typing(&caller, to).await.err().map(|e| error_frame(&e, None))
                })))
            }
            "read" => {
                let to = self.target(f.conversation_id)?;
                let upto = f.message_id.ok_or_else(|| Error::invalid("message_id is required"))?;
                let (core, caller) = (core.clone(), caller.clone());
                let client_id = f.client_id;
                Ok(Handled::Pending(Box::pin(async move {
                    core.mark_read(&caller, to, MessageId(upto))
                        .await
                        .err()
                        .map(|e| error_frame(&e, client_id.as_deref()))
                })))
            }
            "react" => {
                let id = f.message_id.ok_or_else(|| Error::invalid("message_id is required"))?;
                let emoji = f.emoji.ok_or_else(|| Error::invalid("emoji is required"))?;
                let added = f.added.unwrap_or(true);
                let (core, caller) = (core.clone(), caller.clone());
                let client_id = f.client_id;
                Ok(Handled::Pending(Box::pin(async move {
                    core.react(&caller, MessageId(id), emoji, added)
                        .await
                        .err()
                        .map(|e| error_frame(&e, client_id.as_deref()))
                })))
            }
            "ping" => Ok(Handled::Reply(Utf8Bytes::from_static(r#"{"action":"pong"}"#))),
            "" => Err(Error::invalid(
                "frame has no action: use send, typing, read, react or ping",
            )),
            other => Err(Error::invalid(format!(
                "unknown action `{other}`: use send, typing, read, react or ping"
            ))),
        }
    }
}

impl Protocol for NativeSocket {
    fn dialect(&self) -> &'static str {
        "native"
    }

    fn scope(&self) -> Scope {
        self.bound.map_or(Scope::All, |(id, _)| Scope::Conversation(id))
    }

    fn frame(&self, event: &Event, me: ConnId) -> Option<Outgoing> {
        if let EventKind::Message {
            client_id: Some(_),
            origin: Some(origin),
            ..
        } = &event.kind
            && *origin == me
        {
            // Only this socket gets this encoding: no use caching it.
            return encode_ack(event).map(|t| Outgoing::Own(Utf8Bytes::from(t)));
        }
        event.frame(SLOT_NATIVE, encode).map(Outgoing::Shared)
    }

    fn replay(&self, message: &Message) -> Option<Utf8Bytes> {
        to_frame(&MessageFrame {
            action: "message",
            event_id: message.id.0,
            message: MessageOut::from(message),
            client_id: None,
            reply_id: None,
        })
        .map(Utf8Bytes::from)
    }

    fn reload(&self, latest: EventId) -> Option<Utf8Bytes> {
        to_frame(&ReloadFrame {
            action: "reload",
            event_id: latest.0,
            message: "changes this far back are no longer kept: reload history, then carry on from event_id",
        })
        .map(Utf8Bytes::from)
    }

    /// Replies the agent is writing right now, so a socket that connects
    /// (or reconnects) mid-reply shows the text so far.
    fn greeting(&self, core: &Arc<Core>, caller: &Caller) -> Option<Greeting> {
        let agent = core.agent.as_ref()?;
        let bound = self.bound.map(|(id, _)| [id]);
        let events = agent.in_flight(bound.as_ref().map(|b| &b[..]));
        if events.is_empty() {
            return None;
        }
        let (core, caller) = (core.clone(), caller.clone());
        Some(Box::pin(async move {
            // Only the caller's own conversations.
            let mine = core.conversation_ids(&caller).await?;
            let frames = events
                .iter()
                .filter(|e| e.conversation().is_some_and(|c| mine.contains(&c)))
                .filter_map(|e| e.frame(SLOT_NATIVE, encode).map(|f| f.text.clone()))
                .collect();
            Ok((frames, MessageId(0)))
        }))
    }

    fn on_text(&mut self, core: &Arc<Core>, caller: &Caller, me: ConnId, text: &str) -> Handled {
        let frame = match crate::http::from_object::<ClientFrame>(text.as_bytes()) {
            Ok(f) => f,
            Err(e) => {
                let client_id = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("client_id").and_then(|c| c.as_str()).map(str::to_owned));
                return Handled::Reply(error_frame(
                    &Error::invalid(format!("malformed frame: {e}")),
                    client_id.as_deref(),
                ));
            }
        };
        let client_id = frame.client_id.clone();
        self.handle(core, caller, me, frame)
            .unwrap_or_else(|e| Handled::Reply(error_frame(&e, client_id.as_deref())))
    }

    fn error_frame(&self, err: &Error, client_id: Option<&str>) -> Utf8Bytes {
        error_frame(err, client_id)
    }
}

/// The user socket (every conversation of the caller).
#[utoipa::path(
    get,
    path = "/api/ws",
    tag = "sockets",
    summary = "WebSocket: every conversation of the caller",
    description = "A WebSocket upgrade. Authenticate with `Authorization: Bearer`, `?token=` or the session \
                   cookie; `?since=ID` replays what was missed. Frames are described in docs/API.md.",
    params(UpgradeHeaders, SocketQuery, ("token" = Option<String>, Query, description = "The access token, for clients that cannot set headers")),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in", body = super::dto::ErrorBody),
    )
)]
pub async fn user_socket(up: Upgrade, core: Arc<Core>, who: (Caller, Via), q: SocketQuery) -> Result<Response, Error> {
    let (caller, _) = who;
    let proto = NativeSocket {
        bound: None,
        last_typing: None,
    };
    let since = q.since.map(EventId);
    Ok(up.reply(core, caller, proto, since).await)
}

fn conversation_uuid(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::not_found("conversation"))
}

/// A socket bound to one conversation.
#[utoipa::path(
    get,
    path = "/api/conversations/{id}/connect",
    tag = "sockets",
    summary = "WebSocket: one conversation",
    description = "A WebSocket upgrade, bound to one conversation (members only).",
    params(("id" = String, Path, description = "The conversation's id (a UUID)"), UpgradeHeaders, SocketQuery,
           ("token" = Option<String>, Query, description = "The access token, for clients that cannot set headers")),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in", body = super::dto::ErrorBody),
        (status = 403, description = "Not a member of this room", body = super::dto::ErrorBody),
        (status = 404, description = "No such conversation", body = super::dto::ErrorBody),
    )
)]
pub async fn conversation_socket(
    id: String,
    up: Upgrade,
    core: Arc<Core>,
    who: (Caller, Via),
    q: SocketQuery,
) -> Result<Response, Error> {
    let (caller, _) = who;
    let conv = core.conversation(&caller, conversation_uuid(&id)?).await?.conversation;
    let proto = NativeSocket {
        bound: Some((conv.id, conv.uuid)),
        last_typing: None,
    };
    let since = q.since.map(EventId);
    Ok(up.reply(core, caller, proto, since).await)
}

/// `POST …/connect` without an upgrade: where the socket is.
#[utoipa::path(
    post,
    path = "/api/conversations/{id}/connect",
    tag = "sockets",
    summary = "Where a conversation's socket is",
    params(("id" = String, Path, description = "The conversation's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The socket's URL", body = ConnectOut),
        (status = 401, description = "Not logged in", body = super::dto::ErrorBody),
        (status = 403, description = "Not a member of this room", body = super::dto::ErrorBody),
        (status = 404, description = "No such conversation", body = super::dto::ErrorBody),
    )
)]
pub async fn connect_info(
    id: String,
    core: Arc<Core>,
    caller: Caller,
    host: Option<String>,
    proto: Option<String>,
) -> Result<Response, Error> {
    let conv = core.conversation(&caller, conversation_uuid(&id)?).await?.conversation;
    let scheme = if proto.as_deref() == Some("https") { "wss" } else { "ws" };
    let host = host.unwrap_or_else(|| "localhost".into());
    Ok(json(
        StatusCode::OK,
        &ConnectOut {
            status: "WebSocket connected",
            conversation_id: conv.uuid,
            ws_url: format!("{scheme}://{host}/api/conversations/{}/connect", conv.uuid),
        },
    ))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let user = warp::path!("ws")
        .and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core.clone()))
        .and(query::<SocketQuery>())
        .then(user_socket)
        .map(Native::reply);
    let conversation = warp::path!("conversations" / String / "connect")
        .and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core.clone()))
        .and(query::<SocketQuery>())
        .then(conversation_socket)
        .map(Native::reply);
    let info = warp::path!("conversations" / String / "connect")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(caller(core))
        .and(warp::header::optional::<String>("host"))
        .and(warp::header::optional::<String>("x-forwarded-proto"))
        .then(connect_info)
        .map(Native::reply);
    user.or(conversation).unify().or(info).unify().boxed()
}
