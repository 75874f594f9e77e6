//! The AI agent: a user that answers, through an OpenAI-compatible backend,
//! every message people send in their conversations with it.
//!
//! A stored and acknowledged message in an `ai` conversation is handed to
//! that conversation's worker: one task per conversation, so replies come
//! one at a time and in the order the messages were sent. The worker sends
//! the system prompt and the latest messages to the backend and relays the
//! reply as it grows (`MessageDelta` events, to the members' native sockets);
//! the finished reply is stored like any message and published as one. A
//! reply cut short — the backend failed, the server is stopping — is stored
//! with what arrived and marked incomplete; a failure before any text stores
//! a notice from the agent instead, and the members get an `AgentFailed`
//! event naming the cause. Every reply names the message it answers, so a
//! message still owed an answer (the server was killed) is answered after a
//! restart.

pub mod backend;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use uuid::Uuid;

use super::Core;
use super::hub::{DeltaState, Event, EventKind};
use super::limits::RateLimiter;
use crate::config::AiConfig;
use crate::db;
use crate::error::{Error, Result};
use crate::model::{Conversation, ConversationId, Message, MessageId, Timestamp, UserBrief, UserId};
use backend::{Backend, Chunk, Failure, Turn};

/// Reply pieces are gathered this long before a `MessageDelta` goes out, so
/// a fast backend costs a frame per interval, not per token.
const DELTA_EVERY: Duration = Duration::from_millis(50);
/// A message older than this that never got an answer is not answered after a restart.
const RESUME_WITHIN: Duration = Duration::from_secs(24 * 3600);
/// How long a stopping server waits for replies in progress to be stored.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// A message to answer.
struct Job {
    conversation: Arc<Conversation>,
    message: MessageId,
}

/// A reply being written: what a socket that connects now is shown.
#[derive(Clone)]
struct InFlight {
    reply_id: Uuid,
    conversation: Arc<Conversation>,
    state: DeltaState,
    text: String,
    /// Set inside the job that stores the reply, before its commit: a
    /// socket that can already read the stored reply must not be shown it
    /// in flight too.
    stored: bool,
}

pub struct Agent {
    /// The agent's account.
    pub user: Arc<UserBrief>,
    core: Weak<Core>,
    backend: Backend,
    system_prompt: String,
    context: i64,
    requests: RateLimiter,
    workers: Mutex<HashMap<ConversationId, mpsc::UnboundedSender<Job>>>,
    in_flight: Arc<Mutex<HashMap<ConversationId, InFlight>>>,
    stop: watch::Sender<bool>,
    /// Each worker holds a clone; `shutdown` waits for them all to drop.
    alive: Mutex<Option<mpsc::Sender<()>>>,
    done: tokio::sync::Mutex<mpsc::Receiver<()>>,
    runtime: tokio::runtime::Handle,
}

/// Read the key from `--ai-key` or the first line of `--ai-key-file`.
fn key(config: &AiConfig) -> Result<Option<crate::config::Secret>> {
    if let Some(k) = &config.ai_key {
        return Ok(Some(k.clone()));
    }
    let Some(path) = &config.ai_key_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Invalid(format!("cannot read --ai-key-file {}: {e}", path.display())))?;
    let key = text.lines().next().unwrap_or_default().trim().to_owned();
    if key.is_empty() {
        return Err(Error::Invalid(format!("--ai-key-file {} is empty", path.display())));
    }
    Ok(Some(crate::config::Secret(key)))
}

impl Agent {
    /// The agent for `config`, if `--ai-url` is set: its account is created
    /// (or found) now.
    pub(super) async fn start(config: &AiConfig, db: &db::Db) -> Result<Option<Agent>> {
        let Some(url) = config.ai_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let backend = Backend::new(config, url.trim(), key(config)?).map_err(Error::Invalid)?;
        let (username, name) = (config.ai_username.trim().to_owned(), config.ai_name.trim().to_owned());
        super::validate::username(&username)?;
        let user = db
            .writer()
            .submit(move |c| db::users::ensure_bot(c, &username, &name), |_| {})
            .await?;
        let (alive, done) = mpsc::channel(1);
        let per_minute = config.ai_requests_per_minute;
        Ok(Some(Agent {
            user: Arc::new(UserBrief::from(&user)),
            core: Weak::new(),
            backend,
            system_prompt: config.ai_system_prompt.clone(),
            context: i64::from(config.ai_context_messages),
            requests: RateLimiter::new(f64::from(per_minute) / 60.0, per_minute, move || {
                format!("too many messages to the AI agent: the limit is {per_minute} per minute")
            }),
            workers: Mutex::default(),
            in_flight: Arc::default(),
            stop: watch::Sender::new(false),
            alive: Mutex::new(Some(alive)),
            done: tokio::sync::Mutex::new(done),
            runtime: tokio::runtime::Handle::current(),
        }))
    }

    /// The agent, working for `core` (the core being built).
    pub(super) fn with_core(mut self, core: Weak<Core>) -> Agent {
        self.core = core;
        self
    }

    /// May `user` send another message to the agent? (Inside the send's
    /// writer job: a refused message is not stored.)
    pub(super) fn admit(&self, user: UserId) -> Result<()> {
        self.requests.check(user)
    }

    /// Answer `message` of `conversation` once the replies before it are done.
    /// Runs on the writer thread, right after the message's commit.
    pub(super) fn enqueue(&self, conversation: Arc<Conversation>, message: MessageId) {
        if *self.stop.borrow() {
            // Answered after the restart: the message is stored and unanswered.
            return;
        }
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        let job = Job {
            conversation: conversation.clone(),
            message,
        };
        let job = match workers.get(&conversation.id) {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                // The worker is finishing: start a new one.
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let Some(alive) = self.alive.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(job);
        workers.insert(conversation.id, tx);
        let core = self.core.clone();
        let id = conversation.id;
        self.runtime.spawn(async move {
            let _alive = alive;
            work(core, id, rx).await;
        });
    }

    /// Answer what was left unanswered when the server last stopped.
    pub(super) async fn resume(&self, core: &Core) -> Result<()> {
        let since = Timestamp(Timestamp::now().0 - RESUME_WITHIN.as_micros() as i64);
        let owed = core.db.read(move |c| db::messages::unanswered(c, since)).await?;
        for (conv, message) in owed {
            let (conversation, members) = core
                .db
                .read(move |c| {
                    Ok((
                        super::conversations::load(c, conv)?,
                        db::conversations::member_ids(c, conv)?,
                    ))
                })
                .await?;
            if members.contains(&self.user.id) {
                tracing::info!(conversation = %conversation.uuid, message = %message, "answering a message left unanswered");
                self.enqueue(Arc::new(conversation), message);
            }
        }
        Ok(())
    }

    /// The replies being written in `conversations` (all when `None`), as
    /// events for a socket that connects now.
    pub fn in_flight(&self, conversations: Option<&[ConversationId]>) -> Vec<Arc<Event>> {
        let map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(id, f)| !f.stored && conversations.is_none_or(|c| c.contains(id)))
            .map(|(_, f)| {
                Event::new(EventKind::MessageDelta {
                    conversation: f.conversation.clone(),
                    reply_id: f.reply_id,
                    agent: self.user.clone(),
                    state: f.state,
                    text: f.text.clone(),
                    delta: String::new(),
                })
            })
            .collect()
    }

    /// Stop taking work, cut replies in progress short (each is stored with
    /// what arrived), and wait for them, at most `STOP_WAIT`.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        self.alive.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut done = self.done.lock().await;
        if tokio::time::timeout(STOP_WAIT, done.recv()).await.is_err() {
            tracing::warn!("AI replies still running at shutdown were abandoned");
        }
    }
}

/// One conversation's worker: answer its jobs in order, then end.
async fn work(core: Weak<Core>, conv: ConversationId, mut rx: mpsc::UnboundedReceiver<Job>) {
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(_) => {
                // Nothing waiting: leave, unless a job slipped in meanwhile
                // (enqueue sends under the same lock).
                let Some(core) = core.upgrade() else { return };
                let Some(agent) = core.agent.as_ref() else { return };
                let mut workers = agent.workers.lock().unwrap_or_else(|e| e.into_inner());
                match rx.try_recv() {
                    Ok(job) => job,
                    Err(_) => {
                        workers.remove(&conv);
                        return;
                    }
                }
            }
        };
        let Some(core) = core.upgrade() else { return };
        if core.agent.as_ref().is_none_or(|a| *a.stop.borrow()) {
            return;
        }
        answer(&core, job).await;
    }
}

/// Write, relay and store the answer to one message.
async fn answer(core: &Arc<Core>, job: Job) {
    let Some(agent) = core.agent.as_ref() else { return };
    let Job { conversation, message } = job;
    let (conv_id, limit) = (conversation.id, agent.context);
    let context = match core
        .db
        .read(move |c| db::messages::context(c, conv_id, message, limit))
        .await
    {
        Ok(context) => context,
        Err(e) => {
            tracing::error!(error = %e, "could not read an AI conversation's context");
            return;
        }
    };
    // Deleted before its turn came: nothing to answer.
    if context.last().is_none_or(|m| m.id != message) {
        return;
    }
    let members = match core.db.read(move |c| db::conversations::member_ids(c, conv_id)).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "could not read an AI conversation's members");
            return;
        }
    };
    let reply_id = Uuid::new_v4();
    let mut relay = Relay::new(core, agent, conversation.clone(), members, reply_id);
    relay.publish(DeltaState::Thinking, "");
    let turns = prompt(&agent.system_prompt, &context);
    let mut stop = agent.stop.subscribe();
    let outcome = tokio::select! {
        r = stream(agent, &turns, &mut relay) => r,
        _ = stop.wait_for(|s| *s) => Err(Failure::Interrupted),
    };
    core.metrics.ai_request(match &outcome {
        Ok(()) if relay.text.trim().is_empty() => "ai_bad_stream",
        Ok(()) => "ok",
        Err(failure) => failure.code(),
    });
    let (text, incomplete) = match &outcome {
        Ok(()) if relay.text.trim().is_empty() => {
            let failure = Failure::BadStream("it was empty".into());
            relay.failed(&failure);
            (notice(&failure), true)
        }
        Ok(()) => (std::mem::take(&mut relay.text), false),
        Err(failure) => {
            tracing::warn!(conversation = %conversation.uuid, cause = %failure.describe(), "AI reply failed");
            relay.failed(failure);
            if relay.text.trim().is_empty() {
                (notice(failure), true)
            } else {
                (std::mem::take(&mut relay.text), true)
            }
        }
    };
    if let Err(e) = core
        .store_reply(conversation, agent.user.clone(), text, incomplete, message, reply_id)
        .await
    {
        tracing::error!(error = %e, "could not store the AI agent's reply");
        agent
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conv_id);
    }
}

/// What the agent says when it has nothing else to say.
fn notice(failure: &Failure) -> String {
    format!("I could not answer: {}.", failure.describe())
}

/// The system prompt and the conversation: the agent's messages are the
/// assistant's turns, everyone else's the user's.
fn prompt(system: &str, context: &[Message]) -> Vec<Turn> {
    let mut turns = Vec::with_capacity(context.len() + 1);
    if !system.trim().is_empty() {
        turns.push(Turn {
            role: "system",
            content: system.to_owned(),
        });
    }
    for m in context {
        let mut content = m.text.clone();
        if let Some(f) = &m.file {
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&format!("[attached file: {}]", f.name));
        }
        turns.push(Turn {
            role: if m.sender.is_bot { "assistant" } else { "user" },
            content,
        });
    }
    turns
}

async fn stream(agent: &Agent, turns: &[Turn], relay: &mut Relay<'_>) -> std::result::Result<(), Failure> {
    let mut s = agent.backend.start(turns).await?;
    loop {
        let chunk = if relay.pending.is_empty() {
            s.next().await?
        } else {
            // Text is waiting: send it on time even if the backend pauses.
            // (`next` only takes bytes when it returns, so dropping it loses none.)
            tokio::select! {
                chunk = s.next() => chunk?,
                () = tokio::time::sleep_until(relay.last_sent + DELTA_EVERY) => {
                    relay.flush();
                    continue;
                }
            }
        };
        match chunk {
            Chunk::Text(piece) => relay.push(&piece),
            Chunk::Done => {
                relay.flush();
                return Ok(());
            }
        }
    }
}

/// Sends a reply's progress to the conversation's members.
struct Relay<'a> {
    core: &'a Core,
    agent: &'a Agent,
    conversation: Arc<Conversation>,
    /// Who hears the reply (a pair's members never change).
    members: Vec<UserId>,
    reply_id: Uuid,
    text: String,
    /// Text not yet sent in a delta.
    pending: String,
    last_sent: Instant,
}

impl<'a> Relay<'a> {
    fn new(
        core: &'a Core,
        agent: &'a Agent,
        conversation: Arc<Conversation>,
        members: Vec<UserId>,
        reply_id: Uuid,
    ) -> Self {
        Relay {
            core,
            agent,
            conversation,
            members,
            reply_id,
            text: String::new(),
            pending: String::new(),
            last_sent: Instant::now(),
        }
    }

    fn push(&mut self, piece: &str) {
        self.text.push_str(piece);
        self.pending.push_str(piece);
        if self.last_sent.elapsed() >= DELTA_EVERY {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let delta = std::mem::take(&mut self.pending);
            self.publish(DeltaState::Streaming, &delta);
        }
    }

    fn publish(&mut self, state: DeltaState, delta: &str) {
        self.last_sent = Instant::now();
        self.agent.in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(
            self.conversation.id,
            InFlight {
                reply_id: self.reply_id,
                conversation: self.conversation.clone(),
                state,
                text: self.text.clone(),
                stored: false,
            },
        );
        let event = Event::new(EventKind::MessageDelta {
            conversation: self.conversation.clone(),
            reply_id: self.reply_id,
            agent: self.agent.user.clone(),
            state,
            text: self.text.clone(),
            delta: delta.to_owned(),
        });
        self.core.hub.publish(event, &self.members);
    }

    fn failed(&mut self, failure: &Failure) {
        self.flush();
        let event = Event::new(EventKind::AgentFailed {
            conversation: self.conversation.clone(),
            reply_id: self.reply_id,
            code: failure.code(),
            message: failure.describe(),
        });
        self.core.hub.publish(event, &self.members);
    }
}

impl Core {
    /// Store the agent's reply to `to` and publish it (with `reply_id`, the
    /// id its deltas went out under).
    async fn store_reply(
        &self,
        conversation: Arc<Conversation>,
        agent: Arc<UserBrief>,
        text: String,
        incomplete: bool,
        to: MessageId,
        reply_id: Uuid,
    ) -> Result<Arc<Message>> {
        let in_flight = self.agent.as_ref().map(|a| a.in_flight.clone());
        let conv_id = conversation.id;
        let mark_stored = in_flight.clone();
        self.store_message(
            conversation,
            agent,
            super::messages::Stored {
                text,
                incomplete,
                reply_to: Some(to),
                reply_id: Some(reply_id),
            },
            move || {
                if let Some(map) = &mark_stored
                    && let Some(f) = map.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&conv_id)
                {
                    f.stored = true;
                }
            },
            move || {
                if let Some(map) = &in_flight {
                    map.lock().unwrap_or_else(|e| e.into_inner()).remove(&conv_id);
                }
            },
        )
        .await
    }
}
