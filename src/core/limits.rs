//! In-memory counters: send and upload rates per user, sign-ups and
//! password checks per client address, failed logins per account and
//! address, recent activity. Every map forgets idle entries so it cannot
//! grow without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::UserId;

/// Entries a map may hold before idle ones are swept out.
const SWEEP_AT: usize = 100_000;

/// A token bucket per key: `rate` a second, up to `burst` at once. A
/// refusal names what was refused (`describe`) and how long to wait.
pub struct RateLimiter<K = UserId> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
    describe: Box<dyn Fn() -> String + Send + Sync>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// `rate` 0 turns the limit off.
    pub fn new(rate: f64, burst: u32, describe: impl Fn() -> String + Send + Sync + 'static) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
            describe: Box::new(describe),
        }
    }

    pub fn check(&self, key: K) -> Result<()> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_AT {
            // Forget full buckets so the map cannot grow without bound.
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.rate);
            return Err(Error::rate_limited((self.describe)(), wait));
        }
        *tokens -= 1.0;
        Ok(())
    }
}

/// Messages a user may send: `rate` a second, bursts of `burst`.
pub struct SendLimiter(RateLimiter);

impl SendLimiter {
    pub fn new(rate: u32, burst: u32) -> Self {
        SendLimiter(RateLimiter::new(f64::from(rate), burst, move || {
            format!("too many messages: the limit is {rate} per second (bursts of {burst})")
        }))
    }

    pub fn check(&self, user: UserId) -> Result<()> {
        self.0.check(user)
    }
}

/// At most `max` events per key in each fixed `window` (sign-ups per
/// address per hour). `max` 0 turns it off.
pub struct WindowLimit<K> {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<K, (u32, Instant)>>,
    describe: Box<dyn Fn() -> String + Send + Sync>,
}

impl<K: Hash + Eq> WindowLimit<K> {
    pub fn new(max: u32, window: Duration, describe: impl Fn() -> String + Send + Sync + 'static) -> Self {
        WindowLimit {
            max,
            window,
            counts: Mutex::default(),
            describe: Box::new(describe),
        }
    }

    /// Refuse if the key used up its window, without counting.
    pub fn check(&self, key: &K) -> Result<()> {
        if self.max == 0 {
            return Ok(());
        }
        let map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((n, since)) if *n >= self.max && since.elapsed() < self.window => {
                Err(Error::rate_limited((self.describe)(), self.window - since.elapsed()))
            }
            _ => Ok(()),
        }
    }

    /// Count one event for the key.
    pub fn count(&self, key: K) {
        if self.max == 0 {
            return;
        }
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_AT {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// How long failed logins keep counting.
const LOGIN_WINDOW: Duration = Duration::from_secs(600);
/// The longest wait one (account, address) pair can be made to sit out.
const LOGIN_MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// Failed logins. Per account *and* address: after `free` failures each
/// further try must wait twice as long as the last (1 s, 2 s, 4 s, … up to
/// 15 minutes), so guessing is slow — but only from that address: the
/// owner elsewhere is never locked out. Per address: after `per_address`
/// failures in 10 minutes, that address may try no account until the
/// window ends (one address guessing many accounts).
pub struct LoginThrottle {
    free: u32,
    pairs: Mutex<HashMap<(String, IpAddr), (u32, Instant)>>,
    addresses: WindowLimit<IpAddr>,
}

impl LoginThrottle {
    pub fn new(free: u32, per_address: u32) -> Self {
        LoginThrottle {
            free,
            pairs: Mutex::default(),
            addresses: WindowLimit::new(per_address, LOGIN_WINDOW, move || {
                format!("too many failed logins from your address (the limit is {per_address} in 10 minutes)")
            }),
        }
    }

    fn key(login: &str, from: IpAddr) -> (String, IpAddr) {
        (login.trim().to_lowercase(), from)
    }

    pub fn check(&self, login: &str, from: IpAddr) -> Result<()> {
        self.addresses.check(&from)?;
        if self.free == 0 {
            return Ok(());
        }
        let map = self.pairs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, last)) = map.get(&Self::key(login, from))
            && *n >= self.free
        {
            let wait = Duration::from_secs(1 << (*n - self.free).min(10)).min(LOGIN_MAX_BACKOFF);
            let since = last.elapsed();
            if since < wait {
                return Err(Error::rate_limited(
                    "too many failed logins for this account from your address",
                    wait - since,
                ));
            }
        }
        Ok(())
    }

    pub fn failed(&self, login: &str, from: IpAddr) {
        self.addresses.count(from);
        let mut map = self.pairs.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_AT {
            map.retain(|_, (_, last)| last.elapsed() < LOGIN_WINDOW);
        }
        let entry = map.entry(Self::key(login, from)).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= LOGIN_WINDOW {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub fn succeeded(&self, login: &str, from: IpAddr) {
        self.pairs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Self::key(login, from));
    }
}

/// Work in progress per key, at most `max` at once (password hashes per
/// address); a permit is returned when its guard drops. `max` 0: no bound.
pub struct InFlight<K: Hash + Eq + Clone> {
    max: usize,
    counts: Arc<Mutex<HashMap<K, usize>>>,
    describe: Box<dyn Fn() -> String + Send + Sync>,
}

/// One unit of work in progress; dropping it ends it.
pub struct Permit<K: Hash + Eq + Clone> {
    key: Option<K>,
    counts: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> Drop for Permit<K> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&key);
                }
            }
        }
    }
}

impl<K: Hash + Eq + Clone> InFlight<K> {
    pub fn new(max: usize, describe: impl Fn() -> String + Send + Sync + 'static) -> Self {
        InFlight {
            max,
            counts: Arc::default(),
            describe: Box::new(describe),
        }
    }

    pub fn start(&self, key: K) -> Result<Permit<K>> {
        if self.max == 0 {
            return Ok(Permit {
                key: None,
                counts: self.counts.clone(),
            });
        }
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return Err(Error::rate_limited((self.describe)(), Duration::from_secs(1)));
        }
        *n += 1;
        Ok(Permit {
            key: Some(key),
            counts: self.counts.clone(),
        })
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
