//! Sessions and refresh tokens.

use std::time::Duration;

use super::{Optional, params};

use super::Tx;
use uuid::Uuid;

use crate::error::Result;
use crate::model::{ConversationId, Timestamp, UserId};

pub fn create(c: &Tx<'_>, user: UserId, expires_at: Timestamp) -> Result<Uuid> {
    let id = Uuid::new_v4();
    c.prepare_cached("INSERT INTO sessions (id, \"user\", created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id.to_string(), user, Timestamp::now(), expires_at])?;
    Ok(id)
}

pub fn add_refresh_token(c: &Tx<'_>, session: &Uuid, hash: &[u8]) -> Result<()> {
    c.prepare_cached("INSERT INTO refresh_tokens (hash, session) VALUES (?1, ?2)")?
        .execute(params![hash, session.to_string()])?;
    Ok(())
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum RefreshLookup {
    /// Never issued.
    Unknown,
    /// Issued, unused, in a live session: it is now marked used.
    Fresh { session: Uuid, user: UserId },
    /// Already used once: someone replayed it — or, if it was used only a
    /// moment ago (`recently`), the same client raced itself.
    Reused { session: Uuid, recently: bool },
    /// The session was revoked or has run out.
    Dead,
}

/// Look a refresh token up and, if it is fresh, mark it used. A used one
/// shown again within `grace` of its first use is reported as `recently`.
pub fn take_refresh_token(c: &Tx<'_>, hash: &[u8], now: Timestamp, grace: Duration) -> Result<RefreshLookup> {
    struct Found {
        session: String,
        used_at: Option<Timestamp>,
        user: UserId,
        live: bool,
    }
    let found = c
        .prepare_cached(
            "SELECT s.id, t.used_at, s.user, s.revoked_at IS NULL AND s.expires_at > ?2
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session WHERE t.hash = ?1",
        )?
        .query_row(params![hash, now], |r| {
            Ok(Found {
                session: r.get(0)?,
                used_at: r.get(1)?,
                user: r.get(2)?,
                live: r.get(3)?,
            })
        })
        .optional()?;
    let Some(found) = found else {
        return Ok(RefreshLookup::Unknown);
    };
    let session = super::users::parse_uuid(&found.session)?;
    if !found.live {
        return Ok(RefreshLookup::Dead);
    }
    if let Some(used_at) = found.used_at {
        let recently = now.0 - used_at.0 < grace.as_micros() as i64;
        return Ok(RefreshLookup::Reused { session, recently });
    }
    c.prepare_cached("UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1")?
        .execute(params![hash, now])?;
    Ok(RefreshLookup::Fresh {
        session,
        user: found.user,
    })
}

/// Revoke a session; true if it was live.
pub fn revoke(c: &Tx<'_>, session: &Uuid) -> Result<bool> {
    let n = c
        .prepare_cached("UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![session.to_string(), Timestamp::now()])?;
    Ok(n > 0)
}

/// Sessions revoked after `since`, with when (their access tokens may
/// still be unexpired).
pub fn revoked_after(c: &Tx<'_>, since: Timestamp) -> Result<Vec<(Uuid, Timestamp)>> {
    super::collect(
        c,
        "SELECT id, revoked_at FROM sessions WHERE revoked_at > ?1",
        params![since],
        |r| Ok((super::users::parse_uuid(&r.get::<_, String>(0)?)?, r.get(1)?)),
    )
}

/// The chatroom dialect's "current room" of a session.
pub fn set_current_room(c: &Tx<'_>, session: &Uuid, room: ConversationId) -> Result<()> {
    c.prepare_cached("UPDATE sessions SET current_room = ?2 WHERE id = ?1")?
        .execute(params![session.to_string(), room])?;
    Ok(())
}

pub fn current_room(c: &Tx<'_>, session: &Uuid) -> Result<Option<ConversationId>> {
    Ok(c.prepare_cached("SELECT current_room FROM sessions WHERE id = ?1")?
        .query_row(params![session.to_string()], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Revoke every live session of `user` except `keep`; returns those revoked.
pub fn revoke_others(c: &Tx<'_>, user: UserId, keep: &Uuid) -> Result<Vec<Uuid>> {
    let ids = super::collect(
        c,
        "SELECT id FROM sessions WHERE \"user\" = ?1 AND id != ?2 AND revoked_at IS NULL",
        params![user, keep.to_string()],
        |r| super::users::parse_uuid(&r.get::<_, String>(0)?),
    )?;
    c.prepare_cached("UPDATE sessions SET revoked_at = ?3 WHERE \"user\" = ?1 AND id != ?2 AND revoked_at IS NULL")?
        .execute(params![user, keep.to_string(), Timestamp::now()])?;
    Ok(ids)
}
