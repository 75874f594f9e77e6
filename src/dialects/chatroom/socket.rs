//! The room socket: `/ws/chat/{room_name}/{user_id}`, the original project's
//! route. The session cookie (or `?token=`) must belong to `user_id`; the
//! user joins the room on connect. The client sends `{"message": "..."}` and
//! every socket in the room receives
//! `{"type": "chat", "message", "username", "timestamp"}`.

use std::sync::Arc;

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::dto::{ChatFrame, ChatMessage, SocketError};
use super::reply;
use crate::core::{Caller, ConnId, Core, Event, EventKind, Scope, SendRequest, Target};
use crate::dialects::SLOT_CHATROOM;
use crate::error::Error;
use crate::http::Response;
use crate::http::filters::{Via, decode_segment, socket_caller, with_core};
use crate::http::ws::{Handled, Protocol, Upgrade, drive, upgrade};
use crate::model::ConversationId;

#[derive(Deserialize)]
struct ClientFrame {
    message: String,
}

fn encode(kind: &EventKind) -> Option<String> {
    match kind {
        EventKind::Message { message, .. } if !message.deleted => serde_json::to_string(&ChatFrame {
            kind: "chat",
            message_id: message.id.0,
            body: ChatMessage::from(message.as_ref()),
        })
        .ok(),
        _ => None,
    }
}

fn error_frame(err: &Error) -> Utf8Bytes {
    let message = err.public_message();
    Utf8Bytes::from(
        serde_json::to_string(&SocketError {
            kind: "error",
            message: &message,
        })
        .unwrap_or_default(),
    )
}

struct RoomSocket {
    room: ConversationId,
}

impl Protocol for RoomSocket {
    fn scope(&self) -> Scope {
        Scope::Conversation(self.room)
    }

    fn frame(&self, event: &Event, _me: ConnId) -> Option<Utf8Bytes> {
        event.frame(SLOT_CHATROOM, encode)
    }

    fn on_text(&mut self, core: &Arc<Core>, caller: &Caller, me: ConnId, text: &str) -> Handled {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                return Handled::Reply(error_frame(&Error::invalid(format!(
                    "expected {{\"message\": \"...\"}}: {e}"
                ))));
            }
        };
        let mut req = SendRequest::text(Target::Conversation(self.room), frame.message);
        req.origin = Some(me);
        let sent = core.send(caller, req);
        Handled::Pending(Box::pin(async move { sent.await.err().map(|e| error_frame(&e)) }))
    }

    fn error_frame(&self, err: &Error, _client_id: Option<&str>) -> Utf8Bytes {
        error_frame(err)
    }
}

async fn connect(
    room: String,
    user_id: String,
    up: Upgrade,
    core: Arc<Core>,
    who: (Caller, Via),
) -> Result<Response, Error> {
    let (caller, _) = who;
    let user_id: i64 = user_id.parse().map_err(|_| Error::not_found("user"))?;
    if caller.user.0 != user_id {
        return Err(Error::forbidden(format!(
            "this socket is for user {user_id}, and you are logged in as user {}",
            caller.user.0
        )));
    }
    let conv = core.enter_named(&caller, &decode_segment(&room)).await?;
    let proto = RoomSocket { room: conv.id };
    let max = proto.max_frame(&core);
    Ok(up.reply(max, move |ws| drive(core, caller, proto, None, ws)))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path!("ws" / "chat" / String / String)
        .and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core))
        .then(connect)
        .map(reply)
        .boxed()
}
