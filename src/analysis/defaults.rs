//! Known keep-alive defaults of servers, proxies and load balancers, matched
//! against measured timeouts, and the concrete fix for a mismatch.
//!
//! A measured idle close (say 6.00 s) means little to a reader until it is
//! named ("Node.js, 5000 ms keepAliveTimeout plus its 1000 ms buffer") and
//! turned into the line to paste. The values come from the project's
//! `reference/keepalive-defaults.md`, which cites the source file or document
//! each one was read in; rows that file marks UNVERIFIED are left out. The
//! rule behind every recommendation: the side that sends requests (the
//! proxy's upstream pool) must give up on an idle connection before the
//! server does.

use serde::Serialize;

/// A software whose default matches a measured timeout.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Candidate {
    /// Software and version range, as in [`KnownDefault::software`].
    pub software: &'static str,
    /// The knob that sets the timeout.
    pub setting: &'static str,
    /// The configured value, ms: the software's default, or, when matched
    /// through its `Keep-Alive` header, the value that header advertises.
    pub default_ms: u64,
    /// When the close shows up on the wire, ms after the last exchange.
    pub expected_close_ms: u64,
    /// One line, e.g. "6.00 s: Node.js http.Server keepAliveTimeout 5000 ms + 1000 ms buffer".
    pub note: String,
}

/// One step of the fix.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recommendation {
    /// `server`, `proxy` or `retries`.
    pub side: &'static str,
    /// What to do and why, with the measured numbers.
    pub text: String,
    /// Configuration to paste, when there is one.
    pub snippet: Option<String>,
}

/// What was measured for one server, as input to the recommendations.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    /// The server's idle close, ms (estimate of the FIN cluster).
    pub server_timeout_ms: Option<f64>,
    /// The `Keep-Alive: timeout=N` the server advertised, s.
    pub keep_alive_header_s: Option<u32>,
    /// Longest idle gap after which a reused connection was answered, ms.
    pub reuse_window_ms: Option<f64>,
    /// The clients' (proxies') own idle close, ms.
    pub client_idle_ms: Option<f64>,
    /// Keep-alive races seen.
    pub races: u64,
    /// Races whose request the client re-sent on another connection.
    pub retried_races: u64,
    /// Clients reuse connections idle longer than the server keeps them, or races were seen.
    pub mismatch: bool,
    /// Output of [`match_server`] for `server_timeout_ms`, best first.
    pub matches: &'a [Candidate],
}

/// Which side of the timeout chain a row describes.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accepts requests; must keep idle connections the longest.
    Server,
    /// Proxy or CDN: its upstream connection pool.
    Proxy,
    /// Managed load balancer: its connections to the targets.
    LoadBalancer,
    /// HTTP client library: its connection pool.
    Client,
}

/// How the reference confirmed a row.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum Verified {
    /// Read in the project's source.
    #[serde(rename = "src")]
    Source,
    /// Read in official documentation or API definitions.
    #[serde(rename = "doc")]
    Doc,
    /// Seen only in a secondary source (PR, issue, maintainer comment): likely, re-check.
    #[serde(rename = "2nd")]
    Secondary,
}

/// A moment after the last exchange at which the software closes an idle
/// connection, as seen on the wire.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Close {
    /// Ms after the last exchange.
    pub at_ms: u64,
    /// The [`Candidate::note`] for a match on this close.
    pub note: &'static str,
}

/// One row of the defaults table.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct KnownDefault {
    /// Short stable identifier.
    pub id: &'static str,
    /// Software and version range; unique in the table.
    pub software: &'static str,
    /// Which side of the chain it sits on.
    pub role: Role,
    /// The default idle timeout; `None` when there is none (idle connections are kept forever).
    pub default_ms: Option<u64>,
    /// When the idle close appears on the wire, most likely first; empty when
    /// the software never closes an idle connection by default.
    pub closes: &'static [Close],
    /// The knob that changes it.
    pub knob: &'static str,
    /// Ready to paste; `{ms}`, `{s}` and `{dur}` (`5s`, `750ms`) stand for the new value.
    pub snippet: &'static str,
    /// Caveats: version differences, related knobs; may be empty.
    pub note: &'static str,
    /// How the reference confirmed the value.
    pub verified: Verified,
}

/// Servers: the side that must keep idle connections longer than any client.
static SERVERS: &[KnownDefault] = &[
    // source: nodejs.org/api/http.html#serverkeepalivetimeout (v12–v25: 5000);
    // nodejs/node lib/_http_server.js storeHTTPOptions(); keepAliveTimeoutBuffer from
    // nodejs/node PR #59243, which replaced HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER = 1000.
    KnownDefault {
        id: "node",
        software: "Node.js http.Server (v8 – v25)",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[
            Close {
                at_ms: 6_000,
                note: "6.00 s: Node.js http.Server keepAliveTimeout 5000 ms + 1000 ms buffer",
            },
            Close {
                at_ms: 5_000,
                note: "5.00 s: Node.js http.Server keepAliveTimeout 5000 ms (older releases, without the 1000 ms buffer)",
            },
        ],
        knob: "server.keepAliveTimeout",
        snippet: "server.keepAliveTimeout = {ms}; // ms, above the proxy's idle timeout",
        note: "Advertises Keep-Alive: timeout=<keepAliveTimeout in s> but closes keepAliveTimeoutBuffer (1000 ms) later on recent releases; older releases closed at keepAliveTimeout. Node < 12.19 also needs server.headersTimeout above keepAliveTimeout (nodejs/node#27363).",
        verified: Verified::Doc,
    },
    // source: nodejs/node PR #62782 "http: increase keepAliveTimeout default to 65 seconds"
    // (lib/_http_server.js main: this.keepAliveTimeout = 65_000); release v26 per the PR thread.
    KnownDefault {
        id: "node-26",
        software: "Node.js http.Server (v26+)",
        role: Role::Server,
        default_ms: Some(65_000),
        closes: &[Close {
            at_ms: 66_000,
            note: "66.00 s: Node.js v26+ http.Server keepAliveTimeout 65000 ms + 1000 ms buffer",
        }],
        knob: "server.keepAliveTimeout",
        snippet: "server.keepAliveTimeout = {ms}; // ms, above the proxy's idle timeout",
        note: "Raised to 65 s in v26 to sit above AWS ALB's 60 s; the 1000 ms buffer still applies.",
        verified: Verified::Source,
    },
    // source: benoitc/gunicorn gunicorn/config.py `class Keepalive: default = 2`;
    // docs.gunicorn.org settings#keepalive.
    KnownDefault {
        id: "gunicorn",
        software: "gunicorn",
        role: Role::Server,
        default_ms: Some(2_000),
        closes: &[Close {
            at_ms: 2_000,
            note: "2.00 s: gunicorn --keep-alive 2 (default)",
        }],
        knob: "--keep-alive (keepalive)",
        snippet: "--keep-alive {s}\n# or in gunicorn.conf.py: keepalive = {s}",
        note: "The sync worker ignores keep-alive and closes after every response; keep-alive needs the gthread or an async worker.",
        verified: Verified::Source,
    },
    // source: encode/uvicorn uvicorn/config.py `timeout_keep_alive: int = 5`, uvicorn/main.py.
    KnownDefault {
        id: "uvicorn",
        software: "uvicorn",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: uvicorn --timeout-keep-alive 5 (default)",
        }],
        knob: "--timeout-keep-alive",
        snippet: "--timeout-keep-alive {s}\n# or uvicorn.run(app, timeout_keep_alive={s})",
        note: "",
        verified: Verified::Source,
    },
    // source: pgjones/hypercorn src/hypercorn/config.py `keep_alive_timeout = 5 * SECONDS`;
    // docs/how_to_guides/configuring.rst.
    KnownDefault {
        id: "hypercorn",
        software: "hypercorn",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: hypercorn keep_alive_timeout 5 s (default)",
        }],
        knob: "--keep-alive (keep_alive_timeout)",
        snippet: "--keep-alive {s}\n# or in the config file: keep_alive_timeout = {s}",
        note: "Also closes after keep_alive_max_requests (1000) requests.",
        verified: Verified::Source,
    },
    // source: apache/httpd include/httpd.h `#define DEFAULT_KEEPALIVE_TIMEOUT 5`;
    // httpd.apache.org/docs/2.4/mod/core.html#keepalivetimeout.
    KnownDefault {
        id: "apache",
        software: "Apache httpd 2.x",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: Apache httpd KeepAliveTimeout 5 (default)",
        }],
        knob: "KeepAliveTimeout",
        snippet: "KeepAliveTimeout {s}",
        note: "Advertises Keep-Alive: timeout=5, max=100. httpd 1.x defaulted to 15 s.",
        verified: Verified::Source,
    },
    // source: nginx/nginx src/http/ngx_http_core_module.c (keepalive_timeout 75000,
    // keepalive_time 3600000); nginx.org ngx_http_core_module#keepalive_timeout.
    KnownDefault {
        id: "nginx",
        software: "nginx (as server)",
        role: Role::Server,
        default_ms: Some(75_000),
        closes: &[Close {
            at_ms: 75_000,
            note: "75.00 s: nginx keepalive_timeout 75s (default)",
        }],
        knob: "keepalive_timeout",
        snippet: "keepalive_timeout {s}s;",
        note: "In http, server or location. An optional second parameter sets the advertised Keep-Alive: timeout=; keepalive_time (1 h) caps a connection's life.",
        verified: Verified::Source,
    },
    // source: apache/tomcat java/org/apache/coyote/http11/Constants.java
    // DEFAULT_CONNECTION_TIMEOUT = 60000; AbstractEndpoint.getKeepAliveTimeout() (unset →
    // connectionTimeout); the stock conf/server.xml sets connectionTimeout="20000".
    KnownDefault {
        id: "tomcat",
        software: "Apache Tomcat (stock server.xml)",
        role: Role::Server,
        default_ms: Some(20_000),
        closes: &[Close {
            at_ms: 20_000,
            note: "20.00 s: Tomcat connectionTimeout=\"20000\" from the stock server.xml (keepAliveTimeout unset)",
        }],
        knob: "keepAliveTimeout (Connector)",
        snippet: r#"<Connector port="8080" protocol="HTTP/1.1" connectionTimeout="20000" keepAliveTimeout="{ms}" />"#,
        note: "keepAliveTimeout unset falls back to connectionTimeout.",
        verified: Verified::Source,
    },
    // source: same as above (code default 60000 applies without server.xml);
    // Spring Boot property server.tomcat.keep-alive-timeout.
    KnownDefault {
        id: "tomcat-embedded",
        software: "Tomcat embedded (Spring Boot)",
        role: Role::Server,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: embedded Tomcat (Spring Boot) connectionTimeout 60000 ms (code default)",
        }],
        knob: "server.tomcat.keep-alive-timeout",
        snippet: "server.tomcat.keep-alive-timeout={s}s",
        note: "No server.xml, so the code default connectionTimeout of 60 s applies and keepAliveTimeout falls back to it. A tie with a 60 s proxy (AWS ALB, nginx upstream) still races.",
        verified: Verified::Source,
    },
    // source: jetty/jetty.project jetty-core/jetty-server AbstractConnector.java
    // `_idleTimeout = 30000`; jetty-http.xml, http.mod.
    KnownDefault {
        id: "jetty",
        software: "Jetty (9 – 12)",
        role: Role::Server,
        default_ms: Some(30_000),
        closes: &[Close {
            at_ms: 30_000,
            note: "30.00 s: Jetty ServerConnector idleTimeout 30000 ms (default)",
        }],
        knob: "idleTimeout (ServerConnector)",
        snippet: "jetty.http.idleTimeout={ms}\n# Spring Boot: server.jetty.connection-idle-timeout={s}s",
        note: "The same idle timeout also applies during I/O.",
        verified: Verified::Source,
    },
    // source: undertow-io/undertow core/src/main/java/io/undertow/Undertow.java
    // `.set(UndertowOptions.NO_REQUEST_TIMEOUT, 60 * 1000)` (UNDERTOW-790).
    KnownDefault {
        id: "undertow",
        software: "Undertow",
        role: Role::Server,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: Undertow NO_REQUEST_TIMEOUT 60000 ms (Undertow.builder() default)",
        }],
        knob: "UndertowOptions.NO_REQUEST_TIMEOUT",
        snippet: "// Undertow.builder()\n.setServerOption(UndertowOptions.NO_REQUEST_TIMEOUT, {ms})\n# Spring Boot: server.undertow.no-request-timeout={s}s",
        note: "The raw option unset means no timeout; Undertow.builder(), and so Spring Boot, sets 60 s.",
        verified: Verified::Source,
    },
    // source: puma/puma lib/puma/const.rb `PERSISTENT_TIMEOUT = 20` (5.x),
    // configuration.rb `persistent_timeout: 20` (6.0 – 6.6.1).
    KnownDefault {
        id: "puma",
        software: "Puma (≤ 6.x)",
        role: Role::Server,
        default_ms: Some(20_000),
        closes: &[Close {
            at_ms: 20_000,
            note: "20.00 s: Puma ≤ 6 persistent_timeout 20 (default)",
        }],
        knob: "persistent_timeout",
        snippet: "persistent_timeout {s} # config/puma.rb",
        note: "",
        verified: Verified::Source,
    },
    // source: puma/puma PR #3378 "bump persistent_timeout to 65 seconds";
    // lib/puma/configuration.rb `persistent_timeout: 65`, lib/puma/dsl.rb.
    KnownDefault {
        id: "puma-7",
        software: "Puma (7.0+)",
        role: Role::Server,
        default_ms: Some(65_000),
        closes: &[Close {
            at_ms: 65_000,
            note: "65.00 s: Puma 7+ persistent_timeout 65 (default)",
        }],
        knob: "persistent_timeout",
        snippet: "persistent_timeout {s} # config/puma.rb",
        note: "Environment variable PUMA_PERSISTENT_TIMEOUT works too.",
        verified: Verified::Source,
    },
    // source: learn.microsoft.com KestrelServerLimits.KeepAliveTimeout ("Defaults to 130 seconds").
    KnownDefault {
        id: "kestrel",
        software: "ASP.NET Core Kestrel",
        role: Role::Server,
        default_ms: Some(130_000),
        closes: &[Close {
            at_ms: 130_000,
            note: "130.00 s: Kestrel Limits.KeepAliveTimeout 130 s (default)",
        }],
        knob: "KestrelServerLimits.KeepAliveTimeout",
        snippet: "builder.WebHost.ConfigureKestrel(o =>\n    o.Limits.KeepAliveTimeout = TimeSpan.FromSeconds({s}));",
        note: "Kestrel 1.x documented 2 min.",
        verified: Verified::Doc,
    },
    // source: caddyserver/caddy modules/caddyhttp/app.go `defaultIdleTimeout = 5 * time.Minute`.
    KnownDefault {
        id: "caddy",
        software: "Caddy (as server)",
        role: Role::Server,
        default_ms: Some(300_000),
        closes: &[Close {
            at_ms: 300_000,
            note: "300.00 s: Caddy server idle_timeout 5 min (default)",
        }],
        knob: "idle_timeout (Caddyfile: servers { timeouts { idle } })",
        snippet: "{\n    servers {\n        timeouts {\n            idle {s}s\n        }\n    }\n}",
        note: "",
        verified: Verified::Source,
    },
    // source: traefik/traefik pkg/config/static/static_config.go `DefaultIdleTimeout = 180 * time.Second`.
    KnownDefault {
        id: "traefik",
        software: "Traefik entryPoint",
        role: Role::Server,
        default_ms: Some(180_000),
        closes: &[Close {
            at_ms: 180_000,
            note: "180.00 s: Traefik entryPoint respondingTimeouts.idleTimeout 180 s (default)",
        }],
        knob: "entryPoints.<name>.transport.respondingTimeouts.idleTimeout",
        snippet: "--entryPoints.web.transport.respondingTimeouts.idleTimeout={s}s",
        note: "",
        verified: Verified::Source,
    },
    // source: hyperium/hyper src/server/conn/http1.rs ("Default is 30 seconds", "Requires a
    // Timer"), src/proto/h1/conn.rs poll_read_head; commits 8bf26d1e (v1.0.0), 10b09ffc (v1.6.0).
    KnownDefault {
        id: "hyper",
        software: "hyper 1.x HTTP/1 server (Rust)",
        role: Role::Server,
        default_ms: Some(30_000),
        closes: &[Close {
            at_ms: 30_000,
            note: "30.00 s: hyper ≥ 1.6 header_read_timeout 30 s, started when the connection goes idle (needs a Timer)",
        }],
        knob: "http1::Builder::header_read_timeout",
        snippet: "http1::Builder::new()\n    .timer(TokioTimer::new())\n    .header_read_timeout(Duration::from_secs({s}))",
        note: "No dedicated idle timeout: before 1.6, or without a Timer, the server never closes an idle connection. axum's main branch sets a TokioTimer and so inherits the 30 s.",
        verified: Verified::Source,
    },
    // source: tokio-rs/axum axum/src/serve/mod.rs (no timer in tags axum-v0.8.4 … v0.8.9;
    // `builder.http1().timer(TokioTimer::new())` on main, PR #3478).
    KnownDefault {
        id: "axum",
        software: "axum::serve (≤ 0.8.9)",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "none public (serve through hyper-util with a Timer)",
        snippet: "// axum::serve sets no Timer: serve with hyper_util's auto::Builder and\n// .timer(TokioTimer::new()) plus header_read_timeout(Duration::from_secs({s}))",
        note: "Released 0.8.x never closes an idle connection; main (PR #3478) sets a TokioTimer, giving hyper's 30 s.",
        verified: Verified::Source,
    },
    // source: actix/actix-web actix-http/src/keep_alive.rs `impl Default for KeepAlive`
    // (Timeout(5s)); actix-web/src/server.rs "By default keep-alive is set to 5 seconds".
    KnownDefault {
        id: "actix",
        software: "actix-web HttpServer",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: actix-web HttpServer keep_alive 5 s (default)",
        }],
        knob: "HttpServer::keep_alive",
        snippet: "HttpServer::new(app)\n    .keep_alive(KeepAlive::Timeout(Duration::from_secs({s})))",
        note: "",
        verified: Verified::Source,
    },
    // source: pkg.go.dev/net/http#Server; src/net/http/server.go `func (s *Server) idleTimeout()`;
    // golang/net b336a971 (HTTP/2 copies IdleTimeout/ReadTimeout).
    KnownDefault {
        id: "go",
        software: "Go net/http.Server",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "Server.IdleTimeout (falls back to ReadTimeout)",
        snippet: "srv := &http.Server{IdleTimeout: {s} * time.Second}",
        note: "IdleTimeout 0 falls back to ReadTimeout; with both 0 the server never closes an idle connection, so a Go backend only races when one of them is set.",
        verified: Verified::Doc,
    },
    // source: reactor/reactor-netty reactor-netty-http HttpServer.java javadoc ("If an
    // idleTimeout is not specified, this indicates no timeout (i.e. infinite)").
    KnownDefault {
        id: "reactor-netty",
        software: "Reactor Netty HttpServer (Spring WebFlux)",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "HttpServer.idleTimeout",
        snippet: "HttpServer.create().idleTimeout(Duration.ofSeconds({s}))",
        note: "No idle timeout unless set.",
        verified: Verified::Source,
    },
];

/// Proxies, load balancers and client pools: the side that must give up on an
/// idle connection first.
static PROXIES: &[KnownDefault] = &[
    // source: envoyproxy/data-plane-api envoy/config/core/v3/protocol.proto
    // HttpProtocolOptions.idle_timeout ("If not specified, this defaults to 1 hour");
    // envoy/extensions/upstreams/http/v3/http_protocol_options.proto.
    KnownDefault {
        id: "envoy",
        software: "Envoy cluster (upstream pool)",
        role: Role::Proxy,
        default_ms: Some(3_600_000),
        closes: &[Close {
            at_ms: 3_600_000,
            note: "3600.00 s: Envoy cluster common_http_protocol_options.idle_timeout 1 h (default)",
        }],
        knob: "common_http_protocol_options.idle_timeout",
        snippet: r#"clusters:
- name: backend
  typed_extension_protocol_options:
    envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
      "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
      common_http_protocol_options:
        idle_timeout: {dur}
      explicit_http_config:
        http_protocol_options: {}"#,
        note: "Legacy field: Cluster.common_http_protocol_options.idle_timeout.",
        verified: Verified::Source,
    },
    // source: istio/api networking/v1alpha3/destination_rule.proto ("If not set, the default is 1 hour").
    KnownDefault {
        id: "istio",
        software: "Istio sidecar / gateway (outbound)",
        role: Role::Proxy,
        default_ms: Some(3_600_000),
        closes: &[Close {
            at_ms: 3_600_000,
            note: "3600.00 s: Istio DestinationRule connectionPool.http.idleTimeout 1 h (Envoy default)",
        }],
        knob: "DestinationRule trafficPolicy.connectionPool.http.idleTimeout",
        snippet: r#"apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: backend
spec:
  host: backend.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      http:
        idleTimeout: {dur}"#,
        note: "Istio keeps Envoy's 1 h. Inbound (sidecar → local app): proxy metadata ISTIO_META_IDLE_TIMEOUT.",
        verified: Verified::Source,
    },
    // source: linkerd/linkerd2-proxy linkerd/app/src/env.rs
    // DEFAULT_{IN,OUT}BOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT = 3s.
    KnownDefault {
        id: "linkerd",
        software: "Linkerd2 proxy",
        role: Role::Proxy,
        default_ms: Some(3_000),
        closes: &[Close {
            at_ms: 3_000,
            note: "3.00 s: Linkerd2 proxy HTTP/1 connection pool idle timeout 3 s (default)",
        }],
        knob: "LINKERD2_PROXY_{INBOUND,OUTBOUND}_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT",
        snippet: "LINKERD2_PROXY_OUTBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT={dur}\nLINKERD2_PROXY_INBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT={dur}",
        note: "Shorter than every common server default except gunicorn's 2 s.",
        verified: Verified::Source,
    },
    // source: nginx/nginx src/http/modules/ngx_http_upstream_keepalive_module.c
    // (timeout 60000, time 3600000, requests 1000); nginx.org ngx_http_upstream_module#keepalive_timeout;
    // retry of cached connections: src/http/ngx_http_upstream.c ngx_http_upstream_next().
    KnownDefault {
        id: "nginx-upstream",
        software: "nginx upstream keepalive pool",
        role: Role::Proxy,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: nginx upstream keepalive_timeout 60s (default)",
        }],
        knob: "keepalive_timeout (in upstream {})",
        snippet: "upstream backend {\n    server app:8080;\n    keepalive 32;\n    keepalive_timeout {dur};\n}\n# with proxy_http_version 1.1; and proxy_set_header Connection \"\";",
        note: "The pool is off unless `keepalive N;` is set (nginx ≥ 1.15.3 for keepalive_timeout). A failure on a cached connection is retried, except POST/LOCK/PATCH once sent: the race shows as 502 on those.",
        verified: Verified::Source,
    },
    // source: gitlab-org/charts/gitlab MR !3090 (quotes the defaults); kubernetes/ingress-nginx#3099.
    KnownDefault {
        id: "ingress-nginx",
        software: "ingress-nginx (Kubernetes)",
        role: Role::Proxy,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: ingress-nginx upstream-keepalive-timeout 60 (default)",
        }],
        knob: "upstream-keepalive-timeout (ConfigMap)",
        snippet: "data:\n  upstream-keepalive-timeout: \"{s}\"",
        note: "Upstream keep-alive is on: 320 connections, 1 h keepalive_time, 10000 requests.",
        verified: Verified::Secondary,
    },
    // source: haproxy/haproxy doc/configuration.txt (pool-purge-delay "The default is 5s";
    // http-reuse safe is the default; retry-on conn-failure is the default; timeout server
    // unset = infinite); maintainer in haproxy/haproxy#1292 (http-keep-alive is client-side only).
    KnownDefault {
        id: "haproxy",
        software: "HAProxy backend idle pool",
        role: Role::Proxy,
        default_ms: None,
        closes: &[],
        knob: "pool-purge-delay (server), http-reuse",
        snippet: "backend app\n    default-server pool-purge-delay {dur}\n    # last resort, no reuse at all:\n    # http-reuse never",
        note: "No idle timeout for server-side connections: `timeout http-keep-alive` applies to clients only (haproxy/haproxy#1292). Every pool-purge-delay (5 s) half of the idle connections are closed, so one can outlive it.",
        verified: Verified::Source,
    },
    // source: caddyserver/caddy modules/caddyhttp/reverseproxy/httptransport.go
    // (IdleConnTimeout = 2 * time.Minute).
    KnownDefault {
        id: "caddy-proxy",
        software: "Caddy reverse_proxy",
        role: Role::Proxy,
        default_ms: Some(120_000),
        closes: &[Close {
            at_ms: 120_000,
            note: "120.00 s: Caddy reverse_proxy transport keepalive 2 min (default)",
        }],
        knob: "transport http { keepalive }",
        snippet: "reverse_proxy app:8080 {\n    transport http {\n        keepalive {dur}\n    }\n}",
        note: "At most 32 idle connections per host.",
        verified: Verified::Source,
    },
    // source: traefik/traefik pkg/config/dynamic/http_config.go (IdleConnTimeout = 90s),
    // pkg/server/service/transport.go.
    KnownDefault {
        id: "traefik-proxy",
        software: "Traefik serversTransport",
        role: Role::Proxy,
        default_ms: Some(90_000),
        closes: &[Close {
            at_ms: 90_000,
            note: "90.00 s: Traefik serversTransport forwardingTimeouts.idleConnTimeout 90 s (default)",
        }],
        knob: "serversTransport.forwardingTimeouts.idleConnTimeout",
        snippet: "--serversTransport.forwardingTimeouts.idleConnTimeout={dur}",
        note: "",
        verified: Verified::Source,
    },
    // source: docs.aws.amazon.com elasticloadbalancing/latest/application
    // edit-load-balancer-attributes.html#connection-idle-timeout; ALB 502 troubleshooting article.
    KnownDefault {
        id: "aws-alb",
        software: "AWS Application Load Balancer",
        role: Role::LoadBalancer,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: AWS ALB idle_timeout.timeout_seconds 60 (default)",
        }],
        knob: "idle_timeout.timeout_seconds",
        snippet: "aws elbv2 modify-load-balancer-attributes --load-balancer-arn <arn> \\\n    --attributes Key=idle_timeout.timeout_seconds,Value={s}",
        note: "Applies to client and target connections alike; AWS asks for the application's keep-alive above it, else 502. HTTP/2 PINGs do not reset it.",
        verified: Verified::Doc,
    },
    // source: docs.aws.amazon.com elasticloadbalancing/latest/classic/config-idle-timeout.html.
    KnownDefault {
        id: "aws-elb",
        software: "AWS Classic Load Balancer",
        role: Role::LoadBalancer,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: AWS Classic ELB ConnectionSettings.IdleTimeout 60 (default)",
        }],
        knob: "ConnectionSettings.IdleTimeout",
        snippet: "aws elb modify-load-balancer-attributes --load-balancer-name <name> \\\n    --load-balancer-attributes '{\"ConnectionSettings\":{\"IdleTimeout\":{s}}}'",
        note: "AWS recommends a backend keep-alive longer than the idle timeout.",
        verified: Verified::Doc,
    },
    // source: AWS SDK documentation of originKeepaliveTimeout ("the default … is 5 seconds").
    KnownDefault {
        id: "cloudfront",
        software: "AWS CloudFront → custom origin",
        role: Role::Proxy,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: CloudFront OriginKeepaliveTimeout 5 (default)",
        }],
        knob: "OriginKeepaliveTimeout",
        snippet: "CustomOriginConfig:\n  OriginKeepaliveTimeout: {s}",
        note: "1 – 60 s, more through AWS support.",
        verified: Verified::Doc,
    },
    // source: cloud.google.com load-balancing/docs/https/request-distribution ("default backend
    // keepalive timeout of 600 seconds … backend keepalive timeout value is fixed").
    KnownDefault {
        id: "gcp-global",
        software: "GCP global external Application LB (GFE)",
        role: Role::LoadBalancer,
        default_ms: Some(600_000),
        closes: &[Close {
            at_ms: 600_000,
            note: "600.00 s: GCP global external Application LB backend keep-alive 600 s (fixed)",
        }],
        knob: "none (backend keep-alive fixed at 600 s)",
        snippet: "# fixed: keep the backend's keep-alive above 600 s (620 s is customary)",
        note: "Client-side keep-alive 610 s (httpKeepAliveTimeoutSec). The 502 shows as backend_connection_closed_before_data_sent_to_client.",
        verified: Verified::Doc,
    },
    // source: same page, regional section.
    KnownDefault {
        id: "gcp-regional",
        software: "GCP regional / internal Application LB (Envoy)",
        role: Role::LoadBalancer,
        default_ms: Some(600_000),
        closes: &[Close {
            at_ms: 600_000,
            note: "600.00 s: GCP regional Application LB backend keep-alive 600 s (fixed)",
        }],
        knob: "none (backend keep-alive fixed at 600 s)",
        snippet: "# fixed: keep the backend's keep-alive above 600 s (620 s is customary)",
        note: "Client-side keep-alive 600 s as well.",
        verified: Verified::Doc,
    },
    // source: developers.cloudflare.com fundamentals/reference/connection-limits.
    KnownDefault {
        id: "cloudflare",
        software: "Cloudflare → origin",
        role: Role::Proxy,
        default_ms: Some(900_000),
        closes: &[Close {
            at_ms: 900_000,
            note: "900.00 s: Cloudflare Proxy Idle Timeout 900 s (default)",
        }],
        knob: "Proxy Idle Timeout (Enterprise, on request)",
        snippet: "# not configurable: keep the origin's keep-alive above 900 s",
        note: "Error 520 at the limit. Client ↔ Cloudflare HTTP/1.1 keep-alive is 400 s.",
        verified: Verified::Doc,
    },
    // source: heroku/python-getting-started PR #261 quoting devcenter.heroku.com http-routing#keepalives.
    KnownDefault {
        id: "heroku",
        software: "Heroku Router 2.0",
        role: Role::LoadBalancer,
        default_ms: Some(90_000),
        closes: &[Close {
            at_ms: 90_000,
            note: "90.00 s: Heroku Router 2.0 keep-alive to dynos 90 s",
        }],
        knob: "none",
        snippet: "# not configurable: keep the dyno's keep-alive above 90 s",
        note: "",
        verified: Verified::Secondary,
    },
    // source: src/net/http/transport.go DefaultTransport (IdleConnTimeout 90 s) and the
    // checkTransportResend comment.
    KnownDefault {
        id: "go-transport",
        software: "Go http.DefaultTransport",
        role: Role::Client,
        default_ms: Some(90_000),
        closes: &[Close {
            at_ms: 90_000,
            note: "90.00 s: Go http.DefaultTransport IdleConnTimeout 90 s",
        }],
        knob: "Transport.IdleConnTimeout",
        snippet: "&http.Transport{IdleConnTimeout: {ms} * time.Millisecond}",
        note: "A zero-value &http.Transport{} has no idle limit. Replayable requests that fail on a reused connection before the response are re-sent.",
        verified: Verified::Doc,
    },
    // source: nodejs/node lib/_http_agent.js, lib/https.js (globalAgent keepAlive true,
    // timeout 5000); PR #59315 (agentKeepAliveTimeoutBuffer).
    KnownDefault {
        id: "node-agent",
        software: "Node.js http.globalAgent",
        role: Role::Client,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: Node.js http.globalAgent free-socket timeout 5000 ms",
        }],
        knob: "new http.Agent({ keepAlive, timeout })",
        snippet: "new http.Agent({ keepAlive: true, timeout: {ms} })",
        note: "new Agent() has keepAlive off. The agent honours a server's Keep-Alive: timeout=N minus agentKeepAliveTimeoutBuffer (1000 ms).",
        verified: Verified::Source,
    },
    // source: maintainer comment in urllib3/urllib3#2498 (passive check at checkout); #3184.
    KnownDefault {
        id: "urllib3",
        software: "Python requests / urllib3",
        role: Role::Client,
        default_ms: None,
        closes: &[],
        knob: "none",
        snippet: "# no idle timeout: retry idempotent requests (urllib3 Retry) or recreate the pool",
        note: "Idle pooled connections live until the server closes them; only a passive liveness check at checkout.",
        verified: Verified::Secondary,
    },
    // source: square/okhttp okhttp3/ConnectionPool.kt ("up to 5 idle connections which will be
    // evicted after 5 minutes").
    KnownDefault {
        id: "okhttp",
        software: "OkHttp ConnectionPool",
        role: Role::Client,
        default_ms: Some(300_000),
        closes: &[Close {
            at_ms: 300_000,
            note: "300.00 s: OkHttp ConnectionPool keepAliveDuration 5 min",
        }],
        knob: "ConnectionPool(maxIdleConnections, keepAliveDuration, unit)",
        snippet: "ConnectionPool(5, {ms}, TimeUnit.MILLISECONDS)",
        note: "",
        verified: Verified::Source,
    },
    // source: apache/httpcomponents-client master RequestConfig.java (DEFAULT_CONN_KEEP_ALIVE 3 min),
    // DefaultConnectionKeepAliveStrategy.java, PoolingHttpClientConnectionManager (2 s validate).
    KnownDefault {
        id: "httpclient5",
        software: "Apache HttpClient 5.x",
        role: Role::Client,
        default_ms: Some(180_000),
        closes: &[],
        knob: "RequestConfig connection keep-alive, HttpClientBuilder.evictIdleConnections",
        snippet: "HttpClients.custom()\n    .evictIdleConnections(TimeValue.ofMilliseconds({ms}))",
        note: "Keep-alive = the server's Keep-Alive: timeout= if sent, else 3 min; the background idle evictor is off by default; stale check after 2 s of inactivity.",
        verified: Verified::Source,
    },
    // source: httpcomponents-client branch 4.5.x DefaultConnectionKeepAliveStrategy.java (-1),
    // PoolingHttpClientConnectionManager.java (setValidateAfterInactivity(2000)).
    KnownDefault {
        id: "httpclient4",
        software: "Apache HttpClient 4.5.x",
        role: Role::Client,
        default_ms: None,
        closes: &[],
        knob: "HttpClientBuilder.evictIdleConnections",
        snippet: "HttpClients.custom()\n    .evictIdleConnections({ms}, TimeUnit.MILLISECONDS)",
        note: "Keep-alive indefinite unless the server sends Keep-Alive; stale check after 2 s of inactivity.",
        verified: Verified::Source,
    },
    // source: OpenJDK src/java.net.http/share/classes/module-info.java
    // ("jdk.httpclient.keepalive.timeout (default: 30)"); current JDK only.
    KnownDefault {
        id: "jdk-httpclient",
        software: "JDK java.net.http.HttpClient (current)",
        role: Role::Client,
        default_ms: Some(30_000),
        closes: &[Close {
            at_ms: 30_000,
            note: "30.00 s: JDK HttpClient jdk.httpclient.keepalive.timeout 30",
        }],
        knob: "-Djdk.httpclient.keepalive.timeout",
        snippet: "-Djdk.httpclient.keepalive.timeout={s}",
        note: "Older JDKs differ (value not verified).",
        verified: Verified::Source,
    },
    // source: learn.microsoft.com SocketsHttpHandler.PooledConnectionIdleTimeout.
    KnownDefault {
        id: "dotnet",
        software: ".NET SocketsHttpHandler (.NET 6+)",
        role: Role::Client,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: .NET SocketsHttpHandler PooledConnectionIdleTimeout 1 min",
        }],
        knob: "SocketsHttpHandler.PooledConnectionIdleTimeout",
        snippet: "new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMilliseconds({ms}) }",
        note: "2 min on .NET Core and .NET 5.",
        verified: Verified::Doc,
    },
];

/// The server rows of the table.
pub fn server_rows() -> &'static [KnownDefault] {
    SERVERS
}

/// The proxy, load-balancer and client-pool rows of the table.
pub fn proxy_rows() -> &'static [KnownDefault] {
    PROXIES
}

/// How far a close may sit from a known value and still match it: clocks,
/// timer granularity and the capture point shift it by a few ms up to a few %.
fn tolerance_ms(measured_ms: f64) -> f64 {
    (measured_ms * 0.03).max(150.0)
}

/// The rows of `rows` with a close within tolerance of `measured_ms`, one
/// candidate per row (its closest close), nearest first, ties in table order.
fn match_rows(rows: &'static [KnownDefault], measured_ms: f64) -> Vec<Candidate> {
    if !measured_ms.is_finite() || measured_ms <= 0.0 {
        return Vec::new();
    }
    let tol = tolerance_ms(measured_ms);
    let mut found: Vec<(f64, usize, Candidate)> = Vec::new();
    for row in rows {
        let best = row
            .closes
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.at_ms as f64 - measured_ms).abs(), i, c))
            .filter(|(d, _, _)| *d <= tol)
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((d, i, c)) = best {
            found.push((
                d,
                i,
                Candidate {
                    software: row.software,
                    setting: row.knob,
                    default_ms: row.default_ms.unwrap_or(c.at_ms),
                    expected_close_ms: c.at_ms,
                    note: c.note.to_string(),
                },
            ));
        }
    }
    // At equal distance a row's main close outranks another row's alternate
    // (e.g. "older releases"); the sort is stable, so the rest keeps table order.
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.into_iter().map(|(_, _, c)| c).collect()
}

/// Software whose default idle close matches `measured_ms`, best match first.
pub fn match_server(measured_ms: f64) -> Vec<Candidate> {
    match_rows(SERVERS, measured_ms)
}

/// Like [`match_server`], with the server's `Keep-Alive: timeout=N` header as
/// a second witness. Node.js advertises its configured keepAliveTimeout and
/// closes one keepAliveTimeoutBuffer (1000 ms) later, so a close 1 s above the
/// advertised value names Node.js even when the value is not its default.
pub fn match_server_with_header(measured_ms: f64, header_s: Option<u32>) -> Vec<Candidate> {
    let mut out = match_server(measured_ms);
    let Some(h) = header_s else {
        return out;
    };
    let configured = u64::from(h) * 1000;
    let close = configured + 1000;
    let near = (close as f64 - measured_ms).abs() <= tolerance_ms(measured_ms);
    let node = SERVERS.iter().find(|r| r.id == "node");
    if let (true, Some(row)) = (near, node) {
        out.retain(|c| c.software != row.software);
        out.insert(
            0,
            Candidate {
                software: row.software,
                setting: row.knob,
                default_ms: configured,
                expected_close_ms: close,
                note: format!(
                    "{:.2} s: Node.js http.Server keepAliveTimeout {configured} ms (it advertises Keep-Alive: timeout={h}) + 1000 ms buffer",
                    close as f64 / 1000.0
                ),
            },
        );
    }
    out
}

/// Proxies, load balancers and client pools whose default idle close matches
/// `measured_ms` (a client-side FIN after idle), best match first.
pub fn match_proxy(measured_ms: f64) -> Vec<Candidate> {
    match_rows(PROXIES, measured_ms)
}

/// Seconds with two decimals, the way the report prints them.
fn secs(ms: f64) -> String {
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

#[cfg(test)]
mod test {
    use super::*;

    fn situation(matches: &[Candidate]) -> Situation<'_> {
        Situation {
            server_timeout_ms: Some(6001.5),
            keep_alive_header_s: Some(5),
            reuse_window_ms: Some(19_800.0),
            client_idle_ms: None,
            races: 3,
            retried_races: 1,
            mismatch: true,
            matches,
        }
    }

    fn snip(r: &Recommendation) -> &str {
        r.snippet.as_deref().unwrap_or_default()
    }

    #[test]
    fn test_node_with_buffer() {
        let m = match_server(6000.0);
        assert_eq!(m[0].software, "Node.js http.Server (v8 – v25)");
        assert_eq!(m[0].expected_close_ms, 6000);
        assert_eq!(m[0].default_ms, 5000);
        assert!(m[0].note.starts_with("6.00 s:"), "{}", m[0].note);
        assert!(m[0].note.contains("1000 ms buffer"));
    }

    #[test]
    fn test_node_named_by_its_header_and_buffer() {
        // The lab's Node: keepAliveTimeout 2000 ms, advertises timeout=2, closes at 3.0 s.
        let m = match_server_with_header(3001.2, Some(2));
        assert_eq!(m[0].setting, "server.keepAliveTimeout");
        assert_eq!((m[0].default_ms, m[0].expected_close_ms), (2000, 3000));
        assert!(m[0].note.contains("timeout=2"), "{}", m[0].note);
        // The header without the 1 s buffer is not Node's signature.
        assert!(
            match_server_with_header(2001.0, Some(2))
                .iter()
                .all(|c| c.setting != "server.keepAliveTimeout")
        );
        // The default case keeps a single Node candidate.
        let m = match_server_with_header(6000.0, Some(5));
        assert_eq!(
            m.iter()
                .filter(|c| c.setting == "server.keepAliveTimeout")
                .count(),
            1
        );
    }

    #[test]
    fn test_gunicorn() {
        let m = match_server(2003.0);
        assert_eq!(m[0].software, "gunicorn");
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn test_nginx() {
        assert_eq!(match_server(75_010.0)[0].software, "nginx (as server)");
    }

    #[test]
    fn test_five_seconds_lists_all_five_second_servers() {
        let names: Vec<_> = match_server(5002.0).iter().map(|c| c.software).collect();
        for want in [
            "uvicorn",
            "hypercorn",
            "Apache httpd 2.x",
            "actix-web HttpServer",
        ] {
            assert!(names.contains(&want), "{names:?}");
        }
        // Older Node.js releases closed at 5 s: listed, behind the main closes.
        assert_eq!(names.last(), Some(&"Node.js http.Server (v8 – v25)"));
        assert!(!names.contains(&"gunicorn"));
    }

    #[test]
    fn test_nearest_first() {
        let m = match_server(65_900.0);
        assert_eq!(m[0].software, "Node.js http.Server (v26+)");
        assert_eq!(m[1].software, "Puma (7.0+)");
    }

    #[test]
    fn test_no_match() {
        assert!(match_server(12_345.0).is_empty());
        assert!(match_server(f64::NAN).is_empty());
        assert!(match_server(-1.0).is_empty());
    }

    #[test]
    fn test_match_proxy() {
        let names: Vec<_> = match_proxy(60_020.0).iter().map(|c| c.software).collect();
        assert!(
            names.contains(&"AWS Application Load Balancer"),
            "{names:?}"
        );
        assert!(names.contains(&"nginx upstream keepalive pool"));
        assert_eq!(match_proxy(3000.0)[0].software, "Linkerd2 proxy");
    }

    #[test]
    fn test_table_is_consistent() {
        let all: Vec<&KnownDefault> = SERVERS.iter().chain(PROXIES).collect();
        for (i, r) in all.iter().enumerate() {
            for o in &all[i + 1..] {
                assert_ne!(r.software, o.software);
                assert_ne!(r.id, o.id);
            }
            if !r.closes.is_empty() {
                assert!(r.default_ms.is_some(), "{}", r.id);
            }
            for c in r.closes {
                assert!(
                    c.note
                        .starts_with(&secs(c.at_ms as f64).replace(" s", " s:")),
                    "{}",
                    c.note
                );
            }
        }
        assert!(SERVERS.iter().all(|r| r.role == Role::Server));
        assert!(PROXIES.iter().all(|r| r.role != Role::Server));
    }

    #[test]
    fn test_mismatch_node() {
        let matches = match_server(6001.5);
        let recs = recommend(&situation(&matches));
        let sides: Vec<_> = recs.iter().map(|r| r.side).collect();
        let first_proxy = sides.iter().position(|s| *s == "proxy").unwrap();
        assert_eq!(sides[0], "server");
        assert!(first_proxy == 1);
        assert_eq!(*sides.last().unwrap(), "retries");
        assert!(sides[1..sides.len() - 1].iter().all(|s| *s == "proxy"));

        let server = &recs[0];
        let snippet = server.snippet.as_deref().unwrap();
        assert!(
            snippet.contains("server.keepAliveTimeout = 65000;"),
            "{snippet}"
        );
        assert!(server.text.contains("6.00 s"), "{}", server.text);
        assert!(server.text.contains("19.80 s"));
        assert!(server.text.contains("3 races"));

        // 6.0 s − 1 s margin.
        let proxy = &recs[1];
        assert!(proxy.text.contains("to 5 s"), "{}", proxy.text);
        assert!(snip(proxy).contains("idleTimeout: 5s"));
        assert!(snip(&recs[2]).contains("idle_timeout: 5s"));
        assert!(snip(&recs[3]).contains("keepalive_timeout 5s;"));
        // A quarter of 5 s, floored to whole seconds.
        assert!(snip(&recs[4]).contains("pool-purge-delay 1s"));

        let retries = recs.last().unwrap();
        assert!(retries.text.contains("1 of 3 races were retried"));
        assert!(retries.text.contains("POST"));
        assert!(
            retries
                .snippet
                .as_deref()
                .unwrap()
                .contains("retryOn: reset")
        );
        // Deterministic.
        assert_eq!(recs, recommend(&situation(&matches)));
    }

    #[test]
    fn test_server_target_above_known_proxy_idle() {
        let matches = match_server(6000.0);
        let mut s = situation(&matches);
        s.client_idle_ms = Some(60_000.0);
        s.reuse_window_ms = Some(59_000.0);
        let recs = recommend(&s);
        assert!(recs[0].snippet.as_deref().unwrap().contains("65000"));
        assert!(recs[0].text.contains("60.00 s"));
        assert!(recs[1].text.contains("AWS Application Load Balancer"));
    }

    #[test]
    fn test_no_match_generic_server_text() {
        let mut s = situation(&[]);
        s.server_timeout_ms = Some(12_345.0);
        let recs = recommend(&s);
        assert_eq!(recs[0].side, "server");
        assert!(recs[0].snippet.is_none());
        assert!(recs[0].text.contains("server.keepAliveTimeout"));
        assert!(recs[0].text.contains("--timeout-keep-alive"));
        assert!(recs[0].text.contains("12.35 s") || recs[0].text.contains("12.34 s"));
    }

    #[test]
    fn test_proxy_target_never_zero() {
        let mut s = situation(&[]);
        s.server_timeout_ms = Some(300.0);
        let recs = recommend(&s);
        let proxy = recs.iter().find(|r| r.side == "proxy").unwrap();
        assert!(
            proxy
                .snippet
                .as_deref()
                .unwrap()
                .contains("idleTimeout: 150ms")
        );
        // Linkerd's 3 s is itself too long here.
        assert!(recs.iter().any(|r| r.text.starts_with("Linkerd")));
    }

    #[test]
    fn test_no_mismatch_no_recommendation() {
        let matches = match_server(75_000.0);
        let mut s = situation(&matches);
        s.server_timeout_ms = Some(75_000.0);
        s.reuse_window_ms = Some(40_000.0);
        s.races = 0;
        s.retried_races = 0;
        s.mismatch = false;
        let recs = recommend(&s);
        assert!(!recs.iter().any(|r| r.side == "server" || r.side == "proxy"));
    }
}
