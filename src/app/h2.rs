//! HTTP/2 in the clear (prior knowledge h2c, and gRPC): the frame layer
//! followed across the segments of each direction by sequence numbers, the
//! way [`super::tls`] follows records, so that a frame header anywhere in
//! a segment, or split over two, is found where the previous frame's
//! length says. What it tells the connection (RFC 9113):
//!
//! - which bytes are streams (HEADERS, DATA, CONTINUATION, PUSH_PROMISE:
//!   requests and responses, the activity that restarts the idle clock) and
//!   which are control frames (SETTINGS and its ACK, PING, WINDOW_UPDATE,
//!   PRIORITY: neither requests nor activity — a proxy's SETTINGS-ACK or
//!   WINDOW_UPDATE one round trip after each response must not look like a
//!   request, nor move the idle clock off the end of the last stream);
//! - which streams the client opened (a HEADERS frame on a new odd id: a
//!   request, with `:method` and `:path` where HPACK allows, see
//!   [`super::hpack`]) and which the server answered;
//! - the server's GOAWAY (its last-stream-id and error code): an idle
//!   close's first step, never activity. A stream above last-stream-id was
//!   never processed (RFC 9113 §6.8), so it is safe to retry;
//! - RST_STREAM (a refused or cancelled stream): no answer, no activity.
//!
//! Only the bytes at frame headers are needed, and what follows a HEADERS
//! frame's header (the block's first bytes) or a GOAWAY's (its ids): a
//! segment that begins with the connection preface or a frame header keeps
//! a prefix covering every header in it ([`view`], what crosses from the
//! reader thread), plus its tail. A header outside them (past
//! [`SNIFF_BYTES`](crate::decode::SNIFF_BYTES) of one segment, or in a
//! segment that begins inside a long frame) loses the frame layer until a
//! segment begins with a frame header again; the bytes in between count as
//! stream data.

use super::framer::{Bytes, Framer, Lost};
use super::hpack::{self, Pseudo};
use crate::seq::Seq;

/// The client connection preface (RFC 9113 §3.4), before its SETTINGS.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of a frame header.
const HEADER: usize = 9;

/// Frame types (RFC 9113 §6).
pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

/// Flags.
pub const END_STREAM: u8 = 0x1;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

/// SETTINGS_MAX_FRAME_SIZE's initial value: the longest frame a peer sends
/// unless its peer raised it. A header found where the frame layer was
/// lost must be at most this long (and of a known type and shape) to be
/// taken for one; a followed frame may be up to 2^24 - 1.
const PLAUSIBLE_MAX_LEN: u32 = 16_384;

/// Bytes of a HEADERS frame's block kept for [`hpack::pseudo`]: a
/// request's pseudo-header fields come first, and a path is rarely longer.
const BLOCK_BYTES: usize = 256;

/// Frames walked per segment by [`view`] (a segment of 1448 bytes holds at
/// most 160 empty frames; real ones hold a few).
const MAX_FRAMES_VIEWED: usize = 192;

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub len: u32,
    pub ty: u8,
    pub flags: u8,
    pub stream: u32,
}

fn parse(b: &[u8; HEADER]) -> Frame {
    Frame {
        len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
        ty: b[3],
        flags: b[4],
        stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]),
    }
}

/// The frame header at the start of `b`, if it looks like one: a known
/// type, on stream 0 exactly for the connection's own frames, of the
/// length its type has, and no longer than the initial maximum.
pub fn plausible(b: &[u8]) -> Option<Frame> {
    let f = parse(b.get(..HEADER)?.try_into().ok()?);
    let shaped = match f.ty {
        DATA | HEADERS | CONTINUATION | PUSH_PROMISE => f.stream != 0,
        RST_STREAM => f.stream != 0 && f.len == 4,
        PRIORITY => f.stream != 0 && f.len == 5,
        SETTINGS => f.stream == 0 && f.len.is_multiple_of(6),
        PING => f.stream == 0 && f.len == 8,
        GOAWAY => f.stream == 0 && f.len >= 8,
        WINDOW_UPDATE => f.len == 4,
        _ => false,
    };
    (shaped && f.stream >> 31 == 0 && f.len <= PLAUSIBLE_MAX_LEN).then_some(f)
}

/// The payload bytes the frame layer may read: for a segment that begins
/// with the preface or a frame header, the prefix that holds every frame
/// header in it (and a HEADERS block's first [`BLOCK_BYTES`], a GOAWAY's
/// ids), at most [`SNIFF_BYTES`](crate::decode::SNIFF_BYTES); nothing
/// otherwise (the tail is read apart). Idempotent, so the reader thread
/// can carry exactly this.
pub fn view(payload: &[u8]) -> &[u8] {
    let start = if payload.starts_with(PREFACE) {
        PREFACE.len()
    } else if plausible(payload).is_some() {
        0
    } else {
        return &[];
    };
    let cap = payload.len().min(crate::decode::SNIFF_BYTES);
    let (mut at, mut keep) = (start, start);
    for _ in 0..MAX_FRAMES_VIEWED {
        if at >= payload.len() {
            break;
        }
        let Some(b) = payload.get(at..at + HEADER).filter(|_| at + HEADER <= cap) else {
            // A header cut by the segment's end: keep it all (its first
            // bytes are the next segment's header's). One past the sniff
            // bytes cannot be kept: the layer is lost there.
            if payload.len() <= crate::decode::SNIFF_BYTES {
                keep = payload.len();
            }
            break;
        };
        let f = parse(b.try_into().expect("nine bytes"));
        let body = at + HEADER;
        let want = match f.ty {
            HEADERS => body + (f.len as usize).min(BLOCK_BYTES),
            GOAWAY | RST_STREAM => body + (f.len as usize).min(8),
            _ => body,
        };
        keep = keep.max(want);
        if keep >= cap {
            break;
        }
        at = body + f.len as usize;
    }
    &payload[..keep.min(cap)]
}

/// A GOAWAY as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goaway {
    /// Its last-stream-id (the last GOAWAY's, which is the lowest: a
    /// graceful shutdown first says 2^31 - 1), when its bytes were read.
    pub last_stream_id: Option<u32>,
    /// Its error code (0 is NO_ERROR: an idle close or a shutdown).
    pub error: Option<u32>,
    /// When the first GOAWAY was seen: the close began there.
    pub first_ns: i64,
    /// GOAWAYs sent.
    pub count: u16,
}

/// A stream the client opened in a segment: its id, and its header
/// block's bytes in the view (past padding and priority), when there.
/// Decoded by [`Opened::pseudo`] only when the stream starts a turn: the
/// decoded form is large, and most segments need nothing of it.
#[derive(Debug, Clone, Copy)]
pub struct Opened<'a> {
    pub stream: u32,
    pub block: Option<&'a [u8]>,
}

impl Opened<'_> {
    /// `:method` and `:path`, as far as the block says them.
    pub fn pseudo(&self) -> Pseudo {
        self.block.map(hpack::pseudo).unwrap_or_default()
    }
}

/// What one segment's new bytes were, frame by frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// Stream frames (or bytes the frame layer could not follow): the
    /// segment is activity.
    pub activity: bool,
    /// The first stream the client opened in the segment.
    pub opened: Option<Opened<'a>>,
    /// A GOAWAY.
    pub goaway: bool,
}

/// One direction's frame layer.
#[derive(Debug, Clone, Copy, Default)]
struct Dir {
    /// Where the frames are.
    framer: Framer<HEADER>,
    /// The frame in progress (ending at the framer's next) is a stream frame.
    stream_frame: bool,
    /// Its last GOAWAY.
    goaway: Option<Goaway>,
}

/// Both directions of an HTTP/2 connection, and its streams.
#[derive(Debug, Clone)]
pub struct H2 {
    dir: [Dir; 2],
    /// The index of the side that sent the preface.
    client: usize,
    /// Highest stream id the client opened.
    opened: u32,
    /// Streams the client opened.
    streams: u32,
    /// Highest stream id the server sent HEADERS or DATA on.
    answered: u32,
    /// Streams the server reset (RST_STREAM: refused or cancelled).
    server_resets: u32,
    /// When the server last reset a stream.
    last_server_reset_ns: Option<i64>,
}

impl H2 {
    /// The frame layer of a connection whose side `client` sent the
    /// preface at `seq`.
    pub fn new(client: usize, seq: Seq) -> H2 {
        let mut dir = [Dir::default(); 2];
        dir[client].framer = Framer::synced_at(seq + PREFACE.len() as u32);
        H2 {
            dir,
            client,
            opened: 0,
            streams: 0,
            answered: 0,
            server_resets: 0,
            last_server_reset_ns: None,
        }
    }

    /// The index of the client side.
    pub fn client(&self) -> usize {
        self.client
    }

    /// Side `i`'s last GOAWAY.
    pub fn goaway(&self, i: usize) -> Option<Goaway> {
        self.dir[i].goaway
    }

    /// Highest stream id the client opened (0 for none).
    pub fn opened(&self) -> u32 {
        self.opened
    }

    /// Streams the client opened.
    pub fn streams(&self) -> u32 {
        self.streams
    }

    /// Highest stream id the server answered on (0 for none).
    pub fn answered(&self) -> u32 {
        self.answered
    }

    /// Streams the server reset with RST_STREAM.
    pub fn server_resets(&self) -> u32 {
        self.server_resets
    }

    /// When the server last reset a stream (RST_STREAM: a proxy refusing
    /// a stream its upstream lost, as HAProxy does).
    pub fn last_server_reset_ns(&self) -> Option<i64> {
        self.last_server_reset_ns
    }

    /// Side `i` sent new bytes [`from`, `end`) in a segment that starts at
    /// `seq` (`from` is later for a segment that overlaps older data), at
    /// `ns`. Returns what they were.
    pub fn feed<'a>(
        &mut self,
        i: usize,
        seq: Seq,
        from: Seq,
        end: Seq,
        bytes: Bytes<'a>,
        ns: i64,
    ) -> Seen<'a> {
        let mut seen = Seen::default();
        let d = &mut self.dir[i];
        match d
            .framer
            .begin(seq, from, end, plausible(bytes.head).is_some())
        {
            // Bytes the frame layer cannot follow count as stream data.
            Err(Lost) => {
                seen.activity = true;
                return seen;
            }
            // The body of the frame in progress.
            Ok(Some(_)) => seen.activity |= d.stream_frame,
            Ok(None) => {}
        }
        loop {
            let d = &mut self.dir[i];
            let (part, body) = match d.framer.header(seq, end, &bytes) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(Lost) => {
                    seen.activity = true;
                    return seen;
                }
            };
            let f = parse(&part);
            if f.stream >> 31 != 0 {
                // The reserved bit is set: not a frame header.
                d.framer.lose();
                seen.activity = true;
                return seen;
            }
            d.framer.body(body, f.len);
            d.stream_frame = matches!(f.ty, DATA | HEADERS | CONTINUATION | PUSH_PROMISE);
            let payload = usize::try_from(body.diff(seq))
                .ok()
                .and_then(|off| bytes.head.get(off..))
                .map(|p| &p[..p.len().min(f.len as usize)]);
            self.frame(i, f, payload, ns, &mut seen);
        }
        seen
    }

    /// One frame of side `i`, with the bytes of its payload the segment
    /// holds (none when they are not in the view).
    fn frame<'a>(
        &mut self,
        i: usize,
        f: Frame,
        payload: Option<&'a [u8]>,
        ns: i64,
        seen: &mut Seen<'a>,
    ) {
        let client = i == self.client;
        match f.ty {
            HEADERS if client && f.stream > self.opened && !f.stream.is_multiple_of(2) => {
                // A new stream: a request.
                self.opened = f.stream;
                self.streams = self.streams.saturating_add(1);
                seen.activity = true;
                if seen.opened.is_none() {
                    seen.opened = Some(Opened {
                        stream: f.stream,
                        block: payload.and_then(|p| block(f, p)),
                    });
                }
            }
            HEADERS | DATA if !client => {
                self.answered = self.answered.max(f.stream);
                seen.activity = true;
            }
            // Trailers, request bodies, header continuations, pushes.
            HEADERS | DATA | CONTINUATION | PUSH_PROMISE => seen.activity = true,
            RST_STREAM if !client => {
                self.server_resets = self.server_resets.saturating_add(1);
                self.last_server_reset_ns = Some(ns);
            }
            GOAWAY => {
                let ids = payload.and_then(|p| p.get(..8));
                let last = ids.map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
                let error = ids.map(|b| u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
                let d = &mut self.dir[i];
                let g = d.goaway.get_or_insert(Goaway {
                    last_stream_id: None,
                    error: None,
                    first_ns: ns,
                    count: 0,
                });
                g.count = g.count.saturating_add(1);
                // A later GOAWAY's last-stream-id can only be lower.
                if let Some(l) = last {
                    g.last_stream_id = Some(g.last_stream_id.map_or(l, |o| o.min(l)));
                }
                g.error = error.or(g.error);
                seen.goaway = true;
            }
            // SETTINGS (and its ACK), PING, WINDOW_UPDATE, PRIORITY, a
            // client's RST_STREAM, and unknown types (ignored, §5.5):
            // neither requests nor activity.
            _ => {}
        }
    }
}

/// The header block of a HEADERS frame's payload, past its padding length
/// and priority fields.
fn block(f: Frame, p: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    if f.flags & PADDED != 0 {
        at += 1;
    }
    if f.flags & PRIORITY_FLAG != 0 {
        at += 5;
    }
    p.get(at..)
}

#[cfg(test)]
mod tests;
