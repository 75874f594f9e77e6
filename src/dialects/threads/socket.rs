//! The threads socket: `/ws/chat/room/?token=` (and `/chat/room/ws/`).
//!
//! One socket per user carries every direct conversation. The client sends
//! `{"action": "chat_message", "message_body", "receiver_id"}` or a file as
//! `{"action": "chat_file", "receiver_id", "message_body"?, "file_name",
//! "file_base64"}`; the receiver's sockets, and the sender's other sockets,
//! get `{"action": "re_message", …}`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::dto::{ClientFrame, ReMessage, SocketError, size_kb};
use super::{INVALID_RECIPIENT, Threads};
use crate::core::{Attachment, Caller, ConnId, Core, Event, EventKind, Outgoing, Scope, SendRequest, Target, Upload};
use crate::dialects::{SLOT_THREADS, file_url};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::Response;
use crate::http::filters::{Via, socket_caller, with_core};
use crate::http::ws::{Handled, Protocol, Upgrade, upgrade};

/// `2024-06-17T12:48:28.228342+00:00`, as the seed's socket shows times.
fn iso(t: crate::model::Timestamp) -> String {
    let s = t.rfc3339();
    format!("{}+00:00", s.trim_end_matches('Z'))
}

fn encode(kind: &EventKind) -> Option<String> {
    let EventKind::Message {
        message,
        conversation,
        receiver: Some(receiver),
        ..
    } = kind
    else {
        return None;
    };
    if !conversation.kind.is_pair() || message.deleted {
        return None;
    }
    serde_json::to_string(&ReMessage {
        message_body: message.text.clone(),
        sender_id: message.sender.uuid,
        receiver_id: receiver.uuid,
        timestamp: iso(message.created_at),
        created_msg_id: message.id.0,
        action: "re_message",
        attached_file: message.file.as_ref().map(file_url),
        attached_file_name: message.file.as_ref().map(|f| f.name.clone()),
        attached_file_size: message.file.as_ref().map(|f| size_kb(Some(f))),
    })
    .ok()
}

fn error_frame(err: &Error) -> Utf8Bytes {
    let message = match err {
        Error::NotFound(_) => INVALID_RECIPIENT.to_owned(),
        other => other.public_message(),
    };
    let frame = SocketError {
        action: "error",
        status: "failure",
        message: &message,
        success: false,
    };
    Utf8Bytes::from(serde_json::to_string(&frame).unwrap_or_default())
}

/// Standard base64, padded or not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 as browsers and scripts send it, with or without a `data:` prefix.
fn decode_file(text: &str) -> Result<Vec<u8>, Error> {
    let data = text.split_once(";base64,").map_or(text, |(_, d)| d);
    let data: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    BASE64
        .decode(data)
        .map_err(|_| Error::invalid("file_base64 is not valid base64"))
}

struct ThreadsSocket;

impl ThreadsSocket {
    fn request(&self, me: ConnId, f: ClientFrame) -> Result<SendRequest, Error> {
        let receiver = f.receiver_id.ok_or_else(|| Error::invalid("receiver_id is required"))?;
        let attachment = match f.action.as_deref() {
            Some("chat_message") => Attachment::None,
            Some("chat_file") => {
                let name = f.file_name.ok_or_else(|| Error::invalid("file_name is required"))?;
                let encoded = f.file_base64.ok_or_else(|| Error::invalid("file_base64 is required"))?;
                Attachment::Upload(Upload {
                    name,
                    content_type: None,
                    data: decode_file(&encoded)?,
                })
            }
            Some(other) => {
                return Err(Error::invalid(format!(
                    "unknown action `{other}`: use chat_message or chat_file"
                )));
            }
            None => return Err(Error::invalid("action is required: chat_message or chat_file")),
        };
        Ok(SendRequest {
            to: Target::DirectWith(receiver),
            text: f.message_body.unwrap_or_default(),
            attachment,
            client_id: None,
            origin: Some(me),
            reply_to: None,
        })
    }
}

impl Protocol for ThreadsSocket {
    fn dialect(&self) -> &'static str {
        "threads"
    }

    fn scope(&self) -> Scope {
        Scope::All
    }

    fn max_frame(&self, core: &Core) -> usize {
        // A file travels as base64 inside JSON.
        core.limits.max_upload_bytes / 3 * 4 + 64 * 1024
    }

    fn frame(&self, event: &Event, me: ConnId) -> Option<Outgoing> {
        // The socket a message was sent on does not get it back.
        if let EventKind::Message {
            origin: Some(origin), ..
        } = &event.kind
            && *origin == me
        {
            return None;
        }
        event.frame(SLOT_THREADS, |e| encode(&e.kind)).map(Outgoing::Shared)
    }

    fn on_text(&mut self, core: &Arc<Core>, caller: &Caller, me: ConnId, text: &str) -> Handled {
        let req = crate::http::from_object::<ClientFrame>(text.as_bytes())
            .map_err(|e| Error::invalid(format!("malformed frame: {e}")))
            .and_then(|f| self.request(me, f));
        match req {
            Ok(req) => {
                let sent = core.send(caller, req);
                Handled::Pending(Box::pin(async move { sent.await.err().map(|e| error_frame(&e)) }))
            }
            Err(e) => Handled::Reply(error_frame(&e)),
        }
    }

    fn error_frame(&self, err: &Error, _client_id: Option<&str>) -> Utf8Bytes {
        error_frame(err)
    }
}

async fn connect(up: Upgrade, core: Arc<Core>, who: (Caller, Via)) -> Result<Response, Error> {
    let (caller, _) = who;
    let proto = ThreadsSocket;
    Ok(up.reply(core, caller, proto, None).await)
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let path = warp::path!("ws" / "chat" / "room")
        .or(warp::path!("chat" / "room" / "ws"))
        .unify();
    path.and(upgrade())
        .and(with_core(core.clone()))
        .and(socket_caller(core))
        .then(connect)
        .map(Threads::reply)
        .boxed()
}
