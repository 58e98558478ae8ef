//! pcapng blocks: section headers (byte order), interface descriptions
//! (link type, `if_tsresol`, `if_tsoffset`, through pcap-parser) and the
//! packet blocks (Enhanced and Simple, read in place so that no packet costs
//! an allocation). Any other block is skipped by its length.

use pcap_parser::pcapng::{
    InterfaceDescriptionBlock, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock,
};

use super::*;

/// Interfaces kept per pcapng section: a capture of every veth of a busy
/// node has hundreds; a file of 60 million description blocks (2.8 MB
/// gzip'd) held 1.35 GiB. Beyond, a packet naming a later interface is
/// counted as naming none (`bad_interface`), as for an id never described.
pub const MAX_INTERFACES: usize = 1 << 16;

impl CaptureReader {
    fn ng_u32(&self, at: usize) -> u32 {
        let b = [
            self.buf[at],
            self.buf[at + 1],
            self.buf[at + 2],
            self.buf[at + 3],
        ];
        if self.ng_big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    pub(super) fn next_pcapng(&mut self) -> Result<Option<Current>, ReadError> {
        loop {
            self.fill(12)?;
            let avail = self.end - self.start;
            if avail == 0 {
                return Ok(None);
            }
            if avail < 12 {
                return Err(ReadError::Truncated {
                    offset: self.consumed,
                });
            }
            let s = self.start;
            let raw_type = u32::from_le_bytes([
                self.buf[s],
                self.buf[s + 1],
                self.buf[s + 2],
                self.buf[s + 3],
            ]);
            if raw_type == PCAPNG_SHB {
                // The byte-order magic decides how to read the rest, including
                // this block's own length.
                let bom = u32::from_le_bytes([
                    self.buf[s + 8],
                    self.buf[s + 9],
                    self.buf[s + 10],
                    self.buf[s + 11],
                ]);
                self.ng_big_endian = match bom {
                    PCAPNG_BOM => false,
                    x if x.swap_bytes() == PCAPNG_BOM => true,
                    _ => {
                        return Err(ReadError::Damaged {
                            offset: self.consumed,
                            what: "pcapng section header with a bad byte-order magic".into(),
                        });
                    }
                };
            } else if self.interfaces.is_empty() && self.consumed == 0 {
                return Err(ReadError::NotACapture(hex(&self.buf[s..s + 4])));
            }
            let block_type = self.ng_u32(s);
            let len = self.ng_u32(s + 4) as usize;
            if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK {
                return Err(ReadError::Damaged {
                    offset: self.consumed,
                    what: format!("pcapng block of type {block_type:#x} claims length {len}"),
                });
            }
            self.fill(len)?;
            if self.end - self.start < len {
                return Err(ReadError::Truncated {
                    offset: self.consumed,
                });
            }
            let block_start = self.start;
            let offset = self.consumed;
            self.consume(len);
            match block_type {
                PCAPNG_SHB => {
                    let block = &self.buf[block_start..block_start + len];
                    if parse_sectionheaderblock(block).is_err() {
                        return Err(ReadError::Damaged {
                            offset,
                            what: "unreadable pcapng section header".into(),
                        });
                    }
                    // A new section starts a new list of interfaces.
                    self.interfaces.clear();
                }
                PCAPNG_IDB => {
                    let block = &self.buf[block_start..block_start + len];
                    let parsed = if self.ng_big_endian {
                        parse_interfacedescriptionblock_be(block)
                    } else {
                        parse_interfacedescriptionblock_le(block)
                    };
                    let idb: InterfaceDescriptionBlock = match parsed {
                        Ok((_, idb)) => idb,
                        Err(_) => {
                            return Err(ReadError::Damaged {
                                offset,
                                what: "unreadable pcapng interface description".into(),
                            });
                        }
                    };
                    let lt = (idb.linktype.0 as u32 & 0xffff) as u16;
                    let units_per_sec = ts_units(idb.if_tsresol);
                    let iface = Interface {
                        linktype: lt,
                        units_per_sec,
                        // pcap-parser 0.17 reads if_tsoffset as little-endian
                        // whatever the section's byte order.
                        offset_s: if self.ng_big_endian {
                            idb.ts_offset().swap_bytes()
                        } else {
                            idb.ts_offset()
                        },
                    };
                    // Bounded: packets of interfaces past the cap count
                    // as naming no interface (see MAX_INTERFACES).
                    if self.interfaces.len() < MAX_INTERFACES {
                        self.interfaces.push(iface);
                        self.note_linktype(lt);
                    }
                }
                PCAPNG_EPB => {
                    if len < 32 {
                        return Err(ReadError::Damaged {
                            offset,
                            what: "pcapng enhanced packet block too short".into(),
                        });
                    }
                    let b = block_start;
                    let if_id = self.ng_u32(b + 8) as usize;
                    let ts = ((self.ng_u32(b + 12) as u64) << 32) | self.ng_u32(b + 16) as u64;
                    let caplen = self.ng_u32(b + 20) as usize;
                    let origlen = self.ng_u32(b + 24);
                    if caplen > len - 32 {
                        return Err(ReadError::Damaged {
                            offset,
                            what: format!("packet length {caplen} exceeds its block ({len})"),
                        });
                    }
                    let Some(iface) = self.interfaces.get(if_id).copied() else {
                        self.bad_interface += 1;
                        continue;
                    };
                    return Ok(Some(Current {
                        ts_ns: ts_to_ns(ts, iface),
                        linktype: iface.linktype,
                        origlen: origlen.max(caplen as u32),
                        start: b + 28,
                        len: caplen,
                    }));
                }
                PCAPNG_SPB => {
                    // Simple packets belong to interface 0 and carry no time.
                    let b = block_start;
                    let origlen = self.ng_u32(b + 8);
                    if len < 16 {
                        return Err(ReadError::Damaged {
                            offset,
                            what: "pcapng simple packet block too short".into(),
                        });
                    }
                    let Some(iface) = self.interfaces.first().copied() else {
                        self.bad_interface += 1;
                        continue;
                    };
                    let caplen = (len - 16).min(origlen as usize);
                    return Ok(Some(Current {
                        ts_ns: 0,
                        linktype: iface.linktype,
                        origlen: origlen.max(caplen as u32),
                        start: b + 12,
                        len: caplen,
                    }));
                }
                // Statistics, name resolution, custom and unknown blocks carry
                // no packets; pcapng says readers skip what they don't know.
                _ => {}
            }
        }
    }
}

/// Timestamp units per second for an `if_tsresol` value. Computed here
/// because pcap-parser 0.17's `build_ts_resolution` rejects every power-of-two
/// resolution (it compares the value with the flag bit still set to 63).
fn ts_units(tsresol: u8) -> u64 {
    let exp = u32::from(tsresol & 0x7f);
    let units = if tsresol & 0x80 == 0 {
        10u64.checked_pow(exp)
    } else {
        1u64.checked_shl(exp).filter(|_| exp < 64)
    };
    // An impossible resolution falls back to pcapng's default, microseconds.
    units.unwrap_or(1_000_000).max(1)
}

fn ts_to_ns(ts: u64, iface: Interface) -> i64 {
    let ns = if iface.units_per_sec == 1_000_000_000 {
        ts as i128
    } else {
        ts as i128 * 1_000_000_000 / iface.units_per_sec as i128
    };
    let ns = ns + iface.offset_s as i128 * 1_000_000_000;
    ns.clamp(-(TS_LIMIT_NS as i128), TS_LIMIT_NS as i128) as i64
}
