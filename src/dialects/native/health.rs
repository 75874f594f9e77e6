//! `GET /api/health`: is the server up, and how is it doing; `GET
//! /api/server`: what this server offers (its AI agent, its limits), for the
//! page to show. No auth, so a monitor or a signed-out page can ask.

use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::Core;
use crate::http::filters::with_core;
use crate::http::{Response, json};

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthOut {
    status: &'static str,
    version: &'static str,
    sockets: usize,
    writer: WriterOut,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WriterOut {
    jobs: u64,
    commits: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServerOut {
    version: &'static str,
    ai_agent: Option<AgentOut>,
    limits: LimitsOut,
    /// Who may sign up now: `open`, `invite` (with an invitation's code) or `closed`.
    #[schema(value_type = String)]
    registration: crate::config::Registration,
    /// Members, not only admins, may make invitations.
    members_invite: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AgentOut {
    user_id: uuid::Uuid,
    username: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LimitsOut {
    max_message_bytes: usize,
    max_upload_bytes: usize,
}

fn server(core: &Core, registration: crate::config::Registration) -> ServerOut {
    ServerOut {
        registration,
        members_invite: core.members_invite(),
        version: env!("CARGO_PKG_VERSION"),
        ai_agent: core.agent.as_ref().map(|a| AgentOut {
            user_id: a.user.uuid,
            username: a.user.username.clone(),
            name: a.user.name.clone(),
        }),
        limits: LimitsOut {
            max_message_bytes: core.limits.max_message_bytes,
            max_upload_bytes: core.limits.max_upload_bytes,
        },
    }
}

/// Is the server up, and how is it doing.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "server",
    summary = "Is the server up, and how busy",
    responses((status = 200, description = "Up", body = HealthOut))
)]
pub async fn health(core: Arc<Core>) -> Response {
    let h = core.health();
    json(
        StatusCode::OK,
        &HealthOut {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            sockets: h.sockets,
            writer: WriterOut {
                jobs: h.write_jobs,
                commits: h.commits,
            },
        },
    )
}

/// What this server offers.
#[utoipa::path(
    get,
    path = "/api/server",
    tag = "server",
    summary = "What this server offers: its AI agent and limits",
    responses((status = 200, description = "The server", body = ServerOut))
)]
pub async fn info(core: Arc<Core>) -> Result<Response, crate::error::Error> {
    let registration = core.registration().await?;
    Ok(json(StatusCode::OK, &server(&core, registration)))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let info = warp::path!("server")
        .and(warp::get())
        .and(with_core(core.clone()))
        .then(info)
        .map(<super::Native as crate::http::ErrorShape>::reply);
    let health = warp::path!("health").and(warp::get()).and(with_core(core)).then(health);
    health.or(info).unify().boxed()
}
