//! `racecap watch`: races from the kernel's socket events, in every network
//! namespace of the host at once, without copying a packet (the eBPF
//! programs of [`racecap::source::kernel`]). The events go into the same
//! analysis as packets; the output is `capture`'s ([`crate::capture::output`]):
//! findings as they are decided, the report when `--duration` ends or on
//! Ctrl-C / SIGTERM. Each finding names the socket's network namespace,
//! its pod where the node shows one, and the process that closed the
//! server's socket.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Result;

use racecap::analyzer::Analyzer;
use racecap::flow::Endpoint;
use racecap::observation::{Observation, SocketChange, TcpState};
use racecap::report::{Finding, Place, Warning};
use racecap::source::kernel::{Record, Watcher};
use racecap::source::place::{Process, Roots};

use crate::capture::output::{self, Live};
use crate::cli::WatchArgs;

/// Wait for the ring buffer at most this long, so that Ctrl-C and
/// `--duration` are seen within it.
const POLL_MS: u16 = 100;

/// Closers remembered per generation (two are kept).
const CLOSERS: usize = 1 << 16;

/// Where the watched sockets are: an input id per network namespace, its
/// place (read once, when the namespace is first seen), and who closed
/// each socket.
#[derive(Default)]
struct Places {
    roots: Roots,
    ids: HashMap<u32, u32>,
    /// By input id; none for sockets whose namespace is unknown.
    places: Vec<Option<Place>>,
    /// Who closed each socket, and the input id of its namespace.
    closers: HashMap<(Endpoint, Endpoint), (Process, u32)>,
    old_closers: HashMap<(Endpoint, Endpoint), (Process, u32)>,
}

impl Places {
    /// The input id of the namespace with this inode (0: unknown, without BTF).
    fn input(&mut self, netns: u32) -> u32 {
        if let Some(&id) = self.ids.get(&netns) {
            return id;
        }
        let id = self.places.len() as u32;
        self.places
            .push((netns != 0).then(|| self.roots.locate_socket(u64::from(netns))));
        self.ids.insert(netns, id);
        id
    }

    /// Remembers the process that closed a socket (its own close: the
    /// state change runs in the closing process's context).
    fn note(&mut self, r: &Record, input: u32) {
        if let SocketChange::State {
            from: TcpState::Established | TcpState::CloseWait,
            to: TcpState::FinWait1 | TcpState::LastAck,
        } = r.change
        {
            self.closers.insert(
                (r.local, r.remote),
                (
                    Process {
                        pid: r.pid,
                        command: r.command(),
                    },
                    input,
                ),
            );
            if self.closers.len() >= CLOSERS {
                self.old_closers = std::mem::take(&mut self.closers);
            }
        }
    }

    /// Where a finding happened: the namespace of the server's socket when
    /// its close was seen (with the process that closed it), else of the
    /// socket that showed the connection first.
    fn place(&self, f: &mut Finding) {
        let key = (f.server, f.client);
        let closer = self
            .closers
            .get(&key)
            .or_else(|| self.old_closers.get(&key));
        let input = closer.map_or(f.input, |(_, input)| *input);
        let Some(Some(mut place)) = self.places.get(input as usize).cloned() else {
            return;
        };
        place.closed_by = closer.map(|(p, _)| p.clone());
        f.place = Some(place);
    }
}

/// `racecap watch`.
pub fn watch(args: WatchArgs) -> Result<ExitCode> {
    let mut cfg = args.report.config(true)?;
    let mut watcher = Watcher::open()?;
    for m in watcher.missing() {
        eprintln!("racecap: warning: {m}");
    }
    let stop = output::stop_flag()?;
    let metrics = output::metrics(args.metrics_listen, args.metrics_servers)?;
    // The metrics' histograms drain the samples; without them none is kept.
    cfg.samples = metrics.is_some();
    let mut analyzer = Analyzer::new(cfg);
    let mut live = Live::new(args.report.format, metrics);
    let mut places = Places::default();
    let offset = watcher.offset_ns();
    eprintln!(
        "racecap: watching TCP sockets in every network namespace (kernel events, no packets); Ctrl-C to stop"
    );
    let started = Instant::now();
    let (mut records, mut events) = (Vec::new(), Vec::new());
    let (mut seen, mut unreadable) = (0u64, 0u64);
    loop {
        if stop.load(Ordering::SeqCst) || args.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        watcher.poll(POLL_MS, &mut records)?;
        for r in records.drain(..) {
            let Ok(r) = r else {
                unreadable += 1;
                continue;
            };
            seen += 1;
            let input = places.input(r.netns);
            places.note(&r, input);
            r.events(offset, input, &mut events);
            for e in &events {
                analyzer.observe(&Observation::Socket(*e));
            }
        }
        live.findings(&mut analyzer, |f| places.place(f))?;
        live.samples(&mut analyzer);
        live.progress(|| format!("{seen} socket events"), &analyzer);
    }
    live.done();
    let mut report = analyzer.finish(&[]);
    for f in &mut report.findings {
        places.place(f);
    }
    // Said once at the start; the report keeps them.
    for what in watcher.missing() {
        let what = what.clone();
        report.capture.warnings.push(Warning::Kernel { what });
    }
    let lost = watcher.lost();
    if lost > 0 {
        let what = format!(
            "{lost} kernel events were lost (the ring buffer was full: racecap fell behind); findings may be incomplete"
        );
        eprintln!("racecap: warning: {what}");
        report.capture.warnings.push(Warning::Kernel { what });
    }
    if unreadable > 0 {
        let what = format!(
            "{unreadable} kernel events could not be read (unknown kind, family or state); skipped"
        );
        eprintln!("racecap: warning: {what}");
        report.capture.warnings.push(Warning::Kernel { what });
    }
    eprintln!("racecap: watched {seen} socket events");
    output::finish(report, &args.report)
}
