//! Running the server for others: who may sign up (and with which
//! invitation), admins and what they may do — list and search users, reset
//! a password with a one-time link, deactivate an account, delete a message
//! or a room — each written to the audit log in the same transaction.

use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Caller, Core, validate};
use crate::config::Registration;
use crate::db::{self, admin::Invite};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, Role, Timestamp, User};

/// How long an admin's password reset link works.
const RESET_VALID: Duration = Duration::from_secs(24 * 3600);
/// The longest an invitation may last.
const MAX_INVITE_DAYS: u32 = 365;
/// The most sign-ups one invitation may admit when it has a limit.
const MAX_INVITE_USES: u32 = 100_000;

/// Who may sign up, and who may invite.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// `None`: open until the first account exists, then by invitation.
    pub registration: Option<Registration>,
    pub members_invite: bool,
}

/// What a sign-up needs right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// The first account: anyone, and it becomes the admin.
    First,
    Open,
    Invite,
    Closed,
}

/// A random secret for a link, and its SHA-256 (all that is stored).
fn secret() -> (String, Vec<u8>) {
    let bytes: [u8; 24] = rand::random();
    let code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = Sha256::digest(code.as_bytes()).to_vec();
    (code, hash)
}

fn hash_of(code: &str) -> Vec<u8> {
    Sha256::digest(code.trim().as_bytes()).to_vec()
}

/// What a sign-up needs, given how many people have accounts.
/// A closed server admits nobody, not even a first account: its operator
/// makes accounts with `natter admin create`.
pub(super) fn admission(policy: Policy, people: i64) -> Admission {
    if people == 0 && policy.registration != Some(Registration::Closed) {
        return Admission::First;
    }
    match policy.registration {
        Some(Registration::Open) => Admission::Open,
        Some(Registration::Closed) => Admission::Closed,
        Some(Registration::Invite) | None => Admission::Invite,
    }
}

/// What a sign-up with `invite` needs, given how many people have
/// accounts; refused at once when no code could help (closed, or by
/// invitation without one). Cheap: run before the password hash too.
pub(super) fn precheck(policy: Policy, people: i64, invite: Option<&str>) -> Result<Admission> {
    match admission(policy, people) {
        Admission::Closed => Err(Error::forbidden(
            "sign-up is closed on this server; an admin can create your account",
        )),
        Admission::Invite if invite.is_none_or(|i| i.trim().is_empty()) => Err(Error::forbidden(
            "sign-up on this server is by invitation: open the invitation link you were sent",
        )),
        needed => Ok(needed),
    }
}

/// Check (inside the sign-up's write) that this sign-up may happen, using
/// up a use of its invitation; the role the new account gets.
pub(super) fn admit(c: &crate::db::Tx<'_>, policy: Policy, invite: Option<&str>) -> Result<Role> {
    match precheck(policy, db::admin::people(c)?, invite)? {
        Admission::First => Ok(Role::Admin),
        Admission::Open => Ok(Role::Member),
        // `precheck` let an invitation through only with a code.
        Admission::Invite | Admission::Closed => {
            db::admin::use_invite(c, &hash_of(invite.unwrap_or_default()), Timestamp::now()).map(|_| Role::Member)
        }
    }
}

/// A new invitation: its code is shown once.
pub struct NewInvite {
    pub invite: Invite,
    pub code: String,
}

/// Changes an admin makes to an account.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    pub role: Option<Role>,
    pub deactivated: Option<bool>,
}

/// The server's figures for the admin view.
#[derive(Debug, Clone)]
pub struct Overview {
    pub counts: db::admin::Counts,
    pub sockets: usize,
    pub database_bytes: u64,
}

impl Core {
    /// Who may sign up now, as the page and `GET /api/server` say it.
    pub async fn registration(&self) -> Result<Registration> {
        let people = self.db.read(db::admin::people).await?;
        Ok(match admission(self.policy, people) {
            Admission::First | Admission::Open => Registration::Open,
            Admission::Invite => Registration::Invite,
            Admission::Closed => Registration::Closed,
        })
    }

    /// Members (not only admins) may make invitations.
    pub fn members_invite(&self) -> bool {
        self.policy.members_invite
    }

    /// The caller, if they are an admin whose account is active.
    pub async fn require_admin(&self, caller: &Caller) -> Result<User> {
        let user = self.user(caller.user).await?;
        if user.role != Role::Admin || user.deactivated_at.is_some() {
            return Err(Error::forbidden("only an admin may do this"));
        }
        Ok(user)
    }

    /// Make an invitation (admins; members too with `--members-invite`).
    pub async fn create_invite(&self, caller: &Caller, max_uses: Option<u32>, days: Option<u32>) -> Result<NewInvite> {
        let me = self.user(caller.user).await?;
        if me.role != Role::Admin && !self.policy.members_invite {
            return Err(Error::forbidden("only an admin may invite people to this server"));
        }
        if max_uses.is_some_and(|m| !(1..=MAX_INVITE_USES).contains(&m)) {
            return Err(Error::invalid(format!(
                "max_uses must be 1 to {MAX_INVITE_USES} (or left out for no limit)"
            )));
        }
        let days = days.unwrap_or(7);
        if !(1..=MAX_INVITE_DAYS).contains(&days) {
            return Err(Error::invalid(format!(
                "expires_in_days must be 1 to {MAX_INVITE_DAYS}"
            )));
        }
        let (code, hash) = secret();
        let id = Uuid::new_v4();
        let expires_at = Some(Timestamp::now().plus_secs(u64::from(days) * 86_400));
        let by = me.id;
        let invite = self
            .db
            .writer()
            .submit(
                move |c| {
                    db::admin::insert_invite(
                        c,
                        &db::admin::NewInvite {
                            id,
                            code_hash: &hash,
                            created_by: Some(by),
                            expires_at,
                            max_uses: max_uses.map(i64::from),
                        },
                    )?;
                    if me.role == Role::Admin {
                        let detail = format!(
                            "uses {}, {days} days",
                            max_uses.map_or("unlimited".into(), |m| m.to_string())
                        );
                        db::admin::audit(c, Some(by), "invite.create", &id.to_string(), &detail)?;
                    }
                    db::admin::invite(c, &id)?.ok_or_else(|| Error::internal("new invite vanished"))
                },
                |_| {},
            )
            .await?;
        Ok(NewInvite { invite, code })
    }

    /// Invitations: an admin sees all, a member their own.
    pub async fn invites(&self, caller: &Caller) -> Result<Vec<Invite>> {
        let me = self.user(caller.user).await?;
        let by = (me.role != Role::Admin).then_some(me.id);
        self.db.read(move |c| db::admin::invites(c, by)).await
    }

    /// Withdraw an invitation (an admin, or whoever made it).
    pub async fn revoke_invite(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let me = self.user(caller.user).await?;
        self.db
            .writer()
            .submit(
                move |c| {
                    let invite = db::admin::invite(c, &id)?.ok_or_else(|| Error::not_found("invitation"))?;
                    if me.role != Role::Admin && invite.created_by != Some(me.id) {
                        return Err(Error::not_found("invitation"));
                    }
                    db::admin::revoke_invite(c, &id)?;
                    if me.role == Role::Admin {
                        db::admin::audit(c, Some(me.id), "invite.revoke", &id.to_string(), "")?;
                    }
                    Ok(())
                },
                |_| {},
            )
            .await
    }

    /// Users for the admin view (search by name or username).
    pub async fn admin_users(&self, caller: &Caller, q: Option<String>, limit: i64) -> Result<Vec<User>> {
        self.require_admin(caller).await?;
        let limit = limit.clamp(1, 1000);
        self.db.read(move |c| db::users::search(c, q.as_deref(), limit)).await
    }

    /// Change a user's role or deactivate (or reactivate) them. A
    /// deactivated user's sessions end and their sockets close at once;
    /// their messages stay. The last active admin cannot be demoted or
    /// deactivated, and nobody deactivates themselves.
    pub async fn admin_change_user(&self, caller: &Caller, id: Uuid, change: UserChange) -> Result<User> {
        let admin = self.require_admin(caller).await?;
        let target = self.user_by_uuid(id).await?;
        if target.is_bot {
            return Err(Error::Conflict(
                "the AI agent's account is set by the server's flags".into(),
            ));
        }
        if target.id == admin.id && change.deactivated == Some(true) {
            return Err(Error::Conflict("you cannot deactivate your own account".into()));
        }
        let (actor, cache) = (admin.id, self.cache.clone());
        let (user, ended) = self
            .db
            .writer()
            .submit(
                move |c| {
                    let losing_admin = target.role == Role::Admin
                        && target.deactivated_at.is_none()
                        && (change.role == Some(Role::Member) || change.deactivated == Some(true));
                    if losing_admin && db::admin::active_admins(c)? <= 1 {
                        return Err(Error::Conflict(
                            "this is the last admin: make someone else an admin first".into(),
                        ));
                    }
                    let mut ended = Vec::new();
                    if let Some(role) = change.role
                        && role != target.role
                    {
                        db::admin::set_role(c, target.id, role)?;
                        db::admin::audit(c, Some(actor), "user.role", &target.username, role.as_str())?;
                    }
                    match change.deactivated {
                        Some(true) if target.deactivated_at.is_none() => {
                            db::admin::set_deactivated(c, target.id, Some(Timestamp::now()))?;
                            ended = db::admin::revoke_all_sessions(c, target.id)?;
                            db::admin::audit(c, Some(actor), "user.deactivate", &target.username, "")?;
                        }
                        Some(false) if target.deactivated_at.is_some() => {
                            db::admin::set_deactivated(c, target.id, None)?;
                            db::admin::audit(c, Some(actor), "user.activate", &target.username, "")?;
                        }
                        _ => {}
                    }
                    cache.forget_all_members();
                    let user = db::users::by_id(c, target.id)?.ok_or_else(|| Error::not_found("user"))?;
                    Ok((user, ended))
                },
                |_| {},
            )
            .await?;
        self.end_sessions(Some(user.id), &ended);
        Ok(user)
    }

    /// A one-time link for `id` to choose a new password (valid a day).
    /// Their current password keeps working until they use it.
    pub async fn admin_reset_link(&self, caller: &Caller, id: Uuid) -> Result<(String, Timestamp)> {
        let admin = self.require_admin(caller).await?;
        let target = self.user_by_uuid(id).await?;
        if target.is_bot {
            return Err(Error::Conflict("the AI agent has no password".into()));
        }
        let (token, hash) = secret();
        let expires = Timestamp::now().plus_secs(RESET_VALID.as_secs());
        let actor = admin.id;
        self.db
            .writer()
            .submit(
                move |c| {
                    db::admin::insert_reset(c, &hash, target.id, Some(actor), expires)?;
                    db::admin::audit(c, Some(actor), "user.reset_link", &target.username, "")
                },
                |_| {},
            )
            .await?;
        Ok((token, expires))
    }

    /// Choose a new password with a reset link. Every session of the user
    /// ends: they log in again with the new password.
    pub async fn reset_password(&self, token: &str, password: &str, from: std::net::IpAddr) -> Result<User> {
        validate::password(password)?;
        // Anyone may call this: no hash for a link that cannot work, and
        // hashes are bounded per address as for a login.
        let probe = hash_of(token);
        self.db
            .read(move |c| db::admin::check_reset(c, &probe, Timestamp::now()))
            .await?;
        let _permit = self.hashes.start(from)?;
        let (password, params) = (password.to_owned(), self.auth.params());
        let hash = self
            .auth
            .hash_blocking(move || super::auth::hash(&password, &params))
            .await??;
        let token_hash = hash_of(token);
        let (user, ended) = self
            .db
            .writer()
            .submit(
                move |c| {
                    let user = db::admin::use_reset(c, &token_hash, Timestamp::now())?;
                    db::admin::set_password(c, user, &hash)?;
                    let ended = db::admin::revoke_all_sessions(c, user)?;
                    let user = db::users::by_id(c, user)?.ok_or_else(|| Error::not_found("user"))?;
                    db::admin::audit(
                        c,
                        Some(user.id),
                        "user.password_reset",
                        &user.username,
                        "with a reset link",
                    )?;
                    Ok((user, ended))
                },
                |_| {},
            )
            .await?;
        self.end_sessions(Some(user.id), &ended);
        Ok(user)
    }

    /// Delete anyone's message (an admin's moderation).
    pub async fn admin_delete_message(&self, caller: &Caller, id: MessageId) -> Result<Message> {
        let admin = self.require_admin(caller).await?;
        self.moderate_message(admin.id, id).await
    }

    /// Delete any room, with its messages.
    pub async fn admin_delete_room(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let admin = self.require_admin(caller).await?;
        self.remove_room(admin.id, id, true).await
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, caller: &Caller, limit: i64) -> Result<Vec<db::admin::AuditEntry>> {
        self.require_admin(caller).await?;
        let limit = limit.clamp(1, 1000);
        self.db.read(move |c| db::admin::audit_log(c, limit)).await
    }

    /// Counts and sizes for the admin view.
    pub async fn overview(&self, caller: &Caller) -> Result<Overview> {
        self.require_admin(caller).await?;
        let counts = self.db.read(db::admin::counts).await?;
        let database_bytes = self.db.size().await?;
        Ok(Overview {
            counts,
            sockets: self.hub.connection_count(),
            database_bytes,
        })
    }
}

/// `natter admin …`: accounts, on the database directly (the server may be
/// running: SQLite keeps the two apart, PostgreSQL serves any number).
pub mod offline {
    use std::path::Path;

    use crate::db::{self, users::NewUser};
    use crate::error::{Error, Result};
    use crate::model::{Role, User};

    /// Create `username` with `role`, or give an existing account that role
    /// (and reactivate it). True if the account is new.
    pub fn create(path: &Path, username: &str, password_hash: &str, role: Role) -> Result<bool> {
        db::offline(path, |tx| {
            let created = match db::users::by_username(tx, username)? {
                Some(user) => {
                    db::admin::set_role(tx, user.id, role)?;
                    db::admin::set_deactivated(tx, user.id, None)?;
                    db::admin::set_password(tx, user.id, password_hash)?;
                    false
                }
                None => {
                    super::validate::username(username)?;
                    let user = db::users::insert(
                        tx,
                        &NewUser {
                            username,
                            email: None,
                            password_hash,
                            name: "",
                            first_name: "",
                            last_name: "",
                            public_key: None,
                        },
                    )?;
                    db::admin::set_role(tx, user.id, role)?;
                    true
                }
            };
            db::admin::audit(tx, None, "cli.create", username, role.as_str())?;
            Ok(created)
        })
    }

    /// Set `username`'s password and end their sessions (tokens already
    /// handed out stop working at their expiry, or at once after a restart).
    pub fn reset_password(path: &Path, username: &str, password_hash: &str) -> Result<usize> {
        db::offline(path, |tx| {
            let user = db::users::by_username(tx, username)?
                .filter(|u| !u.is_bot)
                .ok_or_else(|| Error::NotFound(format!("no user `{username}`")))?;
            db::admin::set_password(tx, user.id, password_hash)?;
            let ended = db::admin::revoke_all_sessions(tx, user.id)?;
            db::admin::audit(tx, None, "cli.reset_password", username, "")?;
            Ok(ended.len())
        })
    }

    pub fn users(path: &Path) -> Result<Vec<User>> {
        db::offline(path, db::users::all)
    }
}
