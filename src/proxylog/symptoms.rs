//! What each proxy writes in its logs for each way a connection dies, so
//! that a user who starts from the capture knows which log lines to look
//! for (and one who starts from a log line knows which finding it is).
//! One table, keyed by the verdict's and race kind's stable names: a new
//! verdict is a new row, and a row may be written before its verdict lands
//! (the names are the schema's). Sources: Envoy's response flags and
//! `%RESPONSE_CODE_DETAILS%` (the reference's table), nginx's
//! `ngx_http_upstream.c` messages, HAProxy's termination states
//! (doc/configuration.txt, "Session state at disconnection").

use serde::Serialize;

use crate::analysis::verdict::{RaceKind, Verdict};

/// What the proxies log for one kind of failure (text for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Symptoms {
    /// Envoy and Istio (the access log's status, flags and details).
    pub envoy: &'static str,
    /// nginx (the access log's status and the error log's message).
    pub nginx: &'static str,
    /// HAProxy (status and termination state).
    pub haproxy: &'static str,
}

/// `(verdict, race kind or "*", symptoms)`: the first row whose names fit.
const ROWS: &[(&str, &str, Symptoms)] = &[
    (
        "keepalive_race",
        "reset",
        Symptoms {
            envoy: "503 UC, upstream_reset_before_response_started{connection_termination}",
            nginx: "502; error log: recv() failed (104: Connection reset by peer) while reading response header from upstream (GETs retried: $upstream_status \"502, 200\")",
            haproxy: "502 SH-- (or nothing, when it retried the request on another connection)",
        },
    ),
    (
        "keepalive_race",
        "*",
        Symptoms {
            envoy: "503 UC, upstream_reset_before_response_started{connection_termination}",
            nginx: "502; error log: upstream prematurely closed connection while reading response header from upstream (GETs retried: $upstream_status \"502, 200\")",
            haproxy: "502 SH-- (or nothing, when it retried the request on another connection)",
        },
    ),
    (
        "truncated_response",
        "*",
        Symptoms {
            envoy: "the backend's status (e.g. 200) with UC, upstream_reset_after_response_started{connection_termination}",
            nginx: "the backend's status, body cut; error log: upstream prematurely closed connection while reading upstream",
            haproxy: "the backend's status with SD--",
        },
    ),
    (
        "no_response",
        "*",
        Symptoms {
            envoy: "503 UC, upstream_reset_before_response_started{connection_termination}",
            nginx: "502; error log: upstream prematurely closed connection while reading response header from upstream",
            haproxy: "502 SH--",
        },
    ),
    (
        "connect_refused",
        "*",
        Symptoms {
            envoy: "503 UF, upstream_reset_before_response_started{connection_failure} (UF,URX after retries)",
            nginx: "502; error log: connect() failed (111: Connection refused) while connecting to upstream",
            haproxy: "503 SC--",
        },
    ),
    (
        "connect_timeout",
        "*",
        Symptoms {
            envoy: "503 UF, upstream_reset_before_response_started{connection_failure} after the cluster's connect_timeout",
            nginx: "504; error log: upstream timed out (110: Connection timed out) while connecting to upstream",
            haproxy: "503 sC--",
        },
    ),
    (
        "server_reset",
        "*",
        Symptoms {
            envoy: "503 UC, upstream_reset_before_response_started{connection_termination} (or upstream_reset_after_response_started once headers were sent)",
            nginx: "502; error log: recv() failed (104: Connection reset by peer) while reading response header from upstream (… while reading upstream once the response had started)",
            haproxy: "502 SH-- (SD-- once the response had started)",
        },
    ),
    (
        "client_timeout",
        "*",
        Symptoms {
            envoy: "504 UT, response_timeout (the route's timeout, 15 s by default)",
            nginx: "504; error log: upstream timed out (110: Connection timed out) while reading response header from upstream",
            haproxy: "504 sH-- (timeout server)",
        },
    ),
    (
        "client_reset",
        "*",
        Symptoms {
            envoy: "a timeout (504 UT, upstream_response_timeout) or its own client leaving (DC)",
            nginx: "504; error log: upstream timed out (110: Connection timed out) while reading response header from upstream, or 499 when its client left",
            haproxy: "504 sH-- on a timeout, CD-- when its client left",
        },
    ),
    (
        "unacknowledged_request",
        "*",
        Symptoms {
            envoy: "504 UT, response_timeout (the route's timeout), or 503 UF/UC once the connection gives up",
            nginx: "504; error log: upstream timed out (110: Connection timed out) while reading response header from upstream",
            haproxy: "504 sH-- (timeout server)",
        },
    ),
    (
        "idle_reset",
        "*",
        Symptoms {
            envoy: "nothing when the pool drops it; 503 UC if a request was sent on it",
            nginx: "nothing, or 502 with recv() failed (104: Connection reset by peer) if a request was sent on it",
            haproxy: "nothing, or 502 SH-- if a request was sent on it",
        },
    ),
];

/// What the proxies log for a failure; `None` for a connection that did
/// not fail (or a verdict without a row yet).
pub fn of(verdict: Verdict, kind: Option<RaceKind>) -> Option<&'static Symptoms> {
    let kind = kind.map_or("*", RaceKind::name);
    ROWS.iter()
        .find(|(v, k, _)| *v == verdict.name() && (*k == "*" || *k == kind))
        .map(|(_, _, s)| s)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_every_failure_has_a_row() {
        for v in Verdict::ALL.iter().filter(|v| v.is_failure()) {
            for k in RaceKind::ALL {
                assert!(of(*v, Some(*k)).is_some(), "{v} {k}");
            }
            assert!(of(*v, None).is_some(), "{v}");
        }
        for v in Verdict::ALL.iter().filter(|v| !v.is_failure()) {
            assert_eq!(of(*v, None), None, "{v}");
        }
    }

    #[test]
    fn test_race_is_uc_in_envoy() {
        let s = of(Verdict::KeepaliveRace, Some(RaceKind::Crossed)).unwrap();
        assert!(s.envoy.starts_with("503 UC"));
        assert!(s.nginx.contains("prematurely closed"));
        assert!(s.haproxy.contains("SH--"));
    }

    #[test]
    fn test_rows_name_real_or_announced_verdicts() {
        // A typo in a key would leave its row unused: every key is a
        // verdict's name, or one the design announces (docs/design.md).
        const ANNOUNCED: [&str; 1] = ["truncated_response"];
        for (v, k, _) in ROWS {
            assert!(
                Verdict::ALL.iter().any(|x| x.name() == *v) || ANNOUNCED.contains(v),
                "{v}"
            );
            assert!(*k == "*" || *k == "reset" || RaceKind::ALL.iter().any(|x| x.name() == *k));
        }
    }
}
