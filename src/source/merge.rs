//! Several captures on one command line are read as one timeline: a k-way
//! merge by timestamp over streaming readers, so memory stays one buffer per
//! input. Per-input counters are kept here for the report's file list.

use super::{CaptureReader, FileFormat, Frame, ReadError};

/// What one input held, for the report.
#[derive(Debug, Clone)]
pub struct InputStats {
    /// The name the user gave ("-" for standard input).
    pub name: String,
    /// Detected container format.
    pub format: FileFormat,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// Link types seen.
    pub linktypes: Vec<u16>,
    /// Frames read.
    pub packets: u64,
    /// Captured bytes of those frames.
    pub bytes: u64,
    /// Earliest and latest frame timestamps (ns).
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// Frames whose timestamp went backwards compared with the one before.
    pub backwards: u64,
    /// Packets naming a pcapng interface that was never described.
    pub bad_interface: u64,
    /// Why the input ended early, if it did (report so far plus a warning).
    pub stopped: Option<String>,
}

impl InputStats {
    /// Counters of an input not read yet.
    pub fn new(name: String, format: FileFormat, gzip: bool) -> InputStats {
        InputStats {
            name,
            format,
            gzip,
            linktypes: Vec::new(),
            packets: 0,
            bytes: 0,
            first_ns: None,
            last_ns: None,
            backwards: 0,
            bad_interface: 0,
            stopped: None,
        }
    }

    /// Counts one frame.
    pub fn count(&mut self, ts_ns: i64, captured: usize) {
        self.packets += 1;
        self.bytes += captured as u64;
        self.first_ns = Some(self.first_ns.map_or(ts_ns, |v| v.min(ts_ns)));
        self.last_ns = Some(self.last_ns.map_or(ts_ns, |v| v.max(ts_ns)));
    }
}

/// A problem with one input that stops the whole run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{file}: {error}")]
pub struct SourceProblem {
    /// The input's name.
    pub file: String,
    /// What went wrong.
    pub error: ReadError,
}

struct Input {
    reader: CaptureReader,
    stats: InputStats,
    done: bool,
    prev_ns: Option<i64>,
}

impl Input {
    /// Reads and counts the next frame (nothing once done).
    fn step(&mut self) -> Result<(), SourceProblem> {
        if self.done {
            return Ok(());
        }
        match self.reader.advance() {
            Ok(true) => {
                let f = self.reader.current().expect("advance returned a frame");
                count(&mut self.stats, &mut self.prev_ns, &f);
            }
            Ok(false) => self.done = true,
            Err(e) => self.failed(e)?,
        }
        Ok(())
    }

    /// The input ended early (counted, the run goes on) or cannot be read.
    fn failed(&mut self, error: ReadError) -> Result<(), SourceProblem> {
        failed(&mut self.done, &mut self.stats, error)
    }
}

/// [`Input::failed`], on its parts (its reader may be borrowed).
#[cold]
fn failed(done: &mut bool, stats: &mut InputStats, error: ReadError) -> Result<(), SourceProblem> {
    *done = true;
    if error.is_partial() {
        stats.stopped = Some(error.to_string());
        return Ok(());
    }
    Err(SourceProblem {
        file: stats.name.clone(),
        error,
    })
}

/// Counts a frame read from an input.
#[inline]
fn count(stats: &mut InputStats, prev_ns: &mut Option<i64>, f: &Frame<'_>) {
    if prev_ns.is_some_and(|p| f.ts_ns < p) {
        stats.backwards += 1;
    }
    *prev_ns = Some(f.ts_ns);
    stats.count(f.ts_ns, f.data.len());
}

/// Inputs merged into one stream of frames in timestamp order.
pub struct Merged {
    inputs: Vec<Input>,
    last: Option<usize>,
    /// One input (the usual case): nothing to merge, so nothing is read
    /// ahead; each frame is read when it is asked for.
    single: bool,
}

impl Merged {
    /// Starts reading every input (each is positioned on its first frame,
    /// unless there is only one).
    pub fn new(readers: Vec<(String, CaptureReader)>) -> Result<Merged, SourceProblem> {
        let mut inputs = Vec::with_capacity(readers.len());
        for (name, reader) in readers {
            let stats = InputStats::new(name, reader.format(), reader.gzip());
            inputs.push(Input {
                reader,
                stats,
                done: false,
                prev_ns: None,
            });
        }
        let single = inputs.len() == 1;
        let mut merged = Merged {
            inputs,
            last: None,
            single,
        };
        if !single {
            for input in &mut merged.inputs {
                input.step()?;
            }
        }
        Ok(merged)
    }

    /// The next frame of the only input: read, counted and handed over at
    /// once, with no look-ahead and no merge (issue 22).
    #[inline]
    fn next_single(&mut self) -> Result<Option<(usize, Frame<'_>)>, SourceProblem> {
        let input = &mut self.inputs[0];
        if input.done {
            return Ok(None);
        }
        let Input {
            reader,
            stats,
            done,
            prev_ns,
        } = input;
        match reader.read_frame() {
            Ok(Some(f)) => {
                count(stats, prev_ns, &f);
                Ok(Some((0, f)))
            }
            Ok(None) => {
                *done = true;
                Ok(None)
            }
            Err(e) => {
                failed(done, stats, e)?;
                Ok(None)
            }
        }
    }

    /// The next frame in timestamp order, with the index of its input.
    pub fn next_frame(&mut self) -> Result<Option<(usize, Frame<'_>)>, SourceProblem> {
        if self.single {
            return self.next_single();
        }
        if let Some(i) = self.last.take() {
            self.inputs[i].step()?;
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, input) in self.inputs.iter().enumerate() {
            if input.done {
                continue;
            }
            if let Some(ts) = input.reader.current_ts()
                && best.is_none_or(|(_, b)| ts < b)
            {
                best = Some((i, ts));
            }
        }
        let Some((i, _)) = best else {
            return Ok(None);
        };
        self.last = Some(i);
        Ok(self.inputs[i].reader.current().map(|f| (i, f)))
    }

    /// Bytes consumed from all inputs so far (decompressed).
    pub fn position(&self) -> u64 {
        self.inputs.iter().map(|i| i.reader.position()).sum()
    }

    /// Per-input counters (complete once `next_frame` returned `None`).
    pub fn stats(&self) -> Vec<InputStats> {
        self.inputs
            .iter()
            .map(|i| {
                let mut s = i.stats.clone();
                s.linktypes = i.reader.linktypes().to_vec();
                s.bad_interface = i.reader.bad_interface;
                s
            })
            .collect()
    }
}
