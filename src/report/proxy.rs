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
use crate::analysis::defaults::RowId;
use crate::analysis::software::ClientKind;
use crate::flow::marks::ProxyMark;
use crate::named::named_enum;

named_enum! {
    /// A proxy (or the requests' other sender) the fix can be written for.
    pub enum ProxyKind {
        /// An Istio sidecar or gateway (Envoy inside, Istio's API).
        Istio => "istio",
        /// Envoy configured directly.
        Envoy => "envoy",
        /// nginx's upstream pool (also ingress-nginx).
        Nginx => "nginx",
        /// HAProxy's backend pool.
        Haproxy => "haproxy",
        /// Caddy's reverse_proxy.
        Caddy => "caddy",
        /// Traefik's serversTransport.
        Traefik => "traefik",
        /// An AWS Application Load Balancer.
        Alb => "alb",
        /// Linkerd's proxy.
        Linkerd => "linkerd",
        /// A connection pool inside an application (an HTTP client library).
        Library => "library",
    }
}

impl ProxyKind {
    /// The defaults-table rows whose fix steps are this proxy's.
    pub fn rows(self) -> &'static [RowId] {
        match self {
            ProxyKind::Istio => &[RowId::Istio, RowId::IstioInbound],
            ProxyKind::Envoy => &[RowId::Envoy, RowId::EnvoyGateway],
            ProxyKind::Nginx => &[RowId::NginxUpstream, RowId::IngressNginx],
            ProxyKind::Haproxy => &[RowId::Haproxy],
            ProxyKind::Caddy => &[RowId::CaddyProxy],
            ProxyKind::Traefik => &[RowId::TraefikProxy],
            ProxyKind::Alb => &[RowId::AwsAlb],
            ProxyKind::Linkerd => &[RowId::Linkerd],
            // Every client-library row: the fix lists the libraries' knobs.
            ProxyKind::Library => &[],
        }
    }

    /// For people: "nginx", "Istio".
    pub fn label(self) -> &'static str {
        match self {
            ProxyKind::Istio => "Istio",
            ProxyKind::Envoy => "Envoy",
            ProxyKind::Nginx => "nginx",
            ProxyKind::Haproxy => "HAProxy",
            ProxyKind::Caddy => "Caddy",
            ProxyKind::Traefik => "Traefik",
            ProxyKind::Alb => "AWS ALB",
            ProxyKind::Linkerd => "Linkerd",
            ProxyKind::Library => "a client library",
        }
    }

    /// The proxy a `Server` response header names, if any.
    fn from_server_header(value: &str) -> Option<ProxyKind> {
        let v = value.to_ascii_lowercase();
        let product = v.split(['/', ' ']).next().unwrap_or("");
        match product {
            "istio-envoy" => Some(ProxyKind::Istio),
            "envoy" => Some(ProxyKind::Envoy),
            "nginx" | "openresty" => Some(ProxyKind::Nginx),
            "caddy" => Some(ProxyKind::Caddy),
            "awselb" => Some(ProxyKind::Alb),
            _ => None,
        }
    }
}

/// The proxy the fix is written for, and how it was known.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ProxySeen {
    pub kind: ProxyKind,
    /// `flag` (`--proxy`), `proxy_log` (the log's format),
    /// `request_headers` (the requests' own headers named it),
    /// `server_header` (a client-facing side in the capture named it),
    /// `client_kind` (a pool inside an application).
    pub source: &'static str,
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
            .find_map(|f| match f.proxy() {
                "Envoy" => Some(ProxyKind::Envoy),
                "Istio" => Some(ProxyKind::Istio),
                "nginx" => Some(ProxyKind::Nginx),
                "HAProxy" => Some(ProxyKind::Haproxy),
                _ => None,
            })
    });
    if let Some(kind) = logged {
        return Some(ProxySeen {
            kind,
            source: "proxy_log",
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
            source: "request_headers",
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
            source: "server_header",
        });
    }
    if !fixed.is_empty() && fixed.iter().all(|s| s.client_kind == ClientKind::Library) {
        return Some(ProxySeen {
            kind: ProxyKind::Library,
            source: "client_kind",
        });
    }
    None
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_server_header_names_the_proxy() {
        assert_eq!(
            ProxyKind::from_server_header("nginx/1.22.1"),
            Some(ProxyKind::Nginx)
        );
        assert_eq!(
            ProxyKind::from_server_header("istio-envoy"),
            Some(ProxyKind::Istio)
        );
        assert_eq!(
            ProxyKind::from_server_header("Caddy"),
            Some(ProxyKind::Caddy)
        );
        assert_eq!(ProxyKind::from_server_header("gunicorn"), None);
        assert_eq!(ProxyKind::from_server_header("Apache/2.4.62"), None);
    }
}
