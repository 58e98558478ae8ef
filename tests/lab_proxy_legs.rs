//! Issue 21 on a real capture of both legs of a proxy
//! (fixtures/lab/proxy-legs.*, made with `scripts/lab/record-proxy-legs.sh`):
//! HAProxy 2.6 in front of Node (keepAliveTimeout 2000 ms), a keep-alive
//! client on HAProxy's loopback. Six second requests met a pooled upstream
//! connection that raced Node's idle close; HAProxy logged nothing for them
//! and closed the client's connection without a response (the client's
//! log: "closed"). The races are the backend's; the proxy's listener has
//! none, no idle-timeout sample and no fix, and its closes with no
//! response are what the clients got.

use std::fs;

use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::report::{Cause, Report, Verdict};
use racecap::source::CaptureReader;

fn report() -> Report {
    let path = "fixtures/lab/proxy-legs.proxy-any.pcap";
    let reader = CaptureReader::new(fs::File::open(path).unwrap()).unwrap();
    pipeline::run(
        vec![(path.to_string(), reader)],
        Config {
            keep_connections: true,
            ..Config::default()
        },
    )
    .unwrap()
    .0
}

/// The requests the client's log says got no response, by path.
fn closed_in_client_log() -> Vec<String> {
    fs::read_to_string("fixtures/lab/proxy-legs.client.log")
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(" closed"))
        .map(|l| l.split(' ').nth(3).unwrap().to_string())
        .collect()
}

#[test]
fn test_lab_proxy_legs_races_are_the_backends() {
    let r = report();
    let lost = closed_in_client_log();
    assert_eq!(lost.len(), 6);
    let mut raced: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.server.port == 8222)
        .map(|f| {
            assert_eq!(f.verdict, Verdict::KeepaliveRace);
            assert_eq!(f.server.port, 8222, "a race on the listener: {f:?}");
            assert_eq!(f.cause, Some(Cause::IdleTimer));
            f.race
                .as_ref()
                .unwrap()
                .request
                .as_ref()
                .unwrap()
                .path
                .clone()
        })
        .collect();
    raced.sort();
    let mut lost = lost;
    lost.sort();
    assert_eq!(raced, lost);
    // HAProxy read each lost request, then closed without a response:
    // `no_response` on the listener, the race passed on (cause
    // `upstream`, naming it), neither a race nor an idle close.
    let mut passed: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.server.port == 9222)
        .map(|f| {
            assert_eq!(f.verdict, Verdict::NoResponse, "{f:?}");
            assert_eq!(f.cause, Some(Cause::Upstream));
            let up = f.upstream.as_ref().unwrap();
            assert_eq!(up.verdict, Verdict::KeepaliveRace);
            assert_eq!(up.server.port, 8222);
            let u = f.unanswered.as_ref().unwrap();
            assert!(u.fin_at.unwrap().0 >= u.request_at.0);
            u.request.as_ref().unwrap().path.clone()
        })
        .collect();
    passed.sort();
    assert_eq!(passed, lost);
    // What the clients got, from the client leg: no response at all (the
    // client's log: "closed"), never a status nobody sent; each lost
    // request counted once.
    assert_eq!(r.summary.lost(), 6);
    assert_eq!(
        r.summary.clients_got,
        [("no_response".to_string(), 6)].into_iter().collect()
    );
    let listener = r
        .servers
        .iter()
        .find(|s| s.endpoint.port == 9222)
        .expect("the proxy's listener");
    assert_eq!(listener.races, 0);
    assert!(
        listener.idle_timeout.is_none(),
        "{:?}",
        listener.idle_timeout
    );
    assert!(listener.recommendations.is_empty());
    let closed = r
        .connections
        .as_ref()
        .unwrap()
        .iter()
        .filter(|c| c.server.port == 9222 && c.verdict == Verdict::NoResponse)
        .count();
    assert_eq!(closed, 6);
    let backend = r.servers.iter().find(|s| s.endpoint.port == 8222).unwrap();
    assert_eq!(backend.races, 6);
}

/// Both legs of nginx (post-races) and Caddy in one capture: each POST the
/// upstream lost was answered 502 on the proxy's client leg, and that is
/// what the clients got, per request, as the client's log says (issue 21:
/// "the status the proxy's log or the client leg shows").
#[test]
fn test_lab_client_leg_statuses() {
    for scenario in ["post-races", "caddy"] {
        let path = format!("fixtures/lab/{scenario}.proxy-any.pcap");
        let reader = CaptureReader::new(fs::File::open(&path).unwrap()).unwrap();
        let r = pipeline::run(vec![(path.clone(), reader)], Config::default())
            .unwrap()
            .0;
        let t: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(format!("fixtures/lab/{scenario}.truth.json")).unwrap(),
        )
        .unwrap();
        // The truth's lost requests: (path, the status the client got).
        let mut want: Vec<(String, u16)> = t["races"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["client_status"].as_u64().is_some_and(|s| s >= 500))
            .map(|x| {
                (
                    x["path"].as_str().unwrap().to_string(),
                    x["client_status"].as_u64().unwrap() as u16,
                )
            })
            .collect();
        want.sort();
        assert!(!want.is_empty(), "{scenario}");
        let mut got: Vec<(String, u16)> = r
            .findings
            .iter()
            .filter_map(|f| {
                let req = racecap::report::summary::lost_request(f)?;
                Some((req.path.clone(), f.client_status?))
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{scenario}");
        let n = want.len() as u64;
        assert_eq!(r.summary.lost(), n, "{scenario}");
        assert_eq!(
            r.summary.clients_got,
            [("502".to_string(), n)].into_iter().collect(),
            "{scenario}"
        );
    }
}
