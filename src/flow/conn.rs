//! One TCP connection as seen by a passive observer: what each segment
//! changes in both half-connections' sequence spaces, in the lifecycle
//! state, the Zeek-like history, and the facts the verdicts need (FINs and
//! RSTs with their sequence and acknowledgement numbers, the first
//! unanswered data of each side).
//!
//! The parts that can be reasoned about alone live beside it: the state
//! machine ([`super::state`], a pure function this module fires once per
//! segment), sequence holes (the `holes` module), the history codec
//! ([`super::history`]), the sides ([`super::half`]) and the recorded facts
//! ([`super::facts`]); what payload does is in [`data`]. Which side is the
//! client is decided later (the first SYN, else HTTP, else ports), so
//! nothing here depends on a guess.

use super::holes::Holes;
use super::state::{self, Event, Guards};
use super::{Endpoint, Seq};
use crate::app::Layer;
use crate::app::h2::H2;
use crate::app::head::{Head, Sniff};
use crate::app::http::{Method, PathId, Paths, Req, RequestLine};
use crate::app::protocol::Protocol;
use crate::app::response::{Incomplete, Response};
use crate::app::tls::Tls;
use crate::decode::{Flags, Segment};

pub use super::facts::{Fin, Notes, Pending, Rst};
pub use super::half::{Half, Side};
pub use super::history::History;
pub use super::state::State;

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
    /// The TLS record layer or the HTTP/2 frame layer, for a connection
    /// that speaks TLS or h2c (out of line twice: most connections in a
    /// capture with TLS or h2 speak it, but the hot part has no room, and
    /// most captures have neither).
    layer: Option<Box<Layer>>,
    /// The request its client gave up on (a FIN with it unanswered), with
    /// its time: a client timeout's finding names it even when the server
    /// answered later. Kept here rather than in a map by connection id
    /// (issue 23: such a map, removed from as often as inserted into,
    /// doubled its table at a constant size, 41 MiB for 418 k requests at
    /// a 256 MiB budget, past what the budget counted).
    gave_up: Option<Box<(RequestLine, i64)>>,
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

/// Responses read per connection looking for a `Keep-Alive` header (a few
/// are enough: the header does not change between responses); counted by
/// the response ([`Response::heads_scanned`]).
const MAX_HEADS_SCANNED: u8 = 4;

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
    /// The input its first segment came from ([`Segment::input`]).
    pub input: u32,
    /// `Keep-Alive: timeout=N` from a response, in seconds; `u32::MAX` for none.
    keep_alive_s: u16,
    /// Where this connection's server's timeout statistics are kept, once
    /// found (as `analysis::timeouts` packs it; 0 for not yet): saves a
    /// hashed look-up per request (issue 22). Its client's index would
    /// save another, but the byte it needs would take the struct past 248
    /// bytes, now that the response follows bodies past 2^31 (issue 23).
    pub server_memo: u16,
    pub history: History,
    pub state: State,
    /// The side that sent the first pure SYN.
    pub syn_client: Option<Side>,
    /// The side HTTP says is the client (sent a request line, or received a
    /// status line).
    pub http_client: Option<Side>,
    /// The HTTP response in progress (the server side's).
    resp: Response,
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
            input: 0,
            keep_alive_s: u16::MAX,
            server_memo: 0,
            history: History::default(),
            state: State::Established,
            syn_client: None,
            http_client: None,
            resp: Response::default(),
        }
    }

    /// What the connection's payload speaks.
    pub fn protocol(&self) -> Protocol {
        if self.tls().is_some() {
            Protocol::Tls
        } else if self.h2().is_some() {
            Protocol::H2c
        } else if self.http_client.is_some() {
            Protocol::Http1
        } else {
            Protocol::Unknown
        }
    }

    /// The TLS record layer, when the connection speaks TLS.
    pub fn tls(&self) -> Option<&Tls> {
        match self.cold.as_ref()?.layer.as_deref()? {
            Layer::Tls(t) => Some(t),
            Layer::H2(_) | Layer::Text(_) => None,
        }
    }

    fn tls_mut(&mut self) -> Option<&mut Tls> {
        match self.cold.as_mut()?.layer.as_deref_mut()? {
            Layer::Tls(t) => Some(t),
            Layer::H2(_) | Layer::Text(_) => None,
        }
    }

    /// The HTTP/2 frame layer, when the connection speaks h2c.
    pub fn h2(&self) -> Option<&H2> {
        match self.cold.as_ref()?.layer.as_deref()? {
            Layer::H2(h) => Some(h),
            Layer::Tls(_) | Layer::Text(_) => None,
        }
    }

    /// When `side` began its close before its FIN: its first HTTP/2
    /// GOAWAY (the idle timer fired there; the FIN may follow once the
    /// peer acknowledged it, or a ping later).
    pub fn close_began_ns(&self, side: Side) -> Option<i64> {
        self.h2()?.goaway(side.idx()).map(|g| g.first_ns)
    }

    /// When the server last refused or cancelled an HTTP/2 stream
    /// (RST_STREAM): the answer, with no response, to a request pending.
    pub fn stream_reset_ns(&self) -> Option<i64> {
        self.h2()?.last_server_reset_ns()
    }

    /// When `side` began its close with bytes that carry no request: its
    /// first TLS alert (of any version), or a line of a text protocol sent
    /// after the peer's FIN (SMTP's `QUIT`). An RST that answers it tidies
    /// up a close; it loses nothing.
    pub fn goodbye_ns(&self, side: Side) -> Option<i64> {
        match self.cold.as_ref()?.layer.as_deref()? {
            Layer::Tls(t) => t.alert_ns(side.idx()),
            Layer::Text(t) => t.goodbye_ns(side.idx()),
            Layer::H2(_) => None,
        }
    }

    /// Bytes of `side`'s pending data `p` (its turn so far): for TLS, the
    /// application-data records only (not the alerts of a close).
    pub fn turn_bytes(&self, side: Side, p: &Pending) -> u64 {
        match self.tls() {
            Some(t) => u64::from(t.turn_app_bytes(side.idx())),
            None => self
                .h(side)
                .next()
                .map_or(0, |n| n.diff(p.start).max(0) as u64),
        }
    }

    /// The connection's key in the flow table.
    pub fn key(&self) -> super::FlowKey {
        super::FlowKey::new(self.vlan, self.a, self.b).0
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

    /// The handshake's round trip at the capture point: the opener's first
    /// SYN to the ACK that completed the handshake, when both were seen.
    pub fn handshake_ns(&self) -> Option<i64> {
        let opener = self.syn_client?;
        Some(self.established_ns()? - self.syn_times(opener).next()?)
    }

    /// `Keep-Alive: timeout=N` from a response, in seconds.
    pub fn keep_alive_s(&self) -> Option<u32> {
        (self.keep_alive_s != u16::MAX).then_some(u32::from(self.keep_alive_s))
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

    /// The server's HTTP response, if the server stopped sending it before
    /// its known end (so far: at a close, for good).
    pub fn incomplete_response(&self) -> Option<Incomplete> {
        let server = self.http_client?.other();
        let start = self.pending(server).map_or(self.first_ns, |p| p.ns);
        self.resp
            .incomplete(self.h(server).next(), start, self.bytes[server.idx()])
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

    /// Remembers `line`, sent at `ns`, as the request the client gave up on
    /// (the last one, if it gave up twice).
    pub fn give_up(&mut self, line: RequestLine, ns: i64) {
        self.cold().gave_up = Some(Box::new((line, ns)));
    }

    /// Takes the request the client gave up on, if any.
    pub fn take_given_up(&mut self) -> Option<(RequestLine, i64)> {
        self.cold.as_mut()?.gave_up.take().map(|b| *b)
    }

    /// Heap bytes this connection holds out of line (its cold part and
    /// sequence holes, with the allocator's headers), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        let layer = self
            .cold
            .as_ref()
            .and_then(|c| c.layer.as_ref())
            .map_or(0, |_| std::mem::size_of::<Layer>() + 16);
        layer
            + self.cold.as_ref().map_or(0, |c| {
                std::mem::size_of::<Cold>()
                    + 16
                    + c.gaps
                        .as_ref()
                        .map_or(0, |_| std::mem::size_of::<Gaps>() + 16)
                    + c.gave_up.as_ref().map_or(0, |g| {
                        // The box, and the target's own allocation.
                        std::mem::size_of::<(RequestLine, i64)>()
                            + 16
                            + if g.0.path.is_empty() {
                                0
                            } else {
                                g.0.path.len() + 16
                            }
                    })
            })
    }

    /// Gives the request target this connection still holds back to
    /// `paths` (when the connection has been judged).
    pub fn release(&mut self, paths: &mut Paths) {
        if let Some(req) = self.pending.as_ref().and_then(Waiting::request) {
            paths.release(req.path);
        }
        self.pending = None;
        self.resp.release(paths);
    }
}

mod control;
mod data;
mod segment;

#[cfg(test)]
mod tests;
