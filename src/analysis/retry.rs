//! The proxy's retry of a lost request: after a race, the same request line
//! from the same client to the same server, answered on another connection
//! shortly after, is the retry (nginx re-sends idempotent requests that
//! failed on a cached connection; Envoy retries on `reset` when told to).
//! A request the server reset without a race (its application, a vanished
//! peer, a middlebox) or that the client gave up on is watched the same
//! way (issue 21: nginx retried those GETs to a 200).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::app::request::{Method, Paths, Req, RequestLine};
use crate::flow::{Endpoint, FlowKey};

/// How soon after a race the same request, answered on another connection,
/// counts as the proxy's retry. nginx and HAProxy retry at once; Envoy's
/// retry back-off is 25 ms base with at most 10× that (250 ms) per attempt.
/// Kept short so that the same request line sent again by chance (health
/// checks, polling) is not taken for a retry.
pub const RETRY_WINDOW_NS: i64 = 300_000_000;

/// Most lost requests watched at once. A watch costs some 600 bytes with
/// its indices (issue 23: 80 000 races within 300 ms held 80 000, and the
/// overhead above `--max-memory` grew with the rate of races); 16 384 at
/// once is 54 000 races a second, far beyond any real proxy's. A request
/// lost beyond it is not watched: whether it was retried is unknown (not
/// "not retried"), and the report says how many.
pub const MAX_WATCHES: usize = 16_384;

/// Maps and sets by connection id (or request hash), hashed with foldhash:
/// every answered request and every ended connection looks one up, and
/// std's SipHash cost tens of instructions more each (issue 22).
type Map<V> = HashMap<u64, V, foldhash::fast::RandomState>;
type Set = HashSet<u64, foldhash::fast::RandomState>;

/// A lost request being watched for its retry.
struct Watch {
    client: IpAddr,
    server: Endpoint,
    request: RequestLine,
    after_ns: i64,
    deadline_ns: i64,
    /// Its place in `by_request`.
    bucket: u64,
}

/// A lost request's retry: when it went out, and the connection that
/// carried it (so that `--evidence` copies it without reading the inputs
/// again to find it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The retried request's first segment.
    pub at_ns: i64,
    /// The connection that carried it.
    pub key: FlowKey,
}

/// Lost requests being watched, and the retries found (by the raced
/// connection's id). Indexed three ways so that each packet costs a few
/// lookups however many races are being watched (80 000 races within
/// 300 ms were quadratic with one list): by connection, by what a retry
/// must repeat, and by deadline.
pub struct Retries {
    watch: Map<Watch>,
    /// Watched connections by the hash of client, server and request line,
    /// in the order their requests were lost. Entries of watches that
    /// ended stay until they reach the front (each is checked against
    /// `watch`).
    by_request: Map<VecDeque<u64>>,
    /// Deadlines, soonest first; an extended watch's earlier entry is stale.
    deadlines: BinaryHeap<Reverse<(i64, u64)>>,
    hasher: foldhash::fast::FixedState,
    retried: Map<Retry>,
    /// Connections whose lost request came past [`MAX_WATCHES`]: their
    /// retry is unknown (until their finding is made, like `retried`).
    unwatched: Set,
    /// Watched connections whose race was counted as not retried when they
    /// were judged, before their watch ended ([`Retries::forget`]): a retry
    /// found for one now is counted late. (At most one per watch.)
    judged: Set,
    /// Lost requests not watched for that reason, over the capture.
    pub unwatched_total: u64,
    /// Watches by [`pair_mark`] of their client and server: an answered
    /// request whose mark has none cannot be a retry, and is passed over
    /// without hashing its target (issue 22: `answered` hashed every
    /// answered request's target while any request was watched, 64
    /// instructions a packet on the synthetic capture).
    marks: Box<[u32; 256]>,
}

/// A byte of a client and server address and port: equal for the same
/// pair, so that a different byte rules a pair out (no hashing).
#[inline]
fn pair_mark(client: IpAddr, server: Endpoint) -> usize {
    let low = |ip: IpAddr| match ip {
        IpAddr::V4(a) => a.octets()[3],
        IpAddr::V6(a) => a.octets()[15],
    };
    let [hi, lo] = server.port.to_be_bytes();
    usize::from(low(client).wrapping_mul(31) ^ low(server.ip) ^ hi ^ lo)
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            watch: Map::default(),
            by_request: Map::default(),
            deadlines: BinaryHeap::new(),
            hasher: foldhash::fast::FixedState::default(),
            retried: Map::default(),
            unwatched: Set::default(),
            judged: Set::default(),
            unwatched_total: 0,
            marks: Box::new([0; 256]),
        }
    }
}

impl Retries {
    /// Forgets watches whose window closed before `now_ns`.
    #[inline]
    pub fn expire(&mut self, now_ns: i64) {
        // Called for every segment: the common answer is "nothing due yet",
        // found here without a call (issue 22).
        if self
            .deadlines
            .peek()
            .is_none_or(|&Reverse((deadline, _))| deadline >= now_ns)
        {
            return;
        }
        self.expire_due(now_ns);
    }

    #[inline(never)]
    fn expire_due(&mut self, now_ns: i64) {
        while let Some(&Reverse((deadline, id))) = self.deadlines.peek() {
            if deadline >= now_ns {
                break;
            }
            self.deadlines.pop();
            if self
                .watch
                .get(&id)
                .is_some_and(|w| w.deadline_ns == deadline)
            {
                self.end(id);
            }
        }
    }

    /// Extends the watch of connection `conn_id`'s lost request to
    /// [`RETRY_WINDOW_NS`] after `now_ns` (a later packet of its race, such
    /// as the RST); false when it is not watched.
    pub fn extend(&mut self, conn_id: u64, now_ns: i64) -> bool {
        let Some(w) = self.watch.get_mut(&conn_id) else {
            return false;
        };
        let deadline = w.deadline_ns.max(now_ns + RETRY_WINDOW_NS);
        if deadline != w.deadline_ns {
            w.deadline_ns = deadline;
            self.deadlines.push(Reverse((deadline, conn_id)));
        }
        true
    }

    fn bucket(&self, client: IpAddr, server: Endpoint, method: Method, path: &[u8]) -> u64 {
        self.hasher.hash_one((client, server, method, path))
    }

    /// A race lost `request` (sent at `after_ns`) on connection `conn_id`;
    /// the race showed at `now_ns` (the server's FIN, the request, or the RST).
    pub fn lost(
        &mut self,
        conn_id: u64,
        client: IpAddr,
        server: Endpoint,
        request: RequestLine,
        after_ns: i64,
        now_ns: i64,
    ) {
        if self.watch.contains_key(&conn_id) {
            self.end(conn_id);
        } else if self.watch.len() >= MAX_WATCHES {
            if self.unwatched.insert(conn_id) {
                self.unwatched_total += 1;
            }
            return;
        }
        let bucket = self.bucket(client, server, request.method, request.path.as_bytes());
        let deadline_ns = now_ns + RETRY_WINDOW_NS;
        self.by_request
            .entry(bucket)
            .or_default()
            .push_back(conn_id);
        self.deadlines.push(Reverse((deadline_ns, conn_id)));
        self.marks[pair_mark(client, server)] += 1;
        self.watch.insert(
            conn_id,
            Watch {
                client,
                server,
                request,
                after_ns,
                deadline_ns,
                bucket,
            },
        );
    }

    /// Ends connection `conn_id`'s watch (its bucket entry goes when it
    /// reaches the front).
    fn end(&mut self, conn_id: u64) {
        let Some(w) = self.watch.remove(&conn_id) else {
            return;
        };
        self.judged.remove(&conn_id);
        self.marks[pair_mark(w.client, w.server)] -= 1;
        if let Some(q) = self.by_request.get_mut(&w.bucket) {
            while q.front().is_some_and(|id| !self.watch.contains_key(id)) {
                q.pop_front();
            }
            if q.is_empty() {
                self.by_request.remove(&w.bucket);
            }
        }
    }

    /// A request sent at `ns` and answered on connection `conn_id` (its
    /// key from `key`, asked only for a retry) from `client` to `server`:
    /// if it repeats a lost one, the one lost first was retried. Returns
    /// that connection's id when it was judged already, its race counted
    /// then as not retried: the caller counts the retry now.
    #[allow(clippy::too_many_arguments)]
    pub fn answered(
        &mut self,
        conn_id: u64,
        key: impl FnOnce() -> FlowKey,
        client: IpAddr,
        server: Endpoint,
        paths: &Paths,
        req: Req,
        ns: i64,
    ) -> Option<u64> {
        if self.watch.is_empty() || self.marks[pair_mark(client, server)] == 0 {
            return None;
        }
        let bucket = self.bucket(client, server, req.method, paths.get(req.path).as_bytes());
        let q = self.by_request.get(&bucket)?;
        let found = q.iter().copied().find(|id| {
            self.watch.get(id).is_some_and(|w| {
                *id != conn_id
                    && w.bucket == bucket
                    && w.deadline_ns >= ns
                    && w.client == client
                    && w.server == server
                    && ns >= w.after_ns
                    && paths.same(req, &w.request)
            })
        });
        let id = found?;
        if let Some(q) = self.by_request.get_mut(&bucket)
            && let Some(at) = q.iter().position(|&x| x == id)
        {
            q.remove(at);
        }
        let late = self.judged.contains(&id);
        self.end(id);
        self.retried.entry(id).or_insert(Retry {
            at_ns: ns,
            key: key(),
        });
        late.then_some(id)
    }

    /// The retry of connection `conn_id`'s lost request, if it was retried.
    pub fn retry_of(&self, conn_id: u64) -> Option<Retry> {
        self.retried.get(&conn_id).copied()
    }

    /// Whether a retry of connection `conn_id`'s lost requests could be
    /// seen: false when one came past [`MAX_WATCHES`] and was not watched.
    pub fn watched(&self, conn_id: u64) -> bool {
        !self.unwatched.contains(&conn_id)
    }

    /// Forgets the retry of a connection whose finding carries it now
    /// (memory stays bounded). `race`: the connection's race was counted
    /// as not retried, with its watch still open (it was judged early: its
    /// 4-tuple came back, or it was evicted), so that a retry found later
    /// is still counted ([`Retries::answered`]).
    pub fn forget(&mut self, conn_id: u64, race: bool) {
        self.retried.remove(&conn_id);
        self.unwatched.remove(&conn_id);
        if race && self.watch.contains_key(&conn_id) {
            self.judged.insert(conn_id);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ep(port: u16) -> Endpoint {
        Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port,
        }
    }

    /// Issue 23: 80 000 races within 300 ms were quadratic (each packet
    /// scanned every watch). Many races of one request line, all being
    /// watched at once: each retry is the earliest lost one still waiting,
    /// each is matched once, and the watches expire by their deadlines.
    #[test]
    fn test_23_many_watches_of_one_request() {
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        let mut paths = Paths::default();
        let line = RequestLine {
            method: Method::Get,
            path: "/a".into(),
        };
        let mut r = Retries::default();
        const N: u64 = 20_000;
        for id in 0..N {
            r.lost(id, client, ep(80), line.clone(), id as i64, id as i64);
        }
        let req = Req {
            method: Method::Get,
            path: paths.put(b"/a", false),
        };
        let key = || FlowKey::new(0, ep(1), ep(80)).0;
        // A retry on connection N + id answers the earliest lost request.
        for id in 0..N / 2 {
            r.answered(N + id, key, client, ep(80), &paths, req, N as i64);
            assert_eq!(r.retry_of(id).map(|x| x.at_ns), Some(N as i64), "{id}");
        }
        // Another server's request is no retry of these.
        r.answered(3 * N, key, client, ep(81), &paths, req, N as i64);
        assert!(r.retry_of(N / 2).is_none());
        // Past every deadline nothing is watched.
        r.expire(N as i64 + RETRY_WINDOW_NS + 1);
        assert!(r.watch.is_empty() && r.by_request.is_empty());
        assert!(r.marks.iter().all(|&m| m == 0));
        assert!(!r.extend(N - 1, 0));
    }

    /// Issue 23: watches are capped; a request lost past the cap is not
    /// watched, its retry unknown (never "not retried"), and counted.
    #[test]
    fn test_23_watches_past_the_cap_are_unknown() {
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        let mut paths = Paths::default();
        let line = |p: &str| RequestLine {
            method: Method::Get,
            path: p.into(),
        };
        let mut r = Retries::default();
        let n = MAX_WATCHES as u64;
        for id in 0..n {
            r.lost(id, client, ep(80), line("/a"), 0, 0);
        }
        // Past the cap: not watched, and its retry is not found.
        r.lost(n, client, ep(80), line("/b"), 0, 0);
        assert!(!r.watched(n) && r.watched(0));
        assert_eq!(r.unwatched_total, 1);
        let req = Req {
            method: Method::Get,
            path: paths.put(b"/b", false),
        };
        let key = || FlowKey::new(0, ep(1), ep(80)).0;
        r.answered(n + 1, key, client, ep(80), &paths, req, 1);
        assert!(r.retry_of(n).is_none());
        // A connection already watched may lose another request.
        r.lost(0, client, ep(80), line("/c"), 1, 1);
        assert!(r.watched(0));
        // Judged: forgotten. Once the watches expire, new ones are taken.
        r.forget(n, false);
        assert!(r.watched(n));
        r.expire(1 + RETRY_WINDOW_NS + 1);
        r.lost(
            n + 2,
            client,
            ep(80),
            line("/b"),
            2 * RETRY_WINDOW_NS,
            2 * RETRY_WINDOW_NS,
        );
        assert!(r.watched(n + 2));
        assert_eq!(r.unwatched_total, 1);
    }

    /// A retry found after its raced connection was judged is said to be
    /// late, so that it is counted then; one judged without a counted race,
    /// or whose watch ended, is not.
    #[test]
    fn test_retry_after_judging_is_late() {
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        let mut paths = Paths::default();
        let line = RequestLine {
            method: Method::Get,
            path: "/b".into(),
        };
        let req = Req {
            method: Method::Get,
            path: paths.put(b"/b", false),
        };
        let key = || FlowKey::new(0, ep(1), ep(80)).0;
        let mut r = Retries::default();
        r.lost(1, client, ep(80), line.clone(), 0, 0);
        r.lost(2, client, ep(81), line.clone(), 0, 0);
        r.lost(3, client, ep(82), line.clone(), 0, 0);
        r.forget(1, true);
        r.forget(2, false);
        r.forget(3, true);
        assert_eq!(r.answered(10, key, client, ep(80), &paths, req, 5), Some(1));
        assert_eq!(r.answered(11, key, client, ep(81), &paths, req, 5), None);
        assert_eq!(r.retry_of(2).map(|x| x.at_ns), Some(5));
        // The watch expired: no retry, and nothing left of it.
        r.expire(RETRY_WINDOW_NS + 1);
        assert_eq!(
            r.answered(12, key, client, ep(82), &paths, req, RETRY_WINDOW_NS + 2),
            None
        );
        assert!(r.judged.is_empty() && r.watch.is_empty());
    }
}
