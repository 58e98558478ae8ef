//! Races over TLS, without keys, on synthetic connections with every
//! sequence number known: handshake records are no requests, an alert
//! (close_notify; in TLS 1.3 the short record before the FIN) is part of
//! the close, the idle clock runs from the last application data, and a
//! request record after the server's close is a race whose request cannot
//! be read (and whose retry is unknown). A close_notify crossing the peer's
//! FIN and then an RST is a clean close.

use crate::synth::{Flow, Packet, secs};
use racecap::report::{Protocol, RaceKind, Report, Verdict};

use crate::util::{analyze, findings, ip, only_verdict};

const RTT: i64 = 1_000_000; // 1 ms

fn flow(port: u16) -> Flow {
    Flow::new(
        (ip("10.0.0.1"), port),
        (ip("10.0.0.2"), 8443),
        1000,
        900_000,
    )
}

fn record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn handshake_msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut e = ty.to_be_bytes().to_vec();
    e.extend_from_slice(&(data.len() as u16).to_be_bytes());
    e.extend_from_slice(data);
    e
}

/// A ClientHello record naming `sni`, offering h2 and http/1.1.
fn client_hello(sni: &str) -> Vec<u8> {
    let n = sni.as_bytes();
    let mut sn = ((n.len() + 3) as u16).to_be_bytes().to_vec();
    sn.push(0);
    sn.extend_from_slice(&(n.len() as u16).to_be_bytes());
    sn.extend_from_slice(n);
    let alpn = b"\x02h2\x08http/1.1";
    let mut al = (alpn.len() as u16).to_be_bytes().to_vec();
    al.extend_from_slice(alpn);
    let exts = [ext(0, &sn), ext(16, &al)].concat();
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    record(22, &handshake_msg(1, &body))
}

/// A ServerHello record; TLS 1.3 names its version in supported_versions.
fn server_hello(tls13: bool) -> Vec<u8> {
    let exts = if tls13 { ext(43, &[3, 4]) } else { vec![] };
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    record(22, &handshake_msg(2, &body))
}

/// Application data of `n` bytes (ciphertext stand-in).
fn app(n: usize) -> Vec<u8> {
    record(23, &vec![0xa5; n])
}

/// A TLS 1.2 full handshake at `t`, as nginx and OpenSSL send it.
fn handshake12(f: &mut Flow, t: i64) -> Vec<Packet> {
    let mut p = f.handshake(t, RTT);
    p.push(f.data(t + RTT, true, &client_hello("api.internal")));
    let flight = [
        server_hello(false),
        record(22, &handshake_msg(11, &[1; 900])),
        record(22, &handshake_msg(12, &[2; 300])),
        record(22, &handshake_msg(14, &[])),
    ]
    .concat();
    p.push(f.data(t + 2 * RTT, false, &flight));
    let keys = [
        record(22, &handshake_msg(16, &[3; 66])),
        record(20, &[1]),
        record(22, &[4; 40]),
    ]
    .concat();
    p.push(f.data(t + 3 * RTT, true, &keys));
    p.push(f.data(
        t + 4 * RTT,
        false,
        &[record(20, &[1]), record(22, &[5; 40])].concat(),
    ));
    p
}

/// A TLS 1.3 handshake at `t`; the client's Finished goes with its first request.
fn handshake13(f: &mut Flow, t: i64, request: usize) -> Vec<Packet> {
    let mut p = f.handshake(t, RTT);
    p.push(f.data(t + RTT, true, &client_hello("grpc.internal")));
    let flight = [
        server_hello(true),
        record(20, &[1]),
        app(1200),
        app(280),
        app(53),
    ]
    .concat();
    p.push(f.data(t + 2 * RTT, false, &flight));
    p.push(f.data(
        t + 3 * RTT,
        true,
        &[record(20, &[1]), app(53), app(request)].concat(),
    ));
    // Two session tickets, then the response.
    p.push(f.data(t + 4 * RTT, false, &[app(250), app(250)].concat()));
    p
}

/// One request and response, with the client's ACK.
fn exchange(f: &mut Flow, t: i64, req: usize, resp: usize) -> Vec<Packet> {
    vec![
        f.data(t, true, &app(req)),
        f.data(t + RTT, false, &app(resp)),
        f.ack(t + RTT + RTT / 2, true),
    ]
}

fn tls12_close_notify() -> Vec<u8> {
    record(21, &[6; 26])
}

fn tls13_close_notify() -> Vec<u8> {
    app(19)
}

/// nginx as the TLS 1.2 server: after 3 s idle a close_notify, the FIN
/// 1 ms later; the proxy's next request crosses them and meets an RST.
fn nginx_race(port: u16, proxy_side: bool) -> Vec<Packet> {
    let mut f = flow(port);
    let mut p = handshake12(&mut f, 0);
    p.extend(exchange(&mut f, secs(0.01), 200, 600));
    p.extend(exchange(&mut f, secs(1.0), 200, 600));
    let last = secs(1.0) + RTT;
    let alert_at = last + secs(3.0);
    if proxy_side {
        // At the proxy the request leaves before the close arrives.
        p.push(f.data(alert_at - RTT / 2, true, &app(210)));
        let alert = f.seg(
            alert_at,
            false,
            0x18,
            &tls12_close_notify(),
            Some(f.client_next - 215),
        );
        p.push(alert);
        let fin = f.seg(alert_at + RTT, false, 0x11, &[], Some(f.client_next - 215));
        p.push(fin);
    } else {
        p.push(f.data(alert_at, false, &tls12_close_notify()));
        p.push(f.fin(alert_at + RTT, false));
        let ack = f.server_next - 32;
        p.push(f.seg(alert_at + RTT + RTT / 2, true, 0x18, &app(210), Some(ack)));
    }
    p.push(f.rst(alert_at + 2 * RTT, false));
    p
}

fn race_of(r: &Report) -> &racecap::report::Race {
    let f = findings(r, Verdict::KeepaliveRace);
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].protocol, Protocol::Tls);
    f[0].race.as_ref().unwrap()
}

/// The nginx case, at both capture points: a crossed race with the
/// request unreadable, its size, the retry unknown, and the idle gap from
/// the last application data (not from the close_notify).
#[test]
fn test_tls12_close_notify_race_at_both_capture_points() {
    for proxy_side in [false, true] {
        let r = analyze(&nginx_race(40000, proxy_side));
        let race = race_of(&r);
        assert_eq!(race.kind, RaceKind::Crossed, "proxy side {proxy_side}");
        assert!(race.request.is_none());
        assert_eq!(race.request_bytes, 215);
        assert_eq!(race.retried, None);
        assert!(race.close_notify_at.is_some());
        let idle = race.idle_before_close_ms.unwrap().ms();
        assert!((idle - 3001.0).abs() < 0.6, "{idle}");
        let conns = r.connections.as_ref().unwrap();
        // Two requests and the lost one; no handshake flight among them.
        assert_eq!(conns[0].requests, 3, "proxy side {proxy_side}");
        let s = &r.servers[0];
        assert_eq!(s.reused_requests, 2);
        assert_eq!(s.retried_unknown, 1);
        let tls = s.tls.as_ref().unwrap();
        assert_eq!(tls.sni, ["api.internal"]);
        assert_eq!(tls.alpn_offered, ["h2", "http/1.1"]);
        assert_eq!(tls.versions, ["1.2"]);
    }
}

/// Idle closes with a close_notify are timeout samples measured from the
/// last response, and the reuse gaps are those of application data.
#[test]
fn test_tls_idle_closes_are_samples() {
    let mut p = Vec::new();
    for i in 0..5u16 {
        let mut f = flow(41000 + i);
        let t0 = secs(f64::from(i) * 10.0);
        p.extend(handshake12(&mut f, t0));
        p.extend(exchange(&mut f, t0 + secs(0.01), 200, 600));
        p.extend(exchange(&mut f, t0 + secs(2.0), 200, 600));
        let last = t0 + secs(2.0) + RTT;
        p.push(f.data(last + secs(3.0), false, &tls12_close_notify()));
        p.push(f.fin(last + secs(3.0) + RTT, false));
        p.push(f.data(last + secs(3.0) + 2 * RTT, true, &tls12_close_notify()));
        p.push(f.fin(last + secs(3.0) + 2 * RTT, true));
        p.push(f.ack(last + secs(3.0) + 3 * RTT, false));
    }
    let r = analyze(&p);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    let s = &r.servers[0];
    let idle = s.idle_timeout.as_ref().expect("idle closes");
    assert_eq!(idle.n, 5);
    assert!(
        (idle.median_ms.ms() - 3001.0).abs() < 0.6,
        "{:?}",
        idle.median_ms
    );
    let reuse = s.reuse_window_ms.unwrap().ms();
    assert!((reuse - 1989.0).abs() < 0.6, "{reuse}");
    assert_eq!(s.reused_requests, 5);
}

/// TLS 1.3: the encrypted handshake records and session tickets are no
/// requests and no answers, the client's Finished goes with the request,
/// and the 24-byte record before the FIN is the close_notify.
#[test]
fn test_tls13_short_record_before_fin_is_the_close() {
    let mut f = flow(42000);
    let mut p = handshake13(&mut f, 0, 180);
    p.push(f.data(4 * RTT + RTT / 2, false, &app(700)));
    p.push(f.ack(6 * RTT, true));
    p.extend(exchange(&mut f, secs(1.0), 180, 700));
    let last = secs(1.0) + RTT;
    p.push(f.data(last + secs(2.0), false, &tls13_close_notify()));
    p.push(f.fin(last + secs(2.0) + RTT, false));
    let ack = f.server_next - 25;
    p.push(f.seg(last + secs(2.0) + 2 * RTT, true, 0x18, &app(180), Some(ack)));
    p.push(f.rst(last + secs(2.0) + 3 * RTT, false));
    let r = analyze(&p);
    let race = race_of(&r);
    assert_eq!(race.kind, RaceKind::Crossed);
    assert_eq!((race.request_bytes, race.retried), (185, None));
    assert!(race.close_notify_at.is_some());
    let idle = race.idle_before_close_ms.unwrap().ms();
    assert!((idle - 2001.0).abs() < 0.6, "{idle}");
    assert_eq!(r.connections.as_ref().unwrap()[0].requests, 3);
    let tls = r.servers[0].tls.as_ref().unwrap();
    assert_eq!(
        (tls.versions.clone(), tls.sni.clone()),
        (vec!["1.3"], vec!["grpc.internal".to_string()])
    );
}

/// A request sent after a close_notify and FIN the client had received (a
/// stale race) is still one; Node's `https` (a plain FIN, no alert) races
/// the same way.
#[test]
fn test_tls_stale_race_and_plain_fin() {
    for alert in [true, false] {
        let mut f = flow(43000);
        let mut p = handshake12(&mut f, 0);
        p.extend(exchange(&mut f, secs(0.01), 200, 600));
        let last = secs(0.01) + RTT;
        if alert {
            p.push(f.data(last + secs(5.0), false, &tls12_close_notify()));
        }
        p.push(f.fin(last + secs(5.0) + RTT, false));
        p.push(f.ack(last + secs(5.0) + 2 * RTT, true));
        p.push(f.data(last + secs(9.0), true, &app(300)));
        p.push(f.rst(last + secs(9.0) + RTT, false));
        let r = analyze(&p);
        let race = race_of(&r);
        assert_eq!(race.kind, RaceKind::Stale);
        assert_eq!(race.close_notify_at.is_some(), alert);
        assert_eq!(race.request_bytes, 305);
    }
}

/// The benign look-alike: the client's close_notify and FIN cross the
/// server's, and an RST tidies up. Nothing was lost.
#[test]
fn test_close_notify_crossing_fin_then_rst_is_clean() {
    let mut f = flow(44000);
    let mut p = handshake12(&mut f, 0);
    p.extend(exchange(&mut f, secs(0.01), 200, 600));
    let t = secs(10.0);
    let (c_ack, s_ack) = (f.server_next, f.client_next);
    p.push(f.seg(t, true, 0x18, &tls12_close_notify(), Some(c_ack)));
    p.push(f.seg(t, true, 0x11, &[], Some(c_ack)));
    p.push(f.seg(t + RTT / 4, false, 0x18, &tls12_close_notify(), Some(s_ack)));
    p.push(f.seg(t + RTT / 4, false, 0x11, &[], Some(s_ack)));
    p.push(f.rst(t + RTT, true));
    let r = analyze(&p);
    assert!(!only_verdict(&r).is_failure(), "{:#?}", r.findings);
    assert_eq!(r.servers[0].races, 0);
}
