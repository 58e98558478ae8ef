//! Kernel socket events through eBPF (`racecap watch`), behind the `ebpf`
//! cargo feature so that building racecap needs no clang. Small programs on
//! the socket and TCP tracepoints (`bpf/watch.bpf.c`) count each socket's
//! application activity in a kernel map and send one record per state
//! change, reset and retransmission through a ring buffer; [`event`] turns
//! a record into the [`crate::observation::SocketEvent`]s the analysis
//! reads. Without the feature the same API exists and says how to get it.

pub mod event;

#[cfg(feature = "ebpf")]
#[path = "enabled.rs"]
mod imp;

#[cfg(not(feature = "ebpf"))]
#[path = "disabled.rs"]
mod imp;

pub use event::{Record, Unreadable};
pub use imp::Watcher;

/// Why `racecap watch` cannot run.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("watch is not in this build of racecap (build it with --features ebpf)")]
    NotInBuild,
    #[error("watch needs CAP_BPF and CAP_PERFMON (or root) to load its eBPF programs{0}")]
    Permission(String),
    #[error("loading the eBPF programs: {0}")]
    Load(String),
    #[error("reading the kernel's events: {0}")]
    Read(String),
}

/// Effective capabilities that allow loading and attaching the programs:
/// CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON (Linux 5.8 on).
pub fn may_load_bpf(status: &str) -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let Some(eff) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
    else {
        // No capability line (not Linux's /proc): let the kernel decide.
        return true;
    };
    let has = |cap: u32| eff & (1 << cap) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_may_load_bpf() {
        assert!(may_load_bpf("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        // CAP_BPF and CAP_PERFMON only.
        assert!(may_load_bpf("CapEff:\t000000c000000000\n"));
        assert!(!may_load_bpf("CapEff:\t0000004000000000\n"));
        assert!(!may_load_bpf("CapEff:\t0000000000000000\n"));
    }
}
