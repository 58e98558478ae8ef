//! Connections → verdicts, findings and timeout estimates.

pub mod defaults;
pub mod timeouts;
pub mod verdict;
