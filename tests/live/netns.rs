//! `--netns`: the sidecar → app hop runs on a pod's own loopback, which no
//! host interface shows. A client and a server talk over `lo` inside a
//! namespace of their own; racecap, started outside it, captures there with
//! `--netns` and reports the race, while its `-w` file lands in racecap's
//! own namespace.

use std::fs;
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

use super::{Lab, can_run, client_py, finish, race_line, run_client, server_js, sh, start_server};

#[test]
fn test_netns_capture_on_loopback_inside_namespace() {
    if !can_run() {
        return;
    }
    let id = std::process::id() % 100_000;
    let ns = format!("r14-lo{id}");
    let mut lab = Lab {
        ns: vec![ns.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
    let dir = std::env::temp_dir().join(format!("racecap-r14-netns-{id}"));
    fs::create_dir_all(&dir).unwrap();
    let (server, client) = (dir.join("server.js"), dir.join("client.py"));
    fs::write(&server, server_js("127.0.0.1")).unwrap();
    fs::write(&client, client_py("127.0.0.1")).unwrap();
    let written = dir.join("lo.pcap");

    // racecap runs in this (the test's) namespace, the traffic in `ns`.
    lab.capture = Some(
        Command::new(cargo_bin!("racecap"))
            .args(["capture", "--netns", &ns, "-i", "lo", "--duration", "6s"])
            .args(["--format", "jsonl", "-w"])
            .arg(&written)
            .args(["tcp", "port", "3000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    start_server(&mut lab, &ns, &server);
    std::thread::sleep(std::time::Duration::from_millis(300));
    run_client(&ns, &client);
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");
    let race = race_line(&out, &err);
    assert_eq!(race["server"], "127.0.0.1:3000");
    assert_eq!(race["race"]["kind"], "stale");
    assert_eq!(race["race"]["request"]["path"], "/second");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["type"], "report");
    assert_eq!(report["verdict_counts"]["keepalive_race"], 1, "{out}");
    // The client is a loopback address: the fix names the sidecar's
    // inbound pool (the hop this capture shows), not a DestinationRule.
    let texts: Vec<&str> = report["servers"][0]["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("inboundConnectionPool")),
        "{texts:?}"
    );
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("DestinationRule trafficPolicy")),
        "{texts:?}"
    );
    // The file was written here, not in the namespace's mounts.
    assert!(fs::metadata(&written).unwrap().len() > 24);
    drop(lab);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn test_netns_errors_are_one_line() {
    if !can_run() {
        return;
    }
    let out = Command::new(cargo_bin!("racecap"))
        .args(["capture", "--netns", "r14-missing", "-i", "lo"])
        .args(["--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "racecap: --netns r14-missing: no such network namespace (/var/run/netns/r14-missing)"
    );
    // Another user may not enter PID 1's namespace.
    if !super::have("setpriv") {
        eprintln!("skipped the permission case: setpriv is not installed");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(cargo_bin!("racecap"))
        .args(["interfaces", "--netns", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "racecap: --netns 1: not permitted: entering a network namespace needs root or CAP_SYS_ADMIN"
    );
}

/// `-i any` keeps working next to patterns: sysfs lists no `any`, and the
/// once-a-second rescan must not let it go (a refused connect 1.5 s in).
#[test]
fn test_any_outlives_the_rescan() {
    if !can_run() {
        return;
    }
    let id = std::process::id() % 100_000;
    let ns = format!("r14-any{id}");
    let mut lab = Lab {
        ns: vec![ns.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
    lab.capture = Some(
        Command::new(cargo_bin!("racecap"))
            .args(["capture", "--netns", &ns, "-i", "any", "--duration", "3s"])
            .args(["--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // Nothing listens on port 9: the kernel answers the SYN with RST.
    let st = Command::new("ip")
        .args(["netns", "exec", &ns, "timeout", "5", "python3", "-c"])
        .arg("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=2)\nexcept OSError:\n    pass")
        .status()
        .unwrap();
    assert!(st.success());
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");
    assert!(!err.contains("stopped capturing"), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["capture"]["files"][0]["name"], "live:any");
    assert_eq!(report["verdict_counts"]["connect_refused"], 1, "{out}");
}
