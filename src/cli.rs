//! Command-line flags (clap derive; the doc comments are the help text).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use racecap::analyzer::{Config, Focus};
use racecap::flow::Endpoint;

/// Explain intermittent HTTP 502/503s between a proxy and its backends from
/// packet captures: keep-alive races, resets, timeouts, and the fix.
#[derive(Debug, Parser)]
#[command(name = "racecap", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report on captures (pcap, pcapng, gzip-compressed or not; `-` reads standard input).
    Analyze(AnalyzeArgs),
    /// Capture live on an interface (e.g. a pod's veth): print findings as they
    /// happen, and the report at the end (needs the `live` build feature).
    Capture(CaptureArgs),
    /// Watch the kernel's TCP sockets in every network namespace of this
    /// host through eBPF (no packet is copied): print races as they happen,
    /// and the report at the end (needs the `ebpf` build feature, and
    /// CAP_BPF with CAP_PERFMON, or root).
    Watch(WatchArgs),
    /// List network interfaces with their index and, for veths, the peer.
    Interfaces(InterfacesArgs),
    /// Print a shell completion script on standard output (e.g.
    /// `racecap completions bash > /etc/bash_completion.d/racecap`).
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output
    /// (`racecap man > racecap.1; man ./racecap.1`); with a command, that
    /// command's page with all its options (`racecap man analyze`:
    /// racecap-analyze(1)).
    Man {
        /// analyze, capture, watch, interfaces, completions.
        command: Option<String>,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// One JSON document (schema: docs/report-schema.md).
    Json,
    /// One JSON object per finding, one per line.
    Jsonl,
    /// One self-contained HTML page with the pictures: per server the idle
    /// closes beside the reuse gaps, one ladder diagram per race (use -o:
    /// refused on a terminal).
    Html,
}

/// When to exit with status 1 (for CI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any keep-alive race.
    Race,
    /// Any failing connection (races, resets, refused or timed-out connects).
    Failure,
    /// A 5xx or error line of a `--proxy-log` that the capture does not explain.
    Unexplained,
    /// Never (exit 0 whatever was found).
    Never,
}

/// Options shared by `analyze` and `capture`: what to report and how.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only connections to or from this endpoint (IP:PORT, [IPv6]:PORT), or
    /// any port of this address (IP).
    #[arg(long, value_name = "IP[:PORT]", conflicts_with = "port")]
    pub server: Option<String>,

    /// Only connections with this port on either side.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// Exit with status 1 when the capture shows this (for CI gates).
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,

    /// List every connection with its verdict and history.
    #[arg(long)]
    pub connections: bool,

    /// Most connections tracked at once; beyond it the longest idle are
    /// evicted (and counted).
    #[arg(long, value_name = "N", default_value_t = racecap::flow::table::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Most memory for connection state, in MiB (about 250 bytes per open
    /// connection, more for one holding a FIN or a waiting request); beyond
    /// it the longest idle are evicted (and counted). The process needs
    /// up to about 55 MiB more (measured, whatever the budget) for the
    /// findings it lists, retry watches and buffers; a live capture also
    /// maps libpcap's ring (about 40 MiB for a named interface, 4 MiB for
    /// each one a pattern brings in).
    #[arg(long, value_name = "MIB", default_value_t = racecap::analyzer::DEFAULT_MAX_MEMORY >> 20,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    pub max_memory: usize,

    /// The proxy in front of the servers, so the fix names only its knobs:
    /// istio, envoy, nginx, haproxy, caddy, traefik, alb, linkerd or
    /// library (a client pool in an application). Without it, the proxy
    /// is recognised where the traffic or `--proxy-log` shows it.
    #[arg(long, value_name = "PROXY", value_parser = parse_proxy)]
    pub proxy: Option<racecap::analysis::proxy::ProxyKind>,

    /// Rows of the findings table (JSON always has them all); 0 for all.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Width of the tables in columns (default: the terminal's; written to
    /// a pipe or a file, the tables do not wrap).
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,

    /// The fix with its reasons and every note, not only what to change.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

fn parse_proxy(s: &str) -> Result<racecap::analysis::proxy::ProxyKind, String> {
    use racecap::analysis::proxy::ProxyKind;
    ProxyKind::ALL
        .iter()
        .copied()
        .find(|p| p.name() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = ProxyKind::ALL.iter().map(|p| p.name()).collect();
            format!("unknown proxy {s:?} (one of: {})", names.join(", "))
        })
}

impl ReportArgs {
    /// The analysis these flags ask for (`live`: findings as they are decided).
    pub fn config(&self, live: bool) -> Result<Config> {
        self.check_output()?;
        Ok(Config {
            focus: self.focus()?,
            keep_connections: self.connections,
            live,
            // Set by `capture` when its metrics drain them.
            samples: false,
            max_connections: self.max_connections,
            max_memory: self.max_memory << 20,
        })
    }

    /// An HTML page is a file to open, not text to read: on a terminal
    /// without `-o` it would scroll past as markup (issue 26), so refuse
    /// before reading anything. Redirected or piped, it is written as asked.
    fn check_output(&self) -> Result<()> {
        use std::io::IsTerminal;
        if self.format == Format::Html && self.output.is_none() && std::io::stdout().is_terminal() {
            anyhow::bail!(
                "--format html writes a page to open in a browser, not to a terminal: add -o report.html (or redirect standard output)"
            );
        }
        Ok(())
    }

    fn focus(&self) -> Result<Focus> {
        if let Some(s) = &self.server {
            // A bare address (`10.0.0.2`, `fd00::2`, `[fd00::2]`): every port.
            let bare = s.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
                return Ok(Focus::Host(ip));
            }
            let addr: SocketAddr = s
                .parse()
                .with_context(|| format!("--server {s}: expected IP, IP:PORT or [IPv6]:PORT"))?;
            return Ok(Focus::Server(Endpoint {
                ip: addr.ip(),
                port: addr.port(),
            }));
        }
        Ok(self.port.map_or(Focus::All, Focus::Port))
    }
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Capture files; several are read as one timeline. `-` is standard input.
    #[arg(required = true, value_name = "FILE|-")]
    pub files: Vec<String>,

    #[command(flatten)]
    pub report: ReportArgs,

    /// Write every packet of the failing connections to this pcap file (opens in Wireshark).
    #[arg(long, value_name = "FILE.pcap")]
    pub evidence: Option<PathBuf>,

    #[command(flatten)]
    pub proxy_log: ProxyLogArgs,
}

/// `--proxy-log` and how to read it.
#[derive(Debug, clap::Args)]
pub struct ProxyLogArgs {
    /// A proxy's log (Envoy, Istio, nginx access or error, HAProxy; gzip or
    /// not): each 5xx or error line is tied to the connection that explains
    /// it. Repeat for several files.
    #[arg(long = "proxy-log", value_name = "FILE")]
    pub logs: Vec<PathBuf>,

    /// The logs' format, instead of detecting it from the lines: envoy,
    /// istio, envoy-json, nginx-error, nginx-combined, nginx-json,
    /// haproxy-httplog, haproxy-log-format.
    #[arg(long = "proxy-log-format", value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<racecap::proxylog::LogFormat>,

    /// nginx's `log_format` for its access log, when it is not `combined`
    /// (e.g. '$msec "$request" $status "$upstream_addr" "$upstream_status"').
    #[arg(long = "nginx-log-format", value_name = "LOG_FORMAT")]
    pub nginx_log_format: Option<String>,

    /// HAProxy's `log-format`, when it is not `option httplog`'s (e.g.
    /// '%Ts.%ms %ST %tsc %bi:%bp %si:%sp %{+Q}r %TR/%Tw/%Tc/%Tr/%Ta'); with
    /// `%bi:%bp` each line names its backend connection.
    #[arg(long = "haproxy-log-format", value_name = "LOG_FORMAT")]
    pub haproxy_log_format: Option<String>,
}

fn parse_log_format(s: &str) -> Result<racecap::proxylog::LogFormat, String> {
    use racecap::proxylog::LogFormat;
    LogFormat::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = LogFormat::ALL.iter().map(|f| f.name()).collect();
        format!("unknown log format {s:?} (one of: {})", names.join(", "))
    })
}

#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Interface to capture on, e.g. a pod's host-side veth. Repeat it for
    /// several; a pattern (`'veth*'`, `'cali*'`, `'lxc*'`) also takes the
    /// matching interfaces that appear while capturing, and lets go of
    /// those that vanish. `any` is every interface, as for tcpdump.
    #[arg(short = 'i', long = "interface", value_name = "IFACE|PATTERN")]
    pub interface: Vec<String>,

    /// Capture on the interface with this index: the number a container
    /// prints from `cat /sys/class/net/eth0/iflink` names its host-side veth.
    #[arg(long, value_name = "N", conflicts_with = "interface")]
    pub ifindex: Option<u32>,

    /// Capture for the pod with this UID, found on this node through its
    /// processes' cgroups (needs the node's PIDs, and CAP_SYS_PTRACE when
    /// the pod does not run as root): on its node-side veth, or with `-i`
    /// (e.g. `-i lo`, the sidecar → app hop) inside its network namespace,
    /// as `--netns` with its PID would (CAP_SYS_ADMIN).
    #[arg(long, value_name = "UID", conflicts_with_all = ["ifindex", "netns"])]
    pub pod: Option<String>,

    /// Capture inside this network namespace: a name from `ip netns`, a
    /// path such as /proc/PID/ns/net, or a PID (a pod's app process, so that
    /// `-i lo` sees the sidecar → app hop). Output files and the metrics
    /// listener stay in racecap's own namespace. Needs CAP_SYS_ADMIN.
    #[arg(long, value_name = "NAME|PATH|PID")]
    pub netns: Option<String>,

    /// Serve Prometheus metrics on ADDR:PORT at /metrics (races, failures,
    /// idle-close and reuse histograms, packets, drops, open connections),
    /// in racecap's own network namespace even with --netns.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Server endpoints with metrics series of their own (the most
    /// recently active); the others share `server="other"`. A server quiet
    /// for 15 minutes gives its place up.
    #[arg(long, value_name = "N", default_value_t = racecap::metrics::DEFAULT_SERVERS)]
    pub metrics_servers: usize,

    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,

    /// Stop after this long (e.g. 60s, 10m, 1h, 500ms; a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Bytes kept per packet: enough for the headers, the HTTP request line
    /// and the response's headers, not whole payloads.
    #[arg(
        short = 's',
        long = "snaplen",
        value_name = "SNAPLEN",
        default_value_t = 1024
    )]
    pub snaplen: i32,

    /// Also write what was captured to this pcap file (for `racecap analyze` or Wireshark).
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<PathBuf>,

    #[command(flatten)]
    pub report: ReportArgs,

    /// BPF filter expression, as for tcpdump (e.g. `tcp port 3000`).
    #[arg(trailing_var_arg = true, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Serve Prometheus metrics on ADDR:PORT at /metrics (races, failures,
    /// idle-close and reuse histograms, open connections).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Server endpoints with metrics series of their own (the most
    /// recently active); the others share `server="other"`. A server quiet
    /// for 15 minutes gives its place up.
    #[arg(long, value_name = "N", default_value_t = racecap::metrics::DEFAULT_SERVERS)]
    pub metrics_servers: usize,

    /// Stop after this long (e.g. 60s, 10m, 1h, 500ms; a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, clap::Args)]
pub struct InterfacesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// List the interfaces of this network namespace (a name from
    /// `ip netns`, a path such as /proc/PID/ns/net, or a PID).
    #[arg(long, value_name = "NAME|PATH|PID")]
    pub netns: Option<String>,
}

/// Parses `60s`, `10m`, `1h`, `500ms` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("the duration must be positive: {s:?}"));
    }
    // Beyond u64 seconds (some 585 billion years) `from_secs_f64` panics.
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| format!("too long a duration: {s:?}"))
}
