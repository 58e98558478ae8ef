//! Reader stage: bytes of a capture held in memory → frames.
//!
//! One synthetic capture (a few thousand overlapping HTTP keep-alive
//! connections, built once with `tests/support/synth.rs`) is written three
//! ways: classic pcap, pcapng, and gzip-compressed pcap. Each benchmark reads it to
//! the end and asserts that every frame and every captured byte came out, so
//! a reader that stops early fails instead of looking fast.
//!
//! Throughput: bytes are those of the uncompressed capture file (the same
//! number for every variant, so the rates compare), items are frames.

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use racecap::source::CaptureReader;
use racecap::source::write::{Endian, PcapngWriter};

// The packet generator, shared with the tests.
#[path = "../tests/support/synth.rs"]
mod synth;

use synth::{Link, Workload};

fn main() {
    divan::main();
}

/// Connections in the capture (about 36 packets and 10 KB each).
const CONNECTIONS: u64 = 2_000;
const REQUESTS: u32 = 10;

struct Input {
    pcap: Vec<u8>,
    pcapng: Vec<u8>,
    gzip: Vec<u8>,
    frames: u64,
    /// Sum of the captured lengths of all frames.
    frame_bytes: u64,
}

fn input() -> &'static Input {
    static INPUT: OnceLock<Input> = OnceLock::new();
    INPUT.get_or_init(|| {
        let (packets, _) = Workload::bench(CONNECTIONS, REQUESTS, false).packets();
        let link = Link::Ethernet(vec![]);
        let pcap = synth::pcap(&packets, &link);

        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).expect("writing to a Vec");
        let iface = w
            .interface(link.linktype(false), 65535, 9, 0)
            .expect("writing to a Vec");
        let mut frame_bytes = 0;
        for p in &packets {
            let frame = link.wrap(&p.ip, p.v6);
            frame_bytes += frame.len() as u64;
            w.packet(iface, p.ts_ns, frame.len() as u32, &frame)
                .expect("writing to a Vec");
        }
        let pcapng = w.finish().expect("writing to a Vec");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&pcap).expect("writing to a Vec");
        let gzip = gz.finish().expect("writing to a Vec");

        Input {
            pcap,
            pcapng,
            gzip,
            frames: packets.len() as u64,
            frame_bytes,
        }
    })
}

/// Reads `bytes` to the end; returns (frames, captured bytes).
fn read_all(bytes: &'static [u8]) -> (u64, u64) {
    let mut r = CaptureReader::new(Cursor::new(bytes)).expect("a capture");
    let (mut frames, mut len) = (0u64, 0u64);
    while r.advance().expect("a clean capture") {
        let f = r.current().expect("a frame after advance");
        frames += 1;
        len += f.data.len() as u64;
    }
    (frames, len)
}

fn bench_read(bencher: Bencher, bytes: &'static [u8]) {
    let inp = input();
    bencher
        .counter(BytesCount::new(inp.pcap.len()))
        .counter(ItemsCount::new(inp.frames))
        .bench(|| {
            let got = read_all(divan::black_box(bytes));
            assert_eq!(got, (inp.frames, inp.frame_bytes), "frames read");
            got
        });
}

#[divan::bench(sample_count = 50)]
fn pcap(bencher: Bencher) {
    bench_read(bencher, &input().pcap);
}

#[divan::bench(sample_count = 50)]
fn pcapng(bencher: Bencher) {
    bench_read(bencher, &input().pcapng);
}

#[divan::bench(sample_count = 20)]
fn pcap_gzip(bencher: Bencher) {
    bench_read(bencher, &input().gzip);
}
