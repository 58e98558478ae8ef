//! The application layers a connection carries, above TCP: HTTP/1.x
//! (requests, status lines, response heads and their framing), the TLS
//! record layer without keys, and HTTP/2 frames (h2c, gRPC). Wire parsing
//! only, apart from connection state, as smoltcp keeps `wire/` apart from
//! `socket/`: the flow table ([`crate::flow`]) feeds each layer the bytes
//! of a segment and reads back what they were (a request, a response, a
//! close, or nothing that counts as activity).

pub mod framer;
pub mod h2;
pub mod head;
pub mod hpack;
pub mod http;
pub mod marks;
pub mod protocol;
pub mod request;
pub mod response;
pub mod text;
pub mod tls;

use crate::seq::Seq;

/// The payload bytes the analysis reads of a segment: an HTTP/1 head
/// ([`http::sniffed`]), the first bytes of one that begins with a TLS
/// record header ([`tls::view`]), or the frame headers of one that begins
/// with the HTTP/2 preface or a frame header ([`h2::view`]), or the first
/// line of one that begins with a line of text ([`text::view`]: a greeting
/// or a command of SMTP, FTP, POP); nothing of any other (the tail is read
/// apart). The reader thread hands only these to
/// the analysis, which reads nothing else, so that one thread and two give
/// the same report. (The three cannot begin alike: a request or status
/// line begins with a letter, a record with a content type 20–23, a frame
/// with its length's high byte, 0 for any frame under 64 KiB; the preface
/// is `PRI`, no method of HTTP/1's.)
pub fn carried(payload: &[u8]) -> &[u8] {
    let head = http::sniffed(payload);
    if !head.is_empty() {
        return head;
    }
    let tls = tls::view(payload);
    if !tls.is_empty() {
        return tls;
    }
    let h2 = h2::view(payload);
    if h2.is_empty() {
        text::view(payload)
    } else {
        h2
    }
}

/// A layer a connection speaks that frames its own units, followed from
/// the bytes that open it: the TLS record layer, HTTP/2's frame layer, or
/// the lines of a protocol whose server greets first (HTTP/1 needs only
/// its response in progress, [`response::Response`]).
/// A new framed protocol is a variant here, its arms in [`Layer::opens`]
/// and [`Layer::feed`], and a file of its own.
#[derive(Debug, Clone)]
pub enum Layer {
    Tls(tls::Tls),
    H2(h2::H2),
    Text(text::Text),
}

/// What a layer read of one segment's new bytes.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    Tls(tls::Seen<'a>),
    H2(h2::Seen<'a>),
    Text(text::Seen),
}

/// New bytes that may open a layer, with what the connection knows of them.
#[derive(Debug, Clone, Copy)]
pub struct Opening<'a> {
    /// The sender's index.
    pub side: usize,
    /// The segment's first sequence number, and its new bytes [`from`, `end`).
    pub seq: Seq,
    pub from: Seq,
    pub end: Seq,
    /// The bytes the reader carried ([`carried`]).
    pub payload: &'a [u8],
    /// These are the first bytes their sender sent.
    pub first: bool,
    /// The other side has sent nothing yet.
    pub peer_silent: bool,
    /// HTTP/1 was read on the connection (it stays what it was read as).
    pub http1: bool,
}

impl Layer {
    /// The layer new bytes open, if any. HTTP/2 from the client's preface
    /// as its first bytes (prior knowledge; an `Upgrade: h2c`, or a capture
    /// begun later, shows no preface and stays what it was read as). TLS
    /// from a ClientHello or ServerHello, or from a record header in the
    /// first payload the capture shows of the connection (begun before the
    /// capture). A line-based protocol from its server's greeting, the
    /// first bytes of the connection ([`text::greeting`]).
    pub fn opens(o: &Opening<'_>) -> Option<Layer> {
        if o.http1 || o.from != o.seq {
            return None;
        }
        if o.first && o.payload.starts_with(h2::PREFACE) {
            return Some(Layer::H2(h2::H2::new(o.side, o.seq)));
        }
        let head = tls::view(o.payload);
        if tls::opens(head) || o.first && o.peer_silent && !head.is_empty() {
            return Some(Layer::Tls(tls::Tls::new()));
        }
        (o.first && o.peer_silent && text::greeting(o.payload))
            .then(|| Layer::Text(text::Text::new()))
    }

    /// Whether the bytes that opened the layer name their sender the
    /// client, as a request line does (HTTP/2's preface).
    pub fn opener_is_client(&self) -> bool {
        matches!(self, Layer::H2(_))
    }

    /// Side `i` sent new bytes [`from`, `end`) in a segment that starts at
    /// `seq` and carried `payload` (its tail ending at `captured`), at `ns`.
    pub fn feed<'a>(
        &mut self,
        i: usize,
        (seq, from, end): (Seq, Seq, Seq),
        payload: &'a [u8],
        (tail, captured): (&'a [u8], u32),
        ns: i64,
    ) -> Seen<'a> {
        let bytes = |head| framer::Bytes {
            head,
            tail,
            captured,
        };
        match self {
            Layer::Tls(t) => Seen::Tls(t.feed(i, seq, from, end, bytes(tls::view(payload)), ns)),
            Layer::H2(h) => Seen::H2(h.feed(i, seq, from, end, bytes(h2::view(payload)), ns)),
            Layer::Text(t) => Seen::Text(t.feed(text::view(payload))),
        }
    }
}
