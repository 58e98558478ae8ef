//! How a connection lived and died: roles, the lifecycle verdict, and the
//! facts behind it (the keep-alive race's are in [`super::race`], those of
//! an exchange cut short in [`super::exchange`]; the rules that decide, in
//! their order, in [`super::rules`]). Decided from sequence and acknowledgement numbers (what
//! each side had seen), never from the order in which packets reached the
//! capture, so a capture taken at the proxy and one taken at the backend give
//! the same answer.

use std::collections::HashSet;

pub use super::exchange::{TimeoutFacts, TruncatedFacts, client_timeout, truncated};
pub use super::race::{RaceFacts, RaceKind, race};
pub use super::rules::{RULES, Rule, outcome, outcome_without_race};
use crate::flow::conn::Rst;
use crate::flow::{Conn, Endpoint, Pending, Side};
use crate::named::named_enum;

/// An RST with no FIN after at least this much idle time is blamed on
/// something in the path (NAT, conntrack, a load balancer's idle timer), not
/// on the endpoints: the shortest such timers in common use are a minute or
/// more, so half a minute leaves room for jitter without catching servers that
/// abort busy connections.
pub const IDLE_RESET_MIN_NS: i64 = 30_000_000_000;

/// A request unacknowledged this long before the capture ended was
/// retransmitted into nothing: past the initial RTO (RFC 6298 (2.1): 1 s),
/// its sender has retransmitted it at least once.
pub const UNACKNOWLEDGED_MIN_NS: i64 = 1_000_000_000;

/// A SYN unanswered for this long, or retransmitted, is a connect timeout
/// (RFC 6298 (2.1): the initial RTO is 1 s). A shorter unanswered SYN at the
/// end of a capture is still `open`.
pub const CONNECT_TIMEOUT_MIN_NS: i64 = 1_000_000_000;

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
        /// The server closed (FIN) after it had read a request that it
        /// never answered: its client got no response at all. A proxy
        /// closing its client's connection when its upstream failed
        /// (HAProxy), an application that closes at a request, a server
        /// shutting down under a long poll.
        NoResponse => "no_response",
        /// The client closed while its request was unanswered and did not
        /// take the answer (a proxy's read timeout).
        ClientTimeout => "client_timeout",
        /// The client reset (an abort).
        ClientReset => "client_reset",
        /// A RST with no FIN on an idle connection that the server's own
        /// close does not explain: a middlebox's timer, or a host with no
        /// socket for it (a vanished or replaced peer); its `cause` says which.
        IdleReset => "idle_reset",
        /// The client's request, on a connection reused after an idle gap,
        /// was never acknowledged: retransmitted into nothing (a middlebox
        /// that forgot the flow and drops its packets) until the capture
        /// ended, with no FIN or RST from anyone.
        UnacknowledgedRequest => "unacknowledged_request",
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

/// Endpoints seen answering a SYN: hashed with foldhash, as the flow
/// table's keys are (every SYN-ACK inserts one; SipHash cost tens of
/// instructions more a look-up).
pub type KnownServers = HashSet<Endpoint, foldhash::fast::RandomState>;

/// Decides the roles: the first SYN, else HTTP, else endpoints seen as
/// servers elsewhere, else the lower port is the server.
pub fn roles(conn: &Conn, known_servers: &KnownServers) -> Roles {
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

/// The outcome of a connection.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    pub race: Option<RaceFacts>,
    pub reset: Option<ResetFacts>,
    pub truncated: Option<TruncatedFacts>,
    pub timeout: Option<TimeoutFacts>,
    /// The request an `unacknowledged_request` lost.
    pub unacknowledged: Option<Pending>,
    /// The request a `no_response` close left unanswered.
    pub unanswered: Option<Pending>,
    /// What closed or reset the connection, as far as its own packets tell
    /// ([`super::cause`]; a restart is settled across connections later).
    pub cause: Option<super::cause::Cause>,
}

impl Outcome {
    /// A verdict with no evidence of its own yet.
    pub fn of(verdict: Verdict) -> Outcome {
        Outcome {
            verdict,
            race: None,
            reset: None,
            truncated: None,
            timeout: None,
            unacknowledged: None,
            unanswered: None,
            cause: None,
        }
    }
}

fn in_flight(conn: &Conn, from: Side) -> u64 {
    match (conn.h(from).next(), conn.h(from.other()).max_ack()) {
        (Some(n), Some(a)) => n.diff(a).max(0) as u64,
        (Some(_), None) => conn.bytes(from),
        _ => 0,
    }
}

/// The side that closed first (its FIN the other acknowledges, else the earlier).
pub(super) fn first_fin(conn: &Conn) -> Option<Side> {
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

/// The facts of `by`'s first RST.
pub(super) fn reset_facts(conn: &Conn, by: Side, roles: Roles) -> ResetFacts {
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
