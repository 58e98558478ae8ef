//! The racecap binary: parse flags, dispatch to a command, and map the
//! outcome to an exit code (0 ok, 1 a `--fail-on` check tripped, 2 bad usage
//! or unreadable input, with the cause in one line on stderr).

mod analyze;
mod capture;
mod cli;
mod evidence;
mod render;
mod serve_metrics;
mod watch;

// The unit tests' packet generator, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/support/synth.rs"]
mod synth;

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::analyze(args),
        Command::Capture(args) => capture::capture(args),
        Command::Watch(args) => watch::watch(args),
        Command::Interfaces(args) => capture::interfaces(args),
        Command::Completions { shell } => completions(shell),
        Command::Man { command } => man(command.as_deref()),
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

/// The completion script for `shell`, generated from the flags at run time
/// (so it cannot lag behind them).
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "racecap", &mut out);
    write_stdout(&out)
}

/// The man page, in roff, from the same flags: racecap(1), or a
/// command's own page (racecap-analyze(1)) with every option.
fn man(command: Option<&str>) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    let page = match command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                anyhow::bail!("no command {name:?} (one of: {})", names.join(", "));
            };
            sub.clone()
                .display_name(format!("racecap-{name}"))
                .bin_name(format!("racecap {name}"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
