//! The report as one self-contained HTML page (`--format html -o FILE`):
//! the summary in words, per server a histogram of its idle closes beside
//! its clients' reuse gaps and a strip plot of the samples near the close,
//! a timeline of the races across the capture, one ladder diagram per race
//! (up to `--limit`), the findings, and with `--proxy-log` what the logs
//! say and the connection each line rode. SVG written here, inline CSS, no
//! script, no font, no network: it opens from a mail attachment or a ticket.
//!
//! Elements a test counts carry a class: `bar idle` / `bar reuse` (one per
//! non-empty bin), `tick idle` / `tick reuse` (one per sample near the
//! close), `race-tick` (one per race on the timeline), `ladder` (one figure
//! per race shown), `arrow` (one per packet drawn in a ladder) and `label`
//! (its name beside it).

use std::fmt::Write as _;

use racecap::report::histogram::Histogram;
use racecap::report::{Finding, Report, ServerReport};
use racecap::units;

mod ladder;
use ladder::ladder_svg;

/// Text for HTML: `&`, `<`, `>` and `"` escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
p.answer { font-size: 1.1em; margin: .3em 0; } p.meta { color: #666; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: 12px; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.idle { fill: #c0392b; stroke: #c0392b; } .reuse { fill: #2874a6; stroke: #2874a6; }
.axis { stroke: #888; fill: none; } .grid { stroke: #eee; }
.lane { stroke: #555; stroke-width: 2; }
.arrow { stroke-width: 1.6; fill: none; } .arrow.c2s { stroke: #2874a6; } .arrow.s2c { stroke: #c0392b; }
.arrow.lost { stroke-dasharray: 5 3; }
.head.c2s { fill: #2874a6; } .head.s2c { fill: #c0392b; }
.race-tick.retried { stroke: #e67e22; } .race-tick.lost { stroke: #c0392b; } .race-tick { stroke-width: 2; }
figure.ladder { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
figcaption { font-size: 12px; color: #444; max-width: 520px; }
";

/// A linear scale from a data range onto pixels.
struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        if self.d1 <= self.d0 {
            return self.p0;
        }
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

/// Seconds for an axis label.
fn axis_secs(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.0} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// Idle closes beside reuse gaps, one pair of bars per bin.
fn histogram_svg(h: &Histogram, out: &mut String) {
    let (w, ht, left, bottom, top) = (900.0, 220.0, 40.0, 30.0, 20.0);
    let bins = h.idle_closes.len().max(1);
    let bin = h.bin_ms.ms();
    // Bin edges follow the data (`from_ms`); a gap is never below 0.
    let edge = |i: usize| (h.from_ms.ms() + i as f64 * bin).max(0.0);
    let most = h
        .idle_closes
        .iter()
        .chain(&h.reuse_gaps)
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let x = Scale {
        d0: 0.0,
        d1: bins as f64,
        p0: left,
        p1: w - 10.0,
    };
    let y = Scale {
        d0: 0.0,
        d1: most as f64,
        p0: ht - bottom,
        p1: top,
    };
    let _ = write!(
        out,
        r#"<svg class="histogram" width="{w}" height="{ht}" viewBox="0 0 {w} {ht}" role="img" aria-label="idle closes and reuse gaps">"#
    );
    let _ = write!(
        out,
        r#"<path class="axis" d="M{left} {top} V{} H{}"/>"#,
        ht - bottom,
        w - 10.0
    );
    // Axis labels: a handful of bin edges, the count at the top.
    let every = (bins / 8).max(1);
    for i in (0..=bins).step_by(every) {
        let px = x.at(i as f64);
        let _ = write!(
            out,
            r#"<text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"#,
            ht - bottom + 16.0,
            axis_secs(edge(i))
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="end">{most}</text><text x="{}" y="{}" text-anchor="end">0</text>"#,
        left - 4.0,
        top + 4.0,
        left - 4.0,
        ht - bottom
    );
    let slot = (x.at(1.0) - x.at(0.0)) / 2.0;
    for (i, (&c, &r)) in h.idle_closes.iter().zip(&h.reuse_gaps).enumerate() {
        for (n, class, off) in [(c, "idle", 0.0), (r, "reuse", slot)] {
            if n == 0 {
                continue;
            }
            let x0 = x.at(i as f64) + off;
            let y0 = y.at(n as f64);
            let _ = write!(
                out,
                r#"<rect class="bar {class}" x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}"><title>{} {}–{}: {n}</title></rect>"#,
                (slot - 1.0).max(1.0),
                (ht - bottom - y0).max(0.5),
                if class == "idle" {
                    "idle closes"
                } else {
                    "reuse gaps"
                },
                units::secs(edge(i)),
                units::secs(edge(i + 1)),
            );
        }
    }
    let _ = write!(
        out,
        r#"<rect class="idle" x="{}" y="4" width="10" height="10"/><text x="{}" y="13">server's idle closes (FIN after idle)</text><rect class="reuse" x="{}" y="4" width="10" height="10"/><text x="{}" y="13">clients' reuse gaps (answered)</text></svg>"#,
        left + 10.0,
        left + 24.0,
        left + 270.0,
        left + 284.0
    );
}

/// Every sample near the close, one tick each: the overlap in milliseconds.
fn strip_svg(h: &Histogram, out: &mut String) {
    let Some(n) = &h.near_close else { return };
    let (w, ht, left) = (900.0, 90.0, 40.0);
    let x = Scale {
        d0: n.from_ms.ms(),
        d1: n.to_ms.ms(),
        p0: left,
        p1: w - 10.0,
    };
    let _ = write!(
        out,
        r#"<svg class="strip" width="{w}" height="{ht}" viewBox="0 0 {w} {ht}" role="img" aria-label="samples near the idle close">"#
    );
    let _ = write!(out, r#"<path class="axis" d="M{left} 70 H{}"/>"#, w - 10.0);
    for i in 0..=6 {
        let v = n.from_ms.ms() + (n.to_ms.ms() - n.from_ms.ms()) * i as f64 / 6.0;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="86" text-anchor="middle">{}</text>"#,
            x.at(v),
            units::secs(v)
        );
    }
    for (vals, class, y0, label) in [
        (&n.idle_closes_ms, "idle", 10.0, "idle close"),
        (&n.reuse_gaps_ms, "reuse", 38.0, "reuse"),
    ] {
        for v in vals {
            let px = x.at(v.ms());
            let _ = write!(
                out,
                r#"<line class="tick {class}" x1="{px:.1}" x2="{px:.1}" y1="{y0}" y2="{}"><title>{label} after {}</title></line>"#,
                y0 + 24.0,
                units::secs(v.ms())
            );
        }
    }
    out.push_str("</svg>");
}

/// The races across the capture, one tick each.
fn timeline_svg(r: &Report, races: &[&Finding], out: &mut String) {
    let (Some(first), Some(last)) = (r.capture.first, r.capture.last) else {
        return;
    };
    let (w, ht, left) = (900.0, 60.0, 10.0);
    let x = Scale {
        d0: first.0 as f64,
        d1: last.0 as f64,
        p0: left,
        p1: w - 10.0,
    };
    let _ = write!(
        out,
        r#"<svg class="timeline" width="{w}" height="{ht}" viewBox="0 0 {w} {ht}" role="img" aria-label="races across the capture"><path class="axis" d="M{left} 36 H{}"/><text x="{left}" y="54">{}</text><text x="{}" y="54" text-anchor="end">{}</text>"#,
        w - 10.0,
        first.time_of_day_ms(),
        w - 10.0,
        last.time_of_day_ms()
    );
    for f in races {
        let px = x.at(f.at.0 as f64);
        let lost = f.race.as_ref().and_then(|x| x.retried) != Some(true);
        let _ = write!(
            out,
            r#"<line class="race-tick {}" x1="{px:.1}" x2="{px:.1}" y1="8" y2="36"><title>{} {} → {}</title></line>"#,
            if lost { "lost" } else { "retried" },
            f.at.time_of_day_ms(),
            f.client,
            f.server
        );
    }
    out.push_str("</svg>");
}

fn paragraph_lines(text: &str, class: &str, out: &mut String) {
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(out, r#"<p class="{class}">{}</p>"#, esc(l.trim()));
    }
}

/// The whole report as one HTML page.
pub fn page(r: &Report, limit: usize) -> String {
    let mut out = String::new();
    let mut opening = String::new();
    super::impact::opening(r, &mut opening);
    // What the proxy's own logs say, beside the capture's answer, as the
    // tables put it (issue 26: the page left the --proxy-log out).
    super::proxy_log::headlines(r, &mut opening);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>racecap report: {}</title><style>{STYLE}</style></head><body>\n<h1>racecap report</h1>\n<section id=\"summary\">\n",
        esc(&r
            .capture
            .files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    );
    paragraph_lines(&opening, "answer", &mut out);
    let _ = writeln!(
        out,
        r#"<p class="meta">racecap {}: {} packets, {} TCP connections, {} → {}</p></section>"#,
        r.tool.version,
        r.capture.packets,
        r.capture.connections,
        r.capture.first.map_or("-".into(), |t| t.rfc3339()),
        r.capture.last.map_or("-".into(), |t| t.rfc3339())
    );

    let mut races: Vec<&Finding> = r.findings.iter().filter(|f| f.race.is_some()).collect();
    races.sort_by_key(|f| (f.at, f.conn_id));
    if !races.is_empty() {
        out.push_str("<section id=\"timeline\"><h2>Races across the capture</h2>\n");
        timeline_svg(r, &races, &mut out);
        out.push_str(
            "<p class=\"meta\">One tick per race: red, the client got the error; orange, the proxy retried it.</p></section>\n",
        );
    }

    let groups = super::fix::groups(r, false);
    for s in &r.servers {
        let Some(h) = &s.histogram else { continue };
        if s.idle_timeout.is_none() && s.races == 0 && !s.mismatch {
            continue;
        }
        server_section(s, h, &groups, &mut out);
    }

    // Failures of another cause than the timer: its remedy (issue 21).
    for (head, steps) in super::fix::remedies(r) {
        out.push_str("<section class=\"remedy\"><h2>Fix: not a timeout</h2>\n");
        let _ = writeln!(out, "<p>{}</p>", esc(&head));
        fix_steps(&steps, &mut out);
        out.push_str("</section>\n");
    }

    if !races.is_empty() {
        let shown = if limit == 0 {
            races.len()
        } else {
            limit.min(races.len())
        };
        let _ = writeln!(
            out,
            "<section id=\"races\"><h2>Races as ladder diagrams ({shown} of {})</h2>",
            races.len()
        );
        for f in &races[..shown] {
            let x = f.race.as_ref().expect("races only");
            out.push_str("<figure class=\"ladder\">");
            ladder_svg(f, x, &mut out);
            let _ = writeln!(
                out,
                "<figcaption>{} race: {}{}; {}</figcaption></figure>",
                x.kind,
                x.idle_before_close_ms.map_or(String::new(), |i| format!(
                    "idle {} before the close",
                    units::secs(i.ms())
                )),
                x.fin_to_request_ms
                    .map_or(String::new(), |g| if g.ms() < 0.0 {
                        format!(
                            ", request seen {} before the FIN (captured on the proxy's side)",
                            units::gap(-g.ms())
                        )
                    } else {
                        format!(", request {} after the FIN", units::gap(g.ms()))
                    }),
                match x.retried {
                    Some(true) => "retried by the proxy",
                    Some(false) => "not retried: the client got the error",
                    None => "retry unknown",
                }
            );
        }
        if shown < races.len() {
            let _ = writeln!(
                out,
                "<p class=\"meta\">… and {} more; --limit 0 for all.</p>",
                races.len() - shown
            );
        }
        out.push_str("</section>\n");
    }

    findings_table(r, limit, &mut out);
    if let Some(p) = &r.proxy_log {
        proxy_log_table(p, limit, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}

fn server_section(
    s: &ServerReport,
    h: &Histogram,
    groups: &[(Vec<&ServerReport>, Vec<super::fix::Step>)],
    out: &mut String,
) {
    let _ = writeln!(
        out,
        "<section class=\"server\"><h2>{}</h2>",
        esc(&s.endpoint.to_string())
    );
    let mut head = String::new();
    super::table::headline(s, &mut head);
    paragraph_lines(&head, "meta", out);
    histogram_svg(h, out);
    if h.near_close.is_some() {
        out.push_str("<p class=\"meta\">Near the close, every sample:</p>\n");
        strip_svg(h, out);
    }
    if let Some((_, steps)) = groups
        .iter()
        .find(|(servers, _)| servers.iter().any(|x| x.endpoint == s.endpoint))
    {
        out.push_str("<h3>Fix</h3>");
        fix_steps(steps, out);
    }
    out.push_str("</section>\n");
}

/// The steps of a fix as a numbered list, with their snippets.
fn fix_steps(steps: &[super::fix::Step], out: &mut String) {
    out.push_str("<ol>\n");
    for st in steps {
        let _ = write!(out, "<li>{}: {}", st.side, esc(&st.text));
        if let Some(snippet) = &st.snippet {
            let _ = write!(out, "<pre>{}</pre>", esc(snippet));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
}

/// The findings in time order, at most `limit` rows (0: all), as the table.
fn findings_table(r: &Report, limit: usize, out: &mut String) {
    if r.findings.is_empty() {
        return;
    }
    let mut findings: Vec<&Finding> = r.findings.iter().collect();
    findings.sort_by_key(|f| (f.at, f.conn_id));
    let all = findings.len();
    if limit > 0 {
        findings.truncate(limit);
    }
    let _ = writeln!(
        out,
        "<section id=\"findings\"><h2>Findings ({})</h2><table><tr><th>at</th><th>client → server</th><th>verdict</th><th>request</th><th>retried</th></tr>",
        all
    );
    let shown = findings.len();
    for f in findings {
        let request = f
            .race
            .as_ref()
            .and_then(|x| x.request.as_ref())
            .or(f.reset.as_ref().and_then(|x| x.request.as_ref()))
            .or(f.truncated.as_ref().and_then(|x| x.request.as_ref()))
            .or(f.timeout.as_ref().and_then(|x| x.request.as_ref()))
            .map_or("-".to_string(), |q| format!("{} {}", q.method, q.path));
        let retried = match f.race.as_ref().map(|x| x.retried) {
            Some(Some(true)) => "yes",
            Some(Some(false)) => "no",
            Some(None) => "unknown",
            None => "-",
        };
        let kind = f
            .race
            .as_ref()
            .map_or(String::new(), |x| format!(" ({})", x.kind));
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{} → {}</td><td>{}{kind}</td><td>{}</td><td>{retried}</td></tr>",
            f.at.time_of_day(),
            f.client,
            f.server,
            f.verdict,
            esc(&request)
        );
    }
    out.push_str("</table>");
    if shown < all {
        let _ = write!(
            out,
            "<p class=\"meta\">… and {} more; --limit 0 for all.</p>",
            all - shown
        );
    }
    out.push_str("</section>\n");
}

/// The proxy log's 5xx and error lines with the connection each rode, at
/// most `limit` rows (0: all), as the tables list them.
fn proxy_log_table(p: &racecap::report::proxy_log::ProxyLog, limit: usize, out: &mut String) {
    let _ = write!(
        out,
        "<section id=\"proxy-log\"><h2>{}</h2>",
        esc(&super::proxy_log::heading(p))
    );
    if !p.entries.is_empty() {
        out.push_str("<table>");
        out.push_str("<tr>");
        for c in super::proxy_log::COLUMNS {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        out.push_str("</tr>\n");
        let shown = if limit == 0 {
            p.entries.len()
        } else {
            limit.min(p.entries.len())
        };
        for e in &p.entries[..shown] {
            out.push_str("<tr class=\"log-line\">");
            for c in super::proxy_log::cells(e, false) {
                let _ = write!(out, "<td>{}</td>", esc(&c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>");
        if shown < p.entries.len() {
            let _ = write!(
                out,
                "<p class=\"meta\">… and {} more; --limit 0 for all.</p>",
                p.entries.len() - shown
            );
        }
    }
    out.push_str("</section>\n");
}
