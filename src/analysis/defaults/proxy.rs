//! The proxy side of the fix: each proxy row with a [`ProxyStep`] gives one
//! step, in step order, its value derived from the server's timeout by the
//! row's [`ProxyFix`]; and the [`super::Usual`] rows the server side names
//! when the proxies' own idle timeout was not seen.

use super::recommend::{MEASURE_NEXT, facts, server_bound_ms};
use super::table::PROXIES;
use super::text::{and_list, fill, human, human_default, names, secs};
use super::{
    KnownDefault, ProxyFix, ProxyStep, Recommendation, Role, Side, Situation, When, match_proxy,
};

/// The longest server timeout worth recommending, ms: above it the server
/// holds many idle sockets, and the proxy side is the better fix. Usual
/// proxies that keep idle connections longer are named as the ones to lower.
pub(super) const LONGEST_SERVER_MS: u64 = 900_000;

/// The [`super::Usual`] proxies, split at [`LONGEST_SERVER_MS`]: those a
/// server timeout can clear, and those to lower instead.
pub(super) struct UsualProxies {
    /// Labels of the ones a server can outlast, in rank order.
    pub(super) cleared: Vec<&'static str>,
    /// The longest of their defaults, ms.
    pub(super) cleared_ms: u64,
    /// Labels of the ones that keep idle connections longer, in rank order.
    pub(super) longer: Vec<&'static str>,
    /// Their defaults, distinct, for prose.
    pub(super) longer_ms: Vec<String>,
}

impl UsualProxies {
    /// The usual proxies of the table.
    pub(super) fn from_table() -> Self {
        let mut rows: Vec<(u8, &'static str, u64)> = PROXIES
            .iter()
            .filter_map(|r| Some((r.usual?, r.default_ms?)))
            .map(|(u, d)| (u.rank, u.label, d))
            .collect();
        // Stable: rows of equal rank keep table order.
        rows.sort_by_key(|&(rank, _, _)| rank);
        let mut out = UsualProxies {
            cleared: Vec::new(),
            cleared_ms: 0,
            longer: Vec::new(),
            longer_ms: Vec::new(),
        };
        for (_, label, d) in rows {
            let labels = if d <= LONGEST_SERVER_MS {
                out.cleared_ms = out.cleared_ms.max(d);
                &mut out.cleared
            } else {
                let d = human_default(d);
                if !out.longer_ms.contains(&d) {
                    out.longer_ms.push(d);
                }
                &mut out.longer
            };
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        out
    }
}

/// The rows with a step in the fix for the hop the capture shows, in
/// step order: the client-library rows (`clients`, for a pool inside an
/// application) or the proxy and load-balancer rows.
pub(super) fn steps(clients: bool, inbound: bool) -> Vec<(&'static KnownDefault, ProxyStep)> {
    let mut steps: Vec<_> = PROXIES
        .iter()
        .filter(|r| (r.role == Role::Client) == clients)
        .filter_map(|r| Some((r, r.proxy_step?)))
        .filter(|(_, step)| step.hop.applies(inbound))
        .collect();
    steps.sort_by_key(|(_, step)| step.order);
    steps
}

/// The requester's target for a server timeout of `server` ms: a margin of
/// 1 s or 10 %, whichever is larger, but never below half the server's
/// value (and so never 0); whole seconds from 1 s up.
pub(super) fn target_ms(server: f64) -> u64 {
    let margin = (server * 0.10).max(1000.0);
    let raw = (server - margin).max(server / 2.0);
    if raw >= 1000.0 {
        (raw / 1000.0).floor() as u64 * 1000
    } else {
        (raw.floor() as u64).max(1)
    }
}

/// One step's recommendation on `side`, or `None` when the row's default
/// is already short enough. `target` is the requester's target, `server`
/// the server's timeout.
pub(super) fn step(
    side: Side,
    row: &KnownDefault,
    step: &ProxyStep,
    target: u64,
    server: f64,
) -> Option<Recommendation> {
    let (value, default) = match step.fix {
        ProxyFix::IdleTimeout | ProxyFix::NoIdleTimeout => (target, row.default_ms),
        ProxyFix::OnlyIfNotBelowServer => {
            // No default is no idle timeout at all: never below the server's.
            if !row.default_ms.is_none_or(|d| d as f64 >= server) {
                return None;
            }
            (target, row.default_ms)
        }
        ProxyFix::PurgeDelay { divisor, cap_ms } => {
            let p = (target / divisor).min(cap_ms);
            let p = if p >= 1000 { p / 1000 * 1000 } else { p.max(1) };
            (p, Some(cap_ms))
        }
    };
    let caveat = step
        .caveat
        .filter(|c| match c.when {
            When::ValueAtMost(ms) => value <= ms,
        })
        .map_or("", |c| c.text);
    // The knob's text may hold braces of its own: `names` never reads a
    // value again.
    let text = names(
        step.text,
        &[
            ("{value}", &human(value)),
            ("{default}", &default.map(human_default).unwrap_or_default()),
            ("{server}", &secs(server)),
            ("{knob}", row.knob),
        ],
    );
    Some(Recommendation {
        side,
        value_ms: Some(value),
        text: format!("{text}{caveat}"),
        short: match step.fix {
            // No value to set: what to do instead is the text's first sentence.
            ProxyFix::NoIdleTimeout => format!(
                "{}: no idle timeout (it keeps idle connections until the server closes them): retry idempotent requests, or drop connections idle near the server's timeout.",
                step.name
            ),
            // No idle timeout either: the value is the purge interval, set
            // on the servers; the knob's list also names the other remedy
            // (issue 21: "set pool-purge-delay (server), http-reuse to
            // 500 ms" named two knobs for one value).
            ProxyFix::PurgeDelay { .. } => format!(
                "{}: no idle timeout for server connections; set {} to {} on the servers (idle ones are purged half at a time), or stop reuse with http-reuse never.",
                step.name,
                purge_knob(row.knob),
                human(value)
            ),
            _ => format!("{}: set {} to {}.", step.name, row.knob, human(value)),
        },
        proxy: Some(row.id),
        snippet: Some(fill(row.snippet, value)),
    })
}

/// The purge knob of a [`ProxyFix::PurgeDelay`] row's knob list: its first
/// name (`pool-purge-delay` of `pool-purge-delay (server), http-reuse`).
fn purge_knob(knob: &str) -> &str {
    knob.split([' ', ',']).next().unwrap_or(knob)
}

/// Lower the proxy's upstream idle timeout below the server's.
pub(super) fn proxy_recommendations(s: &Situation<'_>) -> Vec<Recommendation> {
    let facts = facts(s);
    let steps = steps(false, s.inbound);
    let Some(server) = server_bound_ms(s) else {
        // The proxies whose idle timeout is the knob, by default, in table order.
        let mut defaults: Vec<(u64, Vec<&str>)> = Vec::new();
        for r in PROXIES.iter().filter(|r| r.role != Role::Client) {
            let (Some(step), Some(d)) = (r.proxy_step, r.default_ms) else {
                continue;
            };
            if step.fix != ProxyFix::IdleTimeout || !step.hop.applies(s.inbound) {
                continue;
            }
            match defaults.iter_mut().find(|(ms, _)| *ms == d) {
                Some((_, names)) => names.push(step.name),
                None => defaults.push((d, vec![step.name])),
            }
        }
        let summary: Vec<String> = defaults
            .iter()
            .enumerate()
            .map(|(i, (d, names))| {
                let verb = if i == 0 { " default" } else { "" };
                format!("{}{verb} to {}", and_list(names), human_default(*d))
            })
            .collect();
        return vec![Recommendation {
            side: Side::Proxy,
            value_ms: None,
            text: format!(
                "Lower the proxy's upstream idle timeout below the backend's keep-alive timeout (not measured here). {facts} {MEASURE_NEXT} {}.",
                summary.join(", ")
            ),
            short: format!(
                "Lower the proxy's upstream idle timeout below the backend's keep-alive timeout. {MEASURE_NEXT}"
            ),
            proxy: None,
            snippet: None,
        }];
    };
    let target = target_ms(server);
    let proxies = match s.client_idle_ms.map(match_proxy) {
        Some(m) if !m.is_empty() => format!(
            " The proxies' own idle close ({}) matches {}.",
            secs(s.client_idle_ms.unwrap_or_default()),
            m.iter().map(|c| c.software).collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    };
    let mut out: Vec<Recommendation> = steps
        .iter()
        .filter_map(|(row, st)| step(Side::Proxy, row, st, target, server))
        .collect();
    // The first step carries the general advice.
    if let Some(first) = out.first_mut() {
        first.text = format!(
            "Lower the proxy's upstream idle timeout below the server's {}, to {} (a margin of {}), so the proxy drops idle connections before the server closes them. {facts}{proxies} {}",
            secs(server),
            human(target),
            secs(server - target as f64),
            first.text
        );
    }
    out
}

/// Issue 21, latent risk: no race in the capture, but the proxy that is
/// there keeps idle upstream connections (`pool`'s default) longer than
/// the server's measured close `close_ms`, so the first reuse past the
/// close will meet a closed connection. One sentence with what to set, or
/// `None` when the pool gives up first (or has no idle timeout to compare).
pub fn latent_risk(close_ms: f64, pool: &KnownDefault, label: &str) -> Option<String> {
    let default = pool.default_ms?;
    if !close_ms.is_finite() || close_ms <= 0.0 || (default as f64) < close_ms {
        return None;
    }
    Some(format!(
        "Latent risk: the server closes idle connections after {}, and {label} keeps idle upstream connections {} by default. No race in this capture, but a reuse after {} idle will meet a closed connection: set {} below {} (to {}).",
        secs(close_ms),
        human_default(default),
        secs(close_ms),
        pool.knob,
        secs(close_ms),
        human(target_ms(close_ms))
    ))
}
