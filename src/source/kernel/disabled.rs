//! Stand-in used when racecap is built without the `ebpf` feature.

use super::{Record, Unreadable, WatchError};

/// The kernel's socket events (not available in this build).
pub struct Watcher {
    _private: (),
}

impl Watcher {
    /// Always fails: this build has no eBPF programs.
    pub fn open() -> Result<Watcher, WatchError> {
        Err(WatchError::NotInBuild)
    }

    /// What this kernel lacks, and what follows from it.
    pub fn missing(&self) -> &[String] {
        &[]
    }

    /// Epoch time minus the kernel's monotonic clock, in ns.
    pub fn offset_ns(&self) -> i64 {
        0
    }

    /// Records lost (none: nothing is read).
    pub fn lost(&self) -> u64 {
        0
    }

    /// Never yields a record.
    pub fn poll(
        &mut self,
        _timeout_ms: u16,
        _out: &mut Vec<Result<Record, Unreadable>>,
    ) -> Result<(), WatchError> {
        Err(WatchError::NotInBuild)
    }
}
