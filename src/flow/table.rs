//! The flow table: open connections by key, and the queue that lets finished
//! ones go after a grace period (late retransmissions and ACKs still find
//! them). Memory follows the number of open connections.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use super::{Conn, FlowKey, Side};
use crate::decode::Segment;

/// How long a finished connection (both FINs, or a RST) stays in the table
/// for late packets: RSTs answering retransmitted data, the last ACK. Capture
/// time, not wall time.
pub const GRACE_NS: i64 = 5_000_000_000;

/// Default cap on connections open at once. A connection costs about 750
/// bytes of resident memory (the boxed state, its slot in the map, its entry
/// in the distinct-4-tuple set), so 200 000 keep a run near 200 MiB whatever
/// the input: measured 1 M-connection SYN flood, 215 MiB peak RSS.
pub const DEFAULT_MAX_CONNECTIONS: usize = 200_000;

/// Something the table did besides updating a connection.
#[derive(Debug)]
pub enum TableEvent {
    /// A connection left the table (finished and past its grace period, or
    /// replaced by a new connection on the same 4-tuple).
    Done(Box<Conn>),
    /// A connection pushed out, still open, because the table was full: its
    /// verdict only knows what came before.
    Evicted(Box<Conn>),
}

/// Open connections by direction-free key.
pub struct FlowTable {
    /// Boxed: the map's slots stay small (a key and a pointer), so its
    /// power-of-two growth does not double the cost of every connection.
    map: HashMap<FlowKey, Box<Conn>, foldhash::fast::RandomState>,
    evict: VecDeque<(i64, FlowKey, u64)>,
    next_id: u64,
    /// Connections ever created.
    pub created: u64,
    /// Largest number of connections in the table at once.
    pub peak: usize,
    /// Most connections kept at once; beyond it the longest idle go.
    pub max: usize,
    /// Connections evicted to stay under `max`.
    pub evicted: u64,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable {
            map: HashMap::default(),
            evict: VecDeque::new(),
            next_id: 0,
            created: 0,
            peak: 0,
            max: DEFAULT_MAX_CONNECTIONS,
            evicted: 0,
        }
    }

    /// Connections in the table now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no connection is open.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The connection a segment belongs to (created if new), the side that
    /// sent it, and whether its 4-tuple is new to the table. A SYN that
    /// starts a new connection on a 4-tuple still in the table pushes the old
    /// one out through `out`. One hash lookup per segment.
    pub fn lookup(
        &mut self,
        seg: &Segment<'_>,
        out: &mut Vec<TableEvent>,
    ) -> (FlowKey, &mut Conn, Side, bool) {
        let (src, dst) = (seg.src_endpoint(), seg.dst_endpoint());
        let (key, _) = FlowKey::new(seg.vlan, src, dst);
        if self.map.len() >= self.max && !self.map.contains_key(&key) {
            self.evict_idle(out);
        }
        let id = self.next_id;
        let open_before = self.map.len();
        let fresh = || Box::new(Conn::new(id, seg.vlan, src, dst, seg.ts_ns));
        let (conn, new_tuple) = match self.map.entry(key) {
            Entry::Occupied(o) => {
                let conn = o.into_mut();
                let side = if conn.a == src { Side::A } else { Side::B };
                if conn.is_new_syn(side, seg) {
                    // Port reuse: a new handshake on a 4-tuple still here.
                    let old = std::mem::replace(conn, fresh());
                    out.push(TableEvent::Done(old));
                    self.next_id += 1;
                    self.created += 1;
                }
                (conn, false)
            }
            Entry::Vacant(v) => {
                self.next_id += 1;
                self.created += 1;
                (v.insert(fresh()), true)
            }
        };
        let side = if conn.a == src { Side::A } else { Side::B };
        if new_tuple {
            self.peak = self.peak.max(open_before + 1);
        }
        (key, conn, side, new_tuple)
    }

    /// Makes room: evicts the longest-idle eighth of the table in one pass,
    /// so a flood of new connections costs O(1) amortised per connection.
    fn evict_idle(&mut self, out: &mut Vec<TableEvent>) {
        let n = (self.max / 8).max(1).min(self.map.len());
        let mut idle: Vec<(i64, FlowKey)> = self.map.iter().map(|(k, c)| (c.last_ns, *k)).collect();
        if n < idle.len() {
            idle.select_nth_unstable_by_key(n, |(t, _)| *t);
            idle.truncate(n);
        }
        // Oldest first, so the report's order does not depend on the hash map.
        idle.sort_unstable_by_key(|(t, k)| (*t, self.map[k].id));
        for (_, key) in idle {
            if let Some(c) = self.map.remove(&key) {
                self.evicted += 1;
                out.push(TableEvent::Evicted(c));
            }
        }
    }

    /// Marks a finished connection for removal after the grace period.
    pub fn schedule(&mut self, key: FlowKey, id: u64, now_ns: i64) {
        self.evict
            .push_back((now_ns.saturating_add(GRACE_NS), key, id));
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
        while let Some(&(due, key, id)) = self.evict.front() {
            if due > now_ns {
                break;
            }
            self.evict.pop_front();
            let still_done = self
                .map
                .get(&key)
                .is_some_and(|c| c.id == id && c.state.is_finished());
            if still_done && let Some(c) = self.map.remove(&key) {
                out.push(TableEvent::Done(c));
            }
        }
    }

    /// Empties the table at the end of the input, in creation order.
    pub fn drain(&mut self) -> Vec<Box<Conn>> {
        self.evict.clear();
        // Boxes, not values: moving every connection out at once would need a
        // second copy of the whole table at the very end of a long capture.
        let mut all: Vec<Box<Conn>> = self.map.drain().map(|(_, c)| c).collect();
        all.sort_by_key(|c| c.id);
        all
    }
}
