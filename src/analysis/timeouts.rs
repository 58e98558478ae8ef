//! Both sides of the timeout chain, measured from the packets: how long each
//! server endpoint lets a keep-alive connection sit idle before its FIN, how
//! long clients keep idle connections and reuse them, and whether the two are
//! in the wrong order.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::Serialize;

use super::defaults::{self, Candidate, Recommendation};
use crate::flow::Endpoint;
use crate::report::ms;

/// Samples kept per distribution; beyond it a deterministic reservoir keeps a
/// uniform sample, so memory stays bounded on endless live captures.
const MAX_SAMPLES: usize = 4_000;

/// A server FIN this soon after the last payload is a close after the
/// response (keep-alive off, or `Connection: close` not captured), not an
/// idle timeout.
pub const MIN_IDLE_CLOSE_NS: i64 = 50_000_000;

/// Idle gaps (ns), bounded.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<i64>,
    seen: u64,
    rng: u64,
}

impl Samples {
    /// Adds a sample.
    pub fn push(&mut self, v: i64) {
        self.seen += 1;
        if self.values.len() < MAX_SAMPLES {
            self.values.push(v);
            return;
        }
        // Algorithm R with a fixed-seed xorshift: same input, same report.
        self.rng ^= self.rng << 13 | 0x9E37_79B9;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // A uniform index below `seen` by multiplying, not dividing.
        let j = ((u128::from(self.rng) * u128::from(self.seen)) >> 64) as u64;
        if (j as usize) < MAX_SAMPLES {
            self.values[j as usize] = v;
        }
    }

    /// Number of samples seen (not only kept).
    pub fn count(&self) -> u64 {
        self.seen
    }

    /// Largest kept sample.
    pub fn max(&self) -> Option<i64> {
        self.values.iter().copied().max()
    }

    /// Summary statistics, robust to outliers.
    pub fn stats(&self) -> Option<Distribution> {
        if self.values.is_empty() {
            return None;
        }
        let mut v = self.values.clone();
        v.sort_unstable();
        let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let median = pct(0.5);
        // The densest cluster: the window of width max(20 ms, 1 %) starting
        // at some sample that holds the most samples. A configured timeout puts
        // most closes in it; application closes and slow requests fall outside.
        let (mut best_lo, mut best_hi) = (0usize, 0usize);
        let mut hi = 0usize;
        for lo in 0..v.len() {
            let width = (v[lo] / 100).max(20_000_000);
            if hi < lo {
                hi = lo;
            }
            while hi + 1 < v.len() && v[hi + 1].saturating_sub(v[lo]) <= width {
                hi += 1;
            }
            if hi - lo > best_hi - best_lo {
                best_lo = lo;
                best_hi = hi;
            }
        }
        let cluster = &v[best_lo..=best_hi];
        let cluster_median = cluster[cluster.len() / 2];
        let tight = v.len() >= 2 && cluster.len() * 10 >= v.len() * 8 || v.len() == 1;
        Some(Distribution {
            n: self.seen,
            median_ms: ms(median),
            min_ms: ms(v[0]),
            max_ms: ms(v[v.len() - 1]),
            p5_ms: ms(pct(0.05)),
            p95_ms: ms(pct(0.95)),
            tight,
            estimate_ms: ms(if tight { cluster_median } else { median }),
            cluster_n: cluster.len() as u64,
            cluster_min_ms: ms(cluster[0]),
            cluster_max_ms: ms(cluster[cluster.len() - 1]),
        })
    }
}

/// A distribution of idle gaps.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distribution {
    pub n: u64,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub p5_ms: f64,
    pub p95_ms: f64,
    /// At least 80 % of the values sit in one narrow cluster (a configured
    /// timeout), rather than spread out (application closes).
    pub tight: bool,
    /// The best single value: the cluster's median when tight, else the median.
    pub estimate_ms: f64,
    /// The densest cluster: its size and range.
    pub cluster_n: u64,
    pub cluster_min_ms: f64,
    pub cluster_max_ms: f64,
}

/// Per client (IP) of one server.
#[derive(Debug, Clone, Default)]
struct ClientStats {
    reuse: Samples,
    closes: Samples,
}

/// Everything measured about one server endpoint.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// Idle gaps that ended in this server's FIN.
    pub idle_closes: Samples,
    /// Server FINs right after a response (no keep-alive).
    pub closes_after_response: u64,
    /// Idle gaps after which a client sent a request and got an answer.
    pub reuse: Samples,
    /// Idle gaps before client FINs (the client's own idle timeout).
    pub client_closes: Samples,
    /// Longest idle gap a connection survived open (reuse, or open at the end).
    pub stayed_open_ns: i64,
    /// Requests on reused connections (answered or lost).
    pub reused_requests: u64,
    /// `Keep-Alive: timeout=N` values seen, with counts.
    pub keep_alive: BTreeMap<u32, u64>,
    /// Handshake round trips (SYN to the client's ACK), ns.
    pub rtt: Samples,
    pub connections: u64,
    pub races: u64,
    pub retried_races: u64,
    /// Gaps FIN → reuse of the races.
    pub fin_to_reuse: Samples,
    /// Per client IP (hashed; sorted when the report is built).
    by_client: HashMap<IpAddr, ClientStats, foldhash::fast::RandomState>,
}

impl ServerStats {
    /// A client's own statistics, while fewer than [`MAX_CLIENTS`] are kept.
    fn client(&mut self, ip: IpAddr) -> Option<&mut ClientStats> {
        if self.by_client.len() >= MAX_CLIENTS && !self.by_client.contains_key(&ip) {
            return None;
        }
        Some(self.by_client.entry(ip).or_default())
    }
}

/// Server endpoints tracked. A scan or a flood to random ports would
/// otherwise make one entry per target; beyond this, connections to new
/// endpoints still get verdicts but no timeout statistics.
pub const MAX_SERVERS: usize = 1_000;

/// Clients (IPs) of one server with statistics of their own; the server's
/// totals count every client.
pub const MAX_CLIENTS: usize = 64;

/// Timeout evidence for every server endpoint.
#[derive(Debug, Default)]
pub struct Timeouts {
    servers: HashMap<Endpoint, usize, foldhash::fast::RandomState>,
    /// The stats, by the index `servers` gives: most captures hit one or a
    /// few servers, and the last one used is looked up without hashing.
    stats: Vec<ServerStats>,
    last: Option<(Endpoint, usize)>,
    /// Where samples for endpoints beyond [`MAX_SERVERS`] go (never reported).
    overflow: ServerStats,
    /// Look-ups for endpoints beyond [`MAX_SERVERS`] (the report warns when
    /// there were any).
    pub untracked: u64,
}

impl Timeouts {
    /// The stats of a server, created on first use (while fewer than
    /// [`MAX_SERVERS`] are tracked).
    pub fn server(&mut self, ep: Endpoint) -> &mut ServerStats {
        if let Some((last, i)) = self.last
            && last == ep
        {
            return &mut self.stats[i];
        }
        let i = match self.servers.get(&ep) {
            Some(&i) => i,
            None if self.servers.len() >= MAX_SERVERS => {
                self.untracked += 1;
                self.overflow = ServerStats::default();
                return &mut self.overflow;
            }
            None => {
                self.stats.push(ServerStats::default());
                self.servers.insert(ep, self.stats.len() - 1);
                self.stats.len() - 1
            }
        };
        self.last = Some((ep, i));
        &mut self.stats[i]
    }

    /// A request after an idle gap, answered.
    pub fn reuse(&mut self, server: Endpoint, client: IpAddr, gap_ns: i64) {
        let s = self.server(server);
        s.reuse.push(gap_ns);
        s.stayed_open_ns = s.stayed_open_ns.max(gap_ns);
        if let Some(c) = s.client(client) {
            c.reuse.push(gap_ns);
        }
    }

    /// A client FIN after an idle gap.
    pub fn client_close(&mut self, server: Endpoint, client: IpAddr, gap_ns: i64) {
        let s = self.server(server);
        s.client_closes.push(gap_ns);
        if let Some(c) = s.client(client) {
            c.closes.push(gap_ns);
        }
    }

    /// Builds the per-server part of the report, sorted by endpoint.
    pub fn report(&self) -> Vec<ServerReport> {
        let mut eps: Vec<(&Endpoint, &usize)> = self.servers.iter().collect();
        eps.sort();
        eps.into_iter()
            .map(|(ep, &i)| server_report(*ep, &self.stats[i]))
            .collect()
    }
}

/// What is known about one client of a server.
#[derive(Debug, Clone, Serialize)]
pub struct ClientReport {
    pub client: String,
    pub reuse_window_ms: Option<f64>,
    pub reuse_gaps: Option<Distribution>,
    pub idle_before_client_fin: Option<Distribution>,
}

/// One server endpoint's timeouts, the mismatch, and the fix.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub endpoint: String,
    pub connections: u64,
    /// Idle gaps that ended in this server's FIN.
    pub idle_timeout: Option<Distribution>,
    /// When no idle close was seen: the longest idle gap that stayed open.
    pub idle_timeout_longer_than_ms: Option<f64>,
    pub closes_after_response: u64,
    /// `Keep-Alive: timeout=N` the server advertised (most frequent), seconds.
    pub keep_alive_header_s: Option<u32>,
    /// The header and the measured closes disagree by more than a second
    /// beyond the known buffers.
    pub keep_alive_header_disagrees: bool,
    /// Longest idle gap after which a client reused a connection and got an answer.
    pub reuse_window_ms: Option<f64>,
    pub reuse_gaps: Option<Distribution>,
    /// Idle gaps before client FINs (the proxy's own idle timeout).
    pub idle_before_client_fin: Option<Distribution>,
    pub reused_requests: u64,
    pub races: u64,
    pub retried_races: u64,
    /// Races per reused request.
    pub race_rate: Option<f64>,
    /// Reuses within one RTT of the server timeout or beyond it.
    pub reuses_in_danger_window: u64,
    pub rtt_ms: Option<f64>,
    pub fin_to_reuse: Option<Distribution>,
    /// Clients reuse connections idle longer than the server keeps them, or races were seen.
    pub mismatch: bool,
    /// Software whose defaults match the measured timeout.
    pub matches: Vec<Candidate>,
    pub recommendations: Vec<Recommendation>,
    pub clients: Vec<ClientReport>,
}

fn server_report(ep: Endpoint, s: &ServerStats) -> ServerReport {
    let idle = s.idle_closes.stats();
    let reuse = s.reuse.stats();
    let rtt = s.rtt.stats().map(|d| d.median_ms);
    let keep_alive_header_s = s
        .keep_alive
        .iter()
        .max_by_key(|(v, n)| (**n, std::cmp::Reverse(**v)))
        .map(|(v, _)| *v);
    let server_ms = idle.as_ref().map(|d| d.estimate_ms);
    let keep_alive_header_disagrees = match (keep_alive_header_s, server_ms) {
        // Node.js adds a 1 s buffer to what it advertises; allow for it.
        (Some(h), Some(m)) => {
            let h = h as f64 * 1000.0;
            !(m >= h - 250.0 && m <= h + 1250.0)
        }
        _ => false,
    };
    let danger = match server_ms {
        Some(t) => {
            let edge = t - rtt.unwrap_or(0.0);
            s.reuse.values.iter().filter(|&&g| ms(g) >= edge).count() as u64
        }
        None => 0,
    };
    let reuse_window_ms = s.reuse.max().map(ms);
    let mismatch =
        s.races > 0 || matches!((reuse_window_ms, server_ms), (Some(r), Some(t)) if r >= t);
    let client_fin = s.client_closes.stats();
    let matches = server_ms.map_or_else(Vec::new, |t| {
        defaults::match_server_with_header(t, keep_alive_header_s)
    });
    let recommendations = defaults::recommend(&defaults::Situation {
        server_timeout_ms: server_ms,
        keep_alive_header_s,
        reuse_window_ms,
        client_idle_ms: client_fin.as_ref().map(|d| d.estimate_ms),
        races: s.races,
        retried_races: s.retried_races,
        mismatch,
        matches: &matches,
    });
    ServerReport {
        endpoint: ep.to_string(),
        connections: s.connections,
        idle_timeout_longer_than_ms: if idle.is_none() && s.stayed_open_ns > 0 {
            Some(ms(s.stayed_open_ns))
        } else {
            None
        },
        idle_timeout: idle,
        closes_after_response: s.closes_after_response,
        keep_alive_header_s,
        keep_alive_header_disagrees,
        reuse_window_ms,
        reuse_gaps: reuse,
        idle_before_client_fin: client_fin,
        reused_requests: s.reused_requests,
        races: s.races,
        retried_races: s.retried_races,
        // Races per reused request (a race on a connection's first request
        // is counted as a reuse too, so the rate never exceeds 1).
        race_rate: (s.reused_requests.max(s.races) > 0).then(|| {
            (s.races as f64 / s.reused_requests.max(s.races) as f64 * 10_000.0).round() / 10_000.0
        }),
        reuses_in_danger_window: danger,
        rtt_ms: rtt,
        fin_to_reuse: s.fin_to_reuse.stats(),
        mismatch,
        matches,
        recommendations,
        clients: {
            let mut clients: Vec<(&IpAddr, &ClientStats)> = s.by_client.iter().collect();
            clients.sort_by_key(|(ip, _)| **ip);
            clients
        }
        .into_iter()
        .map(|(ip, c)| ClientReport {
            client: ip.to_string(),
            reuse_window_ms: c.reuse.max().map(ms),
            reuse_gaps: c.reuse.stats(),
            idle_before_client_fin: c.closes.stats(),
        })
        .collect(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn samples(ms_values: &[f64]) -> Samples {
        let mut s = Samples::default();
        for v in ms_values {
            s.push((v * 1e6) as i64);
        }
        s
    }

    #[test]
    fn test_tight_cluster_with_outliers() {
        let d = samples(&[
            5001.0, 5003.5, 5000.2, 5002.0, 5004.0, 1200.0, 5001.1, 5002.2, 5000.9, 5003.0,
        ])
        .stats()
        .unwrap();
        assert!(d.tight);
        assert_eq!(d.n, 10);
        assert_eq!(d.cluster_n, 9);
        assert!((d.estimate_ms - 5002.0).abs() < 1.5, "{d:?}");
        assert_eq!(d.min_ms, 1200.0);
    }

    #[test]
    fn test_spread_is_not_tight() {
        let d = samples(&[100.0, 900.0, 2000.0, 3500.0, 7000.0])
            .stats()
            .unwrap();
        assert!(!d.tight);
        assert_eq!(d.estimate_ms, d.median_ms);
    }

    #[test]
    fn test_reservoir_is_bounded() {
        let mut s = Samples::default();
        for i in 0..(MAX_SAMPLES as i64 * 3) {
            s.push(i);
        }
        assert_eq!(s.values.len(), MAX_SAMPLES);
        assert_eq!(s.count(), MAX_SAMPLES as u64 * 3);
    }
}
