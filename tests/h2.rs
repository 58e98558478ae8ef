//! Races over HTTP/2 in the clear (h2c, gRPC), on synthetic connections
//! with every sequence number known: control frames (SETTINGS and its ACK,
//! WINDOW_UPDATE, PING) are neither requests nor activity, a stream is a
//! request, the idle clock runs from the end of the last stream, a GOAWAY
//! on an idle connection is the server's idle close, and a stream opened
//! after it is a race of kind `goaway` — not processed when its id is above
//! the GOAWAY's last-stream-id — whether the server resets, refuses the
//! stream or goes on reading, at the proxy's capture point and the
//! backend's alike.

use crate::synth::{Flow, Packet, secs};
use racecap::report::{Protocol, RaceKind, Report, Verdict};

use crate::util::{analyze, findings, ip};

const RTT: i64 = 1_000_000; // 1 ms

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn flow(port: u16) -> Flow {
    Flow::new(
        (ip("10.0.0.1"), port),
        (ip("10.0.0.2"), 50051),
        1000,
        900_000,
    )
}

fn frame(ty: u8, flags: u8, stream: u32, body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[ty, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn settings() -> Vec<u8> {
    frame(4, 0, 0, &[0, 3, 0, 0, 0, 100])
}

fn settings_ack() -> Vec<u8> {
    frame(4, 1, 0, &[])
}

fn window_update() -> Vec<u8> {
    frame(8, 0, 0, &[0, 0, 0x40, 0])
}

fn ping(ack: bool) -> Vec<u8> {
    frame(6, u8::from(ack), 0, &[1; 8])
}

fn goaway(last: u32) -> Vec<u8> {
    let mut b = last.to_be_bytes().to_vec();
    b.extend_from_slice(&[0; 4]);
    frame(7, 0, 0, &b)
}

/// A gRPC call's HEADERS (END_HEADERS): POST and `:path` as a literal
/// without indexing (name index 4), as encoders send a connection's calls
/// when they do not index the path; then its DATA with END_STREAM.
fn call(stream: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    [
        frame(1, 4, stream, &block),
        frame(0, 1, stream, &[0, 0, 0, 0, 2, 8, 1]),
    ]
    .concat()
}

/// The response: HEADERS (`:status: 200`), DATA, trailers with END_STREAM.
fn answer(stream: u32) -> Vec<u8> {
    [
        frame(1, 4, stream, &[0x88]),
        frame(0, 0, stream, &[0, 0, 0, 0, 2, 8, 1]),
        frame(1, 5, stream, &[0x40, 11, b'g', b'r', b'p', b'c']),
    ]
    .concat()
}

/// The handshake and the session's opening: the client's preface and
/// SETTINGS, the server's SETTINGS, each side's ACK.
fn open(f: &mut Flow, t: i64) -> Vec<Packet> {
    let mut p = f.handshake(t, RTT);
    p.push(f.data(
        t + RTT,
        true,
        &[PREFACE.to_vec(), settings(), window_update()].concat(),
    ));
    p.push(f.data(t + 2 * RTT, false, &[settings(), settings_ack()].concat()));
    p.push(f.data(t + 3 * RTT, true, &settings_ack()));
    p
}

/// One call on `stream` at `t`, answered an RTT later; the proxy's
/// WINDOW_UPDATE and a PING ACK follow one RTT after the answer (control
/// frames: the idle clock stays at the answer).
fn exchange(f: &mut Flow, t: i64, stream: u32) -> Vec<Packet> {
    vec![
        f.data(t, true, &call(stream, "/helloworld.Greeter/SayHello")),
        f.data(t + RTT, false, &answer(stream)),
        f.data(t + 2 * RTT, true, &[window_update(), ping(false)].concat()),
        f.data(t + 3 * RTT, false, &ping(true)),
        f.ack(t + 4 * RTT, true),
    ]
}

fn race_of(r: &Report) -> &racecap::report::Race {
    let f = findings(r, Verdict::KeepaliveRace);
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].protocol, Protocol::H2c);
    f[0].race.as_ref().unwrap()
}

/// Node `http2` with a 2 s idle timeout: a GOAWAY (last-stream-id 3) and
/// its FIN; the proxy's next call, stream 5, crosses them and meets an
/// RST. At the backend the call arrives after the FIN; at the proxy it
/// leaves before the GOAWAY arrives. Same verdict at both.
fn node_race(port: u16, proxy_side: bool) -> Vec<Packet> {
    let mut f = flow(port);
    let mut p = open(&mut f, 0);
    p.extend(exchange(&mut f, secs(0.01), 1));
    p.extend(exchange(&mut f, secs(1.0), 3));
    let last = secs(1.0) + RTT;
    let close = last + secs(2.0);
    let lost = call(5, "/helloworld.Greeter/SayHello");
    if proxy_side {
        p.push(f.data(close - RTT / 2, true, &lost));
        let seen = Some(f.client_next - lost.len() as u32);
        p.push(f.seg(close, false, 0x18, &goaway(3), seen));
        p.push(f.seg(close + RTT / 10, false, 0x11, &[], seen));
    } else {
        p.push(f.data(close, false, &goaway(3)));
        p.push(f.fin(close + RTT / 10, false));
        let ack = f.server_next - 18;
        p.push(f.seg(close + RTT / 2, true, 0x18, &lost, Some(ack)));
    }
    p.push(f.rst(close + RTT, false));
    p
}

#[test]
fn test_goaway_race_at_both_capture_points() {
    for proxy_side in [false, true] {
        let r = analyze(&node_race(45000, proxy_side));
        let race = race_of(&r);
        assert_eq!(race.kind, RaceKind::Goaway, "proxy side {proxy_side}");
        assert_eq!(race.processed, Some(false));
        assert!(race.goaway_at.is_some());
        let req = race.request.as_ref().expect("the path is a literal");
        assert_eq!(req.path, "/helloworld.Greeter/SayHello");
        // From the end of the last stream (the trailers), not from the
        // proxy's WINDOW_UPDATE or PING after it.
        let idle = race.idle_before_close_ms.unwrap().ms();
        assert!((idle - 2000.0).abs() < 0.6, "{idle}");
        assert_eq!(race.requests_before, 2);
        let s = &r.servers[0];
        assert_eq!((s.races, s.reused_requests), (1, 2), "{proxy_side}");
        let conns = r.connections.as_ref().unwrap();
        assert_eq!(conns[0].requests, 3);
    }
}

/// A graceful `session.close()` (grpc-js `max_connection_idle_ms`): a
/// GOAWAY with last-stream-id 2^31-1, a PING, a second GOAWAY with the real
/// last id, the FIN — and the server goes on reading: the racing stream is
/// ACKed, never answered, never reset. Still a race, not processed.
#[test]
fn test_graceful_goaway_race_without_rst() {
    let mut f = flow(46000);
    let mut p = open(&mut f, 0);
    p.extend(exchange(&mut f, secs(0.01), 1));
    let last = secs(0.01) + RTT;
    let close = last + secs(2.0);
    p.push(f.data(close, false, &[goaway((1 << 31) - 1), ping(false)].concat()));
    p.push(f.data(close + RTT / 2, true, &call(3, "/pkg.Svc/Get")));
    p.push(f.data(close + RTT, true, &ping(true)));
    p.push(f.data(close + 2 * RTT, false, &goaway(1)));
    p.push(f.fin(close + 2 * RTT, false));
    p.push(f.fin(close + 5 * RTT, true));
    p.push(f.ack(close + 6 * RTT, false));
    let r = analyze(&p);
    let race = race_of(&r);
    assert_eq!((race.kind, race.processed), (RaceKind::Goaway, Some(false)));
    assert!(race.rst_at.is_none());
    let idle = race.idle_before_close_ms.unwrap().ms();
    assert!((idle - 2000.0).abs() < 0.6, "{idle}");
    assert_eq!(r.servers[0].idle_timeout.as_ref().unwrap().n, 1);
}

/// GOAWAY idle closes are timeout samples from the end of the last stream;
/// the proxy's RST (after the server's FIN, or after its GOAWAY and before
/// the FIN, as the proxy sees it) or its own GOAWAY and FIN on the closed
/// connection is no failure; control frames are no requests.
#[test]
fn test_goaway_idle_closes_are_samples() {
    let mut p = Vec::new();
    for i in 0..6u16 {
        let mut f = flow(47000 + i);
        let t0 = secs(f64::from(i) * 10.0);
        p.extend(open(&mut f, t0));
        p.extend(exchange(&mut f, t0 + secs(0.01), 1));
        p.extend(exchange(&mut f, t0 + secs(1.5), 3));
        p.extend(exchange(&mut f, t0 + secs(1.9), 5));
        let last = t0 + secs(1.9) + RTT;
        let close = last + secs(2.0);
        p.push(f.data(close, false, &goaway(5)));
        match i % 3 {
            0 => {
                p.push(f.fin(close + RTT / 5, false));
                p.push(f.rst(close + RTT, true));
            }
            1 => {
                p.push(f.fin(close + RTT / 5, false));
                p.push(f.data(close + RTT, true, &goaway(0)));
                p.push(f.fin(close + RTT, true));
                p.push(f.ack(close + 2 * RTT, false));
            }
            _ => {
                // At the proxy: it resets the pooled connection on the
                // GOAWAY, before the server's FIN reaches it.
                let fin = f.fin(close + RTT / 5, false);
                p.push(f.rst(close + RTT / 10, true));
                p.push(fin);
            }
        }
    }
    let r = analyze(&p);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    let s = &r.servers[0];
    let idle = s.idle_timeout.as_ref().expect("idle closes");
    assert_eq!(idle.n, 6);
    assert!(
        (idle.median_ms.ms() - 2000.0).abs() < 0.6,
        "{:?}",
        idle.median_ms
    );
    // Two reused streams per session; the reuse gaps are between streams.
    assert_eq!(s.reused_requests, 12);
    let reuse = s.reuse_window_ms.unwrap().ms();
    assert!((reuse - 1489.0).abs() < 0.6, "{reuse}");
    let conns = r.connections.as_ref().unwrap();
    assert!(conns.iter().all(|c| c.requests == 3), "{conns:#?}");
}

/// A stream at or below the GOAWAY's last-stream-id was taken by the
/// server: left unanswered, it is no race; a stream after a FIN with no
/// GOAWAY is a race whose processing is unknown.
#[test]
fn test_processed_stream_is_no_race_and_fin_only_is_unknown() {
    let mut f = flow(48000);
    let mut p = open(&mut f, 0);
    p.extend(exchange(&mut f, secs(0.01), 1));
    p.push(f.data(secs(2.0), true, &call(3, "/pkg.Svc/Slow")));
    p.push(f.data(secs(2.0) + RTT, false, &goaway(3)));
    p.push(f.rst(secs(2.0) + 2 * RTT, false));
    let r = analyze(&p);
    assert!(
        findings(&r, Verdict::KeepaliveRace).is_empty(),
        "{:#?}",
        r.findings
    );

    let mut f = flow(48001);
    let mut p = open(&mut f, 0);
    p.extend(exchange(&mut f, secs(0.01), 1));
    p.push(f.fin(secs(3.0), false));
    p.push(f.ack(secs(3.0) + RTT, true));
    p.push(f.data(secs(3.0) + secs(0.5), true, &call(3, "/pkg.Svc/Get")));
    p.push(f.rst(secs(3.0) + secs(0.5) + RTT, false));
    let r = analyze(&p);
    let race = race_of(&r);
    assert_eq!((race.kind, race.processed), (RaceKind::Goaway, None));
}

/// Frames cut across segments: a long DATA frame whose next header falls
/// inside the following segment, and a response whose trailers' header
/// straddles two segments. The streams are still followed: the control
/// frames after them are no requests and the GOAWAY still closes.
#[test]
fn test_frames_across_segments() {
    let mut f = flow(49000);
    let mut p = open(&mut f, 0);
    p.push(f.data(secs(0.01), true, &call(1, "/pkg.Svc/Upload")));
    // The answer: HEADERS, a DATA frame of 1500 bytes, trailers; cut in
    // segments of 700 bytes.
    let resp = [
        frame(1, 4, 1, &[0x88]),
        frame(0, 0, 1, &[9; 1500]),
        frame(1, 5, 1, &[0x40, 11, b'g', b'r', b'p', b'c']),
    ]
    .concat();
    let t = secs(0.01) + RTT;
    for (k, part) in resp.chunks(700).enumerate() {
        p.push(f.data(t + k as i64 * 1000, false, part));
    }
    p.push(f.data(t + RTT, true, &window_update()));
    p.push(f.data(t + secs(2.0), false, &goaway(1)));
    p.push(f.fin(t + secs(2.0) + RTT / 5, false));
    p.push(f.rst(t + secs(2.0) + RTT, true));
    let r = analyze(&p);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    let idle = r.servers[0].idle_timeout.as_ref().expect("the idle close");
    // From the last segment of the answer (2000 ns after its first).
    assert!((idle.median_ms.ms() - 2000.0).abs() < 0.01, "{idle:?}");
    assert_eq!(r.connections.as_ref().unwrap()[0].requests, 1);
}

/// The preface, SETTINGS and the first HEADERS in one segment (as nghttp2
/// clients send them), two streams opened in one segment (each a request),
/// and a racing stream whose `:path` only the dynamic table names: its
/// request is unknown, and so is its retry — but it was not processed.
#[test]
fn test_concurrent_streams_and_a_dynamic_path() {
    let mut f = flow(49500);
    let mut p = f.handshake(0, RTT);
    let first = [
        PREFACE.to_vec(),
        settings(),
        call(1, "/pkg.Svc/A"),
        call(3, "/pkg.Svc/B"),
    ]
    .concat();
    p.push(f.data(RTT, true, &first));
    p.push(f.data(2 * RTT, false, &[settings(), settings_ack()].concat()));
    p.push(f.data(3 * RTT, false, &[answer(1), answer(3)].concat()));
    p.push(f.data(4 * RTT, true, &[settings_ack(), window_update()].concat()));
    let close = 3 * RTT + secs(2.0);
    p.push(f.data(close, false, &goaway(3)));
    p.push(f.fin(close + RTT / 5, false));
    // GET, http, and :path as dynamic-table index 62.
    let dynamic = frame(1, 5, 5, &[0x82, 0x86, 0xbe]);
    p.push(f.data(close + RTT / 2, true, &dynamic));
    p.push(f.rst(close + RTT, false));
    let r = analyze(&p);
    let race = race_of(&r);
    assert_eq!((race.kind, race.processed), (RaceKind::Goaway, Some(false)));
    assert!(race.request.is_none());
    assert_eq!(race.retried, None);
    assert_eq!(r.connections.as_ref().unwrap()[0].requests, 3);
    let s = &r.servers[0];
    // Stream 3 beside stream 1, and the racing stream 5: reused.
    assert_eq!(s.reused_requests, 2);
    assert_eq!(s.retried_unknown, 1);
    let idle = race.idle_before_close_ms.unwrap().ms();
    assert!((idle - 2000.0).abs() < 0.01, "{idle}");
}
