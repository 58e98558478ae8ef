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

/// How wide, in % of its lower edge, a cluster of closes may be and still
/// be one timer without a row to explain it: deadline coalescing (nginx's
/// 300 ms lazy delay on a 3 s timeout) stays within it, a poller that
/// spreads closes over half a second and more (Tomcat's 3.0–4.5 s) does not.
const COALESCED_PCT: i64 = 5;

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
            // A timer that coalesces its deadlines (nginx keeps a timer
            // set within 300 ms of the new one) closes a few % late, never
            // early: a cluster that narrow, whose sharpest part is its
            // lower edge, is one timeout whoever runs it, with no row
            // needed (nginx over TLS: 3.001–3.116 s for 3 s). A close
            // below the sharp part (Apache's lingering close) is not that.
            let coalesced = d.cluster_min_ns == plain.cluster_min_ns
                && (d.cluster_max_ns - d.cluster_min_ns) * 100 <= d.cluster_min_ns * COALESCED_PCT;
            if explained || coalesced {
                return Some(d);
            }
        }
        Some(plain)
    }

    /// The idle stats as a timer, or marked not one: a cluster is the
    /// server's idle timeout only when it is consistent with the rest of
    /// the evidence (issue 21). One close needs a witness (a `Keep-Alive:
    /// timeout=` header, or a race); and a reuse that was answered after
    /// an idle gap longer than the cluster (by more than a round trip and
    /// the matching tolerance, and a quarter) shows the server did not
    /// close there, so the cluster is some other close. A rejected cluster stays in the
    /// report as spread out, and no number is read from it.
    fn as_timer(&self, idle: Stats, header: bool, rtt_ns: Option<i64>) -> Stats {
        let witnessed = header || self.races > 0;
        let single = idle.cluster_n < 2 && !witnessed;
        let slack = rtt_ns.unwrap_or(0).max(0)
            + ((idle.estimate_ns as f64 * 0.03) as i64).max(150 * NS_PER_MS);
        // Above the cluster's top, not its estimate (a polling server
        // closes anywhere up to its jitter late), and by a quarter more:
        // a lucky reuse just past the close is the mismatch itself.
        let top = idle.cluster_max_ns + idle.cluster_max_ns / 4;
        let below_reuses = self.reuse.max().is_some_and(|r| r > top + slack);
        if idle.tight && (single || below_reuses) {
            Stats {
                tight: false,
                estimate_ns: idle.median_ns,
                ..idle
            }
        } else {
            idle
        }
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
        let rtt_ns = self.rtt.stats().map(|d| d.median_ns);
        let idle = self
            .idle_stats(keep_alive_header_s, witness)
            .map(|d| self.as_timer(d, keep_alive_header_s.is_some(), rtt_ns));
        // A number is read only from a consistent cluster, never from a
        // spread (issue 21: a median of application resets became 585 ms
        // of advice).
        let server_ns = idle.filter(|d| d.tight).map(|d| d.estimate_ns);
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
        let matches = match (server_ms, idle) {
            (Some(t), _) if http2 => defaults::match_h2_server(t),
            (Some(t), _) => defaults::match_server_witnessed(t, keep_alive_header_s, witness)
                .into_iter()
                .filter(|c| idle.is_none_or(|d| jitter_fits(c, &d)))
                .collect(),
            // No timer in a spread, but a response header still names the
            // software (whose knob the server step names); timing alone
            // names nothing here.
            (None, Some(d)) if !http2 => {
                defaults::match_server_witnessed(ms(d.median_ns), None, witness)
                    .into_iter()
                    .filter(|c| {
                        matches!(
                            c.witness,
                            Some(
                                defaults::WitnessKind::ServerHeader
                                    | defaults::WitnessKind::PoweredBy
                            )
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let recommendations = defaults::recommend(&defaults::Situation {
            server_timeout_ms: server_ms,
            keep_alive_header_s,
            reuse_window_ms: reuse_window_ns.map(ms),
            client_idle_ms: client_timeout.map(|d| ms(d.estimate_ns)),
            // A stale race: the request left after the FIN had reached the
            // requester (more than a round trip after it; a crossed race's
            // request was already on its way). The FIN came at the
            // server's close at the earliest (its cluster's lower edge; 0
            // when no timer was read), and the request that long after it.
            stale_idle_ms: self
                .fin_to_reuse
                .values()
                .iter()
                .copied()
                .filter(|&gap| gap > rtt_ns.unwrap_or(0).max(NS_PER_MS))
                .max()
                .map(|gap| {
                    let close = idle.filter(|d| d.tight).map_or(0, |d| d.cluster_min_ns);
                    ms(close + gap)
                }),
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

/// Closes in a cluster before its width can rule out a row whose closes
/// spread (with fewer, a jittery server's closes may fall close together
/// by chance).
const JITTER_RULE_MIN_CLOSES: u64 = 5;

/// A row's jitter from this on is a poll's spread (gunicorn: 1 s), not
/// the few milliseconds of a timer's lateness (Node: 5 ms) or a loaded
/// event loop's (nginx: 300 ms).
const POLL_JITTER_MS: u64 = 500;

/// Whether a candidate row's spread fits the measured cluster: a server
/// that checks its deadlines once per poll (gunicorn's gthread, 1 s)
/// spreads its closes over that poll, so a cluster of many closes a
/// quarter of that wide or narrower is another server's timer, unless a
/// response header names the row (issue 21: Node over TLS closing at
/// 2.001–2.008 s was named "gunicorn --keep-alive 2").
fn jitter_fits(c: &defaults::Candidate, d: &Stats) -> bool {
    let named = matches!(
        c.witness,
        Some(defaults::WitnessKind::ServerHeader | defaults::WitnessKind::PoweredBy)
    );
    let width_ms = (d.cluster_max_ns - d.cluster_min_ns) / NS_PER_MS;
    named
        || c.row.jitter_ms < POLL_JITTER_MS
        || d.cluster_n < JITTER_RULE_MIN_CLOSES
        || width_ms * 4 >= c.row.jitter_ms as i64
}

#[cfg(test)]
mod tests;
