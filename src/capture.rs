//! `racecap capture` and `racecap interfaces`: the live shell around the same
//! analysis `analyze` runs. Findings are printed the moment they are decided
//! (a race when its RST arrives); the full report follows when the capture
//! ends on `-c`, `--duration`, Ctrl-C or SIGTERM.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use racecap::analyzer::{Analyzer, Config};
use racecap::report::{Report, Warning};
use racecap::source::interfaces;
use racecap::source::live::{LiveOptions, LiveSource};
use racecap::source::netns::{self, Netns};
use racecap::source::{FileFormat, InputStats};
use racecap::write::{Endian, PcapWriter};

use crate::cli::{CaptureArgs, Format, InterfacesArgs};
use crate::render;

/// Kernel buffer for the capture: a few seconds of a busy veth.
const BUFFER_SIZE: i32 = 32 * 1024 * 1024;

fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(feature = "live")]
    {
        let s = stop.clone();
        ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C / SIGTERM handler")?;
    }
    Ok(stop)
}

/// `racecap capture`: opens what lives in racecap's own namespace (the
/// `-w` file, the Ctrl-C handler) here, then captures on a thread of its
/// own, inside `--netns` when given, and reports back here.
pub fn capture(args: CaptureArgs) -> Result<ExitCode> {
    let netns = args.netns.as_deref().map(Netns::open).transpose()?;
    let cfg = args.report.config(true)?;
    let file = match &args.write {
        Some(path) => {
            Some(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => None,
    };
    let stop = stop_flag()?;
    let (args, report) = netns::run_in(netns, "racecap-capture", move || {
        let report = run(&args, cfg, file, &stop);
        (args, report)
    })?;
    let report = report?;
    if args.report.format == Format::Jsonl {
        // The stream ends with the whole report on one line.
        let mut stdout = io::stdout();
        writeln!(stdout, "{}", render::json::line(&report)?)?;
        stdout.flush()?;
        return Ok(render::exit_code(&report, args.report.fail_on));
    }
    render::emit(&report, &args.report)
}

/// The capture itself, on the capturing thread: until `-c`, `--duration`
/// or `stop`, then the report.
fn run(args: &CaptureArgs, cfg: Config, file: Option<File>, stop: &AtomicBool) -> Result<Report> {
    let interface = match (&args.interface, args.ifindex) {
        (Some(i), _) => i.clone(),
        (None, Some(n)) => interfaces::by_index(n)
            .context("listing interfaces")?
            .ok_or_else(|| anyhow!("no interface has index {n} (see `racecap interfaces`)"))?,
        (None, None) => unreachable!("clap requires -i or --ifindex"),
    };
    let filter = (!args.filter.is_empty()).then(|| args.filter.join(" "));
    let mut src = LiveSource::open(&LiveOptions {
        interface: interface.clone(),
        filter,
        snaplen: args.snaplen,
        buffer_size: BUFFER_SIZE,
    })
    .map_err(|e| anyhow!(e))?;
    let mut writer = match file {
        Some(f) => Some(PcapWriter::new(
            BufWriter::new(f),
            src.linktype(),
            args.snaplen.max(0) as u32,
            true,
            Endian::Little,
        )?),
        None => None,
    };
    let mut analyzer = Analyzer::new(cfg);
    let mut stats = InputStats::new(format!("live:{interface}"), FileFormat::Live, false);
    stats.linktypes.push(src.linktype());
    let started = Instant::now();
    let progress = io::stderr().is_terminal();
    let mut last_progress = Instant::now();
    let mut last_flush = Instant::now();
    let mut found = 0u64;
    let mut stdout = io::stdout();
    eprintln!(
        "racecap: capturing on {interface} (link type {}); Ctrl-C to stop",
        racecap::decode::linktype::name(src.linktype())
    );
    loop {
        if stop.load(Ordering::SeqCst)
            || args.count.is_some_and(|c| stats.packets >= c)
            || args.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        if let Some(frame) = src.next_frame().map_err(|e| anyhow!(e))? {
            stats.count(frame.ts_ns, frame.data.len());
            analyzer.frame(&frame);
            if let Some(w) = &mut writer {
                w.write(frame.ts_ns, frame.origlen, frame.data)?;
            }
        }
        for f in analyzer.take_decided() {
            found += 1;
            match args.report.format {
                Format::Jsonl => writeln!(stdout, "{}", render::json::line(&f)?)?,
                Format::Table => writeln!(stdout, "{}", render::live::line(&f))?,
                // One JSON document at the end; live lines go to stderr.
                Format::Json => eprintln!("{}", render::live::line(&f)),
            }
            stdout.flush()?;
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            // Keep -w readable while the capture runs.
            if let Some(w) = &mut writer {
                w.flush()?;
            }
            last_flush = Instant::now();
        }
        if progress && last_progress.elapsed() >= Duration::from_millis(250) {
            eprint!(
                "\r{} packets, {} connections open, {found} findings   ",
                stats.packets,
                analyzer.open_connections()
            );
            last_progress = Instant::now();
        }
    }
    if progress {
        eprintln!();
    }
    let drops = src.stats();
    if let Some(w) = writer {
        w.finish()?;
    }
    let mut report = analyzer.finish(&[stats]);
    if let Some(d) = drops {
        report.capture.dropped = Some(d.dropped);
        report.capture.interface_dropped = Some(d.if_dropped);
        if d.dropped + d.if_dropped > 0 {
            report.capture.warnings.push(Warning::Dropped {
                kernel: d.dropped,
                interface: d.if_dropped,
            });
        }
    }
    for w in &report.capture.warnings {
        eprintln!("racecap: warning: {w}");
    }
    eprintln!(
        "racecap: captured {} packets on {interface}{}",
        report.capture.packets,
        report
            .capture
            .last
            .as_ref()
            .map(|l| format!(" (last at {})", l.rfc3339()))
            .unwrap_or_default()
    );
    Ok(report)
}

/// `racecap interfaces` (of `--netns` when given).
pub fn interfaces(args: InterfacesArgs) -> Result<ExitCode> {
    let netns = args.netns.as_deref().map(Netns::open).transpose()?;
    let list = netns::run_in(netns, "racecap-interfaces", interfaces::list)?
        .context("reading /sys/class/net")?;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{}", render::interfaces::table(&list))?;
    Ok(ExitCode::SUCCESS)
}
