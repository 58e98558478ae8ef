//! The holes of one sequence space: a tiny fixed-size interval set.
//!
//! A hole is data the observer has not seen yet (lost at the capture point,
//! or reordered behind later data). Remembering the first few lets data that
//! arrives late into one count as new data, not as a retransmission. Apart
//! from the connection so that its splitting and closing can be tested alone.

use super::Seq;

/// Most holes remembered per direction (each swapped pair of segments makes
/// one while it lasts; more at once is rare and then counts as loss).
const MAX_HOLES: usize = 3;

/// Ranges of a sequence space not seen yet, [start, end).
#[derive(Debug, Clone, Copy, Default)]
pub struct Holes {
    start: [Seq; MAX_HOLES],
    end: [Seq; MAX_HOLES],
    n: u8,
}

impl Holes {
    /// Remembers a hole (forgotten when all slots are taken).
    pub(super) fn add(&mut self, start: Seq, end: Seq) {
        let n = self.n as usize;
        if n < MAX_HOLES {
            self.start[n] = start;
            self.end[n] = end;
            self.n += 1;
        }
    }

    fn remove(&mut self, i: usize) {
        let last = self.n as usize - 1;
        self.start[i] = self.start[last];
        self.end[i] = self.end[last];
        self.n -= 1;
    }

    /// Fills [from, to) into the holes: returns the bytes that were missing
    /// and the number of holes now closed.
    pub(super) fn fill(&mut self, from: Seq, to: Seq) -> (u64, u32) {
        let (mut bytes, mut closed) = (0u64, 0u32);
        let mut i = 0;
        while i < self.n as usize {
            let (hs, he) = (self.start[i], self.end[i]);
            let a = if from > hs { from } else { hs };
            let b = if to < he { to } else { he };
            if b <= a {
                i += 1;
                continue;
            }
            bytes += b.diff(a) as u64;
            if a == hs && b == he {
                self.remove(i);
                closed += 1;
                continue;
            } else if a == hs {
                self.start[i] = b;
            } else if b == he {
                self.end[i] = a;
            } else {
                // Filled in the middle: split, if there is room.
                self.end[i] = a;
                self.add(b, he);
            }
            i += 1;
        }
        (bytes, closed)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// The holes as (start, end) pairs, sorted (slots are reordered by removal).
    fn ranges(h: &Holes) -> Vec<(u32, u32)> {
        let mut v: Vec<_> = (0..h.n as usize)
            .map(|i| (h.start[i].0, h.end[i].0))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn test_add_remembers_a_hole() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(ranges(&h), [(100, 200)]);
    }

    #[test]
    fn test_add_forgets_beyond_the_slots() {
        let mut h = Holes::default();
        for k in 0..=MAX_HOLES as u32 {
            h.add(Seq(k * 100), Seq(k * 100 + 10));
        }
        assert_eq!(ranges(&h), [(0, 10), (100, 110), (200, 210)]);
        // The forgotten hole counts nothing when filled.
        assert_eq!(h.fill(Seq(300), Seq(310)), (0, 0));
    }

    #[test]
    fn test_fill_outside_any_hole() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(h.fill(Seq(0), Seq(100)), (0, 0));
        assert_eq!(h.fill(Seq(200), Seq(300)), (0, 0));
        assert_eq!(ranges(&h), [(100, 200)]);
    }

    #[test]
    fn test_fill_exactly_closes() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(h.fill(Seq(100), Seq(200)), (100, 1));
        assert_eq!(ranges(&h), []);
    }

    #[test]
    fn test_fill_wider_than_the_hole_closes_and_counts_the_hole_only() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(h.fill(Seq(50), Seq(250)), (100, 1));
        assert_eq!(ranges(&h), []);
    }

    #[test]
    fn test_fill_the_start() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(h.fill(Seq(90), Seq(150)), (50, 0));
        assert_eq!(ranges(&h), [(150, 200)]);
    }

    #[test]
    fn test_fill_the_end() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(h.fill(Seq(150), Seq(210)), (50, 0));
        assert_eq!(ranges(&h), [(100, 150)]);
    }

    #[test]
    fn test_fill_the_middle_splits() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        assert_eq!(h.fill(Seq(120), Seq(150)), (30, 0));
        assert_eq!(ranges(&h), [(100, 120), (150, 200)]);
        // Both parts close on their own.
        assert_eq!(h.fill(Seq(100), Seq(120)), (20, 1));
        assert_eq!(h.fill(Seq(150), Seq(200)), (50, 1));
        assert_eq!(ranges(&h), []);
    }

    #[test]
    fn test_fill_the_middle_with_full_slots_keeps_the_front() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        h.add(Seq(300), Seq(400));
        h.add(Seq(500), Seq(600));
        // No slot for the back part: it is forgotten, the bytes still count.
        assert_eq!(h.fill(Seq(120), Seq(150)), (30, 0));
        assert_eq!(ranges(&h), [(100, 120), (300, 400), (500, 600)]);
    }

    #[test]
    fn test_fill_spanning_several_holes() {
        let mut h = Holes::default();
        h.add(Seq(100), Seq(200));
        h.add(Seq(300), Seq(400));
        h.add(Seq(500), Seq(600));
        // Closes the first two (a removal moves the last slot forward, which
        // must still be looked at) and fills the start of the third.
        assert_eq!(h.fill(Seq(100), Seq(550)), (250, 2));
        assert_eq!(ranges(&h), [(550, 600)]);
    }

    #[test]
    fn test_fill_across_the_wrap() {
        let mut h = Holes::default();
        h.add(Seq(0xffff_fff0), Seq(0x10));
        assert_eq!(h.fill(Seq(0xffff_fff8), Seq(0x8)), (16, 0));
        assert_eq!(ranges(&h), [(0x8, 0x10), (0xffff_fff0, 0xffff_fff8)]);
    }
}
