//! What the reader of a report should know about how far to trust it: cut
//! inputs, overlapping files, capped lists and tables, packet loss. Typed,
//! so that the live shell and tests can tell them apart; in the report each
//! is its sentence.

use std::fmt;

use serde::Serialize;

/// One warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// An input ended early (cut off mid-record, unreadable block).
    InputStopped {
        name: String,
        why: String,
        packets: u64,
    },
    /// An input's timestamps went backwards.
    Backwards { name: String, packets: u64 },
    /// Packets named a pcapng interface that was never described.
    UnknownInterface { name: String, packets: u64 },
    /// Two inputs overlap in time (merged by timestamp).
    Overlap { a: String, b: String },
    /// More failing connections than findings kept.
    FindingsCut { failures: u64, listed: usize },
    /// Too many 4-tuples left the table to keep counting distinct ones.
    TuplesUncounted { max: usize },
    /// Too many server endpoints to measure timeouts for all.
    ServersUntracked { max: usize },
    /// Lost requests not watched for their retry, past the watches' cap
    /// (issue 23): whether they were retried is unknown.
    RetriesUnwatched { requests: u64, max: usize },
    /// Connections evicted while open because of `--max-connections`.
    EvictedForCount { connections: u64, max: usize },
    /// Connections evicted while open because of `--max-memory`.
    EvictedForMemory { connections: u64, mib: usize },
    /// Segments followed data missing from the capture.
    Holes { segments: u64 },
    /// Live capture: packets dropped by the kernel and by the interface.
    Dropped { kernel: u64, interface: u64 },
    /// `--server` or `--port` matched none of the TCP segments.
    FocusMatchedNothing { segments: u64 },
    /// A `--proxy-log` in no format racecap knows, or with more than half
    /// of its lines unreadable: its 5xx lines, if any, were not checked.
    ProxyLogUnread {
        name: String,
        lines: u64,
        unreadable: u64,
        /// The format detected or forced, if any.
        format: Option<String>,
    },
    /// Frames that could not be decoded at all (unsupported link type,
    /// cut or impossible headers), with the reasons and counts.
    Undecodable {
        frames: u64,
        packets: u64,
        why: String,
    },
    /// A proxy log's error lines past the memory budget: counted, not
    /// matched (issue 23).
    ProxyLogOverBudget { name: String, kept: u64, over: u64 },
    /// IP fragments that made no datagram: the TCP segments in them are
    /// missing, and a lost request in them would read as none (issue 23).
    FragmentsDropped { fragments: u64 },
    /// IP fragments overlapped bytes already held; the first copy was kept.
    FragmentsOverlapping { fragments: u64 },
    /// `racecap watch`: what this kernel lacks and what follows from it,
    /// or kernel events lost or unreadable.
    Kernel { what: String },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::InputStopped { name, why, packets } => write!(
                f,
                "{name}: {why}; the report covers the {packets} packets before it"
            ),
            Warning::Backwards { name, packets } => write!(
                f,
                "{name}: {packets} packets have timestamps earlier than the packet before them"
            ),
            Warning::UnknownInterface { name, packets } => write!(
                f,
                "{name}: {packets} packets name a pcapng interface that was never described; skipped"
            ),
            Warning::Overlap { a, b } => write!(
                f,
                "{a} and {b} overlap in time; their packets were merged in timestamp order"
            ),
            Warning::FindingsCut { failures, listed } => write!(
                f,
                "{failures} failing connections; the report lists the first {listed} (verdict_counts has them all)"
            ),
            Warning::TuplesUncounted { max } => write!(
                f,
                "more than {max} connections closed: connections_4tuples counts the 4-tuples seen until then"
            ),
            Warning::ServersUntracked { max } => write!(
                f,
                "more than {max} server endpoints: timeouts are measured for the first {max} only"
            ),
            Warning::RetriesUnwatched { requests, max } => write!(
                f,
                "{requests} lost requests came while {max} were already being watched for their retry: whether the proxy retried them is unknown (counted as unknown, not as lost)"
            ),
            Warning::EvictedForCount { connections, max } => write!(
                f,
                "{connections} connections were evicted while still open because more than {max} were open at once (--max-connections); their verdicts only know what came before"
            ),
            Warning::EvictedForMemory { connections, mib } => write!(
                f,
                "{connections} connections were evicted while still open because their state outgrew {mib} MiB (--max-memory); their verdicts only know what came before"
            ),
            Warning::Holes { segments } => write!(
                f,
                "{segments} segments followed data missing from the capture (packet loss at the capture point?); verdicts near them may be incomplete"
            ),
            Warning::Undecodable {
                frames,
                packets,
                why,
            } => write!(
                f,
                "{frames} of {packets} packets could not be decoded ({why}); the report covers the others"
            ),
            Warning::FocusMatchedNothing { segments } => write!(
                f,
                "--server / --port matched none of the {segments} TCP segments: nothing was analysed (check the address, or leave the filter out)"
            ),
            Warning::ProxyLogUnread {
                name,
                lines,
                unreadable,
                format,
            } => {
                match format {
                    None => write!(f, "{name}: no line is in a format racecap knows")?,
                    Some(x) => write!(
                        f,
                        "{name}: {unreadable} of {lines} lines could not be read as {x}"
                    )?,
                }
                write!(
                    f,
                    "; its 5xx and error lines were not checked (give --haproxy-log-format or --nginx-log-format with the proxy's own log format, or --proxy-log-format)"
                )
            }
            Warning::ProxyLogOverBudget { name, kept, over } => write!(
                f,
                "{name}: {over} error lines past the first {kept} were not matched to connections: they would pass the memory budget (--max-memory; give a shorter stretch of the log, or more memory)"
            ),
            Warning::FragmentsDropped { fragments } => write!(
                f,
                "{fragments} IP fragments could not be reassembled (incomplete after {} s, over the memory budget, inconsistent, or inside a datagram that was itself reassembled): the TCP segments in them are missing, and a request in them may read as never sent",
                crate::decode::fragment::TIMEOUT_NS / 1_000_000_000
            ),
            Warning::FragmentsOverlapping { fragments } => write!(
                f,
                "{fragments} IP fragments overlapped bytes already received; the first copy was kept (a Linux receiver since 4.19 discards such datagrams)"
            ),
            Warning::Kernel { what } => write!(f, "{what}"),
            Warning::Dropped { kernel, interface } => write!(
                f,
                "{kernel} packets were dropped by the kernel and {interface} by the interface: findings may be incomplete"
            ),
        }
    }
}

impl Warning {
    /// An input racecap was told to read but could not use: a CI gate
    /// (`--fail-on`) must not pass on it (issue 21), and the first screen
    /// says so.
    pub fn fails_closed(&self) -> bool {
        matches!(
            self,
            Warning::FocusMatchedNothing { .. } | Warning::ProxyLogUnread { .. }
        )
    }

    /// The warning for a proxy log read in no known format or mostly
    /// unreadable; `None` for a log that was read.
    pub fn proxy_log_unread(
        name: &str,
        format: Option<&str>,
        lines: u64,
        unreadable: u64,
    ) -> Option<Warning> {
        let unread = lines > 0 && (format.is_none() || unreadable * 2 > lines);
        unread.then(|| Warning::ProxyLogUnread {
            name: name.to_string(),
            lines,
            unreadable,
            format: format.map(str::to_string),
        })
    }
}

impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
