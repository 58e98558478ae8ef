//! The causes settled across connections once the capture is over
//! (`Timeouts::settle_causes`), applied to what was already decided per
//! connection: findings, verdict counts and connection rows.

use std::collections::HashSet;

use super::Analyzer;
use crate::analysis::verdict::Verdict;
use crate::report::Finding;

impl Analyzer {
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
        let mut conns = Vec::new();
        for &(c, u) in &pairs {
            let Some(up) = self.findings.iter().find(|f| f.conn_id == u) else {
                continue;
            };
            let up = crate::report::UpstreamRef {
                verdict: up.verdict,
                client: up.client,
                server: up.server,
                at: up.at,
            };
            if let Some(f) = self.findings.iter_mut().find(|f| f.conn_id == c) {
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
