//! The `proxy_log` section: what `--proxy-log` read and how each 5xx or
//! error line ties to a connection (docs/report-schema.md, "ProxyLog").
//! Filled by [`super::matching`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::verdict::Verdict;
use crate::flow::Endpoint;
use crate::named::named_enum;
use crate::proxylog::LogFormat;
use crate::units::{Millis, Timestamp};

named_enum! {
    /// How a line was tied to its connection.
    pub enum MatchKind {
        /// By the 4-tuple the line names (the proxy's upstream source
        /// address and the upstream).
        Exact => "exact",
        /// By upstream, request line and time (with the clock offset): the
        /// only connection that fits.
        RequestTime => "request_time",
        /// Several connections fit, all with the same failing verdict (a
        /// request and nginx's retry of it, both reset within the logged
        /// second): the line is explained by that verdict whichever of
        /// them it names, so `client` is `null` (issue 21).
        SameVerdict => "same_verdict",
    }
}

named_enum! {
    /// Why a 5xx or error line has no explanation in the capture.
    pub enum Reason {
        /// Its time is outside the capture's, even allowing for the offset.
        OutsideCapture => "outside_capture",
        /// No connection in the capture goes to the upstream it names.
        UpstreamNotInCapture => "upstream_not_in_capture",
        /// The upstream is in the capture, but no failing connection fits
        /// the line's request and time.
        NoMatchingConnection => "no_matching_connection",
        /// Several connections fit (or another line of the same file took
        /// the one that fits): reported, not guessed.
        Ambiguous => "ambiguous",
        /// The proxy picked no backend (Envoy's `UH`: `%UPSTREAM_HOST%` is
        /// `-`), or the line names neither upstream nor request.
        NoUpstream => "no_upstream",
        /// The backend sent the 5xx itself (Envoy's `via_upstream`): its
        /// connection is healthy.
        FromBackend => "from_backend",
        /// The line names a connection exactly, and it did not fail.
        NotAFailure => "not_a_failure",
    }
}

/// The section.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyLog {
    pub files: Vec<ProxyLogFile>,
    /// Lines read, in all files.
    pub lines: u64,
    /// Lines no format could read (skipped).
    pub unreadable: u64,
    /// 5xx and error lines.
    pub errors: u64,
    /// Error lines tied to a failing connection.
    pub explained: u64,
    /// Explained lines by the verdict of their connection (names as in
    /// `verdict_counts`; only verdicts with lines).
    pub by_verdict: BTreeMap<&'static str, u64>,
    /// Capture clock minus the log's clock (after the time zone), estimated
    /// from the lines that match exactly or uniquely; `null` without them.
    pub clock_offset_ms: Option<Millis>,
    /// One per 5xx or error line, by file and line.
    pub entries: Vec<LogEntry>,
}

/// One `--proxy-log` file.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyLogFile {
    pub name: String,
    /// Detected or forced; `null` when no line could be read.
    pub format: Option<LogFormat>,
    pub gzip: bool,
    pub lines: u64,
    pub unreadable: u64,
    pub errors: u64,
    pub explained: u64,
    /// The time zone the lines were read in, seconds east of UTC.
    pub utc_offset_s: i32,
    /// `stated` (the lines carry it), `estimated` (from the matches: the
    /// offset rounded to 15 minutes) or `assumed` (UTC, nothing to go by).
    pub utc_offset_source: &'static str,
    /// This file's clock offset (its own estimate when its lines have
    /// sub-second times and match uniquely, else the section's).
    pub clock_offset_ms: Option<Millis>,
}

/// One 5xx or error line.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub file: String,
    /// 1-based.
    pub line: u64,
    /// The line's time in UTC (its zone applied, not the clock offset).
    pub time: Timestamp,
    /// The status the proxy sent its client; `null` in an error log.
    pub status: Option<u16>,
    pub message: String,
    /// The matched connection.
    pub client: Option<Endpoint>,
    pub server: Option<Endpoint>,
    pub verdict: Option<Verdict>,
    #[serde(rename = "match")]
    pub matched: Option<MatchKind>,
    /// Why the line is unexplained; `null` when explained.
    pub reason: Option<Reason>,
    /// Internal: for the table's sentences.
    #[serde(skip)]
    pub proxy: &'static str,
    /// Internal: the failing status (a retried nginx line's first try), or
    /// `None` for an error-log line.
    #[serde(skip)]
    pub error_status: Option<u16>,
    /// Internal: HAProxy's termination state (with `status` `null`: it
    /// sent its client no response).
    #[serde(skip)]
    pub termination: Option<String>,
    /// Internal: the logged method.
    #[serde(skip)]
    pub method: Option<String>,
    /// Internal: the index of the matched finding.
    #[serde(skip)]
    pub finding: Option<usize>,
}

impl LogEntry {
    /// Tied to a failing connection.
    pub fn explained(&self) -> bool {
        self.reason.is_none() && self.verdict.is_some_and(Verdict::is_failure)
    }
}

/// A finding's log line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LogRef {
    pub file: String,
    pub line: u64,
}
