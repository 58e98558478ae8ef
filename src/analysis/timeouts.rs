//! Both sides of the timeout chain, measured from the packets: how long each
//! server endpoint lets a keep-alive connection sit idle before its FIN, how
//! long clients keep idle connections and reuse them, and whether the two are
//! in the wrong order. Which events become samples is decided here too (a
//! FIN right after a response is not an idle timeout; a FIN that leaves a
//! request it had read unanswered is not an idle close); what the samples
//! say is read in [`super::assess`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::cause::{self, CloseRec};
use super::defaults::ClientKind;
use super::race::RaceFacts;
use super::samples::Samples;
use super::software::{self, ClientReach};
use super::verdict::{Outcome, RaceKind, RoleSource, Roles, Verdict};
use crate::app::marks::RequestMarks;
use crate::flow::{Conn, Endpoint, Pending, Side};

/// A server FIN this soon after the last payload is a close after the
/// response (keep-alive off, or `Connection: close` not captured), not an
/// idle timeout.
pub const MIN_IDLE_CLOSE_NS: i64 = 50_000_000;

/// Idle-close records kept per server for settling the causes (beyond, a
/// live capture's endless stream: no burst is looked for).
pub const MAX_CLOSE_RECS: usize = super::samples::MAX_SAMPLES;

/// The shortest SYN → SYN-ACK at the capture point for it to be a round
/// trip, so that the capture is at the client's side: a server's own
/// SYN-ACK leaves within microseconds (a loaded host: a millisecond or two).
pub const PATH_RST_MIN_RTT_NS: i64 = 5_000_000;

use super::stats::RaceRec;
pub use super::stats::{ClientStats, ServerStats, Settled};

/// Server endpoints tracked. A scan or a flood to random ports would
/// otherwise make one entry per target; beyond this, connections to new
/// endpoints still get verdicts but no timeout statistics.
pub const MAX_SERVERS: usize = 1_000;

/// Clients (IPs) of one server with statistics of their own; the server's
/// totals count every client.
pub const MAX_CLIENTS: usize = 64;

/// A sample as it is taken, for live metrics (see [`Timeouts::tap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// The server closed a connection idle this long (ns).
    IdleClose { server: Endpoint, gap_ns: i64 },
    /// A client reused a connection idle this long (ns), and was answered.
    Reuse { server: Endpoint, gap_ns: i64 },
}

/// Timeout evidence for every server endpoint.
#[derive(Debug, Default)]
pub struct Timeouts {
    /// When set (live capture), every idle-close and reuse sample is also
    /// queued here as it is taken; the caller drains it.
    pub tap: Option<Vec<Sample>>,
    servers: HashMap<Endpoint, usize, foldhash::fast::RandomState>,
    /// The stats, by the index `servers` gives: most captures hit one or a
    /// few servers, and the last one used is looked up without hashing.
    stats: Vec<ServerStats>,
    last: Option<(Endpoint, usize)>,
    /// Where samples for endpoints beyond [`MAX_SERVERS`] go (never reported).
    overflow: ServerStats,
    /// Look-ups for endpoints beyond [`MAX_SERVERS`] (the report warns when
    /// there were any).
    pub untracked: u64,
    /// The requests and races of endpoints beyond [`MAX_SERVERS`]: the
    /// summary's counts cover every race, and without these the untracked
    /// servers' races all read as not retried, that is lost, and their
    /// rate was taken over the tracked servers' requests alone (issue 23).
    pub untracked_counts: Untracked,
    /// Per client address (while fewer than [`MAX_REACH`]): the first
    /// server address it sent a request to, and whether it sent to other
    /// addresses (other ports of one host are the same server).
    reach: HashMap<IpAddr, (IpAddr, bool), foldhash::fast::RandomState>,
}

/// The requests and races of untracked servers (see
/// [`Timeouts::untracked_counts`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Untracked {
    pub requests: u64,
    pub reused_requests: u64,
    pub races: u64,
    /// Of the races, retried, and whose retry is unknown.
    pub retried: u64,
    pub unknown: u64,
}

/// Look-ups of untracked servers between two emptyings of the overflow
/// sink (each adds at most a sample or a record to it).
const OVERFLOW_RESET: u64 = 1024;

/// Client addresses whose reach is followed (beyond, their reach is
/// unknown and no server's client is taken for a library).
pub const MAX_REACH: usize = 4_096;

/// A connection's memo of where its statistics are ([`Conn::server_memo`],
/// [`Conn::client_memo`]): the server's index plus one (0: not yet found)
/// with [`Memo::SERVER_B`] when the server is side B, and its client's
/// index plus one within that server's. The server's is found once by
/// hashing and then read by index on every request (issue 22); the
/// client's lasts one call (the connection has no room to keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memo {
    pub server: u16,
    pub client: u8,
}

impl Memo {
    /// The server is the connection's side B.
    const SERVER_B: u16 = 1 << 15;
    /// In place of an index: the server is not tracked ([`MAX_SERVERS`]
    /// were before it, and none is ever dropped), so its look-ups go to
    /// the overflow sink without hashing (issue 22: on the real mix, with
    /// more servers than tracked, the look-ups of the untracked were 1 %
    /// of the time).
    const UNTRACKED: u16 = Self::SERVER_B - 1;

    /// A connection's memo, for its server on side B or not: emptied when
    /// the roles turned since it was kept.
    pub fn of(conn: &Conn, server_b: bool) -> Memo {
        let bit = if server_b { Self::SERVER_B } else { 0 };
        if conn.server_memo & Self::SERVER_B == bit {
            Memo {
                server: conn.server_memo,
                client: 0,
            }
        } else {
            Memo {
                server: bit,
                client: 0,
            }
        }
    }

    /// Keeps it in the connection.
    pub fn keep(self, conn: &mut Conn) {
        conn.server_memo = self.server;
    }
}

const _: () = assert!(MAX_SERVERS < Memo::UNTRACKED as usize - 1 && MAX_CLIENTS < u8::MAX as usize);

impl Timeouts {
    /// The stats of a server, created on first use (while fewer than
    /// [`MAX_SERVERS`] are tracked).
    pub fn server(&mut self, ep: Endpoint) -> &mut ServerStats {
        if let Some((last, i)) = self.last
            && last == ep
        {
            return &mut self.stats[i];
        }
        match self.index(ep) {
            Some(i) => {
                self.last = Some((ep, i));
                &mut self.stats[i]
            }
            None => &mut self.overflow,
        }
    }

    /// The stats of a server through a connection's memo, and whether the
    /// server is tracked (its clients' indices can be kept too).
    fn server_at(&mut self, memo: &mut Memo, ep: Endpoint) -> (&mut ServerStats, bool) {
        let i = memo.server & !Memo::SERVER_B;
        if i == Memo::UNTRACKED {
            // Counted as `index` counts an untracked look-up.
            self.untracked_lookup();
            return (&mut self.overflow, false);
        }
        if i != 0 {
            return (&mut self.stats[usize::from(i) - 1], true);
        }
        match self.index(ep) {
            Some(i) => {
                memo.server |= u16::try_from(i + 1).expect("MAX_SERVERS < 2^15");
                memo.client = 0;
                (&mut self.stats[i], true)
            }
            None => {
                memo.server |= Memo::UNTRACKED;
                (&mut self.overflow, false)
            }
        }
    }

    /// Where a server's stats are, created on first use; `None` beyond
    /// [`MAX_SERVERS`] (counted in [`untracked`](Self::untracked)).
    fn index(&mut self, ep: Endpoint) -> Option<usize> {
        match self.servers.get(&ep) {
            Some(&i) => Some(i),
            None if self.servers.len() >= MAX_SERVERS => {
                self.untracked_lookup();
                None
            }
            None => {
                self.stats.push(ServerStats::default());
                self.servers.insert(ep, self.stats.len() - 1);
                Some(self.stats.len() - 1)
            }
        }
    }

    /// Counts a look-up of an untracked server.
    fn untracked_lookup(&mut self) {
        self.untracked += 1;
        // A sink nothing reads: what is written to it changes no
        // report, so it is emptied only now and then, to bound its
        // memory. (Emptying it on every look-up dropped and rebuilt
        // the whole struct per request: with more servers than
        // tracked, 14 % of the analysis of the real mix, issue 22.)
        if self.untracked.is_multiple_of(OVERFLOW_RESET) {
            self.overflow = ServerStats::default();
        }
    }

    /// Every server endpoint with its statistics, sorted by endpoint.
    pub fn servers(&self) -> Vec<(Endpoint, &ServerStats)> {
        let mut eps: Vec<(Endpoint, &ServerStats)> = self
            .servers
            .iter()
            .map(|(ep, &i)| (*ep, &self.stats[i]))
            .collect();
        eps.sort_by_key(|(ep, _)| *ep);
        eps
    }

    /// `client` started a new request on a connection to `server` (its
    /// head's marks when it was read).
    pub fn request(
        &mut self,
        server: Endpoint,
        client: IpAddr,
        memo: &mut Memo,
        reused: bool,
        marks: Option<RequestMarks>,
    ) {
        if marks.is_some() {
            let n = self.reach.len();
            match self.reach.get_mut(&client) {
                Some((first, others)) => *others |= *first != server.ip,
                None if n < MAX_REACH => {
                    self.reach.insert(client, (server.ip, false));
                }
                None => {}
            }
        }
        let (s, tracked) = self.server_at(memo, server);
        s.requests += 1;
        if reused {
            s.reused_requests += 1;
        }
        if let Some(p) = marks.and_then(|m| m.proxy) {
            s.proxy_marks[p.index()] += 1;
        }
        // (An untracked server's clients would go to the sink: not looked up.)
        if let Some(m) = marks
            && tracked
            && let Some(c) = s.client_at(&mut memo.client, client)
        {
            c.marks.add(m);
        }
        if !tracked {
            // Their stats went to the sink, emptied now and then: the
            // summary's rates need them counted apart.
            self.untracked_counts.requests += 1;
            self.untracked_counts.reused_requests += u64::from(reused);
        }
    }

    /// A response head from `server` with these `Server` and `X-Powered-By` values.
    pub fn response_marks(
        &mut self,
        server: Endpoint,
        memo: &mut Memo,
        server_header: Option<&[u8]>,
        powered_by: Option<&[u8]>,
    ) {
        let s = self.server_at(memo, server).0;
        if let Some(v) = server_header {
            s.marks.server.add(v);
        }
        if let Some(v) = powered_by {
            s.marks.powered_by.add(v);
        }
    }

    /// A TLS hello on a connection to `server`.
    pub fn tls_hello(
        &mut self,
        server: Endpoint,
        memo: &mut Memo,
        hello: &crate::app::tls::Hello<'_>,
    ) {
        self.server_at(memo, server).0.tls.hello(hello);
    }

    /// Decides what sends each server's requests, once the capture is over;
    /// `accepts` says whether an address accepted connections in it.
    pub fn settle_clients(&mut self, accepts: impl Fn(IpAddr) -> bool) {
        let overflow = self.reach.len() >= MAX_REACH;
        for s in &mut self.stats {
            let clients = s.clients().into_iter().map(|(ip, c)| {
                let reach = ClientReach {
                    other_servers: overflow
                        || self.reach.get(&ip).is_none_or(|(_, others)| *others),
                    accepts: accepts(ip),
                };
                (c.marks, reach)
            });
            // Clients beyond those with statistics of their own are unknown.
            let kind = if s.by_client.len() >= MAX_CLIENTS {
                ClientKind::Unknown
            } else {
                software::client_kind(clients)
            };
            s.client_kind = Some(kind);
        }
    }

    /// The server answered a client's request: after an idle gap on a reused
    /// connection, that gap is one the client's pool kept the connection.
    pub fn answered(
        &mut self,
        server: Endpoint,
        client: IpAddr,
        memo: &mut Memo,
        request: &Pending,
    ) {
        if request.reuse
            && let Some(gap) = request.idle_ns()
        {
            self.reuse(server, client, memo, gap);
        }
    }

    /// A SYN-ACK from `server`, `delay_ns` after the client's SYN.
    pub fn synack(&mut self, server: Endpoint, memo: &mut Memo, delay_ns: i64) {
        self.server_at(memo, server).0.synack_delay.push(delay_ns);
    }

    /// Whether an RST `delay_ns` after the request it answers came sooner
    /// than `server` could have sent it: the capture is at the client's
    /// side (the server's SYN-ACKs came at least [`PATH_RST_MIN_RTT_NS`]
    /// after the SYNs, never sooner), and the RST came in under a quarter
    /// of the quickest of them. A middlebox near the client sent it.
    pub fn faster_than_server(&self, server: Endpoint, delay_ns: i64) -> bool {
        let Some(&i) = self.servers.get(&server) else {
            return false;
        };
        let quickest = self.stats[i].synack_delay.values().iter().copied().min();
        quickest.is_some_and(|q| q >= PATH_RST_MIN_RTT_NS && delay_ns >= 0 && delay_ns * 4 < q)
    }

    /// A request after an idle gap, answered.
    pub fn reuse(&mut self, server: Endpoint, client: IpAddr, memo: &mut Memo, gap_ns: i64) {
        if let Some(t) = &mut self.tap {
            t.push(Sample::Reuse { server, gap_ns });
        }
        let (s, tracked) = self.server_at(memo, server);
        s.reuse.push(gap_ns);
        s.stayed_open_ns = s.stayed_open_ns.max(gap_ns);
        if tracked && let Some(c) = s.client_at(&mut memo.client, client) {
            c.reuse.push(gap_ns);
        }
    }

    /// A client FIN after an idle gap.
    pub fn client_close(&mut self, server: Endpoint, client: IpAddr, gap_ns: i64) {
        let s = self.server(server);
        s.client_closes.push(gap_ns);
        if let Some(c) = s.client(client) {
            c.closes.push(gap_ns);
        }
    }

    /// `side` sent its first FIN: a sample of that side's idle timeout, a
    /// close after a response, or neither.
    pub fn fin(&mut self, conn: &Conn, side: Side, roles: Roles, race: Option<&RaceFacts>) {
        let Some(fin) = conn.fin(side).filter(|f| !f.reply) else {
            // A FIN that answers the peer's says nothing of this side's timeout.
            return;
        };
        let client = roles.client;
        let server_ep = conn.endpoint(roles.server());
        // An HTTP/2 close begins at its GOAWAY: the idle timer fired there.
        let close_ns = conn
            .close_began_ns(side)
            .filter(|&g| g <= fin.ns)
            .unwrap_or(fin.ns);
        let gap = fin.idle_since.map(|t| close_ns - t);
        if side == client {
            // A client waiting for an answer to its own request is not idle:
            // its FIN then is a read timeout (nginx's proxy_read_timeout),
            // not its pool's idle timeout.
            if conn.pending(client).is_some() {
                return;
            }
            // Like the server's: a FIN right after traffic is a close, not an idle timeout.
            if let Some(g) = gap.filter(|g| *g >= MIN_IDLE_CLOSE_NS) {
                self.client_close(server_ep, conn.endpoint(client).ip, g);
            }
            return;
        }
        // No request the server had read was left unanswered: any pending
        // request is one the FIN does not acknowledge (it crossed the FIN),
        // so this close was still an idle one.
        let nothing_read_unanswered = conn
            .pending(client)
            .is_none_or(|p| fin.ack.is_none_or(|a| a <= p.start));
        // (A request the server's kernel had but that arrived as the
        // server was closing idle, unread, leaves the close an idle one,
        // from before that request: the race says how long.)
        let gap = match race {
            Some(r) if r.fin.is_some() => r.idle_before_close_ns(),
            _ if nothing_read_unanswered => gap,
            _ => return,
        };
        // A close in the middle of a response is no close at all for the
        // timeouts: it cut the response (a truncated response).
        if conn.incomplete_response().is_some() {
            return;
        }
        let s = self.server(server_ep);
        match gap {
            // A FIN with the response or right after it (Connection: close,
            // keep-alive off), or one that ends a body that runs until the
            // close, is no idle timeout: the 50 ms floor catches those whose
            // header was not read.
            Some(g) if !fin.with_data && !fin.in_response && g >= MIN_IDLE_CLOSE_NS => {
                s.idle_closes.push(g);
                s.close_rec(CloseRec {
                    at_ns: close_ns,
                    gap_ns: g,
                    conn: conn.id,
                    sample: true,
                });
                if let Some(t) = &mut self.tap {
                    t.push(Sample::IdleClose {
                        server: server_ep,
                        gap_ns: g,
                    });
                }
            }
            // (A close soon after the response may still be one of a
            // restart's burst: kept to look for bursts, not a sample.)
            Some(g) if !fin.with_data && !fin.in_response => {
                s.closes_after_response += 1;
                s.close_rec(CloseRec {
                    at_ns: close_ns,
                    gap_ns: g,
                    conn: conn.id,
                    sample: false,
                });
            }
            _ => s.closes_after_response += 1,
        }
    }
}

mod judged;
mod settle;
#[cfg(test)]
mod tests;
