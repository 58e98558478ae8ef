//! What payload does to a connection: new data, a retransmission, or late
//! data filling a hole; the pending turn it answers or starts; and what its
//! first bytes say of HTTP. Apart from the rest of [`Conn`] because it is the
//! longest path a segment takes, not because it stands alone (a child
//! module, it shares the connection's private fields).

use super::{Conn, MAX_HEADS_SCANNED, Notes, Side, Waiting};
use crate::decode::Segment;
use crate::flow::Seq;
use crate::flow::http::{self, Method, Paths};

impl Conn {
    /// New data, a retransmission, or late data into a hole, from `side`.
    pub(super) fn on_payload(
        &mut self,
        side: Side,
        seq: Seq,
        ack: Option<Seq>,
        seg: &Segment<'_>,
        paths: &mut Paths,
        notes: &mut Notes,
    ) {
        let i = side.idx();
        let len = seg.payload_len;
        let end = seq + len;
        let next = self.half[i].next().unwrap_or(seq);
        // A late segment that fills the start of the pending data (it was
        // reordered behind later data) still tells what the request was.
        if let Some(w) = &mut self.pending
            && w.side == side
            && w.method.is_none()
            && w.start == seq
            && let Some((method, kept, longer)) = http::request_target(seg.payload)
        {
            w.method = Some(method);
            w.path = paths.put(kept, longer).get();
        }
        if end <= next {
            if self.fill_hole(side, seq, end) {
                // Reordered, not retransmitted: data that was missing arrived.
                self.history.note(side, b'D');
            } else {
                // Nothing beyond what this side already sent: a retransmission.
                self.history.note(side, b'T');
            }
            return;
        }
        if seq > next {
            // Data before this segment is not (yet) in the capture.
            self.add_hole(side, next, seq);
        }
        let new_bytes = end.diff(if seq > next { seq } else { next }).max(0) as u64;
        self.half[i].set_next(end);
        self.bytes[i] += new_bytes;
        self.history.note(side, b'D');

        // New data answers whatever the other side had pending.
        if let Some(w) = self.pending.take_if(|w| w.side != side) {
            notes.answered = Some((w.side, w.view()));
        }
        if self.pending.is_none() {
            let (method, path) = if seq == next {
                self.sniff(side, seg.payload, paths)
            } else {
                (None, 0)
            };
            self.pending = Some(Waiting {
                start: next,
                ack: ack.unwrap_or_default(),
                ns: seg.ts_ns,
                idle_since: self.last_payload_ns,
                path,
                method,
                side,
                has_ack: ack.is_some(),
                reuse: self.half[i].turns > 0,
            });
            self.half[i].turns += 1;
            notes.new_turn = true;
        }
        self.last_payload_ns = seg.ts_ns;
    }

    /// Counts the part of [seq, end) that falls into open holes as new data
    /// and shrinks them. Returns whether anything was filled.
    fn fill_hole(&mut self, side: Side, seq: Seq, end: Seq) -> bool {
        let i = side.idx();
        let Some(gaps) = self.cold.as_mut().and_then(|c| c.gaps.as_mut()) else {
            return false;
        };
        let (bytes, closed) = gaps.hole[i].fill(seq, end);
        gaps.open[i] = gaps.open[i].saturating_sub(closed);
        self.bytes[i] += bytes;
        bytes > 0
    }

    /// What the first bytes of a new turn say: the request line (also names
    /// the client; its target goes into `paths`), or a status line (names
    /// the server) with the server's `Keep-Alive` header.
    fn sniff(&mut self, side: Side, payload: &[u8], paths: &mut Paths) -> (Option<Method>, u32) {
        if let Some((method, kept, longer)) = http::request_target(payload) {
            self.http_client.get_or_insert(side);
            return (Some(method), paths.put(kept, longer).get());
        }
        if self.heads_scanned < MAX_HEADS_SCANNED && http::status_line(payload).is_some() {
            self.http_client.get_or_insert(side.other());
            self.heads_scanned += 1;
            if let Some(t) = http::response_head(payload).keep_alive_s {
                self.keep_alive_s = t;
                // Known: later responses need not be read.
                self.heads_scanned = MAX_HEADS_SCANNED;
            }
        }
        (None, 0)
    }
}
