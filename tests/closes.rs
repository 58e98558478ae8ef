//! The ways a backend closes besides Node's plain FIN, on synthetic
//! connections with every sequence number known: a response cut short
//! (truncated_response, never an idle-timeout sample), an RST with no FIN
//! (the reset race), a lingering close (FIN, the request acknowledged and
//! dropped, no RST), and the witnesses of the software on each end.

use crate::synth::{Flow, flags, get, ok, secs};
use racecap::analysis::defaults::Side;
use racecap::analysis::software::ClientKind;
use racecap::app::http::Method;
use racecap::report::{BodyFraming, Peer, RaceKind, Verdict};

use crate::util::{analyze, findings, ip, only_verdict};

const RTT: i64 = 1_000_000; // 1 ms

fn flow(port: u16) -> Flow {
    Flow::new(
        (ip("10.0.0.1"), port),
        (ip("10.0.0.2"), 3000),
        1000,
        900_000,
    )
}

/// The case: `Content-Length: 2000`, about 1000 body bytes, then a
/// FIN 100 ms later. The client saw a failure; the server's 100 ms is no
/// idle timeout, so there is no mismatch and no fix from it.
#[test]
fn test_truncated_content_length_is_a_failure_not_a_timeout() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    p.push(f.data(secs(0.5), true, get("/big").as_bytes()));
    let head = "HTTP/1.1 200 OK\r\nServer: faulty/1.0\r\nContent-Length: 2000\r\n\r\n";
    let mut body = head.as_bytes().to_vec();
    body.extend_from_slice(&[b'x'; 500]);
    p.push(f.data(secs(0.5) + RTT, false, &body));
    p.push(f.data(secs(0.5) + 2 * RTT, false, &[b'y'; 500]));
    p.push(f.ack(secs(0.5) + 3 * RTT, true));
    p.push(f.fin(secs(0.6), false));
    p.push(f.fin(secs(0.6) + RTT, true));
    p.push(f.ack(secs(0.6) + 2 * RTT, false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::TruncatedResponse);
    let t = findings(&r, Verdict::TruncatedResponse)[0]
        .truncated
        .clone()
        .unwrap();
    assert_eq!(
        (
            t.status,
            t.framing,
            t.expected_body_bytes,
            t.body_bytes_sent
        ),
        (200, BodyFraming::ContentLength, Some(2000), 1000)
    );
    let req = t.request.unwrap();
    assert_eq!((req.method, req.path.as_str()), (Method::Get, "/big"));
    assert!(t.fin_at.is_some() && t.rst_at.is_none());
    assert_eq!(t.silent_before_close_ms.map(|m| m.ms()), Some(98.0));
    let s = &r.servers[0];
    assert!(s.idle_timeout.is_none(), "{:?}", s.idle_timeout);
    assert!(!s.mismatch);
    assert!(s.recommendations.iter().all(|x| x.side != Side::Proxy));
}

/// The same cut with an RST instead of a FIN is still a truncated response.
#[test]
fn test_truncated_by_rst() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), true, get("/big").as_bytes()));
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\npartial";
    p.push(f.data(secs(0.01) + RTT, false, head.as_bytes()));
    p.push(f.rst(secs(0.2), false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::TruncatedResponse);
    let fnd = findings(&r, Verdict::TruncatedResponse)[0];
    let t = fnd.truncated.as_ref().unwrap();
    assert_eq!((t.expected_body_bytes, t.body_bytes_sent), (Some(5000), 7));
    assert!(t.rst_at.is_some());
    assert_eq!(fnd.reset.as_ref().unwrap().by, Peer::Server);
}

/// Chunked bodies end at their last chunk: one cut before it is
/// truncated; one complete is followed by an idle close that is a sample.
#[test]
fn test_chunked_cut_and_complete() {
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    // Cut: the last chunk never comes.
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), true, get("/stream").as_bytes()));
    p.push(f.data(secs(0.01) + RTT, false, head.as_bytes()));
    p.push(f.fin(secs(3.0), false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::TruncatedResponse);
    let t = findings(&r, Verdict::TruncatedResponse)[0]
        .truncated
        .clone()
        .unwrap();
    assert_eq!(
        (t.framing, t.expected_body_bytes),
        (BodyFraming::Chunked, None)
    );
    assert!(r.servers[0].idle_timeout.is_none());

    // Complete (the last chunk in its own segment), then a 3 s idle close.
    let mut f = flow(40001);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), true, get("/stream").as_bytes()));
    p.push(f.data(secs(0.01) + RTT, false, head.as_bytes()));
    p.push(f.data(secs(0.01) + 2 * RTT, false, b"0\r\n\r\n"));
    p.push(f.ack(secs(0.01) + 3 * RTT, true));
    let last = secs(0.01) + 2 * RTT;
    p.push(f.fin(last + secs(3.0), false));
    p.push(f.fin(last + secs(3.0) + RTT, true));
    p.push(f.ack(last + secs(3.0) + 2 * RTT, false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::ClosedByServer);
    let idle = r.servers[0].idle_timeout.as_ref().expect("an idle sample");
    assert_eq!(idle.n, 1);
    assert_eq!(idle.min_ms.ms(), 3000.0);
}

/// A response whose body runs until the close ends at the FIN: a close
/// after a response, no idle timeout, nothing truncated.
#[test]
fn test_close_delimited_body_is_no_idle_close() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), true, get("/old").as_bytes()));
    p.push(f.data(secs(0.01) + RTT, false, b"HTTP/1.0 200 OK\r\n\r\nbody"));
    p.push(f.fin(secs(0.3), false));
    p.push(f.fin(secs(0.3) + RTT, true));
    p.push(f.ack(secs(0.3) + 2 * RTT, false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::ClosedByServer);
    assert!(r.servers[0].idle_timeout.is_none());
    assert_eq!(r.servers[0].closes_after_response, 1);
}

/// gunicorn's gthread worker: the request arrives just before the worker's
/// close() of an idle connection, so Linux answers RST and sends no FIN. A
/// keep-alive race of kind reset, with its request, and a sample of the
/// server's idle close.
#[test]
fn test_reset_without_fin_after_idle_is_a_race() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    let last = secs(0.01) + RTT;
    p.push(f.data(last + secs(2.6), true, get("/b").as_bytes()));
    p.push(f.ack(last + secs(2.6) + 100_000, false));
    p.push(f.rst_ack(last + secs(2.6) + 200_000, false));
    // nginx retries the GET on a new connection at once.
    let mut g = flow(40001);
    p.extend(g.handshake(last + secs(2.601), RTT));
    p.extend(g.exchange(last + secs(2.603), RTT, &get("/b"), &ok(None)));
    let r = analyze(&p);
    let races = findings(&r, Verdict::KeepaliveRace);
    assert_eq!(races.len(), 1);
    let race = races[0].race.clone().unwrap();
    assert_eq!(race.kind, RaceKind::Reset);
    assert!(race.fin_at.is_none() && race.fin_seq.is_none());
    assert!(race.fin_to_request_ms.is_none());
    assert!(race.rst_at.is_some());
    assert_eq!(race.request.unwrap().path, "/b");
    assert_eq!(race.retried, Some(true));
    assert_eq!(race.idle_before_close_ms.map(|m| m.ms()), Some(2600.2));
    let idle = r.servers[0]
        .idle_timeout
        .as_ref()
        .expect("the race's close");
    assert_eq!(idle.n, 1);
}

/// An application that resets a request it was handling, long after the
/// request or without an idle gap before it, is a server reset that keeps
/// the request (acknowledged or not), not a race.
#[test]
fn test_application_reset_keeps_its_request() {
    // No idle gap: the first request on the connection.
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.01), true, get("/work").as_bytes()));
    p.push(f.ack(secs(0.01) + RTT, false));
    p.push(f.rst_ack(secs(0.02), false));
    // After an idle gap, but 2 s after the request: the application's.
    let mut g = flow(40001);
    p.extend(g.handshake(0, RTT));
    p.extend(g.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    p.push(g.data(secs(3.0), true, get("/slow").as_bytes()));
    p.push(g.ack(secs(3.0) + RTT, false));
    p.push(g.rst_ack(secs(5.0), false));
    let r = analyze(&p);
    let resets = findings(&r, Verdict::ServerReset);
    assert_eq!(resets.len(), 2, "{:?}", r.verdict_counts);
    let paths: Vec<&str> = resets
        .iter()
        .map(|f| {
            let x = f.reset.as_ref().unwrap();
            assert!(x.outstanding_since.is_some());
            x.request.as_ref().unwrap().path.as_str()
        })
        .collect();
    assert_eq!(paths, ["/work", "/slow"]);
}

/// Apache's lingering close: FIN after the idle timeout, then the request
/// is read and acknowledged and dropped, with no RST. The race has no
/// `rst_at`, and the proxy's retry on another connection is found.
#[test]
fn test_lingering_close_race_is_retried() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    let last = secs(0.01) + RTT;
    let unaware = f.server_next;
    p.push(f.fin(last + secs(2.0), false));
    // The request crosses the FIN, is acknowledged, and never answered.
    p.push(f.seg(
        last + secs(2.0) + 300_000,
        true,
        flags::PSH | flags::ACK,
        get("/again").as_bytes(),
        Some(unaware),
    ));
    p.push(f.ack(last + secs(2.0) + 600_000, false));
    p.push(f.fin(last + secs(2.0) + 700_000, true));
    p.push(f.ack(last + secs(2.0) + 800_000, false));
    let mut g = flow(40001);
    p.extend(g.handshake(last + secs(2.001), RTT));
    p.extend(g.exchange(last + secs(2.003), RTT, &get("/again"), &ok(None)));
    let r = analyze(&p);
    let race = findings(&r, Verdict::KeepaliveRace)[0]
        .race
        .clone()
        .unwrap();
    assert_eq!(race.kind, RaceKind::Crossed);
    assert!(race.rst_at.is_none());
    assert_eq!(race.retried, Some(true));
    assert_eq!(r.servers[0].retried_races, 1);
}

/// A race whose request cannot be read (here: not HTTP) has an unknown
/// retry, never "not retried", and the server counts it as unknown.
#[test]
fn test_unknown_request_has_unknown_retry() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    let last = secs(0.01) + RTT;
    p.push(f.fin(last + secs(5.0), false));
    p.push(f.ack(last + secs(5.0) + RTT / 2, true));
    p.push(f.data(last + secs(6.0), true, b"\x17\x03\x03\x00\x20encrypted"));
    p.push(f.rst(last + secs(6.0) + RTT / 2, false));
    let r = analyze(&p);
    let race = findings(&r, Verdict::KeepaliveRace)[0]
        .race
        .clone()
        .unwrap();
    assert!(race.request.is_none());
    assert_eq!(race.retried, None);
    assert_eq!(
        (r.servers[0].retried_races, r.servers[0].retried_unknown),
        (0, 1)
    );
}

/// A request after which the server keeps answering is no race, however
/// long the idle gap, and a 1 s gap is needed for an RST to be a race.
#[test]
fn test_reset_race_needs_idle_gap_and_promptness() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    // 0.5 s idle, then an RST at once: the application's reset.
    p.push(f.data(secs(0.5), true, get("/b").as_bytes()));
    p.push(f.rst_ack(secs(0.5) + 100_000, false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::ServerReset);
}

/// The `Server` header names the software. Request heads without
/// forwarding headers, from one address that talks to this server only, are
/// a client library's when they say so (`User-Agent`) or when the pool
/// never noticed the server's close (Python's `http.client` sends no
/// `User-Agent` and writes into the half-closed connection seconds later);
/// an `X-Forwarded-For` makes it a proxy; no mark leaves it unknown.
#[test]
fn test_software_and_client_kind_witnesses() {
    let resp = "HTTP/1.1 200 OK\r\nServer: Apache/2.4.71 (Debian)\r\nX-Powered-By: PHP/8.2\r\nContent-Length: 2\r\n\r\nok";
    let kind = |req: &str, stale_after: Option<f64>| {
        let mut f = flow(40000);
        let mut p = f.handshake(0, RTT);
        p.extend(f.exchange(secs(0.01), RTT, req, resp));
        p.extend(f.exchange(secs(0.5), RTT, req, resp));
        if let Some(after) = stale_after {
            let last = secs(0.5) + RTT;
            p.push(f.fin(last + secs(5.0), false));
            p.push(f.ack(last + secs(5.0) + RTT / 2, true));
            p.push(f.data(last + secs(5.0 + after), true, req.as_bytes()));
            p.push(f.rst(last + secs(5.0 + after) + RTT / 2, false));
        }
        analyze(&p)
    };
    let requests = "GET /a HTTP/1.1\r\nHost: b\r\nUser-Agent: python-requests/2.31\r\n\r\n";
    let r = kind(requests, None);
    let s = &r.servers[0];
    assert_eq!(s.server_header.as_deref(), Some("Apache/2.4.71 (Debian)"));
    assert_eq!(s.powered_by.as_deref(), Some("PHP/8.2"));
    assert_eq!(s.client_kind, ClientKind::Library);

    // http.client: no User-Agent. Unknown until the pool misses a close.
    let bare = "GET /a HTTP/1.1\r\nHost: b\r\nAccept-Encoding: identity\r\n\r\n";
    assert_eq!(kind(bare, None).servers[0].client_kind, ClientKind::Unknown);
    let r = kind(bare, Some(3.0));
    assert_eq!(r.races(), 1);
    assert_eq!(r.servers[0].client_kind, ClientKind::Library);
    // The fix is for the pool inside the application, not a proxy.
    let sides: Vec<Side> = r.servers[0]
        .recommendations
        .iter()
        .map(|x| x.side)
        .collect();
    assert!(
        sides.contains(&Side::Client) && !sides.contains(&Side::Proxy),
        "{sides:?}"
    );

    let proxied = "GET /a HTTP/1.1\r\nHost: b\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n";
    assert_eq!(
        kind(proxied, Some(3.0)).servers[0].client_kind,
        ClientKind::Proxy
    );

    // A browser's User-Agent passed on by a proxy that adds nothing.
    let browser = "GET /a HTTP/1.1\r\nHost: b\r\nUser-Agent: Mozilla/5.0\r\n\r\n";
    assert_eq!(
        kind(browser, Some(3.0)).servers[0].client_kind,
        ClientKind::Unknown
    );
}

/// A client (a proxy's read timeout) that closes while its request is
/// unanswered, and takes no answer, is a client timeout with the request;
/// one that only half-closed and reads the answer is no failure.
#[test]
fn test_client_timeout_and_half_close() {
    // No answer ever: nginx's proxy_read_timeout.
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    p.push(f.data(secs(0.5), true, get("/slow").as_bytes()));
    p.push(f.ack(secs(0.5) + RTT, false));
    p.push(f.fin(secs(1.5), true));
    // The server closes in turn (its FIN takes a sequence number).
    p.push(f.fin(secs(1.5) + RTT, false));
    p.push(f.ack(secs(1.5) + 2 * RTT, true));
    // Answered after the FIN: the client's kernel refuses it with an RST.
    let mut g = flow(40001);
    p.extend(g.handshake(0, RTT));
    p.push(g.data(secs(0.01), true, get("/slower").as_bytes()));
    p.push(g.fin(secs(1.01), true));
    p.push(g.data(secs(1.5), false, ok(None).as_bytes()));
    p.push(g.rst(secs(1.5) + RTT, true));
    // Half-closed after the request, then read the answer: nothing failed.
    let mut h = flow(40002);
    p.extend(h.handshake(0, RTT));
    p.push(h.data(secs(0.01), true, get("/half").as_bytes()));
    p.push(h.fin(secs(0.01) + 100_000, true));
    p.push(h.data(secs(0.2), false, ok(None).as_bytes()));
    p.push(h.ack(secs(0.2) + RTT, true));
    p.push(h.fin(secs(0.3), false));
    p.push(h.ack(secs(0.3) + RTT, true));
    let r = analyze(&p);
    let t: Vec<_> = findings(&r, Verdict::ClientTimeout)
        .iter()
        .map(|f| f.timeout.clone().unwrap())
        .collect();
    assert_eq!(t.len(), 2, "{:?}", r.verdict_counts);
    assert_eq!(t[0].request.as_ref().unwrap().path, "/slow");
    assert_eq!(t[0].waited_ms.map(|m| m.ms()), Some(1000.0));
    assert!(!t[0].answered_late && t[0].rst_at.is_none());
    assert_eq!(t[1].request.as_ref().unwrap().path, "/slower");
    assert!(t[1].answered_late && t[1].rst_at.is_some());
    assert_eq!(
        r.count(Verdict::ClosedByServer) + r.count(Verdict::ClosedByClient),
        1
    );
    // The read timeout is no sample of the client's idle timeout.
    assert!(r.servers[0].idle_before_client_fin.is_none());
}

/// Headers a proxy adds to every request name it: Istio's client
/// certificate (or Envoy's `x-envoy-*` alone, or the ALB's trace id), so the
/// fix is written for it.
#[test]
fn test_request_headers_name_the_proxy() {
    let run = |req: &str| {
        let mut f = flow(40000);
        let mut p = f.handshake(0, RTT);
        p.extend(f.exchange(secs(0.01), RTT, req, &ok(None)));
        let last = secs(0.01) + RTT;
        p.push(f.fin(last + secs(5.0), false));
        p.push(f.data(last + secs(5.0) + 200_000, true, req.as_bytes()));
        p.push(f.rst(last + secs(5.0) + 300_000, false));
        let mut r = analyze(&p);
        r.settle_proxy(None);
        r
    };
    let istio = "GET /a HTTP/1.1\r\nHost: b\r\nx-forwarded-client-cert: By=spiffe://cluster.local/ns/a/sa/b\r\nx-envoy-attempt-count: 1\r\n\r\n";
    let r = run(istio);
    assert_eq!(r.races(), 1);
    assert_eq!(r.servers[0].proxy_headers.map(|m| m.name()), Some("istio"));
    let seen = r.proxy.unwrap();
    assert_eq!(
        (seen.kind.name(), seen.source.name()),
        ("istio", "request_headers")
    );
    let envoy = "GET /a HTTP/1.1\r\nHost: b\r\nx-envoy-expected-rq-timeout-ms: 15000\r\n\r\n";
    assert_eq!(run(envoy).proxy.unwrap().kind.name(), "envoy");
    // No such header: nothing named (the proxy stays unknown).
    assert!(run(&get("/a")).proxy.is_none());
}

/// An application that reads a request and closes without a word (issue
/// 21: HAProxy closing its client's connection when its upstream raced):
/// the FIN acknowledges the request, so it is no race, and no orderly
/// close either: `no_response`, the request lost, the application's.
#[test]
fn test_close_after_reading_the_request_is_no_response() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    let sent = secs(1.0);
    p.push(f.data(sent, true, get("/b").as_bytes()));
    p.push(f.ack(sent + RTT, false));
    p.push(f.fin(sent + secs(0.03), false));
    p.push(f.fin(sent + secs(0.03) + RTT, true));
    p.push(f.ack(sent + secs(0.03) + 2 * RTT, false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::NoResponse);
    let fnd = findings(&r, Verdict::NoResponse)[0];
    assert_eq!(fnd.cause, Some(racecap::report::Cause::Application));
    let u = fnd.unanswered.clone().unwrap();
    assert_eq!(u.request.unwrap().path, "/b");
    assert_eq!(u.request_at.0, sent);
    assert_eq!(u.fin_at.unwrap().0, sent + secs(0.03));
    assert_eq!(r.summary.lost_by_method.get("GET"), Some(&1));
    // Not an idle close: no timeout is read from it.
    assert!(r.servers[0].idle_timeout.is_none());
}

/// A protocol racecap does not frame owes no answer (SMTP's QUIT, then the
/// server's close): an orderly close, no finding.
#[test]
fn test_close_after_unframed_data_is_orderly() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.push(f.data(secs(0.5), true, b"QUIT\r\n"));
    p.push(f.ack(secs(0.5) + RTT, false));
    p.push(f.fin(secs(0.5) + 2 * RTT, false));
    p.push(f.fin(secs(0.5) + 3 * RTT, true));
    p.push(f.ack(secs(0.5) + 4 * RTT, false));
    let r = analyze(&p);
    assert_eq!(only_verdict(&r), Verdict::ClosedByServer);
    assert!(r.findings.is_empty());
}

/// A response the capture lost (the server's FIN past data never seen)
/// proves no close without an answer: no `no_response`.
#[test]
fn test_close_after_a_lost_response_is_no_finding() {
    let mut f = flow(40000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
    p.push(f.data(secs(1.0), true, get("/b").as_bytes()));
    p.push(f.ack(secs(1.0) + RTT, false));
    f.server_next += 700;
    p.push(f.fin(secs(1.2), false));
    p.push(f.fin(secs(1.2) + RTT, true));
    p.push(f.ack(secs(1.2) + 2 * RTT, false));
    let r = analyze(&p);
    assert!(
        findings(&r, Verdict::NoResponse).is_empty(),
        "{:?}",
        r.verdict_counts
    );
}
