//! Web Push: the server's VAPID key and the browsers' subscriptions.

use super::{Optional, params};

use super::Tx;
use uuid::Uuid;

use crate::error::Result;
use crate::model::{Timestamp, UserId};

const VAPID_KEY: &str = "vapid_private_key";

/// The order of P-256's group, big-endian: a private key is a scalar in
/// [1, n-1].
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Create the VAPID private key (a P-256 scalar, 32 raw bytes) unless there
/// is one; true if it was created. Once made it is kept: every browser's
/// subscription is bound to its public half.
pub fn ensure_vapid_key(c: &Tx<'_>) -> Result<bool> {
    super::ensure_meta(c, VAPID_KEY, || {
        // Uniform over the valid scalars: retry the (about 2^-32) draws
        // that are zero or not below the order.
        loop {
            let k: [u8; 32] = rand::random();
            if k != [0; 32] && k < P256_ORDER {
                break k.to_vec();
            }
        }
    })
}

/// The VAPID private key `init` made.
pub fn vapid_key(c: &Tx<'_>) -> Result<Option<Vec<u8>>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", params![VAPID_KEY], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

/// A browser's subscription, as stored.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: i64,
    pub user: UserId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

pub struct NewSubscription<'a> {
    pub user: UserId,
    pub session: &'a Uuid,
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
}

/// Store a subscription, or take over the row with its endpoint (the same
/// browser, subscribed again, perhaps by someone else after a logout).
/// Then, if `keep` is not 0, the user's oldest subscriptions beyond `keep`
/// are removed; returns how many.
pub fn add(c: &Tx<'_>, new: &NewSubscription<'_>, keep: u32) -> Result<usize> {
    c.prepare_cached(
        "INSERT INTO push_subscriptions (\"user\", session, endpoint, p256dh, auth, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (endpoint) DO UPDATE SET
             \"user\" = excluded.\"user\", session = excluded.session, p256dh = excluded.p256dh,
             auth = excluded.auth, created_at = excluded.created_at",
    )?
    .execute(params![
        new.user,
        new.session.to_string(),
        new.endpoint,
        new.p256dh,
        new.auth,
        Timestamp::now()
    ])?;
    if keep == 0 {
        return Ok(0);
    }
    let removed = c
        .prepare_cached(
            "DELETE FROM push_subscriptions WHERE \"user\" = ?1 AND id NOT IN (
                 SELECT id FROM push_subscriptions WHERE \"user\" = ?1
                 ORDER BY created_at DESC, id DESC LIMIT ?2)",
        )?
        // An i64: PostgreSQL's driver sends a u32 as an `oid`.
        .execute(params![new.user, i64::from(keep)])?;
    Ok(removed)
}

/// Remove `user`'s subscription with this endpoint; false if there is none.
pub fn remove(c: &Tx<'_>, user: UserId, endpoint: &str) -> Result<bool> {
    Ok(
        c.prepare_cached("DELETE FROM push_subscriptions WHERE \"user\" = ?1 AND endpoint = ?2")?
            .execute(params![user, endpoint])?
            > 0,
    )
}

/// Remove one subscription (its push service said it is gone).
pub fn remove_id(c: &Tx<'_>, id: i64) -> Result<()> {
    c.prepare_cached("DELETE FROM push_subscriptions WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

/// Every subscription of these users whose session is still good.
pub fn of_users(c: &Tx<'_>, users: &[UserId], now: Timestamp) -> Result<Vec<Subscription>> {
    let mut stmt = c.prepare_cached(
        "SELECT p.id, p.user, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p
         LEFT JOIN sessions s ON s.id = p.session
         WHERE p.user = ?1 AND (p.session IS NULL OR (s.revoked_at IS NULL AND s.expires_at > ?2))",
    )?;
    let mut out = Vec::new();
    for user in users {
        let rows = stmt.query_map(params![user, now], |r| {
            Ok(Subscription {
                id: r.get(0)?,
                user: r.get(1)?,
                endpoint: r.get(2)?,
                p256dh: r.get(3)?,
                auth: r.get(4)?,
            })
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Users with at least one subscription (loaded at start, so sends to
/// nobody with push cost nothing).
pub fn subscribed_users(c: &Tx<'_>) -> Result<Vec<UserId>> {
    let mut stmt = c.prepare_cached("SELECT DISTINCT \"user\" FROM push_subscriptions")?;
    Ok(stmt.query_map(params![], |r| r.get(0))?)
}
