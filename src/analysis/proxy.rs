//! The proxies (and the other senders of requests) a fix can be written
//! for: one kind per product whose knobs the defaults table knows, the
//! table rows that hold its steps, and how a `Server` header names it.
//! Typed so that every place that names a proxy (`--proxy`, a proxy log's
//! format, the requests' headers, a client-facing `Server` header) maps to
//! the same list by an exhaustive match: a new kind or a new log format
//! does not compile until it says which proxy it is.

use super::defaults::{KnownDefault, RowId, proxy_rows};
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
    /// The defaults-table rows whose fix steps are this proxy's (its
    /// HTTP/2 rows too: their retries snippets are its configuration).
    pub fn rows(self) -> &'static [RowId] {
        match self {
            ProxyKind::Istio => &[RowId::Istio, RowId::IstioInbound],
            ProxyKind::Envoy => &[RowId::Envoy, RowId::EnvoyGateway, RowId::EnvoyH2],
            ProxyKind::Nginx => &[RowId::NginxUpstream, RowId::IngressNginx, RowId::NginxGrpc],
            ProxyKind::Haproxy => &[RowId::Haproxy, RowId::HaproxyH2],
            ProxyKind::Caddy => &[RowId::CaddyProxy],
            ProxyKind::Traefik => &[RowId::TraefikProxy],
            ProxyKind::Alb => &[RowId::AwsAlb],
            ProxyKind::Linkerd => &[RowId::Linkerd],
            // Every client-library row: the fix lists the libraries' knobs.
            ProxyKind::Library => &[],
        }
    }

    /// Whether the fix's step for table row `row` is this proxy's to take.
    /// A library's are every client-library step: which library sends the
    /// requests does not show, so none is left out.
    pub fn takes_step(self, row: RowId) -> bool {
        self == ProxyKind::Library || self.rows().contains(&row)
    }

    /// The row whose knob the fix names for this proxy when none of its
    /// steps applies (its default is already short enough): the first of
    /// its rows in the table. None for a library, whose knob depends on
    /// which library it is.
    pub fn knob_row(self) -> Option<&'static KnownDefault> {
        proxy_rows().iter().find(|r| self.rows().contains(&r.id))
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

    /// The proxy a `Server` response header names, if any: nginx, Envoy,
    /// Istio, Caddy and the ALB name themselves on their client-facing side.
    pub fn from_server_header(value: &str) -> Option<ProxyKind> {
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

#[cfg(test)]
mod test {
    use super::*;
    use crate::analysis::defaults::h2_proxy_rows;

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

    /// The knob named when no step applies is the proxy's first row's; a
    /// library has none, and takes every step.
    #[test]
    fn test_knob_row_and_steps() {
        assert_eq!(
            ProxyKind::Nginx.knob_row().map(|r| r.id),
            Some(RowId::NginxUpstream)
        );
        assert!(ProxyKind::Library.knob_row().is_none());
        assert!(ProxyKind::Library.takes_step(RowId::Urllib3));
        assert!(ProxyKind::Istio.takes_step(RowId::IstioInbound));
        assert!(!ProxyKind::Istio.takes_step(RowId::Envoy));
    }

    /// A proxy's rows are proxy rows (HTTP/1 or HTTP/2): a server row
    /// there would put a server's knob among the proxy's steps.
    #[test]
    fn test_rows_are_proxy_rows() {
        for p in ProxyKind::ALL {
            for id in p.rows() {
                assert!(
                    proxy_rows()
                        .iter()
                        .chain(h2_proxy_rows())
                        .any(|r| r.id == *id),
                    "{p}: {id}"
                );
            }
        }
    }
}
