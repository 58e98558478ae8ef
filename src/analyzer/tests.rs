//! The analyzer's own tests: what it keeps while a capture runs.

use super::*;
use crate::synth::{Workload, feed};

/// Issue 23: a live capture without `--metrics-listen` grew without
/// bound (46 → 85 MB in 60 s): every idle close and reuse was queued for
/// metrics that nobody drained. Samples are queued only when asked for.
#[test]
fn test_23_no_samples_queued_unless_drained() {
    let (mut packets, _) = Workload::bench(200, 10, false).packets();
    packets.sort_by_key(|p| p.ts_ns);
    for samples in [false, true] {
        let cfg = Config {
            live: true,
            samples,
            ..Config::default()
        };
        let mut a = Analyzer::new(cfg);
        feed(&mut a, &packets, |_| {});
        let queued = a.timeouts.tap.as_ref().map_or(0, Vec::len);
        assert_eq!(queued > 0, samples, "{queued} samples queued");
    }
}
/// Request targets go back to the pool when their request is answered
/// or their connection is judged: the pool follows the requests waiting
/// now (at most one per open connection), not the requests seen.
#[test]
fn test_paths_follow_waiting_requests() {
    let (mut packets, races) = Workload::bench(300, 10, false).packets();
    packets.sort_by_key(|p| p.ts_ns);
    let mut a = Analyzer::new(Config::default());
    let mut most = 0;
    feed(&mut a, &packets, |a| {
        assert!(a.paths.live() <= a.table.len());
        most = most.max(a.paths.live());
    });
    // 3000 requests went through; a few dozen waited at once.
    assert!(most > 0 && most < 300, "{most}");
    let report = a.finish(&[]);
    assert!(races > 0);
    assert_eq!(report.races(), races);
    let lost = report.findings.iter().filter_map(|f| f.race.as_ref());
    assert!(lost.clone().count() as u64 == races);
    assert!(
        lost.clone()
            .all(|r| r.request.as_ref().is_some_and(|q| q.path.starts_with('/')))
    );
}

/// Issue 23: a request its client gave up on (a FIN with the request
/// unanswered) is kept until its connection is judged, and the budget
/// counts it: a million such connections passed the budget by 150 MiB.
#[test]
fn test_23_abandoned_requests_count_in_the_budget() {
    use crate::synth::{Flow, flags};
    let mut packets = Vec::new();
    for i in 0..50u16 {
        let mut f = Flow::new(
            ("10.0.0.1".parse().unwrap(), 30000 + i),
            ("10.0.0.2".parse().unwrap(), 80),
            1000,
            9000,
        );
        let t = i64::from(i) * 1_000_000;
        packets.extend(f.handshake(t, 1000));
        packets.push(f.data(t + 5000, true, b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"));
        packets.push(f.seg(t + 6000, true, flags::FIN | flags::ACK, &[], Some(9001)));
    }
    let mut a = Analyzer::new(Config::default());
    feed(&mut a, &packets, |_| {});
    // Each connection holds its request out of line, and the budget's
    // count of out-of-line bytes includes it.
    let mut given_up = 0;
    let mut heap = 0;
    for slot in a.table.drain_order() {
        let mut c = a.table.take(slot as u32).expect("open connection");
        let with = c.heap_bytes();
        heap += with;
        let (line, _) = c.take_given_up().expect("a request given up on");
        assert_eq!(&*line.path, "/slow");
        assert!(c.heap_bytes() + line.path.len() < with);
        given_up += 1;
    }
    assert_eq!(given_up, 50);
    assert_eq!(a.conn_heap, heap);
}

/// Issue 23: the 4-tuples that left the table (a million hashes, 18–27
/// MiB) were kept past the budget whatever the budget. Their share is a
/// sixteenth of it, counted from the start, with room for the set's last
/// growth; a small budget still remembers [`MIN_TUPLES`] (a constant
/// outside it), a large one no more than [`MAX_TUPLES`].
#[test]
fn test_23_tuples_that_left_share_the_budget() {
    use crate::flow::table::{MAX_TUPLES, MIN_TUPLES, gone_cap};
    for mib in [1, 4, 16, 64, 256, 1024, 4096] {
        let budget = mib << 20;
        let (cap, reserve) = gone_cap(budget);
        assert!(reserve <= budget / 16, "{mib} MiB");
        assert!((MIN_TUPLES..=MAX_TUPLES).contains(&cap), "{mib} MiB");
        // The buckets that hold `cap` hashes, at 9 bytes, with half as
        // many again while the set last grew: within the reserve, or the
        // constant floor.
        let held = (cap * 8 / 7).next_power_of_two() * 9 * 3 / 2;
        assert!(held <= reserve || cap == MIN_TUPLES, "{mib} MiB");
    }
    assert_eq!(gone_cap(256 << 20).0, 917_504);
    assert_eq!(gone_cap(1 << 20).0, MIN_TUPLES);
    // A large budget keeps no more than the largest set needs.
    assert!(gone_cap(4096 << 20).1 <= (2 << 20) * 9 * 3 / 2);
    let a = Analyzer::new(Config::default());
    assert!(a.state_bytes() >= gone_cap(DEFAULT_MAX_MEMORY).1);
}
