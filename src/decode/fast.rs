//! The common cases by fixed offsets: a whole, unfragmented IPv4 packet
//! without options, or an IPv6 packet without extension headers, carrying
//! TCP, in an Ethernet II frame (untagged or with one VLAN tag), a Linux
//! cooked frame (`tcpdump -i any`, v1 or v2, tagged or not) or as raw IP.
//! Most captured frames are that, and reading their fields where they must
//! be costs a fraction of the general slicers (issue 22: 174 instructions a
//! packet fewer on the reader for Ethernet, 147 for Linux cooked v2).
//! Anything else (two VLAN tags, IP options, IPv6 extension headers, a
//! fragment, a tunnel, a snaplen cut, a length the general path would
//! treat specially, a link header that names another protocol than the
//! packet's version) is left to [`super::decode`]'s general path, which
//! gives the same segment for every frame this one accepts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::link::is_vlan_tpid;
use super::{Flags, Frame, Segment, linktype};

/// Ethernet header bytes (no VLAN tag).
const ETH: usize = 14;
/// Linux cooked header bytes: v1 (protocol last), v2 (protocol first).
const SLL: usize = 16;
const SLL2: usize = 20;
/// IPv4 header bytes without options (IHL 5).
const IPV4: usize = 20;
/// IPv6 header bytes.
const IPV6: usize = 40;
/// TCP header bytes without options.
const TCP_MIN: usize = 20;

/// The EtherTypes of IPv4 and IPv6.
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];

/// The segment of an Ethernet frame carrying IPv4 that the general path
/// would give, or `None` for [`other`] and then the general path. The most
/// common frame by far, inline and alone: with the other cases' code inline
/// beside it, it cost 30 instructions a packet more.
#[inline(always)]
pub(super) fn ethernet_ipv4<'a>(frame: &Frame<'a>) -> Option<Segment<'a>> {
    let d = frame.data;
    if frame.linktype != linktype::ETHERNET || d.len() < ETH || [d[12], d[13]] != ETHERTYPE_IPV4 {
        return None;
    }
    ipv4_tcp(frame, &d[ETH..], 0)
}

/// Whether [`other`] reads frames of `linktype` (the rest, BSD loopback
/// and link types racecap does not know, go straight to the general path).
#[inline(always)]
pub(super) fn reads(linktype: u16) -> bool {
    matches!(
        linktype,
        linktype::ETHERNET
            | linktype::LINUX_SLL
            | linktype::LINUX_SLL2
            | linktype::RAW
            | linktype::RAW_12
            | linktype::RAW_14
            | linktype::IPV4
            | linktype::IPV6
    )
}

/// The segment the general path would give of any other frame this file
/// reads, or `None` for the general path to decode.
#[inline(never)]
pub(super) fn other<'a>(frame: &Frame<'a>) -> Option<Segment<'a>> {
    let d = frame.data;
    // The IP packet and the protocol its link header names.
    let (ip, ethertype) = match frame.linktype {
        linktype::ETHERNET => (d.get(ETH..)?, [d[12], d[13]]),
        linktype::LINUX_SLL => (d.get(SLL..)?, [d[14], d[15]]),
        linktype::LINUX_SLL2 => (d.get(SLL2..)?, [d[0], d[1]]),
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            return match d.first()? >> 4 {
                4 => ipv4_tcp(frame, d, 0),
                6 => ipv6_tcp(frame, d, 0),
                _ => None,
            };
        }
        _ => return None,
    };
    // One VLAN tag (its id as the general path keeps it); a second one
    // takes the general path.
    let (ip, ethertype, vlan) = match ethertype {
        tpid if is_vlan_tpid(u16::from_be_bytes(tpid)) && ip.len() >= 4 => {
            let tci = u16::from_be_bytes([ip[0], ip[1]]);
            (&ip[4..], [ip[2], ip[3]], u32::from(tci & 0x0fff))
        }
        _ => (ip, ethertype, 0),
    };
    // Another protocol takes the general path; so does a packet of the
    // other version than its link header names (each function checks the
    // version).
    match ethertype {
        ETHERTYPE_IPV4 => ipv4_tcp(frame, ip, vlan),
        ETHERTYPE_IPV6 => ipv6_tcp(frame, ip, vlan),
        _ => None,
    }
}

/// An IPv4 packet `ip` (version 4) carrying TCP, whole and unfragmented.
#[inline(always)]
fn ipv4_tcp<'a>(frame: &Frame<'a>, ip: &'a [u8], vlan: u32) -> Option<Segment<'a>> {
    if ip.len() < IPV4 + TCP_MIN {
        return None;
    }
    // Version 4 and IHL 5: options take the general path.
    if ip[0] != 0x45 {
        return None;
    }
    // TCP only: a tunnel (GRE, VXLAN in UDP, IP in IP) takes the general
    // path, which opens it.
    if ip[9] != 6 {
        return None;
    }
    // A fragment (MF set or an offset) takes the general path, where
    // fragments are dealt with; DF alone is a whole packet.
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return None;
    }
    // The whole packet captured: a snaplen cut, a zero total length (TSO,
    // BIG TCP) and impossible lengths take the general path, which judges
    // them. Bytes past the total length (Ethernet padding, an FCS) are
    // not the packet's.
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total < IPV4 + TCP_MIN || total > ip.len() {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    tcp(frame, vlan, src, dst, &ip[IPV4..total])
}

/// An IPv6 packet `ip` (version 6) carrying TCP right after its header (no
/// extension header: a fragment header, hop-by-hop options and the rest
/// take the general path, which walks them), whole.
#[inline(always)]
fn ipv6_tcp<'a>(frame: &Frame<'a>, ip: &'a [u8], vlan: u32) -> Option<Segment<'a>> {
    if ip.len() < IPV6 + TCP_MIN || ip[0] >> 4 != 6 || ip[6] != 6 {
        return None;
    }
    // A zero payload length (a jumbogram, BIG TCP) and a cut packet take
    // the general path; bytes past the payload length are not the packet's.
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if len < TCP_MIN || IPV6 + len > ip.len() {
        return None;
    }
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&ip[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    tcp(frame, vlan, addr(8), addr(24), &ip[IPV6..IPV6 + len])
}

/// The segment of TCP bytes `tcp` (the IP packet's whole payload).
#[inline(always)]
fn tcp<'a>(
    frame: &Frame<'a>,
    vlan: u32,
    src: IpAddr,
    dst: IpAddr,
    tcp: &'a [u8],
) -> Option<Segment<'a>> {
    let header_len = usize::from(tcp[12] >> 4) * 4;
    if header_len < TCP_MIN || header_len > tcp.len() {
        return None;
    }
    let payload = &tcp[header_len..];
    Some(Segment {
        ts_ns: frame.ts_ns,
        vlan,
        src,
        dst,
        sport: u16::from_be_bytes([tcp[0], tcp[1]]),
        dport: u16::from_be_bytes([tcp[2], tcp[3]]),
        flags: Flags(tcp[13]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        payload_len: payload.len() as u32,
        captured: payload.len() as u32,
        payload,
        tail: Segment::tail_of(payload),
        input: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Segment;
    use super::super::{Frame, general, linktype};

    /// Both fast paths, as `decode` tries them.
    fn fixed<'a>(frame: &Frame<'a>) -> Option<Segment<'a>> {
        super::ethernet_ipv4(frame).or_else(|| super::other(frame))
    }

    /// An IPv4 packet: DF set, TCP with 12 bytes of options, a 5-byte
    /// payload, then 4 bytes of padding past the IP length.
    fn v4_packet() -> Vec<u8> {
        let total: u16 = 20 + 32 + 5;
        let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(&tcp_bytes());
        ip.extend_from_slice(&[0; 4]);
        ip
    }

    /// An IPv6 packet carrying the same TCP segment, then 4 bytes past its
    /// payload length.
    fn v6_packet() -> Vec<u8> {
        let len: u16 = 32 + 5;
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&len.to_be_bytes());
        ip.extend_from_slice(&[6, 64]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        ip.extend_from_slice(&tcp_bytes());
        ip.extend_from_slice(&[0; 4]);
        ip
    }

    /// TCP with 12 bytes of options (NOP NOP TS) and the payload "GET /".
    fn tcp_bytes() -> Vec<u8> {
        let mut tcp = vec![0x9c, 0x40, 0x00, 0x50];
        tcp.extend_from_slice(&7u32.to_be_bytes());
        tcp.extend_from_slice(&9u32.to_be_bytes());
        tcp.extend_from_slice(&[0x80, 0x18, 0x01, 0xf5, 0, 0, 0, 0]);
        tcp.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        tcp.extend_from_slice(b"GET /");
        tcp
    }

    /// `ip` in a frame of `link`, its link header naming `proto`, behind a
    /// VLAN tag when `tag` says so.
    fn framed(link: u16, proto: [u8; 2], ip: &[u8]) -> Vec<u8> {
        framed_tag(link, proto, None, ip)
    }

    fn framed_tag(link: u16, proto: [u8; 2], tag: Option<u16>, ip: &[u8]) -> Vec<u8> {
        let Some(id) = tag else {
            return framed_bare(link, proto, ip);
        };
        let mut tagged = id.to_be_bytes().to_vec();
        tagged.extend_from_slice(&proto);
        tagged.extend_from_slice(ip);
        framed_bare(link, [0x81, 0x00], &tagged)
    }

    fn framed_bare(link: u16, proto: [u8; 2], ip: &[u8]) -> Vec<u8> {
        let mut f = match link {
            linktype::ETHERNET => {
                let mut h = vec![0u8; 14];
                h[12..14].copy_from_slice(&proto);
                h
            }
            linktype::LINUX_SLL => {
                let mut h = vec![0u8; 16];
                h[14..16].copy_from_slice(&proto);
                h
            }
            linktype::LINUX_SLL2 => {
                let mut h = vec![0u8; 20];
                h[0..2].copy_from_slice(&proto);
                h
            }
            _ => Vec::new(),
        };
        f.extend_from_slice(ip);
        f
    }

    const LINKS: [u16; 6] = [
        linktype::ETHERNET,
        linktype::LINUX_SLL,
        linktype::LINUX_SLL2,
        linktype::RAW,
        linktype::IPV4,
        linktype::IPV6,
    ];

    fn frame(link: u16, data: &[u8], origlen: u32) -> Frame<'_> {
        Frame {
            ts_ns: 5,
            linktype: link,
            origlen,
            data,
        }
    }

    /// Where the fast path accepts a frame, its segment is the general
    /// path's; checked for IPv4 and IPv6 in every link type it reads, with
    /// every header byte (and the first payload byte) set to values around
    /// each field's edges, and on every cut.
    #[test]
    fn test_fast_path_equals_general() {
        let values = [
            0u8, 1, 4, 5, 6, 0x08, 0x20, 0x39, 0x3f, 0x40, 0x45, 0x46, 0x50, 0x60, 0x80, 0x86,
            0xdd, 0xf0, 0xff,
        ];
        let tags = [None, Some(0x2064)];
        for (link, tag) in LINKS.iter().flat_map(|&l| tags.map(|t| (l, t))) {
            if tag.is_some() && ![linktype::ETHERNET, linktype::LINUX_SLL2].contains(&link) {
                continue;
            }
            for (ip, proto) in [(v4_packet(), [0x08, 0x00]), (v6_packet(), [0x86, 0xdd])] {
                let base = framed_tag(link, proto, tag, &ip);
                let headers = base.len() - ip.len() + if ip[0] >> 4 == 4 { 20 } else { 40 } + 33;
                let mut accepted = 0u32;
                let mut check = |data: &[u8], origlen: u32| {
                    if let Some(fast) = fixed(&frame(link, data, origlen)) {
                        accepted += 1;
                        let slow = general(&frame(link, data, origlen))
                            .expect("the general path decodes it");
                        assert_eq!(
                            format!("{fast:?}"),
                            format!("{slow:?}"),
                            "{link}: {data:02x?}"
                        );
                    }
                };
                for at in 0..=headers {
                    for v in values {
                        let mut data = base.clone();
                        data[at] = v;
                        check(&data, data.len() as u32);
                    }
                }
                for len in 0..=base.len() {
                    check(&base[..len], base.len() as u32);
                    check(&base[..len], len as u32);
                }
                // Most mutations leave a frame the fast path takes.
                assert!(accepted > 500, "{link}, {tag:?}, {proto:02x?}: {accepted}");
            }
        }
    }

    /// Fragments, tunnels, VLAN tags, IP options, IPv6 extension headers,
    /// cut frames and a link header naming the other version go to the
    /// general path.
    #[test]
    fn test_fast_path_declines_what_it_does_not_read() {
        let declined = |link: u16, ip: Vec<u8>, proto: [u8; 2], edit: &dyn Fn(&mut Vec<u8>)| {
            let mut data = framed(link, proto, &ip);
            edit(&mut data);
            fixed(&frame(link, &data, data.len() as u32)).is_none()
        };
        let e = linktype::ETHERNET;
        let v4 = |edit: &dyn Fn(&mut Vec<u8>)| declined(e, v4_packet(), [0x08, 0x00], edit);
        assert!(!v4(&|_| {}));
        assert!(v4(&|d| d[14 + 6] |= 0x20), "more fragments");
        assert!(v4(&|d| d[14 + 7] = 1), "fragment offset");
        assert!(v4(&|d| d[14 + 9] = 47), "GRE");
        assert!(v4(&|d| d[14 + 9] = 17), "UDP (VXLAN)");
        // One VLAN tag is read, its id kept as the general path keeps it.
        let tagged = framed_tag(e, [0x08, 0x00], Some(0x2064), &v4_packet());
        let seg = fixed(&frame(e, &tagged, tagged.len() as u32)).expect("a tagged frame");
        assert_eq!(seg.vlan, 0x064);
        assert!(
            declined(e, v4_packet(), [0x08, 0x00], &|d| {
                // Two tags (QinQ).
                d.splice(12..12, [0x88, 0xa8, 0, 5, 0x81, 0x00, 0, 7]);
            }),
            "QinQ"
        );
        assert!(v4(&|d| d[14] = 0x46), "IP options");
        assert!(v4(&|d| d[14 + 2..14 + 4].copy_from_slice(&[0, 0])), "TSO");
        assert!(v4(&|d| d.truncate(60)), "snaplen cut");
        assert!(
            v4(&|d| d[12..14].copy_from_slice(&[0x86, 0xdd])),
            "IPv6 named"
        );
        let v6 = |link: u16, edit: &dyn Fn(&mut Vec<u8>)| {
            declined(link, v6_packet(), [0x86, 0xdd], edit)
        };
        let s2 = linktype::LINUX_SLL2;
        assert!(!v6(s2, &|_| {}));
        assert!(v6(s2, &|d| d[20 + 6] = 44), "fragment header");
        assert!(v6(s2, &|d| d[20 + 6] = 0), "hop-by-hop options");
        assert!(
            v6(s2, &|d| d[20 + 4..20 + 6].copy_from_slice(&[0, 0])),
            "jumbogram"
        );
        assert!(v6(s2, &|d| d.truncate(20 + 40 + 30)), "snaplen cut");
        assert!(
            v6(s2, &|d| d[0..2].copy_from_slice(&[0x81, 0x00])),
            "VLAN tag"
        );
        assert!(
            v6(linktype::LINUX_SLL, &|d| d[14..16]
                .copy_from_slice(&[0x08, 0x00])),
            "IPv4 named"
        );
        assert!(v6(linktype::NULL, &|_| {}), "BSD loopback");
    }
}
