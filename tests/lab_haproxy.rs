//! A real recording with HAProxy's own `log-format` (fixtures/lab/
//! haproxy-logformat.*, made by scripts/lab/record-haproxy.sh): HAProxy
//! 2.6 pooling HTTP/1.1 connections to Node (keepAliveTimeout 2000 ms),
//! 20 ms each way between them, `retry-on none`, logging with
//! `LOG_FORMAT`. The truth comes from HAProxy's, Node's and the client's
//! logs: eight requests HAProxy answered 502 `SH--` on a pooled connection
//! Node had closed idle (issue 21: such a log read as "no 5xx").

use std::fs;

use serde_json::Value;

use crate::util::{json, run};

const PCAP: &str = "fixtures/lab/haproxy-logformat.backend.pcap";
const LOG: &str = "fixtures/lab/haproxy-logformat.haproxy.log";
/// record-haproxy.sh's `LOG_FORMAT`.
const LOG_FORMAT: &str =
    "%Ts.%ms %ci:%cp %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %rc %bi:%bp %si:%sp %{+Q}r";

fn truth() -> Value {
    let text = fs::read_to_string("fixtures/lab/haproxy-logformat.truth.json").unwrap();
    serde_json::from_str(&text).unwrap()
}

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "analyze",
        PCAP,
        "--proxy-log",
        LOG,
        "--haproxy-log-format",
        LOG_FORMAT,
    ];
    a.extend_from_slice(extra);
    a
}

/// The log's failure lines, read here by hand (1-based line, `%bp`): a
/// 5xx status or a termination state the server side ended.
fn failure_lines() -> Vec<(u64, u16)> {
    fs::read_to_string(LOG)
        .unwrap()
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let f: Vec<&str> = l.split(' ').collect();
            let status: i32 = f.get(4)?.parse().ok()?;
            let tsc = f.get(6)?;
            (status >= 500 || tsc.starts_with(['S', 's'])).then(|| {
                let port = f[8].rsplit(':').next().unwrap().parse().unwrap();
                (i as u64 + 1, port)
            })
        })
        .collect()
}

#[test]
fn test_lab_haproxy_logformat_every_failure_line_explained() {
    let t = truth();
    let lines = failure_lines();
    assert_eq!(lines.len() as u64, t["failures"].as_u64().unwrap());
    assert_eq!(lines.len(), 8);
    let v = json(&args(&[]));
    let p = &v["proxy_log"];
    assert_eq!(p["files"][0]["format"], "haproxy-log-format");
    assert_eq!(p["errors"], 8);
    assert_eq!(p["explained"], 8);
    let entries = p["entries"].as_array().unwrap();
    for (line, port) in &lines {
        let e = entries
            .iter()
            .find(|e| e["line"] == *line)
            .unwrap_or_else(|| panic!("line {line} not listed"));
        assert_eq!(e["verdict"], "keepalive_race", "{e}");
        assert_eq!(e["match"], "exact", "{e}");
        assert_eq!(e["reason"], Value::Null, "{e}");
        assert_eq!(e["client"], format!("10.221.3.1:{port}"), "{e}");
    }
    // Each of the truth's races is one of them, on the connection Node
    // closed idle.
    let races = t["race_list"].as_array().unwrap();
    assert_eq!(races.len(), 8);
    for r in races {
        let port = r["port"].as_u64().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e["client"] == format!("10.221.3.1:{port}")),
            "{r}"
        );
    }
    assert_eq!(v["summary"]["races"], 8);
}

#[test]
fn test_lab_haproxy_logformat_exit_codes() {
    // Every line explained: the unexplained gate passes, the race gate trips.
    let (code, _, err) = run(&args(&["--fail-on", "unexplained"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&args(&["--fail-on", "race"]));
    assert_eq!(code, 1, "{err}");
    // The same log without its format: not read, so the gate fails closed.
    let (code, out, err) = run(&[
        "analyze",
        PCAP,
        "--proxy-log",
        LOG,
        "--fail-on",
        "unexplained",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no line is in a format racecap knows"),
        "{err}"
    );
}

/// Issue 21, "What the clients really got": the statuses HAProxy's log
/// shows, as many as the client saw (truth: client.log).
#[test]
fn test_lab_haproxy_logformat_clients_got_what_the_log_says() {
    let t = truth();
    let v = json(&args(&[]));
    let got = &v["summary"]["clients_got"];
    assert_eq!(
        got,
        &serde_json::json!({"502": t["client_statuses"]["502"]})
    );
    let (_, out, _) = run(&args(&[]));
    let first = out.lines().next().unwrap();
    assert!(
        first.ends_with("by the proxy's log, the clients got 502 ×8."),
        "{first}"
    );
    // Without the log nothing says which status: no guess from the proxy's kind.
    let (_, out, _) = run(&["analyze", PCAP, "--proxy", "haproxy"]);
    let first = out.lines().next().unwrap();
    assert!(
        first.contains("the clients got an error (which one"),
        "{first}"
    );
    assert!(!first.contains("502"), "{first}");
}

/// The HTTP/2 recordings' HAProxy logs (fixtures/lab/h2-haproxy-*, their
/// own log-format, unread before `--haproxy-log-format`): every 502 is a
/// race of the truth's, and `retry` (every race re-sent, the client saw
/// 200) has none.
#[test]
fn test_lab_h2_haproxy_logs_read_with_their_format() {
    const H2_FORMAT: &str = "%Ts.%ms %ST %tsc %rc %bi:%bp %{+Q}r %Tq/%Tw/%Tc/%Tr/%Ta";
    for (name, fives) in [("goaway", 8), ("graceful", 9), ("retry", 0)] {
        let t: Value = serde_json::from_str(
            &fs::read_to_string(format!("fixtures/lab/h2-haproxy-{name}.truth.json")).unwrap(),
        )
        .unwrap();
        let not_retried = t["races"].as_u64().unwrap() - t["retried_races"].as_u64().unwrap();
        assert_eq!(not_retried, fives, "{name}");
        let pcap = format!("fixtures/lab/h2-haproxy-{name}.proxy.pcap");
        let log = format!("fixtures/lab/h2-haproxy-{name}.haproxy.log");
        let a = [
            "analyze",
            pcap.as_str(),
            "--proxy-log",
            log.as_str(),
            "--haproxy-log-format",
            H2_FORMAT,
        ];
        let p = &json(&a)["proxy_log"];
        assert_eq!(p["files"][0]["format"], "haproxy-log-format", "{name}");
        assert_eq!(
            (p["errors"].as_u64(), p["explained"].as_u64()),
            (Some(fives), Some(fives)),
            "{name}"
        );
        let mut gate = a.to_vec();
        gate.extend(["--fail-on", "unexplained"]);
        assert_eq!(run(&gate).0, 0, "{name}");
    }
}

/// A log-format racecap cannot use, or the format forced without its
/// string: refused with one line, before anything is read.
#[test]
fn test_lab_haproxy_unusable_log_format_is_refused() {
    let (code, out, err) = run(&[
        "analyze",
        PCAP,
        "--proxy-log",
        LOG,
        "--haproxy-log-format",
        "%ci:%cp %b/%s",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("names no date"), "{err}");
    let (code, _, err) = run(&[
        "analyze",
        PCAP,
        "--proxy-log",
        LOG,
        "--proxy-log-format",
        "haproxy-log-format",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("needs --haproxy-log-format"), "{err}");
}
