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

use racecap::synth::{Flow, Link, Packet, flags, get, secs};
use racecap::write::{Endian, PcapWriter};

struct Args {
    connections: u64,
    requests: u32,
    race_fraction: f64,
    concurrency: u64,
    syn_flood: u64,
    out: String,
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
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--connections" => a.connections = v.parse().expect("a number"),
            "--requests" => a.requests = v.parse().expect("a number"),
            "--race-fraction" => a.race_fraction = v.parse().expect("a fraction"),
            "--concurrency" => a.concurrency = v.parse().expect("a number"),
            "--syn-flood" => a.syn_flood = v.parse().expect("a number"),
            "--out" => a.out = v,
            _ => panic!("unknown option {k}"),
        }
    }
    a
}

/// A small deterministic generator (xorshift), so a run is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const RTT: i64 = 300_000;

fn response(len: usize) -> String {
    let body = "x".repeat(len);
    format!("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: {len}\r\n\r\n{body}")
}

/// One connection's packets, in time order. Returns whether it races.
fn connection(i: u64, start: i64, a: &Args, rng: &mut Rng, out: &mut Vec<Packet>) -> bool {
    let client_ip = IpAddr::V4(Ipv4Addr::new(10, 1, (i >> 16) as u8 & 0x3f, (i >> 8) as u8));
    let server_ip = IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1 + (i % 4) as u8));
    let port = 1024 + (i % 60_000) as u16;
    let mut f = Flow::new(
        (client_ip, port),
        (server_ip, 3000),
        rng.next() as u32,
        rng.next() as u32,
    );
    let mut t = start;
    out.extend(f.handshake(t, RTT));
    t += RTT;
    let mut last = t;
    for r in 0..a.requests {
        if r > 0 {
            t = last + secs(0.05 + rng.unit() * 2.0);
        }
        let body = 100 + (rng.next() % 1200) as usize;
        out.extend(f.exchange(t, RTT, &get(&format!("/item/{i}/{r}")), &response(body)));
        // The idle period starts with the response.
        last = t + RTT;
    }
    let race = rng.unit() < a.race_fraction;
    if race {
        let fin_at = last + secs(5.0);
        if i.is_multiple_of(2) {
            // Stale: the client acknowledged the FIN, then wrote anyway.
            out.push(f.fin(fin_at, false));
            out.push(f.ack(fin_at + RTT / 2, true));
            out.push(f.data(
                fin_at + secs(1.0),
                true,
                get(&format!("/late/{i}")).as_bytes(),
            ));
            out.push(f.rst(fin_at + secs(1.0) + RTT / 2, false));
        } else {
            // Crossed: the request left before the FIN arrived.
            let unaware = f.server_next;
            out.push(f.fin(fin_at, false));
            out.push(f.seg(
                fin_at + RTT / 4,
                true,
                flags::PSH | flags::ACK,
                get(&format!("/crossed/{i}")).as_bytes(),
                Some(unaware),
            ));
            out.push(f.rst(fin_at + RTT / 2, false));
        }
    } else if rng.unit() < 0.5 {
        out.push(f.fin(last + secs(5.0), false));
        out.push(f.fin(last + secs(5.0) + RTT / 2, true));
        out.push(f.ack(last + secs(5.0) + RTT, false));
    } else {
        out.push(f.fin(last + secs(3.0), true));
        out.push(f.fin(last + secs(3.0) + RTT / 2, false));
        out.push(f.ack(last + secs(3.0) + RTT, true));
    }
    race
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
    // Connections start so that about `concurrency` overlap: each lasts about
    // requests × 1 s + 5 s.
    let life = secs(a.requests as f64 * 1.1 + 5.0);
    let spacing = (life / a.concurrency.max(1) as i64).max(1);
    let t0 = secs(1_780_000_000.0);
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut pending: std::collections::HashMap<u64, Vec<Packet>> = Default::default();
    let (mut races, mut packets, mut bytes) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    for i in 0..a.connections {
        let start = t0 + i as i64 * spacing;
        // Everything due before this connection starts can be written now.
        while let Some(Reverse((ts, c, k))) = heap.peek().copied() {
            if ts > start {
                break;
            }
            heap.pop();
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
        }
        buf.clear();
        if connection(i, start, &a, &mut rng, &mut buf) {
            races += 1;
        }
        heap.push(Reverse((buf[0].ts_ns, i, 0)));
        pending.insert(i, std::mem::take(&mut buf));
    }
    while let Some(Reverse((_, c, k))) = heap.pop() {
        let p = &pending[&c][k];
        let frame = link.wrap(&p.ip, p.v6);
        w.write(p.ts_ns, frame.len() as u32, &frame)
            .expect("writing");
        packets += 1;
        bytes += frame.len() as u64;
        if k + 1 < pending[&c].len() {
            heap.push(Reverse((pending[&c][k + 1].ts_ns, c, k + 1)));
        }
    }
    w.finish().expect("writing");
    eprintln!(
        "wrote {}: {} connections, {} packets, {} bytes of frames, {} keep-alive races",
        a.out, a.connections, packets, bytes, races
    );
}
