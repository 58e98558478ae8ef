//! The fix for a mismatch: concrete, ordered recommendations (server knob,
//! proxy knobs, retries) with ready-to-paste snippets from the table.
//!
//! Every product fact in the texts comes from a row's fields (its default,
//! knob, snippet, [`super::ProxyStep`], [`super::Usual`], [`super::Retries`]);
//! these modules hold only the rules that turn measurements into targets, and
//! name no product.

use super::proxy::{LONGEST_SERVER_MS, UsualProxies, proxy_recommendations};
use super::table::{PROXIES, SERVERS};
use super::text::{and_list, fill, human, secs};
use super::{Recommendation, Situation};

/// Rounds up to a whole multiple of 5 s.
fn round_up_5s(ms: f64) -> u64 {
    ((ms / 5000.0).ceil() as u64).max(1) * 5000
}

/// What was measured, in one sentence, for the texts.
pub(super) fn facts(s: &Situation<'_>) -> String {
    let server = match (s.server_timeout_ms, s.keep_alive_header_s) {
        (Some(t), _) => format!("The server closes idle connections after {}", secs(t)),
        (None, Some(h)) => {
            format!("The server's idle close was not seen; it advertises Keep-Alive: timeout={h}")
        }
        (None, None) => "The server's idle close was not seen".to_string(),
    };
    let reuse = match s.reuse_window_ms {
        Some(r) => format!("clients reused connections idle up to {}", secs(r)),
        None => "no answered reuse of an idle connection was seen".to_string(),
    };
    format!(
        "{server}; {reuse}; {} race{}, {} retried.",
        s.races,
        if s.races == 1 { "" } else { "s" },
        s.retried_races
    )
}

/// The server's timeout the proxy must stay under: the measured close, else
/// the advertised header (a lower bound for Node.js, which adds its buffer).
pub(super) fn server_bound_ms(s: &Situation<'_>) -> Option<f64> {
    s.server_timeout_ms
        .or(s.keep_alive_header_s.map(|h| h as f64 * 1000.0))
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// Raise the server's keep-alive above the proxy's idle timeout.
fn server_recommendation(s: &Situation<'_>) -> Recommendation {
    let facts = facts(s);
    // The proxy keeps idle connections at least as long as it was seen to
    // reuse them, and exactly as long as its own idle FINs say.
    let known_proxy = match (s.client_idle_ms, s.reuse_window_ms) {
        (Some(c), Some(r)) => Some(c.max(r)),
        (Some(c), None) => Some(c),
        _ => None,
    };
    let (target, why) = match known_proxy {
        Some(p) => (
            round_up_5s(p + (p * 0.03).max(5000.0)),
            format!(
                "That is above the proxies' own idle close of {} (their FINs after idle).",
                secs(p)
            ),
        ),
        None => {
            let usual = UsualProxies::from_table();
            let base = s
                .reuse_window_ms
                .unwrap_or(0.0)
                .max(usual.cleared_ms as f64);
            let target = round_up_5s(base + (base * 0.03).max(5000.0));
            (
                target,
                format!(
                    "The proxies' own idle timeout was not seen (no client FIN after idle); {} clears the {} of {}, but {} keep idle upstream connections for {}: behind them, lower the proxy side instead.",
                    human(target),
                    human(usual.cleared_ms),
                    and_list(&usual.cleared),
                    and_list(&usual.longer),
                    usual.longer_ms.join(" or "),
                ),
            )
        }
    };
    if let Some(t) = s.server_timeout_ms
        && t >= target as f64
    {
        return Recommendation {
            side: "server",
            text: format!(
                "{facts} The server's {} already exceeds what the proxies are known to keep ({}); raising it further does not help: the proxy reuses connections after the server's FIN, so fix the proxy side.",
                secs(t),
                human(target)
            ),
            snippet: None,
        };
    }
    let long = if target > LONGEST_SERVER_MS {
        " Such a long server timeout holds many idle sockets; prefer the proxy-side fix."
    } else {
        ""
    };
    match s.matches.first().map(|c| c.row) {
        Some(r) => {
            let extra = if r.note.is_empty() {
                String::new()
            } else {
                format!(" Note: {}", r.note)
            };
            Recommendation {
                side: "server",
                text: format!(
                    "Raise the server's keep-alive timeout above the proxy's idle timeout. {facts} Likely {}: set {} to {}. {why}{long}{extra}",
                    r.software,
                    r.knob,
                    human(target)
                ),
                snippet: Some(fill(r.snippet, target)),
            }
        }
        None => {
            let mut knobs: Vec<String> = Vec::new();
            for r in SERVERS.iter().filter(|r| !r.closes.is_empty()) {
                let k = format!("{}: {}", r.software, r.knob);
                if !knobs.iter().any(|x| x.ends_with(r.knob)) {
                    knobs.push(k);
                }
            }
            Recommendation {
                side: "server",
                text: format!(
                    "Raise the server's keep-alive timeout above the proxy's idle timeout, to {}. {why}{long} {facts} No known default matches; the knob is one of {}.",
                    human(target),
                    knobs.join("; ")
                ),
                snippet: None,
            }
        }
    }
}
/// Retry only what is safe to retry.
fn retries_recommendation(s: &Situation<'_>) -> Recommendation {
    let seen = if s.races == 0 {
        "No race was caught in this capture, but the timeouts allow one.".to_string()
    } else {
        format!(
            "{} of {} race{} retried.",
            s.retried_races,
            s.races,
            if s.races == 1 { " was" } else { "s were" }
        )
    };
    let retries: Vec<_> = PROXIES.iter().filter_map(|r| r.retries).collect();
    let known: Vec<&str> = retries.iter().map(|r| r.on_reset).collect();
    Recommendation {
        side: "retries",
        text: format!(
            "Retry only idempotent requests on a reset. {seen} A POST cannot be retried safely, so retries hide races for GET but not for POST; fix the timeout order first. {}.",
            known.join("; ")
        ),
        snippet: retries.iter().find_map(|r| r.snippet).map(str::to_string),
    }
}

/// The fix, ordered: server side, proxy side, retries. Empty when the
/// timeouts are in the right order and no race was seen.
pub fn recommend(s: &Situation<'_>) -> Vec<Recommendation> {
    if !s.mismatch && s.races == 0 {
        return Vec::new();
    }
    let mut out = vec![server_recommendation(s)];
    out.extend(proxy_recommendations(s));
    out.push(retries_recommendation(s));
    out
}
