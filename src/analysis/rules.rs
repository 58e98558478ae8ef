//! The verdict rules, in the order they are tried: each looks at a
//! finished connection's facts and either decides its verdict, with the
//! evidence that decided it, or passes. The first rule that decides wins,
//! so a rule may assume that none before it applied. A new verdict is a
//! line in [`Verdict`]'s list and a rule here, at the place in the order
//! that its evidence deserves.

use super::exchange::{client_timeout, truncated};
use super::race::race;
use super::verdict::{
    CONNECT_TIMEOUT_MIN_NS, IDLE_RESET_MIN_NS, Outcome, Roles, UNACKNOWLEDGED_MIN_NS, Verdict,
    first_fin, reset_facts,
};
use crate::flow::{Conn, Side};

/// What a rule looks at: the connection, who is the client, and when the
/// capture ended (an unanswered SYN's wait is measured to it).
#[derive(Clone, Copy)]
pub struct Judged<'a> {
    pub conn: &'a Conn,
    pub roles: Roles,
    pub end_ns: i64,
}

/// A rule: the verdict and evidence it gives a connection, or none.
pub type Rule = fn(&Judged<'_>) -> Option<Outcome>;

/// The rules in order, each with its name (for tests and docs).
pub const RULES: &[(&str, Rule)] = &[
    ("keepalive_race", keepalive_race),
    ("unanswered_syn", unanswered_syn),
    ("connect_refused", connect_refused),
    ("truncated_response", truncated_response),
    ("no_response", no_response),
    ("client_timeout", client_gave_up),
    ("reset", reset),
    ("unacknowledged_request", unacknowledged_request),
    ("fin", fin),
];

/// Decides a connection's verdict once it is over (or the capture ended):
/// the first rule that applies, else still open. A connection whose start
/// the capture missed and that did not fail is only partly seen.
pub fn outcome(conn: &Conn, roles: Roles, end_ns: i64) -> Outcome {
    decide(conn, roles, end_ns, RULES)
}

/// The outcome had the connection been no keep-alive race: what a reset
/// race is when the server's other closes show that its idle age does not
/// fit the server's timer (the application reset it; see
/// [`super::cause::fits_timer`]).
pub fn outcome_without_race(conn: &Conn, roles: Roles, end_ns: i64) -> Outcome {
    decide(conn, roles, end_ns, &RULES[1..])
}

fn decide(conn: &Conn, roles: Roles, end_ns: i64, rules: &[(&str, Rule)]) -> Outcome {
    let j = Judged {
        conn,
        roles,
        end_ns,
    };
    let mut out = rules
        .iter()
        .find_map(|(_, rule)| rule(&j))
        .unwrap_or_else(|| Outcome::of(Verdict::Open));
    if !conn.saw_syn()
        && matches!(
            out.verdict,
            Verdict::Open | Verdict::ClosedByClient | Verdict::ClosedByServer
        )
    {
        out.verdict = Verdict::Partial;
    }
    out.cause = super::cause::of_outcome(&out, conn, roles);
    out
}

/// The server closed an idle connection and a request was lost
/// ([`super::race`] has its shapes). First: a race's RST or FIN would
/// otherwise read as a reset or an orderly close.
fn keepalive_race(j: &Judged<'_>) -> Option<Outcome> {
    let r = race(j.conn, j.roles.client)?;
    Some(Outcome {
        race: Some(r),
        ..Outcome::of(Verdict::KeepaliveRace)
    })
}

/// A client SYN that no SYN-ACK answered (and the client sent nothing
/// else: a capture of one direction only shows a finished handshake by the
/// client's data). Retransmitted, or unanswered for the initial RTO, it is
/// a connect timeout; aborted by the client, its reset; else still open.
fn unanswered_syn(j: &Judged<'_>) -> Option<Outcome> {
    let (conn, c) = (j.conn, j.roles.client);
    let (hc, hs) = (conn.h(c), conn.h(j.roles.server()));
    let unanswered = conn.syn_client == Some(c)
        && hc.syns > 0
        && !hs.synack
        && hs.packets == 0
        && hc.packets == u32::from(hc.syns) + u32::from(conn.rst(c).is_some());
    if !unanswered {
        return None;
    }
    let verdict = if conn.rst(c).is_some() {
        Verdict::ClientReset
    } else if conn
        .syn_times(c)
        .next()
        .is_some_and(|t| j.end_ns - t >= CONNECT_TIMEOUT_MIN_NS)
        || hc.syns > 1
    {
        Verdict::ConnectTimeout
    } else {
        Verdict::Open
    };
    Some(Outcome::of(verdict))
}

/// A client SYN answered by a RST instead of a SYN-ACK.
fn connect_refused(j: &Judged<'_>) -> Option<Outcome> {
    let (conn, c, s) = (j.conn, j.roles.client, j.roles.server());
    let (hc, hs) = (conn.h(c), conn.h(s));
    let refused = conn.syn_client == Some(c)
        && hc.syns > 0
        && !hs.synack
        && conn.rst(s).is_some()
        && conn.bytes(c) == 0;
    refused.then(|| Outcome {
        reset: Some(reset_facts(conn, s, j.roles)),
        ..Outcome::of(Verdict::ConnectRefused)
    })
}

/// The server stopped in the middle of a response: a failure the client
/// saw, whether the server then closed with a FIN or an RST (and never an
/// idle close, whatever the time since its last byte).
fn truncated_response(j: &Judged<'_>) -> Option<Outcome> {
    let t = truncated(j.conn, j.roles)?;
    let s = j.roles.server();
    Some(Outcome {
        reset: t.rst.map(|_| reset_facts(j.conn, s, j.roles)),
        truncated: Some(t),
        ..Outcome::of(Verdict::TruncatedResponse)
    })
}

/// The client gave up waiting for its answer (a proxy's read timeout).
fn client_gave_up(j: &Judged<'_>) -> Option<Outcome> {
    let t = client_timeout(j.conn, j.roles)?;
    Some(Outcome {
        timeout: Some(t),
        ..Outcome::of(Verdict::ClientTimeout)
    })
}

/// The first RST, whoever sent it: what it ended decides whose failure it
/// was, or whether it only tidied up a close.
fn reset(j: &Judged<'_>) -> Option<Outcome> {
    let (conn, roles) = (j.conn, j.roles);
    let (c, s) = (roles.client, roles.server());
    let by = match (conn.rst(c), conn.rst(s)) {
        (Some(a), Some(b)) => {
            if a.ns <= b.ns {
                c
            } else {
                s
            }
        }
        (Some(_), None) => c,
        (None, Some(_)) => s,
        (None, None) => return None,
    };
    let rst = conn.rst(by)?;
    let fin_before = |side: Side| conn.fin(side).is_some_and(|f| f.ns <= rst.ns);
    let facts = reset_facts(conn, by, roles);
    let no_fin = !fin_before(c) && !fin_before(s);
    let long_idle = facts.idle_before_ns.is_some_and(|i| i >= IDLE_RESET_MIN_NS);
    // A bare RST (no ACK flag) is what a host with no socket for the
    // connection answers (RFC 9293 3.10.7.1; Linux's tcp_v4_send_reset):
    // the server's own socket, closing or aborting, always acknowledges.
    // With no FIN before it, answering a request that reused the
    // connection after an idle gap, the peer vanished or was replaced
    // (a reused pod IP): no close of the server's, and no race.
    let no_socket = by == s
        && no_fin
        && rst.ack.is_none()
        && facts.request.is_some_and(|p| {
            p.reuse
                && p.idle_ns()
                    .is_some_and(|g| g >= super::timeouts::MIN_IDLE_CLOSE_NS)
        });
    let verdict = if fin_before(c) && fin_before(s) {
        // Both sides had closed: the RST only tidies up.
        closed_by(first_fin(conn).unwrap_or(by), roles)
    } else if no_socket || (no_fin && long_idle && !(by == c && conn.pending(c).is_some())) {
        // (A client that resets its own unanswered request gave up
        // waiting: that is the client's reset, however long it waited.)
        Verdict::IdleReset
    } else if by == s {
        if facts.outstanding.is_none() && fin_before(c) {
            // The client was closing; the server's RST ends it faster.
            Verdict::ClosedByClient
        } else if facts.outstanding.is_none()
            && conn.pending(c).is_none()
            && fin_before(s)
            && conn.goodbye_ns(c).is_some_and(|g| g <= rst.ns)
        {
            // The server had closed; the client's goodbye (a TLS alert, an
            // SMTP `QUIT`) crossed its FIN and met a closed socket: the RST
            // tidies up, nothing was lost (issue 21, look-alikes).
            Verdict::ClosedByServer
        } else {
            Verdict::ServerReset
        }
    } else if facts.outstanding.is_none()
        && conn.pending(c).is_none()
        && (fin_before(s) || conn.close_began_ns(s).is_some_and(|g| g <= rst.ns))
    {
        // The client answered the server's close with a RST; nothing
        // lost. (Over HTTP/2 the close begins at the server's GOAWAY: a
        // proxy resets a pooled connection on it, and at the proxy that
        // RST is seen before the server's FIN.)
        Verdict::ClosedByServer
    } else {
        Verdict::ClientReset
    };
    Some(Outcome {
        reset: Some(facts),
        ..Outcome::of(verdict)
    })
}

/// A request that reused an idle connection and that the server never
/// acknowledged, retransmitted into nothing until the capture ended (for
/// at least [`UNACKNOWLEDGED_MIN_NS`]), with no FIN from either side: the
/// path lost the flow (a NAT or load balancer that forgot it and drops its
/// packets). A server that is only slow acknowledges the request at once.
fn unacknowledged_request(j: &Judged<'_>) -> Option<Outcome> {
    let (conn, c, s) = (j.conn, j.roles.client, j.roles.server());
    let p = conn.pending(c)?;
    let idle = p
        .idle_ns()
        .is_some_and(|g| g >= super::timeouts::MIN_IDLE_CLOSE_NS);
    let unacked = conn.h(s).max_ack().is_none_or(|a| a <= p.start);
    let lost = p.reuse
        && idle
        && unacked
        && conn.fin(c).is_none()
        && conn.fin(s).is_none()
        && j.end_ns - p.ns >= UNACKNOWLEDGED_MIN_NS;
    lost.then(|| Outcome {
        unacknowledged: Some(p),
        ..Outcome::of(Verdict::UnacknowledgedRequest)
    })
}

/// The server ended a request it had read without answering it: its
/// client got no response (issue 21). Either the server closed first,
/// with a FIN that acknowledges the request and no byte of a response
/// (HAProxy closing its client's connection when the upstream raced,
/// which read as an orderly close), or, in HTTP/2, it reset the stream
/// after the request (RST_STREAM: HAProxy refusing a stream its upstream
/// lost, which read as the client giving up when it then closed). Before
/// `client_timeout`: a client that closes after a refusal gave nothing up.
/// In HTTP/1 only a request whose line was read: a framed protocol owes
/// it an answer, where an unknown payload (SMTP's QUIT, a TLS alert) may
/// owe none. A FIN that does not cover the request was sent before it
/// arrived: a race (its rule comes first), not this. Only on a connection
/// seen whole: with its past missed (the idle gap before the request
/// unknown, so the race rule could not judge) or with data missing from
/// the capture (a response the capture lost), the close proves nothing.
fn no_response(j: &Judged<'_>) -> Option<Outcome> {
    let (conn, c, s) = (j.conn, j.roles.client, j.roles.server());
    let p = conn.pending(c)?;
    let h2 = conn.h2().is_some();
    if p.request.is_none() && !h2 {
        return None;
    }
    let refused = h2 && conn.stream_reset_ns().is_some_and(|r| r >= p.ns);
    let read_then_closed = conn.fin(s).is_some_and(|fin| {
        fin.ack.is_some_and(|a| a.diff(p.start) > 0) && first_fin(conn) == Some(s)
    });
    let whole =
        (p.idle_since.is_some() || conn.saw_syn()) && conn.holes(s) == 0 && conn.holes(c) == 0;
    ((refused || read_then_closed) && whole && conn.rst(s).is_none()).then(|| Outcome {
        unanswered: Some(p),
        ..Outcome::of(Verdict::NoResponse)
    })
}

/// An orderly close, by whichever side closed first.
fn fin(j: &Judged<'_>) -> Option<Outcome> {
    first_fin(j.conn).map(|side| Outcome::of(closed_by(side, j.roles)))
}

fn closed_by(side: Side, roles: Roles) -> Verdict {
    if side == roles.client {
        Verdict::ClosedByClient
    } else {
        Verdict::ClosedByServer
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Each rule has a distinct name, and the race is tried first: its RST
    /// or FIN would otherwise read as a reset or an orderly close.
    #[test]
    fn test_rules_order() {
        let names: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(names[0], "keepalive_race");
        assert_eq!(names.last(), Some(&"fin"));
    }
}
