//! `/api/push`: Web Push. The VAPID key a page subscribes with, and the
//! subscriptions of the caller's browsers.

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{ErrorBody, PushEndpointQuery, PushKeyOut, PushSubscriptionIn, PushSubscriptionOut};
use crate::core::push::NewSubscription;
use crate::core::{Caller, Core};
use crate::error::Error;
use crate::http::filters::{caller, json as body, query, with_core};
use crate::http::{ErrorShape, Response, json, status};

#[utoipa::path(
    get,
    path = "/api/push/key",
    tag = "push",
    summary = "The server's VAPID public key, for pushManager.subscribe",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The key", body = PushKeyOut),
        (status = 401, description = "Not logged in, or a bad or expired token", body = ErrorBody)
    )
)]
pub async fn key(core: Arc<Core>, _caller: Caller) -> Result<Response, Error> {
    Ok(json(
        StatusCode::OK,
        &PushKeyOut {
            public_key: core.push_key().to_owned(),
        },
    ))
}

#[utoipa::path(
    post,
    path = "/api/push/subscriptions",
    tag = "push",
    summary = "Send this browser notifications of messages it does not see live",
    description = "The body is the browser's `PushSubscription.toJSON()`. The subscription belongs to the \
                   caller's session: logging out ends it. Posting an endpoint again replaces its keys. \
                   Past `--push-subscriptions-per-user`, the caller's oldest subscription is removed.",
    request_body = PushSubscriptionIn,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Subscribed", body = PushSubscriptionOut),
        (status = 400, description = "No endpoint or keys; an endpoint that is not https:// or not at a public address; keys that are not a P-256 key and a 16-byte secret", body = ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = ErrorBody)
    )
)]
pub async fn subscribe(core: Arc<Core>, caller: Caller, r: PushSubscriptionIn) -> Result<Response, Error> {
    let endpoint = r
        .endpoint
        .ok_or_else(|| Error::invalid("endpoint is required: the PushSubscription's endpoint URL"))?;
    let keys = r
        .keys
        .ok_or_else(|| Error::invalid("keys is required: {\"p256dh\": …, \"auth\": …} from the PushSubscription"))?;
    let p256dh = keys.p256dh.ok_or_else(|| Error::invalid("keys.p256dh is required"))?;
    let auth = keys.auth.ok_or_else(|| Error::invalid("keys.auth is required"))?;
    let new = NewSubscription {
        endpoint: endpoint.clone(),
        p256dh,
        auth,
    };
    core.subscribe_push(&caller, new).await?;
    Ok(json(
        StatusCode::CREATED,
        &PushSubscriptionOut {
            endpoint: endpoint.trim().to_owned(),
        },
    ))
}

#[utoipa::path(
    delete,
    path = "/api/push/subscriptions",
    tag = "push",
    summary = "Stop notifications to one of the caller's browsers",
    params(PushEndpointQuery),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Unsubscribed"),
        (status = 400, description = "No endpoint given", body = ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = ErrorBody),
        (status = 404, description = "The caller has no subscription with that endpoint", body = ErrorBody)
    )
)]
pub async fn unsubscribe(core: Arc<Core>, caller: Caller, q: PushEndpointQuery) -> Result<Response, Error> {
    core.unsubscribe_push(&caller, q.endpoint.unwrap_or_default()).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let limit = core.limits.max_body_bytes;
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let key = warp::path!("push" / "key")
        .and(warp::get())
        .and(auth())
        .then(key)
        .map(Native::reply);
    let subscribe = warp::path!("push" / "subscriptions")
        .and(warp::post())
        .and(auth())
        .and(body(limit))
        .then(subscribe)
        .map(Native::reply);
    let unsubscribe = warp::path!("push" / "subscriptions")
        .and(warp::delete())
        .and(auth())
        .and(query::<PushEndpointQuery>())
        .then(unsubscribe)
        .map(Native::reply);
    key.or(subscribe).unify().or(unsubscribe).unify().boxed()
}
