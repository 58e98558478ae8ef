//! `--proxy-log` on the lab recordings: every 5xx and error line nginx
//! wrote for a race (truth.json names each race's proxy port and backend)
//! is matched to that race's connection, the counts of explained and
//! unexplained lines are exact, and nothing else is matched to a race.
//! Envoy and Istio lines are written from the same truth in their
//! documented formats, with a time zone and a clock skew, so that the
//! exact 4-tuple match and the offset estimate are exercised too.

use std::collections::BTreeSet;
use std::fs;

use chrono::{FixedOffset, TimeZone};
use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::proxylog::LogFormat;
use racecap::proxylog::input::{self, Options, ParsedLog};
use racecap::report::matching;
use racecap::report::proxy_log::{MatchKind, Reason};
use racecap::report::{Report, Verdict};
use racecap::source::CaptureReader;
use serde_json::Value;

/// The lab's `log_format race` (fixtures/README.md).
pub const LAB_LOG_FORMAT: &str = r#"$msec "$request" $status "$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_response_time" $request_time $remote_port"#;

fn truth(scenario: &str) -> Value {
    serde_json::from_str(
        &fs::read_to_string(format!("fixtures/lab/{scenario}.truth.json")).unwrap(),
    )
    .unwrap()
}

fn capture(scenario: &str, side: &str) -> Report {
    let path = format!("fixtures/lab/{scenario}.{side}.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    let cfg = Config {
        keep_connections: true,
        ..Config::default()
    };
    pipeline::run(vec![(path, reader)], cfg).unwrap().0
}

fn read(name: &str, text: &[u8], opts: &Options) -> ParsedLog {
    input::read(name, text, opts).unwrap()
}

fn nginx_logs(scenario: &str) -> Vec<ParsedLog> {
    let opts = Options {
        format: None,
        nginx_log_format: Some(LAB_LOG_FORMAT.into()),
        ..Options::default()
    };
    ["nginx-access", "nginx-error"]
        .iter()
        .map(|k| {
            let name = format!("{scenario}.{k}.log");
            read(
                &name,
                &fs::read(format!("fixtures/lab/{name}")).unwrap(),
                &opts,
            )
        })
        .collect()
}

/// (proxy's ip:port, backend, method, path) of every race.
fn races(t: &Value) -> BTreeSet<(String, String, String, String)> {
    let proxy = t["proxy_ip"].as_str().unwrap();
    t["races"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!("{proxy}:{}", r["proxy_port"]),
                r["backend"].as_str().unwrap().to_string(),
                r["method"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Checks one recording: `want_lines` lines in the named file matched to
/// the races, by `kind`; nothing else matched to a race.
fn check_nginx(scenario: &str) {
    let t = truth(scenario);
    let want = races(&t);
    // nginx writes one error-log line per race, and one access line with a
    // failed try (`502` for POSTs, `"502, 200"` for retried GETs).
    let want_access = t["races"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["nginx_upstream_statuses"][0] == "502")
        .count();
    let want_error = t["races"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["error_log"].is_string())
        .count();
    assert_eq!(
        (want_access, want_error),
        (want.len(), want.len()),
        "{scenario}: truth"
    );
    for side in ["backend", "proxy-any"] {
        let mut r = capture(scenario, side);
        let logs = nginx_logs(scenario);
        assert_eq!(logs[0].format, Some(LogFormat::NginxCombined));
        assert_eq!(logs[1].format, Some(LogFormat::NginxError));
        matching::attach(&mut r, &logs);
        let p = r.proxy_log.as_ref().unwrap();
        assert_eq!(p.unreadable, 0, "{scenario}.{side}");
        assert_eq!(
            p.errors as usize,
            want_access + want_error,
            "{scenario}.{side}"
        );
        assert_eq!(
            p.explained, p.errors,
            "{scenario}.{side}: every line explained"
        );
        assert_eq!(p.by_verdict.get("keepalive_race"), Some(&p.errors));
        for file in [0, 1] {
            let got: BTreeSet<_> = p
                .entries
                .iter()
                .filter(|e| e.file == logs[file].name)
                .map(|e| {
                    assert_eq!(e.verdict, Some(Verdict::KeepaliveRace), "{e:?}");
                    assert_eq!(e.matched, Some(MatchKind::RequestTime), "{e:?}");
                    let f = &r.findings[e.finding.unwrap()];
                    let q = f.race.as_ref().unwrap().request.as_ref().unwrap();
                    (
                        e.client.unwrap().to_string(),
                        e.server.unwrap().to_string(),
                        q.method.to_string(),
                        q.path.clone(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{scenario}.{side}: {}", logs[file].name);
        }
        // Each race lists its two lines, one per file.
        for f in &r.findings {
            assert_eq!(f.log_lines.as_ref().unwrap().len(), 2, "{f:?}");
        }
        // The proxy and the capture share a clock; on the backend's side the
        // relay's 20 ms delay shows.
        let o = p.clock_offset_ms.unwrap().ms();
        let expect = if side == "backend" { 20.0 } else { 0.0 };
        assert!((o - expect).abs() < 5.0, "{scenario}.{side}: offset {o}");
        assert_eq!(p.files[1].utc_offset_s, 0);
        assert_eq!(p.files[1].utc_offset_source, "estimated");
    }
}

#[test]
fn test_nginx_get_races_retried() {
    check_nginx("get-races");
}

#[test]
fn test_nginx_post_races_not_retried() {
    check_nginx("post-races");
}

#[test]
fn test_nginx_control_matches_nothing() {
    for side in ["backend", "proxy-any"] {
        let mut r = capture("control", side);
        let logs = nginx_logs("control");
        matching::attach(&mut r, &logs);
        let p = r.proxy_log.as_ref().unwrap();
        assert_eq!(p.lines, 74);
        assert_eq!((p.errors, p.explained, p.unreadable), (0, 0, 0));
        assert!(p.entries.iter().all(|e| e.verdict.is_none()));
        assert!(r.findings.is_empty());
    }
}

/// The moment a race's request left nginx (truth: `$msec − $request_time`),
/// in ns.
fn request_ns(race: &Value) -> i64 {
    (race["request_time"].as_f64().unwrap() * 1000.0).round() as i64 * 1_000_000
}

/// `%START_TIME%` in a zone, to the millisecond.
fn start_time(ns: i64, zone: &FixedOffset) -> String {
    zone.timestamp_nanos(ns)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
        .replace("+00:00", "Z")
}

/// Istio's current default text format (reference, §2), one line per race
/// with `%UPSTREAM_LOCAL_ADDRESS%` = the proxy's ip:port, the proxy's clock
/// `skew_ms` behind the capture's, times in `zone`; plus lines that must
/// stay unexplained.
fn istio_lines(t: &Value, zone: &FixedOffset, skew_ms: i64) -> String {
    let proxy = t["proxy_ip"].as_str().unwrap();
    let mut s = String::new();
    for r in t["races"].as_array().unwrap() {
        let ns = request_ns(r) - skew_ms * 1_000_000;
        s += &format!(
            "[{}] \"{} {} HTTP/1.1\" 503 UC upstream_reset_before_response_started{{connection_termination}} - \"-\" 0 95 1 - \"-\" \"python-urllib/3.11\" \"4f6a-{}\" \"backend\" \"{}\" outbound|8081||backend.default.svc.cluster.local {proxy}:{} 10.96.0.10:80 10.231.1.1:40000 - default\n",
            start_time(ns, zone),
            r["method"].as_str().unwrap(),
            r["path"].as_str().unwrap(),
            r["lane"],
            r["backend"].as_str().unwrap(),
            r["proxy_port"],
        );
    }
    let first = request_ns(&t["races"][0]) - skew_ms * 1_000_000;
    // No healthy upstream: no backend was picked.
    s += &format!(
        "[{}] \"GET /nohost HTTP/1.1\" 503 UH no_healthy_upstream - \"-\" 0 19 0 - \"-\" \"ua\" \"id\" \"backend\" \"-\" outbound|8081||backend.default.svc.cluster.local - 10.96.0.10:80 10.231.1.1:40001 - default\n",
        start_time(first, zone)
    );
    // A backend the capture never saw.
    s += &format!(
        "[{}] \"GET /elsewhere HTTP/1.1\" 503 UC upstream_reset_before_response_started{{connection_termination}} - \"-\" 0 95 1 - \"-\" \"ua\" \"id\" \"other\" \"10.231.9.9:8080\" outbound|8080||other.default.svc.cluster.local - 10.96.0.11:80 10.231.1.1:40002 - default\n",
        start_time(first, zone)
    );
    // A day before the capture.
    s += &format!(
        "[{}] \"GET /lane1/8 HTTP/1.1\" 503 UC upstream_reset_before_response_started{{connection_termination}} - \"-\" 0 95 1 - \"-\" \"ua\" \"id\" \"backend\" \"10.231.2.2:8081\" outbound|8081||backend.default.svc.cluster.local - 10.96.0.10:80 10.231.1.1:40003 - default\n",
        start_time(first - 86_400_000_000_000, zone)
    );
    // A 200 is no error line.
    s += &format!(
        "[{}] \"GET /lane1/0 HTTP/1.1\" 200 - via_upstream - \"-\" 0 12 41 40 \"-\" \"ua\" \"id\" \"backend\" \"10.231.2.2:8081\" outbound|8081||backend.default.svc.cluster.local {proxy}:35488 10.96.0.10:80 10.231.1.1:40004 - default\n",
        start_time(first, zone)
    );
    s
}

/// Envoy's default format: no upstream local address, so the match is by
/// upstream, request and time.
fn envoy_lines(t: &Value, skew_ms: i64) -> String {
    let utc = FixedOffset::east_opt(0).unwrap();
    let mut s = String::new();
    for r in t["races"].as_array().unwrap() {
        let ns = request_ns(r) - skew_ms * 1_000_000;
        s += &format!(
            "[{}] \"{} {} HTTP/1.1\" 503 UC 0 95 1 - \"-\" \"python-urllib/3.11\" \"4f6a-{}\" \"10.231.1.2:900{}\" \"{}\"\n",
            start_time(ns, &utc),
            r["method"].as_str().unwrap(),
            r["path"].as_str().unwrap(),
            r["lane"],
            r["lane"],
            r["backend"].as_str().unwrap(),
        );
    }
    s
}

#[test]
fn test_istio_exact_match_with_zone_and_skew() {
    let zone = FixedOffset::east_opt(2 * 3600).unwrap();
    for scenario in ["get-races", "post-races"] {
        let t = truth(scenario);
        let want = races(&t);
        for side in ["backend", "proxy-any"] {
            let mut r = capture(scenario, side);
            let text = istio_lines(&t, &zone, 300);
            let log = read("istio.log", text.as_bytes(), &Options::default());
            assert_eq!(log.format, Some(LogFormat::Istio));
            matching::attach(&mut r, &[log]);
            let p = r.proxy_log.as_ref().unwrap();
            assert_eq!(p.errors as usize, want.len() + 3, "{scenario}.{side}");
            assert_eq!(p.explained as usize, want.len(), "{scenario}.{side}");
            let exact: BTreeSet<_> = p
                .entries
                .iter()
                .filter(|e| e.matched == Some(MatchKind::Exact))
                .map(|e| {
                    assert_eq!(e.verdict, Some(Verdict::KeepaliveRace));
                    let f = &r.findings[e.finding.unwrap()];
                    let q = f.race.as_ref().unwrap().request.as_ref().unwrap();
                    (
                        e.client.unwrap().to_string(),
                        e.server.unwrap().to_string(),
                        q.method.to_string(),
                        q.path.clone(),
                    )
                })
                .collect();
            assert_eq!(exact, want, "{scenario}.{side}");
            let reasons: Vec<Option<Reason>> = p.entries.iter().map(|e| e.reason).collect();
            assert_eq!(
                &reasons[want.len()..],
                [
                    Some(Reason::NoUpstream),
                    Some(Reason::UpstreamNotInCapture),
                    Some(Reason::OutsideCapture)
                ]
            );
            assert_eq!(
                (p.files[0].utc_offset_s, p.files[0].utc_offset_source),
                (7200, "stated")
            );
            // 300 ms skew, plus the relay's 20 ms on the backend's side.
            let o = p.clock_offset_ms.unwrap().ms();
            let expect = if side == "backend" { 320.0 } else { 300.0 };
            assert!((o - expect).abs() < 5.0, "{scenario}.{side}: offset {o}");
        }
    }
}

#[test]
fn test_envoy_request_time_match_with_skew() {
    for scenario in ["get-races", "post-races"] {
        let t = truth(scenario);
        let want = races(&t);
        let mut r = capture(scenario, "proxy-any");
        let text = envoy_lines(&t, -250);
        let log = read("envoy.log", text.as_bytes(), &Options::default());
        assert_eq!(log.format, Some(LogFormat::Envoy));
        matching::attach(&mut r, &[log]);
        let p = r.proxy_log.as_ref().unwrap();
        assert_eq!(
            (p.errors as usize, p.explained as usize),
            (want.len(), want.len())
        );
        let got: BTreeSet<_> = p
            .entries
            .iter()
            .map(|e| {
                assert_eq!(e.matched, Some(MatchKind::RequestTime));
                let f = &r.findings[e.finding.unwrap()];
                let q = f.race.as_ref().unwrap().request.as_ref().unwrap();
                (
                    e.client.unwrap().to_string(),
                    e.server.unwrap().to_string(),
                    q.method.to_string(),
                    q.path.clone(),
                )
            })
            .collect();
        assert_eq!(got, want, "{scenario}");
        let o = p.clock_offset_ms.unwrap().ms();
        assert!((o + 250.0).abs() < 5.0, "{scenario}: offset {o}");
    }
}

/// Two lines that fit one connection equally are both reported, neither
/// guessed.
#[test]
fn test_two_lines_for_one_race_are_ambiguous() {
    let t = truth("post-races");
    let mut r = capture("post-races", "proxy-any");
    let one = envoy_lines(&t, 0);
    let first = one.lines().next().unwrap();
    let text = format!("{first}\n{first}\n");
    let log = read("envoy.log", text.as_bytes(), &Options::default());
    matching::attach(&mut r, &[log]);
    let p = r.proxy_log.as_ref().unwrap();
    assert_eq!((p.errors, p.explained), (2, 0));
    assert!(
        p.entries
            .iter()
            .all(|e| e.reason == Some(Reason::Ambiguous) && e.client.is_none())
    );
}

/// The faults recording's `log_format`: the lab's, plus the byte counts.
pub const FAULTS_LOG_FORMAT: &str = r#"$msec "$request" $status "$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_response_time" $request_time $remote_port $body_bytes_sent "$upstream_bytes_received" "$upstream_response_length""#;

/// The verdict the faults recording's truth gives the request behind a
/// log line, by the fault its path names.
fn fault_verdict(path: &str) -> Verdict {
    if path.ends_with("/truncated") {
        Verdict::TruncatedResponse
    } else if path.ends_with("/reset") {
        Verdict::ServerReset
    } else if path.ends_with("/slow") {
        Verdict::ClientTimeout
    } else if path.ends_with("/refused") {
        Verdict::ConnectRefused
    } else {
        Verdict::KeepaliveRace
    }
}

/// Every error line (and 5xx access line) of the faults recording points
/// at the connection of its fault: truncated responses, application
/// resets, read timeouts, refused connects and the genuine races, each by
/// its own verdict, and the counts are exact.
#[test]
fn test_nginx_faults_point_at_their_connections() {
    let t = truth("faults");
    let opts = Options {
        format: None,
        nginx_log_format: Some(FAULTS_LOG_FORMAT.into()),
        ..Options::default()
    };
    let texts: Vec<(String, String)> = ["nginx-access", "nginx-error"]
        .iter()
        .map(|k| {
            let name = format!("faults.{k}.log");
            let text = fs::read_to_string(format!("fixtures/lab/{name}")).unwrap();
            (name, text)
        })
        .collect();
    let logs: Vec<ParsedLog> = texts
        .iter()
        .map(|(name, text)| read(name, text.as_bytes(), &opts))
        .collect();
    let error_lines = texts[1].1.lines().count();
    assert_eq!(
        error_lines as u64,
        t["summary"]["error_log_lines"].as_u64().unwrap()
    );
    let mut r = capture("faults", "backend");
    matching::attach(&mut r, &logs);
    let p = r.proxy_log.as_ref().unwrap();
    assert_eq!(p.unreadable, 0);
    assert_eq!(
        p.explained, p.errors,
        "every line explained: {:?}",
        p.entries
    );
    let mut by_verdict = std::collections::BTreeMap::new();
    for e in &p.entries {
        let (_, text) = texts.iter().find(|(n, _)| *n == e.file).unwrap();
        let line = text.lines().nth(e.line as usize - 1).unwrap();
        let path = line
            .split('"')
            .find_map(|part| {
                let mut w = part.split(' ');
                let (_, path) = (w.next()?, w.next()?);
                path.starts_with("/lane").then_some(path)
            })
            .unwrap();
        assert_eq!(e.verdict, Some(fault_verdict(path)), "{path}: {e:?}");
        *by_verdict.entry(fault_verdict(path)).or_insert(0) += 1;
    }
    // Per fault, one error line each; the access log's 5xx lines on top
    // (a retried GET logs "502, 200": its first try is the failure).
    let faults = t["faults"].as_array().unwrap();
    for (kind, v) in [
        ("truncated", Verdict::TruncatedResponse),
        ("timeout", Verdict::ClientTimeout),
        ("refused", Verdict::ConnectRefused),
        ("app_reset", Verdict::ServerReset),
    ] {
        let n = faults.iter().filter(|f| f["kind"] == kind).count();
        assert!(
            by_verdict.get(&v).copied().unwrap_or(0) >= n,
            "{kind}: {by_verdict:?}"
        );
    }
}

/// The other shape recordings (nginx in front of Apache, gunicorn,
/// uvicorn): every nginx line a race caused points at that race.
#[test]
fn test_nginx_lines_of_other_backends_point_at_their_races() {
    for scenario in ["apache", "gunicorn", "uvicorn"] {
        let t = truth(scenario);
        let mut r = capture(scenario, "backend");
        matching::attach(&mut r, &nginx_logs(scenario));
        let p = r.proxy_log.as_ref().unwrap();
        assert_eq!(p.explained, p.errors, "{scenario}: {:?}", p.entries);
        let races = t["races"].as_array().unwrap().len() as u64;
        // One error line and one "502, 200" access line per race.
        assert_eq!(p.errors, 2 * races, "{scenario}");
        assert_eq!(
            p.by_verdict.get("keepalive_race"),
            Some(&p.errors),
            "{scenario}"
        );
    }
}

/// Issue 21: a request and nginx's retry of it, both reset by the server
/// within the logged second. Each of nginx's two error lines (whole
/// seconds, no port) fits both connections; they failed the same way, so
/// each line is explained by that verdict instead of left "ambiguous".
/// With different verdicts the line stays ambiguous: never guessed.
#[test]
fn test_issue21_lines_fitting_connections_with_one_verdict_are_explained() {
    use crate::synth::{Flow, flags, get};
    use crate::util::{analyze, ip};
    const T0: i64 = 1_795_716_324 * 1_000_000_000; // 2026-11-26 18:05:24 UTC
    let ms = |n: i64| T0 + n * 1_000_000;
    let reset = |port: u16, at: i64, by_server: bool| {
        let mut f = Flow::new(
            (ip("10.0.0.1"), port),
            (ip("10.0.0.2"), 3000),
            1000,
            900_000,
        );
        let mut p = f.handshake(at, 1_000_000);
        p.push(f.data(at + 5_000_000, true, get("/x").as_bytes()));
        p.push(f.seg(at + 10_000_000, !by_server, flags::RST, b"", None));
        p
    };
    let line = r#"2026/11/26 18:05:24 [error] 1#1: *4 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 10.0.0.9, server: , request: "GET /x HTTP/1.1", upstream: "http://10.0.0.2:3000/x", host: "x""#;
    let text = format!("{line}\n{line}\n");

    let mut p = reset(40001, ms(100), true);
    p.extend(reset(40002, ms(300), true));
    let mut r = analyze(&p);
    assert_eq!(r.findings.len(), 2);
    assert!(r.findings.iter().all(|f| f.verdict == Verdict::ServerReset));
    let log = read("error.log", text.as_bytes(), &Options::default());
    matching::attach(&mut r, &[log]);
    let pl = r.proxy_log.as_ref().unwrap();
    assert_eq!((pl.errors, pl.explained), (2, 2));
    for e in &pl.entries {
        assert_eq!(e.matched, Some(MatchKind::SameVerdict));
        assert_eq!(e.verdict, Some(Verdict::ServerReset));
        assert_eq!(e.reason, None);
        assert_eq!(e.client, None);
        assert_eq!(e.server.unwrap().to_string(), "10.0.0.2:3000");
    }

    // One reset by the server, one by the proxy: two causes, not guessed.
    let mut p = reset(40001, ms(100), true);
    p.extend(reset(40002, ms(300), false));
    let mut r = analyze(&p);
    let verdicts: Vec<Verdict> = r.findings.iter().map(|f| f.verdict).collect();
    assert_eq!(verdicts, [Verdict::ServerReset, Verdict::ClientReset]);
    let log = read("error.log", text.as_bytes(), &Options::default());
    matching::attach(&mut r, &[log]);
    let pl = r.proxy_log.as_ref().unwrap();
    assert_eq!((pl.errors, pl.explained), (2, 0));
    assert!(
        pl.entries
            .iter()
            .all(|e| e.reason == Some(Reason::Ambiguous))
    );
}
