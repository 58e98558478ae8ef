//! The two distributions of one server side by side, for pictures: its
//! idle closes and its clients' reuse gaps, counted in the same bins (the
//! whole range), and every sample near the close (where the overlap that
//! makes a race shows, a few milliseconds wide). The HTML report draws
//! these; the JSON carries them so that any other tool can.
//!
//! The bins follow the data: their edges are shifted so that one falls
//! between the idle closes and the reuse gaps below them, never inside the
//! cluster of closes. Bins from 0 put an edge at every round second, where
//! timeouts are: closes at 5999.6–6005 ms split into a bar beside the
//! reuses and one after them, an overlap that was not there (issue 26).

use serde::Serialize;

use crate::units::Millis;

/// Bins over the whole range, at most this many.
pub const MAX_BINS: usize = 40;

/// Samples listed near the close, at most this many of each kind.
pub const MAX_NEAR: usize = 200;

/// Idle closes against reuse gaps, in shared bins.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Histogram {
    /// Where the first bin starts: 0 without idle closes, else shifted so
    /// that an edge falls just below the closes' cluster (between it and
    /// the reuse gaps below it). Above −`bin_ms` and at most the smallest
    /// gap; negative when the first bin starts, in effect, at 0.
    pub from_ms: Millis,
    /// Width of a bin (1, 2 or 5 × a power of ten ms); bin `i` holds
    /// gaps in [`from_ms + i × bin_ms`, `from_ms + (i + 1) × bin_ms`).
    pub bin_ms: Millis,
    /// Per bin, idle gaps that ended in the server's FIN.
    pub idle_closes: Vec<u64>,
    /// Per bin, idle gaps after which a client reused a connection and got
    /// an answer.
    pub reuse_gaps: Vec<u64>,
    /// Every sample near the server's idle close; none without idle closes.
    pub near_close: Option<NearClose>,
}

/// The samples in a narrow window around the server's idle close.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NearClose {
    pub from_ms: Millis,
    pub to_ms: Millis,
    /// Sorted, at most [`MAX_NEAR`].
    pub idle_closes_ms: Vec<Millis>,
    pub reuse_gaps_ms: Vec<Millis>,
}

/// The smallest 1/2/5 × 10^k ns step with at most [`MAX_BINS`] bins up to `hi`.
fn bin_ns(hi: i64) -> i64 {
    let mut step: i64 = 1_000_000; // 1 ms
    loop {
        for m in [1, 2, 5] {
            let b = step * m;
            if hi / b < MAX_BINS as i64 {
                return b;
            }
        }
        step *= 10;
    }
}

fn count(values: &[i64], from: i64, bin: i64, bins: usize) -> Vec<u64> {
    let mut out = vec![0; bins];
    for &v in values {
        let i = (((v - from).max(0) / bin) as usize).min(bins - 1);
        out[i] += 1;
    }
    out
}

/// Where the bins start so that an edge falls below the idle closes near
/// `close` (ns): halfway between their lowest and the highest reuse gap
/// under it when that is less than a bin below, else half a bin below it.
/// The start is that edge moved by whole bins to the last one at or
/// below `lowest`, the smallest gap.
fn origin(idle: &[i64], reuse: &[i64], near: (i64, i64), bin: i64, lowest: i64) -> i64 {
    let Some(lo) = idle
        .iter()
        .copied()
        .filter(|v| (near.0..=near.1).contains(v))
        .min()
    else {
        return 0;
    };
    let below = reuse
        .iter()
        .copied()
        .filter(|&r| r < lo)
        .max()
        .map_or(bin, |r| (lo - r).min(bin));
    let edge = lo - below / 2;
    lowest - (lowest - edge).rem_euclid(bin)
}

fn within(values: &[i64], from: i64, to: i64) -> Vec<Millis> {
    let mut v: Vec<i64> = values
        .iter()
        .copied()
        .filter(|x| (from..=to).contains(x))
        .collect();
    v.sort_unstable();
    v.truncate(MAX_NEAR);
    v.into_iter().map(Millis).collect()
}

impl Histogram {
    /// The histogram of these gaps (ns); `close_ns` the server's estimated
    /// idle close. None when there is no gap at all.
    pub fn new(idle_closes: &[i64], reuse_gaps: &[i64], close_ns: Option<i64>) -> Option<Self> {
        // (A gap below 0, from timestamps out of order, counts in the first
        // bin: the bins start at 0 at the lowest, so there are at most
        // MAX_BINS + 1 of them whatever the values.)
        let hi = idle_closes.iter().chain(reuse_gaps).copied().max()?.max(0);
        let lowest = idle_closes.iter().chain(reuse_gaps).copied().min()?.max(0);
        let bin = bin_ns(hi.max(1));
        // Wide enough for a round trip either side, narrow enough to tell
        // 5.997 s from 6.001 s.
        let window = |c: i64| (c - (c / 20).max(50_000_000), c + (c / 50).max(20_000_000));
        let from = close_ns.map_or(0, |c| {
            origin(idle_closes, reuse_gaps, window(c), bin, lowest)
        });
        let bins = (((hi - from).max(0) / bin) as usize + 1).min(MAX_BINS + 1);
        let near_close = close_ns.map(|c| {
            let (lo, hi) = window(c);
            let (below, above) = (c - lo, hi - c);
            NearClose {
                from_ms: Millis(c - below),
                to_ms: Millis(c + above),
                idle_closes_ms: within(idle_closes, c - below, c + above),
                reuse_gaps_ms: within(reuse_gaps, c - below, c + above),
            }
        });
        Some(Histogram {
            from_ms: Millis(from),
            bin_ms: Millis(bin),
            idle_closes: count(idle_closes, from, bin, bins),
            reuse_gaps: count(reuse_gaps, from, bin, bins),
            near_close,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const MS: i64 = 1_000_000;

    /// A gap below 0 (timestamps out of order, a fuzzed capture) made the
    /// bins start that far below 0: 132 GB of bins (fuzz regression
    /// pipeline-histogram-negative-gap). The bins stay at most MAX_BINS + 1.
    #[test]
    fn test_negative_gap_keeps_the_bins_bounded() {
        let h = Histogram::new(&[6_000 * MS, -(1 << 60)], &[5_000 * MS], Some(6_000 * MS)).unwrap();
        assert!(
            h.idle_closes.len() <= MAX_BINS + 1,
            "{}",
            h.idle_closes.len()
        );
        assert_eq!(h.idle_closes.iter().sum::<u64>(), 2);
        assert_eq!(h.reuse_gaps.iter().sum::<u64>(), 1);
    }

    #[test]
    fn test_bins_share_a_nice_width() {
        let h = Histogram::new(
            &[3001 * MS, 3002 * MS],
            &[300 * MS, 2982 * MS],
            Some(3001 * MS),
        )
        .unwrap();
        assert_eq!(h.bin_ms, Millis(100 * MS));
        // An edge halfway between the reuse at 2.982 s and the closes
        // (2991.5 ms), moved down by whole bins to the 0.3 s gap.
        assert_eq!(h.from_ms, Millis(291_500_000));
        assert_eq!(h.idle_closes.len(), 28);
        assert_eq!(h.idle_closes.iter().sum::<u64>(), 2);
        assert_eq!(h.idle_closes[27], 2);
        assert_eq!(h.reuse_gaps[0], 1);
        assert_eq!(h.reuse_gaps[26], 1);
        let near = h.near_close.unwrap();
        // 2.982 s is within 5 % below the close; 0.3 s is not.
        assert_eq!(near.reuse_gaps_ms, vec![Millis(2982 * MS)]);
        assert_eq!(near.idle_closes_ms.len(), 2);
    }

    /// Issue 26: closes at 5999.6–6005 ms were split by the bin edge at
    /// 6.0 s into a small bar beside the reuses and a big one after them.
    /// The edges follow the data: one falls between the reuses and the
    /// closes, and the closes share one bin, which holds no reuse.
    #[test]
    fn test_26_bins_do_not_split_the_closes() {
        let closes: Vec<i64> = [5999.6, 5999.9, 6000.4, 6001.0, 6002.5, 6005.0]
            .iter()
            .map(|v| (v * 1e6) as i64)
            .collect();
        let reuses: Vec<i64> = [300.0, 1200.0, 2500.0, 4100.0, 5300.0, 5850.0, 5950.0]
            .iter()
            .map(|v| (v * 1e6) as i64)
            .collect();
        let h = Histogram::new(&closes, &reuses, Some(6000 * MS)).unwrap();
        let idle: Vec<usize> = (0..h.idle_closes.len())
            .filter(|&i| h.idle_closes[i] > 0)
            .collect();
        assert_eq!(idle.len(), 1, "{h:?}");
        assert_eq!(h.idle_closes[idle[0]], 6);
        assert_eq!(h.reuse_gaps[idle[0]], 0, "{h:?}");
        assert_eq!(h.reuse_gaps.iter().sum::<u64>(), 7);
        // The edge halfway between 5950 and 5999.6 ms.
        let edge = h.from_ms.ms() + idle[0] as f64 * h.bin_ms.ms();
        assert!((edge - 5974.8).abs() < 0.01, "{edge}");
        assert!(h.from_ms.ms() <= 300.0 && h.from_ms.ms() > 300.0 - h.bin_ms.ms());
    }

    #[test]
    fn test_no_samples_no_histogram() {
        assert_eq!(Histogram::new(&[], &[], None), None);
        let h = Histogram::new(&[], &[5 * MS], None).unwrap();
        assert_eq!(h.near_close, None);
        // Without idle closes the bins start at 0.
        assert_eq!(h.from_ms, Millis(0));
        // 1 ms bins up to the 5 ms gap.
        assert_eq!(h.bin_ms, Millis(MS));
        assert_eq!(h.reuse_gaps, vec![0, 0, 0, 0, 0, 1]);
        assert_eq!(h.idle_closes, vec![0; 6]);
    }
}
