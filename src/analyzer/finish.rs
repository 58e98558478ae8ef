//! The end of the capture: every connection still open judged as the
//! capture left it, the causes settled across connections, late retries
//! carried into their findings, and the report built.

use std::collections::HashSet;

use super::{Analyzer, Ending};
use crate::report::{self, Report};
use crate::source::InputStats;

impl Analyzer {
    /// Ends the analysis: every connection still open is judged as the
    /// capture left it.
    pub fn finish(mut self, inputs: &[InputStats]) -> Report {
        self.drain_events();
        for slot in self.table.drain_order() {
            if let Some(conn) = self.table.take(slot as u32) {
                self.finish_conn(conn, Ending::CaptureEnd);
            }
        }
        // Causes across connections, before any timeout is read: a
        // restart's burst, resets that do not fit the server's timer.
        // First a proxy's failures passed on from upstream, which are no
        // closes of its listener at all.
        self.settle_upstream();
        let settled = self.timeouts.settle_causes();
        self.settle_findings(&settled);
        // A retry seen after its raced connection was judged.
        for f in &mut self.findings {
            let Some(r) = self.retries.retry_of(f.conn_id) else {
                continue;
            };
            if let Some(race) = &mut f.race {
                race.retried = Some(true);
                race.retry_at = Some(report::Timestamp(r.at_ns));
                f.retry_key = Some(r.key);
            }
            // A reset's or an unacknowledged request's retry (issue 21).
            for retried in [
                f.reset.as_mut().and_then(|x| x.retried.as_mut()),
                f.unacknowledged.as_mut().and_then(|x| x.retried.as_mut()),
            ]
            .into_iter()
            .flatten()
            {
                *retried = true;
                f.retry_key = Some(r.key);
            }
        }
        self.settle_client_statuses();
        // By key: the keys are sorted with their indices, and the items
        // swapped into place, each moved about once. A finding is some
        // 1 450 bytes, and `sort_by_key` (a merge sort) moved the 10 000
        // of a large report some fourteen times each: 57 M instructions of
        // the real mix's 181 M after the last packet, mostly `memcpy`
        // (issue 22). The order is the stable sort's.
        self.findings.sort_by_cached_key(|f| (f.start, f.conn_id));
        self.connections.sort_by_cached_key(|c| (c.start, c.id));
        let t = &mut self.totals;
        (t.tuples, t.tuples_exact) = self.table.tuples();
        t.tuples_max = self.table.max_gone();
        t.connections = self.table.created;
        t.peak_open = self.table.peak as u64;
        t.evicted = self.table.evicted;
        t.untracked_servers = self.timeouts.untracked > 0;
        t.retries_unwatched = self.retries.unwatched_total;
        t.untracked_counts = self.timeouts.untracked_counts;
        let accepting: HashSet<std::net::IpAddr> =
            self.known_servers.iter().map(|ep| ep.ip).collect();
        self.timeouts.settle_clients(|ip| accepting.contains(&ip));
        let servers = self
            .timeouts
            .assessed()
            .into_iter()
            .map(report::server_report)
            .collect();
        Report::new(
            &self.totals,
            inputs,
            self.findings,
            servers,
            self.cfg.keep_connections.then_some(self.connections),
        )
    }
}
