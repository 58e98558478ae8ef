//! `racecap analyze`: open the inputs (files, or standard input), run the
//! library's pipeline with a progress bar, write the evidence file if asked,
//! and emit the report.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tempfile::NamedTempFile;

use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::proxylog::{self, input::ParsedLog};
use racecap::source::CaptureReader;

use crate::cli::AnalyzeArgs;

/// Standard input copied to a temporary file as it is read, so that
/// `--evidence` can read the packets a second time.
struct Tee<R> {
    inner: R,
    copy: File,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn open_inputs(
    files: &[String],
    spool: Option<&NamedTempFile>,
) -> Result<Vec<(String, CaptureReader)>> {
    if files.iter().filter(|f| *f == "-").count() > 1 {
        bail!("standard input (-) can be named only once");
    }
    let mut readers = Vec::with_capacity(files.len());
    for name in files {
        let reader = if name == "-" {
            let stdin = io::stdin();
            // Reading the header blocks: say what it waits for, not hang silently.
            if std::io::IsTerminal::is_terminal(&stdin) {
                eprintln!(
                    "racecap: waiting for a capture on standard input (a terminal): pipe one in, e.g. `tcpdump -w - … | racecap analyze -`, or Ctrl-D to stop"
                );
            }
            match spool {
                Some(spool) => {
                    let copy = spool
                        .reopen()
                        .with_context(|| format!("opening {}", spool.path().display()))?;
                    CaptureReader::new(Tee { inner: stdin, copy })
                }
                None => CaptureReader::new(stdin),
            }
            .map_err(|e| anyhow::anyhow!("standard input: {e}"))?
        } else {
            let file = File::open(name).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            CaptureReader::new(file).map_err(|e| anyhow::anyhow!("{name}: {e}"))?
        };
        readers.push((name.clone(), reader));
    }
    Ok(readers)
}

/// `racecap analyze`.
pub fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let cfg = args.report.config(false)?;
    // Created new (O_EXCL) under a random name, readable by its owner only,
    // and removed when dropped: a name planted in the temporary directory
    // (a symlink to a file root may write) is never opened.
    let spool = if args.evidence.is_some() && args.files.iter().any(|f| f == "-") {
        let file = tempfile::Builder::new()
            .prefix("racecap-stdin-")
            .suffix(".pcap")
            .tempfile()
            .context("creating a temporary file for standard input (TMPDIR)")?;
        Some(file)
    } else {
        None
    };
    analyze_inputs(&args, cfg, spool.as_ref())
}

/// Reads every `--proxy-log` (before the captures: an unreadable log is a
/// usage error worth finding before a long capture is read).
fn read_proxy_logs(args: &AnalyzeArgs, max_memory: usize) -> Result<Vec<ParsedLog>> {
    // A format that cannot tie a line to a connection reads as "no 5xx":
    // refused before anything is read (issue 21, fail closed).
    let haproxy = args.proxy_log.haproxy_log_format.as_deref();
    if let Some(f) = haproxy
        && !proxylog::haproxy_format::Template::new(f).is_usable()
    {
        bail!(
            "--haproxy-log-format {f:?} names no date (%tr, %t, %T, %Tl, %Ts) or no status (%ST, %tsc): its lines cannot be tied to connections"
        );
    }
    if args.proxy_log.log_format == Some(proxylog::LogFormat::HaproxyLogFormat) && haproxy.is_none()
    {
        bail!(
            "--proxy-log-format haproxy-log-format needs --haproxy-log-format (HAProxy's log-format string)"
        );
    }
    let opts = proxylog::input::Options {
        format: args.proxy_log.log_format,
        nginx_log_format: args.proxy_log.nginx_log_format.clone(),
        haproxy_log_format: args.proxy_log.haproxy_log_format.clone(),
        max_bytes: proxylog::input::budget(max_memory, args.proxy_log.logs.len()),
    };
    args.proxy_log
        .logs
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let file = File::open(path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            proxylog::input::read(&name, file, &opts).map_err(|e| anyhow::anyhow!("{name}: {e}"))
        })
        .collect()
}

fn analyze_inputs(
    args: &AnalyzeArgs,
    mut cfg: Config,
    spool: Option<&NamedTempFile>,
) -> Result<ExitCode> {
    let logs = read_proxy_logs(args, cfg.max_memory())?;
    // A log line may name a connection that did not fail (a 4-tuple, an
    // upstream): matching needs every connection's row, not only findings.
    cfg.keep_connections |= !logs.is_empty();
    let readers = open_inputs(&args.files, spool)?;
    let bar = progress_bar(&args.files);
    let (mut report, inputs) = pipeline::run_with_progress(readers, cfg, &mut |pos| {
        if let Some(b) = &bar {
            b.set_position(pos);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // A capture it could not read must not pass a CI gate as "0 races".
    if let Some(why) = racecap::report::nothing_decoded(&report) {
        bail!(why);
    }
    if !logs.is_empty() {
        racecap::report::matching::attach(&mut report, &logs);
        if !args.report.connections {
            report.connections = None;
        }
    }
    report.settle_proxy(args.report.proxy);
    crate::render::fail_closed(&report, args.report.fail_on)?;
    for w in &report.capture.warnings {
        eprintln!("racecap: warning: {w}");
    }
    if let Some(out) = &args.evidence {
        let paths: Vec<PathBuf> = args
            .files
            .iter()
            .map(|f| match (f.as_str(), spool) {
                ("-", Some(p)) => p.path().to_path_buf(),
                _ => PathBuf::from(f),
            })
            .collect();
        let n = crate::evidence::write(&report, &paths, &inputs, out)?;
        eprintln!(
            "racecap: wrote {n} packets of {} failing connections (and the connections that retried them) to {}",
            report.findings.len(),
            out.display()
        );
    }
    crate::render::emit(&report, &args.report)
}

/// A progress bar on stderr for inputs that take more than a moment: only
/// when stderr is a terminal (indicatif hides itself otherwise), sized by the
/// files' lengths when they are all plain files, a spinner otherwise.
fn progress_bar(files: &[String]) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return None;
    }
    let sizes: Option<u64> = files
        .iter()
        .map(|f| {
            let gz = f.ends_with(".gz");
            (f != "-" && !gz)
                .then(|| std::fs::metadata(f).ok().map(|m| m.len()))
                .flatten()
        })
        .sum();
    let bar = match sizes {
        Some(total) => indicatif::ProgressBar::new(total).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
            )
            .ok()?,
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec}")
                .ok()?,
        ),
    };
    // Only worth drawing when the run lasts: indicatif waits before the first draw.
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}
