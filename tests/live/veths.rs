//! Several interfaces in one capture: a "node" namespace with two pod
//! veths, a server in each pod's namespace, clients on the node. racecap
//! captures on the node (`--netns`) with a pattern; the second pod's veth is
//! created after the capture started and deleted before it ends. Both races
//! must be reported with their interface and the peer namespace with its
//! processes, and the `-w` file (pcapng, one interface block each) must give
//! the same races again.

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

use super::{Lab, add_pod, can_run, client_py, finish, server_js, sh, start_server};

/// `racecap capture` in the node's namespace on the interfaces `pattern`
/// matches, for `duration`, JSON Lines on stdout.
fn capture(node: &str, pattern: &str, duration: &str, extra: &[&str]) -> std::process::Child {
    Command::new(cargo_bin!("racecap"))
        .args(["capture", "--netns", node, "-i", pattern])
        .args(["--duration", duration, "--format", "jsonl"])
        .args(extra)
        .args(["tcp", "port", "3000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn test_pattern_follows_veths_that_come_and_go() {
    if !can_run() {
        return;
    }
    let id = std::process::id() % 100_000;
    let node = format!("r14-node{id}");
    let pods = [format!("r14-pa{id}"), format!("r14-pb{id}")];
    let veths = [format!("r14va-{id}"), format!("r14vb-{id}")];
    let mut lab = Lab {
        ns: vec![node.clone(), pods[0].clone(), pods[1].clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!(
        "ip netns add {node} && ip -n {node} link set lo up"
    ));
    add_pod(&node, &pods[0], &veths[0], 1);
    let dir = std::env::temp_dir().join(format!("racecap-r14-veths-{id}"));
    fs::create_dir_all(&dir).unwrap();
    let mut clients = Vec::new();
    for n in 1..=2 {
        let (s, c) = (
            dir.join(format!("server{n}.js")),
            dir.join(format!("client{n}.py")),
        );
        fs::write(&s, server_js(&format!("10.81.{n}.2"))).unwrap();
        fs::write(&c, client_py(&format!("10.81.{n}.2"))).unwrap();
        clients.push((s, c));
    }
    start_server(&mut lab, &pods[0], &clients[0].0);
    let written = dir.join("veths.pcapng");

    let w = written.to_str().unwrap();
    lab.capture = Some(capture(&node, &format!("r14v?-{id}"), "9s", &["-w", w]));
    // The second pod arrives while the capture runs; the pattern's rescan
    // (every second) must pick its veth up before its traffic starts.
    std::thread::sleep(Duration::from_millis(800));
    add_pod(&node, &pods[1], &veths[1], 2);
    start_server(&mut lab, &pods[1], &clients[1].0);
    std::thread::sleep(Duration::from_millis(1500));
    let running: Vec<_> = clients
        .iter()
        .map(|(_, c)| {
            Command::new("ip")
                .args(["netns", "exec", &node, "timeout", "20", "python3"])
                .arg(c)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in running {
        assert!(c.wait().unwrap().success());
    }
    // The second pod goes away before the capture ends.
    std::thread::sleep(Duration::from_millis(300));
    sh(&format!("ip -n {node} link del {}", veths[1]));
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");

    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let report = lines.last().unwrap();
    assert_eq!(
        report["verdict_counts"]["keepalive_race"], 2,
        "{out}\n{err}"
    );
    let live: Vec<&Value> = lines[..lines.len() - 1].iter().collect();
    assert_eq!(live.len(), 2, "{out}");
    for (n, veth) in veths.iter().enumerate() {
        let server = format!("10.81.{}.2:3000", n + 1);
        let race = live
            .iter()
            .find(|l| l["server"] == server.as_str())
            .unwrap_or_else(|| panic!("no race with {server}: {out}"));
        assert_eq!(race["verdict"], "keepalive_race");
        assert_eq!(race["interface"], veth.as_str(), "{race}");
        // The OpenTelemetry names of the same facts, for log pipelines.
        assert_eq!(race["network.interface.name"], veth.as_str());
        assert_eq!(race["client.address"], format!("10.81.{}.1", n + 1));
        assert_eq!(race["server.address"], format!("10.81.{}.2", n + 1));
        assert_eq!(race["server.port"], 3000);
        assert_eq!(race["network.transport"], "tcp");
        assert_eq!(race["http.request.method"], "GET");
        assert_eq!(race["url.path"], "/second");
        assert_eq!(race["netns"], node.as_str());
        let peer = &race["peer_netns"];
        assert_eq!(peer["name"], pods[n].as_str(), "{race}");
        assert!(
            peer["commands"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "node"),
            "{race}"
        );
        // The report's copy of the finding names the same place.
        let in_report = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["server"] == server.as_str())
            .unwrap();
        assert_eq!(in_report["interface"], veth.as_str());
        assert_eq!(in_report["peer_netns"], *peer);
    }
    let files: Vec<&str> = report["capture"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [format!("live:{}", veths[0]), format!("live:{}", veths[1])]
    );
    assert!(
        err.contains(&format!("capturing on {} too", veths[1])),
        "{err}"
    );
    assert!(
        err.contains(&format!("stopped capturing on {}", veths[1])),
        "{err}"
    );

    // The pcapng written with -w holds both interfaces and both races.
    let again = Command::new(cargo_bin!("racecap"))
        .arg("analyze")
        .arg(&written)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let from_file: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(from_file["capture"]["files"][0]["format"], "pcapng");
    assert_eq!(from_file["verdict_counts"]["keepalive_race"], 2);
    drop(lab);
    let _ = fs::remove_dir_all(&dir);
}

/// Issue 23: a pod's veth appears down (the container runtime brings it up
/// a moment later); libpcap will not open it then. The pattern must try it
/// again, say so once, and report the race on it.
#[test]
fn test_23_veth_created_down_is_tried_again() {
    if !can_run() {
        return;
    }
    let id = std::process::id() % 100_000;
    let node = format!("r23-node{id}");
    let pod = format!("r23-pd{id}");
    let veth = format!("r23vd-{id}");
    let mut lab = Lab {
        ns: vec![node.clone(), pod.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!(
        "ip netns add {node} && ip -n {node} link set lo up && \
         ip netns add {pod} && ip -n {pod} link set lo up"
    ));
    let dir = std::env::temp_dir().join(format!("racecap-r23-down-{id}"));
    fs::create_dir_all(&dir).unwrap();
    let (server, client) = (dir.join("server.js"), dir.join("client.py"));
    fs::write(&server, server_js("10.81.3.2")).unwrap();
    fs::write(&client, client_py("10.81.3.2")).unwrap();
    lab.capture = Some(capture(&node, &format!("r23v*-{id}"), "14s", &[]));
    // The veth appears down; the capture's rescan (every second) finds it
    // and fails to open it.
    std::thread::sleep(Duration::from_millis(800));
    sh(&format!(
        "ip -n {node} link add {veth} type veth peer name eth0 netns {pod} && \
         ip -n {node} addr add 10.81.3.1/24 dev {veth} && ip -n {pod} addr add 10.81.3.2/24 dev eth0"
    ));
    std::thread::sleep(Duration::from_millis(1800));
    sh(&format!(
        "ip -n {node} link set {veth} up && ip -n {pod} link set eth0 up"
    ));
    start_server(&mut lab, &pod, &server);
    // Tried again within two seconds of the last failure.
    std::thread::sleep(Duration::from_millis(2500));
    let st = Command::new("ip")
        .args(["netns", "exec", &node, "timeout", "20", "python3"])
        .arg(&client)
        .status()
        .unwrap();
    assert!(st.success());
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");
    let warned = format!("cannot capture on {veth}");
    assert_eq!(err.matches(&warned).count(), 1, "{err}");
    assert!(err.contains(&format!("capturing on {veth} too")), "{err}");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        report["verdict_counts"]["keepalive_race"], 1,
        "{out}\n{err}"
    );
    drop(lab);
    let _ = fs::remove_dir_all(&dir);
}
