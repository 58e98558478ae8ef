//! One TCP connection as seen by a passive observer: both half-connections'
//! sequence spaces, the lifecycle state machine, a Zeek-like history, and the
//! facts the verdicts need (FINs and RSTs with their sequence and
//! acknowledgement numbers, the first unanswered data of each side).
//!
//! Sides are named by arrival: `A` sent the first segment seen, `B` the other.
//! Which side is the client is decided later (the first SYN, else HTTP, else
//! ports), so nothing here depends on a guess.

use std::fmt;

use super::http::{self, Method, PathId, Paths, Req};
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
#[derive(Debug, Clone, Copy)]
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
    /// Its HTTP request line, when it starts with one (the target is in the
    /// analysis's [`Paths`]).
    pub request: Option<Req>,
    /// Whether the sender had sent data on this connection before (a reuse).
    pub reuse: bool,
}

impl Pending {
    /// Idle time before this data, ns.
    pub fn idle_ns(&self) -> Option<i64> {
        self.idle_since.map(|t| self.ns - t)
    }
}

/// "No time" in the packed fields below (timestamps are clamped to ±2^61).
const NO_NS: i64 = i64::MIN;

fn opt_ns(ns: i64) -> Option<i64> {
    (ns != NO_NS).then_some(ns)
}

/// [`Pending`] as stored: new data from one side answers the other's, so at
/// most one side has data pending at a time, and one slot per connection
/// holds it, packed into 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    start: Seq,
    ack: Seq,
    ns: i64,
    idle_since: i64,
    /// [`PathId`] of the request's target, 0 for none.
    path: u32,
    method: Option<Method>,
    side: Side,
    has_ack: bool,
    reuse: bool,
}

impl Waiting {
    fn view(&self) -> Pending {
        Pending {
            start: self.start,
            ns: self.ns,
            ack: self.has_ack.then_some(self.ack),
            idle_since: opt_ns(self.idle_since),
            request: self.request(),
            reuse: self.reuse,
        }
    }

    fn request(&self) -> Option<Req> {
        Some(Req {
            method: self.method?,
            path: PathId::new(self.path)?,
        })
    }
}

/// Maximum SYN times kept as evidence (connect timeouts retransmit at 1, 3,
/// 7, 15 s…; the first few say enough).
pub const SYN_TIMES: usize = 4;

/// One direction of a connection: what every segment reads or updates, in
/// 28 bytes. Sequence numbers that may be unknown have a bit in `known`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Half {
    isn: Seq,
    next: Seq,
    max_ack: Seq,
    synack_ack: Seq,
    /// Segments sent (saturating).
    pub packets: u32,
    /// Turns of data this side started (an HTTP client's requests).
    pub turns: u32,
    /// Pure SYNs (client) or SYN-ACKs (server) sent, retransmissions included.
    pub syns: u16,
    /// This side sent a SYN-ACK.
    pub synack: bool,
    known: u8,
}

const KNOWN_ISN: u8 = 1;
const KNOWN_NEXT: u8 = 2;
const KNOWN_MAX_ACK: u8 = 4;
const KNOWN_SYNACK_ACK: u8 = 8;

impl Half {
    fn get(&self, bit: u8, v: Seq) -> Option<Seq> {
        (self.known & bit != 0).then_some(v)
    }
    /// Initial sequence number, if the SYN was seen.
    pub fn isn(&self) -> Option<Seq> {
        self.get(KNOWN_ISN, self.isn)
    }
    /// Next sequence number expected (end of the highest data seen).
    pub fn next(&self) -> Option<Seq> {
        self.get(KNOWN_NEXT, self.next)
    }
    /// Highest acknowledgement number sent.
    pub fn max_ack(&self) -> Option<Seq> {
        self.get(KNOWN_MAX_ACK, self.max_ack)
    }
    /// The acknowledgement number of this side's SYN-ACK (the peer's ISN + 1).
    pub fn synack_ack(&self) -> Option<Seq> {
        self.get(KNOWN_SYNACK_ACK, self.synack_ack)
    }
    fn set_isn(&mut self, v: Seq) {
        self.isn = v;
        self.known |= KNOWN_ISN;
    }
    fn set_next(&mut self, v: Seq) {
        self.next = v;
        self.known |= KNOWN_NEXT;
    }
    fn set_max_ack(&mut self, v: Seq) {
        self.max_ack = v;
        self.known |= KNOWN_MAX_ACK;
    }
    fn set_synack_ack(&mut self, v: Seq) {
        self.synack_ack = v;
        self.known |= KNOWN_SYNACK_ACK;
    }
}

/// What most connections never need, or only once they end: allocated by
/// the first FIN, RST, hole in the sequence space or repeated SYN.
#[derive(Debug, Clone, Default)]
struct Cold {
    fin: [Option<Fin>; 2],
    rst: [Option<Rst>; 2],
    /// The client's SYN times after the first.
    syn_ns: [i64; SYN_TIMES - 1],
    /// Sequence holes, rarer still (loss at the capture point, reordering).
    gaps: Option<Box<Gaps>>,
}

/// Holes in both sequence spaces.
#[derive(Debug, Clone, Default)]
struct Gaps {
    /// Holes still open: data missing from the capture (a hole that later
    /// data fills was only reordering).
    open: [u32; 2],
    /// The first open holes, so that data arriving late into them counts as
    /// new data, not as a retransmission.
    hole: [Holes; 2],
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
///
/// Eight letters and two sides make 16 possible entries: each is kept as a
/// 4-bit code (the letter's index in [`LETTERS`], plus 8 for side B).
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    codes: [u8; 8],
    /// One bit per code seen.
    seen: u16,
    len: u8,
}

/// The letters a history uses: SYN, SYN-ACK (handshake), pure ACK, data,
/// FIN, RST, retransmission, gap.
const LETTERS: [u8; 8] = *b"SHADFRTG";

impl History {
    fn note(&mut self, side: Side, letter: u8) {
        let Some(i) = LETTERS.iter().position(|&l| l == letter) else {
            return;
        };
        let code = i as u8 | (side.idx() as u8) << 3;
        if self.seen & (1 << code) != 0 {
            return;
        }
        self.seen |= 1 << code;
        let n = self.len as usize;
        self.codes[n / 2] |= code << (4 * (n % 2));
        self.len += 1;
    }

    /// The history with upper case for `upper` (the client, as Zeek does for
    /// the originator).
    pub fn render(&self, upper: Side) -> String {
        (0..self.len as usize)
            .map(|n| {
                let code = (self.codes[n / 2] >> (4 * (n % 2))) & 0xf;
                let letter = LETTERS[usize::from(code & 7)] as char;
                let side = if code & 8 == 0 { Side::A } else { Side::B };
                if side == upper {
                    letter
                } else {
                    letter.to_ascii_lowercase()
                }
            })
            .collect()
    }
}

/// One tracked connection: the fields every segment reads in about 230
/// bytes, and what only some connections need (FINs, RSTs, holes, repeated
/// SYNs) out of line in [`Cold`].
#[derive(Debug, Clone)]
pub struct Conn {
    /// Order of creation, unique in a run.
    pub id: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    last_payload_ns: i64,
    /// When the handshake completed (the client's ACK of the SYN-ACK).
    established_ns: i64,
    /// The client's first SYN (the side in `syn_client`).
    syn_ns: i64,
    /// New payload bytes of each side (per the IP header, captured or not).
    bytes: [u64; 2],
    cold: Option<Box<Cold>>,
    pending: Option<Waiting>,
    pub a: Endpoint,
    pub b: Endpoint,
    half: [Half; 2],
    pub vlan: u32,
    /// `Keep-Alive: timeout=N` from a response, in seconds; `u32::MAX` for none.
    keep_alive_s: u32,
    pub history: History,
    pub state: State,
    /// The side that sent the first pure SYN.
    pub syn_client: Option<Side>,
    /// The side HTTP says is the client (sent a request line, or received a
    /// status line).
    pub http_client: Option<Side>,
    /// Response heads read for a `Keep-Alive` header so far (a few are
    /// enough: the header does not change between responses).
    heads_scanned: u8,
}

impl Conn {
    /// A connection whose first seen segment went from `a` to `b`.
    pub fn new(id: u64, vlan: u32, a: Endpoint, b: Endpoint, ns: i64) -> Conn {
        Conn {
            id,
            first_ns: ns,
            last_ns: ns,
            last_payload_ns: NO_NS,
            established_ns: NO_NS,
            syn_ns: NO_NS,
            bytes: [0; 2],
            cold: None,
            pending: None,
            a,
            b,
            half: [Half::default(); 2],
            vlan,
            keep_alive_s: u32::MAX,
            history: History::default(),
            state: State::Established,
            syn_client: None,
            http_client: None,
            heads_scanned: 0,
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

    /// The last payload, either way.
    pub fn last_payload_ns(&self) -> Option<i64> {
        opt_ns(self.last_payload_ns)
    }

    /// When the handshake completed.
    pub fn established_ns(&self) -> Option<i64> {
        opt_ns(self.established_ns)
    }

    /// `Keep-Alive: timeout=N` from a response, in seconds.
    pub fn keep_alive_s(&self) -> Option<u32> {
        (self.keep_alive_s != u32::MAX).then_some(self.keep_alive_s)
    }

    /// New payload bytes `side` sent.
    pub fn bytes(&self, side: Side) -> u64 {
        self.bytes[side.idx()]
    }

    /// The first FIN of `side`.
    pub fn fin(&self, side: Side) -> Option<Fin> {
        self.cold.as_ref()?.fin[side.idx()]
    }

    /// The first RST of `side`.
    pub fn rst(&self, side: Side) -> Option<Rst> {
        self.cold.as_ref()?.rst[side.idx()]
    }

    /// Holes in the sequence space of `side` still open at the end.
    pub fn holes(&self, side: Side) -> u32 {
        self.cold
            .as_ref()
            .and_then(|c| c.gaps.as_ref())
            .map_or(0, |g| g.open[side.idx()])
    }

    /// The data of `side` that the other side has not answered yet.
    pub fn pending(&self, side: Side) -> Option<Pending> {
        self.pending
            .as_ref()
            .filter(|w| w.side == side)
            .map(Waiting::view)
    }

    /// The SYN times of `side` (the first [`SYN_TIMES`]), if it is the side
    /// that opened the connection; none otherwise.
    pub fn syn_times(&self, side: Side) -> impl Iterator<Item = i64> + '_ {
        let n = if self.syn_client == Some(side) {
            (self.h(side).syns as usize).min(SYN_TIMES)
        } else {
            0
        };
        let later = self.cold.as_ref().map_or(&[][..], |c| &c.syn_ns[..]);
        std::iter::once(self.syn_ns)
            .chain(later.iter().copied())
            .take(n)
    }

    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Heap bytes this connection holds out of line (its cold part and
    /// sequence holes, with the allocator's headers), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.cold.as_ref().map_or(0, |c| {
            std::mem::size_of::<Cold>()
                + 16
                + c.gaps
                    .as_ref()
                    .map_or(0, |_| std::mem::size_of::<Gaps>() + 16)
        })
    }

    /// Whether a new SYN from `side` starts a new connection on this 4-tuple
    /// (port reuse) rather than retransmitting this one's SYN.
    pub fn is_new_syn(&self, side: Side, seg: &Segment<'_>) -> bool {
        if !seg.flags.syn() || seg.flags.ack() {
            return false;
        }
        match self.h(side).isn() {
            Some(isn) => isn != Seq(seg.seq),
            // Mid-stream or SYN-ACK-only connections: a SYN from a side that
            // has already sent data, a FIN or a RST is a new connection.
            None => {
                // The SYN this side's peer already answered, captured late
                // (reordered handshake), belongs to this connection.
                let answered = self.h(side.other()).synack_ack() == Some(Seq(seg.seq) + 1);
                !answered
                    && (self.state.is_finished()
                        || self.h(side).packets > 0 && self.syn_client != Some(side))
            }
        }
    }

    /// Feeds one segment sent by `side`. A request's target goes into `paths`.
    pub fn process(&mut self, side: Side, seg: &Segment<'_>, paths: &mut Paths) -> Notes {
        let mut notes = Notes::default();
        let ns = seg.ts_ns;
        self.last_ns = self.last_ns.max(ns);
        let flags = seg.flags;
        let i = side.idx();
        self.half[i].packets = self.half[i].packets.saturating_add(1);
        let seq = Seq(seg.seq);
        let ack = flags.ack().then_some(Seq(seg.ack));

        if flags.syn() {
            self.on_syn(side, seq, ack, ns);
        }
        if self.half[i].next().is_none() {
            // Mid-stream: this segment defines where the side's data starts.
            self.half[i].set_next(if flags.syn() { seq + 1 } else { seq });
        }
        let data_seq = if flags.syn() { seq + 1 } else { seq };
        // RST payload is a diagnostic, never delivered to the application
        // (RFC 9293 3.5.3): it answers nothing and starts nothing.
        if seg.payload_len > 0 && !flags.rst() {
            self.on_payload(side, data_seq, ack, seg, paths, &mut notes);
        } else if !flags.syn() && !flags.fin() && !flags.rst() {
            self.history.note(side, b'A');
        }
        if let Some(a) = ack {
            let h = &mut self.half[i];
            if h.max_ack().is_none_or(|m| a > m) {
                h.set_max_ack(a);
            }
        }
        if flags.fin() {
            self.on_fin(side, data_seq + seg.payload_len, ack, seg, &mut notes);
        }
        if flags.rst() && self.rst(side).is_none() {
            self.cold().rst[i] = Some(Rst {
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

    fn on_fin(
        &mut self,
        side: Side,
        fin_seq: Seq,
        ack: Option<Seq>,
        seg: &Segment<'_>,
        notes: &mut Notes,
    ) {
        let i = side.idx();
        let ns = seg.ts_ns;
        let first = self.fin(side).is_none();
        // `next` stays at the end of the data: a FIN beyond it means data
        // is missing from the capture, and when that data shows up late
        // it must count as new, not as a retransmission.
        if seg.payload_len == 0
            && first
            && let Some(n) = self.half[i].next()
            && fin_seq > n
        {
            self.add_hole(side, n, fin_seq);
        }
        if !first {
            return;
        }
        let idle_since = match (self.pending(side.other()), ack) {
            // The FIN does not acknowledge the peer's pending data:
            // the closer had not received it, so its idle period
            // started before that data.
            (Some(p), Some(a)) if a <= p.start => p.idle_since,
            (Some(p), None) => p.idle_since,
            _ => self.last_payload_ns(),
        };
        let reply = self
            .fin(side.other())
            .is_some_and(|pf| ack.is_some_and(|a| a > pf.seq));
        self.cold().fin[i] = Some(Fin {
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

    fn on_syn(&mut self, side: Side, seq: Seq, ack: Option<Seq>, ns: i64) {
        let i = side.idx();
        if self.half[i].isn().is_none() {
            self.half[i].set_isn(seq);
            self.half[i].set_next(seq + 1);
        }
        if let Some(a) = ack {
            self.half[i].synack = true;
            self.half[i].set_synack_ack(a);
            self.history.note(side, b'H');
            // The handshake's first packet was missed: the other side is the client.
            self.syn_client.get_or_insert(side.other());
        } else {
            self.history.note(side, b'S');
            self.syn_client.get_or_insert(side);
        }
        // Only the client's SYN times are evidence (the server's SYN-ACKs are
        // counted, not timed).
        let n = self.half[i].syns as usize;
        if self.syn_client == Some(side) && n < SYN_TIMES {
            if n == 0 {
                self.syn_ns = ns;
            } else {
                self.cold().syn_ns[n - 1] = ns;
            }
        }
        self.half[i].syns = self.half[i].syns.saturating_add(1);
        let event = if ack.is_some() {
            Event::SynAck
        } else {
            Event::Syn
        };
        self.transition(side, event, ns);
    }

    fn add_hole(&mut self, side: Side, start: Seq, end: Seq) {
        let gaps = self.cold().gaps.get_or_insert_with(Box::default);
        gaps.open[side.idx()] += 1;
        gaps.hole[side.idx()].add(start, end);
        self.history.note(side, b'G');
    }

    fn on_payload(
        &mut self,
        side: Side,
        seq: Seq,
        ack: Option<Seq>,
        seg: &Segment<'_>,
        paths: &mut Paths,
        notes: &mut Notes,
    ) {
        let i = side.idx();
        let len = seg.payload_len;
        let end = seq + len;
        let next = self.half[i].next().unwrap_or(seq);
        // A late segment that fills the start of the pending data (it was
        // reordered behind later data) still tells what the request was.
        if let Some(w) = &mut self.pending
            && w.side == side
            && w.method.is_none()
            && w.start == seq
            && let Some((method, kept, longer)) = http::request_target(seg.payload)
        {
            w.method = Some(method);
            w.path = paths.put(kept, longer).get();
        }
        if end <= next {
            if self.fill_hole(side, seq, end) {
                // Reordered, not retransmitted: data that was missing arrived.
                self.history.note(side, b'D');
            } else {
                // Nothing beyond what this side already sent: a retransmission.
                self.history.note(side, b'T');
            }
            return;
        }
        if seq > next {
            // Data before this segment is not (yet) in the capture.
            self.add_hole(side, next, seq);
        }
        let new_bytes = end.diff(if seq > next { seq } else { next }).max(0) as u64;
        self.half[i].set_next(end);
        self.bytes[i] += new_bytes;
        self.history.note(side, b'D');

        // New data answers whatever the other side had pending.
        if let Some(w) = self.pending.take_if(|w| w.side != side) {
            notes.answered = Some((w.side, w.view()));
        }
        if self.pending.is_none() {
            let (method, path) = if seq == next {
                self.sniff(side, seg.payload, paths)
            } else {
                (None, 0)
            };
            self.pending = Some(Waiting {
                start: next,
                ack: ack.unwrap_or_default(),
                ns: seg.ts_ns,
                idle_since: self.last_payload_ns,
                path,
                method,
                side,
                has_ack: ack.is_some(),
                reuse: self.half[i].turns > 0,
            });
            self.half[i].turns += 1;
            notes.new_turn = true;
        }
        self.last_payload_ns = seg.ts_ns;
    }

    /// Counts the part of [seq, end) that falls into open holes as new data
    /// and shrinks them. Returns whether anything was filled.
    fn fill_hole(&mut self, side: Side, seq: Seq, end: Seq) -> bool {
        let i = side.idx();
        let Some(gaps) = self.cold.as_mut().and_then(|c| c.gaps.as_mut()) else {
            return false;
        };
        let (bytes, closed) = gaps.hole[i].fill(seq, end);
        gaps.open[i] = gaps.open[i].saturating_sub(closed);
        self.bytes[i] += bytes;
        bytes > 0
    }

    /// What the first bytes of a new turn say: the request line (also names
    /// the client; its target goes into `paths`), or a status line (names
    /// the server) with the server's `Keep-Alive` header.
    fn sniff(&mut self, side: Side, payload: &[u8], paths: &mut Paths) -> (Option<Method>, u32) {
        if let Some((method, kept, longer)) = http::request_target(payload) {
            self.http_client.get_or_insert(side);
            return (Some(method), paths.put(kept, longer).get());
        }
        if self.heads_scanned < MAX_HEADS_SCANNED && http::status_line(payload).is_some() {
            self.http_client.get_or_insert(side.other());
            self.heads_scanned += 1;
            if let Some(t) = http::response_head(payload).keep_alive_s {
                self.keep_alive_s = t;
                // Known: later responses need not be read.
                self.heads_scanned = MAX_HEADS_SCANNED;
            }
        }
        (None, 0)
    }

    /// Gives the request target this connection still holds back to
    /// `paths` (when the connection has been judged).
    pub fn release(&mut self, paths: &mut Paths) {
        if let Some(req) = self.pending.as_ref().and_then(Waiting::request) {
            paths.release(req.path);
        }
        self.pending = None;
    }

    fn set_state(&mut self, state: State, ns: i64) {
        if self.state == State::SynReceived && state == State::Established {
            self.established_ns = ns;
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
                if self.h(side).packets <= u32::from(self.h(side).syns) =>
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
    /// The flow table's default cap (`DEFAULT_MAX_CONNECTIONS`) and the
    /// promise of at most 256 bytes per open connection (with the table's
    /// index, about 10) rest on this. The out-of-line part comes on top
    /// for connections that sent a FIN or RST, and is counted by the cap's
    /// documentation.
    #[test]
    fn test_conn_size_is_bounded() {
        let (hot, cold) = (
            std::mem::size_of::<Option<super::Conn>>(),
            std::mem::size_of::<super::Cold>(),
        );
        assert!(hot <= 232, "{hot}");
        assert!(cold <= 160, "{cold}");
    }
}
