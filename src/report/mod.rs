//! The report: one serde model for people (tables, rendered by the binary)
//! and machines (JSON, documented in docs/report-schema.md). Field names are
//! stable; `schema_version` changes when one does.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

pub use crate::analysis::timeouts::ServerReport;

/// Version of the JSON layout. Bumped when a field is renamed or removed.
pub const SCHEMA_VERSION: u32 = 1;

/// RFC 3339 in UTC with nanoseconds, e.g. `2026-11-26T17:56:21.123456789Z`.
pub fn rfc3339(ns: i64) -> String {
    DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Milliseconds with microsecond precision, from nanoseconds.
pub fn ms(ns: i64) -> f64 {
    (ns as f64 / 1000.0).round() / 1000.0
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub capture: Capture,
    /// Every verdict name with its count (zeros included).
    pub verdict_counts: BTreeMap<&'static str, u64>,
    /// Failing connections, by start time.
    pub findings: Vec<Finding>,
    /// Per server endpoint: timeouts measured on both sides and the fix.
    pub servers: Vec<ServerReport>,
    /// Every connection, with `--connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<Vec<Connection>>,
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
    pub first: Option<String>,
    pub last: Option<String>,
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
    /// Things the reader of the report should know (cut files, overlaps).
    pub warnings: Vec<String>,
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub name: String,
    pub format: &'static str,
    pub gzip: bool,
    pub link_types: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    pub first: Option<String>,
    pub last: Option<String>,
}

/// An HTTP request line, with whether a retry is safe.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    /// RFC 9110 §9.2.2.
    pub idempotent: bool,
}

/// A failing connection.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub verdict: &'static str,
    pub client: String,
    pub server: String,
    /// VLAN ids (outer, inner) when tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vec<u16>>,
    /// How the client side was decided: `handshake`, or inferred from HTTP,
    /// from an endpoint seen as a server elsewhere, or from the lower port.
    pub role: &'static str,
    pub start: String,
    pub end: String,
    pub history: String,
    /// When the failure happened (the RST, the FIN, the last SYN).
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub race: Option<Race>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<Connect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<Reset>,
    /// Internal: nanosecond start for sorting.
    #[serde(skip)]
    pub start_ns: i64,
    /// Internal: connection id, to join retries.
    #[serde(skip)]
    pub conn_id: u64,
    /// Internal: the connection's key and time span, to find its packets
    /// again (`--evidence`).
    #[serde(skip)]
    pub span: (crate::flow::FlowKey, i64, i64),
}

/// Evidence of a keep-alive race.
#[derive(Debug, Clone, Serialize)]
pub struct Race {
    /// `crossed` or `stale`.
    pub kind: &'static str,
    pub syn_at: Option<String>,
    /// Last payload before the idle period the server's FIN ended.
    pub last_exchange_at: Option<String>,
    pub fin_at: String,
    pub request_at: String,
    pub rst_at: Option<String>,
    pub idle_before_fin_ms: Option<f64>,
    /// Negative when the capture saw the request before the FIN.
    pub fin_to_request_ms: f64,
    /// The request's raw ACK number (None without the ACK flag). Compared
    /// with `fin_seq` it shows the kind: crossed when it does not reach
    /// `fin_seq + 1`. Raw numbers, to find the packets in Wireshark.
    pub request_ack: Option<u32>,
    pub fin_seq: u32,
    pub request: Option<Request>,
    /// Requests the client had sent on this connection before the lost one.
    pub requests_before: u32,
    /// The same request went out again on another connection shortly after.
    pub retried: bool,
    pub retry_at: Option<String>,
}

/// Evidence of a failed connect.
#[derive(Debug, Clone, Serialize)]
pub struct Connect {
    /// Times of the SYN and its retransmissions (the first few).
    pub syn_times: Vec<String>,
    pub syns: u32,
    pub rst_at: Option<String>,
}

/// Evidence of a reset.
#[derive(Debug, Clone, Serialize)]
pub struct Reset {
    /// `server` or `client`.
    pub by: &'static str,
    pub rst_at: String,
    pub idle_before_ms: Option<f64>,
    /// The other side's data left unanswered by the RST.
    pub outstanding_since: Option<String>,
    pub request: Option<Request>,
    pub bytes_in_flight_to_server: u64,
    pub bytes_in_flight_to_client: u64,
}

/// One connection, with `--connections`.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub client: String,
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vec<u16>>,
    pub role: &'static str,
    pub verdict: &'static str,
    pub history: String,
    pub start: String,
    pub end: String,
    pub duration_ms: f64,
    pub packets_to_server: u64,
    pub packets_to_client: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    pub requests: u32,
    #[serde(skip)]
    pub start_ns: i64,
    #[serde(skip)]
    pub id: u64,
}

impl Report {
    /// Keep-alive races (all of them: `findings` may be cut at its cap).
    pub fn races(&self) -> u64 {
        self.verdict_counts
            .get("keepalive_race")
            .copied()
            .unwrap_or(0)
    }

    /// Failing connections of any kind (all of them, like [`races`](Self::races)).
    pub fn failures(&self) -> u64 {
        crate::analysis::verdict::Verdict::ALL
            .iter()
            .filter(|v| v.is_failure())
            .map(|v| self.verdict_counts.get(v.name()).copied().unwrap_or(0))
            .sum()
    }
}
