//! Connections → verdicts, findings and timeout estimates.

pub mod defaults;
pub mod retry;
pub mod samples;
pub mod software;
pub mod timeouts;
pub mod tls;
pub mod verdict;
