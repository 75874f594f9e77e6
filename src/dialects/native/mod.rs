//! The native API, `/api/...` (seed 002, extended): what the bundled page
//! uses. Errors are `{"error": {"message", "status"}}`.

mod admin;
mod auth;
mod conversations;
pub mod dto;
mod files;
mod health;
mod invites;
mod messages;
pub mod openapi;
mod push;
mod search;
mod socket;
mod users;

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use crate::core::Core;
use crate::http::{ErrorShape, Response, json, recover};

pub struct Native;

impl ErrorShape for Native {
    fn render(status: StatusCode, message: &str) -> Response {
        json(
            status,
            &dto::ErrorBody {
                error: dto::ErrorInner {
                    message: message.to_owned(),
                    status: status.as_u16(),
                },
            },
        )
    }
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path("api")
        .and(
            auth::routes(core.clone())
                .or(users::routes(core.clone()))
                .unify()
                .or(conversations::routes(core.clone()))
                .unify()
                .or(messages::routes(core.clone()))
                .unify()
                .or(search::routes(core.clone()))
                .unify()
                .or(files::routes(core.clone()))
                .unify()
                .or(socket::routes(core.clone()))
                .unify()
                .or(health::routes(core.clone()))
                .unify()
                .or(admin::routes(core.clone()))
                .unify()
                .or(invites::routes(core.clone()))
                .unify()
                .or(push::routes(core.clone()))
                .unify()
                .or(openapi::routes(core))
                .unify(),
        )
        .recover(recover::<Native>)
        .unify()
        .boxed()
}
