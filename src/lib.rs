//! racecap: find HTTP keep-alive races (and other connection deaths) between a
//! proxy and its backends in packet captures.
//!
//! The library is the pure core: [`source`] turns files into frames,
//! [`decode`] frames into TCP segments, [`flow`] segments into connections and
//! their lifecycle, [`analysis`] connections into verdicts and timeout
//! estimates, and [`report`] holds the serde model the binary renders.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod analyzer;
pub mod decode;
pub mod flow;
pub mod report;
pub mod source;
pub mod synth;
pub mod write;
