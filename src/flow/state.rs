//! The connection lifecycle as a pure function, smoltcp-style: one `match`
//! decides the next [`State`] from the current one, the [`Event`] a segment
//! fires and the [`Guards`], facts read from the connection before the
//! segment changed anything. Nothing here reads or writes a connection, so
//! every arm can be tested with plain values.

use std::fmt;

use super::half::Side;
use crate::decode::Flags;

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

/// What a segment means to the lifecycle state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A pure SYN (retransmissions included).
    Syn,
    /// A SYN-ACK (retransmissions included).
    SynAck,
    /// A segment with none of SYN, FIN and RST: an ACK, data, or both.
    Ack,
    /// The sender's first FIN (a retransmitted FIN fires nothing).
    Fin,
    /// The sender's first RST (a later one fires nothing).
    Rst,
}

/// The events of one segment, in the order they apply: SYN or SYN-ACK, then
/// FIN, then RST or ACK (a segment can carry SYN, FIN and RST at once).
pub type Events = [Option<Event>; 3];

/// Classifies a segment with `flags` into its events. `first_fin` and
/// `first_rst` say whether the sender had sent no FIN, no RST before.
pub fn events(flags: Flags, first_fin: bool, first_rst: bool) -> Events {
    let syn = flags.syn().then_some(if flags.ack() {
        Event::SynAck
    } else {
        Event::Syn
    });
    let fin = (flags.fin() && first_fin).then_some(Event::Fin);
    let last = if flags.rst() {
        first_rst.then_some(Event::Rst)
    } else if !flags.syn() && !flags.fin() {
        Some(Event::Ack)
    } else {
        None
    };
    [syn, fin, last]
}

/// The facts the transitions' guards need, read from the connection before
/// the segment changed any counter (so that no guard has to undo this
/// segment's own increments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guards {
    /// The other side had sent no packet.
    pub peer_silent: bool,
    /// Every packet the sender sent before this one was a SYN or SYN-ACK.
    pub sender_only_syns: bool,
    /// The sender is the side that sent the first pure SYN (the client).
    pub sender_is_syn_client: bool,
}

/// The state after `side` fired `event` in `state`: the lifecycle state
/// machine (every state change of a connection is decided here).
pub fn next(state: State, side: Side, event: Event, g: Guards) -> State {
    match (state, event) {
        // Both sides had closed: a RST now (to a late segment) ends nothing.
        (State::Closed, Event::Rst) => State::Closed,
        // The first RST ended the connection; nothing after it changes that.
        (State::Reset(s), _) => State::Reset(s),
        // A RST ends the connection whatever state it was in.
        (_, Event::Rst) => State::Reset(side),
        // A SYN on a fresh entry: the client opens.
        (State::Established, Event::Syn) if g.peer_silent => State::SynSent,
        // The server answers the SYN.
        (State::SynSent | State::Established, Event::SynAck) if g.sender_only_syns => {
            State::SynReceived
        }
        // The client's ACK (or data) completes the handshake.
        (State::SynReceived, Event::Ack) if g.sender_is_syn_client => State::Established,
        // A FIN before or after the handshake completed: one side has closed.
        (State::SynSent | State::SynReceived | State::Established, Event::Fin) => {
            State::HalfClosed(side)
        }
        // The second FIN, from the other side, closes the connection.
        (State::HalfClosed(s), Event::Fin) if s != side => State::Closed,
        // Anything else (ACKs, data, retransmitted SYNs) keeps the state.
        (state, _) => state,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const NONE: Guards = Guards {
        peer_silent: false,
        sender_only_syns: false,
        sender_is_syn_client: false,
    };
    const ALL: Guards = Guards {
        peer_silent: true,
        sender_only_syns: true,
        sender_is_syn_client: true,
    };

    const STATES: [State; 8] = [
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::HalfClosed(Side::A),
        State::HalfClosed(Side::B),
        State::Closed,
        State::Reset(Side::A),
        State::Reset(Side::B),
    ];
    const EVENTS: [Event; 5] = [
        Event::Syn,
        Event::SynAck,
        Event::Ack,
        Event::Fin,
        Event::Rst,
    ];

    fn f(bits: u8) -> Flags {
        Flags(bits)
    }

    // =========== Tests for classifying a segment ===========

    #[test]
    fn test_events_plain_segments() {
        use Event::*;
        assert_eq!(events(f(Flags::SYN), true, true), [Some(Syn), None, None]);
        let synack = f(Flags::SYN | Flags::ACK);
        assert_eq!(events(synack, true, true), [Some(SynAck), None, None]);
        assert_eq!(events(f(Flags::ACK), true, true), [None, None, Some(Ack)]);
        // Data without the ACK flag (or no flag at all) is still an Ack event.
        assert_eq!(events(f(0), true, true), [None, None, Some(Ack)]);
        let fin = f(Flags::FIN | Flags::ACK);
        assert_eq!(events(fin, true, true), [None, Some(Fin), None]);
        assert_eq!(events(f(Flags::RST), true, true), [None, None, Some(Rst)]);
    }

    #[test]
    fn test_events_repeated_fin_or_rst_fire_nothing() {
        let fin = f(Flags::FIN | Flags::ACK);
        assert_eq!(events(fin, false, true), [None, None, None]);
        assert_eq!(events(f(Flags::RST), true, false), [None, None, None]);
    }

    #[test]
    fn test_events_combined_flags_keep_their_order() {
        use Event::*;
        let all = f(Flags::SYN | Flags::FIN | Flags::RST);
        assert_eq!(events(all, true, true), [Some(Syn), Some(Fin), Some(Rst)]);
        assert_eq!(events(all, false, false), [Some(Syn), None, None]);
        let fin_rst = f(Flags::FIN | Flags::RST | Flags::ACK);
        assert_eq!(events(fin_rst, true, true), [None, Some(Fin), Some(Rst)]);
        assert_eq!(events(fin_rst, false, true), [None, None, Some(Rst)]);
    }

    #[test]
    fn test_display_uses_rfc_names() {
        assert_eq!(State::SynSent.to_string(), "SYN-SENT");
        assert_eq!(State::SynReceived.to_string(), "SYN-RECEIVED");
        assert_eq!(State::Established.to_string(), "ESTABLISHED");
        assert_eq!(State::HalfClosed(Side::B).to_string(), "HALF-CLOSED(B)");
        assert_eq!(State::Closed.to_string(), "CLOSED");
        assert_eq!(State::Reset(Side::A).to_string(), "RESET(A)");
    }

    #[test]
    fn test_is_finished() {
        for s in STATES {
            let want = matches!(s, State::Closed | State::Reset(_));
            assert_eq!(s.is_finished(), want, "{s}");
        }
    }

    // =========== Tests for RST, in any state ===========

    #[test]
    fn test_closed_rst() {
        assert_eq!(next(State::Closed, Side::A, Event::Rst, ALL), State::Closed);
    }

    #[test]
    fn test_reset_anything() {
        for event in EVENTS {
            for g in [NONE, ALL] {
                let got = next(State::Reset(Side::B), Side::A, event, g);
                assert_eq!(got, State::Reset(Side::B), "{event:?}");
            }
        }
    }

    #[test]
    fn test_any_open_state_rst() {
        for s in STATES.into_iter().filter(|s| !s.is_finished()) {
            assert_eq!(next(s, Side::B, Event::Rst, NONE), State::Reset(Side::B));
        }
    }

    // =========== Tests for the SYN-SENT state ===========

    #[test]
    fn test_syn_sent_synack() {
        let s = State::SynSent;
        assert_eq!(next(s, Side::B, Event::SynAck, ALL), State::SynReceived);
        // A SYN-ACK from a side that had sent other packets is no answer.
        assert_eq!(next(s, Side::B, Event::SynAck, NONE), s);
    }

    #[test]
    fn test_syn_sent_syn_retransmitted() {
        assert_eq!(
            next(State::SynSent, Side::A, Event::Syn, ALL),
            State::SynSent
        );
    }

    #[test]
    fn test_syn_sent_ack() {
        assert_eq!(
            next(State::SynSent, Side::A, Event::Ack, ALL),
            State::SynSent
        );
    }

    #[test]
    fn test_syn_sent_fin() {
        let got = next(State::SynSent, Side::A, Event::Fin, NONE);
        assert_eq!(got, State::HalfClosed(Side::A));
    }

    // =========== Tests for the SYN-RECEIVED state ===========

    #[test]
    fn test_syn_received_ack() {
        let s = State::SynReceived;
        assert_eq!(next(s, Side::A, Event::Ack, ALL), State::Established);
        // The server's own ACKs do not complete the handshake.
        assert_eq!(next(s, Side::B, Event::Ack, NONE), s);
    }

    #[test]
    fn test_syn_received_synack_retransmitted() {
        let s = State::SynReceived;
        assert_eq!(next(s, Side::B, Event::SynAck, ALL), s);
    }

    #[test]
    fn test_syn_received_fin() {
        let got = next(State::SynReceived, Side::B, Event::Fin, NONE);
        assert_eq!(got, State::HalfClosed(Side::B));
    }

    // =========== Tests for the ESTABLISHED state ===========

    #[test]
    fn test_established_syn() {
        let s = State::Established;
        assert_eq!(next(s, Side::A, Event::Syn, ALL), State::SynSent);
        // The peer had spoken: a SYN mid-connection opens nothing.
        assert_eq!(next(s, Side::A, Event::Syn, NONE), s);
    }

    #[test]
    fn test_established_synack() {
        let s = State::Established;
        assert_eq!(next(s, Side::B, Event::SynAck, ALL), State::SynReceived);
        assert_eq!(next(s, Side::B, Event::SynAck, NONE), s);
    }

    #[test]
    fn test_established_ack() {
        let s = State::Established;
        assert_eq!(next(s, Side::A, Event::Ack, ALL), s);
    }

    #[test]
    fn test_established_fin() {
        let got = next(State::Established, Side::A, Event::Fin, NONE);
        assert_eq!(got, State::HalfClosed(Side::A));
    }

    // =========== Tests for the HALF-CLOSED state ===========

    #[test]
    fn test_half_closed_fin() {
        let s = State::HalfClosed(Side::A);
        assert_eq!(next(s, Side::B, Event::Fin, NONE), State::Closed);
        // The same side cannot close twice.
        assert_eq!(next(s, Side::A, Event::Fin, NONE), s);
    }

    #[test]
    fn test_half_closed_ack_or_syn() {
        let s = State::HalfClosed(Side::B);
        for event in [Event::Syn, Event::SynAck, Event::Ack] {
            assert_eq!(next(s, Side::A, event, ALL), s, "{event:?}");
        }
    }

    // =========== Tests for the CLOSED state ===========

    #[test]
    fn test_closed_anything_but_rst() {
        for event in [Event::Syn, Event::SynAck, Event::Ack, Event::Fin] {
            let got = next(State::Closed, Side::A, event, ALL);
            assert_eq!(got, State::Closed, "{event:?}");
        }
    }
}
