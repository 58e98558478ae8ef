//! One fragment as its IP header tells it: the IPv4 header's fields, or
//! the IPv6 fragment header found past the extension headers that may
//! precede it (RFC 791 §3.1, RFC 8200 §4.1 and §4.5).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv6 extension headers that may precede the fragment header (RFC 8200
/// §4.1): hop-by-hop options, routing, destination options; and the
/// fragment header itself.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const DEST_OPTS: u8 = 60;
const FRAGMENT: u8 = 44;

/// A datagram's identity (RFC 791: source, destination, protocol and
/// identification; RFC 8200: source, destination and identification),
/// within one input and VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) id: u32,
    /// IPv4's protocol; 0 for IPv6, whose fragments may name different
    /// next headers (only the first one's counts, RFC 8200 §4.5).
    pub(super) proto: u8,
    pub(super) vlan: u32,
    pub(super) input: u32,
}

/// One fragment as its IP header tells it.
pub(super) struct Piece<'a> {
    pub(super) key: Key,
    pub(super) v6: bool,
    /// The upper protocol, when this fragment tells it.
    pub(super) proto: Option<u8>,
    pub(super) offset: u32,
    pub(super) more: bool,
    /// Its payload's declared length, and the captured part of it.
    pub(super) len: u32,
    pub(super) bytes: &'a [u8],
}

pub(super) fn header_len(v6: bool) -> usize {
    if v6 { 40 } else { 20 }
}

pub(super) fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// The fragment in an IP packet, or None when the packet is no fragment
/// (the fragment was a tunnel's inner packet) or its header is impossible.
pub(super) fn parse(ip: &[u8], input: u32, vlan: u32) -> Option<Piece<'_>> {
    match ip.first()? >> 4 {
        4 => parse_v4(ip, input, vlan),
        6 => parse_v6(ip, input, vlan),
        _ => None,
    }
}

fn parse_v4(ip: &[u8], input: u32, vlan: u32) -> Option<Piece<'_>> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let flags_offset = u16::from_be_bytes([ip[6], ip[7]]);
    let more = flags_offset & 0x2000 != 0;
    let offset = u32::from(flags_offset & 0x1fff) * 8;
    if (!more && offset == 0) || total < ihl {
        return None;
    }
    let len = (total - ihl) as u32;
    // RFC 791: every fragment but the last carries a multiple of 8 bytes.
    if more && !len.is_multiple_of(8) {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    Some(Piece {
        key: Key {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            id: u32::from(u16::from_be_bytes([ip[4], ip[5]])),
            proto: ip[9],
            vlan,
            input,
        },
        v6: false,
        proto: Some(ip[9]),
        offset,
        more,
        len,
        bytes: &ip[ihl..total.min(ip.len())],
    })
}

fn parse_v6(ip: &[u8], input: u32, vlan: u32) -> Option<Piece<'_>> {
    if ip.len() < 40 {
        return None;
    }
    let end = 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let (mut next, mut at) = (ip[6], 40usize);
    // Walk the headers before the fragment header (a handful at most).
    for _ in 0..8 {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                next = *ip.get(at)?;
                at += (usize::from(*ip.get(at + 1)?) + 1) * 8;
            }
            FRAGMENT => {
                let h = ip.get(at..at + 8)?;
                let body = at + 8;
                let field = u16::from_be_bytes([h[2], h[3]]);
                let (offset, more) = (u32::from(field >> 3) * 8, field & 1 != 0);
                if end < body {
                    return None;
                }
                let len = (end - body) as u32;
                if more && !len.is_multiple_of(8) {
                    return None;
                }
                let src: [u8; 16] = ip[8..24].try_into().ok()?;
                let dst: [u8; 16] = ip[24..40].try_into().ok()?;
                return Some(Piece {
                    key: Key {
                        src: IpAddr::V6(src.into()),
                        dst: IpAddr::V6(dst.into()),
                        id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                        proto: 0,
                        vlan,
                        input,
                    },
                    v6: true,
                    proto: (offset == 0).then_some(h[0]),
                    offset,
                    more,
                    len,
                    bytes: ip.get(body..end.min(ip.len())).unwrap_or(&[]),
                });
            }
            _ => return None,
        }
    }
    None
}
