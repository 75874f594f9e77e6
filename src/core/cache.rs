//! What the writer looks up for every message, kept in memory: each
//! conversation row by UUID (never changes once created) and each
//! conversation's member list; and, for every request, which UUID belongs
//! to a user number (never changes either).
//!
//! The member cache is used and kept only inside writer jobs. Every job that
//! changes membership (join, leave) or a user's public profile forgets the
//! affected entries in the same job, so the cache always matches what the
//! writer's own connection sees — even before the batch commits.
//!
//! With a bus, other nodes change membership too, and this node hears of it
//! only after their commit: member lists are then read in every job (the
//! send's own transaction sees every membership committed before it), and
//! the follower forgets a room's row when another node changes the room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::db::Tx;
use uuid::Uuid;

use crate::db;
use crate::error::{Error, Result};
use crate::model::{Conversation, ConversationId, UserBrief, UserId};

/// Entries kept before the cache starts over (bounds its memory).
const MAX_ENTRIES: usize = 50_000;

/// A conversation's members, shared by every message sent to it.
pub type Members = Arc<[Arc<UserBrief>]>;

#[derive(Default)]
pub struct Cache {
    conversations: Mutex<HashMap<Uuid, Arc<Conversation>>>,
    members: Mutex<HashMap<ConversationId, Members>>,
    user_uuids: Mutex<HashMap<UserId, Uuid>>,
    /// Other nodes write to the database too (`--bus`): members are not kept.
    shared: AtomicBool,
}

impl Cache {
    /// A conversation by UUID (any thread: rows never change).
    pub fn conversation(&self, c: &Tx<'_>, id: &Uuid) -> Result<Arc<Conversation>> {
        if let Some(conv) = self.conversations.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(conv.clone());
        }
        let conv = Arc::new(db::conversations::by_uuid(c, id)?.ok_or_else(|| Error::not_found("conversation"))?);
        let mut map = self.conversations.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(*id, conv.clone());
        Ok(conv)
    }

    /// The UUID of user `id`, if it has been looked up before.
    pub fn user_uuid(&self, id: UserId) -> Option<Uuid> {
        self.user_uuids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }

    /// Remember the UUID of user `id` (any thread: it never changes).
    pub fn remember_user_uuid(&self, id: UserId, uuid: Uuid) {
        let mut map = self.user_uuids.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(id, uuid);
    }

    /// Other nodes share the database from now on.
    pub fn share(&self) {
        self.shared.store(true, Ordering::Release);
        self.members.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The members of `conv`, in user-number order. Writer jobs only.
    pub fn members(&self, c: &Tx<'_>, conv: ConversationId) -> Result<Members> {
        if self.shared.load(Ordering::Acquire) {
            return Ok(db::conversations::members(c, conv)?.into_iter().map(Arc::new).collect());
        }
        if let Some(m) = self.members.lock().unwrap_or_else(|e| e.into_inner()).get(&conv) {
            return Ok(m.clone());
        }
        let members: Members = db::conversations::members(c, conv)?.into_iter().map(Arc::new).collect();
        let mut map = self.members.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(conv, members.clone());
        Ok(members)
    }

    /// Membership of `conv` changed (in the current writer job).
    pub fn forget_members(&self, conv: ConversationId) {
        self.members.lock().unwrap_or_else(|e| e.into_inner()).remove(&conv);
    }

    /// A conversation was renamed or deleted.
    pub fn forget_conversation(&self, id: &Uuid) {
        self.conversations.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// A user's public profile changed: every member list may hold it.
    pub fn forget_all_members(&self) {
        self.members.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
