//! Reactions: a member puts an emoji on a message, or takes it back; the
//! members hear it live and the change log keeps it for resume.

use std::sync::Arc;

use super::conversations::{load, require_member};
use super::hub::{Event, EventKind};
use super::{Caller, Core, validate};
use crate::db::{self, changes};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, UserBrief};

impl Core {
    /// Add (`added`) or take back the caller's `emoji` on message `id`;
    /// the message with its reactions now. Doing what is already done is
    /// no change (and not logged or published).
    pub async fn react(&self, caller: &Caller, id: MessageId, emoji: String, added: bool) -> Result<Message> {
        validate::emoji(&emoji)?;
        let me = caller.user;
        let max = self.limits.max_reactions;
        let hub = self.hub.clone();
        self.db
            .writer()
            .submit(
                move |c| {
                    let msg = db::messages::by_id(c, id)?.ok_or_else(|| Error::not_found("message"))?;
                    let conv = load(c, msg.conversation)?;
                    // Someone outside the conversation must not learn the message exists.
                    require_member(c, &conv, me).map_err(|_| Error::not_found("message"))?;
                    if msg.deleted {
                        return Err(Error::not_found("message"));
                    }
                    let changed = if added {
                        // The message comes with its reactions: mine are counted there.
                        let mine: Vec<&str> = msg
                            .reactions
                            .iter()
                            .filter(|r| r.users.iter().any(|u| u.id == me))
                            .map(|r| r.emoji.as_str())
                            .collect();
                        if max > 0 && mine.len() as i64 >= max && !mine.contains(&emoji.as_str()) {
                            return Err(Error::invalid(format!(
                                "you have left {max} different reactions on this message, the limit; take one back first"
                            )));
                        }
                        db::reactions::add(c, id, me, &emoji)?
                    } else {
                        db::reactions::remove(c, id, me, &emoji)?
                    };
                    let logged = if changed {
                        let data = changes::Data {
                            emoji: Some(emoji.clone()),
                            added: Some(added),
                            ..changes::Data::default()
                        };
                        Some(changes::record(
                            c,
                            &changes::New {
                                conversation: conv.id,
                                kind: changes::Kind::Reaction,
                                message: Some(id),
                                user: Some(me),
                                audience: changes::Audience::Members,
                                data: Some(&data),
                            },
                        )?)
                    } else {
                        None
                    };
                    let msg = db::messages::by_id(c, id)?.ok_or_else(|| Error::not_found("message"))?;
                    let user = db::users::by_id(c, me)?
                        .map(|u| Arc::new(UserBrief::from(&u)))
                        .ok_or_else(|| Error::not_found("user"))?;
                    let members = db::conversations::member_ids(c, conv.id)?;
                    Ok((Arc::new(msg), user, members, logged, emoji))
                },
                move |(msg, user, members, logged, emoji)| {
                    if logged.is_some() {
                        let event = EventKind::Reaction {
                            message: msg.clone(),
                            user: user.clone(),
                            emoji: emoji.clone(),
                            added,
                        };
                        hub.publish(Event::recorded(event, *logged), members);
                    }
                },
            )
            .await
            .map(|(msg, ..)| Arc::unwrap_or_clone(msg))
    }
}
