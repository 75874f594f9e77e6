//! permessage-deflate (RFC 7692) for the sockets, beside tungstenite, which
//! has no extensions and fails any frame with a reserved bit set.
//!
//! We always answer with `server_no_context_takeover` and
//! `client_no_context_takeover`: every message is compressed on its own.
//! That is what lets a broadcast be compressed once and the same bytes go to
//! every socket (a shared compression context would make each socket's bytes
//! its own), and what lets a socket hold no compression state between
//! messages: a context is 32 KiB of window per direction, more than a whole
//! idle socket costs here.
//!
//! Outgoing: a frame's payload is compressed by [`compress`] and sent as a
//! raw frame with RSV1 set. Incoming: [`Peer`] sits between the TCP stream
//! and tungstenite, inflates compressed frames and hands tungstenite plain
//! ones, so the frame and message size limits apply to the inflated text.
//! A message that inflates past the limit is refused as soon as it does,
//! and at most one inflated frame waits for tungstenite at a time.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The `Sec-WebSocket-Extensions` answer when an offer is accepted.
const ACCEPTED: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
/// The answer to an offer naming `server_max_window_bits=15`, which is
/// accepted by repeating it (RFC 7692 7.1.2.1).
const ACCEPTED_FULL_WINDOW: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15";

/// What every compressed message ends with and leaves off (RFC 7692 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Frames shorter than this go out uncompressed (allowed per message): the
/// few bytes deflate could save are not worth the client's inflate.
const MIN_COMPRESS: usize = 64;

/// The `Sec-WebSocket-Extensions` answer to the client's offers, if one of
/// them is permessage-deflate in a form we accept: the first with no
/// parameter we cannot honour. `server_max_window_bits` below 15 is declined
/// (we compress with the full window); the client then falls back to its
/// next offer, or none.
pub fn negotiate<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    values.into_iter().flat_map(|v| v.split(',')).find_map(|offer| {
        let params = params(offer.trim())?;
        Some(if params.iter().any(|(n, _)| n == "server_max_window_bits") {
            ACCEPTED_FULL_WINDOW
        } else {
            ACCEPTED
        })
    })
}

/// A permessage-deflate offer's parameters, if we can honour every one.
fn params(offer: &str) -> Option<Vec<(String, Option<&str>)>> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("permessage-deflate"))
    {
        return None;
    }
    let mut seen: Vec<(String, Option<&str>)> = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"'))),
            None => (param.to_ascii_lowercase(), None),
        };
        // A parameter given twice makes the offer invalid (RFC 7692 7).
        if seen.iter().any(|(n, _)| *n == name) {
            return None;
        }
        let ok = match (name.as_str(), value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => true,
            // The client's window is its own business: it compresses without
            // context, so any window inflates with ours.
            ("client_max_window_bits", None) => true,
            ("client_max_window_bits", Some(v)) => window_bits(v).is_some(),
            ("server_max_window_bits", Some(v)) => window_bits(v) == Some(15),
            _ => false,
        };
        if !ok {
            return None;
        }
        seen.push((name, value));
    }
    Some(seen)
}

/// A window size as the RFC writes it: 8 to 15, digits only (no `+15`, no `015`).
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
}

thread_local! {
    /// One compressor per worker thread, reset for every message: a
    /// compressor's state is hundreds of KiB, too much to build per frame.
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
}

/// `payload` compressed as one message without context, or `None` when it
/// is too short to bother or does not get smaller (sent as it is).
pub fn compress(payload: &[u8]) -> Option<Bytes> {
    if payload.len() < MIN_COMPRESS {
        return None;
    }
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        // Room for the text and a little: output that does not fit is not
        // smaller than the text, so not worth sending compressed.
        let mut out = Vec::with_capacity(payload.len() + 16);
        let before = c.total_in();
        c.compress_vec(payload, &mut out, FlushCompress::Sync).ok()?;
        let all_in = c.total_in() - before == payload.len() as u64;
        // A sync flush ends in the empty stored block `TAIL`, which the
        // receiver puts back.
        if !all_in || out.len() == out.capacity() || !out.ends_with(&TAIL) {
            return None;
        }
        out.truncate(out.len() - TAIL.len());
        (out.len() < payload.len()).then(|| Bytes::from(out))
    })
}

/// Why a compressed frame from the peer was refused; carried inside the
/// `io::Error` tungstenite hands back, so the socket can close with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The message inflates (or its frames declare) past the size limit.
    TooLarge,
    /// The compressed data is not valid deflate.
    Corrupt,
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InflateError::TooLarge => "compressed message too large once inflated",
            InflateError::Corrupt => "compressed message is not valid deflate data",
        })
    }
}

impl std::error::Error for InflateError {}

/// The `InflateError` inside an error tungstenite returned, if that is what it is.
pub fn inflate_error(e: &io::Error) -> Option<&InflateError> {
    e.get_ref().and_then(|e| e.downcast_ref::<InflateError>())
}

/// A socket's byte stream: writes pass through; reads are handed on as they
/// are, or with compressed frames inflated when permessage-deflate was
/// agreed (`Peer::inflating`).
pub struct Peer<S> {
    io: S,
    inflate: Option<Box<Inflater>>,
}

impl<S> Peer<S> {
    /// A stream without compression.
    pub fn plain(io: S) -> Self {
        Peer { io, inflate: None }
    }

    /// A stream whose peer may compress its messages; `limit` is the most
    /// bytes one message may inflate to (0: no limit).
    pub fn inflating(io: S, limit: usize) -> Self {
        Peer {
            io,
            inflate: Some(Box::new(Inflater::new(limit))),
        }
    }

    pub fn is_inflating(&self) -> bool {
        self.inflate.is_some()
    }
}

/// Where the frame parser is.
enum State {
    /// Reading a frame header; `have` bytes of it are in `head`.
    Header { have: usize },
    /// Handing on `left` more payload bytes as they are.
    Pass { left: u64 },
    /// Inflating `left` more payload bytes of a compressed message's frame.
    Inflate(InflateFrame),
    /// A compressed message was refused: the stream is done.
    Failed(InflateError),
}

struct InflateFrame {
    left: u64,
    /// The frame's mask key and where in it the next byte is.
    mask: Option<[u8; 4]>,
    offset: usize,
    fin: bool,
    /// The first byte of the header handed on (FIN and opcode, no RSV1).
    first: u8,
}

/// The compressed message being read.
struct Message {
    z: Decompress,
    /// Bytes it has inflated to so far.
    inflated: usize,
    /// Compressed bytes its frames have declared so far.
    declared: u64,
    /// Its data ended with a final block: what follows is padding (RFC 7692
    /// 7.2.3.4) and is not inflated.
    ended: bool,
}

struct Inflater {
    limit: usize,
    head: [u8; 14],
    state: State,
    /// The compressed message being read; None between messages.
    message: Option<Message>,
    /// The inflated frame being built.
    frame: Vec<u8>,
    /// Bytes ready for tungstenite, and how many it has taken.
    out: Vec<u8>,
    taken: usize,
    /// Bytes read off the stream and not parsed yet: parsing pauses after
    /// each inflated frame until tungstenite has taken it, since one read
    /// can hold many small frames that each inflate to the limit.
    unparsed: Vec<u8>,
}

impl Inflater {
    fn new(limit: usize) -> Self {
        Inflater {
            limit: if limit == 0 { usize::MAX } else { limit },
            head: [0; 14],
            state: State::Header { have: 0 },
            message: None,
            frame: Vec::new(),
            out: Vec::new(),
            taken: 0,
            unparsed: Vec::new(),
        }
    }

    /// The most compressed bytes a message within the limit can declare:
    /// stored blocks, the worst case, add 5 bytes per 64 KiB, and a sender
    /// may pad with a few empty blocks. More is refused before it can keep
    /// the inflater busy with empty blocks.
    fn max_declared(&self) -> u64 {
        let limit = self.limit as u64;
        limit.saturating_add(limit / 16).saturating_add(1024)
    }

    /// Parse and transform the start of `input`, appending what tungstenite
    /// should read to `out`; how many bytes were used. Pauses after an
    /// inflated frame.
    fn feed(&mut self, input: &[u8]) -> Result<usize, InflateError> {
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Header { have } => {
                    let need = header_len(&self.head[..*have]);
                    let take = (need - *have).min(rest.len());
                    self.head[*have..*have + take].copy_from_slice(&rest[..take]);
                    *have += take;
                    at += take;
                    let have = *have;
                    // The length bytes can make the header longer.
                    if have == need && header_len(&self.head[..have]) == have && self.start_frame(have)? {
                        return Ok(at);
                    }
                }
                State::Pass { left } => {
                    let take = (*left).min(rest.len() as u64) as usize;
                    self.out.extend_from_slice(&rest[..take]);
                    *left -= take as u64;
                    at += take;
                    if *left == 0 {
                        self.state = State::Header { have: 0 };
                    }
                }
                State::Inflate(f) => {
                    let mut chunk = [0u8; 1024];
                    let take = (f.left.min(rest.len() as u64) as usize).min(chunk.len());
                    chunk[..take].copy_from_slice(&rest[..take]);
                    if let Some(mask) = f.mask {
                        for b in &mut chunk[..take] {
                            *b ^= mask[f.offset & 3];
                            f.offset += 1;
                        }
                    }
                    f.left -= take as u64;
                    at += take;
                    let done = f.left == 0;
                    self.inflate(&chunk[..take], false)?;
                    if done {
                        self.end_frame()?;
                        return Ok(at);
                    }
                }
            }
        }
        Ok(at)
    }

    /// A whole header is in `head[..len]`: decide what to do with its frame.
    /// True if that already handed on an inflated frame (an empty one).
    fn start_frame(&mut self, len: usize) -> Result<bool, InflateError> {
        let h = &self.head[..len];
        let (fin, rsv1, opcode) = (h[0] & 0x80 != 0, h[0] & 0x40 != 0, h[0] & 0x0f);
        let masked = h[1] & 0x80 != 0;
        let payload = payload_len(h);
        let starts = rsv1 && matches!(opcode, 1 | 2) && self.message.is_none();
        let continues = !rsv1 && opcode == 0 && self.message.is_some();
        if !starts && !continues {
            // Not compressed (or a protocol error, which tungstenite reports
            // when it reads the header as it came).
            self.out.extend_from_slice(h);
            self.state = if payload == 0 {
                State::Header { have: 0 }
            } else {
                State::Pass { left: payload }
            };
            return Ok(false);
        }
        let mask = masked.then(|| [h[len - 4], h[len - 3], h[len - 2], h[len - 1]]);
        let first = h[0] & !0x40;
        let max = self.max_declared();
        let message = self.message.get_or_insert_with(|| Message {
            z: Decompress::new(false),
            inflated: 0,
            declared: 0,
            ended: false,
        });
        message.declared = message.declared.saturating_add(payload);
        if message.declared > max {
            return Err(InflateError::TooLarge);
        }
        self.state = State::Inflate(InflateFrame {
            left: payload,
            mask,
            offset: 0,
            fin,
            first,
        });
        if payload == 0 {
            self.end_frame()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Inflate `input` into the frame being built (`end`: the message's last
    /// bytes are in, flush everything out).
    fn inflate(&mut self, mut input: &[u8], end: bool) -> Result<(), InflateError> {
        let Some(m) = self.message.as_mut() else {
            return Ok(());
        };
        let flush = if end {
            FlushDecompress::Sync
        } else {
            FlushDecompress::None
        };
        while !m.ended {
            if self.frame.capacity() - self.frame.len() < 512 {
                self.frame.reserve(4096.max(input.len() * 2));
            }
            let (in0, out0) = (m.z.total_in(), m.z.total_out());
            let status =
                m.z.decompress_vec(input, &mut self.frame, flush)
                    .map_err(|_| InflateError::Corrupt)?;
            let consumed = (m.z.total_in() - in0) as usize;
            let produced = (m.z.total_out() - out0) as usize;
            input = &input[consumed..];
            m.inflated += produced;
            if m.inflated > self.limit {
                return Err(InflateError::TooLarge);
            }
            if status == Status::StreamEnd {
                m.ended = true;
                break;
            }
            // Output stops short only when the buffer is full: with room
            // left, everything this input gives is out.
            let room_left = self.frame.len() < self.frame.capacity();
            if room_left && input.is_empty() {
                break;
            }
            if room_left && consumed == 0 && produced == 0 {
                return Err(InflateError::Corrupt);
            }
        }
        Ok(())
    }

    /// The compressed frame is all read: hand on its inflated form.
    fn end_frame(&mut self) -> Result<(), InflateError> {
        let State::Inflate(f) = std::mem::replace(&mut self.state, State::Header { have: 0 }) else {
            return Ok(());
        };
        if f.fin {
            self.inflate(&TAIL, true)?;
            self.message = None;
        }
        let len = self.frame.len();
        // Masked with a zero key, so the payload is the text itself: a
        // server's tungstenite insists that client frames are masked.
        let mask_bit = if f.mask.is_some() { 0x80 } else { 0 };
        self.out.reserve(len + 14);
        self.out.push(f.first);
        if len < 126 {
            self.out.push(mask_bit | len as u8);
        } else if len <= u16::MAX as usize {
            self.out.push(mask_bit | 126);
            self.out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.out.push(mask_bit | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if f.mask.is_some() {
            self.out.extend_from_slice(&[0; 4]);
        }
        self.out.extend_from_slice(&self.frame);
        // Nothing is kept between messages: an idle socket holds no buffer.
        if f.fin {
            self.frame = Vec::new();
        } else {
            self.frame.clear();
        }
        Ok(())
    }

    /// Refuse the rest of the stream; what was handed on before stands.
    fn fail(&mut self, e: InflateError) {
        self.message = None;
        self.frame = Vec::new();
        self.unparsed = Vec::new();
        self.state = State::Failed(e);
    }

    /// Parse what is waiting in `unparsed`, up to the next inflated frame.
    fn feed_unparsed(&mut self) -> Result<(), InflateError> {
        let input = std::mem::take(&mut self.unparsed);
        let used = self.feed(&input)?;
        if used < input.len() {
            self.unparsed = input[used..].to_vec();
        }
        Ok(())
    }
}

/// How long the header starting with `h` is, as far as `h` tells (2 until
/// the second byte is known).
fn header_len(h: &[u8]) -> usize {
    if h.len() < 2 {
        return 2;
    }
    let ext = match h[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + ext + if h[1] & 0x80 != 0 { 4 } else { 0 }
}

fn payload_len(h: &[u8]) -> u64 {
    match h[1] & 0x7f {
        126 => u16::from_be_bytes([h[2], h[3]]) as u64,
        127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
        n => n as u64,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Peer<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(z) = this.inflate.as_mut() else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        loop {
            if z.taken < z.out.len() {
                let n = (z.out.len() - z.taken).min(buf.remaining());
                buf.put_slice(&z.out[z.taken..z.taken + n]);
                z.taken += n;
                if z.taken == z.out.len() {
                    // Given back, not kept: a socket that once got a big
                    // message should not hold its size while idle.
                    z.out = Vec::new();
                    z.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if let State::Failed(e) = z.state {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
            if !z.unparsed.is_empty() {
                if let Err(e) = z.feed_unparsed() {
                    z.fail(e);
                }
                continue;
            }
            let mut scratch = [0u8; 2048];
            let mut read = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The end of the stream: tungstenite tells a clean close
                // from a cut one by what it read before.
                return Poll::Ready(Ok(()));
            }
            match z.feed(read.filled()) {
                Ok(used) if used < read.filled().len() => z.unparsed = read.filled()[used..].to_vec(),
                Ok(_) => {}
                Err(e) => z.fail(e),
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Peer<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: FIN, RSV1 and opcode in `first`, masked with `key`.
    fn frame(first: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![first];
        let bit = if key.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(bit | n as u8),
            n if n <= 0xffff => {
                out.push(bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match key {
            Some(k) => {
                out.extend_from_slice(&k);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    /// The frames tungstenite would read: (first byte, unmasked payload).
    fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        // Whole frames only: a frame handed on as it came may be partly there.
        while bytes.len() >= 2 && bytes.len() >= header_len(bytes) {
            let len = header_len(bytes);
            let n = payload_len(&bytes[..len]) as usize;
            if bytes.len() < len + n {
                break;
            }
            let mut payload = bytes[len..len + n].to_vec();
            if bytes[1] & 0x80 != 0 {
                let k = &bytes[len - 4..len];
                payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= k[i % 4]);
            }
            out.push((bytes[0], payload));
            bytes = &bytes[len + n..];
        }
        out
    }

    /// Everything `input` turns into, fed `step` bytes at a time, and taken
    /// by the reader whenever parsing pauses (at most one inflated frame
    /// waits at a time: checked here).
    fn through(input: &[u8], step: usize, limit: usize) -> Result<Vec<u8>, InflateError> {
        let mut z = Inflater::new(limit);
        let mut got = Vec::new();
        for chunk in input.chunks(step) {
            let mut chunk = chunk;
            while !chunk.is_empty() {
                let used = z.feed(chunk)?;
                let waiting = frames(&z.out).iter().filter(|(f, _)| f & 0x0f != 0x9).count();
                assert!(waiting <= 2, "{waiting} frames waiting at once");
                got.append(&mut z.out);
                chunk = &chunk[used..];
            }
        }
        Ok(got)
    }

    #[test]
    fn offers_are_taken_only_when_every_parameter_can_be_honoured() {
        for yes in [
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
            "Permessage-Deflate; Client_No_Context_Takeover",
        ] {
            assert_eq!(negotiate([yes]), Some(ACCEPTED), "{yes}");
        }
        for no in [
            "",
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; something_new",
            "permessage-deflate; client_max_window_bits=+15",
            "permessage-deflate; client_max_window_bits=015",
        ] {
            assert_eq!(negotiate([no]), None, "{no}");
        }
        assert!(
            negotiate(["foo", "permessage-deflate"]).is_some(),
            "offers across header lines"
        );
        // server_max_window_bits=15 is taken by naming it in the answer.
        assert_eq!(
            negotiate(["x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=15"]),
            Some(ACCEPTED_FULL_WINDOW)
        );
        assert_eq!(
            negotiate(["permessage-deflate; server_max_window_bits=10, permessage-deflate"]),
            Some(ACCEPTED),
            "the fallback offer, without the parameter"
        );
    }

    #[test]
    fn compressed_frames_inflate_however_the_bytes_arrive() {
        let text = "{\"action\": \"send\", \"message\": \"".to_owned() + &"héllo wörld ".repeat(300) + "\"}";
        let z = compress(text.as_bytes()).expect("text compresses");
        assert!(z.len() < text.len() / 5);
        let key = Some([1, 2, 3, 4]);
        let (a, b) = z.split_at(z.len() / 3);
        let mut input = frame(0x81, b"plain before", key); // uncompressed, handed on as it is
        input.extend(frame(0x40 | 0x01, a, key)); // compressed, not final
        input.extend(frame(0x89, b"ping", key)); // a ping between fragments
        input.extend(frame(0x80, b, key)); // the last fragment
        input.extend(frame(0xC1, &compress(b"x".repeat(100).as_slice()).unwrap(), key));
        input.extend(frame(0x81, b"plain after", key));
        for step in [1, 2, 3, 7, 64, 1000, input.len()] {
            let got = frames(&through(&input, step, 0).unwrap());
            let texts: Vec<(u8, &[u8])> = got.iter().map(|(f, p)| (*f, &p[..])).collect();
            assert_eq!(texts.len(), 6, "step {step}");
            let mut whole = got[1].1.clone();
            whole.extend_from_slice(&got[3].1);
            assert_eq!(texts[0], (0x81, &b"plain before"[..]));
            assert_eq!(texts[1].0, 0x01, "the first fragment: not final, RSV1 cleared");
            assert_eq!(texts[2], (0x89, &b"ping"[..]));
            assert_eq!(texts[3].0, 0x80, "the last fragment: a final continuation");
            assert_eq!(whole, text.as_bytes(), "step {step}");
            assert_eq!(texts[4], (0x81, &b"x".repeat(100)[..]));
            assert_eq!(texts[5], (0x81, &b"plain after"[..]));
        }
        // Unmasked frames (a server's, to a client) stay unmasked.
        let got = through(&frame(0xC1, &z, None), 5, 0).unwrap();
        assert_eq!(got[1] & 0x80, 0);
        assert_eq!(frames(&got), vec![(0x81, text.into_bytes())]);
    }

    #[test]
    fn a_message_that_inflates_past_the_limit_is_refused_as_it_inflates() {
        let big = vec![b'a'; 1 << 20];
        let z = compress(&big).unwrap();
        assert!(z.len() < 2048);
        let input = frame(0xC1, &z, Some([9, 9, 9, 9]));
        assert_eq!(through(&input, 512, 1000), Err(InflateError::TooLarge));
        let mut z = Inflater::new(1000);
        assert_eq!(z.feed(&input), Err(InflateError::TooLarge));
        assert!(z.frame.capacity() < 16 * 1024, "stopped near the limit, not at the end");
        assert_eq!(frames(&through(&input, 512, big.len()).unwrap())[0].1, big);
        // Bytes that are not deflate.
        assert_eq!(
            through(&frame(0xC1, &[0xff; 10], Some([0; 4])), 4, 0),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn only_frames_worth_it_are_compressed() {
        assert_eq!(compress(b"{\"action\": \"pong\"}"), None, "too short");
        // Bytes with no repeats do not get smaller.
        let mut x: u32 = 12345;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(compress(&noise), None);
        // Each message stands alone: compressing one does not change the next.
        let a = compress(&b"abcdefgh".repeat(20)).unwrap();
        compress(&b"something else entirely, twice: something else entirely".repeat(3)).unwrap();
        assert_eq!(compress(&b"abcdefgh".repeat(20)).unwrap(), a);
    }

    /// The examples of RFC 7692 7.2.3, each "Hello" in one message.
    #[test]
    fn the_rfc_examples_inflate() {
        let key = Some([7, 7, 7, 7]);
        let one = |payload: &[u8]| {
            let got = frames(&through(&frame(0xC1, payload, key), 3, 0).unwrap());
            assert_eq!(got, vec![(0x81, b"Hello".to_vec())], "{payload:02x?}");
        };
        one(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // 7.2.3.1
        one(&[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]); // 7.2.3.3: a stored block
        one(&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]); // 7.2.3.4: BFINAL, then padding
        one(&[
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ]); // 7.2.3.5: two blocks
        // 7.2.3.1, in two fragments; and 7.2.3.6: an empty fragment first.
        let mut input = frame(0x41, &[0xf2, 0x48], key);
        input.extend(frame(0x80, &[0xcd, 0xc9, 0xc9, 0x07, 0x00], key));
        let got = frames(&through(&input, 1, 0).unwrap());
        assert_eq!(got.iter().flat_map(|(_, p)| p.clone()).collect::<Vec<u8>>(), b"Hello");
        let mut input = frame(0x41, &[], key);
        input.extend(frame(0x80, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], key));
        let got = frames(&through(&input, 2, 0).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, b"Hello");
        // An empty message, compressed: one empty block.
        let got = frames(&through(&frame(0xC1, &[0x00], key), 1, 0).unwrap());
        assert_eq!(got, vec![(0x81, Vec::new())]);
    }

    #[test]
    fn many_small_frames_in_one_read_wait_their_turn() {
        // 20 frames of ~100 bytes that each inflate to 60 KB: one read holds
        // them all; only one inflated frame may wait for the reader.
        let z = compress(&vec![b'a'; 60_000]).unwrap();
        let one = frame(0xC1, &z, Some([1, 1, 1, 1]));
        let input = one.repeat(20);
        assert!(input.len() < 4096);
        let mut inflater = Inflater::new(70_000);
        let used = inflater.feed(&input).unwrap();
        assert_eq!(used, one.len(), "parsing pauses after the first frame");
        assert!(inflater.out.len() < 61_000);
        let got = frames(&through(&input, 2048, 70_000).unwrap());
        assert_eq!(got.len(), 20);
        assert!(got.iter().all(|(f, p)| *f == 0x81 && p.len() == 60_000));
        // A frame declaring far more compressed bytes than the limit allows
        // is refused at its header, before any of it is inflated.
        let mut huge = vec![0xC1, 0x80 | 127];
        huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
        huge.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Inflater::new(70_000).feed(&huge), Err(InflateError::TooLarge));
        // Nothing is held once a message is through.
        let mut inflater = Inflater::new(0);
        inflater.feed(&one).unwrap();
        assert_eq!(inflater.frame.capacity(), 0);
    }
}
