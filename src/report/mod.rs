//! The report: one typed serde model for people (tables, rendered by the
//! binary) and machines (JSON, documented in docs/report-schema.md). Field
//! names are stable; `schema_version` changes when one does. Values are
//! typed (verdicts, kinds and roles are enums, times are [`Timestamp`]s,
//! durations [`Millis`]) and become strings and milliseconds only when
//! serialised, in [`crate::units`].

mod build;
pub mod histogram;
pub mod matching;
pub mod proxy;
pub mod proxy_log;
pub mod refused;
pub mod remedies;
mod servers;
pub mod summary;
mod warnings;

use std::collections::BTreeMap;

use serde::Serialize;

pub use build::{Totals, connection_row, finding, nothing_decoded};
pub use servers::{ClientReport, Distribution, ServerReport, TlsReport, server_report};
pub use summary::{ServerSummary, Summary};
pub use warnings::Warning;

pub use crate::analysis::cause::Cause;
pub use crate::analysis::verdict::{Peer, RaceKind, RoleSource, Verdict};
use crate::app::http::Method;
pub use crate::app::protocol::Protocol;
pub use crate::app::response::BodyFraming;
use crate::flow::{Endpoint, FlowKey};
pub use crate::proxylog::symptoms::Symptoms;
use crate::source::FileFormat;
pub use crate::source::place::Place;
pub use crate::units::{Millis, Timestamp};

/// Version of the JSON layout. Bumped when a field is renamed or removed,
/// or its type changes (2: `race.retried`, `race.fin_at`, `race.fin_seq`
/// and `race.fin_to_request_ms` may be null).
pub const SCHEMA_VERSION: u32 = 2;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// The impact in a few numbers: requests, races, what the clients lost.
    pub summary: Summary,
    pub capture: Capture,
    /// Every verdict name with its count (zeros included), by name.
    pub verdict_counts: BTreeMap<&'static str, u64>,
    /// Failing connections, by start time.
    pub findings: Vec<Finding>,
    /// Per server endpoint: timeouts measured on both sides and the fix.
    pub servers: Vec<ServerReport>,
    /// Every connection, with `--connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<Vec<Connection>>,
    /// What `--proxy-log` read and how its lines match the connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_log: Option<proxy_log::ProxyLog>,
    /// The proxy the fix is written for (`--proxy`, or recognised in the
    /// traffic or the proxy log); null when not known.
    pub proxy: Option<proxy::ProxySeen>,
    /// Per cause other than the server's idle timer (a restart, a peer
    /// gone, the path, the application): what helps there instead of a
    /// timeout change, for the proxy that is there. Absent when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<remedies::Remedy>,
}

/// Which program wrote the report.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// What was read, and what could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct Capture {
    pub files: Vec<FileInfo>,
    pub packets: u64,
    pub bytes: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// From the first packet to the last, seconds (to the millisecond).
    pub duration_s: f64,
    pub tcp_segments: u64,
    /// Distinct TCP 4-tuples (with VLAN ids).
    pub connections_4tuples: u64,
    /// Connections tracked (a 4-tuple reused with a new handshake counts again).
    pub connections: u64,
    /// Frames that yielded no TCP segment, by reason (zeros included).
    pub skipped: BTreeMap<&'static str, u64>,
    /// Segments whose payload the snaplen cut (headers were still read).
    pub payload_cut_by_snaplen: u64,
    /// Segments that started after a hole in their sequence space: data
    /// missing from the capture (not the same as payload cut by snaplen).
    pub sequence_holes: u64,
    /// Most connections open at once.
    pub peak_open_connections: u64,
    /// Segments outside `--server` / `--port`, not analysed.
    pub filtered_out: u64,
    /// Connections whose start the capture missed (no handshake seen): their
    /// roles are inferred and their history incomplete.
    pub started_before_capture: u64,
    /// Connections still open when the capture ended (their end is unseen).
    pub open_at_end: u64,
    /// Connections pushed out of the table while open (`--max-connections`):
    /// their verdicts are incomplete.
    pub evicted_connections: u64,
    /// Live capture only: packets the kernel dropped because they were not
    /// read fast enough (libpcap's ps_drop), and those the interface dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_dropped: Option<u64>,
    /// IP fragment reassembly, when the capture held fragments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_fragments: Option<IpFragments>,
    /// Things the reader of the report should know (cut files, overlaps).
    pub warnings: Vec<Warning>,
}

/// What IP fragment reassembly did (`decode::fragment`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IpFragments {
    /// Datagrams reassembled from fragments.
    pub reassembled: u64,
    /// Fragments that made no datagram (timed out, over the budget,
    /// incomplete at the end, inconsistent, or inside a datagram itself
    /// reassembled).
    pub dropped: u64,
    /// Fragments that overlapped bytes already held (the first was kept).
    pub overlapping: u64,
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub name: String,
    pub format: FileFormat,
    pub gzip: bool,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

/// An HTTP request line, with whether a retry is safe.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// RFC 9110 §9.2.2.
    pub idempotent: bool,
}

/// The upstream failure a proxy passed on to a client connection
/// (cause `upstream`): its connection and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamRef {
    pub verdict: Verdict,
    pub client: Endpoint,
    pub server: Endpoint,
    pub at: Timestamp,
}

/// A failing connection.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub verdict: Verdict,
    pub client: Endpoint,
    pub server: Endpoint,
    /// VLAN ids (outer, inner) when tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vec<u16>>,
    /// How the client side was decided: `handshake`, or inferred from HTTP,
    /// from an endpoint seen as a server elsewhere, or from the lower port.
    pub role: RoleSource,
    pub start: Timestamp,
    pub end: Timestamp,
    pub history: String,
    /// When the failure happened (the RST, the FIN, the last SYN).
    pub at: Timestamp,
    /// What the connection spoke: `http1`, `tls` or `unknown`.
    pub protocol: Protocol,
    /// What closed or reset the connection (`idle_timer`, `restart`,
    /// `application`, `peer_gone`, `path`, `upstream`); absent for
    /// failures of the client or the connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Cause `upstream`: the upstream failure the proxy passed on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub race: Option<Race>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<Connect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<Reset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unacknowledged: Option<Unacknowledged>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<Unanswered>,
    /// The 5xx status a proxy sent its client for this lost request, when
    /// the capture holds the proxy's client leg too (the same request
    /// answered 5xx on another connection just after this failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_status: Option<u16>,
    /// What Envoy, nginx and HAProxy log for this kind of failure.
    pub logged_as: Option<&'static Symptoms>,
    /// The `--proxy-log` lines matched to this connection (with `--proxy-log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_lines: Option<Vec<proxy_log::LogRef>>,
    /// Live capture: the interface, peer namespace and pod (`interface`,
    /// `netns`, `peer_netns`, `pod` at the finding's top level).
    #[serde(flatten)]
    pub place: Option<Place>,
    /// Internal: connection id, to join retries and break ties in order.
    #[serde(skip)]
    pub conn_id: u64,
    /// Internal: the connection's key, to find its packets again
    /// (`--evidence`, between `start` and `end`).
    #[serde(skip)]
    pub key: FlowKey,
    /// Internal: the connection that carried the retry of its lost
    /// request (`--evidence` copies it whole).
    #[serde(skip)]
    pub retry_key: Option<FlowKey>,
    /// Internal: the input its connection came in on (a live capture's
    /// interface id), to name where it happened.
    #[serde(skip)]
    pub input: u32,
}

/// Evidence of a keep-alive race.
#[derive(Debug, Clone, Serialize)]
pub struct Race {
    pub kind: RaceKind,
    pub syn_at: Option<Timestamp>,
    /// Last payload before the idle period the server's FIN ended.
    pub last_exchange_at: Option<Timestamp>,
    /// The server's FIN; none for a `reset` race.
    pub fin_at: Option<Timestamp>,
    pub request_at: Timestamp,
    pub rst_at: Option<Timestamp>,
    pub idle_before_fin_ms: Option<Millis>,
    /// Idle time before the server's close: its FIN, or its RST in a
    /// `reset` race.
    pub idle_before_close_ms: Option<Millis>,
    /// Negative when the capture saw the request before the FIN; none
    /// without a FIN.
    pub fin_to_request_ms: Option<Millis>,
    /// The request's raw ACK number (None without the ACK flag). Compared
    /// with `fin_seq` it shows the kind: crossed when it does not reach
    /// `fin_seq + 1`. Raw numbers, to find the packets in Wireshark.
    pub request_ack: Option<u32>,
    pub fin_seq: Option<u32>,
    pub request: Option<Request>,
    /// Bytes of the lost request (for TLS, of its application-data
    /// records: the size is all that can be read of it).
    pub request_bytes: u64,
    /// The server's TLS close_notify (an alert record) before its FIN.
    pub close_notify_at: Option<Timestamp>,
    /// Requests the client had sent on this connection before the lost one.
    pub requests_before: u32,
    /// The same request went out again on another connection shortly
    /// after; none when the request line is unknown (cut, encrypted).
    pub retried: Option<bool>,
    pub retry_at: Option<Timestamp>,
    /// The proxy retried the request, but the retry's connect to the same
    /// server was refused (a restart): the request is still lost
    /// (`retried` false). Omitted when not seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_refused_at: Option<Timestamp>,
    /// HTTP/2: whether the server processed the lost stream; false when
    /// its id was above the GOAWAY's last-stream-id (safe to retry, even
    /// a POST). Null when unknown, and for HTTP/1.
    pub processed: Option<bool>,
    /// HTTP/2: the server's first GOAWAY, where its close began.
    pub goaway_at: Option<Timestamp>,
}

/// Evidence of a response the server cut short.
#[derive(Debug, Clone, Serialize)]
pub struct Truncated {
    /// The request it answered, when its line was read.
    pub request: Option<Request>,
    pub status: u16,
    /// How its length was announced.
    pub framing: BodyFraming,
    /// `Content-Length`; null for chunked.
    pub expected_body_bytes: Option<u64>,
    /// Body bytes the server sent before closing.
    pub body_bytes_sent: u64,
    /// The response's head.
    pub response_at: Timestamp,
    /// The server's FIN and RST (either or both).
    pub fin_at: Option<Timestamp>,
    pub rst_at: Option<Timestamp>,
    /// From the server's last byte to its close.
    pub silent_before_close_ms: Option<Millis>,
}

/// Evidence of a client that gave up waiting for its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Timeout {
    /// The unanswered request, when its line was read.
    pub request: Option<Request>,
    pub request_at: Option<Timestamp>,
    /// The client's FIN.
    pub fin_at: Timestamp,
    /// From the request to the client's FIN: how long it waited.
    pub waited_ms: Option<Millis>,
    /// The server answered after the client's FIN (and the client's RST
    /// refused the answer).
    pub answered_late: bool,
    pub rst_at: Option<Timestamp>,
}

/// Evidence of a request the server never acknowledged.
#[derive(Debug, Clone, Serialize)]
pub struct Unacknowledged {
    /// The request, when its line was read.
    pub request: Option<Request>,
    pub request_at: Timestamp,
    /// The idle gap the request ended on the reused connection.
    pub idle_before_ms: Option<Millis>,
    /// From the request to the connection's last packet (its last
    /// retransmission, as a rule): how long it went unacknowledged.
    pub unacknowledged_ms: Millis,
    /// The same request went out again on another connection shortly
    /// after (the proxy's retry); absent when the request line is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried: Option<bool>,
}

/// Evidence of a `no_response`: the request the server read and closed on.
#[derive(Debug, Clone, Serialize)]
pub struct Unanswered {
    /// The request, when its line was read.
    pub request: Option<Request>,
    pub request_at: Timestamp,
    /// The server's FIN, which acknowledged the request (none when an
    /// HTTP/2 stream was refused and the connection stayed open).
    pub fin_at: Option<Timestamp>,
    /// HTTP/2: when the server reset the request's stream (RST_STREAM).
    pub stream_reset_at: Option<Timestamp>,
    /// From the request to the server's end of it (the stream's reset,
    /// else the FIN).
    pub request_to_close_ms: Millis,
    /// The idle gap the request ended, on a reused connection.
    pub idle_before_ms: Option<Millis>,
}

/// Evidence of a failed connect.
#[derive(Debug, Clone, Serialize)]
pub struct Connect {
    /// Times of the SYN and its retransmissions (the first few).
    pub syn_times: Vec<Timestamp>,
    pub syns: u32,
    pub rst_at: Option<Timestamp>,
    /// A refused connect: the proxy's retry of the race just before it on
    /// the same server (`race.retry_refused_at`), the same request and no
    /// second lost one. Omitted when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub race_retry: bool,
}

/// Evidence of a reset.
#[derive(Debug, Clone, Serialize)]
pub struct Reset {
    pub by: Peer,
    pub rst_at: Timestamp,
    pub idle_before_ms: Option<Millis>,
    /// The other side's data left unanswered by the RST.
    pub outstanding_since: Option<Timestamp>,
    pub request: Option<Request>,
    /// A server's reset of a request: the same request went out again on
    /// another connection shortly after (the proxy's retry). Absent for a
    /// client's reset and when the request line is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried: Option<bool>,
    pub bytes_in_flight_to_server: u64,
    pub bytes_in_flight_to_client: u64,
}

/// One connection, with `--connections`.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub client: Endpoint,
    pub server: Endpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vec<u16>>,
    pub role: RoleSource,
    pub verdict: Verdict,
    pub history: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub duration_ms: Millis,
    pub packets_to_server: u64,
    pub packets_to_client: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    /// Requests the client sent (HTTP/2: streams it opened).
    pub requests: u32,
    pub protocol: Protocol,
    /// HTTP/2: the server's first GOAWAY, where its close began (null
    /// for other protocols and for servers that sent none).
    pub server_goaway_at: Option<Timestamp>,
    /// Internal: connection id, to break ties in order.
    #[serde(skip)]
    pub id: u64,
}

impl Report {
    /// Decides [`Report::proxy`]: the one named (`--proxy`), else the one the run recognised.
    pub fn settle_proxy(&mut self, named: Option<crate::analysis::proxy::ProxyKind>) {
        self.proxy = match named {
            Some(kind) => Some(proxy::ProxySeen {
                kind,
                source: proxy::ProxySource::Flag,
            }),
            None => proxy::detect(&self.servers, self.proxy_log.as_ref()),
        };
        self.remedies =
            remedies::remedies(&self.findings, &self.servers, self.proxy.map(|p| p.kind));
        self.settle_server_steps();
    }

    /// Behind a known proxy whose pool keeps idle connections longer than
    /// the server step's value (its own idle close not seen), the server
    /// step clears that default, or says that no server timeout can (Envoy
    /// and Istio: 1 h): decided here, once the proxy is known, so that the
    /// JSON says what the table says (issue 21). Applying it twice changes
    /// nothing.
    fn settle_server_steps(&mut self) {
        use crate::analysis::defaults::server_step_behind;
        use crate::analysis::proxy::ProxyKind;
        let Some(kind) = self
            .proxy
            .map(|p| p.kind)
            .filter(|k| *k != ProxyKind::Library)
        else {
            return;
        };
        let Some(row) = kind.knob_row() else {
            return;
        };
        for s in &mut self.servers {
            // The proxies' own idle close was measured: their pool's
            // default is not what they do.
            if s.idle_before_client_fin
                .as_ref()
                .is_some_and(|d| d.is_client_timeout())
            {
                continue;
            }
            for i in 0..s.recommendations.len() {
                if let Some(b) =
                    server_step_behind(&s.recommendations[i], &s.matches, row, kind.label())
                {
                    s.recommendations[i] = b;
                }
            }
        }
    }

    /// Connections with this verdict (all of them: `findings` may be cut at its cap).
    pub fn count(&self, v: Verdict) -> u64 {
        self.verdict_counts.get(v.name()).copied().unwrap_or(0)
    }

    /// Keep-alive races (all of them).
    pub fn races(&self) -> u64 {
        self.count(Verdict::KeepaliveRace)
    }

    /// Failing connections of any kind (all of them, like [`races`](Self::races)).
    pub fn failures(&self) -> u64 {
        Verdict::ALL
            .iter()
            .filter(|v| v.is_failure())
            .map(|v| self.count(*v))
            .sum()
    }
}
