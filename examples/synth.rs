//! Generates a large synthetic capture with a known number of keep-alive
//! races, for benchmarks and memory measurements:
//!
//! ```text
//! cargo run --release --example synth -- --connections 100000 --requests 10 \
//!     --race-fraction 0.05 --out big.pcap
//! ```
//!
//! Connections overlap (`--concurrency` at a time), exchange HTTP requests
//! with idle gaps, and end in one of: a server idle close (5 s, Node-like), a
//! client close, or a keep-alive race (server FIN, then a request, then RST;
//! crossed and stale alternate). It prints the expected counts on stderr.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr};

use racecap::source::write::{Endian, PcapWriter};

// The packet generator, shared with the tests.
#[path = "../tests/support/synth.rs"]
mod synth;

use synth::{Flow, Link, Packet, Rng, Workload, flags, secs};

struct Args {
    connections: u64,
    requests: u32,
    race_fraction: f64,
    concurrency: u64,
    syn_flood: u64,
    out: String,
}

const USAGE: &str = "usage: synth [--connections N] [--requests N] [--race-fraction F] \
[--concurrency N] [--syn-flood N] [--out FILE]

Writes a synthetic pcap with a known number of keep-alive races and prints
the expected counts on stderr. Defaults: --connections 10000 --requests 10
--race-fraction 0.05 --concurrency 1000 --out synth.pcap; --syn-flood N
writes N unanswered SYNs instead.";

/// A usage error: the message and the usage on stderr, exit 2 (no panic).
fn usage(why: &str) -> ! {
    eprintln!("synth: {why}\n\n{USAGE}");
    std::process::exit(2)
}

fn number<T: std::str::FromStr>(k: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| usage(&format!("{k}: not a number: {v:?}")))
}

fn parse() -> Args {
    let mut a = Args {
        connections: 10_000,
        requests: 10,
        race_fraction: 0.05,
        concurrency: 1_000,
        syn_flood: 0,
        out: "synth.pcap".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--help" || k == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let known = [
            "--connections",
            "--requests",
            "--race-fraction",
            "--concurrency",
            "--syn-flood",
            "--out",
        ];
        if !known.contains(&k.as_str()) {
            usage(&format!("unknown option {k}"));
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{k} needs a value")));
        match k.as_str() {
            "--connections" => a.connections = number(&k, &v),
            "--requests" => a.requests = number(&k, &v),
            "--race-fraction" => a.race_fraction = number(&k, &v),
            "--concurrency" => a.concurrency = number(&k, &v),
            "--syn-flood" => a.syn_flood = number(&k, &v),
            _ => a.out = v,
        }
    }
    a
}

/// `--syn-flood N`: N SYNs from distinct clients to one server, 10 µs apart,
/// never answered (memory-cap tests).
fn syn_flood(a: &Args) {
    let file = BufWriter::with_capacity(1 << 20, File::create(&a.out).expect("creating --out"));
    let link = Link::Ethernet(vec![]);
    let mut w = PcapWriter::new(file, 1, 65535, true, Endian::Little).expect("writing");
    for i in 0..a.syn_flood {
        let client = IpAddr::V4(Ipv4Addr::new(
            10,
            (i >> 24) as u8 | 64,
            (i >> 16) as u8,
            (i >> 8) as u8,
        ));
        let mut f = Flow::new(
            (client, 1024 + (i % 256) as u16),
            (IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1)), 80),
            i as u32,
            0,
        );
        let p = f.seg(
            secs(1_780_000_000.0) + i as i64 * 10_000,
            true,
            flags::SYN,
            &[],
            None,
        );
        let frame = link.wrap(&p.ip, p.v6);
        w.write(p.ts_ns, frame.len() as u32, &frame)
            .expect("writing");
    }
    w.finish().expect("writing");
    eprintln!(
        "wrote {}: a SYN flood of {} connections",
        a.out, a.syn_flood
    );
}

fn main() {
    let a = parse();
    if a.syn_flood > 0 {
        syn_flood(&a);
        return;
    }
    let file = BufWriter::with_capacity(1 << 20, File::create(&a.out).expect("creating --out"));
    let link = Link::Ethernet(vec![]);
    let mut w = PcapWriter::new(file, 1, 65535, true, Endian::Little).expect("writing");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let workload = Workload {
        connections: a.connections,
        requests: a.requests,
        race_fraction: a.race_fraction,
        concurrency: a.concurrency,
        v6: false,
    };
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut pending: std::collections::HashMap<u64, Vec<Packet>> = Default::default();
    let (mut races, mut packets, mut bytes) = (0u64, 0u64, 0u64);
    // Writes the earliest pending packet and queues its connection's next.
    let mut write_next =
        |heap: &mut BinaryHeap<Reverse<(i64, u64, usize)>>,
         pending: &mut std::collections::HashMap<u64, Vec<Packet>>| {
            let Some(Reverse((_, c, k))) = heap.pop() else {
                return;
            };
            let p = &pending[&c][k];
            let frame = link.wrap(&p.ip, p.v6);
            w.write(p.ts_ns, frame.len() as u32, &frame)
                .expect("writing");
            packets += 1;
            bytes += frame.len() as u64;
            if k + 1 == pending[&c].len() {
                pending.remove(&c);
            } else {
                heap.push(Reverse((pending[&c][k + 1].ts_ns, c, k + 1)));
            }
        };
    let mut buf = Vec::new();
    for i in 0..a.connections {
        let start = workload.start(i);
        // Everything due before this connection starts can be written now.
        while heap.peek().is_some_and(|Reverse((ts, _, _))| *ts <= start) {
            write_next(&mut heap, &mut pending);
        }
        buf.clear();
        if workload.connection(i, &mut rng, &mut buf) {
            races += 1;
        }
        heap.push(Reverse((buf[0].ts_ns, i, 0)));
        pending.insert(i, std::mem::take(&mut buf));
    }
    while !heap.is_empty() {
        write_next(&mut heap, &mut pending);
    }
    w.finish().expect("writing");
    eprintln!(
        "wrote {}: {} connections, {} packets, {} bytes of frames, {} keep-alive races",
        a.out, a.connections, packets, bytes, races
    );
}
