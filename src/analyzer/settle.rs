//! The causes settled across connections once the capture is over
//! (`Timeouts::settle_causes`), applied to what was already decided per
//! connection: findings, verdict counts and connection rows.

use std::collections::HashSet;

use super::Analyzer;
use crate::analysis::verdict::Verdict;
use crate::report::Finding;

impl Analyzer {
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
