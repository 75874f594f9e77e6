//! Users: accounts, profiles, lookups.

use super::{Optional, Row, params};

use super::{SqlResult, Tx};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{Timestamp, User, UserBrief, UserId};

pub(crate) fn parse_uuid(text: &str) -> SqlResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| super::SqlError::Decode(format!("not a UUID: {e}")))
}

pub(crate) fn from_row(r: &Row<'_>) -> SqlResult<User> {
    Ok(User {
        id: r.get(0)?,
        uuid: parse_uuid(&r.get::<_, String>(1)?)?,
        username: r.get(2)?,
        email: r.get(3)?,
        name: r.get(4)?,
        first_name: r.get(5)?,
        last_name: r.get(6)?,
        bio: r.get(7)?,
        profile_picture: r.get(8)?,
        public_key: r.get(9)?,
        ready_to_chat: r.get(10)?,
        created_at: r.get(11)?,
        last_seen_at: r.get(12)?,
        is_bot: r.get(13)?,
        role: r.get(14)?,
        deactivated_at: r.get(15)?,
    })
}

/// How many columns `user_columns!()` and `brief_columns!()` select.
pub(crate) const USER_COLUMNS: usize = 16;
pub(crate) const BRIEF_COLUMNS: usize = 9;

/// Read a `UserBrief` from `brief_columns!()` starting at column `at`.
pub(crate) fn brief_from_row(r: &Row<'_>, at: usize) -> SqlResult<UserBrief> {
    Ok(UserBrief {
        id: r.get(at)?,
        uuid: parse_uuid(&r.get::<_, String>(at + 1)?)?,
        username: r.get(at + 2)?,
        email: r.get(at + 3)?,
        name: r.get(at + 4)?,
        first_name: r.get(at + 5)?,
        last_name: r.get(at + 6)?,
        profile_picture: r.get(at + 7)?,
        is_bot: r.get(at + 8)?,
    })
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub name: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub public_key: Option<&'a str>,
}

/// The key a username or email is looked up and kept unique by.
pub fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Who has the username whose `key` this is, if anyone.
pub fn number_by_username_key(c: &Tx<'_>, key: &str) -> Result<Option<UserId>> {
    Ok(c.prepare_cached("SELECT number FROM users WHERE username_key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?)
}

/// Who holds `key` as a username or an email, if anyone.
fn holder(c: &Tx<'_>, key: &str) -> Result<Option<UserId>> {
    Ok(
        c.prepare_cached("SELECT number FROM users WHERE username_key = ?1 OR email_key = ?1")?
            .query_row(params![key], |r| r.get(0))
            .optional()?,
    )
}

pub fn insert(c: &Tx<'_>, new: &NewUser<'_>) -> Result<User> {
    // A username must not be anyone's email and an email not anyone's
    // username, or one user could take over another's login name.
    if holder(c, &key(new.username))?.is_some() {
        return Err(Error::Conflict(format!("username `{}` is already taken", new.username)));
    }
    if let Some(email) = new.email
        && email != new.username
        && holder(c, &key(email))?.is_some()
    {
        return Err(Error::Conflict(format!("email `{email}` is already registered")));
    }
    let uuid = Uuid::new_v4();
    let now = Timestamp::now();
    let number: UserId = c
        .prepare_cached(
            "INSERT INTO users (id, username, email, password_hash, name, first_name, last_name, public_key, created_at,
                                username_key, email_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING number",
        )?
        .query_row(
            params![
        uuid.to_string(),
        new.username,
        new.email,
        new.password_hash,
        new.name,
        new.first_name,
        new.last_name,
        new.public_key,
        now,
        key(new.username),
        new.email.map(key),
            ],
            |r| r.get(0),
        )?;
    by_id(c, number)?.ok_or_else(|| Error::internal("inserted user vanished"))
}

fn one(c: &Tx<'_>, sql: &str, arg: &dyn super::Value) -> Result<Option<User>> {
    Ok(c.prepare_cached(sql)?.query_row(&[arg], from_row).optional()?)
}

pub fn by_id(c: &Tx<'_>, id: UserId) -> Result<Option<User>> {
    one(
        c,
        concat!("SELECT ", user_columns!(), " FROM users u WHERE u.number = ?1"),
        &id,
    )
}

pub fn by_uuid(c: &Tx<'_>, id: &Uuid) -> Result<Option<User>> {
    one(
        c,
        concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = ?1"),
        &id.to_string(),
    )
}

pub fn by_username(c: &Tx<'_>, username: &str) -> Result<Option<User>> {
    one(
        c,
        concat!("SELECT ", user_columns!(), " FROM users u WHERE u.username = ?1"),
        &username,
    )
}

/// The user and stored hash for a login name (username, or else email).
pub fn credentials(c: &Tx<'_>, login: &str) -> Result<Option<(User, String)>> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        ", u.password_hash FROM users u WHERE u.username_key = ?1 OR u.email_key = ?1"
    );
    Ok(c.prepare_cached(sql)?
        .query_row(params![key(login)], |r| Ok((from_row(r)?, r.get(USER_COLUMNS)?)))
        .optional()?)
}

pub fn password_hash(c: &Tx<'_>, id: UserId) -> Result<String> {
    Ok(c.prepare_cached("SELECT password_hash FROM users WHERE number = ?1")?
        .query_row(params![id], |r| r.get(0))?)
}

/// Users by username or name, or all when `q` is empty, in username order.
pub fn search(c: &Tx<'_>, q: Option<&str>, limit: i64) -> Result<Vec<User>> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u
         WHERE CAST(?1 AS text) IS NULL OR u.username LIKE ?1 ESCAPE '\\'
            OR lower(u.name) LIKE lower(?1) ESCAPE '\\'
            OR lower(u.first_name || ' ' || u.last_name) LIKE lower(?1) ESCAPE '\\'
         ORDER BY u.username LIMIT ?2"
    );
    let pattern = q.map(super::like_pattern);
    super::collect(c, sql, params![pattern, limit], from_row)
}

/// Every user, in number order (the dialects that list all users).
pub fn all(c: &Tx<'_>) -> Result<Vec<User>> {
    super::collect(
        c,
        concat!("SELECT ", user_columns!(), " FROM users u ORDER BY u.number"),
        params![],
        from_row,
    )
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserPatch {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `Some(None)` clears the email.
    pub email: Option<Option<String>>,
    pub bio: Option<String>,
    pub profile_picture: Option<String>,
    /// `Some(None)` clears the key.
    pub public_key: Option<Option<String>>,
    pub ready_to_chat: Option<bool>,
    pub password_hash: Option<String>,
}

pub fn update(c: &Tx<'_>, id: UserId, p: &UserPatch) -> Result<User> {
    if let Some(Some(email)) = &p.email
        && let Some(other) = holder(c, &key(email))?
        && other != id
    {
        return Err(Error::Conflict(format!("email `{email}` is already registered")));
    }
    c.prepare_cached(
        "UPDATE users SET
            name = COALESCE(?2, name),
            first_name = COALESCE(?3, first_name),
            last_name = COALESCE(?4, last_name),
            email = CASE WHEN ?5 THEN ?6 ELSE email END,
            email_key = CASE WHEN ?5 THEN ?13 ELSE email_key END,
            bio = COALESCE(?7, bio),
            profile_picture = COALESCE(?8, profile_picture),
            public_key = CASE WHEN ?9 THEN ?10 ELSE public_key END,
            ready_to_chat = COALESCE(?11, ready_to_chat),
            password_hash = COALESCE(?12, password_hash)
         WHERE number = ?1",
    )?
    .execute(params![
        id,
        p.name,
        p.first_name,
        p.last_name,
        p.email.is_some(),
        p.email.clone().flatten(),
        p.bio,
        p.profile_picture,
        p.public_key.is_some(),
        p.public_key.clone().flatten(),
        p.ready_to_chat,
        p.password_hash,
        p.email.clone().flatten().as_deref().map(key),
    ])?;
    by_id(c, id)?.ok_or_else(|| Error::not_found("user"))
}

pub fn touch_last_seen(c: &Tx<'_>, id: UserId, at: Timestamp) -> Result<()> {
    c.prepare_cached("UPDATE users SET last_seen_at = ?2 WHERE number = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// Users who are ready to chat and have a public key, with that key.
pub fn ready_with_keys(c: &Tx<'_>) -> Result<Vec<(UserId, String)>> {
    super::collect(
        c,
        "SELECT number, public_key FROM users
             WHERE ready_to_chat AND public_key IS NOT NULL ORDER BY number",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The agent's account `username`, created on first start and renamed to
/// `name` when that changes. It has no password (`!` matches no hash) and is
/// marked a bot, so it can never log in. A person holding the username is
/// an error: the operator must pick another.
pub fn ensure_bot(c: &Tx<'_>, username: &str, name: &str) -> Result<User> {
    let id = match holder(c, &key(username))? {
        Some(id) => {
            let is_bot: bool = c
                .prepare_cached("SELECT is_bot FROM users WHERE number = ?1")?
                .query_row(params![id], |r| r.get(0))?;
            if !is_bot {
                return Err(Error::Conflict(format!(
                    "the AI agent's username `{username}` belongs to a person; choose another with --ai-username"
                )));
            }
            c.prepare_cached("UPDATE users SET name = ?2 WHERE number = ?1 AND name != ?2")?
                .execute(params![id, name])?;
            id
        }
        None => {
            let user = insert(
                c,
                &NewUser {
                    username,
                    email: None,
                    password_hash: "!",
                    name,
                    first_name: "",
                    last_name: "",
                    public_key: None,
                },
            )?;
            c.prepare_cached("UPDATE users SET is_bot = TRUE WHERE number = ?1")?
                .execute(params![user.id])?;
            user.id
        }
    };
    by_id(c, id)?.ok_or_else(|| Error::internal("the agent's account vanished"))
}
