//! `/api/users/*`: list and search, one user, the caller's own profile.

use std::sync::Arc;

use http::StatusCode;
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{PatchMeIn, UserOut, UsersQuery};
use crate::core::{Caller, Core, ProfileUpdate};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, json as body, query, with_core};
use crate::http::{Response, json};

async fn list(core: Arc<Core>, _caller: Caller, q: UsersQuery) -> Result<Response, Error> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let users = core.search_users(q.q, limit).await?;
    let out: Vec<UserOut> = users
        .into_iter()
        .map(|u| {
            let online = core.is_online(u.id);
            UserOut::new(u, online)
        })
        .collect();
    Ok(json(StatusCode::OK, &out))
}

async fn me(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let user = core.user(caller.user).await?;
    let online = core.is_online(user.id);
    Ok(json(StatusCode::OK, &UserOut::new(user, online)))
}

async fn patch_me(core: Arc<Core>, caller: Caller, p: PatchMeIn) -> Result<Response, Error> {
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

async fn one(id: String, core: Arc<Core>, _caller: Caller) -> Result<Response, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::not_found("user"))?;
    let user = core.user_by_uuid(id).await?;
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
    let one = warp::path!("users" / String)
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core))
        .then(one)
        .map(Native::reply);
    list.or(me).unify().or(patch_me).unify().or(one).unify().boxed()
}
