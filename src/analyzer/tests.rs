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
