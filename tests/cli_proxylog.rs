//! `racecap analyze --proxy-log`: exit codes, gzip, `--fail-on
//! unexplained`, and snapshots of the section in the table and the JSON.

use std::fs;
use std::io::Write;

use serde_json::Value;

use crate::proxylog::LAB_LOG_FORMAT;
use crate::util::{run, tmp};

const POST: &str = "fixtures/lab/post-races.proxy-any.pcap";
const ACCESS: &str = "fixtures/lab/post-races.nginx-access.log";
const ERRORS: &str = "fixtures/lab/post-races.nginx-error.log";

fn lab_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "analyze",
        POST,
        "--proxy-log",
        ACCESS,
        "--proxy-log",
        ERRORS,
        "--nginx-log-format",
        LAB_LOG_FORMAT,
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn test_unreadable_proxy_log_exits_2_with_one_line() {
    let (code, out, err) = run(&["analyze", POST, "--proxy-log", "no-such.log"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("racecap: no-such.log: "), "{err}");
    let (code, _, err) = run(&["analyze", POST, "--proxy-log-format", "apache"]);
    assert_eq!(code, 2);
    assert!(err.contains("nginx-error"), "{err}");
}

#[test]
fn test_gzip_log_reads_like_the_plain_one() {
    let gz = tmp("error.log.1");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&fs::read(ERRORS).unwrap()).unwrap();
    fs::write(&gz, enc.finish().unwrap()).unwrap();
    let (code, out, err) = run(&[
        "analyze",
        POST,
        "--proxy-log",
        gz.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let p = &v["proxy_log"];
    assert_eq!(p["files"][0]["gzip"], true);
    assert_eq!(p["files"][0]["format"], "nginx-error");
    assert_eq!(
        (p["errors"].as_u64(), p["explained"].as_u64()),
        (Some(9), Some(9))
    );
}

#[test]
fn test_fail_on_unexplained() {
    let (code, _, err) = run(&lab_args(&["--fail-on", "unexplained"]));
    assert_eq!(code, 0, "{err}");
    // A 502 from a backend the capture never saw has no explanation.
    let extra = tmp("other.log");
    fs::write(
        &extra,
        "2026/11/26 18:06:05 [error] 8344#8344: *90 upstream prematurely closed connection while reading response header from upstream, client: 10.231.1.1, server: , request: \"GET /x HTTP/1.1\", upstream: \"http://10.231.7.7:80/x\", host: \"a\"\nnot a line\n",
    )
    .unwrap();
    let mut a = lab_args(&["--fail-on", "unexplained", "--format", "json"]);
    a.extend(["--proxy-log", extra.to_str().unwrap()]);
    let (code, out, _) = run(&a);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let p = &v["proxy_log"];
    assert_eq!(
        (p["errors"].as_u64(), p["explained"].as_u64()),
        (Some(19), Some(18))
    );
    assert_eq!(p["unreadable"], 1);
    let last = &p["entries"][18];
    assert_eq!(last["reason"], "upstream_not_in_capture");
    assert_eq!(last["status"], Value::Null);
    // Without proxy logs, nothing is unexplained.
    let (code, _, _) = run(&["analyze", POST, "--fail-on", "unexplained"]);
    assert_eq!(code, 0);
    // Without --connections, the rows matching needed are not printed.
    assert!(v.get("connections").is_none());
}

/// The report's opening lines, and the proxy-log table.
#[test]
fn test_snapshot_table_proxy_log() {
    let (_, out, _) = run(&lab_args(&[]));
    let head: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    let section: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Proxy log lines"))
        .take_while(|l| !l.is_empty())
        .collect();
    insta::assert_snapshot!(
        "table_proxy_log_post_races",
        format!("{}\n\n{}\n", head.join("\n"), section.join("\n"))
    );
}

/// The `proxy_log` section and the findings' `log_lines`.
#[test]
fn test_snapshot_json_proxy_log() {
    let (_, out, _) = run(&lab_args(&["--format", "json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let lines: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["log_lines"])
        .collect();
    let both = serde_json::json!({
        "proxy_log": v["proxy_log"],
        "findings[].log_lines": lines,
    });
    insta::assert_snapshot!(
        "json_proxy_log_post_races",
        serde_json::to_string_pretty(&both).unwrap()
    );
}

/// Issue 26: "11 nginx error-log lines lines are unexplained". The kind of
/// line is named once, in the singular for one.
#[test]
fn test_26_unexplained_lines_named_once() {
    let line = |n: u32, path: &str| {
        format!(
            "2026/11/26 18:06:0{n} [error] 8344#8344: *9{n} upstream prematurely closed connection while reading response header from upstream, client: 10.231.1.1, server: , request: \"GET /{path} HTTP/1.1\", upstream: \"http://10.231.7.7:80/{path}\", host: \"a\"\n"
        )
    };
    let one = tmp("one-unexplained.log");
    fs::write(&one, line(5, "x")).unwrap();
    let two = tmp("two-unexplained.log");
    fs::write(&two, line(5, "x") + &line(6, "y")).unwrap();
    for (file, want) in [
        (
            &one,
            "  1 nginx error-log line is unexplained: upstream not in capture 1",
        ),
        (
            &two,
            "  2 nginx error-log lines are unexplained: upstream not in capture 2",
        ),
    ] {
        let (_, out, _) = run(&[
            "analyze",
            POST,
            "--proxy-log",
            ERRORS,
            "--proxy-log",
            file.to_str().unwrap(),
        ]);
        assert!(out.lines().any(|l| l == want), "{want}\n{out}");
        assert!(!out.contains("lines lines"), "{out}");
    }
}

/// Issue 23: error lines past the memory budget are counted and warned
/// about, not held: the first ones are still matched.
#[test]
fn test_23_error_lines_past_the_budget_warn() {
    let lines = fs::read_to_string(ERRORS).unwrap();
    let path = tmp("23-many-errors.log");
    let mut f = fs::File::create(&path).unwrap();
    for _ in 0..2000 {
        f.write_all(lines.as_bytes()).unwrap();
    }
    drop(f);
    let p = path.to_str().unwrap();
    let (_, out, _) = run(&[
        "analyze",
        POST,
        "--proxy-log",
        p,
        "--format",
        "json",
        "--max-memory",
        "1",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let warned: Vec<&str> = v["capture"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| w.contains("were not matched to connections"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", v["capture"]["warnings"]);
    let file = &v["proxy_log"]["files"][0];
    assert!(file["errors"].as_u64().unwrap() > 0);
    assert!(file["errors"].as_u64().unwrap() < 2000 * lines.lines().count() as u64);
}
