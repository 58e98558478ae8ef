//! Reassembly on synthetic fragments: order, overlap, timeout, caps.

use super::*;
use crate::synth::{Flow, Packet, flags, fragments};

fn flow() -> Flow {
    Flow::new(
        ("10.0.0.1".parse().unwrap(), 40000),
        ("10.0.0.2".parse().unwrap(), 80),
        1000,
        9000,
    )
}

/// A data segment of `len` bytes `fill`, split into 64-byte fragments.
fn split(fill: u8, len: usize, id: u32, ts_ns: i64) -> Vec<Packet> {
    let p = flow().seg(ts_ns, true, flags::ACK, &vec![fill; len], Some(1));
    fragments(&p, 64, id)
}

fn raw(p: &Packet) -> Frame<'_> {
    Frame {
        ts_ns: p.ts_ns,
        linktype: linktype::RAW,
        origlen: p.ip.len() as u32,
        data: &p.ip,
    }
}

/// Offers every packet; the payload of the segment the last completed.
fn offer_all(r: &mut Reassembly, packets: &[Packet]) -> Option<Vec<u8>> {
    let mut out = None;
    for p in packets {
        if let Ok(seg) = r.decode(&raw(p), 0) {
            out = Some(seg.payload.to_vec());
        }
    }
    out
}

#[test]
fn test_first_fragment_wins_on_overlap() {
    let first = split(b'a', 200, 1, 0);
    let second = split(b'b', 200, 1, 0);
    let mut r = Reassembly::new(MAX_BYTES);
    // The a's second fragment, then the b's copy of it, then the rest.
    let order = [&first[1], &second[1], &first[0], &first[2], &first[3]];
    let packets: Vec<Packet> = order.into_iter().cloned().collect();
    assert_eq!(offer_all(&mut r, &packets), Some(vec![b'a'; 200]));
    let s = r.stats();
    assert_eq!((s.reassembled, s.dropped, s.overlapping), (1, 0, 1));
    assert_eq!(r.bytes(), 0);
}

#[test]
fn test_incomplete_datagram_times_out_by_capture_time() {
    let mut r = Reassembly::new(MAX_BYTES);
    let old = split(b'a', 200, 1, 0);
    assert_eq!(offer_all(&mut r, &old[..2]), None);
    assert!(r.bytes() > 0);
    // A fragment of another datagram after the timeout drops the first.
    let late = split(b'b', 200, 2, TIMEOUT_NS + 1);
    assert_eq!(offer_all(&mut r, &late[..1]), None);
    assert_eq!(r.stats.dropped, 2);
    // Its missing fragments now start a datagram of their own.
    assert_eq!(offer_all(&mut r, &old[2..]), None);
    assert_eq!(r.stats().dropped, 2 + 1 + 2);
}

#[test]
fn test_held_bytes_and_datagrams_stay_within_the_caps() {
    let mut r = Reassembly::new(MIN_BYTES);
    for id in 0..(2 * MAX_DATAGRAMS as u32) {
        offer_all(&mut r, &split(b'a', 600, id, 0)[..1]);
        assert!(r.bytes() <= MIN_BYTES);
        assert!(r.held.len() <= MAX_DATAGRAMS);
    }
    assert!(r.ages.len() <= 2 * r.held.len() + 64);
    let s = r.stats();
    assert_eq!(s.dropped, 2 * MAX_DATAGRAMS as u64);
    // The newest datagram was kept: its rest completes it.
    let last = split(b'a', 600, 2 * MAX_DATAGRAMS as u32 - 1, 0);
    assert_eq!(offer_all(&mut r, &last[1..]), Some(vec![b'a'; 600]));
}

#[test]
fn test_completed_datagrams_leave_a_bounded_queue() {
    let mut r = Reassembly::new(MAX_BYTES);
    // One datagram stays incomplete at the front of the queue.
    offer_all(&mut r, &split(b'a', 200, 0, 0)[..1]);
    for id in 1..10_000 {
        assert!(offer_all(&mut r, &split(b'b', 100, id, 0)).is_some());
    }
    assert!(r.ages.len() <= 2 * r.held.len() + 64);
    assert_eq!(r.stats().reassembled, 9_999);
}

#[test]
fn test_fragment_past_64k_is_dropped() {
    let mut r = Reassembly::new(MAX_BYTES);
    let mut p = split(b'a', 200, 3, 0).pop().unwrap();
    // Offset 65528 with bytes beyond: the "ping of death".
    p.ip[6..8].copy_from_slice(&(65528u16 / 8).to_be_bytes());
    assert_eq!(r.decode(&raw(&p), 0).unwrap_err(), Skip::IpFragment);
    assert_eq!(r.stats().dropped, 1);
    assert_eq!(r.bytes(), 0);
}

#[test]
fn test_snaplen_cut_fragment_reads_as_a_cut_segment() {
    let mut packets = split(b'a', 200, 4, 0);
    let mut r = Reassembly::new(MAX_BYTES);
    // The capture kept 10 bytes of the third fragment (payload 128..192).
    let cut = packets[2].ip.len() - 54;
    let origlen = packets[2].ip.len() as u32;
    packets[2].ip.truncate(cut);
    let mut seg = None;
    for (i, p) in packets.iter().enumerate() {
        let mut f = raw(p);
        if i == 2 {
            f.origlen = origlen;
        }
        if let Ok(s) = r.decode(&f, 0) {
            seg = Some((s.payload_len, s.captured));
        }
    }
    // The TCP header is the first 20 bytes of the IP payload.
    assert_eq!(seg, Some((200, (128 + 10 - 20) as u32)));
}

#[test]
fn test_ipv6_fragments_and_inconsistent_ends() {
    let c = "2001:db8::1".parse().unwrap();
    let s = "2001:db8::2".parse().unwrap();
    let p = Flow::new((c, 1), (s, 2), 5, 6).seg(0, true, flags::ACK, &[b'x'; 300], Some(1));
    let mut r = Reassembly::new(MAX_BYTES);
    let f = fragments(&p, 128, 0xdead_beef);
    assert_eq!(offer_all(&mut r, &f), Some(vec![b'x'; 300]));
    // Two last fragments with different ends: the datagram is dropped.
    let mut other = f[2].clone();
    other.ip.truncate(other.ip.len() - 8);
    let len = (other.ip.len() - 40) as u16;
    other.ip[4..6].copy_from_slice(&len.to_be_bytes());
    assert_eq!(offer_all(&mut r, &[f[2].clone(), other]), None);
    assert_eq!(r.stats().dropped, 2);
}
