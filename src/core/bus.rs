//! The bus (`--bus postgres`): several natter nodes on one PostgreSQL
//! database, each serving its own sockets, every socket hearing what any
//! node accepted.
//!
//! Two channels of PostgreSQL's LISTEN/NOTIFY, on one connection per node:
//!
//! * `natter_changes` carries nothing but a wake-up. Every transaction that
//!   writes the change log notifies it at commit (a trigger, migration 0002).
//!   A woken node reads the log after the last change it delivered, in id
//!   order, and delivers each change as the event it was: another node's
//!   from the row, its own from the event it published after its commit.
//!   Ids commit in order (migration 0001's advisory lock), so reading "after
//!   the cursor" misses nothing and repeats nothing; a notification that is
//!   lost (the listener reconnecting) delays delivery until the next one or
//!   the poll, never loses it.
//! * `natter_live` carries what is not logged, as JSON of a few hundred
//!   bytes: typing, an agent's reply as it streams, presence, and sessions
//!   ended (their tokens refused and their sockets closed on every node).
//!   These are as lossy as they are on one node: a node that misses one
//!   misses a typing flash, and presence is repaired by the periodic beat.

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Core;
use super::hub::{DeltaState, Event, EventKind};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{ConversationId, EventId, MessageId, UserBrief, UserId};

/// How often a node says it is alive.
const BEAT: Duration = Duration::from_secs(2);
/// A node not heard from for this long is gone: its users are offline.
const SILENCE: Duration = Duration::from_secs(10);
/// How often the log is read even without a notification.
const POLL: Duration = Duration::from_millis(500);
/// Changes read from the log at a time.
const PAGE: i64 = 500;
/// How long a node waits for its own event after reading its change from
/// the log, before it sends the change from the row instead.
const OWN_WAIT: Duration = Duration::from_secs(2);
/// NOTIFY's payload limit is 8000 bytes; larger messages are not sent.
const MAX_PAYLOAD: usize = 7900;
/// Users per `here` message.
const HERE_CHUNK: usize = 200;
/// Events not logged waiting for the bus; past this they are dropped.
const OUTBOX: usize = 4096;
/// How often ended sessions are read again from the database.
const REVOKED_POLL: Duration = Duration::from_secs(5);

/// What a node says on `natter_live`.
#[derive(Debug, Serialize, Deserialize)]
struct Said {
    /// The node that said it.
    node: Uuid,
    #[serde(flatten)]
    what: What,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum What {
    /// A node started (or its listener reconnected): who is online?
    Hello,
    /// Still here, with this many users online.
    Beat {
        online: usize,
    },
    /// Stopping: its users are offline now.
    Bye,
    /// Send your `here` again (the asker's count of your users is off).
    Ask {
        node: Uuid,
    },
    /// The users online on the node, in chunks; `first` starts a new list
    /// (the node's earlier one is replaced).
    Here {
        first: bool,
        users: Vec<i64>,
    },
    /// A user's first socket on the node opened, or its last one closed.
    Presence {
        user: i64,
        online: bool,
    },
    /// These sessions ended: refuse their tokens, close their sockets.
    Ended {
        user: Option<i64>,
        sessions: Vec<Uuid>,
    },
    /// The user subscribed to Web Push (pushes from any node may go to them).
    Subscribed {
        user: i64,
    },
    Typing {
        conversation: i64,
        user: i64,
    },
    Read {
        conversation: i64,
        user: i64,
        upto: i64,
    },
    Delta {
        conversation: i64,
        reply: Uuid,
        agent: i64,
        streaming: bool,
        text: String,
        delta: String,
    },
    Failed {
        conversation: i64,
        reply: Uuid,
        code: String,
        message: String,
    },
}

/// Payloads are signed: any role that can connect to the database can
/// NOTIFY, and none but natter's nodes (who share the secret in `meta`)
/// may speak on the bus.
type Signer = hmac::Hmac<sha2::Sha256>;

fn sign(key: &[u8], body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = Signer::new_from_slice(key).expect("HMAC takes any key");
    mac.update(body.as_bytes());
    let sig = mac.finalize().into_bytes();
    let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex} {body}")
}

/// The body of a signed payload, if the signature is right.
fn verified<'a>(key: &[u8], payload: &'a str) -> Option<&'a str> {
    use hmac::{KeyInit, Mac};
    let (hex, body) = payload.split_once(' ')?;
    if hex.len() != 64 {
        return None;
    }
    let sig: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let mut mac = Signer::new_from_slice(key).ok()?;
    mac.update(body.as_bytes());
    mac.verify_slice(&sig).ok()?;
    Some(body)
}

/// A node's end of the bus.
pub struct Bus {
    pub node: Uuid,
    said: mpsc::Sender<What>,
    /// Agents' replies from other nodes that are stored and sent here: a
    /// delta of one that comes later (the two travel apart) is dropped, or a
    /// client would show a draft of a reply it already has. Locked while
    /// either is delivered, so the check and the delivery are one step.
    finished: std::sync::Mutex<Finished>,
}

/// The last `FINISHED` reply ids sent here.
#[derive(Default)]
struct Finished {
    ids: std::collections::HashSet<Uuid>,
    order: std::collections::VecDeque<Uuid>,
}

const FINISHED: usize = 1024;

impl Finished {
    fn add(&mut self, id: Uuid) {
        if self.ids.insert(id) {
            self.order.push_back(id);
            if self.order.len() > FINISHED
                && let Some(old) = self.order.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }
}

impl Bus {
    /// Tell the other nodes the user's presence on this node changed.
    pub fn presence(&self, user: UserId, online: bool) {
        self.say(What::Presence { user: user.0, online });
    }

    /// Tell the other nodes these sessions ended.
    pub fn sessions_ended(&self, user: Option<UserId>, sessions: &[Uuid]) {
        for chunk in sessions.chunks(100) {
            self.say(What::Ended {
                user: user.map(|u| u.0),
                sessions: chunk.to_vec(),
            });
        }
    }

    /// Tell the other nodes the user has a push subscription now.
    pub fn subscribed(&self, user: UserId) {
        self.say(What::Subscribed { user: user.0 });
    }

    fn say(&self, what: What) {
        if self.said.try_send(what).is_err() {
            tracing::warn!("the bus is behind; a message to the other nodes was dropped");
        }
    }
}

/// Start the bus for `core` (PostgreSQL only): its follower of the log and
/// its listener. Every logged event this node publishes from now on goes
/// out in the log's order.
pub(super) async fn start(core: &Arc<Core>) -> Result<Bus> {
    let Some((url, node)) = core.db.postgres() else {
        // `Core::open` refuses --bus on a file before opening it.
        return Err(Error::Internal("the bus needs a PostgreSQL database".into()));
    };
    let shown = db::pg::display(url);
    let url = url.to_str().unwrap_or_default().to_owned();
    let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| Error::invalid(format!("--db: {e}")))?;
    db::pg::keep_alive(&mut config);
    // The writer's changes must carry this node's id, or the follower would
    // take them for another node's (a pooler that drops startup options).
    let tagged = core.db.writer().submit(db::changes::writer_node, |_| {}).await?;
    if tagged.as_deref() != Some(node.to_string().as_str()) {
        return Err(Error::invalid(format!(
            "--bus postgres: the writer's connection to {shown} did not keep its `natter.node` setting \
             (a connection pooler that drops startup options?); connect the nodes to PostgreSQL directly \
             or through a session-mode pooler that passes `options`"
        )));
    }
    let secret = core.db.jwt_secret().await?;
    let key: Arc<[u8]> = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"natter bus\0");
        h.update(&secret);
        h.finalize().to_vec().into()
    };
    let upto = core.db.read(db::changes::latest).await?;
    let (outbox, events) = mpsc::channel(OUTBOX);
    core.hub.sequence(upto, outbox);
    core.cache.share();
    let (said_tx, said) = mpsc::channel(OUTBOX);
    // The first connection is made here, so a node that cannot listen does not start.
    let first = listen(&config)
        .await
        .map_err(|e| Error::Unavailable(format!("--bus postgres: cannot listen on {shown}: {e}")))?;
    let (relays, relay_rx) = mpsc::channel(OUTBOX);
    tokio::spawn(follow(Arc::downgrade(core), node));
    tokio::spawn(relay_all(Arc::downgrade(core), relay_rx));
    tokio::spawn(watch_revoked(Arc::downgrade(core)));
    tokio::spawn(run(
        Arc::downgrade(core),
        Listener {
            node,
            key,
            config,
            relays,
        },
        first,
        events,
        said,
    ));
    tracing::info!(%node, "bus: following the change log and listening on PostgreSQL");
    Ok(Bus {
        node,
        said: said_tx,
        finished: Default::default(),
    })
}

type Notes = mpsc::UnboundedReceiver<(String, String)>;

/// A connection listening on both channels; its notifications arrive on
/// the receiver, which ends when the connection does.
async fn listen(
    config: &tokio_postgres::Config,
) -> std::result::Result<(tokio_postgres::Client, Notes), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send((n.channel().to_owned(), n.payload().to_owned())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "bus: the listening connection failed");
                    return;
                }
            }
        }
    });
    client
        .batch_execute("LISTEN natter_changes; LISTEN natter_live")
        .await?;
    Ok((client, rx))
}

/// What the listener keeps across reconnections.
struct Listener {
    node: Uuid,
    key: Arc<[u8]>,
    config: tokio_postgres::Config,
    /// Other nodes' events for this node's sockets, to the relay task.
    relays: mpsc::Sender<What>,
}

impl Listener {
    async fn send(
        &self,
        client: &tokio_postgres::Client,
        what: &What,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        let body = serde_json::to_string(&Said {
            node: self.node,
            what: what.clone(),
        })
        .unwrap_or_default();
        let payload = sign(&self.key, &body);
        if payload.len() > MAX_PAYLOAD {
            tracing::debug!(bytes = payload.len(), "bus: message too large for NOTIFY; not sent");
            return Ok(());
        }
        client
            .execute("SELECT pg_notify('natter_live', $1)", &[&payload])
            .await
            .map(|_| ())
    }

    /// Who is online here, as a new list.
    async fn here(
        &self,
        client: &tokio_postgres::Client,
        core: &Core,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        let users: Vec<i64> = core.hub.local_users().iter().map(|u| u.0).collect();
        if users.is_empty() {
            return self.send(client, &What::Here { first: true, users }).await;
        }
        for (i, chunk) in users.chunks(HERE_CHUNK).enumerate() {
            self.send(
                client,
                &What::Here {
                    first: i == 0,
                    users: chunk.to_vec(),
                },
            )
            .await?;
        }
        Ok(())
    }
}

/// The listener: wakes the follower, hears the other nodes, says what this
/// node has to say; reconnects when its connection fails. A message that
/// could not be said is said again after reconnecting.
async fn run(
    core: Weak<Core>,
    me: Listener,
    first: (tokio_postgres::Client, Notes),
    mut events: mpsc::Receiver<(Arc<Event>, Vec<UserId>)>,
    mut said: mpsc::Receiver<What>,
) {
    let mut connection = Some(first);
    let mut unsaid: Option<What> = None;
    loop {
        let (client, mut notes) = match connection.take() {
            Some(c) => c,
            None => match listen(&me.config).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "bus: cannot listen; trying again in 1 s");
                    if core.strong_count() == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let Some(c) = core.upgrade() else { return };
        // What may have been missed while not listening: changes (read from
        // the log), who is online where (hello, and this node's list), push
        // subscriptions. The other nodes had their chance to beat meanwhile.
        c.hub.wake_sequencer();
        c.hub.remote_heard_all();
        c.reload_push_subscriptions().await;
        let greeted = async {
            me.send(&client, &What::Hello).await?;
            me.here(&client, &c).await?;
            if let Some(what) = &unsaid {
                me.send(&client, what).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        }
        .await;
        drop(c);
        if let Err(e) = greeted {
            tracing::warn!(error = %e, "bus: cannot say hello; listening again in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        unsaid = None;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + BEAT, BEAT);
        let failed: std::result::Result<(), (tokio_postgres::Error, Option<What>)> = loop {
            tokio::select! {
                note = notes.recv() => {
                    let Some((channel, payload)) = note else { break Ok(()) };
                    let Some(core) = core.upgrade() else { return };
                    if channel == "natter_changes" {
                        core.hub.wake_sequencer();
                        continue;
                    }
                    let Some(said) = verified(&me.key, &payload).and_then(|b| serde_json::from_str::<Said>(b).ok()) else {
                        tracing::debug!("bus: a message that is not signed by a node, or that this version cannot read");
                        continue;
                    };
                    if said.node == me.node {
                        continue;
                    }
                    let answer = heard(&core, &me, said);
                    match answer {
                        Some(Answer::Here) => {
                            if let Err(e) = me.here(&client, &core).await {
                                break Err((e, None));
                            }
                        }
                        Some(Answer::Ask(node)) => {
                            if let Err(e) = me.send(&client, &What::Ask { node }).await {
                                break Err((e, None));
                            }
                        }
                        None => {}
                    }
                }
                event = events.recv() => {
                    let Some((event, _)) = event else { return };
                    if let Some(what) = outgoing(&event)
                        && let Err(e) = me.send(&client, &what).await
                    {
                        // Typing and deltas are not worth saying late.
                        break Err((e, None));
                    }
                }
                what = said.recv() => {
                    let Some(what) = what else { return };
                    if let Err(e) = me.send(&client, &what).await {
                        break Err((e, Some(what)));
                    }
                }
                _ = beat.tick() => {
                    let Some(core) = core.upgrade() else {
                        let _ = me.send(&client, &What::Bye).await;
                        return;
                    };
                    let what = if core.draining.is_set() {
                        What::Bye
                    } else {
                        What::Beat { online: core.hub.local_users().len() }
                    };
                    if let Err(e) = me.send(&client, &what).await {
                        break Err((e, None));
                    }
                    for user in core.hub.remote_forget(SILENCE, None) {
                        core.announce_by_id(user);
                    }
                }
            }
        };
        match failed {
            Err((e, what)) => {
                unsaid = what;
                tracing::warn!(error = %e, "bus: connection lost; listening again");
            }
            Ok(()) => tracing::warn!("bus: the listening connection closed; listening again"),
        }
    }
}

/// What the listener must say in answer to a message.
enum Answer {
    /// Our list of online users.
    Here,
    /// Ask this node for its list.
    Ask(Uuid),
}

/// Re-read the ended sessions every few seconds: a logout whose bus message
/// a node missed (or one `natter admin` made) still takes effect there.
async fn watch_revoked(core: Weak<Core>) {
    let mut since = crate::model::Timestamp::now();
    loop {
        tokio::time::sleep(REVOKED_POLL).await;
        let Some(core) = core.upgrade() else { return };
        // Each node stamps `revoked_at` with its own clock: ask from a
        // minute back, so a node whose clock is behind is not missed (what
        // was read before is not closed twice).
        let from = crate::model::Timestamp(since.0 - 60_000_000);
        match core.refresh_revoked(from).await {
            Ok(newest) => since = newest.max(since),
            Err(e) => tracing::warn!(error = %e, "bus: could not read ended sessions"),
        }
    }
}

/// Deliver other nodes' events that are not logged, in the order they
/// came, off the listener's loop (each needs a read).
async fn relay_all(core: Weak<Core>, mut rx: mpsc::Receiver<What>) {
    while let Some(what) = rx.recv().await {
        let Some(core) = core.upgrade() else { return };
        if let Err(e) = relay(&core, what).await {
            tracing::debug!(error = %e, "bus: could not relay an event from another node");
        }
    }
}

/// The bus message for an event that is not logged, if other nodes show it.
fn outgoing(event: &Event) -> Option<What> {
    Some(match &event.kind {
        EventKind::Typing { conversation, user } => What::Typing {
            conversation: conversation.id.0,
            user: user.id.0,
        },
        EventKind::Read {
            conversation,
            user,
            upto,
        } => What::Read {
            conversation: conversation.id.0,
            user: user.id.0,
            upto: upto.0,
        },
        EventKind::MessageDelta {
            conversation,
            reply_id,
            agent,
            state,
            text,
            delta,
        } => What::Delta {
            conversation: conversation.id.0,
            reply: *reply_id,
            agent: agent.id.0,
            streaming: *state == DeltaState::Streaming,
            text: text.clone(),
            delta: delta.clone(),
        },
        EventKind::AgentFailed {
            conversation,
            reply_id,
            code,
            message,
        } => What::Failed {
            conversation: conversation.id.0,
            reply: *reply_id,
            code: (*code).to_owned(),
            message: message.clone(),
        },
        _ => return None,
    })
}

/// The failure codes an agent's reply may end with (`&'static str` in events).
fn failure_code(code: &str) -> &'static str {
    match code {
        "ai_unreachable" => "ai_unreachable",
        "ai_timeout" => "ai_timeout",
        "ai_bad_stream" => "ai_bad_stream",
        "ai_interrupted" => "ai_interrupted",
        _ => "ai_error",
    }
}

/// Act on what another node said; what to answer, if anything.
fn heard(core: &Arc<Core>, me: &Listener, said: Said) -> Option<Answer> {
    let from = said.node;
    let known = core.hub.remote_heard(from);
    match said.what {
        What::Hello => return Some(Answer::Here),
        What::Ask { node } => return (node == me.node).then_some(Answer::Here),
        What::Beat { online } => {
            // A node this one has no list for, or a list that has drifted
            // (a presence message lost): ask for the whole list.
            if known != Some(online) {
                return Some(Answer::Ask(from));
            }
        }
        What::Bye => {
            for user in core.hub.remote_forget(SILENCE, Some(from)) {
                core.announce_by_id(user);
            }
        }
        What::Here { first, users } => {
            let users: Vec<UserId> = users.into_iter().map(UserId).collect();
            let (came, went) = core.hub.remote_list(from, first, &users);
            for user in came {
                core.announce_by_id(user);
            }
            for user in went {
                core.announce_by_id(user);
            }
        }
        What::Presence { user, online } => {
            if core.hub.remote_presence(from, UserId(user), online) {
                core.announce_by_id(UserId(user));
            }
        }
        What::Ended { user, sessions } => core.end_sessions_here(user.map(UserId), &sessions),
        What::Subscribed { user } => core.push_subscribed_elsewhere(UserId(user)),
        what @ (What::Typing { .. } | What::Read { .. } | What::Delta { .. } | What::Failed { .. }) => {
            if me.relays.try_send(what).is_err() {
                tracing::debug!("bus: relays are behind; an event from another node was dropped");
            }
        }
    }
    None
}

/// Deliver an event another node published (not logged) to this node's
/// sockets: the same people hear it as on its node.
async fn relay(core: &Arc<Core>, what: What) -> Result<()> {
    let conversation = match &what {
        What::Typing { conversation, .. }
        | What::Read { conversation, .. }
        | What::Delta { conversation, .. }
        | What::Failed { conversation, .. } => ConversationId(*conversation),
        _ => return Ok(()),
    };
    let user = match &what {
        What::Typing { user, .. } | What::Read { user, .. } => Some(UserId(*user)),
        What::Delta { agent, .. } => Some(UserId(*agent)),
        _ => None,
    };
    let found = core
        .db
        .read(move |c| {
            let Some(conv) = db::conversations::by_id(c, conversation)? else {
                return Ok(None);
            };
            let members = db::conversations::members(c, conversation)?;
            let user = match user {
                Some(u) => match db::users::by_id(c, u)? {
                    Some(u) => Some(UserBrief::from(&u)),
                    None => return Ok(None),
                },
                None => None,
            };
            Ok(Some((conv, members, user)))
        })
        .await?;
    let Some((conv, members, user)) = found else {
        return Ok(());
    };
    let conv = Arc::new(conv);
    let ids: Vec<UserId> = members.iter().map(|m| m.id).collect();
    let (kind, to) = match (what, user) {
        (What::Typing { .. }, Some(user)) => {
            let others: Vec<UserId> = ids.iter().copied().filter(|&u| u != user.id).collect();
            (
                EventKind::Typing {
                    conversation: conv,
                    user,
                },
                others,
            )
        }
        (What::Read { upto, .. }, Some(user)) => (
            EventKind::Read {
                conversation: conv,
                user,
                upto: MessageId(upto),
            },
            ids,
        ),
        (
            What::Delta {
                reply,
                streaming,
                text,
                delta,
                ..
            },
            Some(agent),
        ) => (
            EventKind::MessageDelta {
                conversation: conv,
                reply_id: reply,
                agent: Arc::new(agent),
                state: if streaming {
                    DeltaState::Streaming
                } else {
                    DeltaState::Thinking
                },
                text,
                delta,
            },
            ids,
        ),
        (
            What::Failed {
                reply, code, message, ..
            },
            _,
        ) => (
            EventKind::AgentFailed {
                conversation: conv,
                reply_id: reply,
                code: failure_code(&code),
                message,
            },
            ids,
        ),
        _ => return Ok(()),
    };
    let reply = match &kind {
        EventKind::MessageDelta { reply_id, .. } | EventKind::AgentFailed { reply_id, .. } => Some(*reply_id),
        _ => None,
    };
    match (reply, core.bus.get()) {
        (Some(reply), Some(bus)) => {
            let finished = bus.finished.lock().unwrap_or_else(|e| e.into_inner());
            if !finished.ids.contains(&reply) {
                core.hub.deliver(Event::new(kind), &to);
            }
        }
        _ => core.hub.deliver(Event::new(kind), &to),
    }
    Ok(())
}

/// The follower: delivers the change log in id order, every node's changes,
/// until the core is gone.
async fn follow(core: Weak<Core>, node: Uuid) {
    let me = node.to_string();
    loop {
        let Some(c) = core.upgrade() else { return };
        if let Err(e) = catch_up(&c, &me).await {
            tracing::warn!(error = %e, "bus: could not read the change log; trying again");
        }
        let hub = c.hub.clone();
        drop(c);
        tokio::select! {
            _ = hub.sequencer_woken() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Deliver every change after the cursor.
async fn catch_up(core: &Arc<Core>, me: &str) -> Result<()> {
    loop {
        let after = core.hub.sequenced_upto();
        let me_owned = me.to_owned();
        let hub = core.hub.clone();
        let (page, last, read) = core
            .db
            .read(move |c| {
                let (rows, last, read) = db::changes::for_bus(c, after, PAGE)?;
                let mut page = Vec::with_capacity(rows.len());
                for row in rows {
                    let id = row.change.id;
                    if row.node.as_deref() == Some(me_owned.as_str()) {
                        page.push((id, true, None));
                    } else {
                        let room = room_of(&row);
                        page.push((id, false, Some((room, super::changes::from_elsewhere(c, &hub, row)?))));
                    }
                }
                Ok((page, last, read))
            })
            .await?;
        // One wait for the page, not one per row: a batch whose commit
        // failed ambiguously (committed, but every job told it failed)
        // publishes none of its changes, and the rest of the page must not
        // wait for each of them in turn.
        let deadline = Instant::now() + OWN_WAIT;
        for (id, own, elsewhere) in page {
            if own {
                wait_for_own(core, id, deadline).await?;
                continue;
            }
            let Some((room, event)) = elsewhere else { continue };
            if let Some(room) = room {
                // Another node changed a room: what this node cached of it is old.
                core.cache.forget_members(room.0);
                if let Some(uuid) = room.1 {
                    core.cache.forget_conversation(&uuid);
                }
            }
            let reply = event.as_ref().and_then(|(e, _)| match &e.kind {
                EventKind::Message { reply_id, .. } => *reply_id,
                _ => None,
            });
            match (reply, core.bus.get()) {
                (Some(reply), Some(bus)) => {
                    let mut finished = bus.finished.lock().unwrap_or_else(|e| e.into_inner());
                    finished.add(reply);
                    core.hub.logged_elsewhere(id, event);
                }
                _ => core.hub.logged_elsewhere(id, event),
            }
        }
        if let Some(last) = last {
            core.hub.sequenced_past(last);
        }
        if (read as i64) < PAGE {
            return Ok(());
        }
    }
}

/// A room change's conversation and UUID (for the caches).
fn room_of(row: &db::changes::Logged) -> Option<(ConversationId, Option<Uuid>)> {
    (row.change.kind == db::changes::Kind::Room).then(|| {
        (
            row.change.conversation,
            row.change.data.room.as_deref().and_then(|u| Uuid::parse_str(u).ok()),
        )
    })
}

/// This node's change `id` was read from the log: its event is delivered
/// when it has been offered; if it is not by `deadline` (a change whose
/// event went out unlogged, or not at all), it goes out from the row.
async fn wait_for_own(core: &Arc<Core>, id: EventId, deadline: Instant) -> Result<()> {
    while !core.hub.logged_here(id) {
        if Instant::now() > deadline {
            tracing::debug!(
                change = id.0,
                "bus: this node's change was not published; sending it from the log"
            );
            let hub = core.hub.clone();
            let event = core
                .db
                .read(move |c| {
                    let (mut rows, _, _) = db::changes::for_bus(c, EventId(id.0 - 1), 1)?;
                    match rows.pop() {
                        Some(row) if row.change.id == id => super::changes::from_elsewhere(c, &hub, row),
                        _ => Ok(None),
                    }
                })
                .await?;
            core.hub.logged_elsewhere(id, event);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}
