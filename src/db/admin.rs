//! Roles, deactivation, invitations, password reset links and the audit log.

use super::{Optional, Row, params};

use super::{SqlResult, Tx};
use uuid::Uuid;

use super::users::parse_uuid;
use crate::error::{Error, Result};
use crate::model::{Role, Timestamp, UserId};

/// People with accounts (the AI agent does not count).
pub fn people(c: &Tx<'_>) -> Result<i64> {
    Ok(c.prepare_cached("SELECT COUNT(*) FROM users WHERE NOT is_bot")?
        .query_row(params![], |r| r.get(0))?)
}

/// Admins who can still log in.
pub fn active_admins(c: &Tx<'_>) -> Result<i64> {
    Ok(
        c.prepare_cached("SELECT COUNT(*) FROM users WHERE role = 'admin' AND deactivated_at IS NULL")?
            .query_row(params![], |r| r.get(0))?,
    )
}

pub fn set_role(c: &Tx<'_>, user: UserId, role: Role) -> Result<()> {
    c.prepare_cached("UPDATE users SET role = ?2 WHERE number = ?1")?
        .execute(params![user, role.as_str()])?;
    Ok(())
}

/// Deactivate (`Some(when)`) or reactivate (`None`) an account.
pub fn set_deactivated(c: &Tx<'_>, user: UserId, at: Option<Timestamp>) -> Result<()> {
    c.prepare_cached("UPDATE users SET deactivated_at = ?2 WHERE number = ?1")?
        .execute(params![user, at])?;
    Ok(())
}

pub fn set_password(c: &Tx<'_>, user: UserId, hash: &str) -> Result<()> {
    c.prepare_cached("UPDATE users SET password_hash = ?2 WHERE number = ?1")?
        .execute(params![user, hash])?;
    Ok(())
}

/// End every session of `user`; the ids that were live.
pub fn revoke_all_sessions(c: &Tx<'_>, user: UserId) -> Result<Vec<Uuid>> {
    let ids = super::collect(
        c,
        "SELECT id FROM sessions WHERE \"user\" = ?1 AND revoked_at IS NULL",
        params![user],
        |r| parse_uuid(&r.get::<_, String>(0)?),
    )?;
    c.prepare_cached("UPDATE sessions SET revoked_at = ?2 WHERE \"user\" = ?1 AND revoked_at IS NULL")?
        .execute(params![user, Timestamp::now()])?;
    Ok(ids)
}

// ---------- invitations ----------

/// An invitation as it is listed (its code is never stored, only its hash).
#[derive(Debug, Clone)]
pub struct Invite {
    pub id: Uuid,
    pub created_by: Option<UserId>,
    pub created_by_name: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<Timestamp>,
}

pub struct NewInvite<'a> {
    pub id: Uuid,
    pub code_hash: &'a [u8],
    pub created_by: Option<UserId>,
    pub expires_at: Option<Timestamp>,
    pub max_uses: Option<i64>,
}

pub fn insert_invite(c: &Tx<'_>, new: &NewInvite<'_>) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO invites (id, code_hash, created_by, created_at, expires_at, max_uses)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        new.id.to_string(),
        new.code_hash,
        new.created_by,
        Timestamp::now(),
        new.expires_at,
        new.max_uses
    ])?;
    Ok(())
}

const INVITE_COLUMNS: &str =
    "i.id, i.created_by, u.username, i.created_at, i.expires_at, i.max_uses, i.uses, i.revoked_at";

fn invite_from_row(r: &Row<'_>) -> SqlResult<Invite> {
    Ok(Invite {
        id: parse_uuid(&r.get::<_, String>(0)?)?,
        created_by: r.get(1)?,
        created_by_name: r.get(2)?,
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
        max_uses: r.get(5)?,
        uses: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

/// Invitations, newest first: everyone's, or those `by` made.
pub fn invites(c: &Tx<'_>, by: Option<UserId>) -> Result<Vec<Invite>> {
    let sql = format!(
        "SELECT {INVITE_COLUMNS} FROM invites i LEFT JOIN users u ON u.number = i.created_by
         WHERE CAST(?1 AS bigint) IS NULL OR i.created_by = ?1 ORDER BY i.created_at DESC"
    );
    super::collect(c, &sql, params![by], invite_from_row)
}

pub fn invite(c: &Tx<'_>, id: &Uuid) -> Result<Option<Invite>> {
    let sql =
        format!("SELECT {INVITE_COLUMNS} FROM invites i LEFT JOIN users u ON u.number = i.created_by WHERE i.id = ?1");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![id.to_string()], invite_from_row)
        .optional()?)
}

pub fn revoke_invite(c: &Tx<'_>, id: &Uuid) -> Result<()> {
    c.prepare_cached("UPDATE invites SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")?
        .execute(params![id.to_string(), Timestamp::now()])?;
    Ok(())
}

/// Use one of an invitation's uses (inside the sign-up's write), or say why not.
pub fn use_invite(c: &Tx<'_>, code_hash: &[u8], now: Timestamp) -> Result<Uuid> {
    struct Found {
        id: String,
        expires_at: Option<Timestamp>,
        max_uses: Option<i64>,
        uses: i64,
        revoked_at: Option<Timestamp>,
    }
    let found = c
        .prepare_cached("SELECT id, expires_at, max_uses, uses, revoked_at FROM invites WHERE code_hash = ?1")?
        .query_row(params![code_hash], |r| {
            Ok(Found {
                id: r.get(0)?,
                expires_at: r.get(1)?,
                max_uses: r.get(2)?,
                uses: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })
        .optional()?;
    let Some(Found {
        id,
        expires_at,
        max_uses,
        uses,
        revoked_at,
    }) = found
    else {
        return Err(Error::forbidden("this invitation link is not valid; ask for a new one"));
    };
    if revoked_at.is_some() {
        return Err(Error::forbidden("this invitation was withdrawn; ask for a new one"));
    }
    if expires_at.is_some_and(|e| e <= now) {
        return Err(Error::forbidden("this invitation has expired; ask for a new one"));
    }
    if max_uses.is_some_and(|m| uses >= m) {
        return Err(Error::forbidden("this invitation has been used up; ask for a new one"));
    }
    c.prepare_cached("UPDATE invites SET uses = uses + 1 WHERE id = ?1")?
        .execute(params![&id])?;
    Ok(parse_uuid(&id)?)
}

// ---------- password reset links ----------

pub fn insert_reset(
    c: &Tx<'_>,
    token_hash: &[u8],
    user: UserId,
    by: Option<UserId>,
    expires_at: Timestamp,
) -> Result<()> {
    // One live link per user: a new one replaces the old.
    c.prepare_cached("DELETE FROM password_resets WHERE \"user\" = ?1 AND used_at IS NULL")?
        .execute(params![user])?;
    c.prepare_cached(
        "INSERT INTO password_resets (token_hash, \"user\", created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![token_hash, user, by, Timestamp::now(), expires_at])?;
    Ok(())
}

/// The user a reset link is for, if it is usable now; else why not.
pub fn check_reset(c: &Tx<'_>, token_hash: &[u8], now: Timestamp) -> Result<UserId> {
    let found: Option<(UserId, Timestamp, Option<Timestamp>)> = c
        .prepare_cached("SELECT \"user\", expires_at, used_at FROM password_resets WHERE token_hash = ?1")?
        .query_row(params![token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match found {
        Some((user, expires, None)) if expires > now => Ok(user),
        Some((_, _, Some(_))) => Err(Error::forbidden(
            "this reset link was used already; ask an admin for a new one",
        )),
        Some(_) => Err(Error::forbidden(
            "this reset link has expired; ask an admin for a new one",
        )),
        None => Err(Error::forbidden(
            "this reset link is not valid; ask an admin for a new one",
        )),
    }
}

/// Use up a reset link (in the write that sets the new password).
pub fn use_reset(c: &Tx<'_>, token_hash: &[u8], now: Timestamp) -> Result<UserId> {
    let user = check_reset(c, token_hash, now)?;
    c.prepare_cached("UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1")?
        .execute(params![token_hash, now])?;
    Ok(user)
}

// ---------- the audit log ----------

/// One admin action, as the audit view lists it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub fn audit(c: &Tx<'_>, actor: Option<UserId>, action: &str, target: &str, detail: &str) -> Result<()> {
    c.prepare_cached("INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![Timestamp::now(), actor, action, target, detail])?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub fn audit_log(c: &Tx<'_>, limit: i64) -> Result<Vec<AuditEntry>> {
    super::collect(
        c,
        "SELECT a.at, u.username, a.action, a.target, a.detail FROM audit a
           LEFT JOIN users u ON u.number = a.actor
         ORDER BY a.id DESC LIMIT ?1",
        params![limit],
        |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        },
    )
}

/// Counts for the admin's health view.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub users: i64,
    pub rooms: i64,
    pub messages: i64,
    pub files: i64,
    pub file_bytes: i64,
}

pub fn counts(c: &Tx<'_>) -> Result<Counts> {
    Ok(c.prepare_cached(
        "SELECT (SELECT COUNT(*) FROM users WHERE NOT is_bot),
                (SELECT COUNT(*) FROM conversations WHERE kind = 'room'),
                (SELECT COUNT(*) FROM messages WHERE NOT deleted),
                (SELECT COUNT(*) FROM files),
                (SELECT CAST(COALESCE(SUM(size), 0) AS bigint) FROM files)",
    )?
    .query_row(params![], |r| {
        Ok(Counts {
            users: r.get(0)?,
            rooms: r.get(1)?,
            messages: r.get(2)?,
            files: r.get(3)?,
            file_bytes: r.get(4)?,
        })
    })?)
}
