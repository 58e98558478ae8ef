//! Flow stage: segments of many interleaved connections → flow table,
//! per-connection state machines, verdicts → report.
//!
//! A synthetic capture of a few thousand overlapping HTTP keep-alive
//! connections (about 200 open at once, one in 20 ending in a keep-alive
//! race) is built once with `tests/support/synth.rs`. `segments` feeds
//! pre-decoded segments to `Analyzer::segment` (flow tracking and analysis
//! alone); `frames` feeds the frames to `Analyzer::frame` (decode included).
//! Both end with `Analyzer::finish` and assert the number of races and
//! segments, so an analyzer that loses connections fails instead of looking
//! fast.
//!
//! Throughput: bytes are captured frame bytes, items are packets.

use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use racecap::analyzer::{Analyzer, Config};
use racecap::decode::{Segment, decode};
use racecap::source::Frame;

// The packet generator, shared with the tests.
#[path = "../tests/support/synth.rs"]
mod synth;

use synth::{Link, Workload};

fn main() {
    divan::main();
}

const CONNECTIONS: u64 = 2_000;
const REQUESTS: u32 = 10;

struct Input {
    /// (timestamp, Ethernet frame)
    frames: Vec<(i64, Vec<u8>)>,
    bytes: u64,
    races: u64,
}

fn input() -> &'static Input {
    static INPUT: OnceLock<Input> = OnceLock::new();
    INPUT.get_or_init(|| {
        let (packets, races) = Workload::bench(CONNECTIONS, REQUESTS, false).packets();
        let link = Link::Ethernet(vec![]);
        let frames: Vec<(i64, Vec<u8>)> = packets
            .iter()
            .map(|p| (p.ts_ns, link.wrap(&p.ip, p.v6)))
            .collect();
        let bytes = frames.iter().map(|(_, d)| d.len() as u64).sum();
        Input {
            frames,
            bytes,
            races,
        }
    })
}

fn frame(f: &(i64, Vec<u8>)) -> Frame<'_> {
    Frame {
        ts_ns: f.0,
        linktype: 1,
        origlen: f.1.len() as u32,
        data: &f.1,
    }
}

fn segments() -> &'static [Segment<'static>] {
    static SEGMENTS: OnceLock<Vec<Segment<'static>>> = OnceLock::new();
    SEGMENTS.get_or_init(|| {
        let segs: Vec<Segment<'static>> = input()
            .frames
            .iter()
            .map(|f| decode(&frame(f)).expect("a TCP segment"))
            .collect();
        assert_eq!(segs.len(), input().frames.len());
        segs
    })
}

#[divan::bench(sample_count = 30)]
fn segments_to_report(bencher: Bencher) {
    let inp = input();
    let segs = segments();
    bencher
        .counter(BytesCount::new(inp.bytes))
        .counter(ItemsCount::new(segs.len()))
        .bench(|| {
            let mut a = Analyzer::new(Config::default());
            for s in divan::black_box(segs) {
                a.segment(s);
            }
            let report = a.finish(&[]);
            assert_eq!(report.capture.tcp_segments, segs.len() as u64);
            assert_eq!(report.races(), inp.races, "races found");
            report
        });
}

#[divan::bench(sample_count = 30)]
fn frames_to_report(bencher: Bencher) {
    let inp = input();
    bencher
        .counter(BytesCount::new(inp.bytes))
        .counter(ItemsCount::new(inp.frames.len()))
        .bench(|| {
            let mut a = Analyzer::new(Config::default());
            for f in divan::black_box(&inp.frames) {
                a.frame(&frame(f));
            }
            let report = a.finish(&[]);
            assert_eq!(report.capture.packets, inp.frames.len() as u64);
            assert_eq!(report.capture.tcp_segments, inp.frames.len() as u64);
            assert_eq!(report.races(), inp.races, "races found");
            report
        });
}
