//! Joining and leaving the hub, with presence: a user is online while at
//! least one of their sockets is open, and the people who share a
//! conversation with them hear when that changes.

use std::sync::Arc;

use super::hub::{Event, EventKind, Scope, Subscription};
use super::{Caller, Core};
use crate::db;
use crate::model::UserId;

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
    /// other nodes are told, and the user's contacts if no other node has
    /// the user online.
    fn came_and_went(self: &Arc<Self>, user: UserId, uuid: uuid::Uuid, online: bool) {
        if let Some(bus) = self.bus.get() {
            bus.presence(user, online);
            if self.hub.online_elsewhere(user) {
                return;
            }
        }
        self.announce(user, uuid, online);
    }

    /// The newest change committed, for a socket about to open without a
    /// cursor: it skips live events up to it (with a bus, this node's
    /// follower may still be delivering changes committed before it
    /// opened). 0 without a bus: one node delivers at commit, so nothing
    /// older can reach a new socket.
    pub async fn live_from(&self) -> crate::model::EventId {
        if self.bus.get().is_none() {
            return crate::model::EventId(0);
        }
        self.db
            .read(db::changes::latest)
            .await
            .unwrap_or(crate::model::EventId(0))
    }

    /// Another node changed whether `user` is online anywhere: tell the
    /// contacts with a socket on this node.
    pub(super) fn announce_by_id(self: &Arc<Self>, user: UserId, online: bool) {
        let core = self.clone();
        tokio::spawn(async move {
            match core.db.read(move |c| db::users::by_id(c, user)).await {
                Ok(Some(u)) => core.announce(user, u.uuid, online),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "presence lookup failed"),
            }
        });
    }

    fn announce(self: &Arc<Self>, user: UserId, uuid: uuid::Uuid, online: bool) {
        let core = self.clone();
        tokio::spawn(async move {
            match core.db.read(move |c| db::conversations::contacts(c, user)).await {
                Ok(contacts) => {
                    // Only contacts with a socket open can hear it.
                    let listening = core.hub.online_of(&contacts);
                    if !listening.is_empty() {
                        core.hub
                            .publish(Event::new(EventKind::Presence { user: uuid, online }), &listening);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "presence lookup failed"),
            }
        });
    }
}
