//! Output, one file per format: tables for people ([`table`]), JSON and
//! JSON Lines for machines ([`json`]), the one-line live finding
//! ([`live`]) and its JSON line with OpenTelemetry attribute names
//! ([`otel`]), and the interfaces list ([`interfaces`]). `emit` writes the
//! report where it was asked to go and maps `--fail-on` to the exit code.

pub mod fix;
pub mod html;
pub mod impact;
pub mod interfaces;
pub mod json;
pub mod live;
pub mod otel;
pub mod proxy_log;
pub mod table;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use racecap::report::Report;

use crate::cli::{FailOn, Format, ReportArgs};

/// Writes the report in the format asked for. JSON and JSON Lines are
/// written as they are serialised: a report of 10 000 findings is some
/// 20 MB, and building it in one string first cost its copies as the
/// string grew and its pages, and held the whole text beside the report
/// (issue 22: the real mix's peak RSS went from 57 to 37 MiB).
fn write<W: Write>(report: &Report, args: &ReportArgs, out: &mut W) -> io::Result<()> {
    match args.format {
        Format::Table => out.write_all(
            table::tables(
                report,
                &table::Opts {
                    connections: args.connections,
                    limit: args.limit,
                    width: table::width(args.width),
                    verbose: args.verbose,
                },
            )
            .as_bytes(),
        ),
        Format::Json => json::write_document(report, out),
        Format::Jsonl => json::write_findings(&report.findings, out),
        Format::Html => out.write_all(html::page(report, args.limit).as_bytes()),
    }
}

/// Writes the report as asked to `-o` or standard output, and maps
/// `--fail-on` to the exit code.
pub fn emit(report: &Report, args: &ReportArgs) -> Result<ExitCode> {
    let code = exit_code(report, args.fail_on);
    match &args.output {
        Some(path) => std::fs::File::create(path)
            .and_then(|f| {
                let mut out = io::BufWriter::with_capacity(1 << 16, f);
                write(report, args, &mut out)?;
                out.flush()
            })
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            match write(report, args, &mut out).and_then(|()| out.flush()) {
                // As in `to_stdout`: a closed pipe only stops the writing.
                // What is still buffered goes nowhere (not again on drop).
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    let _ = out.into_parts();
                }
                r => r?,
            }
        }
    }
    Ok(code)
}

/// Writes to standard output. A reader that stopped early (`racecap … |
/// head`) only stops the writing: the verdict is still the exit code, so a
/// CI gate behind a pipe keeps its 1.
pub fn to_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Under `--fail-on` (any value but `never`), an input racecap was asked
/// to use and could not (a `--server`/`--port` that matched nothing, a
/// `--proxy-log` it could not read) is an error: one line, exit 2. A CI
/// gate must not pass on what was never checked (issue 21). Without
/// `--fail-on` it is a warning on the report's first screen.
pub fn fail_closed(report: &Report, fail_on: FailOn) -> Result<()> {
    if fail_on == FailOn::Never {
        return Ok(());
    }
    match report.capture.warnings.iter().find(|w| w.fails_closed()) {
        Some(w) => anyhow::bail!("{w}"),
        None => Ok(()),
    }
}

/// 1 when the report holds what `--fail-on` names, else 0.
pub fn exit_code(report: &Report, fail_on: FailOn) -> ExitCode {
    let tripped = match fail_on {
        FailOn::Never => false,
        FailOn::Race => report.races() > 0,
        FailOn::Failure => report.failures() > 0,
        FailOn::Unexplained => report
            .proxy_log
            .as_ref()
            .is_some_and(|p| p.errors > p.explained),
    };
    if tripped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
