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

/// What a node says on `natter_live`.
#[derive(Debug, Serialize, Deserialize)]
struct Said {
    /// The node that said it.
    node: Uuid,
    #[serde(flatten)]
    what: What,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum What {
    /// A node started (or its listener reconnected): who is online?
    Hello,
    /// Still here.
    Beat,
    /// Stopping: its users are offline now.
    Bye,
    /// Some of the users online on the node (an answer to `hello`).
    Here {
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

/// A node's end of the bus.
pub struct Bus {
    pub node: Uuid,
    said: mpsc::Sender<What>,
    /// Agents' replies streaming on other nodes, by conversation: the id
    /// their deltas went out under, which the stored reply takes here when
    /// it is read from the log (clients swap the draft for it by that id).
    drafts: std::sync::Mutex<std::collections::HashMap<ConversationId, Uuid>>,
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
    let url = url.to_str().unwrap_or_default().to_owned();
    let config = tokio_postgres::Config::from_str(&url).map_err(|e| Error::invalid(format!("--db: {e}")))?;
    let upto = core.db.read(db::changes::latest).await?;
    let (outbox, events) = mpsc::channel(OUTBOX);
    core.hub.sequence(upto, outbox);
    core.cache.share();
    let (said_tx, said) = mpsc::channel(OUTBOX);
    // The first connection is made here, so a node that cannot listen does not start.
    let first = listen(&config).await.map_err(|e| {
        Error::Unavailable(format!(
            "--bus postgres: cannot listen on {}: {e}",
            db::pg::display(std::path::Path::new(&url))
        ))
    })?;
    tokio::spawn(follow(Arc::downgrade(core), node));
    tokio::spawn(run(Arc::downgrade(core), node, config, first, events, said));
    tracing::info!(%node, "bus: following the change log and listening on PostgreSQL");
    Ok(Bus {
        node,
        said: said_tx,
        drafts: Default::default(),
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

/// The listener: wakes the follower, hears the other nodes, says what this
/// node has to say; reconnects when its connection fails.
async fn run(
    core: Weak<Core>,
    node: Uuid,
    config: tokio_postgres::Config,
    first: (tokio_postgres::Client, Notes),
    mut events: mpsc::Receiver<(Arc<Event>, Vec<UserId>)>,
    mut said: mpsc::Receiver<What>,
) {
    let mut connection = Some(first);
    loop {
        let (client, mut notes) = match connection.take() {
            Some(c) => c,
            None => match listen(&config).await {
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
        // the log), sessions ended (read from the database), who is online.
        c.hub.wake_sequencer();
        if let Err(e) = c.reload_revoked().await {
            tracing::warn!(error = %e, "bus: could not read ended sessions");
        }
        drop(c);
        let send = |what: What| {
            let client = &client;
            async move {
                let payload = serde_json::to_string(&Said { node, what }).unwrap_or_default();
                if payload.len() > MAX_PAYLOAD {
                    tracing::debug!(bytes = payload.len(), "bus: message too large for NOTIFY; not sent");
                    return Ok(());
                }
                client
                    .execute("SELECT pg_notify('natter_live', $1)", &[&payload])
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = send(What::Hello).await {
            tracing::warn!(error = %e, "bus: cannot say hello");
            continue;
        }
        let mut beat = tokio::time::interval(BEAT);
        let ok: std::result::Result<(), tokio_postgres::Error> = loop {
            tokio::select! {
                note = notes.recv() => {
                    let Some((channel, payload)) = note else { break Ok(()) };
                    let Some(core) = core.upgrade() else { return };
                    if channel == "natter_changes" {
                        core.hub.wake_sequencer();
                        continue;
                    }
                    let Ok(said) = serde_json::from_str::<Said>(&payload) else {
                        tracing::debug!("bus: a message this version cannot read");
                        continue;
                    };
                    if said.node == node {
                        continue;
                    }
                    if matches!(said.what, What::Hello) {
                        // Answer with who is online here.
                        let users: Vec<i64> = core.hub.local_users().iter().map(|u| u.0).collect();
                        let mut failed = None;
                        for chunk in users.chunks(HERE_CHUNK) {
                            if let Err(e) = send(What::Here { users: chunk.to_vec() }).await {
                                failed = Some(e);
                                break;
                            }
                        }
                        if let Some(e) = failed {
                            break Err(e);
                        }
                    }
                    heard(&core, said).await;
                }
                event = events.recv() => {
                    let Some((event, _)) = event else { return };
                    if let Some(what) = outgoing(&event)
                        && let Err(e) = send(what).await
                    {
                        break Err(e);
                    }
                }
                what = said.recv() => {
                    let Some(what) = what else { return };
                    if let Err(e) = send(what).await {
                        break Err(e);
                    }
                }
                _ = beat.tick() => {
                    let Some(core) = core.upgrade() else {
                        let _ = send(What::Bye).await;
                        return;
                    };
                    if core.draining.is_set() {
                        let _ = send(What::Bye).await;
                    } else if let Err(e) = send(What::Beat).await {
                        break Err(e);
                    }
                    for (user, _) in core.hub.remote_forget(SILENCE, None) {
                        core.announce_by_id(user, false);
                    }
                }
            }
        };
        if let Err(e) = ok {
            tracing::warn!(error = %e, "bus: connection lost; listening again");
        } else {
            tracing::warn!("bus: the listening connection closed; listening again");
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

/// Act on what another node said.
async fn heard(core: &Arc<Core>, said: Said) {
    let from = said.node;
    core.hub.remote_heard(from);
    match said.what {
        What::Hello | What::Beat => {}
        What::Bye => {
            for (user, _) in core.hub.remote_forget(SILENCE, Some(from)) {
                core.announce_by_id(user, false);
            }
        }
        What::Here { users } => {
            for user in users {
                if core.hub.remote_presence(from, UserId(user), Uuid::nil(), true) {
                    core.announce_by_id(UserId(user), true);
                }
            }
        }
        What::Presence { user, online } => {
            if core.hub.remote_presence(from, UserId(user), Uuid::nil(), online) {
                core.announce_by_id(UserId(user), online);
            }
        }
        What::Ended { user, sessions } => core.end_sessions_here(user.map(UserId), &sessions),
        What::Typing { .. } | What::Read { .. } | What::Delta { .. } | What::Failed { .. } => {
            if let Err(e) = relay(core, said.what).await {
                tracing::debug!(error = %e, "bus: could not relay an event from another node");
            }
        }
    }
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
    if let (Some(bus), What::Delta { reply, .. } | What::Failed { reply, .. }) = (core.bus.get(), &what) {
        let mut drafts = bus.drafts.lock().unwrap_or_else(|e| e.into_inner());
        match what {
            What::Delta { .. } => drafts.insert(conv.id, *reply),
            _ => drafts.remove(&conv.id),
        };
    }
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
    core.hub.deliver(Event::new(kind), &to);
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
        let (page, last) = core
            .db
            .read(move |c| {
                let (rows, last) = db::changes::for_bus(c, after, PAGE)?;
                let mut page = Vec::with_capacity(rows.len());
                for row in rows {
                    let id = row.change.id;
                    if row.node.as_deref() == Some(me_owned.as_str()) {
                        page.push((id, true, None));
                    } else {
                        let room = room_of(&row);
                        page.push((id, false, Some((room, super::changes::from_elsewhere(c, row)?))));
                    }
                }
                Ok((page, last))
            })
            .await?;
        let n = page.len();
        for (id, own, elsewhere) in page {
            if own {
                wait_for_own(core, id).await?;
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
            core.hub
                .logged_elsewhere(id, event.map(|(e, to)| (with_draft(core, e), to)));
        }
        if let Some(last) = last {
            core.hub.sequenced_past(last);
        }
        if (n as i64) < PAGE {
            return Ok(());
        }
    }
}

/// An agent's reply read from the log, with the id its deltas had here.
fn with_draft(core: &Core, event: Arc<Event>) -> Arc<Event> {
    let EventKind::Message {
        message,
        conversation,
        receiver,
        client_id,
        origin,
        reply_id: None,
    } = &event.kind
    else {
        return event;
    };
    if !message.sender.is_bot {
        return event;
    }
    let Some(reply) = core.bus.get().and_then(|b| {
        b.drafts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conversation.id)
    }) else {
        return event;
    };
    Event::recorded(
        EventKind::Message {
            message: message.clone(),
            conversation: conversation.clone(),
            receiver: receiver.clone(),
            client_id: client_id.clone(),
            origin: *origin,
            reply_id: Some(reply),
        },
        event.change,
    )
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
/// when it has been offered; if it is not within `OWN_WAIT` (a change whose
/// event went out unlogged, or not at all), it goes out from the row.
async fn wait_for_own(core: &Arc<Core>, id: EventId) -> Result<()> {
    let started = Instant::now();
    while !core.hub.logged_here(id) {
        if started.elapsed() > OWN_WAIT {
            tracing::debug!(
                change = id.0,
                "bus: this node's change was not published; sending it from the log"
            );
            let event = core
                .db
                .read(move |c| {
                    let (mut rows, _) = db::changes::for_bus(c, EventId(id.0 - 1), 1)?;
                    match rows.pop() {
                        Some(row) if row.change.id == id => super::changes::from_elsewhere(c, row),
                        _ => Ok(None),
                    }
                })
                .await?;
            core.hub.logged_elsewhere(id, event);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}
