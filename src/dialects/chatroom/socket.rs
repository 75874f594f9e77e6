//! The room socket: `/ws/chat/{room_name}/{user_id}`, the original project's
//! route. The session cookie (or `?token=`) must belong to `user_id`; the
//! user joins the room on connect. The client sends `{"message": "..."}` and
//! every socket in the room receives
//! `{"type": "chat", "message", "username", "timestamp"}`.

use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;

use super::Chatroom;
use super::dto::{ChatFrame, ChatMessage, SocketError};
use crate::core::{Caller, Core, EventKind};
use crate::dialects::SLOT_CHATROOM;
use crate::dialects::room_socket::{RoomFormat, RoomSocket};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::Response;
use crate::http::filters::{Via, decode_segment, socket_caller, with_core};
use crate::http::ws::{Upgrade, upgrade};

struct Chat;

impl RoomFormat for Chat {
    const DIALECT: &'static str = "chatroom";
    const SLOT: usize = SLOT_CHATROOM;

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

    fn error(message: &str) -> String {
        serde_json::to_string(&SocketError { kind: "error", message }).unwrap_or_default()
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
    let proto = RoomSocket::<Chat>::new(conv.id);
    Ok(up.reply(core, caller, proto, None).await)
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path!("ws" / "chat" / String / String)
        .and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core))
        .then(connect)
        .map(Chatroom::reply)
        .boxed()
}
