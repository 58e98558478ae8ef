//! IP fragments reassembled (issue 23): a lost request split into
//! fragments is the race it was, in IPv4 and IPv6 and on any link layer;
//! fragments that make no datagram are counted and warned about.

use crate::synth::{Flow, Link, Packet, fragments, get, ok, secs};
use racecap::report::{RaceKind, Report, Verdict, Warning};

use crate::util::{analyze, analyze_link, findings, ip, only_verdict};

const RTT: i64 = 1_000_000; // 1 ms

/// A request long enough to be fragmented at 64-byte fragments.
fn request() -> String {
    let mut r = get("/callback");
    r.insert_str(r.len() - 2, &format!("X-Trace: {}\r\n", "a".repeat(200)));
    r
}

/// The seed race (server FIN after 5 s idle, a request 14.8 s later, RST),
/// its lost request sent as `split` makes of it.
fn race(v6: bool, split: impl Fn(&Packet) -> Vec<Packet>) -> Vec<Packet> {
    let (c, s) = if v6 {
        (ip("2001:db8::1"), ip("2001:db8::2"))
    } else {
        (ip("10.0.0.1"), ip("10.0.0.2"))
    };
    let mut f = Flow::new((c, 40000), (s, 3000), 1000, 900_000);
    let mut p = f.handshake(0, RTT);
    p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(Some(5))));
    let last = secs(0.01) + RTT;
    p.push(f.fin(last + secs(5.0), false));
    p.push(f.ack(last + secs(5.0) + RTT / 2, true));
    let lost = f.data(secs(19.8), true, request().as_bytes());
    p.extend(split(&lost));
    p.push(f.rst(secs(19.8) + RTT / 2, false));
    p
}

fn assert_race(r: &Report) {
    assert_eq!(only_verdict(r), Verdict::KeepaliveRace);
    let race = findings(r, Verdict::KeepaliveRace)[0].race.clone().unwrap();
    assert_eq!(race.kind, RaceKind::Stale);
    assert_eq!(race.request.unwrap().path, "/callback");
}

#[test]
fn test_23_fragmented_lost_request_is_the_race() {
    for v6 in [false, true] {
        for link in [Link::Ethernet(vec![]), Link::Ethernet(vec![7]), Link::Sll2] {
            let r = analyze_link(&race(v6, |p| fragments(p, 64, 77)), &link);
            assert_race(&r);
            let frags = r.capture.ip_fragments.unwrap();
            assert_eq!(
                (frags.reassembled, frags.dropped),
                (1, 0),
                "v6 {v6} {link:?}"
            );
            assert!(r.capture.warnings.is_empty(), "{:?}", r.capture.warnings);
        }
    }
}

#[test]
fn test_23_fragments_out_of_order() {
    for v6 in [false, true] {
        let r = analyze(&race(v6, |p| {
            let mut f = fragments(p, 64, 9);
            f.reverse();
            f
        }));
        assert_race(&r);
        assert_eq!(r.capture.ip_fragments.unwrap().reassembled, 1);
    }
}

#[test]
fn test_23_missing_fragment_warns() {
    for v6 in [false, true] {
        let r = analyze(&race(v6, |p| {
            let mut f = fragments(p, 64, 9);
            f.remove(1);
            f
        }));
        let n = fragments(&race(v6, |p| vec![p.clone()])[8], 64, 9).len() as u64;
        // Without its request the server's RST reads as a reset, as before:
        // the warning is what tells the reader.
        assert_ne!(only_verdict(&r), Verdict::KeepaliveRace);
        let frags = r.capture.ip_fragments.unwrap();
        assert_eq!((frags.reassembled, frags.dropped), (0, n - 1));
        assert!(
            r.capture.warnings.iter().any(
                |w| matches!(w, Warning::FragmentsDropped { fragments } if *fragments == n - 1)
            ),
            "{:?}",
            r.capture.warnings
        );
    }
}

#[test]
fn test_23_no_fragments_no_section() {
    let r = analyze(&race(false, |p| vec![p.clone()]));
    assert_race(&r);
    assert!(r.capture.ip_fragments.is_none());
}
