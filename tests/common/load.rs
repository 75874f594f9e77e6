//! Senders that keep sending until the server goes away, and remember
//! exactly which of their messages were acknowledged: an HTTP 200, or on a
//! native socket the `message` frame carrying the send's `client_id`. For
//! the shutdown tests: what is stored afterwards must be exactly what was
//! acknowledged.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use super::Client;

/// Sends a socket sender has out at once, unanswered.
const WINDOW: usize = 32;

/// How one sender ended.
#[derive(Debug, Default)]
pub struct Sent {
    /// Texts whose send was acknowledged.
    pub acked: Vec<String>,
    /// Sends made and never acknowledged (refused, or cut off by the stop).
    pub unacked: usize,
    /// Sockets: the close frame's code and reason (`None`: the connection
    /// ended without one, what a browser reports as 1006).
    pub close: Option<Option<(u16, String)>>,
    /// Sockets: error frames received (with the reason).
    pub errors: Vec<String>,
}

/// Senders at work.
#[derive(Default)]
pub struct Load {
    tasks: Vec<JoinHandle<Sent>>,
}

/// What all the senders saw, once the server stopped.
#[derive(Debug, Default)]
pub struct Outcome {
    pub acked: BTreeSet<String>,
    pub unacked: usize,
    pub socket_closes: Vec<Option<(u16, String)>>,
    pub errors: Vec<String>,
}

impl Load {
    pub fn new() -> Load {
        Load::default()
    }

    /// POST `/api/messages/` into `conversation` as `client`, one at a
    /// time, texts `{tag}-0`, `{tag}-1`, …, until an answer is not 200.
    pub fn http(&mut self, client: &Client, conversation: &str, tag: &str) {
        let (client, conversation, tag) = (client.clone(), conversation.to_owned(), tag.to_owned());
        self.tasks.push(tokio::spawn(async move {
            let mut sent = Sent::default();
            for n in 0.. {
                let text = format!("{tag}-{n}");
                let res = client
                    .http
                    .post(format!("{}/api/messages/", client.base))
                    .bearer_auth(client.token())
                    .json(&json!({"conversation_id": conversation, "message": text}))
                    .send()
                    .await;
                match res {
                    Ok(res) if res.status() == 200 => sent.acked.push(text),
                    _ => {
                        sent.unacked += 1;
                        break;
                    }
                }
            }
            sent
        }));
    }

    /// Send over a native user socket (`ws_base` is `ws://host:port`) into
    /// `conversation`, `WINDOW` sends out at a time, each with its text as
    /// its `client_id`, until the server closes the socket. Reads to the
    /// end, as a client should (the server's close frame is answered).
    pub async fn socket(&mut self, ws_base: &str, client: &Client, conversation: &str, tag: &str) {
        let url = format!("{ws_base}/api/ws?token={}", client.token());
        let (ws, _) = connect_async(&url).await.expect("socket");
        let (mut sink, mut stream) = ws.split();
        let window = Arc::new(Semaphore::new(WINDOW));
        let (conversation, tag) = (conversation.to_owned(), tag.to_owned());
        let prefix = format!("{tag}-");
        let reader = {
            let window = window.clone();
            tokio::spawn(async move {
                let mut sent = Sent::default();
                let mut close = None;
                while let Some(frame) = stream.next().await {
                    match frame {
                        Ok(Message::Text(t)) => {
                            let v: Value = serde_json::from_str(&t).expect("frame is JSON");
                            let Some(id) = v["client_id"].as_str().filter(|id| id.starts_with(&prefix)) else {
                                continue;
                            };
                            if v["action"] == "message" {
                                assert_eq!(v["message"]["message"], id, "the ack is for this send");
                                sent.acked.push(id.to_owned());
                            } else {
                                sent.errors.push(v.to_string());
                            }
                            window.add_permits(1);
                        }
                        Ok(Message::Close(f)) => close = f.map(|f| (u16::from(f.code), f.reason.to_string())),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                // Nothing more will be answered: the writer stops.
                window.close();
                sent.close = Some(close);
                sent
            })
        };
        let writer = tokio::spawn(async move {
            let mut made = 0usize;
            while let Ok(permit) = window.acquire().await {
                permit.forget();
                let text = format!("{tag}-{made}");
                let frame =
                    json!({"action": "send", "conversation_id": conversation, "message": text, "client_id": text});
                if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
                made += 1;
            }
            made
        });
        self.tasks.push(tokio::spawn(async move {
            let mut sent = reader.await.expect("reader");
            let made = writer.await.expect("writer");
            sent.unacked = made - sent.acked.len();
            sent
        }));
    }

    /// Wait for every sender to end (they end when the server goes away).
    pub async fn finish(self, patience: Duration) -> Outcome {
        let mut out = Outcome::default();
        for task in self.tasks {
            let sent = tokio::time::timeout(patience, task)
                .await
                .expect("a sender kept going after the stop")
                .expect("sender");
            out.acked.extend(sent.acked);
            out.unacked += sent.unacked;
            out.errors.extend(sent.errors);
            if let Some(close) = sent.close {
                out.socket_closes.push(close);
            }
        }
        out
    }
}

/// Every message text in the database at `db`, read with rusqlite.
pub fn stored_texts(db: &std::path::Path) -> BTreeSet<String> {
    if let Some(url) = db.to_str().filter(|_| natter::db::pg::is_url(db)) {
        return super::pg::strings(url, "SELECT body FROM messages")
            .into_iter()
            .collect();
    }
    let c = rusqlite::Connection::open(db).expect("open the database");
    let mut stmt = c.prepare("SELECT body FROM messages").expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("texts")
}

/// Copy the database file alone (no `-wal`, no `-shm`) into a new
/// directory and read its texts there.
pub fn texts_of_the_file_alone(db: &std::path::Path) -> BTreeSet<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("copy.db");
    std::fs::copy(db, &copy).expect("copy the database file");
    stored_texts(&copy)
}

/// The size of `db`'s `-wal` file (0 if there is none).
pub fn wal_size(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}
