//! One connection judged as it leaves the table: its verdict, its
//! finding (kept, and printed live), its timeout statistics and its
//! retry, and the alternative a reset race keeps for the end.

use super::{Analyzer, Ending, MAX_CONNECTION_ROWS, MAX_FINDINGS};
use crate::analysis::verdict::{self, Verdict};
use crate::app::http::RequestLine;
use crate::flow::Conn;
use crate::report;

impl Analyzer {
    pub(super) fn finish_conn(&mut self, mut conn: Conn, ending: Ending) {
        self.conn_heap = self.conn_heap.saturating_sub(conn.heap_bytes());
        let gave_up = conn.take_given_up();
        self.judge(&conn, ending, gave_up);
        conn.release(&mut self.paths);
    }

    fn judge(&mut self, conn: &Conn, ending: Ending, gave_up: Option<(RequestLine, i64)>) {
        // Evicted connections are cut off like those open at the end.
        let cut_off = ending != Ending::Closed;
        let roles = verdict::roles(conn, &self.known_servers);
        let end_ns = self.totals.last_ns.unwrap_or(conn.last_ns);
        let mut outcome = verdict::outcome(conn, roles, end_ns);
        if let Some(t) = &mut outcome.timeout {
            t.line = gave_up;
        }
        let t = &mut self.totals;
        t.verdicts[outcome.verdict.index()] += 1;
        if !conn.saw_syn() {
            t.started_before += 1;
        }
        if ending == Ending::CaptureEnd && !conn.state.is_finished() {
            t.open_at_end += 1;
        }
        t.holes += u64::from(conn.holes(roles.client)) + u64::from(conn.holes(roles.server()));
        let retry = self.retries.retry_of(conn.id);
        // A lost request past the watches' cap: its retry is unknown.
        let watched = self.retries.watched(conn.id);
        let retried = watched.then_some(retry.is_some());
        self.timeouts
            .judged(conn, roles, &outcome, retried, cut_off, end_ns);
        if outcome.verdict.is_failure() {
            // Live output prints every finding (a race with an RST was
            // printed when the RST came); the report keeps the first
            // MAX_FINDINGS (its counts stay exact).
            let live = self.cfg.live
                && (outcome.verdict != Verdict::KeepaliveRace
                    || outcome.race.as_ref().is_some_and(|r| r.rst.is_none()));
            let keep = self.findings.len() < MAX_FINDINGS;
            if live || keep {
                let f = report::finding(conn, roles, &outcome, retry, watched, &self.paths);
                if live {
                    self.decided.push(f.clone());
                }
                if keep {
                    self.findings.push(f);
                }
            }
        }
        // A reset race is the timer's only if its idle age fits the
        // server's other closes, known at the end: keep what it is
        // otherwise (a few per capture; bounded like the findings).
        if outcome
            .race
            .as_ref()
            .is_some_and(|r| r.kind == crate::analysis::race::RaceKind::Reset)
            && self.reset_alternatives.len() < MAX_FINDINGS
        {
            let alt = verdict::outcome_without_race(conn, roles, end_ns);
            let f = report::finding(conn, roles, &alt, retry, watched, &self.paths);
            self.reset_alternatives.insert(conn.id, f);
        }
        // The finding carries the retry now; forget it (bounded memory).
        // A race counted as not retried while still watched is counted
        // again if its retry comes (`Timeouts::late_retry`).
        let not_retried = retried == Some(false)
            && outcome
                .race
                .as_ref()
                .is_some_and(|r| r.request.request.is_some());
        self.retries.forget(conn.id, not_retried);
        if self.cfg.keep_connections && self.connections.len() < MAX_CONNECTION_ROWS {
            self.connections
                .push(report::connection_row(conn, roles, outcome.verdict));
        }
    }
}
