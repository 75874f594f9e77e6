//! The room socket two dialects share (chatroom, messenger): bound to one
//! conversation; the client sends `{"message": "..."}`; every socket on the
//! conversation hears each stored message. Each dialect supplies only its
//! frame format.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::core::{Caller, ConnId, Core, Event, EventKind, Outgoing, Scope, SendRequest, Target};
use crate::error::Error;
use crate::http::ws::{Greeting, Handled, Protocol};
use crate::model::ConversationId;

/// A dialect's room-socket frames.
pub trait RoomFormat: Send + 'static {
    /// This format's slot in the events' frame cache.
    const SLOT: usize;
    /// The dialect's name, for logs and metrics.
    const DIALECT: &'static str;
    /// The frame for an event, or `None` if the room socket does not show it.
    fn encode(kind: &EventKind) -> Option<String>;
    /// The frame that tells the client what it sent was refused.
    fn error(message: &str) -> String;
    /// The frame a socket opens with, if any (see `Protocol::greeting`).
    fn greeting(_core: &Arc<Core>, _caller: &Caller, _room: ConversationId) -> Option<Greeting> {
        None
    }
}

pub struct RoomSocket<F> {
    room: ConversationId,
    format: PhantomData<F>,
}

impl<F: RoomFormat> RoomSocket<F> {
    pub fn new(room: ConversationId) -> Self {
        RoomSocket {
            room,
            format: PhantomData,
        }
    }
}

#[derive(Deserialize)]
struct ClientFrame {
    message: String,
}

fn error_frame<F: RoomFormat>(err: &Error) -> Utf8Bytes {
    Utf8Bytes::from(F::error(&err.public_message()))
}

impl<F: RoomFormat> Protocol for RoomSocket<F> {
    fn dialect(&self) -> &'static str {
        F::DIALECT
    }

    fn scope(&self) -> Scope {
        Scope::Conversation(self.room)
    }

    fn frame(&self, event: &Event, _me: ConnId) -> Option<Outgoing> {
        event.frame(F::SLOT, |e| F::encode(&e.kind)).map(Outgoing::Shared)
    }

    fn greeting(&self, core: &Arc<Core>, caller: &Caller) -> Option<Greeting> {
        F::greeting(core, caller, self.room)
    }

    fn on_text(&mut self, core: &Arc<Core>, caller: &Caller, me: ConnId, text: &str) -> Handled {
        let frame: ClientFrame = match crate::http::from_object(text.as_bytes()) {
            Ok(f) => f,
            Err(e) => {
                return Handled::Reply(error_frame::<F>(&Error::invalid(format!(
                    "expected {{\"message\": \"...\"}}: {e}"
                ))));
            }
        };
        let mut req = SendRequest::text(Target::Conversation(self.room), frame.message);
        req.origin = Some(me);
        let sent = core.send(caller, req);
        Handled::Pending(Box::pin(async move { sent.await.err().map(|e| error_frame::<F>(&e)) }))
    }

    fn error_frame(&self, err: &Error, _client_id: Option<&str>) -> Utf8Bytes {
        error_frame::<F>(err)
    }
}
