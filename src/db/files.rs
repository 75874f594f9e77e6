//! Attachments, stored as BLOBs in the same file as everything else.

use super::{Optional, Row, params};

use super::{SqlResult, Tx};
use uuid::Uuid;

use super::users::parse_uuid;
use crate::error::Result;
use crate::model::{FileId, FileMeta, Timestamp, UserId};

pub(crate) fn from_row(r: &Row<'_>) -> SqlResult<FileMeta> {
    Ok(FileMeta {
        id: r.get(0)?,
        uuid: parse_uuid(&r.get::<_, String>(1)?)?,
        owner: r.get(2)?,
        name: r.get(3)?,
        content_type: r.get(4)?,
        size: r.get(5)?,
    })
}

pub fn insert(c: &Tx<'_>, owner: UserId, name: &str, content_type: &str, data: &[u8]) -> Result<FileMeta> {
    let uuid = Uuid::new_v4();
    let id: FileId = c
        .prepare_cached(
            "INSERT INTO files (id, owner, name, content_type, size, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING number",
        )?
        .query_row(
            params![
                uuid.to_string(),
                owner,
                name,
                content_type,
                data.len() as i64,
                data,
                Timestamp::now()
            ],
            |r| r.get(0),
        )?;
    Ok(FileMeta {
        id,
        uuid,
        owner,
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        size: data.len() as i64,
    })
}

/// Bytes of files `owner` keeps stored.
pub fn stored_bytes(c: &Tx<'_>, owner: UserId) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT CAST(COALESCE(SUM(size), 0) AS bigint) FROM files WHERE owner = ?1")?
            .query_row(params![owner], |r| r.get(0))?,
    )
}

/// Remove files uploaded before `before` that no message carries and no
/// profile shows; how many went.
pub fn remove_unattached(c: &Tx<'_>, before: Timestamp) -> Result<usize> {
    Ok(c.prepare_cached(
        "DELETE FROM files WHERE created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file = files.number)
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.profile_picture = '/api/files/' || files.id)",
    )?
    .execute(params![before])?)
}

pub fn by_id(c: &Tx<'_>, id: FileId) -> Result<Option<FileMeta>> {
    let sql = "SELECT f.number, f.id, f.owner, f.name, f.content_type, f.size FROM files f WHERE f.number = ?1";
    Ok(c.prepare_cached(sql)?.query_row(params![id], from_row).optional()?)
}

pub fn by_uuid(c: &Tx<'_>, id: &Uuid) -> Result<Option<FileMeta>> {
    let sql = "SELECT f.number, f.id, f.owner, f.name, f.content_type, f.size FROM files f WHERE f.id = ?1";
    Ok(c.prepare_cached(sql)?
        .query_row(params![id.to_string()], from_row)
        .optional()?)
}

/// May `user` read this file: the uploader, a member of a conversation
/// where a (not deleted) message carries it, or anyone while it is its
/// owner's profile picture.
pub fn can_read(c: &Tx<'_>, file: FileId, user: UserId) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM files WHERE number = ?1 AND owner = ?2)
             OR EXISTS (SELECT 1 FROM messages m JOIN members mb ON mb.conversation = m.conversation
                        WHERE m.file = ?1 AND mb.user = ?2)
             OR EXISTS (SELECT 1 FROM files f JOIN users u ON u.number = f.owner
                        WHERE f.number = ?1 AND u.profile_picture = '/api/files/' || f.id)",
    )?
    .query_row(params![file, user], |r| r.get(0))?)
}

pub fn data(c: &Tx<'_>, file: FileId) -> Result<Vec<u8>> {
    Ok(c.prepare_cached("SELECT data FROM files WHERE number = ?1")?
        .query_row(params![file], |r| r.get(0))?)
}
