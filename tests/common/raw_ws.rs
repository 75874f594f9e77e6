//! A WebSocket client at the byte level, for what a well-behaved client
//! library will not send: unmasked frames, reserved bits, unknown opcodes,
//! text that is not UTF-8, or any bytes at all. It speaks plain TCP, so it
//! sees exactly how the server ends a connection: a close frame with a code,
//! or the connection just dropping (what a browser reports as 1006).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A frame to put on the wire, however wrong.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub fin: bool,
    /// RSV1..3 as the low three bits.
    pub rsv: u8,
    pub opcode: u8,
    /// Clients must mask; `false` breaks that rule.
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl RawFrame {
    pub fn text(payload: impl Into<Vec<u8>>) -> RawFrame {
        RawFrame {
            fin: true,
            rsv: 0,
            opcode: TEXT,
            masked: true,
            payload: payload.into(),
        }
    }

    pub fn binary(payload: impl Into<Vec<u8>>) -> RawFrame {
        RawFrame {
            opcode: BINARY,
            ..RawFrame::text(payload)
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![(u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 0xF)];
        let mask_bit = if self.masked { 0x80 } else { 0 };
        let n = self.payload.len();
        if n < 126 {
            out.push(mask_bit | n as u8);
        } else if n <= u16::MAX as usize {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        if self.masked {
            let key: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
            out.extend_from_slice(&key);
            out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend_from_slice(&self.payload);
        }
        out
    }
}

/// What the server did, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A text frame.
    Text(String),
    /// A close frame: its code (`None` if it had none) and reason.
    Close(Option<u16>, String),
    /// The TCP connection ended with no close frame (a browser says 1006).
    Dropped,
    /// Nothing within the time allowed.
    Silence,
}

pub struct RawWs {
    read: OwnedReadHalf,
    pub write: OwnedWriteHalf,
    buf: Vec<u8>,
    /// The server's answer to the handshake, headers and all.
    pub handshake: String,
    /// Compressed (RSV1) text frames received and inflated so far.
    pub compressed: usize,
    /// Whether the last text frame received came compressed.
    pub last_compressed: bool,
}

/// `text` compressed as one permessage-deflate message without context
/// (RFC 7692: raw deflate, sync-flushed, its 00 00 ff ff tail left off).
pub fn deflate(text: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    c.compress_vec(text, &mut out, flate2::FlushCompress::Sync)
        .expect("deflate");
    assert!(
        out.ends_with(&[0, 0, 0xff, 0xff]),
        "a sync flush ends in the empty block"
    );
    out.truncate(out.len() - 4);
    out
}

/// A compressed message's payload inflated, as a client does.
pub fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(payload.len() * 8 + 1024);
    loop {
        let before = d.total_in();
        d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
            .expect("the server's compressed frame inflates");
        input.drain(..(d.total_in() - before) as usize);
        if input.is_empty() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity());
    }
}

impl RawWs {
    /// Open `path` (with any `?token=`) on `addr`: the handshake by hand.
    /// `Err(status)` if the server refused the upgrade.
    pub async fn connect(addr: std::net::SocketAddr, path: &str) -> Result<RawWs, u16> {
        RawWs::connect_with(addr, path, "").await
    }

    /// `connect` with extra request header lines (each ending in `\r\n`),
    /// such as a `Sec-WebSocket-Extensions` offer.
    pub async fn connect_with(addr: std::net::SocketAddr, path: &str, headers: &str) -> Result<RawWs, u16> {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        stream.set_nodelay(true).ok();
        let (mut read, mut write) = stream.into_split();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n"
        );
        write.write_all(req.as_bytes()).await.expect("send handshake");
        let mut buf = Vec::new();
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(super::PATIENCE, read.read(&mut chunk))
                .await
                .expect("handshake answer in time")
                .expect("read handshake");
            assert!(n > 0, "connection closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        if status != 101 {
            return Err(status);
        }
        buf.drain(..end);
        Ok(RawWs {
            read,
            write,
            buf,
            handshake: head,
            compressed: 0,
            last_compressed: false,
        })
    }

    /// Put bytes on the wire; false if the server has already hung up.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        self.write.write_all(bytes).await.is_ok()
    }

    pub async fn send(&mut self, frame: &RawFrame) -> bool {
        self.send_bytes(&frame.encode()).await
    }

    pub async fn send_text(&mut self, text: &str) -> bool {
        self.send(&RawFrame::text(text.as_bytes())).await
    }

    /// The next frame the server sends (pings and pongs skipped), or how
    /// the connection ended, within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Seen {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some((first, payload, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                let (rsv1, opcode) = (first & 0x40 != 0, first & 0xF);
                match opcode {
                    TEXT => {
                        self.last_compressed = rsv1;
                        if rsv1 {
                            self.compressed += 1;
                            return Seen::Text(String::from_utf8_lossy(&inflate(&payload)).into_owned());
                        }
                        return Seen::Text(String::from_utf8_lossy(&payload).into_owned());
                    }
                    CLOSE => {
                        let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                        let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
                        return Seen::Close(code, reason);
                    }
                    _ => continue,
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.read.read(&mut chunk)).await {
                Err(_) => return Seen::Silence,
                Ok(Ok(0)) | Ok(Err(_)) => return Seen::Dropped,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    pub async fn next(&mut self) -> Seen {
        self.next_within(super::PATIENCE).await
    }

    /// The next text frame as JSON; panics on anything else.
    pub async fn next_json(&mut self) -> serde_json::Value {
        match self.next().await {
            Seen::Text(t) => serde_json::from_str(&t).unwrap_or_else(|e| panic!("frame is not JSON ({e}): {t}")),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Skip text frames until the connection ends; how it ended.
    pub async fn end(&mut self) -> Seen {
        loop {
            match self.next().await {
                Seen::Text(_) => continue,
                other => return other,
            }
        }
    }
}

/// One whole server frame at the start of `buf`: (its first byte: FIN,
/// RSV and opcode; payload; bytes used).
fn parse(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let first = buf[0];
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7F {
        126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize, 10),
        n => (n as usize, 2),
    };
    let key = if masked {
        let k: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(k)
    } else {
        None
    };
    let mut payload = buf.get(at..at + len)?.to_vec();
    if let Some(k) = key {
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= k[i % 4]);
    }
    Some((first, payload, at + len))
}
