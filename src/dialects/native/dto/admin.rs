//! Wire types of invitations, password resets and the admin endpoints.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::admin::Overview;
use crate::db::admin::{AuditEntry, Invite};
use crate::model::User;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InviteIn {
    /// How many sign-ups it admits; absent: any number.
    #[schema(minimum = 1, maximum = 100000)]
    pub max_uses: Option<u32>,
    /// Days it stays valid (1 to 365; default 7).
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviteOut {
    pub invite_id: Uuid,
    /// Only in the answer that made it: the secret that signs someone up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The page's sign-up link for it (with the code), relative to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked: bool,
    /// Still admits sign-ups.
    pub usable: bool,
}

impl InviteOut {
    pub fn new(i: Invite, code: Option<String>) -> Self {
        let now = crate::model::Timestamp::now();
        let usable =
            i.revoked_at.is_none() && i.expires_at.is_none_or(|e| e > now) && i.max_uses.is_none_or(|m| i.uses < m);
        InviteOut {
            invite_id: i.id,
            url: code.as_ref().map(|c| format!("/#/invite/{c}")),
            code,
            created_by: i.created_by_name,
            created_at: i.created_at.rfc3339(),
            expires_at: i.expires_at.map(|t| t.rfc3339()),
            max_uses: i.max_uses,
            uses: i.uses,
            revoked: i.revoked_at.is_some(),
            usable,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetIn {
    /// The token from the reset link.
    pub token: String,
    /// The new password: at least 6 characters.
    #[schema(min_length = 6, max_length = 256)]
    pub password: String,
}

/// A user as an admin sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserOut {
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    pub email: Option<String>,
    /// `admin` or `member`.
    pub role: &'static str,
    pub deactivated: bool,
    pub is_bot: bool,
    pub online: bool,
    pub created_at: String,
    pub last_seen_at: Option<String>,
}

impl AdminUserOut {
    pub fn new(u: User, online: bool) -> Self {
        AdminUserOut {
            user_id: u.uuid,
            username: u.username,
            name: u.name,
            email: u.email,
            role: u.role.as_str(),
            deactivated: u.deactivated_at.is_some(),
            is_bot: u.is_bot,
            online,
            created_at: u.created_at.rfc3339(),
            last_seen_at: u.last_seen_at.map(|t| t.rfc3339()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminUsersQuery {
    pub q: Option<String>,
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminUserIn {
    /// `admin` or `member`.
    #[schema(pattern = "^(admin|member)$")]
    pub role: Option<String>,
    /// True to deactivate (sessions end at once), false to reactivate.
    pub deactivated: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetLinkOut {
    /// The page's link for the user to choose a new password (relative to the server).
    pub url: String,
    pub token: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub at: String,
    /// Who did it; null for the command line.
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl From<AuditEntry> for AuditOut {
    fn from(a: AuditEntry) -> Self {
        AuditOut {
            at: a.at.rfc3339(),
            actor: a.actor,
            action: a.action,
            target: a.target,
            detail: a.detail,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AuditQuery {
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewOut {
    pub users: i64,
    pub rooms: i64,
    pub messages: i64,
    pub files: i64,
    pub file_bytes: i64,
    pub database_bytes: u64,
    pub sockets: usize,
}

impl From<Overview> for OverviewOut {
    fn from(o: Overview) -> Self {
        OverviewOut {
            users: o.counts.users,
            rooms: o.counts.rooms,
            messages: o.counts.messages,
            files: o.counts.files,
            file_bytes: o.counts.file_bytes,
            database_bytes: o.database_bytes,
            sockets: o.sockets,
        }
    }
}
