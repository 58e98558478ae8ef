//! The fix for a mismatch: concrete, ordered recommendations (server knob,
//! proxy knobs, retries) with ready-to-paste snippets from the table.
//!
//! Every product fact in the texts comes from a row's fields (its default,
//! knob, snippet, [`super::ProxyStep`], [`super::Usual`], [`super::Retries`]);
//! these modules hold only the rules that turn measurements into targets, and
//! name no product.

use super::client::{client_recommendations, client_retries, without_idle_timeout};
use super::h2::{H2_PROXIES, H2_SERVERS};
use super::proxy::{LONGEST_SERVER_MS, UsualProxies, proxy_recommendations};
use super::table::{PROXIES, SERVERS};
use super::text::{and_list, fill, human, human_default, secs};
use super::{
    Candidate, ClientKind, KnownDefault, Recommendation, Role, Side, Situation, WitnessKind,
};

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
        "{server}; {reuse}; {} race{}, {} retried.{}",
        s.races,
        if s.races == 1 { "" } else { "s" },
        s.retried_races,
        stale_clause(s)
    )
}

/// What to measure next when no value below the server's close is safe
/// to give (issue 21): no consistent idle close and no `Keep-Alive`
/// header, so any number would be a guess.
pub(super) const MEASURE_NEXT: &str = "No value is safe to give: no consistent idle close of the server was measured (too few closes, or spread out) and it advertised no Keep-Alive timeout. Measure next: read the server's configured keep-alive timeout, or capture until its idle closes gather in one cluster (connections left idle longer than the reuses seen).";

/// The server's timeout the proxy must stay under: the measured close, else
/// the advertised header (a lower bound for Node.js, which adds its buffer).
pub(super) fn server_bound_ms(s: &Situation<'_>) -> Option<f64> {
    s.server_timeout_ms
        .or(s.keep_alive_header_s.map(|h| h as f64 * 1000.0))
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// How far past the reuses and the close a race's idle age must be for
/// the facts to name it, ms.
const STALE_NOTE_MS: f64 = 1_000.0;

/// The longest idle the evidence shows the requester keeps a connection:
/// the reuse window, or a stale race's idle age when longer (issue 21: a
/// request 14.8 s after a 2 s close shows a pool that keeps connections at
/// least 16.8 s, so "5 s" cannot be the server's fix).
pub(super) fn kept_ms(s: &Situation<'_>) -> Option<f64> {
    match (s.reuse_window_ms, s.stale_idle_ms) {
        (Some(r), Some(t)) => Some(r.max(t)),
        (r, t) => r.or(t),
    }
    .filter(|v| v.is_finite() && *v >= 0.0)
}

/// The stale race's clause for the facts, when its request came well
/// after both the longest reuse and the server's close (a crossed race's
/// few ms past the close say nothing new).
fn stale_clause(s: &Situation<'_>) -> String {
    let seen = s
        .reuse_window_ms
        .unwrap_or(0.0)
        .max(s.server_timeout_ms.unwrap_or(0.0));
    match s.stale_idle_ms {
        Some(t) if t > seen + STALE_NOTE_MS => format!(
            " A race's request came after the connection had been idle {}: the pool keeps connections at least that long.",
            secs(t)
        ),
        _ => String::new(),
    }
}

/// Who the server's texts say keeps idle connections, and what to fix
/// instead: a proxy unless the requests come from a library's pool.
struct Requester {
    /// "the proxy's idle timeout".
    one: &'static str,
    /// "the proxies' own idle close".
    many: &'static str,
    /// "fix the proxy side".
    side: Side,
}

impl Requester {
    fn of(kind: ClientKind) -> Requester {
        match kind {
            ClientKind::Library => Requester {
                one: "client pool's",
                many: "client pool's",
                side: Side::Client,
            },
            ClientKind::Proxy | ClientKind::Unknown => Requester {
                one: "proxy's",
                many: "proxies'",
                side: Side::Proxy,
            },
        }
    }
}

/// The target and its reason when the requester's own idle close was not
/// seen and the requests come from a library: the reuses seen are all
/// there is to clear, and libraries without an idle timeout are named.
fn library_target(s: &Situation<'_>) -> (u64, String) {
    let base = kept_ms(s).unwrap_or(0.0);
    let target = round_up_5s(base + (base * 0.03).max(5000.0));
    let reuses = match (s.reuse_window_ms, kept_ms(s)) {
        (Some(r), Some(k)) if k <= r => format!("the reuses seen (up to {})", secs(r)),
        (_, Some(k)) => format!("the idle the pool was seen to keep (up to {})", secs(k)),
        _ => "no reuse seen".to_string(),
    };
    (
        target,
        format!(
            "The client pool's own idle timeout was not seen (no client FIN after idle); {} clears {reuses}, but {} keep idle connections until the server closes them: with those, fix the client side.",
            human(target),
            and_list(&without_idle_timeout()),
        ),
    )
}

/// Raise the server's keep-alive above the proxy's idle timeout.
fn server_recommendation(s: &Situation<'_>) -> Recommendation {
    let facts = facts(s);
    let who = Requester::of(s.client);
    // The proxy keeps idle connections at least as long as it was seen to
    // reuse them, and exactly as long as its own idle FINs say.
    let known_proxy = match (s.client_idle_ms, kept_ms(s)) {
        (Some(c), Some(r)) => Some(c.max(r)),
        (Some(c), None) => Some(c),
        _ => None,
    };
    let (target, why) = match known_proxy {
        Some(p) => {
            let own = s.client_idle_ms.unwrap_or(p);
            // The reuse window is what the clients were seen to do, not
            // their idle close: name each for what it is.
            let reused = match s.reuse_window_ms {
                Some(r) if r > own => format!(" and the longest reuse seen ({})", secs(r)),
                _ => String::new(),
            };
            let reused = match s.stale_idle_ms {
                Some(t) if t > own && s.reuse_window_ms.is_none_or(|r| t > r) => {
                    format!("{reused} and a stale race's idle age ({})", secs(t))
                }
                _ => reused,
            };
            (
                round_up_5s(p + (p * 0.03).max(5000.0)),
                format!(
                    "That is above the {} own idle close of {} ({} FINs after idle){reused}.",
                    who.many,
                    secs(own),
                    if s.client == ClientKind::Library {
                        "its"
                    } else {
                        "their"
                    }
                ),
            )
        }
        None if s.client == ClientKind::Library => library_target(s),
        None => {
            let usual = UsualProxies::from_table();
            let base = kept_ms(s).unwrap_or(0.0).max(usual.cleared_ms as f64);
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
            side: Side::Server,
            value_ms: None,
            text: format!(
                "{facts} The server's {} already exceeds what the {} known to keep ({}); raising it further does not help: the {} reuses connections after the server's FIN, so fix the {} side.",
                secs(t),
                if s.client == ClientKind::Library {
                    "client pool is"
                } else {
                    "proxies are"
                },
                human(target),
                if s.client == ClientKind::Library {
                    "pool"
                } else {
                    "proxy"
                },
                who.side
            ),
            short: format!(
                "The server's keep-alive already outlasts the {}: fix the {} side.",
                if s.client == ClientKind::Library {
                    "client pool"
                } else {
                    "proxies"
                },
                who.side
            ),
            proxy: None,
            snippet: None,
        };
    }
    let long = if target > LONGEST_SERVER_MS {
        format!(
            " Such a long server timeout holds many idle sockets; prefer the {}-side fix.",
            who.side
        )
    } else {
        String::new()
    };
    match s.matches.first() {
        Some(c) => {
            let r = c.row;
            // A header that names the product is more than a likeness.
            let likely = match c.witness {
                Some(w @ (WitnessKind::ServerHeader | WitnessKind::PoweredBy)) => format!(
                    "Its {} header names {}",
                    if w == WitnessKind::ServerHeader {
                        "Server"
                    } else {
                        "X-Powered-By"
                    },
                    r.software
                ),
                _ => format!("Likely {}", r.software),
            };
            let extra = if r.note.is_empty() {
                String::new()
            } else {
                format!(" Note: {}", r.note)
            };
            Recommendation {
                side: Side::Server,
                value_ms: Some(target),
                text: format!(
                    "Raise the server's keep-alive timeout above the {} idle timeout. {facts} {likely}: set {} to {}. {why}{long}{extra}",
                    who.one,
                    r.knob,
                    human(target)
                ),
                short: format!("{}: set {} to {}.", r.software, r.knob, human(target)),
                proxy: None,
                snippet: Some(fill(r.snippet, target)),
            }
        }
        None if s.http2 => {
            // No HTTP/2 server closes idle by default: the close seen was
            // configured, with one of these.
            let knobs: Vec<String> = H2_SERVERS
                .iter()
                .map(|r| format!("{}: {}", r.software, r.knob))
                .collect();
            Recommendation {
                side: Side::Server,
                value_ms: Some(target),
                text: format!(
                    "Raise the HTTP/2 server's idle timeout above the {} idle timeout, to {}. {why}{long} {facts} HTTP/2 servers close idle connections only when configured to (with a GOAWAY, counted from the end of the last stream); the knob is one of {}.",
                    who.one,
                    human(target),
                    knobs.join("; ")
                ),
                short: format!(
                    "Raise the HTTP/2 server's idle timeout to {}.",
                    human(target)
                ),
                proxy: None,
                snippet: None,
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
                side: Side::Server,
                value_ms: Some(target),
                text: format!(
                    "Raise the server's keep-alive timeout above the {} idle timeout, to {}. {why}{long} {facts} No known default matches; the knob is one of {}.",
                    who.one,
                    human(target),
                    knobs.join("; ")
                ),
                short: format!(
                    "Raise the server's keep-alive timeout to {}; no known default matches (the knob is one of {}{}).",
                    human(target),
                    knobs
                        .iter()
                        .take(SHORT_CANDIDATES)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; "),
                    if knobs.len() > SHORT_CANDIDATES {
                        format!(" and {} more", knobs.len() - SHORT_CANDIDATES)
                    } else {
                        String::new()
                    }
                ),
                proxy: None,
                snippet: None,
            }
        }
    }
}
/// The server step behind a known proxy whose upstream pool keeps idle
/// connections `pool.default_ms` by default (its own idle close not seen):
/// the server's new timeout must clear that as well (issue 21). Up to
/// [`LONGEST_SERVER_MS`] the step is raised to clear it; beyond (Envoy
/// and Istio keep idle upstream connections 1 h) no server timeout is
/// sensible, and the step says what can help instead: the proxy's own
/// knob below the server's close. `None` when the step already clears
/// the pool, sets no value, or the pool keeps idle connections forever
/// (no default: nothing to clear; the proxy steps say what to do).
pub fn server_step_behind(
    rec: &Recommendation,
    matches: &[Candidate],
    pool: &KnownDefault,
    label: &str,
) -> Option<Recommendation> {
    if rec.side != Side::Server {
        return None;
    }
    let value = rec.value_ms?;
    let default = pool.default_ms?;
    if default < value {
        return None;
    }
    let kept = format!(
        "{label} keeps idle upstream connections {} by default",
        human_default(default)
    );
    if default > LONGEST_SERVER_MS {
        return Some(Recommendation {
            side: Side::Server,
            value_ms: None,
            text: format!(
                "{} Behind {label}, which keeps idle upstream connections {} by default, raising the server's timeout to {} cannot help: set {} below the server's idle close instead.",
                rec.text,
                human_default(default),
                human(value),
                pool.knob
            ),
            short: format!(
                "Raising the server's keep-alive cannot help: {kept}; set {} below the server's idle close instead.",
                pool.knob
            ),
            proxy: Some(pool.id),
            snippet: None,
        });
    }
    let d = default as f64;
    let target = round_up_5s(d + (d * 0.03).max(5000.0));
    let (short, snippet) = match matches.first() {
        Some(c) => (
            format!(
                "{}: set {} to {} ({kept}).",
                c.row.software,
                c.row.knob,
                human(target)
            ),
            Some(fill(c.row.snippet, target)),
        ),
        None => (
            format!(
                "Raise the server's keep-alive timeout to {} ({kept}).",
                human(target)
            ),
            None,
        ),
    };
    Some(Recommendation {
        side: Side::Server,
        value_ms: Some(target),
        text: format!(
            "{} Behind {label}, which keeps idle upstream connections {} by default, that is {}.",
            rec.text,
            human_default(default),
            human(target)
        ),
        short,
        proxy: Some(pool.id),
        snippet,
    })
}

/// The knobs an unknown server's short fix names: a few, not the table.
const SHORT_CANDIDATES: usize = 3;

/// The retry step, short.
const RETRY_SHORT: &str = "Retry only idempotent requests on a reset; a POST cannot be retried: fix the timeout order first.";

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
    if s.http2 {
        return h2_retries_recommendation(s, &seen);
    }
    if s.client == ClientKind::Library {
        // A library's own retry, not a proxy's: the clause of each client row.
        let (known, snippet) = client_retries();
        return Recommendation {
            side: Side::Retries,
            value_ms: None,
            text: format!(
                "Retry only idempotent requests when a reused pooled connection fails (a reset, or closed before the response). {seen} A POST cannot be retried safely, so retries hide races for GET but not for POST; fix the timeout order first. {}.",
                known.join("; ")
            ),
            short: RETRY_SHORT.to_string(),
            proxy: snippet.map(|(id, _)| id),
            snippet: snippet.map(|(_, s)| s.to_string()),
        };
    }
    let retries: Vec<_> = PROXIES
        .iter()
        .filter(|r| r.role != Role::Client)
        .filter_map(|r| r.retries)
        .collect();
    let known: Vec<&str> = retries.iter().map(|r| r.on_reset).collect();
    let snippet_row = PROXIES
        .iter()
        .filter(|r| r.role != Role::Client)
        .find(|r| r.retries.is_some_and(|x| x.snippet.is_some()));
    Recommendation {
        side: Side::Retries,
        value_ms: None,
        text: format!(
            "Retry only idempotent requests on a reset. {seen} A POST cannot be retried safely, so retries hide races for GET but not for POST; fix the timeout order first. {}.",
            known.join("; ")
        ),
        short: RETRY_SHORT.to_string(),
        proxy: snippet_row.map(|r| r.id),
        snippet: retries.iter().find_map(|r| r.snippet).map(str::to_string),
    }
}

/// Retries over HTTP/2: a stream above the GOAWAY's last-stream-id was
/// never processed (RFC 9113 §6.8), so retrying it is safe whatever its
/// method — a gRPC call is a POST, which HTTP/1's advice would exclude.
fn h2_retries_recommendation(s: &Situation<'_>, seen: &str) -> Recommendation {
    let unprocessed = if s.unprocessed_races > 0 {
        format!(
            " {} of them {} above the server's GOAWAY last-stream-id: never processed, safe to retry even as POSTs.",
            s.unprocessed_races,
            if s.unprocessed_races == 1 {
                "was"
            } else {
                "were"
            }
        )
    } else {
        String::new()
    };
    let retries: Vec<_> = H2_PROXIES.iter().filter_map(|r| r.retries).collect();
    let known: Vec<&str> = retries.iter().map(|r| r.on_reset).collect();
    // The snippet is one proxy's: the step names its row, so that only
    // that proxy's fix prints it.
    let snippet_row = H2_PROXIES
        .iter()
        .find(|r| r.retries.is_some_and(|x| x.snippet.is_some()));
    Recommendation {
        side: Side::Retries,
        value_ms: None,
        text: format!(
            "Retry HTTP/2 streams the server refused or never processed (a stream above its GOAWAY's last-stream-id). {seen}{unprocessed} Retries hide the race; the timeout order removes it. {}.",
            known.join("; ")
        ),
        short: "Retry HTTP/2 streams the server refused or never processed.".to_string(),
        proxy: snippet_row.map(|r| r.id),
        snippet: retries.iter().find_map(|r| r.snippet).map(str::to_string),
    }
}

/// The fix, ordered: server side, proxy side (client side for a pool inside
/// an application), retries. Empty when the timeouts are in the right
/// order and no race was seen.
pub fn recommend(s: &Situation<'_>) -> Vec<Recommendation> {
    if !s.mismatch && s.races == 0 {
        return Vec::new();
    }
    let mut out = vec![server_recommendation(s)];
    match s.client {
        ClientKind::Library => out.extend(client_recommendations(s)),
        ClientKind::Proxy | ClientKind::Unknown => out.extend(proxy_recommendations(s)),
    }
    out.push(retries_recommendation(s));
    out
}
