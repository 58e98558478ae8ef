//! The impact summary: what the failures cost the clients, in the numbers a
//! reader asks for first (how many requests failed, were they retried, over
//! what span, how often). Computed from the typed findings and the
//! per-server counts, never from rendered text, so the table's opening
//! sentences and the JSON `summary` say the same thing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Finding, ServerReport, Timestamp, Verdict};
use crate::flow::Endpoint;

/// The report's first answer: requests, races and what reached the clients.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Requests sent to the servers with races or a mismatch (to every
    /// server when none has either): the first of each connection and every
    /// reuse. A capture of both sides of a proxy does not count its
    /// client-facing requests twice.
    pub requests: u64,
    /// Of those, requests on reused connections.
    pub reused_requests: u64,
    /// Keep-alive races (all of them, like `verdict_counts`).
    pub races: u64,
    /// Races whose request the proxy sent again on another connection.
    pub retried: u64,
    /// Races whose request was not sent again: the client got the error.
    pub not_retried: u64,
    /// Races whose request line could not be read, so a retry cannot be told.
    pub retried_unknown: u64,
    /// Races whose request the proxy sent again, into a connect the same
    /// server refused (a restart): still lost, and in `not_retried`.
    pub retries_refused: u64,
    /// Failing connections other than races.
    pub other_failures: u64,
    /// Refused connects that were requests of their own (not a race's
    /// retry): whether the client got an error, the capture cannot tell
    /// (the proxy may have tried another server); the proxy's log can.
    pub refused_connects: u64,
    /// Of `refused_connects`, those whose proxy-log lines say the client
    /// got an error: lost requests, in `clients_got` (0 without a log).
    pub refused_lost: u64,
    /// Method → requests lost to clients: a race not retried, or another
    /// failure that lost its request (reset, truncated, given up on).
    /// Counted over `findings` (cut at its cap on very large captures).
    pub lost_by_method: BTreeMap<String, u64>,
    /// What the clients got for those lost requests, from evidence only
    /// (issue 21): `"502"`, `"503"`, `"504"`… (the status the proxy's log
    /// says it sent), `"cut_response"` (the log's status was not an error:
    /// the response was cut short), `"no_response"` (the log says the
    /// proxy closed the client's connection without a response) or
    /// `"unknown"` (nothing says: no `--proxy-log` line for it). Sums to
    /// the lost requests.
    pub clients_got: BTreeMap<String, u64>,
    /// When the first and the last race happened (their RST, or the lost
    /// request without one).
    pub first_race: Option<Timestamp>,
    pub last_race: Option<Timestamp>,
    /// Races per hour of capture (first to last packet); none for a capture
    /// without duration.
    pub races_per_hour: Option<f64>,
    /// Races per 1000 requests (all requests, not only reused ones).
    pub races_per_1000_requests: Option<f64>,
    /// One entry per server with requests or races, in `servers` order.
    pub servers: Vec<ServerSummary>,
}

/// One server's part of the summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerSummary {
    pub server: Endpoint,
    pub requests: u64,
    pub reused_requests: u64,
    pub races: u64,
    pub retried: u64,
    pub not_retried: u64,
    pub retried_unknown: u64,
    /// Races per 1000 requests to this server.
    pub races_per_1000_requests: Option<f64>,
}

/// `clients_got`: no evidence of what the client got.
pub const UNKNOWN: &str = "unknown";
/// `clients_got`: the proxy closed the client's connection, no response.
pub const NO_RESPONSE: &str = "no_response";
/// `clients_got`: the logged status was not an error and no try failed
/// before it: the session was cut during the data (HAProxy's `sD--`).
pub const CUT_RESPONSE: &str = "cut_response";
/// `clients_got`: a try failed, the proxy tried again and sent a status
/// below 500 (nginx's `$upstream_status` `"502, 200"`).
pub const RETRIED: &str = "retried";

/// One proxy-log line about a lost request, as [`client_got`] reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct GotLine<'a> {
    /// The status sent to the client (`None` in an error log, or HAProxy's -1).
    pub status: Option<u16>,
    /// The failing try's status (nginx), else the client's.
    pub error_status: Option<u16>,
    /// HAProxy's termination state.
    pub termination: Option<&'a str>,
}

/// What one lost request's client got, by the proxy-log lines tied to its
/// finding.
pub fn client_got(lines: &[GotLine]) -> String {
    // An access line's status is what the client was sent; an error-log
    // line (no status) says nothing about it.
    if let Some(l) = lines
        .iter()
        .filter(|l| l.status.is_some())
        .max_by_key(|l| l.status)
    {
        let s = l.status.unwrap_or(0);
        return if s >= 500 {
            s.to_string()
        } else if l.error_status.is_some_and(|e| e >= 500) || l.error_status.is_none() {
            RETRIED.to_string()
        } else {
            CUT_RESPONSE.to_string()
        };
    }
    // HAProxy logs -1 when it sent no status: it closed the connection.
    if lines
        .iter()
        .any(|l| l.status.is_none() && l.termination.is_some())
    {
        return NO_RESPONSE.to_string();
    }
    UNKNOWN.to_string()
}

/// Whether what a client got ([`client_got`]) was an error: a 5xx status
/// or no response at all.
pub fn is_error(got: &str) -> bool {
    got == NO_RESPONSE || got.parse::<u16>().is_ok_and(|s| s >= 500)
}

/// What the client leg of a proxy shows its clients got, when both legs
/// are in the capture: a proxy's listener that closed its client's
/// connection with no response (`no_response`, cause `upstream`) names the
/// upstream failure it passed on, whose client then got no response
/// (issue 21: HAProxy closing its clients' connections, not a 502).
pub struct ClientLegs(std::collections::HashSet<(Endpoint, Endpoint, Timestamp)>);

impl ClientLegs {
    pub fn new(findings: &[Finding]) -> ClientLegs {
        ClientLegs(
            findings
                .iter()
                .filter(|f| f.verdict == Verdict::NoResponse)
                .filter_map(|f| f.upstream.as_ref())
                .map(|u| (u.client, u.server, u.at))
                .collect(),
        )
    }

    /// What `f`'s client got by the client leg, if it shows: the 5xx
    /// the proxy sent for it (`client_status`), or no response at all.
    pub fn got(&self, f: &Finding) -> Option<String> {
        if let Some(s) = f.client_status {
            return Some(s.to_string());
        }
        self.0
            .contains(&(f.client, f.server, f.at))
            .then(|| NO_RESPONSE.to_string())
    }
}

/// Per 1000, to 0.1.
fn per_1000(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| (n as f64 * 10_000.0 / of as f64).round() / 10.0)
}

/// What the client lost in a finding: the method of a request that did not
/// get its answer and was not re-sent, if any.
pub fn lost(f: &Finding) -> Option<String> {
    lost_request(f).map(|r| r.method.to_string())
}

/// The request a finding lost (see [`lost`]).
pub fn lost_request(f: &Finding) -> Option<&super::Request> {
    // A proxy passing an upstream failure on: the upstream finding counts
    // that request already.
    if f.cause == Some(super::Cause::Upstream) {
        return None;
    }
    if let Some(r) = &f.race {
        return match r.retried {
            Some(false) => r.request.as_ref(),
            _ => None,
        };
    }
    // A reset or unacknowledged request the proxy retried is not lost
    // (issue 21: nginx retried the app-reset GETs to 200).
    if f.reset.as_ref().and_then(|r| r.retried) == Some(true)
        || f.unacknowledged.as_ref().and_then(|u| u.retried) == Some(true)
    {
        return None;
    }
    f.truncated
        .as_ref()
        .and_then(|t| t.request.as_ref())
        .or(f.timeout.as_ref().and_then(|t| t.request.as_ref()))
        .or(f.reset.as_ref().and_then(|r| r.request.as_ref()))
        .or(f.unacknowledged.as_ref().and_then(|u| u.request.as_ref()))
        .or(f.unanswered.as_ref().and_then(|u| u.request.as_ref()))
}

impl Summary {
    /// The summary of these findings and servers; `races` and `failures`
    /// are the exact counts, `duration_s` the capture's span.
    pub fn new(
        findings: &[Finding],
        servers: &[ServerReport],
        untracked: crate::analysis::timeouts::Untracked,
        races: u64,
        failures: u64,
        duration_s: f64,
    ) -> Summary {
        // A proxy's listener's failures that passed an upstream failure on
        // are that failure again (cause `upstream`), none of their own.
        let passed_on: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.cause == Some(super::Cause::Upstream))
            .collect();
        let passed_on_races = passed_on
            .iter()
            .filter(|f| f.verdict == Verdict::KeepaliveRace)
            .count() as u64;
        let races = races.saturating_sub(passed_on_races);
        let failures = failures.saturating_sub(passed_on.len() as u64);
        // The servers at issue: a capture of both sides of a proxy also
        // holds its client-facing listener, whose requests are the same
        // requests again.
        let at_issue: Vec<&ServerReport> = servers
            .iter()
            .filter(|s| s.races > 0 || s.mismatch)
            .collect();
        let counted: Vec<&ServerReport> = if at_issue.is_empty() {
            servers.iter().collect()
        } else {
            at_issue
        };
        // The servers past the statistics' cap have no entry; their
        // requests and races are counted apart, and their requests are at
        // issue when one of their races is (or when none is anywhere).
        let (more, more_reused) = if counted.len() == servers.len() || untracked.races > 0 {
            (untracked.requests, untracked.reused_requests)
        } else {
            (0, 0)
        };
        let requests = counted.iter().map(|s| s.requests).sum::<u64>() + more;
        let reused_requests = counted.iter().map(|s| s.reused_requests).sum::<u64>() + more_reused;
        let retried: u64 = servers.iter().map(|s| s.retried_races).sum::<u64>() + untracked.retried;
        let retried_unknown: u64 =
            servers.iter().map(|s| s.retried_unknown).sum::<u64>() + untracked.unknown;
        let mut lost_by_method = BTreeMap::new();
        for f in findings {
            if let Some(m) = lost(f) {
                *lost_by_method.entry(m).or_insert(0) += 1;
            }
        }
        // Until a proxy log says otherwise, only the client leg, when the
        // capture holds it, says what they got.
        let legs = ClientLegs::new(findings);
        let mut clients_got: BTreeMap<String, u64> = BTreeMap::new();
        for f in findings.iter().filter(|f| lost(f).is_some()) {
            let got = legs.got(f).unwrap_or_else(|| UNKNOWN.to_string());
            *clients_got.entry(got).or_default() += 1;
        }
        let retries_refused = findings
            .iter()
            .filter(|f| {
                f.race
                    .as_ref()
                    .is_some_and(|r| r.retry_refused_at.is_some())
            })
            .count() as u64;
        let refused_connects = findings.iter().filter(|f| super::refused::alone(f)).count() as u64;
        let race_times: Vec<Timestamp> = findings
            .iter()
            .filter(|f| {
                f.verdict == Verdict::KeepaliveRace && f.cause != Some(super::Cause::Upstream)
            })
            .map(|f| f.at)
            .collect();
        Summary {
            requests,
            reused_requests,
            races,
            retried,
            not_retried: races.saturating_sub(retried + retried_unknown),
            retried_unknown,
            retries_refused,
            other_failures: failures.saturating_sub(races),
            refused_connects,
            refused_lost: 0,
            lost_by_method,
            clients_got,
            first_race: race_times.iter().min().copied(),
            last_race: race_times.iter().max().copied(),
            races_per_hour: (duration_s > 0.0)
                .then(|| (races as f64 * 3600.0 / duration_s * 10.0).round() / 10.0),
            races_per_1000_requests: per_1000(races, requests),
            servers: servers
                .iter()
                .filter(|s| s.requests > 0 || s.races > 0)
                .map(|s| ServerSummary {
                    server: s.endpoint,
                    requests: s.requests,
                    reused_requests: s.reused_requests,
                    races: s.races,
                    retried: s.retried_races,
                    not_retried: s.races.saturating_sub(s.retried_races + s.retried_unknown),
                    retried_unknown: s.retried_unknown,
                    races_per_1000_requests: per_1000(s.races, s.requests),
                })
                .collect(),
        }
    }

    /// Requests the clients lost, over every method.
    pub fn lost(&self) -> u64 {
        self.lost_by_method.values().sum::<u64>() + self.refused_lost
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_client_got_from_log_lines() {
        let line = |status, error_status, termination| GotLine {
            status,
            error_status,
            termination,
        };
        assert_eq!(client_got(&[]), UNKNOWN);
        // nginx: an error-log line and the access line's 504.
        let error_log = line(None, None, None);
        assert_eq!(
            client_got(&[error_log, line(Some(504), Some(504), None)]),
            "504"
        );
        assert_eq!(
            client_got(&[line(Some(502), Some(502), Some("SH--"))]),
            "502"
        );
        // HAProxy's -1: no response at all.
        assert_eq!(client_got(&[line(None, None, Some("SH--"))]), NO_RESPONSE);
        // nginx's "502, 200": retried, the client got 200.
        assert_eq!(client_got(&[line(Some(200), Some(502), None)]), RETRIED);
        // HAProxy's sD--: 200 sent, then cut.
        assert_eq!(
            client_got(&[line(Some(200), Some(200), Some("sD--"))]),
            CUT_RESPONSE
        );
        assert_eq!(client_got(&[error_log]), UNKNOWN);
    }

    #[test]
    fn test_per_1000_rounds_to_a_tenth() {
        assert_eq!(per_1000(9, 94), Some(95.7));
        assert_eq!(per_1000(0, 10), Some(0.0));
        assert_eq!(per_1000(3, 0), None);
    }
}
