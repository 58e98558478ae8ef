//! Tunnels opened to the TCP inside: a node's uplink in Calico, Cilium or
//! Flannel clusters carries pod traffic in VXLAN (UDP 4789, Flannel's
//! 8472), Geneve (UDP 6081), GRE or IP-in-IP, and the races are inside.
//! Each is a header before an Ethernet frame or an IP packet; the decoder
//! then reads that as it reads a frame's own.

use super::Skip;
use super::link::ethernet;

/// UDP ports that carry VXLAN: IANA's (RFC 7348) and Flannel's default.
pub const VXLAN_PORTS: [u16; 2] = [4789, 8472];

/// UDP port of Geneve (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;

/// IP protocol numbers of IP-in-IP (RFC 2003), IPv6 encapsulation (RFC
/// 2473, also IPv6 in IPv4: 6in4), GRE (RFC 2784) and UDP.
const IPIP: u8 = 4;
const IPV6: u8 = 41;
const GRE: u8 = 47;
const UDP: u8 = 17;

/// EtherTypes a tunnel header names.
const ETHER_IPV4: u16 = 0x0800;
const ETHER_IPV6: u16 = 0x86dd;
const ETHER_BRIDGED: u16 = 0x6558;

/// The IP packet inside `payload` (of IP protocol `proto`), when it is a
/// tunnel racecap opens; None when it is none (plain UDP, ICMP, …).
pub fn inner(proto: u8, payload: &[u8]) -> Option<Result<&[u8], Skip>> {
    match proto {
        IPIP | IPV6 => Some(Ok(payload)),
        GRE => Some(gre(payload)),
        UDP => udp(payload),
        _ => None,
    }
}

/// What an EtherType in a tunnel header says follows.
fn by_ethertype(proto: u16, rest: &[u8]) -> Result<&[u8], Skip> {
    match proto {
        ETHER_IPV4 | ETHER_IPV6 => Ok(rest),
        ETHER_BRIDGED => ethernet(rest).map(|(ip, _)| ip),
        _ => Err(Skip::OtherProtocol),
    }
}

/// GRE (RFC 2784, with RFC 2890's key and sequence number): 4 bytes, and 4
/// more for each of the checksum, key and sequence flags.
fn gre(p: &[u8]) -> Result<&[u8], Skip> {
    let [flags, version, hi, lo, ..] = *p else {
        return Err(Skip::TruncatedHeader);
    };
    if version & 0x07 != 0 {
        // Version 1 is PPTP's enhanced GRE: PPP inside, not IP.
        return Err(Skip::OtherProtocol);
    }
    let at = 4 + [0x80u8, 0x20, 0x10]
        .iter()
        .filter(|&&bit| flags & bit != 0)
        .count()
        * 4;
    let rest = p.get(at..).ok_or(Skip::TruncatedHeader)?;
    by_ethertype(u16::from_be_bytes([hi, lo]), rest)
}

/// VXLAN and Geneve, by their UDP destination port.
fn udp(p: &[u8]) -> Option<Result<&[u8], Skip>> {
    let dport = u16::from_be_bytes([*p.get(2)?, *p.get(3)?]);
    let body = p.get(8..)?;
    if VXLAN_PORTS.contains(&dport) {
        // 8 bytes; the I flag says the VNI is valid (RFC 7348 §5).
        let flags = *body.first()?;
        if flags & 0x08 == 0 {
            return None;
        }
        return Some(match body.get(8..) {
            Some(frame) => ethernet(frame).map(|(ip, _)| ip),
            None => Err(Skip::TruncatedHeader),
        });
    }
    if dport == GENEVE_PORT {
        // 8 bytes and the options (RFC 8926 §3.4); version 0 only.
        let [first, _, hi, lo, ..] = *body else {
            return Some(Err(Skip::TruncatedHeader));
        };
        if first >> 6 != 0 {
            return None;
        }
        let at = 8 + usize::from(first & 0x3f) * 4;
        return Some(match body.get(at..) {
            Some(rest) => by_ethertype(u16::from_be_bytes([hi, lo]), rest),
            None => Err(Skip::TruncatedHeader),
        });
    }
    None
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_gre_header_lengths() {
        // No flags, IPv4 inside.
        assert_eq!(gre(&[0, 0, 0x08, 0x00, 0x45]), Ok(&[0x45][..]));
        // Key and sequence: 12 bytes.
        let mut p = vec![0x30, 0, 0x86, 0xdd];
        p.extend([0; 8]);
        p.push(0x60);
        assert_eq!(gre(&p), Ok(&[0x60][..]));
        // PPTP's version 1, and a cut header.
        assert_eq!(gre(&[0x30, 1, 0x88, 0x0b]), Err(Skip::OtherProtocol));
        assert_eq!(gre(&[0x80, 0, 0x08, 0x00]), Err(Skip::TruncatedHeader));
    }

    #[test]
    fn test_udp_ports() {
        // Plain UDP (DNS) is no tunnel.
        assert_eq!(udp(&[0, 53, 0, 53, 0, 8, 0, 0]), None);
        // VXLAN without the I flag is not taken for one.
        let mut v = vec![0, 1, 0x12, 0xb5, 0, 16, 0, 0];
        v.extend([0u8; 8]);
        assert_eq!(udp(&v), None);
    }
}
