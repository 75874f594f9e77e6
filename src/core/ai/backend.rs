//! The agent's backend: an OpenAI-compatible `POST {url}/chat/completions`
//! with `"stream": true`, answered with server-sent events
//! (`data: {"choices":[{"delta":{"content":"…"}}]}` … `data: [DONE]`).
//!
//! Every failure is a `Failure` whose text names the cause in words a user
//! may read; neither the key nor the URL is ever in it.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::config::{AiConfig, Secret};

/// One message of the prompt.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Turn {
    pub role: &'static str,
    pub content: String,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: &'a [Turn],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

/// Why a reply failed, and what the user is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Could not connect, or the connection broke before an answer.
    Unreachable(String),
    /// Silent for longer than `--ai-timeout`.
    Timeout(Duration),
    /// A status other than 200.
    Status(u16, String),
    /// Not the stream we expect: bad JSON, an error object, cut off.
    BadStream(String),
    /// The server is shutting down.
    Interrupted,
}

impl Failure {
    /// The `code` of the socket's `error` frame.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => "ai_unreachable",
            Failure::Timeout(_) => "ai_timeout",
            Failure::Status(..) => "ai_error",
            Failure::BadStream(_) => "ai_bad_stream",
            Failure::Interrupted => "ai_interrupted",
        }
    }

    /// The cause, as the user reads it.
    pub fn describe(&self) -> String {
        match self {
            Failure::Unreachable(why) => format!("the AI backend could not be reached ({why})"),
            Failure::Timeout(d) => format!("the AI backend did not answer within {} s", d.as_secs()),
            Failure::Status(code, detail) if detail.is_empty() => {
                format!("the AI backend answered with HTTP status {code}")
            }
            Failure::Status(code, detail) => format!("the AI backend answered with HTTP status {code}: {detail}"),
            Failure::BadStream(why) => format!("the AI backend's answer was broken ({why})"),
            Failure::Interrupted => "the server was shut down while the reply was being written".into(),
        }
    }
}

/// What the stream said, piece by piece.
pub enum Chunk {
    Text(String),
    /// `[DONE]`, or a `finish_reason`: the reply is whole.
    Done,
}

pub struct Backend {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: http::Uri,
    model: String,
    key: Option<Secret>,
    max_tokens: Option<u32>,
    pub timeout: Duration,
}

/// Longest error body kept from a non-200 answer (for the user's message).
const ERROR_DETAIL: usize = 200;

impl Backend {
    pub fn new(config: &AiConfig, url: &str, key: Option<Secret>) -> Result<Backend, String> {
        let endpoint = format!("{}/chat/completions", url.trim_end_matches('/'));
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err("--ai-url must start with http:// or https://".into());
        }
        let endpoint: http::Uri = endpoint.parse().map_err(|_| "--ai-url is not a valid URL".to_owned())?;
        let tls = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS for the AI backend: {e}"))?
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth();
        let mut plain = HttpConnector::new();
        plain.enforce_http(false);
        plain.set_connect_timeout(Some(config.ai_timeout));
        plain.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(plain);
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Backend {
            http,
            endpoint,
            model: config.ai_model.clone(),
            key,
            max_tokens: (config.ai_max_tokens > 0).then_some(config.ai_max_tokens),
            timeout: config.ai_timeout,
        })
    }

    /// Start a completion; the stream hands back its pieces.
    pub async fn start(&self, messages: &[Turn]) -> Result<Stream, Failure> {
        let body = Request {
            model: &self.model,
            messages,
            stream: true,
            max_tokens: self.max_tokens,
        };
        let json = serde_json::to_vec(&body).map_err(|e| Failure::BadStream(e.to_string()))?;
        let mut req = http::Request::post(self.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "text/event-stream");
        if let Some(key) = &self.key {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {}", key.0));
        }
        let req = req
            .body(Full::new(Bytes::from(json)))
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let res = match tokio::time::timeout(self.timeout, self.http.request(req)).await {
            Err(_) => return Err(Failure::Timeout(self.timeout)),
            Ok(Err(e)) => return Err(Failure::Unreachable(describe_transport(&e))),
            Ok(Ok(res)) => res,
        };
        let status = res.status();
        if status != http::StatusCode::OK {
            let body = tokio::time::timeout(self.timeout, res.into_body().collect()).await;
            let detail = match body {
                Ok(Ok(bytes)) => self.error_detail(&String::from_utf8_lossy(&bytes.to_bytes())),
                _ => String::new(),
            };
            return Err(Failure::Status(status.as_u16(), detail));
        }
        Ok(Stream {
            body: res.into_body(),
            buf: BytesMut::new(),
            timeout: self.timeout,
            finished: false,
        })
    }

    /// The useful part of an error body: an OpenAI-style `error.message`, or
    /// the start of the text; never the key.
    fn error_detail(&self, text: &str) -> String {
        #[derive(Deserialize)]
        struct Body {
            error: ErrorBody,
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            message: String,
        }
        let detail = serde_json::from_str::<Body>(text)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| text.trim().to_owned());
        let mut detail: String = detail.chars().take(ERROR_DETAIL).collect();
        if let Some(key) = &self.key
            && !key.0.is_empty()
        {
            detail = detail.replace(&key.0, "***");
        }
        detail
    }
}

/// A transport error in words, without the URL (it may hold credentials):
/// what kind of failure, and the innermost cause (`Connection refused`).
fn describe_transport(e: &(dyn std::error::Error + 'static)) -> String {
    let connect = e
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|e| e.is_connect());
    let what = if connect {
        "could not connect"
    } else {
        "the connection failed"
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if std::ptr::addr_eq(cause, e) {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

/// A completion being streamed.
pub struct Stream {
    body: Incoming,
    buf: BytesMut,
    timeout: Duration,
    finished: bool,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    choices: Vec<Choice>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    /// Some servers answer a streamed request with whole messages.
    #[serde(default)]
    message: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

impl Stream {
    /// The next piece of the reply, `Done` at its end.
    pub async fn next(&mut self) -> Result<Chunk, Failure> {
        if self.finished {
            return Ok(Chunk::Done);
        }
        loop {
            // One complete line at a time; events are `data: …` lines.
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(pos + 1);
                let line = std::str::from_utf8(&line)
                    .map_err(|_| Failure::BadStream("not UTF-8".into()))?
                    .trim();
                if let Some(chunk) = self.line(line)? {
                    return Ok(chunk);
                }
                continue;
            }
            match tokio::time::timeout(self.timeout, self.body.frame()).await {
                Err(_) => return Err(Failure::Timeout(self.timeout)),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(data.chunk());
                    }
                }
                Ok(Some(Err(e))) => return Err(Failure::Unreachable(describe_transport(&e))),
                Ok(None) => {
                    // A last line without its newline still counts.
                    if !self.buf.is_empty() {
                        self.buf.extend_from_slice(b"\n");
                        continue;
                    }
                    return Err(Failure::BadStream("it ended before the reply was finished".into()));
                }
            }
        }
    }

    fn line(&mut self, line: &str) -> Result<Option<Chunk>, Failure> {
        let Some(data) = line.strip_prefix("data:") else {
            // Blank lines, comments (`: keep-alive`), `event:`/`id:` fields.
            return Ok(None);
        };
        let data = data.trim();
        if data == "[DONE]" {
            self.finished = true;
            return Ok(Some(Chunk::Done));
        }
        let event: Event =
            serde_json::from_str(data).map_err(|_| Failure::BadStream("an event was not valid JSON".into()))?;
        if let Some(err) = event.error {
            let message = err
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| err.to_string(), str::to_owned);
            let message: String = message.chars().take(ERROR_DETAIL).collect();
            return Err(Failure::BadStream(format!("it reported an error: {message}")));
        }
        let Some(choice) = event.choices.into_iter().next() else {
            return Ok(None);
        };
        let text = choice
            .delta
            .or(choice.message)
            .and_then(|d| d.content)
            .filter(|t| !t.is_empty());
        if let Some(text) = text {
            if choice.finish_reason.is_some() {
                // The final piece and the end in one event: keep the end for next time.
                self.finished = true;
            }
            return Ok(Some(Chunk::Text(text)));
        }
        if choice.finish_reason.is_some() {
            self.finished = true;
            return Ok(Some(Chunk::Done));
        }
        Ok(None)
    }
}
