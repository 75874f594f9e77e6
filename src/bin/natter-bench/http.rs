//! A small keep-alive HTTP/1.1 client on hyper: one connection, one request
//! at a time. Enough for setting up a benchmark and timing requests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub struct Http {
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Http {
    pub async fn connect(base: &str) -> Http {
        let host = base.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let mut h = Http { host, sender: None };
        h.reconnect().await;
        h
    }

    async fn reconnect(&mut self) {
        self.sender = None;
        let Ok(tcp) = TcpStream::connect(&self.host).await else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let Ok((sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await else {
            return;
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
    }

    /// Status (0 if the server could not be reached) and JSON body (`Null` if none).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        for _ in 0..2 {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.reconnect().await;
            }
            let Some(sender) = self.sender.as_mut() else {
                return (0, Value::Null);
            };
            if sender.ready().await.is_err() {
                self.sender = None;
                continue;
            }
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", &self.host);
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let payload = match body {
                Some(v) => {
                    req = req.header("content-type", "application/json");
                    Bytes::from(serde_json::to_vec(v).expect("json"))
                }
                None => Bytes::new(),
            };
            let req = req.body(Full::new(payload)).expect("request");
            match sender.send_request(req).await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let bytes = res
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    return (status, json);
                }
                Err(_) => self.sender = None,
            }
        }
        (0, Value::Null)
    }

    pub async fn get(&mut self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request("GET", path, token, None).await
    }

    pub async fn post(&mut self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.request("POST", path, token, Some(body)).await
    }
}
