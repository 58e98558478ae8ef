//! Synthetic TCP conversations with exact sequence numbers and timestamps,
//! for tests, benchmarks and the capture generator. A [`Flow`] plays both
//! ends of one connection and keeps their sequence spaces, so a test states
//! only what happens ("server FIN at 5 s, request at 19.8 s, RST") and gets
//! the packets a kernel would send; [`Link`] wraps them in any link layer.
//!
//! Not part of the library: each user includes this file as a module of its
//! own (`#[path = ".../tests/support/synth.rs"] mod synth;`): the integration
//! tests, the benchmarks, `examples/synth.rs` (the capture generator of
//! scripts/bench.sh and scripts/same-reports.sh), fuzz/'s seeds, and the unit
//! tests of the library and the binary.

// Every includer uses a different part of it.
#![allow(dead_code)]

use std::net::IpAddr;

use etherparse::{PacketBuilder, TcpHeader};

use racecap::analyzer::{Analyzer, Config};
use racecap::decode::{Frame, linktype};
use racecap::report::Finding;
use racecap::source::write::{Endian, PcapWriter};

/// Link layer to wrap IP packets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, with zero, one or two 802.1Q tags (outer first).
    Ethernet(Vec<u16>),
    /// Raw IP (link type 101).
    Raw,
    /// Raw IPv4 / IPv6 (link types 228 / 229, chosen by the address family).
    RawFamily,
    /// Linux cooked capture v1 (113).
    Sll,
    /// Linux cooked capture v2 (276).
    Sll2,
    /// BSD loopback, host byte order (0).
    Null,
    /// OpenBSD loopback, network byte order (108).
    Loop,
}

impl Link {
    /// The link type number for a capture of this link.
    pub fn linktype(&self, v6: bool) -> u16 {
        match self {
            Link::Ethernet(_) => linktype::ETHERNET,
            Link::Raw => linktype::RAW,
            Link::RawFamily if v6 => linktype::IPV6,
            Link::RawFamily => linktype::IPV4,
            Link::Sll => linktype::LINUX_SLL,
            Link::Sll2 => linktype::LINUX_SLL2,
            Link::Null => linktype::NULL,
            Link::Loop => linktype::LOOP,
        }
    }

    /// Wraps an IP packet.
    pub fn wrap(&self, ip: &[u8], v6: bool) -> Vec<u8> {
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        let mut out = Vec::with_capacity(ip.len() + 24);
        match self {
            Link::Ethernet(tags) => {
                out.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
                for (i, tag) in tags.iter().enumerate() {
                    // QinQ: the outer tag is 802.1ad (0x88a8) when there are two.
                    let tpid: u16 = if tags.len() == 2 && i == 0 {
                        0x88a8
                    } else {
                        0x8100
                    };
                    out.extend_from_slice(&tpid.to_be_bytes());
                    out.extend_from_slice(&tag.to_be_bytes());
                }
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Raw | Link::RawFamily => {}
            Link::Sll => {
                out.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Sll2 => {
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
                out.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
            }
            Link::Null => {
                let af: u32 = if v6 { 30 } else { 2 };
                out.extend_from_slice(&af.to_le_bytes());
            }
            Link::Loop => {
                let af: u32 = if v6 { 24 } else { 2 };
                out.extend_from_slice(&af.to_be_bytes());
            }
        }
        out.extend_from_slice(ip);
        out
    }
}

/// One synthetic packet.
#[derive(Debug, Clone)]
pub struct Packet {
    pub ts_ns: i64,
    /// The IP packet (no link header).
    pub ip: Vec<u8>,
    pub v6: bool,
}

/// TCP flags for [`Flow::seg`].
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Both ends of one TCP connection.
#[derive(Debug, Clone)]
pub struct Flow {
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// Next sequence number each side will send.
    pub client_next: u32,
    pub server_next: u32,
    /// TCP options as Linux sends them: MSS, SACK-permitted, timestamps and
    /// window scale on SYNs, timestamps (NOP NOP TS) on every other segment
    /// but RSTs. Off by default (tests build exact 20-byte headers); the
    /// benchmark workload turns it on so that decoding costs what it costs
    /// on real traffic.
    pub options: bool,
}

/// Seconds to nanoseconds, for readable tests.
pub fn secs(s: f64) -> i64 {
    (s * 1e9).round() as i64
}

impl Flow {
    /// A connection whose SYNs will carry these initial sequence numbers.
    pub fn new(
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        client_isn: u32,
        server_isn: u32,
    ) -> Flow {
        Flow {
            client,
            server,
            client_next: client_isn,
            server_next: server_isn,
            options: false,
        }
    }

    /// Any segment. `ack` None sends no ACK flag. Sequence space advances by
    /// the payload and by SYN/FIN, as a kernel's would.
    pub fn seg(
        &mut self,
        ts_ns: i64,
        from_client: bool,
        flag_bits: u8,
        payload: &[u8],
        ack: Option<u32>,
    ) -> Packet {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let next = if from_client {
            &mut self.client_next
        } else {
            &mut self.server_next
        };
        let mut h = TcpHeader::new(src.1, dst.1, *next, 64240);
        h.syn = flag_bits & flags::SYN != 0;
        h.fin = flag_bits & flags::FIN != 0;
        h.rst = flag_bits & flags::RST != 0;
        h.psh = flag_bits & flags::PSH != 0;
        if let Some(a) = ack {
            h.ack = true;
            h.acknowledgment_number = a;
        }
        if self.options && !h.rst {
            use etherparse::TcpOptionElement as O;
            // A millisecond clock, as Linux's TCP timestamps are.
            let tsval = (ts_ns / 1_000_000) as u32;
            let ts = O::Timestamp(
                tsval,
                if h.syn && !h.ack {
                    0
                } else {
                    tsval.wrapping_sub(1)
                },
            );
            let opts: &[O] = if h.syn {
                &[
                    O::MaximumSegmentSize(1460),
                    O::SelectiveAcknowledgementPermitted,
                    ts,
                    O::Noop,
                    O::WindowScale(7),
                ]
            } else {
                &[O::Noop, O::Noop, ts]
            };
            h.set_options(opts).expect("the options fit in 40 bytes");
        }
        let advance = payload.len() as u32 + u32::from(h.syn) + u32::from(h.fin);
        if !h.rst {
            *next = next.wrapping_add(advance);
        }
        let mut ip = Vec::with_capacity(60 + payload.len());
        let v6 = match (src.0, dst.0) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                PacketBuilder::ipv4(s.octets(), d.octets(), 64)
                    .tcp_header(h)
                    .write(&mut ip, payload)
                    .expect("writing to a Vec");
                false
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                PacketBuilder::ipv6(s.octets(), d.octets(), 64)
                    .tcp_header(h)
                    .write(&mut ip, payload)
                    .expect("writing to a Vec");
                true
            }
            _ => panic!("client and server must share an address family"),
        };
        Packet { ts_ns, ip, v6 }
    }

    fn ack_of(&self, from_client: bool) -> u32 {
        if from_client {
            self.server_next
        } else {
            self.client_next
        }
    }

    /// The three-way handshake at `t`, `t + rtt/2`, `t + rtt`.
    pub fn handshake(&mut self, t: i64, rtt: i64) -> Vec<Packet> {
        let syn = self.seg(t, true, flags::SYN, &[], None);
        let a = self.client_next;
        let synack = self.seg(t + rtt / 2, false, flags::SYN | flags::ACK, &[], Some(a));
        let ack = self.ack(t + rtt, true);
        vec![syn, synack, ack]
    }

    /// Data with PSH, acknowledging everything the peer sent.
    pub fn data(&mut self, t: i64, from_client: bool, payload: &[u8]) -> Packet {
        let a = self.ack_of(from_client);
        self.seg(t, from_client, flags::PSH | flags::ACK, payload, Some(a))
    }

    /// A pure ACK of everything the peer sent.
    pub fn ack(&mut self, t: i64, from_client: bool) -> Packet {
        let a = self.ack_of(from_client);
        self.seg(t, from_client, flags::ACK, &[], Some(a))
    }

    /// A FIN (with ACK of everything the peer sent).
    pub fn fin(&mut self, t: i64, from_client: bool) -> Packet {
        let a = self.ack_of(from_client);
        self.seg(t, from_client, flags::FIN | flags::ACK, &[], Some(a))
    }

    /// A RST, as a kernel sends for data on a closed socket: its sequence
    /// number is what the peer expects, no ACK.
    pub fn rst(&mut self, t: i64, from_client: bool) -> Packet {
        self.seg(t, from_client, flags::RST, &[], None)
    }

    /// An RST with the ACK flag (of everything the peer sent): what a
    /// socket sends when it aborts or closes with unread data, where a
    /// host with no socket for the connection sends a bare RST.
    pub fn rst_ack(&mut self, t: i64, from_client: bool) -> Packet {
        let a = self.ack_of(from_client);
        self.seg(t, from_client, flags::RST | flags::ACK, &[], Some(a))
    }

    /// An HTTP request from the client and the response to it `rtt` later
    /// (with the client's ACK).
    pub fn exchange(&mut self, t: i64, rtt: i64, request: &str, response: &str) -> Vec<Packet> {
        vec![
            self.data(t, true, request.as_bytes()),
            self.data(t + rtt, false, response.as_bytes()),
            self.ack(t + rtt + rtt / 2, true),
        ]
    }
}

/// A GET request line plus headers.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: backend\r\n\r\n")
}

/// A POST request with a small JSON body.
pub fn post(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: backend\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    )
}

/// A 200 response, with a `Keep-Alive: timeout=N` header when given.
pub fn ok(keep_alive_s: Option<u32>) -> String {
    match keep_alive_s {
        Some(t) => format!(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout={t}\r\nContent-Length: 2\r\n\r\nok"
        ),
        None => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_string(),
    }
}

/// Writes packets (sorted by time) as a classic pcap with nanosecond stamps.
pub fn pcap(packets: &[Packet], link: &Link) -> Vec<u8> {
    let v6 = packets.first().is_some_and(|p| p.v6);
    let mut sorted: Vec<&Packet> = packets.iter().collect();
    sorted.sort_by_key(|p| p.ts_ns);
    let mut w = PcapWriter::new(Vec::new(), link.linktype(v6), 65535, true, Endian::Little)
        .expect("writing to a Vec");
    for p in sorted {
        let frame = link.wrap(&p.ip, p.v6);
        w.write(p.ts_ns, frame.len() as u32, &frame)
            .expect("writing to a Vec");
    }
    w.finish().expect("writing to a Vec")
}

/// A small deterministic generator (xorshift): the same workload every run.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Overlapping HTTP/1.1 keep-alive connections with idle gaps and a known
/// number of keep-alive races, for benchmarks and the capture generator.
/// Connection `i` ends in one of: a server idle close (5 s, Node-like), a
/// client close, or a race (server FIN, then a request, then RST; crossed
/// and stale alternate) with probability `race_fraction`.
#[derive(Debug, Clone)]
pub struct Workload {
    pub connections: u64,
    pub requests: u32,
    pub race_fraction: f64,
    /// About this many connections are open at once.
    pub concurrency: u64,
    pub v6: bool,
}

const WORKLOAD_RTT: i64 = 300_000;

impl Workload {
    /// The benchmarks' workload: `connections` × `requests`, about 200 open
    /// at once, one connection in 20 ending in a race.
    pub fn bench(connections: u64, requests: u32, v6: bool) -> Workload {
        Workload {
            connections,
            requests,
            race_fraction: 0.05,
            concurrency: 200,
            v6,
        }
    }

    /// The start time of connection `i`.
    pub fn start(&self, i: u64) -> i64 {
        // A connection lasts about requests × 1.1 s + 5 s.
        let life = secs(f64::from(self.requests) * 1.1 + 5.0);
        let spacing = (life / self.concurrency.max(1) as i64).max(1);
        secs(1_780_000_000.0) + i as i64 * spacing
    }

    /// Connection `i`'s packets in time order, appended to `out`; returns
    /// whether it ends in a keep-alive race.
    pub fn connection(&self, i: u64, rng: &mut Rng, out: &mut Vec<Packet>) -> bool {
        let (client, server) = if self.v6 {
            let c = std::net::Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, (i >> 16) as u16, i as u16);
            let s = std::net::Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 1 + (i % 4) as u16);
            (IpAddr::V6(c), IpAddr::V6(s))
        } else {
            let c = std::net::Ipv4Addr::new(10, 1, (i >> 16) as u8 & 0x3f, (i >> 8) as u8);
            let s = std::net::Ipv4Addr::new(10, 2, 0, 1 + (i % 4) as u8);
            (IpAddr::V4(c), IpAddr::V4(s))
        };
        let port = 1024 + (i % 60_000) as u16;
        let mut f = Flow::new(
            (client, port),
            (server, 3000),
            rng.next_u64() as u32,
            rng.next_u64() as u32,
        );
        f.options = true;
        let rtt = WORKLOAD_RTT;
        let mut t = self.start(i);
        out.extend(f.handshake(t, rtt));
        t += rtt;
        let mut last = t;
        for r in 0..self.requests {
            if r > 0 {
                t = last + secs(0.05 + rng.unit() * 2.0);
            }
            let len = 100 + (rng.next_u64() % 1200) as usize;
            let response = format!(
                "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: {len}\r\n\r\n{}",
                "x".repeat(len)
            );
            out.extend(f.exchange(t, rtt, &get(&format!("/item/{i}/{r}")), &response));
            // The idle period starts with the response.
            last = t + rtt;
        }
        let race = rng.unit() < self.race_fraction;
        let fin_at = last + secs(5.0);
        if race && i.is_multiple_of(2) {
            // Stale: the client acknowledged the FIN, then wrote anyway.
            out.push(f.fin(fin_at, false));
            out.push(f.ack(fin_at + rtt / 2, true));
            out.push(f.data(
                fin_at + secs(1.0),
                true,
                get(&format!("/late/{i}")).as_bytes(),
            ));
            out.push(f.rst(fin_at + secs(1.0) + rtt / 2, false));
        } else if race {
            // Crossed: the request left before the FIN arrived.
            let unaware = f.server_next;
            out.push(f.fin(fin_at, false));
            let path = format!("/crossed/{i}");
            let req = get(&path);
            out.push(f.seg(
                fin_at + rtt / 4,
                true,
                flags::PSH | flags::ACK,
                req.as_bytes(),
                Some(unaware),
            ));
            out.push(f.rst(fin_at + rtt / 2, false));
        } else if rng.unit() < 0.5 {
            out.push(f.fin(fin_at, false));
            out.push(f.fin(fin_at + rtt / 2, true));
            out.push(f.ack(fin_at + rtt, false));
        } else {
            let client_fin = last + secs(3.0);
            out.push(f.fin(client_fin, true));
            out.push(f.fin(client_fin + rtt / 2, false));
            out.push(f.ack(client_fin + rtt, true));
        }
        race
    }

    /// Every packet in time order, held in memory (small workloads), and
    /// the number of races.
    pub fn packets(&self) -> (Vec<Packet>, u64) {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut out = Vec::new();
        let mut races = 0;
        for i in 0..self.connections {
            races += u64::from(self.connection(i, &mut rng, &mut out));
        }
        out.sort_by_key(|p| p.ts_ns);
        (out, races)
    }
}

/// Feeds each packet to `a` as an Ethernet frame, calling `after` after each.
pub fn feed(a: &mut Analyzer, packets: &[Packet], mut after: impl FnMut(&Analyzer)) {
    let link = Link::Ethernet(vec![]);
    for p in packets {
        let data = link.wrap(&p.ip, p.v6);
        a.frame(&Frame {
            ts_ns: p.ts_ns,
            linktype: 1,
            origlen: data.len() as u32,
            data: &data,
        });
        after(a);
    }
}

/// The findings of `packets` (Ethernet frames, the default configuration).
pub fn findings(packets: &[Packet]) -> Vec<Finding> {
    let mut a = Analyzer::new(Config::default());
    feed(&mut a, packets, |_| {});
    a.finish(&[]).findings
}

/// A keep-alive race of kind `reset` on `f`, from `t`: one exchange, then
/// a request after 2.5 s idle that the server answers with RST (it had
/// closed with the request unread).
pub fn reset_race(f: &mut Flow, t: i64, rtt: i64) -> Vec<Packet> {
    let mut p = f.handshake(t, rtt);
    p.extend(f.exchange(t + secs(0.01), rtt, &get("/a"), &ok(None)));
    p.push(f.data(t + secs(2.5), true, get("/b").as_bytes()));
    p.push(f.rst_ack(t + secs(2.5) + 100_000, false));
    p
}
