//! HTTP/1.x sniffing from the first bytes of a segment: request lines (what
//! was lost in a race, and whether retrying it is safe), status lines (which
//! side is the server) and the `Keep-Alive: timeout=N` header (the server's
//! own word on its idle timeout). No full parser: racecap only needs these.
//! The request it reads is the protocol-neutral one of [`super::request`].

pub use super::request::{Method, PathId, Paths, Req, RequestLine};

/// Longest path kept for a report (longer ones are cut, with "…").
const MAX_PATH: usize = 200;

/// Parses `METHOD SP target SP HTTP/1.x` from the start of a payload. The
/// line may be cut by the snaplen after the target; the target must be there.
pub fn request_line(payload: &[u8]) -> Option<RequestLine> {
    let (method, kept, longer) = request_target(payload)?;
    // The target is printable ASCII (checked), so it is UTF-8.
    let kept = std::str::from_utf8(kept).ok()?;
    let path: Box<str> = if longer {
        format!("{kept}…").into()
    } else {
        kept.into()
    };
    Some(RequestLine { method, path })
}

/// [`request_line`] without allocating: the method, the target's first
/// [`MAX_PATH`] bytes (printable ASCII), and whether the target is longer.
pub fn request_target(payload: &[u8]) -> Option<(Method, &[u8], bool)> {
    let (method, rest) = method_prefix(payload)?;
    // The target is printable ASCII up to a space or the end of the line.
    let end = rest
        .iter()
        .position(|&b| !(0x21..0x7f).contains(&b))
        .unwrap_or(rest.len());
    let target = &rest[..end];
    if target.is_empty() || !matches!(rest.get(end), None | Some(b' ' | b'\r' | b'\n')) {
        return None;
    }
    let after = &rest[end..];
    let complete = after.starts_with(b" HTTP/1.");
    let cut = end == rest.len() || (after.len() < 8 && b" HTTP/1.".starts_with(after));
    if !complete && !cut {
        return None;
    }
    let kept = &target[..target.len().min(MAX_PATH)];
    Some((method, kept, target.len() > MAX_PATH))
}

/// The part of a payload's first bytes that the analysis can read: a
/// request's or a response's head up to its blank line, nothing
/// of anything else, and at most [`crate::decode::SNIFF_BYTES`].
/// [`request_target`], [`request_head`], [`status_line`] and [`response_head`] give the same
/// answers on it as on the whole payload; the reader thread copies only
/// this much of each segment for the analysis.
pub fn sniffed(payload: &[u8]) -> &[u8] {
    static HEAD_END: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
    let p = &payload[..payload.len().min(crate::decode::SNIFF_BYTES)];
    if p.starts_with(b"HTTP/") {
        return HEAD_END.find(p).map_or(p, |i| &p[..i + 4]);
    }
    if method_prefix(p).is_some() {
        return HEAD_END.find(p).map_or(p, |i| &p[..i + 4]);
    }
    &[]
}

/// The method at the start of a payload and what follows its space. The
/// first byte picks the candidates, so non-HTTP payloads cost one compare.
fn method_prefix(payload: &[u8]) -> Option<(Method, &[u8])> {
    let (method, name): (Method, &[u8]) = match payload.first()? {
        b'G' => (Method::Get, b"GET"),
        b'H' => (Method::Head, b"HEAD"),
        b'P' => match payload.get(1)? {
            b'O' => (Method::Post, b"POST"),
            b'U' => (Method::Put, b"PUT"),
            b'A' => (Method::Patch, b"PATCH"),
            _ => return None,
        },
        b'D' => (Method::Delete, b"DELETE"),
        b'C' => (Method::Connect, b"CONNECT"),
        b'O' => (Method::Options, b"OPTIONS"),
        b'T' => (Method::Trace, b"TRACE"),
        _ => return None,
    };
    let rest = payload.strip_prefix(name)?.strip_prefix(b" ")?;
    Some((method, rest))
}

/// The status code of an `HTTP/1.x NNN` status line.
pub fn status_line(payload: &[u8]) -> Option<u16> {
    let rest = payload.strip_prefix(b"HTTP/1.")?;
    if rest.len() < 5 || rest[1] != b' ' {
        return None;
    }
    let code = &rest[2..5];
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0')))
}

/// What a response head says: its keep-alive timeout, how its end is known
/// (RFC 9112 §6.3), and the software that sent it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// `timeout=N` of a `Keep-Alive` header, in seconds.
    pub keep_alive_s: Option<u32>,
    /// Bytes of the head with its blank line, when the blank line was in
    /// the bytes read (the body starts there).
    pub len: Option<u32>,
    /// `Content-Length`, when there is exactly one valid value.
    pub content_length: Option<u64>,
    /// `Content-Length` was there but unusable (two values, not a number):
    /// the framing is not known.
    pub bad_length: bool,
    /// A `Transfer-Encoding` header, and whether its last coding is chunked.
    pub transfer_encoding: bool,
    pub chunked: bool,
    /// The `Server` header's value.
    pub server: Option<&'a [u8]>,
    /// The `X-Powered-By` header's value.
    pub powered_by: Option<&'a [u8]>,
}

/// How the end of a response is known, from its status and head
/// (RFC 9112 §6.3, in that order of precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// 1xx other than 101: an interim response; the final one follows.
    Interim,
    /// 101 Switching Protocols: what follows is no longer HTTP/1.x.
    Upgrade,
    /// No body: 204, 304, or the answer to a HEAD request.
    NoBody,
    /// `Content-Length` body bytes after the head.
    Length(u64),
    /// Chunked: ends with the zero-length last chunk.
    Chunked,
    /// Neither: the body runs until the server closes.
    UntilClose,
}

impl ResponseHead<'_> {
    /// How this response (status `status`, answering a HEAD request when
    /// `to_head`) ends; `None` when the head was not read to its end or its
    /// length is contradictory, so nothing can be said of its end.
    pub fn framing(&self, status: u16, to_head: bool) -> Option<Framing> {
        self.len?;
        Some(match status {
            101 => Framing::Upgrade,
            100..=199 => Framing::Interim,
            204 | 304 => Framing::NoBody,
            _ if to_head => Framing::NoBody,
            // Transfer-Encoding overrides Content-Length (§6.3 item 3); a
            // response whose last coding is not chunked runs until close.
            _ if self.transfer_encoding => {
                if self.chunked {
                    Framing::Chunked
                } else {
                    Framing::UntilClose
                }
            }
            _ if self.bad_length => return None,
            _ => match self.content_length {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            },
        })
    }
}

/// Reads the headers in the captured part of a response head, one pass,
/// stopping at the blank line that ends the head.
pub fn response_head(payload: &[u8]) -> ResponseHead<'_> {
    response_head_with(payload, true)
}

/// [`response_head`]; with `all` false only what the framing needs
/// (`Content-Length`, `Transfer-Encoding`) is read: a connection's later
/// responses repeat its first ones' `Keep-Alive` and `Server`.
pub fn response_head_with(payload: &[u8], all: bool) -> ResponseHead<'_> {
    let mut head = ResponseHead::default();
    // Line ends, found in one pass (heads are short: a search per line
    // would cost its setup each time); the first ends the status line.
    let mut ends = memchr::memchr_iter(b'\n', payload);
    let Some(nl) = ends.next() else {
        return head;
    };
    let mut at = nl + 1;
    // (A header line cut by the end of the bytes read is not trusted: the
    // loop ends without it.)
    for end in ends {
        let line = &payload[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // The blank line ends the head.
            head.len = u32::try_from(end + 1).ok();
            break;
        }
        // The first byte picks the candidate header, so that the lines no
        // field is read from cost one compare (this runs for every response).
        let value = |name: &[u8]| field(line, name);
        match line[0] | 0x20 {
            b'k' if all => {
                if let Some(v) = value(b"keep-alive") {
                    head.keep_alive_s = keep_alive_param(v).or(head.keep_alive_s);
                }
            }
            b'c' => {
                if let Some(v) = value(b"content-length") {
                    match (digits(v), head.content_length) {
                        (Some(n), None) => head.content_length = Some(n),
                        // The same value twice is allowed (§6.3 item 5).
                        (Some(n), Some(m)) if n == m => {}
                        _ => head.bad_length = true,
                    }
                }
            }
            b't' => {
                if let Some(v) = value(b"transfer-encoding") {
                    head.transfer_encoding = true;
                    let last = v.rsplit(|&b| b == b',').next().unwrap_or(v);
                    head.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
                }
            }
            b's' if all => head.server = value(b"server").or(head.server),
            b'x' if all => head.powered_by = value(b"x-powered-by").or(head.powered_by),
            _ => {}
        }
        at = end + 1;
    }
    head
}

/// The trimmed value of `line` when it is the header `name` (lower case).
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let n = name.len();
    (line.len() > n && line[n] == b':' && eq_lower(&line[..n], name))
        .then(|| line[n + 1..].trim_ascii())
}

/// `a` equals the lower-case `lower`, ignoring the case of its letters:
/// one OR and one compare per byte (`eq_ignore_ascii_case` lowers both
/// sides with a branch each, and this runs for every response's headers).
fn eq_lower(a: &[u8], lower: &[u8]) -> bool {
    a.len() == lower.len()
        && a.iter().zip(lower).all(|(&x, &y)| {
            // Only letters may differ in case; `-` must match exactly.
            let case = u8::from(y.is_ascii_lowercase()) << 5;
            x | case == y
        })
}

/// A header line's name and trimmed value.
pub(crate) fn header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    (!name.is_empty()).then(|| (name, value.trim_ascii()))
}

/// A decimal number that fits a u64 (no sign, no spaces).
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    // Any u64 (issue 23: lengths past 2^31 are real); beyond, no length.
    let mut n = 0u64;
    for &d in value {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(v))?;
    }
    Some(n)
}

/// Whether the bytes that end a segment of a chunked body end the body: the
/// zero-length last chunk and the blank line after it (`0\r\n\r\n`, after
/// the previous chunk's line end or at the segment's start). Trailer fields
/// are not looked for: servers almost never send them.
pub fn ends_chunked(tail: &[u8], segment_len: u32) -> bool {
    const LAST: &[u8] = b"0\r\n\r\n";
    tail.ends_with(b"\n0\r\n\r\n") || (segment_len == LAST.len() as u32 && tail == LAST)
}

/// The bytes a segment's tail keeps for [`ends_chunked`] (the decoder
/// keeps them: [`crate::decode::TAIL_BYTES`]).
pub use crate::decode::TAIL_BYTES;

fn keep_alive_param(value: &[u8]) -> Option<u32> {
    value.split(|&b| b == b',').find_map(|param| {
        let param = param.trim_ascii();
        if param.len() > 8 && param[..8].eq_ignore_ascii_case(b"timeout=") {
            let digits = &param[8..];
            if digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit) {
                return Some(
                    digits
                        .iter()
                        .fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')),
                );
            }
        }
        None
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_request_line() {
        let r = request_line(b"GET /callback?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!((r.method, &*r.path), (Method::Get, "/callback?x=1"));
        let r = request_line(b"POST /orders HTT").unwrap();
        assert_eq!((r.method, &*r.path), (Method::Post, "/orders"));
        assert!(request_line(b"POST /orders").is_some());
        assert!(request_line(b"GETX / HTTP/1.1").is_none());
        assert!(request_line(b"GET  HTTP/1.1").is_none());
        assert!(request_line(b"\x16\x03\x01").is_none());
        assert!(request_line(b"GET / SMTP").is_none());
        assert!(
            Method::Put.idempotent() && !Method::Post.idempotent() && !Method::Patch.idempotent()
        );
    }

    #[test]
    fn test_eq_lower() {
        assert!(eq_lower(b"Content-Length", b"content-length"));
        assert!(eq_lower(b"CONTENT-LENGTH", b"content-length"));
        assert!(!eq_lower(b"Content\rLength", b"content-length"));
        assert!(!eq_lower(b"Content-Lengt", b"content-length"));
        assert!(!eq_lower(b"Server ", b"server"));
    }

    #[test]
    fn test_status_and_keep_alive() {
        let ka = |r: &[u8]| response_head(r).keep_alive_s;
        let resp = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhi";
        assert_eq!(status_line(resp), Some(200));
        assert_eq!(ka(resp), Some(5));
        let resp =
            b"HTTP/1.0 503 x\r\nkeep-alive: max=100, TIMEOUT=75\r\nConnection: Close\r\n\r\n";
        assert_eq!(status_line(resp), Some(503));
        assert_eq!(ka(resp), Some(75));
        // A header in the body is no header.
        assert_eq!(
            ka(b"HTTP/1.1 200 OK\r\n\r\nKeep-Alive: timeout=9\r\n"),
            None
        );
    }
}
