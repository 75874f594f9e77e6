//! The messenger dialect (seed 004): DRF-style accounts with a JWT pair,
//! profiles with posts and friends, and chat rooms addressed by name — a
//! direct conversation is `a_b` (the two usernames, sorted).
//!
//! Errors are `{"detail": "..."}` (with `"code": "token_not_valid"` when a
//! token is refused, as SimpleJWT's clients expect).

pub mod dto;
mod socket;

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::{Caller, Core, Registration, SendRequest, Target};
use crate::db::messages::Page;
use crate::error::Error;
use crate::http::filters::{caller, client, decode_segment, json as body, query, with_core};
use crate::http::{ErrorShape, Response, json, recover};
use crate::model::{ConversationId, Message};
use dto::*;

/// Every route of this dialect: (method, path as docs/API.md writes it;
/// sockets are `GET`). Add a route here and to `routes`: the auth matrix
/// (tests/suite/auth_matrix.rs) fails for a route it has no row for, and checks
/// that each one listed is served.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/accounts/api/users/"),
    ("GET", "/accounts/api/users/"),
    ("POST", "/accounts/api/token/"),
    ("POST", "/accounts/api/token/refresh/"),
    ("GET", "/profiles/api/profile/"),
    ("GET", "/profiles/api/posts/"),
    ("POST", "/profiles/api/posts/"),
    ("GET", "/profiles/api/search-user/"),
    ("POST", "/profiles/api/add-friend/"),
    ("POST", "/profiles/api/remove-friend/"),
    ("GET", "/messenger/api/chatrooms/"),
    ("POST", "/messenger/api/chatrooms/"),
    ("GET", "/messenger/api/user/chatrooms/"),
    ("GET", "/messenger/api/chatrooms/{room_name}/messages/"),
    ("POST", "/messenger/api/chatrooms/{room_name}/messages/"),
    ("GET", "/messenger/ws/ws/chat/{room_name}/"),
    ("GET", "/ws/chat/{room_name}/"),
];

pub struct Messenger;

/// What DRF says when no credentials came with the request.
const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
/// What SimpleJWT says to a wrong username or password.
const NO_ACCOUNT: &str = "No active account found with the given credentials";

impl ErrorShape for Messenger {
    // The seed answers a taken name with 400.
    const CONFLICT: StatusCode = StatusCode::BAD_REQUEST;

    fn render(status: StatusCode, message: &str) -> Response {
        if status == StatusCode::UNAUTHORIZED {
            if message.starts_with("authentication required") {
                return json(
                    status,
                    &Detail {
                        detail: NO_CREDENTIALS,
                        code: None,
                    },
                );
            }
            let code = if message == NO_ACCOUNT {
                "no_active_account"
            } else {
                "token_not_valid"
            };
            return json(
                status,
                &Detail {
                    detail: message,
                    code: Some(code),
                },
            );
        }
        json(
            status,
            &Detail {
                detail: message,
                code: None,
            },
        )
    }
}

/// Paths that belong to this dialect (for the 404 shape).
pub fn owns(path: &str) -> bool {
    ["/accounts/", "/profiles/", "/messenger/"]
        .iter()
        .any(|p| path.starts_with(p))
}

async fn register(core: Arc<Core>, r: RegisterIn, from: std::net::IpAddr) -> Result<Response, Error> {
    if r.username.trim().is_empty() {
        return Err(Error::invalid("username is required"));
    }
    let tokens = core
        .register(Registration {
            username: Some(r.username),
            email: r.email,
            password: r.password,
            invite: r.invite,
            from,
            ..Default::default()
        })
        .await?;
    Ok(json(StatusCode::CREATED, &UserOut::from(&tokens.user)))
}

async fn users(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let users: Vec<UserOut> = core.all_users(&caller).await?.iter().map(UserOut::from).collect();
    Ok(json(StatusCode::OK, &users))
}

async fn token(core: Arc<Core>, r: TokenIn, from: std::net::IpAddr) -> Result<Response, Error> {
    let tokens = core.login(&r.username, &r.password, from).await.map_err(|e| match e {
        // SimpleJWT's words, which its clients show.
        Error::Unauthorized(_) => Error::Unauthorized(NO_ACCOUNT.into()),
        other => other,
    })?;
    Ok(json(
        StatusCode::OK,
        &TokensOut {
            refresh: tokens.refresh,
            access: tokens.access,
        },
    ))
}

async fn refresh(core: Arc<Core>, r: RefreshIn) -> Result<Response, Error> {
    let tokens = core.refresh(&r.refresh).await?;
    Ok(json(
        StatusCode::OK,
        &TokensOut {
            refresh: tokens.refresh,
            access: tokens.access,
        },
    ))
}

async fn profile(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let user = core.user(caller.user).await?;
    let posts = core.posts(Some(user.id)).await?;
    // The seed's frontend reads `profile.friends` here to choose between
    // "add friend" and "remove friend".
    let friends = core.friends(user.id).await?.iter().map(|f| f.id.0).collect();
    Ok(json(StatusCode::OK, &ProfileUserOut::new(user, posts, Some(friends))))
}

async fn posts(core: Arc<Core>, _caller: Caller) -> Result<Response, Error> {
    let posts: Vec<PostOut> = core.posts(None).await?.into_iter().map(PostOut::from).collect();
    Ok(json(StatusCode::OK, &posts))
}

async fn create_post(core: Arc<Core>, caller: Caller, r: PostIn) -> Result<Response, Error> {
    let post = core.create_post(&caller, &r.title, &r.content).await?;
    Ok(json(StatusCode::CREATED, &PostOut::from(post)))
}

async fn search(core: Arc<Core>, caller: Caller, q: SearchQuery) -> Result<Response, Error> {
    let name = q
        .username
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| Error::invalid("username is required"))?;
    let user = core.user_named_for(&caller, &name).await?;
    let friends = core.friends(user.id).await?.iter().map(|f| f.id.0).collect();
    let posts = core.posts(Some(user.id)).await?;
    Ok(json(StatusCode::OK, &ProfileUserOut::new(user, posts, Some(friends))))
}

async fn add_friend(core: Arc<Core>, caller: Caller, r: UsernameIn) -> Result<Response, Error> {
    let (friend, _) = core.add_friend(&caller, &r.username).await?;
    Ok(json(
        StatusCode::OK,
        &MessageText {
            message: format!("{} добавлен в друзья.", friend.username),
        },
    ))
}

async fn remove_friend(core: Arc<Core>, caller: Caller, r: UsernameIn) -> Result<Response, Error> {
    let (friend, _) = core.remove_friend(&caller, &r.username).await?;
    Ok(json(
        StatusCode::OK,
        &MessageText {
            message: format!("{} удален из друзей.", friend.username),
        },
    ))
}

async fn chatrooms(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let rooms: Vec<ChatroomOut> = core
        .conversations(&caller)
        .await?
        .iter()
        .filter_map(|s| ChatroomOut::new(s, caller.user))
        .collect();
    Ok(json(StatusCode::OK, &rooms))
}

async fn create_chatroom(core: Arc<Core>, caller: Caller, r: RecipientIn) -> Result<Response, Error> {
    if r.recipient.trim().is_empty() {
        return Err(Error::invalid("recipient is required"));
    }
    let other = core.user_by_username(&r.recipient).await?;
    let (conv, created) = core.direct_with(&caller, other.id).await?;
    let summary = core.conversation(&caller, conv.uuid).await?;
    let room = ChatroomOut::new(&summary, caller.user).ok_or_else(|| Error::internal("direct room without members"))?;
    Ok(json(if created { StatusCode::CREATED } else { StatusCode::OK }, &room))
}

/// A room's history as this dialect shows it: the latest page, oldest first
/// (deleted messages are in it, for the caller to leave out).
async fn room_history(core: &Core, caller: &Caller, room: ConversationId) -> Result<Vec<Message>, Error> {
    let page = Page {
        before: None,
        after: None,
        limit: crate::core::MAX_PAGE,
    };
    core.history_of(caller, room, page).await
}

async fn messages(room: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let conv = core.named_conversation(&caller, &decode_segment(&room)).await?;
    let messages: Vec<MessageOut> = room_history(&core, &caller, conv.id)
        .await?
        .iter()
        .filter(|m| !m.deleted)
        .map(MessageOut::from)
        .collect();
    Ok(json(StatusCode::OK, &messages))
}

async fn post_message(room: String, core: Arc<Core>, caller: Caller, r: ContentIn) -> Result<Response, Error> {
    let conv = core.named_conversation(&caller, &decode_segment(&room)).await?;
    let message = core
        .send(&caller, SendRequest::text(Target::Conversation(conv.id), r.content))
        .await?;
    Ok(json(StatusCode::CREATED, &MessageOut::from(message.as_ref())))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let open = || with_core(core.clone());
    let accounts = warp::path!("accounts" / "api" / "users")
        .and(
            warp::post()
                .and(open())
                .and(body(limit))
                .and(client(core.clone()))
                .then(register)
                .or(warp::get().and(auth()).then(users))
                .unify(),
        )
        .map(Messenger::reply)
        .or(warp::path!("accounts" / "api" / "token")
            .and(warp::post())
            .and(open())
            .and(body(limit))
            .and(client(core.clone()))
            .then(token)
            .map(Messenger::reply))
        .unify()
        .or(warp::path!("accounts" / "api" / "token" / "refresh")
            .and(warp::post())
            .and(open())
            .and(body(limit))
            .then(refresh)
            .map(Messenger::reply))
        .unify();
    let profiles = warp::path!("profiles" / "api" / "profile")
        .and(warp::get())
        .and(auth())
        .then(profile)
        .map(Messenger::reply)
        .or(warp::path!("profiles" / "api" / "posts")
            .and(
                warp::get()
                    .and(auth())
                    .then(posts)
                    .or(warp::post().and(auth()).and(body(limit)).then(create_post))
                    .unify(),
            )
            .map(Messenger::reply))
        .unify()
        .or(warp::path!("profiles" / "api" / "search-user")
            .and(warp::get())
            .and(auth())
            .and(query::<SearchQuery>())
            .then(search)
            .map(Messenger::reply))
        .unify()
        .or(warp::path!("profiles" / "api" / "add-friend")
            .and(warp::post())
            .and(auth())
            .and(body(limit))
            .then(add_friend)
            .map(Messenger::reply))
        .unify()
        .or(warp::path!("profiles" / "api" / "remove-friend")
            .and(warp::post())
            .and(auth())
            .and(body(limit))
            .then(remove_friend)
            .map(Messenger::reply))
        .unify();
    let rooms = warp::path!("messenger" / "api" / "chatrooms")
        .and(
            warp::get()
                .and(auth())
                .then(chatrooms)
                .or(warp::post().and(auth()).and(body(limit)).then(create_chatroom))
                .unify(),
        )
        .map(Messenger::reply)
        .or(warp::path!("messenger" / "api" / "user" / "chatrooms")
            .and(warp::get())
            .and(auth())
            .then(chatrooms)
            .map(Messenger::reply))
        .unify()
        .or(warp::path!("messenger" / "api" / "chatrooms" / String / "messages")
            .and(warp::get())
            .and(auth())
            .then(messages)
            .map(Messenger::reply))
        .unify()
        .or(warp::path!("messenger" / "api" / "chatrooms" / String / "messages")
            .and(warp::post())
            .and(auth())
            .and(body(limit))
            .then(post_message)
            .map(Messenger::reply))
        .unify();
    accounts
        .or(profiles)
        .unify()
        .or(rooms)
        .unify()
        .or(socket::routes(core))
        .unify()
        .recover(recover::<Messenger>)
        .unify()
        .boxed()
}
