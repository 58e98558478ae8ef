//! Timeout estimation on synthetic captures with known timeouts: several
//! servers in one capture, jitter, outliers, a server that never closes, the
//! Keep-Alive header as a second witness, and the mismatch verdict.

use crate::synth::{Flow, Link, Packet, get, ok, pcap, secs};
use racecap::analysis::defaults::Side;
use racecap::report::{Report, ServerReport};

use crate::util::{analyze, ip};

const RTT: i64 = 400_000; // 0.4 ms

/// A connection to `server_port` with `requests` exchanges separated by
/// `gaps` (s), then either a server FIN after `close_after` s of idle or
/// nothing. Returns the packets; `port` makes each client port unique.
fn conn(
    port: u16,
    server_port: u16,
    start: f64,
    gaps: &[f64],
    close_after: Option<f64>,
    keep_alive: Option<u32>,
) -> Vec<Packet> {
    let mut f = Flow::new(
        (ip("10.1.0.1"), port),
        (ip("10.1.0.9"), server_port),
        u32::from(port) * 1000,
        7_000_000 + u32::from(port),
    );
    let mut t = secs(start);
    let mut p = f.handshake(t, RTT);
    t += RTT;
    p.extend(f.exchange(t, RTT, &get("/0"), &ok(keep_alive)));
    let mut last = t + RTT + RTT / 2;
    for (i, g) in gaps.iter().enumerate() {
        t = last + secs(*g);
        p.extend(f.exchange(t, RTT, &get(&format!("/{}", i + 1)), &ok(keep_alive)));
        last = t + RTT + RTT / 2;
    }
    if let Some(c) = close_after {
        // The idle period starts at the last payload (the response).
        let resp = last - RTT / 2;
        p.push(f.fin(resp + secs(c), false));
        p.push(f.fin(resp + secs(c) + RTT / 2, true));
        p.push(f.ack(resp + secs(c) + RTT, false));
    }
    p
}

fn server(r: &Report, port: u16) -> &ServerReport {
    r.servers
        .iter()
        .find(|s| s.endpoint.to_string() == format!("10.1.0.9:{port}"))
        .unwrap()
}

/// Three servers in one capture: Node.js default (closes at 6 s, with a few
/// ms of jitter and one outlier), gunicorn (2 s) and one that never closes.
#[test]
fn test_several_servers_jitter_outlier_and_never_closing() {
    let mut p = Vec::new();
    let jitter = [
        0.0012, 0.0031, 0.0004, 0.0027, 0.0019, 0.0008, 0.0022, 0.0015, 0.0033,
    ];
    for (i, j) in jitter.iter().enumerate() {
        p.extend(conn(
            41000 + i as u16,
            3000,
            i as f64 * 10.0,
            &[0.5, 1.0],
            Some(6.0 + j),
            Some(5),
        ));
    }
    // An application close 1.2 s after a response: an outlier, not the timeout.
    p.extend(conn(41100, 3000, 95.0, &[0.2], Some(1.2), Some(5)));
    for i in 0..6 {
        p.extend(conn(
            42000 + i,
            8000,
            f64::from(i) * 7.0,
            &[0.3],
            Some(2.0 + f64::from(i) * 0.001),
            None,
        ));
    }
    for i in 0..3 {
        p.extend(conn(
            43000 + i,
            9000,
            f64::from(i) * 3.0,
            &[4.0, 12.5, 9.0],
            None,
            None,
        ));
    }
    let r = analyze(&p);

    let node = server(&r, 3000);
    let d = node.idle_timeout.as_ref().unwrap();
    assert_eq!(d.n, 10);
    assert!(d.tight, "{d:?}");
    assert_eq!(d.cluster_n, 9);
    assert!((d.estimate_ms.ms() - 6001.9).abs() < 1.0, "{d:?}");
    assert_eq!(d.min_ms.ms(), 1200.0);
    assert_eq!(node.keep_alive_header_s, Some(5));
    assert!(!node.keep_alive_header_disagrees);
    assert!(
        node.matches[0].note.contains("Node.js"),
        "{:?}",
        node.matches
    );
    assert!(!node.mismatch, "reuse after 1 s < 6 s");
    assert!(node.recommendations.is_empty());
    assert_eq!(node.reuse_window_ms.map(|d| d.ms()), Some(1000.2));

    // Six closes within 5 ms at 2.0 s, no header: one timer's. gunicorn's
    // 1 s poll spreads its closes over 2.0–3.0 s and never makes such a
    // cluster, so it is not named (issue 21).
    let two = server(&r, 8000);
    let d = two.idle_timeout.as_ref().unwrap();
    assert_eq!(d.n, 6);
    assert!(d.tight);
    assert!((d.estimate_ms.ms() - 2002.0).abs() < 2.0, "{d:?}");
    assert!(
        two.matches.iter().all(|m| m.software != "gunicorn"),
        "{:?}",
        two.matches
    );

    let never = server(&r, 9000);
    assert!(never.idle_timeout.is_none());
    // "Not observed, longer than X": the longest idle gap that stayed open,
    // here a connection still idle when the capture ended (its last payload
    // at 31.x s, the capture's last packet at 102.x s) — longer than any reuse.
    assert_eq!(never.reuse_window_ms.map(|d| d.ms()), Some(12500.2));
    assert_eq!(
        never.idle_timeout_longer_than_ms.map(|d| d.ms()),
        Some(70899.2)
    );
    assert!(!never.mismatch);
}

/// Clients reuse connections idle longer than the server keeps them: a
/// mismatch even before any race, with the danger-window count.
#[test]
fn test_mismatch_from_reuse_window() {
    let mut p = Vec::new();
    // The server closes after 5 s idle on some connections…
    for i in 0..4 {
        p.extend(conn(
            44000 + i,
            3000,
            f64::from(i) * 20.0,
            &[1.0],
            Some(5.0),
            Some(5),
        ));
    }
    // …but on others the client came back after 4.9 s and 5.5 s (lucky).
    p.extend(conn(44100, 3000, 100.0, &[4.9, 5.5], Some(5.0), Some(5)));
    let r = analyze(&p);
    let s = server(&r, 3000);
    assert_eq!(s.idle_timeout.as_ref().unwrap().estimate_ms.ms(), 5000.0);
    // Gaps count from the last payload (the response), half an RTT before the ACK.
    assert_eq!(s.reuse_window_ms.map(|d| d.ms()), Some(5500.2));
    assert!(s.mismatch);
    assert_eq!(s.races, 0);
    // 4.9 s and 5.5 s are within one RTT of 5 s or beyond it.
    assert_eq!(s.reuses_in_danger_window, 1);
    let sides: Vec<Side> = s.recommendations.iter().map(|r| r.side).collect();
    assert_eq!(sides.first(), Some(&Side::Server));
    assert!(sides.contains(&Side::Proxy) && sides.last() == Some(&Side::Retries));
    // The keep-alive header says 5 s and the server closes at 5 s: Node's
    // signature would be 6 s, so the header agrees and Node is not forced.
    assert!(!s.keep_alive_header_disagrees);
}

/// A header that says 75 s while the server closes after 5 s is flagged.
#[test]
fn test_keep_alive_header_disagrees() {
    let mut p = Vec::new();
    for i in 0..3 {
        p.extend(conn(
            45000 + i,
            3000,
            f64::from(i) * 10.0,
            &[],
            Some(5.0),
            Some(75),
        ));
    }
    let r = analyze(&p);
    let s = server(&r, 3000);
    assert_eq!(s.keep_alive_header_s, Some(75));
    assert!(s.keep_alive_header_disagrees);
}

/// Idle gaps before the client's own FINs measure the proxy's idle timeout.
#[test]
fn test_client_idle_close_measured() {
    let mut p = Vec::new();
    for i in 0..4 {
        let mut f = Flow::new((ip("10.1.0.1"), 46000 + i), (ip("10.1.0.9"), 3000), 1, 2);
        let t = secs(f64::from(i) * 10.0);
        p.extend(f.handshake(t, RTT));
        p.extend(f.exchange(t + RTT, RTT, &get("/"), &ok(None)));
        let resp = t + 2 * RTT;
        p.push(f.fin(resp + secs(3.0), true));
        p.push(f.fin(resp + secs(3.0) + RTT, false));
    }
    let r = analyze(&p);
    let s = server(&r, 3000);
    let d = s.idle_before_client_fin.as_ref().unwrap();
    assert_eq!((d.n, d.estimate_ms.ms()), (4, 3000.0));
    assert!(
        s.idle_timeout.is_none(),
        "the server's reply FINs are not its timeout"
    );
    assert_eq!(s.clients.len(), 1);
    assert_eq!(s.clients[0].client.to_string(), "10.1.0.1");
}

/// Issue 26: a client that exits 300 ms after its last response closes
/// once; that is no proxy's idle timeout. It stays in the report's samples
/// (`idle_before_client_fin`, n = 1) but not in the fix, and the Servers
/// table does not print it as the client's idle FIN; two closes after the
/// same idle are one.
#[test]
fn test_26_one_client_close_is_not_the_proxys_timeout() {
    // Node.js closing at 6 s; its clients reuse after up to 1 s.
    let mut p = Vec::new();
    for i in 0..6 {
        p.extend(conn(
            47000 + i,
            3000,
            f64::from(i) * 10.0,
            &[0.5, 1.0],
            Some(6.0 + f64::from(i) * 0.001),
            Some(5),
        ));
    }
    let exits = |n: u16, p: &mut Vec<Packet>| {
        for i in 0..n {
            let mut f = Flow::new((ip("10.1.0.1"), 47100 + i), (ip("10.1.0.9"), 3000), 3, 4);
            let t = secs(70.0 + f64::from(i) * 10.0);
            p.extend(f.handshake(t, RTT));
            p.extend(f.exchange(t + RTT, RTT, &get("/bye"), &ok(Some(5))));
            let resp = t + 2 * RTT;
            p.push(f.fin(resp + secs(0.3), true));
            p.push(f.fin(resp + secs(0.3) + RTT, false));
        }
    };
    // A race, so that there is a fix to read.
    let mut f = Flow::new((ip("10.1.0.1"), 47200), (ip("10.1.0.9"), 3000), 5, 6);
    let t = secs(200.0);
    p.extend(f.handshake(t, RTT));
    p.extend(f.exchange(t + RTT, RTT, &get("/a"), &ok(Some(5))));
    let resp = t + 2 * RTT;
    p.push(f.fin(resp + secs(6.0), false));
    p.push(f.data(resp + secs(6.0) + RTT / 4, true, get("/b").as_bytes()));
    p.push(f.rst(resp + secs(6.0) + RTT / 2, false));

    let mut one = p.clone();
    exits(1, &mut one);
    let r = analyze(&one);
    let s = server(&r, 3000);
    assert_eq!(s.races, 1, "{:?}", r.findings);
    let d = s
        .idle_before_client_fin
        .as_ref()
        .expect("the sample is kept");
    assert_eq!(d.n, 1);
    assert!(!d.is_client_timeout());
    let texts: Vec<&str> = s.recommendations.iter().map(|x| x.text.as_str()).collect();
    assert!(!texts.is_empty());
    for t in &texts {
        assert!(!t.contains("own idle close"), "{t}");
        assert!(!t.contains("0.300 s"), "{t}");
    }
    // The binary's Servers table.
    let file = std::env::temp_dir().join(format!("racecap-26-exit-{}.pcap", std::process::id()));
    std::fs::write(&file, pcap(&one, &Link::Ethernet(vec![]))).unwrap();
    let out = assert_cmd::cargo::cargo_bin_cmd!("racecap")
        .args(["analyze", file.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let out = String::from_utf8(out.stdout).unwrap();
    let row = out
        .lines()
        .find(|l| l.starts_with("│ 10.1.0.9:3000"))
        .expect("a Servers row");
    assert!(row.contains("┆ - (1 close) "), "{row}");
    assert!(!row.contains("0.300 s"), "{row}");

    // Two clients closing after the same 0.3 s: that is a pool's timeout.
    let mut two = p;
    exits(2, &mut two);
    let r = analyze(&two);
    let s = server(&r, 3000);
    assert!(
        s.idle_before_client_fin
            .as_ref()
            .unwrap()
            .is_client_timeout()
    );
    assert!(
        s.recommendations
            .iter()
            .any(|x| x.text.contains("own idle close of 0.300 s")),
        "{:?}",
        s.recommendations
    );
}
