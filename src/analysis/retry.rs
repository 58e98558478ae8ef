//! The proxy's retry of a lost request: after a race, the same request line
//! from the same client to the same server, answered on another connection
//! shortly after, is the retry (nginx re-sends idempotent requests that
//! failed on a cached connection; Envoy retries on `reset` when told to).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::app::http::{Paths, Req, RequestLine};
use crate::flow::{Endpoint, FlowKey};

/// How soon after a race the same request, answered on another connection,
/// counts as the proxy's retry. nginx and HAProxy retry at once; Envoy's
/// retry back-off is 25 ms base with at most 10× that (250 ms) per attempt.
/// Kept short so that the same request line sent again by chance (health
/// checks, polling) is not taken for a retry.
pub const RETRY_WINDOW_NS: i64 = 300_000_000;

/// A lost request being watched for its retry.
struct Watch {
    conn_id: u64,
    client: IpAddr,
    server: Endpoint,
    request: RequestLine,
    after_ns: i64,
    deadline_ns: i64,
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
/// connection's id).
#[derive(Default)]
pub struct Retries {
    watch: Vec<Watch>,
    retried: HashMap<u64, Retry>,
}

impl Retries {
    /// Forgets watches whose window closed before `now_ns`.
    pub fn expire(&mut self, now_ns: i64) {
        if !self.watch.is_empty() {
            self.watch.retain(|w| w.deadline_ns >= now_ns);
        }
    }

    /// Extends the watch of connection `conn_id`'s lost request to
    /// [`RETRY_WINDOW_NS`] after `now_ns` (a later packet of its race, such
    /// as the RST); false when it is not watched.
    pub fn extend(&mut self, conn_id: u64, now_ns: i64) -> bool {
        match self.watch.iter_mut().find(|w| w.conn_id == conn_id) {
            Some(w) => {
                w.deadline_ns = w.deadline_ns.max(now_ns + RETRY_WINDOW_NS);
                true
            }
            None => false,
        }
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
        self.watch.push(Watch {
            conn_id,
            client,
            server,
            request,
            after_ns,
            deadline_ns: now_ns + RETRY_WINDOW_NS,
        });
    }

    /// A request sent at `ns` and answered on connection `conn_id` (its
    /// key from `key`, asked only for a retry) from `client` to `server`: if it repeats a lost one, that one
    /// was retried.
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
    ) {
        if self.watch.is_empty() {
            return;
        }
        self.watch.retain(|w| w.deadline_ns >= ns);
        if let Some(i) = self.watch.iter().position(|w| {
            w.conn_id != conn_id
                && w.client == client
                && w.server == server
                && ns >= w.after_ns
                && paths.same(req, &w.request)
        }) {
            let w = self.watch.swap_remove(i);
            self.retried.entry(w.conn_id).or_insert(Retry {
                at_ns: ns,
                key: key(),
            });
        }
    }

    /// The retry of connection `conn_id`'s lost request, if it was retried.
    pub fn retry_of(&self, conn_id: u64) -> Option<Retry> {
        self.retried.get(&conn_id).copied()
    }

    /// Forgets the retry of a connection whose finding carries it now
    /// (memory stays bounded).
    pub fn forget(&mut self, conn_id: u64) {
        self.retried.remove(&conn_id);
    }
}
