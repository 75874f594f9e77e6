//! `/api/admin/*`: operations for the server's admins — users (search,
//! role, deactivation, reset links), moderation (any message, any room),
//! the audit log, an overview, and a backup. The core checks the caller is
//! an active admin (`require_admin`) and records each change in the audit log.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, header};
use tokio::io::AsyncReadExt;
use warp::Filter;
use warp::filters::BoxedFilter;

use http::StatusCode;
use uuid::Uuid;

use super::Native;
use super::dto::{
    AdminUserIn, AdminUserOut, AdminUsersQuery, AuditOut, AuditQuery, ErrorBody, OverviewOut, ResetLinkOut,
};
use crate::core::admin::UserChange;
use crate::core::{Caller, Core};
use crate::error::Error;
use crate::http::filters::{caller, json as body, query, with_core};
use crate::http::{ErrorShape, Response, json, status};
use crate::model::{MessageId, Role};

fn user_id(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::not_found("user"))
}

#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    summary = "Users, with role and state (admins only)",
    params(("q" = Option<String>, Query, description = "Search username and name"),
           ("limit" = Option<i64>, Query, description = "At most this many (default 200, at most 1000)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Users", body = Vec<AdminUserOut>),
        (status = 400, description = "Bad input (a limit that is not a number)", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn users(core: Arc<Core>, caller: Caller, q: AdminUsersQuery) -> Result<Response, Error> {
    let users = core.admin_users(&caller, q.q, q.limit.unwrap_or(200)).await?;
    let out: Vec<AdminUserOut> = users
        .into_iter()
        .map(|u| {
            let online = core.is_online(u.id);
            AdminUserOut::new(u, online)
        })
        .collect();
    Ok(json(StatusCode::OK, &out))
}

#[utoipa::path(
    patch,
    path = "/api/admin/users/{id}",
    tag = "admin",
    summary = "Change a user's role, or deactivate or reactivate them (admins only)",
    description = "Deactivating ends the user's sessions and closes their sockets at once; their messages stay. \
                   The last active admin cannot be demoted or deactivated, nor can you deactivate yourself.",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    request_body = AdminUserIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user now", body = AdminUserOut),
        (status = 400, description = "Bad input (an unknown role)", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Not possible (the last admin, yourself, the AI agent)", body = ErrorBody)
    )
)]
pub async fn change_user(id: String, core: Arc<Core>, caller: Caller, r: AdminUserIn) -> Result<Response, Error> {
    let role = match r.role.as_deref() {
        None => None,
        Some(s) => Some(Role::parse(s).ok_or_else(|| Error::invalid("role must be `admin` or `member`"))?),
    };
    let user = core
        .admin_change_user(
            &caller,
            user_id(&id)?,
            UserChange {
                role,
                deactivated: r.deactivated,
            },
        )
        .await?;
    let online = core.is_online(user.id);
    Ok(json(StatusCode::OK, &AdminUserOut::new(user, online)))
}

#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/reset-link",
    tag = "admin",
    summary = "A one-time link for a user to choose a new password (admins only)",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The link, valid a day; give it to the user", body = ResetLinkOut),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The AI agent, which has no password", body = ErrorBody)
    )
)]
pub async fn reset_link(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let (token, expires) = core.admin_reset_link(&caller, user_id(&id)?).await?;
    Ok(json(
        StatusCode::CREATED,
        &ResetLinkOut {
            url: format!("/#/reset/{token}"),
            token,
            expires_at: expires.rfc3339(),
        },
    ))
}

#[utoipa::path(
    delete,
    path = "/api/admin/messages/{id}",
    tag = "admin",
    summary = "Delete anyone's message (admins only)",
    params(("id" = i64, Path, description = "The message's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted (members see it deleted, live)"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody)
    )
)]
pub async fn delete_message(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let id: i64 = id.parse().map_err(|_| Error::not_found("message"))?;
    core.admin_delete_message(&caller, MessageId(id)).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    delete,
    path = "/api/admin/conversations/{id}",
    tag = "admin",
    summary = "Delete any room with its messages (admins only)",
    params(("id" = String, Path, description = "The room's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such room", body = ErrorBody),
        (status = 409, description = "A direct conversation, not a room", body = ErrorBody)
    )
)]
pub async fn delete_room(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::not_found("conversation"))?;
    core.admin_delete_room(&caller, id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

#[utoipa::path(
    get,
    path = "/api/admin/audit",
    tag = "admin",
    summary = "The audit log, newest first (admins only)",
    params(("limit" = Option<i64>, Query, description = "At most this many (default 200)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries", body = Vec<AuditOut>),
        (status = 400, description = "Bad input (a limit that is not a number)", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn audit(core: Arc<Core>, caller: Caller, q: AuditQuery) -> Result<Response, Error> {
    let entries: Vec<AuditOut> = core
        .audit_log(&caller, q.limit.unwrap_or(200))
        .await?
        .into_iter()
        .map(AuditOut::from)
        .collect();
    Ok(json(StatusCode::OK, &entries))
}

#[utoipa::path(
    get,
    path = "/api/admin/overview",
    tag = "admin",
    summary = "Counts and sizes (admins only)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The server in figures", body = OverviewOut),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
pub async fn overview(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    Ok(json(StatusCode::OK, &OverviewOut::from(core.overview(&caller).await?)))
}

/// Read size while streaming a backup.
const CHUNK: usize = 64 * 1024;

/// A fresh, checked backup of the database, streamed.
#[utoipa::path(
    get,
    path = "/api/admin/backup",
    tag = "admin",
    summary = "Download a fresh backup of the database (admins only)",
    description = "A consistent copy made now, checked with integrity_check, as an SQLite file.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The SQLite file", content_type = "application/vnd.sqlite3", body = Vec<u8>),
        (status = 401, description = "Not logged in", body = super::dto::ErrorBody),
        (status = 403, description = "Not an admin", body = super::dto::ErrorBody),
        (status = 501, description = "The server keeps its data in PostgreSQL: back it up with pg_dump", body = super::dto::ErrorBody),
    )
)]
pub async fn backup(core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let (file, len) = core.backup_for_download(&caller).await?;
    let file = tokio::fs::File::from_std(file);
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut res = warp::reply::Reply::into_response(warp::reply::stream(chunks));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.sqlite3"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"natter-backup.db\""),
    );
    Ok(res)
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let backup = warp::path!("admin" / "backup")
        .and(warp::get())
        .and(auth())
        .then(backup)
        .map(Native::reply);
    let users = warp::path!("admin" / "users")
        .and(warp::get())
        .and(auth())
        .and(query::<AdminUsersQuery>())
        .then(users)
        .map(Native::reply);
    let change = warp::path!("admin" / "users" / String)
        .and(warp::patch())
        .and(auth())
        .and(body(limit))
        .then(change_user)
        .map(Native::reply);
    let reset = warp::path!("admin" / "users" / String / "reset-link")
        .and(warp::post())
        .and(auth())
        .then(reset_link)
        .map(Native::reply);
    let message = warp::path!("admin" / "messages" / String)
        .and(warp::delete())
        .and(auth())
        .then(delete_message)
        .map(Native::reply);
    let room = warp::path!("admin" / "conversations" / String)
        .and(warp::delete())
        .and(auth())
        .then(delete_room)
        .map(Native::reply);
    let audit = warp::path!("admin" / "audit")
        .and(warp::get())
        .and(auth())
        .and(query::<AuditQuery>())
        .then(audit)
        .map(Native::reply);
    let overview = warp::path!("admin" / "overview")
        .and(warp::get())
        .and(auth())
        .then(overview)
        .map(Native::reply);
    backup
        .or(users)
        .unify()
        .or(change)
        .unify()
        .or(reset)
        .unify()
        .or(message)
        .unify()
        .or(room)
        .unify()
        .or(audit)
        .unify()
        .or(overview)
        .unify()
        .boxed()
}
