//! What a connection records for the analysis: its sides' first FIN and
//! first RST, the data still waiting for an answer, and what one segment
//! changed. Plain values, apart from the connection that fills them in.

use super::Seq;
use super::half::Side;
use crate::app::http::Req;
use crate::app::marks::RequestMarks;

/// A FIN as first seen.
#[derive(Debug, Clone, Copy)]
pub struct Fin {
    /// The sequence number the FIN occupies.
    pub seq: Seq,
    /// Its acknowledgement number: how much of the peer's data it had seen.
    pub ack: Option<Seq>,
    /// When it was seen.
    pub ns: i64,
    /// Start of the idle period the FIN ended: the last payload (either way)
    /// before it, not counting peer data the FIN does not acknowledge.
    pub idle_since: Option<i64>,
    /// The FIN segment carried payload (close right after a response).
    pub with_data: bool,
    /// The FIN acknowledges the peer's FIN: a reply to a close, not a close
    /// of its own (so it says nothing about this side's idle timeout).
    pub reply: bool,
    /// The FIN came while this side's HTTP response was in progress (its
    /// body not complete, or running until the close): no idle close.
    pub in_response: bool,
    /// The FIN came while this side's own data (a request) was unanswered:
    /// it gave up waiting, or half-closed after sending.
    pub awaiting: bool,
    /// The last record this side sent before its FIN was a TLS alert
    /// (close_notify): the close began there.
    pub after_alert: bool,
}

/// A RST as first seen.
#[derive(Debug, Clone, Copy)]
pub struct Rst {
    /// When it was seen.
    pub ns: i64,
    /// Its sequence number.
    pub seq: Seq,
    /// Its acknowledgement number, when it had the ACK flag.
    pub ack: Option<Seq>,
    /// Payload bytes the RST carried (some stacks put a reason there).
    pub payload: u32,
}

/// The first data of one side that the other has not answered yet: in
/// HTTP/1.x, an outstanding request (or an unacknowledged response).
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// Where the data starts in its sender's sequence space.
    pub start: Seq,
    /// When the first new byte of it was seen.
    pub ns: i64,
    /// The segment's acknowledgement number: what the sender had seen of the
    /// peer (decides crossed vs stale races).
    pub ack: Option<Seq>,
    /// The last payload (either way) before it: the idle gap it ended.
    pub idle_since: Option<i64>,
    /// Its HTTP request line, when it starts with one (the target is in the
    /// analysis's [`Paths`](crate::app::http::Paths)).
    pub request: Option<Req>,
    /// Whether the sender had sent data on this connection before (a reuse).
    pub reuse: bool,
}

impl Pending {
    /// Idle time before this data, ns.
    pub fn idle_ns(&self) -> Option<i64> {
        self.idle_since.map(|t| self.ns - t)
    }
}

/// What one segment changed that the analysis wants to know about (header
/// values borrow the segment's payload).
#[derive(Debug, Default, Clone)]
pub struct Notes<'a> {
    /// The segment answered the other side's pending data: which side's data
    /// was answered, and the pending record (its idle gap, request line).
    pub answered: Option<(Side, Pending)>,
    /// The segment started new pending data for its sender.
    pub new_turn: bool,
    /// The segment was this side's first FIN.
    pub fin: bool,
    /// The segment was this side's first RST.
    pub rst: bool,
    /// The answered request's target is held by the response that began
    /// (the analysis must not release it).
    pub kept_request: bool,
    /// The segment completed the server's response.
    pub response_done: bool,
    /// The segment began a response with a 5xx status.
    pub error_status: Option<u16>,
    /// A request's head: who sent it (forwarding headers, `User-Agent`).
    pub request_marks: Option<RequestMarks>,
    /// A TLS ClientHello's or ServerHello's names and version.
    pub tls_hello: Option<crate::app::tls::Hello<'a>>,
    /// A response head's `Server` and `X-Powered-By` values.
    pub server_header: Option<&'a [u8]>,
    pub powered_by: Option<&'a [u8]>,
}
