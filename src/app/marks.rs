//! Who sent a request, from its head: forwarding headers that proxies and
//! load balancers add, and the `User-Agent` (a client library's product
//! token, another, or none). The analysis weighs these with what else the
//! traffic shows (`analysis::software`) before calling a client a library.

use super::http::header;
use crate::named::named_enum;

/// What a request's head says about who sent it: a proxy (forwarding
/// headers), or maybe a client library inside an application (its
/// `User-Agent`, or none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestMarks {
    /// `Via`, `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `X-Envoy-*` and the
    /// like: headers that proxies and load balancers add.
    pub forwarded: bool,
    /// The `User-Agent`, as far as it tells.
    pub agent: Agent,
    /// The blank line that ends the head was read: the marks are complete.
    pub complete: bool,
    /// The proxy its headers name, when they name one.
    pub proxy: Option<ProxyMark>,
}

named_enum! {
    /// A proxy that names itself in the headers it adds to a request.
    pub enum ProxyMark {
        /// Envoy: `x-envoy-*` headers (`x-envoy-expected-rq-timeout-ms`,
        /// `x-envoy-attempt-count`, …), which it adds to every request.
        Envoy => "envoy",
        /// Istio's sidecars and gateways: Envoy with the mesh's peer
        /// metadata (`x-envoy-peer-metadata`) or mTLS client certificate
        /// (`x-forwarded-client-cert`).
        Istio => "istio",
        /// An AWS Application Load Balancer: `X-Amzn-Trace-Id`.
        Alb => "alb",
    }
}

impl ProxyMark {
    /// The proxy a request header names, if any. Istio is Envoy with more:
    /// the stronger mark wins (see [`RequestMarks::proxy`]).
    fn of_header(name: &[u8]) -> Option<ProxyMark> {
        if name.eq_ignore_ascii_case(b"x-forwarded-client-cert")
            || starts_with_ci(name, b"x-envoy-peer-metadata")
        {
            Some(ProxyMark::Istio)
        } else if starts_with_ci(name, b"x-envoy-") {
            Some(ProxyMark::Envoy)
        } else if name.eq_ignore_ascii_case(b"x-amzn-trace-id") {
            Some(ProxyMark::Alb)
        } else {
            None
        }
    }
}

/// What a request's `User-Agent` says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Agent {
    /// No `User-Agent` header (Python's `http.client` sends none).
    #[default]
    None,
    /// An HTTP client library's product token.
    Library,
    /// Anything else: a browser, a tool, or a proxy passing its client's on.
    Other,
}

/// Product tokens of HTTP client libraries (case-insensitive prefixes).
const LIBRARY_AGENTS: &[&[u8]] = &[
    b"python-requests",
    b"python-urllib",
    b"python-httpx",
    b"python/",
    b"aiohttp",
    b"go-http-client",
    b"okhttp",
    b"apache-httpclient",
    b"java/",
    b"java-http-client",
    b"axios",
    b"node-fetch",
    b"node",
    b"undici",
    b"got ",
    b"reqwest",
    b"hyper/",
    b"ruby",
    b"faraday",
    b"guzzlehttp",
    b"dart:io",
    b"grpc-",
    b"libwww-perl",
    b"rest-client",
    b"vertx",
    b"reactor-netty",
];

/// Headers that only proxies and load balancers add (case-insensitive
/// names; those ending in `-` are prefixes).
const FORWARDING: &[&[u8]] = &[
    b"via",
    b"forwarded",
    b"x-forwarded-",
    b"x-real-ip",
    b"x-envoy-",
    b"x-amzn-trace-id",
    b"cf-connecting-ip",
    b"true-client-ip",
];

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Reads the headers in the captured part of a request head (after its
/// request line), stopping at the blank line.
pub fn request_head(payload: &[u8]) -> RequestMarks {
    request_head_end(payload).0
}

/// [`request_head`], and where the blank line that ends the head ends
/// (the reader thread cuts the bytes it carries there).
pub fn request_head_end(payload: &[u8]) -> (RequestMarks, Option<usize>) {
    let mut marks = RequestMarks::default();
    let Some(nl) = memchr::memchr(b'\n', payload) else {
        return (marks, None);
    };
    let mut at = nl + 1;
    let mut rest = &payload[at..];
    let mut head_end = None;
    while let Some(end) = memchr::memchr(b'\n', rest) {
        let line = &rest[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            marks.complete = true;
            head_end = Some(at + end + 1);
            break;
        }
        // The first letter rules out most headers, `Host` and `Accept`
        // among them, with one compare and before their colon is searched
        // for: every name below begins with one of these (and a line that
        // begins with its colon has no name).
        if matches!(line[0] | 0x20, b'c' | b'f' | b't' | b'u' | b'v' | b'x')
            && let Some((name, value)) = header(line)
        {
            if let Some(p) = ProxyMark::of_header(name) {
                // Istio outranks the Envoy inside it.
                marks.proxy = Some(match marks.proxy {
                    Some(ProxyMark::Istio) => ProxyMark::Istio,
                    _ => p,
                });
            }
            if name.eq_ignore_ascii_case(b"user-agent") {
                marks.agent = if LIBRARY_AGENTS.iter().any(|l| starts_with_ci(value, l)) {
                    Agent::Library
                } else {
                    Agent::Other
                };
            } else if FORWARDING.iter().any(|f| {
                // Names ending in `-` are prefixes; the others whole names.
                if f.ends_with(b"-") {
                    starts_with_ci(name, f)
                } else {
                    name.eq_ignore_ascii_case(f)
                }
            }) {
                marks.forwarded = true;
            }
        }
        rest = &rest[end + 1..];
        at += end + 1;
    }
    (marks, head_end)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_request_marks() {
        let m =
            request_head(b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: python-requests/2.31\r\n\r\n");
        assert_eq!(
            (m.forwarded, m.agent, m.complete),
            (false, Agent::Library, true)
        );
        let m = request_head(
            b"GET / HTTP/1.1\r\nx-forwarded-for: 1.2.3.4\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
        );
        assert_eq!((m.forwarded, m.agent), (true, Agent::Other));
        // `Via` is a whole name, `X-Envoy-` a prefix; a cut head is incomplete.
        assert!(request_head(b"GET / HTTP/1.1\r\nVia: 1.1 p\r\n\r\n").forwarded);
        assert!(!request_head(b"GET / HTTP/1.1\r\nViaduct: x\r\n\r\n").forwarded);
        assert!(request_head(b"GET / HTTP/1.1\r\nX-Envoy-Attempt-Count: 1\r\n\r\n").forwarded);
        let m = request_head(b"GET / HTTP/1.1\r\nHost: a\r\n");
        assert_eq!((m.agent, m.complete), (Agent::None, false));
        // The proxy the headers name: Istio outranks the Envoy inside it.
        let envoy = b"GET / HTTP/1.1\r\nx-envoy-expected-rq-timeout-ms: 15000\r\n\r\n";
        assert_eq!(request_head(envoy).proxy, Some(ProxyMark::Envoy));
        let istio = b"GET / HTTP/1.1\r\nx-forwarded-client-cert: By=spiffe://x\r\nx-envoy-attempt-count: 1\r\n\r\n";
        assert_eq!(request_head(istio).proxy, Some(ProxyMark::Istio));
        let alb = b"GET / HTTP/1.1\r\nX-Amzn-Trace-Id: Root=1-6\r\n\r\n";
        assert_eq!(request_head(alb).proxy, Some(ProxyMark::Alb));
        assert_eq!(
            request_head(b"GET / HTTP/1.1\r\nVia: 1.1 x\r\n\r\n").proxy,
            None
        );
    }
}
