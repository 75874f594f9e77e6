//! Joining and leaving the hub, with presence: a user is online while at
//! least one of their sockets is open, and the people who share a
//! conversation with them hear when that changes.
//!
//! Presence is sent in batches. A change waits up to `PRESENCE_BATCH` with
//! the others of that interval; then each user's state is read again and
//! announced only if it differs from the last one announced (a page
//! reload, closing and reopening the socket, announces nothing), with one
//! database read for the whole batch, one batch at a time. Rooms bigger
//! than `--presence-max-members` carry no presence: 10,000 people arriving
//! in one room would otherwise cost 10,000 × 10,000 frames (measured with
//! `natter-bench bigroom`, docs/PERFORMANCE.md).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::hub::{Event, EventKind, Scope, Subscription};
use super::{Caller, Core};
use crate::db;
use crate::model::{EventId, UserId};

/// How long a presence change waits for others to go out with.
const PRESENCE_BATCH: Duration = Duration::from_millis(100);
/// A batch whose contacts could not be read is tried again after this.
const PRESENCE_RETRY: Duration = Duration::from_secs(1);

/// Sockets waiting for the newest change id (`Core::live_from`), and
/// whether a read of it is under way.
#[derive(Default)]
pub(super) struct Newest {
    waiting: Vec<tokio::sync::oneshot::Sender<EventId>>,
    reading: bool,
}

/// Presence changes not yet announced, and what was.
#[derive(Default)]
pub(super) struct PresenceBatch {
    /// Users whose presence may have changed (with their uuid, if known).
    waiting: Mutex<HashMap<UserId, Option<uuid::Uuid>>>,
    /// Users whose contacts last heard them come online. Only the flush
    /// that holds this lock reads and writes it, so batches go out one
    /// after another, in order, and a state is announced only when it
    /// differs from the last one announced.
    announced_online: tokio::sync::Mutex<HashSet<UserId>>,
}

impl Core {
    /// Register a socket with the hub, unless the user already has
    /// `--sockets-per-user` open: then the newest (this one) is refused,
    /// with the reason to close it with.
    pub fn connect(self: &Arc<Self>, caller: &Caller, scope: Scope) -> Result<Subscription, String> {
        let max = self.guards.sockets_per_user as usize;
        let Some((sub, first)) = self.hub.subscribe_within(caller.user, caller.session, scope, max) else {
            self.metrics.rate_limited("sockets");
            return Err(format!(
                "too many sockets open for this user (the limit is {max}); close one first"
            ));
        };
        // The session may have ended while the socket was opening (after its
        // token was checked, before it was registered here, where a logout
        // would have closed it): sessions are marked ended before their
        // sockets are closed, so one of the two sees the other.
        if self.session_ended(caller.session) {
            // Unregistered on drop; never announced, so nothing to take back.
            drop(sub);
            return Err("session ended: log in again".into());
        }
        if first {
            self.came_and_went(caller.user, caller.uuid, true);
        }
        Ok(sub)
    }

    /// Unregister a socket.
    pub fn disconnect(self: &Arc<Self>, caller: &Caller, sub: Subscription) {
        if sub.leave() {
            self.came_and_went(caller.user, caller.uuid, false);
        }
    }

    /// The user's first socket on this node opened, or its last closed: the
    /// other nodes are told, and the user's contacts (if no other node has
    /// the user online: the batch reads who is online anywhere).
    fn came_and_went(self: &Arc<Self>, user: UserId, uuid: uuid::Uuid, online: bool) {
        if let Some(bus) = self.bus.get() {
            bus.presence(user, online);
        }
        self.announce(user, Some(uuid));
    }

    /// The newest change committed, for a socket about to open without a
    /// cursor: it skips live events up to it. A send is answered before its
    /// fan-out, and with a bus this node's follower may still be delivering
    /// changes committed before the socket opened: either way they are
    /// history to it, not news.
    ///
    /// Sockets opening at once share one read (10,000 people arriving in a
    /// room cost a read each otherwise, about a second in all: see
    /// docs/PERFORMANCE.md). Each waits for a read that begins after it
    /// asked, so after it joined the hub: a change committed between its
    /// join and the read is skipped, which is right (its 101 has not gone
    /// out yet), and one committed after the read reaches it.
    pub async fn live_from(self: &Arc<Self>) -> EventId {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start = {
            let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
            newest.waiting.push(tx);
            !std::mem::replace(&mut newest.reading, true)
        };
        if start {
            let core = self.clone();
            tokio::spawn(async move {
                loop {
                    let waiting = {
                        let mut newest = core.newest.lock().unwrap_or_else(|e| e.into_inner());
                        if newest.waiting.is_empty() {
                            newest.reading = false;
                            return;
                        }
                        std::mem::take(&mut newest.waiting)
                    };
                    let latest = core.db.read(db::changes::latest).await.unwrap_or(EventId(0));
                    for tx in waiting {
                        let _ = tx.send(latest);
                    }
                }
            });
        }
        rx.await.unwrap_or(EventId(0))
    }

    /// Another node changed whether `user` is online anywhere: tell the
    /// contacts with a socket on this node.
    pub(super) fn announce_by_id(self: &Arc<Self>, user: UserId) {
        self.announce(user, None);
    }

    /// `user`'s presence may have changed: looked at with the next batch.
    fn announce(self: &Arc<Self>, user: UserId, uuid: Option<uuid::Uuid>) {
        self.presence_waits(std::iter::once((user, uuid)), PRESENCE_BATCH);
    }

    /// Add `users` to the batch; the first to arrive schedules its flush.
    fn presence_waits(self: &Arc<Self>, users: impl Iterator<Item = (UserId, Option<uuid::Uuid>)>, after: Duration) {
        let mut waiting = self.presence.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let first = waiting.is_empty();
        for (user, uuid) in users {
            let known = waiting.entry(user).or_insert(uuid);
            *known = known.or(uuid);
        }
        let empty = waiting.is_empty();
        drop(waiting);
        if first && !empty {
            let core = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                core.announce_batch().await;
            });
        }
    }

    /// Tell the contacts with a socket here of each waiting user whose
    /// state is not the one last announced. One batch at a time.
    async fn announce_batch(self: &Arc<Self>) {
        let mut announced = self.presence.announced_online.lock().await;
        let waiting = std::mem::take(&mut *self.presence.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        let changed: Vec<(UserId, Option<uuid::Uuid>, bool)> = waiting
            .into_iter()
            .filter_map(|(user, uuid)| {
                let now = self.hub.is_online(user);
                (now != announced.contains(&user)).then_some((user, uuid, now))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        let max = self.presence_max_members;
        let users: Vec<(UserId, Option<uuid::Uuid>)> = changed.iter().map(|&(u, id, _)| (u, id)).collect();
        let found = self
            .db
            .read(move |c| {
                users
                    .into_iter()
                    .map(|(user, uuid)| {
                        let uuid = match uuid {
                            Some(uuid) => Some(uuid),
                            None => db::users::by_id(c, user)?.map(|u| u.uuid),
                        };
                        Ok((uuid, db::conversations::contacts(c, user, max)?))
                    })
                    .collect::<crate::error::Result<Vec<_>>>()
            })
            .await;
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                // Nothing was announced: they wait for the next try.
                tracing::warn!(error = %e, "presence lookup failed; trying again");
                self.presence_waits(changed.into_iter().map(|(u, id, _)| (u, id)), PRESENCE_RETRY);
                return;
            }
        };
        for ((user, _, online), (uuid, contacts)) in changed.into_iter().zip(found) {
            if online {
                announced.insert(user);
            } else {
                announced.remove(&user);
            }
            // Only contacts with a socket open can hear it.
            let listening = self.hub.online_of(&contacts);
            if let Some(uuid) = uuid
                && !listening.is_empty()
            {
                self.hub
                    .publish(Event::new(EventKind::Presence { user: uuid, online }), &listening);
            }
        }
    }
}
