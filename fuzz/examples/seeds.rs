//! Writes seed inputs for the fuzz targets (run by scripts/fuzz.sh):
//!
//!     cargo run --example seeds -- OUT_DIR [CAPTURE...]
//!
//! * `OUT_DIR/capture/`: synthetic captures for `reader` and `pipeline`: a
//!   keep-alive race with its retry, a refused connect and a reset, in every
//!   link layer racecap decodes, IPv4 and IPv6, classic pcap (µs and ns, both
//!   byte orders), pcapng (both byte orders, several interfaces and
//!   resolutions, a second section, simple packets, unknown blocks), and gzip
//!   variants of some of them.
//! * `OUT_DIR/capture/synth-h2c-*.pcap`: HTTP/2 in the clear for `pipeline`
//!   (the frame layer and HPACK): a preface, control frames, streams with
//!   static, literal and Huffman-coded request lines, frames cut across
//!   segments, a GOAWAY and a stream racing it.
//! * `OUT_DIR/h2/`: single direction byte streams for `h2` (frames and
//!   header blocks).
//! * `OUT_DIR/fragment/`: runs of raw-IP fragments for `fragment` (see
//!   fuzz_targets/fragment.rs), in order, reversed and inside VXLAN and GRE;
//!   the same races fragmented as captures for `pipeline`.
//! * `OUT_DIR/decode/`: inputs for `decode` (link-type byte, cut byte,
//!   frame), from the synthetic packets and from the frames of every CAPTURE
//!   given (a few per file and link type).

use std::collections::HashMap;
use std::fs;
use std::io::{Cursor, Write};
use std::net::IpAddr;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use racecap::decode::linktype;
use racecap::source::CaptureReader;
use racecap::source::write::{Endian, PcapWriter, PcapngWriter};

// The packet generator, shared with the tests.
#[path = "../../tests/support/synth.rs"]
mod synth;

use synth::{Flow, Link, Packet, secs};

/// A proxy's pool racing a backend's idle timeout, then a refused connect
/// and a connection reset mid-request.
fn scenario(v6: bool) -> Vec<Packet> {
    let (c, s): (IpAddr, IpAddr) = if v6 {
        ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
    } else {
        ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
    };
    let t0 = secs(1_700_000_000.0);
    let rtt = 200_000;
    let mut out = Vec::new();

    // Reused twice, then the server's idle FIN crosses the third request.
    let mut f = Flow::new((c, 40000), (s, 8080), 1000, 900_000);
    out.extend(f.handshake(t0, rtt));
    out.extend(f.exchange(t0 + secs(0.01), rtt, &synth::get("/a"), &synth::ok(Some(5))));
    out.extend(f.exchange(t0 + secs(2.0), rtt, &synth::post("/b"), &synth::ok(Some(5))));
    out.push(f.fin(t0 + secs(7.0), false));
    out.push(f.data(t0 + secs(7.0) + 500_000, true, synth::get("/c").as_bytes()));
    out.push(f.rst(t0 + secs(7.0) + 700_000, false));

    // The proxy's retry on a fresh connection.
    let mut g = Flow::new((c, 40001), (s, 8080), 5000, 77_000);
    out.extend(g.handshake(t0 + secs(7.001), rtt));
    out.extend(g.exchange(t0 + secs(7.002), rtt, &synth::get("/c"), &synth::ok(None)));
    out.push(g.fin(t0 + secs(8.0), true));
    out.push(g.fin(t0 + secs(8.0) + rtt, false));
    out.push(g.ack(t0 + secs(8.0) + 2 * rtt, true));

    // Refused connect.
    let mut r = Flow::new((c, 40002), (s, 9999), 42, 0);
    out.push(r.seg(t0 + secs(9.0), true, synth::flags::SYN, &[], None));
    let a = r.client_next;
    out.push(r.seg(
        t0 + secs(9.0) + rtt,
        false,
        synth::flags::RST | synth::flags::ACK,
        &[],
        Some(a),
    ));

    // Server resets a connection with a request outstanding.
    let mut x = Flow::new((c, 40003), (s, 8080), 7, 70);
    out.extend(x.handshake(t0 + secs(10.0), rtt));
    out.push(x.data(t0 + secs(10.01), true, synth::get("/slow").as_bytes()));
    out.push(x.rst(t0 + secs(12.0), false));
    out.sort_by_key(|p| p.ts_ns);
    out
}

fn h2_frame(ty: u8, flags: u8, stream: u32, body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[ty, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(body);
    f
}

/// A request's HEADERS: GET and `/` from the static table (stream 1), a
/// Huffman-coded path as python-hpack encodes it (3), a dynamic index (5).
fn h2_request(stream: u32) -> Vec<u8> {
    let block: &[u8] = match stream {
        1 => &[0x82, 0x86, 0x84],
        3 => &[
            0x82, 0x86, 0x44, 0x8e, 0x60, 0x75, 0x99, 0x8e, 0xe1, 0x60, 0xc9, 0x2d, 0x28, 0xff,
        ],
        _ => &[0x82, 0x86, 0xc0, 0xbf],
    };
    h2_frame(1, 5, stream, block)
}

/// An h2c connection: preface and SETTINGS, three streams (the second's
/// response cut over two segments), the server's GOAWAY and FIN, a stream
/// racing them and the RST.
fn h2_scenario(v6: bool) -> Vec<Packet> {
    let (c, s): (IpAddr, IpAddr) = if v6 {
        ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
    } else {
        ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
    };
    let t0 = secs(1_700_000_000.0);
    let rtt = 200_000;
    let mut f = Flow::new((c, 41000), (s, 50051), 1000, 900_000);
    let mut out = f.handshake(t0, rtt);
    let preface = [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        h2_frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]),
        h2_frame(8, 0, 0, &[0, 0, 0x40, 0]),
    ]
    .concat();
    out.push(f.data(t0 + rtt, true, &preface));
    let settings = [h2_frame(4, 0, 0, &[]), h2_frame(4, 1, 0, &[])].concat();
    out.push(f.data(t0 + 2 * rtt, false, &settings));
    for (i, stream) in [1u32, 3, 5].into_iter().enumerate() {
        let t = t0 + secs(0.01 + i as f64);
        out.push(f.data(t, true, &h2_request(stream)));
        let resp = [
            h2_frame(1, 4, stream, &[0x88]),
            h2_frame(0, 0, stream, &[7; 900]),
            h2_frame(1, 5, stream, &[0x40, 1, b'x', 1, b'y']),
        ]
        .concat();
        for part in resp.chunks(if stream == 3 { 500 } else { 2000 }) {
            out.push(f.data(t + rtt, false, part));
        }
        out.push(f.data(t + 2 * rtt, true, &h2_frame(8, 0, 0, &[0, 0, 1, 0])));
    }
    let close = t0 + secs(4.5);
    out.push(f.data(close, false, &h2_frame(7, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 0])));
    out.push(f.fin(close + 1000, false));
    out.push(f.data(close + rtt / 2, true, &h2_request(7)));
    out.push(f.rst(close + rtt, false));
    out
}

fn links() -> Vec<(&'static str, Link)> {
    vec![
        ("eth", Link::Ethernet(vec![])),
        ("vlan", Link::Ethernet(vec![10])),
        ("qinq", Link::Ethernet(vec![100, 10])),
        ("raw", Link::Raw),
        ("rawfam", Link::RawFamily),
        ("sll", Link::Sll),
        ("sll2", Link::Sll2),
        ("null", Link::Null),
        ("loop", Link::Loop),
    ]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn pcapng(packets: &[Packet], endian: Endian) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new(), endian).unwrap();
    let eth = w.interface(linktype::ETHERNET, 65535, 6, 0).unwrap();
    let sll2 = w.interface(linktype::LINUX_SLL2, 65535, 9, 0).unwrap();
    let (half, rest) = packets.split_at(packets.len() / 2);
    for (i, p) in half.iter().enumerate() {
        let (iface, link) = if i % 2 == 0 {
            (eth, Link::Ethernet(vec![]))
        } else {
            (sll2, Link::Sll2)
        };
        let frame = link.wrap(&p.ip, p.v6);
        w.packet(iface, p.ts_ns, frame.len() as u32, &frame)
            .unwrap();
    }
    // An unknown block, then a new section with power-of-two resolution and
    // an offset, a packet on an interface that does not exist, and a simple
    // packet block.
    w.block(0x0BAD_0000, &[1, 2, 3, 4, 5]).unwrap();
    w.section().unwrap();
    let raw = w.interface(linktype::RAW, 65535, 0x80 | 20, 100).unwrap();
    for p in rest {
        let frame = Link::Raw.wrap(&p.ip, p.v6);
        w.packet(raw, p.ts_ns, frame.len() as u32, &frame).unwrap();
    }
    w.packet(7, rest[0].ts_ns, 4, &[0, 1, 2, 3]).unwrap();
    let spb = Link::Raw.wrap(&rest[0].ip, rest[0].v6);
    let mut body = Vec::new();
    let origlen = spb.len() as u32;
    body.extend_from_slice(&match endian {
        Endian::Little => origlen.to_le_bytes(),
        Endian::Big => origlen.to_be_bytes(),
    });
    body.extend_from_slice(&spb);
    w.block(3, &body).unwrap();
    w.finish().unwrap()
}

fn decode_seed(lt: u16, cut: u8, frame: &[u8]) -> Option<Vec<u8>> {
    let pick = linktype::FUZZ_TABLE.iter().position(|&l| l == lt)? as u8;
    let mut v = vec![pick, cut];
    v.extend_from_slice(frame);
    Some(v)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: seeds OUT_DIR [CAPTURE...]");
        std::process::exit(2);
    };
    let out = Path::new(out);
    let (cap_dir, dec_dir) = (out.join("capture"), out.join("decode"));
    fs::create_dir_all(&cap_dir).unwrap();
    fs::create_dir_all(&dec_dir).unwrap();
    let write = |dir: &Path, name: String, bytes: &[u8]| fs::write(dir.join(name), bytes).unwrap();
    let mut n_cap = 0;
    let mut n_dec = 0;

    for v6 in [false, true] {
        let fam = if v6 { "v6" } else { "v4" };
        let packets = scenario(v6);
        for (name, link) in links() {
            let bytes = synth::pcap(&packets, &link);
            if name == "eth" || name == "sll2" {
                write(
                    &cap_dir,
                    format!("synth-{name}-{fam}.pcap.gz"),
                    &gzip(&bytes),
                );
                n_cap += 1;
            }
            write(&cap_dir, format!("synth-{name}-{fam}.pcap"), &bytes);
            n_cap += 1;
            for (i, p) in packets.iter().enumerate() {
                let frame = link.wrap(&p.ip, p.v6);
                let lt = link.linktype(p.v6);
                if let Some(s) = decode_seed(lt, 0, &frame) {
                    write(&dec_dir, format!("synth-{name}-{fam}-{i}.bin"), &s);
                    n_dec += 1;
                }
                // Cut by a snaplen inside the payload (or the TCP header).
                let keep = frame.len().saturating_sub(40).max(frame.len() * 2 / 3);
                let cut = (frame.len() - keep).min(255) as u8;
                if let Some(s) = decode_seed(lt, cut, &frame[..frame.len() - cut as usize]) {
                    write(&dec_dir, format!("synth-{name}-{fam}-{i}-cut.bin"), &s);
                    n_dec += 1;
                }
            }
        }
        // Classic pcap: microseconds, big-endian.
        let mut w =
            PcapWriter::new(Vec::new(), linktype::ETHERNET, 96, false, Endian::Big).unwrap();
        for p in &packets {
            let frame = Link::Ethernet(vec![]).wrap(&p.ip, p.v6);
            let caplen = frame.len().min(96);
            w.write(p.ts_ns, frame.len() as u32, &frame[..caplen])
                .unwrap();
        }
        write(
            &cap_dir,
            format!("synth-be-us-snap96-{fam}.pcap"),
            &w.finish().unwrap(),
        );
        n_cap += 1;
        for (ename, endian) in [("le", Endian::Little), ("be", Endian::Big)] {
            let bytes = pcapng(&packets, endian);
            write(&cap_dir, format!("synth-{ename}-{fam}.pcapng"), &bytes);
            n_cap += 1;
            if ename == "le" {
                write(
                    &cap_dir,
                    format!("synth-{ename}-{fam}.pcapng.gz"),
                    &gzip(&bytes),
                );
                n_cap += 1;
            }
        }
    }
    // HTTP/2 in the clear, and its client's bytes alone for `h2`.
    let h2_dir = out.join("h2");
    fs::create_dir_all(&h2_dir).unwrap();
    for v6 in [false, true] {
        let fam = if v6 { "v6" } else { "v4" };
        let bytes = synth::pcap(&h2_scenario(v6), &Link::Ethernet(vec![]));
        write(&cap_dir, format!("synth-h2c-{fam}.pcap"), &bytes);
        n_cap += 1;
    }
    for stream in [1u32, 3, 5] {
        let mut b = vec![7u8]; // the cut points' seed byte (see fuzz_targets/h2.rs)
        b.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        b.extend(h2_request(stream));
        b.extend(h2_frame(7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]));
        write(&h2_dir, format!("h2-stream-{stream}.bin"), &b);
    }

    // Fragments: every packet of the race split at 64 bytes.
    let frag_dir = out.join("fragment");
    fs::create_dir_all(&frag_dir).unwrap();
    for v6 in [false, true] {
        let fam = if v6 { "v6" } else { "v4" };
        let split: Vec<synth::Packet> = scenario(v6)
            .iter()
            .enumerate()
            .flat_map(|(i, p)| synth::fragments(p, 64, i as u32))
            .collect();
        write(
            &cap_dir,
            format!("synth-fragments-{fam}.pcap"),
            &synth::pcap(&split, &Link::Ethernet(vec![])),
        );
        n_cap += 1;
        for (order, reversed) in [("in-order", false), ("reversed", true)] {
            let mut run = split.clone();
            if reversed {
                run.reverse();
            }
            let mut b = Vec::new();
            for p in &run {
                b.extend_from_slice(&(p.ip.len() as u16).to_le_bytes());
                b.push(0);
                b.extend_from_slice(&p.ip);
            }
            write(&frag_dir, format!("fragment-{order}-{fam}.bin"), &b);
        }
        // The same fragments inside tunnels, as a node's uplink carries
        // a pod's fragmented packets (VXLAN, GRE).
        for (name, wrap) in [("vxlan", vxlan as fn(&[u8], bool) -> Vec<u8>), ("gre", gre)] {
            let mut b = Vec::new();
            for p in &split {
                let outer = wrap(&p.ip, v6);
                b.extend_from_slice(&(outer.len() as u16).to_le_bytes());
                b.push(0);
                b.extend_from_slice(&outer);
            }
            write(&frag_dir, format!("fragment-in-{name}-{fam}.bin"), &b);
        }
    }

    // A capture cut off mid-record, and two gzip members back to back.
    let whole = synth::pcap(&scenario(false), &Link::Ethernet(vec![]));
    write(
        &cap_dir,
        "synth-cut.pcap".into(),
        &whole[..whole.len() - 37],
    );
    let mut two = gzip(&whole[..whole.len() / 2]);
    two.extend(gzip(&whole[whole.len() / 2..]));
    write(&cap_dir, "synth-multimember.pcap.gz".into(), &two);
    n_cap += 2;

    // Frames of real captures, a few per file and link type.
    for path in &args[1..] {
        let Ok(bytes) = fs::read(path) else { continue };
        let Ok(mut r) = CaptureReader::new(Cursor::new(bytes)) else {
            continue;
        };
        let stem = Path::new(path)
            .file_name()
            .map(|s| s.to_string_lossy().replace('.', "_"))
            .unwrap_or_default();
        let mut per_lt: HashMap<u16, usize> = HashMap::new();
        let mut i = 0;
        while let Ok(true) = r.advance() {
            let f = r.current().unwrap();
            i += 1;
            let seen = per_lt.entry(f.linktype).or_default();
            // The first frames (handshakes), then every 16th.
            if *seen >= 24 || (i > 8 && i % 16 != 0) {
                continue;
            }
            *seen += 1;
            let cut = (f.origlen as usize - f.data.len()).min(255) as u8;
            if let Some(s) = decode_seed(f.linktype, cut, f.data) {
                write(&dec_dir, format!("{stem}-{i}.bin"), &s);
                n_dec += 1;
            }
        }
    }
    println!(
        "{n_cap} capture seeds, {n_dec} decode seeds in {}",
        out.display()
    );
}

/// An outer IPv4 header (TEST-NET-1 addresses; the decoder does not check
/// its checksum) around `payload` of IP protocol `proto`.
fn outer_ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    ip.extend_from_slice(payload);
    ip
}

/// `inner` in VXLAN (UDP 4789, an Ethernet frame inside).
fn vxlan(inner: &[u8], v6: bool) -> Vec<u8> {
    let len = (8 + 8 + 14 + inner.len()) as u16;
    let mut u = vec![0x9c, 0x40, 0x12, 0xb5];
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0, 0x08, 0, 0, 0, 0, 0, 42, 0]);
    u.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    u.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    u.extend_from_slice(inner);
    outer_ipv4(17, &u)
}

/// `inner` in GRE (RFC 2784, no options).
fn gre(inner: &[u8], v6: bool) -> Vec<u8> {
    let mut g = vec![0, 0];
    g.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    g.extend_from_slice(inner);
    outer_ipv4(47, &g)
}
