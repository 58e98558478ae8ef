//! Issue 21 on real recordings (fixtures/lab/causes-*, made with
//! `scripts/lab/record-causes.sh`, truth from Node's and nginx's logs by
//! `scripts/lab/truth-causes.py`): a graceful restart under load, an
//! application that resets reused connections after idle gaps of 0.5-3 s,
//! and a backend address taken over by a new host. On each: every failure
//! the logs show gets the cause they show, no idle timeout is read from a
//! close of another cause, and no timeout advice is given (in each the
//! timeout order was right: nginx's pool never outlived the server's timer).

use std::collections::BTreeSet;
use std::fs;

use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::report::{Cause, Finding, Report, Verdict};
use racecap::source::CaptureReader;
use serde_json::Value;

fn truth(scenario: &str) -> Value {
    let text = fs::read_to_string(format!("fixtures/lab/causes-{scenario}.truth.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report(scenario: &str) -> Report {
    let path = format!("fixtures/lab/causes-{scenario}.proxy.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    pipeline::run(vec![(path, reader)], Config::default())
        .unwrap()
        .0
}

/// The truth's failures: (method, path, cause), one per failed attempt.
fn truth_failures(t: &Value) -> Vec<(String, String, String)> {
    t["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["method"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The request a finding lost, as (method, path), when it was read.
fn lost(f: &Finding) -> Option<(String, String)> {
    let r = f
        .race
        .as_ref()
        .and_then(|r| r.request.as_ref())
        .or_else(|| f.reset.as_ref().and_then(|r| r.request.as_ref()))
        .or_else(|| f.unacknowledged.as_ref().and_then(|u| u.request.as_ref()))?;
    Some((r.method.to_string(), r.path.clone()))
}

/// `scenario`'s report, after checking that its findings are exactly the
/// failures the truth logs, each of `cause` (all the truth's), each with
/// `verdict`, and nothing else.
fn each_failure_is(scenario: &str, cause: Cause, verdict: Verdict) -> (Value, Report) {
    let t = truth(scenario);
    let r = report(scenario);
    let want: BTreeSet<(String, String)> = truth_failures(&t)
        .into_iter()
        .map(|(m, p, c)| {
            assert_eq!(c, cause.to_string(), "{scenario}");
            (m, p)
        })
        .collect();
    let got: BTreeSet<(String, String)> = r.findings.iter().filter_map(lost).collect();
    assert_eq!(got, want, "{scenario}");
    assert_eq!(r.findings.len(), want.len(), "{:?}", r.verdict_counts);
    assert!(
        r.findings
            .iter()
            .all(|f| f.verdict == verdict && f.cause == Some(cause)),
        "{:?}",
        r.findings
            .iter()
            .map(|f| (f.verdict, f.cause))
            .collect::<Vec<_>>()
    );
    (t, r)
}

/// No server has an idle timeout from these closes, no mismatch, and no
/// advice at all: nothing the logs show calls for a timeout change.
fn no_timeout_advice(r: &Report) {
    for s in &r.servers {
        assert!(!s.mismatch, "{}: mismatch", s.endpoint);
        assert_eq!(s.races, 0, "{}: races of the timer", s.endpoint);
        assert!(
            s.recommendations.is_empty(),
            "{}: {:?}",
            s.endpoint,
            s.recommendations
                .iter()
                .map(|x| &x.short)
                .collect::<Vec<_>>()
        );
    }
}

/// Node stopped gracefully three times under load from 12 lanes (each
/// time its 12 idle pooled connections closed within 1-56 ms, at idle
/// ages 0.2-687 ms): 7 requests met a closed socket (nginx's retry then
/// met the closed listener), 26 more connects were refused. Every one is
/// the restart's; Node's timer (65 s) never fired.
#[test]
fn test_lab_restart_causes() {
    let t = truth("restart");
    let r = report("restart");
    let want = truth_failures(&t);
    assert!(want.iter().all(|w| w.2 == "restart"));
    assert_eq!(r.findings.len(), want.len(), "{:?}", r.verdict_counts);
    assert!(
        r.findings.iter().all(|f| f.cause == Some(Cause::Restart)),
        "{:?}",
        r.findings
            .iter()
            .map(|f| (f.verdict, f.cause))
            .collect::<Vec<_>>()
    );
    // The races are the requests whose first attempt met a closed socket.
    let races: BTreeSet<(String, String)> = r
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::KeepaliveRace)
        .filter_map(lost)
        .collect();
    let closed: BTreeSet<(String, String)> = t["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["attempt"] == 1 && f["upstream_status"].as_str().unwrap().contains(", "))
        .map(|f| {
            (
                f["method"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(races, closed);
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.verdict == Verdict::ConnectRefused)
            .count(),
        want.len() - closed.len()
    );
    // No idle timeout from the bursts: every close was the restart's.
    for s in &r.servers {
        assert!(
            s.idle_timeout.is_none(),
            "{}: {:?}",
            s.endpoint,
            s.idle_timeout
        );
        assert_eq!(s.keep_alive_header_s, Some(65));
        assert!(
            s.other_causes
                .as_ref()
                .is_some_and(|o| o.restart_closes >= 3)
        );
    }
    let restart_races: u64 = r
        .servers
        .iter()
        .map(|s| s.other_causes.as_ref().map_or(0, |o| o.restart_races))
        .sum();
    assert_eq!(restart_races, closed.len() as u64);
    // nginx re-sent each of those requests at once, into a refused
    // connect: one request each, not two lost ones.
    for f in r.findings.iter().filter(|f| f.race.is_some()) {
        let race = f.race.as_ref().unwrap();
        assert_eq!(race.retried, Some(false));
        assert!(race.retry_refused_at.is_some(), "{}", f.client);
    }
    let retries = r
        .findings
        .iter()
        .filter(|f| f.connect.as_ref().is_some_and(|c| c.race_retry))
        .count();
    assert_eq!(retries, closed.len());
    assert_eq!(r.summary.retries_refused, closed.len() as u64);
    // The rest are requests of their own: the truth's requests that
    // failed, less those that met a closed socket.
    let requests: BTreeSet<(String, String)> =
        want.iter().map(|w| (w.0.clone(), w.1.clone())).collect();
    assert_eq!(
        r.summary.refused_connects,
        (requests.len() - closed.len()) as u64
    );
    no_timeout_advice(&r);
}

/// With nginx's logs, every request the clients lost at the restarts is
/// counted once: the races whose retries were refused and the refused
/// connects the access log shows as 502s (the truth: 26 requests, each
/// answered 502).
#[test]
fn test_lab_restart_clients_lost() {
    let t = truth("restart");
    let requests: BTreeSet<(String, String)> =
        truth_failures(&t).into_iter().map(|w| (w.0, w.1)).collect();
    let r = crate::util::json(&[
        "analyze",
        "fixtures/lab/causes-restart.proxy.pcap",
        "--proxy-log",
        "fixtures/lab/causes-restart.nginx-access.log",
        "--nginx-log-format",
        NGINX_RACE_FORMAT,
    ]);
    let s = &r["summary"];
    let lost: u64 = s["lost_by_method"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum::<u64>()
        + s["refused_lost"].as_u64().unwrap();
    assert_eq!(lost, requests.len() as u64, "{s}");
    let got: u64 = s["clients_got"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(got, lost);
    // What a line says is a 502; a line that fits two findings stays
    // unknown, never guessed.
    assert!(
        s["clients_got"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k == "502" || k == "unknown"),
        "{s}"
    );
}

/// The lab's nginx `log_format race` (scripts/lab/record-causes.sh).
const NGINX_RACE_FORMAT: &str = "$msec \"$request\" $status \"$upstream_addr\" \"$upstream_status\" \"$upstream_connect_time\" \"$upstream_response_time\" $request_time $remote_port";

/// Node (keepAliveTimeout 5 s: closes at 6.0 s) resets a reused connection
/// at a request after 0.5, 1.16, 2 or 3 s idle, on each of 4 lanes; nginx
/// reuses up to 4.3 s idle otherwise. All 16 are the application's
/// resets, none a race, and the only idle-timeout samples are the 6.0 s
/// closes Node logged.
#[test]
fn test_lab_app_reset_causes() {
    let (t, r) = each_failure_is("app-reset", Cause::Application, Verdict::ServerReset);
    let node_closes = t["idle_closes_ms"].as_array().unwrap().len() as u64;
    let mut samples = 0;
    for s in &r.servers {
        let idle = s.idle_timeout.as_ref().expect("the timer's own close");
        assert!(idle.min_ms.0 >= 5_900_000_000, "{}: {idle:?}", s.endpoint);
        samples += idle.n;
        assert!(s.reuse_window_ms.is_some_and(|w| w.0 < idle.min_ms.0));
    }
    assert_eq!(samples, node_closes);
    no_timeout_advice(&r);
}

/// nginx held 4 idle connections 14-17 s (Node's timer: 65 s) while the
/// backend's address moved to a new host with no socket state; each reuse
/// met that host's bare RST, and no FIN ever came. Each is a replaced
/// peer, no race and no idle-timeout sample.
#[test]
fn test_lab_peer_gone_causes() {
    let (_, r) = each_failure_is("peer-gone", Cause::PeerGone, Verdict::IdleReset);
    for s in &r.servers {
        assert!(s.idle_timeout.is_none());
        assert!(!s.keep_alive_header_disagrees);
    }
    no_timeout_advice(&r);
}

/// The failures of a middlebox scenario: each the path's, each a request
/// the logs show failing, none a race, no idle timeout, no advice.
fn middlebox(scenario: &str, verdict: Verdict) {
    let (_, r) = each_failure_is(scenario, Cause::Path, verdict);
    for s in &r.servers {
        assert!(
            s.idle_timeout.is_none(),
            "{}: {:?}",
            s.endpoint,
            s.idle_timeout
        );
    }
    no_timeout_advice(&r);
    // The keepalive time advised is proven: below the longest idle a flow
    // survived, which is below the shortest it was forgotten after (the
    // relay forgets flows idle 4 s).
    let path = r.remedies.iter().find(|m| m.cause == Cause::Path).unwrap();
    let survived = path.survived_ms.unwrap().ms();
    let forgotten = path.forgotten_within_ms.unwrap().ms();
    assert!(
        survived < 4000.0 && forgotten > 4000.0,
        "{survived} {forgotten}"
    );
    let k = path.keepalive_s.unwrap();
    assert!(
        k >= 1 && (k * 1000) as f64 <= survived - 1000.0,
        "{k} {survived}"
    );
}

/// A middlebox that forgets a flow idle 4 s and then drops its packets:
/// each reuse after 4.5-7 s was retransmitted unacknowledged until nginx
/// gave its client 504 (proxy_read_timeout 5 s). Node's timer is 65 s.
#[test]
fn test_lab_nat_drop_causes() {
    middlebox("nat-drop", Verdict::UnacknowledgedRequest);
}

/// The same middlebox answering a forgotten flow's request with its own
/// bare RST at once: at the proxy 0.2-0.3 ms after the request, where the
/// server is a 40 ms round trip away.
#[test]
fn test_lab_nat_rst_causes() {
    middlebox("nat-rst", Verdict::IdleReset);
}

/// The findings table says a cause that changes what to do next to the
/// verdict, and what an unacknowledged request lost.
#[test]
fn test_lab_causes_in_the_table() {
    let out = crate::util::stdout(&["analyze", "fixtures/lab/causes-nat-drop.proxy.pcap"]);
    assert!(out.contains("unacknowledged_request"), "{out}");
    assert!(out.contains("cause: path"), "{out}");
    assert!(out.contains("/lane1/2"), "{out}");
    let out = crate::util::stdout(&["analyze", "fixtures/lab/causes-restart.proxy.pcap"]);
    assert!(out.contains("cause: restart"), "{out}");
    let out = crate::util::stdout(&["analyze", "fixtures/lab/causes-peer-gone.proxy.pcap"]);
    assert!(out.contains("cause: peer gone"), "{out}");
}
