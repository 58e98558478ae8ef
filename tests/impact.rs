//! Issue 15: the report a person reads first. The impact summary (JSON
//! `summary` and the table's opening lines) checked against the lab
//! recordings' ground truth, the fix for the proxy that is there, the
//! findings cap, and tables that fit their width.

use serde_json::Value;

use crate::util::{json, run};

const GET: &str = "fixtures/lab/get-races.backend.pcap";
const POST: &str = "fixtures/lab/post-races.backend.pcap";
const FAULTS: &str = "fixtures/lab/faults.backend.pcap";

fn truth(name: &str) -> Value {
    let path = format!("fixtures/lab/{name}.truth.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The summary's numbers are the servers' logs' numbers: every 502 the
/// clients got is a POST lost to a race that was not retried.
#[test]
fn test_summary_matches_ground_truth_post() {
    let s = &json(&["analyze", POST])["summary"];
    let t = truth("post-races");
    let five_oh_twos = t["client_statuses"]["502"].as_u64().unwrap();
    assert_eq!(s["lost_by_method"]["POST"].as_u64(), Some(five_oh_twos));
    assert_eq!(s["races"], t["races"].as_array().unwrap().len());
    assert_eq!(s["not_retried"], s["races"]);
    assert_eq!(s["retried"], 0);
    // The client sent 74 requests; none was re-sent to the backend.
    let sent: u64 = t["client_statuses"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(s["requests"].as_u64(), Some(sent));
    // 9 in 74 requests.
    assert_eq!(s["races_per_1000_requests"], 121.6);
    assert_eq!(s["servers"].as_array().unwrap().len(), 4);
}

/// GET races are retried: nothing lost, and the backend saw each retry as
/// one more request.
#[test]
fn test_summary_matches_ground_truth_get() {
    let s = &json(&["analyze", GET])["summary"];
    let t = truth("get-races");
    let races = t["races"].as_array().unwrap().len() as u64;
    assert_eq!(s["races"].as_u64(), Some(races));
    assert_eq!(s["retried"].as_u64(), Some(races));
    assert_eq!(s["lost_by_method"], serde_json::json!({}));
    let sent: u64 = t["client_statuses"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(s["requests"].as_u64(), Some(sent + races));
    assert!(s["first_race"].as_str().unwrap() < s["last_race"].as_str().unwrap());
}

/// A capture of both sides of nginx counts each request once (at the hop
/// that raced), and nginx's own `Server` header names the proxy.
#[test]
fn test_both_sides_count_once_and_name_the_proxy() {
    let both = json(&["analyze", "fixtures/lab/get-races.proxy-any.pcap"]);
    let backend = json(&["analyze", GET]);
    assert_eq!(both["summary"]["requests"], backend["summary"]["requests"]);
    assert_eq!(both["proxy"]["kind"], "nginx");
    assert_eq!(both["proxy"]["source"], "server_header");
    assert_eq!(backend["proxy"], Value::Null);
}

/// The first three lines of each lab recording, in one snapshot: what
/// failed for the clients, the span and rate, the one fix.
#[test]
fn test_snapshot_opening_lines() {
    let mut all = String::new();
    for (name, extra) in [
        (GET, None),
        (POST, None),
        (POST, Some("nginx")),
        (FAULTS, None),
        ("fixtures/lab/client-lib.backend.pcap", None),
        ("fixtures/lab/caddy.proxy-any.pcap", None),
        ("fixtures/lab/control.backend.pcap", None),
    ] {
        let mut args = vec!["analyze", name];
        if let Some(p) = extra {
            args.extend(["--proxy", p]);
        }
        let (_, out, _) = run(&args);
        all.push_str(&format!("$ racecap {}\n", args.join(" ")));
        for l in out.lines().take(3) {
            all.push_str(l);
            all.push('\n');
        }
        all.push('\n');
    }
    insta::assert_snapshot!("opening_lines", all);
}

/// The summary object, whole.
#[test]
fn test_snapshot_json_summary() {
    let v = json(&["analyze", FAULTS]);
    insta::assert_snapshot!(
        "json_summary_faults",
        serde_json::to_string_pretty(&v["summary"]).unwrap()
    );
}

/// `--proxy nginx`: the fix names nginx's knob with its snippet, and no
/// other proxy's.
#[test]
fn test_proxy_flag_prints_only_that_proxy() {
    let (_, out, _) = run(&["analyze", POST, "--proxy", "nginx"]);
    let fix: String = out
        .lines()
        .skip_while(|l| !l.starts_with("How to fix it"))
        .take_while(|l| !l.starts_with('┌'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(fix.contains("keepalive_timeout 2s;"), "{fix}");
    for other in ["Istio:", "Envoy:", "HAProxy:", "DestinationRule"] {
        assert!(!fix.contains(other), "{other} in {fix}");
    }
    // What the proxy logs: its line only.
    assert!(out.contains("  nginx:       502; error log"), "{out}");
    assert!(!out.contains("Envoy/Istio: 503 UC"), "{out}");
    // Without it, every proxy briefly, without their snippets.
    let (_, out, _) = run(&["analyze", POST]);
    assert!(out.contains("Istio: set DestinationRule"));
    assert!(!out.contains("keepalive_timeout 2s;"));
    // No fix text is a paragraph.
    let longest = out.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(longest < 300, "{longest}");
    let (code, _, err) = run(&["analyze", POST, "--proxy", "squid"]);
    assert_eq!(code, 2);
    assert!(err.contains("one of: istio, envoy"), "{err}");
}

/// `--verbose` gives the reasons back, with the measured numbers.
#[test]
fn test_verbose_has_the_long_texts() {
    let (_, out, _) = run(&["analyze", POST, "--verbose"]);
    assert!(out.contains("The server closes idle connections after 3.001 s"));
    assert!(out.contains("nodejs/node#27363"));
}

/// Each server's fix block carries that server's numbers: no server's
/// reuse window is printed under another.
#[test]
fn test_fix_numbers_are_per_server() {
    let (_, out, _) = run(&["analyze", GET, "--verbose"]);
    let v = json(&["analyze", GET]);
    for s in v["servers"].as_array().unwrap() {
        let ep = s["endpoint"].as_str().unwrap();
        let reuse = s["reuse_window_ms"].as_f64().unwrap() / 1000.0;
        let block: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with(ep))
            .take(4)
            .collect();
        let want = format!("after up to {reuse:.3} s");
        assert!(block.iter().any(|l| l.contains(&want)), "{ep}: {block:?}");
    }
}

/// The findings table: in time order, capped, and saying how to see all.
#[test]
fn test_findings_limit_and_order() {
    let (_, out, _) = run(&["analyze", FAULTS, "--limit", "5"]);
    assert!(out.contains("Findings (18, by time of failure):"), "{out}");
    assert!(out.contains("… and 13 more; --limit 0 for all"));
    let times: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Findings"))
        .filter_map(|l| l.strip_prefix("│ "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| t.len() == 18 && t.as_bytes()[2] == b':')
        .collect();
    assert_eq!(times.len(), 5, "{times:?}");
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    let (_, all, _) = run(&["analyze", FAULTS, "--limit", "0"]);
    assert!(!all.contains("more; --limit 0 for all"));
    // JSON is always complete.
    let v = json(&["analyze", FAULTS, "--limit", "5"]);
    assert_eq!(v["findings"].as_array().unwrap().len(), 18);
}

/// Tables fit `--width`, the proxy-log table included (issue 26: it
/// ignored the flag and took 230 columns).
#[test]
fn test_tables_fit_the_width() {
    let with_log = |w: &'static str| {
        vec![
            "analyze",
            "fixtures/lab/post-races.proxy-any.pcap",
            "--proxy-log",
            "fixtures/lab/post-races.nginx-error.log",
            "--width",
            w,
        ]
    };
    for (args, width) in [
        (vec!["analyze", FAULTS, "--width", "100"], 100),
        (vec!["analyze", FAULTS, "--width", "80"], 80),
        (with_log("100"), 100),
        (with_log("80"), 80),
    ] {
        let (_, out, _) = run(&args);
        for l in out
            .lines()
            .filter(|l| l.starts_with(['┌', '│', '╞', '└', '├']))
        {
            assert!(
                l.chars().count() <= width,
                "{} > {width}: {l}",
                l.chars().count()
            );
        }
    }
}

/// Issue 26: written to a pipe (CI logs, `| less`) without `--width`, the
/// tables do not wrap, as ripgrep, kubectl and tshark do not: the Servers
/// table keeps its headers whole (not `Keep-Ali` / `ve`) and one line per
/// server.
#[test]
fn test_26_piped_tables_do_not_wrap() {
    let (_, out, _) = run(&["analyze", GET]);
    let servers: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "Servers:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    // Top, header, separator, 4 servers, bottom.
    assert_eq!(servers.len(), 8, "{}", servers.join("\n"));
    assert!(servers[1].contains("┆ Keep-Alive ┆"), "{}", servers[1]);
    assert!(
        servers[1].contains("┆ idle timeout (server FIN) "),
        "{}",
        servers[1]
    );
    assert!(servers[3].contains("3.001 s (n=7, 3.000 s–3.003 s)"));
    // Wider than the 100 columns it used to be cut to.
    assert!(servers[0].chars().count() > 100);
}

/// Issue 21, "What the clients really got": on the faults recording with
/// nginx's logs, each lost request's outcome is what nginx logged for it
/// (truth: the read timeouts 504, the POSTs reset and the refused
/// connects 502, the GETs reset retried to a 200), and the cut responses, which nginx logged as 200
/// and no failed try, stay "an error" rather than a guess. The GETs' retries
/// are seen in the capture, so they are not lost at all (issue 21: the
/// retry watcher watches a reset request too).
#[test]
fn test_issue21_clients_got_what_the_proxy_logged() {
    use crate::proxylog::FAULTS_LOG_FORMAT;
    let args = [
        "analyze",
        FAULTS,
        "--proxy-log",
        "fixtures/lab/faults.nginx-access.log",
        "--proxy-log",
        "fixtures/lab/faults.nginx-error.log",
        "--nginx-log-format",
        FAULTS_LOG_FORMAT,
    ];
    let s = &json(&args)["summary"];
    assert_eq!(
        s["clients_got"],
        serde_json::json!({"504": 4, "502": 4, "unknown": 4})
    );
    let t = truth("faults");
    assert_eq!(t["client_statuses"]["504"], 4);
    // Two of the 502s are refused connects nginx logged as 502: requests
    // of their own, counted once the log says what their clients got.
    assert_eq!(t["client_statuses"]["502"], 4);
    assert_eq!(s["refused_lost"], 2);
    let (_, out, _) = run(&args);
    let first = out.lines().next().unwrap();
    assert!(
        first.ends_with(
            "by the proxy's log, the clients got 502 ×4, 504 ×4, an error ×4 (which, unknown)."
        ),
        "{first}"
    );
}
