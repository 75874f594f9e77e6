//! `GET /api/search`: full-text search over the caller's conversations.

use std::sync::Arc;

use http::StatusCode;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{SearchOut, SearchQuery, SearchResultOut};
use crate::core::search::DEFAULT_RESULTS;
use crate::core::{Caller, Core, SearchRequest};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{caller, query, with_core};
use crate::http::{Response, json};
use crate::model::{MessageId, Timestamp};

fn time(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, Error> {
    value
        .map(|v| {
            Timestamp::parse(v).ok_or_else(|| {
                Error::invalid(format!(
                    "{name} must be an RFC 3339 time (2024-06-17T09:30:00Z) or a date (2024-06-17)"
                ))
            })
        })
        .transpose()
}

// The cursor is the id of the last message of the page: the next page is
// what is older. Clients are told it is opaque, so it may change shape.
fn cursor(value: Option<&str>) -> Result<Option<MessageId>, Error> {
    value
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|&n| n > 0)
                .map(MessageId)
                .ok_or_else(|| Error::invalid("cursor is not one this server gave out: pass next_cursor as it came"))
        })
        .transpose()
}

#[utoipa::path(
    get,
    path = "/api/search",
    tag = "search",
    summary = "Search the messages of the caller's conversations, newest first",
    params(SearchQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of results", body = SearchOut),
        (status = 400, description = "Bad input: no query, nothing to search for in it, a bad time or cursor, a 1–2 character term of Chinese or Japanese too common to look up", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 403, description = "conversation_id is a room the caller is not a member of", body = super::dto::ErrorBody),
        (status = 404, description = "conversation_id is not a conversation the caller may see, or sender_id is no user", body = super::dto::ErrorBody)
    )
)]
pub async fn search(core: Arc<Core>, caller: Caller, q: SearchQuery) -> Result<Response, Error> {
    let req = SearchRequest {
        text: q.q.unwrap_or_default(),
        conversation: q.conversation_id,
        sender: q.sender_id,
        after: time("after", q.after.as_deref())?,
        before: time("before", q.before.as_deref())?,
        cursor: cursor(q.cursor.as_deref())?,
        limit: q.limit.unwrap_or(DEFAULT_RESULTS),
    };
    let page = core.search(&caller, req).await?;
    let out = SearchOut {
        results: page.hits.into_iter().map(SearchResultOut::from).collect(),
        next_cursor: page.next.map(|m| m.0.to_string()),
    };
    Ok(json(StatusCode::OK, &out))
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    warp::path!("search")
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core))
        .and(query::<SearchQuery>())
        .then(search)
        .map(Native::reply)
        .boxed()
}
