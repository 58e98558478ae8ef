//! The per-server part of the report: both sides of the timeout chain as
//! the analysis assessed them, in the report's units. The mismatch and the
//! fix come decided ([`Assessed`]); this file only converts them.

use std::net::IpAddr;

use serde::Serialize;

use super::histogram::Histogram;
use crate::analysis::assess::Assessed;
use crate::analysis::defaults::{Candidate, Recommendation};
use crate::analysis::samples::Stats;
use crate::analysis::software::ClientKind;
use crate::analysis::tls::TlsSeen;
use crate::app::marks::ProxyMark;
use crate::flow::Endpoint;
use crate::units::Millis;

/// A distribution of idle gaps.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    pub n: u64,
    pub median_ms: Millis,
    pub min_ms: Millis,
    pub max_ms: Millis,
    pub p5_ms: Millis,
    pub p95_ms: Millis,
    /// At least 80 % of the values sit in one narrow cluster (a configured
    /// timeout), rather than spread out (application closes).
    pub tight: bool,
    /// The best single value: the cluster's median when tight, else the median.
    pub estimate_ms: Millis,
    /// The densest cluster: its size and range.
    pub cluster_n: u64,
    pub cluster_min_ms: Millis,
    pub cluster_max_ms: Millis,
}

impl Distribution {
    /// Client closes that are the client's idle timeout, not one exit or
    /// closes spread out ([`crate::analysis::samples::client_timeout`]).
    pub fn is_client_timeout(&self) -> bool {
        crate::analysis::samples::client_timeout(self.tight, self.cluster_n)
    }
}

impl From<Stats> for Distribution {
    fn from(s: Stats) -> Distribution {
        Distribution {
            n: s.n,
            median_ms: Millis(s.median_ns),
            min_ms: Millis(s.min_ns),
            max_ms: Millis(s.max_ns),
            p5_ms: Millis(s.p5_ns),
            p95_ms: Millis(s.p95_ns),
            tight: s.tight,
            estimate_ms: Millis(s.estimate_ns),
            cluster_n: s.cluster_n,
            cluster_min_ms: Millis(s.cluster_min_ns),
            cluster_max_ms: Millis(s.cluster_max_ns),
        }
    }
}

/// What is known about one client of a server.
#[derive(Debug, Clone, Serialize)]
pub struct ClientReport {
    pub client: IpAddr,
    pub reuse_window_ms: Option<Millis>,
    pub reuse_gaps: Option<Distribution>,
    pub idle_before_client_fin: Option<Distribution>,
}

/// What a server's TLS handshakes said, for a server that spoke TLS.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReport {
    /// Its connections that spoke TLS.
    pub connections: u64,
    /// Versions it chose ("1.2", "1.3"), most frequent first.
    pub versions: Vec<&'static str>,
    /// Server names clients asked for (SNI), most frequent first.
    pub sni: Vec<String>,
    /// Protocols clients offered (ALPN: "h2", "http/1.1"), most frequent first.
    pub alpn_offered: Vec<String>,
}

impl TlsReport {
    fn new(t: &TlsSeen) -> Option<TlsReport> {
        if t.connections == 0 {
            return None;
        }
        let mut versions: Vec<_> = t.versions.iter().collect();
        versions.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        Some(TlsReport {
            connections: t.connections,
            versions: versions.into_iter().map(|(v, _)| *v).collect(),
            sni: t.sni.ranked(),
            alpn_offered: t.alpn_offered.ranked(),
        })
    }
}

/// One server endpoint's timeouts, the mismatch, and the fix.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub endpoint: Endpoint,
    pub connections: u64,
    /// Idle gaps that ended in this server's FIN.
    pub idle_timeout: Option<Distribution>,
    /// When no idle close was seen: the longest idle gap that stayed open.
    pub idle_timeout_longer_than_ms: Option<Millis>,
    pub closes_after_response: u64,
    /// Closes and resets whose cause is not the idle timer, and so no
    /// idle-timeout samples (absent when there were none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_causes: Option<OtherCauses>,
    /// `Keep-Alive: timeout=N` the server advertised (most frequent), seconds.
    pub keep_alive_header_s: Option<u32>,
    /// The header and the measured closes disagree by more than a second
    /// beyond the known buffers.
    pub keep_alive_header_disagrees: bool,
    /// Longest idle gap after which a client reused a connection and got an answer.
    pub reuse_window_ms: Option<Millis>,
    pub reuse_gaps: Option<Distribution>,
    /// Idle gaps before client FINs (the proxy's own idle timeout).
    pub idle_before_client_fin: Option<Distribution>,
    /// Requests sent to it (the first of each connection and every reuse).
    pub requests: u64,
    pub reused_requests: u64,
    pub races: u64,
    pub retried_races: u64,
    /// Races whose request line could not be read, so whether they were
    /// retried is unknown (neither in `retried_races` nor counted as not retried).
    pub retried_unknown: u64,
    /// Races per reused request.
    pub race_rate: Option<f64>,
    /// Reuses within one RTT of the server timeout or beyond it.
    pub reuses_in_danger_window: u64,
    pub rtt_ms: Option<Millis>,
    pub fin_to_reuse: Option<Distribution>,
    /// Clients reuse connections idle longer than the server keeps them, or races were seen.
    pub mismatch: bool,
    /// The most frequent `Server` and `X-Powered-By` response header values.
    pub server_header: Option<String>,
    pub powered_by: Option<String>,
    /// What sends the requests: `proxy`, `client_library` or `unknown`.
    pub client_kind: ClientKind,
    /// The proxy the requests' own headers name (`envoy`, `istio`, `alb`):
    /// `x-envoy-*`, `x-forwarded-client-cert` or `x-envoy-peer-metadata`,
    /// `X-Amzn-Trace-Id`. Null when none did.
    pub proxy_headers: Option<ProxyMark>,
    /// Software whose defaults match the measured timeout.
    pub matches: Vec<Candidate>,
    pub recommendations: Vec<Recommendation>,
    pub clients: Vec<ClientReport>,
    /// Its TLS names and versions; none for a server that spoke no TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsReport>,
    /// Its idle closes and the reuse gaps in shared bins, and the samples
    /// near the close (the HTML report's histogram and strip plot).
    pub histogram: Option<Histogram>,
}

/// A server's closes and resets of causes other than its idle timer.
#[derive(Debug, Clone, Serialize)]
pub struct OtherCauses {
    /// Idle closes in a restart's burst (many connections within
    /// milliseconds at scattered idle ages).
    pub restart_closes: u64,
    /// Races whose FIN was one of those (not in `races`).
    pub restart_races: u64,
    /// Resets at a request, with no FIN, whose idle age did not fit the
    /// server's idle closes: `server_reset` findings, not races.
    pub application_resets: u64,
}

/// One server's part of the report, from what the analysis decided.
pub fn server_report(server: Assessed<'_>) -> ServerReport {
    let Assessed {
        endpoint,
        stats: s,
        assessment: a,
    } = server;
    let histogram = Histogram::new(
        s.idle_closes.values(),
        s.reuse.values(),
        a.idle.as_ref().map(|d| d.estimate_ns),
    );
    ServerReport {
        endpoint,
        connections: s.connections,
        idle_timeout_longer_than_ms: (a.idle.is_none() && s.stayed_open_ns > 0)
            .then_some(Millis(s.stayed_open_ns)),
        idle_timeout: a.idle.map(Distribution::from),
        closes_after_response: s.closes_after_response,
        other_causes: (s.restart_closes + s.application_resets > 0).then_some(OtherCauses {
            restart_closes: s.restart_closes,
            restart_races: s.restart_races,
            application_resets: s.application_resets,
        }),
        keep_alive_header_s: a.keep_alive_header_s,
        keep_alive_header_disagrees: a.header_disagrees,
        reuse_window_ms: a.reuse_window_ns.map(Millis),
        reuse_gaps: a.reuse.map(Distribution::from),
        idle_before_client_fin: a.client_fin.map(Distribution::from),
        requests: s.requests,
        reused_requests: s.reused_requests,
        races: s.races,
        retried_races: s.retried_races,
        retried_unknown: s.unknown_retry_races,
        race_rate: a.race_rate,
        reuses_in_danger_window: a.reuses_in_danger_window,
        rtt_ms: a.rtt_ns.map(Millis),
        fin_to_reuse: s.fin_to_reuse.stats().map(Distribution::from),
        mismatch: a.mismatch,
        server_header: a.server_header.clone(),
        powered_by: a.powered_by.clone(),
        client_kind: a.client_kind,
        proxy_headers: s.proxy_mark(),
        matches: a.matches,
        recommendations: a.recommendations,
        clients: s
            .clients()
            .into_iter()
            .map(|(ip, c)| ClientReport {
                client: ip,
                reuse_window_ms: c.reuse.max().map(Millis),
                reuse_gaps: c.reuse.stats().map(Distribution::from),
                idle_before_client_fin: c.closes.stats().map(Distribution::from),
            })
            .collect(),
        tls: TlsReport::new(&s.tls),
        histogram,
    }
}
