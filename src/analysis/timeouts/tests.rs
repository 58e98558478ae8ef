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
