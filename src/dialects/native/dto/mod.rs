//! Wire types of the native `/api` dialect.

mod admin;
mod push;
pub use admin::*;
pub use push::*;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::core::{RoomInfo, Tokens};
use crate::dialects::file_url;
use crate::model::{ConversationSummary, FileMeta, Kind, Message, NotifyLevel, User, UserBrief};

/// Absent → `None`; `null` → `Some(None)`; a value → `Some(Some(v))`.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An integer that may arrive as `12.0` (JSON Schema counts it an integer,
/// and some JSON encoders write every number that way).
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!("expected an integer, got {n}"))),
    }
}

// ----- requests -----

// A missing password is an empty one: the core's rule then says what is
// wrong, in words (not serde's "missing field `password` at line 1").
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Give a username, an email, or both (the username then defaults to the email).")]
pub struct RegisterIn {
    /// 3 to 64 letters, digits and `_ . - @ +` (any script: `Ёжик` is fine too), unique without
    /// regard to case. Absent or empty: the email is the username.
    #[schema(pattern = r"^$|^[A-Za-z0-9_.@+-]{3,64}$")]
    pub username: Option<String>,
    #[schema(
        pattern = r"^[a-z0-9._+-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$",
        max_length = 254
    )]
    pub email: Option<String>,
    /// At least 6 characters (at most 1024 bytes).
    #[serde(default)]
    #[schema(min_length = 6, max_length = 256)]
    pub password: String,
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub name: Option<String>,
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub first_name: Option<String>,
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub last_name: Option<String>,
    #[schema(max_length = 4096, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub public_key: Option<String>,
    /// The invitation's code, when sign-up on this server is by invitation.
    pub invite: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "The login name as `username` (or `email`); either is a username or an email.")]
pub struct LoginIn {
    #[schema(pattern = r"\S")]
    pub username: Option<String>,
    #[schema(pattern = r"\S")]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshIn {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Absent fields are left alone. `password` needs `old_password`.")]
pub struct PatchMeIn {
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub name: Option<String>,
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub first_name: Option<String>,
    #[schema(max_length = 50, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub last_name: Option<String>,
    /// `null` or `""` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(
        pattern = r"^$|^[a-z0-9._+-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$",
        max_length = 254
    )]
    pub email: Option<Option<String>>,
    #[schema(max_length = 1024, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub bio: Option<String>,
    #[schema(max_length = 512, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub profile_picture: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 4096, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
    pub public_key: Option<Option<String>>,
    pub ready_to_chat: Option<bool>,
    #[schema(min_length = 6, max_length = 256)]
    pub password: Option<String>,
    pub old_password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(
    description = "A direct conversation (`participant_id`, an existing user other than you), a room \
                          (`name`), or the conversation with the AI agent (`is_ai`)."
)]
pub struct CreateConversationIn {
    pub participant_id: Option<Uuid>,
    pub participant_ids: Option<Vec<Uuid>>,
    /// A room's name: 1 to 64 characters, no `/`, not starting or ending with a space; unique without regard to case.
    #[schema(
        pattern = r"^[^\s/\u0000-\u001f\u007f-\u009f]([^/\u0000-\u001f\u007f-\u009f]{0,62}[^\s/\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: Option<String>,
    #[schema(value_type = Option<super::openapi::KindIn>)]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_ai: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameIn {
    /// The room's new name (rules as for a new room).
    #[schema(
        pattern = r"^[^\s/\u0000-\u001f\u007f-\u009f]([^/\u0000-\u001f\u007f-\u009f]{0,62}[^\s/\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendIn {
    pub conversation_id: Uuid,
    /// If given, it must be the caller's own id.
    pub sender_id: Option<Uuid>,
    /// Not empty (unless there is an attachment); at most `--max-message-bytes`.
    #[serde(default)]
    #[schema(pattern = r"\S")]
    pub message: String,
    /// A file the caller uploaded.
    pub attachment_id: Option<Uuid>,
    /// Accepted (at most 128 bytes) as on the socket's `send`, but over HTTP
    /// this answer is the acknowledgement: no socket is shown it.
    #[schema(max_length = 32)]
    pub client_id: Option<String>,
    /// The message this one answers: a message of the same conversation
    /// (not in AI conversations).
    pub reply_to: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReactIn {
    /// An emoji (or a short word such as `+1`): 1–16 characters and at
    /// most 64 bytes, no spaces or control characters.
    #[schema(min_length = 1, max_length = 16, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]+$")]
    pub emoji: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReactionQuery {
    /// The emoji to take back.
    #[param(min_length = 1, max_length = 16, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]+$")]
    pub emoji: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EditIn {
    #[schema(pattern = r"\S")]
    pub message: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadIn {
    /// A message of this conversation, or 0.
    #[serde(deserialize_with = "integer")]
    pub message_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only messages with a smaller id (the newest page before it).
    pub before: Option<i64>,
    /// Only messages with a larger id (the oldest page after it).
    pub after: Option<i64>,
    /// A message of this conversation: the page around it, up to
    /// `(limit - 1) / 2` messages before it, then it and those after it
    /// (not with `before` or `after`).
    pub around: Option<i64>,
    /// Messages per page (1 to 1000, default 50).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for: words, or "quoted phrases", all of which a message
    /// must have, ignoring case and diacritics. A term of 3 characters or
    /// more matches anywhere in the text; a shorter one matches the start
    /// of a word (in Chinese, Japanese and other scripts written without
    /// spaces, anywhere). At most 256 characters and 16 terms.
    #[param(min_length = 1, max_length = 256, pattern = r"\S")]
    pub q: Option<String>,
    /// Only this conversation (you must be a member).
    pub conversation_id: Option<Uuid>,
    /// Only messages sent by this user.
    pub sender_id: Option<Uuid>,
    /// Only messages sent at or after this time (RFC 3339, or a date: its midnight UTC).
    #[param(
        example = "2024-06-17",
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
    )]
    pub after: Option<String>,
    /// Only messages sent before this time (RFC 3339, or a date: its midnight UTC).
    #[param(
        example = "2024-06-18T00:00:00Z",
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
    )]
    pub before: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Results per page (1 to 100, default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    pub q: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name: needed for a raw upload (multipart carries its own).
    #[param(pattern = r"[^/\s]")]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SocketQuery {
    pub since: Option<i64>,
}

/// A client frame on the native sockets.
#[derive(Debug, Deserialize)]
pub struct ClientFrame {
    pub action: Option<String>,
    pub conversation_id: Option<Uuid>,
    pub message: Option<String>,
    pub message_id: Option<i64>,
    pub client_id: Option<String>,
    pub attachment_id: Option<Uuid>,
    /// `send`: the message it answers.
    pub reply_to: Option<i64>,
    /// `react`: the emoji, and whether it is added (the default) or taken back.
    pub emoji: Option<String>,
    pub added: Option<bool>,
}

// ----- responses -----

#[derive(Debug, Serialize, ToSchema)]
pub struct TokensOut {
    pub user_id: Uuid,
    pub username: String,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

impl From<Tokens> for TokensOut {
    fn from(t: Tokens) -> Self {
        TokensOut {
            user_id: t.user.uuid,
            username: t.user.username,
            access_token: t.access,
            refresh_token: t.refresh,
            token_type: "Bearer",
            expires_in: t.expires_in,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub user_id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub profile_picture: String,
    pub public_key: Option<String>,
    pub ready_to_chat: bool,
    pub online: bool,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    /// The AI agent (cannot log in).
    pub is_bot: bool,
    /// `admin` (runs the server) or `member`.
    pub role: &'static str,
}

impl UserOut {
    pub fn new(u: User, online: bool) -> Self {
        UserOut {
            user_id: u.uuid,
            username: u.username,
            email: u.email,
            name: u.name,
            first_name: u.first_name,
            last_name: u.last_name,
            bio: u.bio,
            profile_picture: u.profile_picture,
            public_key: u.public_key,
            ready_to_chat: u.ready_to_chat,
            online,
            created_at: u.created_at.rfc3339(),
            last_seen_at: u.last_seen_at.map(|t| t.rfc3339()),
            is_bot: u.is_bot,
            role: u.role.as_str(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantOut {
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    pub profile_picture: String,
    pub online: bool,
    pub is_bot: bool,
}

impl ParticipantOut {
    pub fn new(u: UserBrief, online: bool) -> Self {
        ParticipantOut {
            user_id: u.uuid,
            username: u.username,
            name: u.name,
            profile_picture: u.profile_picture,
            online,
            is_bot: u.is_bot,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileOut {
    pub file_id: Uuid,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub url: String,
}

impl From<FileMeta> for FileOut {
    fn from(f: FileMeta) -> Self {
        FileOut {
            url: file_url(&f),
            file_id: f.uuid,
            name: f.name,
            size: f.size,
            content_type: f.content_type,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    pub message_id: i64,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub sender_username: String,
    /// The sender's display name ("" when they set none).
    pub sender_name: String,
    pub message: String,
    pub timestamp: String,
    pub updated_at: String,
    pub edited: bool,
    pub deleted: bool,
    pub seen: bool,
    pub attachment: Option<FileOut>,
    /// The message this one answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
    /// An agent's reply that was cut short: what arrived before it stopped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// One entry per emoji, in the order each was first used.
    pub reactions: Vec<ReactionOut>,
    /// The members its text mentions (`@username`), in the order mentioned.
    pub mentions: Vec<ReactorOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionOut {
    pub emoji: String,
    pub count: usize,
    /// Who reacted, oldest first.
    pub users: Vec<ReactorOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReactorOut {
    pub user_id: Uuid,
    pub username: String,
}

impl From<&crate::model::Reaction> for ReactionOut {
    fn from(r: &crate::model::Reaction) -> Self {
        ReactionOut {
            emoji: r.emoji.clone(),
            count: r.users.len(),
            users: r
                .users
                .iter()
                .map(|u| ReactorOut {
                    user_id: u.uuid,
                    username: u.username.clone(),
                })
                .collect(),
        }
    }
}

impl From<&Message> for MessageOut {
    fn from(m: &Message) -> Self {
        MessageOut {
            message_id: m.id.0,
            conversation_id: m.conversation_uuid,
            sender_id: m.sender.uuid,
            sender_username: m.sender.username.clone(),
            sender_name: m.sender.name.clone(),
            message: m.text.clone(),
            timestamp: m.created_at.rfc3339(),
            updated_at: m.updated_at.rfc3339(),
            edited: !m.deleted && m.updated_at != m.created_at,
            deleted: m.deleted,
            seen: m.seen,
            attachment: m.file.clone().map(FileOut::from),
            reply_to: m.reply_to.map(|r| r.0),
            incomplete: m.incomplete,
            reactions: m.reactions.iter().map(ReactionOut::from).collect(),
            mentions: m
                .mentions
                .iter()
                .map(|u| ReactorOut {
                    user_id: u.uuid,
                    username: u.username.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationOut {
    pub conversation_id: Uuid,
    pub kind: &'static str,
    pub is_ai: bool,
    pub name: Option<String>,
    pub participants: Vec<ParticipantOut>,
    pub last_message: Option<MessageOut>,
    /// Unread messages from others that the caller's notify level counts:
    /// all of them (`all`), those that mention the caller (`mentions`; in
    /// a direct conversation, all of them), none (`nothing`).
    pub unread_count: i64,
    /// Unread messages from others, whatever the notify level.
    pub unread_total: i64,
    /// Unread messages that mention the caller.
    pub unread_mentions: i64,
    /// What the caller wants to hear of it: `all`, `mentions` or `nothing`.
    #[schema(pattern = "^(all|mentions|nothing)$")]
    pub notify: &'static str,
    pub last_read_id: i64,
    pub created_at: String,
    /// Who created it (rooms: who may rename or delete it), while they are a member.
    pub created_by: Option<Uuid>,
}

impl ConversationOut {
    pub fn new(s: ConversationSummary, online: impl Fn(&UserBrief) -> bool) -> Self {
        let c = s.conversation;
        let created_by = s.members.iter().find(|m| Some(m.id) == c.created_by).map(|m| m.uuid);
        ConversationOut {
            conversation_id: c.uuid,
            kind: c.kind.as_str(),
            is_ai: c.kind == Kind::Ai,
            name: c.name,
            participants: s
                .members
                .into_iter()
                .map(|m| {
                    let on = online(&m);
                    ParticipantOut::new(m, on)
                })
                .collect(),
            last_message: s.last_message.as_ref().map(MessageOut::from),
            unread_count: match s.notify {
                NotifyLevel::All => s.unread,
                NotifyLevel::Mentions if c.kind != Kind::Room => s.unread,
                NotifyLevel::Mentions => s.unread_mentions,
                NotifyLevel::Nothing => 0,
            },
            unread_total: s.unread,
            unread_mentions: s.unread_mentions,
            notify: s.notify.as_str(),
            last_read_id: s.last_read.0,
            created_at: c.created_at.rfc3339(),
            created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomOut {
    pub conversation_id: Uuid,
    pub name: Option<String>,
    pub member_count: i64,
    pub joined: bool,
    pub created_at: String,
}

impl From<RoomInfo> for RoomOut {
    fn from(r: RoomInfo) -> Self {
        RoomOut {
            conversation_id: r.conversation.uuid,
            name: r.conversation.name,
            member_count: r.member_count,
            joined: r.joined,
            created_at: r.conversation.created_at.rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectOut {
    pub status: &'static str,
    pub conversation_id: Uuid,
    pub ws_url: String,
}

/// `GET /api/search`: a page of results, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchOut {
    pub results: Vec<SearchResultOut>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResultOut {
    /// The whole message, as history shows it.
    pub message: MessageOut,
    /// The part of its text to show (all of a short one, else a window
    /// around the first match with "…" where it was cut), in pieces: the
    /// matches have `match: true`. Plain text, to render as text.
    pub snippet: Vec<SnippetPartOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnippetPartOut {
    pub text: String,
    #[serde(rename = "match")]
    pub matched: bool,
}

impl From<crate::core::Hit> for SearchResultOut {
    fn from(h: crate::core::Hit) -> Self {
        SearchResultOut {
            message: MessageOut::from(&h.message),
            snippet: h
                .snippet
                .into_iter()
                .map(|s| SnippetPartOut {
                    text: s.text,
                    matched: s.matched,
                })
                .collect(),
        }
    }
}

/// Every native error: what went wrong, in words, and the HTTP status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInner {
    pub message: String,
    pub status: u16,
}

/// A read mark, as `POST /api/conversations/{id}/read` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadOut {
    pub conversation_id: Uuid,
    pub last_read_id: i64,
}

/// What the caller wants to hear of one conversation.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NotifyIn {
    /// `all` (every message), `mentions` (those that mention you; in a
    /// direct conversation every message) or `nothing` (muted).
    #[schema(pattern = "^(all|mentions|nothing)$")]
    pub level: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotifyOut {
    pub conversation_id: Uuid,
    #[schema(pattern = "^(all|mentions|nothing)$")]
    pub level: &'static str,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MentionsQuery {
    /// Only mentions in messages with a smaller id (`next_before` of the
    /// page before).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// At most this many (1–1000; 50 if not given).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The messages that mention the caller, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MentionsOut {
    pub messages: Vec<MessageOut>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// `GET /api/users/me/export`: everything the caller can see, in the
/// shapes the rest of the API uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserExportOut {
    /// Always `natter-user-export`.
    pub format: &'static str,
    pub format_version: i64,
    pub exported_at: String,
    pub user: UserOut,
    /// The conversations the caller is a member of now.
    pub conversations: Vec<ConversationOut>,
    /// Every message of those conversations (anyone's), oldest first.
    pub messages: Vec<MessageOut>,
    /// The files the caller uploaded: metadata, and the URL to fetch each.
    pub files: Vec<FileOut>,
}
