//! Decode stage: frames → TCP segments, for each link layer racecap peels.
//!
//! The IP packets of a few hundred synthetic HTTP connections (built once
//! with `tests/support/synth.rs`) are wrapped in every supported link layer:
//! Ethernet (untagged, 802.1Q, QinQ), raw IP (101 and 228), Linux SLL and
//! SLL2, BSD NULL and LOOP, IPv6 over Ethernet, and `mixed` (all of them,
//! frame by frame). Each benchmark decodes the whole Vec and asserts that
//! every frame gave a segment and that the payload bytes add up to what was
//! generated.
//!
//! Throughput: bytes are captured frame bytes, items are frames.

use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use racecap::decode::decode;
use racecap::source::Frame;

// The packet generator, shared with the tests.
#[path = "../tests/support/synth.rs"]
mod synth;

use synth::{Link, Packet, Workload};

fn main() {
    divan::main();
}

const CONNECTIONS: u64 = 300;
const REQUESTS: u32 = 5;

const LINKS: [&str; 11] = [
    "ethernet", "vlan", "qinq", "raw", "raw_ipv4", "sll", "sll2", "null", "loop", "ipv6", "mixed",
];

struct Frames {
    /// (link type, frame bytes, timestamp)
    frames: Vec<(u16, Vec<u8>, i64)>,
    bytes: u64,
    /// TCP payload bytes in all frames, counted from the IP headers here,
    /// independently of racecap's decoder.
    payload: u64,
}

fn link_of(name: &str) -> (Link, bool) {
    match name {
        "ethernet" => (Link::Ethernet(vec![]), false),
        "vlan" => (Link::Ethernet(vec![100]), false),
        "qinq" => (Link::Ethernet(vec![100, 200]), false),
        "raw" => (Link::Raw, false),
        "raw_ipv4" => (Link::RawFamily, false),
        "sll" => (Link::Sll, false),
        "sll2" => (Link::Sll2, false),
        "null" => (Link::Null, false),
        "loop" => (Link::Loop, false),
        "ipv6" => (Link::Ethernet(vec![]), true),
        other => panic!("no link {other}"),
    }
}

fn tcp_payload_len(p: &Packet) -> u64 {
    let ip_header = if p.v6 {
        40
    } else {
        usize::from(p.ip[0] & 0x0f) * 4
    };
    let tcp_header = usize::from(p.ip[ip_header + 12] >> 4) * 4;
    (p.ip.len() - ip_header - tcp_header) as u64
}

fn frames(name: &str) -> &'static Frames {
    static ALL: OnceLock<Vec<(&'static str, Frames)>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let (v4, _) = Workload::bench(CONNECTIONS, REQUESTS, false).packets();
        let (v6, _) = Workload::bench(CONNECTIONS, REQUESTS, true).packets();
        let build = |pick: &dyn Fn(usize) -> &'static str| {
            let (mut frames, mut bytes, mut payload) = (Vec::new(), 0, 0);
            for i in 0..v4.len() {
                let (link, is_v6) = link_of(pick(i));
                let p = if is_v6 { &v6[i] } else { &v4[i] };
                let data = link.wrap(&p.ip, p.v6);
                bytes += data.len() as u64;
                payload += tcp_payload_len(p);
                frames.push((link.linktype(p.v6), data, p.ts_ns));
            }
            Frames {
                frames,
                bytes,
                payload,
            }
        };
        assert_eq!(v4.len(), v6.len());
        LINKS
            .iter()
            .map(|&name| {
                let f = if name == "mixed" {
                    build(&|i| LINKS[i % (LINKS.len() - 1)])
                } else {
                    build(&|_| name)
                };
                (name, f)
            })
            .collect()
    });
    &all.iter()
        .find(|(n, _)| *n == name)
        .expect("a known link")
        .1
}

#[divan::bench(args = LINKS, sample_count = 50)]
fn decode_frames(bencher: Bencher, link: &str) {
    let input = frames(link);
    bencher
        .counter(BytesCount::new(input.bytes))
        .counter(ItemsCount::new(input.frames.len()))
        .bench(|| {
            let (mut segments, mut payload) = (0usize, 0u64);
            for (linktype, data, ts_ns) in divan::black_box(&input.frames) {
                let frame = Frame {
                    ts_ns: *ts_ns,
                    linktype: *linktype,
                    origlen: data.len() as u32,
                    data,
                };
                if let Ok(seg) = decode(&frame) {
                    segments += 1;
                    payload += u64::from(seg.payload_len);
                }
            }
            assert_eq!(segments, input.frames.len(), "segments decoded");
            assert_eq!(payload, input.payload, "payload bytes decoded");
            segments
        });
}
