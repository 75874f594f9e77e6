//! `/api/invites` (invitations to sign up) and `/api/auth/reset` (choosing a
//! new password with the link an admin made).

use std::sync::Arc;

use http::StatusCode;
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{ErrorBody, InviteIn, InviteOut, ResetIn};
use crate::core::{Caller, Core};
use crate::error::Error;
use crate::http::filters::{caller, client, json as body, with_core};
use crate::http::{ErrorShape, Response, json, status};

#[utoipa::path(
    post,
    path = "/api/invites",
    tag = "admin",
    summary = "Make an invitation link (admins; members with --members-invite)",
    request_body = InviteIn,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The invitation, with its code (shown this once)", body = InviteOut),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not allowed to invite", body = ErrorBody)
    )
)]
pub async fn create(core: Arc<Core>, caller: Caller, r: InviteIn) -> Result<Response, Error> {
    let new = core.create_invite(&caller, r.max_uses, r.expires_in_days).await?;
    Ok(json(StatusCode::CREATED, &InviteOut::new(new.invite, Some(new.code))))
}

#[utoipa::path(
    get,
    path = "/api/invites",
    tag = "admin",
    summary = "Invitations: all of them for an admin, your own for a member",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Invitations, newest first (without their codes)", body = Vec<InviteOut>),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let list: Vec<InviteOut> = core
        .invites(&caller)
        .await?
        .into_iter()
        .map(|i| InviteOut::new(i, None))
        .collect();
    Ok(json(StatusCode::OK, &list))
}

#[utoipa::path(
    delete,
    path = "/api/invites/{id}",
    tag = "admin",
    summary = "Withdraw an invitation (an admin, or whoever made it)",
    params(("id" = String, Path, description = "The invitation's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such invitation of yours", body = ErrorBody)
    )
)]
pub async fn revoke(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::not_found("invitation"))?;
    core.revoke_invite(&caller, id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    post,
    path = "/api/auth/reset",
    tag = "auth",
    summary = "Choose a new password with a reset link",
    description = "The token comes from the link an admin made (`POST /api/admin/users/{id}/reset-link`). \
                   It works once, for a day; every session of the user ends.",
    request_body = ResetIn,
    responses(
        (status = 204, description = "The password is set: log in with it"),
        (status = 400, description = "The password breaks a rule", body = ErrorBody),
        (status = 403, description = "The link is unknown, used or expired", body = ErrorBody)
    )
)]
pub async fn reset(core: Arc<Core>, r: ResetIn, from: std::net::IpAddr) -> Result<Response, Error> {
    core.reset_password(&r.token, &r.password, from).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let create = warp::path!("invites")
        .and(warp::post())
        .and(auth())
        .and(body(limit))
        .then(create)
        .map(Native::reply);
    let list = warp::path!("invites")
        .and(warp::get())
        .and(auth())
        .then(list)
        .map(Native::reply);
    let revoke = warp::path!("invites" / String)
        .and(warp::delete())
        .and(auth())
        .then(revoke)
        .map(Native::reply);
    let reset = warp::path!("auth" / "reset")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(body(limit))
        .and(client(core.clone()))
        .then(reset)
        .map(Native::reply);
    create.or(list).unify().or(revoke).unify().or(reset).unify().boxed()
}
