//! The pipeline in one place: frames in, report out. `Analyzer` owns the flow
//! table and every aggregate; it never touches a file or the clock, so the
//! same code serves files, standard input and live capture.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use crate::analysis::timeouts::{MIN_IDLE_CLOSE_NS, Timeouts};
use crate::analysis::verdict::{self, Outcome, RoleSource, Roles, Verdict};
use crate::decode::{self, Skip};
use crate::flow::http::{Paths, Req, RequestLine};
use crate::flow::table::MAX_TUPLES;
use crate::flow::{Conn, Endpoint, FlowKey, FlowTable, TableEvent};
use crate::report::{
    self, Capture, Connect, Connection, FileInfo, Finding, Race, Report, Request, Reset, Tool, ms,
    rfc3339,
};
use crate::source::{Frame, InputStats};

/// How soon after a race the same request, answered on another connection,
/// counts as the proxy's retry. nginx and HAProxy retry at once; Envoy's
/// retry back-off is 25 ms base with at most 10× that (250 ms) per attempt.
/// Kept short so that the same request line sent again by chance (health
/// checks, polling) is not taken for a retry.
pub const RETRY_WINDOW_NS: i64 = 300_000_000;

/// Which connections to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// Every TCP connection.
    #[default]
    All,
    /// Connections to or from one endpoint.
    Server(Endpoint),
    /// Connections with this port on either side.
    Port(u16),
}

/// What the analysis keeps and looks at.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub focus: Focus,
    /// Keep one row per connection for the report (`--connections`).
    pub keep_connections: bool,
    /// Queue findings for [`Analyzer::take_decided`] as they are decided
    /// (live output).
    pub live: bool,
    /// Most connections tracked at once (0: the default,
    /// [`crate::flow::table::DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Most bytes of connection state (the table's slots, out-of-line
    /// parts, waiting request targets); beyond, the longest idle
    /// connections are evicted (0: the default, [`DEFAULT_MAX_MEMORY`]).
    pub max_memory: usize,
}

/// Default budget for connection state: 256 MiB, which holds a million
/// open connections that sent only SYNs (or that have nothing
/// outstanding), and fewer when each holds a FIN record or a waiting
/// request. The process adds its buffers, statistics, findings and the
/// 4-tuples that left the table (about 20–70 MiB) on top.
pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;

/// Findings kept for the report (counts stay exact beyond it): a capture of
/// a SYN flood must not turn into a million findings in memory.
pub const MAX_FINDINGS: usize = 10_000;

/// Server endpoints remembered from handshakes, for inferring roles.
const MAX_KNOWN_SERVERS: usize = 100_000;

/// Connection rows kept for `--connections`.
pub const MAX_CONNECTION_ROWS: usize = 200_000;

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

struct RetryWatch {
    conn_id: u64,
    client: IpAddr,
    server: Endpoint,
    request: RequestLine,
    after_ns: i64,
    deadline_ns: i64,
}

/// Frames in, report out.
pub struct Analyzer {
    cfg: Config,
    packets: u64,
    bytes: u64,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    segments: u64,
    filtered_out: u64,
    skipped: [u64; Skip::ALL.len()],
    snapped: u64,
    holes: u64,
    table: FlowTable,
    /// Targets of the requests waiting for an answer.
    paths: Paths,
    /// Heap bytes the connections in the table hold out of line.
    conn_heap: usize,
    max_memory: usize,
    /// Connections evicted because of `max_memory` (the rest of the table's
    /// evictions were for `max_connections`).
    evicted_for_memory: u64,
    events: Vec<TableEvent>,
    known_servers: HashSet<Endpoint>,
    timeouts: Timeouts,
    verdicts: [u64; Verdict::ALL.len()],
    findings: Vec<Finding>,
    decided: Vec<Finding>,
    connections: Vec<Connection>,
    watch: Vec<RetryWatch>,
    retried: HashMap<u64, i64>,
    started_before: u64,
    open_at_end: u64,
}

impl Analyzer {
    /// A fresh analysis.
    pub fn new(cfg: Config) -> Analyzer {
        let max_memory = if cfg.max_memory > 0 {
            cfg.max_memory
        } else {
            DEFAULT_MAX_MEMORY
        };
        let mut table = FlowTable::new();
        if cfg.max_connections > 0 {
            table.max = cfg.max_connections;
        }
        Analyzer {
            cfg,
            packets: 0,
            bytes: 0,
            first_ns: None,
            last_ns: None,
            segments: 0,
            filtered_out: 0,
            skipped: [0; Skip::ALL.len()],
            snapped: 0,
            holes: 0,
            table,
            paths: Paths::default(),
            conn_heap: 0,
            max_memory,
            evicted_for_memory: 0,
            events: Vec::new(),
            known_servers: HashSet::new(),
            timeouts: Timeouts::default(),
            verdicts: [0; Verdict::ALL.len()],
            findings: Vec::new(),
            decided: Vec::new(),
            connections: Vec::new(),
            watch: Vec::new(),
            retried: HashMap::new(),
            started_before: 0,
            open_at_end: 0,
        }
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.table.len()
    }

    /// Bytes of connection state now, as the memory budget counts them.
    pub fn state_bytes(&self) -> usize {
        self.table.len() * crate::flow::table::SLOT_BYTES + self.conn_heap + self.paths.bytes()
    }

    /// Packets seen so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Findings decided since the last call (for live output): a race as
    /// soon as the server's RST proves it, other failures when their
    /// connection leaves the table.
    pub fn take_decided(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.decided)
    }

    /// Feeds one frame.
    pub fn frame(&mut self, f: &Frame<'_>) {
        self.count_frame(f.ts_ns, f.data.len());
        match decode::decode(f) {
            Ok(seg) => self.segment(&seg),
            Err(skip) => self.skip(skip),
        }
    }

    /// Counts a frame read (its segment, if any, comes through
    /// [`segment`](Self::segment), else [`skip`](Self::skip)).
    pub fn count_frame(&mut self, ts_ns: i64, captured: usize) {
        self.packets += 1;
        self.bytes += captured as u64;
        self.first_ns = Some(self.first_ns.map_or(ts_ns, |t| t.min(ts_ns)));
        self.last_ns = Some(self.last_ns.map_or(ts_ns, |t| t.max(ts_ns)));
    }

    /// Counts a frame that yielded no TCP segment.
    pub fn skip(&mut self, reason: Skip) {
        self.skipped[reason as usize] += 1;
    }

    fn in_focus(&self, seg: &decode::Segment<'_>) -> bool {
        match self.cfg.focus {
            Focus::All => true,
            Focus::Server(ep) => {
                (seg.src == ep.ip && seg.sport == ep.port)
                    || (seg.dst == ep.ip && seg.dport == ep.port)
            }
            Focus::Port(p) => seg.sport == p || seg.dport == p,
        }
    }

    /// Feeds one decoded segment.
    pub fn segment(&mut self, seg: &decode::Segment<'_>) {
        self.segments += 1;
        let src = seg.src_endpoint();
        if !self.in_focus(seg) {
            self.filtered_out += 1;
            return;
        }
        if seg.captured < seg.payload_len {
            self.snapped += 1;
        }
        let ns = seg.ts_ns;
        if seg.flags.syn() && seg.flags.ack() && self.known_servers.len() < MAX_KNOWN_SERVERS {
            self.known_servers.insert(src);
        }
        if !self.watch.is_empty() {
            self.watch.retain(|w| w.deadline_ns >= ns);
        }
        let (slot, conn, side) = self.table.lookup(seg, &mut self.events);
        let was_finished = conn.state.is_finished();
        let heap_before = conn.heap_bytes();
        let notes = conn.process(side, seg, &mut self.paths);
        // A segment only ever adds out-of-line state.
        self.conn_heap += conn.heap_bytes().saturating_sub(heap_before);
        let roles = verdict::roles(conn, &self.known_servers);
        let client = roles.client;
        let server_ep = conn.endpoint(roles.server());
        let client_ip = conn.endpoint(client).ip;

        if let Some((asker, p)) = &notes.answered
            && *asker == client
        {
            if p.reuse
                && let Some(gap) = p.idle_ns()
            {
                self.timeouts.reuse(server_ep, client_ip, gap);
            }
            // An answered request that repeats a recently lost one is the
            // proxy's retry.
            if let Some(req) = p.request
                && !self.watch.is_empty()
            {
                match_retry(
                    &mut self.watch,
                    &mut self.retried,
                    (conn.id, client_ip, server_ep),
                    &self.paths,
                    req,
                    p.ns,
                );
            }
        }
        if let Some((_, p)) = &notes.answered
            && let Some(req) = p.request
        {
            self.paths.release(req.path);
        }
        if notes.new_turn && side == client {
            let p = conn.pending(client).expect("new turn is pending");
            if p.reuse {
                self.timeouts.server(server_ep).reused_requests += 1;
            }
        }
        if notes.fin && !conn.fin(side).is_some_and(|f| f.reply) {
            let fin = conn.fin(side).expect("fin noted");
            let gap = fin.idle_since.map(|t| fin.ns - t);
            if side == client {
                // Like the server's: a FIN right after traffic is a close, not an idle timeout.
                if let Some(g) = gap.filter(|g| *g >= MIN_IDLE_CLOSE_NS) {
                    self.timeouts.client_close(server_ep, client_ip, g);
                }
            } else {
                // No request the server had read was left unanswered: any
                // pending request is one the FIN does not acknowledge (it
                // crossed the FIN), so this close was still an idle one.
                let nothing_read_unanswered = conn
                    .pending(client)
                    .is_none_or(|p| fin.ack.is_none_or(|a| a <= p.start));
                match gap {
                    // A FIN with the response or right after it (Connection:
                    // close, keep-alive off) is no idle timeout: the 50 ms
                    // floor catches those whose header was not read.
                    Some(g) if nothing_read_unanswered && !fin.with_data => {
                        if g >= MIN_IDLE_CLOSE_NS {
                            self.timeouts.server(server_ep).idle_closes.push(g);
                        } else {
                            self.timeouts.server(server_ep).closes_after_response += 1;
                        }
                    }
                    _ if nothing_read_unanswered => {
                        self.timeouts.server(server_ep).closes_after_response += 1
                    }
                    _ => {}
                }
            }
        }
        if notes.rst
            && side == roles.server()
            && let Some(r) = verdict::race(conn, client)
        {
            // The RST proves the race now: tell live output, and watch for
            // the proxy retrying the same request elsewhere.
            if self.cfg.live {
                let outcome = Outcome {
                    verdict: Verdict::KeepaliveRace,
                    race: Some(r.clone()),
                    reset: None,
                };
                self.decided
                    .push(finding(conn, roles, &outcome, &HashMap::new(), &self.paths));
            }
            if let Some(req) = r.request.request {
                self.watch.push(RetryWatch {
                    conn_id: conn.id,
                    client: client_ip,
                    server: server_ep,
                    request: self.paths.line(req),
                    after_ns: r.request.ns,
                    deadline_ns: ns + RETRY_WINDOW_NS,
                });
            }
        }
        if !was_finished && conn.state.is_finished() {
            let id = conn.id;
            self.table.schedule(slot, id, ns);
        }
        self.table.expire(ns, &mut self.events);
        // Over budget: make room after the segment, when its own connection
        // is the one least idle, so that it is never the one evicted.
        if self.state_bytes() > self.max_memory {
            let before = self.table.evicted;
            self.table.make_room(&mut self.events);
            self.evicted_for_memory += self.table.evicted - before;
        }
        self.drain_events();
    }

    fn drain_events(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        for e in events {
            match e {
                TableEvent::Done(conn) => self.finish_conn(conn, Ending::Closed),
                TableEvent::Evicted(conn) => self.finish_conn(conn, Ending::Evicted),
            }
        }
    }

    fn finish_conn(&mut self, mut conn: Conn, ending: Ending) {
        self.conn_heap = self.conn_heap.saturating_sub(conn.heap_bytes());
        self.judge(&conn, ending);
        conn.release(&mut self.paths);
    }

    fn judge(&mut self, conn: &Conn, ending: Ending) {
        // Evicted connections are cut off like those open at the end.
        let at_end = ending != Ending::Closed;
        let roles = verdict::roles(conn, &self.known_servers);
        let end_ns = self.last_ns.unwrap_or(conn.last_ns);
        let outcome = verdict::outcome(conn, roles, end_ns);
        self.verdicts[outcome.verdict as usize] += 1;
        if !conn.saw_syn() {
            self.started_before += 1;
        }
        if ending == Ending::CaptureEnd && !conn.state.is_finished() {
            self.open_at_end += 1;
        }
        let server_ep = conn.endpoint(roles.server());
        self.holes += u64::from(conn.holes(roles.client)) + u64::from(conn.holes(roles.server()));
        let s = self.timeouts.server(server_ep);
        s.connections += 1;
        if let Some(ka) = conn.keep_alive_s() {
            *s.keep_alive.entry(ka).or_default() += 1;
        }
        let (hc, hs) = (conn.h(roles.client), conn.h(roles.server()));
        if roles.source == RoleSource::Handshake
            && hc.syns == 1
            && hs.synack
            && let Some(est) = conn.established_ns()
            && let Some(syn) = conn.syn_times(roles.client).next()
        {
            s.rtt.push(est - syn);
        }
        if let Some(r) = &outcome.race {
            s.races += 1;
            s.fin_to_reuse.push(r.fin_to_request_ns());
            if self.retried.contains_key(&conn.id) {
                s.retried_races += 1;
            }
        }
        if at_end
            && matches!(outcome.verdict, Verdict::Open | Verdict::Partial)
            && let (Some(last), None, None) = (
                conn.last_payload_ns(),
                conn.fin(roles.client),
                conn.fin(roles.server()),
            )
        {
            s.stayed_open_ns = s.stayed_open_ns.max(end_ns - last);
        }
        if outcome.verdict.is_failure() {
            // Live output prints every finding; the report keeps the first
            // MAX_FINDINGS (its counts stay exact).
            let live = self.cfg.live
                && (outcome.verdict != Verdict::KeepaliveRace
                    || outcome.race.as_ref().is_some_and(|r| r.rst.is_none()));
            let keep = self.findings.len() < MAX_FINDINGS;
            if live || keep {
                let f = finding(conn, roles, &outcome, &self.retried, &self.paths);
                if live {
                    self.decided.push(f.clone());
                }
                if keep {
                    self.findings.push(f);
                }
            }
        }
        // The finding carries the retry now; forget it (bounded memory).
        self.retried.remove(&conn.id);
        if self.cfg.keep_connections && self.connections.len() < MAX_CONNECTION_ROWS {
            self.connections
                .push(connection_row(conn, roles, outcome.verdict));
        }
    }

    /// Ends the analysis: every connection still open is judged as the
    /// capture left it.
    pub fn finish(mut self, inputs: &[InputStats]) -> Report {
        self.drain_events();
        for slot in self.table.drain_order() {
            if let Some(conn) = self.table.take(slot as u32) {
                self.finish_conn(conn, Ending::CaptureEnd);
            }
        }
        for f in &mut self.findings {
            if let (Some(race), Some(at)) = (&mut f.race, self.retried.get(&f.conn_id)) {
                race.retried = true;
                race.retry_at = Some(rfc3339(*at));
            }
        }
        self.findings.sort_by_key(|f| (f.start_ns, f.conn_id));
        self.connections.sort_by_key(|c| (c.start_ns, c.id));
        let mut warnings = Vec::new();
        for i in inputs {
            if let Some(why) = &i.stopped {
                warnings.push(format!(
                    "{}: {why}; the report covers the {} packets before it",
                    i.name, i.packets
                ));
            }
            if i.backwards > 0 {
                warnings.push(format!(
                    "{}: {} packets have timestamps earlier than the packet before them",
                    i.name, i.backwards
                ));
            }
            if i.bad_interface > 0 {
                warnings.push(format!(
                    "{}: {} packets name a pcapng interface that was never described; skipped",
                    i.name, i.bad_interface
                ));
            }
        }
        for (n, a) in inputs.iter().enumerate() {
            for b in &inputs[n + 1..] {
                if let (Some(a0), Some(a1), Some(b0), Some(b1)) =
                    (a.first_ns, a.last_ns, b.first_ns, b.last_ns)
                    && a0 <= b1
                    && b0 <= a1
                {
                    warnings.push(format!(
                        "{} and {} overlap in time; their packets were merged in timestamp order",
                        a.name, b.name
                    ));
                }
            }
        }
        let failures: u64 = Verdict::ALL
            .iter()
            .filter(|v| v.is_failure())
            .map(|v| self.verdicts[*v as usize])
            .sum();
        if failures > self.findings.len() as u64 {
            warnings.push(format!(
                "{failures} failing connections; the report lists the first {} (verdict_counts has them all)",
                self.findings.len()
            ));
        }
        let (tuples, exact) = self.table.tuples();
        if !exact {
            warnings.push(format!(
                "more than {MAX_TUPLES} connections closed: connections_4tuples counts the 4-tuples seen until then"
            ));
        }
        if self.timeouts.untracked > 0 {
            warnings.push(format!(
                "more than {} server endpoints: timeouts are measured for the first {0} only",
                crate::analysis::timeouts::MAX_SERVERS
            ));
        }
        let for_count = self.table.evicted - self.evicted_for_memory;
        if for_count > 0 {
            warnings.push(format!(
                "{for_count} connections were evicted while still open because more than {} were open at once (--max-connections); their verdicts only know what came before",
                self.table.max
            ));
        }
        if self.evicted_for_memory > 0 {
            warnings.push(format!(
                "{} connections were evicted while still open because their state outgrew {} MiB (--max-memory); their verdicts only know what came before",
                self.evicted_for_memory,
                self.max_memory >> 20
            ));
        }
        if self.holes > 0 {
            warnings.push(format!(
                "{} segments followed data missing from the capture (packet loss at the capture point?); verdicts near them may be incomplete",
                self.holes
            ));
        }
        let mut skipped = Skip::ALL
            .iter()
            .map(|s| (s.name(), self.skipped[*s as usize]))
            .collect::<BTreeMap<_, _>>();
        let bad_iface: u64 = inputs.iter().map(|i| i.bad_interface).sum();
        skipped.insert("unknown_interface", bad_iface);
        let capture = Capture {
            files: inputs.iter().map(file_info).collect(),
            packets: self.packets + bad_iface,
            bytes: self.bytes,
            first: self.first_ns.map(rfc3339),
            last: self.last_ns.map(rfc3339),
            duration_s: match (self.first_ns, self.last_ns) {
                (Some(a), Some(b)) => ((b - a) as f64 / 1e6).round() / 1e3,
                _ => 0.0,
            },
            tcp_segments: self.segments,
            connections_4tuples: tuples,
            connections: self.table.created,
            skipped,
            payload_cut_by_snaplen: self.snapped,
            sequence_holes: self.holes,
            peak_open_connections: self.table.peak as u64,
            filtered_out: self.filtered_out,
            dropped: None,
            interface_dropped: None,
            evicted_connections: self.table.evicted,
            started_before_capture: self.started_before,
            open_at_end: self.open_at_end,
            warnings,
        };
        let mut servers = self.timeouts.report();
        servers.retain(|s| s.connections > 0);
        Report {
            schema_version: report::SCHEMA_VERSION,
            tool: Tool {
                name: "racecap",
                version: env!("CARGO_PKG_VERSION"),
            },
            capture,
            verdict_counts: Verdict::ALL
                .iter()
                .map(|v| (v.name(), self.verdicts[*v as usize]))
                .collect(),
            findings: self.findings,
            servers,
            connections: self.cfg.keep_connections.then_some(self.connections),
        }
    }
}

/// Checks an answered request against the lost ones being watched: the
/// same request line from the same client to the same server, on another
/// connection, is the retry. `on` is the answered request's connection id,
/// client and server.
fn match_retry(
    watch: &mut Vec<RetryWatch>,
    retried: &mut HashMap<u64, i64>,
    on: (u64, IpAddr, Endpoint),
    paths: &Paths,
    req: Req,
    ns: i64,
) {
    let (conn_id, client, server) = on;
    watch.retain(|w| w.deadline_ns >= ns);
    if let Some(i) = watch.iter().position(|w| {
        w.conn_id != conn_id
            && w.client == client
            && w.server == server
            && ns >= w.after_ns
            && paths.same(req, &w.request)
    }) {
        let w = watch.swap_remove(i);
        retried.entry(w.conn_id).or_insert(ns);
    }
}

fn file_info(i: &InputStats) -> FileInfo {
    FileInfo {
        name: i.name.clone(),
        format: i.format.name(),
        gzip: i.gzip,
        link_types: i
            .linktypes
            .iter()
            .map(|l| decode::linktype::name(*l))
            .collect(),
        packets: i.packets,
        bytes: i.bytes,
        first: i.first_ns.map(rfc3339),
        last: i.last_ns.map(rfc3339),
    }
}

fn role_name(roles: Roles) -> &'static str {
    match roles.source {
        RoleSource::Handshake => "handshake",
        RoleSource::Http => "inferred_http",
        RoleSource::KnownServer => "inferred_known_server",
        RoleSource::Port => "inferred_port",
    }
}

fn vlan_ids(vlan: u32) -> Option<Vec<u16>> {
    match (vlan >> 16, vlan & 0xffff) {
        (0, 0) => None,
        (0, inner) => Some(vec![inner as u16]),
        (outer, inner) => Some(vec![outer as u16, inner as u16]),
    }
}

fn request(req: Option<Req>, paths: &Paths) -> Option<Request> {
    req.map(|r| Request {
        method: r.method.as_str(),
        path: paths.get(r.path).to_string(),
        idempotent: r.method.idempotent(),
    })
}

fn finding(
    conn: &Conn,
    roles: Roles,
    o: &Outcome,
    retried: &HashMap<u64, i64>,
    paths: &Paths,
) -> Finding {
    let c = roles.client;
    let hc = conn.h(c);
    let race = o.race.as_ref().map(|r| Race {
        kind: match r.kind {
            verdict::RaceKind::Crossed => "crossed",
            verdict::RaceKind::Stale => "stale",
        },
        syn_at: conn.syn_times(c).next().map(rfc3339),
        last_exchange_at: r.fin.idle_since.map(rfc3339),
        fin_at: rfc3339(r.fin.ns),
        request_at: rfc3339(r.request.ns),
        rst_at: r.rst.map(|x| rfc3339(x.ns)),
        idle_before_fin_ms: r.idle_before_fin_ns().map(ms),
        fin_to_request_ms: ms(r.fin_to_request_ns()),
        request_ack: r.request.ack.map(|a| a.0),
        fin_seq: r.fin.seq.0,
        request: request(r.request.request, paths),
        requests_before: hc.turns.saturating_sub(1),
        retried: retried.contains_key(&conn.id),
        retry_at: retried.get(&conn.id).map(|t| rfc3339(*t)),
    });
    let connect = match o.verdict {
        Verdict::ConnectTimeout | Verdict::ConnectRefused => Some(Connect {
            syn_times: conn.syn_times(c).map(rfc3339).collect(),
            syns: u32::from(hc.syns),
            rst_at: conn.rst(roles.server()).map(|r| rfc3339(r.ns)),
        }),
        _ => None,
    };
    let reset = o.reset.as_ref().map(|r| Reset {
        by: if r.by == c { "client" } else { "server" },
        rst_at: rfc3339(r.rst.ns),
        idle_before_ms: r.idle_before_ns.map(ms),
        outstanding_since: r.outstanding.as_ref().map(|p| rfc3339(p.ns)),
        request: r
            .outstanding
            .as_ref()
            .and_then(|p| request(p.request, paths)),
        bytes_in_flight_to_server: r.in_flight_to_server,
        bytes_in_flight_to_client: r.in_flight_to_client,
    });
    let at = if let Some(r) = &o.race {
        r.rst.map_or(r.request.ns, |x| x.ns)
    } else if let Some(r) = &o.reset {
        r.rst.ns
    } else if let Some(last_syn) = conn.syn_times(c).last() {
        last_syn
    } else {
        conn.last_ns
    };
    Finding {
        verdict: o.verdict.name(),
        client: conn.endpoint(c).to_string(),
        server: conn.endpoint(roles.server()).to_string(),
        vlan: vlan_ids(conn.vlan),
        role: role_name(roles),
        start: rfc3339(conn.first_ns),
        end: rfc3339(conn.last_ns),
        history: conn.history.render(c),
        at: rfc3339(at),
        race,
        connect,
        reset,
        start_ns: conn.first_ns,
        conn_id: conn.id,
        span: (
            FlowKey::new(conn.vlan, conn.a, conn.b).0,
            conn.first_ns,
            conn.last_ns,
        ),
    }
}

fn connection_row(conn: &Conn, roles: Roles, v: Verdict) -> Connection {
    let (c, s) = (roles.client, roles.server());
    Connection {
        client: conn.endpoint(c).to_string(),
        server: conn.endpoint(s).to_string(),
        vlan: vlan_ids(conn.vlan),
        role: role_name(roles),
        verdict: v.name(),
        history: conn.history.render(c),
        start: rfc3339(conn.first_ns),
        end: rfc3339(conn.last_ns),
        duration_ms: ms(conn.last_ns - conn.first_ns),
        packets_to_server: u64::from(conn.h(c).packets),
        packets_to_client: u64::from(conn.h(s).packets),
        bytes_to_server: conn.bytes(c),
        bytes_to_client: conn.bytes(s),
        requests: conn.h(c).turns,
        start_ns: conn.first_ns,
        id: conn.id,
    }
}

/// Reads every input to the end (merged in timestamp order) and analyses it.
/// Returns the report and the per-input counters.
pub fn run(
    inputs: Vec<(String, crate::source::CaptureReader)>,
    cfg: Config,
) -> Result<(Report, Vec<InputStats>), crate::source::SourceProblem> {
    run_with_progress(inputs, cfg, &mut |_| {})
}

/// Frames handed from the reader thread to the analysis in one batch.
const BATCH: usize = 4096;

/// One frame as the reader thread hands it over: its time and captured
/// length, and either why it gave no segment or the segment's fields with
/// its payload prefix's place in the batch's arena. 80 bytes, so that a
/// batch crosses between cores in few cache lines: the window and the TCP
/// options are not handed over, because the analysis reads neither
/// (`test_threaded_pipeline_equals_frame_by_frame` compares this path with
/// whole frames on one thread).
struct Entry {
    ts_ns: i64,
    src: IpAddr,
    dst: IpAddr,
    vlan: u32,
    seq: u32,
    ack: u32,
    payload_len: u32,
    captured: u32,
    /// Where the payload prefix starts in the arena.
    at: u32,
    frame_len: u32,
    sport: u16,
    dport: u16,
    /// The payload prefix's length (at most [`decode::SNIFF_BYTES`]).
    len: u16,
    flags: u8,
    skip: Option<Skip>,
}

impl Entry {
    fn skipped(ts_ns: i64, frame_len: u32, skip: Skip) -> Entry {
        Entry {
            ts_ns,
            src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            vlan: 0,
            seq: 0,
            ack: 0,
            payload_len: 0,
            captured: 0,
            at: 0,
            frame_len,
            sport: 0,
            dport: 0,
            len: 0,
            flags: 0,
            skip: Some(skip),
        }
    }

    fn segment<'a>(&self, arena: &'a [u8]) -> decode::Segment<'a> {
        decode::Segment {
            ts_ns: self.ts_ns,
            vlan: self.vlan,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
            flags: decode::Flags(self.flags),
            seq: self.seq,
            ack: self.ack,
            window: 0,
            wscale: None,
            tsval: None,
            payload_len: self.payload_len,
            captured: self.captured,
            payload: &arena[self.at as usize..self.at as usize + usize::from(self.len)],
        }
    }
}

/// One batch of frames from the reader thread.
#[derive(Default)]
struct Batch {
    /// Every frame, in order.
    frames: Vec<Entry>,
    /// Payload prefixes (what [`crate::flow::http::sniffed`] keeps).
    arena: Vec<u8>,
    /// Bytes of the inputs consumed when the batch was sent.
    position: u64,
}

/// [`run`], calling `progress` with the bytes read so far (of the
/// decompressed inputs) once per batch of frames, for a progress bar.
///
/// Reading and decoding run on a thread of their own, a batch ahead of the
/// analysis: the two stages use two cores, and the report is the same as a
/// single thread's (the analysis sees the same segments in the same order).
pub fn run_with_progress(
    inputs: Vec<(String, crate::source::CaptureReader)>,
    cfg: Config,
    progress: &mut dyn FnMut(u64),
) -> Result<(Report, Vec<InputStats>), crate::source::SourceProblem> {
    use std::sync::mpsc;
    let mut merged = crate::source::Merged::new(inputs)?;
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(4);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    let reader = std::thread::spawn(
        move || -> Result<Vec<InputStats>, crate::source::SourceProblem> {
            loop {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                batch.frames.clear();
                batch.arena.clear();
                let mut more = true;
                while batch.frames.len() < BATCH {
                    let Some((_, frame)) = merged.next_frame()? else {
                        more = false;
                        break;
                    };
                    let frame_len = frame.data.len() as u32;
                    let entry = match decode::decode(&frame) {
                        Ok(seg) => {
                            let prefix = crate::flow::http::sniffed(seg.payload);
                            let at = batch.arena.len() as u32;
                            batch.arena.extend_from_slice(prefix);
                            Entry {
                                ts_ns: seg.ts_ns,
                                src: seg.src,
                                dst: seg.dst,
                                vlan: seg.vlan,
                                seq: seg.seq,
                                ack: seg.ack,
                                payload_len: seg.payload_len,
                                captured: seg.captured,
                                at,
                                frame_len,
                                sport: seg.sport,
                                dport: seg.dport,
                                len: prefix.len() as u16,
                                flags: seg.flags.0,
                                skip: None,
                            }
                        }
                        Err(skip) => Entry::skipped(frame.ts_ns, frame_len, skip),
                    };
                    batch.frames.push(entry);
                }
                batch.position = merged.position();
                if full_tx.send(batch).is_err() || !more {
                    break;
                }
            }
            Ok(merged.stats())
        },
    );
    let mut analyzer = Analyzer::new(cfg);
    for batch in full_rx {
        for e in &batch.frames {
            analyzer.count_frame(e.ts_ns, e.frame_len as usize);
            match e.skip {
                None => analyzer.segment(&e.segment(&batch.arena)),
                Some(skip) => analyzer.skip(skip),
            }
        }
        progress(batch.position);
        let _ = empty_tx.send(batch);
    }
    let stats = reader.join().expect("the reader thread does not panic")?;
    Ok((analyzer.finish(&stats), stats))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::synth::{Link, Workload};

    /// Request targets go back to the pool when their request is answered
    /// or their connection is judged: the pool follows the requests waiting
    /// now (at most one per open connection), not the requests seen.
    #[test]
    fn test_paths_follow_waiting_requests() {
        let (mut packets, races) = Workload::bench(300, 10, false).packets();
        packets.sort_by_key(|p| p.ts_ns);
        let link = Link::Ethernet(vec![]);
        let mut a = Analyzer::new(Config::default());
        let mut most = 0;
        for p in &packets {
            let data = link.wrap(&p.ip, p.v6);
            a.frame(&Frame {
                ts_ns: p.ts_ns,
                linktype: 1,
                origlen: data.len() as u32,
                data: &data,
            });
            assert!(a.paths.live() <= a.table.len());
            most = most.max(a.paths.live());
        }
        // 3000 requests went through; a few dozen waited at once.
        assert!(most > 0 && most < 300, "{most}");
        let report = a.finish(&[]);
        assert!(races > 0);
        assert_eq!(report.races(), races);
        let lost = report.findings.iter().filter_map(|f| f.race.as_ref());
        assert!(lost.clone().count() as u64 == races);
        assert!(
            lost.clone()
                .all(|r| r.request.as_ref().is_some_and(|q| q.path.starts_with('/')))
        );
    }
}
