//! One framer for every layer whose units are a fixed-size header that
//! says how long the body after it is: TLS records (5 bytes, RFC 8446
//! §5.1), HTTP/2 frames (9 bytes, RFC 9113 §4.1), and a database
//! protocol's messages next (PostgreSQL's are a type byte and a length).
//!
//! A passive observer sees only the bytes the capture kept: the first
//! bytes of a segment that begins with a header (the reader's view) and
//! the segment's last [`TAIL_BYTES`](crate::decode::TAIL_BYTES). So the
//! framer follows one direction by sequence numbers: where the next header
//! must start, and a header's first bytes when it straddles two segments.
//! A header that falls where no byte was kept (past the view, or into a
//! hole in the capture) loses the framing, until a segment begins with a
//! header again (the next write after a pause); the layer decides what the
//! bytes in between count as.

use crate::seq::Seq;

/// The bytes of one segment a framer may read: its view from its first
/// byte, and its tail, which ends at `captured`.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    pub head: &'a [u8],
    pub tail: &'a [u8],
    pub captured: u32,
}

impl Bytes<'_> {
    /// The byte at `off` from the segment's first, if it was kept.
    pub(crate) fn byte(&self, off: i64) -> Option<u8> {
        let off = usize::try_from(off).ok()?;
        if let Some(&b) = self.head.get(off) {
            return Some(b);
        }
        let tail_at = (self.captured as usize).checked_sub(self.tail.len())?;
        self.tail.get(off.checked_sub(tail_at)?).copied()
    }
}

/// The framing was lost: the bytes cannot be followed until a segment
/// begins with a header again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost;

/// One direction's units, with headers of `H` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Framer<const H: usize> {
    /// Where the next header starts (when `synced`).
    next: Seq,
    /// A header's first bytes, when it continues in the next segment.
    part: [u8; H],
    have: u8,
    synced: bool,
}

impl<const H: usize> Default for Framer<H> {
    /// Not synced: the first header found at a segment's start syncs it.
    fn default() -> Self {
        Framer {
            next: Seq::default(),
            part: [0; H],
            have: 0,
            synced: false,
        }
    }
}

impl<const H: usize> Framer<H> {
    /// A framer whose next header starts at `next` (after a preface, say).
    pub fn synced_at(next: Seq) -> Self {
        Framer {
            next,
            synced: true,
            ..Framer::default()
        }
    }

    /// Where the unit in progress ends (the next header starts).
    pub fn next(&self) -> Seq {
        self.next
    }

    /// Loses the framing (a header the layer rejects, say).
    pub fn lose(&mut self) {
        self.synced = false;
        self.have = 0;
    }

    /// Starts on the new bytes [`from`, `end`) of a segment that begins at
    /// `seq` (`from` is later for a segment that overlaps older data);
    /// `resync`: whether the segment begins with a plausible header, which
    /// syncs a framer that was lost. Returns where the body of the unit in
    /// progress ends within these bytes, when they continue one.
    pub fn begin(
        &mut self,
        seq: Seq,
        from: Seq,
        end: Seq,
        resync: bool,
    ) -> Result<Option<Seq>, Lost> {
        if !self.synced {
            if from == seq && resync {
                self.next = seq;
                self.synced = true;
                self.have = 0;
            } else {
                self.lose();
                return Err(Lost);
            }
        }
        if self.have == 0 && self.next > from {
            Ok(Some(if self.next < end { self.next } else { end }))
        } else if (self.have == 0 && self.next < from)
            || (self.have > 0 && self.next + u32::from(self.have) != from)
        {
            // A hole swallowed the next header (or the rest of one).
            self.lose();
            Err(Lost)
        } else {
            Ok(None)
        }
    }

    /// The next whole header among the segment's bytes up to `end`, with
    /// where its body starts; none when the bytes end first (a header that
    /// continues in the next segment is kept in part). The layer says how
    /// long the body is with [`body`](Self::body), or rejects the header
    /// with [`lose`](Self::lose).
    pub fn header(
        &mut self,
        seq: Seq,
        end: Seq,
        bytes: &Bytes<'_>,
    ) -> Result<Option<([u8; H], Seq)>, Lost> {
        if self.next >= end && self.have == 0 {
            return Ok(None);
        }
        while usize::from(self.have) < H {
            let p = self.next + u32::from(self.have);
            if p >= end {
                break;
            }
            match bytes.byte(p.diff(seq)) {
                Some(b) => {
                    self.part[usize::from(self.have)] = b;
                    self.have += 1;
                }
                None => {
                    self.lose();
                    return Err(Lost);
                }
            }
        }
        if usize::from(self.have) < H {
            return Ok(None);
        }
        self.have = 0;
        Ok(Some((self.part, self.next + H as u32)))
    }

    /// The unit whose header [`header`](Self::header) returned has a body
    /// of `len` bytes from `body`.
    pub fn body(&mut self, body: Seq, len: u32) {
        self.next = body + len;
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn bytes(head: &[u8]) -> Bytes<'_> {
        Bytes {
            head,
            tail: &[],
            captured: head.len() as u32,
        }
    }

    /// Units of a 2-byte header (a length) split across segments are found
    /// where the previous unit's length says.
    #[test]
    fn test_units_across_segments() {
        let mut f = Framer::<2>::default();
        // Segment 1 at 100: unit of 3 bytes, then the first byte of the next header.
        let s1 = [0, 3, b'a', b'b', b'c', 0];
        assert_eq!(f.begin(Seq(100), Seq(100), Seq(106), true), Ok(None));
        let (h, body) = f.header(Seq(100), Seq(106), &bytes(&s1)).unwrap().unwrap();
        assert_eq!((h, body), ([0, 3], Seq(102)));
        f.body(body, 3);
        assert_eq!(f.header(Seq(100), Seq(106), &bytes(&s1)), Ok(None));
        // Segment 2 at 106: the header's second byte, then 1 of 2 body bytes.
        let s2 = [2, b'x'];
        assert_eq!(f.begin(Seq(106), Seq(106), Seq(108), false), Ok(None));
        let (h, body) = f.header(Seq(106), Seq(108), &bytes(&s2)).unwrap().unwrap();
        assert_eq!((h, body), ([0, 2], Seq(107)));
        f.body(body, 2);
        assert_eq!(f.header(Seq(106), Seq(108), &bytes(&s2)), Ok(None));
        // Segment 3 continues the body.
        assert_eq!(
            f.begin(Seq(108), Seq(108), Seq(109), false),
            Ok(Some(Seq(109)))
        );
        assert_eq!(f.next(), Seq(109));
    }

    /// A hole where a header should be loses the framing; a segment that
    /// begins with a header finds it again.
    #[test]
    fn test_lost_and_found() {
        let mut f = Framer::<2>::synced_at(Seq(10));
        assert_eq!(f.begin(Seq(20), Seq(20), Seq(30), false), Err(Lost));
        assert_eq!(f.begin(Seq(30), Seq(30), Seq(40), false), Err(Lost));
        assert_eq!(f.begin(Seq(40), Seq(40), Seq(44), true), Ok(None));
        let b = [0, 2, 1, 2];
        assert!(f.header(Seq(40), Seq(44), &bytes(&b)).unwrap().is_some());
    }

    /// A header byte the capture did not keep loses the framing.
    #[test]
    fn test_header_not_kept() {
        let mut f = Framer::<2>::synced_at(Seq(0));
        let b = Bytes {
            head: &[0],
            tail: &[],
            captured: 1,
        };
        assert_eq!(f.begin(Seq(0), Seq(0), Seq(50), false), Ok(None));
        assert_eq!(f.header(Seq(0), Seq(50), &b), Err(Lost));
    }
}
