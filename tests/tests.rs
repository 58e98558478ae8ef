//! Integration tests, built into one binary (ripgrep's layout).

mod util;

mod cli;
mod closes;
mod corpus;
mod formats;
mod lab;
mod lab_tls;
mod proptests;
mod synthetic;
mod timeouts;
mod tls;

// Live capture needs the `live` feature (libpcap) and root; see tests/live.rs.
#[cfg(feature = "live")]
mod live;
