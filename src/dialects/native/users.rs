//! `/api/users/*`: list and search, one user, the caller's own profile.

use std::sync::Arc;

use http::StatusCode;
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{ConversationOut, FileOut, MessageOut, PatchMeIn, UserExportOut, UserOut, UsersQuery};
use crate::core::{Caller, Core, ProfileUpdate};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, json as body, query, with_core};
use crate::http::{Response, json};
use crate::model::Timestamp;

#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    summary = "List and search users",
    params(UsersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Users in username order", body = Vec<UserOut>),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody)
    )
)]
pub async fn list(core: Arc<Core>, caller: Caller, q: UsersQuery) -> Result<Response, Error> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let users = core.search_users(&caller, q.q, limit).await?;
    let out: Vec<UserOut> = users
        .into_iter()
        .map(|u| {
            let online = core.is_online(u.id);
            UserOut::new(u, online)
        })
        .collect();
    Ok(json(StatusCode::OK, &out))
}

#[utoipa::path(
    get,
    path = "/api/users/me",
    tag = "users",
    summary = "The caller's own profile",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserOut),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody)
    )
)]
pub async fn me(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let user = core.user(caller.user).await?;
    let online = core.is_online(user.id);
    Ok(json(StatusCode::OK, &UserOut::new(user, online)))
}

#[utoipa::path(
    patch,
    path = "/api/users/me",
    tag = "users",
    summary = "Change the caller's profile or password",
    request_body = PatchMeIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated caller", body = UserOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "Not allowed", body = super::dto::ErrorBody),
        (status = 409, description = "Conflict", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody)
    )
)]
pub async fn patch_me(core: Arc<Core>, caller: Caller, p: PatchMeIn) -> Result<Response, Error> {
    let user = core
        .update_profile(
            &caller,
            ProfileUpdate {
                name: p.name,
                first_name: p.first_name,
                last_name: p.last_name,
                email: p.email,
                bio: p.bio,
                profile_picture: p.profile_picture,
                public_key: p.public_key,
                ready_to_chat: p.ready_to_chat,
                password: p.password,
                old_password: p.old_password,
            },
        )
        .await?;
    let online = core.is_online(user.id);
    Ok(json(StatusCode::OK, &UserOut::new(user, online)))
}

/// Everything of the caller's, as one JSON document to keep.
#[utoipa::path(
    get,
    path = "/api/users/me/export",
    tag = "users",
    summary = "Download your own data",
    description = "Your profile, the conversations you are a member of, every message in them (anyone's), \
                   and the files you uploaded (each with the URL to download it). Never a password or its hash.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export, as an attachment", body = UserExportOut),
        (status = 401, description = "Not logged in", body = super::dto::ErrorBody),
    )
)]
pub async fn export(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let export = core.export_user(&caller).await?;
    let online = core.is_online(export.user.id);
    let filename = format!("natter-export-{}.json", export.user.uuid);
    let out = UserExportOut {
        format: "natter-user-export",
        format_version: 1,
        exported_at: Timestamp::now().rfc3339(),
        user: UserOut::new(export.user, online),
        conversations: export
            .conversations
            .into_iter()
            .map(|s| ConversationOut::new(s, |m| core.is_online(m.id)))
            .collect(),
        messages: export.messages.iter().map(MessageOut::from).collect(),
        files: export.files.into_iter().map(FileOut::from).collect(),
    };
    let mut res = json(StatusCode::OK, &out);
    if let Ok(v) = http::HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        res.headers_mut().insert(http::header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    summary = "One user",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = UserOut),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn one(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::not_found("user"))?;
    let user = core.user_for(&caller, id).await?;
    let online = core.is_online(user.id);
    Ok(json(StatusCode::OK, &UserOut::new(user, online)))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let list = warp::path!("users")
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core.clone()))
        .and(query::<UsersQuery>())
        .then(list)
        .map(Native::reply);
    let me = warp::path!("users" / "me")
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core.clone()))
        .then(me)
        .map(Native::reply);
    let patch_me = warp::path!("users" / "me")
        .and(warp::patch())
        .and(with_core(core.clone()))
        .and(caller(core.clone()))
        .and(body(limit))
        .then(patch_me)
        .map(Native::reply);
    let export = warp::path!("users" / "me" / "export")
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core.clone()))
        .then(export)
        .map(Native::reply);
    let one = warp::path!("users" / String)
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core))
        .then(one)
        .map(Native::reply);
    list.or(me)
        .unify()
        .or(patch_me)
        .unify()
        .or(export)
        .unify()
        .or(one)
        .unify()
        .boxed()
}
