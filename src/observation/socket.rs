//! Socket events → the segments they stand for. A socket's byte counts are
//! its relative sequence numbers: with each side's initial sequence number
//! taken as 0 (its SYN occupies it), the data a side sent so far ends at
//! 1 + bytes, its FIN occupies the next number, and what it had received
//! is its acknowledgement number. So the flow table, the race's crossed
//! and stale kinds (does the request acknowledge the server's FIN?) and
//! the idle gaps work on kernel events as on packets, and both ends of a
//! connection seen on one node agree: a segment reported by both sockets
//! is one segment and its repeat (a retransmission to the flow table).
//!
//! What the kernel does not show is not invented: data carries no payload
//! (no request line, no status), so a lost request is "a request" of
//! unknown method. One thing is inferred, from the kernel's own words: an
//! RST that the kernel sent because data reached a socket after its close
//! (its reason says so, [`ResetReason::answers_data`]) stands for that
//! data, which the socket never reported receiving. Its length is unknown
//! and counted as 1 byte; it acknowledges the socket's FIN when the socket
//! was in a state where the peer had acknowledged it (FIN_WAIT2,
//! TIME_WAIT): that is what tells a stale race from a crossed one.

use std::collections::HashMap;

use super::{ResetReason, SocketChange, SocketEvent, TcpState};
use crate::decode::{Flags, Segment};
use crate::flow::{Endpoint, FlowKey};

/// Sockets followed per generation; two generations are kept, so memory is
/// bounded whatever the events (a socket's entry is dropped at its end).
pub const SOCKETS_PER_GENERATION: usize = 1 << 18;

/// Bytes a followed socket costs (its key, counts and the map's share),
/// for the memory budget.
pub const SOCKET_BYTES: usize = 96;

/// Bytes a 4-tuple's turn costs (its key, the turn and the map's share).
pub const TURN_BYTES: usize = 64;

/// One socket's counts, from its own end.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    /// Bytes it sent, and bytes it received.
    sent: u32,
    received: u32,
    /// It sent its FIN, and it received the peer's.
    fin_sent: bool,
    fin_received: bool,
    /// The connection's initial sequence number (both sides' here): 0 for
    /// the first connection on its 4-tuple, another for each that follows.
    isn: u32,
    /// What the peer is known to have received of it: all it had sent when
    /// the peer's data last came (an answer says its question arrived). A
    /// FIN from the peer acknowledges this much, no more: a request sent
    /// since may have crossed it.
    peer_has: u32,
}

impl Counts {
    /// Its next sequence number.
    fn snd(&self) -> u32 {
        1u32.wrapping_add(self.sent)
            .wrapping_add(u32::from(self.fin_sent))
    }
    /// What it acknowledges.
    fn rcv(&self) -> u32 {
        1u32.wrapping_add(self.received)
            .wrapping_add(u32::from(self.fin_received))
    }
}

/// The connections on one 4-tuple, one after another. Both sockets of a
/// connection join the same one, so they agree on its sequence numbers;
/// a socket that starts again begins the next, whose other initial
/// sequence number tells the flow table it is a new connection (port
/// reuse), as a new ISN does on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct Turn {
    n: u32,
    /// Which of the two ends started the current one.
    started: [bool; 2],
}

impl Turn {
    fn isn(self) -> u32 {
        // Far apart for consecutive turns (the golden ratio's bits).
        self.n.wrapping_mul(0x9E37_79B9)
    }
}

/// The sockets being followed.
#[derive(Debug, Default)]
pub struct Sockets {
    new: HashMap<(FlowKey, bool), Counts>,
    old: HashMap<(FlowKey, bool), Counts>,
    turns: HashMap<FlowKey, Turn>,
    old_turns: HashMap<FlowKey, Turn>,
}

/// A segment that a socket event stands for, without payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stand {
    /// Sent by the socket's own end (else by its peer).
    pub local: bool,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
}

impl Stand {
    /// The segment, at `ev`'s time.
    pub fn segment(&self, ev: &SocketEvent) -> Segment<'static> {
        let (src, dst) = if self.local {
            (ev.local, ev.remote)
        } else {
            (ev.remote, ev.local)
        };
        Segment {
            ts_ns: ev.ts_ns,
            vlan: 0,
            src: src.ip,
            dst: dst.ip,
            sport: src.port,
            dport: dst.port,
            flags: Flags(self.flags),
            seq: self.seq,
            ack: self.ack,
            payload_len: self.len,
            captured: 0,
            payload: &[],
            tail: &[],
            input: ev.input,
        }
    }
}

const ACK: u8 = Flags::ACK;

impl Sockets {
    /// The segments `ev` stands for, in order, into `out` (cleared first).
    pub fn stand_for(&mut self, ev: &SocketEvent, out: &mut Vec<Stand>) {
        out.clear();
        let key = (key(ev.local, ev.remote), low(ev.local, ev.remote));
        let mut c = self.take(&key);
        if let SocketChange::State {
            from: TcpState::SynRecv | TcpState::NewSynRecv,
            to: TcpState::Established,
        }
        | SocketChange::State {
            to: TcpState::SynSent,
            ..
        } = ev.what
        {
            // A new connection on the address: nothing of an old one counts.
            let turn = self.start(key.0, key.1);
            c = Counts {
                isn: turn.isn(),
                ..Counts::default()
            };
        }
        if c.peer_has == 0 {
            // Its SYN, at least.
            c.peer_has = 1;
        }
        let isn = c.isn;
        let local = |flags, seq: u32, ack: u32, len| Stand {
            local: true,
            flags,
            seq: seq.wrapping_add(isn),
            ack: ack.wrapping_add(isn),
            len,
        };
        let peer = |flags, seq: u32, ack: u32, len| Stand {
            local: false,
            flags,
            seq: seq.wrapping_add(isn),
            ack: ack.wrapping_add(isn),
            len,
        };
        let mut ended = false;
        match ev.what {
            SocketChange::State { from, to } => match (from, to) {
                // The socket connects: its SYN.
                (_, TcpState::SynSent) => out.push(local(Flags::SYN, 0, 0, 0)),
                // Its SYN answered: the peer's SYN-ACK and its own ACK.
                (TcpState::SynSent, TcpState::Established) => {
                    out.push(peer(Flags::SYN | ACK, 0, 1, 0));
                    out.push(local(ACK, 1, 1, 0));
                }
                // An accepted connection: the handshake as the server saw it.
                (TcpState::SynRecv | TcpState::NewSynRecv, TcpState::Established) => {
                    out.push(peer(Flags::SYN, 0, 0, 0));
                    out.push(local(Flags::SYN | ACK, 0, 1, 0));
                    out.push(peer(ACK, 1, 1, 0));
                }
                // It closed: its FIN.
                (TcpState::Established, TcpState::FinWait1)
                | (TcpState::CloseWait, TcpState::LastAck) => {
                    out.push(local(Flags::FIN | ACK, c.snd(), c.rcv(), 0));
                    c.fin_sent = true;
                }
                // The peer acknowledged its FIN.
                (TcpState::FinWait1, TcpState::FinWait2) => {
                    out.push(peer(ACK, c.rcv(), c.snd(), 0));
                }
                // The peer's FIN arrived (acknowledging this side's FIN
                // once the peer had, FIN_WAIT2).
                (TcpState::Established, TcpState::CloseWait)
                | (TcpState::FinWait1, TcpState::Closing)
                | (TcpState::FinWait2, TcpState::TimeWait) => {
                    let ack = if from == TcpState::FinWait2 {
                        c.snd()
                    } else {
                        c.peer_has
                    };
                    out.push(peer(Flags::FIN | ACK, c.rcv(), ack, 0));
                    c.fin_received = true;
                }
                // A socket that had closed its side hands the connection
                // to a time-wait mini-socket (its FIN_WAIT2 or TIME_WAIT
                // goes on there): the counts are kept for the RST that
                // mini-socket may send, and age out with their generation.
                (TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing, TcpState::Close) => {}
                (_, TcpState::Close) => ended = true,
                // LISTEN and the rest say nothing of a connection.
                _ => {}
            },
            SocketChange::Sent { bytes } => {
                out.push(local(Flags::PSH | ACK, c.snd(), c.rcv(), bytes));
                c.sent = c.sent.wrapping_add(bytes);
            }
            SocketChange::Received { bytes } => {
                out.push(peer(Flags::PSH | ACK, c.rcv(), c.snd(), bytes));
                c.received = c.received.wrapping_add(bytes);
                c.peer_has = c.snd();
            }
            SocketChange::ResetSent { state, reason } => {
                if answers_data(state, reason) {
                    // The data the RST answers: it acknowledges the FIN
                    // only if the peer had (stale), else not (crossed).
                    let ack = if state.fin_acked() {
                        c.snd()
                    } else {
                        c.snd().wrapping_sub(u32::from(c.fin_sent))
                    };
                    out.push(peer(Flags::PSH | ACK, c.rcv(), ack, 1));
                    c.received = c.received.wrapping_add(1);
                }
                out.push(local(Flags::RST | ACK, c.snd(), c.rcv(), 0));
                ended = true;
            }
            SocketChange::ResetReceived => {
                out.push(peer(Flags::RST, c.rcv(), 0, 0));
                ended = true;
            }
            // A repeat of its last byte: the flow table counts it as such.
            SocketChange::Retransmit if c.sent > 0 => {
                out.push(local(Flags::PSH | ACK, c.snd().wrapping_sub(1), c.rcv(), 1));
            }
            SocketChange::Retransmit => {}
        }
        if !ended {
            self.put(key, c);
        }
    }

    /// The end `low` of `key` starts a connection: it joins the one its
    /// peer started, or begins the next.
    fn start(&mut self, key: FlowKey, low: bool) -> Turn {
        let end = usize::from(low);
        let mut t = self
            .turns
            .remove(&key)
            .or_else(|| self.old_turns.remove(&key))
            .unwrap_or_default();
        if t.started[end] {
            t = Turn {
                n: t.n.wrapping_add(1),
                started: [false; 2],
            };
        }
        t.started[end] = true;
        self.turns.insert(key, t);
        if self.turns.len() >= SOCKETS_PER_GENERATION {
            self.old_turns = std::mem::take(&mut self.turns);
        }
        t
    }

    fn take(&mut self, key: &(FlowKey, bool)) -> Counts {
        self.new
            .remove(key)
            .or_else(|| self.old.remove(key))
            .unwrap_or_default()
    }

    fn put(&mut self, key: (FlowKey, bool), c: Counts) {
        self.new.insert(key, c);
        if self.new.len() >= SOCKETS_PER_GENERATION {
            self.old = std::mem::take(&mut self.new);
        }
    }

    /// Bytes the followed sockets and 4-tuples cost, for the memory budget.
    pub fn bytes(&self) -> usize {
        self.len() * SOCKET_BYTES + (self.turns.len() + self.old_turns.len()) * TURN_BYTES
    }

    /// Sockets followed now.
    pub fn len(&self) -> usize {
        self.new.len() + self.old.len()
    }

    /// Whether no socket is followed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether an RST sent in `state` for `reason` answers data that reached
/// the socket after its close (or that it closed with unread). Without a
/// reason (kernels before 6.10), the state says it: data after the close.
fn answers_data(state: TcpState, reason: Option<ResetReason>) -> bool {
    match reason {
        Some(r) => r.answers_data(),
        None => state.closed_here(),
    }
}

fn key(local: Endpoint, remote: Endpoint) -> FlowKey {
    FlowKey::new(0, local, remote).0
}

/// Which end of the key the socket is (the two sockets of one connection
/// are two entries).
fn low(local: Endpoint, remote: Endpoint) -> bool {
    FlowKey::new(0, local, remote).1
}

#[cfg(test)]
mod test {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        Endpoint {
            ip: ip.parse().unwrap(),
            port: port.parse().unwrap(),
        }
    }

    fn ev(what: SocketChange) -> SocketEvent {
        SocketEvent {
            ts_ns: 0,
            local: ep("10.0.0.2:3000"),
            remote: ep("10.0.0.1:40000"),
            what,
            input: 0,
        }
    }

    fn run(s: &mut Sockets, what: SocketChange) -> Vec<Stand> {
        let mut out = Vec::new();
        s.stand_for(&ev(what), &mut out);
        out
    }

    /// The server's view of a stale race: a request and its response, the
    /// idle close, the client's ACK of the FIN, then an RST for data that
    /// reached the closed socket: the data acknowledges the FIN.
    #[test]
    fn test_server_stale_race() {
        let mut s = Sockets::default();
        let st = |from, to| SocketChange::State { from, to };
        run(&mut s, st(TcpState::SynRecv, TcpState::Established));
        let r = run(&mut s, SocketChange::Received { bytes: 100 });
        assert_eq!(
            (r[0].local, r[0].seq, r[0].ack, r[0].len),
            (false, 1, 1, 100)
        );
        let r = run(&mut s, SocketChange::Sent { bytes: 200 });
        assert_eq!(
            (r[0].local, r[0].seq, r[0].ack, r[0].len),
            (true, 1, 101, 200)
        );
        let r = run(&mut s, st(TcpState::Established, TcpState::FinWait1));
        assert_eq!((r[0].flags & Flags::FIN, r[0].seq), (Flags::FIN, 201));
        run(&mut s, st(TcpState::FinWait1, TcpState::FinWait2));
        let r = run(
            &mut s,
            SocketChange::ResetSent {
                state: TcpState::TimeWait,
                reason: Some(ResetReason::TimewaitSocket),
            },
        );
        // The data: after the client's first request, acknowledging the FIN.
        assert_eq!((r[0].local, r[0].seq, r[0].ack), (false, 101, 202));
        assert_eq!((r[1].local, r[1].flags & Flags::RST), (true, Flags::RST));
        // The socket is gone.
        assert!(s.is_empty());
    }

    /// The kernel's own order on an idle close: the full socket goes
    /// FIN_WAIT2 → CLOSE when its time-wait mini-socket takes over, and
    /// that mini-socket sends the RST for the late request: the counts
    /// carry over, so the request acknowledges the FIN (stale).
    #[test]
    fn test_time_wait_takes_over() {
        let mut s = Sockets::default();
        let st = |from, to| SocketChange::State { from, to };
        run(&mut s, st(TcpState::SynRecv, TcpState::Established));
        run(&mut s, SocketChange::Received { bytes: 27 });
        run(&mut s, SocketChange::Sent { bytes: 125 });
        run(&mut s, st(TcpState::Established, TcpState::FinWait1));
        run(&mut s, st(TcpState::FinWait1, TcpState::FinWait2));
        assert!(run(&mut s, st(TcpState::FinWait2, TcpState::Close)).is_empty());
        let r = run(
            &mut s,
            SocketChange::ResetSent {
                state: TcpState::TimeWait,
                reason: Some(ResetReason::TimewaitSocket),
            },
        );
        assert_eq!((r[0].local, r[0].seq, r[0].ack), (false, 28, 127));
        assert_eq!((r[1].seq, r[1].flags & Flags::RST), (127, Flags::RST));
        // A new connection on the same address starts from nothing, with
        // another initial sequence number (port reuse).
        let r = run(&mut s, st(TcpState::SynRecv, TcpState::Established));
        let isn = r[0].seq;
        assert_ne!(isn, 0);
        let r = run(&mut s, SocketChange::Sent { bytes: 5 });
        assert_eq!((r[0].seq, r[0].ack), (isn + 1, isn + 1));
    }

    /// An RST in FIN_WAIT1 answers data that did not acknowledge the FIN
    /// (crossed), and an RST for another reason (an abort) stands for no data.
    #[test]
    fn test_crossed_and_abort() {
        let mut s = Sockets::default();
        let st = |from, to| SocketChange::State { from, to };
        run(&mut s, st(TcpState::SynRecv, TcpState::Established));
        run(&mut s, SocketChange::Sent { bytes: 10 });
        run(&mut s, st(TcpState::Established, TcpState::FinWait1));
        let r = run(
            &mut s,
            SocketChange::ResetSent {
                state: TcpState::FinWait1,
                reason: None,
            },
        );
        assert_eq!((r[0].local, r[0].ack), (false, 11));
        run(&mut s, st(TcpState::SynRecv, TcpState::Established));
        let r = run(
            &mut s,
            SocketChange::ResetSent {
                state: TcpState::Established,
                reason: Some(ResetReason::AbortOnMemory),
            },
        );
        assert_eq!(r.len(), 1);
        assert!(r[0].local);
    }
}
