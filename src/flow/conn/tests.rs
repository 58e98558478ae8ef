//! Tests of [`Conn`] in the smoltcp manner: one constructor per state, each
//! built by feeding real segments through [`Conn::process`], and tests named
//! `test_<state>_<event>` asserting the state and the facts the verdicts read
//! (FIN and RST records, pending data, handshake time, history, notes).

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::decode::Flags;

const SYN: u8 = Flags::SYN;
const ACK: u8 = Flags::ACK;
const FIN: u8 = Flags::FIN;
const RST: u8 = Flags::RST;

/// The client's and the server's initial sequence numbers.
const C: u32 = 1000;
const S: u32 = 5000;

/// Time between two segments fed by the tests, ns.
const STEP: i64 = 1_000_000;

/// A connection and the request targets it puts into the analysis's pool.
/// Side A is the client (it sends the first segment), B the server.
struct TestConn {
    conn: Conn,
    paths: Paths,
    /// Time of the last segment fed.
    ns: i64,
}

fn endpoint(last: u8, port: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        port,
    }
}

fn segment<'a>(
    ns: i64,
    side: Side,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &'a [u8],
) -> Segment<'a> {
    let (src, dst) = match side {
        Side::A => (endpoint(1, 40000), endpoint(2, 80)),
        Side::B => (endpoint(2, 80), endpoint(1, 40000)),
    };
    Segment {
        ts_ns: ns,
        vlan: 0,
        src: src.ip,
        dst: dst.ip,
        sport: src.port,
        dport: dst.port,
        flags: Flags(flags),
        seq,
        ack,
        payload_len: payload.len() as u32,
        captured: payload.len() as u32,
        payload,
    }
}

impl TestConn {
    fn new() -> TestConn {
        let conn = Conn::new(1, 0, endpoint(1, 40000), endpoint(2, 80), STEP);
        TestConn {
            conn,
            paths: Paths::default(),
            ns: 0,
        }
    }

    /// Feeds one segment from `side`, one [`STEP`] after the last.
    fn send(&mut self, side: Side, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Notes {
        self.ns += STEP;
        let seg = segment(self.ns, side, flags, seq, ack, payload);
        self.conn.process(side, &seg, &mut self.paths)
    }

    fn state(&self) -> State {
        self.conn.state
    }

    /// The history with the client (A) in upper case.
    fn history(&self) -> String {
        self.conn.history.render(Side::A)
    }
}

/// The client's SYN.
fn conn_syn_sent() -> TestConn {
    let mut t = TestConn::new();
    t.send(Side::A, SYN, C, 0, b"");
    assert_eq!(t.state(), State::SynSent);
    t
}

/// The server's SYN-ACK.
fn conn_syn_received() -> TestConn {
    let mut t = conn_syn_sent();
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::SynReceived);
    t
}

/// The client's ACK of the SYN-ACK.
fn conn_established() -> TestConn {
    let mut t = conn_syn_received();
    t.send(Side::A, ACK, C + 1, S + 1, b"");
    assert_eq!(t.state(), State::Established);
    t
}

/// The server's FIN (an idle keep-alive connection closed by the backend).
fn conn_half_closed_by_server() -> TestConn {
    let mut t = conn_established();
    t.send(Side::B, FIN | ACK, S + 1, C + 1, b"");
    assert_eq!(t.state(), State::HalfClosed(Side::B));
    t
}

/// The client's FIN in answer.
fn conn_closed() -> TestConn {
    let mut t = conn_half_closed_by_server();
    t.send(Side::A, FIN | ACK, C + 1, S + 2, b"");
    assert_eq!(t.state(), State::Closed);
    t
}

/// The server's RST on an established connection.
fn conn_reset() -> TestConn {
    let mut t = conn_established();
    t.send(Side::B, RST, S + 1, 0, b"");
    assert_eq!(t.state(), State::Reset(Side::B));
    t
}

// =========== Tests for the size of a connection ===========

/// The flow table's default cap (`DEFAULT_MAX_CONNECTIONS`) and the
/// promise of at most 256 bytes per open connection (with the table's
/// index, about 10) rest on this. The out-of-line part comes on top
/// for connections that sent a FIN or RST, and is counted by the cap's
/// documentation.
#[test]
fn test_conn_size_is_bounded() {
    let (hot, cold) = (
        std::mem::size_of::<Option<Conn>>(),
        std::mem::size_of::<Cold>(),
    );
    assert!(hot <= 232, "{hot}");
    assert!(cold <= 160, "{cold}");
}

// =========== Tests for a fresh entry ===========

#[test]
fn test_fresh_data_starts_established() {
    // A capture that starts mid-connection.
    let mut t = TestConn::new();
    t.send(Side::A, ACK, C, S, b"xyz");
    assert_eq!(t.state(), State::Established);
    assert!(!t.conn.saw_syn());
    assert_eq!(t.conn.established_ns(), None);
    assert_eq!(t.history(), "D");
}

#[test]
fn test_fresh_synack_first() {
    // The client's SYN was missed: the SYN-ACK names the other side client.
    let mut t = TestConn::new();
    t.send(Side::A, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::SynReceived);
    assert_eq!(t.conn.syn_client, Some(Side::B));
    t.send(Side::B, ACK, C + 1, S + 1, b"");
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.conn.established_ns(), Some(t.ns));
}

#[test]
fn test_fresh_data_then_handshake_stays_established() {
    // A SYN after the peer spoke opens nothing, and a SYN-ACK from a side
    // that had sent something else answers nothing.
    let mut t = TestConn::new();
    t.send(Side::B, ACK, S + 1, C + 1, b"late");
    t.send(Side::A, SYN, C, 0, b"");
    assert_eq!(t.state(), State::Established);
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::Established);
}

// =========== Tests for the SYN-SENT state ===========

#[test]
fn test_syn_sent_synack() {
    let mut t = conn_syn_sent();
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::SynReceived);
    assert_eq!(t.conn.h(Side::B).synack_ack(), Some(Seq(C + 1)));
    assert_eq!(t.conn.established_ns(), None);
    assert_eq!(t.history(), "Sh");
}

#[test]
fn test_syn_sent_syn_retransmitted() {
    let mut t = conn_syn_sent();
    let first = t.ns;
    t.send(Side::A, SYN, C, 0, b"");
    assert_eq!(t.state(), State::SynSent);
    let times: Vec<_> = t.conn.syn_times(Side::A).collect();
    assert_eq!(times, [first, t.ns]);
    assert_eq!(t.history(), "S");
}

#[test]
fn test_syn_sent_rst() {
    // Connection refused.
    let mut t = conn_syn_sent();
    let notes = t.send(Side::B, RST | ACK, 0, C + 1, b"");
    assert_eq!(t.state(), State::Reset(Side::B));
    assert!(notes.rst);
    let rst = t.conn.rst(Side::B).unwrap();
    assert_eq!((rst.ns, rst.ack), (t.ns, Some(Seq(C + 1))));
    assert_eq!(t.history(), "Sr");
}

// =========== Tests for the SYN-RECEIVED state ===========

#[test]
fn test_syn_received_ack() {
    let mut t = conn_syn_received();
    t.send(Side::A, ACK, C + 1, S + 1, b"");
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.conn.established_ns(), Some(t.ns));
    assert_eq!(t.history(), "ShA");
}

#[test]
fn test_syn_received_data() {
    // The handshake's ACK was lost; the request completes it.
    let mut t = conn_syn_received();
    t.send(Side::A, ACK, C + 1, S + 1, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.conn.established_ns(), Some(t.ns));
}

#[test]
fn test_syn_received_server_ack() {
    let mut t = conn_syn_received();
    t.send(Side::B, ACK, S + 1, C + 1, b"");
    assert_eq!(t.state(), State::SynReceived);
    assert_eq!(t.conn.established_ns(), None);
}

#[test]
fn test_syn_received_synack_retransmitted() {
    let mut t = conn_syn_received();
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::SynReceived);
    assert_eq!(t.conn.h(Side::B).syns, 2);
}

#[test]
fn test_syn_received_fin() {
    let mut t = conn_syn_received();
    let notes = t.send(Side::B, FIN | ACK, S + 1, C + 1, b"");
    assert_eq!(t.state(), State::HalfClosed(Side::B));
    assert!(notes.fin);
    // The handshake never completed.
    assert_eq!(t.conn.established_ns(), None);
}

// =========== Tests for the ESTABLISHED state ===========

#[test]
fn test_established_fin() {
    let mut t = conn_established();
    let notes = t.send(Side::A, FIN | ACK, C + 1, S + 1, b"");
    assert_eq!(t.state(), State::HalfClosed(Side::A));
    assert!(notes.fin && !notes.rst);
    let fin = t.conn.fin(Side::A).unwrap();
    assert_eq!(
        (fin.seq, fin.ack, fin.ns),
        (Seq(C + 1), Some(Seq(S + 1)), t.ns)
    );
    assert!(!fin.with_data && !fin.reply);
    assert_eq!(t.history(), "ShAF");
}

#[test]
fn test_established_fin_with_data() {
    let mut t = conn_established();
    t.send(Side::B, FIN | ACK, S + 1, C + 1, b"bye");
    let fin = t.conn.fin(Side::B).unwrap();
    // The FIN takes the sequence number after the data.
    assert_eq!(fin.seq, Seq(S + 4));
    assert!(fin.with_data);
    assert_eq!(t.conn.bytes(Side::B), 3);
}

#[test]
fn test_established_rst() {
    let mut t = conn_established();
    let notes = t.send(Side::A, RST | ACK, C + 1, S + 1, b"why");
    assert_eq!(t.state(), State::Reset(Side::A));
    assert!(notes.rst && !notes.fin);
    let rst = t.conn.rst(Side::A).unwrap();
    assert_eq!(
        (rst.seq, rst.ack, rst.payload),
        (Seq(C + 1), Some(Seq(S + 1)), 3)
    );
    // RST payload is no data: it answers and starts nothing.
    assert_eq!(t.conn.bytes(Side::A), 0);
    assert!(t.conn.pending(Side::A).is_none() && !notes.new_turn);
}

#[test]
fn test_established_syn() {
    // The peer had spoken: a SYN mid-connection opens nothing.
    let mut t = conn_established();
    t.send(Side::A, SYN, C, 0, b"");
    assert_eq!(t.state(), State::Established);
}

#[test]
fn test_established_syn_with_fin() {
    // SYN and FIN together: the SYN changes nothing here, the FIN closes.
    let mut t = conn_established();
    let notes = t.send(Side::A, SYN | FIN, C, 0, b"");
    assert_eq!(t.state(), State::HalfClosed(Side::A));
    assert!(notes.fin);
    // The FIN comes after the SYN's sequence number.
    assert_eq!(t.conn.fin(Side::A).unwrap().seq, Seq(C + 1));
}

#[test]
fn test_established_synack_retransmitted() {
    // The server had sent nothing but SYN-ACKs: a late copy of one takes
    // the handshake back a step, and the client's next ACK completes it
    // again (later).
    let mut t = conn_established();
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::SynReceived);
    t.send(Side::A, ACK, C + 1, S + 1, b"");
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.conn.established_ns(), Some(t.ns));
}

#[test]
fn test_established_synack_after_data() {
    let mut t = conn_established();
    t.send(Side::B, ACK, S + 1, C + 1, b"hello");
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    assert_eq!(t.state(), State::Established);
}

// =========== Tests for the HALF-CLOSED state ===========

#[test]
fn test_half_closed_fin() {
    let mut t = conn_half_closed_by_server();
    let notes = t.send(Side::A, FIN | ACK, C + 1, S + 2, b"");
    assert_eq!(t.state(), State::Closed);
    assert!(notes.fin);
    // It acknowledges the server's FIN: a reply to the close.
    assert!(t.conn.fin(Side::A).unwrap().reply);
    assert!(!t.conn.fin(Side::B).unwrap().reply);
}

#[test]
fn test_half_closed_fin_retransmitted() {
    let mut t = conn_half_closed_by_server();
    let first = t.conn.fin(Side::B).unwrap().ns;
    let notes = t.send(Side::B, FIN | ACK, S + 1, C + 1, b"");
    assert_eq!(t.state(), State::HalfClosed(Side::B));
    assert!(!notes.fin);
    assert_eq!(t.conn.fin(Side::B).unwrap().ns, first);
    // A repeated FIN is no retransmitted data either.
    assert_eq!(t.history(), "ShAf");
}

#[test]
fn test_half_closed_fin_rst() {
    // FIN and RST in one segment: the FIN closes, the RST after it ends
    // nothing more.
    let mut t = conn_half_closed_by_server();
    let notes = t.send(Side::A, FIN | RST | ACK, C + 1, S + 2, b"");
    assert_eq!(t.state(), State::Closed);
    assert!(notes.fin && notes.rst);
    assert!(t.conn.fin(Side::A).is_some() && t.conn.rst(Side::A).is_some());
    assert_eq!(t.history(), "ShAfFR");
    t.send(Side::B, RST, S + 2, 0, b"");
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn test_half_closed_rst() {
    let mut t = conn_half_closed_by_server();
    t.send(Side::A, RST, C + 1, 0, b"");
    assert_eq!(t.state(), State::Reset(Side::A));
}

#[test]
fn test_half_closed_data() {
    // The side that did not close may still send.
    let mut t = conn_half_closed_by_server();
    t.send(Side::A, ACK, C + 1, S + 2, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(t.state(), State::HalfClosed(Side::B));
    assert!(t.conn.pending(Side::A).is_some());
}

// =========== Tests for the CLOSED state ===========

#[test]
fn test_closed_rst() {
    let mut t = conn_closed();
    let notes = t.send(Side::B, RST, S + 2, 0, b"");
    assert_eq!(t.state(), State::Closed);
    // The RST is still recorded for the verdicts.
    assert!(notes.rst && t.conn.rst(Side::B).is_some());
}

#[test]
fn test_closed_ack() {
    let mut t = conn_closed();
    t.send(Side::B, ACK, S + 2, C + 2, b"");
    assert_eq!(t.state(), State::Closed);
    assert!(t.conn.state.is_finished());
}

// =========== Tests for the RESET state ===========

#[test]
fn test_reset_anything() {
    let mut t = conn_reset();
    let first = t.conn.rst(Side::B).unwrap().ns;
    let segments: [(Side, u8, u32); 6] = [
        (Side::A, SYN, C),
        (Side::B, SYN | ACK, S),
        (Side::A, ACK, C + 1),
        (Side::A, FIN | ACK, C + 1),
        (Side::A, RST, C + 2),
        (Side::B, RST, S + 1),
    ];
    for (side, flags, seq) in segments {
        let notes = t.send(side, flags, seq, 0, b"");
        assert_eq!(t.state(), State::Reset(Side::B), "{flags:#x}");
        // A second RST from the same side is not noted.
        if side == Side::B && flags == RST {
            assert!(!notes.rst);
        }
    }
    assert_eq!(t.conn.rst(Side::B).unwrap().ns, first);
}

// =========== Tests for sequence spaces and pending data ===========

#[test]
fn test_established_data_retransmitted() {
    let mut t = conn_established();
    t.send(Side::A, ACK, C + 1, S + 1, b"0123456789");
    let notes = t.send(Side::A, ACK, C + 1, S + 1, b"0123456789");
    assert!(!notes.new_turn && notes.answered.is_none());
    assert_eq!(t.conn.bytes(Side::A), 10);
    assert_eq!(t.history(), "ShADT");
}

#[test]
fn test_established_data_reordered_fills_hole() {
    let mut t = conn_established();
    // The second segment first: its start leaves a hole.
    t.send(Side::A, ACK, C + 11, S + 1, b"abcdefghij");
    assert_eq!(t.conn.holes(Side::A), 1);
    t.send(Side::A, ACK, C + 1, S + 1, b"0123456789");
    // Late data into the hole is new data, not a retransmission.
    assert_eq!(t.conn.holes(Side::A), 0);
    assert_eq!(t.conn.bytes(Side::A), 20);
    assert_eq!(t.history(), "ShAGD");
}

#[test]
fn test_established_data_lost() {
    let mut t = conn_established();
    t.send(Side::A, ACK, C + 11, S + 1, b"abcdefghij");
    // Counted per the headers: what the capture missed is not counted.
    assert_eq!((t.conn.holes(Side::A), t.conn.bytes(Side::A)), (1, 10));
}

#[test]
fn test_established_request_pending_then_answered() {
    let mut t = conn_established();
    let req = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    let notes = t.send(Side::A, ACK, C + 1, S + 1, req);
    assert!(notes.new_turn && notes.answered.is_none());
    let p = t.conn.pending(Side::A).unwrap();
    assert_eq!((p.start, p.ns, p.ack), (Seq(C + 1), t.ns, Some(Seq(S + 1))));
    // Nothing was sent before it: no idle gap, no reuse.
    assert_eq!((p.idle_since, p.reuse), (None, false));
    let r = p.request.unwrap();
    assert_eq!((r.method, t.paths.get(r.path)), (Method::Get, "/x"));
    assert_eq!(t.conn.http_client, Some(Side::A));

    let sent = t.ns;
    let resp = b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\n\r\n";
    let notes = t.send(Side::B, ACK, S + 1, C + 1 + req.len() as u32, resp);
    let (side, answered) = notes.answered.unwrap();
    assert_eq!((side, answered.ns), (Side::A, sent));
    assert!(t.conn.pending(Side::A).is_none());
    assert_eq!(t.conn.keep_alive_s(), Some(5));
    assert!(notes.new_turn && t.conn.pending(Side::B).is_some());
}

#[test]
fn test_established_request_on_reused_connection() {
    let mut t = conn_established();
    let req = b"GET /a HTTP/1.1\r\n\r\n";
    let resp = b"HTTP/1.1 204 No Content\r\n\r\n";
    let (rq, rs) = (req.len() as u32, resp.len() as u32);
    t.send(Side::A, ACK, C + 1, S + 1, req);
    t.send(Side::B, ACK, S + 1, C + 1 + rq, resp);
    let answered_at = t.ns;
    t.send(Side::A, ACK, C + 1 + rq, S + 1 + rs, b"");
    let notes = t.send(
        Side::A,
        ACK,
        C + 1 + rq,
        S + 1 + rs,
        b"GET /b HTTP/1.1\r\n\r\n",
    );
    assert_eq!(notes.answered.map(|(s, _)| s), Some(Side::B));
    let p = t.conn.pending(Side::A).unwrap();
    assert!(p.reuse);
    // The idle gap it ended started with the response.
    assert_eq!(p.idle_since, Some(answered_at));
    assert_eq!(p.idle_ns(), Some(2 * STEP));
    assert_eq!(p.ack, Some(Seq(S + 1 + rs)));
    assert_eq!(t.conn.h(Side::A).turns, 2);
}

#[test]
fn test_established_fin_not_acknowledging_pending_request() {
    // The server closes without having seen the request (a stale race):
    // its idle period started before the request.
    let mut t = conn_established();
    let before = t.ns;
    t.send(Side::A, ACK, C + 1, S + 1, b"GET / HTTP/1.1\r\n\r\n");
    t.send(Side::B, FIN | ACK, S + 1, C + 1, b"");
    assert_eq!(t.conn.fin(Side::B).unwrap().idle_since, None);
    assert!(t.conn.last_payload_ns().is_some_and(|ns| ns > before));
}

// =========== Tests for port reuse ===========

#[test]
fn test_closed_new_syn_is_port_reuse() {
    let t = conn_closed();
    let syn = segment(t.ns + STEP, Side::A, SYN, C + 100_000, 0, b"");
    assert!(t.conn.is_new_syn(Side::A, &syn));
    // The same ISN is this connection's SYN again; a SYN-ACK is never new.
    let again = segment(t.ns + STEP, Side::A, SYN, C, 0, b"");
    assert!(!t.conn.is_new_syn(Side::A, &again));
    let synack = segment(t.ns + STEP, Side::B, SYN | ACK, S + 9, C + 1, b"");
    assert!(!t.conn.is_new_syn(Side::B, &synack));
}

#[test]
fn test_fresh_data_then_syn_is_port_reuse() {
    // Mid-stream: a SYN from a side that already sent data opens anew.
    let mut t = TestConn::new();
    t.send(Side::A, ACK, C, S, b"xyz");
    let syn = segment(t.ns + STEP, Side::A, SYN, C + 50, 0, b"");
    assert!(t.conn.is_new_syn(Side::A, &syn));
}

#[test]
fn test_fresh_synack_then_late_syn_is_not_port_reuse() {
    // The handshake reordered: the SYN the SYN-ACK answered arrives late.
    let mut t = TestConn::new();
    t.send(Side::B, SYN | ACK, S, C + 1, b"");
    let syn = segment(t.ns + STEP, Side::A, SYN, C, 0, b"");
    assert!(!t.conn.is_new_syn(Side::A, &syn));
}
