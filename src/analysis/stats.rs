//! What is measured per server endpoint and per client of it: the samples
//! of idle closes, reuses and client closes, the counts of requests and
//! races, and the records the causes are settled from. Filled by
//! [`super::timeouts`], read by [`super::assess`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::cause::CloseRec;
use super::defaults::ClientKind;
use super::samples::Samples;
use super::software::{ClientMarks, ServerMarks};
use super::timeouts::{MAX_CLIENTS, MAX_CLOSE_RECS};
use crate::app::marks::ProxyMark;
use crate::flow::Endpoint;

/// A race as counted, so that a race of another cause can be uncounted.
#[derive(Debug, Clone, Copy)]
pub(super) struct RaceRec {
    pub(super) conn: u64,
    pub(super) retried: bool,
    pub(super) unknown_retry: bool,
    pub(super) unprocessed: bool,
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
    /// Races on a proxy's listener that passed an upstream failure on
    /// (cause `upstream`): not counted in [`races`](Self::races).
    pub upstream_races: u64,
    /// Every idle-close sample with its time and connection, until
    /// [`MAX_CLOSE_RECS`]; the causes are settled from them.
    pub(super) close_recs: Vec<CloseRec>,
    /// More closes than [`MAX_CLOSE_RECS`] came: no burst is looked for.
    pub(super) close_recs_full: bool,
    /// The races, to take those of another cause out of the counts.
    pub(super) race_recs: Vec<RaceRec>,
    /// Reset races, whose idle age is a sample only if it fits the timer.
    pub(super) reset_recs: Vec<(RaceRec, i64)>,
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
    /// Per client IP, in the order first seen (sorted by
    /// [`clients`](Self::clients)); a connection keeps its client's index
    /// ([`super::timeouts::Memo`]).
    pub(super) by_client: Vec<(IpAddr, ClientStats)>,
    /// Where each client is in [`by_client`](Self::by_client).
    pub(super) client_slot: HashMap<IpAddr, u8, foldhash::fast::RandomState>,
}

impl ServerStats {
    /// Keeps a close for settling the causes, while there is room.
    pub(super) fn close_rec(&mut self, c: CloseRec) {
        if self.close_recs.len() < MAX_CLOSE_RECS {
            self.close_recs.push(c);
        } else {
            self.close_recs_full = true;
        }
    }

    /// Takes a race of another cause out of the race counts.
    pub(super) fn uncount_race(&mut self, r: RaceRec) {
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
    pub(super) fn client(&mut self, ip: IpAddr) -> Option<&mut ClientStats> {
        let i = self.client_index(ip)?;
        Some(&mut self.by_client[i].1)
    }

    /// A client's own statistics through a connection's memo of its index
    /// (0 in it: not yet found).
    pub(super) fn client_at(&mut self, m: &mut u8, ip: IpAddr) -> Option<&mut ClientStats> {
        if *m == 0 {
            // (Fewer than 256 clients are kept: the index fits.)
            *m = u8::try_from(self.client_index(ip)? + 1).expect("MAX_CLIENTS < 256");
        }
        Some(&mut self.by_client[usize::from(*m) - 1].1)
    }

    /// Where a client's statistics are, made on first use while fewer than
    /// [`MAX_CLIENTS`] are kept.
    fn client_index(&mut self, ip: IpAddr) -> Option<usize> {
        if let Some(&i) = self.client_slot.get(&ip) {
            return Some(usize::from(i));
        }
        let i = self.by_client.len();
        if i >= MAX_CLIENTS {
            return None;
        }
        self.by_client.push((ip, ClientStats::default()));
        self.client_slot
            .insert(ip, u8::try_from(i).expect("MAX_CLIENTS < 256"));
        Some(i)
    }

    /// The clients with statistics of their own, by IP.
    pub fn clients(&self) -> Vec<(IpAddr, &ClientStats)> {
        let mut clients: Vec<(IpAddr, &ClientStats)> =
            self.by_client.iter().map(|(ip, c)| (*ip, c)).collect();
        clients.sort_by_key(|(ip, _)| *ip);
        clients
    }
}
