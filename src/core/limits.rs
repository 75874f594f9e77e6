//! In-memory counters: send rate per user, failed logins, recent activity.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::UserId;

/// A token bucket per user: `rate` a second, up to `burst` at once. A
/// refusal says, in `describe`'s words, how long to wait.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserId, (f64, Instant)>>,
    describe: Box<dyn Fn(Duration) -> String + Send + Sync>,
}

impl RateLimiter {
    /// `rate` 0 turns the limit off.
    pub fn new(rate: f64, burst: u32, describe: impl Fn(Duration) -> String + Send + Sync + 'static) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
            describe: Box::new(describe),
        }
    }

    pub fn check(&self, user: UserId) -> Result<()> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget full buckets so the map cannot grow without bound.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(user).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.rate);
            return Err(Error::RateLimited((self.describe)(wait)));
        }
        *tokens -= 1.0;
        Ok(())
    }
}

/// Messages a user may send: `rate` a second, bursts of `burst`.
pub struct SendLimiter(RateLimiter);

impl SendLimiter {
    pub fn new(rate: u32, burst: u32) -> Self {
        SendLimiter(RateLimiter::new(f64::from(rate), burst, move |wait| {
            format!(
                "too many messages: the limit is {rate} per second (bursts of {burst}); try again in {:.1} s",
                wait.as_secs_f64()
            )
        }))
    }

    pub fn check(&self, user: UserId) -> Result<()> {
        self.0.check(user)
    }
}

const LOGIN_WINDOW: Duration = Duration::from_secs(600);
const LOGIN_FAILURES: u32 = 10;

/// Failed logins per login name: after 10 failures in 10 minutes, further
/// attempts are refused until the window ends, so passwords cannot be
/// guessed at argon2's speed.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    fn key(login: &str) -> String {
        login.trim().to_lowercase()
    }

    pub fn check(&self, login: &str) -> Result<()> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, since)) = map.get(&Self::key(login))
            && *n >= LOGIN_FAILURES
        {
            let left = LOGIN_WINDOW.saturating_sub(since.elapsed());
            if !left.is_zero() {
                return Err(Error::RateLimited(format!(
                    "too many failed logins for this account; try again in {} minutes",
                    left.as_secs().div_ceil(60)
                )));
            }
        }
        Ok(())
    }

    pub fn failed(&self, login: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < LOGIN_WINDOW);
        }
        let entry = map.entry(Self::key(login)).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOGIN_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, login: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Self::key(login));
    }
}

/// When each user last did something (an authenticated request or socket
/// frame), and when that was last written to `users.last_seen_at`.
#[derive(Default)]
pub struct Activity {
    seen: Mutex<HashMap<UserId, (Instant, Instant)>>,
}

/// How often `last_seen_at` is written for a busy user.
pub const PERSIST_EVERY: Duration = Duration::from_secs(60);

impl Activity {
    /// Record activity; true if `last_seen_at` is due to be written.
    pub fn touch(&self, user: UserId) -> bool {
        let now = Instant::now();
        let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&user) {
            Some((last, persisted)) => {
                *last = now;
                if now.duration_since(*persisted) >= PERSIST_EVERY {
                    *persisted = now;
                    return true;
                }
                false
            }
            None => {
                map.insert(user, (now, now));
                true
            }
        }
    }

    pub fn active_within(&self, user: UserId, window: Duration) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user)
            .is_some_and(|(last, _)| last.elapsed() <= window)
    }
}
