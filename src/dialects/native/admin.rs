//! `/api/admin/*`: operations for the server's admins. Each handler asks
//! `core.require_admin` first; today that refuses everyone ("admin only"),
//! and the admin role, when it comes, is granted there alone.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, header};
use tokio::io::AsyncReadExt;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use crate::core::{Caller, Core};
use crate::error::Error;
use crate::http::filters::{caller, with_core};
use crate::http::{ErrorShape, Response};

/// Read size while streaming a backup.
const CHUNK: usize = 64 * 1024;

/// A fresh, checked backup of the database, streamed.
#[utoipa::path(
    get,
    path = "/api/admin/backup",
    tag = "admin",
    summary = "Download a fresh backup of the database (admins only)",
    description = "A consistent copy made now, checked with integrity_check, as an SQLite file. \
                   There is no admin role yet: everyone gets 403 `admin only`.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The SQLite file", content_type = "application/vnd.sqlite3", body = Vec<u8>),
        (status = 401, description = "Not logged in", body = super::dto::ErrorBody),
        (status = 403, description = "Not an admin", body = super::dto::ErrorBody),
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
    warp::path!("admin" / "backup")
        .and(warp::get())
        .and(with_core(core.clone()))
        .and(caller(core))
        .then(backup)
        .map(Native::reply)
        .boxed()
}
