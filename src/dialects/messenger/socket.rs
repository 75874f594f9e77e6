//! The messenger room socket: `/messenger/ws/ws/chat/{room_name}/`, as the
//! seed documents it, and `/ws/chat/{room_name}/`, where the seed's React
//! frontend opens it (`?token=` or Bearer). It opens with
//! `{"type": "message_history", "messages": [...]}` (the room's history, as
//! `GET .../messages/` gives it); then the client sends `{"message": "..."}`
//! and members receive `{"id", "user", "content", "timestamp"}`.

use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;

use super::Messenger;
use super::dto::{Detail, MessageOut};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::core::{Caller, Core, EventKind};
use crate::dialects::SLOT_MESSENGER;
use crate::dialects::room_socket::{RoomFormat, RoomSocket};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::Response;
use crate::http::filters::{Via, decode_segment, socket_caller, with_core};
use crate::http::ws::{Greeting, Upgrade, upgrade};
use crate::model::{ConversationId, MessageId};

struct Drf;

impl RoomFormat for Drf {
    const DIALECT: &'static str = "messenger";
    const SLOT: usize = SLOT_MESSENGER;

    fn encode(kind: &EventKind) -> Option<String> {
        match kind {
            EventKind::Message { message, .. } if !message.deleted => {
                serde_json::to_string(&MessageOut::from(message.as_ref())).ok()
            }
            _ => None,
        }
    }

    fn error(message: &str) -> String {
        serde_json::to_string(&Detail {
            detail: message,
            code: None,
        })
        .unwrap_or_default()
    }

    fn greeting(core: &Arc<Core>, caller: &Caller, room: ConversationId) -> Option<Greeting> {
        let (core, caller) = (core.clone(), caller.clone());
        Some(Box::pin(async move {
            let page = super::room_history(&core, &caller, room).await?;
            let frame = HistoryFrame {
                kind: "message_history",
                messages: page.iter().filter(|m| !m.deleted).map(MessageOut::from).collect(),
            };
            let last = page.last().map_or(MessageId(0), |m| m.id);
            Ok((
                vec![Utf8Bytes::from(serde_json::to_string(&frame).map_err(Error::internal)?)],
                last,
            ))
        }))
    }
}

#[derive(Serialize)]
struct HistoryFrame {
    #[serde(rename = "type")]
    kind: &'static str,
    messages: Vec<MessageOut>,
}

async fn connect(room: String, up: Upgrade, core: Arc<Core>, who: (Caller, Via)) -> Result<Response, Error> {
    let (caller, _) = who;
    let conv = core.named_conversation(&caller, &decode_segment(&room)).await?;
    let proto = RoomSocket::<Drf>::new(conv.id);
    Ok(up.reply(core, caller, proto, None).await)
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    // `/ws/chat/{room}/` has one segment after `chat`: chatroom's socket has
    // two, and threads' `/ws/chat/room/` is matched before this one.
    warp::path!("messenger" / "ws" / "ws" / "chat" / String)
        .or(warp::path!("ws" / "chat" / String))
        .unify()
        .and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core))
        .then(connect)
        .map(Messenger::reply)
        .boxed()
}
