//! `GET /api/health`: is the server up, and how is it doing. No auth, so a
//! monitor can poll it.

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

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path!("health")
        .and(warp::get())
        .map(move || {
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
        })
        .boxed()
}
