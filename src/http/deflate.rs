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
//! ones, so the frame and message size limits apply to the inflated text
//! (and a small frame that inflates past the limit is refused before it is
//! held in memory).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The `Sec-WebSocket-Extensions` answer when an offer is accepted.
pub const ACCEPTED: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// What every compressed message ends with and leaves off (RFC 7692 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Frames shorter than this go out uncompressed (allowed per message): the
/// few bytes deflate could save are not worth the client's inflate.
const MIN_COMPRESS: usize = 64;

/// Whether the client's `Sec-WebSocket-Extensions` offers permessage-deflate
/// in a form we accept: any of its offers with no parameter we cannot honour.
/// `server_max_window_bits` below 15 is declined (we compress with the full
/// window); the client then falls back to its next offer, or none.
pub fn offered<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|offer| acceptable(offer.trim()))
}

fn acceptable(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("permessage-deflate"))
    {
        return false;
    }
    let mut seen = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"'))),
            None => (param.to_ascii_lowercase(), None),
        };
        // A parameter given twice makes the offer invalid (RFC 7692 7).
        if seen.contains(&name) {
            return false;
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
            return false;
        }
        seen.push(name);
    }
    true
}

fn window_bits(v: &str) -> Option<u8> {
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
    /// The message inflates past the socket's size limit.
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

struct Inflater {
    limit: usize,
    head: [u8; 14],
    state: State,
    /// The compressed message being read: its inflater and how many bytes
    /// it has inflated to so far. None between messages.
    message: Option<(Decompress, usize)>,
    /// The inflated frame being built.
    frame: Vec<u8>,
    /// Bytes ready for tungstenite, and how many it has taken.
    out: Vec<u8>,
    taken: usize,
}

/// Buffers above this are given back once drained, so a socket that once
/// got a big message does not keep its size.
const KEEP: usize = 4096;

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
        }
    }

    /// Parse and transform `input`, appending what tungstenite should read to `out`.
    fn feed(&mut self, mut input: &[u8]) -> Result<(), InflateError> {
        while !input.is_empty() {
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Header { have } => {
                    let need = header_len(&self.head[..*have]);
                    let take = (need - *have).min(input.len());
                    self.head[*have..*have + take].copy_from_slice(&input[..take]);
                    *have += take;
                    input = &input[take..];
                    let have = *have;
                    // The length bytes change how long the header is.
                    if have == need && header_len(&self.head[..have]) == have {
                        self.start_frame(have)?;
                    }
                }
                State::Pass { left } => {
                    let take = (*left).min(input.len() as u64) as usize;
                    self.out.extend_from_slice(&input[..take]);
                    *left -= take as u64;
                    input = &input[take..];
                    if *left == 0 {
                        self.state = State::Header { have: 0 };
                    }
                }
                State::Inflate(f) => {
                    let take = f.left.min(input.len() as u64) as usize;
                    let mut chunk = [0u8; 1024];
                    let take = take.min(chunk.len());
                    chunk[..take].copy_from_slice(&input[..take]);
                    if let Some(mask) = f.mask {
                        for b in &mut chunk[..take] {
                            *b ^= mask[f.offset & 3];
                            f.offset += 1;
                        }
                    }
                    f.left -= take as u64;
                    input = &input[take..];
                    let done = f.left == 0;
                    self.inflate(&chunk[..take], false)?;
                    if done {
                        self.end_frame()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A whole header is in `head[..len]`: decide what to do with its frame.
    fn start_frame(&mut self, len: usize) -> Result<(), InflateError> {
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
            return Ok(());
        }
        if starts {
            self.message = Some((Decompress::new(false), 0));
        }
        let mask = masked.then(|| [h[len - 4], h[len - 3], h[len - 2], h[len - 1]]);
        self.state = State::Inflate(InflateFrame {
            left: payload,
            mask,
            offset: 0,
            fin,
            first: h[0] & !0x40,
        });
        if payload == 0 {
            self.end_frame()?;
        }
        Ok(())
    }

    /// Inflate `input` into the frame being built (`end`: the message's last
    /// bytes are in, flush everything out).
    fn inflate(&mut self, mut input: &[u8], end: bool) -> Result<(), InflateError> {
        let Some((z, total)) = self.message.as_mut() else {
            return Ok(());
        };
        let flush = if end {
            FlushDecompress::Sync
        } else {
            FlushDecompress::None
        };
        loop {
            if self.frame.capacity() - self.frame.len() < 512 {
                self.frame.reserve(4096.max(input.len() * 2));
            }
            let (in0, out0) = (z.total_in(), z.total_out());
            let status = z
                .decompress_vec(input, &mut self.frame, flush)
                .map_err(|_| InflateError::Corrupt)?;
            let consumed = (z.total_in() - in0) as usize;
            let produced = (z.total_out() - out0) as usize;
            input = &input[consumed..];
            *total += produced;
            if *total > self.limit {
                return Err(InflateError::TooLarge);
            }
            if status == Status::StreamEnd {
                // A final block ends the message's data: only the tail we
                // append may follow it.
                return if end || input.is_empty() {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt)
                };
            }
            // Output stops short only when the buffer is full: with room
            // left, everything this input gives is out.
            let room_left = self.frame.len() < self.frame.capacity();
            if room_left && input.is_empty() {
                return Ok(());
            }
            if room_left && consumed == 0 && produced == 0 {
                return Err(InflateError::Corrupt);
            }
        }
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
        self.frame.clear();
        if self.frame.capacity() > KEEP {
            self.frame = Vec::new();
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
                    z.out.clear();
                    z.taken = 0;
                    if z.out.capacity() > KEEP {
                        z.out = Vec::new();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if let State::Failed(e) = z.state {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
            let mut scratch = [0u8; 2048];
            let mut read = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The end of the stream: tungstenite tells a clean close
                // from a cut one by what it read before.
                return Poll::Ready(Ok(()));
            }
            if let Err(e) = z.feed(read.filled()) {
                z.message = None;
                z.frame = Vec::new();
                z.state = State::Failed(e);
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
        while !bytes.is_empty() {
            let len = header_len(bytes);
            let n = payload_len(&bytes[..len]) as usize;
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

    /// Everything `input` turns into, fed `step` bytes at a time.
    fn through(input: &[u8], step: usize, limit: usize) -> Result<Vec<u8>, InflateError> {
        let mut z = Inflater::new(limit);
        for chunk in input.chunks(step) {
            z.feed(chunk)?;
        }
        Ok(std::mem::take(&mut z.out))
    }

    #[test]
    fn offers_are_taken_only_when_every_parameter_can_be_honoured() {
        for yes in [
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
            "Permessage-Deflate; Client_No_Context_Takeover",
        ] {
            assert!(offered([yes]), "{yes}");
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
        ] {
            assert!(!offered([no]), "{no}");
        }
        assert!(offered(["foo", "permessage-deflate"]), "offers across header lines");
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
            let mut whole = got[1].1.clone();
            whole.extend_from_slice(&got[3].1);
            assert_eq!(texts.len(), 6, "step {step}");
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
        let _ = z.feed(&input[..600]);
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
}
