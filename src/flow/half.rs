//! The two directions of a connection: which one a segment travels
//! ([`Side`]) and what the observer knows of its sequence space ([`Half`]).
//!
//! Sides are named by arrival: `A` sent the first segment seen, `B` the
//! other, so nothing here depends on a guess of which side is the client.

use super::Seq;

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
    pub(super) fn set_isn(&mut self, v: Seq) {
        self.isn = v;
        self.known |= KNOWN_ISN;
    }
    pub(super) fn set_next(&mut self, v: Seq) {
        self.next = v;
        self.known |= KNOWN_NEXT;
    }
    pub(super) fn set_max_ack(&mut self, v: Seq) {
        self.max_ack = v;
        self.known |= KNOWN_MAX_ACK;
    }
    pub(super) fn set_synack_ack(&mut self, v: Seq) {
        self.synack_ack = v;
        self.known |= KNOWN_SYNACK_ACK;
    }
}
