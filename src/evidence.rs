//! `--evidence FILE.pcap`: a second pass over the inputs that copies every
//! packet of the failing connections into one file Wireshark opens, with
//! the connections that carried the proxy's retries of lost requests (so
//! that analysing the evidence again finds the same retries). Classic pcap
//! when all inputs share one link type, pcapng (one interface per link
//! type) otherwise.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use racecap::decode;
use racecap::flow::FlowKey;
use racecap::report::Report;
use racecap::source::write::{Endian, PcapWriter, PcapngWriter};
use racecap::source::{CaptureReader, InputStats, Merged};

/// Snap length written into the evidence file's headers.
const SNAPLEN: u32 = 262_144;

/// The evidence file, in whichever container the link types allow.
enum Writer {
    Pcap(PcapWriter<BufWriter<File>>),
    Ng(PcapngWriter<BufWriter<File>>, HashMap<u16, u32>),
}

impl Writer {
    fn create(out: &Path, linktypes: &[u16]) -> Result<Writer> {
        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let file = BufWriter::new(file);
        if linktypes.len() <= 1 {
            let lt = linktypes
                .first()
                .copied()
                .unwrap_or(decode::linktype::ETHERNET);
            return Ok(Writer::Pcap(PcapWriter::new(
                file,
                lt,
                SNAPLEN,
                true,
                Endian::Little,
            )?));
        }
        let mut ng = PcapngWriter::new(file, Endian::Little)?;
        let mut ids = HashMap::new();
        for lt in linktypes {
            ids.insert(*lt, ng.interface(*lt, SNAPLEN, 9, 0)?);
        }
        Ok(Writer::Ng(ng, ids))
    }

    fn write(&mut self, frame: &decode::Frame<'_>) -> Result<()> {
        match self {
            Writer::Pcap(p) => p.write(frame.ts_ns, frame.origlen, frame.data)?,
            Writer::Ng(p, ids) => {
                p.packet(ids[&frame.linktype], frame.ts_ns, frame.origlen, frame.data)?
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Writer::Pcap(p) => {
                p.finish()?;
            }
            Writer::Ng(p, _) => {
                p.finish()?;
            }
        }
        Ok(())
    }
}

fn open(paths: &[PathBuf]) -> Result<Merged> {
    let mut readers = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let file = File::open(path).with_context(|| format!("reopening {name}"))?;
        let r = CaptureReader::new(file).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        readers.push((name, r));
    }
    Ok(Merged::new(readers)?)
}

/// Copies every packet of the report's findings, and of the connections
/// that retried their requests (which the analysis named), from `paths`
/// (the inputs, read again) to `out`; returns the number of packets written.
pub fn write(report: &Report, paths: &[PathBuf], inputs: &[InputStats], out: &Path) -> Result<u64> {
    let mut spans: HashMap<FlowKey, Vec<(i64, i64)>> = HashMap::new();
    for f in &report.findings {
        spans.entry(f.key).or_default().push((f.start.0, f.end.0));
    }
    let retries: HashSet<FlowKey> = report.findings.iter().filter_map(|f| f.retry_key).collect();
    let mut linktypes: Vec<u16> = inputs.iter().flat_map(|i| i.linktypes.clone()).collect();
    linktypes.sort_unstable();
    linktypes.dedup();
    let mut w = Writer::create(out, &linktypes)?;
    let mut merged = open(paths)?;
    let mut n = 0u64;
    while let Some((_, frame)) = merged.next_frame()? {
        let Ok(seg) = decode::decode(&frame) else {
            continue;
        };
        let (key, _) = seg.key();
        // A retry's connection whole: its handshake and answer too.
        let hit = retries.contains(&key)
            || spans
                .get(&key)
                .is_some_and(|v| v.iter().any(|&(a, b)| frame.ts_ns >= a && frame.ts_ns <= b));
        if hit {
            w.write(&frame)?;
            n += 1;
        }
    }
    w.finish()?;
    Ok(n)
}
