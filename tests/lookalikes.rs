//! Issue 21's look-alikes, on synthetic connections with every sequence
//! number known: a late segment that carries no request of a protocol
//! racecap frames is no lost request. A TLS alert of any version (SSLv3's
//! close_notify included) or an SMTP `QUIT` crossing the server's FIN, and
//! the RST that answers it, are the server's close; the body of an
//! `Expect: 100-continue` request is no second request; WebSocket frames
//! after a `101` are no requests; and a server that closes right after a
//! bulk download, its data still unacknowledged, shows no idle timeout.

use crate::synth::{Flow, get, ok, secs};
use racecap::report::{Protocol, Report, Verdict};

use crate::util::{analyze, ip, only_verdict};

const RTT: i64 = 1_000_000; // 1 ms

fn flow(port: u16, server_port: u16) -> Flow {
    Flow::new(
        (ip("10.0.0.1"), port),
        (ip("10.0.0.2"), server_port),
        1000,
        900_000,
    )
}

fn record(ty: u8, minor: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 3, minor];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A minimal hello (`ty` 1 client, 2 server) of SSLv3 (version 3.0).
fn ssl3_hello(ty: u8) -> Vec<u8> {
    let mut body = vec![3, 0];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 2, 0, 0x0a, 1, 0]);
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(&body);
    record(22, 0, &m)
}

fn server(r: &Report) -> &racecap::report::ServerReport {
    assert_eq!(r.servers.len(), 1, "{:#?}", r.servers);
    &r.servers[0]
}

/// SSLv3 (record version 0x0300): after 5 s idle the server's FIN; the
/// client's 37-byte close_notify crosses it and meets the closed socket's
/// RST. Nothing was lost: the server closed, and its close is an idle
/// timeout sample.
#[test]
fn test_issue21_sslv3_close_notify_crossing_fin_is_the_servers_close() {
    let mut f = flow(45000, 443);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), true, &ssl3_hello(1)));
    p.push(f.data(secs(0.01) + RTT, false, &ssl3_hello(2)));
    p.push(f.data(secs(0.01) + 2 * RTT, true, &record(23, 0, &[0xa5; 300])));
    p.push(f.data(secs(0.01) + 3 * RTT, false, &record(23, 0, &[0x5a; 900])));
    p.push(f.ack(secs(0.01) + 4 * RTT, true));
    let t = secs(5.02);
    let ack = f.server_next;
    p.push(f.fin(t, false));
    // The alert left before the FIN arrived: it does not acknowledge it.
    p.push(f.seg(
        t + RTT / 4,
        true,
        0x18,
        &record(21, 0, &[0x33; 32]),
        Some(ack),
    ));
    p.push(f.rst(t + RTT / 2, false));
    p.push(f.seg(t + RTT, true, 0x11, &[], Some(ack + 1)));
    let r = analyze(&p);
    assert_eq!(
        only_verdict(&r),
        Verdict::ClosedByServer,
        "{:#?}",
        r.findings
    );
    assert_eq!(r.failures(), 0);
    let s = server(&r);
    assert_eq!(s.idle_timeout.as_ref().map(|d| d.n), Some(1));
    assert_eq!(s.requests, 1);
}

/// SMTP: the server greets, the client says EHLO and MAIL; after 5 s idle
/// the server sends `421` and its FIN; the client's `QUIT` crosses them
/// and meets an RST. No keep-alive race, no reset: the server's close.
#[test]
fn test_issue21_smtp_quit_after_fin_is_no_race() {
    let mut f = flow(45001, 25);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), false, b"220 mail.example ESMTP\r\n"));
    p.push(f.data(secs(0.01) + RTT, true, b"EHLO client.example\r\n"));
    p.push(f.data(secs(0.01) + 2 * RTT, false, b"250 mail.example\r\n"));
    p.push(f.data(secs(0.01) + 3 * RTT, true, b"NOOP\r\n"));
    p.push(f.data(secs(0.01) + 4 * RTT, false, b"250 OK\r\n"));
    p.push(f.ack(secs(0.01) + 5 * RTT, true));
    let t = secs(5.02);
    let ack = f.server_next;
    p.push(f.data(t, false, b"421 timeout\r\n"));
    p.push(f.fin(t, false));
    p.push(f.seg(t + RTT / 4, true, 0x18, b"QUIT\r\n", Some(ack)));
    p.push(f.rst(t + RTT / 2, false));
    let r = analyze(&p);
    assert_eq!(r.races(), 0, "{:#?}", r.findings);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    assert_eq!(only_verdict(&r), Verdict::ClosedByServer);
}
/// `Expect: 100-continue`: the head, `100 Continue`, the body, the final
/// `200`, twice on one connection: two requests, not four.
#[test]
fn test_issue21_expect_100_continue_is_one_request() {
    let mut f = flow(45002, 8080);
    let mut p = f.handshake(0, RTT);
    for k in 0..2 {
        let t = secs(0.01 + f64::from(k));
        let head = "POST /upload HTTP/1.1\r\nHost: backend\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
        p.push(f.data(t, true, head.as_bytes()));
        p.push(f.data(t + RTT, false, b"HTTP/1.1 100 Continue\r\n\r\n"));
        p.push(f.data(t + 2 * RTT, true, b"hello"));
        p.push(f.data(t + 3 * RTT, false, ok(Some(5)).as_bytes()));
        p.push(f.ack(t + 4 * RTT, true));
    }
    p.push(f.fin(secs(7.0), true));
    p.push(f.fin(secs(7.0) + RTT, false));
    let r = analyze(&p);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    let s = server(&r);
    assert_eq!((s.requests, s.reused_requests), (2, 1));
}

/// A WebSocket: the upgrade request, `101 Switching Protocols`, then frames
/// both ways: one request, whatever the frames.
#[test]
fn test_issue21_websocket_frames_are_no_requests() {
    let mut f = flow(45003, 8080);
    let mut p = f.handshake(0, RTT);
    let up =
        "GET /ws HTTP/1.1\r\nHost: backend\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    p.push(f.data(secs(0.01), true, up.as_bytes()));
    let switching =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    p.push(f.data(secs(0.01) + RTT, false, switching.as_bytes()));
    for k in 0..5 {
        let t = secs(0.5 + f64::from(k));
        p.push(f.data(
            t,
            true,
            &[0x81, 0x85, 1, 2, 3, 4, b'h', b'e', b'l', b'l', b'o'],
        ));
        p.push(f.data(t + RTT, false, &[0x81, 0x02, b'o', b'k']));
        p.push(f.ack(t + 2 * RTT, true));
    }
    p.push(f.fin(secs(6.0), true));
    p.push(f.fin(secs(6.0) + RTT, false));
    let r = analyze(&p);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    assert_eq!(server(&r).requests, 1);
}

/// A bulk download: the response's last segments and then the server's FIN
/// 99 ms later, queued behind data the client had not yet acknowledged (a
/// full congestion window). The server was sending, not idle: no idle
/// timeout of 0.099 s.
#[test]
fn test_issue21_close_after_bulk_download_is_no_idle_timeout() {
    let mut f = flow(45004, 8000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/small"), &ok(None)));
    p.push(f.data(secs(0.5), true, get("/big.iso").as_bytes()));
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n";
    let t = secs(0.5) + RTT;
    let acked = f.server_next;
    p.push(f.data(t, false, head.as_bytes()));
    for k in 0..20 {
        p.push(f.data(t + i64::from(k) * 100_000, false, &[b'x'; 1000]));
    }
    let last = t + 20 * 100_000;
    // Some of the data is still unacknowledged when the FIN leaves.
    p.push(f.seg(last, true, 0x10, &[], Some(acked + 10_000)));
    p.push(f.fin(last + secs(0.099), false));
    p.push(f.ack(last + secs(0.099) + RTT, true));
    p.push(f.fin(last + secs(0.1), true));
    let r = analyze(&p);
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    let s = server(&r);
    assert!(s.idle_timeout.is_none(), "{:?}", s.idle_timeout);
}

/// STARTTLS: a POP3 greeting, `STLS`, then a TLS handshake and records.
/// The ClientHello turns the line protocol into TLS, as it would open TLS
/// on a connection that began with it (the corpus's
/// zeek-tls-pop3-starttls.pcap): the handshake is no request.
#[test]
fn test_issue21_starttls_turns_a_line_protocol_into_tls() {
    let mut f = flow(45005, 110);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), false, b"+OK POP3 ready\r\n"));
    p.push(f.data(secs(0.01) + RTT, true, b"STLS\r\n"));
    p.push(f.data(secs(0.01) + 2 * RTT, false, b"+OK begin TLS\r\n"));
    p.push(f.data(secs(0.01) + 3 * RTT, true, &ssl3_hello(1)));
    p.push(f.data(secs(0.01) + 4 * RTT, false, &ssl3_hello(2)));
    p.push(f.data(secs(0.01) + 5 * RTT, true, &record(23, 0, &[0xa5; 40])));
    p.push(f.data(secs(0.01) + 6 * RTT, false, &record(23, 0, &[0x5a; 90])));
    p.push(f.fin(secs(1.0), true));
    p.push(f.fin(secs(1.0) + RTT, false));
    let r = analyze(&p);
    let conns = r.connections.as_ref().unwrap();
    assert_eq!(conns[0].protocol, Protocol::Tls, "{conns:#?}");
    assert_eq!(r.failures(), 0);
}
