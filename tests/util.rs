//! Helpers shared by the integration tests.

use std::net::IpAddr;

use racecap::analyzer::{Analyzer, Config};
use racecap::pipeline;
use racecap::report::{Finding, Report, Verdict, Warning};
use racecap::source::{CaptureReader, Frame};
use racecap::synth::{Link, Packet, pcap};

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

/// The corpus folder, from RACECAP_CORPUS (set by .ci/run).
pub fn corpus() -> Option<std::path::PathBuf> {
    std::env::var_os("RACECAP_CORPUS").map(Into::into)
}

/// The warnings as the report words them.
pub fn texts(warnings: &[Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}
