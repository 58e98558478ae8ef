//! Connections → verdicts, findings and timeout estimates.

pub mod assess;
pub mod cause;
pub mod defaults;
pub mod exchange;
pub mod proxy;
pub mod race;
pub mod retry;
pub mod rules;
pub mod samples;
pub mod software;
pub mod stats;
pub mod timeouts;
pub mod tls;
pub mod verdict;
