//! Attachments: upload within the size limit, download only by those who may see them.

use uuid::Uuid;

use super::{Caller, Core};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{FileMeta, Timestamp};

/// A file as a client sends it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// A file as it is served.
#[derive(Debug, Clone)]
pub struct FileData {
    pub meta: FileMeta,
    pub data: Vec<u8>,
}

/// Content types a browser may show inline: raster images only, never
/// anything that can run script.
pub fn is_inline_safe(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

fn guess_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "md" | "log" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// Check an upload against the limit and clean its name and type.
pub(crate) fn prepare(up: Upload, limit: usize) -> Result<Upload> {
    if up.data.is_empty() {
        return Err(Error::invalid("file is empty"));
    }
    if up.data.len() > limit {
        return Err(Error::TooLarge(format!(
            "file is {} bytes; the upload limit is {limit} bytes",
            up.data.len()
        )));
    }
    // Keep only the last path component, without control characters.
    let base = up.name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if name.is_empty() || name == "." || name == ".." {
        name = "file".into();
    }
    while name.len() > 255 {
        name.pop();
    }
    let content_type = match up
        .content_type
        .as_deref()
        .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    {
        Some(t)
            if !t.is_empty()
                && t.len() <= 127
                && t.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                && t.chars().all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c))
                && t != "application/octet-stream" =>
        {
            t
        }
        _ => guess_type(&name).to_owned(),
    };
    Ok(Upload {
        name,
        content_type: Some(content_type),
        data: up.data,
    })
}

impl Core {
    pub async fn upload(&self, caller: &Caller, up: Upload) -> Result<FileMeta> {
        let up = prepare(up, self.limits.max_upload_bytes)?;
        let owner = caller.user;
        self.uploads
            .check(owner)
            .inspect_err(|_| self.metrics.rate_limited("upload"))?;
        let quota = self.guards.upload_quota_bytes;
        self.db
            .writer()
            .submit(
                move |c| {
                    // Inside the write, so two uploads at once cannot both fit.
                    if quota > 0 {
                        let stored = db::files::stored_bytes(c, owner)?.max(0) as u64;
                        if stored + up.data.len() as u64 > quota {
                            return Err(Error::TooLarge(format!(
                                "your files would take more than your quota of {} (you keep {} stored); \
                                 delete some messages with attachments first",
                                human_bytes(quota),
                                human_bytes(stored)
                            )));
                        }
                    }
                    db::files::insert(
                        c,
                        owner,
                        &up.name,
                        up.content_type.as_deref().unwrap_or_default(),
                        &up.data,
                    )
                },
                |_| {},
            )
            .await
    }

    /// Remove uploads older than `--unattached-upload-ttl` that were never
    /// attached to a message or used as a profile picture.
    pub async fn sweep_unattached(&self) -> Result<usize> {
        let ttl = self.guards.unattached_upload_ttl;
        if ttl.is_zero() {
            return Ok(0);
        }
        let before = Timestamp(Timestamp::now().0 - ttl.as_micros() as i64);
        self.db
            .writer()
            .submit(move |c| db::files::remove_unattached(c, before), |_| {})
            .await
    }

    /// The file, if the caller uploaded it or is in a conversation where it
    /// was sent; otherwise it does not exist as far as the caller knows.
    pub async fn download(&self, caller: &Caller, id: Uuid) -> Result<FileData> {
        let user = caller.user;
        self.db
            .read(move |c| {
                let meta = db::files::by_uuid(c, &id)?.ok_or_else(|| Error::not_found("file"))?;
                if !db::files::can_read(c, meta.id, user)? {
                    return Err(Error::not_found("file"));
                }
                let data = db::files::data(c, meta.id)?;
                Ok(FileData { meta, data })
            })
            .await
    }
}

/// 1073741824 → "1 GiB", 5242880 → "5 MiB".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
