//! Users: profiles, search, readiness and who is online.

use std::time::Duration;

use uuid::Uuid;

use super::{Caller, Core, validate};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{ConversationSummary, FileMeta, Message, MessageId, Role, Timestamp, User, UserBrief, UserId};

/// A whisper user counts as online this long after their last request.
pub const ONLINE_WINDOW: Duration = Duration::from_secs(300);

/// Changes to the caller's profile; `None` leaves a field alone.
#[derive(Debug, Default, Clone)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `Some(None)` or an empty string clears it.
    pub email: Option<Option<String>>,
    pub bio: Option<String>,
    pub profile_picture: Option<String>,
    pub public_key: Option<Option<String>>,
    pub ready_to_chat: Option<bool>,
    /// A new password; needs `old_password`.
    pub password: Option<String>,
    pub old_password: Option<String>,
}

/// What a user may take away of their own (`GET /api/users/me/export`).
#[derive(Debug)]
pub struct UserExport {
    pub user: User,
    /// The conversations they are a member of now.
    pub conversations: Vec<ConversationSummary>,
    /// Every message of those conversations, anyone's, oldest first: the
    /// history they can read in the app.
    pub messages: Vec<Message>,
    /// The files they uploaded (metadata; the bytes are a download away).
    pub files: Vec<FileMeta>,
}

/// Who is looking at other people's records. An email is shown only to
/// its owner and to the server's admins: it reaches someone outside
/// natter, and signing up never meant publishing it to every member.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    me: UserId,
    admin: bool,
}

impl Viewer {
    /// The caller as a viewer, read on the connection `c`.
    pub(super) fn read(c: &crate::db::Tx<'_>, me: UserId) -> Result<Viewer> {
        let user = db::users::by_id(c, me)?.ok_or_else(|| Error::not_found("user"))?;
        Ok(Viewer {
            me,
            admin: user.role == Role::Admin && user.deactivated_at.is_none(),
        })
    }

    pub fn sees_email_of(&self, user: UserId) -> bool {
        self.admin || user == self.me
    }

    /// `u` as this viewer may see it.
    pub fn user(&self, mut u: User) -> User {
        if !self.sees_email_of(u.id) {
            u.email = None;
        }
        u
    }

    /// `u` as this viewer may see it.
    pub fn brief(&self, mut u: UserBrief) -> UserBrief {
        if !self.sees_email_of(u.id) {
            u.email = None;
        }
        u
    }
}

impl Core {
    /// Everything of the caller's: profile, conversations, their messages, uploads.
    pub async fn export_user(&self, caller: &Caller) -> Result<UserExport> {
        let user = self.user(caller.user).await?;
        let conversations = self.conversations(caller).await?;
        let me = caller.user;
        let (messages, files) = self
            .db
            .read(move |c| {
                Ok((
                    db::messages::since_for_user(c, me, MessageId(0), i64::MAX)?,
                    db::archive::files_of(c, me)?,
                ))
            })
            .await?;
        Ok(UserExport {
            user,
            conversations,
            messages,
            files,
        })
    }

    /// Note that a user did something (for presence and `last_seen_at`).
    pub(super) fn touch(&self, user: UserId) {
        if self.activity.touch(user) {
            let write = self
                .db
                .writer()
                .submit(move |c| db::users::touch_last_seen(c, user, Timestamp::now()), |_| {});
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if let Err(e) = write.await {
                        tracing::debug!(error = %e, "could not record last_seen_at");
                    }
                });
            }
        }
    }

    pub fn is_online(&self, user: UserId) -> bool {
        self.hub.is_online(user)
    }

    pub async fn user(&self, id: UserId) -> Result<User> {
        self.db
            .read(move |c| db::users::by_id(c, id))
            .await?
            .ok_or_else(|| Error::not_found("user"))
    }

    pub async fn user_by_uuid(&self, id: Uuid) -> Result<User> {
        self.db
            .read(move |c| db::users::by_uuid(c, &id))
            .await?
            .ok_or_else(|| Error::not_found("user"))
    }

    /// User `id` (a UUID) as the caller may see them.
    pub async fn user_for(&self, caller: &Caller, id: Uuid) -> Result<User> {
        let me = caller.user;
        let (viewer, user) = self
            .db
            .read(move |c| Ok((Viewer::read(c, me)?, db::users::by_uuid(c, &id)?)))
            .await?;
        user.map(|u| viewer.user(u)).ok_or_else(|| Error::not_found("user"))
    }

    /// The user named `username`, as the caller may see them.
    pub async fn user_named_for(&self, caller: &Caller, username: &str) -> Result<User> {
        let user = self.user_by_username(username).await?;
        Ok(self.viewer(caller).await?.user(user))
    }

    /// The caller, as a viewer of other people's records.
    pub async fn viewer(&self, caller: &Caller) -> Result<Viewer> {
        let me = caller.user;
        self.db.read(move |c| Viewer::read(c, me)).await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<User> {
        let name = username.trim().to_owned();
        self.db
            .read(move |c| db::users::by_username(c, &name))
            .await?
            .ok_or_else(|| Error::NotFound(format!("user `{}` not found", username.trim())))
    }

    /// Users whose username or name contains `q` (all users when empty), as
    /// the caller may see them.
    pub async fn search_users(&self, caller: &Caller, q: Option<String>, limit: i64) -> Result<Vec<User>> {
        let me = caller.user;
        self.db
            .read(move |c| {
                let viewer = Viewer::read(c, me)?;
                let found = db::users::search(c, q.as_deref(), limit)?;
                Ok(found.into_iter().map(|u| viewer.user(u)).collect())
            })
            .await
    }

    /// Every user, as the caller may see them.
    pub async fn all_users(&self, caller: &Caller) -> Result<Vec<User>> {
        let me = caller.user;
        self.db
            .read(move |c| {
                let viewer = Viewer::read(c, me)?;
                Ok(db::users::all(c)?.into_iter().map(|u| viewer.user(u)).collect())
            })
            .await
    }

    pub async fn update_profile(&self, caller: &Caller, mut p: ProfileUpdate) -> Result<User> {
        for (field, value) in [
            ("name", &p.name),
            ("first_name", &p.first_name),
            ("last_name", &p.last_name),
            ("bio", &p.bio),
            ("profile_picture", &p.profile_picture),
        ] {
            if let Some(v) = value {
                validate::text_field(field, v, if field == "bio" { 4096 } else { 2048 })?;
            }
        }
        if let Some(Some(email)) = &p.email {
            let email = email.trim();
            if email.is_empty() {
                p.email = Some(None);
            } else {
                validate::email(email)?;
                p.email = Some(Some(email.to_owned()));
            }
        }
        if let Some(Some(key)) = &p.public_key {
            validate::text_field("public_key", key, 16 * 1024)?;
        }
        if let Some(picture) = &p.profile_picture
            && let Some(id) = picture.strip_prefix("/api/files/")
        {
            // One of natter's files becomes readable by everyone as a picture:
            // only the caller's own image may.
            let id = Uuid::parse_str(id).map_err(|_| Error::invalid("profile_picture: no such file"))?;
            let (me, file) = (caller.user, self.db.read(move |c| db::files::by_uuid(c, &id)).await?);
            match file {
                Some(f) if f.owner == me && super::files::is_inline_safe(&f.content_type) => {}
                Some(f) if f.owner == me => {
                    return Err(Error::invalid("profile_picture must be a PNG, JPEG, GIF or WebP image"));
                }
                _ => return Err(Error::invalid("profile_picture: no such file among your uploads")),
            }
        }
        let mut password_hash = None;
        if let Some(new) = &p.password {
            validate::password(new)?;
            let old = p
                .old_password
                .clone()
                .ok_or_else(|| Error::invalid("old_password is required to change the password"))?;
            let user = caller.user;
            let stored = self.db.read(move |c| db::users::password_hash(c, user)).await?;
            let new = new.clone();
            let params = self.auth.params();
            password_hash = Some(
                self.auth
                    .hash_blocking(move || {
                        if super::auth::verify(&old, &stored) {
                            Some(super::auth::hash(&new, &params))
                        } else {
                            None
                        }
                    })
                    .await?
                    .ok_or_else(|| Error::forbidden("old_password is not correct"))??,
            );
        }
        let patch = db::users::UserPatch {
            name: p.name,
            first_name: p.first_name,
            last_name: p.last_name,
            email: p.email,
            bio: p.bio,
            profile_picture: p.profile_picture,
            public_key: p.public_key,
            ready_to_chat: p.ready_to_chat,
            password_hash,
        };
        let (user, cache, session) = (caller.user, self.cache.clone(), caller.session);
        let (updated, ended) = self
            .db
            .writer()
            .submit(
                move |c| {
                    // A new password ends every other session (a thief's included).
                    let ended = if patch.password_hash.is_some() {
                        db::sessions::revoke_others(c, user, &session)?
                    } else {
                        Vec::new()
                    };
                    let updated = db::users::update(c, user, &patch)?;
                    // Member lists carry names and pictures.
                    cache.forget_all_members();
                    Ok((updated, ended))
                },
                |_| {},
            )
            .await?;
        self.end_sessions(Some(user), &ended);
        Ok(updated)
    }

    /// Public keys of the other users who are ready to chat and online: a live
    /// socket, or any authenticated request in the last five minutes.
    pub async fn online_public_keys(&self, caller: &Caller) -> Result<Vec<String>> {
        let ready = self.db.read(db::users::ready_with_keys).await?;
        Ok(ready
            .into_iter()
            .filter(|(id, _)| {
                *id != caller.user && (self.hub.is_online(*id) || self.activity.active_within(*id, ONLINE_WINDOW))
            })
            .map(|(_, key)| key)
            .collect())
    }
}
