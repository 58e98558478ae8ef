//! Issue 21: a cause for every close and every reset, decided before any
//! number is read from it. On synthetic connections with every sequence
//! number known: a restart's burst of closes is no idle timeout and its
//! races are not the timer's; a reset whose idle age does not fit the
//! server's own closes is the application's, not a race; a bare RST with no
//! FIN after an idle gap is a vanished or replaced peer, unless it came
//! sooner than the server could send it (the path), as is a request the
//! server never acknowledged.

use crate::synth::{Flow, Packet, get, ok, secs};
use racecap::report::{Cause, Verdict};

use crate::util::{analyze, findings, ip};

const RTT: i64 = 1_000_000; // 1 ms

fn flow(port: u16) -> Flow {
    Flow::new(
        (ip("10.0.0.1"), port),
        (ip("10.0.0.2"), 3000),
        1000,
        900_000,
    )
}

fn sorted(mut p: Vec<Packet>) -> Vec<Packet> {
    p.sort_by_key(|p| p.ts_ns);
    p
}

/// Issue 21's restart: the server closes every idle pooled connection
/// within a few ms at scattered idle ages, and a request already on its way
/// meets one of the closed sockets. No idle timeout is read from the burst,
/// the race is the restart's, and the server's race count (which the
/// mismatch and the fix read) leaves it out.
#[test]
fn test_restart_burst_is_no_idle_timeout() {
    let mut p = Vec::new();
    let restart = secs(20.0);
    for i in 0..8u16 {
        let mut f = flow(40000 + i);
        let start = secs(1.0) + i64::from(i) * secs(2.0);
        p.extend(f.handshake(start, RTT));
        p.extend(f.exchange(start + secs(0.01), RTT, &get("/a"), &ok(Some(65))));
        let at = restart + i64::from(i) * 300_000;
        if i == 7 {
            // The request crosses the restart's FIN.
            p.push(f.data(at - 200_000, true, get("/b").as_bytes()));
            p.push(f.fin(at, false));
            p.push(f.rst(at + 300_000, false));
        } else {
            p.push(f.fin(at, false));
            p.push(f.fin(at + RTT / 2, true));
            p.push(f.ack(at + RTT, false));
        }
    }
    let r = analyze(&sorted(p));
    let races = findings(&r, Verdict::KeepaliveRace);
    assert_eq!(races.len(), 1);
    assert_eq!(races[0].cause, Some(Cause::Restart));
    let s = &r.servers[0];
    assert!(s.idle_timeout.is_none(), "{:?}", s.idle_timeout);
    assert_eq!(s.races, 0);
    let other = s.other_causes.as_ref().expect("other causes");
    assert_eq!((other.restart_closes, other.restart_races), (8, 1));
}

/// Connections used together reach one idle timer's close together, at
/// one age: that is the timer, not a restart.
#[test]
fn test_timer_closes_together_stay_samples() {
    let mut p = Vec::new();
    for i in 0..6u16 {
        let mut f = flow(40000 + i);
        let start = secs(1.0) + i64::from(i) * 100_000;
        p.extend(f.handshake(start, RTT));
        p.extend(f.exchange(start + secs(0.01), RTT, &get("/a"), &ok(Some(5))));
        let at = start + secs(0.01) + RTT + secs(5.0);
        p.push(f.fin(at, false));
        p.push(f.fin(at + RTT / 2, true));
        p.push(f.ack(at + RTT, false));
    }
    let r = analyze(&sorted(p));
    let s = &r.servers[0];
    assert_eq!(s.idle_timeout.as_ref().map(|d| d.n), Some(6));
    assert!(s.other_causes.is_none());
}

/// Issue 21's application reset: a backend that resets a reused
/// connection the moment a request arrives after 1.16 s idle, while its
/// idle timer closes at 6.0 s. The reset does not fit the timer: a
/// `server_reset` with cause `application`, no race and no sample.
#[test]
fn test_reset_off_the_timer_is_the_application() {
    let mut p = Vec::new();
    for i in 0..3u16 {
        let mut f = flow(40000 + i);
        let start = secs(1.0) + i64::from(i) * secs(0.5);
        p.extend(f.handshake(start, RTT));
        p.extend(f.exchange(start + secs(0.01), RTT, &get("/a"), &ok(Some(5))));
        let at = start + secs(0.01) + RTT + secs(6.0);
        p.push(f.fin(at, false));
        p.push(f.fin(at + RTT / 2, true));
        p.push(f.ack(at + RTT, false));
    }
    for i in 0..2u16 {
        let mut f = flow(41000 + i);
        let start = secs(10.0) + i64::from(i) * secs(3.0);
        p.extend(f.handshake(start, RTT));
        p.extend(f.exchange(start + secs(0.01), RTT, &get("/a"), &ok(Some(5))));
        let req = start + secs(0.01) + RTT + secs(1.16);
        p.push(f.data(req, true, get("/boom").as_bytes()));
        p.push(f.rst_ack(req + 100_000, false));
    }
    let r = analyze(&sorted(p));
    assert!(findings(&r, Verdict::KeepaliveRace).is_empty());
    let resets = findings(&r, Verdict::ServerReset);
    assert_eq!(resets.len(), 2);
    assert!(resets.iter().all(|f| f.cause == Some(Cause::Application)));
    assert_eq!(r.verdict_counts["server_reset"], 2);
    let s = &r.servers[0];
    assert_eq!(s.races, 0);
    let idle = s.idle_timeout.as_ref().unwrap();
    assert_eq!(idle.n, 3);
    assert!(idle.min_ms.0 >= 5_999_000_000, "{idle:?}");
    assert_eq!(s.other_causes.as_ref().unwrap().application_resets, 2);
}

/// A reset race that fits the server's own closes stays a race (gunicorn:
/// the request arrived just before the timer's `close()`).
#[test]
fn test_reset_on_the_timer_is_a_race() {
    let mut p = Vec::new();
    let mut f = flow(40000);
    p.extend(f.handshake(0, RTT));
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    let at = secs(0.01) + RTT + secs(2.003);
    p.push(f.fin(at, false));
    p.push(f.fin(at + RTT / 2, true));
    p.push(f.ack(at + RTT, false));
    let mut g = flow(40001);
    p.extend(g.handshake(secs(5.0), RTT));
    p.extend(g.exchange(secs(5.01), RTT, &get("/a"), &ok(None)));
    let req = secs(5.01) + RTT + secs(2.0);
    p.push(g.data(req, true, get("/b").as_bytes()));
    p.push(g.rst_ack(req + 100_000, false));
    let r = analyze(&sorted(p));
    let races = findings(&r, Verdict::KeepaliveRace);
    assert_eq!(races.len(), 1);
    assert_eq!(races[0].cause, Some(Cause::IdleTimer));
    assert_eq!(r.servers[0].idle_timeout.as_ref().unwrap().n, 2);
}

/// Pod IP reuse: the proxy reuses a connection idle 15 s and the new host
/// behind the address, with no socket for it, answers a bare RST one round
/// trip later. No FIN ever: a vanished or replaced peer, no race and no
/// idle-timeout sample.
#[test]
fn test_bare_rst_after_idle_is_a_replaced_peer() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(65))));
    let req = secs(0.01) + RTT + secs(15.0);
    p.push(f.data(req, true, get("/b").as_bytes()));
    p.push(f.rst(req + RTT, false));
    let r = analyze(&p);
    let resets = findings(&r, Verdict::IdleReset);
    assert_eq!(resets.len(), 1, "{:?}", r.verdict_counts);
    assert_eq!(resets[0].cause, Some(Cause::PeerGone));
    assert!(r.servers[0].idle_timeout.is_none());
    assert_eq!(r.servers[0].races, 0);
}

/// A middlebox near the proxy that forgot the flow answers the request
/// with its own bare RST in 0.3 ms, where the capture shows the server a
/// 40 ms round trip away (its SYN-ACK came 20 ms after the SYN): the path,
/// not a replaced peer. One round trip later it could be the server's
/// address answering: a replaced peer.
#[test]
fn test_bare_rst_sooner_than_the_server_is_the_path() {
    let rtt = 40_000_000;
    let run = |after: i64| {
        let mut f = flow(40000);
        let mut p = f.handshake(0, rtt);
        p.extend(f.exchange(secs(0.1), rtt, &get("/a"), &ok(Some(65))));
        let req = secs(0.1) + rtt + secs(4.5);
        p.push(f.data(req, true, get("/b").as_bytes()));
        p.push(f.rst(req + after, false));
        analyze(&p)
    };
    let r = run(300_000);
    let f = findings(&r, Verdict::IdleReset);
    assert_eq!(f.len(), 1, "{:?}", r.verdict_counts);
    assert_eq!(f[0].cause, Some(Cause::Path));
    let r = run(rtt);
    assert_eq!(
        findings(&r, Verdict::IdleReset)[0].cause,
        Some(Cause::PeerGone)
    );
}

/// A middlebox that forgot the flow drops the reused connection's request:
/// the server never acknowledges it, and the capture goes on. A failure of
/// the path. A server that is only slow acknowledges the request: open.
#[test]
fn test_unacknowledged_request_is_the_path() {
    let run = |server_acks: bool| {
        let mut f = flow(40000);
        let mut p = f.handshake(0, RTT);
        p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(65))));
        let req = secs(0.01) + RTT + secs(4.5);
        p.push(f.data(req, true, get("/b").as_bytes()));
        if server_acks {
            p.push(f.ack(req + RTT, false));
        }
        // Other traffic: the capture goes on for 3 s more.
        let mut g = flow(40001);
        p.extend(g.handshake(req + secs(3.0), RTT));
        analyze(&sorted(p))
    };
    let r = run(false);
    let f = findings(&r, Verdict::UnacknowledgedRequest);
    assert_eq!(f.len(), 1, "{:?}", r.verdict_counts);
    assert_eq!(f[0].cause, Some(Cause::Path));
    let u = f[0].unacknowledged.as_ref().unwrap();
    assert_eq!(u.request.as_ref().unwrap().path, "/b");
    assert_eq!(f[0].at, u.request_at);
    let r = run(true);
    assert!(r.findings.is_empty(), "{:?}", r.verdict_counts);
}

/// The same lost request when the proxy gives up first (its read timeout:
/// a FIN with the request unanswered): a client timeout, and the path's
/// when the server never acknowledged the request. A slow server that did
/// is no cause of the path's.
#[test]
fn test_client_timeout_on_an_unacknowledged_request_is_the_path() {
    let run = |server_acks: bool| {
        let mut f = flow(40000);
        let mut p = f.handshake(0, RTT);
        p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(65))));
        let req = secs(0.01) + RTT + secs(4.5);
        p.push(f.data(req, true, get("/b").as_bytes()));
        if server_acks {
            p.push(f.ack(req + RTT, false));
        }
        p.push(f.fin(req + secs(5.0), true));
        analyze(&p)
    };
    let r = run(false);
    let f = findings(&r, Verdict::ClientTimeout);
    assert_eq!(f.len(), 1, "{:?}", r.verdict_counts);
    assert_eq!(f[0].cause, Some(Cause::Path));
    let r = run(true);
    let f = findings(&r, Verdict::ClientTimeout);
    assert_eq!(f.len(), 1, "{:?}", r.verdict_counts);
    assert_eq!(f[0].cause, None);
}

/// Issue 21's proxy with both legs in one capture: HAProxy 2.6 closes a
/// client's keep-alive connection without a response when the reused
/// upstream connection that request went out on races the backend's idle
/// close. Each such close of the proxy's listener is the upstream failure
/// passed on (cause `upstream`, naming it): no race of the listener and no
/// idle-timeout sample of it, while the upstream races stay races.
#[test]
fn test_proxy_passes_upstream_race_on() {
    let (client, proxy, backend) = (ip("10.0.0.1"), ip("10.0.0.5"), ip("10.0.0.9"));
    let mut p = Vec::new();
    for i in 0..5u16 {
        let mut down = Flow::new((client, 50000 + i), (proxy, 8080), 1000, 500_000);
        let mut up = Flow::new((proxy, 40000 + i), (backend, 3000), 7000, 900_000);
        let start = secs(1.0) + i64::from(i) * secs(4.0);
        p.extend(down.handshake(start, RTT / 10));
        p.extend(up.handshake(start + 100_000, RTT));
        p.push(down.data(start + secs(0.01), true, get("/a").as_bytes()));
        p.extend(up.exchange(start + secs(0.01) + 50_000, RTT, &get("/a"), &ok(Some(2))));
        p.push(down.data(
            start + secs(0.01) + RTT + 100_000,
            false,
            ok(None).as_bytes(),
        ));
        p.push(down.ack(start + secs(0.01) + RTT + 150_000, true));
        // 2.5 s later the client reuses its connection; the proxy sends the
        // request on its pooled connection as the backend closes it.
        let t = start + secs(2.5);
        p.push(down.data(t, true, get("/b").as_bytes()));
        p.push(up.data(t + 50_000, true, get("/b").as_bytes()));
        p.push(up.fin(t + 300_000, false));
        // The proxy reads the EOF and closes its client's connection.
        p.push(down.fin(t + 400_000, false));
        p.push(up.rst(t + 1_100_000, false));
        p.push(down.fin(t + 450_000, true));
        p.push(down.ack(t + 500_000, false));
    }
    let r = analyze(&sorted(p));
    let races = findings(&r, Verdict::KeepaliveRace);
    let (ups, downs): (Vec<&&racecap::report::Finding>, Vec<_>) =
        races.iter().partition(|f| f.server.port == 3000);
    assert_eq!(ups.len(), 5);
    assert!(ups.iter().all(|f| f.cause == Some(Cause::IdleTimer)));
    assert_eq!(downs.len(), 5, "{:?}", r.verdict_counts);
    for f in &downs {
        assert_eq!(f.cause, Some(Cause::Upstream));
        let u = f.upstream.as_ref().expect("names the upstream failure");
        assert_eq!((u.server.port, u.verdict), (3000, Verdict::KeepaliveRace));
        assert_eq!(u.client.port - 40000, f.client.port - 50000);
    }
    let listener = r
        .servers
        .iter()
        .find(|s| s.endpoint.port == 8080)
        .expect("listener");
    assert_eq!(listener.races, 0);
    assert!(
        listener.idle_timeout.is_none(),
        "{:?}",
        listener.idle_timeout
    );
    assert!(listener.recommendations.is_empty());
    let backend = r
        .servers
        .iter()
        .find(|s| s.endpoint.port == 3000)
        .expect("backend");
    assert_eq!(backend.races, 5);
}

/// A close of the proxy's listener long after an upstream failure is its
/// own: two seconds is no failure passed on.
#[test]
fn test_listener_close_long_after_upstream_failure_is_its_own() {
    let (client, proxy, backend) = (ip("10.0.0.1"), ip("10.0.0.5"), ip("10.0.0.9"));
    let mut down = Flow::new((client, 50000), (proxy, 8080), 1000, 500_000);
    let mut up = Flow::new((proxy, 40000), (backend, 3000), 7000, 900_000);
    let mut p = Vec::new();
    let start = secs(1.0);
    p.extend(down.handshake(start, RTT / 10));
    p.extend(up.handshake(start + 100_000, RTT));
    p.extend(up.exchange(start + secs(0.01), RTT, &get("/a"), &ok(Some(2))));
    p.extend(down.exchange(start + secs(0.01), RTT, &get("/a"), &ok(Some(2))));
    let t = start + secs(2.5);
    p.push(up.data(t, true, get("/b").as_bytes()));
    p.push(up.fin(t + 300_000, false));
    p.push(up.rst(t + 1_100_000, false));
    // The listener's own idle close crosses a request two seconds later.
    let t2 = t + secs(2.0);
    p.push(down.data(t2, true, get("/c").as_bytes()));
    p.push(down.fin(t2 + 100_000, false));
    p.push(down.rst(t2 + 200_000, false));
    let r = analyze(&sorted(p));
    let races = findings(&r, Verdict::KeepaliveRace);
    assert_eq!(races.len(), 2);
    assert!(races.iter().all(|f| f.cause == Some(Cause::IdleTimer)));
}
