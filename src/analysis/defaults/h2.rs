//! The HTTP/2 knobs: what closes an idle h2c or gRPC connection on the
//! server's side, and how a proxy retries a stream lost to that close.
//! Apart from the HTTP/1 rows because they answer other questions: most
//! HTTP/2 servers have no idle close at all by default (so a measured close
//! names a setting, not a default), and a stream the server's GOAWAY says it
//! never processed is safe to retry whatever its method — a gRPC call is a
//! POST — where HTTP/1's advice is "idempotent requests only". Each row cites
//! where its value was read (docs/keepalive-defaults.md, "HTTP/2 knobs");
//! rows that file marks UNVERIFIED are left out.

use super::{KnownDefault, Retries, Role, RowId, Verified};

/// HTTP/2 servers: none closes an idle connection by default, so a close
/// seen on the wire was configured with one of these knobs.
pub(super) static H2_SERVERS: &[KnownDefault] = &[
    // source: nodejs/node doc/api/http2.md (`server.setTimeout()`, `'timeout'`: "Default: 0 (no
    // timeout)", changed from 120 s in v13.0.0 by PR #27558); `http2session.setTimeout()`;
    // the lab backend (scripts/lab/h2-backend.js) closes with `session.close()` / `goaway()`.
    KnownDefault {
        id: RowId::NodeHttp2,
        software: "Node.js http2 server",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "http2session.setTimeout() / server.setTimeout() (then session.close())",
        snippet: "server.setTimeout({ms}, () => {}); // or per session: session.setTimeout({ms}, () => session.close())",
        note: "No session timeout by default since v13 (it was 120 s). The 'timeout' event fires on socket inactivity; closing is up to the handler (session.close() sends a GOAWAY).",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: pkg.go.dev/net/http#Server (IdleTimeout: "If zero, the value of ReadTimeout is used.
    // If negative, or if zero and ReadTimeout is zero or negative, there is no timeout");
    // golang/net http2/server.go (ConfigureServer copies IdleTimeout into the h2 server).
    KnownDefault {
        id: RowId::GoH2,
        software: "Go net/http.Server over HTTP/2",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "http.Server.IdleTimeout (falls back to ReadTimeout; http2.Server.IdleTimeout)",
        snippet: "srv := &http.Server{IdleTimeout: {ms} * time.Millisecond}",
        note: "No idle timeout unless IdleTimeout (or ReadTimeout) is set; the h2 server sends a GOAWAY when it fires.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: grpc/grpc-go keepalive/keepalive.go ServerParameters: MaxConnectionIdle, MaxConnectionAge
    // and MaxConnectionAgeGrace "The current default value is infinity"; MaxConnectionIdle's
    // idleness is "since the most recent time the number of outstanding RPCs became zero".
    KnownDefault {
        id: RowId::GrpcGo,
        software: "gRPC-Go server",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "keepalive.ServerParameters{MaxConnectionIdle, MaxConnectionAge}",
        snippet: "grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: {ms} * time.Millisecond}))",
        note: "MaxConnectionIdle and MaxConnectionAge are infinite by default; when one fires the server sends a GOAWAY and lets open RPCs finish (MaxConnectionAgeGrace, also infinite).",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
];

/// HTTP/2 proxies and clients: their pools, and how they retry a stream a
/// GOAWAY race lost.
pub(super) static H2_PROXIES: &[KnownDefault] = &[
    // source: haproxy doc/configuration.txt 2.6 (`retry-on`: keywords none, conn-failure (the
    // default), empty-response, junk-response, response-timeout, 0rtt-rejected, status codes;
    // no refused-stream keyword; empty-response: "the server connection was closed after part of
    // the request was sent, and nothing was received"); pool-purge-delay as for HTTP/1 (5 s).
    // Lab: fixtures/lab/h2-haproxy-retry.* (record-h2.sh haproxy-retry).
    KnownDefault {
        id: RowId::HaproxyH2,
        software: "HAProxy `server … proto h2` pool",
        role: Role::Proxy,
        default_ms: None,
        closes: &[],
        knob: "retry-on, pool-purge-delay (server … proto h2)",
        snippet: "backend app\n    retry-on conn-failure empty-response\n    retries 2",
        note: "An h2 server connection pools and purges like an HTTP/1 one (pool-purge-delay); a backend stream lost to the server's close is retried only with retry-on empty-response.",
        verified: Verified::Doc,
        retries: Some(Retries {
            on_reset: "HAProxy retries only connection failures by default (retry-on conn-failure) and has no refused-stream keyword: `retry-on conn-failure empty-response` re-sends a stream the backend's close lost",
            snippet: Some(
                "backend app\n    # a stream above the GOAWAY's last-stream-id was never processed\n    retry-on conn-failure empty-response\n    retries 2",
            ),
        }),
        ..KnownDefault::EMPTY
    },
    // source: envoyproxy/envoy docs configuration/http/http_filters/router_filter
    // (x-envoy-retry-on: `refused-stream` "if the upstream server resets the stream with a
    // REFUSED_STREAM error code", `reset` for a disconnect/reset with no response; no retries
    // without a retry policy); envoyproxy/envoy#36450 (streams ignored after a GOAWAY).
    KnownDefault {
        id: RowId::EnvoyH2,
        software: "Envoy cluster with http2_protocol_options",
        role: Role::Proxy,
        default_ms: Some(3_600_000),
        closes: &[],
        knob: "common_http_protocol_options.idle_timeout, retry_policy.retry_on",
        snippet: "retry_policy:\n  retry_on: refused-stream,reset\n  num_retries: 2",
        note: "The cluster's idle_timeout (1 h) applies to h2 connections too.",
        verified: Verified::Doc,
        retries: Some(Retries {
            on_reset: "Envoy retries nothing without a retry policy: `retry_on: refused-stream` covers a stream the server refused, `reset` one lost with the connection (envoyproxy/envoy#36450: streams ignored after a GOAWAY are not retried)",
            snippet: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: nginx.org/en/docs/http/ngx_http_grpc_module.html (grpc_next_upstream "Default:
    // grpc_next_upstream error timeout;", `non_idempotent`: requests with a non-idempotent
    // method are not passed to the next server once sent); upstream keepalive as for proxy_pass.
    KnownDefault {
        id: RowId::NginxGrpc,
        software: "nginx grpc_pass (upstream keepalive)",
        role: Role::Proxy,
        default_ms: None,
        closes: &[],
        knob: "grpc_next_upstream, keepalive_timeout (upstream)",
        snippet: "grpc_next_upstream error timeout non_idempotent;\ngrpc_next_upstream_tries 2;",
        verified: Verified::Doc,
        retries: Some(Retries {
            on_reset: "nginx's grpc_next_upstream (default `error timeout`) never re-sends a call that reached the server, because every gRPC call is a POST: add `non_idempotent`",
            snippet: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: grpc/grpc-go keepalive/keepalive.go ClientParameters.Time "The current default value
    // is infinity" (no keepalive pings), Timeout 20 s.
    KnownDefault {
        id: RowId::GrpcGoClient,
        software: "gRPC-Go client keepalive",
        role: Role::Client,
        default_ms: None,
        closes: &[],
        knob: "keepalive.ClientParameters{Time, Timeout}",
        snippet: "grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: {ms} * time.Millisecond})",
        note: "Pings keep middleboxes from forgetting the connection; they are no activity to a server's MaxConnectionIdle, which counts from the last RPC.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
];

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_h2_rows_sit_on_their_side() {
        for r in H2_SERVERS {
            assert_eq!(r.role, Role::Server, "{}", r.id);
            assert!(r.retries.is_none() && r.proxy_step.is_none(), "{}", r.id);
            // No HTTP/2 server closes idle by default: a close names a setting.
            assert!(r.closes.is_empty() && r.default_ms.is_none(), "{}", r.id);
        }
        for r in H2_PROXIES {
            assert_ne!(r.role, Role::Server, "{}", r.id);
        }
        let ids: Vec<_> = H2_SERVERS.iter().chain(H2_PROXIES).map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids.len(), sorted.len());
    }
}
