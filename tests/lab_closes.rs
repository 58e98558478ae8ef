//! The real recordings of backends that close differently from Node's
//! plain FIN (fixtures/lab, `scripts/lab/record-shapes.sh`): Apache's
//! lingering close, gunicorn's and uvicorn's RST without a FIN, Caddy as the
//! proxy, a client library with no proxy, and a backend that injects faults.
//! racecap's findings must equal the ground truth taken from the servers'
//! own logs and syscall logs (truth.json), on every capture of each.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use racecap::analysis::defaults::{Side, WitnessKind};
use racecap::analysis::software::ClientKind;
use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::report::{RaceKind, Report, Verdict};
use racecap::source::CaptureReader;
use serde_json::Value;

fn truth(scenario: &str) -> Value {
    let text = fs::read_to_string(format!("fixtures/lab/{scenario}.truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The captures of a scenario that ship (the backend's always; the
/// proxy's `-i any` where it was kept).
fn sides(scenario: &str) -> Vec<&'static str> {
    ["backend", "proxy-any"]
        .into_iter()
        .filter(|side| Path::new(&format!("fixtures/lab/{scenario}.{side}.pcap")).exists())
        .collect()
}

fn report(scenario: &str, side: &str) -> Report {
    let path = format!("fixtures/lab/{scenario}.{side}.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    pipeline::run(vec![(path, reader)], Config::default())
        .unwrap()
        .0
}

/// (proxy port, backend, method, path, retried, shape) of a race. The
/// shape is the truth's kind: `crossed`, `stale`, `reset`, or `lingering`
/// (a FIN, then the request acknowledged and dropped: no RST).
type RaceKey = (u64, String, String, String, Option<bool>, String);

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
                r["retried"].as_bool(),
                r["kind"].as_str().unwrap().to_string(),
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
            let shape = match (race.kind, race.rst_at) {
                (RaceKind::Reset, _) => "reset",
                (_, None) => "lingering",
                (k, Some(_)) => k.name(),
            };
            (
                u64::from(f.client.port),
                f.server.to_string(),
                req.method.to_string(),
                req.path.clone(),
                race.retried,
                shape.to_string(),
            )
        })
        .collect()
}

/// The logged idle closes of each backend, ms.
fn logged_closes(t: &Value) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in t["server_idle_closes"].as_array().unwrap() {
        out.entry(c["backend"].as_str().unwrap().to_string())
            .or_default()
            .push(c["idle_ms"].as_f64().unwrap());
    }
    out
}

/// Races equal the truth's exactly; the measured idle timeout of every
/// backend lies within ±20 ms of its logged closes (or within its range);
/// no other finding unless `others` allows it.
fn check(scenario: &str, others: usize) -> Vec<Report> {
    let t = truth(scenario);
    let want = truth_races(&t);
    assert!(
        want.len() >= 3,
        "{scenario}: the recording should hold races"
    );
    let closes = logged_closes(&t);
    let mut reports = Vec::new();
    for side in sides(scenario) {
        let r = report(scenario, side);
        assert_eq!(found_races(&r), want, "{scenario}.{side}: races");
        assert_eq!(
            r.findings.len(),
            want.len() + others,
            "{scenario}.{side}: findings {:?}",
            r.verdict_counts
        );
        for (backend, logged) in &closes {
            let s = r
                .servers
                .iter()
                .find(|s| s.endpoint.to_string() == *backend)
                .unwrap_or_else(|| panic!("{scenario}.{side}: no server {backend}"));
            let d = s
                .idle_timeout
                .as_ref()
                .unwrap_or_else(|| panic!("{scenario}.{side} {backend}: no idle timeout"));
            let lo = logged.iter().copied().fold(f64::MAX, f64::min);
            let hi = logged.iter().copied().fold(f64::MIN, f64::max);
            let est = d.estimate_ms.ms();
            assert!(
                est >= lo - 20.0 && est <= hi + 20.0,
                "{scenario}.{side} {backend}: estimate {est} ms, logged {lo}–{hi} ms"
            );
            assert!(
                s.mismatch,
                "{scenario}.{side} {backend}: races, so a mismatch"
            );
        }
        reports.push(r);
    }
    reports
}

/// Where a `Server` header names the software, it is named first.
fn named_first(r: &Report, backends: &BTreeMap<String, Vec<f64>>, software: &str) {
    for s in r
        .servers
        .iter()
        .filter(|s| backends.contains_key(&s.endpoint.to_string()))
    {
        let first = s.matches.first().expect("a match");
        assert_eq!(first.witness, Some(WitnessKind::ServerHeader), "{first:?}");
        assert!(first.software.contains(software), "{first:?}");
    }
}

#[test]
fn test_lab_apache_lingering_closes() {
    let t = truth("apache");
    for r in check("apache", 0) {
        named_first(&r, &logged_closes(&t), "Apache");
        // nginx retried every GET although no RST came.
        assert!(r.servers.iter().all(|s| s.retried_races == s.races));
    }
}

#[test]
fn test_lab_gunicorn_reset_without_fin() {
    let t = truth("gunicorn");
    assert!(truth_races(&t).iter().any(|r| r.5 == "reset"));
    for r in check("gunicorn", 0) {
        named_first(&r, &logged_closes(&t), "gunicorn");
        // The reset races keep their request.
        for f in r
            .findings
            .iter()
            .filter(|f| f.race.as_ref().unwrap().kind == RaceKind::Reset)
        {
            let race = f.race.as_ref().unwrap();
            assert!(race.fin_at.is_none() && race.rst_at.is_some() && race.request.is_some());
        }
    }
}

#[test]
fn test_lab_uvicorn() {
    let t = truth("uvicorn");
    for r in check("uvicorn", 0) {
        named_first(&r, &logged_closes(&t), "uvicorn");
    }
}

#[test]
fn test_lab_caddy_retries_gets_itself() {
    for r in check("caddy", 0) {
        let backends = logged_closes(&truth("caddy"));
        for s in r
            .servers
            .iter()
            .filter(|s| backends.contains_key(&s.endpoint.to_string()))
        {
            // Caddy adds X-Forwarded-For: a proxy.
            assert_eq!(s.client_kind, ClientKind::Proxy);
        }
    }
}

#[test]
fn test_lab_client_library_without_proxy() {
    let backends = logged_closes(&truth("client-lib"));
    for r in check("client-lib", 0) {
        for s in r
            .servers
            .iter()
            .filter(|s| backends.contains_key(&s.endpoint.to_string()))
        {
            assert_eq!(s.client_kind, ClientKind::Library);
            let sides: Vec<Side> = s.recommendations.iter().map(|x| x.side).collect();
            assert!(sides.contains(&Side::Server), "{sides:?}");
            assert!(
                sides.contains(&Side::Client) && !sides.contains(&Side::Proxy),
                "{sides:?}"
            );
        }
        // Nothing retried a request: http.client raised RemoteDisconnected.
        assert!(r.servers.iter().all(|s| s.retried_races == 0));
    }
}

#[test]
fn test_lab_faults_are_their_own_verdicts() {
    let t = truth("faults");
    let faults = t["faults"].as_array().unwrap();
    let by_kind = |kind: &str| -> BTreeSet<(u64, String)> {
        faults
            .iter()
            .filter(|f| f["kind"] == kind)
            .map(|f| {
                (
                    f["proxy_port"].as_u64().unwrap_or(0),
                    f["backend"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let refused = faults.iter().filter(|f| f["kind"] == "refused").count();
    let others = faults.len();
    for r in check("faults", others) {
        let found = |v: Verdict| -> BTreeSet<(u64, String)> {
            r.findings
                .iter()
                .filter(|f| f.verdict == v)
                .map(|f| (u64::from(f.client.port), f.server.to_string()))
                .collect()
        };
        assert_eq!(found(Verdict::TruncatedResponse), by_kind("truncated"));
        assert_eq!(found(Verdict::ServerReset), by_kind("app_reset"));
        assert_eq!(found(Verdict::ClientTimeout), by_kind("timeout"));
        assert_eq!(r.count(Verdict::ConnectRefused) as usize, refused);
        // A truncated response is what the truth says it was.
        for f in r
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::TruncatedResponse)
        {
            let tr = f.truncated.as_ref().unwrap();
            let fault = faults
                .iter()
                .find(|x| x["proxy_port"].as_u64() == Some(u64::from(f.client.port)))
                .unwrap();
            assert_eq!(tr.expected_body_bytes, fault["expected_bytes"].as_u64());
            assert_eq!(Some(tr.body_bytes_sent), fault["sent_bytes"].as_u64());
            assert_eq!(
                tr.request.as_ref().map(|q| q.path.as_str()),
                fault["path"].as_str()
            );
        }
        // No truncated close became an idle-timeout sample: each backend's
        // samples are its logged idle closes (and the reset races' closes).
        for (backend, logged) in logged_closes(&t) {
            let s = r
                .servers
                .iter()
                .find(|s| s.endpoint.to_string() == backend)
                .unwrap();
            assert_eq!(
                s.idle_timeout.as_ref().unwrap().n as usize,
                logged.len(),
                "{backend}"
            );
        }
    }
}
