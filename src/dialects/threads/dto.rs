//! Wire types of the threads dialect (seed 003): the envelope, users with
//! UUID ids, threads and messages with integer ids.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::core::DirectThread;
use crate::dialects::file_url;
use crate::model::{FileMeta, Message, User, UserBrief};

/// Every HTTP answer: `{"status", "entity", "message", "success"}`.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub status: &'static str,
    pub entity: T,
    pub message: Option<&'a str>,
    pub success: bool,
}

impl<'a, T: Serialize> Envelope<'a, T> {
    pub fn ok(entity: T, message: Option<&'a str>) -> Self {
        Envelope {
            status: "success",
            entity,
            message,
            success: true,
        }
    }
}

pub fn failure(message: &str) -> Envelope<'_, ()> {
    Envelope {
        status: "failure",
        entity: (),
        message: Some(message),
        success: false,
    }
}

#[derive(Debug, Serialize)]
pub struct Profile {
    pub image: String,
}

#[derive(Debug, Serialize)]
pub struct UserRef {
    pub id: Uuid,
    pub email: Option<String>,
    pub profile: Option<Profile>,
}

impl From<&UserBrief> for UserRef {
    fn from(u: &UserBrief) -> Self {
        UserRef {
            id: u.uuid,
            email: u.email.clone(),
            profile: (!u.profile_picture.is_empty()).then(|| Profile {
                image: u.profile_picture.clone(),
            }),
        }
    }
}

/// `"0kb"` as the seed writes sizes: kilobytes, rounded up.
pub fn size_kb(file: Option<&FileMeta>) -> String {
    format!("{}kb", file.map_or(0, |f| (f.size + 1023) / 1024))
}

#[derive(Debug, Serialize)]
pub struct MessageOut {
    pub id: i64,
    pub sender: UserRef,
    pub receiver: UserRef,
    pub attached_file_size: String,
    pub message: String,
    pub updated: String,
    pub created: String,
    pub seen: bool,
    pub deleted: bool,
    pub attached_file: Option<String>,
    pub attached_file_name: Option<String>,
    pub thread: i64,
    /// Extras beyond the seed: the message answered, and reactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::dialects::ReactionCount>,
}

impl MessageOut {
    /// `me` and `other` are the pair, as the caller may see them (the
    /// message's own copy of its sender carries every field); the receiver
    /// is whichever did not send it.
    pub fn new(m: &Message, me: &UserBrief, other: &UserBrief) -> Self {
        let (sender, receiver) = if m.sender.id == me.id { (me, other) } else { (other, me) };
        MessageOut {
            id: m.id.0,
            sender: UserRef::from(sender),
            receiver: UserRef::from(receiver),
            attached_file_size: size_kb(m.file.as_ref()),
            message: m.text.clone(),
            updated: m.updated_at.rfc3339(),
            created: m.created_at.rfc3339(),
            seen: m.seen,
            deleted: m.deleted,
            attached_file: m.file.as_ref().map(file_url),
            attached_file_name: m.file.as_ref().map(|f| f.name.clone()),
            thread: m.conversation.0,
            reply_to: m.reply_to.map(|r| r.0),
            reactions: crate::dialects::reaction_counts(m),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MessagesOut {
    pub messages: Vec<MessageOut>,
}

#[derive(Debug, Serialize)]
pub struct ThreadUser {
    pub id: Uuid,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// The AI agent (only present when true: the seed has no such field).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
}

impl From<&UserBrief> for ThreadUser {
    fn from(u: &UserBrief) -> Self {
        ThreadUser {
            id: u.uuid,
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            is_bot: u.is_bot,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ThreadOut {
    pub id: i64,
    pub user_one: ThreadUser,
    pub user_two: ThreadUser,
    pub last_message: Option<String>,
    /// The seed's spelling, kept for its clients.
    pub craeted: String,
    pub created: String,
}

impl From<&DirectThread> for ThreadOut {
    fn from(t: &DirectThread) -> Self {
        let created = t.conversation.created_at.rfc3339();
        ThreadOut {
            id: t.conversation.id.0,
            user_one: ThreadUser::from(&t.creator),
            user_two: ThreadUser::from(&t.peer),
            last_message: t.last_message.as_ref().filter(|m| !m.deleted).map(|m| m.text.clone()),
            craeted: created.clone(),
            created,
        }
    }
}

/// A user as `/auth/users/` lists them: public fields only.
#[derive(Debug, Serialize)]
pub struct PublicUser {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub user_number: i64,
    pub created_at: String,
    pub last_login: Option<String>,
    /// The AI agent (only present when true: the seed has no such field).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
}

impl From<User> for PublicUser {
    fn from(u: User) -> Self {
        PublicUser {
            id: u.uuid,
            username: u.username,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            user_number: u.id.0,
            created_at: u.created_at.rfc3339(),
            last_login: u.last_seen_at.map(|t| t.rfc3339()),
            is_bot: u.is_bot,
        }
    }
}

/// A client frame on the threads socket.
#[derive(Debug, Deserialize)]
pub struct ClientFrame {
    pub action: Option<String>,
    pub message_body: Option<String>,
    pub receiver_id: Option<Uuid>,
    pub file_name: Option<String>,
    pub file_base64: Option<String>,
}

/// What the receiver's sockets get.
#[derive(Debug, Serialize)]
pub struct ReMessage {
    pub message_body: String,
    pub sender_id: Uuid,
    pub receiver_id: Uuid,
    pub timestamp: String,
    pub created_msg_id: i64,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_file_size: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SocketError<'a> {
    pub action: &'static str,
    pub status: &'static str,
    pub message: &'a str,
    pub success: bool,
}
