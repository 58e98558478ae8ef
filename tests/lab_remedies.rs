//! Issue 21 on the lab's cause recordings (fixtures/lab/causes-*): where
//! the evidence points at a restart, a replaced peer, the path or the
//! application, the fix names that cause and its remedy, for the proxy
//! that is there (nginx in the lab) and no other, and never a timeout.

use std::fs;

use racecap::analysis::proxy::ProxyKind;
use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::report::{Cause, Report};
use racecap::source::CaptureReader;

fn report(scenario: &str, proxy: Option<ProxyKind>) -> Report {
    let path = format!("fixtures/lab/causes-{scenario}.proxy.pcap");
    let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
    let mut r = pipeline::run(vec![(path, reader)], Config::default())
        .unwrap()
        .0;
    r.settle_proxy(proxy);
    r
}

/// The one remedy of `scenario`, for nginx: its cause, and its steps'
/// texts (none another proxy's).
fn remedy(scenario: &str, cause: Cause) -> Vec<String> {
    let r = report(scenario, Some(ProxyKind::Nginx));
    assert_eq!(r.remedies.len(), 1, "{scenario}: {:?}", r.remedies);
    let m = &r.remedies[0];
    assert_eq!(m.cause, cause, "{scenario}");
    assert_eq!(m.failures as usize, r.findings.len(), "{scenario}");
    for s in &m.steps {
        for other in ["HAProxy", "Envoy", "Istio"] {
            assert!(!s.text.starts_with(other), "{scenario}: {}", s.text);
        }
    }
    m.steps.iter().map(|s| s.text.clone()).collect()
}

/// The table's first lines for `scenario` behind nginx.
fn opening(scenario: &str) -> String {
    let pcap = format!("fixtures/lab/causes-{scenario}.proxy.pcap");
    let out = crate::util::stdout(&["analyze", &pcap, "--proxy", "nginx"]);
    out.lines().take(4).collect::<Vec<_>>().join("\n")
}

/// No timeout advice for any proxy: no server has a recommendation, no
/// mismatch is claimed, and the fix (its line and section) names no
/// server keep-alive setting.
fn no_timeout_advice(scenario: &str) {
    let pcap = format!("fixtures/lab/causes-{scenario}.proxy.pcap");
    for proxy in ["nginx", "haproxy", "envoy", "istio"] {
        let j = crate::util::json(&["analyze", &pcap, "--proxy", proxy]);
        for s in j["servers"].as_array().unwrap() {
            assert_eq!(
                s["recommendations"],
                serde_json::json!([]),
                "{scenario} --proxy {proxy}"
            );
            assert_eq!(s["mismatch"], false, "{scenario} --proxy {proxy}");
        }
        let out = crate::util::stdout(&["analyze", &pcap, "--proxy", proxy]);
        assert!(
            !out.contains("MISMATCH"),
            "{scenario} --proxy {proxy}\n{out}"
        );
        let fix = out.lines().find(|l| l.starts_with("Fix")).unwrap_or("");
        let section: String = out
            .lines()
            .skip_while(|l| !l.starts_with("How to fix it"))
            .take_while(|l| !l.starts_with("(--verbose"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!section.is_empty(), "{scenario} --proxy {proxy}\n{out}");
        for text in [fix, section.as_str()] {
            for word in [
                "keepAliveTimeout",
                "Or on the server",
                "timeout http-keep-alive",
            ] {
                assert!(
                    !text.contains(word),
                    "{scenario} --proxy {proxy}: {word}\n{text}"
                );
            }
        }
    }
}

/// A restart: drain before stop, and nginx's retry on an error.
#[test]
fn test_lab_restart_remedy() {
    let steps = remedy("restart", Cause::Restart);
    assert!(steps[0].starts_with("drain before stop"), "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s.contains("server.closeIdleConnections()"))
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("nginx: proxy_next_upstream error timeout"))
    );
    let out = opening("restart");
    assert!(
        out.contains("Fix (nginx, named by --proxy): a restart, not a timeout: drain before stop"),
        "{out}"
    );
    no_timeout_advice("restart");
}

/// A peer gone: the pool's lifetime (nginx keepalive_time) and the retry.
#[test]
fn test_lab_peer_gone_remedy() {
    let steps = remedy("peer-gone", Cause::PeerGone);
    assert!(steps.iter().any(|s| s.starts_with("health-check the pool")));
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("nginx: set keepalive_time"))
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("nginx: proxy_next_upstream"))
    );
    let out = opening("peer-gone");
    assert!(
        out.contains("a peer gone or replaced, not a timeout"),
        "{out}"
    );
    assert!(out.contains("nginx: set keepalive_time"), "{out}");
    no_timeout_advice("peer-gone");
}

/// The path: TCP keepalive below the middlebox's idle timeout, with the
/// bound racecap measured (the relay forgot flows after 4 s idle; the
/// shortest failed reuse was 4.501 s idle).
fn path(scenario: &str) {
    let steps = remedy(scenario, Cause::Path);
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("nginx: proxy_socket_keepalive on"))
    );
    let r = report(scenario, Some(ProxyKind::Nginx));
    let within = r.remedies[0].forgotten_within_ms.unwrap().ms();
    assert!((4000.0..4600.0).contains(&within), "{scenario}: {within}");
    let out = opening(scenario);
    assert!(
        out.contains(
            "the path (a middlebox forgot idle flows, after at most 4.501 s idle), not a timeout"
        ),
        "{out}"
    );
    no_timeout_advice(scenario);
}

#[test]
fn test_lab_nat_drop_remedy() {
    path("nat-drop");
}

#[test]
fn test_lab_nat_rst_remedy() {
    path("nat-rst");
}

/// The application: no timeout change, the server's logs, idempotent retries.
#[test]
fn test_lab_app_reset_remedy() {
    let steps = remedy("app-reset", Cause::Application);
    assert!(
        steps[0].contains("application reset these requests itself"),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("retry only idempotent requests"))
    );
    let out = opening("app-reset");
    assert!(
        out.contains("Fix (nginx, named by --proxy): the application's resets, not a timeout"),
        "{out}"
    );
    no_timeout_advice("app-reset");
}

/// Another proxy gets its own steps, and no proxy known gets none of any
/// proxy's (only the steps that are no one proxy's).
#[test]
fn test_lab_remedy_only_for_the_proxy_there() {
    let r = report("restart", Some(ProxyKind::Haproxy));
    let texts: Vec<&str> = r.remedies[0]
        .steps
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|s| s.starts_with("HAProxy: retry-on conn-failure empty-response"))
    );
    assert!(!texts.iter().any(|s| s.starts_with("nginx:")));
    let r = report("restart", None);
    assert!(r.remedies[0].steps.iter().all(|s| s.snippet.is_none()));
    let r = report("nat-rst", Some(ProxyKind::Envoy));
    assert!(
        r.remedies[0]
            .steps
            .iter()
            .any(|s| s.text.contains("upstream_connection_options.tcp_keepalive"))
    );
}

/// The impact line on each recording says what the clients lost, by the
/// truth: nginx retried the GETs an application, a replaced peer or a
/// middlebox reset (the clients got 200), not the POSTs (502); the
/// requests a dropping middlebox never acknowledged are lost (504); a
/// restart's races are said to be a restart's.
#[test]
fn test_lab_causes_impact_line() {
    let lost = |scenario: &str| {
        let r = report(scenario, Some(ProxyKind::Nginx));
        (r.summary.lost_by_method.clone(), r.summary.lost())
    };
    let by = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(m, n)| (m.to_string(), *n))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(lost("app-reset").0, by(&[("POST", 8)]));
    assert_eq!(lost("peer-gone").0, by(&[("POST", 2)]));
    assert_eq!(lost("nat-rst").0, by(&[("POST", 4)]));
    assert_eq!(lost("nat-drop").0, by(&[("GET", 4), ("POST", 4)]));
    // The GETs' retries are found (and carried by their findings).
    let r = report("app-reset", Some(ProxyKind::Nginx));
    let retried = r
        .findings
        .iter()
        .filter(|f| f.reset.as_ref().and_then(|x| x.retried) == Some(true))
        .count();
    assert_eq!(retried, 8);
    let cases = [
        (
            "app-reset",
            "8 POST requests failed for their clients (8 reset)",
        ),
        (
            "peer-gone",
            "2 POST requests failed for their clients (2 reset)",
        ),
        (
            "nat-rst",
            "4 POST requests failed for their clients (4 reset)",
        ),
        (
            "nat-drop",
            "8 requests (GET 4, POST 4) failed for their clients (8 never acknowledged)",
        ),
        (
            "restart",
            "7 GET requests failed for their clients (7 keep-alive races at a restart, their retries refused)",
        ),
    ];
    for (scenario, want) in cases {
        let out = opening(scenario);
        assert!(out.starts_with(want), "{scenario}:\n{out}");
    }
    assert!(
        opening("restart").contains(
            "\n7 keep-alive races at a restart (0 retried, 7 into a refused connect) from"
        )
    );
    // The other refused connects are said apart, never counted as lost
    // without a log that says so.
    assert!(
        opening("restart").contains("\n19 connects were refused as well:"),
        "{}",
        opening("restart")
    );
}

/// The HTML page shows the remedy with the proxy's snippet, as the table.
#[test]
fn test_lab_remedy_in_html() {
    let out = crate::util::stdout(&[
        "analyze",
        "fixtures/lab/causes-peer-gone.proxy.pcap",
        "--proxy",
        "nginx",
        "--format",
        "html",
    ]);
    assert!(out.contains("<h2>Fix: not a timeout</h2>"), "{out}");
    // No number the capture cannot prove: the lifetime is the user's.
    assert!(out.contains("keepalive_time &lt;lifetime&gt;;"), "{out}");
    assert!(!out.contains("pool-purge-delay"), "{out}");
}
