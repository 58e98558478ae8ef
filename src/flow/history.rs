//! A connection's Zeek-like history string, packed as 4-bit codes.
//!
//! Every connection carries one, so it is a codec rather than a `String`:
//! kept apart from the connection so that its packing can be tested alone.

use super::half::Side;

/// Zeek-like history: one letter per kind of event and direction, in order of
/// first appearance; upper case for side A, lower case for side B.
///
/// Eight letters and two sides make 16 possible entries: each is kept as a
/// 4-bit code (the letter's index in [`LETTERS`], plus 8 for side B).
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    codes: [u8; 8],
    /// One bit per code seen.
    seen: u16,
    len: u8,
}

/// The letters a history uses: SYN, SYN-ACK (handshake), pure ACK, data,
/// FIN, RST, retransmission, gap.
const LETTERS: [u8; 8] = *b"SHADFRTG";

impl History {
    /// Records `letter` for `side`, unless it was already recorded (a letter
    /// not in [`LETTERS`] is ignored).
    pub(super) fn note(&mut self, side: Side, letter: u8) {
        let Some(i) = LETTERS.iter().position(|&l| l == letter) else {
            return;
        };
        let code = i as u8 | (side.idx() as u8) << 3;
        if self.seen & (1 << code) != 0 {
            return;
        }
        self.seen |= 1 << code;
        let n = self.len as usize;
        self.codes[n / 2] |= code << (4 * (n % 2));
        self.len += 1;
    }

    /// The history with upper case for `upper` (the client, as Zeek does for
    /// the originator).
    pub fn render(&self, upper: Side) -> String {
        (0..self.len as usize)
            .map(|n| {
                let code = (self.codes[n / 2] >> (4 * (n % 2))) & 0xf;
                let letter = LETTERS[usize::from(code & 7)] as char;
                let side = if code & 8 == 0 { Side::A } else { Side::B };
                if side == upper {
                    letter
                } else {
                    letter.to_ascii_lowercase()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_empty() {
        assert_eq!(History::default().render(Side::A), "");
    }

    #[test]
    fn test_order_of_first_appearance() {
        let mut h = History::default();
        for (side, letter) in [
            (Side::A, b'S'),
            (Side::B, b'H'),
            (Side::A, b'A'),
            (Side::A, b'D'),
            (Side::B, b'D'),
            (Side::B, b'F'),
        ] {
            h.note(side, letter);
        }
        assert_eq!(h.render(Side::A), "ShADdf");
    }

    #[test]
    fn test_repeats_are_dropped() {
        let mut h = History::default();
        for letter in *b"DDTDTD" {
            h.note(Side::A, letter);
        }
        assert_eq!(h.render(Side::A), "DT");
    }

    #[test]
    fn test_same_letter_other_side_is_its_own_entry() {
        let mut h = History::default();
        h.note(Side::A, b'D');
        h.note(Side::B, b'D');
        h.note(Side::A, b'D');
        assert_eq!(h.render(Side::A), "Dd");
    }

    #[test]
    fn test_case_follows_the_upper_side() {
        let mut h = History::default();
        h.note(Side::B, b'S');
        h.note(Side::A, b'H');
        // B opened: as the client it is upper case.
        assert_eq!(h.render(Side::B), "Sh");
        assert_eq!(h.render(Side::A), "sH");
    }

    #[test]
    fn test_unknown_letter_is_ignored() {
        let mut h = History::default();
        h.note(Side::A, b'Z');
        h.note(Side::A, b's');
        assert_eq!(h.render(Side::A), "");
    }

    #[test]
    fn test_all_16_codes_fit() {
        let mut h = History::default();
        for side in [Side::B, Side::A] {
            for &letter in LETTERS.iter().rev() {
                h.note(side, letter);
            }
        }
        // A 17th note has no room, and needs none: every code is seen.
        h.note(Side::A, b'S');
        assert_eq!(h.render(Side::A), "gtrfdahsGTRFDAHS");
    }
}
