//! The whole pipeline: capture bytes in memory → `pipeline::run` (reader,
//! merge, decode, flow table, analysis) → report, as `racecap analyze` does
//! minus rendering.
//!
//! A synthetic capture of a few thousand overlapping HTTP keep-alive
//! connections (one in 20 ending in a keep-alive race) is built once with
//! `tests/support/synth.rs`, as classic pcap and gzip-compressed pcap. Each run
//! asserts the packet count and that the races found equal the races
//! generated.
//!
//! Throughput: bytes are those of the uncompressed capture file, items are
//! packets.

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use racecap::analyzer::Config;
use racecap::pipeline::run;
use racecap::source::CaptureReader;

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
    pcap: Vec<u8>,
    gzip: Vec<u8>,
    packets: u64,
    races: u64,
}

fn input() -> &'static Input {
    static INPUT: OnceLock<Input> = OnceLock::new();
    INPUT.get_or_init(|| {
        let (packets, races) = Workload::bench(CONNECTIONS, REQUESTS, false).packets();
        let pcap = synth::pcap(&packets, &Link::Ethernet(vec![]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&pcap).expect("writing to a Vec");
        let gzip = gz.finish().expect("writing to a Vec");
        Input {
            pcap,
            gzip,
            packets: packets.len() as u64,
            races,
        }
    })
}

fn bench_run(bencher: Bencher, bytes: &'static [u8]) {
    let inp = input();
    bencher
        .counter(BytesCount::new(inp.pcap.len()))
        .counter(ItemsCount::new(inp.packets))
        .bench(|| {
            let reader =
                CaptureReader::new(Cursor::new(divan::black_box(bytes))).expect("a capture");
            let (report, _stats) =
                run(vec![("bench".to_string(), reader)], Config::default()).expect("a clean run");
            assert_eq!(report.capture.packets, inp.packets, "packets analysed");
            assert_eq!(report.races(), inp.races, "races found");
            report
        });
}

#[divan::bench(sample_count = 30)]
fn pcap_to_report(bencher: Bencher) {
    bench_run(bencher, &input().pcap);
}

#[divan::bench(sample_count = 20)]
fn gzip_to_report(bencher: Bencher) {
    bench_run(bencher, &input().gzip);
}
