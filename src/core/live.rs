//! Joining and leaving the hub, with presence: a user is online while at
//! least one of their sockets is open, and the people who share a
//! conversation with them hear when that changes.

use std::sync::Arc;

use super::hub::{Event, EventKind, Scope, Subscription};
use super::{Caller, Core};
use crate::db;
use crate::model::UserId;

impl Core {
    /// May `caller` open one more socket (`--sockets-per-user`)? The
    /// newest socket over the limit is the one refused.
    pub fn may_open_socket(&self, caller: &Caller) -> Result<(), String> {
        let max = self.guards.sockets_per_user as usize;
        if max > 0 && self.hub.sockets_of(caller.user) >= max {
            self.metrics.rate_limited("sockets");
            return Err(format!(
                "too many sockets open for this user (the limit is {max}); close one first"
            ));
        }
        Ok(())
    }

    /// Register a socket with the hub.
    pub fn connect(self: &Arc<Self>, caller: &Caller, scope: Scope) -> Subscription {
        let (sub, first) = self.hub.subscribe(caller.user, caller.session, scope);
        if first {
            self.announce(caller.user, caller.uuid, true);
        }
        sub
    }

    /// Unregister a socket.
    pub fn disconnect(self: &Arc<Self>, caller: &Caller, sub: Subscription) {
        if sub.leave() {
            self.announce(caller.user, caller.uuid, false);
        }
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
