//! Races inside tunnels (issue 23): a node's uplink in Calico, Cilium or
//! Flannel clusters carries pod traffic in VXLAN, Geneve, GRE or IP-in-IP.
//! The same generated races, plain and in each tunnel, give the same
//! findings.

use etherparse::{IpNumber, PacketBuilder};

use crate::synth::{Packet, Workload, fragments};
use crate::util::analyze;

/// Outer addresses from TEST-NET-1 (RFC 5737): bytes in a capture only.
const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [192, 0, 2, 2];

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(A, B, 64)
        .write(&mut out, IpNumber(proto), payload)
        .unwrap();
    out
}

fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(A, B, 64)
        .udp(40000, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// An inner packet as an Ethernet frame (for VXLAN and Geneve).
fn ether(ip: &[u8], v6: bool) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    f.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    f.extend_from_slice(ip);
    f
}

fn tunnel(packets: &[Packet], wrap: impl Fn(&Packet) -> Vec<u8>) -> Vec<Packet> {
    packets
        .iter()
        .map(|p| Packet {
            ts_ns: p.ts_ns,
            ip: wrap(p),
            v6: false,
        })
        .collect()
}

#[test]
fn test_23_races_inside_tunnels() {
    let (mut packets, races) = Workload::bench(60, 6, false).packets();
    packets.sort_by_key(|p| p.ts_ns);
    assert!(races > 0);
    let plain = analyze(&packets);
    assert_eq!(plain.races(), races);
    let shapes: Vec<(&str, Vec<Packet>)> = vec![
        ("ipip", tunnel(&packets, |p| ipv4(4, &p.ip))),
        (
            "gre",
            tunnel(&packets, |p| {
                let mut g = vec![0x20, 0, 0x08, 0x00, 0, 0, 0, 7]; // with a key
                g.extend_from_slice(&p.ip);
                ipv4(47, &g)
            }),
        ),
        (
            "vxlan",
            tunnel(&packets, |p| {
                let mut v = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
                v.extend(ether(&p.ip, p.v6));
                udp(4789, &v)
            }),
        ),
        (
            "flannel-vxlan",
            tunnel(&packets, |p| {
                let mut v = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
                v.extend(ether(&p.ip, p.v6));
                udp(8472, &v)
            }),
        ),
        (
            "geneve",
            tunnel(&packets, |p| {
                // Version 0, one 4-byte option, Ethernet inside.
                let mut g = vec![0x01, 0, 0x65, 0x58, 0, 0, 9, 0, 0, 0, 0, 0];
                g.extend(ether(&p.ip, p.v6));
                udp(6081, &g)
            }),
        ),
    ];
    for (name, wrapped) in shapes {
        let r = analyze(&wrapped);
        assert_eq!(r.races(), races, "{name}");
        assert_eq!(r.findings.len(), plain.findings.len(), "{name}");
        assert_eq!(r.capture.tcp_segments, plain.capture.tcp_segments, "{name}");
    }
}

/// Every packet split into 64-byte fragments, each with an id of its own.
fn fragmented(packets: &[Packet]) -> Vec<Packet> {
    packets
        .iter()
        .enumerate()
        .flat_map(|(i, p)| fragments(p, 64, i as u32))
        .collect()
}

fn vxlan(p: &Packet) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    v.extend(ether(&p.ip, p.v6));
    udp(4789, &v)
}

#[test]
fn test_23_fragments_inside_and_around_tunnels() {
    let (mut packets, races) = Workload::bench(60, 6, false).packets();
    packets.sort_by_key(|p| p.ts_ns);
    let plain = analyze(&packets);
    assert_eq!(plain.races(), races);
    let inner = fragmented(&packets);
    let shapes: Vec<(&str, Vec<Packet>)> = vec![
        // A pod's packets fragmented before the node encapsulated them:
        // whole outer packets, one inner fragment each.
        ("vxlan around fragments", tunnel(&inner, vxlan)),
        (
            "gre around fragments",
            tunnel(&inner, |p| {
                ipv4(47, &[&[0, 0, 0x08, 0][..], &p.ip].concat())
            }),
        ),
        ("ipip around fragments", tunnel(&inner, |p| ipv4(4, &p.ip))),
        // Whole pod packets, the node's VXLAN packets fragmented on the
        // underlay.
        ("fragmented vxlan", fragmented(&tunnel(&packets, vxlan))),
    ];
    for (name, wrapped) in shapes {
        let r = analyze(&wrapped);
        assert_eq!(r.races(), races, "{name}");
        assert_eq!(r.findings.len(), plain.findings.len(), "{name}");
        assert_eq!(r.capture.tcp_segments, plain.capture.tcp_segments, "{name}");
        let frags = r.capture.ip_fragments.unwrap();
        assert!(frags.reassembled > 0, "{name}");
        assert_eq!(frags.dropped, 0, "{name}");
        assert!(
            r.capture.warnings.is_empty(),
            "{name}: {:?}",
            r.capture.warnings
        );
    }
}
