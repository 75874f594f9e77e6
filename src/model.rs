//! The nouns every layer shares: ids, users, conversations, messages, files.
//!
//! These are plain data. The `db` layer builds them from rows, the core hands
//! them to dialects, and each dialect's `dto.rs` turns them into its own wire
//! shapes. No serde wire names live here.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

/// A newtype over `i64` as PostgreSQL's `bigint`, both ways.
macro_rules! pg_bigint {
    ($name:ident) => {
        impl postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres::types::Type,
                out: &mut postgres::types::private::BytesMut,
            ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &postgres::types::Type) -> bool {
                <i64 as postgres::types::ToSql>::accepts(ty)
            }

            postgres::types::to_sql_checked!();
        }

        impl<'r> postgres::types::FromSql<'r> for $name {
            fn from_sql(
                ty: &postgres::types::Type,
                raw: &'r [u8],
            ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                i64::from_sql(ty, raw).map($name)
            }

            fn accepts(ty: &postgres::types::Type) -> bool {
                <i64 as postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(v).map($name)
            }
        }

        pg_bigint!($name);
    };
}

id_type!(
    /// A user's integer key (`number` in the dialects that show integers).
    UserId
);
id_type!(
    /// A conversation's integer key.
    ConversationId
);
id_type!(
    /// A message id: strictly increasing across the server, the sync cursor.
    MessageId
);
id_type!(
    /// A change's id in the change log. Every change takes the next id of
    /// one sequence (a message's id is the id of the change that sent it):
    /// the sync cursor sockets resume from.
    EventId
);
id_type!(
    /// A file's integer key.
    FileId
);
id_type!(
    /// A post's id (messenger dialect).
    PostId
);

/// Microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(d.as_micros() as i64)
    }

    pub fn plus_secs(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add((secs as i64).saturating_mul(1_000_000)))
    }

    pub fn unix_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// RFC 3339 with microseconds, as the seeds show: `2024-06-17T11:28:21.902531Z`.
    pub fn rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Timestamp {
    /// An RFC 3339 time (`2024-06-17T11:28:21.902531Z`, `2024-06-17T13:28:21+02:00`)
    /// or a date alone (`2024-06-17`: its midnight, UTC).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let part = b.get(from..from + len)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) || d < 1 {
            return None;
        }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        if d > month_days[(mo - 1) as usize] {
            return None;
        }
        let day = days_from_civil(y, mo, d);
        if b.len() == 10 {
            return Some(Timestamp(day * 86_400_000_000));
        }
        if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut at = 19;
        let mut micros = 0i64;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            for i in 0..6 {
                micros = micros * 10 + if i < digits { i64::from(b[at + i] - b'0') } else { 0 };
            }
            at += digits;
        }
        let offset = match b.get(at..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let o = (oh * 60 + om) * 60;
                if *sign == b'+' { o } else { -o }
            }
            _ => return None,
        };
        let secs = day * 86_400 + h * 3600 + mi * 60 + sec - offset;
        Some(Timestamp(secs * 1_000_000 + micros))
    }
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pg_bigint!(Timestamp);

impl rusqlite::ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for Timestamp {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(v).map(Timestamp)
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub uuid: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub bio: String,
    pub profile_picture: String,
    pub public_key: Option<String>,
    pub ready_to_chat: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    /// An AI agent: cannot log in.
    pub is_bot: bool,
    pub role: Role,
    /// When an admin deactivated the account (it cannot log in).
    pub deactivated_at: Option<Timestamp>,
}

/// What an account may do on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

impl rusqlite::types::FromSql for Role {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Role::parse(s).ok_or_else(|| rusqlite::types::FromSqlError::Other(format!("unknown role {s}").into()))
    }
}

impl<'r> postgres::types::FromSql<'r> for Role {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'r [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let s = <&str as postgres::types::FromSql>::from_sql(ty, raw)?;
        Role::parse(s).ok_or_else(|| format!("unknown role {s}").into())
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        <&str as postgres::types::FromSql>::accepts(ty)
    }
}

/// The part of a user that travels with every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBrief {
    pub id: UserId,
    pub uuid: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub profile_picture: String,
    pub is_bot: bool,
}

impl From<&User> for UserBrief {
    fn from(u: &User) -> Self {
        UserBrief {
            id: u.id,
            uuid: u.uuid,
            username: u.username.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            profile_picture: u.profile_picture.clone(),
            is_bot: u.is_bot,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Room,
    Direct,
    Ai,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Room => "room",
            Kind::Direct => "direct",
            Kind::Ai => "ai",
        }
    }

    /// A conversation of exactly two people (or a person and the agent),
    /// one per pair: what every dialect shows as a direct conversation.
    pub fn is_pair(self) -> bool {
        matches!(self, Kind::Direct | Kind::Ai)
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "room" => Some(Kind::Room),
            "direct" => Some(Kind::Direct),
            "ai" => Some(Kind::Ai),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub uuid: Uuid,
    pub kind: Kind,
    /// Rooms only.
    pub name: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
}

/// A conversation as one member sees it in a list.
#[derive(Debug, Clone)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub members: Vec<UserBrief>,
    pub last_message: Option<Message>,
    /// Unread messages from others, all of them.
    pub unread: i64,
    /// Of those, the ones that mention the member.
    pub unread_mentions: i64,
    pub notify: NotifyLevel,
    pub last_read: MessageId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub id: FileId,
    pub uuid: Uuid,
    pub owner: UserId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub conversation_uuid: Uuid,
    /// Shared: one brief per sender, not a copy per message.
    pub sender: Arc<UserBrief>,
    pub text: String,
    pub file: Option<FileMeta>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted: bool,
    /// An agent's reply that was cut short: what arrived before it stopped.
    pub incomplete: bool,
    /// The message this one answers.
    pub reply_to: Option<MessageId>,
    /// Direct conversations: the other member has read up to this message.
    pub seen: bool,
    /// One entry per emoji, in the order each was first used.
    pub reactions: Vec<Reaction>,
    /// The members its text mentions (`@username`), in the order mentioned.
    pub mentions: Vec<Arc<UserBrief>>,
}

/// What a member wants to hear of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyLevel {
    /// Every message.
    #[default]
    All,
    /// Messages that mention them (in a direct conversation: every message).
    Mentions,
    /// Nothing: muted.
    Nothing,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Nothing => "nothing",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyLevel> {
        Some(match s {
            "all" => NotifyLevel::All,
            "mentions" => NotifyLevel::Mentions,
            "nothing" => NotifyLevel::Nothing,
            _ => return None,
        })
    }
}

/// Everyone who reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    /// Oldest first.
    pub users: Vec<Arc<UserBrief>>,
}

#[derive(Debug, Clone)]
pub struct Post {
    pub id: PostId,
    pub author: UserId,
    pub title: String,
    pub content: String,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_micros() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00.000000Z");
        // 2024-06-17T11:28:21.902531Z
        assert_eq!(
            Timestamp(1_718_623_701_902_531).rfc3339(),
            "2024-06-17T11:28:21.902531Z"
        );
        assert_eq!(Timestamp(951_782_400_000_001).rfc3339(), "2000-02-29T00:00:00.000001Z");
    }

    #[test]
    fn parses_what_it_writes_and_dates() {
        for t in [0, 1_718_623_701_902_531, 951_782_400_000_001, -86_400_000_000] {
            assert_eq!(Timestamp::parse(&Timestamp(t).rfc3339()), Some(Timestamp(t)));
        }
        assert_eq!(Timestamp::parse("2024-06-17"), Some(Timestamp(1_718_582_400_000_000)));
        assert_eq!(
            Timestamp::parse("2024-06-17T13:28:21.9+02:00"),
            Some(Timestamp(1_718_623_701_900_000))
        );
        for bad in [
            "",
            "2024-6-17",
            "2024-02-30",
            "2024-06-17T25:00:00Z",
            "2024-06-17T11:28:21",
            "yesterday",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
