//! Streaming reader for classic pcap and pcapng, plain or gzip-compressed,
//! from any `Read` (a file, standard input, a pipe from `kubectl sniff`).
//!
//! Memory is one block buffer whatever the length of the input: records are
//! parsed in place and handed out as borrowed [`Frame`]s. pcap-parser parses
//! the file and section headers and the interface descriptions (options,
//! `if_tsresol`, `if_tsoffset`); the per-packet records (legacy records,
//! Enhanced and Simple Packet Blocks) are read here directly so that no packet
//! costs an allocation (pcap-parser's EPB parser collects options in a Vec).

use std::io::{self, Read};

use pcap_parser::parse_pcap_header;

use super::Frame;

mod pcapng;

/// Largest record we accept. libpcap and Wireshark refuse records above
/// 256 KiB (`MAXIMUM_SNAPLEN` in libpcap's pcap-int.h) unless the file's
/// snaplen says more; a larger length is a damaged record header, not a packet.
const MAX_RECORD: usize = 262_144;
/// Largest pcapng block we accept (a packet block plus generous options).
const MAX_BLOCK: usize = 16 * 1024 * 1024;
/// Bytes asked of the input per read.
const READ_CHUNK: usize = 1 << 20;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_SPB: u32 = 0x0000_0003;
const PCAPNG_EPB: u32 = 0x0000_0006;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

/// The container format of one input, as detected from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic pcap; `nanos` for the a1b23c4d magic, `big_endian` for
    /// captures written on big-endian machines.
    Pcap { nanos: bool, big_endian: bool },
    /// pcapng (any number of sections and interfaces).
    Pcapng,
    /// A live capture (libpcap), not a file.
    Live,
}

/// In reports, a format is its short name.
impl serde::Serialize for FileFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl FileFormat {
    /// A short human name: "pcap", "pcap-ns", "pcap-be", "pcapng".
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Pcap {
                nanos: false,
                big_endian: false,
            } => "pcap",
            FileFormat::Pcap {
                nanos: true,
                big_endian: false,
            } => "pcap-ns",
            FileFormat::Pcap {
                nanos: false,
                big_endian: true,
            } => "pcap-be",
            FileFormat::Pcap {
                nanos: true,
                big_endian: true,
            } => "pcap-ns-be",
            FileFormat::Pcapng => "pcapng",
            FileFormat::Live => "live",
        }
    }
}

/// Why reading stopped early or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input could not be read at all.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The input is empty.
    #[error("empty input (0 bytes), not a capture")]
    Empty,
    /// The first bytes are neither a pcap nor a pcapng magic.
    #[error("not a pcap or pcapng capture (starts with {0})")]
    NotACapture(String),
    /// The input ends in the middle of a record: a capture still being
    /// written, or a broken download. Everything before is valid.
    #[error("cut off in the middle of a record at byte {offset}")]
    Truncated { offset: u64 },
    /// A record or block header makes no sense (absurd length, bad magic).
    /// Everything before is valid; nothing after can be trusted.
    #[error("damaged record at byte {offset}: {what}")]
    Damaged { offset: u64, what: String },
}

impl ReadError {
    /// True when the error ends the input but leaves what was read valid
    /// (report so far plus a warning), false when nothing could be read.
    pub fn is_partial(&self) -> bool {
        matches!(
            self,
            ReadError::Truncated { .. } | ReadError::Damaged { .. }
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u16,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// `if_tsoffset`, in seconds.
    offset_s: i64,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    ts_ns: i64,
    linktype: u16,
    origlen: u32,
    start: usize,
    len: usize,
}

/// A streaming reader over one capture.
pub struct CaptureReader {
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes of the (decompressed) input consumed before `buf[start]`.
    consumed: u64,
    format: FileFormat,
    gzip: bool,
    ng_big_endian: bool,
    interfaces: Vec<Interface>,
    current: Option<Current>,
    /// Link types seen, in order of first appearance.
    linktypes: Vec<u16>,
    /// Packets whose pcapng interface id names no interface.
    pub bad_interface: u64,
    /// Classic pcap: the file's link type and the largest sane record.
    pcap_linktype: u16,
    max_record: usize,
}

impl CaptureReader {
    /// Detects the format (gzip, pcap, pcapng) from the first bytes and reads
    /// the file header.
    pub fn new<R: Read + Send + 'static>(mut input: R) -> Result<CaptureReader, ReadError> {
        let mut head = [0u8; 4];
        let n = read_up_to(&mut input, &mut head)?;
        if n == 0 {
            return Err(ReadError::Empty);
        }
        let prefix = io::Cursor::new(head[..n].to_vec());
        let gzip = n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        let input: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(
                prefix.chain(input),
            )))
        } else {
            Box::new(prefix.chain(input))
        };
        let mut reader = CaptureReader {
            input,
            buf: vec![0; READ_CHUNK * 2],
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
            format: FileFormat::Pcapng,
            gzip,
            ng_big_endian: false,
            interfaces: Vec::new(),
            current: None,
            linktypes: Vec::new(),
            bad_interface: 0,
            pcap_linktype: 0,
            max_record: MAX_RECORD,
        };
        reader.read_header()?;
        Ok(reader)
    }

    /// The detected container format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Whether the input was gzip-compressed.
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// Link types seen so far (for pcap: the file's; for pcapng: every
    /// interface description), in order of first appearance.
    pub fn linktypes(&self) -> &[u16] {
        &self.linktypes
    }

    /// Bytes of the decompressed input consumed so far.
    pub fn position(&self) -> u64 {
        self.consumed
    }

    fn note_linktype(&mut self, lt: u16) {
        if !self.linktypes.contains(&lt) {
            self.linktypes.push(lt);
        }
    }

    fn read_header(&mut self) -> Result<(), ReadError> {
        self.fill(4)?;
        let avail = &self.buf[self.start..self.end];
        if avail.len() < 4 {
            return Err(ReadError::NotACapture(hex(avail)));
        }
        let magic = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]);
        if magic == PCAPNG_SHB {
            self.format = FileFormat::Pcapng;
            // The section header is read by `advance` like every other block.
            return Ok(());
        }
        let known = matches!(
            magic,
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1
        );
        if !known {
            return Err(ReadError::NotACapture(hex(&avail[..4])));
        }
        self.fill(24)?;
        if self.end - self.start < 24 {
            return Err(ReadError::Truncated {
                offset: self.consumed,
            });
        }
        let header = match parse_pcap_header(&self.buf[self.start..self.end]) {
            Ok((_, h)) => h,
            Err(_) => {
                return Err(ReadError::NotACapture(hex(
                    &self.buf[self.start..self.start + 4]
                )));
            }
        };
        if header.is_modified_format() {
            return Err(ReadError::NotACapture(
                "a1b2cd34: the 'modified' (Kuznetzov) pcap format is not supported".into(),
            ));
        }
        self.format = FileFormat::Pcap {
            nanos: header.is_nanosecond_precision(),
            big_endian: header.is_bigendian(),
        };
        let lt = (header.network.0 as u32 & 0xffff) as u16;
        self.note_linktype(lt);
        self.pcap_linktype = lt;
        // A snaplen above the usual maximum raises the limit, but never past
        // what a block may hold: a header is no reason to allocate gigabytes.
        self.max_record = MAX_RECORD.max((header.snaplen as usize).min(MAX_BLOCK));
        self.consume(24);
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n as u64;
    }

    /// Makes at least `need` bytes available from `start`, unless the input
    /// ends first. Never grows the buffer past what one record may need.
    #[inline]
    fn fill(&mut self, need: usize) -> Result<(), ReadError> {
        if self.end - self.start >= need {
            return Ok(());
        }
        self.refill(need)
    }

    /// The slow half of [`fill`](Self::fill): move what is left to the
    /// front and read a large block.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, need: usize) -> Result<(), ReadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if need > self.buf.len() {
            self.buf.resize(need.next_power_of_two(), 0);
        }
        while self.end < need && !self.eof {
            // Read in large chunks: one syscall per megabyte, not per record.
            let want = (self.buf.len() - self.end).min(READ_CHUNK.max(need - self.end));
            match self.input.read(&mut self.buf[self.end..self.end + want]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A gzip stream that ends early reports UnexpectedEof: the data
                // before it is valid, the rest is cut off.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.eof = true,
                Err(e) if self.gzip => {
                    return Err(ReadError::Damaged {
                        offset: self.consumed + (self.end - self.start) as u64,
                        what: format!("gzip stream: {e}"),
                    });
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(())
    }

    /// The frame read by the last successful [`advance`](Self::advance).
    pub fn current(&self) -> Option<Frame<'_>> {
        self.current.map(|c| Frame {
            ts_ns: c.ts_ns,
            linktype: c.linktype,
            origlen: c.origlen,
            data: &self.buf[c.start..c.start + c.len],
        })
    }

    /// Timestamp of the current frame.
    pub fn current_ts(&self) -> Option<i64> {
        self.current.map(|c| c.ts_ns)
    }

    /// Reads the next frame. `Ok(false)` at a clean end of input.
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        Ok(self.read_frame()?.is_some())
    }

    /// Reads the next frame and returns it (also [`current`](Self::current)
    /// until the next read); `Ok(None)` at a clean end of input.
    #[inline]
    pub fn read_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        // The previous record's bytes were left in place for the caller; from
        // here on they may be overwritten.
        self.current = None;
        let c = match self.format {
            FileFormat::Pcap { nanos, big_endian } => self.next_pcap(nanos, big_endian)?,
            FileFormat::Pcapng => self.next_pcapng()?,
            FileFormat::Live => None,
        };
        let Some(c) = c else {
            return Ok(None);
        };
        self.current = Some(c);
        Ok(Some(Frame {
            ts_ns: c.ts_ns,
            linktype: c.linktype,
            origlen: c.origlen,
            data: &self.buf[c.start..c.start + c.len],
        }))
    }

    fn next_pcap(&mut self, nanos: bool, be: bool) -> Result<Option<Current>, ReadError> {
        self.fill(16)?;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(None);
        }
        if avail < 16 {
            return Err(ReadError::Truncated {
                offset: self.consumed,
            });
        }
        let h: &[u8; 16] = self.buf[self.start..self.start + 16]
            .try_into()
            .expect("16 bytes");
        let le = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        // The byte order once, not per field.
        let [sec, frac, caplen, origlen] = if be {
            [le(0), le(4), le(8), le(12)].map(u32::swap_bytes)
        } else {
            [le(0), le(4), le(8), le(12)]
        };
        let caplen = caplen as usize;
        if caplen > self.max_record {
            return Err(ReadError::Damaged {
                offset: self.consumed,
                what: format!("record length {caplen} is larger than any packet"),
            });
        }
        self.fill(16 + caplen)?;
        if self.end - self.start < 16 + caplen {
            return Err(ReadError::Truncated {
                offset: self.consumed,
            });
        }
        let frac_ns = if nanos {
            frac as i64
        } else {
            frac as i64 * 1000
        };
        // Seconds are unsigned 32-bit: up to 2106, past TS_LIMIT_NS (2043).
        let ts_ns = (sec as i64 * 1_000_000_000 + frac_ns).min(TS_LIMIT_NS);
        let cur = Current {
            ts_ns,
            linktype: self.pcap_linktype,
            origlen: origlen.max(caplen as u32),
            start: self.start + 16,
            len: caplen,
        };
        self.consume(16 + caplen);
        Ok(Some(cur))
    }
}

/// Timestamps are kept within ±2^61 ns (±73 years around 1970: every real
/// capture) so that differences and sums of them can never overflow.
pub const TS_LIMIT_NS: i64 = 1 << 61;

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b.iter().take(8) {
        s.push_str(&format!("{x:02x}"));
    }
    s
}
