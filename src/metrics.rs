//! `--metrics-listen`: the live capture's findings and counters as
//! Prometheus metrics, so a long-running capture on a node can be scraped
//! and alerted on. The metrics and their exposition are prometheus-client's;
//! the binary serves them over HTTP (src/serve_metrics.rs, which also picks
//! the text format a scraper asks for).
//!
//! Labels stay bounded (issue 25): `server` is a server endpoint (never a
//! client port), and at most `servers` of them (the most recently active;
//! [`DEFAULT_SERVERS`] unless `--metrics-servers` says otherwise) have series
//! of their own; further ones share the value `other` until a slot frees.
//! A slot frees when its server has been quiet for [`IDLE_TICKS`] ticks
//! (the capture ticks once a minute): its series are removed, so the pod
//! IPs of a Deployment that rolled over do not pile up as dead series.
//! `interface` follows the interfaces open now (a vanished one's series is
//! removed), capped the same way at [`MAX_INTERFACES`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::analyzer::Sample;
use crate::report::Finding;

/// Distinct `server` label values with series of their own, by default.
/// A node sees the backends its own pods talk to: tens, not thousands.
pub const DEFAULT_SERVERS: usize = 50;
/// Distinct `interface` label values before `other`.
pub const MAX_INTERFACES: usize = 256;
/// The label value that stands for every endpoint or interface past the cap.
pub const OVERFLOW: &str = "other";
/// Ticks (minutes, as the capture ticks) without a finding or sample after
/// which a server's series are removed and its slot is free: longer than
/// Prometheus' 5-minute staleness, so a quiet server does not flap.
pub const IDLE_TICKS: u64 = 15;

/// Histogram buckets (seconds): fine from 0.5 s to 2 min, where most
/// keep-alive and idle timeouts are set (Node.js 5 s, Go's `IdleTimeout`
/// 1–2 min, nginx/ALB 60 s, gunicorn 2 s, Apache 5 s; see
/// docs/keepalive-defaults.md), with a boundary just above each common
/// default so that a timeout and its few milliseconds of lateness share a
/// bucket; then coarse up to Envoy's 1 h.
pub const BUCKETS: [f64; 22] = [
    0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 65.0, 75.0,
    90.0, 120.0, 300.0, 600.0, 3600.0,
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

/// A server with series of its own: when it was last active, and the label
/// sets it has in the families that carry more than the server (to remove
/// them when its slot frees).
#[derive(Default)]
struct Slot {
    last_tick: u64,
    kinds: BTreeSet<String>,
    verdicts: BTreeSet<String>,
}

/// The `server` label values: at most `max` with series of their own, the
/// most recently active.
struct Servers {
    max: usize,
    tick: u64,
    slots: HashMap<String, Slot>,
}

impl Servers {
    /// The label for `v`, taking a free slot if it has none; marks it active.
    fn label(&mut self, v: String) -> (String, Option<&mut Slot>) {
        if !self.slots.contains_key(&v) && self.slots.len() >= self.max {
            return (OVERFLOW.to_string(), None);
        }
        let tick = self.tick;
        let slot = self.slots.entry(v.clone()).or_default();
        slot.last_tick = tick;
        (v, Some(slot))
    }

    /// Advances the clock one tick; takes out the servers quiet for more
    /// than [`IDLE_TICKS`].
    fn tick(&mut self) -> Vec<(String, Slot)> {
        self.tick += 1;
        let now = self.tick;
        let quiet: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, s)| now - s.last_tick > IDLE_TICKS)
            .map(|(k, _)| k.clone())
            .collect();
        quiet
            .into_iter()
            .filter_map(|k| self.slots.remove_entry(&k))
            .collect()
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
    servers: Mutex<Servers>,
    interfaces: Capped,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(DEFAULT_SERVERS)
    }
}

impl Metrics {
    /// The metrics, registered, all at zero; at most `servers` server
    /// endpoints with series of their own.
    pub fn new(servers: usize) -> Metrics {
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
            servers: Mutex::new(Servers {
                max: servers,
                tick: 0,
                slots: HashMap::new(),
            }),
            interfaces: Capped::default(),
        }
    }

    fn servers(&self) -> std::sync::MutexGuard<'_, Servers> {
        self.servers.lock().expect("not poisoned")
    }

    /// Counts a finding as it is decided.
    pub fn finding(&self, f: &Finding) {
        let kind = f.race.as_ref().map(|r| r.kind.to_string());
        let verdict = f.verdict.to_string();
        let server = {
            let mut servers = self.servers();
            let (server, slot) = servers.label(f.server.to_string());
            if let Some(slot) = slot {
                slot.kinds.extend(kind.clone());
                slot.verdicts.insert(verdict.clone());
            }
            server
        };
        if let Some(kind) = kind {
            self.races
                .get_or_create(&ServerKind {
                    server: server.clone(),
                    kind,
                })
                .inc();
        }
        self.failures
            .get_or_create(&ServerVerdict { server, verdict })
            .inc();
    }

    /// A minute passed (the capture calls this once a minute): the series
    /// of servers quiet for more than [`IDLE_TICKS`] ticks are removed, and
    /// their slots free for other servers.
    pub fn tick(&self) {
        let quiet = self.servers().tick();
        for (server, slot) in quiet {
            for kind in slot.kinds {
                self.races.remove(&ServerKind {
                    server: server.clone(),
                    kind,
                });
            }
            for verdict in slot.verdicts {
                self.failures.remove(&ServerVerdict {
                    server: server.clone(),
                    verdict,
                });
            }
            let label = ServerLabel { server };
            self.idle_close.remove(&label);
            self.reuse.remove(&label);
        }
    }

    /// Records a timeout sample.
    pub fn sample(&self, s: Sample) {
        let (family, server, gap_ns) = match s {
            Sample::IdleClose { server, gap_ns } => (&self.idle_close, server, gap_ns),
            Sample::Reuse { server, gap_ns } => (&self.reuse, server, gap_ns),
        };
        let server = self.servers().label(server.to_string()).0;
        family
            .get_or_create(&ServerLabel { server })
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
    use crate::flow::Endpoint;
    use crate::report::{RaceKind, Verdict};
    use crate::synth::{Flow, findings, reset_race, secs};

    fn ep(s: &str) -> Endpoint {
        let a: SocketAddr = s.parse().unwrap();
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    }

    /// Races of kind `reset` against `server` (one per client port).
    fn races(server: &str, clients: u16) -> Vec<Finding> {
        let server: SocketAddr = server.parse().unwrap();
        let mut packets = Vec::new();
        for c in 0..clients {
            let mut f = Flow::new(
                ("10.0.0.1".parse().unwrap(), 40000 + c),
                (server.ip(), server.port()),
                1,
                9,
            );
            packets.extend(reset_race(&mut f, secs(f64::from(c) * 10.0), RTT));
        }
        findings(&packets)
    }

    const RTT: i64 = 1_000_000;

    /// The `server` label values of a family's lines.
    fn servers<'a>(om: &'a str, family: &str) -> BTreeSet<&'a str> {
        om.lines()
            .filter(|l| l.starts_with(family))
            .filter_map(|l| l.split("server=\"").nth(1)?.split('"').next())
            .collect()
    }

    #[test]
    fn test_names_labels_and_buckets() {
        let m = Metrics::default();
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
        // Issue 25: a 1.2 s timeout (gunicorn-like) is told from a 0.8 s
        // and a 1.8 s one.
        m.sample(Sample::IdleClose {
            server: ep("10.0.0.3:8000"),
            gap_ns: 1_200_000_000,
        });
        let om = m.text();
        for (le, n) in [("1.0", 0), ("1.5", 1), ("2.0", 1)] {
            let line = format!(
                "racecap_server_idle_close_seconds_bucket{{le=\"{le}\",server=\"10.0.0.3:8000\"}} {n}\n"
            );
            assert!(om.contains(&line), "{line}{om}");
        }
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
            .filter(|l| l.contains("10.0.0.2:3000"))
            .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap())
            .collect();
        assert_eq!(
            les,
            [
                "0.5", "1.0", "1.5", "2.0", "3.0", "4.0", "5.0", "6.0", "8.0", "10.0", "15.0",
                "20.0", "30.0", "45.0", "60.0", "65.0", "75.0", "90.0", "120.0", "300.0", "600.0",
                "3600.0", "+Inf"
            ]
        );
    }

    #[test]
    fn test_server_labels_are_capped() {
        let m = Metrics::default();
        for port in 0..(DEFAULT_SERVERS as u16 + 5) {
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
        assert_eq!(servers.len(), DEFAULT_SERVERS + 1);
        assert!(servers.contains(OVERFLOW));
        assert!(
            om.contains("racecap_reuse_after_idle_seconds_count{server=\"other\"} 5\n"),
            "{om}"
        );
        // Sanity of the enums the labels print.
        assert_eq!(RaceKind::Stale.to_string(), "stale");
        assert_eq!(Verdict::KeepaliveRace.to_string(), "keepalive_race");
    }

    /// Issue 25: pod IPs churn (a rollout gives every backend pod a new
    /// IP). A server quiet for IDLE_TICKS minutes loses its series, races
    /// and failures included, and its slot goes to a server that was
    /// counted as `other` meanwhile; an active one keeps its series.
    #[test]
    fn test_25_quiet_servers_free_their_slots() {
        let m = Metrics::new(2);
        let old = races("10.1.0.5:8080", 2);
        assert_eq!(old.len(), 2);
        assert!(old.iter().all(|f| f.race.is_some()), "{old:?}");
        for f in &old {
            m.finding(f);
        }
        m.sample(Sample::IdleClose {
            server: ep("10.1.0.5:8080"),
            gap_ns: 5_000_000_000,
        });
        let busy = ep("10.1.0.6:8080");
        m.sample(Sample::Reuse {
            server: busy,
            gap_ns: 1_000_000_000,
        });
        // Full: a third server is `other`.
        let new = races("10.1.0.9:8080", 1);
        m.finding(&new[0]);
        let om = m.text();
        assert_eq!(
            servers(&om, "racecap_keepalive_races_total"),
            ["10.1.0.5:8080", "other"].into()
        );
        assert!(
            om.contains(
                "racecap_failures_total{server=\"10.1.0.5:8080\",verdict=\"keepalive_race\"} 2\n"
            ),
            "{om}"
        );
        // The busy server stays active through the ticks; the old one not.
        for _ in 0..=IDLE_TICKS {
            m.tick();
            m.sample(Sample::Reuse {
                server: busy,
                gap_ns: 1_000_000_000,
            });
        }
        let om = m.text();
        for family in [
            "racecap_keepalive_races_total",
            "racecap_failures_total",
            "racecap_server_idle_close_seconds_count",
            "racecap_reuse_after_idle_seconds_count",
        ] {
            assert!(
                !servers(&om, family).contains("10.1.0.5:8080"),
                "{family}: {om}"
            );
        }
        assert!(servers(&om, "racecap_reuse_after_idle_seconds_count").contains("10.1.0.6:8080"));
        // The freed slot goes to the next new server.
        m.finding(&new[0]);
        let om = m.text();
        assert_eq!(
            servers(&om, "racecap_keepalive_races_total"),
            ["10.1.0.9:8080", "other"].into()
        );
        assert!(
            om.contains(
                "racecap_keepalive_races_total{server=\"10.1.0.9:8080\",kind=\"reset\"} 1\n"
            ),
            "{om}"
        );
    }
}
