//! `/api/auth/*`: register, login, refresh, logout.

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{LoginIn, RefreshIn, RegisterIn, TokensOut};
use crate::core::{Caller, Core, Registration};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, json as body, with_core};
use crate::http::{Response, json, status};

async fn register(core: Arc<Core>, r: RegisterIn) -> Result<Response, Error> {
    let tokens = core
        .register(Registration {
            username: r.username,
            email: r.email,
            password: r.password,
            name: r.name,
            first_name: r.first_name,
            last_name: r.last_name,
            public_key: r.public_key,
        })
        .await?;
    Ok(json(StatusCode::CREATED, &TokensOut::from(tokens)))
}

async fn login(core: Arc<Core>, r: LoginIn) -> Result<Response, Error> {
    let login = r.username.or(r.email).unwrap_or_default();
    let tokens = core.login(&login, &r.password).await?;
    Ok(json(StatusCode::OK, &TokensOut::from(tokens)))
}

async fn refresh(core: Arc<Core>, r: RefreshIn) -> Result<Response, Error> {
    Ok(json(
        StatusCode::OK,
        &TokensOut::from(core.refresh(&r.refresh_token).await?),
    ))
}

async fn logout(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    core.logout(&caller).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let register = warp::path!("auth" / "register")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(body(limit))
        .then(register)
        .map(Native::reply);
    let login = warp::path!("auth" / "login")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(body(limit))
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
