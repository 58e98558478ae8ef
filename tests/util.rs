//! Helpers shared by the integration tests.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::synth::{Link, Packet, pcap};
use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

use racecap::analyzer::{Analyzer, Config};
use racecap::pipeline;
use racecap::report::{Finding, Report, Verdict, Warning};
use racecap::source::{CaptureReader, Frame};

/// Analyses capture bytes.
pub fn analyze_bytes(bytes: Vec<u8>, cfg: Config) -> Report {
    let reader = CaptureReader::new(std::io::Cursor::new(bytes)).expect("a capture");
    pipeline::run(vec![("test".into(), reader)], cfg)
        .expect("readable")
        .0
}

/// Writes packets as an Ethernet pcap and analyses them, keeping connections.
pub fn analyze(packets: &[Packet]) -> Report {
    analyze_link(packets, &Link::Ethernet(vec![]))
}

/// Same, on another link layer.
pub fn analyze_link(packets: &[Packet], link: &Link) -> Report {
    analyze_bytes(
        pcap(packets, link),
        Config {
            keep_connections: true,
            ..Config::default()
        },
    )
}

/// Feeds one generated packet to an analyzer as a raw-IP frame (link type
/// 101), for tests that watch the analyzer between packets.
pub fn feed(a: &mut Analyzer, p: &Packet) {
    a.frame(&Frame {
        ts_ns: p.ts_ns,
        linktype: 101,
        origlen: p.ip.len() as u32,
        data: &p.ip,
    });
}

/// Findings with this verdict.
pub fn findings(r: &Report, verdict: Verdict) -> Vec<&Finding> {
    r.findings.iter().filter(|f| f.verdict == verdict).collect()
}

/// Verdict of the only connection.
pub fn only_verdict(r: &Report) -> Verdict {
    let conns = r.connections.as_ref().expect("connections kept");
    assert_eq!(conns.len(), 1, "{conns:#?}");
    conns[0].verdict
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A capture file, by its name: `.pcap` or `.pcapng`.
pub fn is_capture(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
}

/// The corpus folder, from RACECAP_CORPUS (.ci/run sets it to
/// ../shared/corpus). The corpus tests that call this are ignored unless the
/// variable was set for the build (build.rs), so here it is meant to name the
/// corpus: unset, or naming a folder that is missing, has no README.md index
/// or no capture, is a configuration error, and every corpus test fails with
/// this one message instead of its own panic or a vacuous pass.
pub fn corpus() -> PathBuf {
    let dir = PathBuf::from(std::env::var_os("RACECAP_CORPUS").unwrap_or_default());
    let problem = if dir.as_os_str().is_empty() {
        Some("not set, but this test binary was built with it (cargo test rebuilds it)")
    } else if !dir.is_dir() {
        Some("no such folder")
    } else if !dir.join("README.md").is_file() {
        Some("no README.md (the corpus index) in that folder")
    } else if !std::fs::read_dir(&dir)
        .map(|d| d.flatten().any(|e| is_capture(&e.path())))
        .unwrap_or(false)
    {
        Some("no .pcap or .pcapng file in that folder")
    } else {
        None
    };
    if let Some(problem) = problem {
        let relative = if dir.is_relative() && !dir.as_os_str().is_empty() {
            " (a relative path is taken from the package root)"
        } else {
            ""
        };
        panic!(
            "RACECAP_CORPUS={}{relative}: {problem}. Point it at the public capture \
             corpus (.ci/run uses ../shared/corpus), or unset it to skip the corpus tests.",
            dir.display()
        );
    }
    dir
}

/// The warnings as the report words them.
pub fn texts(warnings: &[Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}

/// Runs the racecap binary: its exit code, standard output and standard
/// error.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("racecap").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The JSON report of `racecap ARGS --format json`, which must exit 0 or 1
/// (a `--fail-on` check tripped).
pub fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (code, out, err) = run(&a);
    assert!(code == 0 || code == 1, "{code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"))
}

/// The standard output of `racecap ARGS`, which must exit 0 or 1.
pub fn stdout(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert!(code == 0 || code == 1, "{code}: {err}");
    out
}

/// A path in this test run's scratch folder, shared by every test: each
/// test picks names of its own.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("racecap-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
