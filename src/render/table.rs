//! Tables for people. The first lines answer the question users come with
//! (how many requests failed, how often, what to change: [`super::impact`]),
//! then per server the timeouts and the fix ([`super::fix`]); the tables
//! after them are the evidence. No colour, so `NO_COLOR` and pipes need no
//! special case. Tables fit `--width`, else the terminal's, wrapping their
//! text, so the same width gives the same output anywhere; written to
//! anything but a terminal (CI logs, `| less`) without `--width` they do not
//! wrap at all, as ripgrep, kubectl and tshark do not (issue 26).

mod findings;

use std::fmt::Write as _;

use comfy_table::{ColumnConstraint, ContentArrangement, Table, presets};

use racecap::report::{Cause, Millis, Report, ServerReport, Timestamp};
use racecap::units;

/// How to lay the tables out.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// List every connection (`--connections`).
    pub connections: bool,
    /// Rows of the findings table; 0 for all.
    pub limit: usize,
    /// Columns the tables may take; `None`: as wide as their content.
    pub width: Option<u16>,
    /// The long fix texts.
    pub verbose: bool,
}

/// The width to lay out for: `--width`, else the terminal's when standard
/// output is one, else none (no wrapping: a pipe or a file has no width).
pub fn width(asked: Option<u16>) -> Option<u16> {
    use std::io::IsTerminal;
    asked.or_else(|| {
        std::io::stdout()
            .is_terminal()
            .then(|| Table::new().width())
            .flatten()
    })
}

/// A table in our style, fitted to `width` (its text wrapped), or as wide
/// as its content without one.
pub(super) fn table(header: &[&str], width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_header(header.iter().copied());
    match width {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t
}

/// Keeps these columns whole (times, endpoints, verdicts): the others
/// wrap to fit the width.
pub(super) fn whole(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

fn secs(d: Millis) -> String {
    units::secs(d.ms())
}

fn opt_secs(d: Option<Millis>) -> String {
    d.map_or_else(|| "-".into(), secs)
}

/// The clients' idle FINs as their timeout, or how many there were when
/// they are none (one exit, or closes spread out).
fn client_idle(d: Option<&racecap::report::Distribution>) -> String {
    match d {
        Some(d) if d.is_client_timeout() => secs(d.estimate_ms),
        Some(d) if d.n == 1 => "- (1 close)".into(),
        Some(d) => format!("- ({} spread out)", d.n),
        None => "-".into(),
    }
}

/// Time of day with ns (the date is in the capture section).
fn clock(t: Timestamp) -> String {
    t.time_of_day()
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| t.rfc3339())
}

/// A server's measurements, in sentences (the fix section prints them
/// above the server's fix).
pub(super) fn headline(s: &ServerReport, out: &mut String) {
    let _ = write!(out, "{}: ", s.endpoint);
    match (&s.idle_timeout, s.idle_timeout_longer_than_ms) {
        (Some(d), _) if d.tight => {
            let _ = write!(
                out,
                "closes idle connections after ≈ {} ({} of {} closes within {}–{})",
                secs(d.estimate_ms),
                d.cluster_n,
                d.n,
                secs(d.cluster_min_ms),
                secs(d.cluster_max_ms)
            );
        }
        (Some(d), _) => {
            let _ = write!(
                out,
                "closes idle connections after {}–{}, median {} ({} closes, spread out: application closes rather than one timeout)",
                secs(d.min_ms),
                secs(d.max_ms),
                secs(d.median_ms),
                d.n
            );
        }
        (None, Some(x)) => {
            let _ = write!(out, "idle timeout not observed, longer than {}", secs(x));
        }
        (None, None) => {
            let _ = write!(out, "idle timeout not observed");
        }
    }
    if let Some(h) = s.keep_alive_header_s {
        let _ = write!(
            out,
            "; Keep-Alive: timeout={h}{}",
            if s.keep_alive_header_disagrees {
                " (disagrees with the measured closes)"
            } else {
                ""
            }
        );
    }
    out.push('\n');
    if let Some(c) = s.matches.first() {
        let _ = writeln!(out, "  looks like {}", c.note);
    }
    if let Some(t) = &s.tls {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        let _ = writeln!(
            out,
            "  TLS {} on {} connection{}; SNI {}; ALPN offered {}",
            if t.versions.is_empty() {
                "(version not seen)".to_string()
            } else {
                t.versions.join(", ")
            },
            t.connections,
            if t.connections == 1 { "" } else { "s" },
            list(&t.sni),
            list(&t.alpn_offered)
        );
    }
    if let Some(r) = s.reuse_window_ms {
        let _ = writeln!(
            out,
            "  the proxy reused idle connections after up to {} ({} reused requests)",
            secs(r),
            s.reused_requests
        );
    }
    if s.races > 0 {
        let _ = writeln!(
            out,
            "  {} keep-alive race{}, {} retried by the proxy{}{}",
            s.races,
            if s.races == 1 { "" } else { "s" },
            s.retried_races,
            unknown(s.retried_unknown),
            match (s.requests, s.race_rate) {
                (0, Some(r)) => format!("; {:.1} % of reused requests", r * 100.0),
                (n, Some(r)) => format!(
                    "; {:.1} % of its {n} requests, {:.1} % of the reused",
                    s.races as f64 * 100.0 / n as f64,
                    r * 100.0
                ),
                _ => String::new(),
            }
        );
    }
    if s.mismatch {
        let _ = writeln!(
            out,
            "  MISMATCH: the proxy keeps idle connections longer than this server does"
        );
    }
}

/// The request column of a race whose request line was not read.
fn unreadable(f: &racecap::report::Finding, bytes: u64) -> String {
    match f.protocol {
        racecap::report::Protocol::Tls => format!("unreadable (TLS), {bytes} B"),
        _ => "-".into(),
    }
}

/// ", K unknown" for races whose retry cannot be known.
fn unknown(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} unknown")
    }
}

/// The whole report as text.
pub fn tables(r: &Report, o: &Opts) -> String {
    let mut out = String::new();
    let c = &r.capture;
    let w = o.width;
    super::impact::opening(r, &mut out);
    super::proxy_log::headlines(r, &mut out);
    // What was not checked belongs beside what was (issue 21).
    for w in c.warnings.iter().filter(|w| w.fails_closed()) {
        let _ = writeln!(out, "warning: {w}");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "racecap {}: {} packets, {} TCP connections, {} → {}",
        r.tool.version,
        c.packets,
        c.connections,
        opt_time(c.first),
        opt_time(c.last)
    );
    let interesting: Vec<&ServerReport> = r
        .servers
        .iter()
        // Those with a fix are described in its section, beside it.
        .filter(|s| s.recommendations.is_empty())
        .filter(|s| s.races > 0 || s.mismatch || s.idle_timeout.is_some())
        .collect();
    if !interesting.is_empty() {
        out.push('\n');
        for s in &interesting {
            headline(s, &mut out);
        }
    }
    super::fix::section(r, o.verbose, &mut out);

    out.push('\n');
    let mut t = table(&["verdict", "connections"], w);
    for (v, n) in &r.verdict_counts {
        if *n > 0 {
            t.add_row(vec![v.to_string(), n.to_string()]);
        }
    }
    let _ = writeln!(out, "{t}");

    if !r.findings.is_empty() {
        findings::section(r, o, &mut out);
    }
    if let Some(p) = &r.proxy_log {
        super::proxy_log::section(p, w, &mut out);
    }

    if !r.servers.is_empty() {
        let _ = writeln!(out, "\nServers:");
        let mut t = table(
            &[
                "server",
                "conns",
                "idle timeout (server FIN)",
                "Keep-Alive",
                "reuse window",
                "client idle FIN",
                "races",
                "retried",
                "mismatch",
            ],
            w,
        );
        for s in &r.servers {
            let idle = match (&s.idle_timeout, s.idle_timeout_longer_than_ms) {
                (Some(d), _) => format!(
                    "{} (n={}, {}–{})",
                    secs(d.estimate_ms),
                    d.n,
                    secs(d.min_ms),
                    secs(d.max_ms)
                ),
                (None, Some(x)) => format!("> {}", secs(x)),
                (None, None) => "-".into(),
            };
            t.add_row(vec![
                s.endpoint.to_string(),
                s.connections.to_string(),
                idle,
                s.keep_alive_header_s
                    .map_or("-".into(), |h| format!("{h} s")),
                opt_secs(s.reuse_window_ms),
                client_idle(s.idle_before_client_fin.as_ref()),
                s.races.to_string(),
                s.retried_races.to_string(),
                if s.mismatch { "YES" } else { "no" }.to_string(),
            ]);
        }
        whole(&mut t, &[0]);
        let _ = writeln!(out, "{t}");
    }

    if o.connections
        && let Some(conns) = &r.connections
    {
        let _ = writeln!(out, "\nConnections ({}):", conns.len());
        let mut t = table(
            &[
                "start",
                "client → server",
                "verdict",
                "history",
                "duration",
                "requests",
                "bytes →",
                "bytes ←",
            ],
            w,
        );
        for c in conns {
            t.add_row(vec![
                clock(c.start),
                format!("{}\n→ {}", c.client, c.server),
                c.verdict.to_string(),
                c.history.clone(),
                secs(c.duration_ms),
                c.requests.to_string(),
                c.bytes_to_server.to_string(),
                c.bytes_to_client.to_string(),
            ]);
        }
        whole(&mut t, &[0, 1, 2]);
        let _ = writeln!(out, "{t}");
    }

    let _ = writeln!(out, "\nCapture:");
    let mut t = table(
        &[
            "file",
            "format",
            "link types",
            "packets",
            "bytes",
            "first",
            "last",
        ],
        w,
    );
    for f in &c.files {
        t.add_row(vec![
            f.name.clone(),
            format!("{}{}", f.format.name(), if f.gzip { "+gzip" } else { "" }),
            f.link_types.join(","),
            f.packets.to_string(),
            f.bytes.to_string(),
            opt_time(f.first),
            opt_time(f.last),
        ]);
    }
    let _ = writeln!(out, "{t}");
    let skipped: Vec<String> = c
        .skipped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "TCP segments {}, distinct 4-tuples {}, connections {}, peak open {}; skipped: {}",
        c.tcp_segments,
        c.connections_4tuples,
        c.connections,
        c.peak_open_connections,
        if skipped.is_empty() {
            "none".to_string()
        } else {
            skipped.join(", ")
        }
    );
    if c.started_before_capture > 0 || c.open_at_end > 0 {
        let _ = writeln!(
            out,
            "{} connections started before the capture (roles inferred), {} were still open at its end",
            c.started_before_capture, c.open_at_end
        );
    }
    if c.payload_cut_by_snaplen > 0 {
        let _ = writeln!(
            out,
            "{} segments had their payload cut by the snaplen (headers still read; not packet loss)",
            c.payload_cut_by_snaplen
        );
    }
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
