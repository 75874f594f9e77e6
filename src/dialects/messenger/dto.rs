//! Wire types of the messenger dialect (seed 004): DRF-style, integer ids.

use serde::{Deserialize, Serialize};

use crate::core::direct_name;
use crate::dialects::AttachmentOut;
use crate::model::{ConversationSummary, Kind, Message, Post, User, UserId};

#[derive(Debug, Deserialize)]
pub struct RegisterIn {
    #[serde(default)]
    pub username: String,
    pub email: Option<String>,
    #[serde(default)]
    pub password: String,
    /// The code of an invitation, when sign-up is by invitation (natter's extension).
    #[serde(default)]
    pub invite: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TokenIn {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Deserialize)]
pub struct RefreshIn {
    #[serde(default)]
    pub refresh: String,
}

#[derive(Debug, Deserialize)]
pub struct PostIn {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
}

#[derive(Debug, Deserialize)]
pub struct UsernameIn {
    #[serde(default)]
    pub username: String,
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub username: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RecipientIn {
    #[serde(default)]
    pub recipient: String,
}

#[derive(Debug, Deserialize)]
pub struct ContentIn {
    #[serde(default)]
    pub content: String,
}

#[derive(Debug, Serialize)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    /// The AI agent (only present when true: the seed has no such field).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_bot: bool,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id.0,
            username: u.username.clone(),
            email: u.email.clone(),
            is_bot: u.is_bot,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TokensOut {
    pub refresh: String,
    pub access: String,
}

#[derive(Debug, Serialize)]
pub struct PostOut {
    pub id: i64,
    pub title: String,
    pub content: String,
    pub created_at: String,
}

impl From<Post> for PostOut {
    fn from(p: Post) -> Self {
        PostOut {
            id: p.id.0,
            title: p.title,
            content: p.content,
            created_at: p.created_at.rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProfileOut {
    pub image: Option<String>,
    pub bio: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friends: Option<Vec<i64>>,
}

#[derive(Debug, Serialize)]
pub struct ProfileUserOut {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub profile: ProfileOut,
    pub posts: Vec<PostOut>,
}

impl ProfileUserOut {
    pub fn new(u: User, posts: Vec<Post>, friends: Option<Vec<i64>>) -> Self {
        ProfileUserOut {
            id: u.id.0,
            username: u.username,
            email: u.email,
            profile: ProfileOut {
                image: (!u.profile_picture.is_empty()).then_some(u.profile_picture),
                bio: u.bio,
                friends,
            },
            posts: posts.into_iter().map(PostOut::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MessageText {
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct ChatroomOut {
    pub id: i64,
    pub name: String,
    pub members: Vec<i64>,
    pub display_name: String,
}

impl ChatroomOut {
    /// A direct conversation (or one with the AI agent) is named `a_b` and
    /// shown as the other user; a room by its name.
    pub fn new(s: &ConversationSummary, me: UserId) -> Option<Self> {
        let members: Vec<i64> = s.members.iter().map(|m| m.id.0).collect();
        let c = &s.conversation;
        let (name, display_name) = match c.kind {
            Kind::Direct | Kind::Ai => {
                let other = s.members.iter().find(|m| m.id != me)?;
                let mine = s.members.iter().find(|m| m.id == me)?;
                (direct_name(&mine.username, &other.username), other.username.clone())
            }
            Kind::Room => {
                let name = c.name.clone().unwrap_or_default();
                (name.clone(), name)
            }
        };
        Some(ChatroomOut {
            id: c.id.0,
            name,
            members,
            display_name,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct MessageOut {
    pub id: i64,
    pub user: String,
    pub content: String,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentOut>,
    /// Extras beyond the seed: the message answered, and reactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<crate::dialects::ReactionCount>,
}

impl From<&Message> for MessageOut {
    fn from(m: &Message) -> Self {
        MessageOut {
            id: m.id.0,
            user: m.sender.username.clone(),
            content: m.text.clone(),
            timestamp: m.created_at.rfc3339(),
            attachment: m.file.as_ref().map(AttachmentOut::from),
            reply_to: m.reply_to.map(|r| r.0),
            reactions: crate::dialects::reaction_counts(m),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Detail<'a> {
    pub detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}
