//! The proxy-log parts of the tables: the sentences that open the report
//! ("17 of 17 nginx 502s are keep-alive races on 10.0.0.2:3000 (POSTs, not
//! retried)"), the table of 5xx and error lines with their connections,
//! and what each proxy logs for the findings listed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use racecap::report::proxy_log::{LogEntry, ProxyLog};
use racecap::report::{Report, Verdict};
use racecap::units;

/// A verdict in the plural, for sentences.
fn plural(v: Verdict) -> String {
    match v.name() {
        "keepalive_race" => "keep-alive races".into(),
        "connect_refused" => "refused connects".into(),
        "connect_timeout" => "connect timeouts".into(),
        "server_reset" => "resets by the server".into(),
        "client_reset" => "resets by the proxy".into(),
        "idle_reset" => "resets after a long idle".into(),
        "truncated_response" => "truncated responses".into(),
        other => format!("{} connections", other.replace('_', " ")),
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// At most three endpoints by name, then how many more.
fn endpoints(eps: &BTreeSet<String>) -> String {
    let v: Vec<&str> = eps.iter().map(String::as_str).collect();
    if v.len() <= 3 {
        v.join(", ")
    } else {
        format!("{} and {} more", v[..3].join(", "), v.len() - 3)
    }
}

/// One sentence per proxy and kind of line (by failing status, or error
/// log), then the unexplained ones by reason and the clock offset.
pub fn headlines(r: &Report, out: &mut String) {
    let Some(p) = &r.proxy_log else {
        return;
    };
    // Statuses first, then error logs, per proxy.
    let mut groups: BTreeMap<(&str, bool, Option<u16>), Vec<&LogEntry>> = BTreeMap::new();
    for e in &p.entries {
        groups
            .entry((e.proxy, e.error_status.is_none(), e.error_status))
            .or_default()
            .push(e);
    }
    // "No 5xx" only about lines that were read (issue 21: a custom format
    // read as nothing once said "303 lines read, no 5xx or error line").
    if groups.is_empty() {
        let read = p.lines.saturating_sub(p.unreadable);
        let _ = match (read, p.unreadable) {
            (_, 0) => writeln!(
                out,
                "proxy logs: {} read, no 5xx or error line",
                count(p.lines as usize, "line", "lines")
            ),
            (0, _) => writeln!(
                out,
                "proxy logs: none of {} could be read: 5xx and error lines unknown",
                count(p.lines as usize, "line", "lines")
            ),
            (n, u) => writeln!(
                out,
                "proxy logs: no 5xx or error line among the {} read; {u} unreadable, unknown",
                count(n as usize, "line", "lines")
            ),
        };
    }
    for ((proxy, _, status), lines) in &groups {
        // The kind of line, one and many: "nginx 502" / "nginx 502s",
        // "nginx error-log line" / "nginx error-log lines".
        let (one, what) = match status {
            Some(s) => (format!("{proxy} {s}"), format!("{proxy} {s}s")),
            None => (
                format!("{proxy} error-log line"),
                format!("{proxy} error-log lines"),
            ),
        };
        let explained: Vec<&&LogEntry> = lines.iter().filter(|e| e.explained()).collect();
        let mut by_verdict: BTreeMap<Verdict, Vec<&&LogEntry>> = BTreeMap::new();
        for e in &explained {
            if let Some(v) = e.verdict {
                by_verdict.entry(v).or_default().push(e);
            }
        }
        let verb = if explained.len() == 1 { "is" } else { "are" };
        if by_verdict.is_empty() {
            let _ = writeln!(
                out,
                "0 of {} {what} are explained by the capture",
                lines.len()
            );
        }
        for (v, es) in &by_verdict {
            let servers: BTreeSet<String> = es
                .iter()
                .filter_map(|e| e.server)
                .map(|s| s.to_string())
                .collect();
            let methods: BTreeSet<&str> = es.iter().filter_map(|e| e.method.as_deref()).collect();
            let retry = |want: Option<bool>| {
                es.iter()
                    .filter(|e| {
                        e.finding
                            .and_then(|i| r.findings.get(i))
                            .and_then(|f| f.race.as_ref())
                            .is_some_and(|x| x.retried == want)
                    })
                    .count()
            };
            let (retried, unknown) = (retry(Some(true)), retry(None));
            let mut notes: Vec<String> = Vec::new();
            if !methods.is_empty() {
                let m: Vec<String> = methods.iter().map(|m| format!("{m}s")).collect();
                notes.push(m.join(" and "));
            }
            if *v == Verdict::KeepaliveRace {
                notes.push(match (retried, unknown) {
                    (_, u) if u == es.len() => "retry unknown".into(),
                    (0, 0) => "not retried".into(),
                    (n, 0) if n == es.len() => "retried".into(),
                    (n, 0) => format!("{n} retried"),
                    (n, u) => format!("{n} retried, {u} unknown"),
                });
            }
            let of = if by_verdict.len() == 1 {
                format!("{} of {} {what} {verb}", es.len(), lines.len())
            } else {
                format!("{} of {} {what}", es.len(), lines.len())
            };
            let _ = writeln!(
                out,
                "{of} {} on {}{}",
                plural(*v),
                endpoints(&servers),
                if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join(", "))
                }
            );
        }
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for e in lines.iter().filter(|e| !e.explained()) {
            *reasons
                .entry(e.reason.map_or("unexplained", |x| x.name()))
                .or_default() += 1;
        }
        if !reasons.is_empty() {
            let n: usize = reasons.values().sum();
            let why: Vec<String> = reasons
                .iter()
                .map(|(k, n)| format!("{} {n}", k.replace('_', " ")))
                .collect();
            let _ = writeln!(
                out,
                "  {} unexplained: {}",
                count(n, &format!("{one} is"), &format!("{what} are")),
                why.join(", ")
            );
        }
    }
    if let Some(o) = p.clock_offset_ms {
        let _ = writeln!(
            out,
            "  clock offset, capture minus proxy log: {}",
            units::gap(o.ms())
        );
    }
}

/// The columns of the table of 5xx and error lines.
pub(super) const COLUMNS: [&str; 6] = [
    "file:line",
    "time",
    "message",
    "client → server",
    "verdict",
    "match",
];

/// The heading of that table.
pub(super) fn heading(p: &ProxyLog) -> String {
    format!(
        "Proxy log lines ({} of {} explained; {} lines read, {} unreadable)",
        p.explained, p.errors, p.lines, p.unreadable
    )
}

/// One line's cells, in [`COLUMNS`] order; the connection on two lines
/// when `narrow`.
pub(super) fn cells(e: &LogEntry, narrow: bool) -> [String; 6] {
    let conn = match (e.client, e.server) {
        (Some(c), Some(s)) if narrow => format!("{c}\n→ {s}"),
        (Some(c), Some(s)) => format!("{c} → {s}"),
        // Several connections fit the line with one verdict.
        (None, Some(s)) if narrow => format!("(several)\n→ {s}"),
        (None, Some(s)) => format!("(several) → {s}"),
        _ => "-".into(),
    };
    [
        format!("{}:{}", e.file, e.line),
        e.time.time_of_day(),
        e.message.clone(),
        conn,
        e.verdict.map_or("-".into(), |v| v.to_string()),
        match (e.matched, e.reason) {
            (Some(m), None) => m.to_string(),
            (Some(m), Some(r)) => format!("{m}, {r}"),
            (None, Some(r)) => r.to_string(),
            (None, None) => "-".into(),
        },
    ]
}

/// The table of 5xx and error lines, fitted to `width` like the others
/// (issue 26: it ignored `--width`).
pub fn section(p: &ProxyLog, width: Option<u16>, out: &mut String) {
    let _ = writeln!(out, "\n{}:", heading(p));
    if p.entries.is_empty() {
        return;
    }
    let mut t = super::table::table(&COLUMNS, width);
    for e in &p.entries {
        // On two lines when the table must fit a width, as elsewhere.
        t.add_row(cells(e, width.is_some()).to_vec());
    }
    // Time, endpoints and verdict whole; the file, the message and the
    // match wrap.
    super::table::whole(&mut t, &[1, 3, 4]);
    let _ = writeln!(out, "{t}");
}

/// What each proxy logs for the findings listed, one row per kind; only
/// the proxy that is there when it is known (`report.proxy`).
pub fn symptoms(r: &Report, out: &mut String) {
    use racecap::analysis::proxy::ProxyKind;
    let only = match r.proxy.map(|p| p.kind) {
        Some(ProxyKind::Istio | ProxyKind::Envoy) => Some("envoy"),
        Some(ProxyKind::Nginx) => Some("nginx"),
        Some(ProxyKind::Haproxy) => Some("haproxy"),
        // The others have no row of their own: all three, as when unknown.
        _ => None,
    };
    let mut rows: Vec<(String, &racecap::report::Symptoms)> = Vec::new();
    for f in &r.findings {
        let Some(s) = f.logged_as else { continue };
        let kind = match &f.race {
            Some(x) => format!("{} ({})", f.verdict, x.kind),
            None => f.verdict.to_string(),
        };
        if !rows.iter().any(|(k, _)| *k == kind) {
            rows.push((kind, s));
        }
    }
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let _ = writeln!(out, "\nWhat the proxies log for these findings:");
    for (kind, s) in rows {
        let _ = writeln!(out, "{kind}:");
        for (name, label, line) in [
            ("envoy", "Envoy/Istio", s.envoy),
            ("nginx", "nginx", s.nginx),
            ("haproxy", "HAProxy", s.haproxy),
        ] {
            if only.is_none_or(|o| o == name) {
                let _ = writeln!(out, "  {:<12} {line}", format!("{label}:"));
            }
        }
    }
}
