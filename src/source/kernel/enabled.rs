//! The eBPF programs, loaded and attached with aya (pure Rust: no libbpf
//! or libelf to link, so the static binary keeps working), and their ring
//! buffer read with poll(2).

use std::fs;
use std::os::fd::AsFd;
use std::path::Path;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::TracePoint;
use aya::{Ebpf, EbpfLoader, include_bytes_aligned};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::time::{ClockId, clock_gettime};

use super::event::field_at;
use super::{Record, Unreadable, WatchError, may_load_bpf};

/// Built by build.rs: with CO-RE relocations, and without (no BTF).
static CORE: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/watch.bpf.o"));
static NO_CORE: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/watch-nocore.bpf.o"));

const BTF: &str = "/sys/kernel/btf/vmlinux";
const TRACEFS: &str = "/sys/kernel/tracing";

/// A program: its name, its tracepoint's group and name, and the fields
/// (name, offset) it reads, checked against the tracepoint's format file
/// before it is attached.
type Program = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, usize)],
);

const PROGRAMS: &[Program] = &[
    (
        "set_state",
        "sock",
        "inet_sock_set_state",
        &[
            ("skaddr", 8),
            ("oldstate", 16),
            ("newstate", 20),
            ("sport", 24),
            ("dport", 26),
            ("family", 28),
            ("protocol", 30),
            ("saddr", 32),
            ("daddr", 36),
            ("saddr_v6", 40),
            ("daddr_v6", 56),
        ],
    ),
    (
        "send_reset",
        "tcp",
        "tcp_send_reset",
        &[("skaddr", 16), ("state", 24), ("saddr", 32), ("daddr", 60)],
    ),
    (
        "receive_reset",
        "tcp",
        "tcp_receive_reset",
        &[
            ("skaddr", 8),
            ("sport", 16),
            ("dport", 18),
            ("family", 20),
            ("saddr", 22),
            ("daddr", 26),
            ("saddr_v6", 30),
            ("daddr_v6", 46),
        ],
    ),
    (
        "retransmit",
        "tcp",
        "tcp_retransmit_skb",
        &[
            ("skaddr", 16),
            ("state", 24),
            ("sport", 28),
            ("dport", 30),
            ("family", 32),
            ("saddr", 34),
            ("daddr", 38),
            ("saddr_v6", 42),
            ("daddr_v6", 58),
        ],
    ),
    (
        "send_length",
        "sock",
        "sock_send_length",
        &[("sk", 8), ("family", 16), ("protocol", 18), ("ret", 20)],
    ),
    (
        "recv_length",
        "sock",
        "sock_recv_length",
        &[("sk", 8), ("family", 16), ("protocol", 18), ("ret", 20)],
    ),
];

/// The programs, attached, and their ring buffer.
pub struct Watcher {
    // Dropping it detaches the programs.
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    missing: Vec<String>,
    offset_ns: i64,
}

/// An error from aya, as permission denied when the kernel refused for
/// want of a capability (EPERM; the verifier's refusals are EACCES and
/// say why in their log).
fn load_error(e: impl std::error::Error + 'static) -> WatchError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(1))
        {
            return WatchError::Permission(format!(" (the kernel refused: {e})"));
        }
        src = s.source();
    }
    WatchError::Load(e.to_string())
}

/// tracefs, where the tracepoints' ids and formats are: mounted if it is not.
fn tracefs() -> Result<&'static Path, WatchError> {
    let root = Path::new(TRACEFS);
    if root.join("events").is_dir() {
        return Ok(root);
    }
    let debug = Path::new("/sys/kernel/debug/tracing");
    if debug.join("events").is_dir() {
        return Ok(debug);
    }
    nix::mount::mount(
        Some("nodev"),
        root,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| WatchError::Load(format!("mounting tracefs on {TRACEFS}: {e}")))?;
    Ok(root)
}

fn now(clock: ClockId) -> i64 {
    clock_gettime(clock)
        .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
        .unwrap_or(0)
}

impl Watcher {
    /// Loads and attaches the programs; what this kernel lacks is in
    /// [`Watcher::missing`].
    pub fn open() -> Result<Watcher, WatchError> {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !may_load_bpf(&status) {
            return Err(WatchError::Permission(String::new()));
        }
        let mut missing = Vec::new();
        let tracefs = tracefs()?;
        let format = |group: &str, name: &str| {
            fs::read_to_string(tracefs.join("events").join(group).join(name).join("format"))
                .unwrap_or_default()
        };
        let reset_format = format("tcp", "tcp_send_reset");
        let have_reason = field_at(&reset_format, "reason", 28);
        if !have_reason {
            missing.push(
                "tcp:tcp_send_reset has no reason field (Linux before 6.10): resets are judged by the socket's state".to_string(),
            );
        }
        let btf = Path::new(BTF).exists();
        if !btf {
            missing.push(format!("no BTF ({BTF}): network namespaces are not named"));
        }
        let reason_flag = u8::from(have_reason);
        let mut loader = EbpfLoader::new();
        loader.override_global("HAVE_REASON", &reason_flag, true);
        let mut ebpf = loader
            .load(if btf { CORE } else { NO_CORE })
            .map_err(load_error)?;
        for (program, group, name, fields) in PROGRAMS {
            let text = format(group, name);
            if let Some((field, at)) = fields.iter().find(|(f, at)| !field_at(&text, f, *at)) {
                missing.push(format!(
                    "{group}:{name} has no field {field} at offset {at} (a layout racecap does not know): not attached"
                ));
                continue;
            }
            let p: &mut TracePoint = ebpf
                .program_mut(program)
                .ok_or_else(|| WatchError::Load(format!("no program {program}")))?
                .try_into()
                .map_err(load_error)?;
            p.load().map_err(load_error)?;
            p.attach(group, name).map_err(load_error)?;
        }
        let ring = RingBuf::try_from(
            ebpf.take_map("EVENTS")
                .ok_or_else(|| WatchError::Load("no map EVENTS".into()))?,
        )
        .map_err(load_error)?;
        let lost = PerCpuArray::try_from(
            ebpf.take_map("LOST")
                .ok_or_else(|| WatchError::Load("no map LOST".into()))?,
        )
        .map_err(load_error)?;
        let offset_ns = now(ClockId::CLOCK_REALTIME) - now(ClockId::CLOCK_MONOTONIC);
        Ok(Watcher {
            _ebpf: ebpf,
            ring,
            lost,
            missing,
            offset_ns,
        })
    }

    /// What this kernel lacks, and what follows from it.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// Epoch time minus the kernel's monotonic clock, in ns.
    pub fn offset_ns(&self) -> i64 {
        self.offset_ns
    }

    /// Records lost so far because the ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(0)
    }

    /// Waits up to `timeout_ms` for records, then takes all that are there.
    pub fn poll(
        &mut self,
        timeout_ms: u16,
        out: &mut Vec<Result<Record, Unreadable>>,
    ) -> Result<(), WatchError> {
        {
            let mut fds = [PollFd::new(self.ring.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(timeout_ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(WatchError::Read(e.to_string())),
            }
        }
        while let Some(item) = self.ring.next() {
            out.push(Record::parse(&item));
        }
        Ok(())
    }
}
