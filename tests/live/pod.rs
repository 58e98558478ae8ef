//! `racecap capture --pod UID`, what the kubectl plugin's pod runs
//! (issue 25): racecap finds a process of the pod through the cgroup that
//! names the pod's UID, follows its eth0 to the node-side veth, and
//! captures there. The "pod" is a network namespace of the test's whose
//! server process is put in a cgroup laid out as the kubelet's
//! (`…/pod<UID>/<container id>`, in the cgroup v1 `pids` hierarchy).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin;

use super::{
    Lab, add_pod, can_run, client_py, finish, race_line, run_client, server_js, sh, start_server,
};

/// A cgroup made for the test; its process goes back to the root cgroup
/// and the folders are removed on drop.
struct Cgroup {
    top: PathBuf,
    leaf: PathBuf,
    pid: u32,
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.top.join("../cgroup.procs"), self.pid.to_string());
        let mut dir = self.leaf.clone();
        while dir.starts_with(&self.top) {
            let _ = fs::remove_dir(&dir);
            if !dir.pop() {
                break;
            }
        }
    }
}

#[test]
fn test_25_capture_finds_the_pod_by_uid() {
    if !can_run() {
        return;
    }
    let pids = Path::new("/sys/fs/cgroup/pids");
    if !pids.join("cgroup.procs").exists() {
        eprintln!("skipped: no cgroup v1 pids hierarchy to put a process in a pod's cgroup");
        return;
    }
    let id = std::process::id() % 100_000;
    let uid = format!("{id:08x}-2525-4525-8525-{id:012x}");
    let (node, pod, veth) = (
        format!("r25-pn{id}"),
        format!("r25-pp{id}"),
        format!("r25p-{id}"),
    );
    let mut lab = Lab {
        ns: vec![node.clone(), pod.clone()],
        children: Vec::new(),
        capture: None,
    };
    sh(&format!(
        "ip netns add {node} && ip -n {node} link set lo up"
    ));
    add_pod(&node, &pod, &veth, 3);
    let dir = std::env::temp_dir().join(format!("racecap-r25-pod-{id}"));
    fs::create_dir_all(&dir).unwrap();
    let (server, client) = (dir.join("server.js"), dir.join("client.py"));
    fs::write(&server, server_js("10.81.3.2")).unwrap();
    fs::write(&client, client_py("10.81.3.2")).unwrap();
    start_server(&mut lab, &pod, &server);

    // The server is the pod's app: into a cgroup named as the kubelet's
    // cgroupfs driver names them.
    let top = pids.join(format!("r25-kubepods-{id}"));
    let leaf = top
        .join("besteffort")
        .join(format!("pod{uid}"))
        .join("4e1b".repeat(16));
    fs::create_dir_all(&leaf).unwrap();
    let app = lab.children[0].id();
    let _cgroup = Cgroup {
        top,
        leaf: leaf.clone(),
        pid: app,
    };
    fs::write(leaf.join("cgroup.procs"), app.to_string()).unwrap();

    // racecap on the "node", given the UID only.
    lab.capture = Some(
        Command::new("ip")
            .args(["netns", "exec", &node])
            .arg(cargo_bin!("racecap"))
            .args(["capture", "--pod", &uid, "--duration", "6s"])
            .args(["--format", "jsonl", "tcp", "port", "3000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    run_client(&node, &client);
    let (status, out, err) = finish(&mut lab);
    assert!(status.success(), "{err}");
    // It captured on the pod's node-side veth, found from the UID.
    assert!(err.contains(&format!("capturing on {veth} ")), "{err}");
    let race = race_line(&out, &err);
    assert_eq!(race["server"], "10.81.3.2:3000");
    assert_eq!(race["interface"], veth.as_str());

    // A UID no process has: one line, exit 2.
    let out = Command::new(cargo_bin!("racecap"))
        .args(["capture", "--pod", "ffffffff-2525-4525-8525-ffffffffffff"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no process of that pod"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}
