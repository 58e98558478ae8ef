//! `--metrics-listen`: the live capture's findings and counters as
//! Prometheus metrics, so a long-running capture on a node can be scraped
//! and alerted on. The metrics and their exposition are prometheus-client's;
//! the binary serves them over HTTP (src/serve_metrics.rs, which also picks
//! the text format a scraper asks for).
//!
//! Labels stay bounded: `server` is a server endpoint (never a client
//! port), and past [`MAX_SERVERS`] distinct endpoints further ones share the
//! value `other`; `interface` follows the interfaces open now (a vanished
//! one's series is removed), capped the same way at [`MAX_INTERFACES`].

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::analyzer::Sample;
use crate::flow::Endpoint;
use crate::report::Finding;

/// Distinct `server` label values before `other`.
pub const MAX_SERVERS: usize = 100;
/// Distinct `interface` label values before `other`.
pub const MAX_INTERFACES: usize = 256;
/// The label value that stands for every endpoint or interface past the cap.
pub const OVERFLOW: &str = "other";

/// Histogram buckets (seconds): the idle and keep-alive timeouts common
/// defaults use (Node.js 5 s, nginx/ALB 60 s, Envoy 1 h, …; see
/// docs/keepalive-defaults.md), so a bucket boundary sits at each.
pub const BUCKETS: [f64; 17] = [
    2.0, 3.0, 5.0, 6.0, 10.0, 20.0, 30.0, 60.0, 65.0, 75.0, 90.0, 120.0, 300.0, 350.0, 600.0,
    900.0, 3600.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerKind {
    server: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerVerdict {
    server: String,
    verdict: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabel {
    server: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InterfaceLabel {
    interface: String,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Label values of one kind, capped.
#[derive(Default)]
struct Capped {
    seen: Mutex<HashSet<String>>,
}

impl Capped {
    fn value(&self, v: String, max: usize) -> String {
        let mut seen = self.seen.lock().expect("not poisoned");
        if seen.contains(&v) {
            return v;
        }
        if seen.len() < max {
            seen.insert(v.clone());
            return v;
        }
        OVERFLOW.to_string()
    }
}

/// The capture's metrics.
pub struct Metrics {
    registry: Registry,
    races: Family<ServerKind, Counter>,
    failures: Family<ServerVerdict, Counter>,
    idle_close: Family<ServerLabel, Histogram, fn() -> Histogram>,
    reuse: Family<ServerLabel, Histogram, fn() -> Histogram>,
    packets: Counter,
    drops: Family<InterfaceLabel, Counter>,
    open: Gauge,
    servers: Capped,
    interfaces: Capped,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics, registered, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let races = Family::<ServerKind, Counter>::default();
        let failures = Family::<ServerVerdict, Counter>::default();
        let idle_close: Family<ServerLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(histogram);
        let reuse: Family<ServerLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(histogram);
        let packets = Counter::default();
        let drops = Family::<InterfaceLabel, Counter>::default();
        let open = Gauge::default();
        // prometheus-client appends `_total` to counters, as OpenMetrics
        // asks: these are racecap_keepalive_races_total and so on.
        registry.register(
            "racecap_keepalive_races",
            "Keep-alive races (a request lost on a connection the server closed), by server endpoint and kind",
            races.clone(),
        );
        registry.register(
            "racecap_failures",
            "Failing connections, by server endpoint and verdict",
            failures.clone(),
        );
        registry.register(
            "racecap_server_idle_close_seconds",
            "Idle time after which a server closed a keep-alive connection",
            idle_close.clone(),
        );
        registry.register(
            "racecap_reuse_after_idle_seconds",
            "Idle time after which a client reused a keep-alive connection (and was answered)",
            reuse.clone(),
        );
        registry.register(
            "racecap_capture_packets",
            "Packets captured",
            packets.clone(),
        );
        registry.register(
            "racecap_capture_drops",
            "Packets the kernel dropped before racecap read them, by interface",
            drops.clone(),
        );
        registry.register(
            "racecap_open_connections",
            "Connections tracked now",
            open.clone(),
        );
        Metrics {
            registry,
            races,
            failures,
            idle_close,
            reuse,
            packets,
            drops,
            open,
            servers: Capped::default(),
            interfaces: Capped::default(),
        }
    }

    fn server(&self, ep: Endpoint) -> String {
        self.servers.value(ep.to_string(), MAX_SERVERS)
    }

    /// Counts a finding as it is decided.
    pub fn finding(&self, f: &Finding) {
        let server = self.server(f.server);
        if let Some(r) = &f.race {
            self.races
                .get_or_create(&ServerKind {
                    server: server.clone(),
                    kind: r.kind.to_string(),
                })
                .inc();
        }
        self.failures
            .get_or_create(&ServerVerdict {
                server,
                verdict: f.verdict.to_string(),
            })
            .inc();
    }

    /// Records a timeout sample.
    pub fn sample(&self, s: Sample) {
        let (family, server, gap_ns) = match s {
            Sample::IdleClose { server, gap_ns } => (&self.idle_close, server, gap_ns),
            Sample::Reuse { server, gap_ns } => (&self.reuse, server, gap_ns),
        };
        family
            .get_or_create(&ServerLabel {
                server: self.server(server),
            })
            .observe(gap_ns as f64 / 1e9);
    }

    /// Counts packets read.
    pub fn packets(&self, n: u64) {
        self.packets.inc_by(n);
    }

    /// Adds drops of an interface (the growth of libpcap's counter).
    pub fn drops(&self, interface: &str, n: u64) {
        let interface = self.interfaces.value(interface.to_string(), MAX_INTERFACES);
        self.drops
            .get_or_create(&InterfaceLabel { interface })
            .inc_by(n);
    }

    /// Ends the series of an interface that went away.
    pub fn interface_gone(&self, interface: &str) {
        self.drops.remove(&InterfaceLabel {
            interface: interface.to_string(),
        });
    }

    /// Sets the number of connections tracked now.
    pub fn open_connections(&self, n: usize) {
        self.open.set(n as i64);
    }

    /// The exposition (OpenMetrics text, ending in `# EOF`).
    pub fn text(&self) -> String {
        let mut s = String::new();
        encode(&mut s, &self.registry).expect("writing to a String cannot fail");
        s
    }
}

#[cfg(test)]
mod test {
    use std::net::SocketAddr;

    use super::*;
    use crate::report::{RaceKind, Verdict};

    fn ep(s: &str) -> Endpoint {
        let a: SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    }

    #[test]
    fn test_names_labels_and_buckets() {
        let m = Metrics::new();
        m.sample(Sample::IdleClose {
            server: ep("10.0.0.2:3000"),
            gap_ns: 5_004_000_000,
        });
        m.sample(Sample::Reuse {
            server: ep("10.0.0.2:3000"),
            gap_ns: 4_000_000_000,
        });
        m.packets(3);
        m.drops("veth1", 2);
        m.open_connections(7);
        let om = m.text();
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("racecap_capture_packets_total 3\n"), "{om}");
        assert!(om.contains("racecap_capture_drops_total{interface=\"veth1\"} 2\n"));
        assert!(om.contains("racecap_open_connections 7\n"));
        // 5.004 s falls in the 6 s bucket, not the 5 s one.
        assert!(
            om.contains(
                "racecap_server_idle_close_seconds_bucket{le=\"5.0\",server=\"10.0.0.2:3000\"} 0\n"
            ),
            "{om}"
        );
        assert!(om.contains(
            "racecap_server_idle_close_seconds_bucket{le=\"6.0\",server=\"10.0.0.2:3000\"} 1\n"
        ));
        assert!(om.contains(
            "racecap_reuse_after_idle_seconds_bucket{le=\"5.0\",server=\"10.0.0.2:3000\"} 1\n"
        ));
        let les: Vec<&str> = om
            .lines()
            .filter(|l| l.starts_with("racecap_server_idle_close_seconds_bucket"))
            .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap())
            .collect();
        assert_eq!(
            les,
            [
                "2.0", "3.0", "5.0", "6.0", "10.0", "20.0", "30.0", "60.0", "65.0", "75.0", "90.0",
                "120.0", "300.0", "350.0", "600.0", "900.0", "3600.0", "+Inf"
            ]
        );
    }

    #[test]
    fn test_server_labels_are_capped() {
        let m = Metrics::new();
        for port in 0..(MAX_SERVERS as u16 + 5) {
            m.sample(Sample::Reuse {
                server: ep(&format!("10.0.0.2:{}", 1000 + port)),
                gap_ns: 1_000_000_000,
            });
        }
        let om = m.text();
        let servers: HashSet<&str> = om
            .lines()
            .filter(|l| l.starts_with("racecap_reuse_after_idle_seconds_count"))
            .map(|l| {
                l.split("server=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(servers.len(), MAX_SERVERS + 1);
        assert!(servers.contains(OVERFLOW));
        assert!(
            om.contains("racecap_reuse_after_idle_seconds_count{server=\"other\"} 5\n"),
            "{om}"
        );
        // Sanity of the enums the labels print.
        assert_eq!(RaceKind::Stale.to_string(), "stale");
        assert_eq!(Verdict::KeepaliveRace.to_string(), "keepalive_race");
    }
}
