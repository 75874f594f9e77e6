//! The threads dialect (seed 003): direct conversations between two users
//! ("threads"), the messages of one, and a user socket that delivers
//! `re_message` frames. Every HTTP answer is the envelope
//! `{"status": "success"|"failure", "entity", "message", "success"}`.
//!
//! The seed's exchange endpoints (coins, transactions, deposits, withdrawals,
//! trading settings) belong to another product and are not served.

pub mod dto;
mod socket;

use std::sync::Arc;

use http::StatusCode;
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::{Caller, Core};
use crate::db::messages::Page;
use crate::error::Error;
use crate::http::filters::{caller, with_core};
use crate::http::{ErrorShape, Response, json, recover};
use crate::model::UserBrief;
use dto::*;

/// Every route of this dialect: (method, path as docs/API.md writes it;
/// sockets are `GET`). Add a route here and to `routes`: the auth matrix
/// (tests/suite/auth_matrix.rs) fails for a route it has no row for, and checks
/// that each one listed is served.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/chat/messages/{user_uuid}/"),
    ("GET", "/chat/get-user-threads/"),
    ("GET", "/auth/users/"),
    ("POST", "/auth/users/"),
    ("GET", "/ws/chat/room/"),
    ("GET", "/chat/room/ws/"),
];

pub struct Threads;

impl ErrorShape for Threads {
    fn render(status: StatusCode, message: &str) -> Response {
        json(status, &failure(message))
    }
}

/// Paths that belong to this dialect (for the 404 shape).
pub fn owns(path: &str) -> bool {
    path.starts_with("/chat/") || path.starts_with("/auth/users") || path.starts_with("/ws/chat/room")
}

/// The seed's message (and spelling) for an unknown receiver.
pub const INVALID_RECIPIENT: &str = "Invalid receipient";

async fn messages(other: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let other = Uuid::parse_str(&other).map_err(|_| Error::NotFound(INVALID_RECIPIENT.into()))?;
    let page = Page {
        before: None,
        after: None,
        limit: crate::core::MAX_PAGE,
    };
    let (other, messages) = core.direct_history(&caller, other, page).await.map_err(|e| match e {
        Error::NotFound(_) => Error::NotFound(INVALID_RECIPIENT.into()),
        other => other,
    })?;
    let me = UserBrief::from(&core.user(caller.user).await?);
    let other = UserBrief::from(&other);
    let messages = messages.iter().map(|m| MessageOut::new(m, &me, &other)).collect();
    Ok(json(
        StatusCode::OK,
        &Envelope::ok(MessagesOut { messages }, Some("Messages retreived successfully")),
    ))
}

async fn threads(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let threads: Vec<ThreadOut> = core
        .direct_threads(&caller)
        .await?
        .iter()
        .map(ThreadOut::from)
        .collect();
    Ok(json(StatusCode::OK, &Envelope::ok(threads, None)))
}

async fn users(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let users: Vec<PublicUser> = core
        .all_users(&caller)
        .await?
        .into_iter()
        .map(PublicUser::from)
        .collect();
    Ok(json(StatusCode::OK, &Envelope::ok(users, None)))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let messages = warp::path!("chat" / "messages" / String)
        .and(warp::get())
        .and(auth())
        .then(messages)
        .map(Threads::reply);
    let threads = warp::path!("chat" / "get-user-threads")
        .and(warp::get())
        .and(auth())
        .then(threads)
        .map(Threads::reply);
    let users = warp::path!("auth" / "users")
        .and(warp::post().or(warp::get()).unify())
        .and(auth())
        .then(users)
        .map(Threads::reply);
    // The socket first: `/ws/chat/room/` must win over chatroom's `/ws/chat/{room}/{user_id}`.
    socket::routes(core.clone())
        .or(messages)
        .unify()
        .or(threads)
        .unify()
        .or(users)
        .unify()
        .recover(recover::<Threads>)
        .unify()
        .boxed()
}
