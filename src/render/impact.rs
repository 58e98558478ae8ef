//! The table's opening lines: the answer in words. How many requests the
//! clients lost (and what they got instead), how many races the proxy hid
//! by retrying, over what span and how often, and the one fix for the proxy
//! that is there. Every number comes from `report.summary`, so the JSON
//! says the same.

use std::fmt::Write as _;

use racecap::analysis::proxy::ProxyKind;
use racecap::report::{Report, Timestamp, Warning, summary};
use racecap::units;

use super::fix;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What the clients got for the lost requests, from evidence only (issue
/// 21: "the clients got 502" where nginx logged 504s, or HAProxy sent no
/// response at all): the statuses the proxy's log shows, "no response,
/// connection closed", and "an error" where nothing says which.
fn answer(r: &Report, proxy: Option<ProxyKind>) -> String {
    let s = &r.summary;
    // A pool inside the application: the application is the client.
    if proxy == Some(ProxyKind::Library) {
        return "the application got a connection error".into();
    }
    let mut known: Vec<(&str, u64)> = s
        .clients_got
        .iter()
        .filter(|(k, _)| k.as_str() != summary::UNKNOWN)
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    let unknown = s.clients_got.get(summary::UNKNOWN).copied().unwrap_or(0);
    if known.is_empty() {
        return "the clients got an error (which one, the proxy's log says: --proxy-log)".into();
    }
    // Most first, then by name.
    known.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = known
        .iter()
        .map(|(k, n)| {
            let what = match *k {
                summary::NO_RESPONSE => {
                    "no response at all (a closed connection or a refused stream)"
                }
                summary::CUT_RESPONSE => "a response cut short",
                summary::RETRIED => "a response after the proxy's retry",
                status => status,
            };
            format!("{what} ×{n}")
        })
        .collect();
    if unknown > 0 {
        parts.push(format!("an error ×{unknown} (which, unknown)"));
    }
    // Whose word it is: the proxy's log, the proxy's client leg in the
    // capture (a close with no response), or both.
    let leg = r.findings.iter().any(|f| {
        f.client_status.is_some()
            || (f.verdict == racecap::report::Verdict::NoResponse && f.upstream.is_some())
    });
    let by = match (r.proxy_log.is_some(), leg) {
        (true, true) => "by the proxy's log and its client leg in the capture",
        (false, true) => "by the proxy's client leg in the capture",
        _ => "by the proxy's log",
    };
    format!("{by}, the clients got {}", parts.join(", "))
}

/// The lost requests that were no race, by how they failed: "4 never
/// acknowledged" (a middlebox dropped them), "2 reset", "1 cut short",
/// "1 closed unanswered", "1 timed out" (issue 21: not one phrase for all of them).
fn other_lost(r: &Report) -> Vec<String> {
    let (mut unacked, mut reset, mut cut, mut closed, mut timeout) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for f in r
        .findings
        .iter()
        .filter(|f| f.race.is_none() && summary::lost(f).is_some())
    {
        if f.unacknowledged.is_some() {
            unacked += 1;
        } else if f.truncated.is_some() {
            cut += 1;
        } else if f.reset.is_some() {
            reset += 1;
        } else if f.unanswered.is_some() {
            closed += 1;
        } else {
            timeout += 1;
        }
    }
    [
        (unacked, "never acknowledged"),
        (reset, "reset"),
        (cut, "cut short"),
        (closed, "closed unanswered"),
        (timeout, "timed out"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect()
}

/// Refused connects whose outcome no evidence tells: said apart, never
/// counted as lost (the proxy may have tried another server).
fn refused_untold(r: &Report, out: &mut String) {
    let s = &r.summary;
    let n = s.refused_connects.saturating_sub(s.refused_lost);
    if n == 0 {
        return;
    }
    let log = if r.proxy_log.is_some() {
        "its log does not say"
    } else {
        "its log says (--proxy-log)"
    };
    let _ = writeln!(
        out,
        "{} refused as well: the proxy could not send a request there; whether it tried another server or the client got an error, {log}.",
        plural(n, "connect was", "connects were")
    );
}

/// "3.001 s" between two moments.
/// Why a race's retry is unknown: its request line was unreadable, or
/// (issue 23) it was lost past the retry watches' cap.
fn unknown_why(r: &Report, short: bool) -> &'static str {
    let unwatched = r
        .capture
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::RetriesUnwatched { .. }));
    match (unwatched, short) {
        (false, false) => "could not be read (TLS, or cut by the snaplen)",
        (false, true) => "request line unreadable",
        (true, false) => {
            "could not be read (TLS, or cut by the snaplen) or were lost while too many others were watched for their retry"
        }
        (true, true) => "request line unreadable, or not watched for its retry",
    }
}

/// The failing connections and the findings listed, when the report
/// lists only the first ones (`MAX_FINDINGS`).
fn findings_cut(r: &Report) -> Option<(u64, usize)> {
    r.capture.warnings.iter().find_map(|w| match w {
        Warning::FindingsCut { failures, listed } => Some((*failures, *listed)),
        _ => None,
    })
}

fn span(a: Timestamp, b: Timestamp) -> String {
    units::secs((b.0 - a.0) as f64 / 1e6)
}

/// A share in percent, one decimal.
fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1} %", n as f64 * 100.0 / of as f64)
    }
}

/// The first lines: impact, span and rate, the fix.
/// "7 keep-alive races", saying whose they were when a restart's burst
/// of closes made some of them (`servers[].other_causes.restart_races`):
/// a restart's race is no timeout's (issue 21).
fn races_phrase(r: &Report, n: u64) -> String {
    let races = plural(n, "keep-alive race", "keep-alive races");
    let restart: u64 = r
        .servers
        .iter()
        .filter_map(|s| s.other_causes.as_ref())
        .map(|o| o.restart_races)
        .sum();
    if restart == 0 {
        races
    } else if restart >= r.summary.races {
        format!("{races} at a restart")
    } else {
        format!("{races} ({restart} at a restart)")
    }
}

pub fn opening(r: &Report, out: &mut String) {
    let s = &r.summary;
    let proxy = r.proxy.map(|p| p.kind);
    let lost = s.lost();
    // 1. What reached the clients.
    if r.capture.connections == 0 && r.capture.filtered_out > 0 {
        let _ = writeln!(
            out,
            "Nothing analysed: the --server / --port filter matched none of the {} TCP segments.",
            r.capture.filtered_out
        );
    } else if lost > 0 {
        let mut methods: Vec<String> = s
            .lost_by_method
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        if s.refused_lost > 0 {
            methods.push(plural(
                s.refused_lost,
                "refused connect",
                "refused connects",
            ));
        }
        let what = if s.lost_by_method.len() == 1 && s.refused_lost == 0 {
            let m = s.lost_by_method.keys().next().expect("one method");
            plural(lost, &format!("{m} request"), &format!("{m} requests"))
        } else {
            format!(
                "{} ({})",
                plural(lost, "request", "requests"),
                methods.join(", ")
            )
        };
        let mut why = Vec::new();
        if s.not_retried > 0 {
            let races = races_phrase(r, s.not_retried);
            // "at a restart not retried" would read as one phrase.
            let comma = if races.ends_with("restart") { "," } else { "" };
            let how = match s.retries_refused {
                0 => "not retried".to_string(),
                n if n >= s.not_retried => "their retries refused".to_string(),
                n => format!("not retried ({n} retries refused)"),
            };
            why.push(format!("{races}{comma} {how}"));
        }
        why.extend(other_lost(r));
        if s.refused_lost > 0 {
            why.push(plural(
                s.refused_lost,
                "connect refused",
                "connects refused",
            ));
        }
        match findings_cut(r) {
            // The methods and what the clients got are counted over the
            // findings listed: past the list, say so rather than give a
            // count smaller than the races not retried beside it.
            Some((failures, listed)) => {
                let _ = writeln!(
                    out,
                    "At least {} failed for their clients ({}): {}; by method and outcome over the {listed} findings listed (of {failures} failing connections): {what}.",
                    plural(
                        lost.max(s.not_retried + s.refused_lost),
                        "request",
                        "requests"
                    ),
                    why.join(", "),
                    answer(r, proxy)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{what} failed for their clients ({}): {}.",
                    why.join(", "),
                    answer(r, proxy)
                );
            }
        }
        refused_untold(r, out);
    } else if s.races > 0 && s.retried_unknown > 0 {
        // Whether the clients got an error is not known: never say none did
        // (issue 21: HTTP/2 over TLS, seven 502s in HAProxy's log).
        let _ = writeln!(
            out,
            "{} whose requests {}: whether the proxy retried them or the clients got an error, the capture cannot tell{}; the proxy's log can (--proxy-log).",
            plural(s.retried_unknown, "keep-alive race", "keep-alive races"),
            unknown_why(r, false),
            if s.retried > 0 {
                format!(" ({} other races were retried)", s.retried)
            } else {
                String::new()
            },
        );
    } else if s.races > 0 {
        let _ = writeln!(
            out,
            "No request failed for the clients: the proxy retried {} of {} (the retries hid them){}.",
            s.retried,
            plural(s.races, "keep-alive race", "keep-alive races"),
            if s.retried_unknown > 0 {
                format!(
                    "; for {} it cannot be told ({})",
                    s.retried_unknown,
                    unknown_why(r, true)
                )
            } else {
                String::new()
            }
        );
    } else if s.other_failures > 0 {
        let _ = writeln!(
            out,
            "No keep-alive race; {} (no request known lost).",
            plural(
                s.other_failures,
                "other failing connection",
                "other failing connections"
            )
        );
    } else {
        let _ = writeln!(
            out,
            "No request failed: no keep-alive race and no failing connection in {}.",
            plural(s.requests, "request", "requests")
        );
    }
    // 2. How many, over what span, how often.
    let duration = units::secs(r.capture.duration_s * 1000.0);
    match (s.first_race, s.last_race) {
        (Some(first), Some(last)) if s.races > 0 => {
            let _ = writeln!(
                out,
                "{} ({} retried{}{}) from {} to {} ({}) in {duration} of capture: {} per hour, {} per 1000 requests ({} of all {} requests, {} of the {} reused).",
                races_phrase(r, s.races),
                s.retried,
                if s.retries_refused > 0 {
                    format!(", {} into a refused connect", s.retries_refused)
                } else {
                    String::new()
                },
                if s.retried_unknown > 0 {
                    format!(", {} unknown", s.retried_unknown)
                } else {
                    String::new()
                },
                first.time_of_day_ms(),
                last.time_of_day_ms(),
                span(first, last),
                s.races_per_hour.map_or("-".into(), |x| format!("{x:.1}")),
                s.races_per_1000_requests
                    .map_or("-".into(), |x| format!("{x:.1}")),
                pct(s.races, s.requests),
                s.requests,
                pct(s.races, s.reused_requests),
                s.reused_requests
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "{} ({} on reused connections) in {duration} of capture.",
                plural(s.requests, "request", "requests"),
                s.reused_requests
            );
        }
    }
    // 3. The one fix.
    if let Some(line) = fix::one_line(r) {
        let _ = writeln!(out, "{line}");
    }
}
