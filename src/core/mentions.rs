//! `@username` mentions: found in a message's text by the server (so every
//! dialect's messages mention alike), kept for "mentions of me" and unread
//! counts, and what notify levels choose by.

use std::sync::Arc;

use uuid::Uuid;

use super::Core;
use super::auth::Caller;
use super::conversations::{load_uuid, not_a_member};
use super::hub::{Event, EventKind};
use crate::db::{self, Tx, changes};
use crate::error::{Error, Result};
use crate::model::{Kind, Message, MessageId, NotifyLevel, UserBrief, UserId};

/// The longest username, in characters (`validate::username`).
const MAX_NAME: usize = 64;

/// A character a username may hold (as `validate::username` allows).
fn username_char(c: char) -> bool {
    c.is_alphanumeric() || "_.-@+".contains(c)
}

/// The members `text` mentions, each once, in the order first mentioned;
/// never `sender`. A mention is `@` at the start or after a character no
/// username holds (so `ann@example.com` mentions nobody), followed by a
/// member's username, matched without case; the longest username that fits
/// wins (`@ann.lee` over `@ann`), and what follows it must not continue a
/// word (`@bobby` is not `@bob`). Text in `code` or a ``` block mentions
/// nobody: it is quoted, not said. `member` finds the member whose
/// username, lowercased, is the name given (`member_named` for a send).
pub fn find(
    text: &str,
    sender: UserId,
    mut member: impl FnMut(&str) -> Result<Option<Arc<UserBrief>>>,
) -> Result<Vec<Arc<UserBrief>>> {
    let mut found: Vec<Arc<UserBrief>> = Vec::new();
    if !text.contains('@') {
        return Ok(found);
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    // The length of the backtick run that opened code, while in code.
    let mut code: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '`' {
            // A run of backticks opens code, and only a run as long closes it.
            let mut j = i;
            while j < chars.len() && chars[j].1 == '`' {
                j += 1;
            }
            let run = j - i;
            code = match code {
                None => Some(run),
                Some(open) if open == run => None,
                still => still,
            };
            i = j;
            continue;
        }
        let starts = c == '@' && code.is_none() && (i == 0 || !username_char(chars[i - 1].1));
        if !starts {
            i += 1;
            continue;
        }
        // The run of username characters after the `@` (no name is longer
        // than `MAX_NAME` characters, so no more of it is looked at).
        let from = at + 1;
        let mut end = i + 1;
        while end < chars.len() && end - i <= MAX_NAME && username_char(chars[end].1) {
            end += 1;
        }
        // The longest member name the run starts with, ending where a word
        // may end (the run's end, or before punctuation such as `.` or `+`).
        let mut best: Option<Arc<UserBrief>> = None;
        for k in (i + 1..=end).rev() {
            let ends_word = chars
                .get(k)
                .is_none_or(|&(_, next)| !next.is_alphanumeric() && next != '_');
            if k == i + 1 || !ends_word {
                continue;
            }
            let stop = chars.get(k).map_or(text.len(), |&(b, _)| b);
            if let Some(m) = member(&text[from..stop].to_lowercase())? {
                best = Some(m);
                break;
            }
        }
        if let Some(m) = best
            && m.id != sender
            && !found.iter().any(|f| f.id == m.id)
        {
            found.push(m);
        }
        i = end.max(i + 1);
    }
    Ok(found)
}

/// The member of `members` (in user-number order, as the cache keeps them)
/// named `key`: one look-up of the users' unique `username_key` index and a
/// binary search, so a mention costs the same in a room of ten thousand.
pub fn member_named<'a>(
    c: &'a Tx<'a>,
    members: &'a [Arc<UserBrief>],
) -> impl FnMut(&str) -> Result<Option<Arc<UserBrief>>> + 'a {
    move |key| {
        Ok(db::users::number_by_username_key(c, key)?
            .and_then(|id| members.binary_search_by_key(&id, |m| m.id).ok())
            .map(|i| members[i].clone()))
    }
}

/// Whether a member at `level` hears of a message (from someone else) in a
/// conversation of `kind` that does or does not mention them. A direct or
/// AI conversation is addressed to its member: every message counts as a
/// mention there.
pub fn wants(level: NotifyLevel, kind: Kind, mentioned: bool) -> bool {
    match level {
        NotifyLevel::All => true,
        NotifyLevel::Mentions => mentioned || kind != Kind::Room,
        NotifyLevel::Nothing => false,
    }
}

/// One page of the caller's mentions, newest first, and the cursor for the
/// next (older) page.
pub struct MentionPage {
    pub messages: Vec<Message>,
    pub next_before: Option<MessageId>,
}

impl Core {
    /// Set what the caller wants to hear of a conversation; their other
    /// sockets hear of it (and a socket that was away, on resume).
    pub async fn set_notify_level(&self, caller: &Caller, conv: Uuid, level: NotifyLevel) -> Result<NotifyLevel> {
        let (me, hub) = (caller.user, self.hub.clone());
        self.db
            .writer()
            .submit(
                move |c| {
                    let conv = load_uuid(c, &conv)?;
                    let changed =
                        db::conversations::set_notify(c, conv.id, me, level)?.ok_or_else(|| not_a_member(&conv))?;
                    // Setting the level it already has is no change: nothing to log.
                    let logged = if changed {
                        let data = changes::Data {
                            level: Some(level.as_str().to_owned()),
                            ..changes::Data::default()
                        };
                        Some(changes::record(
                            c,
                            &changes::New {
                                conversation: conv.id,
                                kind: changes::Kind::Notify,
                                message: None,
                                user: Some(me),
                                audience: changes::Audience::User,
                                data: Some(&data),
                            },
                        )?)
                    } else {
                        None
                    };
                    Ok((Arc::new(conv), logged))
                },
                move |(conv, logged)| {
                    if let Some(id) = logged {
                        let kind = EventKind::Notify {
                            conversation: conv.clone(),
                            level,
                        };
                        hub.publish(Event::recorded(kind, Some(*id)), &[me]);
                    }
                },
            )
            .await?;
        Ok(level)
    }

    /// The messages that mention the caller, newest first, in conversations
    /// they are still a member of; deleted ones are gone.
    pub async fn mentions_of_me(&self, caller: &Caller, before: Option<MessageId>, limit: i64) -> Result<MentionPage> {
        if !(1..=super::MAX_PAGE).contains(&limit) {
            return Err(Error::invalid(format!(
                "limit must be between 1 and {}",
                super::MAX_PAGE
            )));
        }
        let me = caller.user;
        self.db
            .read(move |c| {
                let ids = db::mentions::of_user(c, me, before, limit + 1)?;
                let more = ids.len() as i64 > limit;
                let ids = &ids[..ids.len().min(limit as usize)];
                let messages = db::messages::by_ids(c, ids)?;
                let next_before = if more { ids.last().copied() } else { None };
                Ok(MentionPage { messages, next_before })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserId;

    fn user(id: i64, name: &str) -> Arc<UserBrief> {
        Arc::new(UserBrief {
            id: UserId(id),
            uuid: uuid::Uuid::new_v4(),
            username: name.into(),
            email: None,
            name: name.into(),
            first_name: String::new(),
            last_name: String::new(),
            profile_picture: String::new(),
            is_bot: false,
        })
    }

    fn names(text: &str) -> Vec<String> {
        let members = [
            user(1, "ann"),
            user(2, "ann.lee"),
            user(3, "Bob"),
            user(4, "zoë"),
            user(5, "me"),
            user(6, "bob@example.com"),
        ];
        let lookup = |key: &str| Ok(members.iter().find(|m| m.username.to_lowercase() == key).cloned());
        find(text, UserId(5), lookup)
            .unwrap()
            .iter()
            .map(|u| u.username.clone())
            .collect()
    }

    #[test]
    fn finds_members_by_name_without_case() {
        assert_eq!(names("hi @bob and @ANN"), ["Bob", "ann"]);
        assert_eq!(names("@zoë, look"), ["zoë"]);
        assert_eq!(names("(@ann)"), ["ann"]);
    }

    #[test]
    fn the_longest_name_that_fits_wins() {
        assert_eq!(names("@ann.lee said"), ["ann.lee"]);
        assert_eq!(names("thanks @ann."), ["ann"]);
        assert_eq!(names("ask @bob@example.com"), ["bob@example.com"]);
        assert_eq!(names("@bob@elsewhere.org"), ["Bob"]);
    }

    #[test]
    fn not_a_mention() {
        assert!(names("mail ann@example.com").is_empty(), "an address");
        assert!(names("@bobby").is_empty(), "a longer word");
        assert!(names("@nobody here").is_empty(), "not a member");
        assert!(names("@me").is_empty(), "the sender");
        assert!(names("`@ann` and ```\n@bob\n```").is_empty(), "code");
        assert_eq!(
            names("```\nx ` @ann\n``` @bob"),
            ["Bob"],
            "a lone ` inside a block does not end it"
        );
        assert!(names("@ alone").is_empty());
    }

    #[test]
    fn each_member_once() {
        assert_eq!(names("@ann @bob @ann"), ["ann", "Bob"]);
    }

    #[test]
    fn levels() {
        assert!(wants(NotifyLevel::All, Kind::Room, false));
        assert!(!wants(NotifyLevel::Mentions, Kind::Room, false));
        assert!(wants(NotifyLevel::Mentions, Kind::Room, true));
        assert!(wants(NotifyLevel::Mentions, Kind::Direct, false));
        assert!(!wants(NotifyLevel::Nothing, Kind::Direct, true));
    }
}
