//! TCP sequence numbers: 32-bit values that wrap, compared with serial-number
//! arithmetic. Their own module because the decoder, the flow table and the
//! application layers all reason in them, and none of those should import
//! another for it.

use std::cmp::Ordering;

/// A TCP sequence number, compared with serial-number arithmetic
/// (RFC 1982; smoltcp's `SeqNumber`): `a < b` when `b` is less than 2^31 ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Bytes from `other` up to `self` (negative if `self` is behind).
    pub fn diff(self, other: Seq) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }
}

impl std::ops::Add<u32> for Seq {
    type Output = Seq;
    /// `self + n`, wrapping.
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some((self.0.wrapping_sub(other.0) as i32).cmp(&0))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_seq_wraps() {
        assert!(Seq(0xffff_fff0) < Seq(0x10));
        assert!(Seq(0x10) > Seq(0xffff_fff0));
        assert_eq!(Seq(0x10).diff(Seq(0xffff_fff0)), 0x20);
        assert_eq!(Seq(0xffff_fff0) + 0x20, Seq(0x10));
        assert!(Seq(5) <= Seq(5));
    }
}
