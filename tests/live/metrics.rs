//! `--metrics-listen` scraped by a real Prometheus server: racecap and
//! Prometheus run in a "monitoring" namespace of the test's, racecap
//! captures in a "node" namespace (`--netns`) on a pod's veth while a client
//! races the pod's server. The race counter must come back through
//! Prometheus' HTTP API with its labels, and `promtool check metrics` must
//! accept what racecap serves.

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

use super::{
    Lab, add_pod, can_run, client_py, finish, have, run_client, server_js, sh, start_server,
};

/// GET `url` from inside `ns` (python3's urllib: no curl needed); None on
/// any failure.
fn get(ns: &str, url: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "5", "python3", "-c"])
        .arg("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())")
        .arg(url)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `f` every 250 ms until it gives a value, at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// The samples of an instant query: (labels, value).
fn query(ns: &str, q: &str) -> Vec<(Value, String)> {
    let url = format!("http://127.0.0.1:19090/api/v1/query?query={q}");
    let Some(body) = get(ns, &url) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    (
                        s["metric"].clone(),
                        s["value"][1].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn test_prometheus_scrapes_the_race_counter() {
    if !can_run() {
        return;
    }
    for tool in ["prometheus", "promtool"] {
        if !have(tool) {
            // CI installs the Debian package (.ci/run); a developer may not have it.
            eprintln!("skipped: {tool} is not installed (Debian package prometheus)");
            return;
        }
    }
    let id = std::process::id() % 100_000;
    let (mon, node, pod) = (
        format!("r14-mon{id}"),
        format!("r14-mn{id}"),
        format!("r14-mp{id}"),
    );
    let veth = format!("r14m-{id}");
    let mut lab = Lab {
        ns: vec![mon.clone(), node.clone(), pod.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!(
        "ip netns add {mon} && ip -n {mon} link set lo up && ip netns add {node} && ip -n {node} link set lo up"
    ));
    add_pod(&node, &pod, &veth, 1);
    let dir = std::env::temp_dir().join(format!("racecap-r14-metrics-{id}"));
    fs::create_dir_all(dir.join("tsdb")).unwrap();
    let (server, client) = (dir.join("server.js"), dir.join("client.py"));
    fs::write(&server, server_js("10.81.1.2")).unwrap();
    fs::write(&client, client_py("10.81.1.2")).unwrap();
    let config = dir.join("prometheus.yml");
    fs::write(
        &config,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: racecap\n    static_configs:\n      - targets: ['127.0.0.1:19464']\n",
    )
    .unwrap();
    start_server(&mut lab, &pod, &server);

    // racecap in the monitoring namespace, capturing in the node's.
    lab.capture = Some(
        Command::new("ip")
            .args(["netns", "exec", &mon])
            .arg(cargo_bin!("racecap"))
            .args(["capture", "--netns", &node, "-i", "r14m-*"])
            .args(["--metrics-listen", "127.0.0.1:19464", "--duration", "40s"])
            .args(["--format", "jsonl", "tcp", "port", "3000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let capture_pid = lab.capture.as_ref().unwrap().id();
    let prometheus = Command::new("ip")
        .args(["netns", "exec", &mon, "prometheus"])
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .args(["--web.listen-address=127.0.0.1:19090", "--log.level=warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.children.push(prometheus);
    let ready = wait_for(Duration::from_secs(30), || {
        get(&mon, "http://127.0.0.1:19090/-/ready")
    });
    assert!(ready.is_some(), "Prometheus did not get ready");
    // Prometheus sees the target up before the race.
    let up = wait_for(Duration::from_secs(15), || {
        query(&mon, "up").into_iter().find(|(_, v)| v == "1")
    });
    assert!(up.is_some(), "racecap was never scraped");

    run_client(&node, &client);

    let races = wait_for(Duration::from_secs(15), || {
        let r = query(&mon, "racecap_keepalive_races_total");
        (!r.is_empty()).then_some(r)
    })
    .expect("the race counter never reached Prometheus");
    assert_eq!(races.len(), 1, "{races:?}");
    let (labels, value) = &races[0];
    assert_eq!(value, "1");
    assert_eq!(labels["server"], "10.81.1.2:3000");
    assert_eq!(labels["kind"], "stale");
    assert_eq!(labels["job"], "racecap");
    let failures = query(&mon, "racecap_failures_total");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0["verdict"], "keepalive_race");
    // Node closed the idle connection after ~1.3 s: the 2 s bucket.
    let closes = wait_for(Duration::from_secs(5), || {
        let r = query(
            &mon,
            "racecap_server_idle_close_seconds_bucket%7Ble%3D%222.0%22%7D",
        );
        r.into_iter().find(|(_, v)| v == "1")
    });
    assert!(closes.is_some(), "no idle close in the 2 s bucket");
    let packets = query(&mon, "racecap_capture_packets_total");
    assert!(packets[0].1.parse::<u64>().unwrap() > 10, "{packets:?}");

    // What a plain client gets (the 0.0.4 text format) passes promtool.
    let exposition = get(&mon, "http://127.0.0.1:19464/metrics").unwrap();
    assert!(
        exposition.contains("racecap_keepalive_races_total{"),
        "{exposition}"
    );
    // Issue 25: the alerting rules and the dashboard name series this
    // scrape has (the reuse histogram only once a reuse was answered).
    for name in crate::alerts::names_used() {
        if name.starts_with("racecap_reuse_after_idle")
            && !exposition.contains("racecap_reuse_after_idle")
        {
            continue;
        }
        assert!(
            exposition
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} is not in a real scrape:\n{exposition}"
        );
    }
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{exposition}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // SIGTERM ends the capture with its report, as Ctrl-C does.
    sh(&format!("kill -TERM {capture_pid}"));
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["verdict_counts"]["keepalive_race"], 1);
    drop(lab);
    let _ = fs::remove_dir_all(&dir);
}
