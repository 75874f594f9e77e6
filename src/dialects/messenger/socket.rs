//! The messenger room socket: `/messenger/ws/ws/chat/{room_name}/`
//! (`?token=` or Bearer). The client sends `{"message": "..."}`; members
//! receive `{"id", "user", "content", "timestamp"}`.

use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;

use super::Messenger;
use super::dto::{Detail, MessageOut};
use crate::core::{Caller, Core, EventKind};
use crate::dialects::SLOT_MESSENGER;
use crate::dialects::room_socket::{RoomFormat, RoomSocket};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::Response;
use crate::http::filters::{Via, decode_segment, socket_caller, with_core};
use crate::http::ws::{Protocol, Upgrade, drive, upgrade};

struct Drf;

impl RoomFormat for Drf {
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
}

async fn connect(room: String, up: Upgrade, core: Arc<Core>, who: (Caller, Via)) -> Result<Response, Error> {
    let (caller, _) = who;
    let conv = core.named_conversation(&caller, &decode_segment(&room)).await?;
    let proto = RoomSocket::<Drf>::new(conv.id);
    let max = proto.max_frame(&core);
    Ok(up.reply(max, move |ws| drive(core, caller, proto, None, ws)))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path!("messenger" / "ws" / "ws" / "chat" / String)
        .and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core))
        .then(connect)
        .map(Messenger::reply)
        .boxed()
}
