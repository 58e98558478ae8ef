//! What a source saw about one connection at one time: the one input of
//! the analysis ([`crate::analyzer::Analyzer::observe`]). Packet sources
//! (files, standard input, live capture) give TCP segments; the kernel
//! (`racecap watch`) gives socket events: a state change, data sent or
//! received, a reset sent with the kernel's reason, a reset received, a
//! retransmission. The analysis never asks which it was: a socket event
//! becomes the segments it stands for ([`socket`]), with the sequence and
//! acknowledgement numbers its byte counts give, and no payload (the
//! kernel does not give the request line or the status; they stay empty).

pub mod socket;

use crate::decode::Segment;
use crate::flow::Endpoint;
use crate::named::named_enum;

/// One observation.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// A TCP segment, from a packet source (borrowed: the hot path copies
    /// nothing to wrap it).
    Segment(&'a Segment<'a>),
    /// A kernel event about one socket.
    Socket(SocketEvent),
}

/// A kernel event about one socket, seen from that socket's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketEvent {
    /// When it happened, ns since the epoch.
    pub ts_ns: i64,
    /// The socket's own end and its peer.
    pub local: Endpoint,
    pub remote: Endpoint,
    pub what: SocketChange,
    /// Where it was seen: for `racecap watch` the id it gave the socket's
    /// network namespace (a finding's `input`, which names its place).
    pub input: u32,
}

/// What happened to the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketChange {
    /// A TCP state change (`sock:inet_sock_set_state`).
    State { from: TcpState, to: TcpState },
    /// The application sent bytes (`sock:sock_send_length`).
    Sent { bytes: u32 },
    /// The application received bytes (`sock:sock_recv_length`).
    Received { bytes: u32 },
    /// The kernel sent an RST on the socket, in `state`, with its reason
    /// where the kernel has the field (`tcp:tcp_send_reset`, 6.10 on).
    ResetSent {
        state: TcpState,
        reason: Option<ResetReason>,
    },
    /// An RST arrived on the socket (`tcp:tcp_receive_reset`).
    ResetReceived,
    /// The kernel retransmitted a segment (`tcp:tcp_retransmit_skb`).
    Retransmit,
}

named_enum! {
    /// TCP states as the kernel numbers them (`include/net/tcp_states.h`).
    pub enum TcpState {
        Established => "ESTABLISHED",
        SynSent => "SYN_SENT",
        SynRecv => "SYN_RECV",
        FinWait1 => "FIN_WAIT1",
        FinWait2 => "FIN_WAIT2",
        TimeWait => "TIME_WAIT",
        Close => "CLOSE",
        CloseWait => "CLOSE_WAIT",
        LastAck => "LAST_ACK",
        Listen => "LISTEN",
        Closing => "CLOSING",
        NewSynRecv => "NEW_SYN_RECV",
    }
}

impl TcpState {
    /// The state of the kernel's number (`TCP_ESTABLISHED` is 1).
    pub fn from_kernel(n: u8) -> Option<TcpState> {
        TcpState::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The socket's own side had closed (sent its FIN) in this state.
    pub fn closed_here(self) -> bool {
        matches!(
            self,
            TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::TimeWait
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::Close
        )
    }

    /// The peer had acknowledged this side's FIN in this state.
    pub fn fin_acked(self) -> bool {
        matches!(self, TcpState::FinWait2 | TcpState::TimeWait)
    }
}

named_enum! {
    /// Why the kernel sent an RST (`enum sk_rst_reason` in
    /// `include/net/rstreason.h`, Linux 6.10 on, in the kernel's order;
    /// the MPTCP reasons, 17–23, are one here).
    pub enum ResetReason {
        NotSpecified => "NOT_SPECIFIED",
        NoSocket => "NO_SOCKET",
        InvalidAckSequence => "TCP_INVALID_ACK_SEQUENCE",
        Paws => "TCP_RFC7323_PAWS",
        TooOldAck => "TCP_TOO_OLD_ACK",
        AckUnsentData => "TCP_ACK_UNSENT_DATA",
        Flags => "TCP_FLAGS",
        OldAck => "TCP_OLD_ACK",
        AbortOnData => "TCP_ABORT_ON_DATA",
        TimewaitSocket => "TCP_TIMEWAIT_SOCKET",
        InvalidSyn => "INVALID_SYN",
        AbortOnClose => "TCP_ABORT_ON_CLOSE",
        AbortOnLinger => "TCP_ABORT_ON_LINGER",
        AbortOnMemory => "TCP_ABORT_ON_MEMORY",
        State => "TCP_STATE",
        KeepaliveTimeout => "TCP_KEEPALIVE_TIMEOUT",
        DisconnectWithData => "TCP_DISCONNECT_WITH_DATA",
        Mptcp => "MPTCP",
        Error => "ERROR",
    }
}

impl ResetReason {
    /// The reason of the kernel's number.
    pub fn from_kernel(n: u32) -> Option<ResetReason> {
        Some(match n {
            0..=16 => ResetReason::ALL[n as usize],
            17..=23 => ResetReason::Mptcp,
            24 => ResetReason::Error,
            _ => return None,
        })
    }

    /// The RST answers data that reached the socket after its own close,
    /// or that it closed with unread: the request a keep-alive race loses.
    pub fn answers_data(self) -> bool {
        matches!(
            self,
            ResetReason::TimewaitSocket
                | ResetReason::AbortOnData
                | ResetReason::AbortOnClose
                | ResetReason::NoSocket
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_kernel_numbers() {
        assert_eq!(TcpState::from_kernel(1), Some(TcpState::Established));
        assert_eq!(TcpState::from_kernel(4), Some(TcpState::FinWait1));
        assert_eq!(TcpState::from_kernel(8), Some(TcpState::CloseWait));
        assert_eq!(TcpState::from_kernel(12), Some(TcpState::NewSynRecv));
        assert_eq!(TcpState::from_kernel(0), None);
        assert_eq!(TcpState::from_kernel(13), None);
        assert_eq!(
            ResetReason::from_kernel(9),
            Some(ResetReason::TimewaitSocket)
        );
        assert_eq!(ResetReason::from_kernel(1), Some(ResetReason::NoSocket));
        assert_eq!(
            ResetReason::from_kernel(16),
            Some(ResetReason::DisconnectWithData)
        );
        assert_eq!(ResetReason::from_kernel(20), Some(ResetReason::Mptcp));
        assert_eq!(ResetReason::from_kernel(24), Some(ResetReason::Error));
        assert_eq!(ResetReason::from_kernel(25), None);
    }
}
