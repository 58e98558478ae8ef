//! How idle closes become one timeout: spreads of one timer and spreads of many.

use super::*;
use crate::analysis::defaults::Witness;

/// A server whose idle closes are `ms` values.
fn closing_at(ms: impl Iterator<Item = f64>) -> ServerStats {
    let mut s = ServerStats::default();
    for v in ms {
        s.idle_closes.push((v * 1e6) as i64);
    }
    s
}

#[test]
fn test_gunicorn_spread_is_one_timeout() {
    // gthread, --keep-alive 2: 2.0–3.0 s (issue 12).
    let s = closing_at((0..40).map(|i| 2_004.0 + f64::from(i) * 24.9));
    let a = s.assess();
    let idle = a.idle.unwrap();
    assert!(idle.tight, "{idle:?}");
    assert_eq!(idle.estimate_ns, 2_004_000_000);
    assert_eq!(a.matches[0].software, "gunicorn");
    // Named by its header, --keep-alive 5: 5.0–6.0 s, configured 5 s.
    let s = closing_at((0..40).map(|i| 5_004.0 + f64::from(i) * 24.9));
    let w = Witness {
        server_header: Some("gunicorn"),
        powered_by: None,
    };
    let a = s.assess_witnessed(&w, ClientKind::Unknown);
    assert!(a.idle.unwrap().tight);
    assert_eq!(
        (a.matches[0].software, a.matches[0].default_ms),
        ("gunicorn", 5_000)
    );
}

#[test]
fn test_unexplained_spread_stays_spread() {
    // 7–8 s: no row spreads like that there, so application closes.
    let s = closing_at((0..40).map(|i| 7_004.0 + f64::from(i) * 24.9));
    let idle = s.assess().idle.unwrap();
    assert!(!idle.tight);
    assert_eq!(idle.estimate_ns, idle.median_ns);
}

// =========== Tests for a connection's memo of its statistics ===========

#[test]
fn test_memo_finds_the_same_stats_and_follows_the_roles() {
    let ep = |last: u8, port: u16| Endpoint {
        ip: IpAddr::from([10, 0, 0, last]),
        port,
    };
    let (client, server) = (ep(1, 40_000), ep(2, 80));
    let mut conn = Conn::new(1, 0, client, server, 0);
    let mut t = Timeouts::default();
    // Another server first, so that the index is not 0.
    t.server(ep(3, 80)).requests += 1;
    let marks = Some(RequestMarks::default());
    for _ in 0..3 {
        let mut memo = Memo::of(&conn, true);
        t.request(server, client.ip, &mut memo, true, marks);
        memo.keep(&mut conn);
    }
    assert_eq!(conn.server_memo, Memo::SERVER_B | 2);
    let s = t.server(server);
    assert_eq!((s.requests, s.reused_requests), (3, 3));
    assert_eq!(s.clients().len(), 1);
    // The roles turned: the memo is emptied, and the other side's stats used.
    let mut memo = Memo::of(&conn, false);
    assert_eq!(memo, Memo::default());
    t.request(client, server.ip, &mut memo, false, marks);
    assert_eq!((memo.server, memo.client), (3, 1));
    assert_eq!(t.server(client).requests, 1);
    assert_eq!(t.server(server).requests, 3);
}

/// An untracked server's memo says so: its next look-ups go to the
/// overflow sink without hashing, and are counted as before.
#[test]
fn test_memo_marks_untracked_servers() {
    let mut t = Timeouts::default();
    for port in 0..MAX_SERVERS as u16 {
        t.server(Endpoint {
            ip: IpAddr::from([10, 0, 0, 9]),
            port,
        });
    }
    let ep = Endpoint {
        ip: IpAddr::from([10, 0, 0, 2]),
        port: 80,
    };
    let mut memo = Memo::default();
    t.request(
        ep,
        IpAddr::from([10, 0, 0, 1]),
        &mut memo,
        false,
        Some(RequestMarks::default()),
    );
    assert_eq!(memo.server, Memo::UNTRACKED);
    assert_eq!(t.untracked, 1);
    t.request(ep, IpAddr::from([10, 0, 0, 1]), &mut memo, true, None);
    assert_eq!(memo.server, Memo::UNTRACKED);
    assert_eq!(t.untracked, 2);
    // Nothing of it reached a tracked server's statistics.
    assert_eq!(t.stats.iter().map(|s| s.requests).sum::<u64>(), 0);
    // The same server seen as side B keeps its own bit.
    let mut memo = Memo {
        server: Memo::SERVER_B,
        client: 0,
    };
    t.request(ep, IpAddr::from([10, 0, 0, 1]), &mut memo, false, None);
    assert_eq!(memo.server, Memo::SERVER_B | Memo::UNTRACKED);
    assert_eq!(t.untracked, 3);
}
