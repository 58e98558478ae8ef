//! Ties each 5xx or error line to the connection that explains it, and
//! writes the report's `proxy_log` section and each finding's `log_lines`.
//!
//! A line that names the proxy's own end of the upstream connection
//! (`%UPSTREAM_LOCAL_ADDRESS%`, HAProxy's `%bi:%bp`) matches by 4-tuple:
//! exactly, whatever the connection's verdict. Any other line matches a
//! failing connection by upstream, request line and time: the time on the
//! log's clock is turned into the capture's by the log's time zone and a
//! clock offset between the proxy's host and the capture point, both
//! estimated from the lines that fit one connection on their own (by
//! 4-tuple, or by upstream and request line alone). A line fits at most
//! one connection and a connection at most one line of a file; where
//! several fit, the line is reported as ambiguous, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use super::proxy_log::{LogEntry, LogRef, MatchKind, ProxyLog, ProxyLogFile, Reason};
use super::{Millis, Report, Request, Timestamp, Warning, summary};
use crate::analysis::verdict::Verdict;
use crate::flow::Endpoint;
use crate::proxylog::Anchor;
use crate::proxylog::input::ParsedLog;
use crate::units::NS_PER_S;

mod index;

use index::{Fits, Index};

/// How far a matching moment may lie outside a line's window: the spread
/// of the clock-offset estimate (the path between proxy and capture point,
/// drift during a capture), and the round trips between a request and the
/// failure the proxy logs. Races on one upstream with one request line are
/// seconds apart (a keep-alive timeout each), so a second does not join
/// two of them.
pub const SLACK_NS: i64 = NS_PER_S;

/// The slack once a file's clock offset was measured from lines that
/// matched without looking at the time: what remains is the time between
/// the packets and the moment the proxy logs (a round trip or two), so two
/// refused connects 0.7 s apart are not one line's two candidates.
pub const SLACK_MEASURED_NS: i64 = 100_000_000;

/// Time zones are whole quarter hours from UTC: an estimated offset is
/// rounded to one to find a log's zone, the rest is the clock's skew.
const ZONE_STEP_NS: i64 = 15 * 60 * NS_PER_S;

/// A connection as matching sees it.
#[derive(Debug, Clone)]
struct Conn {
    client: Endpoint,
    server: Endpoint,
    verdict: Verdict,
    start: i64,
    end: i64,
    /// The failure (RST, FIN, last SYN), or the end of a healthy one.
    at: i64,
    /// When the lost request went out.
    request_at: Option<i64>,
    request: Option<Request>,
    finding: Option<usize>,
}

impl Conn {
    /// The moment a line's anchor names.
    fn moment(&self, anchor: Anchor) -> i64 {
        match anchor {
            Anchor::Request => self.request_at.unwrap_or(self.at),
            Anchor::Failure => self.at,
        }
    }
}

/// Every connection the report knows: the findings (with their requests)
/// and, when kept, the other connections' rows.
fn conns(report: &Report) -> Vec<Conn> {
    let mut out: Vec<Conn> = report
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            // The request each kind of failure carries, and when it went out.
            let (request, request_at) = if let Some(r) = &f.race {
                (r.request.clone(), Some(r.request_at.0))
            } else if let Some(t) = &f.truncated {
                (t.request.clone(), Some(t.response_at.0))
            } else if let Some(t) = &f.timeout {
                (t.request.clone(), t.request_at.map(|x| x.0))
            } else if let Some(r) = &f.reset {
                (r.request.clone(), r.outstanding_since.map(|t| t.0))
            } else {
                (None, None)
            };
            Conn {
                client: f.client,
                server: f.server,
                verdict: f.verdict,
                start: f.start.0,
                end: f.end.0,
                at: f.at.0,
                request_at,
                request,
                finding: Some(i),
            }
        })
        .collect();
    let ids: BTreeSet<u64> = report.findings.iter().map(|f| f.conn_id).collect();
    for c in report.connections.iter().flatten() {
        if !ids.contains(&c.id) {
            out.push(Conn {
                client: c.client,
                server: c.server,
                verdict: c.verdict,
                start: c.start.0,
                end: c.end.0,
                at: c.end.0,
                request_at: None,
                request: None,
                finding: None,
            });
        }
    }
    out
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2
    })
}

/// What one file's zone is taken to be.
struct Zone {
    ns: i64,
    stated_s: Option<i32>,
    source: &'static str,
}

/// Matches every file's error lines, fills `report.proxy_log` and each
/// finding's `log_lines`.
pub fn attach(report: &mut Report, logs: &[ParsedLog]) {
    let conns = conns(report);
    let servers: BTreeSet<Endpoint> = conns
        .iter()
        .map(|c| c.server)
        .chain(report.servers.iter().map(|s| s.endpoint))
        .collect();
    // Indexed once; each line looks its candidates up (never a list per
    // line: lines × connections grew to gigabytes, issue 23).
    let index = Index::new(&conns);

    // Offset samples: capture moment − the line's best guess, per file,
    // with the line's precision.
    let mut samples: Vec<Vec<(i64, i64)>> = vec![Vec::new(); logs.len()];
    for (f, log) in logs.iter().enumerate() {
        for (_, e) in &log.errors {
            let (c, _) = index.candidates(e, &conns);
            if let Some(i) = Index::unique(&c) {
                let (_, _, guess) = e.window();
                samples[f].push((e.time.precision_ns, conns[i].moment(e.anchor) - guess));
            }
        }
    }
    let zones: Vec<Zone> = logs
        .iter()
        .enumerate()
        .map(
            |(f, log)| match log.errors.first().map(|(_, e)| e.time.zone_s) {
                Some(Some(s)) => Zone {
                    ns: 0,
                    stated_s: Some(s),
                    source: "stated",
                },
                _ => {
                    let mut v: Vec<i64> = samples[f].iter().map(|s| s.1).collect();
                    match median(&mut v) {
                        Some(m) => Zone {
                            ns: (m as f64 / ZONE_STEP_NS as f64).round() as i64 * ZONE_STEP_NS,
                            stated_s: None,
                            source: "estimated",
                        },
                        None => Zone {
                            ns: 0,
                            stated_s: None,
                            source: "assumed",
                        },
                    }
                }
            },
        )
        .collect();
    // The skew, from the most precise lines there are.
    let finest = samples.iter().flatten().map(|s| s.0).min();
    let mut skews: Vec<i64> = samples
        .iter()
        .enumerate()
        .flat_map(|(f, v)| v.iter().map(move |s| (f, s)))
        .filter(|(_, s)| Some(s.0) == finest)
        .map(|(f, s)| s.1 - zones[f].ns)
        .collect();
    let skew = median(&mut skews);
    // A file precise enough to measure its own host's skew keeps it (two
    // proxies' hosts need not agree); the others take the common one.
    let file_skew: Vec<Option<i64>> = samples
        .iter()
        .zip(&zones)
        .map(|(v, z)| {
            let mut own: Vec<i64> = v
                .iter()
                .filter(|s| s.0 < NS_PER_S)
                .map(|s| s.1 - z.ns)
                .collect();
            median(&mut own).or(skew)
        })
        .collect();
    let (first, last) = (report.capture.first, report.capture.last);

    let mut entries: Vec<LogEntry> = Vec::new();
    let mut explained_in: Vec<u64> = Vec::with_capacity(logs.len());
    for (f, log) in logs.iter().enumerate() {
        let off = zones[f].ns + file_skew[f].unwrap_or(0);
        let slack = if file_skew[f].is_some() && !samples[f].is_empty() {
            SLACK_MEASURED_NS
        } else {
            SLACK_NS
        };
        let at_file = entries.len();
        for (line, e) in &log.errors {
            let (c, kind) = index.candidates(e, &conns);
            let (lo, hi, guess) = e.window();
            let (lo, hi) = (lo + off - slack, hi + off + slack);
            let fits = Index::fits(&c, &conns, e.anchor, (lo, hi), guess + off);
            let mut entry = LogEntry {
                file: log.name.clone(),
                line: *line,
                time: Timestamp(e.time.ns - zones[f].ns),
                status: e.status,
                message: e.message(),
                client: None,
                server: None,
                verdict: None,
                matched: None,
                reason: None,
                proxy: log.format.map_or("", |x| x.proxy()),
                error_status: if e.error_log { None } else { e.error_status() },
                method: e.request.as_ref().map(|r| r.method.clone()),
                termination: e.termination.clone(),
                finding: None,
            };
            match fits {
                Fits::One(i) => {
                    let cn = &conns[i];
                    entry.client = Some(cn.client);
                    entry.server = Some(cn.server);
                    entry.verdict = Some(cn.verdict);
                    entry.matched = Some(kind);
                    entry.finding = cn.finding;
                    if !cn.verdict.is_failure() {
                        entry.reason = Some(Reason::NotAFailure);
                    }
                }
                // Several fit, all failing the same way: whichever it
                // was, the line has its cause (issue 21). The finding kept
                // is the one nearest the line's own guess.
                Fits::Same {
                    verdict,
                    server,
                    near,
                } => {
                    entry.server = server;
                    entry.verdict = Some(verdict);
                    entry.matched = Some(MatchKind::SameVerdict);
                    entry.finding = conns[near].finding;
                }
                Fits::Ambiguous => entry.reason = Some(Reason::Ambiguous),
                Fits::None => {
                    let in_capture = match (first, last) {
                        (Some(a), Some(b)) => hi >= a.0 - SLACK_NS && lo <= b.0 + SLACK_NS,
                        _ => false,
                    };
                    entry.reason = Some(
                        if e.no_backend
                            || (e.upstream.is_none()
                                && e.upstream_local.is_none()
                                && e.request.is_none())
                        {
                            Reason::NoUpstream
                        } else if !in_capture {
                            Reason::OutsideCapture
                        } else if e.upstream.is_some_and(|u| !servers.contains(&u)) {
                            Reason::UpstreamNotInCapture
                        } else if e.details.as_deref() == Some("via_upstream") {
                            Reason::FromBackend
                        } else {
                            Reason::NoMatchingConnection
                        },
                    );
                }
            }
            entries.push(entry);
        }
        // One connection, one line of a file: a second claim makes both
        // ambiguous (guessed matches only; exact lines may share one, the
        // backend answering 5xx on a healthy connection).
        let mut claims: BTreeMap<(Endpoint, Endpoint), usize> = BTreeMap::new();
        for x in &entries[at_file..] {
            if let (Some(MatchKind::RequestTime), Some(c), Some(s)) =
                (x.matched, x.client, x.server)
            {
                *claims.entry((c, s)).or_default() += 1;
            }
        }
        for x in &mut entries[at_file..] {
            if let (Some(MatchKind::RequestTime), Some(c), Some(s)) =
                (x.matched, x.client, x.server)
                && claims[&(c, s)] > 1
            {
                x.client = None;
                x.server = None;
                x.verdict = None;
                x.matched = None;
                x.finding = None;
                x.reason = Some(Reason::Ambiguous);
            }
        }
        explained_in.push(entries[at_file..].iter().filter(|x| x.explained()).count() as u64);
    }

    for f in &mut report.findings {
        f.log_lines = Some(Vec::new());
    }
    let mut by_verdict: BTreeMap<&'static str, u64> = BTreeMap::new();
    for x in &entries {
        if x.explained()
            && let Some(v) = x.verdict
        {
            *by_verdict.entry(v.name()).or_default() += 1;
        }
        if let Some(i) = x.finding
            && let Some(lines) = report.findings[i].log_lines.as_mut()
        {
            lines.push(LogRef {
                file: x.file.clone(),
                line: x.line,
            });
        }
    }
    for f in &mut report.findings {
        if let Some(l) = f.log_lines.as_mut() {
            l.sort();
        }
    }
    let files = logs
        .iter()
        .zip(&zones)
        .zip(explained_in)
        .zip(&file_skew)
        .map(|(((log, z), explained), skew)| ProxyLogFile {
            name: log.name.clone(),
            format: log.format,
            gzip: log.gzip,
            lines: log.lines,
            unreadable: log.unreadable,
            errors: log.errors.len() as u64,
            explained,
            utc_offset_s: z.stated_s.unwrap_or((z.ns / NS_PER_S) as i32),
            utc_offset_source: z.source,
            clock_offset_ms: skew.map(Millis),
        })
        .collect();
    // What the clients got for each lost request, from its lines.
    // (The explained lines grouped by finding once, in their order: a
    // pass over the lines per finding was findings × lines.)
    let mut by_finding: Vec<Vec<summary::GotLine>> = vec![Vec::new(); report.findings.len()];
    for x in entries.iter().filter(|x| x.explained()) {
        if let Some(lines) = x.finding.and_then(|i| by_finding.get_mut(i)) {
            lines.push(summary::GotLine {
                status: x.status,
                error_status: x.error_status,
                termination: x.termination.as_deref(),
            });
        }
    }
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused_lost = 0;
    let legs = summary::ClientLegs::new(&report.findings);
    for (f, lines) in report.findings.iter().zip(&by_finding) {
        let refused = super::refused::alone(f);
        if summary::lost(f).is_none() && !refused {
            continue;
        }
        let mut what = summary::client_got(lines);
        // No line says: the client leg may (both legs in the capture).
        if what == summary::UNKNOWN
            && let Some(leg) = legs.got(f)
        {
            what = leg;
        }
        // A refused connect is a lost request only when the log says its
        // client got an error: the proxy may have tried another server.
        if refused {
            if !summary::is_error(&what) {
                continue;
            }
            refused_lost += 1;
        }
        *got.entry(what).or_default() += 1;
    }
    report.summary.clients_got = got;
    report.summary.refused_lost = refused_lost;
    // A log that could not be read says nothing about 5xx: warned, and a
    // --fail-on gate fails closed on it.
    for log in logs {
        if log.over_budget > 0 {
            report.capture.warnings.push(Warning::ProxyLogOverBudget {
                name: log.name.clone(),
                kept: log.errors.len() as u64,
                over: log.over_budget,
            });
        }
        if let Some(w) = Warning::proxy_log_unread(
            &log.name,
            log.format.map(|f| f.name()),
            log.lines,
            log.unreadable,
        ) {
            report.capture.warnings.push(w);
        }
    }
    report.proxy_log = Some(ProxyLog {
        files,
        lines: logs.iter().map(|l| l.lines).sum(),
        unreadable: logs.iter().map(|l| l.unreadable).sum(),
        errors: entries.len() as u64,
        explained: entries.iter().filter(|x| x.explained()).count() as u64,
        by_verdict,
        clock_offset_ms: skew.map(Millis),
        entries,
    });
}
