//! `/api/auth/*`: register, login, refresh, logout.

use std::net::IpAddr;
use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{LoginIn, RefreshIn, RegisterIn, TokensOut};
use crate::core::{Caller, Core, Registration};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, client, json as body, with_core};
use crate::http::{Response, json, status};

/// Create an account and log it in.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    summary = "Create an account and log it in",
    request_body = RegisterIn,
    responses(
        (status = 201, description = "Registered and logged in", body = TokensOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 403, description = "Sign-up is by invitation or closed, or the invitation is not valid", body = super::dto::ErrorBody),
        (status = 409, description = "Conflict", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody),
        (status = 429, description = "Too many sign-ups or password checks from this address", body = super::dto::ErrorBody)
    )
)]
pub async fn register(core: Arc<Core>, r: RegisterIn, from: IpAddr) -> Result<Response, Error> {
    let tokens = core
        .register(Registration {
            username: r.username,
            email: r.email,
            password: r.password,
            name: r.name,
            first_name: r.first_name,
            last_name: r.last_name,
            public_key: r.public_key,
            invite: r.invite,
            from,
        })
        .await?;
    Ok(json(StatusCode::CREATED, &TokensOut::from(tokens)))
}

/// Log in with a username (or email) and password.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    summary = "Log in",
    request_body = LoginIn,
    responses(
        (status = 200, description = "Logged in", body = TokensOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody),
        (status = 429, description = "Too many requests", body = super::dto::ErrorBody)
    )
)]
pub async fn login(core: Arc<Core>, r: LoginIn, from: IpAddr) -> Result<Response, Error> {
    let login = r.username.or(r.email).unwrap_or_default();
    let tokens = core.login(&login, &r.password, from).await?;
    Ok(json(StatusCode::OK, &TokensOut::from(tokens)))
}

/// Trade a refresh token for a new pair.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    summary = "Trade a refresh token for a new token pair",
    request_body = RefreshIn,
    responses(
        (status = 200, description = "A new pair", body = TokensOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 409, description = "Conflict", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody)
    )
)]
pub async fn refresh(core: Arc<Core>, r: RefreshIn) -> Result<Response, Error> {
    Ok(json(
        StatusCode::OK,
        &TokensOut::from(core.refresh(&r.refresh_token).await?),
    ))
}

/// End the caller's session.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    summary = "Log out: end this session",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody)
    )
)]
pub async fn logout(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    core.logout(&caller).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let register = warp::path!("auth" / "register")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(body(limit))
        .and(client(core.clone()))
        .then(register)
        .map(Native::reply);
    let login = warp::path!("auth" / "login")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(body(limit))
        .and(client(core.clone()))
        .then(login)
        .map(Native::reply);
    let refresh = warp::path!("auth" / "refresh")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(body(limit))
        .then(refresh)
        .map(Native::reply);
    let logout = warp::path!("auth" / "logout")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(caller(core))
        .then(logout)
        .map(Native::reply);
    register
        .or(login)
        .unify()
        .or(refresh)
        .unify()
        .or(logout)
        .unify()
        .boxed()
}
