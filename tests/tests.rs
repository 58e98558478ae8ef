//! Integration tests, built into one binary (ripgrep's layout).

mod util;

mod cli;
mod corpus;
mod formats;
mod lab;
mod synthetic;
mod timeouts;
