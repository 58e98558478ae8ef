//! Tests of what `Conn::process` records besides the state: sequence
//! spaces (retransmission, reordering, loss), pending requests, port reuse.

use super::*;

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
