//! The two distributions of one server side by side, for pictures: its
//! idle closes and its clients' reuse gaps, counted in the same bins (the
//! whole range), and every sample near the close (where the overlap that
//! makes a race shows, a few milliseconds wide). The HTML report draws
//! these; the JSON carries them so that any other tool can.

use serde::Serialize;

use crate::units::Millis;

/// Bins over the whole range, at most this many.
pub const MAX_BINS: usize = 40;

/// Samples listed near the close, at most this many of each kind.
pub const MAX_NEAR: usize = 200;

/// Idle closes against reuse gaps, in shared bins.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Histogram {
    /// Width of a bin (1, 2 or 5 × a power of ten ms); bin `i` holds
    /// gaps in [`i × bin_ms`, `(i + 1) × bin_ms`).
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

fn count(values: &[i64], bin: i64, bins: usize) -> Vec<u64> {
    let mut out = vec![0; bins];
    for &v in values {
        let i = ((v.max(0) / bin) as usize).min(bins - 1);
        out[i] += 1;
    }
    out
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
        let hi = idle_closes.iter().chain(reuse_gaps).copied().max()?;
        let bin = bin_ns(hi.max(1));
        let bins = (hi.max(0) / bin) as usize + 1;
        let near_close = close_ns.map(|c| {
            // Wide enough for a round trip either side, narrow enough to
            // tell 5.997 s from 6.001 s.
            let below = (c / 20).max(50_000_000);
            let above = (c / 50).max(20_000_000);
            NearClose {
                from_ms: Millis(c - below),
                to_ms: Millis(c + above),
                idle_closes_ms: within(idle_closes, c - below, c + above),
                reuse_gaps_ms: within(reuse_gaps, c - below, c + above),
            }
        });
        Some(Histogram {
            bin_ms: Millis(bin),
            idle_closes: count(idle_closes, bin, bins),
            reuse_gaps: count(reuse_gaps, bin, bins),
            near_close,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn test_bins_share_a_nice_width() {
        let h = Histogram::new(
            &[3001 * MS, 3002 * MS],
            &[300 * MS, 2982 * MS],
            Some(3001 * MS),
        )
        .unwrap();
        assert_eq!(h.bin_ms, Millis(100 * MS));
        assert_eq!(h.idle_closes.len(), 31);
        assert_eq!(h.idle_closes.iter().sum::<u64>(), 2);
        assert_eq!(h.idle_closes[30], 2);
        assert_eq!(h.reuse_gaps[3], 1);
        assert_eq!(h.reuse_gaps[29], 1);
        let near = h.near_close.unwrap();
        // 2.982 s is within 5 % below the close; 0.3 s is not.
        assert_eq!(near.reuse_gaps_ms, vec![Millis(2982 * MS)]);
        assert_eq!(near.idle_closes_ms.len(), 2);
    }

    #[test]
    fn test_no_samples_no_histogram() {
        assert_eq!(Histogram::new(&[], &[], None), None);
        let h = Histogram::new(&[], &[5 * MS], None).unwrap();
        assert_eq!(h.near_close, None);
        // 1 ms bins up to the 5 ms gap.
        assert_eq!(h.bin_ms, Millis(MS));
        assert_eq!(h.reuse_gaps, vec![0, 0, 0, 0, 0, 1]);
        assert_eq!(h.idle_closes, vec![0; 6]);
    }
}
