//! Bounded samples of idle gaps and the estimator that reads a timeout from
//! them: a configured timeout puts most closes into one narrow cluster,
//! application closes and slow requests spread out around it.

/// Samples kept per distribution; beyond it a deterministic reservoir keeps a
/// uniform sample, so memory stays bounded on endless live captures.
pub const MAX_SAMPLES: usize = 4_000;

/// The reservoir generator's seed (any non-zero value: xorshift stays at 0).
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

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
        // Algorithm R, drawing from Marsaglia's xorshift64 (13, 7, 17) with
        // a fixed seed: same input, same report.
        if self.rng == 0 {
            self.rng = SEED;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // A uniform index below `seen` by multiplying, not dividing.
        let j = ((u128::from(self.rng) * u128::from(self.seen)) >> 64) as u64;
        if (j as usize) < MAX_SAMPLES {
            self.values[j as usize] = v;
        }
    }

    /// Takes back one sample of this value (a close found to be of
    /// another cause after it was counted).
    pub fn remove_one(&mut self, v: i64) {
        if let Some(i) = self.values.iter().position(|&x| x == v) {
            self.values.swap_remove(i);
            self.seen = self.seen.saturating_sub(1);
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

    /// The kept samples, in no particular order.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// Summary statistics, robust to outliers.
    pub fn stats(&self) -> Option<Stats> {
        self.stats_spread(0)
    }

    /// Like [`stats`](Self::stats) for a timeout whose closes spread up to
    /// `jitter_ns` above it (a server that checks its deadlines once per
    /// poll: gunicorn's gthread worker closes up to 1 s late). The cluster
    /// window is that much wider, and when tight the estimate is the
    /// cluster's lowest value: the configured timeout is the lower edge of
    /// the spread, not its middle. With `jitter_ns` 0 this is `stats`.
    pub fn stats_spread(&self, jitter_ns: i64) -> Option<Stats> {
        if self.values.is_empty() {
            return None;
        }
        let mut v = self.values.clone();
        v.sort_unstable();
        let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let median = pct(0.5);
        // The densest cluster: the window of width max(20 ms, 1 %) (plus
        // the jitter) starting at some sample that holds the most samples. A
        // configured timeout puts most closes in it; application closes and
        // slow requests fall outside.
        let (mut best_lo, mut best_hi) = (0usize, 0usize);
        let mut hi = 0usize;
        for lo in 0..v.len() {
            let width = (v[lo] / 100).max(20_000_000) + jitter_ns.max(0);
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
        // A jittery timeout closes at or after its value, never before.
        let cluster_estimate = if jitter_ns > 0 {
            cluster[0]
        } else {
            cluster_median
        };
        Some(Stats {
            n: self.seen,
            median_ns: median,
            min_ns: v[0],
            max_ns: v[v.len() - 1],
            p5_ns: pct(0.05),
            p95_ns: pct(0.95),
            tight,
            estimate_ns: if tight { cluster_estimate } else { median },
            cluster_n: cluster.len() as u64,
            cluster_min_ns: cluster[0],
            cluster_max_ns: cluster[cluster.len() - 1],
        })
    }
}

/// Closes in one cluster before a client's closes are read as its idle
/// timeout. A server closes an idle connection for one reason, its
/// timeout; a client closes for many (it exits, it shuts down, it is done),
/// so one close, or closes spread out, say nothing of a pool's idle timeout
/// (issue 26: a client's exit 300 ms after its last response was read as
/// a proxy's 0.301 s idle timeout and set the fix).
pub const MIN_CLIENT_TIMEOUT_CLOSES: u64 = 2;

/// Whether closes whose densest cluster is `tight` and holds `cluster_n`
/// of them are a client's idle timeout: [`MIN_CLIENT_TIMEOUT_CLOSES`] at least.
pub fn client_timeout(tight: bool, cluster_n: u64) -> bool {
    tight && cluster_n >= MIN_CLIENT_TIMEOUT_CLOSES
}

/// A distribution of idle gaps, ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Samples seen (the statistics read the kept ones).
    pub n: u64,
    pub median_ns: i64,
    pub min_ns: i64,
    pub max_ns: i64,
    pub p5_ns: i64,
    pub p95_ns: i64,
    /// At least 80 % of the values sit in one narrow cluster (a configured
    /// timeout), rather than spread out (application closes).
    pub tight: bool,
    /// The best single value: the cluster's median when tight (its lowest
    /// value for [`Samples::stats_spread`] with a jitter), else the median.
    pub estimate_ns: i64,
    /// The densest cluster: its size and range.
    pub cluster_n: u64,
    pub cluster_min_ns: i64,
    pub cluster_max_ns: i64,
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
        assert!((d.estimate_ns - 5_002_000_000).abs() < 1_500_000, "{d:?}");
        assert_eq!(d.min_ns, 1_200_000_000);
    }

    #[test]
    fn test_spread_is_not_tight() {
        let d = samples(&[100.0, 900.0, 2000.0, 3500.0, 7000.0])
            .stats()
            .unwrap();
        assert!(!d.tight);
        assert_eq!(d.estimate_ns, d.median_ns);
    }

    #[test]
    fn test_jittery_spread() {
        // gunicorn gthread, --keep-alive 2: deadline plus up to one 1 s poll.
        let spread: Vec<f64> = (0..40).map(|i| 2001.0 + f64::from(i) * 24.9).collect();
        let s = samples(&spread);
        let plain = s.stats().unwrap();
        assert!(!plain.tight);
        let d = s.stats_spread(1_000_000_000).unwrap();
        assert!(d.tight);
        assert_eq!(d.cluster_n, 40);
        assert_eq!(d.estimate_ns, 2_001_000_000);
        // Zero jitter is the plain estimator.
        assert_eq!(s.stats_spread(0), s.stats());
    }

    #[test]
    fn test_reservoir_is_bounded() {
        let mut s = Samples::default();
        for i in 0..(MAX_SAMPLES as i64 * 3) {
            s.push(i);
        }
        assert_eq!(s.values.len(), MAX_SAMPLES);
        assert_eq!(s.count(), MAX_SAMPLES as u64 * 3);
        // Uniform: about a third of the kept values come from each third
        // of the input (binomial, sd ≈ 30 of 1333).
        let first = s.values.iter().filter(|&&v| v < MAX_SAMPLES as i64).count();
        assert!((1_150..=1_520).contains(&first), "{first}");
    }
}
