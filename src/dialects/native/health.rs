//! `GET /api/health`: is the server up, and how is it doing; `GET
//! /api/server`: what this server offers (its AI agent, its limits), for the
//! page to show. No auth, so a monitor or a signed-out page can ask.

use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::Core;
use crate::http::{Response, json};

#[derive(Serialize)]
struct HealthOut {
    status: &'static str,
    version: &'static str,
    sockets: usize,
    writer: WriterOut,
}

#[derive(Serialize)]
struct WriterOut {
    jobs: u64,
    commits: u64,
}

#[derive(Serialize)]
struct ServerOut {
    version: &'static str,
    ai_agent: Option<AgentOut>,
    limits: LimitsOut,
}

#[derive(Serialize)]
struct AgentOut {
    user_id: uuid::Uuid,
    username: String,
    name: String,
}

#[derive(Serialize)]
struct LimitsOut {
    max_message_bytes: usize,
    max_upload_bytes: usize,
}

fn server(core: &Core) -> ServerOut {
    ServerOut {
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

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let info = {
        let core = core.clone();
        warp::path!("server")
            .and(warp::get())
            .map(move || json(StatusCode::OK, &server(&core)))
    };
    let health = warp::path!("health").and(warp::get()).map(move || {
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
    });
    health.or(info).unify().boxed()
}
