//! The chatroom dialect (seed 001): root-level form endpoints with a session
//! cookie, rooms by name, and a room socket at `/ws/chat/{room}/{user_id}`.
//!
//! `/login` and `/create_user` set the HttpOnly, SameSite=Lax session cookie;
//! every other endpoint needs it (or a Bearer token). Errors are
//! `{"error": "..."}`. Ids are integers.

pub mod dto;
mod socket;

use std::sync::Arc;

use http::{HeaderValue, StatusCode, header};
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::{Caller, Core, Registration, SendRequest, Target, Tokens};
use crate::db::messages::Page;
use crate::error::Error;
use crate::http::filters::{SESSION_COOKIE, caller, client, https, json_or_form, query, with_core};
use crate::http::{ErrorShape, Response, json, recover};
use dto::*;

/// Every route of this dialect: (method, path as docs/API.md writes it;
/// sockets are `GET`). Add a route here and to `routes`: the auth matrix
/// (tests/suite/auth_matrix.rs) fails for a route it has no row for, and checks
/// that each one listed is served.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/login"),
    ("POST", "/create_user"),
    ("GET", "/logout"),
    ("POST", "/logout"),
    ("GET", "/get_users"),
    ("POST", "/create_room"),
    ("GET", "/get_rooms"),
    ("POST", "/join_room"),
    ("POST", "/send_message"),
    ("POST", "/list_message"),
    ("GET", "/list_message"),
    ("GET", "/ws/chat/{room_name}/{user_id}"),
];

pub struct Chatroom;

impl ErrorShape for Chatroom {
    // The seed answers a taken name with 400.
    const CONFLICT: StatusCode = StatusCode::BAD_REQUEST;

    fn render(status: StatusCode, message: &str) -> Response {
        json(status, &ErrorOut { error: message })
    }
}

const PATHS: &[&str] = &[
    "login",
    "logout",
    "create_user",
    "get_users",
    "create_room",
    "get_rooms",
    "join_room",
    "send_message",
    "list_message",
];

/// Paths that belong to this dialect (for the 404 shape).
pub fn owns(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    PATHS.contains(&first) || path.starts_with("/ws/chat/")
}

fn set_cookie(res: &mut Response, value: &str, max_age: u64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn logged_in(core: &Core, tokens: &Tokens, mut res: Response, secure: bool) -> Result<Response, Error> {
    let token = core.session_token(tokens)?;
    set_cookie(&mut res, &token, core.session_ttl().as_secs(), secure);
    Ok(res)
}

async fn login(core: Arc<Core>, secure: bool, r: Credentials, from: std::net::IpAddr) -> Result<Response, Error> {
    let tokens = core.login(&r.username, &r.password, from).await?;
    let res = json(
        StatusCode::OK,
        &LoginOut {
            user_id: tokens.user.id.0,
            message: "Login successful",
        },
    );
    logged_in(&core, &tokens, res, secure)
}

async fn create_user(core: Arc<Core>, secure: bool, r: Credentials, from: std::net::IpAddr) -> Result<Response, Error> {
    if r.username.trim().is_empty() || r.password.is_empty() {
        return Err(Error::invalid("username and password are required"));
    }
    let tokens = core
        .register(Registration {
            username: Some(r.username),
            password: r.password,
            invite: r.invite,
            from,
            ..Default::default()
        })
        .await?;
    let res = json(
        StatusCode::OK,
        &InfoOut {
            info: "User created successfully",
        },
    );
    logged_in(&core, &tokens, res, secure)
}

async fn logout(core: Arc<Core>, caller: Caller, secure: bool) -> Result<Response, Error> {
    core.logout(&caller).await?;
    let mut res = json(
        StatusCode::OK,
        &MessageOnly {
            message: "Logged out successfully".into(),
        },
    );
    set_cookie(&mut res, "", 0, secure);
    Ok(res)
}

async fn get_users(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let users = core.all_users(&caller).await?.into_iter().map(UserOut::from).collect();
    Ok(json(StatusCode::OK, &UsersOut { users }))
}

async fn create_room(core: Arc<Core>, caller: Caller, r: RoomIn) -> Result<Response, Error> {
    let room = core.create_room(&caller, r.room.trim(), Vec::new()).await?;
    Ok(json(StatusCode::OK, &RoomOut::from(room)))
}

async fn get_rooms(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let rooms = core
        .rooms(&caller)
        .await?
        .into_iter()
        .map(|r| RoomOut::from(r.conversation))
        .collect();
    Ok(json(StatusCode::OK, &RoomsOut { rooms }))
}

async fn join_room(core: Arc<Core>, caller: Caller, r: RoomIn) -> Result<Response, Error> {
    if r.room.trim().is_empty() {
        return Err(Error::invalid("room is required"));
    }
    let conv = core.enter_named(&caller, &r.room).await?;
    core.set_current_room(&caller, conv.id).await?;
    Ok(json(
        StatusCode::OK,
        &MessageOnly {
            message: format!("Joined room {}", r.room.trim()),
        },
    ))
}

async fn send_message(core: Arc<Core>, caller: Caller, r: SendIn) -> Result<Response, Error> {
    let room = core
        .current_room(&caller)
        .await?
        .ok_or_else(|| Error::invalid("join a room first (POST /join_room)"))?;
    let message = core
        .send(&caller, SendRequest::text(Target::Conversation(room), r.message))
        .await?;
    Ok(json(
        StatusCode::OK,
        &MessageOnly {
            message: message.text.clone(),
        },
    ))
}

async fn list_message(core: Arc<Core>, caller: Caller, r: RoomIn) -> Result<Response, Error> {
    if r.room.trim().is_empty() {
        return Err(Error::invalid("room is required"));
    }
    let conv = core.named_conversation(&caller, &r.room).await?;
    let page = Page {
        before: None,
        after: None,
        limit: crate::core::MAX_PAGE,
    };
    let messages = core.history_of(&caller, conv.id, page).await?;
    let messages = messages.iter().filter(|m| !m.deleted).map(ChatMessage::from).collect();
    Ok(json(
        StatusCode::OK,
        &ListOut {
            room: r.room.trim().to_owned(),
            messages,
        },
    ))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let body = move || json_or_form::<Credentials>(limit);
    let login = warp::path!("login")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(https())
        .and(body())
        .and(client(core.clone()))
        .then(login)
        .map(Chatroom::reply);
    let create_user = warp::path!("create_user")
        .and(warp::post())
        .and(with_core(core.clone()))
        .and(https())
        .and(body())
        .and(client(core.clone()))
        .then(create_user)
        .map(Chatroom::reply);
    let logout = warp::path!("logout")
        .and(warp::get().or(warp::post()).unify())
        .and(auth())
        .and(https())
        .then(logout)
        .map(Chatroom::reply);
    let get_users = warp::path!("get_users")
        .and(warp::get())
        .and(auth())
        .then(get_users)
        .map(Chatroom::reply);
    let create_room = warp::path!("create_room")
        .and(warp::post())
        .and(auth())
        .and(json_or_form(limit))
        .then(create_room)
        .map(Chatroom::reply);
    let get_rooms = warp::path!("get_rooms")
        .and(warp::get())
        .and(auth())
        .then(get_rooms)
        .map(Chatroom::reply);
    let join_room = warp::path!("join_room")
        .and(warp::post())
        .and(auth())
        .and(json_or_form(limit))
        .then(join_room)
        .map(Chatroom::reply);
    let send_message = warp::path!("send_message")
        .and(warp::post())
        .and(auth())
        .and(json_or_form(limit))
        .then(send_message)
        .map(Chatroom::reply);
    // POST as in the seed; GET with `?room=` for convenience.
    let list_message = warp::path!("list_message")
        .and(
            warp::post()
                .and(auth())
                .and(json_or_form::<RoomIn>(limit))
                .or(warp::get().and(auth()).and(query::<RoomIn>()))
                .unify(),
        )
        .then(list_message)
        .map(Chatroom::reply);
    login
        .or(create_user)
        .unify()
        .or(logout)
        .unify()
        .or(get_users)
        .unify()
        .or(create_room)
        .unify()
        .or(get_rooms)
        .unify()
        .or(join_room)
        .unify()
        .or(send_message)
        .unify()
        .or(list_message)
        .unify()
        .or(socket::routes(core))
        .unify()
        .recover(recover::<Chatroom>)
        .unify()
        .boxed()
}
