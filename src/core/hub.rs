//! The hub: an in-process registry of live sockets.
//!
//! Each socket registers under its user with a scope (all of the user's
//! conversations, or one) and gets a bounded queue. The core publishes an
//! event after its write is committed, naming the users it is for; the hub
//! puts one shared `Arc<Event>` on every matching queue. A queue that is full
//! belongs to a consumer that cannot keep up: it is cut off (its socket
//! drains what is queued and closes, and the client resumes with `?since=`),
//! so no slow reader ever holds anyone else back.
//!
//! Frames are encoded lazily, once per event per wire format, and the bytes
//! are shared by every socket that sends them.
//!
//! With a bus (`--bus postgres`, several nodes on one database) the hub
//! also keeps events in the change log's order: a logged event this node
//! published goes out once every change before it has (other nodes' read
//! back from the log by the bus); events that are not logged (typing, an
//! agent's deltas) are handed to the bus for the other nodes; and which
//! users are online counts every node's sockets. Without a bus none of
//! this runs and `publish` delivers at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use crate::model::{Conversation, ConversationId, EventId, Message, MessageId, NotifyLevel, UserBrief, UserId};

/// A socket's id, unique for the life of the process.
pub type ConnId = u64;

/// How many wire formats may cache an encoding on one event.
pub const FRAME_SLOTS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every conversation of the user (user sockets).
    All,
    /// One conversation (room and conversation sockets).
    Conversation(ConversationId),
}

// Each event is allocated once, in an `Arc` shared by every recipient, so
// the gap between variant sizes costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum EventKind {
    Message {
        message: Arc<Message>,
        conversation: Arc<Conversation>,
        /// Direct conversations: the member who is not the sender.
        receiver: Option<Arc<UserBrief>>,
        client_id: Option<String>,
        /// The socket the message was sent on, if any.
        origin: Option<ConnId>,
        /// An agent's reply: the id its `MessageDelta`s went out under.
        reply_id: Option<Uuid>,
    },
    MessageUpdated {
        message: Arc<Message>,
    },
    MessageDeleted {
        message: Arc<Message>,
    },
    Typing {
        conversation: Arc<Conversation>,
        user: UserBrief,
    },
    Read {
        conversation: Arc<Conversation>,
        user: UserBrief,
        upto: MessageId,
    },
    Presence {
        user: Uuid,
        online: bool,
    },
    /// An agent's reply as it is written (before it is stored).
    MessageDelta {
        conversation: Arc<Conversation>,
        reply_id: Uuid,
        agent: Arc<UserBrief>,
        state: DeltaState,
        /// The reply so far.
        text: String,
        /// What this event added to it.
        delta: String,
    },
    /// A room was created, joined, left, renamed or deleted.
    Room {
        conversation: Arc<Conversation>,
        change: RoomChange,
        member_count: i64,
        /// Who joined or left.
        user: Option<Arc<UserBrief>>,
    },
    /// A reaction added to a message, or taken back.
    Reaction {
        message: Arc<Message>,
        user: Arc<UserBrief>,
        emoji: String,
        added: bool,
    },
    /// A member changed what they want to hear of a conversation (sent to
    /// their own sockets only).
    Notify {
        conversation: Arc<Conversation>,
        level: NotifyLevel,
    },
    /// The agent could not answer (the stored notice follows as a message).
    AgentFailed {
        conversation: Arc<Conversation>,
        reply_id: Uuid,
        code: &'static str,
        message: String,
    },
}

/// What happened to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomChange {
    Created,
    Joined,
    Left,
    Renamed,
    Deleted,
}

impl RoomChange {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomChange::Created => "created",
            RoomChange::Joined => "joined",
            RoomChange::Left => "left",
            RoomChange::Renamed => "renamed",
            RoomChange::Deleted => "deleted",
        }
    }
}

/// Where an agent's reply stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaState {
    /// Asked; nothing has come back yet.
    Thinking,
    /// Text is arriving.
    Streaming,
}

impl DeltaState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeltaState::Thinking => "thinking",
            DeltaState::Streaming => "streaming",
        }
    }
}

#[derive(Debug)]
pub struct Event {
    pub kind: EventKind,
    /// Its change in the change log (a message: its id), if it is one: a
    /// socket that replayed up to here skips it. Typing, presence and an
    /// agent's deltas are not logged.
    pub change: Option<EventId>,
    frames: [OnceLock<Option<Arc<Encoded>>>; FRAME_SLOTS],
    /// When what caused it was accepted (a send: before its commit).
    pub accepted: Instant,
    /// Set by the first socket that writes it (latency is measured once).
    pub delivered: AtomicBool,
}

impl Event {
    pub fn new(kind: EventKind) -> Arc<Event> {
        Self::accepted_at(kind, Instant::now())
    }

    /// An event for something accepted at `accepted`.
    pub fn accepted_at(kind: EventKind, accepted: Instant) -> Arc<Event> {
        let change = match &kind {
            EventKind::Message { message, .. } => Some(EventId(message.id.0)),
            _ => None,
        };
        Arc::new(Event {
            kind,
            change,
            frames: Default::default(),
            accepted,
            delivered: AtomicBool::new(false),
        })
    }

    /// An event for the change `change` of the log.
    pub fn recorded(kind: EventKind, change: Option<EventId>) -> Arc<Event> {
        Arc::new(Event {
            kind,
            change,
            frames: Default::default(),
            accepted: Instant::now(),
            delivered: AtomicBool::new(false),
        })
    }

    /// The conversation the event belongs to, if any (for scoped sockets).
    pub fn conversation(&self) -> Option<ConversationId> {
        match &self.kind {
            EventKind::Message { message, .. }
            | EventKind::MessageUpdated { message }
            | EventKind::MessageDeleted { message }
            | EventKind::Reaction { message, .. } => Some(message.conversation),
            EventKind::Typing { conversation, .. }
            | EventKind::Read { conversation, .. }
            | EventKind::MessageDelta { conversation, .. }
            | EventKind::Room { conversation, .. }
            | EventKind::Notify { conversation, .. }
            | EventKind::AgentFailed { conversation, .. } => Some(conversation.id),
            EventKind::Presence { .. } => None,
        }
    }

    /// This event's frame in the format of `slot`, encoded by the first
    /// socket that asks and shared by the rest. `None`: not shown in that format.
    pub fn frame(&self, slot: usize, encode: impl FnOnce(&Event) -> Option<String>) -> Option<Arc<Encoded>> {
        self.frames[slot]
            .get_or_init(|| {
                encode(self).map(|text| {
                    Arc::new(Encoded {
                        text: Utf8Bytes::from(text),
                        compressed: OnceLock::new(),
                    })
                })
            })
            .clone()
    }
}

/// An event's frame in one wire format, shared by every socket that sends it.
#[derive(Debug)]
pub struct Encoded {
    pub text: Utf8Bytes,
    /// The text compressed for sockets that agreed to compression, by the
    /// first such socket; `None` when it is sent as it is.
    compressed: OnceLock<Option<Bytes>>,
}

impl Encoded {
    /// The text compressed by `compress`, once for all sockets.
    pub fn compressed(&self, compress: impl FnOnce(&[u8]) -> Option<Bytes>) -> Option<&Bytes> {
        self.compressed.get_or_init(|| compress(self.text.as_bytes())).as_ref()
    }
}

/// A frame a socket is about to send: shared with other sockets (and
/// compressed once for all of them), or its own.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Shared(Arc<Encoded>),
    Own(Utf8Bytes),
}

impl From<Utf8Bytes> for Outgoing {
    fn from(t: Utf8Bytes) -> Self {
        Outgoing::Own(t)
    }
}

struct Conn {
    id: ConnId,
    scope: Scope,
    session: Uuid,
    tx: mpsc::Sender<Arc<Event>>,
    ended: Arc<AtomicU8>,
}

/// Why the hub let go of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its queue filled up: the client reads too slowly.
    TooSlow,
    /// Its session was logged out or revoked.
    SessionEnded,
}

const LIVE: u8 = 0;
const TOO_SLOW: u8 = 1;
const SESSION_ENDED: u8 = 2;

/// Who a logged event goes to.
pub enum To {
    Users(Vec<UserId>),
    /// Every socket open (news of public rooms).
    All,
}

/// Delivery in the change log's order, across nodes (`--bus`).
struct Sequencer {
    state: Mutex<SeqState>,
    /// Wakes the bus's follower: a local event waits for changes before it.
    wake: tokio::sync::Notify,
}

struct SeqState {
    /// Every change up to here has been delivered (or was never written).
    cursor: EventId,
    /// This node's events that wait for changes before them, by id.
    pending: BTreeMap<EventId, (Arc<Event>, To)>,
}

/// The other nodes' online users, as their bus messages said.
#[derive(Default)]
struct Remote {
    nodes: HashMap<Uuid, RemoteNode>,
}

struct RemoteNode {
    users: std::collections::HashSet<UserId>,
    heard: Instant,
}

impl RemoteNode {
    fn new() -> RemoteNode {
        RemoteNode {
            users: Default::default(),
            heard: Instant::now(),
        }
    }
}

struct Inner {
    users: Mutex<HashMap<UserId, Vec<Conn>>>,
    /// Set when the bus starts.
    seq: OnceLock<Sequencer>,
    /// Events that are not logged, for the bus to send to the other nodes.
    outbox: OnceLock<mpsc::Sender<(Arc<Event>, Vec<UserId>)>>,
    remote: Mutex<Remote>,
    /// Set by `close_all` (under the `users` lock): sockets that subscribe
    /// later are closed at once, so none outlives a shutdown.
    closed: AtomicBool,
    next_id: AtomicU64,
    /// Events a socket may have waiting before it counts as too slow.
    capacity: usize,
}

/// A registered socket's end of the hub. Dropping it unregisters the socket.
pub struct Subscription {
    pub id: ConnId,
    pub user: UserId,
    pub rx: mpsc::Receiver<Arc<Event>>,
    ended: Arc<AtomicU8>,
    hub: Hub,
    left: bool,
}

impl Subscription {
    /// Why the hub dropped this socket, if it did.
    pub fn ended(&self) -> Option<Ended> {
        match self.ended.load(Ordering::Acquire) {
            TOO_SLOW => Some(Ended::TooSlow),
            SESSION_ENDED => Some(Ended::SessionEnded),
            _ => None,
        }
    }

    /// Unregister; true if the user has no live socket left.
    pub fn leave(mut self) -> bool {
        self.left = true;
        self.hub.remove(self.user, self.id)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if !self.left {
            self.hub.remove(self.user, self.id);
        }
    }
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Hub {
    pub fn new(capacity: usize) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                users: Mutex::default(),
                seq: OnceLock::new(),
                outbox: OnceLock::new(),
                remote: Mutex::default(),
                closed: AtomicBool::new(false),
                next_id: AtomicU64::new(0),
                capacity: capacity.max(1),
            }),
        }
    }

    /// Register a socket of `user`'s `session`; the bool is true if the user just came online.
    pub fn subscribe(&self, user: UserId, session: Uuid, scope: Scope) -> (Subscription, bool) {
        self.subscribe_within(user, session, scope, 0)
            .expect("no limit on sockets")
    }

    /// `subscribe`, unless `user` already has `max` sockets (0: no limit):
    /// counted under the same lock, so sockets opened at once cannot pass
    /// the limit together.
    pub fn subscribe_within(
        &self,
        user: UserId,
        session: Uuid,
        scope: Scope,
        max: usize,
    ) -> Option<(Subscription, bool)> {
        let (tx, rx) = mpsc::channel(self.inner.capacity);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let ended = Arc::new(AtomicU8::new(LIVE));
        let mut users = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        if max > 0 && users.get(&user).is_some_and(|conns| conns.len() >= max) {
            return None;
        }
        let mut first = false;
        // After `close_all` the queue's sender is dropped here: the socket
        // sees its end at once and closes as every other socket did.
        if !self.inner.closed.load(Ordering::Acquire) {
            let conns = users.entry(user).or_default();
            first = conns.is_empty();
            conns.push(Conn {
                id,
                scope,
                session,
                tx,
                ended: ended.clone(),
            });
        }
        drop(users);
        Some((
            Subscription {
                id,
                user,
                rx,
                ended,
                hub: self.clone(),
                left: false,
            },
            first,
        ))
    }

    /// Close every socket of `session` (of `user`, when known): each drains
    /// what is queued and closes.
    pub fn close_session(&self, user: Option<UserId>, session: Uuid) {
        let mut map = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        let end = |conns: &mut Vec<Conn>| {
            conns.retain(|c| {
                if c.session == session {
                    c.ended.store(SESSION_ENDED, Ordering::Release);
                    return false;
                }
                true
            })
        };
        match user {
            Some(u) => {
                if let Some(conns) = map.get_mut(&u) {
                    end(conns);
                }
            }
            None => map.values_mut().for_each(end),
        }
        map.retain(|_, conns| !conns.is_empty());
    }

    /// Unregister; true if the user has no socket left.
    fn remove(&self, user: UserId, id: ConnId) -> bool {
        let mut users = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        let Some(conns) = users.get_mut(&user) else {
            return true;
        };
        conns.retain(|c| c.id != id);
        if conns.is_empty() {
            users.remove(&user);
            return true;
        }
        false
    }

    /// Has `user` a live socket, on this node or (with a bus) another?
    pub fn is_online(&self, user: UserId) -> bool {
        self.inner
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&user)
            || self.online_elsewhere(user)
    }

    /// Has `user` a live socket on another node?
    pub fn online_elsewhere(&self, user: UserId) -> bool {
        let remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote.nodes.values().any(|n| n.users.contains(&user))
    }

    /// Of `users`, those with a live socket on this node.
    pub fn online_of(&self, users: &[UserId]) -> Vec<UserId> {
        let map = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        users.iter().copied().filter(|u| map.contains_key(u)).collect()
    }

    /// Of `users`, those with a live socket on any node.
    pub fn online_anywhere_of(&self, users: &[UserId]) -> Vec<UserId> {
        let map = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        let remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        users
            .iter()
            .copied()
            .filter(|u| map.contains_key(u) || remote.nodes.values().any(|n| n.users.contains(u)))
            .collect()
    }

    /// This node's online users.
    pub fn local_users(&self) -> Vec<UserId> {
        self.inner
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// Another node says `user` is online there now, or no longer; true if
    /// that changed whether the user is online anywhere.
    pub fn remote_presence(&self, node: Uuid, user: UserId, online: bool) -> bool {
        let before = self.is_online(user);
        {
            let mut remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
            let entry = remote.nodes.entry(node).or_insert_with(RemoteNode::new);
            entry.heard = Instant::now();
            if online {
                entry.users.insert(user);
            } else {
                entry.users.remove(&user);
            }
        }
        before != self.is_online(user)
    }

    /// Another node sent (part of) its list of online users: `first` starts
    /// it over. Who came online anywhere, and who went offline everywhere.
    pub fn remote_list(&self, node: Uuid, first: bool, users: &[UserId]) -> (Vec<UserId>, Vec<UserId>) {
        let old: Vec<UserId> = {
            let remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
            remote
                .nodes
                .get(&node)
                .map(|n| n.users.iter().copied().collect())
                .unwrap_or_default()
        };
        let before: HashMap<UserId, bool> = old.iter().chain(users).map(|u| (*u, self.is_online(*u))).collect();
        {
            let mut remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
            let entry = remote.nodes.entry(node).or_insert_with(RemoteNode::new);
            entry.heard = Instant::now();
            if first {
                entry.users.clear();
            }
            entry.users.extend(users.iter().copied());
        }
        let (mut came, mut went) = (Vec::new(), Vec::new());
        for (user, was) in before {
            match (was, self.is_online(user)) {
                (false, true) => came.push(user),
                (true, false) => went.push(user),
                _ => {}
            }
        }
        (came, went)
    }

    /// Another node was heard from (any bus message): how many users its
    /// list holds, or `None` if it was not known.
    pub fn remote_heard(&self, node: Uuid) -> Option<usize> {
        let mut remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        match remote.nodes.get_mut(&node) {
            Some(n) => {
                n.heard = Instant::now();
                Some(n.users.len())
            }
            None => {
                remote.nodes.insert(node, RemoteNode::new());
                None
            }
        }
    }

    /// Count every known node as heard from now (this node was the one
    /// that could not hear: its listener reconnected).
    pub fn remote_heard_all(&self) {
        let mut remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        for n in remote.nodes.values_mut() {
            n.heard = Instant::now();
        }
    }

    /// Forget nodes not heard from for `silence` (or `node` at once, when
    /// given: it said goodbye); the users this leaves offline everywhere.
    pub fn remote_forget(&self, silence: std::time::Duration, node: Option<Uuid>) -> Vec<UserId> {
        let gone: Vec<UserId> = {
            let mut remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
            let dead: Vec<Uuid> = remote
                .nodes
                .iter()
                .filter(|(id, n)| Some(**id) == node || n.heard.elapsed() > silence)
                .map(|(id, _)| *id)
                .collect();
            dead.iter()
                .filter_map(|id| remote.nodes.remove(id))
                .flat_map(|n| n.users.into_iter())
                .collect()
        };
        gone.into_iter().filter(|u| !self.is_online(*u)).collect()
    }

    pub fn connection_count(&self) -> usize {
        self.inner
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Vec::len)
            .sum()
    }

    /// Queue `event` for every socket of `users` whose scope it falls in.
    /// Never blocks: a full queue gets its socket cut off. With a bus, a
    /// logged event waits for the changes before it, and one that is not
    /// logged goes to the other nodes too.
    pub fn publish(&self, event: Arc<Event>, users: &[UserId]) {
        if self.inner.seq.get().is_some() {
            if let Some(id) = event.change {
                return self.offer(id, event, To::Users(users.to_vec()));
            }
            if let Some(outbox) = self.inner.outbox.get()
                && !matches!(event.kind, EventKind::Presence { .. })
            {
                // Not logged, so not worth waiting for: dropped when the bus is behind.
                let _ = outbox.try_send((event.clone(), users.to_vec()));
            }
        }
        self.deliver(event, users);
    }

    /// Queue `event` for this node's sockets of `users`, now.
    pub fn deliver(&self, event: Arc<Event>, users: &[UserId]) {
        let conversation = event.conversation();
        let mut map = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        for user in users {
            let Some(conns) = map.get_mut(user) else {
                continue;
            };
            conns.retain(|conn| {
                if let Scope::Conversation(c) = conn.scope
                    && conversation.is_some_and(|ev| ev != c)
                {
                    return true;
                }
                match conn.tx.try_send(event.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::info!(conn = conn.id, user = %user, "socket fell behind; cutting it off");
                        conn.ended.store(TOO_SLOW, Ordering::Release);
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
            if conns.is_empty() {
                map.remove(user);
            }
        }
    }

    /// Queue `event` for every socket open (news of public rooms).
    pub fn publish_all(&self, event: Arc<Event>) {
        if self.inner.seq.get().is_some()
            && let Some(id) = event.change
        {
            return self.offer(id, event, To::All);
        }
        self.deliver_all(event);
    }

    fn deliver_to(&self, event: Arc<Event>, to: To) {
        match to {
            To::Users(users) => self.deliver(event, &users),
            To::All => self.deliver_all(event),
        }
    }

    /// Start keeping logged events in the log's order, every change up to
    /// `cursor` being already out; events that are not logged go to `outbox`.
    pub fn sequence(&self, cursor: EventId, outbox: mpsc::Sender<(Arc<Event>, Vec<UserId>)>) {
        let _ = self.inner.outbox.set(outbox);
        let _ = self.inner.seq.set(Sequencer {
            state: Mutex::new(SeqState {
                cursor,
                pending: BTreeMap::new(),
            }),
            wake: tokio::sync::Notify::new(),
        });
    }

    fn seq(&self) -> &Sequencer {
        self.inner.seq.get().expect("sequenced hubs only")
    }

    /// This node's logged event `id`: out now if every change before it is,
    /// else kept until the bus has read them; dropped if the bus already
    /// sent it from the log (it waited too long).
    fn offer(&self, id: EventId, event: Arc<Event>, to: To) {
        let seq = self.seq();
        let mut state = seq.state.lock().unwrap_or_else(|e| e.into_inner());
        if id <= state.cursor {
            return;
        }
        if id.0 == state.cursor.0 + 1 {
            state.cursor = id;
            self.deliver_to(event, to);
            return;
        }
        state.pending.insert(id, (event, to));
        drop(state);
        seq.wake.notify_one();
    }

    /// Have the bus's follower read the log now.
    pub fn wake_sequencer(&self) {
        if let Some(seq) = self.inner.seq.get() {
            seq.wake.notify_one();
        }
    }

    /// Wait until a local event may be waiting on the bus (or a while).
    pub async fn sequencer_woken(&self) {
        self.seq().wake.notified().await
    }

    /// The last change delivered.
    pub fn sequenced_upto(&self) -> EventId {
        self.seq().state.lock().unwrap_or_else(|e| e.into_inner()).cursor
    }

    /// The bus read change `id` from the log, written by another node (with
    /// the event it is, if any): out now, in order.
    pub fn logged_elsewhere(&self, id: EventId, event: Option<(Arc<Event>, To)>) {
        let mut state = self.seq().state.lock().unwrap_or_else(|e| e.into_inner());
        if id <= state.cursor {
            return;
        }
        state.cursor = id;
        // This node's event for it, if it came after all: sent already.
        state.pending.remove(&id);
        if let Some((event, to)) = event {
            self.deliver_to(event, to);
        }
    }

    /// The bus read this node's change `id` from the log: true once it is
    /// out (its event was waiting, or went out already). False: its event
    /// has not been offered yet.
    pub fn logged_here(&self, id: EventId) -> bool {
        let mut state = self.seq().state.lock().unwrap_or_else(|e| e.into_inner());
        if id <= state.cursor {
            return true;
        }
        let Some((event, to)) = state.pending.remove(&id) else {
            return false;
        };
        state.cursor = id;
        self.deliver_to(event, to);
        true
    }

    /// Nothing readable up to `id` (rows this version cannot read).
    pub fn sequenced_past(&self, id: EventId) {
        let mut state = self.seq().state.lock().unwrap_or_else(|e| e.into_inner());
        if id > state.cursor && state.pending.range(..=id).next().is_none() {
            state.cursor = id;
        }
    }

    fn deliver_all(&self, event: Arc<Event>) {
        let users: Vec<UserId> = self
            .inner
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        self.deliver(event, &users);
    }

    /// Drop every socket's queue, for good: each socket sends what is
    /// queued and closes (with 1001), and sockets that subscribe later are
    /// closed at once.
    pub fn close_all(&self) {
        let mut users = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        self.inner.closed.store(true, Ordering::Release);
        users.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn presence() -> Arc<Event> {
        Event::new(EventKind::Presence {
            user: Uuid::nil(),
            online: true,
        })
    }

    #[test]
    fn a_full_queue_cuts_only_that_socket() {
        let hub = Hub::new(3);
        let (mut slow, first) = hub.subscribe(UserId(1), Uuid::nil(), Scope::All);
        assert!(first);
        let (mut fast, _) = hub.subscribe(UserId(2), Uuid::nil(), Scope::All);
        for _ in 0..3 {
            hub.publish(presence(), &[UserId(1), UserId(2)]);
            assert!(fast.rx.try_recv().is_ok());
        }
        assert_eq!(slow.ended(), None);
        hub.publish(presence(), &[UserId(1), UserId(2)]);
        assert_eq!(
            slow.ended(),
            Some(Ended::TooSlow),
            "the fourth event overflowed the slow queue"
        );
        assert!(fast.rx.try_recv().is_ok(), "the fast socket still got it");
        // The slow socket drains what was queued, then sees the end.
        for _ in 0..3 {
            assert!(slow.rx.try_recv().is_ok());
        }
        assert!(matches!(
            slow.rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(!hub.is_online(UserId(1)));
        assert!(slow.leave(), "the user has no socket left");
        assert!(!fast.leave() || !hub.is_online(UserId(2)));
    }

    #[test]
    fn close_all_ends_every_queue_and_later_ones() {
        let hub = Hub::new(8);
        let (mut before, _) = hub.subscribe(UserId(1), Uuid::nil(), Scope::All);
        hub.publish(presence(), &[UserId(1)]);
        hub.close_all();
        assert!(before.rx.try_recv().is_ok(), "what was queued is still delivered");
        assert!(matches!(
            before.rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert_eq!(
            before.ended(),
            None,
            "ended by the shutdown, not for a reason of its own"
        );
        let (mut after, first) = hub.subscribe(UserId(2), Uuid::nil(), Scope::All);
        assert!(!first, "nobody comes online during a shutdown");
        assert!(matches!(
            after.rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert_eq!(hub.connection_count(), 0);
    }

    #[test]
    fn scoped_sockets_only_hear_their_conversation() {
        let hub = Hub::new(8);
        let (mut all, _) = hub.subscribe(UserId(1), Uuid::nil(), Scope::All);
        let (mut one, first) = hub.subscribe(
            UserId(1),
            Uuid::nil(),
            Scope::Conversation(crate::model::ConversationId(7)),
        );
        assert!(!first, "second socket of the same user");
        hub.publish(presence(), &[UserId(1)]);
        assert!(all.rx.try_recv().is_ok());
        assert!(
            one.rx.try_recv().is_ok(),
            "events without a conversation reach every socket"
        );
        assert!(!one.leave());
        assert!(all.leave());
    }
}
