//! Which proxy sends the requests, so that the fix names its knobs only.
//!
//! Said by the user (`--proxy`), or read from what the run saw: the format
//! of a `--proxy-log` (its writer), the headers the proxy adds to the
//! requests (Envoy's `x-envoy-*`, Istio's client certificate, the ALB's
//! trace id), the `Server` header of a server in the
//! capture that is a proxy's client-facing side (nginx, Envoy, Istio and
//! Caddy name themselves there), or a pool inside an application
//! (`servers[].client_kind`). Never guessed from timing alone: several
//! proxies share defaults.

use serde::Serialize;

use super::proxy_log::ProxyLog;
use super::{Finding, ServerReport};
use crate::analysis::proxy::ProxyKind;
use crate::analysis::software::ClientKind;
use crate::app::marks::ProxyMark;
use crate::named::named_enum;

/// The proxy the fix is written for, and how it was known.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ProxySeen {
    pub kind: ProxyKind,
    pub source: ProxySource,
}

named_enum! {
    /// How the proxy the fix is for was known (`proxy.source`).
    pub enum ProxySource {
        /// Named by the user (`--proxy`).
        Flag => "flag",
        /// The format of the `--proxy-log` (its writer).
        ProxyLog => "proxy_log",
        /// The requests' own headers named it.
        RequestHeaders => "request_headers",
        /// A client-facing side in the capture named it in its `Server` header.
        ServerHeader => "server_header",
        /// The requests come from a pool inside an application.
        ClientKind => "client_kind",
    }
}

/// The proxies whose retries look like these races': nginx re-sends a
/// request that failed on a cached connection except POST, LOCK and PATCH,
/// and so do Caddy and Go's http.Transport (idempotent requests only),
/// where Envoy and Istio retry no reset by default. A hint, not a
/// recognition: it names more than one. Some when at least one idempotent
/// race was re-sent and no race of another kind.
pub fn retry_hint(findings: &[Finding]) -> Option<&'static [ProxyKind]> {
    retries_idempotent_only(findings).then_some(&[ProxyKind::Nginx, ProxyKind::Caddy])
}

fn retries_idempotent_only(findings: &[Finding]) -> bool {
    let mut resent_idempotent = false;
    for f in findings {
        let Some(r) = &f.race else { continue };
        let (Some(q), Some(retried)) = (&r.request, r.retried) else {
            continue;
        };
        match (q.idempotent, retried) {
            (true, true) => resent_idempotent = true,
            (false, true) | (true, false) => return false,
            (false, false) => {}
        }
    }
    resent_idempotent
}

/// The proxy in front of the servers that need a fix, from what the run saw.
pub fn detect(servers: &[ServerReport], log: Option<&ProxyLog>) -> Option<ProxySeen> {
    let logged = log.and_then(|l| {
        l.files
            .iter()
            .filter_map(|f| f.format)
            .map(|f| f.proxy_kind())
            .next()
    });
    if let Some(kind) = logged {
        return Some(ProxySeen {
            kind,
            source: ProxySource::ProxyLog,
        });
    }
    let fixed: Vec<&ServerReport> = servers
        .iter()
        .filter(|s| !s.recommendations.is_empty())
        .collect();
    // The requests to the servers to fix name their sender in headers it
    // adds (Envoy's x-envoy-*, Istio's client certificate, the ALB's trace
    // id): when they all agree, that is the proxy.
    let marked: Vec<ProxyKind> = fixed
        .iter()
        .filter_map(|s| s.proxy_headers)
        .map(|m| match m {
            ProxyMark::Envoy => ProxyKind::Envoy,
            ProxyMark::Istio => ProxyKind::Istio,
            ProxyMark::Alb => ProxyKind::Alb,
        })
        .collect();
    if let Some(first) = marked.first()
        && marked.iter().all(|k| k == first)
    {
        return Some(ProxySeen {
            kind: *first,
            source: ProxySource::RequestHeaders,
        });
    }
    // A server that names a proxy and is not itself one of those to fix:
    // the proxy's own listener, captured on its client-facing side.
    let named: Vec<ProxyKind> = servers
        .iter()
        .filter(|s| s.recommendations.is_empty())
        .filter_map(|s| ProxyKind::from_server_header(s.server_header.as_deref()?))
        .collect();
    if let Some(first) = named.first()
        && named.iter().all(|k| k == first)
    {
        return Some(ProxySeen {
            kind: *first,
            source: ProxySource::ServerHeader,
        });
    }
    if !fixed.is_empty() && fixed.iter().all(|s| s.client_kind == ClientKind::Library) {
        return Some(ProxySeen {
            kind: ProxyKind::Library,
            source: ProxySource::ClientKind,
        });
    }
    None
}
