//! The HTTP/1.x response in progress on a connection: where it ends, known
//! from its head (RFC 9112 §6.3) and followed by sequence numbers, so that a
//! body cut by the snaplen still completes, and a server that closes in the
//! middle of a body is told apart from one that closes an idle connection.
//! A close during a response is a truncated response, never an idle-timeout
//! sample; idle time starts when a response is complete.

use super::http::{self, Framing, Method, PathId, Paths, Req, ResponseHead};
use crate::named::named_enum;
use crate::seq::Seq;

/// How far the response in progress has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    /// No response in progress (none yet, or the last one complete).
    #[default]
    Idle,
    /// An interim (1xx) response was read; the final head comes next.
    AwaitHead,
    /// A body of `Content-Length` bytes: complete at `end`.
    Length,
    /// A chunked body: complete at its last chunk.
    Chunked,
    /// A body that runs until the server closes.
    UntilClose,
    /// A response whose end cannot be known: its head was not read whole, the
    /// snaplen cut a chunked body's end, or the connection was upgraded.
    Unknown,
}

named_enum! {
    /// How a truncated response's length was known (in the report).
    pub enum BodyFraming {
        /// `Content-Length`.
        ContentLength => "content_length",
        /// `Transfer-Encoding: chunked`.
        Chunked => "chunked",
    }
}

/// A response the server stopped sending before its end: the facts a
/// `truncated_response` verdict reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    pub status: u16,
    pub framing: BodyFraming,
    /// Body bytes the head announced (`Content-Length`); none for chunked.
    pub expected_body: Option<u64>,
    /// Body bytes the server sent (by sequence numbers, captured or not).
    pub body_sent: u64,
    /// When the server's answer began (its first byte after the request).
    pub start_ns: i64,
    /// The request it answered, when its line was read.
    pub request: Option<Req>,
}

/// Sequence numbers compare within 2^31 (RFC 1982), so a body longer than
/// that is followed in laps of this many bytes (issue 23: a
/// `Content-Length` of 3 GB was capped at 2^31 − 1, and a body cut after
/// 2.5 GB read as complete).
const LAP: u64 = 1 << 31;

/// Bits of [`Response`]'s `status` field that hold the status code (three
/// digits, below 1024); the bits above count the heads read whole.
const STATUS_MASK: u16 = 0x3ff;

/// The response in progress on one connection (its server side), in 20
/// bytes (when it began is the server's pending turn's time). Its laps
/// took the connection's padding and the byte of its heads count, which
/// shares `status` with the code, so that the connection stays 248 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Response {
    stage: Stage,
    method: Option<Method>,
    /// The last status code (below [`STATUS_MASK`]), and above it the
    /// response heads read for their headers so far on the connection.
    status: u16,
    /// Where the body starts in the server's sequence space.
    body: Seq,
    /// For a length: where the current lap of the body ends, and the laps
    /// of [`LAP`] bytes that follow it, so that any `Content-Length` below
    /// 2^63 is followed exactly.
    end: Seq,
    laps: u32,
    /// [`PathId`] of the answered request's target while the response is in
    /// progress (0 for none): a truncated response reports it.
    path: u32,
}

impl Response {
    /// A response head at `start` (the server's sequence number of its
    /// first byte), answering `req` (a HEAD request when its method says
    /// so). The target of a request whose response must be
    /// followed is kept in `paths` until it is complete; returns whether it
    /// was kept (otherwise the caller releases it).
    pub fn begin(
        &mut self,
        start: Seq,
        status: u16,
        head: &ResponseHead<'_>,
        req: Option<Req>,
        paths: &mut Paths,
    ) -> bool {
        // A final response after an interim one answers the same request.
        let (req, kept_before) = match (self.stage, req) {
            (Stage::AwaitHead, None) => (self.request(), true),
            _ => {
                self.release(paths);
                (req, false)
            }
        };
        let to_head = req.is_some_and(|r| r.method == Method::Head);
        // Worked out once: it reads the head's fields, and asking twice
        // cost some 18 instructions a response (issue 22).
        let framing = head.framing(status, to_head);
        self.stage = match framing {
            Some(Framing::Interim) => Stage::AwaitHead,
            Some(Framing::Length(0) | Framing::NoBody) => Stage::Idle,
            Some(Framing::Length(_)) => Stage::Length,
            Some(Framing::Chunked) => Stage::Chunked,
            Some(Framing::UntilClose) => Stage::UntilClose,
            Some(Framing::Upgrade) | None => Stage::Unknown,
        };
        self.status = (self.status & !STATUS_MASK) | (status & STATUS_MASK);
        // (`framing` is None without a head length.)
        let body = start + head.len.unwrap_or(0);
        self.body = body;
        (self.end, self.laps) = match framing {
            // The first lap is the remainder; laps beyond 2^63 saturate.
            Some(Framing::Length(n)) => (
                body + (n % LAP) as u32,
                u32::try_from(n / LAP).unwrap_or(u32::MAX),
            ),
            _ => (body, 0),
        };
        // Only a response whose end is followed needs its request later.
        let follow = matches!(
            self.stage,
            Stage::AwaitHead | Stage::Length | Stage::Chunked
        );
        match req.filter(|_| follow) {
            Some(r) => {
                self.method = Some(r.method);
                self.path = r.path.get();
                true
            }
            None => {
                if kept_before && let Some(r) = req {
                    paths.release(r.path);
                }
                self.method = None;
                self.path = 0;
                false
            }
        }
    }

    /// The server's data now reaches `next` (the end of its highest byte);
    /// `tail` ends the segment, which held `len` payload bytes, all captured
    /// when `whole`. Returns true when this completed the response.
    pub fn data(
        &mut self,
        next: Seq,
        len: u32,
        whole: bool,
        tail: &[u8],
        paths: &mut Paths,
    ) -> bool {
        let done = match self.stage {
            Stage::Length => {
                // A segment advances less than a lap: passing the end of
                // one starts the next, which is then ahead again.
                while next >= self.end && self.laps > 0 {
                    self.end = self.end + LAP as u32;
                    self.laps -= 1;
                }
                next >= self.end
            }
            Stage::Chunked if !whole => {
                // The end of a chunked body is in its bytes, and these were cut.
                self.stage = Stage::Unknown;
                self.release(paths);
                false
            }
            Stage::Chunked => http::ends_chunked(tail, len),
            _ => false,
        };
        if done {
            self.stage = Stage::Idle;
            self.release(paths);
        }
        done
    }

    /// Whether the server's next data may start a new response head: no
    /// response is in progress (answers to pipelined requests follow each
    /// other), or an interim one was read. Not inside a body that runs until
    /// the close, nor after a head whose end was not read: their bytes may
    /// start with anything.
    pub fn awaits_head(&self) -> bool {
        matches!(self.stage, Stage::Idle | Stage::AwaitHead)
    }

    /// The connection was upgraded (`101 Switching Protocols`): what
    /// follows is another protocol's (WebSocket frames), no HTTP/1.
    pub fn upgraded(&self) -> bool {
        self.stage == Stage::Unknown && self.status() == 101
    }

    /// A body is being sent (or, after an interim response, the final
    /// response is awaited): a close now is no idle close.
    pub fn in_progress(&self) -> bool {
        matches!(
            self.stage,
            Stage::AwaitHead | Stage::Length | Stage::Chunked | Stage::UntilClose
        )
    }

    /// The response, if the server's data (up to `next`) stopped before
    /// its known end; `start_ns` is when the server's answer began, and
    /// `total` the bytes the server sent on the connection (with its
    /// earlier responses), which tells how many times a body past 4 GiB
    /// wrapped the sequence space.
    pub fn incomplete(&self, next: Option<Seq>, start_ns: i64, total: u64) -> Option<Incomplete> {
        let framing = match self.stage {
            Stage::Length => BodyFraming::ContentLength,
            Stage::Chunked => BodyFraming::Chunked,
            _ => return None,
        };
        let sent = next.map_or(0, |n| unwrap_sent(n.0.wrapping_sub(self.body.0), total));
        // What is left: the rest of this lap and the laps after it.
        let left = next.map_or(0, |n| self.end.diff(n).max(0) as u64) + u64::from(self.laps) * LAP;
        Some(Incomplete {
            status: self.status(),
            framing,
            expected_body: (framing == BodyFraming::ContentLength).then_some(sent + left),
            body_sent: sent,
            start_ns,
            request: self.request(),
        })
    }

    fn status(&self) -> u16 {
        self.status & STATUS_MASK
    }

    /// Response heads read for their headers (the `Keep-Alive` timeout,
    /// `Server`) on this connection so far.
    pub fn heads_scanned(&self) -> u8 {
        (self.status >> STATUS_MASK.count_ones()) as u8
    }

    /// One more head was read for its headers (the count saturates at
    /// what the bits above the status hold: 63).
    pub fn scanned_head(&mut self) {
        if self.heads_scanned() < (u16::MAX >> STATUS_MASK.count_ones()) as u8 {
            self.status += 1 << STATUS_MASK.count_ones();
        }
    }

    fn request(&self) -> Option<Req> {
        Some(Req {
            method: self.method?,
            path: PathId::new(self.path)?,
        })
    }

    /// Gives the answered request's target back to `paths`.
    pub fn release(&mut self, paths: &mut Paths) {
        if let Some(r) = self.request() {
            paths.release(r.path);
        }
        self.method = None;
        self.path = 0;
    }
}

/// Body bytes sent, from their count modulo 2^32 (`low`, by sequence
/// numbers) and the server's bytes on the connection (`total`): the
/// largest count that `total` holds. Exact while the server sent less than
/// 4 GiB on the connection before the body (before, the body's bytes are
/// all of `total` but its head and earlier responses).
fn unwrap_sent(low: u32, total: u64) -> u64 {
    if total < u64::from(low) {
        // Holes kept bytes out of the total: sequence numbers alone, as a
        // serial difference (none when the data ends before the body).
        return u64::try_from(low as i32).unwrap_or(0);
    }
    let low = u64::from(low);
    low + ((total - low) >> 32 << 32)
}

#[cfg(test)]
mod test {
    use super::*;

    fn head(text: &[u8]) -> (u16, ResponseHead<'_>) {
        (http::status_line(text).unwrap(), http::response_head(text))
    }

    fn get(paths: &mut Paths, method: Method) -> Option<Req> {
        Some(Req {
            method,
            path: paths.put(b"/x", false),
        })
    }

    #[test]
    fn test_length_completes_by_sequence_numbers() {
        let mut paths = Paths::default();
        let text = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n";
        let (status, h) = head(text);
        let mut r = Response::default();
        let req = get(&mut paths, Method::Get);
        assert!(r.begin(Seq(1000), status, &h, req, &mut paths));
        let body = Seq(1000) + text.len() as u32;
        // 1000 of 2000 body bytes: incomplete, with the request kept.
        assert!(!r.data(body + 1000, 1000, false, b"", &mut paths));
        let i = r.incomplete(Some(body + 1000), 0, 1 << 20).unwrap();
        assert_eq!(
            (i.framing, i.expected_body, i.body_sent, i.status),
            (BodyFraming::ContentLength, Some(2000), 1000, 200)
        );
        assert_eq!(paths.get(i.request.unwrap().path), "/x");
        // The rest (cut by the snaplen: only sequence numbers count).
        assert!(r.data(body + 2000, 1000, false, b"", &mut paths));
        assert!(r.incomplete(Some(body + 2000), 0, 1 << 20).is_none());
        assert_eq!(paths.live(), 0, "the target goes back once complete");
    }

    /// Issue 23: a `Content-Length` past 2^31 (and past 2^32) is followed
    /// in laps, cut short or to its end.
    #[test]
    fn test_length_past_2_31_completes_in_laps() {
        const STEP: u32 = 256 << 20;
        for (len, cut) in [
            (3_000_000_000u64, 2_500_000_000u64),
            (6_000_000_000, 5_000_000_000),
            (1 << 31, (1 << 31) - 1),
        ] {
            let mut paths = Paths::default();
            let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let (status, h) = head(text.as_bytes());
            let mut r = Response::default();
            r.begin(Seq(u32::MAX - 7), status, &h, None, &mut paths);
            let body = Seq(u32::MAX - 7) + text.len() as u32;
            let mut sent = 0u64;
            while sent < cut {
                let step = u64::from(STEP).min(cut - sent);
                sent += step;
                let next = body + sent as u32;
                assert!(
                    !r.data(next, step as u32, false, b"", &mut paths),
                    "{len} at {sent}"
                );
            }
            let total = text.len() as u64 + cut;
            let i = r.incomplete(Some(body + cut as u32), 0, total).unwrap();
            assert_eq!((i.expected_body, i.body_sent), (Some(len), cut), "{len}");
            while sent < len {
                let step = u64::from(STEP).min(len - sent);
                sent += step;
                let done = r.data(body + sent as u32, step as u32, false, b"", &mut paths);
                assert_eq!(done, sent == len, "{len} at {sent}");
            }
        }
    }

    /// The largest length followed exactly, and one past u64 (no length).
    #[test]
    fn test_length_near_2_63() {
        let mut paths = Paths::default();
        let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", i64::MAX);
        let (status, h) = head(text.as_bytes());
        let mut r = Response::default();
        r.begin(Seq(0), status, &h, None, &mut paths);
        let body = Seq(0) + text.len() as u32;
        let i = r.incomplete(Some(body + 10), 0, 100).unwrap();
        assert_eq!((i.expected_body, i.body_sent), (Some(i64::MAX as u64), 10));
        let (_, h) = head(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n");
        assert!(h.bad_length || h.content_length.is_none());
    }

    #[test]
    fn test_chunked_ends_at_last_chunk() {
        let mut paths = Paths::default();
        let (status, h) = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let mut r = Response::default();
        let req = get(&mut paths, Method::Get);
        r.begin(Seq(0), status, &h, req, &mut paths);
        assert!(!r.data(Seq(100), 50, true, b"abc\r\n", &mut paths));
        assert!(r.incomplete(Some(Seq(100)), 0, 1 << 20).is_some());
        assert!(r.data(Seq(110), 10, true, b"\r\n0\r\n\r\n", &mut paths));
        // The last chunk alone in a segment.
        let req = get(&mut paths, Method::Get);
        r.begin(Seq(200), status, &h, req, &mut paths);
        assert!(r.data(Seq(305), 5, true, b"0\r\n\r\n", &mut paths));
        // A cut segment hides the end: unknown, never truncated.
        let req = get(&mut paths, Method::Get);
        r.begin(Seq(400), status, &h, req, &mut paths);
        assert!(!r.data(Seq(600), 100, false, b"", &mut paths));
        assert!(r.incomplete(Some(Seq(600)), 0, 1 << 20).is_none());
        assert_eq!(paths.live(), 0);
    }

    #[test]
    fn test_no_body_and_head_requests() {
        let mut paths = Paths::default();
        let mut r = Response::default();
        for (text, method) in [
            (&b"HTTP/1.1 204 No Content\r\n\r\n"[..], Method::Get),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                Method::Get,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                Method::Head,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Method::Get),
        ] {
            let (status, h) = head(text);
            let req = get(&mut paths, method);
            assert!(!r.begin(Seq(0), status, &h, req, &mut paths));
            paths.release(req.unwrap().path);
            assert!(!r.in_progress() && r.incomplete(Some(Seq(0)), 0, 1 << 20).is_none());
        }
    }

    #[test]
    fn test_interim_then_final_keeps_request() {
        let mut paths = Paths::default();
        let mut r = Response::default();
        let (s100, h100) = head(b"HTTP/1.1 100 Continue\r\n\r\n");
        let req = get(&mut paths, Method::Post);
        assert!(r.begin(Seq(0), s100, &h100, req, &mut paths));
        assert!(r.in_progress() && r.awaits_head());
        let (s, h) = head(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n");
        assert!(r.begin(Seq(25), s, &h, None, &mut paths));
        let i = r.incomplete(Some(Seq(30)), 0, 1 << 20).unwrap();
        assert_eq!((i.status, i.request.unwrap().method), (201, Method::Post));
    }

    #[test]
    fn test_until_close_and_unknown() {
        let mut paths = Paths::default();
        let mut r = Response::default();
        let (s, h) = head(b"HTTP/1.0 200 OK\r\n\r\n");
        assert!(!r.begin(Seq(0), s, &h, None, &mut paths));
        assert!(r.in_progress() && r.incomplete(Some(Seq(10)), 0, 1 << 20).is_none());
        // Its body may hold anything, a status line too.
        assert!(!r.awaits_head());
        // A head cut before its blank line: nothing is known of its end.
        let (s, h) = head(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n");
        r.begin(Seq(0), s, &h, None, &mut paths);
        assert!(!r.in_progress() && r.incomplete(Some(Seq(10)), 0, 1 << 20).is_none());
        // Two different lengths: not trusted.
        let (s, h) = head(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 12\r\n\r\n");
        r.begin(Seq(0), s, &h, None, &mut paths);
        assert!(r.incomplete(Some(Seq(1)), 0, 1 << 20).is_none());
    }
}
