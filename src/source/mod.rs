//! Where frames come from. Sources are the only part of the library that
//! touches files, pipes or devices: everything downstream is a pure function of
//! the frames they yield (timestamp, link type, bytes, original length).

mod file;
pub mod interfaces;
pub mod live;
mod merge;

pub use file::{CaptureReader, FileFormat, ReadError};
pub use merge::{InputStats, Merged, SourceProblem};

/// One captured frame, borrowed from the reader's buffer until the next read.
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
