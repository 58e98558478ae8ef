//! The fix for a mismatch: concrete, ordered recommendations (server knob,
//! proxy knobs, retries) with ready-to-paste snippets from the table.

use super::table::{PROXIES, SERVERS};
use super::{KnownDefault, Recommendation, Situation, match_proxy};

/// Seconds with two decimals, the way the report prints them.
pub(super) fn secs(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

/// A duration as configuration files take it: `5s`, `750ms`.
fn dur(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A duration for prose: `65 s`, `150 ms`.
fn human(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// Fills a snippet template with a value in ms.
fn fill(template: &str, ms: u64) -> String {
    let s = if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        format!("{}", ms as f64 / 1000.0)
    };
    template
        .replace("{ms}", &ms.to_string())
        .replace("{s}", &s)
        .replace("{dur}", &dur(ms))
}

fn row(rows: &'static [KnownDefault], id: &str) -> &'static KnownDefault {
    rows.iter()
        .find(|r| r.id == id)
        .expect("row id is in the table")
}

/// Rounds up to a whole multiple of 5 s.
fn round_up_5s(ms: f64) -> u64 {
    ((ms / 5000.0).ceil() as u64).max(1) * 5000
}

/// What was measured, in one sentence, for the texts.
fn facts(s: &Situation<'_>) -> String {
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
fn server_bound_ms(s: &Situation<'_>) -> Option<f64> {
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
            let base = s.reuse_window_ms.unwrap_or(0.0).max(60_000.0);
            let target = round_up_5s(base + (base * 0.03).max(5000.0));
            (
                target,
                format!(
                    "The proxies' own idle timeout was not seen (no client FIN after idle); {} clears the 60 s of AWS ALB/ELB, nginx's upstream keepalive_timeout and ingress-nginx, but Envoy and Istio keep idle upstream connections for 1 h: behind them, lower the proxy side instead.",
                    human(target)
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
    let long = if target > 900_000 {
        " Such a long server timeout holds many idle sockets; prefer the proxy-side fix."
    } else {
        ""
    };
    match s
        .matches
        .first()
        .and_then(|c| SERVERS.iter().find(|r| r.software == c.software))
    {
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

/// Lower the proxy's upstream idle timeout below the server's.
fn proxy_recommendations(s: &Situation<'_>) -> Vec<Recommendation> {
    let facts = facts(s);
    let Some(server) = server_bound_ms(s) else {
        return vec![Recommendation {
            side: "proxy",
            text: format!(
                "Lower the proxy's upstream idle timeout below the backend's keep-alive timeout (not measured here). {facts} Envoy and Istio default to 1 h, nginx's upstream pool to 60 s."
            ),
            snippet: None,
        }];
    };
    // A margin of 1 s or 10 %, whichever is larger, but never below half the
    // server's value (and so never 0).
    let margin = (server * 0.10).max(1000.0);
    let raw = (server - margin).max(server / 2.0);
    let target = if raw >= 1000.0 {
        (raw / 1000.0).floor() as u64 * 1000
    } else {
        (raw.floor() as u64).max(1)
    };
    // HAProxy closes half of the idle connections per round: a quarter of the
    // target leaves a few rounds before the server's close, capped at the
    // 5 s default so the advice never lengthens it.
    let purge = {
        let p = (target / 4).min(5000);
        if p >= 1000 { p / 1000 * 1000 } else { p.max(1) }
    };
    let proxies = match s.client_idle_ms.map(match_proxy) {
        Some(m) if !m.is_empty() => format!(
            " The proxies' own idle close ({}) matches {}.",
            secs(s.client_idle_ms.unwrap_or_default()),
            m.iter().map(|c| c.software).collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    };
    let istio = row(PROXIES, "istio");
    let envoy = row(PROXIES, "envoy");
    let nginx = row(PROXIES, "nginx-upstream");
    let haproxy = row(PROXIES, "haproxy");
    let mut out = vec![
        Recommendation {
            side: "proxy",
            text: format!(
                "Lower the proxy's upstream idle timeout below the server's {}, to {} (a margin of {}), so the proxy drops idle connections before the server closes them. {facts}{proxies} Istio: {} (default 1 h).",
                secs(server),
                human(target),
                secs(server - target as f64),
                istio.knob
            ),
            snippet: Some(fill(istio.snippet, target)),
        },
        Recommendation {
            side: "proxy",
            text: format!(
                "Envoy: cluster {} to {} (default 1 h).{}",
                envoy.knob,
                human(target),
                if target <= 10_000 {
                    " Short values have an open side effect: the idle timer starts before the connection is up, which can fail new connections (envoyproxy/envoy#42753)."
                } else {
                    ""
                }
            ),
            snippet: Some(fill(envoy.snippet, target)),
        },
        Recommendation {
            side: "proxy",
            text: format!(
                "nginx: {} to {} (default 60 s; the pool is only on with `keepalive N;`).",
                nginx.knob,
                human(target)
            ),
            snippet: Some(fill(nginx.snippet, target)),
        },
    ];
    out.push(Recommendation {
        side: "proxy",
        text: format!(
            "HAProxy: there is no idle timeout for server-side connections (`timeout http-keep-alive` applies to clients only). Idle ones are purged, half per pool-purge-delay (default 5 s), so they can outlive it: keep pool-purge-delay well below the server's {} (e.g. {}) to make the race rarer, or disable reuse with `http-reuse never` to remove it.",
            secs(server),
            human(purge)
        ),
        snippet: Some(fill(haproxy.snippet, purge)),
    });
    let linkerd = row(PROXIES, "linkerd");
    if linkerd.default_ms.is_some_and(|l| l as f64 >= server) {
        out.push(Recommendation {
            side: "proxy",
            text: format!(
                "Linkerd: its 3 s pool idle timeout is not below the server's {}; set the HTTP/1 pool idle timeout to {}.",
                secs(server),
                human(target)
            ),
            snippet: Some(fill(linkerd.snippet, target)),
        });
    }
    out
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
    Recommendation {
        side: "retries",
        text: format!(
            "Retry only idempotent requests on a reset. {seen} A POST cannot be retried safely, so retries hide races for GET but not for POST; fix the timeout order first. Istio's default outbound retries do not include `reset`, so a race on a reused connection is not retried there (since Istio 1.24 the inbound sidecar-to-app hop retries `reset-before-request`); nginx re-sends a request that failed on a cached connection except POST, LOCK and PATCH."
        ),
        snippet: Some(
            r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: backend
spec:
  hosts:
  - backend
  http:
  - match:
    - method:
        regex: GET|HEAD|OPTIONS|PUT|DELETE # idempotent (RFC 9110 9.2.2)
    route:
    - destination:
        host: backend
    retries:
      attempts: 2
      retryOn: reset,connect-failure,refused-stream
  - route:
    - destination:
        host: backend"#
                .to_string(),
        ),
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
