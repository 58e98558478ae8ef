//! Where frames come from. Sources are the only part of the library that
//! touches files, pipes or devices: everything downstream is a pure function of
//! the frames they yield (timestamp, link type, bytes, original length).
//! [`write`] is the readers' twin: the same two formats, written.

mod file;
pub mod interfaces;
pub mod kernel;
pub mod live;
mod merge;
pub mod netns;
pub mod place;
pub mod write;

pub use file::{CaptureReader, FileFormat, ReadError};
pub use merge::{InputStats, Merged, SourceProblem};

pub use crate::decode::Frame;
