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

/// The response in progress on one connection (its server side), in 16
/// bytes (when it began is the server's pending turn's time).
#[derive(Debug, Clone, Copy, Default)]
pub struct Response {
    stage: Stage,
    method: Option<Method>,
    status: u16,
    /// Where the body starts, and (for a length) where it ends, in the
    /// server's sequence space.
    body: Seq,
    end: Seq,
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
        self.stage = match head.framing(status, to_head) {
            Some(Framing::Interim) => Stage::AwaitHead,
            Some(Framing::Length(0) | Framing::NoBody) => Stage::Idle,
            Some(Framing::Length(_)) => Stage::Length,
            Some(Framing::Chunked) => Stage::Chunked,
            Some(Framing::UntilClose) => Stage::UntilClose,
            Some(Framing::Upgrade) | None => Stage::Unknown,
        };
        self.status = status;
        // (`framing` is None without a head length.)
        let body = start + head.len.unwrap_or(0);
        self.body = body;
        self.end = match head.framing(status, to_head) {
            Some(Framing::Length(n)) => body + n.min(u64::from(u32::MAX >> 1)) as u32,
            _ => body,
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
            Stage::Length => next >= self.end,
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
        self.stage == Stage::Unknown && self.status == 101
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
    /// its known end; `start_ns` is when the server's answer began.
    pub fn incomplete(&self, next: Option<Seq>, start_ns: i64) -> Option<Incomplete> {
        let framing = match self.stage {
            Stage::Length => BodyFraming::ContentLength,
            Stage::Chunked => BodyFraming::Chunked,
            _ => return None,
        };
        let sent = next.map_or(0, |n| n.diff(self.body).max(0) as u64);
        Some(Incomplete {
            status: self.status,
            framing,
            expected_body: (framing == BodyFraming::ContentLength)
                .then(|| self.end.diff(self.body).max(0) as u64),
            body_sent: sent,
            start_ns,
            request: self.request(),
        })
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
        let i = r.incomplete(Some(body + 1000), 0).unwrap();
        assert_eq!(
            (i.framing, i.expected_body, i.body_sent, i.status),
            (BodyFraming::ContentLength, Some(2000), 1000, 200)
        );
        assert_eq!(paths.get(i.request.unwrap().path), "/x");
        // The rest (cut by the snaplen: only sequence numbers count).
        assert!(r.data(body + 2000, 1000, false, b"", &mut paths));
        assert!(r.incomplete(Some(body + 2000), 0).is_none());
        assert_eq!(paths.live(), 0, "the target goes back once complete");
    }

    #[test]
    fn test_chunked_ends_at_last_chunk() {
        let mut paths = Paths::default();
        let (status, h) = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let mut r = Response::default();
        let req = get(&mut paths, Method::Get);
        r.begin(Seq(0), status, &h, req, &mut paths);
        assert!(!r.data(Seq(100), 50, true, b"abc\r\n", &mut paths));
        assert!(r.incomplete(Some(Seq(100)), 0).is_some());
        assert!(r.data(Seq(110), 10, true, b"\r\n0\r\n\r\n", &mut paths));
        // The last chunk alone in a segment.
        let req = get(&mut paths, Method::Get);
        r.begin(Seq(200), status, &h, req, &mut paths);
        assert!(r.data(Seq(305), 5, true, b"0\r\n\r\n", &mut paths));
        // A cut segment hides the end: unknown, never truncated.
        let req = get(&mut paths, Method::Get);
        r.begin(Seq(400), status, &h, req, &mut paths);
        assert!(!r.data(Seq(600), 100, false, b"", &mut paths));
        assert!(r.incomplete(Some(Seq(600)), 0).is_none());
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
            assert!(!r.in_progress() && r.incomplete(Some(Seq(0)), 0).is_none());
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
        let i = r.incomplete(Some(Seq(30)), 0).unwrap();
        assert_eq!((i.status, i.request.unwrap().method), (201, Method::Post));
    }

    #[test]
    fn test_until_close_and_unknown() {
        let mut paths = Paths::default();
        let mut r = Response::default();
        let (s, h) = head(b"HTTP/1.0 200 OK\r\n\r\n");
        assert!(!r.begin(Seq(0), s, &h, None, &mut paths));
        assert!(r.in_progress() && r.incomplete(Some(Seq(10)), 0).is_none());
        // Its body may hold anything, a status line too.
        assert!(!r.awaits_head());
        // A head cut before its blank line: nothing is known of its end.
        let (s, h) = head(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n");
        r.begin(Seq(0), s, &h, None, &mut paths);
        assert!(!r.in_progress() && r.incomplete(Some(Seq(10)), 0).is_none());
        // Two different lengths: not trusted.
        let (s, h) = head(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 12\r\n\r\n");
        r.begin(Seq(0), s, &h, None, &mut paths);
        assert!(r.incomplete(Some(Seq(1)), 0).is_none());
    }
}
