//! The common case by fixed offsets: an Ethernet II frame carrying a whole,
//! unfragmented IPv4 packet without options, carrying TCP. Most captured
//! frames are that, and reading their fields where they must be costs a
//! fraction of the general slicers (issue 22: 174 instructions a packet
//! fewer on the reader). Anything else (VLAN tags, IP options, IPv6, a
//! fragment, a tunnel, a snaplen cut, a length the general path would
//! treat specially) is left to [`super::decode`]'s general path, which
//! gives the same segment for every frame this one accepts.

use std::net::{IpAddr, Ipv4Addr};

use super::{Flags, Frame, Segment};

/// Ethernet header bytes (no VLAN tag).
const ETH: usize = 14;
/// IPv4 header bytes without options (IHL 5).
const IPV4: usize = 20;
/// TCP header bytes without options.
const TCP_MIN: usize = 20;

/// The segment of an Ethernet/IPv4/TCP frame the general path would give,
/// or `None` for the general path to decode.
#[inline]
pub(super) fn ethernet_ipv4_tcp<'a>(frame: &Frame<'a>) -> Option<Segment<'a>> {
    let d = frame.data;
    if d.len() < ETH + IPV4 + TCP_MIN {
        return None;
    }
    // IPv4 EtherType: a VLAN tag or IPv6 takes the general path.
    if d[12] != 0x08 || d[13] != 0x00 {
        return None;
    }
    let ip = &d[ETH..];
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
    let tcp = &ip[IPV4..total];
    let header_len = usize::from(tcp[12] >> 4) * 4;
    if header_len < TCP_MIN || header_len > tcp.len() {
        return None;
    }
    let payload = &tcp[header_len..];
    Some(Segment {
        ts_ns: frame.ts_ns,
        vlan: 0,
        src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
        dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
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
    use super::super::{Frame, general, linktype};
    use super::ethernet_ipv4_tcp;

    /// An Ethernet/IPv4/TCP frame: DF set, TCP with 12 bytes of options,
    /// a 5-byte payload, then 4 bytes of padding past the IP length.
    fn frame_bytes() -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let total: u16 = 20 + 32 + 5;
        let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&ip);
        let mut tcp = vec![0x9c, 0x40, 0x00, 0x50];
        tcp.extend_from_slice(&7u32.to_be_bytes());
        tcp.extend_from_slice(&9u32.to_be_bytes());
        tcp.extend_from_slice(&[0x80, 0x18, 0x01, 0xf5, 0, 0, 0, 0]);
        tcp.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        f.extend_from_slice(&tcp);
        f.extend_from_slice(b"GET /");
        f.extend_from_slice(&[0; 4]);
        f
    }

    /// Where the fast path accepts a frame, its segment is the general
    /// path's; checked on the frame above with every header byte (and the
    /// first payload byte) set to values around each field's edges, and
    /// on every cut of it.
    #[test]
    fn test_fast_path_equals_general() {
        let base = frame_bytes();
        let mut accepted = 0;
        let check = |data: &[u8], origlen: u32, accepted: &mut u32| {
            let frame = Frame {
                ts_ns: 5,
                linktype: linktype::ETHERNET,
                origlen,
                data,
            };
            if let Some(fast) = ethernet_ipv4_tcp(&frame) {
                *accepted += 1;
                let slow = general(&frame).expect("the general path decodes it");
                assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{data:02x?}");
            }
        };
        let values = [0u8, 1, 4, 5, 6, 0x08, 0x20, 0x39, 0x3f, 0x40, 0x45, 0x46];
        for at in 0..=14 + 20 + 32 {
            for v in values.iter().chain(&[0x50, 0x60, 0x80, 0xf0, 0xff]) {
                let mut data = base.clone();
                data[at] = *v;
                check(&data, data.len() as u32, &mut accepted);
            }
        }
        for len in 0..=base.len() {
            check(&base[..len], base.len() as u32, &mut accepted);
            check(&base[..len], len as u32, &mut accepted);
        }
        // Most mutations leave a frame the fast path takes.
        assert!(accepted > 500, "{accepted}");
    }

    /// Fragments, tunnels, VLAN tags, IP options and cut frames go to the
    /// general path.
    #[test]
    fn test_fast_path_declines_what_it_does_not_read() {
        let base = frame_bytes();
        let declined = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut data = base.clone();
            edit(&mut data);
            let frame = Frame {
                ts_ns: 0,
                linktype: linktype::ETHERNET,
                origlen: data.len() as u32,
                data: &data,
            };
            ethernet_ipv4_tcp(&frame).is_none()
        };
        assert!(!declined(&|_| {}));
        assert!(declined(&|d| d[14 + 6] |= 0x20), "more fragments");
        assert!(declined(&|d| d[14 + 7] = 1), "fragment offset");
        assert!(declined(&|d| d[14 + 9] = 47), "GRE");
        assert!(declined(&|d| d[14 + 9] = 17), "UDP (VXLAN)");
        assert!(declined(&|d| d[12] = 0x81), "VLAN tag");
        assert!(declined(&|d| d[14] = 0x46), "IP options");
        assert!(
            declined(&|d| d[14 + 2..14 + 4].copy_from_slice(&[0, 0])),
            "TSO"
        );
        assert!(declined(&|d| d.truncate(60)), "snaplen cut");
    }
}
