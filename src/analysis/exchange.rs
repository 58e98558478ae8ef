//! An exchange that did not finish, with nothing to do with keep-alive:
//! the server cut its response short (`truncated_response`), or the client
//! gave up waiting for its answer (`client_timeout`).

use super::verdict::Roles;
use crate::app::http::RequestLine;
use crate::app::response::Incomplete;
use crate::flow::Conn;
use crate::flow::Pending;
use crate::flow::conn::{Fin, Rst};

/// How a server cut a response short.
#[derive(Debug, Clone)]
pub struct TruncatedFacts {
    pub response: Incomplete,
    /// The server's FIN, else its RST, that ended it.
    pub fin: Option<Fin>,
    pub rst: Option<Rst>,
}

impl TruncatedFacts {
    /// When the server closed.
    pub fn close_ns(&self) -> i64 {
        match (self.fin, self.rst) {
            (Some(f), Some(r)) => f.ns.min(r.ns),
            (Some(f), None) => f.ns,
            (None, Some(r)) => r.ns,
            (None, None) => self.response.start_ns,
        }
    }
}

/// A response the server closed (FIN or RST) before its announced end,
/// before the client closed or reset.
pub fn truncated(conn: &Conn, roles: Roles) -> Option<TruncatedFacts> {
    let (c, s) = (roles.client, roles.server());
    let response = conn.incomplete_response()?;
    let (fin, rst) = (conn.fin(s), conn.rst(s));
    let close = match (fin, rst) {
        (Some(f), Some(r)) => f.ns.min(r.ns),
        (Some(f), None) => f.ns,
        (None, Some(r)) => r.ns,
        (None, None) => return None,
    };
    // A client that closed or reset first cut the response itself.
    let client_first = conn.fin(c).is_some_and(|f| f.ns < close && !f.reply)
        || conn.rst(c).is_some_and(|r| r.ns < close);
    if client_first || conn.http_client != Some(c) {
        return None;
    }
    Some(TruncatedFacts { response, fin, rst })
}

/// How a client gave up on its request.
#[derive(Debug, Clone)]
pub struct TimeoutFacts {
    /// The client's FIN.
    pub fin: Fin,
    /// The unanswered request, while still pending (none when the server
    /// answered after the FIN and the client reset the answer).
    pub request: Option<Pending>,
    /// The server answered after the client's FIN.
    pub answered_late: bool,
    /// The client's RST (its kernel's answer to a late response).
    pub rst: Option<Rst>,
    /// The request line and when it was sent, kept by the analysis when the
    /// client's FIN left it unanswered (a late answer releases the pending
    /// request's target; the report still names it).
    pub line: Option<(RequestLine, i64)>,
}

/// A client that sent its FIN, before any close of the server's, while its
/// own request was unanswered, and then took no answer: none came, or the
/// one that came was met by the client's RST (a closed socket's kernel
/// answers data with RST; a client that only half-closed would read it).
/// A proxy's read timeout looks like this (nginx's `proxy_read_timeout`
/// answers its client 504).
pub fn client_timeout(conn: &Conn, roles: Roles) -> Option<TimeoutFacts> {
    let (c, s) = (roles.client, roles.server());
    let fin = conn.fin(c).filter(|f| f.awaiting && !f.reply)?;
    let server_closed_first = conn.fin(s).is_some_and(|f| f.ns <= fin.ns)
        || conn.rst(s).is_some_and(|r| r.ns <= fin.ns)
        || conn.rst(c).is_some_and(|r| r.ns <= fin.ns);
    // The client acknowledged server data the capture does not hold (one
    // direction captured): an answer may have come; nothing can be said.
    let unseen_answer = match (conn.h(s).next(), conn.h(c).max_ack()) {
        // (The server's FIN occupies one sequence number past its data.)
        (Some(n), Some(a)) => a > n + u32::from(conn.fin(s).is_some()),
        (None, _) => true,
        _ => false,
    };
    if server_closed_first || unseen_answer || conn.h(s).packets == 0 {
        return None;
    }
    let request = conn.pending(c);
    let rst = conn.rst(c);
    let answered_late = request.is_none();
    if answered_late && rst.is_none() {
        // The client read the answer after half-closing: nothing failed.
        return None;
    }
    Some(TimeoutFacts {
        fin,
        request,
        answered_late,
        rst,
        line: None,
    })
}
