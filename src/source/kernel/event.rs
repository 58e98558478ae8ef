//! One record of the eBPF programs' ring buffer (`struct event` in
//! `bpf/watch.bpf.c`, native byte order) → the socket events it stands
//! for. A record carries what its socket sent and received since its
//! previous record and when it last did (the kernel counts send and
//! receive calls in a map and sends nothing up for them); those become a
//! `Sent` and a `Received` event at those times, before the record's own
//! change. Several exchanges between two records become one of each: the
//! idle time before a close (from the last activity) is exact, the number
//! of requests is not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::Endpoint;
use crate::observation::{ResetReason, SocketChange, SocketEvent, TcpState};

/// Size of one record.
pub const RECORD_BYTES: usize = 112;

const KIND_STATE: u8 = 1;
const KIND_RESET_SENT: u8 = 2;
const KIND_RESET_RECEIVED: u8 = 3;
const KIND_RETRANSMIT: u8 = 4;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// One record, decoded. Times are the kernel's monotonic clock (ns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ts_ns: u64,
    pub last_send_ns: u64,
    pub last_recv_ns: u64,
    pub sent: u64,
    pub received: u64,
    /// The socket's network namespace (its inode), 0 if unknown.
    pub netns: u32,
    /// The process the event happened in (for an application's close,
    /// the one that closed), and its command (NUL-padded: read with
    /// [`Record::command`], only when needed).
    pub pid: u32,
    pub comm: [u8; 16],
    pub change: SocketChange,
    pub local: Endpoint,
    pub remote: Endpoint,
    /// An RST the kernel sent for a segment no socket owns (the
    /// tracepoint's state is 0): a SYN to a closed port, or a segment for a
    /// connection the host forgot. What it answered is not known.
    pub no_socket: bool,
}

/// Why a record could not be read (counted, never fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    Short,
    Kind,
    Family,
    State,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

fn ip(family: u8, b: &[u8]) -> IpAddr {
    if family == AF_INET {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    } else {
        let a: [u8; 16] = b[..16].try_into().expect("16 bytes");
        let v6 = Ipv6Addr::from(a);
        // A v4-mapped address is the v4 peer of a dual-stack socket, as
        // packets show it.
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    }
}

fn state(n: u8) -> Result<TcpState, Unreadable> {
    TcpState::from_kernel(n).ok_or(Unreadable::State)
}

impl Record {
    /// Reads one record.
    pub fn parse(b: &[u8]) -> Result<Record, Unreadable> {
        if b.len() < RECORD_BYTES {
            return Err(Unreadable::Short);
        }
        let (kind, family, old, new, has_reason) = (b[64], b[65], b[66], b[67], b[68]);
        let reason = u32_at(b, 72);
        if family != AF_INET && family != AF_INET6 {
            return Err(Unreadable::Family);
        }
        let change = match kind {
            KIND_STATE => SocketChange::State {
                from: state(old)?,
                to: state(new)?,
            },
            KIND_RESET_SENT => SocketChange::ResetSent {
                // 0: no socket at all (NO_SOCKET, a connect to a closed
                // port, a request to a host that forgot the connection).
                state: if new == 0 {
                    TcpState::Close
                } else {
                    state(new)?
                },
                reason: (has_reason != 0)
                    .then(|| ResetReason::from_kernel(reason))
                    .flatten(),
            },
            KIND_RESET_RECEIVED => SocketChange::ResetReceived,
            KIND_RETRANSMIT => SocketChange::Retransmit,
            _ => return Err(Unreadable::Kind),
        };
        Ok(Record {
            ts_ns: u64_at(b, 0),
            last_send_ns: u64_at(b, 8),
            last_recv_ns: u64_at(b, 16),
            sent: u64_at(b, 24),
            received: u64_at(b, 32),
            netns: u32_at(b, 40),
            pid: u32_at(b, 44),
            comm: b[48..64].try_into().expect("16 bytes"),
            change,
            local: Endpoint {
                ip: ip(family, &b[80..96]),
                port: u16_at(b, 76),
            },
            remote: Endpoint {
                ip: ip(family, &b[96..112]),
                port: u16_at(b, 78),
            },
            no_socket: kind == KIND_RESET_SENT && new == 0,
        })
    }

    /// The process's command.
    pub fn command(&self) -> String {
        let len = self.comm.iter().position(|&c| c == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.comm[..len]).into_owned()
    }

    /// The socket events this record stands for, in time order, into
    /// `out`: its activity since the previous record, then its change.
    /// `offset_ns` turns the kernel's monotonic clock into epoch time.
    pub fn events(&self, offset_ns: i64, input: u32, out: &mut Vec<SocketEvent>) {
        out.clear();
        if self.no_socket {
            // Neither a SYN nor data can be told from it, and the socket
            // that had the connection, if any, is gone: the peer's socket,
            // when it is on this host, shows the RST it received.
            return;
        }
        let at = |mono: u64| (mono as i64).saturating_add(offset_ns);
        let ev = |ts_ns, what| SocketEvent {
            ts_ns,
            local: self.local,
            remote: self.remote,
            what,
            input,
        };
        let mut activity = Vec::with_capacity(2);
        if self.received > 0 {
            let bytes = u32::try_from(self.received).unwrap_or(u32::MAX);
            activity.push((self.last_recv_ns, SocketChange::Received { bytes }));
        }
        if self.sent > 0 {
            let bytes = u32::try_from(self.sent).unwrap_or(u32::MAX);
            activity.push((self.last_send_ns, SocketChange::Sent { bytes }));
        }
        activity.sort_by_key(|(t, _)| *t);
        for (t, what) in activity {
            // Never after the change it came with.
            out.push(ev(at(t.min(self.ts_ns)), what));
        }
        match self.change {
            // connect() sets SYN_SENT before it picks the local port: the
            // SYN is told when the handshake completes or fails, with the port.
            SocketChange::State {
                to: TcpState::SynSent,
                ..
            } if self.local.port == 0 => {}
            SocketChange::State {
                from: TcpState::SynSent,
                to: TcpState::Established | TcpState::Close,
            } => {
                let syn = SocketChange::State {
                    from: TcpState::Close,
                    to: TcpState::SynSent,
                };
                out.push(ev(at(self.ts_ns), syn));
                out.push(ev(at(self.ts_ns), self.change));
            }
            change => out.push(ev(at(self.ts_ns), change)),
        }
    }
}

/// Whether a tracepoint's format file (`…/events/GROUP/NAME/format`)
/// declares `field` at byte `offset`: the programs read fixed offsets, so
/// each is checked before a program is attached.
pub fn field_at(format: &str, field: &str, offset: usize) -> bool {
    format.lines().any(|l| {
        let mut parts = l.trim().split(';').map(str::trim);
        let decl = parts.next().unwrap_or("");
        let Some(decl) = decl.strip_prefix("field:") else {
            return false;
        };
        let name = decl
            .rsplit(|c: char| c.is_whitespace() || c == '*')
            .next()
            .unwrap_or("");
        let name = name.split('[').next().unwrap_or("");
        name == field && parts.any(|p| p == format!("offset:{offset}"))
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn record(kind: u8, old: u8, new: u8) -> Vec<u8> {
        let mut b = vec![0u8; RECORD_BYTES];
        b[0..8].copy_from_slice(&5_000_000_000u64.to_ne_bytes());
        b[8..16].copy_from_slice(&2_000_000u64.to_ne_bytes());
        b[16..24].copy_from_slice(&1_000_000u64.to_ne_bytes());
        b[24..32].copy_from_slice(&300u64.to_ne_bytes());
        b[32..40].copy_from_slice(&120u64.to_ne_bytes());
        b[40..44].copy_from_slice(&4026531840u32.to_ne_bytes());
        b[44..48].copy_from_slice(&4242u32.to_ne_bytes());
        b[48..52].copy_from_slice(b"node");
        b[64] = kind;
        b[65] = AF_INET;
        b[66] = old;
        b[67] = new;
        b[68] = 1;
        b[72..76].copy_from_slice(&9u32.to_ne_bytes());
        b[76..78].copy_from_slice(&3000u16.to_ne_bytes());
        b[78..80].copy_from_slice(&40000u16.to_ne_bytes());
        b[80..84].copy_from_slice(&[10, 0, 0, 2]);
        b[96..100].copy_from_slice(&[10, 0, 0, 1]);
        b
    }

    /// The server's idle close: the request received at 1 ms, the response
    /// sent at 2 ms, then ESTABLISHED → FIN_WAIT1 at 5 s, in `node`.
    #[test]
    fn test_close_after_activity() {
        let r = Record::parse(&record(KIND_STATE, 1, 4)).unwrap();
        assert_eq!(
            (r.pid, r.command().as_str(), r.netns),
            (4242, "node", 4026531840)
        );
        assert_eq!(r.local.to_string(), "10.0.0.2:3000");
        assert_eq!(r.remote.to_string(), "10.0.0.1:40000");
        let mut out = Vec::new();
        r.events(1_000, 3, &mut out);
        let what: Vec<_> = out.iter().map(|e| (e.ts_ns, e.what)).collect();
        assert_eq!(
            what,
            vec![
                (1_001_000, SocketChange::Received { bytes: 120 }),
                (2_001_000, SocketChange::Sent { bytes: 300 }),
                (
                    5_000_001_000,
                    SocketChange::State {
                        from: TcpState::Established,
                        to: TcpState::FinWait1
                    }
                ),
            ]
        );
        assert!(out.iter().all(|e| e.input == 3));
    }

    /// A reset sent with the kernel's reason, and without one (`has_reason`
    /// 0: a kernel before 6.10, the state decides).
    #[test]
    fn test_reset_reason() {
        let r = Record::parse(&record(KIND_RESET_SENT, 0, 6)).unwrap();
        assert_eq!(
            r.change,
            SocketChange::ResetSent {
                state: TcpState::TimeWait,
                reason: Some(ResetReason::TimewaitSocket)
            }
        );
        let mut b = record(KIND_RESET_SENT, 0, 6);
        b[68] = 0;
        let r = Record::parse(&b).unwrap();
        assert_eq!(
            r.change,
            SocketChange::ResetSent {
                state: TcpState::TimeWait,
                reason: None
            }
        );
    }

    /// An RST for a segment no socket owns: the tracepoint's state is 0.
    #[test]
    fn test_reset_without_socket() {
        let mut b = record(KIND_RESET_SENT, 0, 0);
        b[72..76].copy_from_slice(&1u32.to_ne_bytes());
        let r = Record::parse(&b).unwrap();
        assert_eq!(
            r.change,
            SocketChange::ResetSent {
                state: TcpState::Close,
                reason: Some(ResetReason::NoSocket)
            }
        );
        assert!(r.no_socket);
        let mut out = vec![];
        r.events(0, 0, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn test_unreadable() {
        assert_eq!(Record::parse(&[0; 10]), Err(Unreadable::Short));
        assert_eq!(Record::parse(&record(9, 1, 4)), Err(Unreadable::Kind));
        assert_eq!(
            Record::parse(&record(KIND_STATE, 1, 40)),
            Err(Unreadable::State)
        );
        let mut b = record(KIND_STATE, 1, 4);
        b[65] = 1;
        assert_eq!(Record::parse(&b), Err(Unreadable::Family));
    }

    /// A v4-mapped peer of a dual-stack socket is its v4 address.
    #[test]
    fn test_v4_mapped() {
        let mut b = record(KIND_RESET_RECEIVED, 0, 0);
        b[65] = AF_INET6;
        b[80..96].copy_from_slice(&"::ffff:10.0.0.2".parse::<Ipv6Addr>().unwrap().octets());
        b[96..112].copy_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        let r = Record::parse(&b).unwrap();
        assert_eq!(r.local.ip.to_string(), "10.0.0.2");
        assert_eq!(r.remote.ip.to_string(), "fd00::1");
    }

    /// The format file of `tcp:tcp_send_reset` on 6.18 (reason at 28), and
    /// one without the field.
    #[test]
    fn test_field_at() {
        let f = "name: tcp_send_reset\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:int state;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:enum sk_rst_reason reason;\toffset:28;\tsize:4;\tsigned:0;\n\tfield:__u8 saddr[28];\toffset:32;\tsize:28;\tsigned:0;\n";
        assert!(field_at(f, "reason", 28));
        assert!(field_at(f, "skaddr", 16));
        assert!(field_at(f, "saddr", 32));
        assert!(!field_at(f, "reason", 24));
        assert!(!field_at(f, "sport", 28));
    }
}
