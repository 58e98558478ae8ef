//! One race as a ladder diagram: the client's and the server's timelines
//! side by side, each packet of the race an arrow between them (SYN, the
//! last exchange, the idle gap, the FIN, the request, the RST), with its
//! time; a crossed request is drawn crossing the FIN.

use std::fmt::Write as _;

use racecap::report::{Finding, Race, RaceKind, Timestamp};
use racecap::units;

use super::esc;

/// One packet of a ladder.
struct Event {
    at: Timestamp,
    label: String,
    /// Sent by the client (proxy) to the server.
    to_server: bool,
    /// The lost request: drawn dashed.
    lost: bool,
}

/// The packets of a race that the capture saw, in time order.
fn events(x: &Race) -> Vec<Event> {
    let request = x.request.as_ref().map_or("request".to_string(), |q| {
        format!("{} {}", q.method, q.path)
    });
    let mut v: Vec<Event> = [
        x.syn_at.map(|t| (t, "SYN".to_string(), true, false)),
        x.last_exchange_at
            .map(|t| (t, "last response".to_string(), false, false)),
        x.fin_at.map(|t| (t, "FIN".to_string(), false, false)),
        Some((x.request_at, request, true, true)),
        x.rst_at.map(|t| (t, "RST".to_string(), false, false)),
    ]
    .into_iter()
    .flatten()
    .map(|(at, label, to_server, lost)| Event {
        at,
        label,
        to_server,
        lost,
    })
    .collect();
    // Stable: equal times keep the order of the exchange.
    v.sort_by_key(|e| e.at);
    // A crossed request left before the FIN reached the client, whatever
    // order the capture point saw them in: draw the FIN first, so that
    // the two arrows cross as they did on the wire.
    if x.kind == RaceKind::Crossed
        && let (Some(req), Some(fin)) = (
            v.iter().position(|e| e.lost),
            v.iter().position(|e| e.label == "FIN"),
        )
        && req < fin
    {
        let r = v.remove(req);
        v.insert(fin, r);
    }
    v
}

/// A gap beside a ladder, signed: microseconds show below a millisecond.
fn ladder_gap(ns: i64) -> String {
    let sign = if ns < 0 { "−" } else { "+" };
    let abs = ns.abs();
    if abs < 1_000_000 {
        format!("{sign}{:.3} ms", abs as f64 / 1e6)
    } else {
        format!("{sign}{}", units::gap(abs as f64 / 1e6))
    }
}

/// One race as a ladder: the proxy's line left, the server's right, one
/// arrow per packet, time going down (evenly spaced, the gaps written
/// beside them: an idle of seconds and a crossing of a millisecond would
/// not both show on one scale).
pub(super) fn ladder_svg(f: &Finding, x: &Race, out: &mut String) {
    let ev = events(x);
    let (w, row, d) = (560.0, 44.0, 26.0);
    let top = 36.0 + d;
    let (cx, sx) = (150.0, 410.0);
    // A stale request left after the FIN had arrived: half a row more.
    let stale = if x.kind == RaceKind::Stale {
        row / 2.0
    } else {
        0.0
    };
    let ht = top + row * ev.len() as f64 + stale + 20.0;
    let _ = write!(
        out,
        r#"<svg width="{w}" height="{ht}" viewBox="0 0 {w} {ht}" role="img" aria-label="ladder diagram"><text x="{cx}" y="16" text-anchor="middle">proxy {}</text><text x="{sx}" y="16" text-anchor="middle">server {}</text><line class="lane" x1="{cx}" x2="{cx}" y1="24" y2="{}"/><line class="lane" x1="{sx}" x2="{sx}" y1="24" y2="{}"/>"#,
        esc(&f.client.to_string()),
        esc(&f.server.to_string()),
        ht - 6.0,
        ht - 6.0
    );
    let mut prev: Option<Timestamp> = None;
    for (i, e) in ev.iter().enumerate() {
        // The time is where the capture saw it; the arrow slants by a
        // fixed one-way delay, so a request that left before the FIN
        // arrived crosses it.
        // Rows are the times at the server's line: what it sends leaves
        // there, what it receives arrives there, one fixed delay from the
        // proxy's line.
        let y = top + row * i as f64 + if e.lost { stale } else { 0.0 };
        let y = if ev[..i].iter().any(|p| p.lost) {
            y + stale
        } else {
            y
        };
        let (x1, y1, x2, y2, dir) = if e.to_server {
            (cx, y - d, sx, y, "c2s")
        } else {
            (sx, y, cx, y + d, "s2c")
        };
        let _ = write!(
            out,
            r#"<line class="arrow {dir}{}" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/>"#,
            if e.lost { " lost" } else { "" }
        );
        // The arrowhead, pointing along the line.
        let sign = if e.to_server { -1.0 } else { 1.0 };
        let _ = write!(
            out,
            r#"<polygon class="head {dir}" points="{x2},{y2} {},{} {},{}"/>"#,
            x2 + sign * 11.0,
            y2 - if e.to_server { 7.0 } else { -1.0 },
            x2 + sign * 9.0,
            y2 + if e.to_server { 1.0 } else { -7.0 }
        );
        // The label near the server's line, where the arrows are apart: a
        // crossed request and the FIN cross near the proxy's line (the
        // request left just before the FIN arrived there), so a label near
        // the sender put the request's name on the FIN (issue 26).
        let along = if e.to_server { 0.78 } else { 0.22 };
        let _ = write!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x1 + (x2 - x1) * along,
            y1 + (y2 - y1) * along - 5.0,
            esc(&e.label)
        );
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            cx - 8.0,
            y + 4.0,
            e.at.time_of_day()
        );
        if let Some(p) = prev {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                sx + 8.0,
                y + 4.0,
                ladder_gap(e.at.0 - p.0)
            );
        }
        prev = Some(e.at);
    }
    out.push_str("</svg>");
}
