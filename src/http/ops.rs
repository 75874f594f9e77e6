//! What operators and their machines ask: `GET /healthz` (the process
//! answers), `GET /readyz` (the database takes a write now), `GET /metrics`
//! (Prometheus). No auth: a load balancer or Prometheus has no account.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Response;
use crate::core::Core;

/// How long `/readyz` waits for its write. A writer that cannot commit a
/// one-row write in this long is not serving sends either.
const READY_WITHIN: Duration = Duration::from_secs(2);

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut res = http::Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The metrics page, in the text format Prometheus scrapes.
pub fn metrics(core: &Core) -> Response {
    text(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        core.metrics.encode(),
    )
}

/// `/metrics` alone, for `--metrics-listen`.
pub fn metrics_routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path!("metrics")
        .and(warp::get())
        .map(move || metrics(&core))
        .boxed()
}

/// `/healthz`, `/readyz`, and `/metrics` unless it is served elsewhere.
pub fn routes(core: Arc<Core>, with_metrics: bool) -> BoxedFilter<(Response,)> {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into()));
    let readyz = {
        let core = core.clone();
        warp::path!("readyz").and(warp::get()).then(move || {
            let core = core.clone();
            async move {
                match core.ready(READY_WITHIN).await {
                    Ok(()) => text(StatusCode::OK, "text/plain; charset=utf-8", "ready\n".into()),
                    Err(e) => text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain; charset=utf-8",
                        format!("not ready: {}\n", e.public_message()),
                    ),
                }
            }
        })
    };
    let probes = healthz.or(readyz).unify();
    if with_metrics {
        probes.or(metrics_routes(core)).unify().boxed()
    } else {
        probes.boxed()
    }
}
