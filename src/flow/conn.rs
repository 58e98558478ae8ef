//! One TCP connection as seen by a passive observer: both half-connections'
//! sequence spaces, the lifecycle state machine, a Zeek-like history, and the
//! facts the verdicts need (FINs and RSTs with their sequence and
//! acknowledgement numbers, the first unanswered data of each side).
//!
//! Sides are named by arrival: `A` sent the first segment seen, `B` the other.
//! Which side is the client is decided later (the first SYN, else HTTP, else
//! ports), so nothing here depends on a guess.

use std::fmt;

use super::http::{self, RequestLine};
use super::{Endpoint, Seq};
use crate::decode::Segment;

/// A side of a connection, by arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    /// Index into per-side arrays.
    pub fn idx(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Lifecycle of a connection as the observer sees it (RFC 793 names where
/// they fit; both halves are tracked, so there is one state per connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A SYN was seen, no SYN-ACK yet.
    SynSent,
    /// The SYN-ACK was seen, the handshake's last ACK not yet.
    SynReceived,
    /// Data can flow (also where a capture that starts mid-connection begins).
    Established,
    /// One side sent a FIN; the other may still send.
    HalfClosed(Side),
    /// Both sides sent FINs.
    Closed,
    /// A side sent a RST.
    Reset(Side),
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::SynSent => write!(f, "SYN-SENT"),
            State::SynReceived => write!(f, "SYN-RECEIVED"),
            State::Established => write!(f, "ESTABLISHED"),
            State::HalfClosed(s) => write!(f, "HALF-CLOSED({s:?})"),
            State::Closed => write!(f, "CLOSED"),
            State::Reset(s) => write!(f, "RESET({s:?})"),
        }
    }
}

impl State {
    /// True once nothing more is expected (both FINs, or a RST).
    pub fn is_finished(self) -> bool {
        matches!(self, State::Closed | State::Reset(_))
    }
}

/// A FIN as first seen.
#[derive(Debug, Clone, Copy)]
pub struct Fin {
    /// The sequence number the FIN occupies.
    pub seq: Seq,
    /// Its acknowledgement number: how much of the peer's data it had seen.
    pub ack: Option<Seq>,
    pub ns: i64,
    /// Start of the idle period the FIN ended: the last payload (either way)
    /// before it, not counting peer data the FIN does not acknowledge.
    pub idle_since: Option<i64>,
    /// The FIN segment carried payload (close right after a response).
    pub with_data: bool,
    /// The FIN acknowledges the peer's FIN: a reply to a close, not a close
    /// of its own (so it says nothing about this side's idle timeout).
    pub reply: bool,
}

/// A RST as first seen.
#[derive(Debug, Clone, Copy)]
pub struct Rst {
    pub ns: i64,
    pub seq: Seq,
    pub ack: Option<Seq>,
    /// Payload bytes the RST carried (some stacks put a reason there).
    pub payload: u32,
}

/// The first data of one side that the other has not answered yet: in
/// HTTP/1.x, an outstanding request (or an unacknowledged response).
#[derive(Debug, Clone)]
pub struct Pending {
    /// Where the data starts in its sender's sequence space.
    pub start: Seq,
    /// When the first new byte of it was seen.
    pub ns: i64,
    /// The segment's acknowledgement number: what the sender had seen of the
    /// peer (decides crossed vs stale races).
    pub ack: Option<Seq>,
    /// The last payload (either way) before it: the idle gap it ended.
    pub idle_since: Option<i64>,
    /// Its HTTP request line, when it starts with one.
    pub request: Option<RequestLine>,
    /// Whether the sender had sent data on this connection before (a reuse).
    pub reuse: bool,
}

impl Pending {
    /// Idle time before this data, ns.
    pub fn idle_ns(&self) -> Option<i64> {
        self.idle_since.map(|t| self.ns - t)
    }
}

/// Maximum SYN times kept as evidence (connect timeouts retransmit at 1, 3,
/// 7, 15 s…; the first few say enough).
pub const SYN_TIMES: usize = 4;

/// One direction of a connection.
#[derive(Debug, Clone, Default)]
pub struct Half {
    /// Initial sequence number, if the SYN was seen.
    pub isn: Option<Seq>,
    /// Pure SYNs (client) or SYN-ACKs (server) sent, retransmissions included.
    pub syns: u16,
    /// This side sent a SYN-ACK.
    pub synack: bool,
    /// The acknowledgement number of that SYN-ACK (the peer's ISN + 1).
    pub synack_ack: Option<Seq>,
    /// Times of the first SYNs.
    pub syn_ns: [i64; SYN_TIMES],
    /// Next sequence number expected (end of the highest data seen).
    pub next: Option<Seq>,
    /// Highest acknowledgement number sent.
    pub max_ack: Option<Seq>,
    pub fin: Option<Fin>,
    pub rst: Option<Rst>,
    pub packets: u64,
    /// New payload bytes (per the IP header, captured or not).
    pub bytes: u64,
    /// Payload segments entirely below `next`: retransmissions.
    pub retransmits: u32,
    /// Holes in the sequence space still open: data missing from the
    /// capture (a hole that later data fills was only reordering).
    pub holes: u32,
    /// The first open holes, so that data arriving late into them counts as
    /// new data, not as a retransmission.
    pub hole: Holes,
    /// Segments whose payload the snaplen cut.
    pub snapped: u32,
    /// Turns of data this side started (an HTTP client's requests).
    pub turns: u32,
    pub last_payload_ns: Option<i64>,
}

/// Responses read per connection looking for a `Keep-Alive` header.
const MAX_HEADS_SCANNED: u8 = 4;

/// Most holes remembered per direction (each swapped pair of segments makes
/// one while it lasts; more at once is rare and then counts as loss).
const MAX_HOLES: usize = 3;

/// Ranges of a sequence space not seen yet, [start, end).
#[derive(Debug, Clone, Copy, Default)]
pub struct Holes {
    start: [Seq; MAX_HOLES],
    end: [Seq; MAX_HOLES],
    n: u8,
}

impl Holes {
    /// Remembers a hole (forgotten when all slots are taken).
    fn add(&mut self, start: Seq, end: Seq) {
        let n = self.n as usize;
        if n < MAX_HOLES {
            self.start[n] = start;
            self.end[n] = end;
            self.n += 1;
        }
    }

    fn remove(&mut self, i: usize) {
        let last = self.n as usize - 1;
        self.start[i] = self.start[last];
        self.end[i] = self.end[last];
        self.n -= 1;
    }

    /// Fills [from, to) into the holes: returns the bytes that were missing
    /// and the number of holes now closed.
    fn fill(&mut self, from: Seq, to: Seq) -> (u64, u32) {
        let (mut bytes, mut closed) = (0u64, 0u32);
        let mut i = 0;
        while i < self.n as usize {
            let (hs, he) = (self.start[i], self.end[i]);
            let a = if from > hs { from } else { hs };
            let b = if to < he { to } else { he };
            if b <= a {
                i += 1;
                continue;
            }
            bytes += b.diff(a) as u64;
            if a == hs && b == he {
                self.remove(i);
                closed += 1;
                continue;
            } else if a == hs {
                self.start[i] = b;
            } else if b == he {
                self.end[i] = a;
            } else {
                // Filled in the middle: split, if there is room.
                self.end[i] = a;
                self.add(b, he);
            }
            i += 1;
        }
        (bytes, closed)
    }
}

/// What one segment changed that the analysis wants to know about.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    /// The segment answered the other side's pending data: which side's data
    /// was answered, and the pending record (its idle gap, request line).
    pub answered: Option<(Side, Pending)>,
    /// The segment started new pending data for its sender.
    pub new_turn: bool,
    /// The segment was this side's first FIN.
    pub fin: bool,
    /// The segment was this side's first RST.
    pub rst: bool,
}

/// Zeek-like history: one letter per kind of event and direction, in order of
/// first appearance; upper case for side A, lower case for side B.
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    letters: [u8; 16],
    len: u8,
    /// One bit per letter and side: (letter - 'A') + 32 × side.
    seen: u64,
}

impl History {
    fn note(&mut self, side: Side, letter: u8) {
        let bit = u32::from(letter - b'A') + 32 * side.idx() as u32;
        if self.seen & (1 << bit) != 0 || self.len as usize == self.letters.len() {
            return;
        }
        self.seen |= 1 << bit;
        self.letters[self.len as usize] = match side {
            Side::A => letter,
            Side::B => letter.to_ascii_lowercase(),
        };
        self.len += 1;
    }

    /// The history with upper case for `upper` (the client, as Zeek does for
    /// the originator).
    pub fn render(&self, upper: Side) -> String {
        self.letters[..self.len as usize]
            .iter()
            .map(|&c| {
                let c = c as char;
                if upper == Side::A {
                    c
                } else if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect()
    }
}

/// One tracked connection.
#[derive(Debug, Clone)]
pub struct Conn {
    /// Order of creation, unique in a run.
    pub id: u64,
    pub vlan: u32,
    pub a: Endpoint,
    pub b: Endpoint,
    pub first_ns: i64,
    pub last_ns: i64,
    pub state: State,
    pub half: [Half; 2],
    pub pending: [Option<Pending>; 2],
    pub last_payload_ns: Option<i64>,
    /// The side that sent the first pure SYN.
    pub syn_client: Option<Side>,
    /// The side HTTP says is the client (sent a request line, or received a
    /// status line).
    pub http_client: Option<Side>,
    /// `Keep-Alive: timeout=N` from a response, in seconds.
    pub keep_alive_s: Option<u32>,
    /// Response heads read for a `Keep-Alive` header so far (a few are
    /// enough: the header does not change between responses).
    pub heads_scanned: u8,
    /// When the handshake completed (the client's ACK of the SYN-ACK).
    pub established_ns: Option<i64>,
    pub history: History,
}

impl Conn {
    /// A connection whose first seen segment went from `a` to `b`.
    pub fn new(id: u64, vlan: u32, a: Endpoint, b: Endpoint, ns: i64) -> Conn {
        Conn {
            id,
            vlan,
            a,
            b,
            first_ns: ns,
            last_ns: ns,
            state: State::Established,
            half: [Half::default(), Half::default()],
            pending: [None, None],
            last_payload_ns: None,
            syn_client: None,
            http_client: None,
            keep_alive_s: None,
            heads_scanned: 0,
            established_ns: None,
            history: History::default(),
        }
    }

    /// The endpoint of a side.
    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    /// One half.
    pub fn h(&self, side: Side) -> &Half {
        &self.half[side.idx()]
    }

    /// True when the handshake (a SYN) was seen.
    pub fn saw_syn(&self) -> bool {
        self.syn_client.is_some()
    }

    /// Whether a new SYN from `side` starts a new connection on this 4-tuple
    /// (port reuse) rather than retransmitting this one's SYN.
    pub fn is_new_syn(&self, side: Side, seg: &Segment<'_>) -> bool {
        if !seg.flags.syn() || seg.flags.ack() {
            return false;
        }
        match self.h(side).isn {
            Some(isn) => isn != Seq(seg.seq),
            // Mid-stream or SYN-ACK-only connections: a SYN from a side that
            // has already sent data, a FIN or a RST is a new connection.
            None => {
                // The SYN this side's peer already answered, captured late
                // (reordered handshake), belongs to this connection.
                let answered = self.h(side.other()).synack_ack == Some(Seq(seg.seq) + 1);
                !answered
                    && (self.state.is_finished()
                        || self.h(side).packets > 0 && self.syn_client != Some(side))
            }
        }
    }

    /// Feeds one segment sent by `side`.
    pub fn process(&mut self, side: Side, seg: &Segment<'_>) -> Notes {
        let mut notes = Notes::default();
        let ns = seg.ts_ns;
        self.last_ns = self.last_ns.max(ns);
        let flags = seg.flags;
        let i = side.idx();
        self.half[i].packets += 1;
        let seq = Seq(seg.seq);
        let ack = flags.ack().then_some(Seq(seg.ack));

        if flags.syn() {
            self.on_syn(side, seq, ack, ns);
        }
        if self.half[i].next.is_none() {
            // Mid-stream: this segment defines where the side's data starts.
            self.half[i].next = Some(if flags.syn() { seq + 1 } else { seq });
        }
        let data_seq = if flags.syn() { seq + 1 } else { seq };
        // RST payload is a diagnostic, never delivered to the application
        // (RFC 9293 3.5.3): it answers nothing and starts nothing.
        if seg.payload_len > 0 && !flags.rst() {
            self.on_payload(side, data_seq, ack, seg, &mut notes);
        } else if !flags.syn() && !flags.fin() && !flags.rst() {
            self.history.note(side, b'A');
        }
        if let Some(a) = ack {
            let h = &mut self.half[i];
            if h.max_ack.is_none_or(|m| a > m) {
                h.max_ack = Some(a);
            }
        }
        if flags.fin() {
            let fin_seq = data_seq + seg.payload_len;
            // `next` stays at the end of the data: a FIN beyond it means data
            // is missing from the capture, and when that data shows up late
            // it must count as new, not as a retransmission.
            if seg.payload_len == 0
                && let Some(n) = self.half[i].next
                && fin_seq > n
                && self.half[i].fin.is_none()
            {
                let h = &mut self.half[i];
                h.holes += 1;
                h.hole.add(n, fin_seq);
                self.history.note(side, b'G');
            }
            if self.half[i].fin.is_none() {
                let idle_since = match (&self.pending[side.other().idx()], ack) {
                    // The FIN does not acknowledge the peer's pending data:
                    // the closer had not received it, so its idle period
                    // started before that data.
                    (Some(p), Some(a)) if a <= p.start => p.idle_since,
                    (Some(p), None) => p.idle_since,
                    _ => self.last_payload_ns,
                };
                let reply = self.half[side.other().idx()]
                    .fin
                    .is_some_and(|pf| ack.is_some_and(|a| a > pf.seq));
                self.half[i].fin = Some(Fin {
                    seq: fin_seq,
                    ack,
                    ns,
                    idle_since,
                    with_data: seg.payload_len > 0,
                    reply,
                });
                notes.fin = true;
                self.history.note(side, b'F');
                self.transition(side, Event::Fin, ns);
            }
        }
        if flags.rst() && self.half[i].rst.is_none() {
            self.half[i].rst = Some(Rst {
                ns,
                seq,
                ack,
                payload: seg.payload_len,
            });
            notes.rst = true;
            self.history.note(side, b'R');
            self.transition(side, Event::Rst, ns);
        } else if !flags.syn() && !flags.fin() && !flags.rst() {
            self.transition(side, Event::Ack, ns);
        }
        notes
    }

    fn on_syn(&mut self, side: Side, seq: Seq, ack: Option<Seq>, ns: i64) {
        let h = &mut self.half[side.idx()];
        if h.isn.is_none() {
            h.isn = Some(seq);
            h.next = Some(seq + 1);
        }
        if (h.syns as usize) < SYN_TIMES {
            h.syn_ns[h.syns as usize] = ns;
        }
        h.syns = h.syns.saturating_add(1);
        if ack.is_some() {
            h.synack = true;
            h.synack_ack = ack;
            self.history.note(side, b'H');
            if self.syn_client.is_none() {
                // The handshake's first packet was missed: the other side is the client.
                self.syn_client = Some(side.other());
            }
            self.transition(side, Event::SynAck, ns);
        } else {
            self.history.note(side, b'S');
            self.syn_client.get_or_insert(side);
            self.transition(side, Event::Syn, ns);
        }
    }

    fn on_payload(
        &mut self,
        side: Side,
        seq: Seq,
        ack: Option<Seq>,
        seg: &Segment<'_>,
        notes: &mut Notes,
    ) {
        let i = side.idx();
        let o = side.other().idx();
        let len = seg.payload_len;
        let end = seq + len;
        if seg.captured < len {
            self.half[i].snapped += 1;
        }
        let next = self.half[i].next.unwrap_or(seq);
        // A late segment that fills the start of the pending data (it was
        // reordered behind later data) still tells what the request was.
        if let Some(p) = &mut self.pending[i]
            && p.request.is_none()
            && p.start == seq
        {
            p.request = http::request_line(seg.payload);
        }
        if end <= next {
            if self.fill_hole(side, seq, end) {
                // Reordered, not retransmitted: data that was missing arrived.
                self.history.note(side, b'D');
            } else {
                // Nothing beyond what this side already sent: a retransmission.
                self.half[i].retransmits += 1;
                self.history.note(side, b'T');
            }
            return;
        }
        if seq > next {
            // Data before this segment is not (yet) in the capture.
            let h = &mut self.half[i];
            h.holes += 1;
            h.hole.add(next, seq);
            self.history.note(side, b'G');
        }
        let new_bytes = end.diff(if seq > next { seq } else { next }).max(0) as u64;
        let h = &mut self.half[i];
        h.next = Some(end);
        h.bytes += new_bytes;
        self.history.note(side, b'D');

        // New data answers whatever the other side had pending.
        if let Some(p) = self.pending[o].take() {
            notes.answered = Some((side.other(), p));
        }
        if self.pending[i].is_none() {
            let request = if seq == next {
                self.sniff(side, seg.payload)
            } else {
                None
            };
            self.pending[i] = Some(Pending {
                start: next,
                ns: seg.ts_ns,
                ack,
                idle_since: self.last_payload_ns,
                request,
                reuse: self.half[i].turns > 0,
            });
            self.half[i].turns += 1;
            notes.new_turn = true;
        }
        self.half[i].last_payload_ns = Some(seg.ts_ns);
        self.last_payload_ns = Some(seg.ts_ns);
    }

    /// Counts the part of [seq, end) that falls into open holes as new data
    /// and shrinks them. Returns whether anything was filled.
    fn fill_hole(&mut self, side: Side, seq: Seq, end: Seq) -> bool {
        let h = &mut self.half[side.idx()];
        let (bytes, closed) = h.hole.fill(seq, end);
        h.bytes += bytes;
        h.holes = h.holes.saturating_sub(closed);
        bytes > 0
    }

    /// What the first bytes of a new turn say: the request line (also names
    /// the client), or a status line (names the server) with the server's
    /// `Keep-Alive` header.
    fn sniff(&mut self, side: Side, payload: &[u8]) -> Option<RequestLine> {
        if let Some(line) = http::request_line(payload) {
            self.http_client.get_or_insert(side);
            return Some(line);
        }
        if self.heads_scanned < MAX_HEADS_SCANNED && http::status_line(payload).is_some() {
            self.http_client.get_or_insert(side.other());
            self.heads_scanned += 1;
            if let Some(t) = http::response_head(payload).keep_alive_s {
                self.keep_alive_s = Some(t);
                // Known: later responses need not be read.
                self.heads_scanned = MAX_HEADS_SCANNED;
            }
        }
        None
    }

    fn set_state(&mut self, state: State, ns: i64) {
        if self.state == State::SynReceived && state == State::Established {
            self.established_ns = Some(ns);
        }
        self.state = state;
    }

    /// The lifecycle state machine: every state change happens here.
    fn transition(&mut self, side: Side, event: Event, ns: i64) {
        let next = match (self.state, event) {
            // A RST ends the connection whatever state it was in.
            (State::Closed, Event::Rst) => State::Closed,
            (State::Reset(s), _) => State::Reset(s),
            (_, Event::Rst) => State::Reset(side),
            // A SYN on a fresh entry: the client opens.
            (State::Established, Event::Syn) if self.h(side.other()).packets == 0 => State::SynSent,
            // The server answers the SYN.
            (State::SynSent | State::Established, Event::SynAck)
                if self.h(side).packets <= u64::from(self.h(side).syns) =>
            {
                State::SynReceived
            }
            // The client's ACK (or data) completes the handshake.
            (State::SynReceived, Event::Ack) if Some(side) == self.syn_client => State::Established,
            // A FIN before or after the handshake completed: one side has closed.
            (State::SynSent | State::SynReceived | State::Established, Event::Fin) => {
                State::HalfClosed(side)
            }
            // The second FIN, from the other side, closes the connection.
            (State::HalfClosed(s), Event::Fin) if s != side => State::Closed,
            // Anything else (ACKs, data, retransmitted SYNs) keeps the state.
            (state, _) => state,
        };
        if next != self.state {
            self.set_state(next, ns);
        }
    }
}

/// What a segment means to the lifecycle state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Syn,
    SynAck,
    Ack,
    Fin,
    Rst,
}

#[cfg(test)]
mod size_test {
    /// The flow table's default cap (`DEFAULT_MAX_CONNECTIONS`) assumes about
    /// 750 bytes per open connection with its key and the map's overhead.
    #[test]
    fn test_conn_size_is_bounded() {
        assert!(
            std::mem::size_of::<super::Conn>() <= 704,
            "{}",
            std::mem::size_of::<super::Conn>()
        );
    }
}
