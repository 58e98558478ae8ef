//! The causes settled across connections once the capture is over
//! (`Timeouts::settle_causes`), applied to what was already decided per
//! connection: findings, verdict counts and connection rows.

use std::collections::{HashMap, HashSet};

use super::Analyzer;
use crate::analysis::verdict::Verdict;
use crate::report::Finding;

/// A 5xx a server sent, with the request it answered: on a proxy's client
/// leg, what its client got for a request its upstream lost.
pub(super) struct ErrorResponse {
    pub server: crate::flow::Endpoint,
    pub method: crate::app::http::Method,
    pub path: String,
    pub status: u16,
    pub ns: i64,
}

/// 5xx responses kept for that (a capture of a failing service may answer
/// 5xx to every request: a bound, and only the first are paired).
pub(super) const MAX_ERROR_RESPONSES: usize = 10_000;

/// How far from a lost request's failure the proxy's 5xx for it may be: a
/// proxy answers at once when its upstream fails (a 504 comes when it
/// gives up, which ends the upstream connection: measured from its end).
const CLIENT_STATUS_SLACK_NS: i64 = 1_000_000_000;

impl Analyzer {
    /// What a proxy's clients got for the requests its upstream lost, when
    /// the capture holds its client leg too: each lost request (method and
    /// path read) takes the nearest 5xx for the same request sent by
    /// another server (the proxy's listener) from a second before its
    /// failure to a second after its connection ended. Each 5xx answers
    /// one request.
    pub(super) fn settle_client_statuses(&mut self) {
        if self.error_responses.is_empty() {
            return;
        }
        let mut by: HashMap<(crate::app::http::Method, &str), Vec<usize>> = HashMap::new();
        for (i, e) in self.error_responses.iter().enumerate() {
            by.entry((e.method, e.path.as_str())).or_default().push(i);
        }
        let mut used = vec![false; self.error_responses.len()];
        let mut order: Vec<usize> = (0..self.findings.len()).collect();
        order.sort_by_key(|&i| (self.findings[i].at, self.findings[i].conn_id));
        for i in order {
            let f = &self.findings[i];
            let Some(req) = crate::report::summary::lost_request(f) else {
                continue;
            };
            let Some(list) = by.get(&(req.method, req.path.as_str())) else {
                continue;
            };
            let (lo, hi) = (
                f.at.0 - CLIENT_STATUS_SLACK_NS,
                f.end.0.max(f.at.0) + CLIENT_STATUS_SLACK_NS,
            );
            let best = list
                .iter()
                .copied()
                .filter(|&e| !used[e])
                .filter(|&e| {
                    let r = &self.error_responses[e];
                    r.server != f.server && (lo..=hi).contains(&r.ns)
                })
                .min_by_key(|&e| ((self.error_responses[e].ns - f.at.0).abs(), e));
            if let Some(e) = best {
                used[e] = true;
                self.findings[i].client_status = Some(self.error_responses[e].status);
            }
        }
    }

    /// A proxy's client-leg failures that passed an upstream failure on,
    /// when both legs are in the capture: each gets cause `upstream`,
    /// names the upstream failure, and leaves its listener's races and
    /// idle-close samples before any other cause is settled.
    pub(super) fn settle_upstream(&mut self) {
        use crate::analysis::cause::{self, Cause, Failed};
        let failed: Vec<Failed> = self.findings.iter().filter_map(failed_of).collect();
        let pairs = cause::passed_on(&failed);
        if pairs.is_empty() {
            return;
        }
        // Each connection's first finding, found by id (a search per pair
        // was quadratic in the findings).
        let mut at: HashMap<u64, usize> = HashMap::with_capacity(self.findings.len());
        for (i, f) in self.findings.iter().enumerate() {
            at.entry(f.conn_id).or_insert(i);
        }
        let mut conns = Vec::new();
        for &(c, u) in &pairs {
            let Some(up) = at.get(&u).map(|&i| &self.findings[i]) else {
                continue;
            };
            let up = crate::report::UpstreamRef {
                verdict: up.verdict,
                client: up.client,
                server: up.server,
                at: up.at,
            };
            if let Some(&i) = at.get(&c) {
                let f = &mut self.findings[i];
                f.cause = Some(Cause::Upstream);
                f.upstream = Some(up);
                conns.push((f.server, c));
            }
        }
        self.timeouts.settle_upstream(&conns);
    }

    /// Applies the causes settled across connections to the findings, the
    /// verdict counts and the connection rows.
    pub(super) fn settle_findings(&mut self, settled: &crate::analysis::timeouts::Settled) {
        use crate::analysis::cause::Cause;
        let restart: HashSet<u64> = settled.restart.iter().copied().collect();
        for f in &mut self.findings {
            if f.verdict == Verdict::KeepaliveRace && restart.contains(&f.conn_id) {
                f.cause = Some(Cause::Restart);
            }
            // A connect refused soon after a restart's burst: the listener
            // was down between the old process and the new.
            if f.verdict == Verdict::ConnectRefused
                && settled.restarts.iter().any(|&(ep, start, _)| {
                    ep == f.server
                        && (start..=start + crate::analysis::cause::RESTART_REFUSED_NS)
                            .contains(&f.at.0)
                })
            {
                f.cause = Some(Cause::Restart);
            }
        }
        // A replaced peer's bare RST comes from the server's address one
        // round trip after the request at the earliest; sooner, captured
        // at the client's side, a middlebox in the path sent it.
        for f in &mut self.findings {
            if f.cause == Some(Cause::PeerGone)
                && let Some(r) = &f.reset
                && let Some(since) = r.outstanding_since
                && self
                    .timeouts
                    .faster_than_server(f.server, r.rst_at.0 - since.0)
            {
                f.cause = Some(Cause::Path);
            }
        }
        for id in &settled.application {
            let Some(alt) = self.reset_alternatives.remove(id) else {
                continue;
            };
            let v = &mut self.totals.verdicts;
            v[Verdict::KeepaliveRace.index()] = v[Verdict::KeepaliveRace.index()].saturating_sub(1);
            v[alt.verdict.index()] += 1;
            for row in self.connections.iter_mut().filter(|r| r.id == *id) {
                row.verdict = alt.verdict;
            }
            if let Some(f) = self.findings.iter_mut().find(|f| f.conn_id == *id) {
                let (log_lines, place) = (f.log_lines.take(), f.place.take());
                *f = Finding {
                    log_lines,
                    place,
                    input: f.input,
                    ..alt
                };
            }
        }
    }
}

/// A finding as the matching of a proxy's two legs sees it: a race or a
/// reset by the server with a request outstanding (none for the client's
/// failures, the connect's, or a timeout).
fn failed_of(f: &Finding) -> Option<crate::analysis::cause::Failed> {
    let req = |r: &Option<crate::report::Request>| {
        r.as_ref().map(|r| (r.method.to_string(), r.path.clone()))
    };
    let (request, request_ns, signals) = match f.verdict {
        Verdict::KeepaliveRace => {
            let r = f.race.as_ref()?;
            let s: Vec<i64> = [r.goaway_at, r.fin_at, r.rst_at]
                .into_iter()
                .flatten()
                .map(|t| t.0)
                .collect();
            (req(&r.request), r.request_at.0, s)
        }
        Verdict::ServerReset | Verdict::IdleReset => {
            let r = f.reset.as_ref()?;
            (req(&r.request), r.outstanding_since?.0, vec![r.rst_at.0])
        }
        // A proxy closing its client's connection with no response.
        Verdict::NoResponse => {
            let u = f.unanswered.as_ref()?;
            let s: Vec<i64> = [u.stream_reset_at, u.fin_at]
                .into_iter()
                .flatten()
                .map(|t| t.0)
                .collect();
            (req(&u.request), u.request_at.0, s)
        }
        _ => return None,
    };
    Some(crate::analysis::cause::Failed {
        conn: f.conn_id,
        client: f.client.ip,
        server: f.server,
        request,
        request_ns,
        first_ns: *signals.iter().min()?,
        last_ns: *signals.iter().max()?,
    })
}
