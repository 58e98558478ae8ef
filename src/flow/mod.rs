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
            IpAddr::V4(ip) => f.write_str(V4Text::of(ip, self.port).as_str()),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// In reports, an endpoint is its display form (`10.0.0.2:3000`, `[::1]:80`).
impl serde::Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.ip {
            IpAddr::V4(ip) => s.serialize_str(V4Text::of(ip, self.port).as_str()),
            IpAddr::V6(_) => s.collect_str(self),
        }
    }
}

/// An IPv4 endpoint's display form, written by hand into a buffer of its
/// own: a report names two endpoints per finding, and through `fmt` each
/// cost some 2 000 instructions in a JSON report (seven pieces, each
/// escaped on its own; issue 22).
struct V4Text {
    buf: [u8; 21],
    len: usize,
}

impl V4Text {
    fn of(ip: std::net::Ipv4Addr, port: u16) -> V4Text {
        let mut t = V4Text {
            buf: [0; 21],
            len: 0,
        };
        for (i, o) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                t.push(b'.');
            }
            t.decimal(u32::from(o));
        }
        t.push(b':');
        t.decimal(u32::from(port));
        t
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn decimal(&mut self, v: u32) {
        let mut digits = [0u8; 5];
        let mut n = 0;
        let mut v = v;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in digits[..n].iter().rev() {
            self.push(d);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits, dots and a colon are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
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

#[cfg(test)]
mod test {
    use super::*;

    proptest::proptest! {
        /// The hand-written IPv4 form is std's, in display and in JSON.
        #[test]
        fn prop_v4_endpoint_text_is_stds(a in proptest::num::u32::ANY, port in proptest::num::u16::ANY) {
            let ip = std::net::Ipv4Addr::from(a);
            let ep = Endpoint { ip: IpAddr::V4(ip), port };
            let std = format!("{ip}:{port}");
            proptest::prop_assert_eq!(ep.to_string(), std.clone());
            proptest::prop_assert_eq!(serde_json::to_string(&ep).unwrap(), format!("\"{std}\""));
        }
    }

    #[test]
    fn test_endpoint_text_extremes() {
        let v4 = |a: [u8; 4], port| Endpoint {
            ip: IpAddr::from(a),
            port,
        };
        assert_eq!(v4([0, 0, 0, 0], 0).to_string(), "0.0.0.0:0");
        assert_eq!(
            v4([255, 255, 255, 255], 65535).to_string(),
            "255.255.255.255:65535"
        );
        let v6 = Endpoint {
            ip: "::1".parse().unwrap(),
            port: 80,
        };
        assert_eq!(v6.to_string(), "[::1]:80");
        assert_eq!(serde_json::to_string(&v6).unwrap(), "\"[::1]:80\"");
    }
}
