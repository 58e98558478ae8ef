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
use std::net::IpAddr;

use etherparse::LaxIpSlice;

use super::{Frame, MAX_TUNNELS, Segment, Skip, ip_tcp, link, linktype, tunnel};

mod parse;

use parse::{Key, Piece, header_len, parse, v6};

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
    /// still incomplete at the end, or inconsistent.
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
        let Some((piece, vlan, depth)) = locate(frame, input) else {
            // A header that does not parse: not reassembled.
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
        // The datagram continues at its own depth: tunnels it carries are
        // opened as far as the decoder opens any. (A fragmented datagram
        // inside a reassembled one is not reassembled again: its
        // fragments would need a second pass over this datagram.)
        ip_tcp(&frame, &self.out, vlan, depth)
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

/// The fragment in a frame: its own IP packet's, or that of an IP packet
/// inside the tunnels the decoder opens (issue 23: a pod's packet
/// fragmented before the node put it in VXLAN or GRE arrives as whole
/// outer packets, each carrying one inner fragment), with its VLAN and how
/// many tunnels deep it was. None when the header does not parse.
fn locate<'a>(frame: &Frame<'a>, input: u32) -> Option<(Piece<'a>, u32, u8)> {
    let (mut ip, vlan) = link::peel(frame).ok()?;
    for depth in 0..=MAX_TUNNELS {
        if let Some(piece) = parse(ip, input, vlan) {
            return Some((piece, vlan, depth));
        }
        // Whole at this depth: the fragment is inside its tunnel.
        let (slice, _) = LaxIpSlice::from_slice(ip).ok()?;
        let payload = slice.payload();
        if payload.fragmented {
            return None;
        }
        ip = tunnel::inner(payload.ip_number.0, payload.payload)?.ok()?;
    }
    None
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

#[cfg(test)]
mod tests;
