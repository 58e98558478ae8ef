//! Tables for people. The first lines answer the question users come with
//! (which server, which timeout, how many races, what to change); the tables
//! after them are the evidence. No colour, so `NO_COLOR` and pipes need no
//! special case; no terminal-width wrapping, so output is the same anywhere.

use std::fmt::Write as _;

use comfy_table::{ContentArrangement, Table, presets};

use racecap::report::{Millis, Report, ServerReport, Timestamp};
use racecap::units;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(header.iter().copied());
    t
}

fn secs(d: Millis) -> String {
    units::secs(d.ms())
}

fn opt_secs(d: Option<Millis>) -> String {
    d.map_or_else(|| "-".into(), secs)
}

/// Time of day with ns (the date is in the capture section).
fn clock(t: Timestamp) -> String {
    t.time_of_day()
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| t.rfc3339())
}

fn headline(s: &ServerReport, out: &mut String) {
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
            s.race_rate
                .map(|r| format!("; {:.1} % of reused requests", r * 100.0))
                .unwrap_or_default()
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

/// The fixes, once: servers that share a fix (same side and snippet) are
/// listed together instead of repeating it.
fn fixes(servers: &[&ServerReport], out: &mut String) {
    let mut seen: Vec<(&str, Option<&str>, Vec<String>, &str)> = Vec::new();
    for s in servers {
        for r in &s.recommendations {
            let key = (r.side, r.snippet.as_deref());
            match seen
                .iter_mut()
                .find(|(side, snip, _, _)| (*side, *snip) == key)
            {
                Some(entry) => entry.2.push(s.endpoint.to_string()),
                None => seen.push((
                    r.side,
                    r.snippet.as_deref(),
                    vec![s.endpoint.to_string()],
                    &r.text,
                )),
            }
        }
    }
    if seen.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nHow to fix it:");
    for (i, (side, snippet, eps, text)) in seen.iter().enumerate() {
        let which = if eps.len() == servers.len() {
            String::new()
        } else {
            format!(" [{}]", eps.join(", "))
        };
        let _ = writeln!(out, "{}. {side}{which}: {text}", i + 1);
        if let Some(snippet) = snippet {
            for line in snippet.lines() {
                let _ = writeln!(out, "       {line}");
            }
        }
    }
}

/// The whole report as text.
pub fn tables(r: &Report, connections: bool) -> String {
    let mut out = String::new();
    let c = &r.capture;
    let _ = writeln!(
        out,
        "racecap {}: {} packets, {} TCP connections, {} → {}",
        r.tool.version,
        c.packets,
        c.connections,
        opt_time(c.first),
        opt_time(c.last)
    );
    let races = r.races() as usize;
    let failures = r.failures() as usize;
    // Retries are counted per server, over all races (not only those listed).
    let retried: u64 = r.servers.iter().map(|s| s.retried_races).sum();
    let retried_unknown: u64 = r.servers.iter().map(|s| s.retried_unknown).sum();
    let _ = writeln!(
        out,
        "{} keep-alive race{} ({} retried by the proxy{}), {} other failing connection{}",
        races,
        if races == 1 { "" } else { "s" },
        retried,
        unknown(retried_unknown),
        failures - races,
        if failures - races == 1 { "" } else { "s" }
    );
    super::proxy_log::headlines(r, &mut out);
    let interesting: Vec<&ServerReport> = r
        .servers
        .iter()
        .filter(|s| s.races > 0 || s.mismatch || s.idle_timeout.is_some())
        .collect();
    if !interesting.is_empty() {
        out.push('\n');
        for s in &interesting {
            headline(s, &mut out);
        }
        fixes(&interesting, &mut out);
    }

    out.push('\n');
    let mut t = table(&["verdict", "connections"]);
    for (v, n) in &r.verdict_counts {
        if *n > 0 {
            t.add_row(vec![v.to_string(), n.to_string()]);
        }
    }
    let _ = writeln!(out, "{t}");

    if !r.findings.is_empty() {
        let _ = writeln!(out, "\nFindings ({}):", r.findings.len());
        let mut t = table(&[
            "at",
            "verdict",
            "client → server",
            "kind",
            "idle before close",
            "FIN → request",
            "request",
            "RST",
            "retried",
        ]);
        for f in &r.findings {
            let (kind, idle, gap, req, rst, retried) = match &f.race {
                Some(x) => (
                    x.kind.to_string(),
                    opt_secs(x.idle_before_close_ms),
                    x.fin_to_request_ms
                        .map_or("no FIN".into(), |g| units::gap(g.ms())),
                    x.request.as_ref().map_or_else(
                        || unreadable(f, x.request_bytes),
                        |q| {
                            format!(
                                "{} {}{}",
                                q.method,
                                q.path,
                                if q.idempotent {
                                    ""
                                } else {
                                    " (not idempotent)"
                                }
                            )
                        },
                    ),
                    x.rst_at.map_or("none".into(), clock),
                    match x.retried {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "unknown",
                    }
                    .to_string(),
                ),
                None if f.timeout.is_some() => {
                    let t = f.timeout.as_ref().expect("checked");
                    let req = t
                        .request
                        .as_ref()
                        .map_or("-".into(), |q| format!("{} {}", q.method, q.path));
                    let waited = t
                        .waited_ms
                        .map_or("-".into(), |w| format!("gave up after {}", secs(w)));
                    let rst = t
                        .rst_at
                        .map_or("none".into(), |r| format!("{} by client", clock(r)));
                    (waited, "-".into(), "-".into(), req, rst, "-".into())
                }
                None if f.truncated.is_some() => {
                    let t = f.truncated.as_ref().expect("checked");
                    let cut = match t.expected_body_bytes {
                        Some(n) => format!("{} of {n} B", t.body_bytes_sent),
                        None => format!("{} B, chunked", t.body_bytes_sent),
                    };
                    let req = t.request.as_ref().map_or("-".into(), |q| {
                        format!("{} {} → {}", q.method, q.path, t.status)
                    });
                    let close = match (t.fin_at, t.rst_at) {
                        (_, Some(r)) => format!("{} by server", clock(r)),
                        _ => "none (FIN)".into(),
                    };
                    (
                        cut,
                        opt_secs(t.silent_before_close_ms),
                        "-".into(),
                        req,
                        close,
                        "-".into(),
                    )
                }
                None => {
                    let req = f
                        .reset
                        .as_ref()
                        .and_then(|x| x.request.as_ref())
                        .map_or("-".into(), |q| format!("{} {}", q.method, q.path));
                    let rst = f
                        .reset
                        .as_ref()
                        .map_or("-".into(), |x| format!("{} by {}", clock(x.rst_at), x.by));
                    ("-".into(), "-".into(), "-".into(), req, rst, "-".into())
                }
            };
            t.add_row(vec![
                clock(f.at),
                f.verdict.to_string(),
                format!("{} → {}", f.client, f.server),
                kind,
                idle,
                gap,
                req,
                rst,
                retried,
            ]);
        }
        let _ = writeln!(out, "{t}");
        super::proxy_log::symptoms(r, &mut out);
    }
    if let Some(p) = &r.proxy_log {
        super::proxy_log::section(p, &mut out);
    }

    if !r.servers.is_empty() {
        let _ = writeln!(out, "\nServers:");
        let mut t = table(&[
            "server",
            "conns",
            "idle timeout (server FIN)",
            "Keep-Alive",
            "reuse window",
            "client idle FIN",
            "races",
            "retried",
            "mismatch",
        ]);
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
                opt_secs(s.idle_before_client_fin.as_ref().map(|d| d.estimate_ms)),
                s.races.to_string(),
                s.retried_races.to_string(),
                if s.mismatch { "YES" } else { "no" }.to_string(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }

    if connections && let Some(conns) = &r.connections {
        let _ = writeln!(out, "\nConnections ({}):", conns.len());
        let mut t = table(&[
            "start",
            "client → server",
            "verdict",
            "history",
            "duration",
            "requests",
            "bytes →",
            "bytes ←",
        ]);
        for c in conns {
            t.add_row(vec![
                clock(c.start),
                format!("{} → {}", c.client, c.server),
                c.verdict.to_string(),
                c.history.clone(),
                secs(c.duration_ms),
                c.requests.to_string(),
                c.bytes_to_server.to_string(),
                c.bytes_to_client.to_string(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }

    let _ = writeln!(out, "\nCapture:");
    let mut t = table(&[
        "file",
        "format",
        "link types",
        "packets",
        "bytes",
        "first",
        "last",
    ]);
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
