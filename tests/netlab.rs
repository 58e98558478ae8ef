//! What the tests that need root share (features `live` and `ebpf`):
//! network namespaces, veths and processes set up for one test and torn
//! down when it ends, pass or fail, and a racecap that ends on its own.

use std::io::Read;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub(crate) fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub(crate) fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(st.success(), "{cmd}");
}

/// Namespaces, veth and processes of one test, removed on drop (also when
/// the test fails): processes by their own handle, namespaces by name
/// (deleting a namespace deletes the veths in it).
pub(crate) struct Lab {
    pub ns: Vec<String>,
    pub children: Vec<Child>,
    /// The racecap under test, until [`finish`] takes it.
    pub capture: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in self.capture.iter_mut().chain(&mut self.children) {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Waits (at most 30 s) for a capture that ends on its own `--duration`
/// and returns its status, stdout and stderr.
pub(crate) fn finish(lab: &mut Lab) -> (std::process::ExitStatus, String, String) {
    let mut capture = lab.capture.take().expect("a capture is running");
    let started = Instant::now();
    while capture.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = capture.kill();
            panic!("capture did not stop");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = String::new();
    capture
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    // Empty when the test sent it to a file of its own.
    let mut err = String::new();
    if let Some(mut e) = capture.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    (capture.wait().unwrap(), out, err)
}

/// Whether the live and watch tests can run here (root, and the tools they drive).
pub(crate) fn can_run() -> bool {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces, libpcap or eBPF)");
        return false;
    }
    for tool in ["ip", "node", "python3"] {
        if !have(tool) {
            eprintln!("skipped: {tool} is not installed");
            return false;
        }
    }
    true
}
