//! The remedy for a failure whose cause is not the server's idle timer
//! (issue 21): a restart, a peer gone or replaced, the path, the
//! application. No timeout change helps there, so the fix names the cause
//! and what does help: drain before stop, the proxy's retry on a reset,
//! the pool's health checks or a maximum connection lifetime, TCP
//! keepalive below the middlebox's idle timeout. One row per step, in the
//! table's style: a step tagged with a proxy's row is that proxy's
//! configuration and is given only for it (`ProxyKind::takes_step`).
//! Sources: `docs/keepalive-defaults.md`, section 7.

use super::{RowId, Side};
use crate::analysis::cause::Cause;

/// One step of a remedy.
#[derive(Debug)]
pub struct RemedyRow {
    /// The causes it is a remedy for.
    pub causes: &'static [Cause],
    /// The side it changes.
    pub side: Side,
    /// The proxy whose configuration it is (its first table row), or
    /// `None` for a step that is no one proxy's.
    pub proxy: Option<RowId>,
    /// The step, one sentence.
    pub text: &'static str,
    /// The configuration to paste, when there is one. `{keepalive_s}`
    /// stands for the keepalive time the evidence proves (the path's
    /// remedy), and `<…>` for a value only the user knows: no number in a
    /// snippet without a proof (issue 21).
    pub snippet: Option<&'static str>,
}

/// What stands for the keepalive time in a path snippet.
pub const KEEPALIVE_S: &str = "{keepalive_s}";

/// The TCP keepalive time the path's remedy can prove safe: below the
/// longest idle a flow survived on the path (a reuse that got its answer,
/// so the middlebox's idle timeout is longer), by the same margin as any
/// requester's timeout (1 s or 10 %). Whole seconds, as the kernel's
/// `tcp_keepalive_time`, HAProxy's and Envoy's settings take them; none
/// below 1 s, and none without a surviving reuse (the shortest forgotten
/// idle is only an upper bound: the timeout may be far below it).
pub fn keepalive_s(survived_ms: Option<f64>) -> Option<u64> {
    let target = super::proxy::target_ms(survived_ms?);
    (target >= 1000).then_some(target / 1000)
}

/// A snippet with the evidence's keepalive time put in, or a placeholder
/// the user must fill when the capture proves none.
pub fn fill(snippet: &str, keepalive_s: Option<u64>) -> String {
    let value = keepalive_s.map_or_else(|| "<N>".to_string(), |s| s.to_string());
    snippet.replace(KEEPALIVE_S, &value)
}

const RESTART: &[Cause] = &[Cause::Restart];
const GONE: &[Cause] = &[Cause::PeerGone];
const RETRY: &[Cause] = &[Cause::Restart, Cause::PeerGone];
const PATH: &[Cause] = &[Cause::Path];
const APP: &[Cause] = &[Cause::Application];

/// Every remedy step, in the order they are given.
pub static REMEDIES: &[RemedyRow] = &[
    // A restart: drain first.
    RemedyRow {
        causes: RESTART,
        side: Side::Server,
        proxy: None,
        text: "drain before stop: take the server out of the proxy's rotation first (readiness removed, a preStop hook within the termination grace period), then close its idle connections (Node: server.close(), then server.closeIdleConnections() once the proxy stops sending; nginx and HAProxy: a graceful reload).",
        snippet: None,
    },
    // A peer gone or replaced: the pool must not outlive the churn.
    RemedyRow {
        causes: GONE,
        side: Side::Proxy,
        proxy: None,
        text: "health-check the pool, or give its connections a maximum lifetime or idle time below how often backend addresses change hands.",
        snippet: None,
    },
    RemedyRow {
        causes: GONE,
        side: Side::Proxy,
        proxy: Some(RowId::NginxUpstream),
        text: "nginx: set keepalive_time (upstream, 1.15.3+; default 1 h) below how often backend addresses change hands.",
        snippet: Some(
            "upstream backend {\n    # below how often backend addresses change hands\n    keepalive_time <lifetime>;\n}",
        ),
    },
    RemedyRow {
        causes: GONE,
        side: Side::Proxy,
        proxy: Some(RowId::Haproxy),
        text: "HAProxy: lower pool-purge-delay and add health checks (check) on the servers.",
        snippet: Some(
            "backend be\n    # below how often backend addresses change hands\n    pool-purge-delay <lifetime>\n    server s1 10.0.0.1:8080 check",
        ),
    },
    RemedyRow {
        causes: GONE,
        side: Side::Proxy,
        proxy: Some(RowId::Envoy),
        text: "Envoy: set the cluster's common_http_protocol_options.max_connection_duration, and health checks or outlier detection.",
        snippet: Some(
            "common_http_protocol_options:\n  # below how often backend addresses change hands\n  max_connection_duration: <lifetime>",
        ),
    },
    RemedyRow {
        causes: GONE,
        side: Side::Proxy,
        proxy: Some(RowId::Istio),
        text: "Istio: set the DestinationRule's connectionPool.tcp.maxConnectionDuration, and outlierDetection.",
        snippet: Some(
            "trafficPolicy:\n  connectionPool:\n    tcp:\n      # below how often backend addresses change hands\n      maxConnectionDuration: <lifetime>",
        ),
    },
    // A restart or a vanished peer: the proxy's retry on a reset.
    RemedyRow {
        causes: RETRY,
        side: Side::Retries,
        proxy: None,
        text: "let the proxy retry idempotent requests on a reset or refused connect.",
        snippet: None,
    },
    RemedyRow {
        causes: RETRY,
        side: Side::Retries,
        proxy: Some(RowId::NginxUpstream),
        text: "nginx: proxy_next_upstream error timeout (its default retries idempotent requests on another server of the upstream).",
        snippet: Some("proxy_next_upstream error timeout;"),
    },
    RemedyRow {
        causes: RETRY,
        side: Side::Retries,
        proxy: Some(RowId::Haproxy),
        text: "HAProxy: retry-on conn-failure empty-response, with retries.",
        snippet: Some("backend be\n    retries 3\n    retry-on conn-failure empty-response"),
    },
    RemedyRow {
        causes: RETRY,
        side: Side::Retries,
        proxy: Some(RowId::Envoy),
        text: "Envoy: a retry_policy with retry_on reset,connect-failure.",
        snippet: Some("retry_policy:\n  retry_on: reset,connect-failure\n  num_retries: 2"),
    },
    RemedyRow {
        causes: RETRY,
        side: Side::Retries,
        proxy: Some(RowId::Istio),
        text: "Istio: a VirtualService retries.retryOn reset,connect-failure.",
        snippet: Some("retries:\n  attempts: 2\n  retryOn: reset,connect-failure"),
    },
    // The path: keep the flow alive, or give it up first.
    RemedyRow {
        causes: PATH,
        side: Side::Proxy,
        proxy: None,
        text: "TCP keepalive on the proxy's upstream sockets below the middlebox's idle timeout, or the proxy's upstream idle timeout below it.",
        snippet: None,
    },
    RemedyRow {
        causes: PATH,
        side: Side::Proxy,
        proxy: Some(RowId::NginxUpstream),
        text: "nginx: proxy_socket_keepalive on, with net.ipv4.tcp_keepalive_time below the middlebox's idle timeout (or keepalive_timeout in the upstream below it).",
        snippet: Some(
            "proxy_socket_keepalive on;\n# sysctl net.ipv4.tcp_keepalive_time={keepalive_s}",
        ),
    },
    RemedyRow {
        causes: PATH,
        side: Side::Proxy,
        proxy: Some(RowId::Haproxy),
        text: "HAProxy: option srvtcpka with srvtcpka-idle below the middlebox's idle timeout.",
        snippet: Some(
            "backend be\n    option srvtcpka\n    srvtcpka-idle {keepalive_s}s\n    srvtcpka-intvl 1s",
        ),
    },
    RemedyRow {
        causes: PATH,
        side: Side::Proxy,
        proxy: Some(RowId::Envoy),
        text: "Envoy: the cluster's upstream_connection_options.tcp_keepalive, keepalive_time below the middlebox's idle timeout.",
        snippet: Some(
            "upstream_connection_options:\n  tcp_keepalive:\n    keepalive_time: {keepalive_s}\n    keepalive_interval: 1",
        ),
    },
    RemedyRow {
        causes: PATH,
        side: Side::Proxy,
        proxy: Some(RowId::Istio),
        text: "Istio: the DestinationRule's connectionPool.tcp.tcpKeepalive, time below the middlebox's idle timeout.",
        snippet: Some(
            "trafficPolicy:\n  connectionPool:\n    tcp:\n      tcpKeepalive:\n        time: {keepalive_s}s\n        interval: 1s",
        ),
    },
    // The application: nothing to tune.
    RemedyRow {
        causes: APP,
        side: Side::Server,
        proxy: None,
        text: "the server's application reset these requests itself (not its idle timer): its logs at those times say why.",
        snippet: None,
    },
    RemedyRow {
        causes: APP,
        side: Side::Retries,
        proxy: None,
        text: "retry only idempotent requests (GET, HEAD, PUT, DELETE); never a POST the server may have processed.",
        snippet: None,
    },
];

/// The steps for `cause`: every step that is no one proxy's, and those of
/// the proxy that is there (`takes`: whether a proxy row's step is its
/// own; `None` when no proxy's configuration can be given).
pub fn remedy_steps(
    cause: Cause,
    takes: Option<&dyn Fn(RowId) -> bool>,
) -> impl Iterator<Item = &'static RemedyRow> + '_ {
    REMEDIES
        .iter()
        .filter(move |r| r.causes.contains(&cause))
        .filter(move |r| match (r.proxy, takes) {
            (None, _) => true,
            (Some(row), Some(takes)) => takes(row),
            (Some(_), None) => false,
        })
}

#[cfg(test)]
mod test {
    use super::*;

    /// Every cause but the timer's has a remedy, and the timer's has none
    /// here (its fix is the timeout table's); nor has a failure a proxy
    /// passed on (its upstream's remedy is the one).
    #[test]
    fn test_every_other_cause_has_a_remedy() {
        for c in Cause::ALL {
            let n = remedy_steps(*c, None).count();
            let none = matches!(c, Cause::IdleTimer | Cause::Upstream);
            assert_eq!(n == 0, none, "{c}");
        }
    }

    proptest::proptest! {
        /// Issue 21's rule for the path's one number: the keepalive time is
        /// below the longest idle a flow survived (so below the middlebox's
        /// idle timeout) by at least a second, in whole seconds from 1 s,
        /// and none is given without a surviving reuse.
        #[test]
        fn test_issue_21_keepalive_below_what_survived(survived in 0.0f64..4_000_000.0) {
            proptest::prop_assert_eq!(keepalive_s(None), None);
            if let Some(k) = keepalive_s(Some(survived)) {
                proptest::prop_assert!(k >= 1);
                proptest::prop_assert!(
                    (k * 1000) as f64 <= survived - 1000.0,
                    "{} s not below {} ms", k, survived
                );
            } else {
                proptest::prop_assert!(survived < 2000.0, "none for {} ms", survived);
            }
        }
    }

    /// A snippet gets the proven value, or a placeholder the user fills.
    #[test]
    fn test_snippets_fill_the_keepalive_or_say_n() {
        let mut valued = 0;
        for row in REMEDIES.iter().filter_map(|r| r.snippet) {
            assert!(!fill(row, Some(97)).contains(KEEPALIVE_S), "{row}");
            if row.contains(KEEPALIVE_S) {
                valued += 1;
                assert!(!row.contains("97") && fill(row, Some(97)).contains("97"));
                assert!(fill(row, None).contains("<N>"));
            }
        }
        // nginx, HAProxy, Envoy and Istio each say the value.
        assert_eq!(valued, 4);
    }

    /// A proxy's step is given only for that proxy.
    #[test]
    fn test_proxy_steps_only_for_their_proxy() {
        let nginx = |r: RowId| r == RowId::NginxUpstream;
        let steps: Vec<_> = remedy_steps(Cause::Restart, Some(&nginx)).collect();
        assert!(steps.iter().any(|s| s.text.starts_with("nginx:")));
        assert!(
            steps
                .iter()
                .all(|s| s.proxy.is_none() || s.proxy == Some(RowId::NginxUpstream))
        );
    }
}
