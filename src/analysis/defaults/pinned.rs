//! Pins what the defaults module tells the user: every [`Recommendation`] and
//! [`Candidate`] over a grid of measured situations, compared with a snapshot
//! taken before the table's facts moved from `recommend.rs` prose into typed
//! row fields. The refactor was meant to change no byte of output; this test
//! is the proof, and it stays to catch accidental changes to the fix texts.
//!
//! The grid gives a few thousand situations whose recommendations repeat a
//! lot (the Envoy, nginx and HAProxy steps depend only on the proxy target),
//! so each distinct serialised value is written once, numbered, and each
//! situation lists the numbers of its results. The snapshot stays readable
//! and a changed text shows up as one changed line.

use std::collections::HashMap;
use std::fmt::Write;

use super::{
    Candidate, ClientKind, Recommendation, Situation, Witness, match_h2_server, match_proxy,
    match_server, match_server_with_header, match_server_witnessed, recommend,
};

/// Distinct strings, numbered in order of first appearance.
#[derive(Default)]
struct Pool {
    ids: HashMap<String, usize>,
    values: Vec<String>,
}

impl Pool {
    fn id(&mut self, value: &str) -> usize {
        let next = self.values.len();
        *self.ids.entry(value.to_string()).or_insert_with(|| {
            self.values.push(value.to_string());
            next
        })
    }
}

/// Two pools: serialised values, and the sentences they are made of. Texts
/// share most sentences (the measured facts, the proxy steps), so a value is
/// written as the list of its pieces; joined, the pieces give back the exact
/// JSON.
#[derive(Default)]
struct Interned {
    pieces: Pool,
    values: Pool,
    lists: Pool,
}

impl Interned {
    fn id<T: serde::Serialize>(&mut self, value: &T) -> usize {
        let json = serde_json::to_string(value).expect("serialisable");
        let mut ids = Vec::new();
        let mut rest = json.as_str();
        while !rest.is_empty() {
            // Cut after a sentence's ". " and before the snippet field.
            let cut = [
                rest.find(". ").map(|i| i + 2),
                rest.get(1..)
                    .and_then(|r| r.find(",\"snippet\":"))
                    .map(|i| i + 1),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
            ids.push(self.pieces.id(&rest[..cut]).to_string());
            rest = &rest[cut..];
        }
        self.values.id(&ids.join(" "))
    }

    /// The number of a list of values, as `@n`.
    fn ids<T: serde::Serialize>(&mut self, values: &[T]) -> String {
        let ids: Vec<String> = values.iter().map(|v| self.id(v).to_string()).collect();
        format!("@{}", self.lists.id(&ids.join(",")))
    }
}

// 3000: Linkerd's default equals the server's; 11_112: the proxy target is
// exactly 10 s, the edge of Envoy's caveat.
const SERVER_MS: [Option<f64>; 14] = [
    None,
    Some(500.0),
    Some(2000.0),
    Some(3000.0),
    Some(3001.2),
    Some(5002.0),
    Some(6001.5),
    Some(10_000.0),
    Some(11_112.0),
    Some(30_000.0),
    Some(60_000.0),
    Some(66_000.0),
    Some(75_010.0),
    Some(1_000_000.0),
];
const HEADER_S: [Option<u32>; 4] = [None, Some(2), Some(5), Some(75)];
// 1_000_000 and 3_600_000 (Envoy's 1 h): server targets above 15 min.
const REUSE_MS: [Option<f64>; 5] = [
    None,
    Some(2980.0),
    Some(19_800.0),
    Some(59_000.0),
    Some(1_000_000.0),
];
const CLIENT_IDLE_MS: [Option<f64>; 4] = [None, Some(3000.0), Some(60_000.0), Some(3_600_000.0)];
const RACES: [(u64, u64); 4] = [(0, 0), (0, 1), (3, 0), (3, 1)];
// (Server, X-Powered-By): none, a row's mark, a mark of several rows, one
// of X-Powered-By, and a header that names no row.
const WITNESSES: [(Option<&str>, Option<&str>); 5] = [
    (None, None),
    (Some("Apache/2.4.71 (Debian)"), None),
    (Some("uvicorn"), None),
    (None, Some("Express")),
    (Some("SomethingElse/1.0"), Some("PHP/8.3")),
];

/// Measured values for the matchers alone: every known close, its
/// tolerance edges, and values between and around them.
fn matcher_inputs() -> Vec<f64> {
    let mut v: Vec<f64> = vec![f64::NAN, -1.0, 0.0, 1.0, 149.0, 151.0, 12_345.0];
    for at in super::server_rows()
        .iter()
        .chain(super::proxy_rows())
        .flat_map(|r| r.closes)
        .map(|c| c.at_ms as f64)
    {
        let tol = (at * 0.03).max(150.0);
        v.extend([
            at,
            at - tol,
            at + tol,
            at - tol - 1.0,
            at + tol + 1.0,
            at + 1.0,
        ]);
    }
    v.extend(SERVER_MS.iter().flatten());
    v
}

fn render() -> String {
    let mut pool = Interned::default();
    let mut lines = String::new();

    for ms in matcher_inputs() {
        // match_server, match_proxy, then match_server_with_header for
        // each header of the grid.
        let mut results = vec![pool.ids(&match_server(ms)), pool.ids(&match_proxy(ms))];
        for h in HEADER_S {
            results.push(pool.ids(&match_server_with_header(ms, h)));
        }
        writeln!(lines, "match {ms}: {}", results.join(" ")).unwrap();
    }

    for server_timeout_ms in SERVER_MS {
        for keep_alive_header_s in HEADER_S {
            // As the caller (analysis::timeouts) builds them.
            let matches: Vec<Candidate> = server_timeout_ms.map_or_else(Vec::new, |t| {
                match_server_with_header(t, keep_alive_header_s)
            });
            for reuse_window_ms in REUSE_MS {
                for client_idle_ms in CLIENT_IDLE_MS {
                    // One line per measured timing; on it the results for
                    // each race count and mismatch flag, in grid order.
                    let mut results = Vec::new();
                    for (races, retried_races) in RACES {
                        for mismatch in [true, false] {
                            let s = Situation {
                                server_timeout_ms,
                                keep_alive_header_s,
                                reuse_window_ms,
                                client_idle_ms,
                                stale_idle_ms: None,
                                races,
                                retried_races,
                                mismatch,
                                matches: &matches,
                                client: ClientKind::Unknown,
                                inbound: false,
                                http2: false,
                                unprocessed_races: 0,
                            };
                            let recs: Vec<Recommendation> = recommend(&s);
                            results.push(pool.ids(&recs));
                        }
                    }
                    writeln!(
                        lines,
                        "t={server_timeout_ms:?} h={keep_alive_header_s:?} r={reuse_window_ms:?} c={client_idle_ms:?}: {}",
                        results.join(" ")
                    )
                    .unwrap();
                }
            }
        }
    }

    // Witnesses and a library's pool: a smaller grid of their own, so the
    // lines above stay those of the proxy wording with no witness.
    for (server_header, powered_by) in WITNESSES {
        let w = Witness {
            server_header,
            powered_by,
        };
        for server_timeout_ms in SERVER_MS {
            for keep_alive_header_s in [None, Some(2)] {
                let matches: Vec<Candidate> = server_timeout_ms.map_or_else(Vec::new, |t| {
                    match_server_witnessed(t, keep_alive_header_s, &w)
                });
                let mut results = vec![pool.ids(&matches)];
                for client in ClientKind::ALL {
                    for (reuse_window_ms, client_idle_ms) in [
                        (None, None),
                        (Some(2980.0), None),
                        (Some(19_800.0), Some(60_000.0)),
                    ] {
                        let s = Situation {
                            server_timeout_ms,
                            keep_alive_header_s,
                            reuse_window_ms,
                            client_idle_ms,
                            stale_idle_ms: None,
                            races: 3,
                            retried_races: 1,
                            mismatch: true,
                            matches: &matches,
                            client: *client,
                            inbound: false,
                            http2: false,
                            unprocessed_races: 0,
                        };
                        results.push(pool.ids(&recommend(&s)));
                    }
                }
                writeln!(
                    lines,
                    "w={server_header:?}/{powered_by:?} t={server_timeout_ms:?} h={keep_alive_header_s:?}: {}",
                    results.join(" ")
                )
                .unwrap();
            }
        }
    }

    // HTTP/2 servers (issue 16): their own rows and retries, after every
    // line above so that adding them changed none of those.
    for server_timeout_ms in [None, Some(2004.0), Some(60_000.0)] {
        let matches: Vec<Candidate> = server_timeout_ms.map_or_else(Vec::new, match_h2_server);
        let mut results = vec![pool.ids(&matches)];
        for client in [ClientKind::Unknown, ClientKind::Library] {
            for reuse_window_ms in [None, Some(1968.0)] {
                for (races, unprocessed_races) in [(0, 0), (8, 8), (3, 1)] {
                    let s = Situation {
                        server_timeout_ms,
                        keep_alive_header_s: None,
                        reuse_window_ms,
                        client_idle_ms: None,
                        stale_idle_ms: None,
                        races,
                        retried_races: 0,
                        mismatch: true,
                        matches: &matches,
                        client,
                        inbound: false,
                        http2: true,
                        unprocessed_races,
                    };
                    results.push(pool.ids(&recommend(&s)));
                }
            }
        }
        writeln!(lines, "h2 t={server_timeout_ms:?}: {}", results.join(" ")).unwrap();
    }

    let mut out = String::new();
    for (i, p) in pool.pieces.values.iter().enumerate() {
        writeln!(out, "%{i} {p}").unwrap();
    }
    out.push('\n');
    for (i, v) in pool.values.values.iter().enumerate() {
        writeln!(out, "#{i} {v}").unwrap();
    }
    out.push('\n');
    for (i, l) in pool.lists.values.iter().enumerate() {
        writeln!(out, "@{i} {l}").unwrap();
    }
    out.push('\n');
    out.push_str(&lines);
    out
}

#[test]
fn test_output_pinned_over_grid() {
    insta::assert_snapshot!("defaults_output", render());
}
