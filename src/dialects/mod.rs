//! The API dialects: thin adapters that parse a request, call the core and
//! map the answer to their own wire shapes. No SQL and no rules live here.

pub mod chatroom;
pub mod messenger;
pub mod native;
pub mod room_socket;
pub mod threads;
pub mod whisper;

use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::Core;
use crate::http::{ErrorShape, Response};
use crate::model::FileMeta;

/// Frame-cache slots on hub events, one per socket wire format.
pub const SLOT_NATIVE: usize = 0;
pub const SLOT_CHATROOM: usize = 1;
pub const SLOT_THREADS: usize = 2;
pub const SLOT_MESSENGER: usize = 3;

/// A message's reactions as the other dialects carry them: an extra field,
/// left out when there are none, so their seeds' shapes are unchanged.
#[derive(Debug, Serialize)]
pub struct ReactionCount {
    pub emoji: String,
    pub count: usize,
}

pub fn reaction_counts(m: &crate::model::Message) -> Vec<ReactionCount> {
    m.reactions
        .iter()
        .map(|r| ReactionCount {
            emoji: r.emoji.clone(),
            count: r.users.len(),
        })
        .collect()
}

/// Where a stored file is downloaded (the native route, which every
/// dialect's clients can fetch with their own credentials).
pub fn file_url(f: &FileMeta) -> String {
    format!("/api/files/{}", f.uuid)
}

/// A message's attachment, as the dialects whose seeds have none show it:
/// an extra field older clients can ignore.
#[derive(Debug, Serialize)]
pub struct AttachmentOut {
    pub name: String,
    pub url: String,
}

impl From<&FileMeta> for AttachmentOut {
    fn from(f: &FileMeta) -> Self {
        AttachmentOut {
            name: f.name.clone(),
            url: file_url(f),
        }
    }
}

/// Every dialect's routes. Each renders its own errors but passes unknown
/// paths on, so no dialect swallows another's 404.
pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    native::routes(core.clone())
        .or(whisper::routes(core.clone()))
        .unify()
        // Threads before chatroom: its `/ws/chat/room/` must win over `/ws/chat/{room}/{user_id}`.
        .or(threads::routes(core.clone()))
        .unify()
        .or(chatroom::routes(core.clone()))
        .unify()
        .or(messenger::routes(core))
        .unify()
        .boxed()
}

/// The 404 for a path no route matched, in the shape of the dialect the
/// path looks like it belongs to.
pub fn not_found(path: &str) -> Response {
    let message = format!("no such endpoint: {path}");
    let status = StatusCode::NOT_FOUND;
    if path.starts_with("/api/") {
        native::Native::render(status, &message)
    } else if messenger::owns(path) {
        messenger::Messenger::render(status, &message)
    } else if threads::owns(path) {
        threads::Threads::render(status, &message)
    } else if whisper::owns(path) {
        whisper::Whisper::render(status, &message)
    } else if chatroom::owns(path) {
        chatroom::Chatroom::render(status, &message)
    } else {
        native::Native::render(status, &message)
    }
}
