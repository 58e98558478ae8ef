//! The defaults table's row ids: a name that other modules (the proxy a
//! fix is for, a step's `proxy` field, tests) hold on to, so that a row
//! renamed or removed fails to compile instead of silently matching nothing.
//! The names are those of the JSON (`servers[].recommendations[].proxy`).

use crate::named::named_enum;

named_enum! {
    /// One row of the defaults table (its [`super::KnownDefault::id`]),
    /// in table order: servers, proxies and client pools, HTTP/2 servers,
    /// HTTP/2 proxies and clients.
    pub enum RowId {
        // Servers.
        /// Node.js http.Server (v8 – v25).
        Node => "node",
        /// Node.js http.Server (v26+).
        Node26 => "node-26",
        /// gunicorn.
        Gunicorn => "gunicorn",
        /// uvicorn.
        Uvicorn => "uvicorn",
        /// hypercorn.
        Hypercorn => "hypercorn",
        /// Apache httpd 2.x.
        Apache => "apache",
        /// nginx (as server).
        Nginx => "nginx",
        /// Apache Tomcat (stock server.xml).
        Tomcat => "tomcat",
        /// Tomcat embedded (Spring Boot).
        TomcatEmbedded => "tomcat-embedded",
        /// Jetty (9 – 12).
        Jetty => "jetty",
        /// Undertow.
        Undertow => "undertow",
        /// Puma (≤ 6.x).
        Puma => "puma",
        /// Puma (7.0+).
        Puma7 => "puma-7",
        /// ASP.NET Core Kestrel.
        Kestrel => "kestrel",
        /// Caddy (as server).
        Caddy => "caddy",
        /// Traefik entryPoint.
        Traefik => "traefik",
        /// hyper 1.x HTTP/1 server (Rust).
        Hyper => "hyper",
        /// axum::serve (≤ 0.8.9).
        Axum => "axum",
        /// actix-web HttpServer.
        Actix => "actix",
        /// Go net/http.Server.
        Go => "go",
        /// Reactor Netty HttpServer (Spring WebFlux).
        ReactorNetty => "reactor-netty",
        /// Bun Bun.serve.
        Bun => "bun",
        /// Fastify.
        Fastify => "fastify",
        /// aiohttp server (3.11+).
        Aiohttp => "aiohttp",
        /// aiohttp server (< 3.11).
        AiohttpOld => "aiohttp-old",
        /// waitress.
        Waitress => "waitress",
        /// Ray Serve (uvicorn inside).
        RayServe => "ray-serve",
        /// Ktor CIO server.
        KtorCio => "ktor-cio",
        // Proxies, load balancers, middleboxes and client pools.
        /// Envoy cluster (upstream pool).
        Envoy => "envoy",
        /// Istio sidecar / gateway (outbound).
        Istio => "istio",
        /// Istio sidecar (inbound: sidecar → local app).
        IstioInbound => "istio-inbound",
        /// Linkerd2 proxy.
        Linkerd => "linkerd",
        /// nginx upstream keepalive pool.
        NginxUpstream => "nginx-upstream",
        /// ingress-nginx (Kubernetes).
        IngressNginx => "ingress-nginx",
        /// HAProxy backend idle pool.
        Haproxy => "haproxy",
        /// Caddy reverse_proxy.
        CaddyProxy => "caddy-proxy",
        /// Traefik serversTransport.
        TraefikProxy => "traefik-proxy",
        /// AWS Application Load Balancer.
        AwsAlb => "aws-alb",
        /// AWS Classic Load Balancer.
        AwsElb => "aws-elb",
        /// AWS CloudFront → custom origin.
        Cloudfront => "cloudfront",
        /// GCP global external Application LB (GFE).
        GcpGlobal => "gcp-global",
        /// GCP regional / internal Application LB (Envoy).
        GcpRegional => "gcp-regional",
        /// Cloudflare → origin.
        Cloudflare => "cloudflare",
        /// Heroku Router 2.0.
        Heroku => "heroku",
        /// Kong Gateway.
        Kong => "kong",
        /// Envoy Gateway.
        EnvoyGateway => "envoy-gateway",
        /// AWS Network Load Balancer.
        AwsNlb => "aws-nlb",
        /// AWS NAT Gateway.
        AwsNat => "aws-nat",
        /// GCP Cloud NAT.
        GcpCloudNat => "gcp-cloud-nat",
        /// Azure Load Balancer.
        AzureLb => "azure-lb",
        /// Linux conntrack (kube-proxy).
        Conntrack => "conntrack",
        /// Go http.DefaultTransport.
        GoTransport => "go-transport",
        /// Node.js http.globalAgent.
        NodeAgent => "node-agent",
        /// agentkeepalive (Node.js, 4.x).
        Agentkeepalive => "agentkeepalive",
        /// Python requests / urllib3.
        Urllib3 => "urllib3",
        /// Python http.client.
        HttpClient => "http-client",
        /// OkHttp ConnectionPool.
        Okhttp => "okhttp",
        /// Apache HttpClient 5.x.
        Httpclient5 => "httpclient5",
        /// Apache HttpClient 4.5.x.
        Httpclient4 => "httpclient4",
        /// JDK java.net.http.HttpClient (current).
        JdkHttpclient => "jdk-httpclient",
        /// .NET SocketsHttpHandler (.NET 6+).
        Dotnet => "dotnet",
        // HTTP/2 servers.
        /// Node.js http2 server.
        NodeHttp2 => "node-http2",
        /// Go net/http.Server over HTTP/2.
        GoH2 => "go-h2",
        /// gRPC-Go server.
        GrpcGo => "grpc-go",
        // HTTP/2 proxies and clients.
        /// HAProxy `server … proto h2` pool.
        HaproxyH2 => "haproxy-h2",
        /// Envoy cluster with http2_protocol_options.
        EnvoyH2 => "envoy-h2",
        /// nginx grpc_pass (upstream keepalive).
        NginxGrpc => "nginx-grpc",
        /// gRPC-Go client keepalive.
        GrpcGoClient => "grpc-go-client",
    }
}

#[cfg(test)]
mod test {
    use super::super::h2::{H2_PROXIES, H2_SERVERS};
    use super::super::table::{PROXIES, SERVERS};
    use super::RowId;

    /// Every id names exactly one row, in table order: a row added without
    /// its id, or an id left behind by a removed row, fails here.
    #[test]
    fn test_every_id_is_one_row_in_table_order() {
        let rows: Vec<RowId> = [SERVERS, PROXIES, H2_SERVERS, H2_PROXIES]
            .iter()
            .flat_map(|t| t.iter().map(|r| r.id))
            .collect();
        assert_eq!(rows, RowId::ALL);
    }
}
