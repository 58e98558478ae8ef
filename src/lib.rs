//! racecap: find HTTP keep-alive races (and other connection deaths) between a
//! proxy and its backends in packet captures.
//!
//! In data-flow order (docs/architecture.md has the map): [`source`] turns
//! files, pipes and devices into frames; [`decode`] frames into TCP segments;
//! [`flow`] segments into connections and their lifecycle; [`analysis`]
//! connections into verdicts, timeout measurements and the fix; [`analyzer`]
//! drives those per segment; [`report`] is the typed serde model the binary
//! renders, with [`units`] converting nanoseconds once. The pure core is
//! `decode`, `flow`, `analysis`, `analyzer` and `report`: no I/O, no clock,
//! no threads. [`pipeline`] reads and decodes on a thread of its own; only
//! `source` touches files and devices.
#![forbid(unsafe_code)]

mod named;

pub mod analysis;
pub mod analyzer;
pub mod app;
pub mod decode;
pub mod flow;
pub mod metrics;
pub mod observation;
pub mod pipeline;
pub mod proxylog;
pub mod report;
mod seq;
pub mod source;
pub mod units;

// The unit tests' packet generator, shared with the integration tests (see
// tests/support/synth.rs). It names the library `racecap::`, as its other
// includers do; `extern crate self` gives the unit tests that name too.
#[cfg(test)]
extern crate self as racecap;
#[cfg(test)]
#[path = "../tests/support/synth.rs"]
mod synth;
