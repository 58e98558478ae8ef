//! Frame → TCP segment. Link layers are peeled here (Ethernet, 802.1Q/QinQ,
//! Linux SLL and SLL2, raw IP, BSD NULL/LOOP), IP and TCP are sliced with
//! etherparse's lax slicer so that snaplen-cut packets still give their
//! headers. Anything that is not a TCP segment is a [`Skip`] with a reason:
//! counted by the caller, never fatal.

use std::net::IpAddr;

use etherparse::{IpNumber, LaxIpSlice, LenSource, TcpSlice};

use crate::named::named_enum;

mod fast;
pub mod fragment;
mod link;
pub mod tunnel;

/// The bytes a segment's tail keeps past its head: enough for the end of a
/// chunked HTTP/1 body (`\n0\r\n\r\n`, read by `app::http::ends_chunked`)
/// and a TLS or HTTP/2 header that straddles the cut. Defined here, where
/// the tail is cut, so that the decoder imports nothing of the layers above.
pub const TAIL_BYTES: usize = 7;

/// One captured frame, borrowed from its source's buffer until the next
/// read: what every source yields and the decoder reads.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time in nanoseconds since the Unix epoch (may be negative for
    /// captures with odd pcapng `if_tsoffset` values).
    pub ts_ns: i64,
    /// libpcap link type (DLT_/LINKTYPE_ number) of the interface the frame
    /// was captured on.
    pub linktype: u16,
    /// Length of the frame on the wire; `data.len()` is what was captured.
    pub origlen: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// libpcap link types we decode (see <https://www.tcpdump.org/linktypes.html>).
pub mod linktype {
    /// BSD loopback, address family in host byte order.
    pub const NULL: u16 = 0;
    /// Ethernet.
    pub const ETHERNET: u16 = 1;
    /// Raw IP (the DLT_RAW value some systems write).
    pub const RAW_12: u16 = 12;
    /// Raw IP (OpenBSD's DLT_RAW).
    pub const RAW_14: u16 = 14;
    /// Raw IP.
    pub const RAW: u16 = 101;
    /// OpenBSD loopback, address family in network byte order.
    pub const LOOP: u16 = 108;
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    pub const LINUX_SLL: u16 = 113;
    /// Raw IPv4.
    pub const IPV4: u16 = 228;
    /// Raw IPv6.
    pub const IPV6: u16 = 229;
    /// Linux cooked capture v2 (`tcpdump -i any` since libpcap 1.10).
    pub const LINUX_SLL2: u16 = 276;

    /// The decode fuzz target's table (its input's first byte picks an entry):
    /// every known link type, then four it does not know. Inputs saved in
    /// fuzz/regressions are replayed with it.
    pub const FUZZ_TABLE: [u16; 14] = [
        NULL,
        ETHERNET,
        RAW_12,
        RAW_14,
        RAW,
        LOOP,
        LINUX_SLL,
        IPV4,
        IPV6,
        LINUX_SLL2,
        105,
        127,
        0x7fff,
        u16::MAX,
    ];

    /// The name tcpdump uses for a link type.
    pub fn name(lt: u16) -> String {
        match lt {
            NULL => "NULL".into(),
            ETHERNET => "EN10MB".into(),
            RAW | RAW_12 | RAW_14 => "RAW".into(),
            LOOP => "LOOP".into(),
            LINUX_SLL => "LINUX_SLL".into(),
            IPV4 => "IPV4".into(),
            IPV6 => "IPV6".into(),
            LINUX_SLL2 => "LINUX_SLL2".into(),
            other => format!("linktype-{other}"),
        }
    }
}

/// TCP flags, as on the wire (FIN = 0x01 … CWR = 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    /// FIN set.
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    /// SYN set.
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One decoded TCP segment, borrowing its payload from the frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Capture time, ns since the epoch.
    pub ts_ns: i64,
    /// 802.1Q ids, outer in the high 16 bits, inner in the low 16 (0 = none).
    pub vlan: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    /// Payload length according to the IP header (not the captured bytes).
    pub payload_len: u32,
    /// Payload bytes the capture holds (fewer than `payload_len` when the
    /// snaplen cut the packet).
    pub captured: u32,
    /// The first captured payload bytes: all of them from [`decode`], a
    /// prefix of [`SNIFF_BYTES`] when segments are handed between threads.
    pub payload: &'a [u8],
    /// The last captured payload bytes (at most
    /// [`TAIL_BYTES`](TAIL_BYTES)): where a chunked body
    /// shows its end.
    pub tail: &'a [u8],
    /// The input it came from, for a source of several (a live capture's
    /// interface id); 0 otherwise.
    pub input: u32,
}

impl<'a> Segment<'a> {
    /// The last [`TAIL_BYTES`](TAIL_BYTES) of `payload`.
    pub fn tail_of(payload: &'a [u8]) -> &'a [u8] {
        &payload[payload.len().saturating_sub(TAIL_BYTES)..]
    }
}

/// A decoded frame as it crosses from the reader thread to the analysis:
/// its time and captured length, and either why it gave no segment or the
/// segment's fields with its payload prefix's place in the batch's arena.
/// 80 bytes, so that a batch crosses between cores in few cache lines. It
/// sits beside [`Segment`] so that a new decoded field is added in one file
/// (`test_threaded_pipeline_equals_frame_by_frame` compares this path with
/// whole frames on one thread).
#[derive(Debug, Clone, Copy)]
pub struct Decoded {
    ts_ns: i64,
    src: IpAddr,
    dst: IpAddr,
    vlan: u32,
    seq: u32,
    ack: u32,
    payload_len: u32,
    captured: u32,
    /// Where the payload prefix starts in the arena.
    at: u32,
    frame_len: u32,
    sport: u16,
    dport: u16,
    /// The payload prefix's length (at most [`SNIFF_BYTES`]); the tail
    /// follows it in the arena.
    len: u16,
    tail: u8,
    flags: u8,
    /// The reader read an HTTP/1 head in the prefix; its facts are the
    /// batch's next (`app::head::Head`, kept apart: most segments have none).
    head: bool,
    skip: Option<Skip>,
}

impl Decoded {
    /// A segment whose payload prefix (at most [`SNIFF_BYTES`]) and then
    /// its tail were copied to the arena at `at`, from a frame of
    /// `frame_len` captured bytes; `head` when the reader read an HTTP/1
    /// head in the prefix.
    pub fn segment(seg: &Segment<'_>, frame_len: u32, at: u32, len: usize, head: bool) -> Decoded {
        debug_assert!(len <= SNIFF_BYTES);
        debug_assert!(seg.tail.len() <= TAIL_BYTES);
        Decoded {
            ts_ns: seg.ts_ns,
            src: seg.src,
            dst: seg.dst,
            vlan: seg.vlan,
            seq: seg.seq,
            ack: seg.ack,
            payload_len: seg.payload_len,
            captured: seg.captured,
            at,
            frame_len,
            sport: seg.sport,
            dport: seg.dport,
            len: len as u16,
            tail: seg.tail.len() as u8,
            flags: seg.flags.0,
            head,
            skip: None,
        }
    }

    /// A frame that gave no segment.
    pub fn skipped(ts_ns: i64, frame_len: u32, skip: Skip) -> Decoded {
        let none = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        Decoded {
            ts_ns,
            src: none,
            dst: none,
            vlan: 0,
            seq: 0,
            ack: 0,
            payload_len: 0,
            captured: 0,
            at: 0,
            frame_len,
            sport: 0,
            dport: 0,
            len: 0,
            tail: 0,
            flags: 0,
            head: false,
            skip: Some(skip),
        }
    }

    /// The frame's capture time, ns.
    pub fn ts_ns(&self) -> i64 {
        self.ts_ns
    }

    /// The frame's captured bytes.
    pub fn frame_len(&self) -> usize {
        self.frame_len as usize
    }

    /// Whether the reader read an HTTP/1 head in the segment's prefix.
    pub fn has_head(&self) -> bool {
        self.head
    }

    /// The segment again, its payload the prefix in `arena`; or why the
    /// frame gave none.
    pub fn get<'a>(&self, arena: &'a [u8]) -> Result<Segment<'a>, Skip> {
        if let Some(skip) = self.skip {
            return Err(skip);
        }
        let at = self.at as usize;
        Ok(Segment {
            ts_ns: self.ts_ns,
            vlan: self.vlan,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
            flags: Flags(self.flags),
            seq: self.seq,
            ack: self.ack,
            payload_len: self.payload_len,
            captured: self.captured,
            payload: &arena[at..at + usize::from(self.len)],
            tail: &arena[at + usize::from(self.len)..][..usize::from(self.tail)],
            input: 0,
        })
    }
}

named_enum! {
    /// Why a frame yielded no TCP segment.
    pub enum Skip {
        /// Link type racecap does not decode.
        UnsupportedLinkType => "unsupported_link_type",
        /// Not IPv4 or IPv6 (ARP, LLDP, …).
        NonIp => "non_ip",
        /// IP, but UDP, ICMP or another protocol.
        OtherProtocol => "other_protocol",
        /// A fragment of a fragmented IP packet.
        IpFragment => "ip_fragment",
        /// A header cut short by the snaplen or the frame's end.
        TruncatedHeader => "truncated_header",
        /// A header with impossible values (bad version, bad lengths).
        BadHeader => "bad_header",
    }
}

impl Skip {
    /// Frames that could not be read (an unsupported link type, a cut or
    /// impossible header), as opposed to frames that are simply not TCP.
    pub fn undecodable(self) -> bool {
        matches!(
            self,
            Skip::UnsupportedLinkType | Skip::TruncatedHeader | Skip::BadHeader
        )
    }
}

/// Decodes one frame into a TCP segment. A fragment is
/// [`Skip::IpFragment`]: [`fragment::Reassembly`] takes it from there.
pub fn decode<'a>(frame: &Frame<'a>) -> Result<Segment<'a>, Skip> {
    if let Some(seg) = fast::ethernet_ipv4(frame) {
        return Ok(seg);
    }
    if fast::reads(frame.linktype)
        && let Some(seg) = fast::other(frame)
    {
        return Ok(seg);
    }
    general(frame)
}

/// [`decode`] by the general slicers alone, for the decode fuzz target to
/// check that the fast paths give the same segment.
#[doc(hidden)]
pub fn decode_general<'a>(frame: &Frame<'a>) -> Result<Segment<'a>, Skip> {
    general(frame)
}

/// Every link type, by the general slicers.
fn general<'a>(frame: &Frame<'a>) -> Result<Segment<'a>, Skip> {
    let (ip, vlan) = link::peel(frame)?;
    ip_tcp(frame, ip, vlan, 0)
}

/// Payload bytes the analysis reads (request lines, response heads up to
/// the `Keep-Alive` header); the rest of a payload is only counted.
pub const SNIFF_BYTES: usize = 1024;

/// Largest TCP segment believed when the IP header gives no length (BIG TCP
/// and GSO reach 512 KiB).
const MAX_SEGMENT: usize = 1 << 20;

/// IP and TCP, with etherparse's lax slicers (snaplen-cut packets keep their
/// headers).
/// Tunnels opened inside one another at most (a VXLAN in a GRE, say);
/// deeper nesting is not opened.
const MAX_TUNNELS: u8 = 2;

fn ip_tcp<'a>(frame: &Frame<'a>, ip: &'a [u8], vlan: u32, depth: u8) -> Result<Segment<'a>, Skip> {
    let (ip_slice, ext_err) = LaxIpSlice::from_slice(ip).map_err(|e| match e {
        etherparse::err::ip::LaxHeaderSliceError::Len(_) if frame_cut(frame) => {
            Skip::TruncatedHeader
        }
        etherparse::err::ip::LaxHeaderSliceError::Len(_) => Skip::BadHeader,
        etherparse::err::ip::LaxHeaderSliceError::Content(_) => Skip::BadHeader,
    })?;
    let (src, dst) = match &ip_slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
            )
        }
    };
    let ip_payload = ip_slice.payload();
    if ip_payload.fragmented {
        return Err(Skip::IpFragment);
    }
    if ip_payload.ip_number != IpNumber::TCP
        && depth < MAX_TUNNELS
        && let Some(inner) = tunnel::inner(ip_payload.ip_number.0, ip_payload.payload)
    {
        return ip_tcp(frame, inner?, vlan, depth + 1);
    }
    if ip_payload.ip_number != IpNumber::TCP {
        // IPv6 extension headers that could not be walked also end here.
        return Err(match ext_err {
            Some((etherparse::err::ipv6_exts::HeaderSliceError::Len(_), _)) if frame_cut(frame) => {
                Skip::TruncatedHeader
            }
            Some(_) => Skip::BadHeader,
            None => Skip::OtherProtocol,
        });
    }
    let tcp = TcpSlice::from_slice(ip_payload.payload).map_err(|e| match e {
        etherparse::err::tcp::HeaderSliceError::Len(_)
            if frame_cut(frame) || ip_payload.incomplete =>
        {
            Skip::TruncatedHeader
        }
        etherparse::err::tcp::HeaderSliceError::Len(_) => Skip::BadHeader,
        etherparse::err::tcp::HeaderSliceError::Content(_) => Skip::BadHeader,
    })?;
    let header_len = tcp.header_slice().len();
    // The IP header says how long the segment was; the captured bytes may be
    // fewer. With BIG TCP / GSO the IPv4 total length is 0 and the slice is all
    // we have: then the frame's original length bounds the payload.
    let ip_len = match full_ip_payload_len(&ip_slice) {
        // Cut by the snaplen: the header's length field is still right (and
        // keeps Ethernet padding or an FCS out of the payload).
        Some(n) if ip_payload.incomplete && n > 0 => n,
        _ if ip_payload.len_source == LenSource::Slice => {
            let captured_before_tcp = frame.data.len() - ip_payload.payload.len();
            // BIG TCP segments reach 512 KiB; a larger claim is a bad record.
            (frame.origlen as usize)
                .saturating_sub(captured_before_tcp)
                .min(MAX_SEGMENT)
        }
        _ => ip_payload.payload.len(),
    };
    let payload_len = ip_len.saturating_sub(header_len) as u32;
    Ok(Segment {
        ts_ns: frame.ts_ns,
        vlan,
        src,
        dst,
        sport: tcp.source_port(),
        dport: tcp.destination_port(),
        flags: Flags(tcp.header_slice()[13]),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        payload_len,
        captured: tcp.payload().len() as u32,
        payload: tcp.payload(),
        tail: Segment::tail_of(tcp.payload()),
        input: 0,
    })
}

/// The snaplen cut this frame (fewer bytes captured than were on the wire).
fn frame_cut(frame: &Frame<'_>) -> bool {
    frame.data.len() < frame.origlen as usize
}

/// The IP payload length the header declares, for snaplen-cut packets.
fn full_ip_payload_len(p: &LaxIpSlice<'_>) -> Option<usize> {
    match p {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let total = h.total_len() as usize;
            let auth = v4.extensions().auth.map_or(0, |a| a.slice().len());
            total.checked_sub(h.slice().len() + auth)
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (h.payload_length() as usize).checked_sub(v6.extensions().slice().len())
        }
    }
}
