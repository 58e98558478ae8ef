//! Command-line flags (clap derive; the doc comments are the help text).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Explain intermittent HTTP 502/503s between a proxy and its backends from
/// packet captures: keep-alive races, resets, timeouts, and the fix.
#[derive(Debug, Parser)]
#[command(name = "racecap", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report on captures (pcap, pcapng, gzip-compressed or not; `-` reads standard input).
    Analyze(AnalyzeArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// One JSON document (schema: docs/report-schema.md).
    Json,
    /// One JSON object per finding, one per line.
    Jsonl,
}

/// When to exit with status 1 (for CI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any keep-alive race.
    Race,
    /// Any failing connection (races, resets, refused or timed-out connects).
    Failure,
    /// Never (exit 0 whatever was found).
    Never,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Capture files; several are read as one timeline. `-` is standard input.
    #[arg(required = true, value_name = "FILE|-")]
    pub files: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only connections to or from this endpoint (IP:PORT, [IPv6]:PORT).
    #[arg(long, value_name = "IP:PORT", conflicts_with = "port")]
    pub server: Option<String>,

    /// Only connections with this port on either side.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// Exit with status 1 when the capture shows this (for CI gates).
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,

    /// List every connection with its verdict and history.
    #[arg(long)]
    pub connections: bool,

    /// Write every packet of the failing connections to this pcap file (opens in Wireshark).
    #[arg(long, value_name = "FILE.pcap")]
    pub evidence: Option<PathBuf>,
}
