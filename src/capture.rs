//! `racecap capture` and `racecap interfaces`: the live shell around the same
//! analysis `analyze` runs. Findings are printed the moment they are decided
//! (a race when its RST arrives); the full report follows when the capture
//! ends on `-c`, `--duration`, Ctrl-C or SIGTERM.

use std::fs::File;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use racecap::analyzer::{Analyzer, Config};
use racecap::decode::fragment::{self, Reassembly};
use racecap::decode::linktype;
use racecap::observation::Observation;
use racecap::report::{Report, Warning};
use racecap::source::interfaces;
use racecap::source::live::{LiveOptions, LiveSet, LiveStats, is_pattern};
use racecap::source::netns::{self, Netns};
use racecap::source::place::Roots;

use crate::cli::{CaptureArgs, InterfacesArgs};
use crate::render;
use book::{Book, Out, Sink};
use output::Live;
use racecap::metrics::Metrics;

mod book;
pub mod output;

/// Kernel buffer for the capture: a few seconds of a busy veth.
const BUFFER_SIZE: i32 = 32 * 1024 * 1024;

/// `racecap capture`: opens what lives in racecap's own namespace (the
/// `-w` file, the Ctrl-C handler) here, then captures on a thread of its
/// own, inside `--netns` when given, and reports back here.
pub fn capture(mut args: CaptureArgs) -> Result<ExitCode> {
    if let Some(uid) = args.pod.take() {
        let found = Roots::default()
            .find_pod(&uid)
            .ok_or_else(|| anyhow!("--pod {uid}: no process of that pod on this node (is this its node, and are the node's PIDs visible: hostPID?)"))?;
        if args.interface.is_empty() {
            let index = found.host_ifindex.ok_or_else(|| {
                anyhow!("--pod {uid}: cannot read the eth0 of its process {} (another user's /proc/PID/root needs CAP_SYS_PTRACE)", found.pid)
            })?;
            args.ifindex = Some(index);
        } else {
            args.netns = Some(found.pid.to_string());
        }
    }
    // Checked here, not by clap, so that the message names both ways.
    if args.interface.is_empty() && args.ifindex.is_none() {
        bail!(
            "capture: say where: -i IFACE (repeatable; a pattern such as 'veth*', or any), or --ifindex N (the number `cat /sys/class/net/eth0/iflink` prints in a pod names its host-side veth), or --pod UID"
        );
    }
    let netns = args.netns.as_deref().map(Netns::open).transpose()?;
    let mut cfg = args.report.config(true)?;
    let file = match &args.write {
        Some(path) => {
            Some(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => None,
    };
    let stop = output::stop_flag()?;
    // The listener binds here, before the capture thread changes namespace.
    let metrics = output::metrics(args.metrics_listen, args.metrics_servers)?;
    // The metrics' histograms drain the samples; without them none is kept.
    cfg.samples = metrics.is_some();
    let (args, report) = netns::run_in(netns, "racecap-capture", move || {
        let report = run(&args, cfg, file, &stop, metrics);
        (args, report)
    })?;
    let (report, write_error) = report?;
    let code = output::finish(report, &args.report)?;
    // The report came; a -w file that could not be written still fails
    // the run, with the file's name (a full disk, say).
    if let Some(e) = write_error {
        eprintln!("racecap: {e}");
        return Ok(ExitCode::from(2));
    }
    Ok(code)
}

/// The capture itself, on the capturing thread: until `-c`, `--duration`
/// or `stop`, then the report.
fn run(
    args: &CaptureArgs,
    cfg: Config,
    file: Option<File>,
    stop: &AtomicBool,
    metrics: Option<Arc<Metrics>>,
) -> Result<(Report, Option<String>)> {
    let specs = match (args.interface.is_empty(), args.ifindex) {
        (false, _) => args.interface.clone(),
        (true, Some(n)) => vec![
            interfaces::by_index(n)
                .context("listing interfaces")?
                .ok_or_else(|| anyhow!("no interface has index {n} (see `racecap interfaces`)"))?,
        ],
        (true, None) => unreachable!("clap requires -i or --ifindex"),
    };
    let filter = (!args.filter.is_empty()).then(|| args.filter.join(" "));
    let mut set = LiveSet::open(
        &specs,
        LiveOptions {
            interface: String::new(),
            filter,
            snaplen: args.snaplen,
            buffer_size: BUFFER_SIZE,
        },
    )
    .map_err(|e| anyhow!(e))?;
    // One named interface writes classic pcap, as tcpdump does; several
    // (or a pattern) pcapng, one interface block each.
    let single = specs.len() == 1 && !is_pattern(&specs[0]);
    let first = set.members().first().map(|m| set.linktype(m.id));
    let out = file
        .map(|f| Out::new(f, first.filter(|_| single), args.snaplen.max(0) as u32))
        .transpose()?;
    let path = args.write.as_ref().map(|p| p.display().to_string());
    let mut writer = Sink::new(out, path.unwrap_or_default());
    let mut reassembly = Reassembly::new(fragment::budget(cfg.max_memory()));
    let mut analyzer = Analyzer::new(cfg);
    let mut book = Book::new(args.netns.clone(), metrics.clone());
    let mut live = Live::new(args.report.format, metrics);
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut packets = 0u64;
    let waiting: Vec<&str> = specs
        .iter()
        .filter(|s| is_pattern(s))
        .map(String::as_str)
        .collect();
    let names: Vec<String> = set
        .members()
        .iter()
        .map(|m| {
            format!(
                "{} (link type {})",
                m.name,
                linktype::name(set.linktype(m.id))
            )
        })
        .collect();
    eprintln!(
        "racecap: capturing on {}{}; Ctrl-C to stop",
        if names.is_empty() {
            "no interface yet".into()
        } else {
            names.join(", ")
        },
        if waiting.is_empty() {
            String::new()
        } else {
            format!(", and on new interfaces matching {}", waiting.join(" "))
        }
    );
    let mut quiet_opened = set.members().len();
    loop {
        for e in set.take_events() {
            book.event(e, &mut writer, &mut quiet_opened)?;
        }
        if stop.load(Ordering::SeqCst)
            || args.count.is_some_and(|c| packets >= c)
            || args.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        if set.is_done() {
            eprintln!("racecap: no interface left to capture on");
            break;
        }
        if let Some((id, frame)) = set.next_frame() {
            packets += 1;
            if let Some(m) = &live.metrics {
                m.packets(1);
            }
            book.stats[id as usize].count(frame.ts_ns, frame.data.len());
            writer.write(id, &frame);
            analyzer.count_frame(frame.ts_ns, frame.data.len());
            match reassembly.decode(&frame, id) {
                Ok(mut seg) => {
                    seg.input = id;
                    analyzer.observe(&Observation::Segment(&seg));
                }
                Err(skip) => analyzer.skip(skip),
            }
            analyzer.held_before(reassembly.bytes());
        }
        live.findings(&mut analyzer, |f| book.place(f))?;
        if live.samples(&mut analyzer) {
            book.drops(set.stats());
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            // Keep -w readable while the capture runs.
            writer.flush();
            last_flush = Instant::now();
        }
        live.progress(|| format!("{packets} packets"), &analyzer);
    }
    live.done();
    book.drops(set.stats());
    let write_error = writer.finish();
    analyzer.fragments(reassembly.stats());
    let mut report = analyzer.finish(&book.stats);
    for f in &mut report.findings {
        book.place(f);
    }
    let drops: Vec<LiveStats> = book.drops.iter().flatten().copied().collect();
    if !drops.is_empty() {
        let (kernel, interface) = drops
            .iter()
            .fold((0, 0), |(k, i), d| (k + d.dropped, i + d.if_dropped));
        report.capture.dropped = Some(kernel);
        report.capture.interface_dropped = Some(interface);
        if kernel + interface > 0 {
            report
                .capture
                .warnings
                .push(Warning::Dropped { kernel, interface });
        }
    }
    for w in &report.capture.warnings {
        eprintln!("racecap: warning: {w}");
    }
    eprintln!(
        "racecap: captured {} packets on {}{}",
        report.capture.packets,
        set.names().join(", "),
        report
            .capture
            .last
            .as_ref()
            .map(|l| format!(" (last at {})", l.rfc3339()))
            .unwrap_or_default()
    );
    Ok((report, write_error))
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
