//! The real recordings (fixtures/lab): racecap's findings must equal the
//! ground truth taken from Node's and nginx's own logs (truth.json), on the
//! backend's capture and on the proxy's (`-i any`, SLL2) alike.

use std::collections::BTreeSet;
use std::fs;

use racecap::analyzer::Config;
use racecap::app::http::Method;
use racecap::pipeline;
use racecap::report::{RaceKind, Report, Verdict};
use racecap::source::CaptureReader;
use serde_json::Value;

fn truth(scenario: &str) -> Value {
    let text = fs::read_to_string(format!("fixtures/lab/{scenario}.truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report(scenario: &str, side: &str) -> Report {
    let path = format!("fixtures/lab/{scenario}.{side}.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    pipeline::run(vec![(path, reader)], Config::default())
        .unwrap()
        .0
}

/// (proxy port, backend, method, path, retried) of every race.
type RaceKey = (u64, String, String, String, bool);

fn truth_races(t: &Value) -> BTreeSet<RaceKey> {
    t["races"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["proxy_port"].as_u64().unwrap(),
                r["backend"].as_str().unwrap().to_string(),
                r["method"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
                r["retried"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn found_races(r: &Report) -> BTreeSet<RaceKey> {
    r.findings
        .iter()
        .filter(|f| f.verdict == Verdict::KeepaliveRace)
        .map(|f| {
            let race = f.race.as_ref().unwrap();
            let req = race.request.as_ref().expect("the lost request line");
            (
                u64::from(f.client.port),
                f.server.to_string(),
                req.method.to_string(),
                req.path.clone(),
                race.retried
                    .expect("the request line is known, so its retry is"),
            )
        })
        .collect()
}

fn check_race_scenario(scenario: &str) {
    let t = truth(scenario);
    let want = truth_races(&t);
    assert!(
        want.len() >= 3,
        "{scenario}: the recording should hold races"
    );
    for side in ["backend", "proxy-any"] {
        let r = report(scenario, side);
        assert_eq!(found_races(&r), want, "{scenario}.{side}: races");
        // Nothing else failed: no false finding on the other connections.
        assert_eq!(r.findings.len(), want.len(), "{scenario}.{side}: findings");
        for f in &r.findings {
            let race = f.race.as_ref().unwrap();
            // Crossed exactly when the request does not acknowledge the FIN.
            let acked_fin = race
                .request_ack
                .is_some_and(|a| a.wrapping_sub(race.fin_seq.unwrap().wrapping_add(1)) as i32 >= 0);
            assert_eq!(
                race.kind,
                if acked_fin {
                    RaceKind::Stale
                } else {
                    RaceKind::Crossed
                }
            );
            // nginx only ever lost crossed races here (see fixtures/README.md).
            assert_eq!(race.kind, RaceKind::Crossed, "{scenario}.{side}: {f:?}");
            assert!(race.rst_at.is_some());
            // On the backend the FIN comes first; at the proxy the request does.
            if side == "backend" {
                assert!(race.fin_to_request_ms.unwrap().ms() > 0.0, "{f:?}");
            } else {
                assert!(race.fin_to_request_ms.unwrap().ms() < 0.0, "{f:?}");
            }
        }
        let backends: BTreeSet<&str> = t["backend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        let conns: u64 = r
            .servers
            .iter()
            .filter(|s| backends.contains(s.endpoint.to_string().as_str()))
            .map(|s| s.connections)
            .sum();
        assert_eq!(
            conns,
            t["connections"].as_u64().unwrap(),
            "{scenario}.{side}: connections"
        );
    }
}

#[test]
fn test_lab_get_races_equal_ground_truth() {
    check_race_scenario("get-races");
}

#[test]
fn test_lab_post_races_equal_ground_truth() {
    check_race_scenario("post-races");
    // nginx cannot retry a POST: none of these races was retried.
    let r = report("post-races", "backend");
    assert!(
        r.findings
            .iter()
            .all(|f| f.race.as_ref().unwrap().retried == Some(false))
    );
    assert!(r.findings.iter().all(|f| {
        let req = f.race.as_ref().unwrap().request.as_ref().unwrap();
        req.method == Method::Post && !req.idempotent
    }));
}

#[test]
fn test_lab_control_has_no_race_and_no_mismatch() {
    let t = truth("control");
    for side in ["backend", "proxy-any"] {
        let r = report("control", side);
        assert!(r.findings.is_empty(), "control.{side}: {:?}", r.findings);
        assert!(r.servers.iter().all(|s| !s.mismatch), "control.{side}");
        assert!(r.servers.iter().all(|s| s.recommendations.is_empty()));
    }
    let r = report("control", "backend");
    assert_eq!(r.capture.connections, t["connections"].as_u64().unwrap());
    for s in &r.servers {
        // Node never closed: the timeout is only known to exceed the longest reuse.
        assert!(s.idle_timeout.is_none());
        assert!(s.idle_timeout_longer_than_ms.unwrap().ms() > 3000.0);
        assert_eq!(s.keep_alive_header_s, Some(30));
    }
}

/// The measured idle timeout per backend equals Node's own log of each
/// socket's close (last response end → close) within ±20 ms.
#[test]
fn test_lab_measured_timeout_matches_node_log() {
    for scenario in ["get-races", "post-races"] {
        let t = truth(scenario);
        let closes = t["server_idle_closes"].as_array().unwrap();
        for side in ["backend", "proxy-any"] {
            let r = report(scenario, side);
            let backends: Vec<&str> = t["backend"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_str().unwrap())
                .collect();
            let measured: Vec<_> = r
                .servers
                .iter()
                .filter(|s| backends.contains(&s.endpoint.to_string().as_str()))
                .collect();
            assert_eq!(measured.len(), backends.len());
            for s in measured {
                let mut node: Vec<f64> = closes
                    .iter()
                    .filter(|c| c["backend"].as_str() == Some(s.endpoint.to_string().as_str()))
                    .map(|c| c["idle_ms"].as_f64().unwrap())
                    .collect();
                node.sort_by(f64::total_cmp);
                let d = s.idle_timeout.as_ref().expect("closes measured");
                assert_eq!(d.n as usize, node.len(), "{scenario}.{side} {}", s.endpoint);
                assert!(d.tight);
                let near = |a: f64, b: f64| (a - b).abs() <= 20.0;
                assert!(
                    near(d.min_ms.ms(), node[0]),
                    "{scenario}.{side} min {} vs {}",
                    d.min_ms.ms(),
                    node[0]
                );
                assert!(
                    near(d.max_ms.ms(), node[node.len() - 1]),
                    "{scenario}.{side} max"
                );
                assert!(
                    near(d.median_ms.ms(), node[node.len() / 2]),
                    "{scenario}.{side} median"
                );
                assert_eq!(s.keep_alive_header_s, Some(2));
                assert!(s.mismatch);
                let races = t["races"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| x["backend"].as_str() == Some(s.endpoint.to_string().as_str()))
                    .count();
                assert_eq!(s.races, races as u64);
            }
        }
    }
}
