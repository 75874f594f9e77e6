//! Wire types of the chatroom dialect (seed 001). Ids are integers.

use serde::{Deserialize, Serialize};

use crate::dialects::AttachmentOut;
use crate::model::{Conversation, Message, User};

#[derive(Debug, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The code of an invitation, when sign-up is by invitation (natter's extension).
    #[serde(default)]
    pub invite: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RoomIn {
    #[serde(default)]
    pub room: String,
}

#[derive(Debug, Deserialize)]
pub struct SendIn {
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct LoginOut {
    pub user_id: i64,
    pub message: &'static str,
}

#[derive(Debug, Serialize)]
pub struct InfoOut {
    pub info: &'static str,
}

#[derive(Debug, Serialize)]
pub struct MessageOnly {
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct UserOut {
    pub user_id: i64,
    pub username: String,
    /// The AI agent (only present when true: the seed has no such field).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            user_id: u.id.0,
            username: u.username,
            is_bot: u.is_bot,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UsersOut {
    pub users: Vec<UserOut>,
}

#[derive(Debug, Serialize)]
pub struct RoomOut {
    pub room_id: i64,
    pub room_name: String,
}

impl From<Conversation> for RoomOut {
    fn from(c: Conversation) -> Self {
        RoomOut {
            room_id: c.id.0,
            room_name: c.name.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RoomsOut {
    pub rooms: Vec<RoomOut>,
}

#[derive(Debug, Serialize)]
pub struct ChatMessage {
    pub username: String,
    pub message: String,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentOut>,
    /// Extras beyond the seed: the message answered, and reactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::dialects::ReactionCount>,
}

impl From<&Message> for ChatMessage {
    fn from(m: &Message) -> Self {
        ChatMessage {
            username: m.sender.username.clone(),
            message: m.text.clone(),
            timestamp: m.created_at.rfc3339(),
            attachment: m.file.as_ref().map(AttachmentOut::from),
            reply_to: m.reply_to.map(|r| r.0),
            reactions: crate::dialects::reaction_counts(m),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ListOut {
    pub room: String,
    pub messages: Vec<ChatMessage>,
}

/// What every socket in the room receives.
#[derive(Debug, Serialize)]
pub struct ChatFrame {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message_id: i64,
    #[serde(flatten)]
    pub body: ChatMessage,
}

#[derive(Debug, Serialize)]
pub struct ErrorOut<'a> {
    pub error: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SocketError<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: &'a str,
}
