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
use racecap::report::Finding;
use racecap::source::interfaces;
use racecap::source::live::{LiveOptions, LiveSource};
use racecap::source::{FileFormat, InputStats};
use racecap::write::{Endian, PcapWriter};

use crate::cli::{CaptureArgs, Format, InterfacesArgs};

/// Kernel buffer for the capture: a few seconds of a busy veth.
const BUFFER_SIZE: i32 = 32 * 1024 * 1024;

/// One line for a finding as it happens.
fn live_line(f: &Finding) -> String {
    let clock = f.at.split_once('T').map_or(f.at.as_str(), |(_, t)| t);
    let mut line = format!("{clock} {} {} → {}", f.verdict, f.client, f.server);
    if let Some(r) = &f.race {
        line.push_str(&format!(
            " {} race: FIN after {} idle, request {:+.1} ms after the FIN",
            r.kind,
            r.idle_before_fin_ms
                .map_or("?".into(), |ms| format!("{:.3} s", ms / 1000.0)),
            r.fin_to_request_ms
        ));
        if let Some(q) = &r.request {
            line.push_str(&format!(
                ", lost {} {}{}",
                q.method,
                q.path,
                if q.idempotent {
                    ""
                } else {
                    " (not idempotent)"
                }
            ));
        }
    } else if let Some(x) = &f.reset {
        line.push_str(&format!(" RST by {}", x.by));
    }
    line
}

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

/// `racecap capture`.
pub fn capture(args: CaptureArgs) -> Result<ExitCode> {
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
    let cfg = Config {
        focus: crate::focus(&args.report)?,
        keep_connections: args.report.connections,
        live: true,
        max_connections: args.report.max_connections,
        max_memory: args.report.max_memory << 20,
    };
    let mut writer = match &args.write {
        Some(path) => {
            let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Some(PcapWriter::new(
                BufWriter::new(f),
                src.linktype(),
                args.snaplen.max(0) as u32,
                true,
                Endian::Little,
            )?)
        }
        None => None,
    };
    let stop = stop_flag()?;
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
                Format::Jsonl => writeln!(stdout, "{}", serde_json::to_string(&f)?)?,
                Format::Table => writeln!(stdout, "{}", live_line(&f))?,
                // One JSON document at the end; live lines go to stderr.
                Format::Json => eprintln!("{}", live_line(&f)),
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
            report.capture.warnings.push(format!(
                "{} packets were dropped by the kernel and {} by the interface: findings may be incomplete",
                d.dropped, d.if_dropped
            ));
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
            .map(|l| format!(" (last at {l})"))
            .unwrap_or_default()
    );
    if args.report.format == Format::Jsonl {
        // The stream ends with the whole report on one line.
        writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
        stdout.flush()?;
        return Ok(crate::exit_code(&report, args.report.fail_on));
    }
    crate::emit(&report, &args.report)
}

/// `racecap interfaces`.
pub fn interfaces(args: InterfacesArgs) -> Result<ExitCode> {
    let list = interfaces::list().context("reading /sys/class/net")?;
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_header([
            "index",
            "name",
            "state",
            "peer index",
            "peer netns",
            "addresses",
        ]);
    for i in &list {
        t.add_row(vec![
            i.index.to_string(),
            i.name.clone(),
            i.state.clone(),
            i.peer_index.map_or("-".into(), |p| p.to_string()),
            i.peer_netns.clone().unwrap_or_else(|| "-".into()),
            i.addresses.join(" "),
        ]);
    }
    writeln!(out, "{t}")?;
    Ok(ExitCode::SUCCESS)
}
