//! What a live command prints as it goes and at the end, shared by
//! `racecap capture` (packets) and `racecap watch` (kernel events): the
//! Ctrl-C / SIGTERM flag, the metrics listener, each finding the moment it
//! is decided (a live line, or a JSON line with OpenTelemetry names), the
//! metrics' samples, the progress line, and the report at the end.

use std::io::{self, IsTerminal, Stdout, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Result;

use racecap::analyzer::Analyzer;
use racecap::metrics::Metrics;
use racecap::report::{Finding, Report};

use crate::cli::{Format, ReportArgs};
use crate::render;
use crate::serve_metrics;

/// Set on Ctrl-C or SIGTERM: the command stops and reports.
pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(any(feature = "live", feature = "ebpf"))]
    {
        use anyhow::Context;
        use std::sync::atomic::Ordering;
        let s = stop.clone();
        ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C / SIGTERM handler")?;
    }
    Ok(stop)
}

/// How often the metrics' clock ticks: [`racecap::metrics::IDLE_TICKS`]
/// of these without activity free a server's label.
const METRICS_TICK: Duration = Duration::from_secs(60);

/// Serves `/metrics` on `addr`, when given (bound here, in racecap's own
/// namespace), with series of their own for `servers` server endpoints.
pub fn metrics(addr: Option<SocketAddr>, servers: usize) -> Result<Option<Arc<Metrics>>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let m = Arc::new(Metrics::new(servers));
    let bound = serve_metrics::serve(addr, m.clone())?;
    eprintln!("racecap: metrics on http://{bound}/metrics");
    Ok(Some(m))
}

/// The output of a running command.
pub struct Live {
    format: Format,
    pub metrics: Option<Arc<Metrics>>,
    stdout: Stdout,
    /// Findings printed so far.
    pub found: u64,
    progress: bool,
    last_progress: Instant,
    last_poll: Instant,
    last_tick: Instant,
}

impl Live {
    pub fn new(format: Format, metrics: Option<Arc<Metrics>>) -> Live {
        Live {
            format,
            metrics,
            stdout: io::stdout(),
            found: 0,
            progress: io::stderr().is_terminal(),
            last_progress: Instant::now(),
            last_poll: Instant::now(),
            last_tick: Instant::now(),
        }
    }

    /// Prints each finding the analysis decided since the last call, after
    /// `place` said where it happened.
    pub fn findings(
        &mut self,
        analyzer: &mut Analyzer,
        place: impl Fn(&mut Finding),
    ) -> Result<()> {
        for mut f in analyzer.take_decided() {
            self.found += 1;
            place(&mut f);
            if let Some(m) = &self.metrics {
                m.finding(&f);
            }
            match self.format {
                Format::Jsonl => writeln!(
                    self.stdout,
                    "{}",
                    render::json::typed(render::json::Kind::Finding, &render::otel::Line::new(&f))?
                )?,
                Format::Table => writeln!(self.stdout, "{}", render::live::line(&f))?,
                // One document at the end (JSON, HTML); live lines go to stderr.
                Format::Json | Format::Html => eprintln!("{}", render::live::line(&f)),
            }
            self.stdout.flush()?;
        }
        Ok(())
    }

    /// Hands the analysis's samples to the metrics; true once a second
    /// (after updating the open connections), for the caller's own counters.
    pub fn samples(&mut self, analyzer: &mut Analyzer) -> bool {
        let Some(m) = &self.metrics else {
            return false;
        };
        for s in analyzer.take_samples() {
            m.sample(s);
        }
        if self.last_tick.elapsed() >= METRICS_TICK {
            // Quiet servers give their label up (bounded series).
            m.tick();
            self.last_tick = Instant::now();
        }
        if self.last_poll.elapsed() < Duration::from_secs(1) {
            return false;
        }
        m.open_connections(analyzer.open_connections());
        self.last_poll = Instant::now();
        true
    }

    /// The progress line on a terminal, four times a second: `what` read,
    /// the open connections and the findings.
    pub fn progress(&mut self, what: impl FnOnce() -> String, analyzer: &Analyzer) {
        if self.progress && self.last_progress.elapsed() >= Duration::from_millis(250) {
            eprint!(
                "\r{}, {} connections open, {} findings   ",
                what(),
                analyzer.open_connections(),
                self.found
            );
            self.last_progress = Instant::now();
        }
    }

    /// Ends the progress line.
    pub fn done(&self) {
        if self.progress {
            eprintln!();
        }
    }
}

/// The report at the end, as `args` ask, and the exit code.
pub fn finish(mut report: Report, args: &ReportArgs) -> Result<ExitCode> {
    report.settle_proxy(args.proxy);
    render::fail_closed(&report, args.fail_on)?;
    if args.format == Format::Jsonl {
        // The stream ends with the whole report on one line, typed so
        // that it cannot be taken for a finding.
        let code = render::exit_code(&report, args.fail_on);
        let line = render::json::typed(render::json::Kind::Report, &report)?;
        render::to_stdout(format!("{line}\n").as_bytes())?;
        return Ok(code);
    }
    render::emit(&report, args)
}
