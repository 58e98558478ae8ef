//! Real recordings over TLS (fixtures/lab/tls-*, made by
//! scripts/lab/record-tls.sh): nginx as the proxy in front of nginx as a
//! TLS server (close_notify, then the FIN) and of Node's `https` (a plain
//! FIN), TLS 1.2 and 1.3. The truth comes from logs: nginx's access log
//! (every upstream attempt; a 502 before another status is a race nginx
//! retried) and the backend's own log or syscall log (its idle closes).

use std::fs;

use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::report::{Protocol, Report, Verdict};
use racecap::source::CaptureReader;
use serde_json::Value;

const SCENARIOS: [&str; 4] = ["nginx-tls12", "nginx-tls13", "node-tls12", "node-tls13"];

fn truth(name: &str) -> Value {
    let text = fs::read_to_string(format!("fixtures/lab/tls-{name}.truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report(name: &str) -> Report {
    let path = format!("fixtures/lab/tls-{name}.backend.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    let cfg = Config {
        keep_connections: true,
        ..Config::default()
    };
    pipeline::run(vec![(path, reader)], cfg).unwrap().0
}

/// Races exactly as nginx logged them, no other failure, each with its
/// request unreadable, its size, and its retry unknown.
#[test]
fn test_tls_lab_races_equal_the_logs() {
    for name in SCENARIOS {
        let (t, r) = (truth(name), report(name));
        assert!(
            t["races"].as_u64().unwrap() > 0,
            "{name}: the recording raced"
        );
        assert_eq!(r.races(), t["races"].as_u64().unwrap(), "{name}");
        assert_eq!(r.failures(), r.races(), "{name}: {:#?}", r.findings);
        for f in &r.findings {
            assert_eq!(f.protocol, Protocol::Tls, "{name}");
            let race = f.race.as_ref().unwrap();
            assert!(race.request.is_none() && race.retried.is_none(), "{name}");
            // A request line and a Host header at least, in a record with
            // its header, nonce and tag (29 bytes in TLS 1.2 GCM).
            assert!(race.request_bytes > 40, "{name}: {}", race.request_bytes);
            // nginx's close begins with its close_notify; Node's is a FIN
            // (a race with no FIN, the request unread at nginx's close, is
            // of kind reset and has neither).
            if race.fin_at.is_some() {
                let nginx = name.starts_with("nginx");
                assert_eq!(race.close_notify_at.is_some(), nginx, "{name}");
            }
        }
        assert_eq!(r.servers[0].retried_unknown, r.races(), "{name}");
    }
}

/// Handshakes are no requests: the requests racecap counts are nginx's
/// upstream attempts, the reused ones all but the first per connection.
#[test]
fn test_tls_lab_handshakes_are_not_requests() {
    for name in SCENARIOS {
        let (t, r) = (truth(name), report(name));
        let conns = r.connections.as_ref().unwrap();
        let requests: u64 = conns.iter().map(|c| u64::from(c.requests)).sum();
        assert_eq!(requests, t["attempts"].as_u64().unwrap(), "{name}");
        let s = &r.servers[0];
        let opened = conns.iter().filter(|c| c.requests > 0).count() as u64;
        assert_eq!(s.reused_requests, requests - opened, "{name}");
        let tls = s.tls.as_ref().unwrap();
        assert_eq!(tls.sni, ["api.internal"], "{name}");
        let v = if name.ends_with("13") { "1.3" } else { "1.2" };
        assert_eq!(tls.versions, [v], "{name}");
        assert!(conns.iter().all(|c| c.protocol == Protocol::Tls), "{name}");
        assert!(
            conns.iter().all(|c| c.verdict != Verdict::ServerReset),
            "{name}"
        );
    }
}

/// The idle timeout within ±20 ms of the backend's logged idle closes.
#[test]
fn test_tls_lab_idle_timeout_matches_the_log() {
    for name in SCENARIOS {
        let (t, r) = (truth(name), report(name));
        let want = t["idle_close_median_ms"].as_f64().unwrap();
        let idle = r.servers[0]
            .idle_timeout
            .as_ref()
            .expect("idle closes seen");
        let got = idle.estimate_ms.ms();
        assert!((got - want).abs() <= 20.0, "{name}: {got} vs {want}");
        let logged = t["idle_closes_ms"].as_array().unwrap().len() as u64;
        assert_eq!(idle.n, logged, "{name}");
    }
}
