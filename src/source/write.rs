//! Capture writers (classic pcap and pcapng). Tests and benchmarks build exact
//! synthetic captures with them, and `--evidence` writes the packets of
//! failing connections with them so that they open directly in Wireshark.

use std::io::{self, Write};

/// Byte order of a written capture (real captures come in both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (x86, ARM).
    Little,
    /// Big-endian (captures written on SPARC, MIPS, POWER).
    Big,
}

impl Endian {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn i32(self, v: i32) -> [u8; 4] {
        self.u32(v as u32)
    }
}

/// Writes a classic pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
    endian: Endian,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header. `nanos` selects the nanosecond magic (a1b23c4d).
    pub fn new(
        mut out: W,
        linktype: u16,
        snaplen: u32,
        nanos: bool,
        endian: Endian,
    ) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&endian.u32(magic))?;
        out.write_all(&endian.u16(2))?;
        out.write_all(&endian.u16(4))?;
        out.write_all(&endian.i32(0))?;
        out.write_all(&endian.u32(0))?;
        out.write_all(&endian.u32(snaplen))?;
        out.write_all(&endian.u32(linktype as u32))?;
        Ok(PcapWriter { out, nanos, endian })
    }

    /// Writes one record. `origlen` may exceed `data.len()` (snaplen cut).
    /// Timestamps before 1970 cannot be written in this format and are clamped.
    pub fn write(&mut self, ts_ns: i64, origlen: u32, data: &[u8]) -> io::Result<()> {
        let ts = ts_ns.max(0);
        let sec = (ts / 1_000_000_000) as u32;
        let frac = (ts % 1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        let e = self.endian;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&e.u32(sec));
        h[4..8].copy_from_slice(&e.u32(frac));
        h[8..12].copy_from_slice(&e.u32(data.len() as u32));
        h[12..16].copy_from_slice(&e.u32(origlen.max(data.len() as u32)));
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// Flushes buffered records to the inner writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a pcapng file: sections, interfaces with their own link type,
/// timestamp resolution and offset, and enhanced packet blocks.
pub struct PcapngWriter<W: Write> {
    out: W,
    endian: Endian,
    /// Per interface of the current section: (units per second, offset in s).
    interfaces: Vec<(u64, i64)>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the first section header.
    pub fn new(out: W, endian: Endian) -> io::Result<Self> {
        let mut w = PcapngWriter {
            out,
            endian,
            interfaces: Vec::new(),
        };
        w.section()?;
        Ok(w)
    }

    /// Starts a new section (its interfaces start again from id 0).
    pub fn section(&mut self) -> io::Result<()> {
        let e = self.endian;
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&e.u32(0x1A2B_3C4D));
        body.extend_from_slice(&e.u16(1));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        self.block(0x0A0D_0D0A, &body)?;
        self.interfaces.clear();
        Ok(())
    }

    /// Describes an interface; returns its id. `tsresol` follows pcapng's
    /// `if_tsresol` (6 = µs, 9 = ns; high bit set = powers of two) and
    /// `tsoffset_s` its `if_tsoffset`.
    pub fn interface(
        &mut self,
        linktype: u16,
        snaplen: u32,
        tsresol: u8,
        tsoffset_s: i64,
    ) -> io::Result<u32> {
        let e = self.endian;
        let mut body = Vec::with_capacity(40);
        body.extend_from_slice(&e.u16(linktype));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&e.u32(snaplen));
        // if_tsresol (9): one byte, padded to 4.
        body.extend_from_slice(&e.u16(9));
        body.extend_from_slice(&e.u16(1));
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        if tsoffset_s != 0 {
            // if_tsoffset (14): a 64-bit signed integer.
            body.extend_from_slice(&e.u16(14));
            body.extend_from_slice(&e.u16(8));
            let v = tsoffset_s as u64;
            match e {
                Endian::Little => body.extend_from_slice(&v.to_le_bytes()),
                Endian::Big => body.extend_from_slice(&v.to_be_bytes()),
            }
        }
        // opt_endofopt
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &body)?;
        let units = if tsresol & 0x80 == 0 {
            10u64.pow(tsresol as u32)
        } else {
            1u64 << (tsresol & 0x7f)
        };
        self.interfaces.push((units, tsoffset_s));
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Writes one enhanced packet block on interface `iface` (which need not
    /// exist: tests use that to build damaged files).
    pub fn packet(&mut self, iface: u32, ts_ns: i64, origlen: u32, data: &[u8]) -> io::Result<()> {
        let e = self.endian;
        let (units, off) = self
            .interfaces
            .get(iface as usize)
            .copied()
            .unwrap_or((1_000_000_000, 0));
        let rel = ts_ns as i128 - off as i128 * 1_000_000_000;
        let ts = (rel.max(0) * units as i128 / 1_000_000_000) as u64;
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend_from_slice(&e.u32(iface));
        body.extend_from_slice(&e.u32((ts >> 32) as u32));
        body.extend_from_slice(&e.u32(ts as u32));
        body.extend_from_slice(&e.u32(data.len() as u32));
        body.extend_from_slice(&e.u32(origlen.max(data.len() as u32)));
        body.extend_from_slice(data);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        self.block(6, &body)
    }

    /// Writes a block of any type (unknown types included, for tests).
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let e = self.endian;
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        self.out.write_all(&e.u32(block_type))?;
        self.out.write_all(&e.u32(len))?;
        self.out.write_all(body)?;
        let pad = (4 - body.len() % 4) % 4;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.out.write_all(&e.u32(len))
    }

    /// Flushes what was written so far (a live `-w` file stays readable).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::source::{CaptureReader, FileFormat};

    fn read_all(bytes: Vec<u8>) -> Vec<(i64, u16, u32, Vec<u8>)> {
        let mut r = CaptureReader::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        while r.advance().unwrap() {
            let f = r.current().unwrap();
            out.push((f.ts_ns, f.linktype, f.origlen, f.data.to_vec()));
        }
        out
    }

    #[test]
    fn test_pcap_roundtrip_every_variant() {
        for nanos in [false, true] {
            for endian in [Endian::Little, Endian::Big] {
                let mut w = PcapWriter::new(Vec::new(), 1, 65535, nanos, endian).unwrap();
                w.write(1_700_000_000_123_456_789, 100, &[1, 2, 3]).unwrap();
                w.write(1_700_000_001_000_000_001, 3, &[4, 5, 6]).unwrap();
                let bytes = w.finish().unwrap();
                let r = CaptureReader::new(std::io::Cursor::new(bytes.clone())).unwrap();
                assert_eq!(
                    r.format(),
                    FileFormat::Pcap {
                        nanos,
                        big_endian: endian == Endian::Big
                    }
                );
                let got = read_all(bytes);
                let (t0, t1) = if nanos {
                    (1_700_000_000_123_456_789, 1_700_000_001_000_000_001)
                } else {
                    (1_700_000_000_123_456_000, 1_700_000_001_000_000_000)
                };
                assert_eq!(got[0], (t0, 1, 100, vec![1, 2, 3]));
                assert_eq!(got[1], (t1, 1, 3, vec![4, 5, 6]));
            }
        }
    }

    #[test]
    fn test_pcapng_sections_interfaces_resolution_offset() {
        for endian in [Endian::Little, Endian::Big] {
            let mut w = PcapngWriter::new(Vec::new(), endian).unwrap();
            let a = w.interface(1, 65535, 6, 0).unwrap();
            let b = w.interface(276, 65535, 9, 0).unwrap();
            w.packet(a, 1_000_000_001_234_567_000, 60, &[0xaa; 5])
                .unwrap();
            w.packet(b, 1_000_000_001_234_567_891, 60, &[0xbb; 6])
                .unwrap();
            w.block(0x0BAD_0000, &[1, 2, 3, 4, 5]).unwrap();
            w.section().unwrap();
            let c = w.interface(101, 65535, 0x80 | 20, 100).unwrap();
            w.packet(c, 1_000_000_200_500_000_000, 6, &[0xcc; 7])
                .unwrap();
            let got = read_all(w.finish().unwrap());
            assert_eq!(got.len(), 3);
            assert_eq!(got[0], (1_000_000_001_234_567_000, 1, 60, vec![0xaa; 5]));
            assert_eq!(got[1], (1_000_000_001_234_567_891, 276, 60, vec![0xbb; 6]));
            // 2^-20 s units, 100 s offset: 1000000200.5 s is exact in that base.
            assert_eq!(got[2], (1_000_000_200_500_000_000, 101, 7, vec![0xcc; 7]));
        }
    }
}
