//! Live capture through libpcap, behind the `live` cargo feature so that
//! building and testing racecap needs no system library. Without the feature
//! the same API exists and says how to get it (ripgrep's enabled/disabled
//! pattern).

#[cfg(feature = "live")]
#[path = "enabled.rs"]
mod imp;

#[cfg(not(feature = "live"))]
#[path = "disabled.rs"]
mod imp;

mod set;

pub use imp::LiveSource;
pub use set::{Event, LiveSet, Member, glob_match, is_pattern};

/// Pause when no packet is waiting: bounds the latency of a finding and the
/// idle wake-ups (100 per second).
pub const IDLE_SLEEP: std::time::Duration = std::time::Duration::from_millis(10);

/// How to open a live capture (tcpdump's flags).
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Interface name, e.g. `veth930b1c36`.
    pub interface: String,
    /// BPF filter expression (`tcp port 3000`), if any.
    pub filter: Option<String>,
    /// Bytes kept per packet.
    pub snaplen: i32,
    /// Kernel buffer size in bytes.
    pub buffer_size: i32,
}

/// Counters libpcap keeps for a live capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets the filter accepted.
    pub received: u64,
    /// Packets the kernel dropped because racecap did not read fast enough.
    pub dropped: u64,
    /// Packets the interface or its driver dropped.
    pub if_dropped: u64,
}

/// Why a live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// This build has no libpcap.
    #[error(
        "live capture is not in this build of racecap; rebuild with `cargo build --release --features live` (needs libpcap-dev)"
    )]
    NotInBuild,
    /// No interface of that name.
    #[error("{0}: no such interface (see `racecap interfaces`)")]
    NoSuchInterface(String),
    /// Capturing needs privileges.
    #[error(
        "{0}: permission denied: live capture needs root, or the CAP_NET_RAW and CAP_NET_ADMIN capabilities"
    )]
    Permission(String),
    /// libpcap rejected the filter.
    #[error("bad filter expression {filter:?}: {message}")]
    Filter { filter: String, message: String },
    /// Anything else libpcap reported.
    #[error("{interface}: {message}")]
    Pcap { interface: String, message: String },
}
