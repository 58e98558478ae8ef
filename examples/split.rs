//! A simulation of the analysis split across threads by flow hash (issue
//! 22), to measure how evenly real traffic divides before building the
//! split: reads a capture, routes each frame to one of `--workers K` parts
//! by the hash of its connection (`--key flow`: the 4-tuple, as Suricata's
//! workers do) or of its two addresses (`--key pair`: a client's retries to
//! a server stay in one part), and feeds the frames of part `--only I` to
//! an analysis of its own.
//!
//! ```text
//! cargo run --release --example split -- --workers 4 --only 0 --key flow FILE
//! ```
//!
//! Under callgrind with `--toggle-collect='racecap::analyzer::Analyzer::frame'`
//! the count is that part's analysis per packet (decoding included, as each
//! worker of a split decodes its own frames); `scripts/split-sim.sh` runs
//! every part of each K and prints the parts' counts. Nothing is merged:
//! the parts' reports are not the report (the state across connections is
//! why the split is not built; docs/performance.md).

use std::fs::File;
use std::hash::BuildHasher;
use std::io::BufReader;

use racecap::analyzer::{Analyzer, Config};
use racecap::decode;
use racecap::flow::FlowKey;
use racecap::source::CaptureReader;

const USAGE: &str = "usage: split --workers K --only I [--key flow|pair] FILE";

fn main() {
    let mut workers = 0u64;
    let mut only = u64::MAX;
    let mut pair = false;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| fail(USAGE));
        match a.as_str() {
            "--workers" => workers = value().parse().unwrap_or_else(|_| fail(USAGE)),
            "--only" => only = value().parse().unwrap_or_else(|_| fail(USAGE)),
            "--key" => {
                pair = match value().as_str() {
                    "flow" => false,
                    "pair" => true,
                    _ => fail(USAGE),
                }
            }
            _ if file.is_none() && !a.starts_with("--") => file = Some(a),
            _ => fail(USAGE),
        }
    }
    let Some(file) = file else { fail(USAGE) };
    if workers == 0 || only >= workers {
        fail(USAGE);
    }
    let input = File::open(&file).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
    let mut reader = CaptureReader::new(BufReader::with_capacity(1 << 20, input))
        .unwrap_or_else(|e| fail(&format!("{file}: {e}")));
    // A fixed seed: the same parts on every run, so that each part's run
    // under callgrind sees the frames the others did not.
    let hasher = foldhash::fast::FixedState::with_seed(22);
    let mut analyzer = Analyzer::new(Config::default());
    let (mut frames, mut mine) = (0u64, 0u64);
    loop {
        let frame = match reader.read_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                // A cut file: the frames before the cut are the capture.
                eprintln!("split: {file}: {e}");
                break;
            }
        };
        frames += 1;
        // Frames without a TCP segment go to part 0.
        let part = decode::decode(&frame).map_or(0, |seg| {
            let h = if pair {
                let (a, b) = (seg.src.min(seg.dst), seg.src.max(seg.dst));
                hasher.hash_one((seg.vlan, a, b))
            } else {
                let (key, _) = FlowKey::new(seg.vlan, seg.src_endpoint(), seg.dst_endpoint());
                hasher.hash_one(key)
            };
            h % workers
        });
        if part == only {
            mine += 1;
            analyzer.frame(&frame);
        }
    }
    let open = analyzer.open_connections();
    let report = analyzer.finish(&[]);
    eprintln!(
        "part {only} of {workers} ({}): {mine} of {frames} frames, {} connections, {open} open at the end",
        if pair { "pair" } else { "flow" },
        report.capture.connections
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("split: {msg}");
    std::process::exit(2)
}
