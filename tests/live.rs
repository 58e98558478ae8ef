//! Live capture end to end (feature `live`, as root): two network namespaces
//! joined by a veth pair, a Node.js server with a short keepAliveTimeout in
//! one, a client in the other that writes into the connection after the
//! server's FIN. `racecap capture` on the server's veth must report the race
//! live (a jsonl line), in its final report, and in the file it wrote with -w.

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

mod metrics;
mod netns;
mod pod;
mod veths;

pub(crate) use crate::netlab::{Lab, can_run, finish, have, is_root, sh};

const SERVER: &str = r#"
const http = require('http');
const s = http.createServer((req, res) => res.end('ok'));
s.keepAliveTimeout = 300; // Node 20 closes about 1 s later
s.listen(3000, '10.79.0.2', () => console.log('listening'));
"#;

/// The server above listening on `addr` (port 3000).
pub(crate) fn server_js(addr: &str) -> String {
    SERVER.replace("10.79.0.2", addr)
}

/// The client below talking to `addr` (port 3000).
pub(crate) fn client_py(addr: &str) -> String {
    CLIENT.replace("10.79.0.2", addr)
}

/// Starts the Node server (in `ns`) and waits, bounded by the server's own
/// start, until it listens.
pub(crate) fn start_server(lab: &mut Lab, ns: &str, script: &std::path::Path) {
    let mut server = Command::new("ip")
        .args(["netns", "exec", ns, "node"])
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = server.stdout.take().unwrap();
    lab.children.push(server);
    let mut buf = [0u8; 9];
    out.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"listening");
}

/// Runs the client (in `ns`), at most 20 s.
pub(crate) fn run_client(ns: &str, script: &std::path::Path) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "20", "python3"])
        .arg(script)
        .status()
        .unwrap();
    assert!(st.success());
}

/// The first keep-alive race among a capture's JSON Lines (panics, with
/// the output, when there is none).
pub(crate) fn race_line(out: &str, err: &str) -> Value {
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "finding" && l["verdict"] == "keepalive_race")
        .unwrap_or_else(|| panic!("no race in {out}\n{err}"))
}

/// A pod: its namespace joined to the node's by a veth, addresses
/// 10.81.N.1 (node side) and 10.81.N.2 (pod side).
pub(crate) fn add_pod(node: &str, pod: &str, veth: &str, n: u8) {
    sh(&format!(
        "ip netns add {pod} && ip -n {pod} link set lo up && \
         ip -n {node} link add {veth} type veth peer name eth0 netns {pod} && \
         ip -n {node} addr add 10.81.{n}.1/24 dev {veth} && ip -n {pod} addr add 10.81.{n}.2/24 dev eth0 && \
         ip -n {node} link set {veth} up && ip -n {pod} link set eth0 up"
    ));
}

/// Reuses the keep-alive connection after the server's FIN (a stale race).
const CLIENT: &str = r#"
import socket, time
s = socket.create_connection(('10.79.0.2', 3000), timeout=5)
s.sendall(b'GET /first HTTP/1.1\r\nHost: backend\r\n\r\n')
s.recv(4096)
time.sleep(2.5)
try:
    s.sendall(b'GET /second HTTP/1.1\r\nHost: backend\r\n\r\n')
    time.sleep(0.3)
    s.recv(4096)
except OSError:
    pass
"#;

#[test]
fn test_live_capture_reports_race_on_veth() {
    if !is_root() {
        eprintln!("skipped: live capture test needs root (network namespaces, libpcap)");
        return;
    }
    for tool in ["ip", "node", "python3"] {
        if !have(tool) {
            eprintln!("skipped: {tool} is not installed");
            return;
        }
    }
    let id = std::process::id() % 100_000;
    let (sns, cns) = (format!("rcl-s{id}"), format!("rcl-c{id}"));
    let (sv, cv) = (format!("rcs{id}"), format!("rcc{id}"));
    let mut lab = Lab {
        ns: vec![sns.clone(), cns.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!(
        "ip netns add {sns} && ip netns add {cns} && \
         ip link add {sv} type veth peer name {cv} && \
         ip link set {sv} netns {sns} && ip link set {cv} netns {cns} && \
         ip -n {sns} addr add 10.79.0.2/24 dev {sv} && ip -n {cns} addr add 10.79.0.1/24 dev {cv} && \
         ip -n {sns} link set {sv} up && ip -n {cns} link set {cv} up && \
         ip -n {sns} link set lo up && ip -n {cns} link set lo up"
    ));
    let dir = std::env::temp_dir().join(format!("racecap-live-{id}"));
    fs::create_dir_all(&dir).unwrap();
    let (server_js, client_py) = (dir.join("server.js"), dir.join("client.py"));
    fs::write(&server_js, SERVER).unwrap();
    fs::write(&client_py, CLIENT).unwrap();
    let written = dir.join("live.pcap");

    let capture = Command::new("ip")
        .args(["netns", "exec", &sns])
        .arg(cargo_bin!("racecap"))
        .args([
            "capture",
            "-i",
            &sv,
            "--duration",
            "7s",
            "--format",
            "jsonl",
            "-w",
        ])
        .arg(&written)
        .args(["tcp", "port", "3000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lab.children.push(capture);
    let mut server = Command::new("ip")
        .args(["netns", "exec", &sns, "node"])
        .arg(&server_js)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the server to listen (bounded).
    let mut buf = [0u8; 9];
    server.stdout.take().unwrap().read_exact(&mut buf).unwrap();
    lab.children.push(server);
    std::thread::sleep(Duration::from_millis(300));
    let st = Command::new("ip")
        .args(["netns", "exec", &cns, "timeout", "20", "python3"])
        .arg(&client_py)
        .status()
        .unwrap();
    assert!(st.success());

    // racecap ends on its own after --duration.
    lab.capture = Some(lab.children.remove(0));
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");

    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{out}\n{err}");
    // Live: a finding line before the final report line.
    let live = &lines[0];
    assert_eq!(live["type"], "finding", "{out}");
    assert_eq!(live["verdict"], "keepalive_race", "{out}");
    assert_eq!(live["race"]["kind"], "stale");
    assert_eq!(live["race"]["request"]["path"], "/second");
    let report = lines.last().unwrap();
    // Issue 25: the report is typed, and it is the only such line.
    assert_eq!(report["type"], "report");
    assert_eq!(lines.iter().filter(|l| l["type"] == "report").count(), 1);
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l["type"] == "finding")
    );
    assert_eq!(report["schema_version"], racecap::report::SCHEMA_VERSION);
    assert_eq!(report["verdict_counts"]["keepalive_race"], 1);
    assert_eq!(report["capture"]["dropped"], 0);
    let measured = report["servers"][0]["idle_timeout"]["median_ms"]
        .as_f64()
        .unwrap();
    assert!(
        (1000.0..2000.0).contains(&measured),
        "Node closes ~1.3 s: {measured}"
    );

    // The file written with -w gives the same findings.
    let again = Command::new(cargo_bin!("racecap"))
        .arg("analyze")
        .arg(&written)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let from_file: Value = serde_json::from_slice(&again.stdout).unwrap();
    let key = |f: &Value| {
        (
            f["verdict"].clone(),
            f["client"].clone(),
            f["server"].clone(),
            f["race"]["kind"].clone(),
        )
    };
    let a: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let b: Vec<_> = from_file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert_eq!(a, b);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn test_capture_errors_are_one_line() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let out = Command::new(cargo_bin!("racecap"))
        .args(["capture", "-i", "no-such-if0", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-if0"), "{err}");
    let out = Command::new(cargo_bin!("racecap"))
        .args([
            "capture",
            "-i",
            "lo",
            "--duration",
            "1s",
            "tcp",
            "port",
            "nonsense",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad filter expression"), "{err}");
}

/// Issue 23: `-w` onto a full disk exited 2 with "No space left on device",
/// without the file's name, and the report was lost. The capture goes on,
/// the report comes, and the exit is 2 with one line naming the file.
#[test]
fn test_23_full_disk_keeps_the_report_and_names_the_file() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let capture = Command::new(cargo_bin!("racecap"))
        .args(["capture", "-i", "lo", "--duration", "4s", "-w", "/dev/full"])
        .args(["tcp", "port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped on drop if the test fails.
    let mut lab = Lab {
        ns: Vec::new(),
        children: Vec::new(),
        capture: Some(capture),
    };
    // Traffic on the port once the capture has started (bounded: 20
    // connections over about 2 s).
    std::thread::sleep(Duration::from_millis(800));
    let server = std::thread::spawn(move || {
        for s in listener.incoming().take(20) {
            let mut s = s.unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    for _ in 0..20 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 64];
        let _ = c.read(&mut buf);
        std::thread::sleep(Duration::from_millis(50));
    }
    server.join().unwrap();
    let (status, out, err) = finish(&mut lab);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("writing /dev/full:"), "{err}");
    assert!(err.to_lowercase().contains("no space left"), "{err}");
    // The report came all the same.
    assert!(out.contains("packets"), "{out}");
}

/// Issue 23: `capture -i 'veth*'` without CAP_NET_RAW exited 0 with "No
/// request failed": every interface the pattern matched failed to open, and
/// the capture watched nothing. It exits 2 with one line naming the cause.
#[test]
fn test_23_pattern_that_opens_nothing_fails() {
    if !is_root() || !have("setpriv") {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"])
        .arg(cargo_bin!("racecap"))
        .args([
            "capture",
            "-i",
            "lo*",
            "--duration",
            "2s",
            "--fail-on",
            "race",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert!(out.stdout.is_empty());
}
