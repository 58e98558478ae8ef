//! Real recordings over HTTP/2 cleartext (fixtures/lab/h2-*, made by
//! scripts/lab/record-h2.sh): HAProxy 2.6 (`server … proto h2`, idle
//! connections pooled) in front of Node's `http2`, which closes a session
//! 2 s after the end of its last stream with a GOAWAY (`goaway`: goaway
//! and destroy; `graceful`: session.close()), captured on the proxy's veth
//! and on the backend's. The truth comes from logs: HAProxy's (each
//! request's status and the pooled connection's source port) and Node's
//! (sessions, streams, idle closes); a race is a request HAProxy failed on
//! a session Node had closed idle, a stream Node never saw — or, with
//! `retry-on conn-failure empty-response` (`retry`), one it logged as
//! retried. `raw-reuse` has no proxy: a raw h2 client reuses each session
//! once after an idle gap whether or not the GOAWAY came (its own log is
//! the truth: a stream with no answer on a session Node closed idle).

use std::collections::BTreeSet;
use std::fs;

use racecap::analysis::defaults::Side;
use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::report::{Protocol, RaceKind, Report, Verdict};
use racecap::source::CaptureReader;
use serde_json::Value;

const SCENARIOS: [&str; 4] = [
    "haproxy-goaway",
    "haproxy-graceful",
    "haproxy-retry",
    "raw-reuse",
];
const POINTS: [&str; 2] = ["backend", "proxy"];

/// The one-way delay the recordings' relay put between proxy and backend
/// (record-h2.sh, DELAY_MS=20).
const DELAY_S: f64 = 0.020;

fn truth(name: &str) -> Value {
    let text = fs::read_to_string(format!("fixtures/lab/h2-{name}.truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report(name: &str, point: &str) -> Report {
    let path = format!("fixtures/lab/h2-{name}.{point}.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    let cfg = Config {
        keep_connections: true,
        ..Config::default()
    };
    pipeline::run(vec![(path, reader)], cfg).unwrap().0
}

fn each(mut f: impl FnMut(&str, &str, &Value, &Report)) {
    for name in SCENARIOS {
        let t = truth(name);
        for point in POINTS {
            f(name, point, &t, &report(name, point));
        }
    }
}

/// Every request HAProxy failed on a session Node closed idle is a race of
/// kind `goaway`, not processed, with its path, at both capture points;
/// nothing else fails.
#[test]
fn test_h2_lab_races_equal_the_logs() {
    each(|name, point, t, r| {
        let want = t["races"].as_u64().unwrap();
        assert!(want > 0, "{name}: the recording raced");
        assert_eq!(r.races(), want, "{name} at the {point}");
        assert_eq!(
            r.failures(),
            want,
            "{name} at the {point}: {:#?}",
            r.findings
        );
        let mut paths = BTreeSet::new();
        for f in &r.findings {
            assert_eq!(f.verdict, Verdict::KeepaliveRace);
            assert_eq!(f.protocol, Protocol::H2c, "{name}");
            let race = f.race.as_ref().unwrap();
            assert_eq!(race.kind, RaceKind::Goaway, "{name} at the {point}");
            assert_eq!(race.processed, Some(false), "{name} at the {point}");
            assert!(race.goaway_at.is_some(), "{name}");
            // HAProxy's log says which it re-sent (%rc); racecap finds the
            // re-sent stream by its request line on another connection.
            let retried = t["retried_races"].as_u64().unwrap() > 0;
            assert_eq!(race.retried, Some(retried), "{name} at the {point}");
            // HAProxy sends :path as a literal: every lost request is named.
            paths.insert(race.request.as_ref().expect("the path").path.clone());
        }
        let logged: BTreeSet<String> = t["race_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["path"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(paths, logged, "{name} at the {point}");
    });
}

/// Control frames are no requests: the streams racecap counts are the
/// streams Node logged plus the racing ones, and the reused ones all but
/// the first of each session.
#[test]
fn test_h2_lab_control_frames_are_not_requests() {
    each(|name, point, t, r| {
        let conns = r.connections.as_ref().unwrap();
        let streams: u64 = conns.iter().map(|c| u64::from(c.requests)).sum();
        assert_eq!(
            streams,
            t["streams"].as_u64().unwrap(),
            "{name} at the {point}"
        );
        let s = &r.servers[0];
        assert_eq!(
            s.reused_requests,
            t["reused_streams"].as_u64().unwrap(),
            "{name} at the {point}"
        );
        assert_eq!(conns.len() as u64, t["sessions"].as_u64().unwrap());
        assert!(conns.iter().all(|c| c.protocol == Protocol::H2c), "{name}");
    });
}

/// Each GOAWAY idle close is a timeout sample, its GOAWAY within ±20 ms of
/// Node's logged close, and the idle timeout within ±20 ms of the logged
/// idle gaps.
#[test]
fn test_h2_lab_goaway_closes_are_samples() {
    each(|name, point, t, r| {
        let closes = t["idle_close_list"].as_array().unwrap();
        let s = &r.servers[0];
        let idle = s.idle_timeout.as_ref().expect("idle closes seen");
        assert_eq!(idle.n, closes.len() as u64, "{name} at the {point}");
        let want = t["idle_close_median_ms"].as_f64().unwrap();
        let got = idle.estimate_ms.ms();
        assert!(
            (got - want).abs() <= 20.0,
            "{name} at the {point}: {got} vs {want}"
        );
        let conns = r.connections.as_ref().unwrap();
        for c in closes {
            let port = c["port"].as_u64().unwrap();
            let row = conns
                .iter()
                .find(|x| u64::from(x.client.port) == port)
                .unwrap_or_else(|| panic!("{name}: no connection from port {port}"));
            // At the proxy the GOAWAY arrives the relay's one-way delay later.
            let shift = if point == "proxy" { DELAY_S } else { 0.0 };
            let goaway = row.server_goaway_at.expect("a GOAWAY").0 as f64 / 1e9 - shift;
            let logged = c["closed_at"].as_f64().unwrap();
            assert!(
                (goaway - logged).abs() <= 0.020,
                "{name} at the {point}, port {port}: GOAWAY {goaway} vs logged {logged}"
            );
        }
    });
}

/// The report names the HTTP/2 server knobs (no HTTP/1 default is matched
/// to an h2 server's close) and the proxies' retries for streams never
/// processed, with HAProxy's `retry-on` (the one the `retry` recording
/// shows re-sending every lost stream).
#[test]
fn test_h2_lab_report_names_the_http2_and_retry_knobs() {
    each(|name, point, t, r| {
        let s = &r.servers[0];
        assert!(s.matches.is_empty(), "{name}: {:?}", s.matches);
        let recs = &s.recommendations;
        let server = recs
            .iter()
            .find(|x| x.side == Side::Server)
            .expect("a server step");
        for knob in [
            "http2session.setTimeout()",
            "IdleTimeout",
            "MaxConnectionIdle",
        ] {
            assert!(
                server.text.contains(knob),
                "{name} at the {point}: {}",
                server.text
            );
        }
        let retries = recs
            .iter()
            .find(|x| x.side == Side::Retries)
            .expect("a retries step");
        let n = t["races"].as_u64().unwrap();
        let said = format!("{n} of them were above the server's GOAWAY last-stream-id");
        assert!(retries.text.contains(&said), "{name}: {}", retries.text);
        for knob in [
            "retry-on conn-failure empty-response",
            "refused-stream",
            "non_idempotent",
        ] {
            assert!(retries.text.contains(knob), "{name}: {knob}");
        }
        assert!(
            retries
                .snippet
                .as_deref()
                .is_some_and(|x| x.contains("retry-on conn-failure empty-response"))
        );
    });
}

/// Issue 21: HTTP/2 over TLS 1.3 (ALPN h2; `h2-haproxy-tls`, HAProxy
/// `ssl verify none alpn h2` to Node's `http2.createSecureServer`). The
/// frames are encrypted, the records are not: every request HAProxy failed
/// (502 `SH--`) is a race, every other session an idle close (its GOAWAY
/// and close_notify records part of the close, the client's close_notify
/// and the RST that answers it no reset), each close an idle-timeout
/// sample near Node's 2 s, and the requests counted are HAProxy's (SETTINGS
/// ACKs, the WINDOW_UPDATEs after each response and the preface are none).
#[test]
fn test_issue21_h2_over_tls_lab() {
    let t = truth("haproxy-tls");
    for point in POINTS {
        let r = report("haproxy-tls", point);
        let races = t["races"].as_u64().unwrap();
        assert_eq!(r.races(), races, "at the {point}: {:#?}", r.findings);
        assert_eq!(r.failures(), races, "at the {point}: {:#?}", r.findings);
        let logged: BTreeSet<u64> = t["race_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["port"].as_u64().unwrap())
            .collect();
        let found: BTreeSet<u64> = r
            .findings
            .iter()
            .map(|f| {
                assert_eq!(f.protocol, Protocol::Tls);
                assert_eq!(f.race.as_ref().unwrap().kind, RaceKind::Crossed);
                u64::from(f.client.port)
            })
            .collect();
        assert_eq!(found, logged, "at the {point}");
        let conns = r.connections.as_ref().unwrap();
        assert_eq!(conns.len() as u64, t["sessions"].as_u64().unwrap());
        let closed = conns
            .iter()
            .filter(|c| c.verdict == Verdict::ClosedByServer)
            .count() as u64;
        assert_eq!(
            closed + races,
            t["sessions"].as_u64().unwrap(),
            "at the {point}"
        );
        let s = &r.servers[0];
        let idle = s.idle_timeout.as_ref().expect("idle closes measured");
        assert_eq!(idle.n, t["idle_closes"].as_u64().unwrap(), "at the {point}");
        let want = t["idle_close_median_ms"].as_f64().unwrap();
        let got = idle.estimate_ms.ms();
        assert!(
            (got - want).abs() <= 20.0,
            "at the {point}: {got} vs {want}"
        );
        assert_eq!(
            s.requests,
            t["requests"].as_u64().unwrap(),
            "at the {point}"
        );
        assert_eq!(
            s.reused_requests,
            t["reused_streams"].as_u64().unwrap(),
            "at the {point}"
        );
    }
}

/// Issue 21, HTTP/2 over TLS: the first screen must not name gunicorn for a
/// tight cluster of Node's closes at 2.0 s (gunicorn's poll spreads its
/// closes), nor say that no request failed when the races' requests could
/// not be read (HAProxy logged seven 502s).
#[test]
fn test_issue21_h2_over_tls_first_screen() {
    for point in POINTS {
        let capture = format!("fixtures/lab/h2-haproxy-tls.{point}.pcap");
        let out = crate::util::stdout(&["analyze", &capture]);
        let first: Vec<&str> = out.lines().take(4).collect();
        let fix = first.iter().find(|l| l.starts_with("Fix")).unwrap();
        assert!(!fix.contains("gunicorn: set"), "{fix}");
        assert!(!first[0].starts_with("No request failed"), "{}", first[0]);
        assert!(first[0].contains("cannot tell"), "{}", first[0]);
    }
}
