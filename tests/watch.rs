//! `racecap watch` end to end (feature `ebpf`, as root): real keep-alive
//! races between a Node.js server that closes idle connections and a
//! client that reuses its connection after the close, in network
//! namespaces this test creates: over a veth pair, and inside one
//! namespace over its loopback. The races watch reports must be exactly
//! the failed reuses the client logs, each named with the server's
//! namespace and the process that closed the socket, and the idle close
//! the kernel measured must be within 20 ms of the server's own log.
//! Without the capabilities for BPF, watch exits 2 with one line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

use crate::netlab::{Lab, can_run, finish, have, sh};

/// Logs each response's write and each idle close (`timeout`: the
/// server's own handler has closed the socket by then), in ms since the
/// epoch, with the client's port.
const SERVER: &str = r#"
const http = require('http');
const s = http.createServer((req, res) => {
  // Taken just before the write (res.end writes at once), not at the
  // 'finish' event, which a busy machine delays by tens of ms.
  const at = Date.now();
  res.end('ok');
  console.log(`response ${at} ${req.socket.remotePort}`);
});
s.keepAliveTimeout = 300; // Node 20 closes about 1.3 s after the response
s.on('connection', (sock) => {
  const port = sock.remotePort;
  sock.on('timeout', () => console.log(`idle-close ${Date.now()} ${port}`));
});
s.listen(PORT, 'ADDR', () => console.log('listening'));
"#;

/// Connections that reuse after the idle close (lost) and one that reuses
/// in time (answered); logs each reuse with its local port.
const CLIENT: &str = r#"
import socket, time
req = b'GET / HTTP/1.1\r\nHost: backend\r\n\r\n'
for wait in (2.0, 0.2, 2.0):
    s = socket.create_connection(('ADDR', PORT), timeout=5)
    s.sendall(req)
    s.recv(4096)
    time.sleep(wait)
    port = s.getsockname()[1]
    try:
        s.sendall(req)
        got = s.recv(4096)
        print('reuse', port, 'ok' if got else 'failed', flush=True)
    except OSError as e:
        print('reuse', port, 'failed', flush=True)
    s.close()
"#;

/// A port of this test run's own, so that other tests on the machine
/// (watch sees every namespace) do not mix in.
fn port() -> u16 {
    20_000 + (std::process::id() % 20_000) as u16
}

/// Starts the server in `ns`; its log lines come through the channel.
fn start_server(lab: &mut Lab, ns: &str, script: &std::path::Path) -> mpsc::Receiver<String> {
    let mut server: Child = Command::new("ip")
        .args(["netns", "exec", ns, "node"])
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = server.stdout.take().unwrap();
    lab.children.push(server);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "listening");
    rx
}

/// Starts `racecap watch` for `secs`, focused on `server`, and waits
/// (at most 20 s) until its programs are attached: it says "watching" on
/// stderr (a file here, read by the test at the end).
fn start_watch(
    lab: &mut Lab,
    dir: &std::path::Path,
    server: &str,
    secs: u32,
) -> std::path::PathBuf {
    let err = dir.join("watch.err");
    let watch = Command::new(cargo_bin!("racecap"))
        .args([
            "watch",
            "--duration",
            &format!("{secs}s"),
            "--format",
            "json",
        ])
        .args(["--server", server])
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    lab.capture = Some(watch);
    let started = std::time::Instant::now();
    while !fs::read_to_string(&err).unwrap().contains("watching") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "watch did not start: {}",
            fs::read_to_string(&err).unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    err
}

/// Runs the client in `ns` (at most 30 s); the ports whose reuse failed
/// and those whose reuse was answered.
fn run_client(ns: &str, script: &std::path::Path) -> (BTreeSet<u16>, BTreeSet<u16>) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "30", "python3"])
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (mut failed, mut ok) = (BTreeSet::new(), BTreeSet::new());
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let port: u16 = w[1].parse().unwrap();
        match w[2] {
            "failed" => failed.insert(port),
            _ => ok.insert(port),
        };
    }
    (failed, ok)
}

/// The server's idle time before each close, by client port, from its log.
fn server_idle(log: &mpsc::Receiver<String>) -> BTreeMap<u16, f64> {
    let (mut last, mut idle) = (BTreeMap::new(), BTreeMap::new());
    while let Ok(l) = log.try_recv() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let (ms, port): (f64, u16) = (w[1].parse().unwrap(), w[2].parse().unwrap());
        match w[0] {
            "response" => {
                last.insert(port, ms);
            }
            "idle-close" => {
                idle.insert(port, ms - last[&port]);
            }
            other => panic!("unexpected server line {other}"),
        }
    }
    idle
}

/// Checks watch's report against the client's and the server's logs.
fn check(report: &Value, server_ns: &str, failed: &BTreeSet<u16>, idle: &BTreeMap<u16, f64>) {
    let races: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "keepalive_race")
        .collect();
    let raced: BTreeSet<u16> = races
        .iter()
        .map(|f| {
            let client = f["client"].as_str().unwrap();
            client.rsplit_once(':').unwrap().1.parse().unwrap()
        })
        .collect();
    assert_eq!(&raced, failed, "{report:#}");
    for f in &races {
        let port: u16 = f["client"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .1
            .parse()
            .unwrap();
        // The client wrote 0.7 s after the server's FIN reached it: stale.
        assert_eq!(f["race"]["kind"], "stale", "{f:#}");
        // The kernel gives no request line: none is invented.
        assert!(f["race"]["request"].is_null(), "{f:#}");
        let measured = f["race"]["idle_before_fin_ms"].as_f64().unwrap();
        let logged = idle[&port];
        assert!(
            (measured - logged).abs() <= 20.0,
            "idle close {measured} ms, the server logged {logged} ms"
        );
        assert_eq!(f["socket_netns"]["name"], server_ns, "{f:#}");
        assert!(f["socket_netns"]["inode"].as_u64().unwrap() > 0);
        assert_eq!(f["closed_by"]["command"], "node", "{f:#}");
        assert!(f["closed_by"]["pid"].as_u64().unwrap() > 0);
    }
    // The server's idle timeout, from the same samples.
    let timeout = report["servers"][0]["idle_timeout"]["median_ms"]
        .as_f64()
        .unwrap();
    let logged: Vec<f64> = failed.iter().map(|p| idle[p]).collect();
    assert!(
        logged.iter().any(|l| (timeout - l).abs() <= 20.0),
        "server idle timeout {timeout} ms, logged {logged:?}"
    );
}

fn scripts(dir: &std::path::Path, addr: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    fs::create_dir_all(dir).unwrap();
    let (server_js, client_py) = (dir.join("server.js"), dir.join("client.py"));
    let fill = |s: &str| s.replace("ADDR", addr).replace("PORT", &port().to_string());
    fs::write(&server_js, fill(SERVER)).unwrap();
    fs::write(&client_py, fill(CLIENT)).unwrap();
    (server_js, client_py)
}

/// Server and client in two namespaces joined by a veth pair.
#[test]
fn test_watch_races_on_a_veth() {
    if !can_run() {
        return;
    }
    let id = std::process::id() % 100_000;
    let (sns, cns) = (format!("rcw-s{id}"), format!("rcw-c{id}"));
    let (sv, cv) = (format!("rws{id}"), format!("rwc{id}"));
    let mut lab = Lab {
        ns: vec![sns.clone(), cns.clone()],
        children: Vec::new(),
        capture: None,
    };
    let net = format!("10.{}.{}", 124 + id % 100 / 50, id % 250);
    sh(&format!(
        "ip netns add {sns} && ip netns add {cns} && \
         ip link add {sv} type veth peer name {cv} && \
         ip link set {sv} netns {sns} && ip link set {cv} netns {cns} && \
         ip -n {sns} addr add {net}.2/24 dev {sv} && ip -n {cns} addr add {net}.1/24 dev {cv} && \
         ip -n {sns} link set {sv} up && ip -n {cns} link set {cv} up && \
         ip -n {sns} link set lo up && ip -n {cns} link set lo up"
    ));
    let dir = std::env::temp_dir().join(format!("racecap-watch-veth-{id}"));
    let (server_js, client_py) = scripts(&dir, &format!("{net}.2"));
    let log = start_server(&mut lab, &sns, &server_js);
    let err = start_watch(&mut lab, &dir, &format!("{net}.2:{}", port()), 9);
    let (failed, ok) = run_client(&cns, &client_py);
    assert_eq!((failed.len(), ok.len()), (2, 1), "{failed:?} {ok:?}");
    let (status, out, _) = finish(&mut lab);
    assert!(status.success(), "{}", fs::read_to_string(&err).unwrap());
    let report: Value = serde_json::from_str(&out).unwrap();
    check(&report, &sns, &failed, &server_idle(&log));
    let _ = fs::remove_dir_all(&dir);
}

/// Server and client in one namespace, over its loopback (the sidecar →
/// app hop of a pod): both sockets are seen, each race is named once.
#[test]
fn test_watch_races_over_loopback() {
    if !can_run() {
        return;
    }
    let id = std::process::id() % 100_000;
    let ns = format!("rcw-l{id}");
    let mut lab = Lab {
        ns: vec![ns.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
    let dir = std::env::temp_dir().join(format!("racecap-watch-lo-{id}"));
    let (server_js, client_py) = scripts(&dir, "127.0.0.1");
    let log = start_server(&mut lab, &ns, &server_js);
    let err = start_watch(&mut lab, &dir, &format!("127.0.0.1:{}", port()), 9);
    let (failed, ok) = run_client(&ns, &client_py);
    assert_eq!((failed.len(), ok.len()), (2, 1), "{failed:?} {ok:?}");
    let (status, out, _) = finish(&mut lab);
    assert!(status.success(), "{}", fs::read_to_string(&err).unwrap());
    let report: Value = serde_json::from_str(&out).unwrap();
    check(&report, &ns, &failed, &server_idle(&log));
    let _ = fs::remove_dir_all(&dir);
}

/// Without CAP_BPF and CAP_PERFMON (here: as nobody), watch says what it
/// needs in one line and exits 2.
#[test]
fn test_watch_without_privilege() {
    if !have("setpriv") {
        eprintln!("skipped: setpriv is not installed");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(cargo_bin!("racecap"))
        .args(["watch", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "racecap: watch needs CAP_BPF and CAP_PERFMON (or root) to load its eBPF programs"
    );
}
