//! What the control flags do to a connection: a side's SYN (its initial
//! sequence number, the client's SYN times, who opened) and its first FIN
//! (where it sits, which idle period it ended, whether it answered the
//! peer's, what it left waiting), and the holes a FIN beyond the data
//! shows. A child module of [`Conn`], apart from the payload path
//! ([`super::data`]) and the per-segment dispatch.

use super::{Conn, Fin, Notes, SYN_TIMES, Side};
use crate::decode::Segment;
use crate::flow::Seq;

/// Unacknowledged bytes a FIN must follow to have been queued behind a
/// transfer: more than one full Ethernet segment (1460).
const QUEUED_FIN_MIN_UNACKED: i64 = 1460;

impl Conn {
    /// A FIN of `side` at `fin_seq`; `first` when it is the side's first;
    /// `activity` when the segment's payload was data (not a TLS alert).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_fin(
        &mut self,
        side: Side,
        fin_seq: Seq,
        first: bool,
        ack: Option<Seq>,
        seg: &Segment<'_>,
        activity: bool,
        notes: &mut Notes<'_>,
    ) {
        let i = side.idx();
        let ns = seg.ts_ns;
        // `next` stays at the end of the data: a FIN beyond it means data
        // is missing from the capture, and when that data shows up late
        // it must count as new, not as a retransmission.
        if seg.payload_len == 0
            && first
            && let Some(n) = self.half[i].next()
            && fin_seq > n
        {
            self.add_hole(side, n, fin_seq);
        }
        if !first {
            return;
        }
        let idle_since = match (self.pending(side.other()), ack) {
            // The FIN does not acknowledge the peer's pending data:
            // the closer had not received it, so its idle period
            // started before that data.
            (Some(p), Some(a)) if a <= p.start => p.idle_since,
            (Some(p), None) => p.idle_since,
            _ => self.last_payload_ns(),
        };
        // A bare FIN queued behind more data than a close's own records
        // (a TLS alert, an HTTP/2 GOAWAY: tens of bytes) that the peer had
        // not yet acknowledged left when the window opened, not when a
        // timer fired: the sender was still sending, not idle (a bulk
        // download closed at its end, issue 21). Its idle period is none.
        let queued = seg.payload_len == 0
            && self.half[side.other().idx()]
                .max_ack()
                .is_some_and(|a| fin_seq.diff(a) > QUEUED_FIN_MIN_UNACKED);
        let idle_since = if queued { Some(ns) } else { idle_since };
        let reply = self
            .fin(side.other())
            .is_some_and(|pf| ack.is_some_and(|a| a > pf.seq));
        let in_response = self.http_client == Some(side.other()) && self.resp.in_progress();
        let awaiting = self.pending(side).is_some();
        self.cold().fin[i] = Some(Fin {
            seq: fin_seq,
            ack,
            ns,
            idle_since,
            with_data: seg.payload_len > 0 && activity,
            reply,
            in_response,
            awaiting,
            after_alert: self.tls().is_some_and(|t| t.last_alert(i)),
        });
        notes.fin = true;
        self.history.note(side, b'F');
    }

    pub(super) fn on_syn(&mut self, side: Side, seq: Seq, ack: Option<Seq>, ns: i64) {
        let i = side.idx();
        if self.half[i].isn().is_none() {
            self.half[i].set_isn(seq);
            self.half[i].set_next(seq + 1);
        }
        if let Some(a) = ack {
            self.half[i].synack = true;
            self.half[i].set_synack_ack(a);
            self.history.note(side, b'H');
            // The handshake's first packet was missed: the other side is the client.
            self.syn_client.get_or_insert(side.other());
        } else {
            self.history.note(side, b'S');
            self.syn_client.get_or_insert(side);
        }
        // Only the client's SYN times are evidence (the server's SYN-ACKs are
        // counted, not timed).
        let n = self.half[i].syns as usize;
        if self.syn_client == Some(side) && n < SYN_TIMES {
            if n == 0 {
                self.syn_ns = ns;
            } else {
                self.cold().syn_ns[n - 1] = ns;
            }
        }
        self.half[i].syns = self.half[i].syns.saturating_add(1);
    }

    pub(super) fn add_hole(&mut self, side: Side, start: Seq, end: Seq) {
        let gaps = self.cold().gaps.get_or_insert_with(Box::default);
        gaps.open[side.idx()] += 1;
        gaps.hole[side.idx()].add(start, end);
        self.history.note(side, b'G');
    }
}
