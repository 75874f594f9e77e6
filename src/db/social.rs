//! Friends and posts (the messenger dialect's social features).

use super::{Row, params};

use super::{SqlResult, Tx};

use crate::error::Result;
use crate::model::{Post, PostId, Timestamp, User, UserId};

/// Add `friend` to `user`'s friends; false if already there.
pub fn add_friend(c: &Tx<'_>, user: UserId, friend: UserId) -> Result<bool> {
    let n = c
        .prepare_cached(
            "INSERT INTO friends (\"user\", friend, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![user, friend, Timestamp::now()])?;
    Ok(n > 0)
}

/// Remove `friend` from `user`'s friends; false if not there.
pub fn remove_friend(c: &Tx<'_>, user: UserId, friend: UserId) -> Result<bool> {
    let n = c
        .prepare_cached("DELETE FROM friends WHERE \"user\" = ?1 AND friend = ?2")?
        .execute(params![user, friend])?;
    Ok(n > 0)
}

pub fn friends(c: &Tx<'_>, user: UserId) -> Result<Vec<User>> {
    let sql = concat!(
        "SELECT ",
        user_columns!(),
        " FROM friends fr JOIN users u ON u.number = fr.friend WHERE fr.user = ?1 ORDER BY u.number"
    );
    super::collect(c, sql, params![user], super::users::from_row)
}

fn post_from_row(r: &Row<'_>) -> SqlResult<Post> {
    Ok(Post {
        id: r.get(0)?,
        author: r.get(1)?,
        title: r.get(2)?,
        content: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn add_post(c: &Tx<'_>, author: UserId, title: &str, content: &str) -> Result<Post> {
    let now = Timestamp::now();
    let id: PostId = c
        .prepare_cached("INSERT INTO posts (author, title, content, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id")?
        .query_row(params![author, title, content, now], |r| r.get(0))?;
    Ok(Post {
        id,
        author,
        title: title.to_owned(),
        content: content.to_owned(),
        created_at: now,
    })
}

/// Posts by one author, or by everyone, oldest first.
pub fn posts(c: &Tx<'_>, author: Option<UserId>) -> Result<Vec<Post>> {
    super::collect(
        c,
        "SELECT id, author, title, content, created_at FROM posts
             WHERE CAST(?1 AS bigint) IS NULL OR author = ?1 ORDER BY id",
        params![author],
        post_from_row,
    )
}
