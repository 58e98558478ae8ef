//! Reading and decoding on a thread of their own, a batch ahead of the
//! analysis: the two stages use two cores, and the report is the same as a
//! single thread's (the analysis sees the same segments in the same order;
//! `test_threaded_pipeline_equals_frame_by_frame` checks it). The HTTP/1
//! heads are read by whichever of the two has room ([`Heads`]). This is the
//! only place in the library that starts a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::analyzer::{Analyzer, Config};
use crate::app::head::{self, Head};
use crate::decode::Decoded;
use crate::decode::fragment::{self, Reassembly};
use crate::flow::{FlowHash, FlowHasher};
use crate::report::Report;
use crate::source::{CaptureReader, InputStats, Merged, SourceProblem};

/// Frames handed from the reader thread to the analysis in one batch.
const BATCH: usize = 4096;

/// How many batches must wait for the analysis for the reader to read the
/// next batch's HTTP/1 heads itself ([`Heads::Balanced`]).
const BEHIND: usize = 2;

/// Which thread reads the HTTP/1 heads of a batch: the one with room.
/// Either way the analysis answers the same ([`head::Sniff`] reads the
/// bytes when the reader did not), so this changes the time, never the
/// report.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heads {
    /// The reader reads them while the analysis is behind (at least
    /// [`BEHIND`] batches wait for it), and leaves them to the analysis
    /// while the analysis waits for batches. Which thread bounds the
    /// pipeline depends on the traffic: on plain HTTP/1 with few findings
    /// (the synthetic gigabyte) the reader's decoding and the kernel's copy
    /// of the file take longer than the analysis; on TLS, HTTP/2 and many
    /// findings (the real mix) the analysis does (docs/performance.md).
    Balanced,
    /// Always the reader (to test).
    Reader,
    /// Always the analysis (to test).
    Analysis,
}

/// One batch of frames from the reader thread.
#[derive(Default)]
struct Batch {
    /// Every frame, in order.
    frames: Vec<Decoded>,
    /// The flow hash of each frame that gave a segment, in order: hashed
    /// here, on the reader's core, with the flow table's own hasher.
    hashes: Vec<FlowHash>,
    /// What the HTTP/1 heads among the prefixes say, in order: read here,
    /// where the bytes are, for the frames that say so ([`Decoded::has_head`]).
    heads: Vec<Head>,
    /// Payload prefixes (what [`carried`](crate::app::carried) keeps).
    arena: Vec<u8>,
    /// Bytes of the inputs consumed when the batch was sent.
    position: u64,
    /// Bytes the fragment reassembly held then (drawn from the budget).
    held: usize,
}

/// Reads every input to the end (merged in timestamp order) and analyses it.
/// Returns the report and the per-input counters.
pub fn run(
    inputs: Vec<(String, CaptureReader)>,
    cfg: Config,
) -> Result<(Report, Vec<InputStats>), SourceProblem> {
    run_with_progress(inputs, cfg, &mut |_| {})
}

/// Fills `batch` with up to [`BATCH`] decoded frames, reading their HTTP/1
/// heads too when `heads` says so ([`Heads`]); false at the end of the
/// inputs.
fn fill(
    merged: &mut Merged,
    hasher: &FlowHasher,
    reassembly: &mut Reassembly,
    batch: &mut Batch,
    heads: bool,
) -> Result<bool, SourceProblem> {
    batch.frames.clear();
    batch.hashes.clear();
    batch.heads.clear();
    batch.arena.clear();
    while batch.frames.len() < BATCH {
        let Some((input, frame)) = merged.next_frame()? else {
            return Ok(false);
        };
        let frame_len = frame.data.len() as u32;
        // The one place frames are decoded: fragments are reassembled.
        batch
            .frames
            .push(match reassembly.decode(&frame, input as u32) {
                Ok(seg) => {
                    // Only what the analysis reads crosses to it: the same
                    // bytes whether an HTTP/1 head is read here ([`Head`])
                    // or not.
                    let (prefix, head) = if heads {
                        head::carried(seg.payload)
                    } else {
                        (crate::app::carried(seg.payload), None)
                    };
                    let at = batch.arena.len() as u32;
                    batch.arena.extend_from_slice(prefix);
                    batch.arena.extend_from_slice(seg.tail);
                    batch.hashes.push(FlowHash::of(hasher, &seg));
                    if let Some(h) = head {
                        batch.heads.push(h);
                    }
                    Decoded::segment(&seg, frame_len, at, prefix.len(), head.is_some())
                }
                Err(skip) => Decoded::skipped(frame.ts_ns, frame_len, skip),
            });
    }
    Ok(true)
}

/// [`run`], calling `progress` with the bytes read so far (of the
/// decompressed inputs) once per batch of frames, for a progress bar.
pub fn run_with_progress(
    inputs: Vec<(String, CaptureReader)>,
    cfg: Config,
    progress: &mut dyn FnMut(u64),
) -> Result<(Report, Vec<InputStats>), SourceProblem> {
    run_with(inputs, cfg, progress, Heads::Balanced)
}

/// [`run_with_progress`], with the HTTP/1 heads read where `heads` says.
#[doc(hidden)]
pub fn run_with(
    inputs: Vec<(String, CaptureReader)>,
    cfg: Config,
    progress: &mut dyn FnMut(u64),
    heads: Heads,
) -> Result<(Report, Vec<InputStats>), SourceProblem> {
    let mut merged = Merged::new(inputs)?;
    let cfg_max_memory = cfg.max_memory();
    let mut analyzer = Analyzer::new(cfg);
    let hasher = analyzer.flow_hasher();
    let mut reassembly = Reassembly::new(fragment::budget(cfg_max_memory));
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(4);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    // Batches sent and not yet taken.
    let waiting = Arc::new(AtomicUsize::new(0));
    let sent = Arc::clone(&waiting);
    let reader = std::thread::Builder::new()
        .name("racecap-reader".into())
        .spawn(move || -> Result<_, SourceProblem> {
            loop {
                // Batches come back empty for reuse; a new one only at first.
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                let read_heads = match heads {
                    Heads::Balanced => sent.load(Ordering::Relaxed) >= BEHIND,
                    Heads::Reader => true,
                    Heads::Analysis => false,
                };
                let more = fill(
                    &mut merged,
                    &hasher,
                    &mut reassembly,
                    &mut batch,
                    read_heads,
                )?;
                batch.position = merged.position();
                batch.held = reassembly.bytes();
                sent.fetch_add(1, Ordering::Relaxed);
                if full_tx.send(batch).is_err() || !more {
                    break;
                }
            }
            Ok((merged.stats(), reassembly.stats()))
        })
        .expect("spawning the reader thread");
    for batch in full_rx {
        waiting.fetch_sub(1, Ordering::Relaxed);
        analyzer.held_before(batch.held);
        let mut hashes = batch.hashes.iter();
        let mut heads = batch.heads.iter();
        for d in &batch.frames {
            analyzer.count_frame(d.ts_ns(), d.frame_len());
            match d.get(&batch.arena) {
                Ok(seg) => {
                    let hash = *hashes.next().expect("a hash per segment");
                    let head = if d.has_head() { heads.next() } else { None };
                    analyzer.segment_read(&seg, hash, head);
                }
                Err(skip) => analyzer.skip(skip),
            }
        }
        progress(batch.position);
        let _ = empty_tx.send(batch);
    }
    let (stats, fragments) = reader.join().expect("the reader thread does not panic")?;
    analyzer.fragments(fragments);
    Ok((analyzer.finish(&stats), stats))
}

#[cfg(test)]
mod test {
    /// A batch's frames stay 80 bytes (a few cache lines per batch cross
    /// between cores): the flag that an HTTP/1 head was read took padding.
    #[test]
    fn test_decoded_stays_80_bytes() {
        assert_eq!(std::mem::size_of::<crate::decode::Decoded>(), 80);
    }
}
