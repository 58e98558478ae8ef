//! What payload does to a connection: new data, a retransmission, or late
//! data filling a hole; the pending turn it answers or starts; and what its
//! first bytes say of HTTP. Apart from the rest of [`Conn`] because it is the
//! longest path a segment takes, not because it stands alone (a child
//! module, it shares the connection's private fields).

use super::{Conn, MAX_HEADS_SCANNED, Notes, Side, Waiting};
use crate::app::head::Sniff;
use crate::app::http::{self, Method, Paths};
use crate::app::{Layer, Opening, Seen};
use crate::decode::Segment;
use crate::flow::Seq;

impl Conn {
    /// New data, a retransmission, or late data into a hole, from `side`.
    /// Returns false when the data was a TLS handshake or alert, or HTTP/2
    /// control frames or a GOAWAY (no activity), true otherwise. Its
    /// first bytes' HTTP/1 head is read through `sniff`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_payload<'a>(
        &mut self,
        side: Side,
        seq: Seq,
        ack: Option<Seq>,
        seg: &Segment<'a>,
        sniff: Sniff<'a>,
        paths: &mut Paths,
        notes: &mut Notes<'a>,
    ) -> bool {
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
            && let Some((method, kept, longer)) = sniff.request_target()
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
            return true;
        }
        if seq > next {
            // Data before this segment is not (yet) in the capture.
            self.add_hole(side, next, seq);
        }
        let new_bytes = end.diff(if seq > next { seq } else { next }).max(0) as u64;
        self.half[i].set_next(end);
        self.bytes[i] += new_bytes;
        self.history.note(side, b'D');

        let from = if seq > next { seq } else { next };
        let (h2, tls) = match self.follow_layer(side, seq, from, end, seg) {
            Some(Seen::H2(s)) => (Some(s), None),
            Some(Seen::Tls(s)) => (None, Some(s)),
            Some(Seen::Text(s)) => {
                if s.line && self.fin(side.other()).is_some() {
                    // A command after the server's FIN (SMTP's `QUIT`) is
                    // the client's goodbye: no request, no activity.
                    if let Some(Layer::Text(t)) =
                        self.cold.as_mut().and_then(|c| c.layer.as_deref_mut())
                    {
                        t.goodbye(i, seg.ts_ns);
                    }
                    return false;
                }
                (None, None)
            }
            None => (None, None),
        };
        let mut opened = None;
        if let Some(s) = &h2 {
            if !s.activity {
                // Control frames (a SETTINGS-ACK, a WINDOW_UPDATE one round
                // trip after a response, a PING) and a GOAWAY are no
                // request and do not restart the idle clock.
                return false;
            }
            if self.http_client == Some(side) && s.opened.is_none() {
                // A request's body or trailers on a stream already open:
                // activity, but no new request.
                self.last_payload_ns = seg.ts_ns;
                return true;
            }
            opened = s.opened;
        }
        if let Some(s) = &tls {
            if s.hello.is_some() {
                notes.tls_hello = s.hello;
            }
            if !s.app {
                // A handshake record is no request, and neither it nor an
                // alert (the close's first step) restarts the idle clock.
                return false;
            }
        }

        if tls.is_none() && h2.is_none() && self.resp.upgraded() {
            // After `101 Switching Protocols` the bytes are another
            // protocol's (WebSocket frames): activity, never a request.
            if let Some(w) = self.pending.take_if(|w| w.side != side) {
                notes.answered = Some((w.side, w.view()));
            }
            self.last_payload_ns = seg.ts_ns;
            return true;
        }
        if tls.is_none()
            && h2.is_none()
            && seq == next
            && self.http_client == Some(side.other())
            && self.pending.as_ref().is_some_and(|w| w.side != side)
            && let Some(status) = sniff.status_line()
            && (100..200).contains(&status)
            && status != 101
        {
            // An interim response (`100 Continue`) answers no request: the
            // body that follows it belongs to the same request, and the
            // final response answers it.
            self.begin_response(seq, status, sniff, None, paths, notes);
            let whole = seg.captured >= seg.payload_len;
            if self.resp.data(end, len, whole, seg.tail, paths) {
                notes.response_done = true;
            }
            self.last_payload_ns = seg.ts_ns;
            return true;
        }

        // New data answers whatever the other side had pending.
        let answered = self.pending.take_if(|w| w.side != side);
        if let Some(w) = &answered {
            notes.answered = Some((w.side, w.view()));
        }
        let mut head = false;
        let new_turn = self.pending.is_none();
        if let (Some(t), Some(s)) = (self.tls_mut(), &tls) {
            t.count_turn(i, s.app_bytes, new_turn);
        }
        if new_turn {
            let (method, path) = if let Some(o) = &opened {
                // The stream's `:method` and `:path`, when HPACK said them
                // without the dynamic table.
                let pseudo = o.pseudo();
                match (pseudo.method, pseudo.path()) {
                    (Some(m), Some(p)) => (Some(m), paths.put(p, pseudo.path_longer).get()),
                    _ => (None, 0),
                }
            } else if h2.is_some() {
                (None, 0)
            } else if seq == next && tls.is_none() {
                match self.sniff(side, sniff, paths) {
                    Sniffed::Request(method, path, marks) => {
                        notes.request_marks = marks;
                        (Some(method), path)
                    }
                    Sniffed::Status(status) => {
                        head = true;
                        let req = answered.as_ref().and_then(Waiting::request);
                        self.begin_response(seq, status, sniff, req, paths, notes);
                        (None, 0)
                    }
                    Sniffed::Nothing => (None, 0),
                }
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
        if self.http_client == Some(side.other()) && h2.is_none() {
            // A final response after an interim one comes without a turn
            // of the client's in between.
            if !head
                && seq == next
                && self.resp.awaits_head()
                && let Some(status) = sniff.status_line()
            {
                self.begin_response(seq, status, sniff, None, paths, notes);
            }
            let whole = seg.captured >= seg.payload_len;
            if self.resp.data(end, len, whole, seg.tail, paths) {
                notes.response_done = true;
            }
        }
        self.last_payload_ns = seg.ts_ns;
        true
    }

    /// What the connection's framed layer (TLS, HTTP/2) read of new bytes
    /// [`from`, `end`) of a segment at `seq`; none for a connection that
    /// speaks neither. The first bytes that open one start it
    /// ([`Layer::opens`]).
    fn follow_layer<'a>(
        &mut self,
        side: Side,
        seq: Seq,
        from: Seq,
        end: Seq,
        seg: &Segment<'a>,
    ) -> Option<Seen<'a>> {
        let i = side.idx();
        let layer = self.cold.as_ref().and_then(|c| c.layer.as_deref());
        if layer.is_none() && (self.http_client.is_some() || from != seq) {
            // Nothing opens a layer on HTTP/1 or mid-segment: the common
            // case decided without building the question.
            return None;
        }
        // A line protocol may turn into TLS (STARTTLS): its ClientHello
        // opens the record layer in the text layer's place.
        let text = matches!(layer, Some(Layer::Text(_)));
        if text || layer.is_none() {
            let new = u64::from(end.diff(from).max(0) as u32);
            let opened = Layer::opens(&Opening {
                side: i,
                seq,
                from,
                end,
                payload: seg.payload,
                first: self.bytes[i] == new,
                peer_silent: self.bytes[side.other().idx()] == 0,
                http1: self.http_client.is_some(),
            })
            .filter(|l| !text || matches!(l, Layer::Tls(_)));
            match opened {
                Some(layer) => {
                    if layer.opener_is_client() {
                        self.http_client = Some(side);
                    }
                    self.cold().layer = Some(Box::new(layer));
                }
                None if text => {}
                None => return None,
            }
        }
        let layer = self.cold.as_mut()?.layer.as_deref_mut()?;
        Some(layer.feed(
            i,
            (seq, from, end),
            seg.payload,
            (seg.tail, seg.captured),
            seg.ts_ns,
        ))
    }

    /// A response head from the server at `seq`, answering `req`.
    fn begin_response<'a>(
        &mut self,
        seq: Seq,
        status: u16,
        sniff: Sniff<'a>,
        req: Option<http::Req>,
        paths: &mut Paths,
        notes: &mut Notes<'a>,
    ) {
        if status >= 500 {
            notes.error_status = Some(status);
        }
        let scan = self.resp.heads_scanned() < MAX_HEADS_SCANNED;
        let head = sniff.response_head(scan);
        if self.resp.begin(seq, status, &head, req, paths) && req.is_some() {
            // The response holds the request's target now.
            notes.kept_request = true;
        }
        if scan {
            self.resp.scanned_head();
            notes.server_header = head.server;
            notes.powered_by = head.powered_by;
            if let Some(t) = head.keep_alive_s {
                // Held in 16 bits: 18 h and more is as good as forever,
                // and u16::MAX stands for none.
                self.keep_alive_s = u16::try_from(t).unwrap_or(u16::MAX - 1).min(u16::MAX - 1);
            }
        }
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
    /// the client; its target goes into `paths`; the first requests' heads
    /// say who sent them), or a status line (names the server).
    fn sniff(&mut self, side: Side, sniff: Sniff<'_>, paths: &mut Paths) -> Sniffed {
        if let Some((method, kept, longer)) = sniff.request_target() {
            self.http_client.get_or_insert(side);
            let marks = (self.half[side.idx()].turns < MAX_REQUEST_HEADS_SCANNED)
                .then(|| sniff.request_marks());
            return Sniffed::Request(method, paths.put(kept, longer).get(), marks);
        }
        if let Some(status) = sniff.status_line() {
            self.http_client.get_or_insert(side.other());
            return Sniffed::Status(status);
        }
        Sniffed::Nothing
    }
}

/// Requests per connection whose heads are read for who sent them (the
/// marks do not change between requests of one client).
const MAX_REQUEST_HEADS_SCANNED: u32 = 2;

/// What the first bytes of a turn were.
enum Sniffed {
    /// A request line: its method, its target's number, and its head's marks.
    Request(Method, u32, Option<crate::app::marks::RequestMarks>),
    /// A status line, with its code.
    Status(u16),
    Nothing,
}
