//! Issue 21 on a real capture of both legs of an HTTP/2 proxy
//! (fixtures/lab/h2-proxy-legs.*, made with
//! `scripts/lab/record-h2-proxy-legs.sh`): HAProxy 2.6 speaking h2c to its
//! clients (127.0.0.1:9225) and to Node's `http2` backend (10.221.5.2:8225,
//! a session closed with GOAWAY and FIN 2 s after its last stream). A raw
//! h2 client sends two GETs per client session, the second after an idle
//! gap; seven of those second streams went out on a pooled backend session
//! Node had just closed (Node never saw them). HAProxy logged nothing for
//! them and answered each on the client's session with RST_STREAM
//! (REFUSED_STREAM), the client's log says `rst_stream`: no response.
//! The races are the backend's; the proxy's listener has none, no
//! idle-timeout sample, no mismatch and no fix, and each lost request is
//! counted once.

use std::collections::BTreeMap;
use std::fs;

use racecap::analysis::defaults::Side;
use racecap::analyzer::Config;
use racecap::report::{Cause, Finding, RaceKind, Report, Verdict};
use serde_json::Value;

const PCAP: &str = "fixtures/lab/h2-proxy-legs.proxy-any.pcap";
/// HAProxy's listener (the client leg, on the proxy's loopback).
const LISTENER: u16 = 9225;
/// Node's http2 server (the backend leg, through the relay).
const BACKEND: u16 = 8225;

fn report() -> Report {
    let cfg = Config {
        keep_connections: true,
        ..Config::default()
    };
    crate::util::analyze_bytes(fs::read(PCAP).unwrap(), cfg)
}

fn truth() -> Value {
    let text = fs::read_to_string("fixtures/lab/h2-proxy-legs.truth.json").unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What the client's log (`SENT_AT PORT STREAM PATH OUTCOME
/// GOAWAY_BEFORE`) says each failed stream got, by path: a 5xx status as
/// itself, anything else that is no status (`rst_stream`, `closed`,
/// `reset`, `timeout`) as `no_response`.
fn client_failures() -> BTreeMap<String, String> {
    fs::read_to_string("fixtures/lab/h2-proxy-legs.client.log")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let outcome = f[4];
            match outcome.parse::<u16>() {
                Ok(s) if s < 500 => None,
                Ok(_) => Some((f[3].to_string(), outcome.to_string())),
                Err(_) => Some((f[3].to_string(), "no_response".to_string())),
            }
        })
        .collect()
}

/// The request a finding is about, whatever its verdict.
fn path(f: &Finding) -> Option<String> {
    let r = f
        .race
        .as_ref()
        .and_then(|r| r.request.as_ref())
        .or(f.timeout.as_ref().and_then(|t| t.request.as_ref()))
        .or(f.unanswered.as_ref().and_then(|u| u.request.as_ref()));
    r.map(|q| q.path.clone())
}

/// The recording is what the logs say: seven streams lost, each a race on
/// a session Node closed idle, none logged by HAProxy, each answered to the
/// client with RST_STREAM.
#[test]
fn test_lab_h2_proxy_legs_truth_from_the_logs() {
    let t = truth();
    let lost = client_failures();
    assert_eq!(lost.len(), 7);
    assert!(lost.values().all(|g| g == "no_response"));
    assert_eq!(t["races"].as_u64().unwrap(), 7);
    assert_eq!(t["client_requests"].as_u64().unwrap(), 60);
    let mut raced: Vec<&str> = t["race_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "rst_stream");
            assert_eq!(r["logged_by_haproxy"], false);
            r["path"].as_str().unwrap()
        })
        .collect();
    raced.sort_unstable();
    assert_eq!(raced, lost.keys().map(String::as_str).collect::<Vec<_>>());
}

/// Every stream the logs show lost is a race on the backend leg, found
/// once there: `keepalive_race` of kind `goaway`, not processed, not
/// retried, by the server's idle timer, on Node's port; the backend's idle
/// timeout is measured from Node's 19 idle closes.
#[test]
fn test_lab_h2_proxy_legs_races_are_the_backends() {
    let r = report();
    let t = truth();
    let mut raced: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::KeepaliveRace)
        .map(|f| {
            assert_eq!(f.server.port, BACKEND, "a race on the listener: {f:?}");
            assert_eq!(f.cause, Some(Cause::IdleTimer));
            let race = f.race.as_ref().unwrap();
            assert_eq!(race.kind, RaceKind::Goaway);
            assert_eq!(race.processed, Some(false));
            assert_eq!(race.retried, Some(false));
            path(f).expect("the lost stream's path")
        })
        .collect();
    raced.sort();
    let lost: Vec<String> = client_failures().into_keys().collect();
    assert_eq!(raced, lost);
    let backend = r
        .servers
        .iter()
        .find(|s| s.endpoint.port == BACKEND)
        .expect("the backend");
    assert_eq!(backend.races, 7);
    let idle = backend.idle_timeout.as_ref().expect("Node's idle closes");
    assert_eq!(idle.n, t["idle_closes"].as_u64().unwrap());
    let want = t["idle_close_median_ms"].as_f64().unwrap();
    assert!((idle.estimate_ms.ms() - want).abs() <= 20.0, "{idle:?}");
}

/// The proxy's listener is no server with a keep-alive problem: no race,
/// no idle-timeout sample, no mismatch, no recommendation; and nothing in
/// the report names gunicorn.
#[test]
fn test_lab_h2_proxy_legs_listener_has_no_race_and_no_fix() {
    let r = report();
    assert!(
        r.findings
            .iter()
            .all(|f| f.server.port != LISTENER || f.verdict != Verdict::KeepaliveRace)
    );
    let listener = r
        .servers
        .iter()
        .find(|s| s.endpoint.port == LISTENER)
        .expect("the proxy's listener");
    // races, an idle-timeout sample, a mismatch, steps
    let quiet = (
        listener.races,
        listener.idle_timeout.is_some(),
        listener.mismatch,
        listener.recommendations.len(),
    );
    assert_eq!(quiet, (0, false, false, 0), "{listener:#?}");
    for s in &r.servers {
        assert!(
            s.matches.iter().all(|m| !m.software.contains("gunicorn")),
            "{:?}: {:?}",
            s.endpoint,
            s.matches
        );
    }
    let out = crate::util::stdout(&["analyze", PCAP]);
    assert!(!out.contains("gunicorn"), "{out}");
}

/// The fix line is the backend's: the HTTP/2 server's idle timeout (Node's
/// 2 s close) against the proxy's pool, never a step for the listener.
#[test]
fn test_lab_h2_proxy_legs_fix_is_for_the_backend() {
    let r = report();
    let backend = r
        .servers
        .iter()
        .find(|s| s.endpoint.port == BACKEND)
        .unwrap();
    let server = backend
        .recommendations
        .iter()
        .find(|x| x.side == Side::Server)
        .expect("the backend's server step");
    assert!(
        server.text.contains("HTTP/2 server's idle timeout"),
        "{}",
        server.text
    );
    let out = crate::util::stdout(&["analyze", PCAP]);
    let fix = out
        .lines()
        .find(|l| l.starts_with("Fix"))
        .unwrap_or_else(|| panic!("no fix line: {out}"));
    assert!(fix.contains("HTTP/2 server's idle timeout"), "{fix}");
    for listener in ["127.0.0.1", ":9225", "gunicorn"] {
        assert!(!fix.contains(listener), "{fix}");
    }
}

/// Each lost stream is one failure: the listener's side of it (HAProxy's
/// RST_STREAM REFUSED_STREAM 30–40 ms after the client's HEADERS, right
/// after the backend's GOAWAY) is the proxy passing the backend's race on
/// (cause `upstream`, naming it), not a failure of its own.
#[test]
fn test_lab_h2_proxy_legs_each_failure_found_once() {
    let r = report();
    let lost = client_failures();
    for path_lost in lost.keys() {
        let own: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| path(f).as_deref() == Some(path_lost))
            .filter(|f| f.cause != Some(Cause::Upstream))
            .collect();
        assert_eq!(own.len(), 1, "{path_lost}: {own:#?}");
        assert_eq!(own[0].server.port, BACKEND);
    }
    for f in r.findings.iter().filter(|f| f.server.port == LISTENER) {
        assert_ne!(f.verdict, Verdict::ClientTimeout, "{f:#?}");
        assert_eq!(f.cause, Some(Cause::Upstream), "{f:#?}");
        let up = f.upstream.as_ref().expect("the upstream failure");
        assert_eq!(up.verdict, Verdict::KeepaliveRace);
        assert_eq!(up.server.port, BACKEND);
    }
}

/// What the clients got, from the client leg: no response (an RST_STREAM
/// REFUSED_STREAM on the stream), once per lost stream, as the client's
/// log says.
#[test]
fn test_lab_h2_proxy_legs_what_the_clients_got() {
    let r = report();
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for g in client_failures().into_values() {
        *got.entry(g).or_default() += 1;
    }
    let t = truth();
    let logged: BTreeMap<String, u64> = t["clients_got"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(got, logged);
    assert_eq!(r.summary.lost(), got.values().sum::<u64>());
    assert_eq!(r.summary.clients_got, got);
}
