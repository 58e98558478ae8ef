//! Stand-in used when racecap is built without the `live` feature.

use super::{LiveError, LiveOptions, LiveStats};
use crate::source::Frame;

/// A live capture (not available in this build).
pub struct LiveSource {
    _private: (),
}

impl LiveSource {
    /// Always fails: this build has no libpcap.
    pub fn open(_opts: &LiveOptions) -> Result<LiveSource, LiveError> {
        Err(LiveError::NotInBuild)
    }

    /// The capture's link type.
    pub fn linktype(&self) -> u16 {
        0
    }

    /// Never yields a frame.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, LiveError> {
        Err(LiveError::NotInBuild)
    }

    /// Never yields a frame.
    pub fn try_frame(&mut self) -> Result<Option<Frame<'_>>, LiveError> {
        Err(LiveError::NotInBuild)
    }

    /// No counters.
    pub fn stats(&mut self) -> Option<LiveStats> {
        None
    }
}
