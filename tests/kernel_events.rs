//! Kernel socket events as the analysis's input (`Analyzer::observe`): a
//! keep-alive race seen from the server's socket only, and from the
//! client's socket only, crossed and stale, and from both sockets at once.
//! The event streams are those `racecap watch` reads from
//! `sock:inet_sock_set_state`, `sock:sock_{send,recv}_length` and the
//! reset tracepoints; the verdicts and the idle close come from the same
//! code as for packets.

use racecap::analyzer::{Analyzer, Config};
use racecap::flow::Endpoint;
use racecap::observation::{Observation, ResetReason, SocketChange, SocketEvent, TcpState};
use racecap::report::{RaceKind, Report, Verdict};

const MS: i64 = 1_000_000;
const T0: i64 = 1_800_000_000_000_000_000;

fn ep(s: &str) -> Endpoint {
    let (ip, port) = s.rsplit_once(':').unwrap();
    Endpoint {
        ip: ip.parse().unwrap(),
        port: port.parse().unwrap(),
    }
}

fn client() -> Endpoint {
    ep("10.0.0.1:40000")
}

fn server() -> Endpoint {
    ep("10.0.0.2:3000")
}

/// An event of the server's socket (`server` true) or the client's.
fn ev(ms: f64, server_side: bool, what: SocketChange) -> SocketEvent {
    let (local, remote) = if server_side {
        (server(), client())
    } else {
        (client(), server())
    };
    SocketEvent {
        ts_ns: T0 + (ms * MS as f64) as i64,
        local,
        remote,
        what,
        input: 0,
    }
}

fn st(from: TcpState, to: TcpState) -> SocketChange {
    SocketChange::State { from, to }
}

fn report(events: &[SocketEvent]) -> Report {
    let mut events = events.to_vec();
    events.sort_by_key(|e| e.ts_ns);
    let mut a = Analyzer::new(Config::default());
    for e in &events {
        a.observe(&Observation::Socket(*e));
    }
    a.finish(&[])
}

fn race_kind(r: &Report) -> RaceKind {
    let races: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::KeepaliveRace)
        .collect();
    assert_eq!(races.len(), 1, "{:#?}", r.findings);
    races[0].race.as_ref().unwrap().kind
}

/// The server's socket: a request answered, the idle close 5 s after the
/// response, the client's ACK of the FIN, then an RST for the request that
/// reached the closed socket (TCP_TIMEWAIT_SOCKET): a stale race, and an
/// idle close of 5 s for the server.
#[test]
fn test_server_socket_stale_race() {
    use SocketChange::*;
    let r = report(&[
        ev(0.0, true, st(TcpState::SynRecv, TcpState::Established)),
        ev(1.0, true, Received { bytes: 120 }),
        ev(2.0, true, Sent { bytes: 300 }),
        ev(5002.0, true, st(TcpState::Established, TcpState::FinWait1)),
        ev(5002.2, true, st(TcpState::FinWait1, TcpState::FinWait2)),
        ev(
            7000.0,
            true,
            ResetSent {
                state: TcpState::TimeWait,
                reason: Some(ResetReason::TimewaitSocket),
            },
        ),
    ]);
    assert_eq!(race_kind(&r), RaceKind::Stale);
    let f = &r.findings[0];
    assert_eq!((f.client, f.server), (client(), server()));
    let race = f.race.as_ref().unwrap();
    assert_eq!(race.idle_before_fin_ms.unwrap().0, 5000 * MS);
    // The kernel gives no request line: none is invented.
    assert!(race.request.is_none());
    assert_eq!(r.servers[0].idle_timeout.as_ref().unwrap().n, 1);
}

/// The same race with the RST sent while the server was still in
/// FIN_WAIT1 (the request came before the client's ACK of the FIN): crossed.
#[test]
fn test_server_socket_crossed_race() {
    use SocketChange::*;
    let r = report(&[
        ev(0.0, true, st(TcpState::SynRecv, TcpState::Established)),
        ev(1.0, true, Received { bytes: 120 }),
        ev(2.0, true, Sent { bytes: 300 }),
        ev(5002.0, true, st(TcpState::Established, TcpState::FinWait1)),
        ev(
            5002.1,
            true,
            ResetSent {
                state: TcpState::FinWait1,
                reason: None,
            },
        ),
    ]);
    assert_eq!(race_kind(&r), RaceKind::Crossed);
}

/// The client's socket (a proxy's pool on a node without the backend):
/// the server's FIN arrives (CLOSE_WAIT), the pool writes anyway, the RST
/// comes back: stale. Written before the FIN arrived: crossed.
#[test]
fn test_client_socket_races() {
    use SocketChange::*;
    let start = |out: &mut Vec<SocketEvent>| {
        out.push(ev(0.0, false, st(TcpState::Close, TcpState::SynSent)));
        out.push(ev(0.5, false, st(TcpState::SynSent, TcpState::Established)));
        out.push(ev(1.0, false, Sent { bytes: 120 }));
        out.push(ev(3.0, false, Received { bytes: 300 }));
    };
    let mut stale = Vec::new();
    start(&mut stale);
    stale.push(ev(
        5003.0,
        false,
        st(TcpState::Established, TcpState::CloseWait),
    ));
    stale.push(ev(5200.0, false, Sent { bytes: 120 }));
    stale.push(ev(5201.0, false, ResetReceived));
    assert_eq!(race_kind(&report(&stale)), RaceKind::Stale);

    let mut crossed = Vec::new();
    start(&mut crossed);
    crossed.push(ev(5002.5, false, Sent { bytes: 120 }));
    crossed.push(ev(
        5003.0,
        false,
        st(TcpState::Established, TcpState::CloseWait),
    ));
    crossed.push(ev(5003.5, false, ResetReceived));
    assert_eq!(race_kind(&report(&crossed)), RaceKind::Crossed);
}

/// Both sockets on one node (sidecar and app over loopback): each reports
/// the segments it sent and received, and the connection is judged once.
#[test]
fn test_both_sockets_one_connection() {
    use SocketChange::*;
    let r = report(&[
        ev(0.0, false, st(TcpState::Close, TcpState::SynSent)),
        ev(0.1, true, st(TcpState::SynRecv, TcpState::Established)),
        ev(0.1, false, st(TcpState::SynSent, TcpState::Established)),
        ev(1.0, false, Sent { bytes: 120 }),
        ev(1.1, true, Received { bytes: 120 }),
        ev(2.0, true, Sent { bytes: 300 }),
        ev(2.1, false, Received { bytes: 300 }),
        ev(5002.0, true, st(TcpState::Established, TcpState::FinWait1)),
        ev(
            5002.1,
            false,
            st(TcpState::Established, TcpState::CloseWait),
        ),
        ev(5002.2, true, st(TcpState::FinWait1, TcpState::FinWait2)),
        ev(6000.0, false, Sent { bytes: 120 }),
        ev(
            6000.1,
            true,
            ResetSent {
                state: TcpState::TimeWait,
                reason: Some(ResetReason::TimewaitSocket),
            },
        ),
        ev(6000.2, false, ResetReceived),
    ]);
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(race_kind(&r), RaceKind::Stale);
    assert_eq!(r.capture.connections, 1);
}

/// An application's abort (not data after a close) is a server reset, no race.
#[test]
fn test_abort_is_no_race() {
    use SocketChange::*;
    let r = report(&[
        ev(0.0, true, st(TcpState::SynRecv, TcpState::Established)),
        ev(1.0, true, Received { bytes: 120 }),
        ev(
            50.0,
            true,
            ResetSent {
                state: TcpState::Established,
                reason: Some(ResetReason::AbortOnMemory),
            },
        ),
    ]);
    assert!(
        r.findings
            .iter()
            .all(|f| f.verdict != Verdict::KeepaliveRace)
    );
    assert_eq!(r.findings[0].verdict, Verdict::ServerReset);
}

/// A new connection on the same 4-tuple after the old one ended (port
/// reuse under churn) is a connection of its own, from either end.
#[test]
fn test_port_reuse_is_a_new_connection() {
    use SocketChange::*;
    let conn = |at: f64, out: &mut Vec<SocketEvent>| {
        out.push(ev(at, false, st(TcpState::Close, TcpState::SynSent)));
        out.push(ev(
            at + 0.1,
            true,
            st(TcpState::SynRecv, TcpState::Established),
        ));
        out.push(ev(
            at + 0.1,
            false,
            st(TcpState::SynSent, TcpState::Established),
        ));
        out.push(ev(at + 1.0, false, Sent { bytes: 120 }));
        out.push(ev(at + 1.1, true, Received { bytes: 120 }));
        out.push(ev(at + 2.0, true, Sent { bytes: 300 }));
        out.push(ev(at + 2.1, false, Received { bytes: 300 }));
        out.push(ev(
            at + 3.0,
            true,
            st(TcpState::Established, TcpState::FinWait1),
        ));
        out.push(ev(
            at + 3.1,
            false,
            st(TcpState::Established, TcpState::CloseWait),
        ));
        out.push(ev(
            at + 3.2,
            true,
            st(TcpState::FinWait1, TcpState::FinWait2),
        ));
        out.push(ev(
            at + 3.3,
            false,
            st(TcpState::CloseWait, TcpState::LastAck),
        ));
        out.push(ev(at + 3.4, true, st(TcpState::FinWait2, TcpState::Close)));
        out.push(ev(at + 3.4, false, st(TcpState::LastAck, TcpState::Close)));
    };
    let mut both = Vec::new();
    conn(0.0, &mut both);
    conn(10.0, &mut both);
    conn(20.0, &mut both);
    let r = report(&both);
    assert_eq!(r.capture.connections, 3, "{:#?}", r.findings);
    // The server's socket alone.
    let server: Vec<SocketEvent> = both
        .iter()
        .filter(|e| e.local == server())
        .copied()
        .collect();
    assert_eq!(report(&server).capture.connections, 3);
}
