//! TLS without keys: the record layer (content type, version, length)
//! followed across the segments of each direction by sequence numbers, so
//! that a record cut by the snaplen, or split over segments, still ends
//! where its header says. What it tells the connection: which bytes are
//! application data (requests, responses: activity that restarts the idle
//! clock), which are the handshake (never a request, never activity), and
//! which are alerts (close_notify: part of the close). The ClientHello's
//! SNI and ALPN, and the version the ServerHello chose, are read when their
//! bytes are in the capture. Over HTTP/2 (a client that offered only `h2`)
//! in TLS 1.3, records of a control frame's length (SETTINGS ACK, PING,
//! GOAWAY, flow control after the peer's data, the preface) are neither
//! requests nor activity, as the frames are in the clear (issue 21).
//!
//! Only the bytes at record headers are needed: the first
//! [`SNIFF_BYTES`](crate::decode::SNIFF_BYTES) of a segment that begins with
//! a record header (what [`view`] keeps, and what crosses from the reader
//! thread), and the segment's tail (a header in its last bytes). A header
//! that falls outside them loses the record layer until a segment begins
//! with a header again (the next write after a pause: a request, a
//! response, an alert); the data in between counts as application data.

use super::framer::{Bytes, Framer, Lost};
use crate::seq::Seq;

/// Content types (RFC 8446 §5.1).
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

/// Bytes of a record header.
const HEADER: u32 = 5;

/// Longest record body: 2^14 plus the 2048 bytes of expansion TLS 1.2
/// allows (RFC 5246 §6.2.3); anything longer is not a record header.
const MAX_BODY: u16 = 16384 + 2048;

/// Longest application-data record that can hold nothing but an alert in
/// TLS 1.3: the alert's 2 bytes, the inner content type (1) and the AEAD
/// tag (16; every TLS 1.3 suite but CCM_8, whose 8 only shortens it). Such
/// a record could also carry 1–2 bytes of application data, which no HTTP
/// message is (a request line is longer, an HTTP/2 frame at least 9
/// bytes); in TLS 1.2 no GCM record is this short. nginx's and Envoy's
/// close_notify is exactly 24 bytes with its header. So a record this
/// short is an encrypted alert: part of the close when its sender's FIN
/// follows, never activity and never a request either way.
pub const MAX_ENCRYPTED_ALERT: u16 = 19;

/// HTTP/2 frames that are no request, as a TLS 1.3 record of one of these
/// plaintext lengths carries them alone: a SETTINGS ACK (9), a PING or a
/// GOAWAY without debug data (17). On a connection whose client offered
/// only `h2` (ALPN), such a record is no request and no activity, as the
/// frames are in the clear ([`super::h2`]). A HEADERS frame whose block is
/// 0 or 8 bytes long has the same length and is missed as a request:
/// record lengths are all that encryption leaves.
const H2_CONTROL_PLAINTEXT: [u16; 2] = [9, 17];

/// Lengths that hold flow control only when the peer sent data since the
/// sender's last record: a WINDOW_UPDATE (13) and the two (connection and
/// stream) a receiver sends after a response's DATA (26). Without such
/// data they are read as HEADERS (a request of 4 or 17 bytes of block is
/// as common as the pair: HAProxy's `GET /short12` is 26 bytes).
const H2_FLOW_CONTROL_PLAINTEXT: [u16; 2] = [13, 26];

/// The client's first HTTP/2 bytes without a request: the preface (24),
/// its SETTINGS frame (9, and 6 per setting, at most this many), perhaps a
/// WINDOW_UPDATE (13). Sent as a record of their own, they are no request.
const H2_PREFACE_MAX_SETTINGS: u16 = 10;

/// Whether a plaintext of `n` bytes is the preface and SETTINGS alone.
fn h2_preface(n: u16) -> bool {
    [24 + 9, 24 + 9 + 13].iter().any(|&base| {
        n.checked_sub(base)
            .is_some_and(|x| x % 6 == 0 && x / 6 <= H2_PREFACE_MAX_SETTINGS)
    })
}

/// What TLS 1.3 adds to a record's plaintext: the inner content type (1)
/// and the AEAD tag (16; CCM_8's 8 is not assumed).
const TLS13_OVERHEAD: u16 = 1 + 16;

/// TLS 1.3 Finished records (32 or 48 bytes of verify data, 4 of header,
/// 1 inner type, a 16- or 8-byte tag): the client's last handshake record.
const FINISHED_LENGTHS: [u16; 4] = [53, 69, 45, 61];

/// Encrypted records a TLS 1.3 client sends at most before its
/// application data (Certificate, CertificateVerify, Finished), for a
/// Finished of another length.
const MAX_CLIENT_HANDSHAKE_RECORDS: u8 = 3;

/// The record header at the start of `b`, if it is one: a known content
/// type, major version 3, minor 0–4, and a length a record can have.
pub fn header(b: &[u8]) -> Option<(u8, u16)> {
    let [ty, 3, minor, hi, lo, ..] = *b else {
        return None;
    };
    let len = u16::from_be_bytes([hi, lo]);
    ((CHANGE_CIPHER_SPEC..=APPLICATION_DATA).contains(&ty)
        && minor <= 4
        && (1..=MAX_BODY).contains(&len))
    .then_some((ty, len))
}

/// The payload bytes the record layer may read: a prefix of a segment that
/// begins with a record header, nothing otherwise (the tail is read apart).
/// The same on one thread and across threads: the reader thread carries
/// exactly this, and it is idempotent.
pub fn view(payload: &[u8]) -> &[u8] {
    if header(payload).is_some() {
        &payload[..payload.len().min(crate::decode::SNIFF_BYTES)]
    } else {
        &[]
    }
}

/// Whether a payload opens TLS: a handshake record holding a ClientHello
/// or a ServerHello.
pub fn opens(view: &[u8]) -> bool {
    matches!(header(view), Some((HANDSHAKE, _))) && matches!(view.get(5), Some(1 | 2))
}

/// What the ClientHello or ServerHello in a segment said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hello<'a> {
    /// The server name the client asked for (SNI).
    pub sni: Option<&'a [u8]>,
    /// The protocols the client offered (ALPN), as on the wire: a list of
    /// length-prefixed names.
    pub alpn: Option<&'a [u8]>,
    /// The version the server chose (0x0303 for 1.2, 0x0304 for 1.3).
    pub version: Option<u16>,
}

/// The ALPN protocol names of a [`Hello::alpn`] list.
pub fn alpn_names(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    std::iter::from_fn(move || {
        let (&n, tail) = rest.split_first()?;
        let name = tail.get(..usize::from(n))?;
        rest = &tail[usize::from(n)..];
        Some(name)
    })
}

/// The version's name in reports.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0304 => "1.3",
        0x0303 => "1.2",
        0x0302 => "1.1",
        0x0301 => "1.0",
        _ => "other",
    }
}

/// What one segment's new bytes were, record by record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// Application data (or bytes the record layer could not follow, which
    /// are counted as such): the segment is activity.
    pub app: bool,
    /// Bytes of application-data records among the new bytes.
    pub app_bytes: u32,
    /// An alert record (or a TLS 1.3 record only an alert fits in).
    pub alert: bool,
    /// A ClientHello or ServerHello was read.
    pub hello: Option<Hello<'a>>,
}

/// One direction's record layer.
#[derive(Debug, Clone, Copy, Default)]
struct Dir {
    /// Where the records are.
    framer: Framer<{ HEADER as usize }>,
    /// The record in progress (ending at the framer's next) is application data.
    app: bool,
    /// This side's handshake is over: its encrypted records are data.
    done: bool,
    /// Encrypted records this side sent during the handshake (TLS 1.3).
    handshake_records: u8,
    /// It sent an application-data record.
    sent_app: bool,
    /// The last record it began was an alert.
    last_alert: bool,
    /// Application-data bytes of its current turn.
    turn_app_bytes: u32,
    /// When it sent its first alert record.
    alert_ns: Option<i64>,
    /// The peer sent application data since this side's last record (over
    /// h2: there is DATA to acknowledge with a WINDOW_UPDATE).
    peer_data: bool,
}

/// Both directions of a TLS connection.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    dir: [Dir; 2],
    /// The index of the side that sent the ClientHello.
    client: Option<usize>,
    /// The version the ServerHello chose.
    version: Option<u16>,
    /// The client offered only `h2` (ALPN): every application-data record
    /// carries HTTP/2 frames.
    h2: bool,
    /// The client's first application-data record was read (over h2, its
    /// preface).
    preface_read: bool,
}

impl Tls {
    /// The record layer of a connection, before any record.
    pub fn new() -> Tls {
        Tls::default()
    }

    /// The version the server chose, when its ServerHello was read.
    pub fn version(&self) -> Option<u16> {
        self.version
    }

    /// Whether the connection carries HTTP/2 (its client offered only `h2`).
    pub fn h2(&self) -> bool {
        self.h2
    }

    /// Whether side `i`'s last record was an alert (close_notify).
    pub fn last_alert(&self, i: usize) -> bool {
        self.dir[i].last_alert
    }

    /// When side `i` sent its first alert.
    pub fn alert_ns(&self, i: usize) -> Option<i64> {
        self.dir[i].alert_ns
    }

    /// Application-data bytes side `i` sent in its current turn.
    pub fn turn_app_bytes(&self, i: usize) -> u32 {
        self.dir[i].turn_app_bytes
    }

    /// Side `i` sent `n` application-data bytes, starting a new turn with
    /// them when `new_turn`.
    pub fn count_turn(&mut self, i: usize, n: u32, new_turn: bool) {
        let d = &mut self.dir[i];
        d.turn_app_bytes = if new_turn {
            n
        } else {
            d.turn_app_bytes.saturating_add(n)
        };
    }

    /// What a record of side `i` is: handshake or HTTP/2 control frames
    /// (false, false), alert (false, true) or application data (true, false).
    fn classify(&mut self, i: usize, ty: u8, len: u16) -> (bool, bool) {
        match ty {
            ALERT => return (false, true),
            APPLICATION_DATA if len <= MAX_ENCRYPTED_ALERT => return (false, true),
            APPLICATION_DATA => {}
            _ => return (false, false),
        }
        if self.dir[i].done {
            return (!self.h2_control(i, len), false);
        }
        // Without a ClientHello (the capture began later) the handshake is over.
        let Some(client) = self.client else {
            self.dir[i].done = true;
            return (true, false);
        };
        if i == client {
            // TLS 1.3 encrypts the client's Finished (and its certificate):
            // its handshake ends with a record of a Finished's length.
            // Before 1.3 every encrypted client record is data.
            if self.version == Some(0x0304) {
                let d = &mut self.dir[i];
                d.handshake_records += 1;
                if FINISHED_LENGTHS.contains(&len)
                    || d.handshake_records >= MAX_CLIENT_HANDSHAKE_RECORDS
                {
                    d.done = true;
                }
                return (false, false);
            }
            self.dir[i].done = true;
            (true, false)
        } else if self.dir[client].sent_app {
            self.dir[i].done = true;
            (!self.h2_control(i, len), false)
        } else {
            // The server's encrypted records before the client's first
            // data: the rest of its handshake (TLS 1.3) and session tickets.
            (false, false)
        }
    }

    /// An application-data record of side `i`, `len` bytes long, that can
    /// only hold HTTP/2 control frames ([`H2_CONTROL_PLAINTEXT`]), or the
    /// client's preface and SETTINGS as its first record, after the
    /// handshake of a TLS 1.3 connection that carries h2.
    fn h2_control(&mut self, i: usize, len: u16) -> bool {
        if !self.h2 || self.version != Some(0x0304) {
            return false;
        }
        let Some(n) = len.checked_sub(TLS13_OVERHEAD) else {
            return false;
        };
        let peer_data = std::mem::take(&mut self.dir[i].peer_data);
        if self.client == Some(i) && !self.preface_read {
            self.preface_read = true;
            if h2_preface(n) {
                return true;
            }
        }
        H2_CONTROL_PLAINTEXT.contains(&n) || peer_data && H2_FLOW_CONTROL_PLAINTEXT.contains(&n)
    }

    /// Side `i` sent new bytes [`from`, `end`) in a segment that starts at
    /// `seq` (`from` is later for a segment that overlaps older data), at
    /// `ns`. Returns what they were.
    pub fn feed<'a>(
        &mut self,
        i: usize,
        seq: Seq,
        from: Seq,
        end: Seq,
        bytes: Bytes<'a>,
        ns: i64,
    ) -> Seen<'a> {
        let mut seen = Seen::default();
        let d = &mut self.dir[i];
        // Bytes of the record in progress.
        match d.framer.begin(seq, from, end, header(bytes.head).is_some()) {
            Err(Lost) => {
                // Bytes the record layer cannot follow count as data.
                seen.app = true;
                return seen;
            }
            Ok(Some(upto)) if d.app => {
                seen.app = true;
                seen.app_bytes += upto.diff(from).max(0) as u32;
            }
            Ok(_) => {}
        }
        loop {
            let d = &mut self.dir[i];
            let (part, body) = match d.framer.header(seq, end, &bytes) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(Lost) => {
                    seen.app = true;
                    return seen;
                }
            };
            let Some((ty, len)) = header(&part) else {
                d.framer.lose();
                seen.app = true;
                return seen;
            };
            let (app, alert) = self.classify(i, ty, len);
            if app {
                self.dir[1 - i].peer_data = true;
            }
            let d = &mut self.dir[i];
            d.app = app;
            d.last_alert = alert;
            d.framer.body(body, u32::from(len));
            if app {
                d.sent_app = true;
                seen.app = true;
                let next = d.framer.next();
                let upto = if next < end { next } else { end };
                seen.app_bytes += (upto.diff(body).max(0) + i64::from(HEADER)) as u32;
            }
            if alert {
                seen.alert = true;
                d.alert_ns.get_or_insert(ns);
            }
            if ty == HANDSHAKE
                && let Ok(off) = usize::try_from(body.diff(seq))
                && let Some(rec) = bytes.head.get(off..)
            {
                let rec = &rec[..rec.len().min(usize::from(len))];
                match rec.first() {
                    Some(1) => {
                        self.client.get_or_insert(i);
                        let h = client_hello(rec);
                        self.h2 = h
                            .alpn
                            .is_some_and(|l| alpn_names(l).all(|n| n == b"h2") && !l.is_empty());
                        seen.hello = Some(h);
                    }
                    Some(2) => {
                        let h = server_hello(rec);
                        self.version = h.version.or(self.version);
                        seen.hello = Some(h);
                    }
                    _ => {}
                }
            }
        }
        seen
    }
}

/// Reads `n` bytes at `*at`, advancing it.
fn take<'a>(b: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = b.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(s)
}

fn u8_at(b: &[u8], at: &mut usize) -> Option<usize> {
    take(b, at, 1).map(|s| usize::from(s[0]))
}

fn u16_at(b: &[u8], at: &mut usize) -> Option<usize> {
    take(b, at, 2).map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
}

/// The extensions of a hello, from `at` (their length first): each one's
/// type and data, as far as the bytes go.
fn extensions(b: &[u8], mut at: usize) -> impl Iterator<Item = (usize, &[u8])> {
    let end = u16_at(b, &mut at).map_or(0, |n| at + n);
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let ty = u16_at(b, &mut at)?;
        let n = u16_at(b, &mut at)?;
        Some((ty, take(b, &mut at, n)?))
    })
}

/// A ClientHello's SNI and ALPN (`rec` starts at its handshake header).
fn client_hello(rec: &[u8]) -> Hello<'_> {
    let mut h = Hello::default();
    // Handshake header (4), version (2), random (32).
    let mut at = 38;
    let skip = (|| {
        let n = u8_at(rec, &mut at)?; // session id
        take(rec, &mut at, n)?;
        let n = u16_at(rec, &mut at)?; // cipher suites
        take(rec, &mut at, n)?;
        let n = u8_at(rec, &mut at)?; // compression methods
        take(rec, &mut at, n)?;
        Some(at)
    })();
    let Some(at) = skip else {
        return h;
    };
    for (ty, data) in extensions(rec, at) {
        match ty {
            // server_name: list length, name type 0 (host_name), length, name.
            0 => {
                let mut p = 2;
                if data.get(2) == Some(&0) {
                    p += 1;
                    if let Some(n) = u16_at(data, &mut p) {
                        h.sni = take(data, &mut p, n);
                    }
                }
            }
            // application_layer_protocol_negotiation: list length, list.
            16 => {
                let mut p = 0;
                if let Some(n) = u16_at(data, &mut p) {
                    h.alpn = take(data, &mut p, n);
                }
            }
            _ => {}
        }
    }
    h
}

/// A ServerHello's chosen version: its supported_versions extension
/// (TLS 1.3), else its legacy version field.
fn server_hello(rec: &[u8]) -> Hello<'_> {
    let mut at = 4;
    let legacy = u16_at(rec, &mut at);
    let mut version = legacy.map(|v| v as u16);
    at += 32;
    let ext_at = (|| {
        let n = u8_at(rec, &mut at)?;
        take(rec, &mut at, n)?;
        take(rec, &mut at, 3)?; // cipher suite, compression
        Some(at)
    })();
    if let Some(at) = ext_at {
        for (ty, data) in extensions(rec, at) {
            if ty == 43
                && let [hi, lo] = *data
            {
                version = Some(u16::from_be_bytes([hi, lo]));
            }
        }
    }
    Hello {
        version,
        ..Hello::default()
    }
}

#[cfg(test)]
mod tests;
