//! IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5): a
//! request whose packet was split into fragments is still a request, and a
//! race it lost is still a race (issue 23: without this, the lost request
//! vanished and the race read as `server_reset`, with no warning).
//!
//! Stateful, unlike the rest of the decoder, and called at one point: a
//! frame that [`decode`](super::decode) calls an [`Skip::IpFragment`] is
//! offered here, so that a faster decode path only has to hand over frames
//! whose MF flag or fragment offset is set. What is held is bounded (bytes
//! and datagrams, drawn from the memory budget) and times out by capture
//! time; fragments that never make a datagram are counted, and the report
//! warns about them.
//!
//! Overlapping fragments: **first wins**. Bytes already held are kept and a
//! later fragment only fills the gaps, as BSD's and Windows' "first"
//! policy and Linux before 4.19 did. (Linux now discards a datagram with
//! overlaps, as RFC 5722 asks of IPv6; overlaps are counted so that a
//! report shows when that difference could matter.)

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Frame, Segment, Skip, ip_tcp, link, linktype};

/// An incomplete datagram is dropped this long (capture time) after its
/// first fragment: Linux's `ipfrag_time` default (RFC 8200 §4.5 allows 60
/// s; a receiver had given up on it long before either).
pub const TIMEOUT_NS: i64 = 30_000_000_000;

/// Most bytes held for incomplete datagrams: Linux's `ipfrag_high_thresh`
/// default, beyond which it drops fragments too.
pub const MAX_BYTES: usize = 4 << 20;

/// Least bytes held whatever the budget: one largest datagram fits.
const MIN_BYTES: usize = 256 << 10;

/// Most incomplete datagrams held at once (a flood of first fragments
/// costs a map entry each even when small).
pub const MAX_DATAGRAMS: usize = 4096;

/// What one held datagram costs besides its bytes and ranges: its map
/// entry, key and queue entry.
const DATAGRAM_OVERHEAD: usize = 160;

/// Largest reassembled IP payload: the 16-bit IPv4 total length and IPv6
/// payload length bound it (a fragment header excludes jumbograms, RFC
/// 2675 §3); a fragment reaching beyond is the "ping of death".
const MAX_DATAGRAM: u32 = 65535;

/// IPv6 extension headers that may precede the fragment header (RFC 8200
/// §4.1): hop-by-hop options, routing, destination options; and the
/// fragment header itself.
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const DEST_OPTS: u8 = 60;
const FRAGMENT: u8 = 44;

/// The share of the memory budget fragments may hold: a sixteenth, at most
/// [`MAX_BYTES`], at least one largest datagram.
pub fn budget(max_memory: usize) -> usize {
    (max_memory / 16).clamp(MIN_BYTES, MAX_BYTES)
}

/// What reassembly did over a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// Datagrams reassembled from fragments.
    pub reassembled: u64,
    /// Fragments that made no datagram: timed out, evicted for the budget,
    /// still incomplete at the end, inconsistent, or inside a tunnel.
    pub dropped: u64,
    /// Fragments that overlapped bytes already held (first wins).
    pub overlapping: u64,
}

impl FragmentStats {
    /// Any fragment was seen.
    pub fn any(&self) -> bool {
        self.reassembled + self.dropped > 0
    }
}

/// A datagram's identity (RFC 791: source, destination, protocol and
/// identification; RFC 8200: source, destination and identification),
/// within one input and VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4's protocol; 0 for IPv6, whose fragments may name different
    /// next headers (only the first one's counts, RFC 8200 §4.5).
    proto: u8,
    vlan: u32,
    input: u32,
}

/// Sorted, disjoint, non-adjacent byte ranges `[start, end)`.
#[derive(Debug, Default)]
struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    /// Adds `[s, e)`, merging with its neighbours; true when it touched a
    /// byte already held.
    fn add(&mut self, s: u32, e: u32) -> bool {
        let overlap = self.0.iter().any(|&(a, b)| a < e && s < b);
        let (mut s, mut e) = (s, e);
        self.0.retain(|&(a, b)| {
            let touches = a <= e && s <= b;
            if touches {
                s = s.min(a);
                e = e.max(b);
            }
            !touches
        });
        let at = self.0.partition_point(|&(a, _)| a < s);
        self.0.insert(at, (s, e));
        overlap
    }

    /// The parts of `[s, e)` not held.
    fn gaps(&self, s: u32, e: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut at = s;
        for &(a, b) in &self.0 {
            if b <= at {
                continue;
            }
            if a >= e {
                break;
            }
            if a > at {
                out.push((at, a));
            }
            at = b;
        }
        if at < e {
            out.push((at, e));
        }
        out
    }

    /// Where the run of held bytes from 0 ends.
    fn prefix(&self) -> u32 {
        match self.0.first() {
            Some(&(0, e)) => e,
            _ => 0,
        }
    }
}

/// One datagram being reassembled.
#[derive(Debug)]
struct Datagram {
    /// Its entry in the age queue (a key can come back after completing).
    serial: u64,
    first_ns: i64,
    v6: bool,
    /// The upper protocol: IPv4's, or the first IPv6 fragment's next header.
    proto: Option<u8>,
    /// Payload bytes at their offsets; zeros where none was captured.
    data: Vec<u8>,
    /// Bytes the fragments declared (their IP lengths).
    have: Ranges,
    /// Bytes the capture holds (a snaplen can cut a fragment).
    got: Ranges,
    /// The payload's length, once the last fragment came.
    end: Option<u32>,
    fragments: u64,
}

impl Datagram {
    /// What it costs, as the budget counts it.
    fn bytes(&self) -> usize {
        DATAGRAM_OVERHEAD
            + self.data.capacity()
            + 8 * (self.have.0.capacity() + self.got.0.capacity())
    }

    fn complete(&self) -> bool {
        self.end.is_some_and(|end| self.have.0 == [(0, end)]) && self.proto.is_some()
    }
}

/// One fragment as its IP header tells it.
struct Piece<'a> {
    key: Key,
    v6: bool,
    /// The upper protocol, when this fragment tells it.
    proto: Option<u8>,
    offset: u32,
    more: bool,
    /// Its payload's declared length, and the captured part of it.
    len: u32,
    bytes: &'a [u8],
}

/// Reassembles fragmented datagrams, holding at most its budget.
#[derive(Debug)]
pub struct Reassembly {
    max_bytes: usize,
    held: HashMap<Key, Datagram>,
    /// Datagrams by age (serial, key); entries of completed ones are stale
    /// and skipped, and compacted away when they outnumber the live ones.
    ages: VecDeque<(u64, Key)>,
    serial: u64,
    bytes: usize,
    stats: FragmentStats,
    /// The last reassembled packet, which the segment borrows.
    out: Vec<u8>,
}

impl Reassembly {
    /// A reassembly holding at most `max_bytes` (see [`budget`]).
    pub fn new(max_bytes: usize) -> Reassembly {
        Reassembly {
            max_bytes: max_bytes.max(MIN_BYTES),
            held: HashMap::new(),
            ages: VecDeque::new(),
            serial: 0,
            bytes: 0,
            stats: FragmentStats::default(),
            out: Vec::new(),
        }
    }

    /// Decodes one frame of input `input`, as [`super::decode`] does, and
    /// a fragment as the segment of the datagram it completes; a fragment
    /// that completes none is [`Skip::IpFragment`] (held, or dropped and
    /// counted).
    pub fn decode<'a>(&'a mut self, frame: &Frame<'a>, input: u32) -> Result<Segment<'a>, Skip> {
        match super::decode(frame) {
            Err(Skip::IpFragment) => self.offer(frame, input),
            other => other,
        }
    }

    /// Bytes held now, as the memory budget counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The counts so far, the datagrams still incomplete counted as
    /// dropped (at the end of a capture they are).
    pub fn stats(&self) -> FragmentStats {
        let mut s = self.stats;
        s.dropped += self.held.values().map(|d| d.fragments).sum::<u64>();
        s
    }

    fn offer<'a>(&'a mut self, frame: &Frame<'a>, input: u32) -> Result<Segment<'a>, Skip> {
        self.expire(frame.ts_ns);
        let Some((piece, vlan)) = link(frame)
            .ok()
            .and_then(|(ip, vlan)| Some((parse(ip, input, vlan)?, vlan)))
        else {
            // A fragment inside a tunnel (the outer packet is whole), or a
            // header that does not parse: not reassembled.
            self.stats.dropped += 1;
            return Err(Skip::IpFragment);
        };
        let key = piece.key;
        if !self.held.contains_key(&key) {
            self.make_room(DATAGRAM_OVERHEAD, true);
            self.serial += 1;
            self.ages.push_back((self.serial, key));
            self.bytes += DATAGRAM_OVERHEAD;
            self.held.insert(
                key,
                Datagram {
                    serial: self.serial,
                    first_ns: frame.ts_ns,
                    v6: piece.v6,
                    proto: None,
                    data: Vec::new(),
                    have: Ranges::default(),
                    got: Ranges::default(),
                    end: None,
                    fragments: 0,
                },
            );
        }
        // Room for its bytes before taking them (never at its own cost).
        let grow = (piece.offset + piece.len) as usize;
        let now = self.held[&key].data.capacity();
        if grow > now {
            self.make_room_besides(grow - now, key);
        }
        let dg = self.held.get_mut(&key).expect("inserted above");
        let before = dg.bytes();
        let fits = add(dg, &piece, &mut self.stats);
        self.bytes = self.bytes + dg.bytes() - before;
        if !fits {
            self.drop_datagram(key);
            return Err(Skip::IpFragment);
        }
        if !dg.complete() {
            return Err(Skip::IpFragment);
        }
        let dg = self.remove(key).expect("held");
        self.stats.reassembled += 1;
        self.assemble(&key, &dg);
        let frame = Frame {
            ts_ns: frame.ts_ns,
            linktype: linktype::RAW,
            origlen: (header_len(dg.v6) + dg.end.unwrap_or(0) as usize) as u32,
            data: &self.out,
        };
        ip_tcp(&frame, &self.out, vlan, 0)
    }

    /// The whole datagram as one IP packet in `out`: a fresh header
    /// (options and extension headers before the fragment header carry
    /// nothing the analysis reads) and the captured run of the payload;
    /// the header's length is the whole payload's, so a datagram with
    /// uncaptured bytes reads as one the snaplen cut.
    fn assemble(&mut self, key: &Key, dg: &Datagram) {
        let end = dg.end.unwrap_or(0);
        let proto = dg.proto.unwrap_or(0);
        let captured = dg.got.prefix().min(end) as usize;
        self.out.clear();
        match (key.src, key.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = (20 + end) as u16;
                self.out.extend_from_slice(&[0x45, 0]);
                self.out.extend_from_slice(&total.to_be_bytes());
                self.out.extend_from_slice(&(key.id as u16).to_be_bytes());
                self.out.extend_from_slice(&[0, 0, 64, proto, 0, 0]);
                self.out.extend_from_slice(&s.octets());
                self.out.extend_from_slice(&d.octets());
            }
            (s, d) => {
                let (s, d) = (v6(s), v6(d));
                self.out.extend_from_slice(&[0x60, 0, 0, 0]);
                self.out.extend_from_slice(&(end as u16).to_be_bytes());
                self.out.extend_from_slice(&[proto, 64]);
                self.out.extend_from_slice(&s.octets());
                self.out.extend_from_slice(&d.octets());
            }
        }
        self.out.extend_from_slice(&dg.data[..captured]);
    }

    /// Drops datagrams whose first fragment is older than [`TIMEOUT_NS`].
    fn expire(&mut self, now: i64) {
        while let Some(&(serial, key)) = self.ages.front() {
            match self.held.get(&key) {
                Some(dg) if dg.serial == serial => {
                    if now.saturating_sub(dg.first_ns) <= TIMEOUT_NS {
                        return;
                    }
                    self.drop_datagram(key);
                }
                _ => {
                    self.ages.pop_front();
                }
            }
        }
    }

    /// Evicts the oldest datagrams until `more` bytes (and, for a new
    /// datagram, one more entry) fit.
    fn make_room(&mut self, more: usize, new: bool) {
        while self.bytes + more > self.max_bytes || (new && self.held.len() >= MAX_DATAGRAMS) {
            if !self.evict_oldest(None) {
                return;
            }
        }
    }

    /// [`make_room`](Self::make_room) for the datagram `keep` to grow.
    fn make_room_besides(&mut self, more: usize, keep: Key) {
        while self.bytes + more > self.max_bytes {
            if !self.evict_oldest(Some(keep)) {
                return;
            }
        }
    }

    /// Drops the oldest datagram but `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<Key>) -> bool {
        let mut kept = None;
        let mut evicted = false;
        while let Some((serial, key)) = self.ages.pop_front() {
            match self.held.get(&key) {
                Some(dg) if dg.serial == serial && Some(key) == keep => kept = Some((serial, key)),
                Some(dg) if dg.serial == serial => {
                    self.ages.push_front((serial, key));
                    self.drop_datagram(key);
                    evicted = true;
                    break;
                }
                _ => {}
            }
        }
        if let Some(k) = kept {
            self.ages.push_front(k);
        }
        evicted
    }

    fn drop_datagram(&mut self, key: Key) {
        if let Some(dg) = self.remove(key) {
            self.stats.dropped += dg.fragments;
        }
    }

    fn remove(&mut self, key: Key) -> Option<Datagram> {
        let dg = self.held.remove(&key)?;
        self.bytes -= dg.bytes();
        // Completed datagrams leave their age entries behind: compact
        // when those outnumber the held ones, so the queue stays bounded.
        if self.ages.len() > 2 * self.held.len() + 64 {
            let held = &self.held;
            self.ages
                .retain(|(s, k)| held.get(k).is_some_and(|d| d.serial == *s));
        }
        Some(dg)
    }
}

/// Takes `piece` into `dg`: false when it contradicts what is held (a
/// second end, bytes past the end, a datagram too long).
fn add(dg: &mut Datagram, piece: &Piece<'_>, stats: &mut FragmentStats) -> bool {
    dg.fragments += 1;
    let (s, e) = (piece.offset, piece.offset + piece.len);
    if e > MAX_DATAGRAM || dg.v6 != piece.v6 {
        return false;
    }
    if !piece.more {
        if dg.end.is_some_and(|end| end != e) || dg.have.0.last().is_some_and(|&(_, b)| b > e) {
            return false;
        }
        dg.end = Some(e);
    } else if dg.end.is_some_and(|end| e > end) {
        return false;
    }
    if s == 0 && piece.proto.is_some() {
        dg.proto = piece.proto;
    }
    if e as usize > dg.data.len() {
        dg.data.reserve_exact(e as usize - dg.data.len());
        dg.data.resize(e as usize, 0);
    }
    // First wins: copy only into bytes not captured before.
    let got_end = s + piece.bytes.len() as u32;
    for (a, b) in dg.got.gaps(s, got_end) {
        dg.data[a as usize..b as usize]
            .copy_from_slice(&piece.bytes[(a - s) as usize..(b - s) as usize]);
    }
    if got_end > s {
        dg.got.add(s, got_end);
    }
    if s < e && dg.have.add(s, e) {
        stats.overlapping += 1;
    }
    true
}

fn header_len(v6: bool) -> usize {
    if v6 { 40 } else { 20 }
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

/// The fragment in an IP packet, or None when the packet is no fragment
/// (the fragment was a tunnel's inner packet) or its header is impossible.
fn parse(ip: &[u8], input: u32, vlan: u32) -> Option<Piece<'_>> {
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

#[cfg(test)]
mod test {
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
}
