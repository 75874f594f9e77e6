//! Reactions: one user's emoji on one message.

use std::collections::HashMap;
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
    Ok(of_many(c, &[message])?.remove(&message).unwrap_or_default())
}

/// The reactions of each of `messages` that has any, as `of` gives them:
/// one statement for a page (or a resume's 2,000) of messages, not one each.
pub fn of_many(c: &Tx<'_>, messages: &[MessageId]) -> Result<HashMap<MessageId, Vec<Reaction>>> {
    if messages.is_empty() {
        return Ok(HashMap::new());
    }
    let list = super::messages::id_list(messages)?;
    macro_rules! sql {
        ($in:expr) => {
            concat!(
                "SELECT r.message, r.emoji, MIN(r.created_at) OVER (PARTITION BY r.message, r.emoji) AS first, ",
                brief_columns!(),
                " FROM reactions r JOIN users u ON u.number = r.user WHERE r.message ",
                $in,
                " ORDER BY r.message, first, r.emoji, r.created_at"
            )
        };
    }
    let sql = match c.as_sqlite() {
        Some(_) => sql!(in_id_list!(sqlite)),
        None => sql!(in_id_list!(postgres)),
    };
    let rows = super::collect(c, sql, params![list], |r| {
        Ok((
            r.get::<_, MessageId>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            brief_from_row(r, 3)?,
        ))
    })?;
    // Rows come grouped by message, each message's in the order to show.
    let mut out: HashMap<MessageId, Vec<Reaction>> = HashMap::new();
    for (message, emoji, _, user) in rows {
        let reactions = out.entry(message).or_default();
        let user = Arc::new(user);
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(user),
            None => reactions.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    Ok(out)
}
