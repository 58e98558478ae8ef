//! Link layers peeled by the general path: Ethernet II and its VLAN tags
//! (802.1Q, QinQ), Linux cooked v1 and v2, raw IP, BSD NULL and LOOP. What
//! is left is the IP packet, for `ip_tcp`. (`fast.rs` reads the common
//! ones by fixed offsets first.)

use etherparse::EtherType;

use super::{Frame, Skip, linktype};

/// Peels the link layer: the IP packet and its VLAN ids.
pub(super) fn peel<'a>(frame: &Frame<'a>) -> Result<(&'a [u8], u32), Skip> {
    let data = frame.data;
    let (ip, vlan) = match frame.linktype {
        linktype::ETHERNET => ethernet(data)?,
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 | linktype::IPV4 | linktype::IPV6 => {
            (data, 0)
        }
        linktype::LINUX_SLL => {
            // 16-byte header; the protocol (an EtherType for IP) is its last field.
            if data.len() < 16 {
                return Err(Skip::TruncatedHeader);
            }
            let proto = u16::from_be_bytes([data[14], data[15]]);
            ether_payload(proto, &data[16..])?
        }
        linktype::LINUX_SLL2 => {
            // 20-byte header; the protocol is its first field
            // (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html).
            if data.len() < 20 {
                return Err(Skip::TruncatedHeader);
            }
            let proto = u16::from_be_bytes([data[0], data[1]]);
            ether_payload(proto, &data[20..])?
        }
        linktype::NULL | linktype::LOOP => {
            if data.len() < 4 {
                return Err(Skip::TruncatedHeader);
            }
            let raw = [data[0], data[1], data[2], data[3]];
            let family = if frame.linktype == linktype::LOOP {
                u32::from_be_bytes(raw)
            } else if u32::from_le_bytes(raw) < 256 {
                // Host byte order of the capturing machine: whichever reading
                // gives a small number is the right one.
                u32::from_le_bytes(raw)
            } else {
                u32::from_be_bytes(raw)
            };
            match family {
                // AF_INET; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
                2 | 24 | 28 | 30 => (&data[4..], 0),
                _ => return Err(Skip::NonIp),
            }
        }
        _ => return Err(Skip::UnsupportedLinkType),
    };
    Ok((ip, vlan))
}

/// 802.1Q, 802.1ad and the older QinQ TPID.
pub(super) fn is_vlan_tpid(proto: u16) -> bool {
    matches!(proto, 0x8100 | 0x88a8 | 0x9100)
}

/// Peels an Ethernet II header and its VLAN tags (outer id in the high 16
/// bits). Done by hand: it is 14 bytes plus 4 per tag, and the per-packet cost
/// of a general slicer shows in profiles.
pub(super) fn ethernet(data: &[u8]) -> Result<(&[u8], u32), Skip> {
    if data.len() < 14 {
        return Err(Skip::TruncatedHeader);
    }
    ether_payload(u16::from_be_bytes([data[12], data[13]]), &data[14..])
}

fn ether_payload(proto: u16, data: &[u8]) -> Result<(&[u8], u32), Skip> {
    let (mut proto, mut at, mut vlan, mut tags) = (proto, 0usize, 0u32, 0);
    // A VLAN tag inside a cooked capture (SLL keeps the tag in the payload).
    while is_vlan_tpid(proto) {
        tags += 1;
        if tags > 2 {
            // Deeper stacks do not occur on real links; don't walk them.
            return Err(Skip::BadHeader);
        }
        if data.len() < at + 4 {
            return Err(Skip::TruncatedHeader);
        }
        let tci = u16::from_be_bytes([data[at], data[at + 1]]);
        vlan = (vlan << 16) | u32::from(tci & 0x0fff);
        proto = u16::from_be_bytes([data[at + 2], data[at + 3]]);
        at += 4;
    }
    match EtherType(proto) {
        EtherType::IPV4 | EtherType::IPV6 => Ok((&data[at..], vlan)),
        _ => Err(Skip::NonIp),
    }
}
