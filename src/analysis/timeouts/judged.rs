//! A connection's totals once it is judged: its round trip, TLS and
//! HTTP/2 use, its race (and whether it was retried), the closes its server
//! made and how long it stayed open idle, to its server's statistics.

use super::*;

impl Timeouts {
    /// A retry of connection `conn_id`'s lost request to `server`, found
    /// after the connection was judged and its race counted as not
    /// retried (its 4-tuple came back, or it was evicted, within the retry
    /// window): the race is counted as retried, as its finding says.
    pub fn late_retry(&mut self, server: Endpoint, conn_id: u64) {
        // (A server untracked when the race was judged is untracked now.)
        let Some(&i) = self.servers.get(&server) else {
            self.untracked_counts.retried += 1;
            return;
        };
        let s = &mut self.stats[i];
        s.retried_races += 1;
        // So that a race settled as of another cause is uncounted whole.
        let recs = s
            .race_recs
            .iter_mut()
            .chain(s.reset_recs.iter_mut().map(|(r, _)| r));
        for r in recs.filter(|r| r.conn == conn_id) {
            r.retried = true;
        }
    }

    /// A connection was judged: its totals, round trip, race and how long
    /// it stayed open idle go to its server. `end_ns` is the capture's end;
    /// `cut_off` says the connection was still open then (or evicted).
    /// `retried` is whether its lost request was retried; None when that
    /// cannot be known (it was not watched: [`crate::analysis::retry::MAX_WATCHES`]).
    pub fn judged(
        &mut self,
        conn: &Conn,
        roles: Roles,
        outcome: &Outcome,
        retried: Option<bool>,
        cut_off: bool,
        end_ns: i64,
    ) {
        let (c, sv) = (roles.client, roles.server());
        if let Some(r) = &outcome.race {
            let ep = conn.endpoint(sv);
            // Whether `server` below finds it a place (asked before it does).
            let tracked = self.servers.contains_key(&ep) || self.servers.len() < MAX_SERVERS;
            if !tracked {
                self.untracked_counts.races += 1;
                if r.request.request.is_none() || retried.is_none() {
                    self.untracked_counts.unknown += 1;
                } else if retried == Some(true) {
                    self.untracked_counts.retried += 1;
                }
            }
        }
        let s = self.server(conn.endpoint(sv));
        s.connections += 1;
        if conn.endpoint(c).ip.is_loopback() {
            s.loopback_clients += 1;
        }
        if let Some(t) = conn.tls() {
            s.tls.connection(t.version());
        }
        if conn.h2().is_some() {
            s.h2c_connections += 1;
        }
        if let Some(ka) = conn.keep_alive_s() {
            *s.keep_alive.entry(ka).or_default() += 1;
        }
        // Whether the client noticed the server's idle close: its FIN
        // answered at once, or not (answered late, or a request written
        // into the half-closed connection seconds later).
        if let Some(sf) = conn.fin(sv).filter(|f| !f.reply && !f.in_response) {
            // A stale race whose request came well after the FIN had
            // reached the client (beyond a round trip): the pool had the
            // FIN and did not look.
            let rtt = conn.handshake_ns().map_or(0, |r| r.max(0));
            let late_request = outcome
                .race
                .as_ref()
                .filter(|r| r.kind == RaceKind::Stale)
                .and_then(|r| r.fin_to_request_ns());
            let reply = conn.fin(c).filter(|f| f.reply).map(|f| f.ns - sf.ns);
            let noticed = match (late_request, reply) {
                (Some(g), _) if g >= rtt + software::STALE_UNNOTICED_NS => Some(false),
                (_, Some(g)) => Some(g < software::NOTICE_NS),
                _ => None,
            };
            if let Some(n) = noticed
                && let Some(cs) = s.client(conn.endpoint(c).ip)
            {
                if n {
                    cs.marks.noticed += 1;
                } else {
                    cs.marks.unnoticed += 1;
                }
            }
        }
        let (hc, hs) = (conn.h(c), conn.h(sv));
        // Only an unrepeated handshake times one round trip.
        if roles.source == RoleSource::Handshake
            && hc.syns == 1
            && hs.synack
            && let Some(rtt) = conn.handshake_ns()
        {
            s.rtt.push(rtt);
        }
        if let Some(r) = &outcome.race {
            s.races += 1;
            let rec = RaceRec {
                conn: conn.id,
                retried: r.request.request.is_some() && retried == Some(true),
                unknown_retry: r.request.request.is_none() || retried.is_none(),
                unprocessed: r.processed == Some(false),
            };
            if r.processed == Some(false) {
                s.unprocessed_races += 1;
            }
            if let Some(gap) = r.fin_to_request_ns() {
                s.fin_to_reuse.push(gap);
            }
            if r.request.request.is_none() || retried.is_none() {
                s.unknown_retry_races += 1;
            } else if retried == Some(true) {
                s.retried_races += 1;
            }
            // A reset race is the server's idle close, with the request
            // unread: its idle gap is a sample like a FIN's once it fits
            // the server's other closes ([`Self::settle_causes`]). An
            // HTTP/2 race's GOAWAY with no FIN after it is one at once.
            if !cause::settled_by_packets(r.kind)
                && let Some(g) = r.idle_before_close_ns()
                && s.reset_recs.len() < MAX_CLOSE_RECS
            {
                s.reset_recs.push((rec, g));
            } else if r.kind == RaceKind::Goaway
                && r.fin.is_none()
                && let Some(g) = r.idle_before_close_ns()
            {
                s.idle_closes.push(g);
            }
            if s.race_recs.len() < MAX_CLOSE_RECS {
                s.race_recs.push(rec);
            }
        }
        // A connection idle at the end, with no FIN, outlived that idle gap.
        if cut_off
            && matches!(outcome.verdict, Verdict::Open | Verdict::Partial)
            && let (Some(last), None, None) = (conn.last_payload_ns(), conn.fin(c), conn.fin(sv))
        {
            s.stayed_open_ns = s.stayed_open_ns.max(end_ns - last);
        }
    }
}
