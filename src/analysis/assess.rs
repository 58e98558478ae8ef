//! What one server's measurements say: its idle timeout read from the
//! samples (a close jitter the software explains included), the clients'
//! reuse window, whether the two are in the wrong order, and the fix —
//! with the witnesses the traffic gave (the software's headers, what sends
//! the requests). The fix is decided here, for every server, before the
//! report is built: the report converts an [`Assessed`] server into its
//! model and decides nothing.

use super::defaults::{self, Candidate, ClientKind, Recommendation, Witness};
use super::samples::Stats;
use super::timeouts::{ServerStats, Timeouts};
use crate::flow::Endpoint;
use crate::units::{NS_PER_MS, ms};

/// One server the capture saw, with what the analysis decided about it.
#[derive(Debug, Clone)]
pub struct Assessed<'a> {
    /// The server's address and port.
    pub endpoint: Endpoint,
    /// Its counts and samples, which the report converts as they are.
    pub stats: &'a ServerStats,
    /// What the samples say: its timeout, the mismatch and the fix.
    pub assessment: Assessment,
}

impl Timeouts {
    /// Every server with a connection, in endpoint order, assessed: the
    /// mismatch and the fix of each, decided before the report is built.
    /// (A server's entry can exist without a connection counted: it is no
    /// server the report lists.)
    pub fn assessed(&self) -> Vec<Assessed<'_>> {
        self.servers()
            .into_iter()
            .filter(|(_, s)| s.connections > 0)
            .map(|(endpoint, stats)| Assessed {
                endpoint,
                stats,
                assessment: stats.assess(),
            })
            .collect()
    }
}

/// What the measurements of one server say: the distributions, the
/// mismatch and the fix.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Idle gaps that ended in the server's FIN.
    pub idle: Option<Stats>,
    /// Idle gaps after which clients reused a connection and got an answer.
    pub reuse: Option<Stats>,
    /// Idle gaps before client FINs, every one of them.
    pub client_fin: Option<Stats>,
    /// The same when they are the proxy's own idle timeout: repeated, in
    /// one cluster ([`super::samples::client_timeout`]); the fix reads only
    /// this.
    pub client_timeout: Option<Stats>,
    /// Median handshake round trip, ns.
    pub rtt_ns: Option<i64>,
    /// What sends the requests.
    pub client_kind: ClientKind,
    /// The `Server` and `X-Powered-By` values (most frequent).
    pub server_header: Option<String>,
    pub powered_by: Option<String>,
    /// `Keep-Alive: timeout=N` the server advertised (most frequent), seconds.
    pub keep_alive_header_s: Option<u32>,
    /// The header and the measured closes disagree by more than a second
    /// beyond the known buffers.
    pub header_disagrees: bool,
    /// Longest idle gap after which a client reused a connection and got an answer.
    pub reuse_window_ns: Option<i64>,
    /// Reuses within one RTT of the server timeout or beyond it.
    pub reuses_in_danger_window: u64,
    /// Races per reused request.
    pub race_rate: Option<f64>,
    /// Clients reuse connections idle longer than the server keeps them, or
    /// races were seen.
    pub mismatch: bool,
    /// Software whose defaults match the measured timeout.
    pub matches: Vec<Candidate>,
    pub recommendations: Vec<Recommendation>,
}

impl ServerStats {
    /// Reads the timeouts from the samples and decides the mismatch and fix,
    /// with the witnesses the traffic gave: the `Server` and `X-Powered-By`
    /// values of the server's responses, and what sends its requests.
    pub fn assess(&self) -> Assessment {
        let witness = Witness {
            server_header: self.marks.server.most(),
            powered_by: self.marks.powered_by.most(),
        };
        let client = self.client_kind.unwrap_or(ClientKind::Unknown);
        self.assess_witnessed(&witness, client)
    }

    /// The server's idle closes as one timeout. A spread that is no narrow
    /// cluster can still be one timeout: a server that checks its deadlines
    /// once per poll closes anywhere up to one poll after it (gunicorn
    /// gthread: 2.0–3.0 s for `--keep-alive 2`, issue 12). So, when the plain
    /// estimator finds no cluster, each known jitter widens the window; the
    /// first that gathers a cluster whose lower edge a row with at least that
    /// jitter matches (by timing or by the witness) gives the estimate, the
    /// lower edge (the configured timeout). Otherwise the closes stay
    /// "spread out": application closes, not one timeout.
    fn idle_stats(&self, header_s: Option<u32>, witness: &Witness<'_>) -> Option<Stats> {
        let plain = self.idle_closes.stats()?;
        if plain.tight {
            return Some(plain);
        }
        for jitter_ms in defaults::server_jitters_ms() {
            let Some(d) = self
                .idle_closes
                .stats_spread(jitter_ms as i64 * NS_PER_MS)
                .filter(|d| d.tight)
            else {
                continue;
            };
            // A row a response header names is the only one whose jitter
            // may explain the spread: another software's jitter (gunicorn's
            // poll) must not turn an Apache's noise into a timeout.
            let found = defaults::match_server_witnessed(ms(d.estimate_ns), header_s, witness);
            let named: Vec<_> = found
                .iter()
                .filter(|c| {
                    matches!(
                        c.witness,
                        Some(
                            defaults::WitnessKind::ServerHeader | defaults::WitnessKind::PoweredBy
                        )
                    )
                })
                .collect();
            let explained = if named.is_empty() {
                found.iter().any(|c| c.row.jitter_ms >= jitter_ms)
            } else {
                named.iter().any(|c| c.row.jitter_ms >= jitter_ms)
            };
            if explained {
                return Some(d);
            }
        }
        Some(plain)
    }

    /// [`assess`](Self::assess), with the marks of the server's software
    /// in its responses (they put the row they name first, and can explain
    /// a jittery spread) and who sends the requests (a library's pool gets
    /// a client-side fix instead of the proxy side).
    pub fn assess_witnessed(&self, witness: &Witness<'_>, client: ClientKind) -> Assessment {
        let keep_alive_header_s = self
            .keep_alive
            .iter()
            .max_by_key(|(v, n)| (**n, std::cmp::Reverse(**v)))
            .map(|(v, _)| *v);
        let idle = self.idle_stats(keep_alive_header_s, witness);
        let rtt_ns = self.rtt.stats().map(|d| d.median_ns);
        let server_ns = idle.map(|d| d.estimate_ns);
        let header_disagrees = match (keep_alive_header_s, server_ns) {
            // Node.js adds a 1 s buffer to what it advertises, and the
            // header floors the configured value to whole seconds (a
            // 500 ms keepAliveTimeout advertises timeout=0); allow for both.
            (Some(h), Some(m)) => {
                let h = i64::from(h) * 1000 * NS_PER_MS;
                !(m >= h - 250 * NS_PER_MS && m <= h + 2250 * NS_PER_MS)
            }
            _ => false,
        };
        // A reuse within one round trip of the server's close can cross its FIN.
        let danger = server_ns.map_or(0, |t| {
            let edge = t - rtt_ns.unwrap_or(0);
            self.reuse.values().iter().filter(|&&g| g >= edge).count() as u64
        });
        let reuse_window_ns = self.reuse.max();
        let mismatch =
            self.races > 0 || matches!((reuse_window_ns, server_ns), (Some(r), Some(t)) if r >= t);
        let client_fin = self.client_closes.stats();
        let client_timeout =
            client_fin.filter(|d| super::samples::client_timeout(d.tight, d.cluster_n));
        // The defaults table is in milliseconds.
        let server_ms = server_ns.map(ms);
        // A server whose connections are mostly h2c is judged by the
        // HTTP/2 rows: the HTTP/1 defaults say nothing of it.
        let http2 = self.h2c_connections * 2 > self.connections;
        let matches = server_ms.map_or_else(Vec::new, |t| {
            if http2 {
                defaults::match_h2_server(t)
            } else {
                defaults::match_server_witnessed(t, keep_alive_header_s, witness)
            }
        });
        let recommendations = defaults::recommend(&defaults::Situation {
            server_timeout_ms: server_ms,
            keep_alive_header_s,
            reuse_window_ms: reuse_window_ns.map(ms),
            client_idle_ms: client_timeout.map(|d| ms(d.estimate_ns)),
            races: self.races,
            retried_races: self.retried_races,
            mismatch,
            matches: &matches,
            client,
            inbound: self.connections > 0 && self.loopback_clients == self.connections,
            http2,
            unprocessed_races: self.unprocessed_races,
        });
        // A race on a connection's first request is counted as a reuse too,
        // so the rate never exceeds 1.
        let reused = self.reused_requests.max(self.races);
        Assessment {
            idle,
            reuse: self.reuse.stats(),
            client_fin,
            client_timeout,
            rtt_ns,
            client_kind: client,
            server_header: witness.server_header.map(str::to_string),
            powered_by: witness.powered_by.map(str::to_string),
            keep_alive_header_s,
            header_disagrees,
            reuse_window_ns,
            reuses_in_danger_window: danger,
            race_rate: (reused > 0)
                .then(|| (self.races as f64 / reused as f64 * 10_000.0).round() / 10_000.0),
            mismatch,
            matches,
            recommendations,
        }
    }
}
