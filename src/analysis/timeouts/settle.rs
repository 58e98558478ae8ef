//! The causes settled across connections once the capture is over: a
//! restart's burst of closes, reset races that do not fit the timer. Run
//! before any timeout is read, so that a close of another cause is never a
//! sample.

use super::*;

impl Timeouts {
    /// Takes the client-leg failures a proxy passed on from upstream
    /// (cause `upstream`, [`cause::passed_on`]) out of their server's
    /// (the proxy's listener's) races and idle-close samples, before the
    /// other causes are settled: the listener's timer closed none of them.
    pub fn settle_upstream(&mut self, conns: &[(Endpoint, u64)]) {
        for &(ep, conn) in conns {
            let Some(&i) = self.servers.get(&ep) else {
                continue;
            };
            let s = &mut self.stats[i];
            for c in s.close_recs.iter().filter(|c| c.conn == conn) {
                if c.sample {
                    s.idle_closes.remove_one(c.gap_ns);
                } else {
                    s.closes_after_response = s.closes_after_response.saturating_sub(1);
                }
            }
            s.close_recs.retain(|c| c.conn != conn);
            s.reset_recs.retain(|(r, _)| r.conn != conn);
            if let Some(k) = s.race_recs.iter().position(|r| r.conn == conn) {
                let r = s.race_recs.remove(k);
                s.uncount_race(r);
                s.upstream_races += 1;
            }
        }
    }

    /// Settles the causes across each server's connections once the
    /// capture is over, before any timeout is read: the closes of a
    /// restart's burst stop being idle-timeout samples and their races
    /// stop counting as races of the timer; a reset race whose idle age
    /// fits the server's other closes becomes a sample, one that does not
    /// is the application's reset, no race.
    pub fn settle_causes(&mut self) -> Settled {
        let mut out = Settled::default();
        let mut eps: Vec<(Endpoint, usize)> = self.servers.iter().map(|(e, &i)| (*e, i)).collect();
        eps.sort_unstable();
        // A restart closes what one host holds, whichever of its ports:
        // bursts are looked for across each address's closes.
        let mut by_ip: BTreeMap<IpAddr, (Vec<CloseRec>, bool)> = BTreeMap::new();
        for &(ep, i) in &eps {
            let e = by_ip.entry(ep.ip).or_default();
            e.0.extend_from_slice(&self.stats[i].close_recs);
            e.1 |= self.stats[i].close_recs_full;
        }
        let mut all_bursts: Vec<u64> = Vec::new();
        let mut windows: Vec<(IpAddr, i64, i64)> = Vec::new();
        for (ip, (recs, full)) in &by_ip {
            if *full {
                continue;
            }
            for b in cause::restart_bursts(recs) {
                all_bursts.extend(&b.conns);
                windows.push((*ip, b.start_ns, b.end_ns));
            }
        }
        all_bursts.sort_unstable();
        for (ep, i) in eps {
            let s = &mut self.stats[i];
            let burst: Vec<u64> = s
                .close_recs
                .iter()
                .map(|c| c.conn)
                .filter(|c| all_bursts.binary_search(c).is_ok())
                .collect();
            let mut burst = burst;
            burst.sort_unstable();
            if !burst.is_empty() {
                let mut kept = Samples::default();
                for c in s.close_recs.iter().filter(|c| c.sample) {
                    if burst.binary_search(&c.conn).is_err() {
                        kept.push(c.gap_ns);
                    }
                }
                s.restart_closes = burst.len() as u64;
                s.idle_closes = kept;
                for r in s.race_recs.clone() {
                    if burst.binary_search(&r.conn).is_ok() {
                        s.uncount_race(r);
                        s.restart_races += 1;
                    }
                }
                out.restart.extend(burst);
            }
            out.restarts.extend(
                windows
                    .iter()
                    .filter(|w| w.0 == ep.ip)
                    .map(|&(_, a, b)| (ep, a, b)),
            );
            // The timer's range from its FIN closes (a restart's are gone).
            let range = s
                .idle_closes
                .values()
                .iter()
                .fold(None, |acc, &g| match acc {
                    None => Some((g, g)),
                    Some((lo, hi)) => Some((g.min(lo), g.max(hi))),
                });
            for (r, g) in std::mem::take(&mut s.reset_recs) {
                match range {
                    Some((lo, hi)) if !cause::fits_timer(g, lo, hi) => {
                        s.uncount_race(r);
                        s.application_resets += 1;
                        out.application.push(r.conn);
                    }
                    _ => s.idle_closes.push(g),
                }
            }
        }
        out
    }
}
