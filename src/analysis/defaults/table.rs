//! The table: server keep-alive defaults and proxy / load-balancer pool idle
//! defaults, each row citing where its value was read (the project's
//! docs/keepalive-defaults.md lists every source). A row also carries the
//! facts the fix is derived from: how its knob is set and in which order
//! ([`ProxyStep`]), whether it is a usual proxy in front ([`Usual`]), how it
//! retries ([`Retries`]) and what it advertises ([`Advertised`]), so that no
//! product is named outside this file.

use super::{
    Advertised, Caveat, Close, Hop, KnownDefault, ProxyFix, ProxyStep, Retries, Role, RowId, Usual,
    Verified, When,
};

impl KnownDefault {
    /// The row template: every field a row may leave out at "nothing" (no
    /// close jitter, no header marks, no note, no part in the fix beyond
    /// its knob). A row writes what it has and takes the rest with
    /// `..KnownDefault::EMPTY`, so its non-empty fields stand out. The
    /// fields every row must set hold placeholders here: a row that leaves
    /// out `id`, `software`, `knob` or `snippet` fails a test (`RowId`'s,
    /// `test_rows_set_what_the_template_cannot`); `verified` falls back to
    /// the weakest claim and `role` to a server (a proxy row without its
    /// role fails `test_fix_fields_sit_on_their_side`). `default_ms` and
    /// `closes` are facts of each row (none is "never closes idle"), so
    /// every row writes them.
    pub(super) const EMPTY: KnownDefault = KnownDefault {
        id: RowId::Node,
        software: "",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        jitter_ms: 0,
        marks: &[],
        knob: "",
        snippet: "",
        note: "",
        verified: Verified::Secondary,
        advertises: None,
        proxy_step: None,
        usual: None,
        retries: None,
    };
}

/// Servers: the side that must keep idle connections longer than any client.
pub(super) static SERVERS: &[KnownDefault] = &[
    // source: nodejs.org/api/http.html#serverkeepalivetimeout (v12–v25: 5000);
    // nodejs/node lib/_http_server.js storeHTTPOptions(); keepAliveTimeoutBuffer from
    // nodejs/node PR #59243, which replaced HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER = 1000 (documented
    // "since v24.6.0"). Jitter: the close is one socket timer, so a few ms.
    // Mark: Express adds `X-Powered-By: Express` and runs on http.Server.
    KnownDefault {
        id: RowId::Node,
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
        jitter_ms: 5,
        marks: &["Express"],
        knob: "server.keepAliveTimeout",
        snippet: "server.keepAliveTimeout = {ms}; // ms, above the proxy's idle timeout",
        note: "Advertises Keep-Alive: timeout=<keepAliveTimeout in s> but closes keepAliveTimeoutBuffer (1000 ms) later on recent releases (configurable as server.keepAliveTimeoutBuffer since v24.6.0); older releases closed at keepAliveTimeout. Node < 12.19 also needs server.headersTimeout above keepAliveTimeout (nodejs/node#27363).",
        verified: Verified::Doc,
        advertises: Some(Advertised {
            buffer_ms: 1_000,
            note: "{close}: Node.js http.Server keepAliveTimeout {configured} ms (it advertises Keep-Alive: timeout={header}) + {buffer} ms buffer",
        }),
        ..KnownDefault::EMPTY
    },
    // source: nodejs/node PR #62782 "http: increase keepAliveTimeout default to 65 seconds"
    // (lib/_http_server.js main: this.keepAliveTimeout = 65_000); release v26 per the PR thread.
    KnownDefault {
        id: RowId::Node26,
        software: "Node.js http.Server (v26+)",
        role: Role::Server,
        default_ms: Some(65_000),
        closes: &[Close {
            at_ms: 66_000,
            note: "66.00 s: Node.js v26+ http.Server keepAliveTimeout 65000 ms + 1000 ms buffer",
        }],
        jitter_ms: 5,
        marks: &["Express"],
        knob: "server.keepAliveTimeout",
        snippet: "server.keepAliveTimeout = {ms}; // ms, above the proxy's idle timeout",
        note: "Raised to 65 s in v26 to sit above AWS ALB's 60 s; the 1000 ms buffer still applies.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: benoitc/gunicorn gunicorn/config.py `class Keepalive: default = 2`;
    // docs.gunicorn.org settings#keepalive. Jitter: gunicorn/workers/gthread.py checks keep-alive
    // deadlines (murder_keepalived) after each `self.poller.select(1.0)`, so a close comes up to one
    // 1 s poll after the deadline; the lab saw 2.0–3.0 s for --keep-alive 2.
    KnownDefault {
        id: RowId::Gunicorn,
        software: "gunicorn",
        role: Role::Server,
        default_ms: Some(2_000),
        closes: &[Close {
            at_ms: 2_000,
            note: "2.00 s: gunicorn --keep-alive 2 (default)",
        }],
        jitter_ms: 1000,
        marks: &["gunicorn"],
        knob: "--keep-alive (keepalive)",
        snippet: "--keep-alive {s}\n# or in gunicorn.conf.py: keepalive = {s}",
        note: "The sync worker ignores keep-alive and closes after every response; keep-alive needs the gthread or an async worker. gthread checks the deadlines once per 1 s poll, so its closes spread over keepalive to keepalive + 1 s.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: encode/uvicorn uvicorn/config.py `timeout_keep_alive: int = 5`, uvicorn/main.py.
    // Jitter: one loop timer; the lab saw 5.000–5.003 s. Mark: `server: uvicorn` by default.
    KnownDefault {
        id: RowId::Uvicorn,
        software: "uvicorn",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: uvicorn --timeout-keep-alive 5 (default)",
        }],
        jitter_ms: 3,
        marks: &["uvicorn"],
        knob: "--timeout-keep-alive",
        snippet: "--timeout-keep-alive {s}\n# or uvicorn.run(app, timeout_keep_alive={s})",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: pgjones/hypercorn src/hypercorn/config.py `keep_alive_timeout = 5 * SECONDS`;
    // docs/how_to_guides/configuring.rst. Mark: `server: hypercorn-h11` (its tests assert it).
    KnownDefault {
        id: RowId::Hypercorn,
        software: "hypercorn",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: hypercorn keep_alive_timeout 5 s (default)",
        }],
        marks: &["hypercorn-h11", "hypercorn-h2"],
        knob: "--keep-alive (keep_alive_timeout)",
        snippet: "--keep-alive {s}\n# or in the config file: keep_alive_timeout = {s}",
        note: "Also closes after keep_alive_max_requests (1000) requests.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: apache/httpd include/httpd.h `#define DEFAULT_KEEPALIVE_TIMEOUT 5`;
    // httpd.apache.org/docs/2.4/mod/core.html#keepalivetimeout. Jitter: the lab (event MPM) saw
    // 5.000–5.003 s. Mark: `Server: Apache/2.4.x (Debian)`; Tomcat says `Apache-Coyote`, not `Apache`.
    KnownDefault {
        id: RowId::Apache,
        software: "Apache httpd 2.x",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: Apache httpd KeepAliveTimeout 5 (default)",
        }],
        jitter_ms: 3,
        marks: &["Apache"],
        knob: "KeepAliveTimeout",
        snippet: "KeepAliveTimeout {s}",
        note: "Advertises Keep-Alive: timeout=5, max=100. httpd 1.x defaulted to 15 s.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: nginx/nginx src/http/ngx_http_core_module.c (keepalive_timeout 75000,
    // keepalive_time 3600000); nginx.org ngx_http_core_module#keepalive_timeout.
    // Jitter: src/event/ngx_event_timer.h keeps a timer already set when the
    // new deadline is within NGX_TIMER_LAZY_DELAY (300 ms) of it, so an idle
    // close can come up to 300 ms late (the TLS lab recording's nginx logged
    // closes at 3.001–3.116 s for keepalive_timeout 3s).
    KnownDefault {
        id: RowId::Nginx,
        software: "nginx (as server)",
        role: Role::Server,
        default_ms: Some(75_000),
        closes: &[Close {
            at_ms: 75_000,
            note: "75.00 s: nginx keepalive_timeout 75s (default)",
        }],
        jitter_ms: 300,
        marks: &["nginx"],
        knob: "keepalive_timeout",
        snippet: "keepalive_timeout {s}s;",
        note: "In http, server or location. An optional second parameter sets the advertised Keep-Alive: timeout=; keepalive_time (1 h) caps a connection's life.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: apache/tomcat java/org/apache/coyote/http11/Constants.java
    // DEFAULT_CONNECTION_TIMEOUT = 60000; AbstractEndpoint.getKeepAliveTimeout() (unset →
    // connectionTimeout); the stock conf/server.xml sets connectionTimeout="20000".
    KnownDefault {
        id: RowId::Tomcat,
        software: "Apache Tomcat (stock server.xml)",
        role: Role::Server,
        default_ms: Some(20_000),
        closes: &[Close {
            at_ms: 20_000,
            note: "20.00 s: Tomcat connectionTimeout=\"20000\" from the stock server.xml (keepAliveTimeout unset)",
        }],
        marks: &["Apache-Coyote"],
        knob: "keepAliveTimeout (Connector)",
        snippet: r#"<Connector port="8080" protocol="HTTP/1.1" connectionTimeout="20000" keepAliveTimeout="{ms}" />"#,
        note: "keepAliveTimeout unset falls back to connectionTimeout.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: same as above (code default 60000 applies without server.xml);
    // Spring Boot property server.tomcat.keep-alive-timeout.
    KnownDefault {
        id: RowId::TomcatEmbedded,
        software: "Tomcat embedded (Spring Boot)",
        role: Role::Server,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: embedded Tomcat (Spring Boot) connectionTimeout 60000 ms (code default)",
        }],
        marks: &["Apache-Coyote"],
        knob: "server.tomcat.keep-alive-timeout",
        snippet: "server.tomcat.keep-alive-timeout={s}s",
        note: "No server.xml, so the code default connectionTimeout of 60 s applies and keepAliveTimeout falls back to it. A tie with a 60 s proxy (AWS ALB, nginx upstream) still races.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: jetty/jetty.project jetty-core/jetty-server AbstractConnector.java
    // `_idleTimeout = 30000`; jetty-http.xml, http.mod.
    KnownDefault {
        id: RowId::Jetty,
        software: "Jetty (9 – 12)",
        role: Role::Server,
        default_ms: Some(30_000),
        closes: &[Close {
            at_ms: 30_000,
            note: "30.00 s: Jetty ServerConnector idleTimeout 30000 ms (default)",
        }],
        marks: &["Jetty"],
        knob: "idleTimeout (ServerConnector)",
        snippet: "jetty.http.idleTimeout={ms}\n# Spring Boot: server.jetty.connection-idle-timeout={s}s",
        note: "The same idle timeout also applies during I/O.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: undertow-io/undertow core/src/main/java/io/undertow/Undertow.java
    // `.set(UndertowOptions.NO_REQUEST_TIMEOUT, 60 * 1000)` (UNDERTOW-790).
    KnownDefault {
        id: RowId::Undertow,
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
        ..KnownDefault::EMPTY
    },
    // source: puma/puma lib/puma/const.rb `PERSISTENT_TIMEOUT = 20` (5.x),
    // configuration.rb `persistent_timeout: 20` (6.0 – 6.6.1).
    KnownDefault {
        id: RowId::Puma,
        software: "Puma (≤ 6.x)",
        role: Role::Server,
        default_ms: Some(20_000),
        closes: &[Close {
            at_ms: 20_000,
            note: "20.00 s: Puma ≤ 6 persistent_timeout 20 (default)",
        }],
        knob: "persistent_timeout",
        snippet: "persistent_timeout {s} # config/puma.rb",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: puma/puma PR #3378 "bump persistent_timeout to 65 seconds";
    // lib/puma/configuration.rb `persistent_timeout: 65`, lib/puma/dsl.rb.
    KnownDefault {
        id: RowId::Puma7,
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
        ..KnownDefault::EMPTY
    },
    // source: learn.microsoft.com KestrelServerLimits.KeepAliveTimeout ("Defaults to 130 seconds").
    KnownDefault {
        id: RowId::Kestrel,
        software: "ASP.NET Core Kestrel",
        role: Role::Server,
        default_ms: Some(130_000),
        closes: &[Close {
            at_ms: 130_000,
            note: "130.00 s: Kestrel Limits.KeepAliveTimeout 130 s (default)",
        }],
        marks: &["Kestrel"],
        knob: "KestrelServerLimits.KeepAliveTimeout",
        snippet: "builder.WebHost.ConfigureKestrel(o =>\n    o.Limits.KeepAliveTimeout = TimeSpan.FromSeconds({s}));",
        note: "Kestrel 1.x documented 2 min.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: caddyserver/caddy modules/caddyhttp/app.go `defaultIdleTimeout = 5 * time.Minute`.
    KnownDefault {
        id: RowId::Caddy,
        software: "Caddy (as server)",
        role: Role::Server,
        default_ms: Some(300_000),
        closes: &[Close {
            at_ms: 300_000,
            note: "300.00 s: Caddy server idle_timeout 5 min (default)",
        }],
        marks: &["Caddy"],
        knob: "idle_timeout (Caddyfile: servers { timeouts { idle } })",
        snippet: "{\n    servers {\n        timeouts {\n            idle {s}s\n        }\n    }\n}",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: traefik/traefik pkg/config/static/static_config.go `DefaultIdleTimeout = 180 * time.Second`.
    KnownDefault {
        id: RowId::Traefik,
        software: "Traefik entryPoint",
        role: Role::Server,
        default_ms: Some(180_000),
        closes: &[Close {
            at_ms: 180_000,
            note: "180.00 s: Traefik entryPoint respondingTimeouts.idleTimeout 180 s (default)",
        }],
        knob: "entryPoints.<name>.transport.respondingTimeouts.idleTimeout",
        snippet: "--entryPoints.web.transport.respondingTimeouts.idleTimeout={s}s",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: hyperium/hyper src/server/conn/http1.rs ("Default is 30 seconds", "Requires a
    // Timer"), src/proto/h1/conn.rs poll_read_head; commits 8bf26d1e (v1.0.0), 10b09ffc (v1.6.0).
    KnownDefault {
        id: RowId::Hyper,
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
        ..KnownDefault::EMPTY
    },
    // source: tokio-rs/axum axum/src/serve/mod.rs (no timer in tags axum-v0.8.4 … v0.8.9;
    // `builder.http1().timer(TokioTimer::new())` on main, PR #3478).
    KnownDefault {
        id: RowId::Axum,
        software: "axum::serve (≤ 0.8.9)",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "none public (serve through hyper-util with a Timer)",
        snippet: "// axum::serve sets no Timer: serve with hyper_util's auto::Builder and\n// .timer(TokioTimer::new()) plus header_read_timeout(Duration::from_secs({s}))",
        note: "Released 0.8.x never closes an idle connection; main (PR #3478) sets a TokioTimer, giving hyper's 30 s.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: actix/actix-web actix-http/src/keep_alive.rs `impl Default for KeepAlive`
    // (Timeout(5s)); actix-web/src/server.rs "By default keep-alive is set to 5 seconds".
    KnownDefault {
        id: RowId::Actix,
        software: "actix-web HttpServer",
        role: Role::Server,
        default_ms: Some(5_000),
        closes: &[Close {
            at_ms: 5_000,
            note: "5.00 s: actix-web HttpServer keep_alive 5 s (default)",
        }],
        knob: "HttpServer::keep_alive",
        snippet: "HttpServer::new(app)\n    .keep_alive(KeepAlive::Timeout(Duration::from_secs({s})))",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: pkg.go.dev/net/http#Server; src/net/http/server.go `func (s *Server) idleTimeout()`;
    // golang/net b336a971 (HTTP/2 copies IdleTimeout/ReadTimeout).
    KnownDefault {
        id: RowId::Go,
        software: "Go net/http.Server",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "Server.IdleTimeout (falls back to ReadTimeout)",
        snippet: "srv := &http.Server{IdleTimeout: {s} * time.Second}",
        note: "IdleTimeout 0 falls back to ReadTimeout; with both 0 the server never closes an idle connection, so a Go backend only races when one of them is set.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: reactor/reactor-netty reactor-netty-http HttpServer.java javadoc ("If an
    // idleTimeout is not specified, this indicates no timeout (i.e. infinite)").
    KnownDefault {
        id: RowId::ReactorNetty,
        software: "Reactor Netty HttpServer (Spring WebFlux)",
        role: Role::Server,
        default_ms: None,
        closes: &[],
        knob: "HttpServer.idleTimeout",
        snippet: "HttpServer.create().idleTimeout(Duration.ofSeconds({s}))",
        note: "No idle timeout unless set.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: oven-sh/bun docs/runtime/http/server.mdx (idleTimeout 10 s, max 255, 0 disables).
    KnownDefault {
        id: RowId::Bun,
        software: "Bun Bun.serve",
        role: Role::Server,
        default_ms: Some(10_000),
        closes: &[Close {
            at_ms: 10000,
            note: "10.00 s: Bun.serve idleTimeout 10 s (default)",
        }],
        knob: "idleTimeout (s)",
        snippet: "Bun.serve({ idleTimeout: {s}, fetch })",
        note: "At most 255 s; 0 disables it.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: fastify docs/Reference/Server.md (keepAliveTimeout 72000, HTTP/1 only, ignored with
    // serverFactory). It sets Node's server.keepAliveTimeout, so the close carries Node's buffer.
    KnownDefault {
        id: RowId::Fastify,
        software: "Fastify",
        role: Role::Server,
        default_ms: Some(72_000),
        closes: &[
            Close {
                at_ms: 73000,
                note: "73.00 s: Fastify keepAliveTimeout 72000 ms + Node.js' 1000 ms buffer",
            },
            Close {
                at_ms: 72000,
                note: "72.00 s: Fastify keepAliveTimeout 72000 ms (Node.js releases without the buffer)",
            },
        ],
        knob: "keepAliveTimeout",
        snippet: "Fastify({ keepAliveTimeout: {ms} })",
        note: "HTTP/1 only; ignored with serverFactory. Node.js adds its keepAliveTimeoutBuffer (1000 ms) on recent releases.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: aio-libs/aiohttp#9285, aiohttp/web_protocol.py (keepalive_timeout 3630 from 3.11,
    // raised from 75 s because of load-balancer races). Mark: `Server: Python/3.x aiohttp/3.x`.
    KnownDefault {
        id: RowId::Aiohttp,
        software: "aiohttp server (3.11+)",
        role: Role::Server,
        default_ms: Some(3_630_000),
        closes: &[Close {
            at_ms: 3630000,
            note: "3630.00 s: aiohttp ≥ 3.11 keepalive_timeout 3630 s (default)",
        }],
        marks: &["aiohttp"],
        knob: "keepalive_timeout (web.AppRunner / web.run_app)",
        snippet: "web.run_app(app, keepalive_timeout={s})",
        note: "Raised from 75 s in 3.11 to outlast load balancers.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: aio-libs/aiohttp#9285 (the 75 s default before 3.11).
    KnownDefault {
        id: RowId::AiohttpOld,
        software: "aiohttp server (< 3.11)",
        role: Role::Server,
        default_ms: Some(75_000),
        closes: &[Close {
            at_ms: 75000,
            note: "75.00 s: aiohttp < 3.11 keepalive_timeout 75 s (default)",
        }],
        marks: &["aiohttp"],
        knob: "keepalive_timeout (web.AppRunner / web.run_app)",
        snippet: "web.run_app(app, keepalive_timeout={s})",
        note: "3.11 raised it to 3630 s.",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: Pylons/waitress src/waitress/adjustments.py (channel_timeout = 120).
    // Mark: `Server: waitress` by default.
    KnownDefault {
        id: RowId::Waitress,
        software: "waitress",
        role: Role::Server,
        default_ms: Some(120_000),
        closes: &[Close {
            at_ms: 120000,
            note: "120.00 s: waitress channel_timeout 120 s (default)",
        }],
        marks: &["waitress"],
        knob: "channel_timeout",
        snippet: "waitress.serve(app, channel_timeout={s})\n# or: waitress-serve --channel-timeout={s} app:app",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: ray-project/ray#54127 (Serve's HTTP proxy keep-alive 90 s, was 5 s). Serve runs
    // uvicorn, so its responses carry `server: uvicorn`: the witness prefers the row whose close matches.
    KnownDefault {
        id: RowId::RayServe,
        software: "Ray Serve (uvicorn inside)",
        role: Role::Server,
        default_ms: Some(90_000),
        closes: &[Close {
            at_ms: 90000,
            note: "90.00 s: Ray Serve HTTP keep_alive_timeout_s 90 s (default)",
        }],
        jitter_ms: 3,
        marks: &["uvicorn"],
        knob: "http_options.keep_alive_timeout_s",
        snippet: "serve.start(http_options={\"keep_alive_timeout_s\": {s}})",
        note: "Before ray-project/ray#54127 Serve kept uvicorn's 5 s.",
        verified: Verified::Secondary,
        ..KnownDefault::EMPTY
    },
    // source: Ktor API docs, CIO engine connectionIdleTimeoutSeconds (45).
    KnownDefault {
        id: RowId::KtorCio,
        software: "Ktor CIO server",
        role: Role::Server,
        default_ms: Some(45_000),
        closes: &[Close {
            at_ms: 45000,
            note: "45.00 s: Ktor CIO connectionIdleTimeoutSeconds 45 (default)",
        }],
        knob: "connectionIdleTimeoutSeconds",
        snippet: "embeddedServer(CIO, configure = {\n    connectionIdleTimeoutSeconds = {s}\n}) { /* ... */ }",
        note: "The Netty engine of Ktor has other defaults.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
];

/// Proxies, load balancers and client pools: the side that must give up on an
/// idle connection first.
pub(super) static PROXIES: &[KnownDefault] = &[
    // source: envoyproxy/data-plane-api envoy/config/core/v3/protocol.proto
    // HttpProtocolOptions.idle_timeout ("If not specified, this defaults to 1 hour");
    // envoy/extensions/upstreams/http/v3/http_protocol_options.proto.
    KnownDefault {
        id: RowId::Envoy,
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
        proxy_step: Some(ProxyStep {
            order: 1,
            fix: ProxyFix::IdleTimeout,
            name: "Envoy",
            hop: Hop::Outbound,
            text: "Envoy: cluster {knob} to {value} (default {default}).",
            // envoyproxy/envoy#42753: the idle timer started before the
            // connection was up, so short idle timeouts failed new
            // connections; fixed by PR #42756. Still deployed before it.
            caveat: Some(Caveat {
                when: When::ValueAtMost(10_000),
                text: " On Envoy builds without the fix for envoyproxy/envoy#42753 (PR #42756), short values can fail new connections: the idle timer started before the connection was up.",
            }),
        }),
        usual: Some(Usual {
            label: "Envoy",
            rank: 3,
        }),
        ..KnownDefault::EMPTY
    },
    // source: istio/api networking/v1alpha3/destination_rule.proto ("If not set, the default is 1 hour").
    KnownDefault {
        id: RowId::Istio,
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
        proxy_step: Some(ProxyStep {
            // First: the general advice is worded for a mesh in front.
            order: 0,
            fix: ProxyFix::IdleTimeout,
            name: "Istio",
            hop: Hop::Outbound,
            text: "Istio: {knob} (default {default}).",
            caveat: None,
        }),
        usual: Some(Usual {
            label: "Istio",
            rank: 4,
        }),
        retries: Some(Retries {
            // source: istio/istio pilot/pkg/networking/core/route/retry/retry.go
            // (defaultRetryOn, defaultInboundRetryOn); releasenotes/notes/52055.yaml (1.24.0).
            on_reset: "Istio's default outbound retries do not include `reset`, so a race on a reused connection is not retried there (since Istio 1.24 the inbound sidecar-to-app hop retries `reset-before-request`)",
            // A patch to the VirtualService that already routes the host
            // (a second one for the same host is merged in no defined
            // order); `gateways:` lists the ingress Gateway, without which
            // the route (and its retries) applies to sidecars only.
            snippet: Some(
                r#"# Merge into the VirtualService that routes to backend
# (kubectl edit virtualservice <name>): one per host.
spec:
  gateways:
  - mesh                         # the sidecars
  - istio-system/ingressgateway  # your Gateway: ingress traffic is retried too
  http:
  - match:                       # add before your existing route
    - method:
        regex: GET|HEAD|OPTIONS|PUT|DELETE # idempotent (RFC 9110 9.2.2)
    route:                       # the same destination as your route
    - destination:
        host: backend
    retries:
      attempts: 2
      retryOn: reset,connect-failure,refused-stream
  # … your existing route(s) follow unchanged"#,
            ),
        }),
        ..KnownDefault::EMPTY
    },
    // source: istio/api networking/v1alpha3/sidecar.proto `inboundConnectionPool`
    // (istio/api#2961, "default and per-port connection pool settings for inbound
    // connections"); before it, the proxy metadata ISTIO_META_IDLE_TIMEOUT.
    KnownDefault {
        id: RowId::IstioInbound,
        software: "Istio sidecar (inbound: sidecar → local app)",
        role: Role::Proxy,
        default_ms: Some(3_600_000),
        // Its 1 h close is Envoy's, which the rows above already name when
        // a client closes after 1 h idle: no second match for it.
        closes: &[],
        knob: "Sidecar spec.inboundConnectionPool.http.idleTimeout",
        snippet: r#"apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: backend
spec:
  workloadSelector:
    labels:
      app: backend
  inboundConnectionPool:
    http:
      idleTimeout: {dur}
# Istio before inboundConnectionPool: the pod annotation
#   proxy.istio.io/config: '{"proxyMetadata": {"ISTIO_META_IDLE_TIMEOUT": "{dur}"}}'"#,
        note: "The hop that races behind a sidecar is sidecar → app on the pod's loopback (client 127.0.0.6, or 127.0.0.1 on older sidecars): a DestinationRule's connectionPool is written for the callers' outbound pools.",
        verified: Verified::Secondary,
        proxy_step: Some(ProxyStep {
            order: 5,
            fix: ProxyFix::IdleTimeout,
            name: "Istio (inbound)",
            hop: Hop::Inbound,
            text: "Istio, inbound (the sidecar's pool to the app in its pod, which a DestinationRule's idleTimeout does not target): {knob} to {value} (default {default}).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: linkerd/linkerd2-proxy linkerd/app/src/env.rs
    // DEFAULT_{IN,OUT}BOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT = 3s.
    KnownDefault {
        id: RowId::Linkerd,
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
        proxy_step: Some(ProxyStep {
            order: 4,
            // 3 s is below most servers' defaults: only a step behind a shorter one.
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "Linkerd",
            hop: Hop::Both,
            text: "Linkerd: its {default} pool idle timeout is not below the server's {server}; set the HTTP/1 pool idle timeout to {value}.",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: nginx/nginx src/http/modules/ngx_http_upstream_keepalive_module.c
    // (timeout 60000, time 3600000, requests 1000); nginx.org ngx_http_upstream_module#keepalive_timeout;
    // retry of cached connections: src/http/ngx_http_upstream.c ngx_http_upstream_next();
    // on by default for explicit upstreams since 1.29.7 (and 1.30): nginx/nginx commit 4fbe4b627
    // "Upstream: enabled keepalive by default for explicit upstreams", docs/xml/nginx/changes.xml.
    KnownDefault {
        id: RowId::NginxUpstream,
        software: "nginx upstream keepalive pool",
        role: Role::Proxy,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: nginx upstream keepalive_timeout 60s (default)",
        }],
        knob: "keepalive_timeout (in upstream {})",
        snippet: "upstream backend {\n    server app:8080;\n    keepalive 32; # the default since 1.29.7; before it, no pool without this line\n    keepalive_timeout {dur};\n}\n# before 1.29.7 also: proxy_http_version 1.1; and proxy_set_header Connection \"\";",
        note: "nginx ≥ 1.29.7 (and 1.30) pools explicit `upstream {}` blocks by default (32 idle connections per worker, HTTP/1.1, no `Connection: close`; `keepalive 0;` turns it off; a `proxy_pass` to a host with no `upstream {}` block is not pooled); before 1.29.7 the pool is off unless `keepalive N;` is set (nginx ≥ 1.15.3 for keepalive_timeout). A failure on a cached connection is retried, except POST/LOCK/PATCH once sent: the race shows as 502 on those.",
        verified: Verified::Source,
        proxy_step: Some(ProxyStep {
            order: 2,
            fix: ProxyFix::IdleTimeout,
            name: "nginx's upstream pool",
            hop: Hop::Outbound,
            text: "nginx: {knob} to {value} (default {default}; since 1.29.7 and in 1.30 an explicit `upstream` block pools by default, 32 idle connections per worker; before 1.29.7 only with `keepalive N;`).",
            caveat: None,
        }),
        usual: Some(Usual {
            label: "nginx's upstream keepalive_timeout",
            rank: 1,
        }),
        retries: Some(Retries {
            on_reset: "nginx re-sends a request that failed on a cached connection except POST, LOCK and PATCH",
            snippet: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: gitlab-org/charts/gitlab MR !3090 (quotes the defaults); kubernetes/ingress-nginx#3099;
    // retired (SIG Network, announced 2025-11-11, no releases after March 2026), defaults unchanged.
    KnownDefault {
        id: RowId::IngressNginx,
        software: "ingress-nginx (Kubernetes)",
        role: Role::Proxy,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60_000,
            note: "60.00 s: ingress-nginx upstream-keepalive-timeout 60 (default)",
        }],
        knob: "upstream-keepalive-timeout (ConfigMap)",
        snippet: "data:\n  upstream-keepalive-timeout: \"{s}\"",
        note: "Upstream keep-alive is on: 320 connections, 1 h keepalive_time, 10000 requests. The project is retired (no releases since March 2026) but still widely deployed; its defaults are unchanged.",
        verified: Verified::Secondary,
        usual: Some(Usual {
            label: "ingress-nginx",
            rank: 2,
        }),
        ..KnownDefault::EMPTY
    },
    // source: haproxy/haproxy doc/configuration.txt (pool-purge-delay "The default is 5s";
    // http-reuse safe is the default; retry-on conn-failure is the default; timeout server
    // unset = infinite); maintainer in haproxy/haproxy#1292 (http-keep-alive is client-side only).
    KnownDefault {
        id: RowId::Haproxy,
        software: "HAProxy backend idle pool",
        role: Role::Proxy,
        default_ms: None,
        closes: &[],
        knob: "pool-purge-delay (server), http-reuse",
        snippet: "backend app\n    default-server pool-purge-delay {dur}\n    # last resort, no reuse at all:\n    # http-reuse never",
        note: "No idle timeout for server-side connections: `timeout http-keep-alive` applies to clients only (haproxy/haproxy#1292). Every pool-purge-delay (5 s) half of the idle connections are closed, so one can outlive it.",
        verified: Verified::Source,
        proxy_step: Some(ProxyStep {
            order: 3,
            // Half of the idle connections go per round: a quarter of the
            // target leaves a few rounds before the server's close, capped at
            // the 5 s default so the advice never lengthens it.
            fix: ProxyFix::PurgeDelay {
                divisor: 4,
                cap_ms: 5_000,
            },
            name: "HAProxy",
            hop: Hop::Outbound,
            text: "HAProxy: there is no idle timeout for server-side connections (`timeout http-keep-alive` applies to clients only). Idle ones are purged, half per pool-purge-delay (default {default}), so they can outlive it: keep pool-purge-delay well below the server's {server} (e.g. {value}) to make the race rarer, or disable reuse with `http-reuse never` to remove it.",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: caddyserver/caddy modules/caddyhttp/reverseproxy/httptransport.go
    // (IdleConnTimeout = 2 * time.Minute).
    KnownDefault {
        id: RowId::CaddyProxy,
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
        ..KnownDefault::EMPTY
    },
    // source: traefik/traefik pkg/config/dynamic/http_config.go (IdleConnTimeout = 90s),
    // pkg/server/service/transport.go.
    KnownDefault {
        id: RowId::TraefikProxy,
        software: "Traefik serversTransport",
        role: Role::Proxy,
        default_ms: Some(90_000),
        closes: &[Close {
            at_ms: 90_000,
            note: "90.00 s: Traefik serversTransport forwardingTimeouts.idleConnTimeout 90 s (default)",
        }],
        knob: "serversTransport.forwardingTimeouts.idleConnTimeout",
        snippet: "--serversTransport.forwardingTimeouts.idleConnTimeout={dur}",
        verified: Verified::Source,
        ..KnownDefault::EMPTY
    },
    // source: docs.aws.amazon.com elasticloadbalancing/latest/application
    // edit-load-balancer-attributes.html#connection-idle-timeout; ALB 502 troubleshooting article.
    KnownDefault {
        id: RowId::AwsAlb,
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
        usual: Some(Usual {
            // ALB and Classic ELB are named together.
            label: "AWS ALB/ELB",
            rank: 0,
        }),
        ..KnownDefault::EMPTY
    },
    // source: docs.aws.amazon.com elasticloadbalancing/latest/classic/config-idle-timeout.html.
    KnownDefault {
        id: RowId::AwsElb,
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
        usual: Some(Usual {
            // ALB and Classic ELB are named together.
            label: "AWS ALB/ELB",
            rank: 0,
        }),
        ..KnownDefault::EMPTY
    },
    // source: AWS SDK documentation of originKeepaliveTimeout ("the default … is 5 seconds").
    KnownDefault {
        id: RowId::Cloudfront,
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
        ..KnownDefault::EMPTY
    },
    // source: cloud.google.com load-balancing/docs/https/request-distribution ("default backend
    // keepalive timeout of 600 seconds … backend keepalive timeout value is fixed").
    KnownDefault {
        id: RowId::GcpGlobal,
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
        ..KnownDefault::EMPTY
    },
    // source: same page, regional section.
    KnownDefault {
        id: RowId::GcpRegional,
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
        ..KnownDefault::EMPTY
    },
    // source: developers.cloudflare.com fundamentals/reference/connection-limits.
    KnownDefault {
        id: RowId::Cloudflare,
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
        ..KnownDefault::EMPTY
    },
    // source: heroku/python-getting-started PR #261 quoting devcenter.heroku.com http-routing#keepalives.
    KnownDefault {
        id: RowId::Heroku,
        software: "Heroku Router 2.0",
        role: Role::LoadBalancer,
        default_ms: Some(90_000),
        closes: &[Close {
            at_ms: 90_000,
            note: "90.00 s: Heroku Router 2.0 keep-alive to dynos 90 s",
        }],
        knob: "none",
        snippet: "# not configurable: keep the dyno's keep-alive above 90 s",
        verified: Verified::Secondary,
        ..KnownDefault::EMPTY
    },
    // source: Kong/kong#14062 (upstream_keepalive_idle_timeout 60 s, global only).
    KnownDefault {
        id: RowId::Kong,
        software: "Kong Gateway",
        role: Role::Proxy,
        default_ms: Some(60_000),
        closes: &[Close {
            at_ms: 60000,
            note: "60.00 s: Kong upstream_keepalive_idle_timeout 60 s (default)",
        }],
        knob: "upstream_keepalive_idle_timeout (kong.conf)",
        snippet: "upstream_keepalive_idle_timeout = {s}",
        note: "Global only, not per upstream.",
        verified: Verified::Secondary,
        ..KnownDefault::EMPTY
    },
    // source: Envoy Gateway docs via gitlab-org/charts/gitlab MR !5478 (Envoy's 1 h unless a
    // BackendTrafficPolicy sets a connection idle timeout).
    KnownDefault {
        id: RowId::EnvoyGateway,
        software: "Envoy Gateway",
        role: Role::Proxy,
        default_ms: Some(3_600_000),
        closes: &[Close {
            at_ms: 3600000,
            note: "3600.00 s: Envoy Gateway upstream idle timeout 1 h (Envoy default)",
        }],
        knob: "BackendTrafficPolicy connection idle timeout",
        snippet: "# BackendTrafficPolicy: set the upstream connection idle timeout to {dur}",
        note: "Envoy's 1 h unless a BackendTrafficPolicy sets it.",
        verified: Verified::Secondary,
        ..KnownDefault::EMPTY
    },
    // source: aws-cdk#31584, terraform-provider-aws#39149 (350 s; 60–6000 s since 2024-09).
    KnownDefault {
        id: RowId::AwsNlb,
        software: "AWS Network Load Balancer",
        role: Role::Middlebox,
        default_ms: Some(350_000),
        closes: &[],
        knob: "listener attribute tcp.idle_timeout.seconds",
        snippet: "aws elbv2 modify-listener-attributes --listener-arn <arn> \\\n    --attributes Key=tcp.idle_timeout.seconds,Value={s}",
        note: "Forgets an idle TCP flow after 350 s without a FIN; configurable 60 – 6000 s since 2024-09.",
        verified: Verified::Secondary,
        ..KnownDefault::EMPTY
    },
    // source: urllib3/urllib3#3184 (350 s idle, then an RST to the client on reuse).
    KnownDefault {
        id: RowId::AwsNat,
        software: "AWS NAT Gateway",
        role: Role::Middlebox,
        default_ms: Some(350_000),
        closes: &[],
        knob: "none",
        snippet: "# not configurable: keep pooled connections idle less than 350 s, or use TCP keepalives",
        note: "Forgets an idle flow after 350 s; a reuse then meets an RST.",
        verified: Verified::Secondary,
        ..KnownDefault::EMPTY
    },
    // source: Compute API RouterNat tcpEstablishedIdleTimeoutSec (1200 s).
    KnownDefault {
        id: RowId::GcpCloudNat,
        software: "GCP Cloud NAT",
        role: Role::Middlebox,
        default_ms: Some(1_200_000),
        closes: &[],
        knob: "tcpEstablishedIdleTimeoutSec",
        snippet: "gcloud compute routers nats update <nat> --router=<router> \\\n    --tcp-established-idle-timeout={s}s",
        note: "Established TCP flows idle longer are forgotten.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: azure-docs load-balancer-tcp-idle-timeout.md, load-balancer-tcp-reset.md.
    KnownDefault {
        id: RowId::AzureLb,
        software: "Azure Load Balancer",
        role: Role::Middlebox,
        default_ms: Some(240_000),
        closes: &[],
        knob: "IdleTimeoutInMinutes, EnableTcpReset",
        snippet: "az network lb rule update -g <rg> --lb-name <lb> -n <rule> \\\n    --idle-timeout <minutes> --enable-tcp-reset true",
        note: "4 min (4 – 100); idle flows are dropped silently unless TCP reset on idle is enabled.",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: kube-proxy reference (--conntrack-tcp-timeout-established 24h,
    // --conntrack-tcp-timeout-close-wait 1h; plain Linux close_wait 60 s).
    KnownDefault {
        id: RowId::Conntrack,
        software: "Linux conntrack (kube-proxy)",
        role: Role::Middlebox,
        default_ms: Some(86_400_000),
        closes: &[],
        knob: "--conntrack-tcp-timeout-established",
        snippet: "--conntrack-tcp-timeout-established={dur}",
        note: "Established entries 24 h, close_wait 1 h under kube-proxy (plain Linux: close_wait 60 s).",
        verified: Verified::Doc,
        ..KnownDefault::EMPTY
    },
    // source: src/net/http/transport.go DefaultTransport (IdleConnTimeout 90 s) and the
    // checkTransportResend comment.
    KnownDefault {
        id: RowId::GoTransport,
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
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 12,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "Go net/http",
            text: "Go net/http: {knob} to {value} (DefaultTransport {default}; a zero-value `&http.Transport` has none).",
            caveat: None,
        }),
        retries: Some(Retries {
            on_reset: "Go's Transport re-sends a request that failed on a reused connection before any response when it is replayable (GET, HEAD, OPTIONS or TRACE, or an Idempotency-Key header, and a body it can rewind)",
            snippet: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: nodejs/node lib/_http_agent.js, lib/https.js (globalAgent keepAlive true,
    // timeout 5000); PR #59315 (agentKeepAliveTimeoutBuffer).
    KnownDefault {
        id: RowId::NodeAgent,
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
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 13,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "Node.js http.Agent",
            text: "Node.js http.Agent: the free-socket `timeout` to {value} (http.globalAgent {default}; `new Agent()` pools only with `keepAlive: true`).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: node-modules/agentkeepalive README (4.x): "freeSocketTimeout … we set the default value
    // to 4000 milliseconds" (3.x had freeSocketKeepAliveTimeout, 15000).
    KnownDefault {
        id: RowId::Agentkeepalive,
        software: "agentkeepalive (Node.js, 4.x)",
        role: Role::Client,
        default_ms: Some(4_000),
        closes: &[Close {
            at_ms: 4_000,
            note: "4.00 s: agentkeepalive freeSocketTimeout 4000 ms (default)",
        }],
        knob: "freeSocketTimeout",
        snippet: "new Agent({ keepAlive: true, freeSocketTimeout: {ms} })",
        note: "3.x called it freeSocketKeepAliveTimeout, default 15 s.",
        verified: Verified::Doc,
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 14,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "agentkeepalive",
            text: "agentkeepalive: {knob} to {value} (default {default}).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: maintainer comment in urllib3/urllib3#2498 (passive check at checkout); #3184.
    // Retries: urllib3 docs urllib3.util.Retry (read errors retried for DEFAULT_ALLOWED_METHODS only);
    // requests HTTPAdapter max_retries defaults to 0.
    KnownDefault {
        id: RowId::Urllib3,
        software: "Python requests / urllib3",
        role: Role::Client,
        default_ms: None,
        closes: &[],
        knob: "none",
        snippet: "# no idle timeout: retry idempotent requests (urllib3 Retry) or recreate the pool",
        note: "Idle pooled connections live until the server closes them; only a passive liveness check at checkout.",
        verified: Verified::Secondary,
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 10,
            fix: ProxyFix::NoIdleTimeout,
            name: "Python requests",
            text: "Python requests / urllib3: no idle timeout, only a passive check at checkout, so a connection the server closed moments ago is still reused: retry idempotent requests (urllib3 Retry), or recreate the session after idling near {server}.",
            caveat: None,
        }),
        retries: Some(Retries {
            on_reset: "Python requests retries nothing by default (max_retries 0): mount an HTTPAdapter with a urllib3 Retry, which retries only GET, HEAD, PUT, DELETE, OPTIONS and TRACE (Retry.DEFAULT_ALLOWED_METHODS)",
            snippet: Some(
                "from requests.adapters import HTTPAdapter\nfrom urllib3.util import Retry\n\n# read errors (RemoteDisconnected, a reset) retried for idempotent methods only\nsession.mount(\"http://\", HTTPAdapter(max_retries=Retry(total=2)))\nsession.mount(\"https://\", HTTPAdapter(max_retries=Retry(total=2)))",
            ),
        }),
        ..KnownDefault::EMPTY
    },
    // source: python/cpython Lib/http/client.py: an HTTPConnection keeps its socket until closed
    // and HTTPResponse._read_status() raises RemoteDisconnected("Remote end closed connection
    // without response") on an empty status line; seen in the lab (a stale race, every reuse).
    KnownDefault {
        id: RowId::HttpClient,
        software: "Python http.client",
        role: Role::Client,
        default_ms: None,
        closes: &[],
        knob: "none (an HTTPConnection reuses its socket as is)",
        snippet: "# close an HTTPConnection that idled near the server's timeout\nif time.monotonic() - last_used > {s}:\n    conn.close()  # the next request opens a new connection",
        note: "No pool, no idle timeout, no check before reuse: the request after the server's close fails with RemoteDisconnected.",
        verified: Verified::Source,
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 11,
            fix: ProxyFix::NoIdleTimeout,
            name: "http.client",
            text: "Python http.client: an HTTPConnection is reused with no check and no idle timeout, so the request after the server's close fails with RemoteDisconnected: close it when it idled near {server} (e.g. after {value}), or catch RemoteDisconnected and ConnectionResetError and resend an idempotent request on a new connection.",
            caveat: None,
        }),
        retries: Some(Retries {
            on_reset: "Python http.client never retries: catch RemoteDisconnected and ConnectionResetError, and resend only an idempotent request",
            snippet: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: square/okhttp okhttp3/ConnectionPool.kt ("up to 5 idle connections which will be
    // evicted after 5 minutes"); OkHttpClient.Builder.retryOnConnectionFailure docs ("By default, this
    // client silently recovers from … Stale pooled connections").
    KnownDefault {
        id: RowId::Okhttp,
        software: "OkHttp ConnectionPool",
        role: Role::Client,
        default_ms: Some(300_000),
        closes: &[Close {
            at_ms: 300_000,
            note: "300.00 s: OkHttp ConnectionPool keepAliveDuration 5 min",
        }],
        knob: "ConnectionPool(maxIdleConnections, keepAliveDuration, unit)",
        snippet: "ConnectionPool(5, {ms}, TimeUnit.MILLISECONDS)",
        verified: Verified::Source,
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 17,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "OkHttp",
            text: "OkHttp: ConnectionPool keepAliveDuration to {value} (default {default}).",
            caveat: None,
        }),
        retries: Some(Retries {
            on_reset: "OkHttp silently retries on a stale pooled connection (retryOnConnectionFailure, on by default)",
            snippet: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: apache/httpcomponents-client master RequestConfig.java (DEFAULT_CONN_KEEP_ALIVE 3 min),
    // DefaultConnectionKeepAliveStrategy.java, PoolingHttpClientConnectionManager (2 s validate).
    KnownDefault {
        id: RowId::Httpclient5,
        software: "Apache HttpClient 5.x",
        role: Role::Client,
        default_ms: Some(180_000),
        closes: &[],
        knob: "RequestConfig connection keep-alive, HttpClientBuilder.evictIdleConnections",
        snippet: "HttpClients.custom()\n    .evictIdleConnections(TimeValue.ofMilliseconds({ms}))",
        note: "Keep-alive = the server's Keep-Alive: timeout= if sent, else 3 min; the background idle evictor is off by default; stale check after 2 s of inactivity.",
        verified: Verified::Source,
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 15,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "Apache HttpClient 5",
            text: "Apache HttpClient 5.x: evictIdleConnections({value}) (the idle evictor is off by default; keep-alive {default} unless the server sends Keep-Alive: timeout=).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: httpcomponents-client branch 4.5.x DefaultConnectionKeepAliveStrategy.java (-1),
    // PoolingHttpClientConnectionManager.java (setValidateAfterInactivity(2000)).
    KnownDefault {
        id: RowId::Httpclient4,
        software: "Apache HttpClient 4.5.x",
        role: Role::Client,
        default_ms: None,
        closes: &[],
        knob: "HttpClientBuilder.evictIdleConnections",
        snippet: "HttpClients.custom()\n    .evictIdleConnections({ms}, TimeUnit.MILLISECONDS)",
        note: "Keep-alive indefinite unless the server sends Keep-Alive; stale check after 2 s of inactivity.",
        verified: Verified::Source,
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 16,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "Apache HttpClient 4.5",
            text: "Apache HttpClient 4.5.x: evictIdleConnections({value}) (keep-alive is indefinite unless the server sends Keep-Alive: timeout=; the evictor is off by default).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: OpenJDK src/java.net.http/share/classes/module-info.java
    // ("jdk.httpclient.keepalive.timeout (default: 30)"); current JDK only.
    KnownDefault {
        id: RowId::JdkHttpclient,
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
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 18,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: "JDK HttpClient",
            text: "JDK java.net.http.HttpClient: {knob} to {value} (default {default}).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
    // source: learn.microsoft.com SocketsHttpHandler.PooledConnectionIdleTimeout.
    KnownDefault {
        id: RowId::Dotnet,
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
        proxy_step: Some(ProxyStep {
            hop: Hop::Outbound,
            order: 19,
            fix: ProxyFix::OnlyIfNotBelowServer,
            name: ".NET",
            text: ".NET SocketsHttpHandler: {knob} to {value} (default {default}).",
            caveat: None,
        }),
        ..KnownDefault::EMPTY
    },
];

#[cfg(test)]
mod test {
    use super::super::h2::{H2_PROXIES, H2_SERVERS};
    use super::{KnownDefault, PROXIES, SERVERS};

    /// The template's placeholders never reach a row: each row names its
    /// software, knob and snippet (the fix prints them).
    #[test]
    fn test_rows_set_what_the_template_cannot() {
        let empty = KnownDefault::EMPTY;
        for r in [SERVERS, PROXIES, H2_SERVERS, H2_PROXIES].concat() {
            assert_ne!(r.software, empty.software, "{}", r.id);
            assert_ne!(r.knob, empty.knob, "{}", r.id);
            assert_ne!(r.snippet, empty.snippet, "{}", r.id);
        }
    }
}
