//! The remedies (issue 21): per cause other than the server's idle timer,
//! how many failures it had, on which servers, and the steps that help
//! there (from the table in `analysis::defaults::remedy`), for the proxy
//! that is there and no other. A timeout change is never one of them.

use serde::Serialize;

use super::{Finding, ServerReport};
use crate::analysis::cause::Cause;
use crate::analysis::defaults::{RowId, Side, fill, keepalive_s, remedy_steps};
use crate::analysis::proxy::ProxyKind;
use crate::flow::Endpoint;
use crate::units::Millis;

/// The remedy for one cause.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Remedy {
    pub cause: Cause,
    /// Failing connections of this cause (an application's only when one
    /// of them cut a known request).
    pub failures: u64,
    /// Their servers, in order.
    pub servers: Vec<Endpoint>,
    /// The path only: the shortest idle gap a failed reuse ended, an upper
    /// bound on the middlebox's idle timeout ("forgotten after at most").
    pub forgotten_within_ms: Option<Millis>,
    /// The path only: the longest idle gap after which a reuse on these
    /// servers got its answer, a lower bound on the middlebox's idle
    /// timeout ("survived").
    pub survived_ms: Option<Millis>,
    /// The path only: the TCP keepalive time (s) the steps give, below
    /// `survived_ms` by the requester's margin; `null` when the capture
    /// proves none (no reuse survived, or one below 2 s), and the snippets
    /// then hold `<N>`.
    pub keepalive_s: Option<u64>,
    /// What happened, one sentence.
    pub what: String,
    /// The steps, in order.
    pub steps: Vec<RemedyStep>,
}

/// One step of a remedy.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RemedyStep {
    pub side: Side,
    pub text: String,
    /// The proxy's configuration, only for the proxy that is there.
    pub snippet: Option<String>,
    /// Internal: the proxy row whose step it is, none for a step that is
    /// no one proxy's.
    #[serde(skip)]
    pub proxy_row: Option<RowId>,
}

/// The idle gap a finding's failed reuse ended, ns.
fn idle_ns(f: &Finding) -> Option<i64> {
    f.unacknowledged
        .as_ref()
        .and_then(|u| u.idle_before_ms)
        .or_else(|| f.reset.as_ref().and_then(|r| r.idle_before_ms))
        .or_else(|| f.race.as_ref().and_then(|r| r.idle_before_close_ms))
        .map(|m| m.0)
}

/// The path step's value in words, after its sentence: the keepalive time
/// and the two bounds that prove it.
fn path_value(
    keepalive_s: Option<u64>,
    survived: Option<Millis>,
    within: Option<Millis>,
) -> String {
    let secs = |m: Millis| crate::units::secs(m.ms());
    match (keepalive_s, survived) {
        (Some(k), Some(s)) => format!(
            " Here: {k} s (flows survived {} idle{}).",
            secs(s),
            within
                .map(|w| format!(", and were forgotten after {}", secs(w)))
                .unwrap_or_default()
        ),
        _ => match within {
            Some(w) => format!(
                " The capture shows no idle a flow survived long enough to prove a value: N below {} (a flow forgotten after that long), and below the longest idle that succeeds.",
                secs(w)
            ),
            None => String::new(),
        },
    }
}

fn what(cause: Cause, n: u64, within: Option<Millis>) -> String {
    let s = if n == 1 { "" } else { "s" };
    match cause {
        Cause::Restart => format!(
            "{n} failure{s} at a restart or shutdown of the server: it closed its connections (or refused new ones) while requests were on their way; no timeout change helps."
        ),
        Cause::PeerGone => format!(
            "{n} reset{s} from a host with no socket for the connection (the peer gone or replaced, as when a pod IP is reused); no timeout change helps."
        ),
        Cause::Path => {
            let within = within
                .map(|m| {
                    format!(
                        ", forgotten after at most {} idle",
                        crate::units::secs(m.ms())
                    )
                })
                .unwrap_or_default();
            format!(
                "{n} request{s} lost on the path: a middlebox (NAT, conntrack, load balancer) forgot idle flows{within}; no server timeout change helps."
            )
        }
        Cause::Application => {
            format!("{n} reset{s} by the server's application at a request, not by its idle timer.")
        }
        // No remedy of its own: the upstream failure it passed on has one.
        Cause::IdleTimer | Cause::Upstream => String::new(),
    }
}

/// The remedies for `findings`' causes, for `proxy` (the one named or
/// recognised; a client library's configuration cannot be given).
pub fn remedies(
    findings: &[Finding],
    servers: &[ServerReport],
    proxy: Option<ProxyKind>,
) -> Vec<Remedy> {
    let takes = move |row: RowId| proxy.is_some_and(|p| p.takes_step(row));
    let known = proxy.is_some_and(|p| p != ProxyKind::Library);
    let takes: Option<&dyn Fn(RowId) -> bool> = if known { Some(&takes) } else { None };
    let mut out = Vec::new();
    // The timer's fix is the timeout table's; a failure the proxy passed on
    // is fixed where it came from (its upstream's cause and remedy).
    for cause in Cause::ALL
        .iter()
        .filter(|c| !matches!(c, Cause::IdleTimer | Cause::Upstream))
    {
        let mine: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.cause == Some(*cause))
            .collect();
        // The application's reset is told by the request it cut: without
        // one (a reset of unknown traffic, a capture of another protocol)
        // there is nothing to point the server's logs at.
        let requests = mine.iter().any(|f| {
            f.reset.as_ref().is_some_and(|r| r.request.is_some())
                || f.race.as_ref().is_some_and(|r| r.request.is_some())
                || f.truncated.as_ref().is_some_and(|t| t.request.is_some())
        });
        if mine.is_empty() || (*cause == Cause::Application && !requests) {
            continue;
        }
        let mut at: Vec<Endpoint> = mine.iter().map(|f| f.server).collect();
        at.sort();
        at.dedup();
        let path = *cause == Cause::Path;
        let within = path
            .then(|| mine.iter().filter_map(|f| idle_ns(f)).min())
            .flatten()
            .map(Millis);
        // The longest idle a reuse on these servers survived: the
        // middlebox's timeout is longer. Only below the forgotten one, or
        // the two disagree (another cause at work) and prove nothing.
        let survived = path
            .then(|| {
                servers
                    .iter()
                    .filter(|s| at.contains(&s.endpoint))
                    .filter_map(|s| s.reuse_window_ms)
                    .max_by(|a, b| a.0.cmp(&b.0))
            })
            .flatten()
            .filter(|s| within.is_none_or(|w| s.0 < w.0));
        let keepalive = keepalive_s(survived.map(Millis::ms));
        let value = path_value(keepalive, survived, within);
        out.push(Remedy {
            cause: *cause,
            failures: mine.len() as u64,
            servers: at,
            forgotten_within_ms: within,
            survived_ms: survived,
            keepalive_s: keepalive,
            what: what(*cause, mine.len() as u64, within),
            steps: remedy_steps(*cause, takes)
                .map(|r| {
                    // The path's general step says the value and its
                    // proof; the proxy's own steps carry it in the snippet.
                    let valued = path && r.proxy.is_none();
                    RemedyStep {
                        side: r.side,
                        text: if valued {
                            format!("{}{value}", r.text)
                        } else {
                            r.text.to_string()
                        },
                        snippet: r.snippet.map(|s| fill(s, keepalive)),
                        proxy_row: r.proxy,
                    }
                })
                .collect(),
        });
    }
    out
}
