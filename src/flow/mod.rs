//! Flow tracking: segments → connections. One entry per open connection,
//! keyed by a direction-free 4-tuple plus VLAN ids; each direction tracks its
//! own sequence space so that retransmitted and reordered segments are
//! recognised. Closed connections leave the table after a grace period.

pub mod conn;
pub mod facts;
pub mod h2;
pub mod half;
pub mod history;
mod holes;
pub mod hpack;
pub mod http;
pub mod marks;
pub mod protocol;
pub mod response;
pub mod state;
pub mod table;
pub mod tls;

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

pub use conn::{Conn, Half, Pending, Side, State};
pub use table::{FlowTable, TableEvent};

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

/// The payload bytes the flow analysis reads of a segment: an HTTP/1 head
/// ([`http::sniffed`]), the first bytes of one that begins with a TLS
/// record header ([`tls::view`]), or the frame headers of one that begins
/// with the HTTP/2 preface or a frame header ([`h2::view`]); nothing of any
/// other (the tail is read apart). The reader thread hands only these to
/// the analysis, which reads nothing else, so that one thread and two give
/// the same report. (The three cannot begin alike: a request or status
/// line begins with a letter, a record with a content type 20–23, a frame
/// with its length's high byte, 0 for any frame under 64 KiB; the preface
/// is `PRI`, no method of HTTP/1's.)
pub fn carried(payload: &[u8]) -> &[u8] {
    let head = http::sniffed(payload);
    if !head.is_empty() {
        return head;
    }
    let tls = tls::view(payload);
    if tls.is_empty() {
        h2::view(payload)
    } else {
        tls
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

/// A TCP sequence number, compared with serial-number arithmetic
/// (RFC 1982; smoltcp's `SeqNumber`): `a < b` when `b` is less than 2^31 ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Bytes from `other` up to `self` (negative if `self` is behind).
    pub fn diff(self, other: Seq) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }
}

impl std::ops::Add<u32> for Seq {
    type Output = Seq;
    /// `self + n`, wrapping.
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some((self.0.wrapping_sub(other.0) as i32).cmp(&0))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_seq_wraps() {
        assert!(Seq(0xffff_fff0) < Seq(0x10));
        assert!(Seq(0x10) > Seq(0xffff_fff0));
        assert_eq!(Seq(0x10).diff(Seq(0xffff_fff0)), 0x20);
        assert_eq!(Seq(0xffff_fff0) + 0x20, Seq(0x10));
        assert!(Seq(5) <= Seq(5));
    }
}
