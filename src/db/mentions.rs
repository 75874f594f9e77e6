//! Mentions: which members a message's text mentions.

use std::sync::Arc;

use super::params;

use super::Tx;

use super::users::brief_from_row;
use crate::error::Result;
use crate::model::{ConversationId, MessageId, UserBrief, UserId};

/// Record that `message` mentions `users` (a new message).
pub fn add(c: &Tx<'_>, message: MessageId, users: &[UserId]) -> Result<()> {
    let mut insert =
        c.prepare_cached("INSERT INTO mentions (\"user\", message) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?;
    for u in users {
        insert.execute(params![u, message])?;
    }
    Ok(())
}

/// `message` now mentions exactly `users` (an edit), or nobody (a deletion).
pub fn replace(c: &Tx<'_>, message: MessageId, users: &[UserId]) -> Result<()> {
    c.prepare_cached("DELETE FROM mentions WHERE message = ?1")?
        .execute(params![message])?;
    add(c, message, users)
}

/// Who `message` mentions, in the order its text does (`order`: the
/// usernames as mentioned; rows come in user-number order).
pub fn of(c: &Tx<'_>, message: MessageId, text: &str) -> Result<Vec<Arc<UserBrief>>> {
    let mut users = super::collect(
        c,
        concat!(
            "SELECT ",
            brief_columns!(),
            " FROM mentions mn JOIN users u ON u.number = mn.user WHERE mn.message = ?1"
        ),
        params![message],
        |r| brief_from_row(r, 0).map(Arc::new),
    )?;
    if users.len() > 1 {
        let lower = text.to_lowercase();
        users.sort_by_key(|u| {
            lower
                .find(&format!("@{}", u.username.to_lowercase()))
                .unwrap_or(usize::MAX)
        });
    }
    Ok(users)
}

/// How many messages after `after` in `conv` mention `user` (deleted ones
/// have no mentions left).
pub fn unread(c: &Tx<'_>, user: UserId, conv: ConversationId, after: MessageId) -> Result<i64> {
    Ok(c.prepare_cached(
        "SELECT COUNT(*) FROM mentions mn JOIN messages m ON m.id = mn.message
              WHERE mn.user = ?1 AND mn.message > ?3 AND m.conversation = ?2",
    )?
    .query_row(params![user, conv, after], |r| r.get(0))?)
}

/// The newest messages that mention `user` in conversations they are a
/// member of, before `before`, newest first: at most `limit` ids.
pub fn of_user(c: &Tx<'_>, user: UserId, before: Option<MessageId>, limit: i64) -> Result<Vec<MessageId>> {
    super::collect(
        c,
        "SELECT mn.message FROM mentions mn
           JOIN messages m ON m.id = mn.message
           JOIN members mb ON mb.conversation = m.conversation AND mb.user = mn.user
          WHERE mn.user = ?1 AND mn.message < ?2
          ORDER BY mn.message DESC LIMIT ?3",
        params![user, before.map_or(i64::MAX, |m| m.0), limit],
        |r| r.get(0),
    )
}
