//! One segment applied to a connection: whether a SYN starts a new one on
//! the same 4-tuple, the per-segment dispatch to the state machine, the
//! control flags ([`super::control`]) and the payload ([`super::data`]),
//! and the pure ACK's short path. A child module of [`Conn`], apart from
//! what the connection is and tells.

use super::*;

impl Conn {
    /// Whether a new SYN from `side` starts a new connection on this 4-tuple
    /// (port reuse) rather than retransmitting this one's SYN.
    pub fn is_new_syn(&self, side: Side, seg: &Segment<'_>) -> bool {
        if !seg.flags.syn() || seg.flags.ack() {
            return false;
        }
        match self.h(side).isn() {
            Some(isn) => isn != Seq(seg.seq),
            // Mid-stream or SYN-ACK-only connections: a SYN from a side that
            // has already sent data, a FIN or a RST is a new connection.
            None => {
                // The SYN this side's peer already answered, captured late
                // (reordered handshake), belongs to this connection.
                let answered = self.h(side.other()).synack_ack() == Some(Seq(seg.seq) + 1);
                !answered
                    && (self.state.is_finished()
                        || self.h(side).packets > 0 && self.syn_client != Some(side))
            }
        }
    }

    /// Feeds one segment sent by `side`. A request's target goes into `paths`.
    pub fn process<'a>(&mut self, side: Side, seg: &Segment<'a>, paths: &mut Paths) -> Notes<'a> {
        let mut notes = Notes::default();
        self.process_into(side, seg, None, paths, &mut notes);
        notes
    }

    /// [`process`](Self::process), writing what the segment changed into
    /// `notes` (fresh, [`Notes::default`]): the analysis's hot path, where a
    /// returned `Notes` (144 bytes) cost a copy per segment once the payload
    /// path grew (HTTP/2), 1.3 % of an HTTP/1 run's instructions. `head`
    /// is what the reader thread read of the HTTP/1 head the payload begins
    /// ([`Head`]), if it did.
    pub fn process_into<'a>(
        &mut self,
        side: Side,
        seg: &Segment<'a>,
        head: Option<&'a Head>,
        paths: &mut Paths,
        notes: &mut Notes<'a>,
    ) {
        let flags = seg.flags;
        // Classified once, before anything below changes a counter, a FIN
        // or a RST record: only a side's first FIN and first RST count (and
        // the records are looked up only for segments with those flags).
        let first_fin = flags.fin() && self.fin(side).is_none();
        let first_rst = flags.rst() && self.rst(side).is_none();
        let events = state::events(flags, first_fin, first_rst);
        // Most segments are ACKs or data on an open connection: no
        // transition can fire, so neither guards nor the machine are needed.
        let steady = events == [None, None, Some(Event::Ack)]
            && matches!(self.state, State::Established | State::HalfClosed(_));
        let guards = (!steady).then(|| self.guards(side));

        let ns = seg.ts_ns;
        self.last_ns = self.last_ns.max(ns);
        let i = side.idx();
        self.half[i].packets = self.half[i].packets.saturating_add(1);
        let seq = Seq(seg.seq);
        let ack = flags.ack().then_some(Seq(seg.ack));

        if flags.syn() {
            self.on_syn(side, seq, ack, ns);
        }
        if self.half[i].next().is_none() {
            // Mid-stream: this segment defines where the side's data starts.
            self.half[i].set_next(if flags.syn() { seq + 1 } else { seq });
        }
        let data_seq = if flags.syn() { seq + 1 } else { seq };
        // RST payload is a diagnostic, never delivered to the application
        // (RFC 9293 3.5.3): it answers nothing and starts nothing.
        let mut activity = false;
        if seg.payload_len > 0 && !flags.rst() {
            let sniff = Sniff {
                bytes: seg.payload,
                head,
            };
            activity = self.on_payload(side, data_seq, ack, seg, sniff, paths, notes);
        } else if !flags.syn() && !flags.fin() && !flags.rst() {
            self.history.note(side, b'A');
        }
        if let Some(a) = ack {
            let h = &mut self.half[i];
            if h.max_ack().is_none_or(|m| a > m) {
                h.set_max_ack(a);
            }
        }
        if flags.fin() {
            let fin_seq = data_seq + seg.payload_len;
            self.on_fin(side, fin_seq, first_fin, ack, seg, activity, notes);
        }
        if first_rst {
            self.cold().rst[i] = Some(Rst {
                ns,
                seq,
                ack,
                payload: seg.payload_len,
            });
            notes.rst = true;
            self.history.note(side, b'R');
        }

        // The state machine, fired from here only. Nothing above reads the
        // state, so applying the events last is the same as applying each
        // where its flag is handled.
        if let Some(guards) = guards {
            for event in events.into_iter().flatten() {
                let next = state::next(self.state, side, event, guards);
                if next != self.state {
                    self.set_state(next, ns);
                }
            }
        }
    }

    /// A segment without payload, SYN, FIN or RST (a pure ACK) on an open
    /// connection: it counts a packet, may mark where the side's data
    /// starts, notes the ACK in the history and may raise the side's highest
    /// acknowledgement; it starts, answers and ends nothing, so no state,
    /// turn or verdict can change. Does exactly what
    /// [`process_into`](Self::process_into) would and returns true; returns
    /// false, changing nothing, for any other segment. (Issue 22: a third of
    /// real traffic's packets are pure ACKs.)
    #[inline]
    pub fn pure_ack(&mut self, side: Side, seg: &Segment<'_>) -> bool {
        let flags = seg.flags;
        if seg.payload_len != 0
            || flags.0 & (Flags::SYN | Flags::FIN | Flags::RST) != 0
            || !matches!(self.state, State::Established | State::HalfClosed(_))
        {
            return false;
        }
        self.last_ns = self.last_ns.max(seg.ts_ns);
        let h = &mut self.half[side.idx()];
        h.packets = h.packets.saturating_add(1);
        if h.next().is_none() {
            h.set_next(Seq(seg.seq));
        }
        if flags.ack() {
            let a = Seq(seg.ack);
            if h.max_ack().is_none_or(|m| a > m) {
                h.set_max_ack(a);
            }
        }
        self.history.note(side, b'A');
        true
    }

    /// What the transitions' guards read, before this segment of `side`
    /// changes any counter.
    fn guards(&self, side: Side) -> Guards {
        let h = self.h(side);
        Guards {
            peer_silent: self.h(side.other()).packets == 0,
            // Counted before this segment: `packets <= syns` once both are
            // incremented is `packets <= syns` before, except that a SYN
            // count saturated at `u16::MAX` no longer proves it.
            sender_only_syns: h.packets <= u32::from(h.syns) && h.syns < u16::MAX,
            // (Only an ACK event reads it, and a segment without SYN does
            // not change `syn_client`.)
            sender_is_syn_client: self.syn_client == Some(side),
        }
    }

    /// The only place `self.state` changes (the handshake's completion is
    /// timed here, whichever event completed it).
    fn set_state(&mut self, state: State, ns: i64) {
        if self.state == State::SynReceived && state == State::Established {
            self.established_ns = ns;
        }
        self.state = state;
    }
}
