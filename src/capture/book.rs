//! The bookkeeping of a capture on several interfaces: per interface its
//! counters, libpcap's drop counts and where it leads (peer namespace,
//! pod), so each finding can name where its connection came in; and the `-w` file, classic pcap for one interface or
//! pcapng with an interface block per interface.

use std::fs::File;
use std::io::{self, BufWriter};

use std::sync::Arc;

use anyhow::Result;

use racecap::decode::linktype;
use racecap::report::{Finding, Place};
use racecap::source::live::{Event, LiveStats};
use racecap::source::place::Roots;
use racecap::source::write::{Endian, PcapWriter, PcapngWriter};
use racecap::source::{FileFormat, Frame, InputStats};

use racecap::metrics::Metrics;

/// What a capture keeps per interface, by the ids [`racecap::source::live::LiveSet`] gives.
pub struct Book {
    /// `--netns` as given.
    netns: Option<String>,
    roots: Roots,
    pub stats: Vec<InputStats>,
    /// libpcap's counters: the last read of each interface.
    pub drops: Vec<Option<LiveStats>>,
    places: Vec<Place>,
    /// Drops already added to the metrics, by interface id.
    counted_drops: Vec<u64>,
    pub metrics: Option<Arc<Metrics>>,
}

impl Book {
    pub fn new(netns: Option<String>, metrics: Option<Arc<Metrics>>) -> Book {
        Book {
            counted_drops: Vec::new(),
            metrics,
            netns,
            roots: Roots::default(),
            stats: Vec::new(),
            drops: Vec::new(),
            places: Vec::new(),
        }
    }

    /// Records an interface that opened or went away, says so when it was
    /// not one of those opened at the start, and describes new ones in the
    /// `-w` file.
    pub fn event(&mut self, e: Event, out: &mut Sink, quiet: &mut usize) -> Result<()> {
        match e {
            Event::Opened { id, name, linktype } => {
                let i = id as usize;
                if i == self.stats.len() {
                    let mut s = InputStats::new(format!("live:{name}"), FileFormat::Live, false);
                    s.linktypes.push(linktype);
                    self.stats.push(s);
                    self.drops.push(None);
                    self.counted_drops.push(0);
                    self.places
                        .push(self.roots.locate(&name, self.netns.as_deref()));
                    out.interface(linktype);
                } else {
                    // Back under the same name: a new veth, perhaps a new pod.
                    self.places[i] = self.roots.locate(&name, self.netns.as_deref());
                }
                if *quiet > 0 {
                    *quiet -= 1;
                } else {
                    eprintln!(
                        "racecap: capturing on {name} too (link type {})",
                        linktype::name(linktype)
                    );
                }
            }
            Event::Gone {
                id,
                name,
                stats,
                why,
            } => {
                if stats.is_some() {
                    self.drops[id as usize] = stats;
                    self.count_drops(id);
                }
                if let Some(m) = &self.metrics {
                    m.interface_gone(&name);
                }
                eprintln!("racecap: stopped capturing on {name}: {why}");
            }
            Event::Failed { name, error } => {
                eprintln!("racecap: warning: cannot capture on {name}: {error}");
            }
        }
        Ok(())
    }

    /// Takes libpcap's counters of the open interfaces.
    pub fn drops(&mut self, stats: Vec<(u32, Option<LiveStats>)>) {
        for (id, s) in stats {
            if s.is_some() {
                self.drops[id as usize] = s;
                self.count_drops(id);
            }
        }
    }

    /// Adds an interface's new drops to the metrics.
    fn count_drops(&mut self, id: u32) {
        let (Some(m), Some(s)) = (&self.metrics, self.drops[id as usize]) else {
            return;
        };
        let i = id as usize;
        let total = s.dropped + s.if_dropped;
        let new = total.saturating_sub(self.counted_drops[i]);
        self.counted_drops[i] = total;
        // Always touched, so the series exists (at 0) from the start.
        m.drops(self.stats[i].name.trim_start_matches("live:"), new);
    }

    /// Sets where a finding was captured: the interface its connection's
    /// first segment came in on (a connection seen on two interfaces, pod
    /// to pod on one node across two veths, keeps the first).
    pub fn place(&self, f: &mut Finding) {
        f.place = self.places.get(f.input as usize).cloned();
    }
}

/// The `-w` file, if any, and the first error writing it: a full disk
/// stops the writing, not the capture (the report still comes, and the
/// error, naming the file, decides the exit code).
pub struct Sink {
    out: Option<Out>,
    path: String,
    error: Option<String>,
}

impl Sink {
    /// Writing to `out`, the file at `path` (as given).
    pub fn new(out: Option<Out>, path: String) -> Sink {
        Sink {
            out,
            path,
            error: None,
        }
    }

    fn guard(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.error = Some(format!("writing {}: {e}", self.path));
            self.out = None;
        }
    }

    /// Describes a new interface (pcapng).
    pub fn interface(&mut self, linktype: u16) {
        if let Some(o) = &mut self.out {
            let r = o.interface(linktype);
            self.guard(r);
        }
    }

    /// Writes a frame that came in on interface `id`.
    pub fn write(&mut self, id: u32, f: &Frame<'_>) {
        if let Some(o) = &mut self.out {
            let r = o.write(id, f);
            self.guard(r);
        }
    }

    /// Flushes what was written so far.
    pub fn flush(&mut self) {
        if let Some(o) = &mut self.out {
            let r = o.flush();
            self.guard(r);
        }
    }

    /// Flushes and closes; the first error, if writing failed.
    pub fn finish(mut self) -> Option<String> {
        if let Some(o) = self.out.take() {
            let r = o.finish();
            self.guard(r);
        }
        self.error
    }
}

/// The `-w` file: classic pcap for one named interface (as tcpdump
/// writes), else pcapng whose interface block ids are the interface ids.
pub enum Out {
    Pcap(PcapWriter<BufWriter<File>>),
    Pcapng(PcapngWriter<BufWriter<File>>, u32),
}

impl Out {
    /// Classic pcap with this link type, or pcapng (`linktype` None) whose
    /// interfaces are described as they open.
    pub fn new(f: File, linktype: Option<u16>, snaplen: u32) -> io::Result<Out> {
        let w = BufWriter::new(f);
        Ok(match linktype {
            Some(lt) => Out::Pcap(PcapWriter::new(w, lt, snaplen, true, Endian::Little)?),
            None => Out::Pcapng(PcapngWriter::new(w, Endian::Little)?, snaplen),
        })
    }

    fn interface(&mut self, linktype: u16) -> io::Result<()> {
        if let Out::Pcapng(w, snaplen) = self {
            // Nanosecond timestamps (if_tsresol 9), as libpcap gives them.
            w.interface(linktype, *snaplen, 9, 0)?;
        }
        Ok(())
    }

    /// Writes a frame that came in on interface `id`.
    pub fn write(&mut self, id: u32, f: &Frame<'_>) -> io::Result<()> {
        match self {
            Out::Pcap(w) => w.write(f.ts_ns, f.origlen, f.data),
            Out::Pcapng(w, _) => w.packet(id, f.ts_ns, f.origlen, f.data),
        }
    }

    /// Flushes what was written so far.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Pcap(w) => w.flush(),
            Out::Pcapng(w, _) => w.flush(),
        }
    }

    /// Flushes and closes.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Out::Pcap(w) => w.finish().map(drop),
            Out::Pcapng(w, _) => w.finish().map(drop),
        }
    }
}
