//! Building the report from the analysis's typed facts: a finding from a
//! judged connection and its verdict's evidence, a connection row, the
//! capture section with its warnings. Nothing here decides anything; it
//! only gathers and names.

use std::collections::BTreeMap;

use super::{
    Capture, Connect, Connection, FileInfo, Finding, IpFragments, Race, Report, Request, Reset,
    SCHEMA_VERSION, ServerReport, Summary, Timeout, Tool, Truncated, Unacknowledged, Unanswered,
    Warning,
};
use crate::analysis::retry::Retry;
use crate::analysis::verdict::{Outcome, Roles, Verdict};
use crate::app::http::{Paths, Req};
use crate::decode::fragment::FragmentStats;
use crate::decode::{self, Skip};
use crate::flow::Conn;
use crate::source::InputStats;
use crate::units::{Millis, Timestamp, seconds};

/// What a run counted, as the report reads it.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Frames read, and their captured bytes.
    pub packets: u64,
    pub bytes: u64,
    /// Earliest and latest frame timestamps.
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// TCP segments decoded (and those kernel events stood for).
    pub segments: u64,
    /// Kernel events about sockets.
    pub socket_events: u64,
    /// Segments outside the focus.
    pub filtered_out: u64,
    /// Frames that gave no segment, by [`Skip::index`].
    pub skipped: [u64; Skip::COUNT],
    /// Segments whose payload the snaplen cut.
    pub snapped: u64,
    /// Sequence holes still open when their connections were judged.
    pub holes: u64,
    /// Connections judged without a handshake seen.
    pub started_before: u64,
    /// Connections still open when the capture ended.
    pub open_at_end: u64,
    /// Connections judged, by [`Verdict::index`].
    pub verdicts: [u64; Verdict::COUNT],
    /// Connections tracked, most open at once, and evicted while open
    /// (of which for the memory budget).
    pub connections: u64,
    pub peak_open: u64,
    pub evicted: u64,
    pub evicted_for_memory: u64,
    /// Distinct 4-tuples, whether that count is exact, and the 4-tuples
    /// that left the table it could remember.
    pub tuples: u64,
    pub tuples_exact: bool,
    pub tuples_max: usize,
    /// The limits in force.
    pub max_connections: usize,
    pub max_memory: usize,
    /// Server endpoints beyond the statistics' cap were looked up.
    pub untracked_servers: bool,
    /// Lost requests not watched for their retry (past its cap).
    pub retries_unwatched: u64,
    /// Retry counts of the races on servers past the statistics' cap.
    pub untracked_counts: crate::analysis::timeouts::Untracked,
    /// What IP fragment reassembly did.
    pub fragments: FragmentStats,
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
        method: r.method,
        path: paths.get(r.path).to_string(),
        idempotent: r.method.idempotent(),
    })
}

/// The finding of a failing connection: its verdict with the evidence.
/// `retry` is its lost request's retry, if it was retried; `watched` is
/// false when its retry could not be looked for
/// ([`crate::analysis::retry::MAX_WATCHES`]): then it is unknown.
pub fn finding(
    conn: &Conn,
    roles: Roles,
    o: &Outcome,
    retry: Option<Retry>,
    watched: bool,
    paths: &Paths,
) -> Finding {
    let retry_ns = retry.map(|r| r.at_ns);
    let c = roles.client;
    let hc = conn.h(c);
    let race = o.race.as_ref().map(|r| Race {
        kind: r.kind,
        syn_at: conn.syn_times(c).next().map(Timestamp),
        last_exchange_at: r.idle_since().map(Timestamp),
        fin_at: r.fin.map(|f| Timestamp(f.ns)),
        request_at: Timestamp(r.request.ns),
        rst_at: r.rst.map(|x| Timestamp(x.ns)),
        idle_before_fin_ms: r.fin.and_then(|f| f.idle_since.map(|t| Millis(f.ns - t))),
        idle_before_close_ms: r.idle_before_close_ns().map(Millis),
        fin_to_request_ms: r.fin_to_request_ns().map(Millis),
        request_ack: r.request.ack.map(|a| a.0),
        fin_seq: r.fin.map(|f| f.seq.0),
        request: request(r.request.request, paths),
        request_bytes: conn.turn_bytes(c, &r.request),
        close_notify_at: r
            .fin
            .filter(|f| f.after_alert)
            .and_then(|_| conn.tls()?.alert_ns(roles.server().idx()))
            .map(Timestamp),
        requests_before: hc.turns.saturating_sub(1),
        // A retry is found by its request line: without one, unknown.
        retried: r
            .request
            .request
            .filter(|_| watched)
            .map(|_| retry_ns.is_some()),
        retry_at: retry_ns.map(Timestamp),
        retry_refused_at: None,
        processed: r.processed,
        goaway_at: r.goaway_ns.map(Timestamp),
    });
    let timeout = o.timeout.as_ref().map(|t| {
        let pending = t.request.as_ref();
        let request_ns = pending.map(|p| p.ns).or(t.line.as_ref().map(|l| l.1));
        Timeout {
            request: request(pending.and_then(|p| p.request), paths).or_else(|| {
                t.line.as_ref().map(|(l, _)| Request {
                    method: l.method,
                    path: l.path.to_string(),
                    idempotent: l.method.idempotent(),
                })
            }),
            request_at: request_ns.map(Timestamp),
            fin_at: Timestamp(t.fin.ns),
            waited_ms: request_ns.map(|r| Millis(t.fin.ns - r)),
            answered_late: t.answered_late,
            rst_at: t.rst.map(|r| Timestamp(r.ns)),
        }
    });
    let unacknowledged = o.unacknowledged.as_ref().map(|p| Unacknowledged {
        request: request(p.request, paths),
        request_at: Timestamp(p.ns),
        idle_before_ms: p.idle_ns().map(Millis),
        unacknowledged_ms: Millis(conn.last_ns - p.ns),
        retried: p.request.filter(|_| watched).map(|_| retry.is_some()),
    });
    let unanswered = o.unanswered.as_ref().and_then(|p| {
        let fin = conn.fin(roles.server()).map(|f| f.ns);
        let reset = conn.stream_reset_ns().filter(|&r| r >= p.ns);
        let end = reset.or(fin)?;
        Some(Unanswered {
            request: request(p.request, paths),
            request_at: Timestamp(p.ns),
            fin_at: fin.map(Timestamp),
            stream_reset_at: reset.map(Timestamp),
            request_to_close_ms: Millis(end - p.ns),
            idle_before_ms: p.idle_ns().filter(|_| p.reuse).map(Millis),
        })
    });
    let truncated = o.truncated.as_ref().map(|t| Truncated {
        request: request(t.response.request, paths),
        status: t.response.status,
        framing: t.response.framing,
        expected_body_bytes: t.response.expected_body,
        body_bytes_sent: t.response.body_sent,
        response_at: Timestamp(t.response.start_ns),
        fin_at: t.fin.map(|f| Timestamp(f.ns)),
        rst_at: t.rst.map(|r| Timestamp(r.ns)),
        silent_before_close_ms: conn
            .last_payload_ns()
            .map(|l| Millis((t.close_ns() - l).max(0))),
    });
    let connect = match o.verdict {
        Verdict::ConnectTimeout | Verdict::ConnectRefused => Some(Connect {
            syn_times: conn.syn_times(c).map(Timestamp).collect(),
            syns: u32::from(hc.syns),
            rst_at: conn.rst(roles.server()).map(|r| Timestamp(r.ns)),
            race_retry: false,
        }),
        _ => None,
    };
    let reset = o.reset.as_ref().map(|r| Reset {
        by: roles.peer(r.by),
        rst_at: Timestamp(r.rst.ns),
        idle_before_ms: r.idle_before_ns.map(Millis),
        outstanding_since: r.outstanding.as_ref().map(|p| Timestamp(p.ns)),
        request: r.request.as_ref().and_then(|p| request(p.request, paths)),
        // The proxy retries what the server reset, not what it reset itself.
        retried: r
            .request
            .as_ref()
            .and_then(|p| p.request)
            .filter(|_| r.by == roles.server() && watched)
            .map(|_| retry.is_some()),
        bytes_in_flight_to_server: r.in_flight_to_server,
        bytes_in_flight_to_client: r.in_flight_to_client,
    });
    // The moment of failure: the RST (or the lost request), else the last SYN.
    let at = if let Some(r) = &o.race {
        r.rst.map_or(r.request.ns, |x| x.ns)
    } else if let Some(t) = &o.truncated {
        t.close_ns()
    } else if let Some(t) = &o.timeout {
        t.fin.ns
    } else if let Some(r) = &o.reset {
        r.rst.ns
    } else if let Some(p) = &o.unacknowledged {
        p.ns
    } else if let Some(u) = &unanswered {
        u.request_at.0 + u.request_to_close_ms.0
    } else if let Some(last_syn) = conn.syn_times(c).last() {
        last_syn
    } else {
        conn.last_ns
    };
    Finding {
        verdict: o.verdict,
        client: conn.endpoint(c),
        server: conn.endpoint(roles.server()),
        vlan: vlan_ids(conn.vlan),
        role: roles.source,
        start: Timestamp(conn.first_ns),
        end: Timestamp(conn.last_ns),
        history: conn.history.render(c),
        at: Timestamp(at),
        protocol: conn.protocol(),
        cause: o.cause,
        upstream: None,
        race,
        connect,
        reset,
        truncated,
        timeout,
        unacknowledged,
        unanswered,
        client_status: None,
        logged_as: crate::proxylog::symptoms::of(o.verdict, o.race.as_ref().map(|r| r.kind)),
        log_lines: None,
        place: None,
        conn_id: conn.id,
        key: conn.key(),
        input: conn.input,
        retry_key: retry.map(|r| r.key),
    }
}

/// A connection's row for `--connections`.
pub fn connection_row(conn: &Conn, roles: Roles, v: Verdict) -> Connection {
    let (c, s) = (roles.client, roles.server());
    Connection {
        client: conn.endpoint(c),
        server: conn.endpoint(s),
        vlan: vlan_ids(conn.vlan),
        role: roles.source,
        verdict: v,
        history: conn.history.render(c),
        start: Timestamp(conn.first_ns),
        end: Timestamp(conn.last_ns),
        duration_ms: Millis(conn.last_ns - conn.first_ns),
        packets_to_server: u64::from(conn.h(c).packets),
        packets_to_client: u64::from(conn.h(s).packets),
        bytes_to_server: conn.bytes(c),
        bytes_to_client: conn.bytes(s),
        // A turn can hold several HTTP/2 streams (concurrent ones).
        requests: conn.h2().map_or(conn.h(c).turns, |h| h.streams()),
        protocol: conn.protocol(),
        server_goaway_at: conn.close_began_ns(s).map(Timestamp),
        id: conn.id,
    }
}

fn file_info(i: &InputStats) -> FileInfo {
    FileInfo {
        name: i.name.clone(),
        format: i.format,
        gzip: i.gzip,
        link_types: i
            .linktypes
            .iter()
            .map(|l| decode::linktype::name(*l))
            .collect(),
        packets: i.packets,
        bytes: i.bytes,
        first: i.first_ns.map(Timestamp),
        last: i.last_ns.map(Timestamp),
    }
}

/// What the reader should know about the inputs and the limits.
fn warnings(t: &Totals, inputs: &[InputStats], listed: usize) -> Vec<Warning> {
    let mut out = Vec::new();
    for i in inputs {
        if let Some(why) = &i.stopped {
            out.push(Warning::InputStopped {
                name: i.name.clone(),
                why: why.clone(),
                packets: i.packets,
            });
        }
        if i.backwards > 0 {
            out.push(Warning::Backwards {
                name: i.name.clone(),
                packets: i.backwards,
            });
        }
        if i.bad_interface > 0 {
            out.push(Warning::UnknownInterface {
                name: i.name.clone(),
                packets: i.bad_interface,
            });
        }
    }
    for (n, a) in inputs.iter().enumerate() {
        for b in &inputs[n + 1..] {
            if let (Some(a0), Some(a1), Some(b0), Some(b1)) =
                (a.first_ns, a.last_ns, b.first_ns, b.last_ns)
                && a0 <= b1
                && b0 <= a1
            {
                out.push(Warning::Overlap {
                    a: a.name.clone(),
                    b: b.name.clone(),
                });
            }
        }
    }
    let failures: u64 = Verdict::ALL
        .iter()
        .filter(|v| v.is_failure())
        .map(|v| t.verdicts[v.index()])
        .sum();
    if failures > listed as u64 {
        out.push(Warning::FindingsCut { failures, listed });
    }
    if !t.tuples_exact {
        out.push(Warning::TuplesUncounted { max: t.tuples_max });
    }
    if t.untracked_servers {
        out.push(Warning::ServersUntracked {
            max: crate::analysis::timeouts::MAX_SERVERS,
        });
    }
    if t.retries_unwatched > 0 {
        out.push(Warning::RetriesUnwatched {
            requests: t.retries_unwatched,
            max: crate::analysis::retry::MAX_WATCHES,
        });
    }
    let for_count = t.evicted - t.evicted_for_memory;
    if for_count > 0 {
        out.push(Warning::EvictedForCount {
            connections: for_count,
            max: t.max_connections,
        });
    }
    if t.evicted_for_memory > 0 {
        out.push(Warning::EvictedForMemory {
            connections: t.evicted_for_memory,
            mib: t.max_memory >> 20,
        });
    }
    if t.holes > 0 {
        out.push(Warning::Holes { segments: t.holes });
    }
    if t.fragments.dropped > 0 {
        out.push(Warning::FragmentsDropped {
            fragments: t.fragments.dropped,
        });
    }
    if t.fragments.overlapping > 0 {
        out.push(Warning::FragmentsOverlapping {
            fragments: t.fragments.overlapping,
        });
    }
    // A --server or --port that matches nothing must not read as "no race".
    if t.filtered_out > 0 && t.connections == 0 {
        out.push(Warning::FocusMatchedNothing {
            segments: t.filtered_out,
        });
    }
    // Frames that could not be read at all (as opposed to frames that are
    // not TCP, which every capture has): the report covers the others.
    let undecodable: Vec<(Skip, u64)> = Skip::ALL
        .iter()
        .filter(|s| s.undecodable())
        .map(|s| (*s, t.skipped[s.index()]))
        .filter(|(_, n)| *n > 0)
        .collect();
    if t.segments > 0 && !undecodable.is_empty() {
        out.push(Warning::Undecodable {
            frames: undecodable.iter().map(|(_, n)| n).sum(),
            packets: t.packets,
            why: reasons(&undecodable),
        });
    }
    out
}

/// "unsupported_link_type: 3, bad_header: 1".
fn reasons(skips: &[(Skip, u64)]) -> String {
    skips
        .iter()
        .map(|(s, n)| format!("{}: {n}", s.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the inputs gave nothing to analyse, when no frame in them could be
/// decoded into a TCP segment (no supported link type, no TCP at all, or
/// no packets): a report of "0 races" from them would be a lie, so the
/// binary exits 2 with this line instead.
pub fn nothing_decoded(r: &Report) -> Option<String> {
    let c = &r.capture;
    if c.tcp_segments > 0 {
        return None;
    }
    let names: Vec<&str> = c.files.iter().map(|f| f.name.as_str()).collect();
    let mut links: Vec<&str> = c
        .files
        .iter()
        .flat_map(|f| f.link_types.iter().map(String::as_str))
        .collect();
    links.sort_unstable();
    links.dedup();
    let skipped: Vec<String> = c
        .skipped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let what = if c.packets == 0 {
        "no packets".to_string()
    } else {
        format!(
            "no TCP segment could be decoded from its {} packets (link type {}; skipped {})",
            c.packets,
            if links.is_empty() {
                "none".into()
            } else {
                links.join(", ")
            },
            skipped.join(", ")
        )
    };
    Some(format!("{}: {what}", names.join(", ")))
}

/// The capture section: the inputs, the counts and the warnings.
pub fn capture(t: &Totals, inputs: &[InputStats], listed: usize) -> Capture {
    let mut skipped = Skip::ALL
        .iter()
        .map(|s| (s.name(), t.skipped[s.index()]))
        .collect::<BTreeMap<_, _>>();
    let bad_iface: u64 = inputs.iter().map(|i| i.bad_interface).sum();
    skipped.insert("unknown_interface", bad_iface);
    Capture {
        files: inputs.iter().map(file_info).collect(),
        packets: t.packets + bad_iface,
        bytes: t.bytes,
        first: t.first_ns.map(Timestamp),
        last: t.last_ns.map(Timestamp),
        duration_s: match (t.first_ns, t.last_ns) {
            (Some(a), Some(b)) => seconds(b - a),
            _ => 0.0,
        },
        tcp_segments: t.segments,
        connections_4tuples: t.tuples,
        connections: t.connections,
        skipped,
        payload_cut_by_snaplen: t.snapped,
        sequence_holes: t.holes,
        peak_open_connections: t.peak_open,
        filtered_out: t.filtered_out,
        dropped: None,
        interface_dropped: None,
        ip_fragments: t.fragments.any().then_some(IpFragments {
            reassembled: t.fragments.reassembled,
            dropped: t.fragments.dropped,
            overlapping: t.fragments.overlapping,
        }),
        evicted_connections: t.evicted,
        started_before_capture: t.started_before,
        open_at_end: t.open_at_end,
        warnings: warnings(t, inputs, listed),
    }
}

impl Report {
    /// The whole report, findings and rows already sorted.
    pub fn new(
        t: &Totals,
        inputs: &[InputStats],
        findings: Vec<Finding>,
        servers: Vec<ServerReport>,
        connections: Option<Vec<Connection>>,
    ) -> Report {
        let mut findings = findings;
        super::refused::tie(&mut findings);
        let capture = capture(t, inputs, findings.len());
        let count = |v: Verdict| t.verdicts[v.index()];
        let failures = Verdict::ALL
            .iter()
            .filter(|v| v.is_failure())
            .map(|v| count(*v))
            .sum();
        let summary = Summary::new(
            &findings,
            &servers,
            t.untracked_counts,
            count(Verdict::KeepaliveRace),
            failures,
            capture.duration_s,
        );
        // Without a proxy yet (`Report::settle_proxy` decides it): the
        // steps that are no one proxy's.
        let remedies = super::remedies::remedies(&findings, &servers, None);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "racecap",
                version: env!("CARGO_PKG_VERSION"),
            },
            summary,
            capture,
            verdict_counts: Verdict::ALL
                .iter()
                .map(|v| (v.name(), t.verdicts[v.index()]))
                .collect(),
            findings,
            servers,
            connections,
            proxy_log: None,
            proxy: None,
            remedies,
        }
    }
}
