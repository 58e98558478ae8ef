//! Flow tracking: segments → connections. One entry per open connection,
//! keyed by a direction-free 4-tuple plus VLAN ids; each direction tracks its
//! own sequence space so that retransmitted and reordered segments are
//! recognised. Closed connections leave the table after a grace period.

pub mod conn;
pub mod facts;
pub mod half;
pub mod history;
mod holes;
pub mod state;
pub mod table;

use std::fmt;
use std::net::IpAddr;

pub use conn::{Conn, Half, Pending, Side, State};
pub use table::{FlowHash, FlowHasher, FlowTable, TableEvent};

pub use crate::seq::Seq;

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// In reports, an endpoint is its display form (`10.0.0.2:3000`, `[::1]:80`).
impl serde::Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl crate::decode::Segment<'_> {
    /// The sender's endpoint.
    pub fn src_endpoint(&self) -> Endpoint {
        Endpoint {
            ip: self.src,
            port: self.sport,
        }
    }

    /// The receiver's endpoint.
    pub fn dst_endpoint(&self) -> Endpoint {
        Endpoint {
            ip: self.dst,
            port: self.dport,
        }
    }

    /// The segment's connection key, and whether the sender is `lo`.
    pub fn key(&self) -> (FlowKey, bool) {
        FlowKey::new(self.vlan, self.src_endpoint(), self.dst_endpoint())
    }
}

/// Direction-free connection key: the two endpoints in a fixed order plus
/// the VLAN ids (the same 4-tuple on two VLANs is two connections). Stored
/// as integers (IPv4 in the low bits, IPv6 with the top bit set) because it
/// is hashed and compared for every segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: u128,
    hi: u128,
    lo_port: u16,
    hi_port: u16,
    vlan: u32,
}

fn ip_rank(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a) ^ (1 << 127),
    }
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`, and whether `src` is the
    /// lower endpoint.
    pub fn new(vlan: u32, src: Endpoint, dst: Endpoint) -> (FlowKey, bool) {
        let (s, d) = ((ip_rank(src.ip), src.port), (ip_rank(dst.ip), dst.port));
        let src_low = s <= d;
        let ((lo, lo_port), (hi, hi_port)) = if src_low { (s, d) } else { (d, s) };
        (
            FlowKey {
                lo,
                hi,
                lo_port,
                hi_port,
                vlan,
            },
            src_low,
        )
    }
}
