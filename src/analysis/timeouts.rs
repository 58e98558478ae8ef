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
use super::software::{self, ClientMarks, ClientReach, ServerMarks};
use super::verdict::{Outcome, RaceKind, RoleSource, Roles, Verdict};
use crate::app::marks::{ProxyMark, RequestMarks};
use crate::flow::{Conn, Endpoint, Pending, Side};

/// A server FIN this soon after the last payload is a close after the
/// response (keep-alive off, or `Connection: close` not captured), not an
/// idle timeout.
pub const MIN_IDLE_CLOSE_NS: i64 = 50_000_000;

/// Idle-close records kept per server for settling the causes (beyond, a
/// live capture's endless stream: no burst is looked for).
pub const MAX_CLOSE_RECS: usize = super::samples::MAX_SAMPLES;

/// A race as counted, so that a race of another cause can be uncounted.
#[derive(Debug, Clone, Copy)]
struct RaceRec {
    conn: u64,
    retried: bool,
    unknown_retry: bool,
    unprocessed: bool,
}

/// What settling the causes decided across connections
/// ([`Timeouts::settle_causes`]), by connection id.
#[derive(Debug, Default)]
pub struct Settled {
    /// Connections closed by a restart's burst.
    pub restart: Vec<u64>,
    /// Reset races whose idle age did not fit the timer: application resets.
    pub application: Vec<u64>,
    /// Each restart's burst: the server, its first and last close.
    pub restarts: Vec<(Endpoint, i64, i64)>,
}

/// The shortest SYN → SYN-ACK at the capture point for it to be a round
/// trip, so that the capture is at the client's side: a server's own
/// SYN-ACK leaves within microseconds (a loaded host: a millisecond or two).
pub const PATH_RST_MIN_RTT_NS: i64 = 5_000_000;

/// Per client (IP) of one server.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    /// Idle gaps after which this client reused a connection (answered).
    pub reuse: Samples,
    /// Idle gaps before this client's own FINs.
    pub closes: Samples,
    /// What its requests' heads said about their sender.
    pub marks: ClientMarks,
}

/// Everything measured about one server endpoint.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// Idle gaps that ended in this server's FIN.
    pub idle_closes: Samples,
    /// Server FINs right after a response (no keep-alive).
    pub closes_after_response: u64,
    /// Idle gaps after which a client sent a request and got an answer.
    pub reuse: Samples,
    /// Idle gaps before client FINs (the client's own idle timeout).
    pub client_closes: Samples,
    /// Longest idle gap a connection survived open (reuse, or open at the end).
    pub stayed_open_ns: i64,
    /// Requests sent to it (the first of each connection and every reuse).
    pub requests: u64,
    /// Requests on reused connections (answered or lost).
    pub reused_requests: u64,
    /// `Keep-Alive: timeout=N` values seen, with counts.
    pub keep_alive: BTreeMap<u32, u64>,
    /// Handshake round trips (SYN to the client's ACK), ns.
    pub rtt: Samples,
    /// From the client's SYN to the server's SYN-ACK at the capture point,
    /// ns: about a round trip when the capture is at the client's side,
    /// next to nothing at the server's. An RST that answers a request far
    /// sooner than the shortest of these, captured at the client's side,
    /// cannot be the server's ([`cause::Cause::Path`]).
    pub synack_delay: Samples,
    pub connections: u64,
    /// Connections whose client was a loopback address (a sidecar's
    /// inbound hop: 127.0.0.6, 127.0.0.1, ::1).
    pub loopback_clients: u64,
    pub races: u64,
    pub retried_races: u64,
    /// Races whose request line was not read, so a retry cannot be found.
    pub unknown_retry_races: u64,
    /// Gaps FIN → reuse of the races.
    pub fin_to_reuse: Samples,
    /// The software marks of its responses.
    pub marks: ServerMarks,
    /// Closes that a restart's burst explains (not idle-timeout samples;
    /// [`super::cause::restart_bursts`]).
    pub restart_closes: u64,
    /// Races whose FIN was one of them (not counted in [`races`](Self::races)).
    pub restart_races: u64,
    /// Resets with no FIN whose idle age did not fit the server's idle
    /// closes: the application's, not races (not in [`races`](Self::races)).
    pub application_resets: u64,
    /// Every idle-close sample with its time and connection, until
    /// [`MAX_CLOSE_RECS`]; the causes are settled from them.
    close_recs: Vec<CloseRec>,
    /// More closes than [`MAX_CLOSE_RECS`] came: no burst is looked for.
    close_recs_full: bool,
    /// The races, to take those of another cause out of the counts.
    race_recs: Vec<RaceRec>,
    /// Reset races, whose idle age is a sample only if it fits the timer.
    reset_recs: Vec<(RaceRec, i64)>,
    /// Request heads whose headers named a proxy, by [`ProxyMark::index`].
    pub proxy_marks: [u64; ProxyMark::COUNT],
    /// What its TLS handshakes said (names, versions).
    pub tls: super::tls::TlsSeen,
    /// Connections judged that spoke HTTP/2 in the clear (h2c, gRPC).
    pub h2c_connections: u64,
    /// HTTP/2 races whose stream the server's GOAWAY said it never processed.
    pub unprocessed_races: u64,
    /// What sends its requests (set when the capture is over, from every
    /// client's marks and reach).
    pub client_kind: Option<ClientKind>,
    /// Per client IP (hashed; sorted by [`clients`](Self::clients)).
    by_client: HashMap<IpAddr, ClientStats, foldhash::fast::RandomState>,
}

impl ServerStats {
    /// Keeps a close for settling the causes, while there is room.
    fn close_rec(&mut self, c: CloseRec) {
        if self.close_recs.len() < MAX_CLOSE_RECS {
            self.close_recs.push(c);
        } else {
            self.close_recs_full = true;
        }
    }

    /// Takes a race of another cause out of the race counts.
    fn uncount_race(&mut self, r: RaceRec) {
        self.races = self.races.saturating_sub(1);
        if r.retried {
            self.retried_races = self.retried_races.saturating_sub(1);
        }
        if r.unknown_retry {
            self.unknown_retry_races = self.unknown_retry_races.saturating_sub(1);
        }
        if r.unprocessed {
            self.unprocessed_races = self.unprocessed_races.saturating_sub(1);
        }
    }

    /// The proxy its requests' headers named most often, if any did.
    pub fn proxy_mark(&self) -> Option<ProxyMark> {
        ProxyMark::ALL
            .iter()
            .copied()
            .filter(|p| self.proxy_marks[p.index()] > 0)
            .max_by_key(|p| (self.proxy_marks[p.index()], std::cmp::Reverse(p.index())))
    }

    /// A client's own statistics, while fewer than [`MAX_CLIENTS`] are kept.
    fn client(&mut self, ip: IpAddr) -> Option<&mut ClientStats> {
        if self.by_client.len() >= MAX_CLIENTS && !self.by_client.contains_key(&ip) {
            return None;
        }
        Some(self.by_client.entry(ip).or_default())
    }

    /// The clients with statistics of their own, by IP.
    pub fn clients(&self) -> Vec<(IpAddr, &ClientStats)> {
        let mut clients: Vec<(IpAddr, &ClientStats)> =
            self.by_client.iter().map(|(ip, c)| (*ip, c)).collect();
        clients.sort_by_key(|(ip, _)| *ip);
        clients
    }
}

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
    /// Per client address (while fewer than [`MAX_REACH`]): the first
    /// server address it sent a request to, and whether it sent to other
    /// addresses (other ports of one host are the same server).
    reach: HashMap<IpAddr, (IpAddr, bool), foldhash::fast::RandomState>,
}

/// Client addresses whose reach is followed (beyond, their reach is
/// unknown and no server's client is taken for a library).
pub const MAX_REACH: usize = 4_096;

impl Timeouts {
    /// The stats of a server, created on first use (while fewer than
    /// [`MAX_SERVERS`] are tracked).
    pub fn server(&mut self, ep: Endpoint) -> &mut ServerStats {
        if let Some((last, i)) = self.last
            && last == ep
        {
            return &mut self.stats[i];
        }
        let i = match self.servers.get(&ep) {
            Some(&i) => i,
            None if self.servers.len() >= MAX_SERVERS => {
                self.untracked += 1;
                self.overflow = ServerStats::default();
                return &mut self.overflow;
            }
            None => {
                self.stats.push(ServerStats::default());
                self.servers.insert(ep, self.stats.len() - 1);
                self.stats.len() - 1
            }
        };
        self.last = Some((ep, i));
        &mut self.stats[i]
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
        let s = self.server(server);
        s.requests += 1;
        if reused {
            s.reused_requests += 1;
        }
        if let Some(p) = marks.and_then(|m| m.proxy) {
            s.proxy_marks[p.index()] += 1;
        }
        if let Some(m) = marks
            && let Some(c) = s.client(client)
        {
            c.marks.add(m);
        }
    }

    /// A response head from `server` with these `Server` and `X-Powered-By` values.
    pub fn response_marks(
        &mut self,
        server: Endpoint,
        server_header: Option<&[u8]>,
        powered_by: Option<&[u8]>,
    ) {
        let s = self.server(server);
        if let Some(v) = server_header {
            s.marks.server.add(v);
        }
        if let Some(v) = powered_by {
            s.marks.powered_by.add(v);
        }
    }

    /// A TLS hello on a connection to `server`.
    pub fn tls_hello(&mut self, server: Endpoint, hello: &crate::app::tls::Hello<'_>) {
        self.server(server).tls.hello(hello);
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
    pub fn answered(&mut self, server: Endpoint, client: IpAddr, request: &Pending) {
        if request.reuse
            && let Some(gap) = request.idle_ns()
        {
            self.reuse(server, client, gap);
        }
    }

    /// A SYN-ACK from `server`, `delay_ns` after the client's SYN.
    pub fn synack(&mut self, server: Endpoint, delay_ns: i64) {
        self.server(server).synack_delay.push(delay_ns);
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
    pub fn reuse(&mut self, server: Endpoint, client: IpAddr, gap_ns: i64) {
        if let Some(t) = &mut self.tap {
            t.push(Sample::Reuse { server, gap_ns });
        }
        let s = self.server(server);
        s.reuse.push(gap_ns);
        s.stayed_open_ns = s.stayed_open_ns.max(gap_ns);
        if let Some(c) = s.client(client) {
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

    /// A connection was judged: its totals, round trip, race and how long
    /// it stayed open idle go to its server. `end_ns` is the capture's end;
    /// `cut_off` says the connection was still open then (or evicted).
    pub fn judged(
        &mut self,
        conn: &Conn,
        roles: Roles,
        outcome: &Outcome,
        retried: bool,
        cut_off: bool,
        end_ns: i64,
    ) {
        let (c, sv) = (roles.client, roles.server());
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
                retried: r.request.request.is_some() && retried,
                unknown_retry: r.request.request.is_none(),
                unprocessed: r.processed == Some(false),
            };
            if r.processed == Some(false) {
                s.unprocessed_races += 1;
            }
            if let Some(gap) = r.fin_to_request_ns() {
                s.fin_to_reuse.push(gap);
            }
            if r.request.request.is_none() {
                s.unknown_retry_races += 1;
            } else if retried {
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

#[cfg(test)]
mod test {
    use super::*;
    use crate::analysis::defaults::Witness;

    /// A server whose idle closes are `ms` values.
    fn closing_at(ms: impl Iterator<Item = f64>) -> ServerStats {
        let mut s = ServerStats::default();
        for v in ms {
            s.idle_closes.push((v * 1e6) as i64);
        }
        s
    }

    #[test]
    fn test_gunicorn_spread_is_one_timeout() {
        // gthread, --keep-alive 2: 2.0–3.0 s (issue 12).
        let s = closing_at((0..40).map(|i| 2_004.0 + f64::from(i) * 24.9));
        let a = s.assess();
        let idle = a.idle.unwrap();
        assert!(idle.tight, "{idle:?}");
        assert_eq!(idle.estimate_ns, 2_004_000_000);
        assert_eq!(a.matches[0].software, "gunicorn");
        // Named by its header, --keep-alive 5: 5.0–6.0 s, configured 5 s.
        let s = closing_at((0..40).map(|i| 5_004.0 + f64::from(i) * 24.9));
        let w = Witness {
            server_header: Some("gunicorn"),
            powered_by: None,
        };
        let a = s.assess_witnessed(&w, ClientKind::Unknown);
        assert!(a.idle.unwrap().tight);
        assert_eq!(
            (a.matches[0].software, a.matches[0].default_ms),
            ("gunicorn", 5_000)
        );
    }

    #[test]
    fn test_unexplained_spread_stays_spread() {
        // 7–8 s: no row spreads like that there, so application closes.
        let s = closing_at((0..40).map(|i| 7_004.0 + f64::from(i) * 24.9));
        let idle = s.assess().idle.unwrap();
        assert!(!idle.tight);
        assert_eq!(idle.estimate_ns, idle.median_ns);
    }
}
