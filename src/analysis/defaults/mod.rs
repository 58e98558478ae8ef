//! Known keep-alive defaults of servers, proxies and load balancers, matched
//! against measured timeouts, and the concrete fix for a mismatch.
//!
//! A measured idle close (say 6.00 s) means little to a reader until it is
//! named ("Node.js, 5000 ms keepAliveTimeout plus its 1000 ms buffer") and
//! turned into the line to paste. The values come from the project's
//! `docs/keepalive-defaults.md`, which cites the source file or document
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
    /// The configured value, ms: the software's default; when matched
    /// through its `Keep-Alive` header, the value that header advertises;
    /// when a [`Witness`] names software whose default does not match, the
    /// value the measured close implies.
    pub default_ms: u64,
    /// When the close shows up on the wire, ms after the last exchange.
    pub expected_close_ms: u64,
    /// One line, e.g. "6.00 s: Node.js http.Server keepAliveTimeout 5000 ms + 1000 ms buffer".
    pub note: String,
    /// What named this software besides the timing: a response header
    /// naming the product, or the `Keep-Alive` header; `None` for a match
    /// on the close alone.
    pub witness: Option<WitnessKind>,
    /// The table row it matched (the fix reads the row's fields).
    #[serde(skip)]
    pub row: &'static KnownDefault,
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
    /// Output of [`match_server_witnessed`] for `server_timeout_ms`, best first.
    pub matches: &'a [Candidate],
    /// Who sends the requests: a proxy, or a pool inside an application.
    pub client: ClientKind,
    /// Every client of the server was a loopback address: the capture is
    /// inside the server's pod, on the sidecar → app hop.
    pub inbound: bool,
    /// The server's connections speak HTTP/2 (h2c, gRPC): its knobs and
    /// the proxies' retries for refused streams are HTTP/2's.
    pub http2: bool,
    /// HTTP/2 races whose stream was above the server's GOAWAY's
    /// last-stream-id: never processed, safe to retry whatever the method.
    pub unprocessed_races: u64,
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
    /// NAT, conntrack or an L4 load balancer: forgets an idle flow, often
    /// without a FIN or RST (the next packet meets nothing, or an RST).
    Middlebox,
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
    /// How far above a close's `at_ms` its idle closes can spread, ms: a
    /// server that checks its deadlines once per poll closes anywhere in
    /// [`at_ms`, `at_ms + jitter_ms`] (gunicorn's gthread worker: up to one
    /// 1 s poll late). 0 when the closes are as sharp as the timer; the
    /// matching tolerance covers clocks and the capture point either way.
    pub jitter_ms: u64,
    /// Servers: tokens of a `Server` or `X-Powered-By` response header
    /// that name this software (a product token, compared without case:
    /// `Apache` in `Apache/2.4.71 (Debian)`); empty when its responses carry
    /// no mark of it by default, or the mark names other software too.
    pub marks: &'static [&'static str],
    /// The knob that changes it.
    pub knob: &'static str,
    /// Ready to paste; `{ms}`, `{s}` and `{dur}` (`5s`, `750ms`) stand for the new value.
    pub snippet: &'static str,
    /// Caveats: version differences, related knobs; may be empty.
    pub note: &'static str,
    /// How the reference confirmed the value.
    pub verified: Verified,
    /// Servers: the `Keep-Alive: timeout=N` it sends and how long after
    /// that value it closes; [`match_server_with_header`] names the row by it.
    pub advertises: Option<Advertised>,
    /// Proxies: the row's step in the proxy side of the fix.
    pub proxy_step: Option<ProxyStep>,
    /// Proxies: usually in front of a server; named when the proxies' own
    /// idle close was not seen.
    pub usual: Option<Usual>,
    /// Proxies: how it retries a request that failed on a reused connection.
    pub retries: Option<Retries>,
}

mod client;
mod fix;
mod h2;
#[cfg(test)]
mod pinned;
mod proxy;
mod recommend;
mod table;
mod text;
mod witness;

pub use client::ClientKind;
pub use fix::{Advertised, Caveat, Hop, ProxyFix, ProxyStep, Retries, Usual, When};
pub use recommend::recommend;
use table::{PROXIES, SERVERS};
pub use witness::{Witness, WitnessKind, match_server_witnessed};

/// The server rows of the table.
pub fn server_rows() -> &'static [KnownDefault] {
    SERVERS
}

/// The proxy, load-balancer and client-pool rows of the table.
pub fn proxy_rows() -> &'static [KnownDefault] {
    PROXIES
}

/// The HTTP/2 server rows (none closes idle by default).
pub fn h2_server_rows() -> &'static [KnownDefault] {
    h2::H2_SERVERS
}

/// The HTTP/2 proxy and client rows, with their retries of lost streams.
pub fn h2_proxy_rows() -> &'static [KnownDefault] {
    h2::H2_PROXIES
}

/// HTTP/2 servers whose default idle close matches `measured_ms`: HTTP/1
/// defaults say nothing of an h2 server (a 2 s close is not gunicorn's),
/// and no HTTP/2 server closes idle by default, so none today; a close
/// names a setting, and the fix lists the knobs.
pub fn match_h2_server(measured_ms: f64) -> Vec<Candidate> {
    match_rows(h2::H2_SERVERS, measured_ms)
}

/// How far a close may sit from a known value and still match it: clocks,
/// timer granularity and the capture point shift it by a few ms up to a few %.
fn tolerance_ms(measured_ms: f64) -> f64 {
    (measured_ms * 0.03).max(150.0)
}

/// How far `measured_ms` lies outside the spread of a close, ms (0 inside):
/// a row's closes come anywhere in [`at_ms`, `at_ms + jitter_ms`], so a
/// measured value there is as good a match as `at_ms` itself.
fn distance_ms(at_ms: u64, jitter_ms: u64, measured_ms: f64) -> f64 {
    // A NaN measurement is near nothing.
    if measured_ms.is_nan() {
        return f64::INFINITY;
    }
    let (lo, hi) = (at_ms as f64, (at_ms + jitter_ms) as f64);
    if measured_ms < lo {
        lo - measured_ms
    } else if measured_ms > hi {
        measured_ms - hi
    } else {
        0.0
    }
}

/// The rows of `rows` with a close within tolerance of `measured_ms` (or
/// of the row's jitter above it), one candidate per row (its closest close),
/// nearest close first, ties in table order.
fn match_rows(rows: &'static [KnownDefault], measured_ms: f64) -> Vec<Candidate> {
    if !measured_ms.is_finite() || measured_ms <= 0.0 {
        return Vec::new();
    }
    let tol = tolerance_ms(measured_ms);
    let mut found: Vec<(f64, usize, Candidate)> = Vec::new();
    for row in rows {
        // Accepted within the jitter above the close, ranked by the distance
        // from the close itself: a few ms of jitter must not reorder rows of
        // the same value, and a sharp close at the measured value is the
        // better explanation than the far end of another row's spread.
        let best = row
            .closes
            .iter()
            .enumerate()
            .filter(|(_, c)| distance_ms(c.at_ms, row.jitter_ms, measured_ms) <= tol)
            .map(|(i, c)| ((c.at_ms as f64 - measured_ms).abs(), i, c))
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
                    witness: None,
                    row,
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
/// a second witness: a server row that [`KnownDefault::advertises`] its
/// configured value closes its buffer after it, so a close that far above the
/// advertised value names that row even when the value is not its default
/// (Node.js: keepAliveTimeout plus its 1000 ms keepAliveTimeoutBuffer).
/// The same as [`match_server_witnessed`] with no [`Witness`].
pub fn match_server_with_header(measured_ms: f64, header_s: Option<u32>) -> Vec<Candidate> {
    match_server_witnessed(measured_ms, header_s, &Witness::default())
}

/// [`match_server`] with the `Keep-Alive` header's witness (see
/// [`match_server_with_header`]): the rows it names first, then the rest.
fn match_server_advertised(measured_ms: f64, header_s: Option<u32>) -> Vec<Candidate> {
    let mut out = match_server(measured_ms);
    let Some(h) = header_s else {
        return out;
    };
    let configured = u64::from(h) * 1000;
    let mut named = Vec::new();
    for row in SERVERS {
        let Some(adv) = row.advertises else {
            continue;
        };
        let close = configured + adv.buffer_ms;
        // Written so that a NaN measurement names nothing.
        let near = distance_ms(close, row.jitter_ms, measured_ms) <= tolerance_ms(measured_ms);
        if !near {
            continue;
        }
        out.retain(|c| !std::ptr::eq(c.row, row));
        named.push(Candidate {
            software: row.software,
            setting: row.knob,
            default_ms: configured,
            expected_close_ms: close,
            row,
            witness: Some(WitnessKind::KeepAliveHeader),
            note: adv
                .note
                .replace("{close}", &text::secs(close as f64))
                .replace("{configured}", &configured.to_string())
                .replace("{buffer}", &adv.buffer_ms.to_string())
                .replace("{header}", &h.to_string()),
        });
    }
    // Named by two witnesses, so ahead of the matches on the close alone.
    named.extend(out);
    named
}

/// The distinct close jitters of the server rows above 0, ms, ascending:
/// the widths a jittery server's closes can spread over.
pub fn server_jitters_ms() -> Vec<u64> {
    let mut j: Vec<u64> = SERVERS
        .iter()
        .map(|r| r.jitter_ms)
        .filter(|&j| j > 0)
        .collect();
    j.sort_unstable();
    j.dedup();
    j
}

/// Proxies, load balancers and client pools whose default idle close matches
/// `measured_ms` (a client-side FIN after idle), best match first.
pub fn match_proxy(measured_ms: f64) -> Vec<Candidate> {
    match_rows(PROXIES, measured_ms)
}

#[cfg(test)]
mod test {
    use super::text::secs;
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
            client: ClientKind::Unknown,
            inbound: false,
            http2: false,
            unprocessed_races: 0,
        }
    }

    /// An HTTP/2 server: no HTTP/1 default is matched to its close, the
    /// server step names the HTTP/2 knobs, and the retries step the
    /// proxies' retries of refused or unprocessed streams (POST included).
    #[test]
    fn test_h2_fix_names_the_http2_and_retry_knobs() {
        assert!(match_h2_server(2004.0).is_empty());
        let s = Situation {
            server_timeout_ms: Some(2004.0),
            keep_alive_header_s: None,
            reuse_window_ms: Some(1968.0),
            client_idle_ms: None,
            races: 8,
            retried_races: 0,
            mismatch: true,
            matches: &[],
            client: ClientKind::Unknown,
            inbound: false,
            http2: true,
            unprocessed_races: 8,
        };
        let recs = recommend(&s);
        let server = &recs[0];
        assert_eq!(server.side, "server");
        for knob in [
            "http2session.setTimeout()",
            "IdleTimeout",
            "MaxConnectionIdle",
        ] {
            assert!(server.text.contains(knob), "{knob}: {}", server.text);
        }
        let retries = recs.last().unwrap();
        assert_eq!(retries.side, "retries");
        assert!(
            retries
                .text
                .contains("8 of them were above the server's GOAWAY last-stream-id")
        );
        for knob in [
            "retry-on conn-failure empty-response",
            "refused-stream",
            "non_idempotent",
        ] {
            assert!(retries.text.contains(knob), "{knob}: {}", retries.text);
        }
        assert!(snip(retries).contains("retry-on conn-failure empty-response"));
        // The HTTP/1 wording (idempotent requests only) is not given.
        assert!(!retries.text.contains("A POST cannot be retried safely"));
    }

    /// On the sidecar → app hop (every client a loopback address) the
    /// proxy steps name the sidecar's inbound pool, not the outbound knobs
    /// of a DestinationRule, a gateway's Envoy or nginx.
    #[test]
    fn test_inbound_hop_names_the_inbound_knob() {
        let m = match_server(6000.0);
        let outbound = recommend(&situation(&m));
        let inbound = recommend(&Situation {
            inbound: true,
            http2: false,
            unprocessed_races: 0,
            ..situation(&m)
        });
        let proxy = |recs: &[Recommendation]| -> Vec<String> {
            recs.iter()
                .filter(|r| r.side == "proxy")
                .map(|r| r.text.clone())
                .collect()
        };
        let (o, i) = (proxy(&outbound), proxy(&inbound));
        assert!(o.iter().any(|t| t.contains("DestinationRule")), "{o:?}");
        assert!(!o.iter().any(|t| t.contains("inboundConnectionPool")));
        assert_eq!(i.len(), 1, "{i:?}");
        assert!(i[0].contains("Sidecar spec.inboundConnectionPool.http.idleTimeout to 5 s"));
        assert!(
            i[0].starts_with("Lower the proxy's upstream idle timeout below the server's 6.00 s")
        );
        let snippet = inbound
            .iter()
            .find(|r| r.side == "proxy")
            .and_then(|r| r.snippet.as_deref())
            .unwrap();
        assert!(snippet.contains("kind: Sidecar") && snippet.contains("idleTimeout: 5s"));
        assert!(snippet.contains("ISTIO_META_IDLE_TIMEOUT"));
        // The retry patch applies to gateway traffic too, in the user's own route.
        let retries = inbound.iter().find(|r| r.side == "retries").unwrap();
        let r = snip(retries);
        assert!(r.contains("gateways:") && r.contains("- mesh"), "{r}");
        assert!(
            !r.contains("kind: VirtualService"),
            "a patch, not a second VirtualService"
        );
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
    fn test_gunicorn_jitter_spread_matches() {
        // --keep-alive 2 with gthread: closes anywhere in 2.0–3.0 s.
        for ms in [1_900.0, 2_500.0, 3_100.0] {
            assert!(
                match_server(ms).iter().any(|c| c.software == "gunicorn"),
                "{ms}"
            );
        }
        assert!(
            match_server(3_200.0)
                .iter()
                .all(|c| c.software != "gunicorn")
        );
        // A sharp close at the measured value outranks another row's spread.
        assert_eq!(server_jitters_ms().last(), Some(&1_000));
        assert!(match_server_with_header(f64::NAN, Some(5)).is_empty());
    }

    #[test]
    fn test_library_client_side() {
        let matches = match_server(2003.0);
        let mut s = situation(&matches);
        s.server_timeout_ms = Some(2003.0);
        s.keep_alive_header_s = None;
        s.reuse_window_ms = Some(1_900.0);
        s.client = ClientKind::Library;
        let recs = recommend(&s);
        let sides: Vec<_> = recs.iter().map(|r| r.side).collect();
        assert_eq!(sides[0], "server");
        assert!(!sides.contains(&"proxy"), "{sides:?}");
        assert!(sides[1..sides.len() - 1].iter().all(|s| *s == "client"));
        let all: String = recs.iter().map(|r| r.text.as_str()).collect();
        // No proxy's knobs, the libraries' instead.
        for proxy in ["Istio", "Envoy", "HAProxy", "nginx"] {
            assert!(!all.contains(proxy), "{proxy}: {all}");
        }
        for knob in [
            "Transport.IdleConnTimeout",
            "http.Agent",
            "freeSocketTimeout",
            "evictIdleConnections",
            "ConnectionPool",
            "urllib3",
            "RemoteDisconnected",
        ] {
            assert!(all.contains(knob), "{knob}");
        }
        assert!(
            recs[0].text.contains("client pool's idle timeout"),
            "{}",
            recs[0].text
        );
        assert!(
            recs[1]
                .text
                .starts_with("The requests come from a connection pool")
        );
        assert!(recs[1].text.contains("at 1 s"), "{}", recs[1].text);
        let retries = recs.last().unwrap();
        assert!(retries.text.contains("urllib3 Retry"), "{}", retries.text);
        assert!(snip(retries).contains("HTTPAdapter(max_retries=Retry(total=2))"));
        // Proxy and Unknown keep the proxy wording.
        s.client = ClientKind::Proxy;
        let proxy = recommend(&s);
        s.client = ClientKind::Unknown;
        assert_eq!(proxy, recommend(&s));
        assert!(proxy.iter().any(|r| r.side == "proxy"));
        assert_eq!(ClientKind::Library.name(), "client_library");
    }

    #[test]
    fn test_named_server_says_so() {
        let w = Witness {
            server_header: Some("Apache/2.4.71 (Debian)"),
            powered_by: None,
        };
        let matches = match_server_witnessed(2003.0, None, &w);
        let mut s = situation(&matches);
        s.server_timeout_ms = Some(2003.0);
        s.keep_alive_header_s = None;
        let recs = recommend(&s);
        assert!(
            recs[0]
                .text
                .contains("Its Server header names Apache httpd 2.x: set KeepAliveTimeout to"),
            "{}",
            recs[0].text
        );
        assert_eq!(snip(&recs[0]), "KeepAliveTimeout 65");
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
