//! An HTTP/1 head read once, on the thread that has its bytes (issue 22).
//! The reader thread already finds where a request's or a response's head
//! ends ([`http::sniffed`]) to copy it for the analysis; while the analysis
//! is behind ([`Heads`](crate::pipeline::Heads)), it reads the request
//! line, or the status line and the response head's fields, in the same
//! place and hands these typed facts beside the segment, so that the
//! analysis thread does not read the bytes again. A segment without them
//! (the reader was the slower thread, a whole frame on one thread, a socket
//! event) or one whose facts do not answer a question is read by the
//! analysis as before, from the same bytes: the answers are the same either
//! way.

use super::http::{self, Method, ResponseHead};
use super::marks::{self, RequestMarks};

/// What the first bytes of a segment (the prefix the reader hands over)
/// say of HTTP/1: a request line or a status line with its head's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// [`http::request_target`]: the method, the kept target's length (it
    /// follows the method and a space) and whether the target is longer;
    /// and [`marks::request_head`] (the analysis reads it of a client's
    /// first requests only, but the reader cannot tell which those are).
    Request {
        method: Method,
        kept: u8,
        longer: bool,
        marks: RequestMarks,
    },
    /// [`http::status_line`], and [`http::response_head`] of the bytes.
    Response { status: u16, fields: Fields },
}

/// [`ResponseHead`] with its header values as places in the bytes read,
/// so that it outlives them in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    keep_alive_s: Option<u32>,
    len: Option<u32>,
    content_length: Option<u64>,
    bad_length: bool,
    transfer_encoding: bool,
    chunked: bool,
    server: Option<Span>,
    powered_by: Option<Span>,
}

/// A header value's place in the bytes read (at most
/// [`SNIFF_BYTES`](crate::decode::SNIFF_BYTES), so 16 bits each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    at: u16,
    len: u16,
}

impl Span {
    /// Where `value`, a part of `bytes`, lies in them.
    fn of(bytes: &[u8], value: &[u8]) -> Option<Span> {
        let at = (value.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        Some(Span {
            at: u16::try_from(at).ok()?,
            len: u16::try_from(value.len()).ok()?,
        })
    }

    fn get(self, bytes: &[u8]) -> &[u8] {
        &bytes[usize::from(self.at)..][..usize::from(self.len)]
    }
}

/// What the reader hands over of a payload: [`carried`](super::carried)
/// of it, and what the HTTP/1 head that the carried bytes begin says.
pub fn carried(payload: &[u8]) -> (&[u8], Option<Head>) {
    let p = &payload[..payload.len().min(crate::decode::SNIFF_BYTES)];
    if p.is_empty() {
        // (Most segments: pure ACKs.)
        return (p, None);
    }
    // A head's lines are read once, here: its first blank line ends where
    // the carried bytes do (the first CRLF CRLF) whenever that blank line
    // is a CRLF after a CRLF, since every CRLF CRLF is a blank line to the
    // line readers. Otherwise (a bare LF, or no blank line) the search for
    // CRLF CRLF decides. A head reads the same in `p` as in the carried
    // bytes: both hold its lines up to the first blank one.
    let upto = |end: Option<usize>| match end {
        Some(l) if p[..l].ends_with(b"\r\n\r\n") => &p[..l],
        _ => super::carried(payload),
    };
    if let Some(status) = http::status_line(p) {
        let h = http::response_head(p);
        let bytes = upto(h.len.map(|l| l as usize));
        return (bytes, Head::response(bytes, status, &h));
    }
    if let Some((method, kept, longer)) = http::request_target(p) {
        let (marks, end) = marks::request_head_end(p);
        let bytes = upto(end);
        // (The kept target is at most 200 bytes.)
        let head = u8::try_from(kept.len()).ok().map(|kept| Head::Request {
            method,
            kept,
            longer,
            marks,
        });
        return (bytes, head);
    }
    (super::carried(payload), None)
}

impl Head {
    /// What `bytes` (a segment's carried prefix) say, as the analysis would
    /// read them; none when they begin neither a request nor a response
    /// (the analysis then finds that out itself with a compare or two).
    pub fn read(bytes: &[u8]) -> Option<Head> {
        if bytes.is_empty() {
            // (Most segments: pure ACKs, and bodies.)
            return None;
        }
        if let Some((method, kept, longer)) = http::request_target(bytes) {
            // (The kept target is at most 200 bytes.)
            let kept = u8::try_from(kept.len()).ok()?;
            return Some(Head::Request {
                method,
                kept,
                longer,
                marks: marks::request_head(bytes),
            });
        }
        let status = http::status_line(bytes)?;
        Head::response(bytes, status, &http::response_head(bytes))
    }

    /// A response's facts: its status and head `h`, read from `bytes`.
    fn response(bytes: &[u8], status: u16, h: &ResponseHead<'_>) -> Option<Head> {
        // Values that cannot be placed in 16 bits are left to the analysis.
        let span = |v: Option<&[u8]>| match v {
            Some(v) => Span::of(bytes, v).map(Some),
            None => Some(None),
        };
        Some(Head::Response {
            status,
            fields: Fields {
                keep_alive_s: h.keep_alive_s,
                len: h.len,
                content_length: h.content_length,
                bad_length: h.bad_length,
                transfer_encoding: h.transfer_encoding,
                chunked: h.chunked,
                server: span(h.server)?,
                powered_by: span(h.powered_by)?,
            },
        })
    }
}

/// A segment's first bytes and, when the reader read them, what they say:
/// the questions the analysis asks of a payload's HTTP/1 head, answered
/// from the facts when there are some, else from the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Sniff<'a> {
    pub bytes: &'a [u8],
    pub head: Option<&'a Head>,
}

impl<'a> Sniff<'a> {
    /// [`http::request_target`] of the bytes.
    pub fn request_target(self) -> Option<(Method, &'a [u8], bool)> {
        match self.head {
            Some(&Head::Request {
                method,
                kept,
                longer,
                ..
            }) => {
                let from = method.as_str().len() + 1;
                Some((method, &self.bytes[from..][..usize::from(kept)], longer))
            }
            Some(Head::Response { .. }) => None,
            None => http::request_target(self.bytes),
        }
    }

    /// [`marks::request_head`] of the bytes.
    pub fn request_marks(self) -> RequestMarks {
        match self.head {
            Some(&Head::Request { marks, .. }) => marks,
            _ => marks::request_head(self.bytes),
        }
    }

    /// [`http::status_line`] of the bytes.
    pub fn status_line(self) -> Option<u16> {
        match self.head {
            Some(&Head::Response { status, .. }) => Some(status),
            Some(Head::Request { .. }) => None,
            None => http::status_line(self.bytes),
        }
    }

    /// [`http::response_head_with`] of the bytes: all of it when the reader
    /// read them (the fields beyond the framing are read anyway there).
    pub fn response_head(self, all: bool) -> ResponseHead<'a> {
        match self.head {
            Some(Head::Response { fields: f, .. }) => ResponseHead {
                keep_alive_s: f.keep_alive_s,
                len: f.len,
                content_length: f.content_length,
                bad_length: f.bad_length,
                transfer_encoding: f.transfer_encoding,
                chunked: f.chunked,
                server: f.server.map(|s| s.get(self.bytes)),
                powered_by: f.powered_by.map(|s| s.get(self.bytes)),
            },
            _ => http::response_head_with(self.bytes, all),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// The facts answer as the bytes do, for requests, responses and
    /// neither, whole or cut at every length.
    #[test]
    fn test_head_answers_as_the_bytes() {
        let texts: [&[u8]; 11] = [
            b"GET / HTTP/1.1\nHost: a\nVia: x\n\nxx\r\n\r\n",
            b"POST /p HTTP/1.1\r\nA: b\n\r\nbody\r\n\r\n",
            b"HTTP/1.1 200 OK\nServer: a\n\nbody\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nServer: a\n\r\nbody\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"GET /callback?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: okhttp/4\r\nVia: 1.1 p\r\nx-envoy-attempt-count: 1\r\n\r\n",
            b"DELETE /a/b HTTP/1.1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nKeep-Alive: timeout=5\r\nX-Powered-By: PHP\r\nContent-Length: 12\r\n\r\nhello world!",
            b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"\x16\x03\x01\x02\x00",
        ];
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(300));
        for text in texts.iter().copied().chain([long.as_bytes()]) {
            for cut in 0..=text.len() {
                let bytes = &text[..cut];
                let head = Head::read(bytes);
                // Read with the carrying, as the reader does: the same.
                let whole = crate::app::carried(bytes);
                assert_eq!(carried(bytes), (whole, Head::read(whole)), "{cut}");
                let read = Sniff {
                    bytes,
                    head: head.as_ref(),
                };
                let raw = Sniff { bytes, head: None };
                assert_eq!(read.request_target(), raw.request_target(), "{cut}");
                assert_eq!(read.status_line(), raw.status_line(), "{cut}");
                if raw.request_target().is_some() {
                    assert_eq!(read.request_marks(), raw.request_marks(), "{cut}");
                }
                if raw.status_line().is_some() {
                    assert_eq!(read.response_head(true), raw.response_head(true), "{cut}");
                    // Without `all`, the framing's fields are the same.
                    let (a, b) = (read.response_head(false), raw.response_head(false));
                    assert_eq!(a.framing(200, false), b.framing(200, false), "{cut}");
                    assert_eq!(a.len, b.len, "{cut}");
                }
            }
        }
    }
}
