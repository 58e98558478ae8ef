//! The flow table: open connections by key, and the queue that lets finished
//! ones go after a grace period (late retransmissions and ACKs still find
//! them). Memory follows the number of open connections.
//!
//! Layout: the connections live in a slab of slots (`Vec<Option<Conn>>`,
//! freed slots reused), and a hash table of 4-byte slot numbers finds them.
//! The key is not stored twice: the table hashes the segment's
//! direction-free key and compares it with the slot's own endpoints. A
//! lookup touches the index (5 bytes a slot, mostly in cache) and then the
//! connection, whose first cache line holds what the comparison reads.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use hashbrown::{HashSet, HashTable};

use super::{Conn, Endpoint, FlowKey, Side};
use crate::decode::Segment;

/// How long a finished connection (both FINs, or a RST) stays in the table
/// for late packets: RSTs answering retransmitted data, the last ACK. Capture
/// time, not wall time.
pub const GRACE_NS: i64 = 5_000_000_000;

/// Default cap on connections open at once. An open connection costs about
/// 258 bytes of resident memory (its 248-byte slot and its index entry), so
/// a million open at once fit in 256 MiB (measured with the 232-byte slot
/// before responses were followed: a 1 M-connection SYN flood peaked at
/// 248 MiB). A connection that has sent a FIN or RST also
/// holds its out-of-line part (192 bytes; a TLS connection from its
/// ClientHello on, with its record layer's own allocation) until it leaves, and one with a
/// request waiting its target (up to about 220): the analysis's memory
/// budget (`--max-memory`) bounds those.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_000_000;

/// Bytes of resident memory an open connection costs in the table.
pub const SLOT_BYTES: usize = std::mem::size_of::<Option<Conn>>() + 10;

/// 4-tuples that left the table remembered for counting distinct 4-tuples
/// at most; beyond it the count stops (and says so) rather than grow with
/// the capture. The memory budget may allow fewer ([`gone_cap`]).
pub const MAX_TUPLES: usize = 1_000_000;

/// What an eviction holds per connection it evicts, beyond the connection:
/// its entry in the heap that picks the idlest, and its event crossing to
/// the judging (issue 23: neither was counted, 17 MiB at a 256 MiB budget).
pub const EVICT_BYTES: usize =
    std::mem::size_of::<TableEvent>() + std::mem::size_of::<(bool, i64, u64, u32)>();

/// 4-tuples that left the table remembered at least, whatever the budget:
/// those 2^16 buckets hold (576 KiB, 864 KiB while the set last grows), a
/// constant outside the budget, so that a small `--max-memory` does not
/// cost an ordinary capture its exact count.
pub const MIN_TUPLES: usize = 57_344;

/// How many 4-tuples that left the table a memory budget of `budget` bytes
/// remembers, and the bytes the budget keeps for them: as many as fill the
/// buckets that a sixteenth of the budget holds with room for the set's
/// last growth (its old buckets beside the new), from [`MIN_TUPLES`] to
/// [`MAX_TUPLES`] (917 504 in 13.5 MiB at the default 256 MiB). Issue 23:
/// a fixed million (18–27 MiB), not counted, took a SYN flood 33 MiB past
/// the budget whatever the budget. The whole share is kept from the start:
/// a set that grew into a full table left the slots of the connections it
/// displaced resident and uncounted.
pub fn gone_cap(budget: usize) -> (usize, usize) {
    // A bucket is the 8-byte hash and a control byte; the last growth,
    // from n/2 buckets to n, holds both tables at once: 1.5 n buckets.
    const BUCKET: usize = 9;
    let share = budget / 16;
    let mut buckets: usize = 8;
    while (2 * buckets) * BUCKET * 3 / 2 <= share {
        buckets *= 2;
    }
    // The set grows when 7/8 of its buckets are full: stop there.
    let cap = (buckets / 8 * 7).clamp(MIN_TUPLES, MAX_TUPLES);
    let buckets = (cap * 8 / 7).next_power_of_two();
    (cap, (buckets * BUCKET * 3 / 2).min(share))
}

/// Something the table did besides updating a connection.
#[derive(Debug)]
pub enum TableEvent {
    /// A connection left the table (finished and past its grace period, or
    /// replaced by a new connection on the same 4-tuple).
    Done(Conn),
    /// A connection pushed out, still open, because the table was full: its
    /// verdict only knows what came before.
    Evicted(Conn),
}

/// The hasher of the table's keys. Randomly seeded (a capture must not be
/// able to choose collisions); a copy of it lets another thread hash the
/// keys a batch ahead ([`FlowTable::hasher`], [`FlowHash`]).
pub type FlowHasher = foldhash::fast::RandomState;

/// A segment's key hashed by the table's own [`FlowHasher`]: the reader
/// thread computes it beside the decode, where the addresses are already in
/// cache, so that the analysis thread does not (issue 22: 54 instructions a
/// packet off the analysis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowHash(u64);

impl FlowHash {
    /// The hash of `seg`'s key with `hasher`, which must be a copy of the
    /// table's ([`FlowTable::hasher`]).
    #[inline]
    pub fn of(hasher: &FlowHasher, seg: &Segment<'_>) -> FlowHash {
        FlowHash(hasher.hash_one(seg.key().0))
    }
}

/// Open connections by direction-free key.
pub struct FlowTable {
    /// Slot numbers, found by the hash of the connection's key.
    index: HashTable<u32>,
    hasher: FlowHasher,
    /// The connections; `None` slots are listed in `free`.
    slots: Vec<Option<Conn>>,
    free: Vec<u32>,
    /// Finished connections: when their grace period ends, slot, id.
    evict: VecDeque<(i64, u32, u64)>,
    next_id: u64,
    /// Connections ever created.
    pub created: u64,
    /// Largest number of connections in the table at once.
    pub peak: usize,
    /// Most connections kept at once; beyond it the longest idle go.
    pub max: usize,
    /// Connections evicted to stay under `max`.
    pub evicted: u64,
    /// Distinct 4-tuples seen (see [`FlowTable::tuples`]).
    tuples: u64,
    /// Hashes of the 4-tuples that left the table: a 4-tuple coming back is
    /// not new. Open ones are in the table itself. At most `max_gone`.
    /// (Hashed again with a random seed: the stored hashes are fixed, and
    /// a capture must not be able to choose collisions in this set.)
    gone: HashSet<u64, foldhash::fast::RandomState>,
    /// Most hashes `gone` keeps, and the bytes kept for them
    /// ([`gone_cap`] of the budget; see [`FlowTable::set_budget`]).
    max_gone: usize,
    gone_reserve: Option<usize>,
    tuple_hasher: foldhash::fast::FixedState,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `conn` is the connection between `src` and `dst` on `vlan`.
#[inline]
fn same(conn: &Conn, vlan: u32, src: Endpoint, dst: Endpoint) -> bool {
    conn.vlan == vlan && ((conn.a == src && conn.b == dst) || (conn.a == dst && conn.b == src))
}

fn key_of(conn: &Conn) -> FlowKey {
    FlowKey::new(conn.vlan, conn.a, conn.b).0
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable {
            index: HashTable::new(),
            hasher: FlowHasher::default(),
            slots: Vec::new(),
            free: Vec::new(),
            evict: VecDeque::new(),
            next_id: 0,
            created: 0,
            peak: 0,
            max: DEFAULT_MAX_CONNECTIONS,
            evicted: 0,
            tuples: 0,
            gone: HashSet::default(),
            max_gone: MAX_TUPLES,
            gone_reserve: None,
            tuple_hasher: foldhash::fast::FixedState::with_seed(0x5eed),
        }
    }

    /// Connections in the table now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Distinct 4-tuples seen, and whether the count is exact (false once
    /// more than `max_gone` 4-tuples have left the table: from then on
    /// none is counted, so the count is a lower bound).
    pub fn tuples(&self) -> (u64, bool) {
        (self.tuples, self.gone.len() < self.max_gone)
    }

    /// Sizes what the table remembers of the connections that left it to a
    /// memory budget of `budget` bytes ([`gone_cap`]).
    pub fn set_budget(&mut self, budget: usize) {
        let (cap, reserve) = gone_cap(budget);
        (self.max_gone, self.gone_reserve) = (cap, Some(reserve));
    }

    /// The most 4-tuples that left the table it remembers.
    pub fn max_gone(&self) -> usize {
        self.max_gone
    }

    /// Heap bytes the table holds, for the memory budget: the slots of the
    /// open connections (a freed slot is soon reused, and counting it
    /// would leave nothing for eviction to win back), the index, the free
    /// list, the grace queue and the 4-tuples that left (their whole share
    /// of the budget once [`FlowTable::set_budget`] gave one, see
    /// [`gone_cap`]; else as allocated).
    pub fn bytes(&self) -> usize {
        // Removals leave the index full of tombstones, and hashbrown then
        // doubles it at a constant size (issue 23: 5 MiB for 430 k
        // connections): counted at the size it would double to, 16/7
        // buckets a connection, of 5 bytes (a slot number and a control
        // byte).
        let index =
            ((self.index.len() * 16 / 7).next_power_of_two() * 5).max(self.index.allocation_size());
        self.index.len() * std::mem::size_of::<Option<Conn>>()
            + index
            + self.free.capacity() * std::mem::size_of::<u32>()
            + self.evict.capacity() * std::mem::size_of::<(i64, u32, u64)>()
            + self
                .gone_reserve
                .unwrap_or_else(|| self.gone.allocation_size())
    }

    /// A copy of the table's hasher, for [`FlowHash::of`] on another thread.
    pub fn hasher(&self) -> FlowHasher {
        self.hasher.clone()
    }

    /// `seg`'s key hashed by this table's hasher.
    #[inline]
    pub fn hash(&self, seg: &Segment<'_>) -> FlowHash {
        FlowHash::of(&self.hasher, seg)
    }

    /// The connection a segment belongs to (created if new), its slot and
    /// the side that sent it. `hash` is the segment's, from
    /// [`FlowTable::hash`] or a copy of the hasher on another thread. A SYN
    /// that starts a new connection on a 4-tuple still in the table pushes
    /// the old one out through `out`. One hash lookup per segment.
    pub fn lookup(
        &mut self,
        seg: &Segment<'_>,
        FlowHash(hash): FlowHash,
        out: &mut Vec<TableEvent>,
    ) -> (u32, &mut Conn, Side) {
        let (src, dst) = (seg.src_endpoint(), seg.dst_endpoint());
        let slots = &self.slots;
        let found = self
            .index
            .find(hash, |&i| {
                slots[i as usize]
                    .as_ref()
                    .is_some_and(|c| same(c, seg.vlan, src, dst))
            })
            .copied();
        let slot = match found {
            Some(slot) => {
                let conn = self.slots[slot as usize]
                    .as_mut()
                    .expect("indexed slot is full");
                let side = if conn.a == src { Side::A } else { Side::B };
                if conn.is_new_syn(side, seg) {
                    // Port reuse: a new handshake on a 4-tuple still here.
                    let mut fresh = Conn::new(self.next_id, seg.vlan, src, dst, seg.ts_ns);
                    fresh.input = seg.input;
                    self.next_id += 1;
                    self.created += 1;
                    out.push(TableEvent::Done(std::mem::replace(conn, fresh)));
                }
                slot
            }
            None => {
                if self.index.len() >= self.max {
                    self.evict_idle(self.max / 8, out);
                }
                let mut conn = Conn::new(self.next_id, seg.vlan, src, dst, seg.ts_ns);
                conn.input = seg.input;
                self.next_id += 1;
                self.created += 1;
                let slot = match self.free.pop() {
                    Some(s) => {
                        self.slots[s as usize] = Some(conn);
                        s
                    }
                    None => {
                        self.slots.push(Some(conn));
                        (self.slots.len() - 1) as u32
                    }
                };
                let (slots, hasher) = (&self.slots, &self.hasher);
                self.index.insert_unique(hash, slot, |&i| {
                    let c = slots[i as usize].as_ref().expect("indexed slot is full");
                    hasher.hash_one(key_of(c))
                });
                self.peak = self.peak.max(self.index.len());
                // Only a new connection needs the key itself.
                let (key, _) = FlowKey::new(seg.vlan, src, dst);
                if self.gone.len() < self.max_gone
                    && !self.gone.contains(&self.tuple_hasher.hash_one(key))
                {
                    self.tuples += 1;
                }
                slot
            }
        };
        let conn = self.slots[slot as usize].as_mut().expect("slot just found");
        let side = if conn.a == src { Side::A } else { Side::B };
        (slot, conn, side)
    }

    /// Takes the connection out of `slot`, frees the slot, and remembers its
    /// 4-tuple as seen.
    fn remove(&mut self, slot: u32) -> Option<Conn> {
        let conn = self.slots[slot as usize].take()?;
        let key = key_of(&conn);
        if let Ok(e) = self
            .index
            .find_entry(self.hasher.hash_one(key), |&i| i == slot)
        {
            e.remove();
        }
        self.free.push(slot);
        if self.gone.len() < self.max_gone {
            self.gone.insert(self.tuple_hasher.hash_one(key));
        }
        Some(conn)
    }

    /// Makes room when the analysis is over its memory budget: evicts the
    /// longest-idle eighth of the connections open now.
    pub fn make_room(&mut self, out: &mut Vec<TableEvent>) {
        self.evict_idle(self.index.len() / 8, out);
    }

    /// Evicts the `n` longest-idle connections (at least one) in one pass,
    /// so a flood of new connections costs O(1) amortised per connection.
    ///
    /// Finished connections waiting out their grace period go first: they
    /// leave early, as done (only a late packet of theirs would miss them),
    /// and are not counted as evicted. Then open ones, longest idle first.
    fn evict_idle(&mut self, n: usize, out: &mut Vec<TableEvent>) {
        let n = n.max(1).min(self.index.len());
        // The n idlest in a heap of n (issue 23: a list of every open
        // connection, 32 bytes each, was a transient eighth of the table's
        // own memory on top of the budget).
        let mut heap: std::collections::BinaryHeap<(bool, i64, u64, u32)> =
            std::collections::BinaryHeap::with_capacity(n + 1);
        // Exactly room for the batch: doubling would hold up to twice what
        // the budget keeps room for ([`EVICT_BYTES`]).
        out.reserve_exact(n);
        for (i, c) in self.slots.iter().enumerate() {
            if let Some(c) = c {
                let key = (!c.state.is_finished(), c.last_ns, c.id, i as u32);
                if heap.len() < n {
                    heap.push(key);
                } else if let Some(mut most) = heap.peek_mut()
                    && key < *most
                {
                    // Most slots are passed over with this one compare (a
                    // push and a pop each were 14 % of the instructions of
                    // 200 k unanswered requests at --max-memory 16).
                    *most = key;
                }
            }
        }
        // Oldest first, so the report's order does not depend on the slots.
        let idle = heap.into_sorted_vec();
        for (open, _, _, slot) in idle {
            if let Some(c) = self.remove(slot) {
                if open {
                    self.evicted += 1;
                    out.push(TableEvent::Evicted(c));
                } else {
                    out.push(TableEvent::Done(c));
                }
            }
        }
    }

    /// Marks a finished connection for removal after the grace period.
    pub fn schedule(&mut self, slot: u32, id: u64, now_ns: i64) {
        self.evict
            .push_back((now_ns.saturating_add(GRACE_NS), slot, id));
    }

    /// Removes finished connections whose grace period ended by `now_ns`.
    #[inline]
    pub fn expire(&mut self, now_ns: i64, out: &mut Vec<TableEvent>) {
        // Called for every segment: the common answer is "nothing due yet".
        if self.evict.front().is_none_or(|&(due, _, _)| due > now_ns) {
            return;
        }
        self.expire_due(now_ns, out);
    }

    #[inline(never)]
    fn expire_due(&mut self, now_ns: i64, out: &mut Vec<TableEvent>) {
        while let Some(&(due, slot, id)) = self.evict.front() {
            if due > now_ns {
                break;
            }
            self.evict.pop_front();
            let still_done = self.slots[slot as usize]
                .as_ref()
                .is_some_and(|c| c.id == id && c.state.is_finished());
            if still_done && let Some(c) = self.remove(slot) {
                out.push(TableEvent::Done(c));
            }
        }
    }

    /// Starts emptying the table at the end of the input: the slots of every
    /// connection still open, in creation order, for [`FlowTable::take`]
    /// (each `u64`'s low 32 bits). One at a time, so that the end of a long
    /// capture does not need a second copy of the whole table. Nothing can
    /// be looked up any more: the index is freed first, so that the order's
    /// memory takes its place rather than adding to the peak.
    pub fn drain_order(&mut self) -> Vec<u64> {
        self.evict = VecDeque::new();
        self.index = HashTable::new();
        self.free = Vec::new();
        // Sorted as one u64 per connection (id offset above, slot below)
        // when the ids span less than 2^32, which they do unless the table
        // kept a connection across four billion others.
        let live = || {
            self.slots
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.as_ref().map(|c| (c.id, i as u32)))
        };
        let base = live().map(|(id, _)| id).min().unwrap_or(0);
        if live().all(|(id, _)| id - base <= u64::from(u32::MAX)) {
            let mut order: Vec<u64> = live()
                .map(|(id, s)| (id - base) << 32 | u64::from(s))
                .collect();
            order.sort_unstable();
            order
        } else {
            let mut order: Vec<(u64, u32)> = live().collect();
            order.sort_unstable();
            order.into_iter().map(|(_, slot)| u64::from(slot)).collect()
        }
    }

    /// Takes the connection in `slot` out of the table at the end of the
    /// input (after [`FlowTable::drain_order`]).
    pub fn take(&mut self, slot: u32) -> Option<Conn> {
        self.slots.get_mut(slot as usize)?.take()
    }
}
