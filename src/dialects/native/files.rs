//! `/api/files`: upload (multipart or a raw body) and download.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;

use super::Native;
use super::dto::{FileOut, UploadQuery};
use super::openapi::UploadForm;
use crate::core::{Caller, Core, Upload, files::is_inline_safe};
use crate::error::Error;
use crate::http::ErrorShape;
use crate::http::filters::{body_limited, caller, content_type, query, with_core};
use crate::http::{Response, json};

/// Room for multipart boundaries and part headers on top of the file itself.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The first file part of a multipart body (or the part named `file`).
pub async fn multipart_file(content_type: &str, body: Bytes) -> Result<Upload, Error> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| Error::invalid(format!("malformed multipart body: {e}")))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let bad = |e: multer::Error| Error::invalid(format!("malformed multipart body: {e}"));
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if field.file_name().is_none() && field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        let content_type = field.content_type().map(|m| m.essence_str().to_owned());
        let data = field.bytes().await.map_err(bad)?.to_vec();
        return Ok(Upload {
            name,
            content_type,
            data,
        });
    }
    Err(Error::invalid(
        "multipart body has no file part: send the file in a part named `file`",
    ))
}

#[utoipa::path(
    post,
    path = "/api/files",
    tag = "files",
    summary = "Upload a file (multipart, or the raw bytes with ?name=)",
    params(UploadQuery),
    request_body(
        description = "multipart/form-data with the file in a part named `file`, or the raw bytes",
        content(
            (Vec<u8> = "application/octet-stream"),
            (UploadForm = "multipart/form-data"),
        )
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = FileOut),
        (status = 400, description = "Bad input (malformed JSON, invalid fields)", body = super::dto::ErrorBody),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 413, description = "Too large", body = super::dto::ErrorBody)
    )
)]
pub async fn upload(
    core: Arc<Core>,
    caller: Caller,
    q: UploadQuery,
    ct: String,
    raw_ct: Option<String>,
    body: Bytes,
) -> Result<Response, Error> {
    let up = if ct == "multipart/form-data" {
        multipart_file(raw_ct.as_deref().unwrap_or_default(), body).await?
    } else {
        let name = q
            .name
            .ok_or_else(|| Error::invalid("a raw upload needs `?name=<file name>` (or send multipart/form-data)"))?;
        Upload {
            name,
            content_type: (!ct.is_empty()).then_some(ct),
            data: body.to_vec(),
        }
    };
    let meta = core.upload(&caller, up).await?;
    Ok(json(StatusCode::CREATED, &FileOut::from(meta)))
}

/// `filename*` per RFC 6266/5987, so any name survives the header.
fn disposition(inline: bool, name: &str) -> HeaderValue {
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!("{kind}; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[utoipa::path(
    get,
    path = "/api/files/{id}",
    tag = "files",
    summary = "Download a file",
    params(("id" = String, Path, description = "The file's id (a UUID)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes, with the stored content type", content_type = "*/*", body = Vec<u8>),
        (status = 401, description = "Not logged in, or a bad or expired token", body = super::dto::ErrorBody),
        (status = 404, description = "Not found (or not visible to the caller)", body = super::dto::ErrorBody)
    )
)]
pub async fn download(id: String, core: Arc<Core>, caller: Caller) -> Result<Response, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::not_found("file"))?;
    let file = core.download(&caller, id).await?;
    let inline = is_inline_safe(&file.meta.content_type);
    let mut res = http::Response::new(file.data.into());
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.meta.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_DISPOSITION, disposition(inline, &file.meta.name));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Whatever was uploaded, it never runs as a page of ours.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(res)
}

pub fn routes(core: Arc<Core>) -> BoxedFilter<(Response,)> {
    let max = core.limits.max_upload_bytes;
    let too_large = move |_| Error::TooLarge(format!("file is larger than the upload limit of {max} bytes"));
    let auth = || with_core(core.clone()).and(caller(core.clone()));
    let upload = warp::path!("files")
        .and(warp::post())
        .and(auth())
        .and(query::<UploadQuery>())
        .and(content_type())
        .and(warp::header::optional::<String>("content-type"))
        .and(body_limited(max + MULTIPART_OVERHEAD, too_large))
        .then(upload)
        .map(Native::reply);
    let download = warp::path!("files" / String)
        .and(warp::get())
        .and(auth())
        .then(download)
        .map(Native::reply);
    upload.or(download).unify().boxed()
}
