//! Why a connection was closed or reset, decided before any number is read
//! from the close (issue 21). Only the server's idle timer makes an
//! idle-timeout sample, and only a close by that timer makes a keep-alive
//! race in the narrow sense: a restart's burst of closes, an application's
//! reset, a vanished peer's or a middlebox's RST each have their own remedy.
//!
//! A cause is decided in two steps. Per connection, when it is judged
//! ([`of_outcome`]): what its own packets prove (a bare RST, which only a
//! host without the socket sends; an RST at a request or a response). Then
//! across the server's connections, once the capture is over
//! ([`restart_bursts`], [`fits_timer`]): a burst of closes at scattered idle
//! ages is a restart, and a reset whose idle age does not fit the server's
//! other closes is the application's, not its timer's.

use super::race::RaceKind;
use super::verdict::{Outcome, Roles, Verdict};
use crate::flow::{Conn, Endpoint};
use crate::named::named_enum;
use std::net::IpAddr;

named_enum! {
    /// What closed or reset a connection (documented in docs/report-schema.md).
    pub enum Cause {
        /// The server's keep-alive (idle) timer: closes that gather in one
        /// cluster, consistent with the server's other closes.
        IdleTimer => "idle_timer",
        /// A restart or shutdown: a burst of closes across many connections
        /// within a short window, at scattered idle ages.
        Restart => "restart",
        /// The application: a close or reset at a request or a response, or
        /// after an idle gap that does not match the server's timer.
        Application => "application",
        /// The peer vanished or was replaced: an RST with no FIN and no ACK
        /// (the host had no socket for the connection: a restarted host, a
        /// reused pod IP) on a connection reused after an idle gap.
        PeerGone => "peer_gone",
        /// The path: a NAT, conntrack or load balancer that forgot an idle
        /// flow: an RST with no FIN after an idle gap longer than any
        /// server's keep-alive timer in common use, or sooner after the
        /// request than the server could have sent it, or a request
        /// retransmitted unacknowledged.
        Path => "path",
        /// A proxy passing an upstream failure on to its clients, seen
        /// with both legs in one capture: the proxy closed or reset one of
        /// its own client connections, a request outstanding, right after
        /// an upstream connection carrying that request failed. Never a
        /// race or an idle close of the proxy's listener; its remedy is
        /// the upstream failure's.
        Upstream => "upstream",
    }
}

/// Server closes this close together in time may be one restart's: Node's
/// `server.close()` with `closeIdleConnections()` closes every idle socket
/// in one event-loop turn (within a few ms; issue 21 saw ~30 FINs each
/// time); 50 ms leaves room for a busy loop and a capture's jitter while
/// staying far below the gaps between one timer's closes of connections
/// used at different times.
pub const BURST_WINDOW_NS: i64 = 50_000_000;

/// At least this many closes in one window make a burst: two or three
/// connections used together may share a timer's close.
pub const BURST_MIN_CLOSES: usize = 4;

/// The idle ages in a burst must be scattered: the shortest at most half
/// the longest, and at least this far apart. A timer's closes that come
/// together are all at or above its timeout (connections used together
/// reach it at one age; a poll-based timer such as gunicorn's closes at one
/// tick whatever passed its deadline in the last second, still above the
/// timeout); a restart closes each idle connection at whatever age it had,
/// down to a few ms after its last response.
pub const BURST_MIN_AGE_SPREAD_NS: i64 = 100_000_000;

/// One server close that may be an idle-timeout sample: when it came, the
/// idle age it ended, its connection, and whether it was taken as a sample
/// (at least 50 ms idle; shorter ones count for a burst only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRec {
    pub at_ns: i64,
    pub gap_ns: i64,
    pub conn: u64,
    pub sample: bool,
}

/// A restart's burst of closes on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    /// Its first and last close.
    pub start_ns: i64,
    pub end_ns: i64,
    /// The connections it closed, sorted.
    pub conns: Vec<u64>,
}

/// The restarts' bursts among a server's closes: at least
/// [`BURST_MIN_CLOSES`] closes, each within [`BURST_WINDOW_NS`] of the
/// burst's first, at scattered idle ages ([`BURST_MIN_AGE_SPREAD_NS`]).
pub fn restart_bursts(closes: &[CloseRec]) -> Vec<Burst> {
    let mut by_time: Vec<CloseRec> = closes.to_vec();
    by_time.sort_by_key(|c| (c.at_ns, c.conn));
    let mut out = Vec::new();
    let mut i = 0;
    while i < by_time.len() {
        let start = by_time[i].at_ns;
        let j = i + by_time[i..]
            .iter()
            .take_while(|c| c.at_ns - start <= BURST_WINDOW_NS)
            .count();
        let group = &by_time[i..j];
        let lo = group.iter().map(|c| c.gap_ns).min().unwrap_or(0);
        let hi = group.iter().map(|c| c.gap_ns).max().unwrap_or(0);
        if group.len() >= BURST_MIN_CLOSES && hi - lo >= BURST_MIN_AGE_SPREAD_NS && lo <= hi / 2 {
            let mut conns: Vec<u64> = group.iter().map(|c| c.conn).collect();
            conns.sort_unstable();
            out.push(Burst {
                start_ns: start,
                end_ns: group[group.len() - 1].at_ns,
                conns,
            });
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// A connect refused this soon after a restart's burst on the same server
/// was refused by the restart: the listener was down between the old
/// process and the new.
pub const RESTART_REFUSED_NS: i64 = 2_000_000_000;

/// How far below the server's shortest idle close a reset may come and
/// still be its timer's: the request that met the closing socket arrived
/// up to one poll (gunicorn checks once per second) or a round trip before
/// the close, so a tenth of the close, and at least this much.
pub const TIMER_FIT_SLACK_NS: i64 = 250_000_000;

/// Whether a reset at idle age `age_ns` fits the server's own idle closes
/// (`lo_ns`..=`hi_ns`, the shortest and longest): within a tenth (at least
/// [`TIMER_FIT_SLACK_NS`]) below the shortest, and no further above the
/// longest.
pub fn fits_timer(age_ns: i64, lo_ns: i64, hi_ns: i64) -> bool {
    let slack = |v: i64| (v / 10).max(TIMER_FIT_SLACK_NS);
    age_ns >= lo_ns - slack(lo_ns) && age_ns <= hi_ns + slack(hi_ns)
}

/// The cause a judged connection's own packets give its failure, before
/// the server's other connections are known (none for a connection that
/// did not fail, or whose failure was the client's or the connect's).
pub fn of_outcome(o: &Outcome, conn: &Conn, roles: Roles) -> Option<Cause> {
    match o.verdict {
        // A client that gave up on a request the server never acknowledged,
        // on a connection it reused after an idle gap: the request was
        // retransmitted into nothing (a middlebox dropped the forgotten
        // flow); a server that is only slow acknowledges it at once.
        Verdict::ClientTimeout => o
            .timeout
            .as_ref()
            .and_then(|t| t.request)
            .filter(|p| {
                p.reuse
                    && p.idle_ns()
                        .is_some_and(|g| g >= super::timeouts::MIN_IDLE_CLOSE_NS)
                    && conn
                        .h(roles.server())
                        .max_ack()
                        .is_none_or(|a| a <= p.start)
            })
            .map(|_| Cause::Path),
        // Settled once the capture is over: a restart's burst, or a reset
        // that does not fit the timer.
        Verdict::KeepaliveRace => Some(Cause::IdleTimer),
        Verdict::ServerReset | Verdict::TruncatedResponse | Verdict::NoResponse => {
            Some(Cause::Application)
        }
        Verdict::UnacknowledgedRequest => Some(Cause::Path),
        Verdict::IdleReset => Some(match &o.reset {
            // A bare RST: the host that sent it had no socket.
            Some(r) if r.rst.ack.is_none() && r.request.is_some() => Cause::PeerGone,
            _ => Cause::Path,
        }),
        _ => None,
    }
}

/// How soon after an upstream failure the proxy's close of its client's
/// connection must come to be that failure passed on. Both legs in one
/// capture are recorded on the proxy's host, so no round trip lies between
/// the upstream error and the client-leg close: HAProxy, nginx and Envoy
/// act on it in the event-loop turn that reads it (microseconds on an idle
/// host). 100 ms leaves room for a loaded host's scheduling while staying
/// far below any listener's idle timer (a second and more), so a close by
/// that timer is not taken for a failure passed on.
pub const UPSTREAM_PASS_ON_NS: i64 = 100_000_000;

/// A failed exchange as the matching of a proxy's two legs sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// Its connection.
    pub conn: u64,
    /// The client's address and the server's endpoint.
    pub client: IpAddr,
    pub server: Endpoint,
    /// The request's method and path, when read.
    pub request: Option<(String, String)>,
    /// When the request that failed was sent.
    pub request_ns: i64,
    /// The server's close signals (GOAWAY, FIN, RST): the first and the last.
    pub first_ns: i64,
    pub last_ns: i64,
}

/// The client-leg failures that a proxy passed on from an upstream
/// failure, each with the upstream connection it followed: `c` (the proxy
/// is its server) had a request outstanding since before the proxy sent
/// the request of `u` (the proxy is its client: the same address, or the
/// same request forwarded when the proxy's two legs have addresses of
/// their own), and the proxy closed `c` after `u`'s server first signalled
/// its close and within [`UPSTREAM_PASS_ON_NS`] of the last signal. The
/// nearest such `u` is named.
pub fn passed_on(failed: &[Failed]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for c in failed {
        let close = c.first_ns;
        let best = failed
            .iter()
            .filter(|u| {
                u.conn != c.conn
                    && u.server != c.server
                    && (u.client == c.server.ip || (u.request.is_some() && u.request == c.request))
                    && same_method(u, c)
                    && c.request_ns <= u.request_ns
                    && u.request_ns <= close
                    && u.first_ns <= close
                    && close <= u.last_ns + UPSTREAM_PASS_ON_NS
            })
            .min_by_key(|u| ((close - u.last_ns).abs(), u.conn));
        if let Some(u) = best {
            out.push((c.conn, u.conn));
        }
    }
    out
}

/// A proxy forwards a request with its method: when both legs' requests
/// were read, a different method is another request (a path may be
/// rewritten, a method is not).
fn same_method(u: &Failed, c: &Failed) -> bool {
    match (&u.request, &c.request) {
        (Some(a), Some(b)) => a.0 == b.0,
        _ => true,
    }
}

/// Whether a race of this kind is closed by the server's idle timer as far
/// as its own packets tell (a reset race is checked against the server's
/// other closes once the capture is over).
pub fn settled_by_packets(kind: RaceKind) -> bool {
    kind != RaceKind::Reset
}

#[cfg(test)]
mod test {
    use super::*;

    fn rec(at_ms: i64, gap_ms: i64, conn: u64) -> CloseRec {
        CloseRec {
            at_ns: at_ms * 1_000_000,
            gap_ns: gap_ms * 1_000_000,
            conn,
            sample: gap_ms >= 50,
        }
    }

    #[test]
    fn test_burst_at_scattered_ages_is_a_restart() {
        // Issue 21: ~30 idle pooled connections closed within a few ms at
        // idle ages 0.05–5.8 s.
        let closes: Vec<CloseRec> = (0..30)
            .map(|i| rec(10_000 + i / 10, 50 + i * 190, i as u64))
            .collect();
        let b = restart_bursts(&closes);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].conns.len(), 30);
        // The lab's restart under load: 12 closes within 2 ms at 8-338 ms.
        let closes: Vec<CloseRec> = (0..12)
            .map(|i| rec(5_000 + i / 8, 8 + i * 30, i as u64))
            .collect();
        assert_eq!(restart_bursts(&closes).len(), 1);
    }

    #[test]
    fn test_timer_closes_together_are_no_restart() {
        // Connections used together close together, at one age.
        let closes: Vec<CloseRec> = (0..8)
            .map(|i| rec(5_000 + i, 5_000 + i % 3, i as u64))
            .collect();
        assert!(restart_bursts(&closes).is_empty());
        // One timer's closes spread over time: no window holds four.
        let closes: Vec<CloseRec> = (0..20)
            .map(|i| rec(i * 400, 3_000 + i * 40, i as u64))
            .collect();
        assert!(restart_bursts(&closes).is_empty());
        // gunicorn's poll closes at one tick whatever passed its deadline:
        // ages 2.0-3.0 s together, all above the timeout.
        let closes: Vec<CloseRec> = (0..8)
            .map(|i| rec(9_000 + i, 2_000 + i * 125, i as u64))
            .collect();
        assert!(restart_bursts(&closes).is_empty());
    }

    fn failed(conn: u64, client: &str, server: &str, path: &str, t_ms: [i64; 3]) -> Failed {
        let ms = |v: i64| v * 1_000_000;
        let (ip, port) = server.rsplit_once(':').unwrap();
        Failed {
            conn,
            client: client.parse().unwrap(),
            server: Endpoint {
                ip: ip.parse().unwrap(),
                port: port.parse().unwrap(),
            },
            request: Some(("GET".into(), path.into())),
            request_ns: ms(t_ms[0]),
            first_ns: ms(t_ms[1]),
            last_ns: ms(t_ms[2]),
        }
    }

    #[test]
    fn test_proxy_passes_upstream_failure_on() {
        // The lab's proxy has an address per leg: the forwarded request
        // ties them. The client's request at 1000 ms, the upstream's at
        // 1001 ms; the backend's FIN at 1020, its RST at 1060; the proxy
        // closes its client's connection at 1021.
        let down = failed(1, "10.0.1.1", "10.0.1.2:9001", "/a", [1000, 1021, 1021]);
        let up = failed(2, "10.0.2.1", "10.0.2.2:8081", "/a", [1001, 1020, 1060]);
        assert_eq!(passed_on(&[down.clone(), up.clone()]), vec![(1, 2)]);
        // One address for both legs, another path (a rewriting proxy).
        let mut up1 = failed(2, "10.0.1.2", "10.0.2.2:8081", "/v1/a", [1001, 1020, 1060]);
        assert_eq!(passed_on(&[down.clone(), up1.clone()]), vec![(1, 2)]);
        // The same address, another method: another request.
        let mut post = up1.clone();
        post.request = Some(("POST".into(), "/v1/a".into()));
        assert!(passed_on(&[down.clone(), post]).is_empty());
        // Neither the address nor the request: unrelated.
        up1.client = "10.0.9.9".parse().unwrap();
        assert!(passed_on(&[down.clone(), up1]).is_empty());
        // Closed before the upstream failed, or long after it: its own.
        let early = failed(1, "10.0.1.1", "10.0.1.2:9001", "/a", [1000, 1010, 1010]);
        assert!(passed_on(&[early, up.clone()]).is_empty());
        let late = failed(1, "10.0.1.1", "10.0.1.2:9001", "/a", [1000, 1200, 1200]);
        assert!(passed_on(&[late, up.clone()]).is_empty());
        // A client request that came after the upstream one is not what
        // the proxy forwarded.
        let after = failed(1, "10.0.1.1", "10.0.1.2:9001", "/a", [1005, 1021, 1021]);
        assert!(passed_on(&[after, up]).is_empty());
    }

    #[test]
    fn test_reset_fits_timer() {
        let s = 1_000_000_000;
        // gunicorn: reset races at ~2.0 s, closes 2.001–2.005 s.
        assert!(fits_timer(1_998_000_000, 2_001_000_000, 2_005_000_000));
        // Issue 21: resets at 1.16 s, the timer's close at 6.0 s.
        assert!(!fits_timer(1_160_000_000, 6 * s, 6 * s));
        assert!(!fits_timer(9 * s, 2 * s, 3 * s));
    }
}
