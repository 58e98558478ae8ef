//! The flow table: open connections by key, and the queue that lets finished
//! ones go after a grace period (late retransmissions and ACKs still find
//! them). Memory follows the number of open connections.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use super::{Conn, Endpoint, FlowKey, Side};
use crate::decode::Segment;

/// How long a finished connection (both FINs, or a RST) stays in the table
/// for late packets: RSTs answering retransmitted data, the last ACK. Capture
/// time, not wall time.
pub const GRACE_NS: i64 = 5_000_000_000;

/// Something the table did besides updating a connection.
#[derive(Debug)]
pub enum TableEvent {
    /// A connection left the table (finished and past its grace period, or
    /// replaced by a new connection on the same 4-tuple).
    Done(Box<Conn>),
}

/// Open connections by direction-free key.
pub struct FlowTable {
    map: HashMap<FlowKey, Conn, foldhash::fast::RandomState>,
    evict: VecDeque<(i64, FlowKey, u64)>,
    next_id: u64,
    /// Connections ever created.
    pub created: u64,
    /// Largest number of connections in the table at once.
    pub peak: usize,
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
        let src = Endpoint {
            ip: seg.src,
            port: seg.sport,
        };
        let dst = Endpoint {
            ip: seg.dst,
            port: seg.dport,
        };
        let (key, _) = FlowKey::new(seg.vlan, src, dst);
        let id = self.next_id;
        let open_before = self.map.len();
        let fresh = || Conn::new(id, seg.vlan, src, dst, seg.ts_ns);
        let (conn, new_tuple) = match self.map.entry(key) {
            Entry::Occupied(o) => {
                let conn = o.into_mut();
                let side = if conn.a == src { Side::A } else { Side::B };
                if conn.is_new_syn(side, seg) {
                    // Port reuse: a new handshake on a 4-tuple still here.
                    let old = std::mem::replace(conn, fresh());
                    out.push(TableEvent::Done(Box::new(old)));
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

    /// Marks a finished connection for removal after the grace period.
    pub fn schedule(&mut self, key: FlowKey, id: u64, now_ns: i64) {
        self.evict
            .push_back((now_ns.saturating_add(GRACE_NS), key, id));
    }

    /// Removes finished connections whose grace period ended by `now_ns`.
    pub fn expire(&mut self, now_ns: i64, out: &mut Vec<TableEvent>) {
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
                out.push(TableEvent::Done(Box::new(c)));
            }
        }
    }

    /// Empties the table at the end of the input, in creation order.
    pub fn drain(&mut self) -> Vec<Conn> {
        self.evict.clear();
        let mut all: Vec<Conn> = self.map.drain().map(|(_, c)| c).collect();
        all.sort_by_key(|c| c.id);
        all
    }
}
