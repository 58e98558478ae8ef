//! Frames in, report out: the per-segment dispatch that ties the flow table,
//! the verdicts, the timeout measurements and the retry watcher together.
//! `Analyzer` never touches a file, a thread or the clock, so the same code
//! serves files, standard input and live capture ([`crate::pipeline`] reads
//! and decodes on a thread of its own and feeds it segments).

mod config;
mod finish;
mod judge;
mod settle;

use std::collections::HashMap;

pub use config::{
    Config, DEFAULT_MAX_MEMORY, Focus, MAX_CONNECTION_ROWS, MAX_FINDINGS, MAX_KNOWN_SERVERS,
};

use crate::analysis::retry::Retries;
pub use crate::analysis::timeouts::Sample;
use crate::analysis::timeouts::{Memo, Timeouts};
use crate::analysis::verdict::{self, Outcome, Verdict};
use crate::app::head::Head;
use crate::app::http::Paths;
use crate::decode::{self, Frame, Skip};
use crate::flow::conn::Notes;
use crate::flow::{FlowHash, FlowHasher, FlowTable, Side, TableEvent};
use crate::observation::socket::{Sockets, Stand};
use crate::observation::{Observation, SocketEvent};
use crate::report::{self, Connection, Finding, Totals};

/// Why a connection is being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// It finished and its grace period passed (or a new one replaced it).
    Closed,
    /// The table was full.
    Evicted,
    /// The capture ended.
    CaptureEnd,
}

/// Frames in, report out.
pub struct Analyzer {
    cfg: Config,
    totals: Totals,
    table: FlowTable,
    /// Targets of the requests waiting for an answer.
    paths: Paths,
    /// Heap bytes the connections in the table hold out of line.
    conn_heap: usize,
    events: Vec<TableEvent>,
    known_servers: verdict::KnownServers,
    timeouts: Timeouts,
    retries: Retries,
    /// Per reset race (by connection id): its finding had it been no race,
    /// for when the server's other closes show the reset was the
    /// application's ([`Timeouts::settle_causes`]).
    reset_alternatives: HashMap<u64, Finding, foldhash::fast::RandomState>,
    findings: Vec<Finding>,
    /// 5xx responses with the requests they answered (at most
    /// [`settle::MAX_ERROR_RESPONSES`]): on a proxy's client leg, what its
    /// clients got for the requests its upstream lost.
    error_responses: Vec<settle::ErrorResponse>,
    decided: Vec<Finding>,
    connections: Vec<Connection>,
    /// The sockets kernel events came from, the segments one stands for,
    /// and the bytes the sockets cost (kept here: the budget is checked
    /// per segment).
    sockets: Sockets,
    stands: Vec<Stand>,
    socket_bytes: usize,
    /// Bytes the stages before the analysis hold (the fragment
    /// reassembly): one budget covers them and the connections.
    held_before: usize,
}

impl Analyzer {
    /// A fresh analysis.
    pub fn new(cfg: Config) -> Analyzer {
        let mut table = FlowTable::new();
        table.max = cfg.max_connections();
        table.set_budget(cfg.max_memory());
        let mut timeouts = Timeouts::default();
        timeouts.tap = cfg.samples.then(Vec::new);
        Analyzer {
            totals: Totals {
                max_connections: table.max,
                max_memory: cfg.max_memory(),
                ..Totals::default()
            },
            cfg,
            table,
            paths: Paths::default(),
            conn_heap: 0,
            events: Vec::new(),
            known_servers: verdict::KnownServers::default(),
            timeouts,
            retries: Retries::default(),
            reset_alternatives: HashMap::default(),
            findings: Vec::new(),
            error_responses: Vec::new(),
            decided: Vec::new(),
            connections: Vec::new(),
            sockets: Sockets::default(),
            stands: Vec::new(),
            socket_bytes: 0,
            held_before: 0,
        }
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.table.len()
    }

    /// Bytes of connection state now, as the memory budget counts them.
    pub fn state_bytes(&self) -> usize {
        self.table.bytes()
            + self.conn_heap
            + self.paths.bytes()
            + self.socket_bytes
            + self.held_before
    }

    /// What the stages before the analysis hold now, in bytes (the
    /// fragment reassembly's): the table makes room for it.
    pub fn held_before(&mut self, bytes: usize) {
        self.held_before = bytes;
    }

    /// What fragment reassembly did, for the report.
    pub fn fragments(&mut self, stats: crate::decode::fragment::FragmentStats) {
        self.totals.fragments = stats;
    }

    /// Packets seen so far.
    pub fn packets(&self) -> u64 {
        self.totals.packets
    }

    /// Findings decided since the last call (for live output): a race as
    /// soon as the server's RST proves it, other failures when their
    /// connection leaves the table.
    pub fn take_decided(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.decided)
    }

    /// Idle-close and reuse samples taken since the last call (live
    /// output: metrics histograms); always empty unless `cfg.samples`.
    pub fn take_samples(&mut self) -> Vec<Sample> {
        self.timeouts
            .tap
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Feeds one observation: a segment, or a socket event as the
    /// segments it stands for ([`crate::observation::socket`]).
    #[inline]
    pub fn observe(&mut self, o: &Observation<'_>) {
        match o {
            Observation::Segment(seg) => self.segment(seg),
            Observation::Socket(ev) => self.socket_event(ev),
        }
    }

    fn socket_event(&mut self, ev: &SocketEvent) {
        let t = &mut self.totals;
        t.socket_events += 1;
        t.first_ns = Some(t.first_ns.map_or(ev.ts_ns, |v| v.min(ev.ts_ns)));
        t.last_ns = Some(t.last_ns.map_or(ev.ts_ns, |v| v.max(ev.ts_ns)));
        let mut stands = std::mem::take(&mut self.stands);
        self.sockets.stand_for(ev, &mut stands);
        self.socket_bytes = self.sockets.bytes();
        for s in &stands {
            let seg = s.segment(ev);
            let hash = self.table.hash(&seg);
            self.segment_from(&seg, hash, false, None);
        }
        self.stands = stands;
    }

    /// Feeds one frame.
    pub fn frame(&mut self, f: &Frame<'_>) {
        self.count_frame(f.ts_ns, f.data.len());
        match decode::decode(f) {
            Ok(seg) => self.observe(&Observation::Segment(&seg)),
            Err(skip) => self.skip(skip),
        }
    }

    /// Counts a frame read (its segment, if any, comes through
    /// [`segment`](Self::segment), else [`skip`](Self::skip)).
    pub fn count_frame(&mut self, ts_ns: i64, captured: usize) {
        let t = &mut self.totals;
        t.packets += 1;
        t.bytes += captured as u64;
        t.first_ns = Some(t.first_ns.map_or(ts_ns, |v| v.min(ts_ns)));
        t.last_ns = Some(t.last_ns.map_or(ts_ns, |v| v.max(ts_ns)));
    }

    /// Counts a frame that yielded no TCP segment.
    pub fn skip(&mut self, reason: Skip) {
        self.totals.skipped[reason.index()] += 1;
    }

    /// A copy of the flow table's hasher: a reader thread hashes each
    /// segment's key with it ([`FlowHash::of`]) for
    /// [`segment_hashed`](Self::segment_hashed).
    pub fn flow_hasher(&self) -> FlowHasher {
        self.table.hasher()
    }

    /// Feeds one decoded segment.
    pub fn segment(&mut self, seg: &decode::Segment<'_>) {
        let hash = self.table.hash(seg);
        self.segment_from(seg, hash, true, None);
    }

    /// Feeds one decoded segment whose key a copy of
    /// [`flow_hasher`](Self::flow_hasher) hashed.
    pub fn segment_hashed(&mut self, seg: &decode::Segment<'_>, hash: FlowHash) {
        self.segment_from(seg, hash, true, None);
    }

    /// [`segment_hashed`](Self::segment_hashed), with what the reader read
    /// of the HTTP/1 head its payload begins, if it did ([`Head`]).
    pub fn segment_read<'a>(
        &mut self,
        seg: &decode::Segment<'a>,
        hash: FlowHash,
        head: Option<&'a Head>,
    ) {
        self.segment_from(seg, hash, true, head);
    }

    /// Feeds a segment of a packet, or one a socket event stands for (its
    /// payload was never there: not cut by a snaplen).
    fn segment_from<'a>(
        &mut self,
        seg: &decode::Segment<'a>,
        hash: FlowHash,
        packet: bool,
        head: Option<&'a Head>,
    ) {
        self.totals.segments += 1;
        let src = seg.src_endpoint();
        if !self.cfg.focus.covers(src, seg.dst_endpoint()) {
            self.totals.filtered_out += 1;
            return;
        }
        if packet && seg.captured < seg.payload_len {
            self.totals.snapped += 1;
        }
        let ns = seg.ts_ns;
        if seg.flags.syn() && seg.flags.ack() && self.known_servers.len() < MAX_KNOWN_SERVERS {
            self.known_servers.insert(src);
        }
        self.retries.expire(ns);
        let (slot, conn, side) = self.table.lookup(seg, hash, &mut self.events);
        // A pure ACK on an open connection answers, starts and ends
        // nothing: none of what follows can apply to it.
        if conn.pure_ack(side, seg) {
            self.upkeep(ns);
            return;
        }
        let was_finished = conn.state.is_finished();
        let heap_before = conn.heap_bytes();
        let h2_streams = conn.h2().map(|h| h.streams());
        let mut notes = Notes::default();
        conn.process_into(side, seg, head, &mut self.paths, &mut notes);
        // A segment only ever adds out-of-line state.
        self.conn_heap += conn.heap_bytes().saturating_sub(heap_before);
        let roles = verdict::roles(conn, &self.known_servers);
        let client = roles.client;
        let server_ep = conn.endpoint(roles.server());
        let client_ip = conn.endpoint(client).ip;
        // Where this connection's statistics are (kept back below).
        let mut memo = Memo::of(conn, roles.server() == Side::B);

        if let Some((asker, p)) = &notes.answered {
            if let (Some(status), Some(req)) = (notes.error_status, p.request)
                && *asker == client
                && self.error_responses.len() < settle::MAX_ERROR_RESPONSES
            {
                self.error_responses.push(settle::ErrorResponse {
                    server: server_ep,
                    method: req.method,
                    path: self.paths.get(req.path).to_string(),
                    status,
                    ns,
                });
            }
            if *asker == client {
                self.timeouts.answered(server_ep, client_ip, &mut memo, p);
                // An answered request that repeats a recently lost one is
                // the proxy's retry.
                if let Some(req) = p.request
                    && let Some(raced) = self.retries.answered(
                        conn.id,
                        || conn.key(),
                        client_ip,
                        server_ep,
                        &self.paths,
                        req,
                        p.ns,
                    )
                {
                    self.timeouts.late_retry(server_ep, raced);
                }
            }
            // (A response being followed holds its request's target.)
            if let Some(req) = p.request
                && !notes.kept_request
            {
                self.paths.release(req.path);
            }
        }
        if notes.new_turn && side == client {
            let p = conn.pending(client).expect("new turn is pending");
            self.timeouts.request(
                server_ep,
                client_ip,
                &mut memo,
                p.reuse,
                notes.request_marks,
            );
        }
        if side == client
            && let Some(after) = conn.h2().map(|h| h.streams())
        {
            // HTTP/2 streams opened beside the one that began the turn (or
            // while a turn was pending): each is a request on a session
            // that already carried one. (Counted from the connection, not
            // carried in the notes: every segment returns those, and a
            // larger struct made that a copy per segment.)
            let opened = after.saturating_sub(h2_streams.unwrap_or(0));
            for _ in 0..opened.saturating_sub(u32::from(notes.new_turn)) {
                self.timeouts
                    .request(server_ep, client_ip, &mut memo, true, None);
            }
        }
        if side == roles.server() && (notes.server_header.is_some() || notes.powered_by.is_some()) {
            self.timeouts.response_marks(
                server_ep,
                &mut memo,
                notes.server_header,
                notes.powered_by,
            );
        }
        // The server's SYN-ACK: how long after the SYN it came at the
        // capture point (is the capture at the client's side?).
        if side == roles.server()
            && seg.flags.syn()
            && seg.flags.ack()
            && conn.h(side).syns == 1
            && let Some(syn) = conn.syn_times(client).next()
        {
            self.timeouts.synack(server_ep, &mut memo, ns - syn);
        }
        if let Some(h) = &notes.tls_hello {
            self.timeouts.tls_hello(server_ep, &mut memo, h);
        }
        memo.keep(conn);
        // A race can show at the server's FIN (the request was seen first),
        // at the request (the FIN was), or at the server's RST (a reset
        // race, or the RST that proves it): watch for the proxy retrying
        // the lost request from the first of them on, whatever ends the
        // connection later (an RST, a FIN, or nothing).
        let server_side = side == roles.server();
        let may_race =
            (server_side && (notes.fin || notes.rst)) || (!server_side && notes.new_turn);
        // Decided once per segment: the retry watcher, live output and the
        // idle close's timeouts read the same race.
        let race = if may_race {
            verdict::race(conn, client)
        } else {
            None
        };
        if notes.fin {
            self.timeouts.fin(conn, side, roles, race.as_ref());
            if side == client
                && let Some(req) = conn
                    .pending(client)
                    .and_then(|p| p.request.map(|r| (r, p.ns)))
            {
                // Kept with the connection, counted in its out-of-line
                // bytes (issue 23: a million such requests passed the
                // budget by 150 MiB).
                let before = conn.heap_bytes();
                conn.give_up(self.paths.line(req.0), req.1);
                self.conn_heap = (self.conn_heap + conn.heap_bytes()).saturating_sub(before);
            }
        }
        // The request a race lost, or one the server reset without a race
        // (its application, a vanished peer, the path) or the client gave
        // up on (one the server never acknowledged): watch for the proxy's
        // retry of it, so that a retried one is not counted lost (issue 21).
        let lost = match &race {
            Some(r) => Some(r.request),
            None if notes.rst || (notes.fin && !server_side) => conn.pending(client),
            None => None,
        };
        if let Some(p) = lost
            && let Some(req) = p.request
            && self.retries.retry_of(conn.id).is_none()
            && !self.retries.extend(conn.id, ns)
        {
            let line = self.paths.line(req);
            self.retries
                .lost(conn.id, client_ip, server_ep, line, p.ns, ns);
        }
        if let Some(r) = race
            && notes.rst
            && server_side
            && self.cfg.live
        {
            // The RST proves the race now: tell live output.
            let outcome = Outcome {
                race: Some(r),
                cause: Some(crate::analysis::cause::Cause::IdleTimer),
                ..Outcome::of(Verdict::KeepaliveRace)
            };
            let watched = self.retries.watched(conn.id);
            self.decided.push(report::finding(
                conn,
                roles,
                &outcome,
                None,
                watched,
                &self.paths,
            ));
        }
        if !was_finished && conn.state.is_finished() {
            let id = conn.id;
            self.table.schedule(slot, id, ns);
        }
        self.upkeep(ns);
    }

    /// After each segment: finished connections whose grace period ended
    /// leave, the memory budget is kept, and whatever left is judged.
    #[inline]
    fn upkeep(&mut self, ns: i64) {
        self.table.expire(ns, &mut self.events);
        // Over budget: make room after the segment, when its own connection
        // is the one least idle, so that it is never the one evicted.
        // The eighth evicted at once crosses to the judging as whole
        // connections: room for them is kept in the budget too.
        let batch = self.table.len() / 8 * crate::flow::table::EVICT_BYTES;
        if self.state_bytes() + batch > self.totals.max_memory {
            let before = self.table.evicted;
            self.table.make_room(&mut self.events);
            self.totals.evicted_for_memory += self.table.evicted - before;
        }
        self.drain_events();
    }

    /// Judges what left the table. Inline, the rest out of line: it runs
    /// after every segment, and few segments end a connection (the call
    /// alone cost some 15 instructions a packet).
    #[inline]
    fn drain_events(&mut self) {
        if !self.events.is_empty() {
            self.drain_some_events();
        }
    }

    #[inline(never)]
    fn drain_some_events(&mut self) {
        let events = std::mem::take(&mut self.events);
        for e in events {
            match e {
                TableEvent::Done(conn) => self.finish_conn(conn, Ending::Closed),
                TableEvent::Evicted(conn) => self.finish_conn(conn, Ending::Evicted),
            }
        }
    }
}

#[cfg(test)]
mod tests;
