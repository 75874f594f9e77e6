//! Accounts and sessions: argon2id passwords, HS256 access tokens, rotating
//! refresh tokens.
//!
//! Every token names its session. Logging out revokes the session, and the
//! revoked set is kept in memory so every request can be checked without
//! touching the database. Refresh tokens are stored as SHA-256 hashes and
//! are single-use: presenting one that was already used revokes the session,
//! because either the client or a thief holds a copy.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::{Core, validate};
use crate::config::Config;
use crate::db::{self, Db, sessions::RefreshLookup, users::NewUser};
use crate::error::{Error, Result};
use crate::model::{Timestamp, User, UserId};

/// Who is making a request: checked on every call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserId,
    pub uuid: Uuid,
    pub session: Uuid,
    /// When the token expires (Unix seconds): a socket closes then.
    pub expires: u64,
}

/// What a successful login hands out.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub user: User,
    pub session: Uuid,
    pub access: String,
    pub refresh: String,
    /// Seconds the access token is valid for.
    pub expires_in: u64,
}

#[derive(Debug, Clone)]
pub struct Registration {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: String,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub public_key: Option<String>,
    /// The invitation's code, when sign-up is by invitation.
    pub invite: Option<String>,
    /// The client's address (sign-ups and password hashes are limited per address).
    pub from: std::net::IpAddr,
}

impl Default for Registration {
    fn default() -> Self {
        Registration {
            username: None,
            email: None,
            password: String::new(),
            name: None,
            first_name: None,
            last_name: None,
            public_key: None,
            invite: None,
            from: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user's UUID.
    sub: String,
    /// The user's integer key.
    uid: i64,
    /// The session.
    sid: String,
    iat: u64,
    exp: u64,
}

pub(super) struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
    reuse_grace: Duration,
    revoked: RwLock<HashSet<Uuid>>,
    /// argon2 uses ~19 MiB per hash: bound how many run at once.
    hashing: Arc<Semaphore>,
    /// Cost of new hashes; existing hashes carry their own.
    params: argon2::Params,
    /// A real hash at that cost, checked when a login name is unknown so the
    /// answer takes as long as for a real account. Made on first use.
    dummy: Arc<OnceLock<String>>,
}

impl Keys {
    pub(super) async fn load(db: &Db, config: &Config) -> Result<Keys> {
        let secret = db.jwt_secret().await?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Tokens that could still be unexpired: cookie tokens live as long as a session.
        let since = Timestamp::now().0 - config.refresh_ttl.as_micros() as i64;
        let revoked = db
            .read(move |c| db::sessions::revoked_after(c, Timestamp(since)))
            .await?;
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        let params = argon2::Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
            .map_err(|e| Error::Internal(format!("bad argon2 parameters: {e}")))?;
        Ok(Keys {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            reuse_grace: config.refresh_reuse_grace,
            revoked: RwLock::new(revoked.into_iter().map(|(s, _)| s).collect()),
            hashing: Arc::new(Semaphore::new(permits)),
            params,
            dummy: Arc::default(),
        })
    }

    fn sign(&self, user: &User, session: &Uuid, ttl: Duration) -> Result<String> {
        let now = Timestamp::now().unix_secs() as u64;
        let claims = Claims {
            sub: user.uuid.to_string(),
            uid: user.id.0,
            sid: session.to_string(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(Error::internal)
    }

    fn is_revoked(&self, session: &Uuid) -> bool {
        self.revoked.read().unwrap_or_else(|e| e.into_inner()).contains(session)
    }

    /// True if it was not marked yet.
    fn mark_revoked(&self, session: Uuid) -> bool {
        self.revoked.write().unwrap_or_else(|e| e.into_inner()).insert(session)
    }

    /// Run argon2 off the runtime threads, a bounded number at a time.
    pub(super) fn params(&self) -> argon2::Params {
        self.params.clone()
    }

    pub(super) async fn hash_blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self.hashing.clone().acquire_owned().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(f).await.map_err(Error::internal)
    }
}

pub(super) fn hash(password: &str, params: &argon2::Params) -> Result<String> {
    Argon2::from(params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(Error::internal)
}

/// An argon2id hash of `password` at the cost `config` sets (for the
/// command line, which has no running core).
pub fn hash_password(password: &str, config: &Config) -> Result<String> {
    validate::password(password)?;
    let params = argon2::Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
        .map_err(|e| Error::Internal(format!("bad argon2 parameters: {e}")))?;
    hash(password, &params)
}

pub(super) fn verify(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

fn new_refresh_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

const BAD_CREDENTIALS: &str = "invalid username or password";

impl Core {
    /// Create an account and log it in.
    pub async fn register(&self, r: Registration) -> Result<Tokens> {
        let email = r
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        let username = match r.username.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => u.to_owned(),
            None => email
                .clone()
                .ok_or_else(|| Error::invalid("a username or an email is required"))?,
        };
        validate::username(&username)?;
        if let Some(e) = &email {
            validate::email(e)?;
        }
        validate::password(&r.password)?;
        for (field, value) in [
            ("name", &r.name),
            ("first_name", &r.first_name),
            ("last_name", &r.last_name),
        ] {
            if let Some(v) = value {
                validate::text_field(field, v, 200)?;
            }
        }
        if let Some(k) = &r.public_key {
            validate::text_field("public_key", k, 16 * 1024)?;
        }
        let from = r.from;
        self.signups
            .check(&from)
            .inspect_err(|_| self.metrics.rate_limited("signup"))?;
        // Refuse early what would be refused anyway, before the costly hash;
        // the write below decides for good (the first account may race).
        let people = self.db.read(db::admin::people).await?;
        super::admin::precheck(self.policy, people, r.invite.as_deref())?;
        let policy = self.policy;
        let password = r.password.clone();
        let params = self.auth.params.clone();
        let permit = self
            .hashes
            .start(from)
            .inspect_err(|_| self.metrics.rate_limited("hashes"))?;
        let hash = self.auth.hash_blocking(move || hash(&password, &params)).await??;
        drop(permit);
        // Counted when tried, not when it succeeds: a refused name costs a hash too.
        self.signups.count(from);
        let expires = Timestamp::now().plus_secs(self.auth.refresh_ttl.as_secs());
        let (refresh, refresh_hash) = new_refresh_token();
        let (user, session) = self
            .db
            .writer()
            .submit(
                move |c| {
                    let role = super::admin::admit(c, policy, r.invite.as_deref())?;
                    let user = db::users::insert(
                        c,
                        &NewUser {
                            username: &username,
                            email: email.as_deref(),
                            password_hash: &hash,
                            name: r.name.as_deref().unwrap_or(""),
                            first_name: r.first_name.as_deref().unwrap_or(""),
                            last_name: r.last_name.as_deref().unwrap_or(""),
                            public_key: r.public_key.as_deref(),
                        },
                    )?;
                    let user = if role == crate::model::Role::Admin {
                        db::admin::set_role(c, user.id, role)?;
                        db::users::by_id(c, user.id)?.ok_or_else(|| Error::internal("new user vanished"))?
                    } else {
                        user
                    };
                    let session = db::sessions::create(c, user.id, expires)?;
                    db::sessions::add_refresh_token(c, &session, &refresh_hash)?;
                    Ok((user, session))
                },
                |_| {},
            )
            .await?;
        self.issue(user, session, refresh)
    }

    fn issue(&self, user: User, session: Uuid, refresh: String) -> Result<Tokens> {
        let access = self.auth.sign(&user, &session, self.auth.access_ttl)?;
        Ok(Tokens {
            user,
            session,
            access,
            refresh,
            expires_in: self.auth.access_ttl.as_secs(),
        })
    }

    /// Check a username (or email) and password and open a session.
    pub async fn login(&self, login: &str, password: &str, from: std::net::IpAddr) -> Result<Tokens> {
        let login = login.trim().to_owned();
        if login.is_empty() || password.is_empty() {
            return Err(Error::invalid("username and password are required"));
        }
        self.logins
            .check(&login, from)
            .inspect_err(|_| self.metrics.rate_limited("login"))?;
        let _permit = self
            .hashes
            .start(from)
            .inspect_err(|_| self.metrics.rate_limited("hashes"))?;
        let found = {
            let login = login.clone();
            self.db.read(move |c| db::users::credentials(c, &login)).await?
        };
        let password = password.to_owned();
        // Bots and imported accounts (no usable hash) are checked like an
        // unknown name: same answer, same time.
        let (user, ok) = match found.filter(|(user, hash)| !user.is_bot && hash.starts_with('$')) {
            Some((user, hash)) => {
                let ok = self.auth.hash_blocking(move || verify(&password, &hash)).await?;
                (Some(user), ok)
            }
            None => {
                let (dummy, params) = (self.auth.dummy.clone(), self.auth.params());
                self.auth
                    .hash_blocking(move || {
                        let hash = dummy.get_or_init(|| hash("natter-dummy-password", &params).unwrap_or_default());
                        verify(&password, hash)
                    })
                    .await?;
                (None, false)
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            self.metrics.auth_refused("bad_password");
            self.logins.failed(&login, from);
            return Err(Error::Unauthorized(BAD_CREDENTIALS.into()));
        };
        self.logins.succeeded(&login, from);
        if user.deactivated_at.is_some() {
            // Said only to whoever knows the password.
            self.metrics.auth_refused("deactivated");
            return Err(Error::forbidden("this account has been deactivated; ask an admin"));
        }
        self.touch(user.id);
        let expires = Timestamp::now().plus_secs(self.auth.refresh_ttl.as_secs());
        let (refresh, refresh_hash) = new_refresh_token();
        let user_id = user.id;
        let session = self
            .db
            .writer()
            .submit(
                move |c| {
                    let session = db::sessions::create(c, user_id, expires)?;
                    db::sessions::add_refresh_token(c, &session, &refresh_hash)?;
                    Ok(session)
                },
                |_| {},
            )
            .await?;
        self.issue(user, session, refresh)
    }

    /// Trade a refresh token for a new pair. A token that was already used
    /// revokes its whole session.
    pub async fn refresh(&self, token: &str) -> Result<Tokens> {
        let hash = Sha256::digest(token.trim().as_bytes()).to_vec();
        let (next, next_hash) = new_refresh_token();
        let grace = self.auth.reuse_grace;
        let outcome = self
            .db
            .writer()
            .submit(
                move |c| {
                    let found = db::sessions::take_refresh_token(c, &hash, Timestamp::now(), grace)?;
                    match &found {
                        RefreshLookup::Fresh { session, user } => {
                            db::sessions::add_refresh_token(c, session, &next_hash)?;
                            let user = db::users::by_id(c, *user)?.ok_or_else(|| Error::not_found("user"))?;
                            Ok((found, Some(user)))
                        }
                        RefreshLookup::Reused {
                            session,
                            recently: false,
                        } => {
                            db::sessions::revoke(c, session)?;
                            Ok((found, None))
                        }
                        _ => Ok((found, None)),
                    }
                },
                |_| {},
            )
            .await?;
        match outcome {
            (RefreshLookup::Fresh { session, .. }, Some(user)) => self.issue(user, session, next),
            (RefreshLookup::Reused { recently: true, .. }, _) => Err(Error::Conflict(
                "this refresh token was used a moment ago by another request; use the tokens that request received"
                    .into(),
            )),
            (RefreshLookup::Reused { session, .. }, _) => {
                self.end_sessions(None, &[session]);
                tracing::warn!(%session, "refresh token reused; session revoked");
                Err(Error::Unauthorized(
                    "refresh token was already used; the session has been revoked, log in again".into(),
                ))
            }
            (RefreshLookup::Dead, _) => Err(Error::Unauthorized("session has ended; log in again".into())),
            _ => Err(Error::Unauthorized("invalid refresh token".into())),
        }
    }

    /// End the caller's session: its tokens stop working from the next
    /// request, and its open sockets close now.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        let session = caller.session;
        self.end_sessions(Some(caller.user), &[session]);
        self.db
            .writer()
            .submit(move |c| db::sessions::revoke(c, &session), |_| {})
            .await?;
        Ok(())
    }

    /// Refuse these sessions' tokens from now on and close their sockets,
    /// on every node.
    pub(super) fn end_sessions(&self, user: Option<UserId>, sessions: &[Uuid]) {
        self.end_sessions_here(user, sessions);
        if let Some(bus) = self.bus.get() {
            bus.sessions_ended(user, sessions);
        }
    }

    /// Has `session` ended (logged out or revoked)?
    pub(super) fn session_ended(&self, session: Uuid) -> bool {
        self.auth.is_revoked(&session)
    }

    /// `end_sessions` on this node only (another node's bus message).
    pub(super) fn end_sessions_here(&self, user: Option<UserId>, sessions: &[Uuid]) {
        for s in sessions {
            self.auth.mark_revoked(*s);
            self.hub.close_session(user, *s);
        }
    }

    /// Sessions ended after `since` that this node has not heard of (the
    /// bus message was missed, or `natter admin` ended them): refused and
    /// closed now. The newest end read, to ask from next time.
    pub(super) async fn refresh_revoked(&self, since: Timestamp) -> Result<Timestamp> {
        let ended = self.db.read(move |c| db::sessions::revoked_after(c, since)).await?;
        let newest = ended.iter().map(|(_, at)| *at).max().unwrap_or(since);
        for (s, _) in ended {
            if self.auth.mark_revoked(s) {
                self.hub.close_session(None, s);
            }
        }
        Ok(newest)
    }

    /// A token that lasts as long as the session, for the session cookie.
    pub fn session_token(&self, tokens: &Tokens) -> Result<String> {
        self.auth.sign(&tokens.user, &tokens.session, self.auth.refresh_ttl)
    }

    pub fn session_ttl(&self) -> Duration {
        self.auth.refresh_ttl
    }

    /// Check a token (from a header, a query or a cookie) and say who it is.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        self.authenticate_why(token).await.map_err(|(e, _)| e)
    }

    /// `authenticate`, with a refusal's reason for the metrics
    /// (`expired`, `invalid`, `revoked`).
    pub async fn authenticate_why(&self, token: &str) -> std::result::Result<Caller, (Error, &'static str)> {
        let invalid = || (Error::Unauthorized("invalid token".into()), "invalid");
        let data =
            jsonwebtoken::decode::<Claims>(token.trim(), &self.auth.decoding, &self.auth.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => (
                        Error::Unauthorized("token has expired; refresh it or log in again".into()),
                        "expired",
                    ),
                    _ => invalid(),
                }
            })?;
        let claims = data.claims;
        let (Ok(uuid), Ok(session)) = (Uuid::parse_str(&claims.sub), Uuid::parse_str(&claims.sid)) else {
            return Err(invalid());
        };
        if self.auth.is_revoked(&session) {
            return Err((
                Error::Unauthorized("session has been logged out; log in again".into()),
                "revoked",
            ));
        }
        // A token names its user twice (`sub`, the UUID the dialects show,
        // and `uid`, the number every check uses). natter signs both from one
        // row; a token where they disagree was not made by natter's own
        // hand, and honouring either half would act as someone it does not
        // say.
        let user = UserId(claims.uid);
        if self.user_uuid(user).await.map_err(|_| invalid())? != Some(uuid) {
            return Err(invalid());
        }
        let caller = Caller {
            user,
            uuid,
            session,
            expires: claims.exp,
        };
        self.touch(caller.user);
        Ok(caller)
    }

    /// The UUID of user `id` (`None`: no such user), from memory after the
    /// first look-up.
    async fn user_uuid(&self, id: UserId) -> Result<Option<Uuid>> {
        if let Some(uuid) = self.cache.user_uuid(id) {
            return Ok(Some(uuid));
        }
        let found = self.db.read(move |c| db::users::by_id(c, id)).await?;
        if let Some(u) = &found {
            self.cache.remember_user_uuid(u.id, u.uuid);
        }
        Ok(found.map(|u| u.uuid))
    }
}
