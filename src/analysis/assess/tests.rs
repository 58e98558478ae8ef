//! The assessment's rules on small measurements, and the fix-order
//! property over generated ones (issue 21).

mod test {
    use super::super::*;

    fn stats(closes_ms: &[f64], reuses_ms: &[f64]) -> ServerStats {
        let mut s = ServerStats {
            connections: 10,
            ..ServerStats::default()
        };
        for v in closes_ms {
            s.idle_closes.push((v * 1e6) as i64);
        }
        for v in reuses_ms {
            s.reuse.push((v * 1e6) as i64);
        }
        s
    }

    fn plain(s: &ServerStats) -> Assessment {
        s.assess_witnessed(&Witness::default(), ClientKind::Proxy)
    }

    /// Issue 21: Tomcat 10's poller spreads closes over 3.0–4.5 s; no row
    /// explains that, so it is no timeout, and certainly not gunicorn's.
    #[test]
    fn test_issue_21_tomcat_spread_is_no_timeout() {
        let closes: Vec<f64> = (0..30).map(|i| 3_000.0 + f64::from(i) * 50.0).collect();
        let a = plain(&stats(&closes, &[]));
        assert!(!a.idle.unwrap().tight);
        assert!(a.matches.is_empty(), "{:?}", a.matches);
    }

    /// Coalesced deadlines (nginx over TLS: 3.001–3.116 s) are one timer,
    /// with no row to name it.
    #[test]
    fn test_coalesced_cluster_is_a_timer() {
        let closes = [
            3_001.0, 3_010.0, 3_030.0, 3_050.0, 3_070.0, 3_090.0, 3_100.0, 3_116.0,
        ];
        let a = plain(&stats(&closes, &[]));
        let d = a.idle.unwrap();
        assert!(d.tight);
        assert_eq!(d.estimate_ns, 3_001_000_000);
        assert!(a.matches.iter().all(|c| c.software != "gunicorn"));
    }

    /// One close with no witness is no timeout; with a `Keep-Alive`
    /// header or a race it is.
    #[test]
    fn test_issue_21_one_close_needs_a_witness() {
        let mut s = stats(&[4_000.0], &[1_000.0]);
        s.races = 0;
        let a = plain(&s);
        assert!(!a.idle.unwrap().tight);
        s.keep_alive.insert(4, 3);
        assert!(plain(&s).idle.unwrap().tight);
        s.keep_alive.clear();
        s.races = 1;
        assert!(plain(&s).idle.unwrap().tight);
    }

    /// Issue 21: resets 1.16 s after idle cannot be the server's timer when
    /// reuses up to 4.3 s were answered: no number, no advice from them.
    #[test]
    fn test_issue_21_cluster_below_answered_reuses() {
        let mut s = stats(&[1_160.0, 1_170.0, 1_175.0], &[300.0, 2_000.0, 4_300.0]);
        s.races = 2;
        let a = plain(&s);
        assert!(!a.idle.unwrap().tight);
        // The fix reads no number below the reuses.
        for r in &a.recommendations {
            assert!(!r.text.contains("585 ms"), "{}", r.text);
        }
    }
}

/// Issue 21: "a test pins every fix number against the rule 'server timeout
/// above what the pool keeps, proxy timeout below the server's close'".
/// Over many assessments of generated measurements (a tight cluster or a
/// spread of closes, reuses, stale races, the proxies' own closes, a
/// `Keep-Alive` header, any requester), every value a step sets obeys it.
mod order {
    use proptest::prelude::*;

    use super::super::*;
    use crate::analysis::defaults::Side;

    fn ms_to_ns(v: f64) -> i64 {
        (v * 1e6) as i64
    }

    prop_compose! {
        fn server_stats()(
            close_ms in 50.0f64..200_000.0,
            spread_ms in prop_oneof![Just(0.0f64), 0.0f64..3_000.0],
            n_closes in 0usize..12,
            reuses in proptest::collection::vec(0.0f64..300_000.0, 0..8),
            client_closes in proptest::collection::vec(50.0f64..300_000.0, 0..6),
            stale in proptest::collection::vec(0.0f64..100_000.0, 0..3),
            races in 0u64..6,
            header in proptest::option::of(0u32..400),
        ) -> ServerStats {
            let mut s = ServerStats {
                connections: 20,
                ..ServerStats::default()
            };
            for i in 0..n_closes {
                let f = if n_closes > 1 { i as f64 / (n_closes - 1) as f64 } else { 0.0 };
                s.idle_closes.push(ms_to_ns(close_ms + spread_ms * f));
            }
            for r in reuses {
                s.reuse.push(ms_to_ns(r));
            }
            for c in client_closes {
                s.client_closes.push(ms_to_ns(c));
            }
            for g in stale {
                s.fin_to_reuse.push(ms_to_ns(g));
            }
            s.races = races;
            if let Some(h) = header {
                s.keep_alive.insert(h, 3);
            }
            s
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn test_issue_21_every_fix_number_obeys_the_order(
            s in server_stats(),
            client in proptest::sample::select(ClientKind::ALL.to_vec()),
            header in proptest::sample::select(vec![None, Some("gunicorn"), Some("Apache/2.4.62"), Some("uvicorn")]),
        ) {
            let w = Witness { server_header: header, powered_by: None };
            let a = s.assess_witnessed(&w, client);
            // What the evidence shows the pool keeps, ms.
            let server_ms = a.idle.filter(|d| d.tight).map(|d| ms(d.estimate_ns));
            // A stale race's age (a request sent more than a round trip
            // after the FIN; no round trip here, so 1 ms).
            let stale = s
                .fin_to_reuse
                .values()
                .iter()
                .copied()
                .filter(|&g| g > NS_PER_MS)
                .max()
                .map(|g| ms(a.idle.filter(|d| d.tight).map_or(0, |d| d.cluster_min_ns) + g));
            let kept = [
                a.reuse_window_ns.map(ms),
                a.client_timeout.map(|d| ms(d.estimate_ns)),
                stale,
            ]
            .into_iter()
            .flatten()
            .fold(0.0f64, f64::max);
            // The server's close the proxy must stay under.
            let close = server_ms.or(a.keep_alive_header_s.map(|h| f64::from(h) * 1000.0))
                .filter(|t| *t > 0.0);
            for r in &a.recommendations {
                let Some(v) = r.value_ms else { continue };
                match r.side {
                    Side::Server => prop_assert!(
                        v as f64 > kept,
                        "server {} ms not above the pool's {} ms: {}", v, kept, r.text
                    ),
                    Side::Proxy | Side::Client => {
                        let close = close.expect("a proxy value only under a known close");
                        prop_assert!(
                            (v as f64) < close && v > 0,
                            "{:?} {} ms not below the server's {} ms: {}", r.side, v, close, r.text
                        );
                    }
                    Side::Retries => {}
                }
            }
            // Behind each known proxy the report rewrites the server step
            // (Report::settle_proxy): it must still clear what the pool was
            // seen to keep, and the proxy pool's own default too; past any
            // sensible server timeout it gives no number at all.
            for kind in crate::analysis::proxy::ProxyKind::ALL {
                let Some(pool) = kind.knob_row() else { continue };
                for r in a.recommendations.iter().filter(|r| r.side == Side::Server) {
                    let Some(b) = crate::analysis::defaults::server_step_behind(
                        r, &a.matches, pool, kind.label(),
                    ) else {
                        continue;
                    };
                    if let Some(v) = b.value_ms {
                        prop_assert!(v as f64 > kept, "{kind}: {} ms not above {} ms", v, kept);
                        prop_assert!(
                            pool.default_ms.is_none_or(|d| v > d),
                            "{kind}: {} ms not above its pool's {:?} ms", v, pool.default_ms
                        );
                    }
                }
            }
            // No number from a spread.
            if let Some(d) = a.idle.filter(|d| !d.tight) {
                let median = crate::units::secs(ms(d.median_ns));
                for r in &a.recommendations {
                    prop_assert!(
                        !r.text.contains(&format!("after {median}")),
                        "{}", r.text
                    );
                }
            }
        }
    }
}
