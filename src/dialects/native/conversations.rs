//! `/api/conversations/*` and `/api/rooms/*`: lists, creation, history,
//! read marks, joining and leaving.

use std::sync::Arc;

use http::StatusCode;
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{
    ConversationOut, CreateConversationIn, HistoryQuery, MessageOut, NotifyIn, NotifyOut, ReadIn, ReadOut, RenameIn,
    RoomOut,
};
use crate::core::{Caller, Core, NewConversation, Target};
use crate::db::messages::Page;
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, json as body, query, with_core};
use crate::http::{Response, json, status};
use crate::model::{Kind, MessageId, NotifyLevel};

fn conversation_id(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::not_found("conversation"))
}

fn out(core: &Core, s: crate::model::ConversationSummary) -> ConversationOut {
    ConversationOut::new(s, |m| core.is_online(m.id))
}

#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = "conversations",
    summary = "The caller's conversations, most recent activity first",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Conversations", body = Vec<ConversationOut>),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody)
    )
)]
pub async fn list(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let list = core.conversations(&caller).await?;
    let out: Vec<ConversationOut> = list.into_iter().map(|s| out(&core, s)).collect();
    Ok(json(StatusCode::OK, &out))
}

#[utoipa::path(
    post,
    path = "/api/conversations",
    tag = "conversations",
    summary = "Start a direct conversation, a room, or the conversation with the AI agent",
    request_body = CreateConversationIn,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ConversationOut),
        (status = 200, description = "The pair's existing direct (or AI) conversation", body = ConversationOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 409, description = "Conflict", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody),
        (status = 503, description = "Not enabled on this server", body = super::dto::ErrorBody)
    )
)]
pub async fn create(core: Arc<Core>, caller: Caller, r: CreateConversationIn) -> Result<Response, Error> {
    let kind = match r.kind.as_deref() {
        None => None,
        Some(k) => {
            Some(Kind::parse(k).ok_or_else(|| Error::invalid(format!("unknown kind `{k}`: use room, direct or ai")))?)
        }
    };
    let mut participants = r.participant_ids.unwrap_or_default();
    if let Some(p) = r.participant_id {
        participants.insert(0, p);
    }
    participants.dedup();
    let (summary, created) = core
        .create_conversation(
            &caller,
            NewConversation {
                participants,
                name: r.name,
                kind,
                is_ai: r.is_ai,
            },
        )
        .await?;
    let code = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json(code, &out(&core, summary)))
}

#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    tag = "conversations",
    summary = "A page of history, oldest first (the newest, before or after a message, or around one)",
    params(("id" = String, Path, description = "The conversation's id (a UUID)"), HistoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Messages", body = Vec<MessageOut>),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not allowed", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn history(id: String, core: Arc<Core>, caller: Caller, q: HistoryQuery) -> Result<Response, Error> {
    let id = conversation_id(&id)?;
    let limit = q.limit.unwrap_or(crate::core::DEFAULT_PAGE);
    if let Some(at) = q.around {
        if q.before.is_some() || q.after.is_some() {
            return Err(Error::invalid("around cannot go with before or after"));
        }
        let messages = core.history_around(&caller, id, MessageId(at), limit).await?;
        let out: Vec<MessageOut> = messages.iter().map(MessageOut::from).collect();
        return Ok(json(StatusCode::OK, &out));
    }
    let page = Page {
        before: q.before.map(MessageId),
        after: q.after.map(MessageId),
        limit,
    };
    let messages = core.history(&caller, id, page).await?;
    let out: Vec<MessageOut> = messages.iter().map(MessageOut::from).collect();
    Ok(json(StatusCode::OK, &out))
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/read",
    tag = "conversations",
    summary = "Move the caller's read mark forward",
    params(("id" = String, Path, description = "The conversation's id (a UUID)")),
    request_body = ReadIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The mark now", body = ReadOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not allowed", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody)
    )
)]
pub async fn read(id: String, core: Arc<Core>, caller: Caller, r: ReadIn) -> Result<Response, Error> {
    let id = conversation_id(&id)?;
    let mark = core
        .mark_read(&caller, Target::ConversationUuid(id), MessageId(r.message_id))
        .await?;
    Ok(json(
        StatusCode::OK,
        &ReadOut {
            conversation_id: id,
            last_read_id: mark.0,
        },
    ))
}

#[utoipa::path(
    put,
    path = "/api/conversations/{id}/notify",
    tag = "conversations",
    summary = "Choose what the caller hears of a conversation: all, mentions or nothing",
    params(("id" = String, Path, description = "The conversation's id (a UUID)")),
    request_body = NotifyIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The level now", body = NotifyOut),
        (status = 400, description = "Bad input (malformed JSON, a level that is not all, mentions or nothing)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not a member of this room", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody)
    )
)]
pub async fn notify(id: String, core: Arc<Core>, caller: Caller, r: NotifyIn) -> Result<Response, Error> {
    let id = conversation_id(&id)?;
    let level = NotifyLevel::parse(&r.level)
        .ok_or_else(|| Error::invalid(format!("level must be all, mentions or nothing (got `{}`)", r.level)))?;
    let level = core.set_notify_level(&caller, id, level).await?;
    Ok(json(
        StatusCode::OK,
        &NotifyOut {
            conversation_id: id,
            level: level.as_str(),
        },
    ))
}

#[utoipa::path(
    delete,
    path = "/api/conversations/{id}/members/me",
    tag = "conversations",
    summary = "Leave a room",
    params(("id" = String, Path, description = "The conversation's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not a member of this room (never joined, or already left)", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 409, description = "A direct conversation, which cannot be left", body = super::dto::ErrorBody)
    )
)]
pub async fn leave(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    core.leave(&caller, conversation_id(&id)?).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    patch,
    path = "/api/conversations/{id}",
    tag = "conversations",
    summary = "Rename a room (its creator only)",
    params(("id" = String, Path, description = "The conversation's id (a UUID)")),
    request_body = RenameIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The renamed room", body = ConversationOut),
        (status = 400, description = "Bad input (an invalid name)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not the room's creator", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 409, description = "Another room has that name, or this is a direct conversation", body = super::dto::ErrorBody)
    )
)]
pub async fn rename(id: String, core: Arc<Core>, caller: Caller, r: RenameIn) -> Result<Response, Error> {
    let room = core.rename_room(&caller, conversation_id(&id)?, &r.name).await?;
    let summary = core.conversation(&caller, room.uuid).await?;
    Ok(json(StatusCode::OK, &out(&core, summary)))
}

#[utoipa::path(
    delete,
    path = "/api/conversations/{id}",
    tag = "conversations",
    summary = "Delete a room and its messages (its creator only)",
    params(("id" = String, Path, description = "The conversation's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not the room's creator", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody),
        (status = 409, description = "A direct conversation, which cannot be deleted", body = super::dto::ErrorBody)
    )
)]
pub async fn delete(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    core.delete_room(&caller, conversation_id(&id)?).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    get,
    path = "/api/rooms",
    tag = "conversations",
    summary = "Every public room",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rooms", body = Vec<RoomOut>),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody)
    )
)]
pub async fn rooms(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let rooms: Vec<RoomOut> = core.rooms(&caller).await?.into_iter().map(RoomOut::from).collect();
    Ok(json(StatusCode::OK, &rooms))
}

#[utoipa::path(
    post,
    path = "/api/rooms/{id}/join",
    tag = "conversations",
    summary = "Join a room",
    params(("id" = String, Path, description = "The room's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The room, as the caller now sees it", body = ConversationOut),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn join(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let room = core.join_room_uuid(&caller, conversation_id(&id)?).await?;
    let summary = core.conversation(&caller, room.uuid).await?;
    Ok(json(StatusCode::OK, &out(&core, summary)))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let list = warp::path!("conversations")
        .and(warp::get())
        .and(auth())
        .then(list)
        .map(Native::reply);
    let create = warp::path!("conversations")
        .and(warp::post())
        .and(auth())
        .and(body(limit))
        .then(create)
        .map(Native::reply);
    let history = warp::path!("conversations" / String)
        .and(warp::get())
        .and(auth())
        .and(query::<HistoryQuery>())
        .then(history)
        .map(Native::reply);
    let rename = warp::path!("conversations" / String)
        .and(warp::patch())
        .and(auth())
        .and(body(limit))
        .then(rename)
        .map(Native::reply);
    let delete = warp::path!("conversations" / String)
        .and(warp::delete())
        .and(auth())
        .then(delete)
        .map(Native::reply);
    let read = warp::path!("conversations" / String / "read")
        .and(warp::post())
        .and(auth())
        .and(body(limit))
        .then(read)
        .map(Native::reply);
    let notify = warp::path!("conversations" / String / "notify")
        .and(warp::put())
        .and(auth())
        .and(body(limit))
        .then(notify)
        .map(Native::reply);
    let leave = warp::path!("conversations" / String / "members" / "me")
        .and(warp::delete())
        .and(auth())
        .then(leave)
        .map(Native::reply);
    let rooms = warp::path!("rooms")
        .and(warp::get())
        .and(auth())
        .then(rooms)
        .map(Native::reply);
    let join = warp::path!("rooms" / String / "join")
        .and(warp::post())
        .and(auth())
        .then(join)
        .map(Native::reply);
    list.or(create)
        .unify()
        .or(history)
        .unify()
        .or(rename)
        .unify()
        .or(delete)
        .unify()
        .or(read)
        .unify()
        .or(notify)
        .unify()
        .or(leave)
        .unify()
        .or(rooms)
        .unify()
        .or(join)
        .unify()
        .boxed()
}
