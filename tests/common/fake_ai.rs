//! A scripted stand-in for an OpenAI-compatible backend: an HTTP server on
//! 127.0.0.1:0 that answers `POST /v1/chat/completions` with server-sent
//! events, one scripted step per request, and remembers what it was asked.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// What the backend does with one request.
pub enum Step {
    /// Stream these pieces, `gap` apart, then `[DONE]`.
    Reply(Vec<String>, Duration),
    /// Stream `before`, wait until the gate opens, stream `after`, `[DONE]`.
    Gated {
        before: Vec<String>,
        gate: Arc<Notify>,
        after: Vec<String>,
    },
    /// Answer with this status and body.
    Status(u16, String),
    /// One event that is not JSON.
    Malformed,
    /// Stream these pieces, then close without `[DONE]`.
    Truncated(Vec<String>),
    /// Stream these pieces, then an error event.
    ErrorEvent(Vec<String>, String),
    /// Accept and never answer.
    Hang,
}

impl Step {
    pub fn reply(pieces: &[&str]) -> Step {
        Step::Reply(pieces.iter().map(|s| s.to_string()).collect(), Duration::ZERO)
    }

    pub fn slow(pieces: &[&str], gap: Duration) -> Step {
        Step::Reply(pieces.iter().map(|s| s.to_string()).collect(), gap)
    }

    /// A reply that stops after `before` until the returned gate is opened.
    pub fn gated(before: &[&str], after: &[&str]) -> (Step, Arc<Notify>) {
        let gate = Arc::new(Notify::new());
        (
            Step::Gated {
                before: before.iter().map(|s| s.to_string()).collect(),
                gate: gate.clone(),
                after: after.iter().map(|s| s.to_string()).collect(),
            },
            gate,
        )
    }
}

#[derive(Clone, Default)]
struct State {
    script: Arc<Mutex<VecDeque<Step>>>,
    requests: Arc<Mutex<Vec<Value>>>,
    authorization: Arc<Mutex<Vec<Option<String>>>>,
    active: Arc<AtomicUsize>,
    most_active: Arc<AtomicUsize>,
}

pub struct FakeAi {
    /// The base URL to give natter (`…/v1`).
    pub url: String,
    state: State,
}

impl FakeAi {
    pub async fn start() -> FakeAi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake AI");
        let addr = listener.local_addr().expect("addr");
        let state = State::default();
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(st.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeAi {
            url: format!("http://{addr}/v1"),
            state,
        }
    }

    /// Answer the next request this way (requests without a step get "ok").
    pub fn then(&self, step: Step) -> &Self {
        self.state.script.lock().unwrap().push_back(step);
        self
    }

    /// The bodies of the requests so far.
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The Authorization header of each request.
    pub fn authorization(&self) -> Vec<Option<String>> {
        self.state.authorization.lock().unwrap().clone()
    }

    /// The most requests it ever had in progress at once.
    pub fn most_at_once(&self) -> usize {
        self.state.most_active.load(Ordering::SeqCst)
    }

    /// Wait until `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        tokio::time::timeout(super::PATIENCE, async {
            while self.requests().len() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the backend got {} requests, not {n}", self.requests().len()));
    }
}

/// A URL where nothing listens.
pub async fn nowhere() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

type Body = BoxBody<Bytes, Infallible>;

fn chunk(text: &str) -> Bytes {
    let event = json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    Bytes::from(format!("data: {event}\n\n"))
}

/// Counts a request as in progress until dropped (with its body stream).
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(st: State, req: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if path != "/v1/chat/completions" {
        return Ok(plain(404, "no such path"));
    }
    let now = st.active.fetch_add(1, Ordering::SeqCst) + 1;
    st.most_active.fetch_max(now, Ordering::SeqCst);
    let active = Active(st.active.clone());
    st.requests
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    st.authorization.lock().unwrap().push(auth);
    let step = st
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Step::reply(&["ok"]));
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    match step {
        Step::Status(code, text) => {
            drop(active);
            return Ok(plain(code, &text));
        }
        Step::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(active);
            return Ok(plain(500, "unreachable"));
        }
        Step::Reply(pieces, gap) => {
            tokio::spawn(async move {
                let _active = active;
                for p in pieces {
                    if !gap.is_zero() {
                        tokio::time::sleep(gap).await;
                    }
                    let _ = tx.send(chunk(&p)).await;
                }
                let _ = tx.send(Bytes::from("data: [DONE]\n\n")).await;
            });
        }
        Step::Gated { before, gate, after } => {
            tokio::spawn(async move {
                let _active = active;
                for p in before {
                    let _ = tx.send(chunk(&p)).await;
                }
                gate.notified().await;
                for p in after {
                    let _ = tx.send(chunk(&p)).await;
                }
                let _ = tx.send(Bytes::from("data: [DONE]\n\n")).await;
            });
        }
        Step::Malformed => {
            tokio::spawn(async move {
                let _active = active;
                let _ = tx.send(Bytes::from("data: {not json\n\n")).await;
            });
        }
        Step::Truncated(pieces) => {
            tokio::spawn(async move {
                let _active = active;
                for p in pieces {
                    let _ = tx.send(chunk(&p)).await;
                }
            });
        }
        Step::ErrorEvent(pieces, message) => {
            tokio::spawn(async move {
                let _active = active;
                for p in pieces {
                    let _ = tx.send(chunk(&p)).await;
                }
                let event = json!({"error": {"message": message}});
                let _ = tx.send(Bytes::from(format!("data: {event}\n\n"))).await;
            });
        }
    }
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut res = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    res.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    Ok(res)
}

fn plain(code: u16, text: &str) -> Response<Body> {
    let mut res = Response::new(BodyExt::boxed(Full::new(Bytes::from(text.to_owned()))));
    *res.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
    res
}
