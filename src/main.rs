//! The racecap binary: parse flags, open the inputs, run the library's
//! analysis, render, and map the outcome to an exit code (0 ok, 1 a
//! `--fail-on` check tripped, 2 bad usage or unreadable input).

mod cli;
mod live;
mod render;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

use racecap::analyzer::{self, Config, Focus};
use racecap::decode;
use racecap::flow::{Endpoint, FlowKey};
use racecap::report::Report;
use racecap::source::{CaptureReader, InputStats, Merged};
use racecap::write::{Endian, PcapWriter, PcapngWriter};

use cli::{AnalyzeArgs, Cli, Command, FailOn, Format, ReportArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Capture(args) => live::capture(args),
        Command::Interfaces(args) => live::interfaces(args),
    }
}

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

fn open_inputs(files: &[String], spool: Option<&Path>) -> Result<Vec<(String, CaptureReader)>> {
    if files.iter().filter(|f| *f == "-").count() > 1 {
        bail!("standard input (-) can be named only once");
    }
    let mut readers = Vec::with_capacity(files.len());
    for name in files {
        let reader = if name == "-" {
            let stdin = io::stdin();
            match spool {
                Some(path) => {
                    let copy = File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
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

pub(crate) fn focus(args: &ReportArgs) -> Result<Focus> {
    if let Some(s) = &args.server {
        let addr: SocketAddr = s
            .parse()
            .with_context(|| format!("--server {s}: expected IP:PORT or [IPv6]:PORT"))?;
        return Ok(Focus::Server(Endpoint {
            ip: addr.ip(),
            port: addr.port(),
        }));
    }
    Ok(args.port.map_or(Focus::All, Focus::Port))
}

fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let cfg = Config {
        focus: focus(&args.report)?,
        keep_connections: args.report.connections,
        live: false,
        max_connections: args.report.max_connections,
        max_memory: args.report.max_memory << 20,
    };
    let spool = (args.evidence.is_some() && args.files.iter().any(|f| f == "-"))
        .then(|| std::env::temp_dir().join(format!("racecap-stdin-{}.pcap", std::process::id())));
    let result = analyze_inputs(&args, cfg, spool.as_deref());
    if let Some(p) = &spool {
        let _ = std::fs::remove_file(p);
    }
    result
}

fn analyze_inputs(args: &AnalyzeArgs, cfg: Config, spool: Option<&Path>) -> Result<ExitCode> {
    let readers = open_inputs(&args.files, spool)?;
    let bar = progress_bar(&args.files);
    let (report, inputs) = analyzer::run_with_progress(readers, cfg, &mut |pos| {
        if let Some(b) = &bar {
            b.set_position(pos);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for w in &report.capture.warnings {
        eprintln!("racecap: warning: {w}");
    }
    if let Some(out) = &args.evidence {
        let paths: Vec<PathBuf> = args
            .files
            .iter()
            .map(|f| match (f.as_str(), spool) {
                ("-", Some(p)) => p.to_path_buf(),
                _ => PathBuf::from(f),
            })
            .collect();
        let n = write_evidence(&report, &paths, &inputs, out)?;
        eprintln!(
            "racecap: wrote {n} packets of {} failing connections to {}",
            report.findings.len(),
            out.display()
        );
    }
    emit(&report, &args.report)
}

/// Renders the report as asked and maps `--fail-on` to the exit code.
pub(crate) fn emit(report: &Report, args: &ReportArgs) -> Result<ExitCode> {
    let text = match args.format {
        Format::Table => render::tables(report, args.connections),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Jsonl => {
            let mut s = String::new();
            for f in &report.findings {
                s.push_str(&serde_json::to_string(f)?);
                s.push('\n');
            }
            s
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(exit_code(report, args.fail_on))
}

/// 1 when the report holds what `--fail-on` names, else 0.
pub(crate) fn exit_code(report: &Report, fail_on: FailOn) -> ExitCode {
    let tripped = match fail_on {
        FailOn::Never => false,
        FailOn::Race => report.races() > 0,
        FailOn::Failure => report.failures() > 0,
    };
    if tripped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
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

/// Second pass: copies every packet of the failing connections to `out`.
/// Classic pcap when all inputs share one link type, pcapng otherwise.
fn write_evidence(
    report: &Report,
    paths: &[PathBuf],
    inputs: &[InputStats],
    out: &Path,
) -> Result<u64> {
    let mut spans: HashMap<FlowKey, Vec<(i64, i64)>> = HashMap::new();
    for f in &report.findings {
        let (key, a, b) = f.span;
        spans.entry(key).or_default().push((a, b));
    }
    let mut linktypes: Vec<u16> = inputs.iter().flat_map(|i| i.linktypes.clone()).collect();
    linktypes.sort_unstable();
    linktypes.dedup();
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let file = BufWriter::new(file);
    enum W {
        Pcap(PcapWriter<BufWriter<File>>),
        Ng(PcapngWriter<BufWriter<File>>, HashMap<u16, u32>),
    }
    let mut w = if linktypes.len() <= 1 {
        W::Pcap(PcapWriter::new(
            file,
            linktypes
                .first()
                .copied()
                .unwrap_or(decode::linktype::ETHERNET),
            262_144,
            true,
            Endian::Little,
        )?)
    } else {
        let mut ng = PcapngWriter::new(file, Endian::Little)?;
        let mut ids = HashMap::new();
        for lt in &linktypes {
            ids.insert(*lt, ng.interface(*lt, 262_144, 9, 0)?);
        }
        W::Ng(ng, ids)
    };
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut readers = Vec::new();
    for (name, path) in names.iter().zip(paths) {
        let file = File::open(path).with_context(|| format!("reopening {name}"))?;
        let r = CaptureReader::new(file).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        readers.push((name.clone(), r));
    }
    let mut merged = Merged::new(readers)?;
    let mut n = 0u64;
    while let Some((_, frame)) = merged.next_frame()? {
        let Ok(seg) = decode::decode(&frame) else {
            continue;
        };
        let (key, _) = seg.key();
        let hit = spans
            .get(&key)
            .is_some_and(|v| v.iter().any(|&(a, b)| frame.ts_ns >= a && frame.ts_ns <= b));
        if !hit {
            continue;
        }
        match &mut w {
            W::Pcap(p) => p.write(frame.ts_ns, frame.origlen, frame.data)?,
            W::Ng(p, ids) => {
                p.packet(ids[&frame.linktype], frame.ts_ns, frame.origlen, frame.data)?
            }
        }
        n += 1;
    }
    match w {
        W::Pcap(p) => {
            p.finish()?;
        }
        W::Ng(p, _) => {
            p.finish()?;
        }
    }
    Ok(n)
}
