//! libpcap (through the `pcap` crate): open an interface in immediate mode
//! with nanosecond timestamps, apply a BPF filter, hand out frames.

use pcap::{Active, Capture, Precision};

use super::{IDLE_SLEEP, LiveError, LiveOptions, LiveStats};
use crate::source::Frame;

/// libpcap's read timeout (packet buffer timeout). Reads are non-blocking:
/// with TPACKET_V3 libpcap may otherwise block in poll() until a packet
/// comes, and Ctrl-C, `--duration` and progress would wait for traffic.
const READ_TIMEOUT_MS: i32 = 100;

/// An open live capture.
pub struct LiveSource {
    cap: Capture<Active>,
    linktype: u16,
    interface: String,
}

fn classify(interface: &str, e: pcap::Error) -> LiveError {
    let message = e.to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        LiveError::Permission(interface.to_string())
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        LiveError::NoSuchInterface(interface.to_string())
    } else {
        LiveError::Pcap {
            interface: interface.to_string(),
            message,
        }
    }
}

impl LiveSource {
    /// Opens the interface: immediate mode (findings are not held back by
    /// buffering), ns timestamps, the given snaplen and filter.
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, LiveError> {
        let name = &opts.interface;
        let inactive = Capture::from_device(name.as_str()).map_err(|e| classify(name, e))?;
        let mut cap = inactive
            .immediate_mode(true)
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_size)
            .timeout(READ_TIMEOUT_MS)
            .precision(Precision::Nano)
            .open()
            .and_then(|c| c.setnonblock())
            .map_err(|e| classify(name, e))?;
        if let Some(f) = &opts.filter {
            cap.filter(f, true).map_err(|e| LiveError::Filter {
                filter: f.clone(),
                message: e.to_string(),
            })?;
        }
        let linktype = (cap.get_datalink().0 & 0xffff) as u16;
        Ok(LiveSource {
            cap,
            linktype,
            interface: name.clone(),
        })
    }

    /// The capture's link type.
    pub fn linktype(&self) -> u16 {
        self.linktype
    }

    /// The next frame, or `None` (after a short pause) when none is waiting.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, LiveError> {
        let frame = self.try_frame()?;
        if frame.is_none() {
            std::thread::sleep(IDLE_SLEEP);
        }
        Ok(frame)
    }

    /// The next frame, or `None` at once when none is waiting (for reading
    /// several interfaces in turn).
    pub fn try_frame(&mut self) -> Result<Option<Frame<'_>>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                // With nanosecond precision libpcap puts ns in tv_usec. The
                // conversions are no-ops on 64-bit Linux, not on 32-bit.
                #[allow(clippy::useless_conversion)]
                let ts_ns =
                    i64::from(p.header.ts.tv_sec) * 1_000_000_000 + i64::from(p.header.ts.tv_usec);
                Ok(Some(Frame {
                    ts_ns,
                    linktype: self.linktype,
                    origlen: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(None),
            Err(e) => Err(classify(&self.interface, e)),
        }
    }

    /// libpcap's counters, when it has them.
    pub fn stats(&mut self) -> Option<LiveStats> {
        self.cap.stats().ok().map(|s| LiveStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
    }
}
