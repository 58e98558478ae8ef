//! Issue 21, "Fail closed": a CI gate (`--fail-on`) must not pass on an
//! input racecap was asked to use and could not: a `--server`/`--port`
//! that matches nothing, a `--proxy-log` in no known format or mostly
//! unreadable. Under `--fail-on` (any value but `never`) that is exit 2
//! with one line on stderr; without it, a warning on the first screen,
//! and never "no 5xx" about lines that were not read.

use std::fs;

use crate::util::{json, run, tmp};

const GET: &str = "fixtures/lab/get-races.backend.pcap";
const HAPROXY_PCAP: &str = "fixtures/lab/haproxy-logformat.backend.pcap";
/// Written with a custom `log-format` (record-haproxy.sh): eight 502 `SH--`.
const HAPROXY_LOG: &str = "fixtures/lab/haproxy-logformat.haproxy.log";

/// The report's first screen: everything before the header line.
fn first_screen(out: &str) -> &str {
    out.split("\nracecap ").next().unwrap()
}

#[test]
fn test_issue21_focus_matching_nothing_fails_closed() {
    for focus in [["--port", "1234"], ["--server", "10.9.9.9"]] {
        for fail_on in ["race", "failure", "unexplained"] {
            let mut args = vec!["analyze", GET, "--fail-on", fail_on];
            args.extend(focus);
            let (code, out, err) = run(&args);
            assert_eq!(code, 2, "{focus:?} --fail-on {fail_on}");
            assert!(out.is_empty(), "{out}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("racecap: --server / --port matched none of the 413 TCP segments"),
                "{err}"
            );
        }
        // Without a gate (or `never`): the report, warned on its first screen.
        for extra in [&[][..], &["--fail-on", "never"][..]] {
            let mut args = vec!["analyze", GET];
            args.extend(focus);
            args.extend(extra);
            let (code, out, _) = run(&args);
            assert_eq!(code, 0);
            assert!(
                first_screen(&out).contains("warning: --server / --port matched none"),
                "{out}"
            );
        }
    }
}

#[test]
fn test_issue21_unrecognised_proxy_log_fails_closed() {
    let (code, out, err) = run(&[
        "analyze",
        HAPROXY_PCAP,
        "--proxy-log",
        HAPROXY_LOG,
        "--fail-on",
        "unexplained",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "racecap: {HAPROXY_LOG}: no line is in a format racecap knows"
        )),
        "{err}"
    );
    // Any gate: the log was asked for and not read.
    let (code, _, _) = run(&[
        "analyze",
        HAPROXY_PCAP,
        "--proxy-log",
        HAPROXY_LOG,
        "--fail-on",
        "race",
    ]);
    assert_eq!(code, 2);

    // Without a gate: said on the first screen, and no "no 5xx" about it.
    let (code, out, _) = run(&["analyze", HAPROXY_PCAP, "--proxy-log", HAPROXY_LOG]);
    assert_eq!(code, 0);
    let first = first_screen(&out);
    assert!(!first.contains("no 5xx"), "{first}");
    assert!(
        first.contains("proxy logs: none of 36 lines could be read"),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "warning: {HAPROXY_LOG}: no line is in a format racecap knows"
        )),
        "{first}"
    );
    let v = json(&["analyze", HAPROXY_PCAP, "--proxy-log", HAPROXY_LOG]);
    assert_eq!(
        v["proxy_log"]["files"][0]["format"],
        serde_json::Value::Null
    );
    assert!(
        v["capture"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w
                .as_str()
                .unwrap()
                .contains("its 5xx and error lines were not checked")),
        "{v}"
    );
}

/// One nginx error line among unreadable ones: read as nginx-error, but
/// most of the log was not, so it fails closed too.
#[test]
fn test_issue21_mostly_unreadable_proxy_log_fails_closed() {
    let log = tmp("mostly-unreadable.log");
    let good = r#"2026/11/26 18:05:24 [error] 1#1: *4 upstream prematurely closed connection while reading response header from upstream, client: 10.0.0.9, server: , request: "GET /a HTTP/1.1", upstream: "http://10.0.0.2:3000/a", host: "x""#;
    fs::write(&log, format!("{good}\nnot a line\nnor this\nnor that\n")).unwrap();
    let path = log.to_str().unwrap();
    let (code, out, err) = run(&[
        "analyze",
        GET,
        "--proxy-log",
        path,
        "--fail-on",
        "unexplained",
    ]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("3 of 4 lines could not be read as nginx-error"),
        "{err}"
    );
    // Half or more read: no warning, no failing closed on that account.
    fs::write(&log, format!("{good}\n{good}\nnot a line\n")).unwrap();
    let (_, out, err) = run(&["analyze", GET, "--proxy-log", path]);
    assert!(
        !out.contains("could not be read") && !err.contains("could not be read"),
        "{err}"
    );
    let _ = fs::remove_file(&log);
}

/// A log with unreadable lines and no 5xx among the readable ones says
/// which lines it speaks for.
#[test]
fn test_issue21_no_5xx_only_about_lines_read() {
    let log = tmp("some-unreadable.log");
    let notice = "2026/11/26 18:05:25 [notice] 1#1: exiting";
    fs::write(&log, format!("{notice}\n{notice}\ngarbage\n")).unwrap();
    let (code, out, _) = run(&["analyze", GET, "--proxy-log", log.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        first_screen(&out).contains(
            "proxy logs: no 5xx or error line among the 2 lines read; 1 unreadable, unknown"
        ),
        "{out}"
    );
    let _ = fs::remove_file(&log);
}
