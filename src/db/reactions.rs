//! Reactions: one user's emoji on one message.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::params;

use super::Tx;

use super::users::brief_from_row;
use crate::error::Result;
use crate::model::{MessageId, Reaction, Timestamp, UserId};

/// Add `user`'s `emoji` to `message`; whether it was new.
pub fn add(c: &Tx<'_>, message: MessageId, user: UserId, emoji: &str) -> Result<bool> {
    Ok(c.prepare_cached(
        "INSERT INTO reactions (message, emoji, \"user\", created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![message, emoji, user, Timestamp::now()])?
        > 0)
}

/// Take `user`'s `emoji` off `message`; whether it was there.
pub fn remove(c: &Tx<'_>, message: MessageId, user: UserId, emoji: &str) -> Result<bool> {
    Ok(
        c.prepare_cached("DELETE FROM reactions WHERE message = ?1 AND emoji = ?2 AND \"user\" = ?3")?
            .execute(params![message, emoji, user])?
            > 0,
    )
}

/// A message's reactions: one entry per emoji, in the order each was first
/// used, with who reacted (oldest first).
pub fn of(c: &Tx<'_>, message: MessageId) -> Result<Vec<Reaction>> {
    let rows = super::collect(
        c,
        concat!(
            "SELECT r.emoji, MIN(r.created_at) OVER (PARTITION BY r.emoji) AS first, ",
            brief_columns!(),
            " FROM reactions r JOIN users u ON u.number = r.user
              WHERE r.message = ?1 ORDER BY first, r.emoji, r.created_at"
        ),
        params![message],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, brief_from_row(r, 2)?)),
    )?;
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Vec<Arc<crate::model::UserBrief>>> = BTreeMap::new();
    for (emoji, _, user) in rows {
        if !by.contains_key(&emoji) {
            order.push(emoji.clone());
        }
        by.entry(emoji).or_default().push(Arc::new(user));
    }
    Ok(order
        .into_iter()
        .map(|emoji| {
            let users = by.remove(&emoji).unwrap_or_default();
            Reaction { emoji, users }
        })
        .collect())
}
