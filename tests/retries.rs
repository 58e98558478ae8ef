//! Races in a burst (issue 23): more lost requests at once than the retry
//! watcher holds. Those past its cap were not watched, so whether the proxy
//! retried them is unknown: counted as unknown, never as lost, and warned
//! about.

use crate::synth::{Flow, Link, Packet, get, ok, secs};
use racecap::analysis::retry::MAX_WATCHES;
use racecap::report::Warning;

use crate::util::{analyze, ip, run};

const RTT: i64 = 200_000; // 0.2 ms

/// `n` stale races whose lost requests all go out within 200 ms.
fn burst(n: usize) -> Vec<Packet> {
    let (c, s) = (ip("10.0.0.1"), ip("10.0.0.2"));
    let mut out = Vec::new();
    for i in 0..n {
        let mut f = Flow::new((c, 1024 + i as u16), (s, 3000), 1000, 900_000);
        let t = secs(0.001) * (i as i64 % 1000);
        out.extend(f.handshake(t, RTT));
        out.extend(f.exchange(t + secs(0.01), RTT, &get("/a"), &ok(Some(2))));
        // The server's idle FIN, then the lost request and its RST, the
        // requests 10 µs apart: all within 200 ms.
        let fin = secs(10.0) + 10_000 * i as i64;
        out.push(f.fin(fin, false));
        out.push(f.data(fin + RTT / 4, true, get("/b").as_bytes()));
        out.push(f.rst(fin + RTT / 2, false));
    }
    out.sort_by_key(|p| p.ts_ns);
    out
}

#[test]
fn test_23_races_past_the_watch_cap_are_unknown() {
    let over = 100;
    let n = MAX_WATCHES + over;
    let r = analyze(&burst(n));
    assert_eq!(r.races(), n as u64);
    let s = &r.summary;
    assert_eq!(s.retried_unknown, over as u64);
    assert_eq!(s.not_retried, MAX_WATCHES as u64);
    assert_eq!(s.retried, 0);
    assert!(
        r.capture.warnings.iter().any(|w| matches!(
            w,
            Warning::RetriesUnwatched { requests, max } if *requests == over as u64 && *max == MAX_WATCHES
        )),
        "{:?}",
        r.capture.warnings
    );
    // The findings say the same: `retried` unknown for the unwatched.
    let unknown = r
        .findings
        .iter()
        .filter(|f| f.race.as_ref().is_some_and(|x| x.retried.is_none()))
        .count();
    assert_eq!(unknown, over.min(r.findings.len()));
}

#[test]
fn test_23_races_within_the_cap_warn_nothing() {
    let r = analyze(&burst(500));
    assert_eq!(r.summary.not_retried, 500);
    assert_eq!(r.summary.retried_unknown, 0);
    assert!(r.capture.warnings.is_empty(), "{:?}", r.capture.warnings);
}

/// `n` races, each on a server of its own and retried at once on a new
/// connection (as nginx does).
fn retried_on(n: usize) -> Vec<Packet> {
    let c = ip("10.0.0.1");
    let mut out = Vec::new();
    for i in 0..n {
        let s = ip(&format!("10.1.{}.{}", i / 200, i % 200 + 1));
        let mut f = Flow::new((c, 20000), (s, 3000), 1000, 900_000);
        out.extend(f.handshake(0, RTT));
        out.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(2))));
        let fin = secs(10.0) + 10_000 * i as i64;
        out.push(f.fin(fin, false));
        out.push(f.data(fin + RTT / 4, true, get("/b").as_bytes()));
        out.push(f.rst(fin + RTT / 2, false));
        let mut again = Flow::new((c, 20001), (s, 3000), 5000, 800_000);
        let t = fin + RTT;
        out.extend(again.handshake(t, RTT));
        out.extend(again.exchange(t + RTT, RTT, &get("/b"), &ok(Some(2))));
    }
    out.sort_by_key(|p| p.ts_ns);
    out
}

/// Issue 23: past the 1 000 servers whose statistics are kept, races were
/// counted but their retries were not, so every one of them read as lost;
/// and their requests were not, so the rate per request was too high.
#[test]
fn test_23_retries_past_the_tracked_servers_count() {
    let n = racecap::analysis::timeouts::MAX_SERVERS + 50;
    let r = analyze(&retried_on(n));
    assert_eq!(r.races(), n as u64);
    assert_eq!(r.summary.retried, n as u64);
    assert_eq!(r.summary.not_retried, 0);
    // And the rate is over every server's requests: per server, the first
    // request, the lost one (reused) and its retry.
    assert_eq!(r.summary.requests, 3 * n as u64);
    assert_eq!(r.summary.reused_requests, n as u64);
    assert!(
        r.capture
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::ServersUntracked { .. })),
        "{:?}",
        r.capture.warnings
    );
}

/// Past the 10 000 findings listed, the first line's count of lost
/// requests cannot come from the findings alone: it says "at least", and
/// what the findings' methods count is said to be of those.
#[test]
fn test_23_first_line_past_the_findings_listed() {
    let n = MAX_WATCHES + 100;
    let dir = std::env::temp_dir().join(format!("racecap-retries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("burst.pcap");
    std::fs::write(
        &file,
        crate::synth::pcap(&burst(n), &Link::Ethernet(vec![])),
    )
    .unwrap();
    let (code, out, _) = run(&["analyze", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "At least {MAX_WATCHES} requests failed for their clients"
        )),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "over the 10000 findings listed (of {n} failing connections)"
        )),
        "{first}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A retry seen after its raced connection was judged: the client reused
/// the raced connection's port for the retry at once, so that the new
/// handshake ended the old connection (port reuse) before the retried
/// request was answered. The finding said "retried"; the server's counts,
/// and with them the summary and the advice, said "not retried".
#[test]
fn test_retry_after_its_race_was_judged_counts() {
    let (c, s) = (ip("10.0.0.1"), ip("10.0.0.2"));
    let mut out = Vec::new();
    let mut f = Flow::new((c, 20000), (s, 3000), 1000, 900_000);
    out.extend(f.handshake(0, RTT));
    out.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(2))));
    let fin = secs(10.0);
    out.push(f.fin(fin, false));
    out.push(f.data(fin + RTT / 4, true, get("/b").as_bytes()));
    out.push(f.rst(fin + RTT / 2, false));
    // The same 4-tuple again, 1 ms later: a new connection.
    let mut again = Flow::new((c, 20000), (s, 3000), 5_000_000, 800_000);
    let t = fin + secs(0.001);
    out.extend(again.handshake(t, RTT));
    out.extend(again.exchange(t + RTT, RTT, &get("/b"), &ok(Some(2))));
    out.sort_by_key(|p| p.ts_ns);
    let r = analyze(&out);
    assert_eq!(r.races(), 1);
    let race = r.findings.iter().find_map(|f| f.race.as_ref()).unwrap();
    assert_eq!(race.retried, Some(true));
    assert_eq!(r.summary.retried, 1);
    assert_eq!(r.summary.not_retried, 0);
    assert_eq!(r.servers[0].retried_races, 1);
}
