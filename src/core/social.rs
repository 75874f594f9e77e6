//! Friends and posts: the messenger dialect's social features.

use super::{Caller, Core, validate};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{Post, User, UserId};

impl Core {
    /// Add `username` to the caller's friends; the friend, and false if they already were one.
    pub async fn add_friend(&self, caller: &Caller, username: &str) -> Result<(User, bool)> {
        let friend = self.user_by_username(username).await?;
        if friend.id == caller.user {
            return Err(Error::invalid("you cannot add yourself as a friend"));
        }
        let (me, f) = (caller.user, friend.id);
        let added = self
            .db
            .writer()
            .submit(move |c| db::social::add_friend(c, me, f), |_| {})
            .await?;
        Ok((friend, added))
    }

    /// Remove `username` from the caller's friends; false if they were not one.
    pub async fn remove_friend(&self, caller: &Caller, username: &str) -> Result<(User, bool)> {
        let friend = self.user_by_username(username).await?;
        let (me, f) = (caller.user, friend.id);
        let removed = self
            .db
            .writer()
            .submit(move |c| db::social::remove_friend(c, me, f), |_| {})
            .await?;
        Ok((friend, removed))
    }

    pub async fn friends(&self, user: UserId) -> Result<Vec<User>> {
        self.db.read(move |c| db::social::friends(c, user)).await
    }

    pub async fn create_post(&self, caller: &Caller, title: &str, content: &str) -> Result<Post> {
        let title = title.trim().to_owned();
        if title.is_empty() {
            return Err(Error::invalid("title must not be empty"));
        }
        validate::text_field("title", &title, 200)?;
        validate::message(content, self.limits.max_message_bytes, false)?;
        let (me, content) = (caller.user, content.to_owned());
        self.db
            .writer()
            .submit(move |c| db::social::add_post(c, me, &title, &content), |_| {})
            .await
    }

    /// Posts by one user, or everyone's when `author` is `None`.
    pub async fn posts(&self, author: Option<UserId>) -> Result<Vec<Post>> {
        self.db.read(move |c| db::social::posts(c, author)).await
    }
}
