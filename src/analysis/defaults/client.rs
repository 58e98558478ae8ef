//! The requesting side when there is no proxy: a connection pool inside an
//! application (Python `http.client` straight to the backend in issue 12).
//! The rule is the same, the pool must give up on an idle connection before
//! the server does, but the knobs are a library's, and a pool that never
//! times out idle connections must check one before reuse or retry. Each
//! client-library row with a [`super::ProxyStep`] gives one step, as the
//! proxy rows do on the proxy side.

use super::proxy::{step, steps, target_ms};
use super::recommend::{MEASURE_NEXT, facts, server_bound_ms};
use super::table::PROXIES;
use super::text::{and_list, human, secs};
use super::{Recommendation, Role, RowId, Side, Situation, match_proxy};
use crate::named::named_enum;

named_enum! {
    /// Who sends the requests to the server.
    pub enum ClientKind {
        /// A proxy, mesh sidecar or load balancer in front of the server.
        Proxy => "proxy",
        /// A pool inside an application (an HTTP client library).
        Library => "client_library",
        /// Not known: worded as for a proxy, the usual case.
        Unknown => "unknown",
    }
}

/// The client-library rows.
fn client_rows() -> impl Iterator<Item = &'static super::KnownDefault> {
    PROXIES.iter().filter(|r| r.role == Role::Client)
}

/// The libraries that keep idle pooled connections until the server closes
/// them: no server timeout clears their reuses.
pub(super) fn without_idle_timeout() -> Vec<&'static str> {
    client_rows()
        .filter(|r| r.default_ms.is_none())
        .map(|r| r.software)
        .collect()
}

/// Evict idle pooled connections before the server's timeout, or check a
/// pooled connection before reuse: one step per library.
pub(super) fn client_recommendations(s: &Situation<'_>) -> Vec<Recommendation> {
    let facts = facts(s);
    let Some(server) = server_bound_ms(s) else {
        let knobs: Vec<String> = client_rows()
            .filter(|r| r.proxy_step.is_some())
            .map(|r| format!("{}: {}", r.software, r.knob))
            .collect();
        return vec![Recommendation {
            side: Side::Client,
            value_ms: None,
            text: format!(
                "Evict idle pooled connections before the server's keep-alive timeout (not measured here), or check a pooled connection before reuse. {facts} {MEASURE_NEXT} The knob is one of {}.",
                knobs.join("; ")
            ),
            short: format!(
                "Evict idle pooled connections before the server's keep-alive timeout, or check a pooled connection before reuse. {MEASURE_NEXT}"
            ),
            proxy: None,
            snippet: None,
        }];
    };
    let target = target_ms(server);
    let own = match s.client_idle_ms.map(match_proxy) {
        Some(m) if !m.is_empty() => format!(
            " The client's own idle close ({}) matches {}.",
            secs(s.client_idle_ms.unwrap_or_default()),
            m.iter().map(|c| c.software).collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    };
    let mut out: Vec<Recommendation> = steps(true, false)
        .iter()
        .filter_map(|(row, st)| step(Side::Client, row, st, target, server))
        .collect();
    // The first step carries the general advice.
    if let Some(first) = out.first_mut() {
        first.text = format!(
            "The requests come from a connection pool inside an application, not a proxy: evict idle pooled connections before the server's {}, at {} (a margin of {}), or check a pooled connection before reusing it; {} keep idle connections until the server closes them, so there retry instead. {facts}{own} {}",
            secs(server),
            human(target),
            secs(server - target as f64),
            and_list(&without_idle_timeout()),
            first.text
        );
    }
    out
}

/// What the client libraries do about a request that failed on a reused
/// connection, and the first snippet that retries only idempotent requests
/// with its row (the step is that library's: another sender's fix must
/// not print it).
pub(super) fn client_retries() -> (Vec<&'static str>, Option<(RowId, &'static str)>) {
    let rows: Vec<_> = client_rows()
        .filter_map(|r| Some((r.id, r.retries?)))
        .collect();
    (
        rows.iter().map(|(_, r)| r.on_reset).collect(),
        rows.iter().find_map(|(id, r)| Some((*id, r.snippet?))),
    )
}
