//! Every capture of the public corpus (`RACECAP_CORPUS`, set by .ci/run):
//! read without a panic, packet counts equal to what other tools report, the
//! damaged and cut-short files handled as documented, and connection counts
//! compared with tshark's streams.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use racecap::analyzer::{self, Config};
use racecap::report::Report;
use racecap::source::{CaptureReader, InputStats};

use crate::util::corpus;

/// Expected packet counts from the corpus README's index ("pkts / streams").
fn expected_packets(dir: &Path) -> BTreeMap<String, u64> {
    let readme = fs::read_to_string(dir.join("README.md")).expect("corpus README.md");
    let mut out = BTreeMap::new();
    for line in readme.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | `file` | source | licence | format | pkts / streams | …
        if cols.len() < 8 || !cols[1].chars().all(|c| c.is_ascii_digit()) || cols[1].is_empty() {
            continue;
        }
        let file = cols[2].trim_matches('`').to_string();
        let pkts: u64 = cols[6]
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
            .expect("a packet count");
        out.insert(file, pkts);
    }
    out
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    files
}

fn analyze_file(path: &Path, cfg: Config) -> (Report, Vec<InputStats>) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let reader =
        CaptureReader::new(fs::File::open(path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
    analyzer::run(vec![(name.clone(), reader)], cfg).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dir() -> PathBuf {
    corpus().expect(
        "RACECAP_CORPUS is not set: point it at the capture corpus (.ci/run sets ../shared/corpus)",
    )
}

#[test]
fn test_corpus_every_file_reads_with_expected_packet_count() {
    let Some(_) = corpus() else {
        eprintln!("skipped: RACECAP_CORPUS is not set (.ci/run sets it)");
        return;
    };
    let dir = dir();
    let expected = expected_packets(&dir);
    let files = captures(&dir);
    assert!(files.len() >= 60, "corpus has {} captures", files.len());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (report, stats) = analyze_file(path, Config::default());
        let want = expected
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not in the corpus README"));
        assert_eq!(report.capture.packets, *want, "{name}: packet count");
        let stopped = stats[0].stopped.as_deref();
        match name.as_str() {
            "derived-zeek-http-get-cut-short.pcap" => {
                assert!(
                    stopped.is_some_and(|s| s.contains("cut off")),
                    "{name}: {stopped:?}"
                );
            }
            "suricata-tls-der-incomplete-header.pcap" => {
                assert!(
                    stopped.is_some_and(|s| s.contains("damaged")),
                    "{name}: {stopped:?}"
                );
            }
            _ => assert_eq!(stopped, None, "{name}"),
        }
    }
}

/// tshark's per-stream CSV: one row per `tcp.stream`.
fn tshark_streams(path: &Path) -> Option<Vec<BTreeMap<String, String>>> {
    let csv = path.with_extension("tshark-streams.csv");
    let text = fs::read_to_string(csv).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    Some(
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                header
                    .iter()
                    .zip(l.split(','))
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect(),
    )
}

/// Where racecap's connection count differs from tshark's streams, and why.
/// Each entry was checked by reading the capture.
const COUNT_DIFFERENCES: &[(&str, u64, &str)] = &[
    // VLAN ids are part of our key; tshark 4.0 ignores them.
    (
        "zeek-vlan-collisions.pcap",
        3,
        "same 4-tuple untagged, one tag, two tags",
    ),
    // Captured on a trunk where a router forwards between VLANs: the client's
    // packets carry VLAN 81, the server's VLAN 80. With VLAN ids in the key,
    // each direction is its own (one-sided) connection.
    (
        "zeek-ldap-gap-data-missing.pcapng",
        2,
        "directions on different VLANs",
    ),
];

#[test]
fn test_corpus_connections_agree_with_tshark() {
    let Some(_) = corpus() else {
        eprintln!("skipped: RACECAP_CORPUS is not set (.ci/run sets it)");
        return;
    };
    let dir = dir();
    let mut differences = Vec::new();
    for path in captures(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(streams) = tshark_streams(&path) else {
            continue;
        };
        let (report, _) = analyze_file(&path, Config::default());
        let ours = report.capture.connections;
        let theirs = streams.len() as u64;
        let documented = COUNT_DIFFERENCES.iter().find(|(n, _, _)| *n == name);
        match documented {
            Some((_, want, _)) => assert_eq!(ours, *want, "{name}: documented count"),
            None if ours != theirs => {
                differences.push(format!("{name}: racecap {ours}, tshark {theirs}"))
            }
            None => {}
        }
    }
    assert!(
        differences.is_empty(),
        "undocumented differences:\n{}",
        differences.join("\n")
    );
}
