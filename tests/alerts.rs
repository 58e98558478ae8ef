//! The monitoring that ships with the manifests (issue 25): the alerting
//! rules pass `promtool test rules` (deploy/prometheus/alerts.test.yaml),
//! and the Grafana dashboard parses, is well-formed, and its queries are
//! valid PromQL naming only series racecap exports. The metric names are
//! read from racecap's own registry here; tests/live/metrics.rs checks
//! them against a real scrape by Prometheus as well.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::synth::{Flow, findings, reset_race};
use racecap::analyzer::Sample;
use racecap::metrics::Metrics;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// promtool, or None (skipped) where it is not installed and the run does
/// not require it (CI sets RACECAP_REQUIRE_PROMTOOL).
fn promtool() -> Option<&'static str> {
    let there = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !there {
        assert!(
            std::env::var_os("RACECAP_REQUIRE_PROMTOOL").is_none(),
            "RACECAP_REQUIRE_PROMTOOL is set but promtool is not installed (Debian package prometheus)"
        );
        eprintln!("skipped: promtool is not installed (Debian package prometheus)");
        return None;
    }
    Some("promtool")
}

fn run_promtool(args: &[&str], dir: &Path) {
    let out = Command::new(promtool().unwrap())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rule groups of the PrometheusRule (a plain rule file's content).
pub fn rule_spec() -> serde_yaml_ng::Value {
    let text = fs::read_to_string(
        root().join("deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml"),
    )
    .unwrap();
    let rule: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(rule["kind"], "PrometheusRule");
    rule["spec"].clone()
}

/// racecap's metrics with a series in every family (a family shows in the
/// exposition once it has one): a race, a sample of each kind, packets,
/// drops, open connections.
fn every_family() -> Metrics {
    let m = Metrics::default();
    let mut f = Flow::new(
        ("10.0.0.1".parse().unwrap(), 40000),
        ("10.0.0.2".parse().unwrap(), 8080),
        1,
        9,
    );
    let findings = findings(&reset_race(&mut f, 0, 1_000_000));
    assert!(findings[0].race.is_some(), "{findings:?}");
    m.finding(&findings[0]);
    let server = findings[0].server;
    m.sample(Sample::IdleClose {
        server,
        gap_ns: 5_000_000_000,
    });
    m.sample(Sample::Reuse {
        server,
        gap_ns: 1_000_000_000,
    });
    m.packets(1);
    m.drops("veth0", 0);
    m.open_connections(1);
    m
}

/// Every series name racecap's registry exports: counters with `_total`,
/// histograms as `_bucket`, `_count` and `_sum`, gauges as they are.
fn exported_names() -> BTreeSet<String> {
    let text = every_family().text();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        match kind {
            "counter" => {
                names.insert(format!("{}_total", name.trim_end_matches("_total")));
            }
            "histogram" => {
                for s in ["_bucket", "_count", "_sum"] {
                    names.insert(format!("{name}{s}"));
                }
            }
            _ => {
                names.insert(name.to_string());
            }
        }
    }
    assert!(names.contains("racecap_keepalive_races_total"), "{names:?}");
    names
}

/// The `racecap_…` names a PromQL expression uses.
pub fn names_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("racecap_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// Every `racecap_…` series name the alerting rules and the dashboard use.
pub fn names_used() -> BTreeSet<String> {
    let spec = rule_spec();
    let mut used: BTreeSet<String> = spec["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|r| names_in(r["expr"].as_str().unwrap()))
        .collect();
    for q in queries(&dashboard()) {
        used.extend(names_in(&q));
    }
    used
}

#[test]
fn test_25_alerting_rules_pass_promtool_tests() {
    if promtool().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = rule_spec();
    let alerts: Vec<&str> = spec["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        alerts,
        [
            "RacecapKeepaliveRaces",
            "RacecapTimeoutOrderWrong",
            "RacecapDroppingPackets"
        ]
    );
    // The rules (and the dashboard) name only series racecap exports.
    for r in spec["groups"][0]["rules"].as_sequence().unwrap() {
        assert!(!names_in(r["expr"].as_str().unwrap()).is_empty(), "{r:?}");
    }
    let (used, exported) = (names_used(), exported_names());
    assert!(used.is_subset(&exported), "{used:?} not in {exported:?}");
    fs::write(
        dir.path().join("rules.yaml"),
        serde_yaml_ng::to_string(&spec).unwrap(),
    )
    .unwrap();
    fs::copy(
        root().join("deploy/prometheus/alerts.test.yaml"),
        dir.path().join("alerts.test.yaml"),
    )
    .unwrap();
    run_promtool(&["check", "rules", "rules.yaml"], dir.path());
    run_promtool(&["test", "rules", "alerts.test.yaml"], dir.path());
}

pub fn dashboard() -> Value {
    let text = fs::read_to_string(root().join("deploy/grafana/racecap.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every query of the dashboard (panels and variables).
pub fn queries(d: &Value) -> Vec<String> {
    let mut out: Vec<String> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    for v in d["templating"]["list"].as_array().unwrap() {
        if v["type"] == "query" {
            out.push(v["definition"].as_str().unwrap().to_string());
        }
    }
    out
}

#[test]
fn test_25_dashboard_is_well_formed_and_names_exported_series() {
    let d = dashboard();
    assert_eq!(d["uid"], "racecap");
    assert!(d["schemaVersion"].as_u64().unwrap() >= 36);
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "node", "server"]);
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap();
        assert!(ids.insert(p["id"].as_u64().unwrap()), "{title}: id twice");
        // On the grid (24 columns), with the datasource variable.
        let g = &p["gridPos"];
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{title}"
        );
        assert!(g["h"].as_u64().unwrap() > 0, "{title}");
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        let refs: BTreeSet<&str> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(refs.len(), targets.len(), "{title}: refIds");
    }
    let exported = exported_names();
    let mut used = BTreeSet::new();
    for q in queries(&d) {
        let names = names_in(&q);
        assert!(!names.is_empty(), "{q}");
        assert!(names.is_subset(&exported), "{q}: {names:?}");
        used.extend(names);
    }
    // Every family racecap exports is on the dashboard.
    for family in [
        "racecap_keepalive_races_total",
        "racecap_failures_total",
        "racecap_server_idle_close_seconds_bucket",
        "racecap_reuse_after_idle_seconds_bucket",
        "racecap_capture_packets_total",
        "racecap_capture_drops_total",
        "racecap_open_connections",
    ] {
        assert!(used.contains(family), "{family} is not on the dashboard");
    }
}

/// The panels' queries are PromQL Prometheus accepts: each becomes a
/// recording rule (Grafana's variables given values first), which
/// `promtool check rules` parses.
#[test]
fn test_25_dashboard_queries_parse_as_promql() {
    if promtool().is_none() {
        return;
    }
    let d = dashboard();
    let mut rules = String::from("groups:\n- name: dashboard\n  rules:\n");
    for (i, q) in queries(&dashboard())
        .iter()
        .filter(|q| !q.starts_with("label_values("))
        .enumerate()
    {
        let q = q
            .replace("$__rate_interval", "2m")
            .replace("$__range", "6h")
            .replace("$node", ".*")
            .replace("$server", ".*");
        assert!(!q.contains('$'), "a variable left in {q}");
        rules.push_str(&format!(
            "  - record: dashboard:q{i}\n    expr: {}\n",
            serde_json::to_string(&q).unwrap()
        ));
    }
    assert!(d["panels"].as_array().unwrap().len() <= rules.matches("record:").count());
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("dashboard.rules.yaml"), rules).unwrap();
    run_promtool(&["check", "rules", "dashboard.rules.yaml"], dir.path());
}
