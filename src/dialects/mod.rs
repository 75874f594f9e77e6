//! The API dialects: thin adapters that parse a request, call the core and
//! map the answer to their own wire shapes. No SQL and no rules live here.

pub mod native;

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::Core;
use crate::http::{ErrorShape, Response};

/// Frame-cache slots on hub events, one per socket wire format.
pub const SLOT_NATIVE: usize = 0;

/// Every dialect's routes. Each renders its own errors but passes unknown
/// paths on, so the order here only matters where paths overlap.
pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    native::routes(core).boxed()
}

/// The 404 for a path no route matched, in the shape of the dialect the
/// path looks like it belongs to.
pub fn not_found(path: &str) -> Response {
    let message = format!("no such endpoint: {path}");
    native::Native::render(StatusCode::NOT_FOUND, &message)
}
