//! `/api/messages/*`: send, edit, delete.

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{EditIn, MentionsOut, MentionsQuery, MessageOut, ReactIn, ReactionQuery, SendIn};
use crate::core::{Attachment, Caller, Core, DEFAULT_PAGE, SendRequest, Target};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, json as body, query, with_core};
use crate::http::{Response, json, status};
use crate::model::MessageId;

#[utoipa::path(
    post,
    path = "/api/messages",
    tag = "messages",
    summary = "Send a message",
    request_body = SendIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored (committed) and delivered live", body = MessageOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not allowed", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody),
        (status = 429, description = "Too many requests", body = super::dto::ErrorBody),
        (status = 503, description = "Not enabled on this server", body = super::dto::ErrorBody)
    )
)]
pub async fn send(core: Arc<Core>, caller: Caller, r: SendIn) -> Result<Response, Error> {
    if r.sender_id.is_some_and(|s| s != caller.uuid) {
        return Err(Error::forbidden("sender_id must be your own user id"));
    }
    let message = core
        .send(
            &caller,
            SendRequest {
                to: Target::ConversationUuid(r.conversation_id),
                text: r.message,
                attachment: r.attachment_id.map_or(Attachment::None, Attachment::File),
                client_id: r.client_id,
                origin: None,
                reply_to: r.reply_to.map(MessageId),
            },
        )
        .await?;
    Ok(json(StatusCode::OK, &MessageOut::from(message.as_ref())))
}

fn message_id(id: &str) -> Result<MessageId, Error> {
    id.parse().map(MessageId).map_err(|_| Error::not_found("message"))
}

#[utoipa::path(
    patch,
    path = "/api/messages/{id}",
    tag = "messages",
    summary = "Edit one of the caller's messages",
    params(("id" = i64, Path, description = "The message id")),
    request_body = EditIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The edited message", body = MessageOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not allowed", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody)
    )
)]
pub async fn edit(id: String, core: Arc<Core>, caller: Caller, r: EditIn) -> Result<Response, Error> {
    let message = core.edit_message(&caller, message_id(&id)?, r.message).await?;
    Ok(json(StatusCode::OK, &MessageOut::from(&message)))
}

#[utoipa::path(
    delete,
    path = "/api/messages/{id}",
    tag = "messages",
    summary = "Delete one of the caller's messages (soft: the id stays)",
    params(("id" = i64, Path, description = "The message id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not allowed", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn delete(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    core.delete_message(&caller, message_id(&id)?).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    post,
    path = "/api/messages/{id}/reactions",
    tag = "messages",
    summary = "React to a message (members only; adding one already there changes nothing)",
    params(("id" = i64, Path, description = "The message id")),
    request_body = ReactIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message with its reactions", body = MessageOut),
        (status = 400, description = "Bad input (no emoji, spaces in it, too long), or over `--max-reactions`", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn react(id: String, core: Arc<Core>, caller: Caller, r: ReactIn) -> Result<Response, Error> {
    let message = core.react(&caller, message_id(&id)?, r.emoji, true).await?;
    Ok(json(StatusCode::OK, &MessageOut::from(&message)))
}

#[utoipa::path(
    delete,
    path = "/api/messages/{id}/reactions",
    tag = "messages",
    summary = "Take back the caller's reaction (taking back one not there changes nothing)",
    params(("id" = i64, Path, description = "The message id"), ReactionQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message with its reactions", body = MessageOut),
        (status = 400, description = "Bad input (no emoji)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn unreact(id: String, core: Arc<Core>, caller: Caller, q: ReactionQuery) -> Result<Response, Error> {
    let message = core.react(&caller, message_id(&id)?, q.emoji, false).await?;
    Ok(json(StatusCode::OK, &MessageOut::from(&message)))
}

#[utoipa::path(
    get,
    path = "/api/mentions",
    tag = "messages",
    summary = "The messages that mention the caller, newest first (in conversations they are in)",
    params(MentionsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of them", body = MentionsOut),
        (status = 400, description = "Bad input (a limit outside 1–1000, a cursor that is not a number)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody)
    )
)]
pub async fn mentions(core: Arc<Core>, caller: Caller, q: MentionsQuery) -> Result<Response, Error> {
    let before = q.before.filter(|&b| b > 0).map(MessageId);
    let page = core
        .mentions_of_me(&caller, before, q.limit.unwrap_or(DEFAULT_PAGE))
        .await?;
    let out = MentionsOut {
        messages: page.messages.iter().map(MessageOut::from).collect(),
        next_before: page.next_before.map(|m| m.0),
    };
    Ok(json(StatusCode::OK, &out))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let send = warp::path!("messages")
        .and(warp::post())
        .and(auth())
        .and(body(limit))
        .then(send)
        .map(Native::reply);
    let edit = warp::path!("messages" / String)
        .and(warp::patch())
        .and(auth())
        .and(body(limit))
        .then(edit)
        .map(Native::reply);
    let delete = warp::path!("messages" / String)
        .and(warp::delete())
        .and(auth())
        .then(delete)
        .map(Native::reply);
    let react = warp::path!("messages" / String / "reactions")
        .and(warp::post())
        .and(auth())
        .and(body(limit))
        .then(react)
        .map(Native::reply);
    let unreact = warp::path!("messages" / String / "reactions")
        .and(warp::delete())
        .and(auth())
        .and(query::<ReactionQuery>())
        .then(unreact)
        .map(Native::reply);
    let mentions = warp::path!("mentions")
        .and(warp::get())
        .and(auth())
        .and(query::<MentionsQuery>())
        .then(mentions)
        .map(Native::reply);
    send.or(edit)
        .unify()
        .or(mentions)
        .unify()
        .or(delete)
        .unify()
        .or(react)
        .unify()
        .or(unreact)
        .unify()
        .boxed()
}
