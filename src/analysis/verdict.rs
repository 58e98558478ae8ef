//! How a connection lived and died: roles, the lifecycle verdict, and the
//! facts behind it. Decided from sequence and acknowledgement numbers (what
//! each side had seen), never from the order in which packets reached the
//! capture, so a capture taken at the proxy and one taken at the backend give
//! the same answer.

use std::collections::HashSet;

use crate::flow::conn::{Fin, Rst};
use crate::flow::http::RequestLine;
use crate::flow::response::Incomplete;
use crate::flow::{Conn, Endpoint, Pending, Side};
use crate::named::named_enum;

/// An RST with no FIN after at least this much idle time is blamed on
/// something in the path (NAT, conntrack, a load balancer's idle timer), not
/// on the endpoints: the shortest such timers in common use are a minute or
/// more, so half a minute leaves room for jitter without catching servers that
/// abort busy connections.
pub const IDLE_RESET_MIN_NS: i64 = 30_000_000_000;

/// A SYN unanswered for this long, or retransmitted, is a connect timeout
/// (RFC 6298 (2.1): the initial RTO is 1 s). A shorter unanswered SYN at the
/// end of a capture is still `open`.
pub const CONNECT_TIMEOUT_MIN_NS: i64 = 1_000_000_000;

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
    /// The lifecycle verdict of a connection (in report order; the names
    /// are documented in docs/report-schema.md).
    pub enum Verdict {
        /// The server closed an idle connection and a request was lost.
        KeepaliveRace => "keepalive_race",
        /// The client's SYN was answered by a RST.
        ConnectRefused => "connect_refused",
        /// The client's SYN (and its retransmissions) went unanswered.
        ConnectTimeout => "connect_timeout",
        /// The server reset with a request outstanding or a response in flight.
        ServerReset => "server_reset",
        /// The server closed (FIN or RST) in the middle of a response whose
        /// length its head announced: the client got part of it.
        TruncatedResponse => "truncated_response",
        /// The client closed while its request was unanswered and did not
        /// take the answer (a proxy's read timeout).
        ClientTimeout => "client_timeout",
        /// The client reset (an abort).
        ClientReset => "client_reset",
        /// A RST with no FIN after a long idle gap (a middlebox's timer).
        IdleReset => "idle_reset",
        /// An orderly close by the server, nothing lost.
        ClosedByServer => "closed_by_server",
        /// An orderly close by the client, nothing lost.
        ClosedByClient => "closed_by_client",
        /// Still open when the capture ended.
        Open => "open",
        /// The capture started mid-connection; nothing failed in what it saw.
        Partial => "partial",
    }
}

impl Verdict {
    /// A connection that failed (a finding), as opposed to one that closed
    /// in order, is still open, or was only partly seen.
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            Verdict::ClosedByServer | Verdict::ClosedByClient | Verdict::Open | Verdict::Partial
        )
    }
}

named_enum! {
    /// How the client side was decided.
    pub enum RoleSource {
        /// It sent the first SYN (or received the SYN-ACK).
        Handshake => "handshake",
        /// It sent an HTTP request line, or received a status line.
        Http => "inferred_http",
        /// The other end was seen as a server on another connection.
        KnownServer => "inferred_known_server",
        /// The other end has the lower port.
        Port => "inferred_port",
    }
}

named_enum! {
    /// One end of a connection by its role (who reset, who closed).
    pub enum Peer {
        /// The side that opened the connection (the proxy, as a rule).
        Client => "client",
        /// The side that accepted it (the backend).
        Server => "server",
    }
}

/// Which side is the client, and how we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub client: Side,
    pub source: RoleSource,
}

impl Roles {
    /// The server side.
    pub fn server(self) -> Side {
        self.client.other()
    }
    /// The role of a side.
    pub fn peer(self, side: Side) -> Peer {
        if side == self.client {
            Peer::Client
        } else {
            Peer::Server
        }
    }
    /// True unless the handshake was seen.
    pub fn inferred(self) -> bool {
        self.source != RoleSource::Handshake
    }
}

/// Decides the roles: the first SYN, else HTTP, else endpoints seen as
/// servers elsewhere, else the lower port is the server.
pub fn roles(conn: &Conn, known_servers: &HashSet<Endpoint>) -> Roles {
    if let Some(client) = conn.syn_client {
        return Roles {
            client,
            source: RoleSource::Handshake,
        };
    }
    if let Some(client) = conn.http_client {
        return Roles {
            client,
            source: RoleSource::Http,
        };
    }
    let a_srv = known_servers.contains(&conn.a);
    let b_srv = known_servers.contains(&conn.b);
    if a_srv != b_srv {
        return Roles {
            client: if a_srv { Side::B } else { Side::A },
            source: RoleSource::KnownServer,
        };
    }
    Roles {
        client: if conn.a.port < conn.b.port {
            Side::B
        } else {
            Side::A
        },
        source: RoleSource::Port,
    }
}

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
    h: &crate::flow::h2::H2,
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
    let rtt = match (
        conn.established_ns(),
        conn.syn_times(conn.syn_client.unwrap_or(Side::A)).next(),
    ) {
        (Some(e), Some(s)) => (e - s).max(0),
        _ => 0,
    };
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
    if !request.reuse
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

/// Facts behind a reset verdict.
#[derive(Debug, Clone)]
pub struct ResetFacts {
    pub by: Side,
    pub rst: Rst,
    /// Idle time before the RST (or before the request it answered).
    pub idle_before_ns: Option<i64>,
    /// The other side's data the RST left unanswered.
    pub outstanding: Option<Pending>,
    /// The client's request left unanswered, whoever reset (a server may
    /// have acknowledged it; a client may have given up on it).
    pub request: Option<Pending>,
    /// Client bytes the server had not acknowledged, and server bytes the
    /// client had not acknowledged, when the capture ended.
    pub in_flight_to_server: u64,
    pub in_flight_to_client: u64,
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

/// The outcome of a connection.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    pub race: Option<RaceFacts>,
    pub reset: Option<ResetFacts>,
    pub truncated: Option<TruncatedFacts>,
    pub timeout: Option<TimeoutFacts>,
}

fn in_flight(conn: &Conn, from: Side) -> u64 {
    match (conn.h(from).next(), conn.h(from.other()).max_ack()) {
        (Some(n), Some(a)) => n.diff(a).max(0) as u64,
        (Some(_), None) => conn.bytes(from),
        _ => 0,
    }
}

fn first_fin(conn: &Conn) -> Option<Side> {
    match (conn.fin(Side::A), conn.fin(Side::B)) {
        (Some(a), Some(b)) => {
            // The FIN that the other acknowledges came first; else the earlier.
            if b.ack.is_some_and(|x| x > a.seq) && a.ack.is_none_or(|x| x <= b.seq) {
                Some(Side::A)
            } else if a.ack.is_some_and(|x| x > b.seq) && b.ack.is_none_or(|x| x <= a.seq) {
                Some(Side::B)
            } else if a.ns <= b.ns {
                Some(Side::A)
            } else {
                Some(Side::B)
            }
        }
        (Some(_), None) => Some(Side::A),
        (None, Some(_)) => Some(Side::B),
        (None, None) => None,
    }
}

fn closed_by(side: Side, roles: Roles) -> Verdict {
    if side == roles.client {
        Verdict::ClosedByClient
    } else {
        Verdict::ClosedByServer
    }
}

/// Decides a connection's verdict once it is over (or the capture ended).
pub fn outcome(conn: &Conn, roles: Roles, end_ns: i64) -> Outcome {
    let c = roles.client;
    let s = roles.server();
    let mut out = Outcome {
        verdict: Verdict::Open,
        race: None,
        reset: None,
        truncated: None,
        timeout: None,
    };
    if let Some(r) = race(conn, c) {
        out.verdict = Verdict::KeepaliveRace;
        out.race = Some(r);
        return out;
    }
    let (hc, hs) = (conn.h(c), conn.h(s));

    // A client SYN that no SYN-ACK answered (and the client sent nothing
    // else: a capture of one direction only shows a finished handshake by
    // the client's data).
    if conn.syn_client == Some(c)
        && hc.syns > 0
        && !hs.synack
        && hs.packets == 0
        && hc.packets == u32::from(hc.syns) + u32::from(conn.rst(c).is_some())
    {
        out.verdict = if conn.rst(c).is_some() {
            Verdict::ClientReset
        } else if conn
            .syn_times(c)
            .next()
            .is_some_and(|t| end_ns - t >= CONNECT_TIMEOUT_MIN_NS)
            || hc.syns > 1
        {
            Verdict::ConnectTimeout
        } else {
            Verdict::Open
        };
        return out;
    }
    // A client SYN answered by a RST instead of a SYN-ACK.
    if conn.syn_client == Some(c)
        && hc.syns > 0
        && !hs.synack
        && conn.rst(s).is_some()
        && conn.bytes(c) == 0
    {
        out.verdict = Verdict::ConnectRefused;
        out.reset = Some(reset_facts(conn, s, roles));
        return out;
    }
    // The server stopped in the middle of a response: a failure the client
    // saw, whether the server then closed with a FIN or an RST (and never
    // an idle close, whatever the time since its last byte).
    if let Some(t) = truncated(conn, roles) {
        out.verdict = Verdict::TruncatedResponse;
        if let Some(by) = t.rst.map(|_| s) {
            out.reset = Some(reset_facts(conn, by, roles));
        }
        out.truncated = Some(t);
        return out;
    }
    // The client gave up waiting for its answer.
    if let Some(t) = client_timeout(conn, roles) {
        out.verdict = Verdict::ClientTimeout;
        out.timeout = Some(t);
        return out;
    }

    let first_rst = match (conn.rst(c), conn.rst(s)) {
        (Some(a), Some(b)) => Some(if a.ns <= b.ns { c } else { s }),
        (Some(_), None) => Some(c),
        (None, Some(_)) => Some(s),
        (None, None) => None,
    };
    if let Some(by) = first_rst {
        let rst = conn.rst(by).expect("first_rst has a RST");
        let fin_before = |side: Side| conn.fin(side).is_some_and(|f| f.ns <= rst.ns);
        let facts = reset_facts(conn, by, roles);
        let no_fin = !fin_before(c) && !fin_before(s);
        let long_idle = facts.idle_before_ns.is_some_and(|i| i >= IDLE_RESET_MIN_NS);
        out.verdict = if fin_before(c) && fin_before(s) {
            // Both sides had closed: the RST only tidies up.
            closed_by(first_fin(conn).unwrap_or(by), roles)
        } else if no_fin && long_idle && !(by == c && conn.pending(c).is_some()) {
            // (A client that resets its own unanswered request gave up
            // waiting: that is the client's reset, however long it waited.)
            Verdict::IdleReset
        } else if by == s {
            if facts.outstanding.is_none() && fin_before(c) {
                // The client was closing; the server's RST ends it faster.
                Verdict::ClosedByClient
            } else {
                Verdict::ServerReset
            }
        } else if facts.outstanding.is_none()
            && conn.pending(c).is_none()
            && (fin_before(s) || conn.close_began_ns(s).is_some_and(|g| g <= rst.ns))
        {
            // The client answered the server's close with a RST; nothing
            // lost. (Over HTTP/2 the close begins at the server's GOAWAY:
            // a proxy resets a pooled connection on it, and at the proxy
            // that RST is seen before the server's FIN.)
            Verdict::ClosedByServer
        } else {
            Verdict::ClientReset
        };
        out.reset = Some(facts);
    } else if let Some(side) = first_fin(conn) {
        out.verdict = closed_by(side, roles);
    }
    if !conn.saw_syn()
        && matches!(
            out.verdict,
            Verdict::Open | Verdict::ClosedByClient | Verdict::ClosedByServer
        )
    {
        out.verdict = Verdict::Partial;
    }
    out
}

fn reset_facts(conn: &Conn, by: Side, roles: Roles) -> ResetFacts {
    let rst = conn.rst(by).expect("reset side has a RST");
    // The other side's data is outstanding only if the resetting side had
    // not acknowledged it: a response the client acked is answered. A
    // request the server acked and then reset is still lost.
    let outstanding = conn
        .pending(by.other())
        .filter(|p| by == roles.server() || conn.h(by).max_ack().is_none_or(|a| a <= p.start));
    let request = conn.pending(roles.client).filter(|p| p.request.is_some());
    let idle_since = match &outstanding {
        Some(p) => p.idle_since,
        None => conn.last_payload_ns().or(Some(conn.first_ns)),
    };
    let idle_end = outstanding.as_ref().map_or(rst.ns, |p| p.ns);
    ResetFacts {
        by,
        rst,
        idle_before_ns: idle_since.map(|t| idle_end - t),
        outstanding,
        request,
        in_flight_to_server: in_flight(conn, roles.client),
        in_flight_to_client: in_flight(conn, roles.server()),
    }
}
