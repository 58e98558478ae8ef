//! The racecap binary: parse flags, dispatch to a command, and map the
//! outcome to an exit code (0 ok, 1 a `--fail-on` check tripped, 2 bad usage
//! or unreadable input, with the cause in one line on stderr).

mod analyze;
mod capture;
mod cli;
mod evidence;
mod render;
mod serve_metrics;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::analyze(args),
        Command::Capture(args) => capture::capture(args),
        Command::Interfaces(args) => capture::interfaces(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`racecap … | head`) is not an error.
            if err.chain().any(|e| {
                e.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("racecap: {err:#}");
            ExitCode::from(2)
        }
    }
}
