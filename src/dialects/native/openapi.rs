//! `GET /api/openapi.json`: the native API described by its own code.
//!
//! The operations come from the `#[utoipa::path]` on each handler and the
//! schemas from the wire types in `dto.rs`, so the document follows the
//! code. `ROUTES` lists every native route in one place; a test checks it
//! against this document and against the server (each route answers).

use std::sync::{Arc, OnceLock};

use http::{HeaderValue, StatusCode, header};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use warp::Filter;
use warp::filters::BoxedFilter;

use super::{admin, auth, conversations, files, health, invites, messages, push, search, socket, users};
use crate::http::Response;

/// Every native route: (method, path template). Add a route here, to the
/// `paths` below, and to its dialect's `routes`.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/users"),
    ("GET", "/api/users/me"),
    ("PATCH", "/api/users/me"),
    ("GET", "/api/users/me/export"),
    ("GET", "/api/users/{id}"),
    ("GET", "/api/conversations"),
    ("POST", "/api/conversations"),
    ("GET", "/api/conversations/{id}"),
    ("POST", "/api/conversations/{id}/read"),
    ("PUT", "/api/conversations/{id}/notify"),
    ("DELETE", "/api/conversations/{id}/members/me"),
    ("PATCH", "/api/conversations/{id}"),
    ("DELETE", "/api/conversations/{id}"),
    ("GET", "/api/rooms"),
    ("POST", "/api/rooms/{id}/join"),
    ("POST", "/api/messages"),
    ("PATCH", "/api/messages/{id}"),
    ("DELETE", "/api/messages/{id}"),
    ("POST", "/api/messages/{id}/reactions"),
    ("DELETE", "/api/messages/{id}/reactions"),
    ("GET", "/api/mentions"),
    ("GET", "/api/search"),
    ("POST", "/api/files"),
    ("GET", "/api/files/{id}"),
    ("GET", "/api/ws"),
    ("GET", "/api/conversations/{id}/connect"),
    ("POST", "/api/conversations/{id}/connect"),
    ("GET", "/api/health"),
    ("GET", "/api/server"),
    ("GET", "/api/admin/backup"),
    ("GET", "/api/admin/users"),
    ("PATCH", "/api/admin/users/{id}"),
    ("POST", "/api/admin/users/{id}/reset-link"),
    ("DELETE", "/api/admin/messages/{id}"),
    ("DELETE", "/api/admin/conversations/{id}"),
    ("GET", "/api/admin/audit"),
    ("GET", "/api/admin/overview"),
    ("POST", "/api/invites"),
    ("GET", "/api/invites"),
    ("DELETE", "/api/invites/{id}"),
    ("POST", "/api/auth/reset"),
    ("GET", "/api/push/key"),
    ("POST", "/api/push/subscriptions"),
    ("DELETE", "/api/push/subscriptions"),
    ("GET", "/api/openapi.json"),
];

// ----- types the document names that no handler reads -----

/// A conversation's kind, as a request names it.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum KindIn {
    Room,
    Direct,
    Ai,
}

/// The headers of a WebSocket upgrade (RFC 6455), as a socket route needs them.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct UpgradeHeaders {
    #[param(rename = "Connection", pattern = "^[Uu]pgrade$")]
    pub connection: String,
    #[param(rename = "Upgrade", pattern = "^websocket$")]
    pub upgrade: String,
    #[param(rename = "Sec-WebSocket-Version", pattern = "^13$")]
    pub version: String,
    /// 16 random bytes, base64.
    #[param(rename = "Sec-WebSocket-Key", pattern = "^[A-Za-z0-9+/]{22}==$")]
    pub key: String,
}

/// A multipart upload: the file in a part named `file`.
#[derive(Debug, ToSchema)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access_token from /api/auth/login or /api/auth/register"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "natter native API",
        description = "The native `/api` of natter, a self-hosted chat server. Live delivery is over the \
                       WebSockets at /api/ws and /api/conversations/{id}/connect; their frames, and the \
                       other four dialects, are described in docs/API.md."
    ),
    paths(
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        users::list,
        users::me,
        users::patch_me,
        users::export,
        users::one,
        conversations::list,
        conversations::create,
        conversations::history,
        conversations::read,
        conversations::notify,
        conversations::leave,
        conversations::rename,
        conversations::delete,
        conversations::rooms,
        conversations::join,
        messages::send,
        messages::edit,
        messages::delete,
        messages::react,
        messages::unreact,
        messages::mentions,
        search::search,
        files::upload,
        files::download,
        socket::user_socket,
        socket::conversation_socket,
        socket::connect_info,
        health::health,
        health::info,
        admin::backup,
        admin::users,
        admin::change_user,
        admin::reset_link,
        admin::delete_message,
        admin::delete_room,
        admin::audit,
        admin::overview,
        invites::create,
        invites::list,
        invites::revoke,
        invites::reset,
        push::key,
        push::subscribe,
        push::unsubscribe,
        spec,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "Profiles, search, your own data"),
        (name = "conversations", description = "Direct conversations, rooms, history, read marks"),
        (name = "messages", description = "Send, edit, delete"),
        (name = "search", description = "Full-text search over your conversations"),
        (name = "files", description = "Attachments"),
        (name = "sockets", description = "Live delivery"),
        (name = "server", description = "What the server is and offers"),
        (name = "admin", description = "For the server's admins"),
        (name = "push", description = "Web Push notifications to browsers"),
    )
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        let mut value = match serde_json::to_value(&doc) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "could not encode the OpenAPI document");
                return "{}".to_owned();
            }
        };
        add_rules(&mut value);
        value.to_string()
    })
}

const UUID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Rules the wire types cannot state through utoipa: which fields go
/// together, and that a `uuid` is one (a `format` only annotates).
fn add_rules(doc: &mut serde_json::Value) {
    use serde_json::json;
    fn uuids(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if map.get("format").and_then(|f| f.as_str()) == Some("uuid") {
                    map.insert("pattern".into(), json!(UUID_PATTERN));
                }
                map.values_mut().for_each(uuids);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(uuids),
            _ => {}
        }
    }
    uuids(doc);
    let schemas = &mut doc["components"]["schemas"];
    // A login name, as `username` or `email` (or both).
    let named = |field: &str| json!({"required": [field], "properties": {field: {"type": "string", "pattern": "\\S"}}});
    for name in ["RegisterIn", "LoginIn"] {
        if let Some(schema) = schemas.get_mut(name) {
            schema["anyOf"] = json!([named("username"), named("email")]);
        }
    }
    // A new password only with the old one.
    if let Some(schema) = schemas.get_mut("PatchMeIn") {
        schema["anyOf"] = json!([
            {"not": {"required": ["password"]}},
            {"properties": {"password": {"type": "null"}}},
            {"required": ["old_password"], "properties": {"old_password": {"type": "string"}}}
        ]);
    }
    // Text, or an attachment with any text.
    if let Some(schema) = schemas.get_mut("SendIn") {
        schema["anyOf"] = json!([
            {"required": ["message"]},
            {"required": ["attachment_id"], "properties": {"attachment_id": {"type": "string"}}}
        ]);
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "server",
    summary = "This API, described (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub async fn spec() -> Response {
    let mut res = http::Response::new(document().into());
    *res.status_mut() = StatusCode::OK;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub fn routes(_core: Arc<crate::core::Core>) -> BoxedFilter<(Response,)> {
    warp::path!("openapi.json").and(warp::get()).then(spec).boxed()
}
