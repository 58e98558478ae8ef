//! Who is on each end of a server's connections, from cheap marks in the
//! traffic: the software that answers (its `Server` and `X-Powered-By`
//! headers, a witness for the defaults table ahead of timing alone), and
//! what sends the requests — a proxy (forwarding headers, an address that
//! also accepts connections) or a client library inside an application (its
//! `User-Agent` or none, talking to this one server only), so that the fix
//! names the knobs that are really there.

use std::collections::BTreeMap;

use crate::app::marks::{Agent, RequestMarks};

/// What sends a server's requests (the fix is worded for it).
pub use crate::analysis::defaults::ClientKind;

/// Distinct header values kept per server (a server sends one; a few
/// allow for a fleet behind one address).
const MAX_VALUES: usize = 4;

/// Longest header value kept.
const MAX_VALUE_BYTES: usize = 100;

/// The values one header took, with counts (bounded).
#[derive(Debug, Clone, Default)]
pub struct Values(BTreeMap<String, u64>);

impl Values {
    /// Counts `value` (printable ASCII only; cut to [`MAX_VALUE_BYTES`]).
    pub fn add(&mut self, value: &[u8]) {
        let value = &value[..value.len().min(MAX_VALUE_BYTES)];
        if value.is_empty() || !value.iter().all(|b| (0x20..0x7f).contains(b)) {
            return;
        }
        // Looked up by bytes first: the common case allocates nothing.
        let text = std::str::from_utf8(value).expect("printable ASCII is UTF-8");
        if let Some(n) = self.0.get_mut(text) {
            *n += 1;
        } else if self.0.len() < MAX_VALUES {
            self.0.insert(text.to_string(), 1);
        }
    }

    /// The most frequent value (ties: the first by name).
    pub fn most(&self) -> Option<&str> {
        self.0
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(v, _)| v.as_str())
    }
}

/// The software marks of one server's responses.
#[derive(Debug, Clone, Default)]
pub struct ServerMarks {
    pub server: Values,
    pub powered_by: Values,
}

/// What one client's requests (to one server) said about their sender.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientMarks {
    /// Request heads read to their end.
    pub heads: u32,
    /// Of those, with forwarding headers.
    pub forwarded: u32,
    /// With a library's `User-Agent`, with another, with none.
    pub library: u32,
    pub other: u32,
    pub none: u32,
    /// Server closes (FINs of idle connections) the client noticed at once
    /// (its FIN answered within [`NOTICE_NS`]), and those it did not (it
    /// answered a second or more later, or wrote a request into the
    /// half-closed connection [`STALE_UNNOTICED_NS`] beyond a round trip
    /// after the FIN: a stale race).
    pub noticed: u32,
    pub unnoticed: u32,
}

/// How soon a pool that watches its idle connections answers the server's
/// FIN: proxies (nginx, Envoy, HAProxy) close a pooled connection as soon
/// as it becomes readable, one round trip at most; a pool that does not
/// watch (Python's `http.client`, `requests` without a check) finds out
/// only when it next uses the connection, seconds later.
pub const NOTICE_NS: i64 = 1_000_000_000;

/// A stale race (the request acknowledges the server's FIN) whose request
/// came this long beyond a round trip after the FIN: the pool had the FIN
/// and did not look. A proxy that watches its pool can still lose a request
/// to a FIN that arrives as it picks the connection, but not this late.
pub const STALE_UNNOTICED_NS: i64 = 100_000_000;

impl ClientMarks {
    /// Counts one request head (only complete heads count: a header may
    /// follow the cut).
    pub fn add(&mut self, m: RequestMarks) {
        if !m.complete {
            return;
        }
        self.heads += 1;
        self.forwarded += u32::from(m.forwarded);
        match m.agent {
            Agent::Library => self.library += 1,
            Agent::Other => self.other += 1,
            Agent::None => self.none += 1,
        }
    }
}

/// What is known of one client address beyond this server.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientReach {
    /// It sent requests to other server addresses too (other ports of the
    /// same address are the same server).
    pub other_servers: bool,
    /// It accepted connections itself (it is a server too: a proxy's listener).
    pub accepts: bool,
}

/// What sends a server's requests, from each client's marks and reach.
///
/// - A proxy: any forwarding header (nginx adds none by default, Envoy,
///   Caddy, HAProxy with `option forwardfor`, the cloud balancers do), or
///   a client address that accepts connections too.
/// - A client library: no such sign, every request head with a library's
///   `User-Agent` or none at all, from addresses that talk to this server's
///   address only — and a positive mark: a library's `User-Agent`, or a
///   pool that never noticed the server's closes (a proxy passes its
///   client's headers on, and nginx adds none, so no `User-Agent` alone
///   proves nothing; Python's `http.client` sends none).
/// - Otherwise unknown: the fix keeps its proxy wording.
pub fn client_kind<'a>(
    clients: impl IntoIterator<Item = (ClientMarks, ClientReach)> + 'a,
) -> ClientKind {
    let mut any = false;
    let mut library = true;
    for (m, reach) in clients {
        if m.forwarded > 0 || reach.accepts {
            return ClientKind::Proxy;
        }
        if m.heads == 0 {
            library = false;
            continue;
        }
        any = true;
        let positive = m.library > 0 || m.unnoticed > m.noticed;
        library &= m.other == 0 && !reach.other_servers && positive;
    }
    if any && library {
        ClientKind::Library
    } else {
        ClientKind::Unknown
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn marks(forwarded: bool, agent: Agent) -> RequestMarks {
        RequestMarks {
            forwarded,
            agent,
            complete: true,
            proxy: None,
        }
    }

    #[test]
    fn test_client_kind() {
        let mut lib = ClientMarks::default();
        lib.add(marks(false, Agent::None));
        lib.add(marks(false, Agent::Library));
        let alone = ClientReach::default();
        assert_eq!(client_kind([(lib, alone)]), ClientKind::Library);
        // No User-Agent at all: only a pool that missed the server's
        // closes says library; one that noticed them may be nginx.
        let mut bare = ClientMarks::default();
        bare.add(marks(false, Agent::None));
        assert_eq!(client_kind([(bare, alone)]), ClientKind::Unknown);
        bare.unnoticed = 2;
        assert_eq!(client_kind([(bare, alone)]), ClientKind::Library);
        bare.noticed = 2;
        assert_eq!(client_kind([(bare, alone)]), ClientKind::Unknown);
        // The same marks from an address that talks to other servers too.
        let wide = ClientReach {
            other_servers: true,
            accepts: false,
        };
        assert_eq!(client_kind([(lib, wide)]), ClientKind::Unknown);
        // A forwarding header, or an address that accepts connections.
        let mut fwd = lib;
        fwd.add(marks(true, Agent::Other));
        assert_eq!(client_kind([(fwd, alone)]), ClientKind::Proxy);
        let accepts = ClientReach {
            other_servers: false,
            accepts: true,
        };
        assert_eq!(client_kind([(lib, accepts)]), ClientKind::Proxy);
        // A browser's agent passed on: nothing says library.
        let mut other = ClientMarks::default();
        other.add(marks(false, Agent::Other));
        assert_eq!(client_kind([(other, alone)]), ClientKind::Unknown);
        // Cut heads prove nothing.
        let mut cut = ClientMarks::default();
        cut.add(RequestMarks {
            complete: false,
            ..marks(false, Agent::None)
        });
        assert_eq!(client_kind([(cut, alone)]), ClientKind::Unknown);
        assert_eq!(client_kind([]), ClientKind::Unknown);
    }

    #[test]
    fn test_values_bounded_and_most_frequent() {
        let mut v = Values::default();
        for s in ["a", "b", "b", "c", "d", "e", "\u{1}x"] {
            v.add(s.as_bytes());
        }
        assert_eq!(v.most(), Some("b"));
        assert_eq!(v.0.len(), MAX_VALUES);
        v.add(&[b'x'; 300]);
        assert!(v.0.keys().all(|k| k.len() <= MAX_VALUE_BYTES));
    }
}
