//! What an analysis looks at and keeps, and the limits that bound its
//! memory whatever the input.

use crate::flow::Endpoint;
use crate::flow::table::DEFAULT_MAX_CONNECTIONS;

/// Which connections to analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// Every TCP connection.
    #[default]
    All,
    /// Connections to or from one endpoint.
    Server(Endpoint),
    /// Connections to or from any port of one address (`--server IP`).
    Host(std::net::IpAddr),
    /// Connections with this port on either side.
    Port(u16),
}

impl Focus {
    /// Whether a segment from `src` to `dst` is in focus.
    pub fn covers(self, src: Endpoint, dst: Endpoint) -> bool {
        match self {
            Focus::All => true,
            Focus::Server(ep) => src == ep || dst == ep,
            Focus::Host(ip) => src.ip == ip || dst.ip == ip,
            Focus::Port(p) => src.port == p || dst.port == p,
        }
    }
}

/// What the analysis keeps and looks at.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub focus: Focus,
    /// Keep one row per connection for the report (`--connections`).
    pub keep_connections: bool,
    /// Queue findings for [`Analyzer::take_decided`](super::Analyzer::take_decided)
    /// as they are decided (live output).
    pub live: bool,
    /// Queue idle-close and reuse samples for
    /// [`Analyzer::take_samples`](super::Analyzer::take_samples) (the live
    /// metrics' histograms): only when something drains them, or they grow
    /// with the capture.
    pub samples: bool,
    /// Most connections tracked at once (0: the default,
    /// [`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Most bytes of connection state (the table's slots, out-of-line
    /// parts, waiting request targets); beyond, the longest idle
    /// connections are evicted (0: the default, [`DEFAULT_MAX_MEMORY`]).
    pub max_memory: usize,
}

impl Config {
    /// The connection cap in force.
    pub fn max_connections(&self) -> usize {
        if self.max_connections > 0 {
            self.max_connections
        } else {
            DEFAULT_MAX_CONNECTIONS
        }
    }

    /// The memory budget in force, bytes.
    pub fn max_memory(&self) -> usize {
        if self.max_memory > 0 {
            self.max_memory
        } else {
            DEFAULT_MAX_MEMORY
        }
    }
}

/// Default budget for connection state: 256 MiB, which holds a million
/// open connections that sent only SYNs (or that have nothing
/// outstanding), and fewer when each holds a FIN record or a waiting
/// request. The process adds its buffers, statistics, findings and the
/// 4-tuples that left the table on top: at most 85 MiB on the hostile
/// shapes of issue 23 (docs/performance.md).
pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;

/// Findings kept for the report (counts stay exact beyond it): a capture of
/// a SYN flood must not turn into a million findings in memory.
pub const MAX_FINDINGS: usize = 10_000;

/// Server endpoints remembered from handshakes, for inferring roles.
pub const MAX_KNOWN_SERVERS: usize = 100_000;

/// Connection rows kept for `--connections`.
pub const MAX_CONNECTION_ROWS: usize = 200_000;
