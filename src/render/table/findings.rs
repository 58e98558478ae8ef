//! The findings table: each failing connection in the order it failed,
//! with its evidence in one cell, then what the proxies log for them.

use std::fmt::Write as _;

use racecap::report::Report;

use super::*;

/// Writes the findings section (the report has findings).
pub(super) fn section(r: &Report, o: &Opts, out: &mut String) {
    let w = o.width;
    // In the order they happened: `at` is the moment of failure.
    let mut findings: Vec<&racecap::report::Finding> = r.findings.iter().collect();
    findings.sort_by_key(|f| (f.at, f.conn_id));
    let shown = if o.limit == 0 {
        findings.len()
    } else {
        o.limit.min(findings.len())
    };
    let _ = writeln!(
        out,
        "\nFindings ({}, by time of failure):",
        r.findings.len()
    );
    let mut t = table(
        &[
            "at",
            "client → server",
            "verdict",
            "idle,\nFIN → request",
            "request",
            "retried",
        ],
        w,
    );
    for f in &findings[..shown] {
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
                                " (not\nidempotent)"
                            }
                        )
                    },
                ),
                if x.rst_at.is_some() { "RST" } else { "no RST" }.to_string(),
                match x.retried {
                    Some(true) => "yes",
                    // Re-sent into a connect the server refused: still lost.
                    Some(false) if x.retry_refused_at.is_some() => "refused",
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
                let rst = if t.rst_at.is_some() {
                    "FIN, RST by client"
                } else {
                    "FIN by client"
                }
                .to_string();
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
                    (_, Some(_)) => "RST by server".into(),
                    _ => "FIN by server".into(),
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
            None if f.unacknowledged.is_some() => {
                let u = f.unacknowledged.as_ref().expect("checked");
                let req = u
                    .request
                    .as_ref()
                    .map_or("-".into(), |q| format!("{} {}", q.method, q.path));
                (
                    format!("unanswered {}", secs(u.unacknowledged_ms)),
                    opt_secs(u.idle_before_ms),
                    "-".into(),
                    req,
                    "no ACK".into(),
                    "-".into(),
                )
            }
            None if f.unanswered.is_some() => {
                let u = f.unanswered.as_ref().expect("checked");
                let req = u
                    .request
                    .as_ref()
                    .map_or("-".into(), |q| format!("{} {}", q.method, q.path));
                let how = if u.stream_reset_at.is_some() {
                    "stream refused"
                } else {
                    "FIN"
                };
                (
                    format!("{how} {} after", secs(u.request_to_close_ms)),
                    opt_secs(u.idle_before_ms),
                    "-".into(),
                    req,
                    format!("{how}, no response"),
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
                    .map_or("-".into(), |x| format!("RST by {}", x.by));
                ("-".into(), "-".into(), "-".into(), req, rst, "-".into())
            }
        };
        // Narrow columns: a verdict with how it ended, the two gaps of a
        // race one above the other, the endpoints on two lines.
        let (what, timing) = if f.race.is_some() {
            let end = if rst == "RST" {
                String::new()
            } else {
                format!("\n{rst}")
            };
            (format!("race, {kind}{end}"), format!("{idle}\n{gap}"))
        } else {
            let timing: Vec<String> = [kind, idle].into_iter().filter(|x| x != "-").collect();
            (
                format!("{}\n{rst}", f.verdict),
                if timing.is_empty() {
                    "-".into()
                } else {
                    timing.join("\n")
                },
            )
        };
        // A cause that changes what to do is said with the verdict
        // (issue 21: a restart, a replaced peer, the path, a proxy passing
        // an upstream failure on: the fix is the upstream's).
        let what = match (f.cause, &f.upstream) {
            (Some(Cause::Upstream), Some(u)) => {
                format!("{what}\ncause: upstream\n({} → {})", u.client, u.server)
            }
            (Some(c @ (Cause::Restart | Cause::PeerGone | Cause::Path)), _) => {
                format!("{what}\ncause: {}", c.name().replace('_', " "))
            }
            _ => what,
        };
        t.add_row(vec![
            clock(f.at),
            format!("{}\n→ {}", f.client, f.server),
            what,
            timing,
            req.replacen(' ', "\n", 1),
            retried,
        ]);
    }
    // Times and endpoints whole; the rest wraps.
    whole(&mut t, &[0, 1]);
    let _ = writeln!(out, "{t}");
    if shown < findings.len() {
        let _ = writeln!(
            out,
            "… and {} more; --limit 0 for all",
            findings.len() - shown
        );
    }
    crate::render::proxy_log::symptoms(r, out);
}
