//! Capture formats and link layers, end to end: every link layer racecap
//! decodes (Ethernet with 0/1/2 VLAN tags, raw IP, Linux SLL/SLL2, BSD
//! NULL/LOOP) over IPv4 and IPv6, written with the library's writers and read
//! back field by field; classic pcap in its four variants; pcapng with several
//! interfaces, sections, timestamp resolutions and offsets; gzip (whole and
//! cut); truncated, damaged and hostile inputs with their exact outcome; and
//! several inputs merged into one timeline.

use std::io::{Cursor, Write};
use std::net::IpAddr;

use crate::synth::{Flow, Link, Packet, flags, get, ok, pcap, secs};
use flate2::Compression;
use flate2::write::GzEncoder;
use racecap::analyzer::Config;
use racecap::decode::{Skip, decode};
use racecap::pipeline;
use racecap::report::Report;
use racecap::source::write::{Endian, PcapWriter, PcapngWriter};
use racecap::source::{CaptureReader, FileFormat, Frame, InputStats, Merged, ReadError};

use crate::util::{analyze_bytes, ip, texts};

/// 2023-11-14T22:13:20.123456789Z: sub-µs digits, so that µs files visibly
/// lose some.
const T0: i64 = 1_700_000_000_123_456_789;
/// An odd round-trip time, so that every timestamp has all its digits.
const RTT: i64 = 1_234_567;

// ==========================================================================
// Helpers.
// ==========================================================================

/// A frame copied out of the reader's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    ts_ns: i64,
    linktype: u16,
    origlen: u32,
    data: Vec<u8>,
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        Frame {
            ts_ns: self.ts_ns,
            linktype: self.linktype,
            origlen: self.origlen,
            data: &self.data,
        }
    }
}

/// Reads frames until the end or the first error.
fn read_until_error(bytes: Vec<u8>) -> (Vec<Owned>, Option<ReadError>) {
    let mut r = CaptureReader::new(Cursor::new(bytes)).expect("a capture");
    let mut out = Vec::new();
    loop {
        match r.advance() {
            Ok(true) => {
                let f = r.current().expect("a frame after advance");
                out.push(Owned {
                    ts_ns: f.ts_ns,
                    linktype: f.linktype,
                    origlen: f.origlen,
                    data: f.data.to_vec(),
                });
            }
            Ok(false) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Reads every frame of a capture that must be clean.
fn read_all(bytes: Vec<u8>) -> Vec<Owned> {
    let (frames, err) = read_until_error(bytes);
    assert!(err.is_none(), "unexpected read error: {err:?}");
    frames
}

fn cfg() -> Config {
    Config {
        keep_connections: true,
        ..Config::default()
    }
}

/// Runs the analyzer over named inputs.
fn run(inputs: Vec<(&str, Vec<u8>)>) -> (Report, Vec<InputStats>) {
    let readers = inputs
        .into_iter()
        .map(|(name, bytes)| {
            let r = CaptureReader::new(Cursor::new(bytes)).expect("a capture");
            (name.to_string(), r)
        })
        .collect();
    pipeline::run(readers, cfg()).expect("readable")
}

/// One expected decoded segment, stated from what the test asked `Flow` for.
#[derive(Debug)]
struct Expected {
    ts_ns: i64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: Vec<u8>,
}

const CLIENT_ISN: u32 = 1000;
const SERVER_ISN: u32 = 900_000;

fn endpoints(v6: bool) -> ((IpAddr, u16), (IpAddr, u16)) {
    if v6 {
        ((ip("2001:db8::1"), 40000), (ip("2001:db8::2"), 8080))
    } else {
        ((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 8080))
    }
}

/// Handshake plus one GET / 200 exchange, with what each segment must decode
/// to (sequence numbers worked out by hand from the ISNs).
fn conversation(v6: bool) -> (Vec<Packet>, Vec<Expected>) {
    let (c, s) = endpoints(v6);
    let mut f = Flow::new(c, s, CLIENT_ISN, SERVER_ISN);
    let t1 = T0 + 10_000_001;
    let req = get("/a");
    let resp = ok(Some(5));
    let mut p = f.handshake(T0, RTT);
    p.extend(f.exchange(t1, RTT, &req, &resp));
    let (rl, sl) = (req.len() as u32, resp.len() as u32);
    let (c0, s0) = (CLIENT_ISN, SERVER_ISN);
    let e = |ts_ns, client: bool, flags, seq, ack, payload: &str| Expected {
        ts_ns,
        src: if client { c } else { s },
        dst: if client { s } else { c },
        flags,
        seq,
        ack,
        payload: payload.as_bytes().to_vec(),
    };
    let expected = vec![
        e(T0, true, 0x02, c0, 0, ""),
        e(T0 + RTT / 2, false, 0x12, s0, c0 + 1, ""),
        e(T0 + RTT, true, 0x10, c0 + 1, s0 + 1, ""),
        e(t1, true, 0x18, c0 + 1, s0 + 1, &req),
        e(t1 + RTT, false, 0x18, s0 + 1, c0 + 1 + rl, &resp),
        e(t1 + RTT + RTT / 2, true, 0x10, c0 + 1 + rl, s0 + 1 + sl, ""),
    ];
    (p, expected)
}

/// The same packets as a little-endian pcapng with one nanosecond interface.
fn pcapng_of(packets: &[Packet], link: &Link) -> Vec<u8> {
    let v6 = packets[0].v6;
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let i = w.interface(link.linktype(v6), 65535, 9, 0).unwrap();
    for p in packets {
        let frame = link.wrap(&p.ip, p.v6);
        w.packet(i, p.ts_ns, frame.len() as u32, &frame).unwrap();
    }
    w.finish().unwrap()
}

fn ethernet(p: &Packet) -> Vec<u8> {
    Link::Ethernet(vec![]).wrap(&p.ip, p.v6)
}

/// A little-endian nanosecond pcap of already wrapped frames.
fn pcap_frames(linktype: u16, frames: &[(i64, u32, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), linktype, 65535, true, Endian::Little).unwrap();
    for (ts, origlen, data) in frames {
        w.write(*ts, *origlen, data).unwrap();
    }
    w.finish().unwrap()
}

/// Byte length of a classic pcap record holding `frame`.
fn record_len(frame: &[u8]) -> u64 {
    16 + frame.len() as u64
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = GzEncoder::new(Vec::new(), Compression::default());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

/// A report's capture section as JSON, without the per-file list.
fn capture_json(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(&r.capture).unwrap();
    v.as_object_mut().unwrap().remove("files");
    v
}

fn flow_v4() -> Flow {
    let (c, s) = endpoints(false);
    Flow::new(c, s, CLIENT_ISN, SERVER_ISN)
}

/// A data segment from the client, as an IP packet.
fn data_packet(v6: bool, payload: &[u8]) -> Packet {
    let (c, s) = endpoints(v6);
    let mut f = Flow::new(c, s, CLIENT_ISN, SERVER_ISN);
    f.seg(T0, true, flags::PSH | flags::ACK, payload, Some(SERVER_ISN))
}

// ==========================================================================
// 1. Every link layer, IPv4 and IPv6, every field.
// ==========================================================================

fn links() -> Vec<Link> {
    vec![
        Link::Ethernet(vec![]),
        Link::Ethernet(vec![100]),
        Link::Ethernet(vec![100, 4094]),
        Link::Raw,
        Link::RawFamily,
        Link::Sll,
        Link::Sll2,
        Link::Null,
        Link::Loop,
    ]
}

/// Link type numbers from tcpdump.org/linktypes.html, stated independently.
fn expected_linktype(link: &Link, v6: bool) -> u16 {
    match link {
        Link::Ethernet(_) => 1,
        Link::Raw => 101,
        Link::RawFamily if v6 => 229,
        Link::RawFamily => 228,
        Link::Sll => 113,
        Link::Sll2 => 276,
        Link::Null => 0,
        Link::Loop => 108,
    }
}

fn expected_vlan(link: &Link) -> u32 {
    match link {
        Link::Ethernet(tags) => match tags.as_slice() {
            [] => 0,
            [one] => u32::from(*one),
            [outer, inner] => (u32::from(*outer) << 16) | u32::from(*inner),
            _ => unreachable!("at most two tags"),
        },
        _ => 0,
    }
}

#[test]
fn test_every_link_type_and_family_roundtrips_every_field() {
    for link in links() {
        for v6 in [false, true] {
            let what = format!("{link:?} v6={v6}");
            let (packets, expected) = conversation(v6);
            let lt = expected_linktype(&link, v6);
            assert_eq!(link.linktype(v6), lt, "{what}");
            for (container, bytes) in [
                ("pcap", pcap(&packets, &link)),
                ("pcapng", pcapng_of(&packets, &link)),
            ] {
                let what = format!("{what} in {container}");
                let frames = read_all(bytes);
                assert_eq!(frames.len(), expected.len(), "{what}");
                for (n, ((f, p), e)) in frames.iter().zip(&packets).zip(&expected).enumerate() {
                    let what = format!("{what}, frame {n}");
                    assert_eq!(f.linktype, lt, "{what}");
                    assert_eq!(f.ts_ns, e.ts_ns, "{what}");
                    assert_eq!(f.data, link.wrap(&p.ip, v6), "{what}");
                    assert_eq!(f.origlen as usize, f.data.len(), "{what}");
                    let seg = decode(&f.frame()).unwrap_or_else(|s| panic!("{what}: {s:?}"));
                    assert_eq!(seg.ts_ns, e.ts_ns, "{what}");
                    assert_eq!(seg.vlan, expected_vlan(&link), "{what}");
                    assert_eq!((seg.src, seg.sport), e.src, "{what}");
                    assert_eq!((seg.dst, seg.dport), e.dst, "{what}");
                    assert_eq!(seg.flags.0, e.flags, "{what}");
                    assert_eq!(seg.seq, e.seq, "{what}");
                    assert_eq!(seg.ack, e.ack, "{what}");
                    assert_eq!(seg.payload_len as usize, e.payload.len(), "{what}");
                    assert_eq!(seg.payload, e.payload.as_slice(), "{what}");
                }
            }
        }
    }
}

/// The whole pipeline on every link: one clean connection each time.
#[test]
fn test_every_link_type_gives_one_clean_connection() {
    for link in links() {
        for v6 in [false, true] {
            let (packets, _) = conversation(v6);
            let r = analyze_bytes(pcap(&packets, &link), cfg());
            let what = format!("{link:?} v6={v6}");
            assert_eq!(r.capture.packets, 6, "{what}");
            assert_eq!(r.capture.tcp_segments, 6, "{what}");
            assert_eq!(r.capture.connections_4tuples, 1, "{what}");
            assert!(r.capture.skipped.values().all(|&n| n == 0), "{what}");
            let conns = r.connections.as_ref().unwrap();
            assert_eq!(conns.len(), 1, "{what}");
            assert_eq!(conns[0].requests, 1, "{what}");
            let (c, s) = endpoints(v6);
            let show = |(a, p): (IpAddr, u16)| match a {
                IpAddr::V4(_) => format!("{a}:{p}"),
                IpAddr::V6(_) => format!("[{a}]:{p}"),
            };
            assert_eq!(
                (conns[0].client.to_string(), conns[0].server.to_string()),
                (show(c), show(s)),
                "{what}"
            );
            let vlan = match &link {
                Link::Ethernet(tags) if !tags.is_empty() => Some(tags.clone()),
                _ => None,
            };
            assert_eq!(conns[0].vlan, vlan, "{what}");
        }
    }
}

/// BSD NULL is in the capturing host's byte order, LOOP in network order;
/// AF_INET6 is 24, 28 or 30 depending on the BSD.
#[test]
fn test_bsd_loopback_address_families_and_byte_orders() {
    let v4 = data_packet(false, b"hello");
    let v6 = data_packet(true, b"hello");
    let cases: [(u16, [u8; 4], &Packet); 8] = [
        (0, 2u32.to_le_bytes(), &v4),
        (0, 2u32.to_be_bytes(), &v4),
        (0, 24u32.to_le_bytes(), &v6),
        (0, 28u32.to_be_bytes(), &v6),
        (0, 30u32.to_be_bytes(), &v6),
        (108, 2u32.to_be_bytes(), &v4),
        (108, 28u32.to_be_bytes(), &v6),
        (108, 30u32.to_be_bytes(), &v6),
    ];
    for (lt, af, p) in cases {
        let mut data = af.to_vec();
        data.extend_from_slice(&p.ip);
        let f = Frame {
            ts_ns: T0,
            linktype: lt,
            origlen: data.len() as u32,
            data: &data,
        };
        let seg = decode(&f).unwrap_or_else(|s| panic!("lt {lt} af {af:?}: {s:?}"));
        assert_eq!((seg.payload_len, seg.payload), (5, &b"hello"[..]));
        assert_eq!(seg.src.is_ipv6(), p.v6);
    }
    // Another address family (AF_APPLETALK is 16) is not IP.
    let mut data = 16u32.to_le_bytes().to_vec();
    data.extend_from_slice(&v4.ip);
    let f = Frame {
        ts_ns: T0,
        linktype: 0,
        origlen: data.len() as u32,
        data: &data,
    };
    assert_eq!(decode(&f).unwrap_err(), Skip::NonIp);
}

// ==========================================================================
// 2. Classic pcap variants and pcapng.
// ==========================================================================

/// Six timestamps with sub-µs digits, in order.
const STAMPS: [i64; 6] = [
    T0,
    T0 + 100_000_001,
    T0 + 200_000_999,
    T0 + 1_000_000_000,
    T0 + 1_876_543_211,
    T0 + 2_000_000_500,
];

#[test]
fn test_pcap_four_variants_timestamps_and_link_type() {
    let (packets, _) = conversation(false);
    for nanos in [false, true] {
        for endian in [Endian::Little, Endian::Big] {
            let what = format!("nanos={nanos} {endian:?}");
            let mut w = PcapWriter::new(Vec::new(), 1, 65535, nanos, endian).unwrap();
            for (p, ts) in packets.iter().zip(STAMPS) {
                let f = ethernet(p);
                w.write(ts, f.len() as u32, &f).unwrap();
            }
            let bytes = w.finish().unwrap();
            let want = |ts: i64| if nanos { ts } else { ts - ts % 1000 };

            let r = CaptureReader::new(Cursor::new(bytes.clone())).unwrap();
            let big_endian = endian == Endian::Big;
            assert_eq!(r.format(), FileFormat::Pcap { nanos, big_endian });
            assert!(!r.gzip());
            let frames = read_all(bytes.clone());
            let got: Vec<(i64, u16)> = frames.iter().map(|f| (f.ts_ns, f.linktype)).collect();
            let expected: Vec<(i64, u16)> = STAMPS.iter().map(|&t| (want(t), 1)).collect();
            assert_eq!(got, expected, "{what}");
            for (f, p) in frames.iter().zip(&packets) {
                assert_eq!(f.data, ethernet(p), "{what}");
            }

            let rep = analyze_bytes(bytes, cfg());
            assert_eq!(rep.capture.packets, 6, "{what}");
            assert_eq!(rep.capture.tcp_segments, 6, "{what}");
            let (first, last) = if nanos {
                (
                    "2023-11-14T22:13:20.123456789Z",
                    "2023-11-14T22:13:22.123457289Z",
                )
            } else {
                (
                    "2023-11-14T22:13:20.123456000Z",
                    "2023-11-14T22:13:22.123457000Z",
                )
            };
            assert_eq!(
                rep.capture.first.map(|t| t.rfc3339()).as_deref(),
                Some(first),
                "{what}"
            );
            assert_eq!(
                rep.capture.last.map(|t| t.rfc3339()).as_deref(),
                Some(last),
                "{what}"
            );
            let file = &rep.capture.files[0];
            let name = match (nanos, big_endian) {
                (false, false) => "pcap",
                (true, false) => "pcap-ns",
                (false, true) => "pcap-be",
                (true, true) => "pcap-ns-be",
            };
            assert_eq!(file.format.name(), name, "{what}");
            assert_eq!(file.link_types, vec!["EN10MB".to_string()], "{what}");
            assert!(
                rep.capture.warnings.is_empty(),
                "{what}: {:?}",
                rep.capture.warnings
            );
        }
    }
}

/// Offset of the first section's nanosecond interface (seconds).
const NS_OFFSET_S: i64 = 1_600_000_000;
/// Offset of the second section's 2^-20 s interface (seconds).
const POW2_OFFSET_S: i64 = 100;

/// Two sections: the first with an Ethernet µs interface and a raw-IP ns
/// interface with an offset, and an unknown block between packets; the
/// second whose only interface (id 0 again) is Linux SLL2 in 2^-20 s units
/// with another offset. Returns the file and the expected (ts, link type)
/// of each frame.
fn pcapng_mixed(endian: Endian) -> (Vec<u8>, Vec<(i64, u16)>, Vec<Packet>) {
    let (packets, _) = conversation(false);
    let mut w = PcapngWriter::new(Vec::new(), endian).unwrap();
    let eth = w.interface(1, 65535, 6, 0).unwrap();
    let raw = w.interface(101, 65535, 9, NS_OFFSET_S).unwrap();
    assert_eq!((eth, raw), (0, 1));
    let put = |w: &mut PcapngWriter<Vec<u8>>, iface, link: Link, ts, p: &Packet| {
        let f = link.wrap(&p.ip, false);
        w.packet(iface, ts, f.len() as u32, &f).unwrap();
    };
    let ts = [
        1_700_000_000_123_456_789,
        1_700_000_000_223_456_789,
        1_700_000_001_000_000_999,
        1_700_000_001_000_001_001,
        // 2^-20 s units: multiples of 1.953125 ms are exact ...
        1_700_000_002_500_000_000,
        // ... and this one loses its last nanosecond.
        1_700_000_002_501_953_126,
    ];
    put(&mut w, eth, Link::Ethernet(vec![]), ts[0], &packets[0]);
    put(&mut w, raw, Link::Raw, ts[1], &packets[1]);
    w.block(0x0BAD_0000, &[1, 2, 3, 4, 5]).unwrap();
    put(&mut w, eth, Link::Ethernet(vec![]), ts[2], &packets[2]);
    put(&mut w, raw, Link::Raw, ts[3], &packets[3]);
    w.section().unwrap();
    let sll2 = w.interface(276, 65535, 0x80 | 20, POW2_OFFSET_S).unwrap();
    assert_eq!(sll2, 0);
    put(&mut w, sll2, Link::Sll2, ts[4], &packets[4]);
    put(&mut w, sll2, Link::Sll2, ts[5], &packets[5]);
    let expected = vec![
        (1_700_000_000_123_456_000, 1),
        (1_700_000_000_223_456_789, 101),
        (1_700_000_001_000_000_000, 1),
        (1_700_000_001_000_001_001, 101),
        (1_700_000_002_500_000_000, 276),
        (1_700_000_002_501_953_125, 276),
    ];
    (w.finish().unwrap(), expected, packets)
}

#[test]
fn test_pcapng_interfaces_resolutions_offsets_sections_both_endians() {
    for endian in [Endian::Little, Endian::Big] {
        let (bytes, expected, packets) = pcapng_mixed(endian);
        let r = CaptureReader::new(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(r.format(), FileFormat::Pcapng);
        let frames = read_all(bytes.clone());
        let got: Vec<(i64, u16)> = frames.iter().map(|f| (f.ts_ns, f.linktype)).collect();
        assert_eq!(got, expected, "{endian:?}");
        // Every frame decodes as the segment it carries: the link type came
        // from the right interface of the right section.
        for (f, p) in frames.iter().zip(&packets) {
            let seg = decode(&f.frame()).unwrap_or_else(|s| panic!("{endian:?}: {s:?}"));
            let tcp_len = p.ip.len() - 20;
            assert_eq!(seg.payload.len(), tcp_len - 20, "{endian:?}");
        }

        let rep = analyze_bytes(bytes, cfg());
        assert_eq!(rep.capture.packets, 6, "{endian:?}");
        assert_eq!(rep.capture.tcp_segments, 6, "{endian:?}");
        assert_eq!(rep.capture.connections_4tuples, 1, "{endian:?}");
        assert_eq!(
            rep.capture.first.map(|t| t.rfc3339()).as_deref(),
            Some("2023-11-14T22:13:20.123456000Z")
        );
        assert_eq!(
            rep.capture.last.map(|t| t.rfc3339()).as_deref(),
            Some("2023-11-14T22:13:22.501953125Z")
        );
        assert_eq!(rep.capture.files[0].format.name(), "pcapng");
        assert_eq!(
            rep.capture.files[0].link_types,
            vec!["EN10MB", "RAW", "LINUX_SLL2"]
        );
        assert_eq!(rep.capture.skipped["unknown_interface"], 0);
        assert!(
            rep.capture.warnings.is_empty(),
            "{:?}",
            rep.capture.warnings
        );
        let conns = rep.connections.as_ref().unwrap();
        assert_eq!(conns.len(), 1);
        assert_eq!(conns[0].requests, 1);
    }
}

/// Sections may differ in byte order: a little-endian file followed by a
/// big-endian one is one valid pcapng.
#[test]
fn test_pcapng_sections_of_different_byte_orders() {
    let (le, le_expected, _) = pcapng_mixed(Endian::Little);
    let (be, be_expected, _) = pcapng_mixed(Endian::Big);
    let mut bytes = le;
    bytes.extend_from_slice(&be);
    let got: Vec<(i64, u16)> = read_all(bytes)
        .iter()
        .map(|f| (f.ts_ns, f.linktype))
        .collect();
    let mut expected = le_expected;
    expected.extend(be_expected);
    assert_eq!(got, expected);
}

// ==========================================================================
// 3. gzip.
// ==========================================================================

#[test]
fn test_gzip_gives_the_same_report() {
    let (packets, _) = conversation(false);
    let plain = pcap(&packets, &Link::Ethernet(vec![]));
    let zipped = gzip(&plain);
    assert_eq!(&zipped[..2], &[0x1f, 0x8b]);
    let r = CaptureReader::new(Cursor::new(zipped.clone())).unwrap();
    assert!(r.gzip());
    assert_eq!(
        r.format(),
        FileFormat::Pcap {
            nanos: true,
            big_endian: false
        }
    );
    assert_eq!(read_all(zipped.clone()), read_all(plain.clone()));

    let a = analyze_bytes(plain, cfg());
    let b = analyze_bytes(zipped, cfg());
    assert_eq!(a.capture.packets, 6);
    assert_eq!(capture_json(&a), capture_json(&b));
    assert_eq!(
        serde_json::to_value(&a.verdict_counts).unwrap(),
        serde_json::to_value(&b.verdict_counts).unwrap()
    );
    assert!(!a.capture.files[0].gzip);
    assert!(b.capture.files[0].gzip);
    assert_eq!(b.capture.files[0].format.name(), "pcap-ns");
}

/// Concatenated gzip members (`cat a.gz b.gz`) are one stream.
#[test]
fn test_gzip_multiple_members() {
    let (packets, _) = conversation(true);
    let plain = pcapng_of(&packets, &Link::Sll2);
    let cut = plain.len() / 2;
    let mut zipped = gzip(&plain[..cut]);
    zipped.extend(gzip(&plain[cut..]));
    assert_eq!(read_all(zipped), read_all(plain));
}

/// Many connections with varied content, so that the compressed stream is
/// long and a cut lands well inside it.
fn many_connections() -> Vec<Packet> {
    let mut all = Vec::new();
    for i in 0..200u16 {
        let mut f = Flow::new(
            (ip("10.0.0.1"), 10000 + i),
            (ip("10.0.0.2"), 8080),
            u32::from(i) * 7919,
            u32::from(i) * 104_729,
        );
        let t = T0 + i64::from(i) * 1_000_000;
        all.extend(f.handshake(t, RTT));
        all.extend(f.exchange(t + 3 * RTT, RTT, &get(&format!("/item/{i}")), &ok(Some(5))));
    }
    all
}

#[test]
fn test_gzip_cut_in_the_middle_keeps_the_packets_before() {
    let packets = many_connections();
    let plain = pcap(&packets, &Link::Ethernet(vec![]));
    let all = read_all(plain.clone());
    let zipped = gzip(&plain);
    let cut = &zipped[..zipped.len() / 2];

    // What a gzip decoder can give from the cut stream: a prefix of the pcap.
    let mut prefix = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(cut);
    let mut buf = [0u8; 4096];
    loop {
        match std::io::Read::read(&mut dec, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => prefix.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(prefix, plain[..prefix.len()]);
    assert!(prefix.len() < plain.len());
    // Whole records in that prefix, and where the first incomplete one starts.
    let mut offset = 24u64;
    let mut whole = 0usize;
    for f in &all {
        if offset + record_len(&f.data) > prefix.len() as u64 {
            break;
        }
        offset += record_len(&f.data);
        whole += 1;
    }
    assert!(whole > 0 && whole < all.len(), "{whole} of {}", all.len());

    let (frames, err) = read_until_error(cut.to_vec());
    assert_eq!(frames, all[..whole]);
    match err {
        Some(ReadError::Truncated { offset: at }) => assert_eq!(at, offset),
        other => panic!("expected Truncated, got {other:?}"),
    }

    let (rep, stats) = run(vec![("cut.pcap.gz", cut.to_vec())]);
    assert_eq!(stats[0].packets, whole as u64);
    assert!(stats[0].gzip);
    let stopped = format!("cut off in the middle of a record at byte {offset}");
    assert_eq!(stats[0].stopped.as_deref(), Some(stopped.as_str()));
    assert_eq!(rep.capture.packets, whole as u64);
    assert_eq!(
        texts(&rep.capture.warnings),
        vec![format!(
            "cut.pcap.gz: {stopped}; the report covers the {whole} packets before it"
        )]
    );
}

// ==========================================================================
// 4. Truncated, damaged and hostile inputs.
// ==========================================================================

#[test]
fn test_empty_input() {
    let r = CaptureReader::new(Cursor::new(Vec::new()));
    assert!(matches!(r, Err(ReadError::Empty)), "{:?}", r.err());
}

/// Deterministic noise (xorshift).
fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn test_not_a_capture() {
    let mut bytes = noise(4096, 0x9E37_79B9_7F4A_7C15);
    bytes[0] = 0x42; // neither gzip (1f) nor a pcap/pcapng magic
    let want = format!(
        "0x{:02x}{:02x}{:02x}{:02x}",
        bytes[0], bytes[1], bytes[2], bytes[3]
    );
    match CaptureReader::new(Cursor::new(bytes)) {
        Err(ReadError::NotACapture(s)) => assert_eq!(s, want),
        other => panic!("expected NotACapture, got {:?}", other.err()),
    }
    // Shorter than any magic.
    match CaptureReader::new(Cursor::new(b"abc".to_vec())) {
        Err(ReadError::NotACapture(s)) => assert_eq!(s, "0x616263"),
        other => panic!("expected NotACapture, got {:?}", other.err()),
    }
    // A text file that happens to be gzip-compressed is still no capture.
    match CaptureReader::new(Cursor::new(gzip(b"hello, world\n"))) {
        Err(ReadError::NotACapture(s)) => assert_eq!(s, "0x68656c6c"),
        other => panic!("expected NotACapture, got {:?}", other.err()),
    }
}

#[test]
fn test_header_only_and_cut_header() {
    let header = pcap_frames(1, &[]);
    assert_eq!(header.len(), 24);
    let (rep, stats) = run(vec![("empty.pcap", header.clone())]);
    assert_eq!(rep.capture.packets, 0);
    assert_eq!(rep.capture.first, None);
    assert_eq!(rep.capture.last, None);
    assert!(
        rep.capture.warnings.is_empty(),
        "{:?}",
        rep.capture.warnings
    );
    assert_eq!(stats[0].stopped, None);
    assert!(rep.findings.is_empty());

    let r = CaptureReader::new(Cursor::new(header[..20].to_vec()));
    assert!(
        matches!(r, Err(ReadError::Truncated { offset: 0 })),
        "{:?}",
        r.err()
    );

    // A pcapng with only its section header.
    let shb = PcapngWriter::new(Vec::new(), Endian::Big)
        .unwrap()
        .finish()
        .unwrap();
    let (rep, _) = run(vec![("empty.pcapng", shb)]);
    assert_eq!(rep.capture.packets, 0);
    assert!(
        rep.capture.warnings.is_empty(),
        "{:?}",
        rep.capture.warnings
    );
}

#[test]
fn test_pcap_cut_in_the_middle_of_a_record() {
    let (packets, _) = conversation(false);
    let frames: Vec<(i64, u32, Vec<u8>)> = packets
        .iter()
        .map(|p| {
            let f = ethernet(p);
            (p.ts_ns, f.len() as u32, f)
        })
        .collect();
    let bytes = pcap_frames(1, &frames);
    let fourth = 24 + frames[..3].iter().map(|f| record_len(&f.2)).sum::<u64>();
    // Cut inside the fourth record's data, then inside its header.
    for cut in [fourth as usize + 16 + 10, fourth as usize + 7] {
        let (rep, stats) = run(vec![("cut.pcap", bytes[..cut].to_vec())]);
        assert_eq!(rep.capture.packets, 3, "cut at {cut}");
        assert_eq!(stats[0].packets, 3);
        let stopped = format!("cut off in the middle of a record at byte {fourth}");
        assert_eq!(stats[0].stopped.as_deref(), Some(stopped.as_str()));
        assert_eq!(
            texts(&rep.capture.warnings),
            vec![format!(
                "cut.pcap: {stopped}; the report covers the 3 packets before it"
            )]
        );
        assert_eq!(rep.capture.tcp_segments, 3);
    }
}

#[test]
fn test_pcapng_cut_in_the_middle_of_a_block() {
    let (packets, _) = conversation(false);
    let bytes = pcapng_of(&packets, &Link::Raw);
    let (rep, stats) = run(vec![("cut.pcapng", bytes[..bytes.len() - 10].to_vec())]);
    assert_eq!(rep.capture.packets, 5);
    let last_block = 12 + 20 + packets[5].ip.len().div_ceil(4) * 4;
    let at = bytes.len() - last_block;
    assert_eq!(
        stats[0].stopped.as_deref(),
        Some(format!("cut off in the middle of a record at byte {at}").as_str())
    );
}

#[test]
fn test_absurd_record_length_after_two_good_records() {
    let (packets, _) = conversation(false);
    for endian in [Endian::Little, Endian::Big] {
        let mut w = PcapWriter::new(Vec::new(), 1, 65535, false, endian).unwrap();
        let mut at = 24u64;
        for p in &packets[..2] {
            let f = ethernet(p);
            w.write(p.ts_ns, f.len() as u32, &f).unwrap();
            at += record_len(&f);
        }
        let mut bytes = w.finish().unwrap();
        let word = |v: u32| match endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        for v in [1_700_000_001, 0, 0x00ff_ffff, 0x00ff_ffff] {
            bytes.extend_from_slice(&word(v));
        }
        bytes.extend_from_slice(&ethernet(&packets[2]));
        // More good-looking records after the damage must not be read.
        bytes.extend_from_slice(&pcap_frames(1, &[(T0, 60, vec![0; 60])])[24..]);
        let (rep, stats) = run(vec![("bad.pcap", bytes)]);
        assert_eq!(rep.capture.packets, 2, "{endian:?}");
        let stopped = format!(
            "damaged record at byte {at}: record length 16777215 is larger than any packet"
        );
        assert_eq!(stats[0].stopped.as_deref(), Some(stopped.as_str()));
        assert_eq!(
            texts(&rep.capture.warnings),
            vec![format!(
                "bad.pcap: {stopped}; the report covers the 2 packets before it"
            )]
        );
    }
}

#[test]
fn test_pcapng_block_with_impossible_length() {
    let (packets, _) = conversation(false);
    let mut bytes = pcapng_of(&packets[..2], &Link::Raw);
    let at = bytes.len();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&13u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 40]);
    let (rep, stats) = run(vec![("bad.pcapng", bytes)]);
    assert_eq!(rep.capture.packets, 2);
    assert_eq!(
        stats[0].stopped.as_deref(),
        Some(
            format!("damaged record at byte {at}: pcapng block of type 0x6 claims length 13")
                .as_str()
        )
    );
}

/// Timestamps 10, 20, 15, 30, 25, 40 s: two packets earlier than the packet
/// before them. Every packet is read, in file order.
#[test]
fn test_backwards_timestamps_are_read_and_counted() {
    let (packets, _) = conversation(false);
    let at = [10.0, 20.0, 15.0, 30.0, 25.0, 40.0];
    let frames: Vec<(i64, u32, Vec<u8>)> = packets
        .iter()
        .zip(at)
        .map(|(p, s)| {
            let f = ethernet(p);
            (secs(s), f.len() as u32, f)
        })
        .collect();
    let bytes = pcap_frames(1, &frames);
    let got: Vec<i64> = read_all(bytes.clone()).iter().map(|f| f.ts_ns).collect();
    assert_eq!(got, at.map(secs));
    let (rep, stats) = run(vec![("back.pcap", bytes)]);
    assert_eq!(rep.capture.packets, 6);
    assert_eq!(stats[0].packets, 6);
    assert_eq!(stats[0].backwards, 2);
    assert_eq!(stats[0].first_ns, Some(secs(10.0)));
    assert_eq!(stats[0].last_ns, Some(secs(40.0)));
    assert_eq!(
        rep.capture.first.map(|t| t.rfc3339()).as_deref(),
        Some("1970-01-01T00:00:10.000000000Z")
    );
    assert_eq!(
        rep.capture.last.map(|t| t.rfc3339()).as_deref(),
        Some("1970-01-01T00:00:40.000000000Z")
    );
    assert_eq!(
        texts(&rep.capture.warnings),
        vec!["back.pcap: 2 packets have timestamps earlier than the packet before them"]
    );
}

/// 10, 30, 20, 25, 40 s: only 20 is earlier than the packet before it
/// (25 follows 20), as `InputStats::backwards` and the warning say.
#[test]
fn test_backwards_counts_against_the_packet_before() {
    let (packets, _) = conversation(false);
    let at = [10.0, 30.0, 20.0, 25.0, 40.0];
    let frames: Vec<(i64, u32, Vec<u8>)> = packets
        .iter()
        .zip(at)
        .map(|(p, s)| {
            let f = ethernet(p);
            (secs(s), f.len() as u32, f)
        })
        .collect();
    let (rep, stats) = run(vec![("back.pcap", pcap_frames(1, &frames))]);
    assert_eq!(stats[0].packets, 5);
    assert_eq!(stats[0].backwards, 1);
    assert_eq!(
        texts(&rep.capture.warnings),
        vec!["back.pcap: 1 packets have timestamps earlier than the packet before them"]
    );
}

/// Packets on interface 7 (never described) and, in a second section, on
/// interface 1 (described only in the first section) are skipped and counted.
#[test]
fn test_pcapng_unknown_interface() {
    let (packets, _) = conversation(false);
    let eth = |p: &Packet| ethernet(p);
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    w.interface(1, 65535, 9, 0).unwrap();
    w.interface(101, 65535, 9, 0).unwrap();
    let f0 = eth(&packets[0]);
    w.packet(0, STAMPS[0], f0.len() as u32, &f0).unwrap();
    w.packet(1, STAMPS[1], 0, &packets[1].ip).unwrap();
    let f2 = eth(&packets[2]);
    w.packet(7, STAMPS[2], f2.len() as u32, &f2).unwrap();
    w.section().unwrap();
    w.interface(1, 65535, 9, 0).unwrap();
    let f3 = eth(&packets[3]);
    w.packet(0, STAMPS[3], f3.len() as u32, &f3).unwrap();
    w.packet(1, STAMPS[4], 0, &packets[4].ip).unwrap();
    let bytes = w.finish().unwrap();

    let got: Vec<i64> = read_all(bytes.clone()).iter().map(|f| f.ts_ns).collect();
    assert_eq!(got, vec![STAMPS[0], STAMPS[1], STAMPS[3]]);

    let (rep, stats) = run(vec![("ifaces.pcapng", bytes)]);
    assert_eq!(stats[0].bad_interface, 2);
    assert_eq!(rep.capture.skipped["unknown_interface"], 2);
    assert_eq!(rep.capture.packets, 5);
    assert_eq!(rep.capture.tcp_segments, 3);
    assert_eq!(
        texts(&rep.capture.warnings),
        vec!["ifaces.pcapng: 2 packets name a pcapng interface that was never described; skipped"]
    );
}

/// A data segment on Ethernet whose capture stops inside the payload.
fn snapped(v6: bool) -> (Vec<u8>, u32) {
    let payload: Vec<u8> = (0..200u8).collect();
    let full = ethernet(&data_packet(v6, &payload));
    let iphdr = if v6 { 40 } else { 20 };
    (full[..14 + iphdr + 20 + 50].to_vec(), full.len() as u32)
}

#[test]
fn test_snaplen_cut_payload_is_decoded_with_its_full_length() {
    for v6 in [false, true] {
        let (data, origlen) = snapped(v6);
        let f = Frame {
            ts_ns: T0,
            linktype: 1,
            origlen,
            data: &data,
        };
        let seg = decode(&f).unwrap_or_else(|s| panic!("v6={v6}: {s:?}"));
        assert_eq!(seg.payload_len, 200, "v6={v6}");
        assert_eq!(seg.payload, (0..50u8).collect::<Vec<_>>(), "v6={v6}");
        assert_eq!((seg.seq, seg.ack), (CLIENT_ISN, SERVER_ISN), "v6={v6}");

        // Through a file and the report: only the cut segment is counted.
        let (c, s) = endpoints(v6);
        let mut flow = Flow::new(c, s, CLIENT_ISN, SERVER_ISN);
        let hs = flow.handshake(T0 - 10 * RTT, RTT);
        let (data, origlen) = {
            let payload: Vec<u8> = (0..200u8).collect();
            let full = ethernet(&flow.data(T0, true, &payload));
            let iphdr = if v6 { 40 } else { 20 };
            (full[..14 + iphdr + 20 + 50].to_vec(), full.len() as u32)
        };
        let mut frames: Vec<(i64, u32, Vec<u8>)> =
            hs.iter().map(|p| (p.ts_ns, 0, ethernet(p))).collect();
        frames.push((T0, origlen, data));
        let reply = flow.ack(T0 + RTT, false);
        frames.push((reply.ts_ns, 0, ethernet(&reply)));
        let bytes = pcap_frames(1, &frames);
        let read = read_all(bytes.clone());
        assert_eq!(read[3].origlen, origlen);
        assert_eq!(read[3].data.len(), 14 + if v6 { 40 } else { 20 } + 20 + 50);
        let rep = analyze_bytes(bytes, cfg());
        assert_eq!(rep.capture.tcp_segments, 5, "v6={v6}");
        assert_eq!(rep.capture.payload_cut_by_snaplen, 1, "v6={v6}");
        // The cut data is not a hole: the server acknowledged all 200 bytes.
        assert_eq!(rep.capture.sequence_holes, 0, "v6={v6}");
    }
}

/// Ethernet pads frames to 60 bytes: a 1-byte segment (a keep-alive probe)
/// is 55 bytes of packet and 5 of padding. Captured with `-s 54`, the IP
/// header still says 1 byte of payload; the frame length says 6.
#[test]
fn test_snaplen_cut_padded_frame_takes_payload_length_from_ip_header() {
    let mut full = ethernet(&data_packet(false, b"x"));
    assert_eq!(full.len(), 55);
    full.resize(60, 0);
    let f = Frame {
        ts_ns: T0,
        linktype: 1,
        origlen: 60,
        data: &full[..54],
    };
    let seg = decode(&f).unwrap_or_else(|s| panic!("{s:?}"));
    assert_eq!(seg.payload_len, 1);
    assert!(seg.payload.is_empty());
}

/// The same padded frame captured whole is fine: the IP length is used.
#[test]
fn test_padded_frame_captured_whole() {
    let mut full = ethernet(&data_packet(false, b"x"));
    full.resize(60, 0);
    let f = Frame {
        ts_ns: T0,
        linktype: 1,
        origlen: 60,
        data: &full,
    };
    let seg = decode(&f).unwrap_or_else(|s| panic!("{s:?}"));
    assert_eq!((seg.payload_len, seg.payload), (1, &b"x"[..]));
}

fn skip_of(linktype: u16, data: &[u8]) -> Result<u32, Skip> {
    let f = Frame {
        ts_ns: T0,
        linktype,
        origlen: data.len() as u32,
        data,
    };
    decode(&f).map(|s| s.payload_len)
}

/// Decodes the first bytes of a longer frame, as a snaplen cut leaves them.
fn cut_of(linktype: u16, data: &[u8], origlen: usize) -> Result<u32, Skip> {
    let f = Frame {
        ts_ns: T0,
        linktype,
        origlen: origlen as u32,
        data,
    };
    decode(&f).map(|s| s.payload_len)
}

#[test]
fn test_frame_cut_inside_the_tcp_header() {
    for v6 in [false, true] {
        let full = ethernet(&data_packet(v6, b"hello"));
        let iphdr = if v6 { 40 } else { 20 };
        let cut = &full[..14 + iphdr + 10];
        let f = Frame {
            ts_ns: T0,
            linktype: 1,
            origlen: full.len() as u32,
            data: cut,
        };
        assert_eq!(decode(&f).unwrap_err(), Skip::TruncatedHeader, "v6={v6}");
        // Cut inside the IP header, and inside the link header.
        assert_eq!(
            cut_of(1, &full[..14 + 8], full.len()),
            Err(Skip::TruncatedHeader)
        );
        assert_eq!(
            cut_of(1, &full[..10], full.len()),
            Err(Skip::TruncatedHeader)
        );
        // The same bytes as a whole frame: the wire packet itself is too short
        // for what its IP header claims.
        assert_eq!(skip_of(1, &full[..14 + 8]), Err(Skip::BadHeader));
        assert_eq!(skip_of(1, &[]), Err(Skip::TruncatedHeader));
    }
    let sll = Link::Sll.wrap(&data_packet(false, b"x").ip, false);
    assert_eq!(skip_of(113, &sll[..12]), Err(Skip::TruncatedHeader));
    let sll2 = Link::Sll2.wrap(&data_packet(false, b"x").ip, false);
    assert_eq!(skip_of(276, &sll2[..18]), Err(Skip::TruncatedHeader));
    assert_eq!(skip_of(0, &[2, 0]), Err(Skip::TruncatedHeader));
    assert_eq!(cut_of(101, &[0x45, 0], 60), Err(Skip::TruncatedHeader));
}

#[test]
fn test_udp_is_another_protocol() {
    for v6 in [false, true] {
        let (c, s) = endpoints(v6);
        let mut ipb = Vec::new();
        match (c.0, s.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                etherparse::PacketBuilder::ipv4(a.octets(), b.octets(), 64)
                    .udp(5353, 53)
                    .write(&mut ipb, b"query")
                    .unwrap()
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                etherparse::PacketBuilder::ipv6(a.octets(), b.octets(), 64)
                    .udp(5353, 53)
                    .write(&mut ipb, b"query")
                    .unwrap()
            }
            _ => unreachable!(),
        }
        for link in [Link::Ethernet(vec![]), Link::Raw, Link::Sll2] {
            let f = link.wrap(&ipb, v6);
            assert_eq!(
                skip_of(link.linktype(v6), &f),
                Err(Skip::OtherProtocol),
                "{link:?} v6={v6}"
            );
        }
    }
}

#[test]
fn test_non_ip_ether_types() {
    let mac = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    // ARP request: who has 10.0.0.2, tell 10.0.0.1.
    let arp_body = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ];
    let mut arp = mac.to_vec();
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&arp_body);
    assert_eq!(skip_of(1, &arp), Err(Skip::NonIp));
    // LLDP.
    let mut lldp = mac.to_vec();
    lldp.extend_from_slice(&[0x88, 0xcc]);
    lldp.extend_from_slice(&[0x02, 0x07, 0x04, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(skip_of(1, &lldp), Err(Skip::NonIp));
    // ARP on a VLAN.
    let mut tagged = mac.to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x06]);
    tagged.extend_from_slice(&arp_body);
    assert_eq!(skip_of(1, &tagged), Err(Skip::NonIp));
    // ARP in Linux cooked captures v1 and v2.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x06];
    sll.extend_from_slice(&arp_body);
    assert_eq!(skip_of(113, &sll), Err(Skip::NonIp));
    let mut sll2 = vec![
        0x08, 0x06, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&arp_body);
    assert_eq!(skip_of(276, &sll2), Err(Skip::NonIp));

    // Through the report.
    let (packets, _) = conversation(false);
    let mut frames: Vec<(i64, u32, Vec<u8>)> = vec![(T0 - 1, 0, arp), (T0 - 1, 0, lldp)];
    frames.extend(packets.iter().map(|p| (p.ts_ns, 0, ethernet(p))));
    let rep = analyze_bytes(pcap_frames(1, &frames), cfg());
    assert_eq!(rep.capture.packets, 8);
    assert_eq!(rep.capture.tcp_segments, 6);
    assert_eq!(rep.capture.skipped["non_ip"], 2);
}

#[test]
fn test_ip_fragments() {
    let p = data_packet(false, b"hello fragments");
    // More fragments follow.
    let mut first = p.ip.clone();
    first[6] |= 0x20;
    assert_eq!(skip_of(101, &first), Err(Skip::IpFragment));
    // The last fragment (offset 185 × 8 bytes, no MF).
    let mut last = p.ip.clone();
    last[6] = 0;
    last[7] = 185;
    assert_eq!(skip_of(101, &last), Err(Skip::IpFragment));
    // Don't-fragment alone is no fragment.
    let mut df = p.ip.clone();
    df[6] = 0x40;
    assert_eq!(skip_of(101, &df), Ok(15));

    // IPv6: a fragment header (next header 44) with M set.
    let v6 = data_packet(true, b"hello fragments");
    let mut frag = v6.ip[..40].to_vec();
    frag[6] = 44;
    let plen = u16::from_be_bytes([frag[4], frag[5]]) + 8;
    frag[4..6].copy_from_slice(&plen.to_be_bytes());
    frag.extend_from_slice(&[6, 0, 0x00, 0x01, 0, 0, 0x12, 0x34]);
    frag.extend_from_slice(&v6.ip[40..]);
    assert_eq!(skip_of(101, &frag), Err(Skip::IpFragment));
    let rep = analyze_bytes(pcap_frames(101, &[(T0, 0, first), (T0, 0, frag)]), cfg());
    assert_eq!(rep.capture.skipped["ip_fragment"], 2);
    assert_eq!(rep.capture.tcp_segments, 0);
}

#[test]
fn test_unknown_link_type() {
    let p = data_packet(false, b"x");
    assert_eq!(skip_of(147, &ethernet(&p)), Err(Skip::UnsupportedLinkType));
    let rep = analyze_bytes(pcap_frames(147, &[(T0, 0, ethernet(&p))]), cfg());
    assert_eq!(rep.capture.packets, 1);
    assert_eq!(rep.capture.skipped["unsupported_link_type"], 1);
    assert_eq!(rep.capture.files[0].link_types, vec!["linktype-147"]);
}

/// BIG TCP / GSO: an IPv4 total length of 0 means "as long as the frame".
#[test]
fn test_ipv4_total_length_zero() {
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let mut p = data_packet(false, &payload);
    p.ip[2] = 0;
    p.ip[3] = 0;
    for link in [Link::Raw, Link::Ethernet(vec![]), Link::Sll] {
        let frame = link.wrap(&p.ip, false);
        let f = Frame {
            ts_ns: T0,
            linktype: link.linktype(false),
            origlen: frame.len() as u32,
            data: &frame,
        };
        let seg = decode(&f).unwrap_or_else(|s| panic!("{link:?}: {s:?}"));
        assert_eq!(seg.payload_len, 1000, "{link:?}");
        assert_eq!(seg.payload, payload.as_slice(), "{link:?}");
        // Also cut by the snaplen: the original length bounds the payload.
        let head = frame.len() - 1000;
        let f = Frame {
            data: &frame[..head + 100],
            ..f
        };
        let seg = decode(&f).unwrap_or_else(|s| panic!("{link:?}: {s:?}"));
        assert_eq!(seg.payload_len, 1000, "{link:?}");
        assert_eq!(seg.payload, &payload[..100], "{link:?}");
    }
}

/// A TCP data offset of 15 words (60 bytes) in a packet that has 20 bytes
/// of TCP header and 3 of payload; and one of 2 words, below the minimum.
#[test]
fn test_tcp_data_offset_out_of_bounds() {
    for v6 in [false, true] {
        let p = data_packet(v6, b"abc");
        let tcp = if v6 { 40 } else { 20 };
        let mut past = p.ip.clone();
        past[tcp + 12] = 0xf0 | (past[tcp + 12] & 0x0f);
        // The whole packet was captured: the header is wrong, not cut.
        assert_eq!(skip_of(101, &past), Err(Skip::BadHeader), "v6={v6}");
        let mut small = p.ip.clone();
        small[tcp + 12] = 0x20 | (small[tcp + 12] & 0x0f);
        assert_eq!(skip_of(101, &small), Err(Skip::BadHeader), "v6={v6}");
    }
}

#[test]
fn test_bad_ip_headers() {
    let p = data_packet(false, b"abc");
    let mut version = p.ip.clone();
    version[0] = 0x55;
    assert_eq!(skip_of(101, &version), Err(Skip::BadHeader));
    let mut ihl = p.ip.clone();
    ihl[0] = 0x43;
    assert_eq!(skip_of(101, &ihl), Err(Skip::BadHeader));
}

// ==========================================================================
// 5. Several inputs merged into one timeline.
// ==========================================================================

/// The stale keep-alive race (see synthetic.rs) plus a clean connection.
fn race_packets() -> Vec<Packet> {
    let mut f = flow_v4();
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(5))));
    let last = secs(0.01) + RTT;
    p.push(f.fin(last + secs(5.0), false));
    p.push(f.ack(last + secs(5.0) + RTT / 2, true));
    p.push(f.data(secs(19.8), true, get("/callback").as_bytes()));
    p.push(f.rst(secs(19.8) + RTT / 2, false));
    let mut g = Flow::new((ip("10.0.0.1"), 40001), (ip("10.0.0.2"), 8080), 5, 7);
    p.extend(g.handshake(secs(1.0), RTT));
    p.extend(g.exchange(secs(2.0), RTT, &get("/b"), &ok(Some(5))));
    p.push(g.fin(secs(3.0), true));
    p.push(g.fin(secs(3.0) + RTT, false));
    p.push(g.ack(secs(3.0) + 2 * RTT, true));
    for q in &mut p {
        q.ts_ns += T0;
    }
    p.sort_by_key(|q| q.ts_ns);
    p
}

fn compare_reports(merged: &Report, single: &Report) {
    assert_eq!(merged.verdict_counts, single.verdict_counts);
    assert_eq!(merged.findings.len(), single.findings.len());
    assert_eq!(
        serde_json::to_value(&merged.findings).unwrap(),
        serde_json::to_value(&single.findings).unwrap()
    );
    assert_eq!(
        serde_json::to_value(&merged.connections).unwrap(),
        serde_json::to_value(&single.connections).unwrap()
    );
    assert_eq!(merged.capture.packets, single.capture.packets);
    assert_eq!(merged.capture.first, single.capture.first);
    assert_eq!(merged.capture.last, single.capture.last);
    assert_eq!(merged.capture.tcp_segments, single.capture.tcp_segments);
    assert_eq!(merged.capture.connections, single.capture.connections);
}

#[test]
fn test_interleaved_inputs_are_merged_in_time_order() {
    let p = race_packets();
    let single = analyze_bytes(pcap(&p, &Link::Ethernet(vec![])), cfg());
    assert_eq!(single.verdict_counts["keepalive_race"], 1);
    assert_eq!(single.findings.len(), 1);
    assert!(
        single.capture.warnings.is_empty(),
        "{:?}",
        single.capture.warnings
    );

    // Alternate packets between the two files: each file alone is nonsense.
    let a: Vec<Packet> = p.iter().step_by(2).cloned().collect();
    let b: Vec<Packet> = p.iter().skip(1).step_by(2).cloned().collect();
    let link = Link::Ethernet(vec![]);
    let (merged, stats) = run(vec![
        ("a.pcap", pcap(&a, &link)),
        ("b.pcap", pcap(&b, &link)),
    ]);
    compare_reports(&merged, &single);
    assert_eq!(merged.capture.packets, p.len() as u64);
    assert_eq!(
        (stats[0].packets, stats[1].packets),
        (a.len() as u64, b.len() as u64)
    );
    assert_eq!(
        texts(&merged.capture.warnings),
        vec!["a.pcap and b.pcap overlap in time; their packets were merged in timestamp order"]
    );
    assert_eq!(merged.capture.files.len(), 2);

    // The merge itself, frame by frame.
    let readers = vec![
        (
            "a".to_string(),
            CaptureReader::new(Cursor::new(pcap(&a, &link))).unwrap(),
        ),
        (
            "b".to_string(),
            CaptureReader::new(Cursor::new(pcap(&b, &link))).unwrap(),
        ),
    ];
    let mut m = Merged::new(readers).unwrap();
    let mut got = Vec::new();
    while let Some((i, f)) = m.next_frame().unwrap() {
        got.push((i, f.ts_ns, f.data.to_vec()));
    }
    let want: Vec<(usize, i64, Vec<u8>)> = p
        .iter()
        .enumerate()
        .map(|(n, q)| (n % 2, q.ts_ns, ethernet(q)))
        .collect();
    assert_eq!(got, want);
}

/// Files given latest first, not overlapping: merged in time order, no
/// overlap warning.
#[test]
fn test_consecutive_inputs_given_out_of_order() {
    let p = race_packets();
    let link = Link::Ethernet(vec![]);
    let single = analyze_bytes(pcap(&p, &link), cfg());
    let half = p.len() / 2;
    let (early, late) = p.split_at(half);
    let (merged, stats) = run(vec![
        ("late.pcap", pcap(late, &link)),
        ("early.pcap", pcap(early, &link)),
    ]);
    compare_reports(&merged, &single);
    assert_eq!(stats[1].last_ns, Some(early[half - 1].ts_ns));
    assert_eq!(stats[0].first_ns, Some(late[0].ts_ns));
    assert!(
        merged.capture.warnings.is_empty(),
        "{:?}",
        merged.capture.warnings
    );
}

/// Three inputs in different formats (pcap, gzip pcapng, big-endian µs
/// pcap) and link layers merged into one connection.
#[test]
fn test_merge_across_formats_and_links() {
    let p = race_packets();
    let single = analyze_bytes(pcap(&p, &Link::Ethernet(vec![])), cfg());
    let parts: [Vec<Packet>; 3] =
        std::array::from_fn(|k| p.iter().skip(k).step_by(3).cloned().collect());
    let first = pcap(&parts[0], &Link::Sll);
    let second = gzip(&pcapng_of(&parts[1], &Link::Raw));
    let mut w = PcapWriter::new(Vec::new(), 1, 65535, true, Endian::Big).unwrap();
    for q in &parts[2] {
        let f = ethernet(q);
        w.write(q.ts_ns, f.len() as u32, &f).unwrap();
    }
    let third = w.finish().unwrap();
    let (merged, stats) = run(vec![("one", first), ("two", second), ("three", third)]);
    compare_reports(&merged, &single);
    assert_eq!(stats.iter().map(|s| s.packets).sum::<u64>(), p.len() as u64);
    assert_eq!(
        merged.capture.warnings.len(),
        3,
        "{:?}",
        merged.capture.warnings
    );
    assert!(merged.capture.warnings.iter().all(|w| {
        w.to_string()
            .ends_with("overlap in time; their packets were merged in timestamp order")
    }));
}

// ==========================================================================
// Regressions found in review: inputs that crashed or allocated without bound.
// ==========================================================================

/// Runs the whole pipeline on bytes and returns the report and the reason
/// the input stopped, if any; the point is that it returns at all.
fn survive(bytes: Vec<u8>) -> (Report, Option<String>) {
    let reader = CaptureReader::new(Cursor::new(bytes)).expect("a capture header");
    let (report, stats) =
        pipeline::run(vec![("hostile".into(), reader)], Config::default()).expect("no fatal error");
    (report, stats[0].stopped.clone())
}

#[test]
fn test_pcapng_simple_packet_block_too_short() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    w.interface(1, 65535, 9, 0).unwrap();
    // A simple packet block (type 3) of total length 12: no room for its
    // original-length field, let alone data.
    let mut bytes = w.finish().unwrap();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&12u32.to_le_bytes());
    bytes.extend_from_slice(&12u32.to_le_bytes());
    bytes.extend_from_slice(&[0xff; 8]);
    let (r, stopped) = survive(bytes);
    assert_eq!(r.capture.packets, 0);
    assert!(stopped.unwrap().contains("damaged"));
}

#[test]
fn test_pcap_snaplen_does_not_license_huge_records() {
    let mut w = PcapWriter::new(Vec::new(), 1, u32::MAX, false, Endian::Little).unwrap();
    w.write(T0, 60, &[0u8; 60]).unwrap();
    let mut bytes = w.finish().unwrap();
    // A record header claiming 4 GB, then nothing.
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&0xfff0_0000u32.to_le_bytes());
    bytes.extend_from_slice(&0xfff0_0000u32.to_le_bytes());
    let (r, stopped) = survive(bytes);
    assert_eq!(r.capture.packets, 1);
    assert!(stopped.unwrap().contains("damaged"));
}

#[test]
fn test_deep_vlan_stack_in_cooked_capture() {
    // SLL header announcing a VLAN tag, then thousands of tags.
    let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x81, 0x00];
    for _ in 0..20_000 {
        frame.extend_from_slice(&[0x00, 0x01, 0x81, 0x00]);
    }
    let f = Frame {
        ts_ns: T0,
        linktype: 113,
        origlen: frame.len() as u32,
        data: &frame,
    };
    assert_eq!(decode(&f).unwrap_err(), Skip::BadHeader);
}

#[test]
fn test_big_tcp_with_absurd_original_length() {
    let p = data_packet(false, b"hello");
    let mut ipb = p.ip.clone();
    ipb[2] = 0;
    ipb[3] = 0; // total length 0: BIG TCP, the frame's length is all we have
    let frame = ethernet(&Packet { ip: ipb, ..p });
    let f = Frame {
        ts_ns: T0,
        linktype: 1,
        origlen: u32::MAX,
        data: &frame,
    };
    let seg = decode(&f).unwrap();
    assert!(seg.payload_len <= 1 << 20, "{}", seg.payload_len);
    // And the pipeline takes it.
    let mut w = PcapWriter::new(Vec::new(), 1, 65535, true, Endian::Little).unwrap();
    w.write(T0, u32::MAX, &frame).unwrap();
    let (r, _) = survive(w.finish().unwrap());
    assert_eq!(r.capture.tcp_segments, 1);
}

#[test]
fn test_extreme_pcapng_timestamp_offsets() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    let early = w.interface(1, 65535, 9, -(1i64 << 62)).unwrap();
    let late = w.interface(1, 65535, 9, 1i64 << 62).unwrap();
    let p = data_packet(false, b"x");
    let frame = ethernet(&p);
    w.packet(early, 0, frame.len() as u32, &frame).unwrap();
    w.packet(late, 0, frame.len() as u32, &frame).unwrap();
    let (r, _) = survive(w.finish().unwrap());
    assert_eq!(r.capture.packets, 2);
    assert!(r.capture.duration_s.is_finite());
}

/// Every input the fuzzers found to crash, hang or exhaust memory, replayed
/// (fuzz/regressions: `reader-*` and `pipeline-*` are whole captures,
/// `decode-*` a frame as the decode target reads it). Debug builds check
/// arithmetic overflow, so this also guards the time arithmetic.
#[test]
fn test_fuzz_regressions() {
    let dir = std::path::Path::new("fuzz/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if name.starts_with("decode-") {
            if let [pick, cut, data @ ..] = bytes.as_slice() {
                let linktypes = racecap::decode::linktype::FUZZ_TABLE;
                let f = Frame {
                    ts_ns: T0,
                    linktype: linktypes[*pick as usize % linktypes.len()],
                    origlen: (data.len() + usize::from(*cut)) as u32,
                    data,
                };
                let _ = decode(&f);
            }
        } else if let Ok(reader) = CaptureReader::new(Cursor::new(bytes)) {
            let _ = pipeline::run(vec![(name.clone(), reader)], Config::default());
        }
        n += 1;
    }
    assert!(n >= 4, "only {n} regression inputs");
}

/// TCP options are stepped over, not read: the payload starts after them,
/// through the NOP NOP TS layout of Linux's own segments (the lab
/// recording, where every data segment carries a timestamp) and the
/// generator's SYN options.
#[test]
fn test_tcp_options_are_skipped() {
    let lab = std::fs::read("fixtures/lab/get-races.backend.pcap").expect("lab fixture");
    let frames = read_all(lab);
    let mut data = 0;
    for (n, f) in frames.iter().enumerate() {
        let Ok(seg) = decode(&f.frame()) else {
            continue;
        };
        if seg.payload_len == 0 {
            continue;
        }
        data += 1;
        // Every payload of this recording is a request or a response head.
        assert!(
            seg.payload.starts_with(b"GET ") || seg.payload.starts_with(b"HTTP/1.1 "),
            "frame {n}: {:?}",
            &seg.payload[..seg.payload.len().min(16)]
        );
    }
    assert!(data > 20, "{data}");

    let mut f = flow_v4();
    f.options = true;
    let syn = f.seg(T0, true, flags::SYN, b"", None);
    let data = f.data(T0 + 5_000_000, true, b"GET / HTTP/1.1\r\n\r\n");
    let rst = f.rst(T0 + 9_000_000, false);
    let link = Link::Ethernet(vec![]);
    let decoded: Vec<_> = read_all(pcap(&[syn, data, rst], &link))
        .iter()
        .map(|f| {
            let s = decode(&f.frame()).expect("a TCP segment");
            (s.payload_len, s.payload.to_vec())
        })
        .collect();
    assert_eq!(
        decoded,
        vec![
            (0, vec![]),
            (18, b"GET / HTTP/1.1\r\n\r\n".to_vec()),
            (0, vec![])
        ]
    );
}

/// The threaded pipeline (`pipeline::run`: reading and decoding on their own
/// thread, a prefix of each payload handed over) gives exactly the report
/// of feeding every whole frame to `Analyzer::frame` on one thread: on the
/// lab's real recordings and on a generated capture with races, options
/// and every kind of close. So does it with the HTTP/1 heads read on either
/// thread: each segment's answers are the same either way, so any mix of
/// the two that `Heads::Balanced` makes batch by batch is too.
#[test]
fn test_threaded_pipeline_equals_frame_by_frame() {
    use crate::synth::Workload;
    use racecap::analyzer::Analyzer;
    let mut captures: Vec<(String, Vec<u8>)> = ["get-races", "post-races", "control"]
        .iter()
        .flat_map(|n| ["backend", "proxy-any"].map(|p| format!("fixtures/lab/{n}.{p}.pcap")))
        .map(|p| (p.clone(), std::fs::read(&p).expect("lab fixture")))
        .collect();
    let (packets, races) = Workload::bench(400, 6, false).packets();
    assert!(races > 0);
    captures.push(("generated".into(), pcap(&packets, &Link::Ethernet(vec![]))));
    for (name, bytes) in captures {
        let (threaded, _) = run(vec![(&name, bytes.clone())]);
        let reader = CaptureReader::new(Cursor::new(bytes.clone())).expect("a capture");
        let mut merged = Merged::new(vec![(name.clone(), reader)]).expect("readable");
        let mut a = Analyzer::new(cfg());
        while let Some((_, frame)) = merged.next_frame().expect("readable") {
            a.frame(&frame);
        }
        let single = a.finish(&merged.stats());
        let single = serde_json::to_value(&single).unwrap();
        assert_eq!(serde_json::to_value(&threaded).unwrap(), single, "{name}");
        for heads in [pipeline::Heads::Reader, pipeline::Heads::Analysis] {
            let reader = CaptureReader::new(Cursor::new(bytes.clone())).expect("a capture");
            let (placed, _) =
                pipeline::run_with(vec![(name.clone(), reader)], cfg(), &mut |_| {}, heads)
                    .expect("readable");
            let placed = serde_json::to_value(&placed).unwrap();
            assert_eq!(placed, single, "{name}, heads read by {heads:?}");
        }
    }
}
