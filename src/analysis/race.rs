//! The keep-alive race: the server closed an idle connection before it had
//! read the client's next request, and that request was lost. Its shapes —
//! the FIN before the request (crossed or stale by the request's ACK), the
//! FIN with the request unread in the server's socket (Apache's lingering
//! close), an RST with no FIN (gunicorn's close with unread data), and a
//! stream opened after an HTTP/2 GOAWAY — are told apart here, from
//! sequence and acknowledgement numbers and stream ids only.

use super::verdict::IDLE_RESET_MIN_NS;
use crate::flow::conn::{Fin, Rst};
use crate::flow::{Conn, Pending, Side};
use crate::named::named_enum;

/// A server RST with no FIN answering a request that came after at least
/// this much idle time is a keep-alive race of its own kind: the server
/// was closing the idle connection and the request arrived just before its
/// `close()`, so the socket held unread data and Linux sent an RST instead
/// of a FIN (gunicorn's gthread worker checks its deadlines once per second
/// and does this). Keep-alive timeouts under a second are rare; an
/// application that aborts a request it was handling does so without such
/// a gap or long after the request.
pub const RESET_RACE_MIN_IDLE_NS: i64 = 1_000_000_000;

/// The RST of such a race comes at once: the server was in the middle of
/// closing when the request arrived (at the backend: microseconds; at the
/// proxy: one round trip). An RST later than this after the request is the
/// application's, not a race.
pub const RESET_RACE_MAX_NS: i64 = 500_000_000;

named_enum! {
    /// Crossed, stale, reset or HTTP/2 keep-alive race (docs/design.md,
    /// "Kinds of keep-alive race").
    pub enum RaceKind {
        /// The request does not acknowledge the server's FIN: it was sent
        /// before the FIN reached the client. Only the timeout order prevents it.
        Crossed => "crossed",
        /// The request acknowledges the FIN: the client's kernel had it, yet
        /// the application wrote into the half-closed connection.
        Stale => "stale",
        /// No FIN: the server reset the idle connection as the request
        /// arrived (it closed with the request unread).
        Reset => "reset",
        /// HTTP/2: the client opened a stream after the server's GOAWAY
        /// (above its last-stream-id: never processed) or after its FIN.
        /// The server answers it with an RST, a RST_STREAM, or nothing at
        /// all (a graceful close that keeps reading); the proxy's retry
        /// knob for refused streams covers it, as the timeout order does.
        Goaway => "goaway",
    }
}

/// The packets that prove a keep-alive race.
#[derive(Debug, Clone)]
pub struct RaceFacts {
    pub kind: RaceKind,
    /// The server's FIN (none for a [`RaceKind::Reset`] race).
    pub fin: Option<Fin>,
    pub request: Pending,
    pub rst: Option<Rst>,
    /// HTTP/2: whether the server processed the stream (false when its id
    /// is above the GOAWAY's last-stream-id: safe to retry whatever the
    /// method); none when unknown, and for HTTP/1.
    pub processed: Option<bool>,
    /// HTTP/2: the server's first GOAWAY, where its close began.
    pub goaway_ns: Option<i64>,
}

impl RaceFacts {
    /// When the server closed: its GOAWAY (HTTP/2), else its FIN, else its RST.
    pub fn close_ns(&self) -> i64 {
        if let Some(g) = self.goaway_ns {
            return g;
        }
        match (self.fin, self.rst) {
            (Some(f), _) => f.ns,
            (None, Some(r)) => r.ns,
            (None, None) => self.request.ns,
        }
    }
    /// When the idle period the server's close ended began.
    pub fn idle_since(&self) -> Option<i64> {
        match self.fin {
            Some(f) => f.idle_since,
            None => self.request.idle_since,
        }
    }
    /// Idle time before the server's close (its FIN, or the RST of a reset race).
    pub fn idle_before_close_ns(&self) -> Option<i64> {
        self.idle_since().map(|t| self.close_ns() - t)
    }
    /// From the FIN to the request (negative when the capture saw the
    /// request first, as a capture on the proxy's side does); none without a FIN.
    pub fn fin_to_request_ns(&self) -> Option<i64> {
        self.fin.map(|f| self.request.ns - f.ns)
    }
}

/// Finds a keep-alive race: the server sent a FIN before it had received the
/// client's next request, and that request was never answered.
pub fn race(conn: &Conn, client: Side) -> Option<RaceFacts> {
    let request = conn.pending(client)?;
    if let Some(h) = conn.h2() {
        return goaway_race(conn, client, h, request);
    }
    fin_race(conn, client, request)
}

/// The last-stream-id of a graceful shutdown's first GOAWAY (RFC 9113
/// §6.8): it says nothing of which streams were processed.
const GRACEFUL_LAST_STREAM_ID: u32 = (1 << 31) - 1;

/// The race over HTTP/2. A stream the client opened above the server's
/// GOAWAY's last-stream-id, which the server never answered, is a race
/// whether the server then reset the connection, refused the stream or
/// just went on reading (a graceful `session.close()`): the GOAWAY says it
/// was never processed, wherever the capture was taken. Without such a
/// GOAWAY, the FIN decides as for HTTP/1 (a stream opened after the
/// server's FIN), or the RST of a reset race.
fn goaway_race(
    conn: &Conn,
    client: Side,
    h: &crate::app::h2::H2,
    request: Pending,
) -> Option<RaceFacts> {
    let server = client.other();
    let goaway = h.goaway(server.idx());
    if let Some(g) = goaway
        && let Some(last) = g.last_stream_id
    {
        if h.opened() > last && h.answered() <= last {
            // The idle gap the close ended is the one before the stream:
            // a FIN that read the stream (graceful) came after it.
            let fin = conn.fin(server).map(|mut f| {
                f.idle_since = request.idle_since;
                f
            });
            return Some(RaceFacts {
                kind: RaceKind::Goaway,
                fin,
                request,
                rst: conn.rst(server),
                processed: Some(false),
                goaway_ns: Some(g.first_ns),
            });
        }
        if last != GRACEFUL_LAST_STREAM_ID {
            // Every stream was at most last-stream-id: the server took
            // them (an unanswered one is the server's failure, no race).
            return None;
        }
    }
    let mut r = fin_race(conn, client, request)?;
    if r.kind != RaceKind::Reset {
        r.kind = RaceKind::Goaway;
    }
    r.goaway_ns = goaway.map(|g| g.first_ns);
    Some(r)
}

/// The race by the server's FIN: it was sent before the server had
/// received the client's request (or with the request unread).
fn fin_race(conn: &Conn, client: Side, request: Pending) -> Option<RaceFacts> {
    let server = client.other();
    let Some(fin) = conn.fin(server) else {
        return reset_race(conn, client, request);
    };
    // A FIN that acknowledges the request came from a server whose kernel
    // had it. That is a server dropping a request it read, not a race —
    // unless the close came at once after the request's arrival, on a
    // connection idle before it: the server's idle timer had fired with the
    // request unread in its socket (Apache's lingering close reads it only
    // to discard it). Then the idle period the FIN ended began before the
    // request.
    let mut fin = fin;
    if fin.ack.is_some_and(|a| a > request.start) {
        if !unread_at_close(conn, &fin, &request) {
            return None;
        }
        fin.idle_since = request.idle_since;
    }
    // A FIN right after the server's own data closes after a response; data
    // the client sends then is a goodbye (a TLS alert, say) unless it is a
    // new HTTP request, which a client must not send after such a close either.
    let idle_close = fin
        .idle_since
        .is_none_or(|t| fin.ns - t >= crate::analysis::timeouts::MIN_IDLE_CLOSE_NS);
    if !idle_close && request.request.is_none() {
        return None;
    }
    let kind = match request.ack {
        Some(a) if a >= (fin.seq + 1) => RaceKind::Stale,
        _ => RaceKind::Crossed,
    };
    // The server's RST, if it came (its first: a second one usually answers
    // the client's own FIN that follows).
    let rst = conn.rst(server);
    Some(RaceFacts {
        kind,
        fin: Some(fin),
        request,
        rst,
        processed: None,
        goaway_ns: None,
    })
}

/// How soon after a request's arrival the server's FIN may follow, beyond
/// one round trip, for the request to count as unread when the server
/// closed (see [`race`]). The backend sees its own FIN follow within a
/// millisecond or two; a capture at the proxy adds the round trip.
pub const UNREAD_AT_CLOSE_NS: i64 = 20_000_000;

/// The server's FIN acknowledges `request` yet closed an idle connection
/// with it unread: the request reused the connection after an idle gap of
/// an idle close's length, and the FIN came within [`UNREAD_AT_CLOSE_NS`]
/// (plus the connection's handshake round trip) of it.
fn unread_at_close(conn: &Conn, fin: &Fin, request: &Pending) -> bool {
    let rtt = conn.handshake_ns().map_or(0, |r| r.max(0));
    let soon = fin.ns - request.ns <= rtt + UNREAD_AT_CLOSE_NS;
    let idle = request
        .idle_ns()
        .is_some_and(|g| g >= crate::analysis::timeouts::MIN_IDLE_CLOSE_NS);
    request.reuse && idle && soon && !fin.in_response
}

/// The race with no FIN: the server's first RST, at once after a request
/// that reused the connection after an idle gap of a keep-alive timeout's
/// length (see [`RESET_RACE_MIN_IDLE_NS`]), with no response begun, no
/// response cut short before it, and no FIN from the client before it.
fn reset_race(conn: &Conn, client: Side, request: Pending) -> Option<RaceFacts> {
    let rst = conn.rst(client.other())?;
    let idle = request.idle_ns()?;
    let client_closed_first = conn.fin(client).is_some_and(|f| f.ns <= rst.ns);
    let prompt = (0..=RESET_RACE_MAX_NS).contains(&(rst.ns - request.ns));
    // Past the middleboxes' idle timers it is an idle reset, not the server's.
    let plausible = (RESET_RACE_MIN_IDLE_NS..IDLE_RESET_MIN_NS).contains(&idle);
    // A socket closing with the request unread sends RST|ACK; a bare RST
    // comes from a host that had no socket at all (a vanished or replaced
    // peer, see `rules::reset`), which is no close of the server's.
    if rst.ack.is_none()
        || !request.reuse
        || !plausible
        || !prompt
        || client_closed_first
        || conn.incomplete_response().is_some()
    {
        return None;
    }
    Some(RaceFacts {
        kind: RaceKind::Reset,
        fin: None,
        request,
        rst: Some(rst),
        processed: None,
        goaway_ns: None,
    })
}
