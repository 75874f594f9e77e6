//! The whisper dialect (seed 000): sign up with a public key, say you are
//! ready to chat, and find the public keys of the others who are online.
//!
//! Success bodies carry `"status": <code>`; errors are
//! `{"status": N, "messages": [{"message": "..."}]}`. Bodies may be JSON or
//! form-encoded. Paths work with and without the trailing slash.

pub mod dto;

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::{Caller, Core, ProfileUpdate, Registration, keypair};
use crate::error::Error;
use crate::http::filters::{caller, client, json_or_form, with_core};
use crate::http::{ErrorShape, Response, json, recover};
use dto::*;

/// Every route of this dialect: (method, path as docs/API.md writes it;
/// sockets are `GET`). Add a route here and to `routes`: the auth matrix
/// (tests/suite/auth_matrix.rs) fails for a route it has no row for, and checks
/// that each one listed is served.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/auth/signup/"),
    ("POST", "/auth/login/"),
    ("POST", "/find-user/"),
    ("GET", "/profile/"),
    ("PUT", "/profile/"),
    ("PATCH", "/profile/"),
    ("POST", "/ready-to-chat/"),
    ("GET", "/online-users/"),
];

pub struct Whisper;

impl ErrorShape for Whisper {
    // The seed answers a taken name with 400.
    const CONFLICT: StatusCode = StatusCode::BAD_REQUEST;

    fn render(status: StatusCode, message: &str) -> Response {
        json(
            status,
            &ErrorOut {
                status: status.as_u16(),
                messages: [ErrorMessage { message }],
            },
        )
    }
}

/// Paths that belong to this dialect (for the 404 shape).
pub fn owns(path: &str) -> bool {
    ["/auth/", "/profile", "/ready-to-chat", "/online-users", "/find-user"]
        .iter()
        .any(|p| path.starts_with(p))
}

async fn signup(core: Arc<Core>, r: SignupIn, from: std::net::IpAddr) -> Result<Response, Error> {
    if r.username.trim().is_empty() || r.password.is_empty() {
        return Err(Error::invalid("username and password are required"));
    }
    // The original server made a key pair for every account, so
    // `/online-users/` always had a key to list. A client that brings its own
    // key keeps the private half to itself; otherwise one is made here and
    // its private half goes back in this answer, once, and nowhere else.
    let (public_key, private_key) = match r.public_key.filter(|k| !k.is_empty()) {
        Some(key) => (key, None),
        None => {
            let pair = keypair::generate();
            (pair.public_pem, Some(pair.private_pem))
        }
    };
    let tokens = core
        .register(Registration {
            username: Some(r.username),
            password: r.password,
            public_key: Some(public_key),
            invite: r.invite,
            from,
            ..Default::default()
        })
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &SignupOut {
            status: 201,
            id: tokens.user.uuid,
            private_key,
        },
    ))
}

/// `POST /find-user/`: does this username exist? The original CLI asks
/// before every command that needs a login.
async fn find_user(core: Arc<Core>, r: FindUserIn) -> Result<Response, Error> {
    if r.username.trim().is_empty() {
        return Err(Error::invalid("username is required"));
    }
    let user = core.user_by_username(&r.username).await?;
    Ok(json(
        StatusCode::OK,
        &FindUserOut {
            status: 200,
            message: "User found",
            username: user.username,
        },
    ))
}

async fn login(core: Arc<Core>, r: LoginIn, from: std::net::IpAddr) -> Result<Response, Error> {
    let tokens = core.login(&r.username, &r.password, from).await.map_err(|e| match e {
        // Missing fields are a failed login too, as the seed has it.
        Error::Invalid(m) => Error::Unauthorized(m),
        other => other,
    })?;
    Ok(json(
        StatusCode::OK,
        &LoginOut {
            status: 200,
            access_token: tokens.access,
        },
    ))
}

async fn profile(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let user = core.user(caller.user).await?;
    Ok(json(
        StatusCode::OK,
        &ProfileOut {
            status: 200,
            data: user.into(),
        },
    ))
}

async fn set_key(core: Arc<Core>, caller: Caller, r: ProfileIn) -> Result<Response, Error> {
    let key = r.public_key.ok_or_else(|| Error::invalid("public_key is required"))?;
    let key = (!key.is_empty()).then_some(key);
    let user = core
        .update_profile(
            &caller,
            ProfileUpdate {
                public_key: Some(key),
                ..Default::default()
            },
        )
        .await?;
    Ok(json(
        StatusCode::OK,
        &ProfileOut {
            status: 200,
            data: user.into(),
        },
    ))
}

/// `Option` (or `option`): a JSON boolean or the strings "true"/"false".
fn option(body: &Value) -> Result<bool, Error> {
    let v = body.get("Option").or_else(|| body.get("option"));
    match v {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(Error::invalid("Option must be true or false")),
        None => Err(Error::invalid("Option is required: true or false")),
    }
}

async fn ready(core: Arc<Core>, caller: Caller, body: Value) -> Result<Response, Error> {
    let ready = option(&body)?;
    core.update_profile(
        &caller,
        ProfileUpdate {
            ready_to_chat: Some(ready),
            ..Default::default()
        },
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &MessageOut {
            status: 200,
            message: "Ready to chat status updated.",
        },
    ))
}

async fn online(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let public_keys = core.online_public_keys(&caller).await?;
    Ok(json(
        StatusCode::OK,
        &OnlineOut {
            status: 200,
            public_keys,
        },
    ))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let signup = warp::path!("auth" / "signup")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(json_or_form(limit))
        .and(client(core.clone()))
        .then(signup)
        .map(Whisper::reply);
    let login = warp::path!("auth" / "login")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(json_or_form(limit))
        .and(client(core.clone()))
        .then(login)
        .map(Whisper::reply);
    let find_user = warp::path!("find-user")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(json_or_form(limit))
        .then(find_user)
        .map(Whisper::reply);
    let profile = warp::path!("profile")
        .and(warp::get())
        .and(auth())
        .then(profile)
        .map(Whisper::reply);
    let set_key = warp::path!("profile")
        .and(warp::put().or(warp::patch()).unify())
        .and(auth())
        .and(json_or_form(limit))
        .then(set_key)
        .map(Whisper::reply);
    let ready = warp::path!("ready-to-chat")
        .and(warp::post())
        .and(auth())
        .and(json_or_form(limit))
        .then(ready)
        .map(Whisper::reply);
    let online = warp::path!("online-users")
        .and(warp::get())
        .and(auth())
        .then(online)
        .map(Whisper::reply);
    signup
        .or(login)
        .unify()
        .or(profile)
        .unify()
        .or(set_key)
        .unify()
        .or(ready)
        .unify()
        .or(online)
        .unify()
        .or(find_user)
        .unify()
        .recover(recover::<Whisper>)
        .unify()
        .boxed()
}
