//! Line-based protocols whose server speaks first (SMTP, FTP, POP3, IMAP),
//! told from their greeting: a reply code line (`220 `, `220-`), `+OK` or
//! `* OK`. racecap frames no request of theirs, so what matters of them is
//! only how they close: a line the client sends after the server's FIN (an
//! SMTP `QUIT` crossing a `421` and the close) is the client's goodbye, not
//! a request lost to a keep-alive race (issue 21, look-alikes).

/// The longest line the view keeps (a greeting, a `QUIT`, a `+OK`).
const MAX_LINE: usize = 512;

/// A line of text: printable ASCII (and tabs) ending in CRLF.
fn line(payload: &[u8]) -> Option<&[u8]> {
    let end = payload
        .windows(2)
        .take(MAX_LINE)
        .position(|w| w == b"\r\n")?;
    let body = &payload[..end];
    body.iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then_some(&payload[..end + 2])
}

/// A server's greeting: an SMTP or FTP reply code (three digits, then a
/// space or a hyphen), POP3's `+OK` or IMAP's `* OK`, on a line of text.
pub fn greeting(payload: &[u8]) -> bool {
    // The first bytes are looked at before the line is searched for: every
    // connection's first payload (an HTTP request, mostly) asks, and the
    // search costs some 700 instructions. The line holds the payload's
    // bytes up to its CRLF, and none of the prefixes holds a CR or an LF,
    // so they begin the payload exactly when they begin the line.
    let code = matches!(payload, [a, b, c, b' ' | b'-', ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()));
    (code || payload.starts_with(b"+OK") || payload.starts_with(b"* OK")) && line(payload).is_some()
}

/// The payload bytes the layer reads: a segment's first line when the
/// segment begins with a line of text, nothing otherwise. Idempotent, as
/// the reader thread carries exactly this.
pub fn view(payload: &[u8]) -> &[u8] {
    line(payload).unwrap_or_default()
}

/// What one segment's new bytes were.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    /// The segment began with a line of text (a command, a reply).
    pub line: bool,
}

/// A connection that opened with a text protocol's greeting.
#[derive(Debug, Clone, Copy, Default)]
pub struct Text {
    /// When each side sent its goodbye (a line after the peer's FIN).
    goodbye_ns: [Option<i64>; 2],
}

impl Text {
    /// The layer of a connection whose server greeted.
    pub fn new() -> Text {
        Text::default()
    }

    /// What a segment's new bytes, beginning with `view`, were.
    pub fn feed(&self, view: &[u8]) -> Seen {
        Seen {
            line: line(view).is_some(),
        }
    }

    /// Side `i` said goodbye after the peer's FIN, at `ns` (its first).
    pub fn goodbye(&mut self, i: usize, ns: i64) {
        self.goodbye_ns[i].get_or_insert(ns);
    }

    /// When side `i` said goodbye.
    pub fn goodbye_ns(&self, i: usize) -> Option<i64> {
        self.goodbye_ns[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_greetings() {
        assert!(greeting(b"220 mail.example ESMTP Postfix\r\n"));
        assert!(greeting(b"220-ftp.example FTP server ready\r\n"));
        assert!(greeting(b"+OK POP3 ready\r\n"));
        assert!(greeting(b"* OK IMAP4rev1 ready\r\n"));
        assert!(!greeting(b"HTTP/1.1 200 OK\r\n"));
        assert!(!greeting(b"220 no line end"));
        assert!(!greeting(b"22x hello\r\n"));
        assert!(!greeting(&[0x16, 3, 1, 0, 5, b'\r', b'\n']));
        assert!(!greeting(b"220 \x01\r\n") && !greeting(b"+OK"));
        assert!(greeting(b"+OK\r\n") && greeting(b"123-\r\n"));
    }

    #[test]
    fn test_view_is_the_first_line_and_idempotent() {
        let p = b"QUIT\r\nmore";
        assert_eq!(view(p), b"QUIT\r\n");
        assert_eq!(view(view(p)), view(p));
        assert!(view(b"\x00\x01\r\n").is_empty());
    }
}
