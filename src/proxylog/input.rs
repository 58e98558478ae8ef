//! A proxy log's lines, read from any reader (the binary opens the file):
//! gzip is recognised by its magic bytes, not the name (rotated logs are
//! `access.log.1.gz`, or compressed without a suffix); lines are split on
//! `\n` and decoded leniently (a user agent with bad UTF-8 does not make a
//! line unreadable). The format is detected from the first lines unless it
//! is forced; only the 5xx and error lines are kept.

use std::io::{self, BufRead, BufReader, Read};

use super::nginx_access::{COMBINED, INGRESS, Template};
use super::{Entry, LogFormat, detect, haproxy_format};

/// Lines looked at to detect the format.
const DETECT_LINES: usize = 200;

/// The longest line kept (64 KiB). Access and error log lines are a few
/// hundred bytes, a few KiB with long URLs or headers; a longer "line" is
/// not one (a binary file, a log without newlines, a hostile input: a
/// gzip'd log of one 1 GiB line took 2 GiB), so it is skipped to its end
/// without being held, and counted as unreadable.
pub const MAX_LINE: usize = 64 << 10;

/// Reads the next line of `input` into `raw` (without its `\n`), keeping
/// at most [`MAX_LINE`] bytes of it. Returns None at the end, else whether
/// the line was longer than kept.
fn bounded_line(input: &mut dyn BufRead, raw: &mut Vec<u8>) -> io::Result<Option<bool>> {
    raw.clear();
    let mut any = false;
    let mut long = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(long));
        }
        any = true;
        let (part, end) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = MAX_LINE.saturating_sub(raw.len());
        if part.len() > room {
            long = true;
        }
        raw.extend_from_slice(&part[..part.len().min(room)]);
        let used = end.unwrap_or(buf.len());
        input.consume(used);
        if end.is_some() {
            return Ok(Some(long));
        }
    }
}

/// What a line longer than [`MAX_LINE`] is read as: no format's line.
const LONG_LINE: &str = "\u{0}line longer than 64 KiB";

/// What one log said.
#[derive(Debug, Clone)]
pub struct ParsedLog {
    pub name: String,
    pub format: Option<LogFormat>,
    pub gzip: bool,
    pub lines: u64,
    pub unreadable: u64,
    /// The 5xx and error lines, with their 1-based line numbers.
    pub errors: Vec<(u64, Entry)>,
    /// Error lines past the memory budget ([`Options::max_bytes`]): read
    /// and counted, not kept nor matched.
    pub over_budget: u64,
}

/// How to read the lines: a forced format, the user's nginx `log_format`
/// and HAProxy `log-format`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub format: Option<LogFormat>,
    pub nginx_log_format: Option<String>,
    pub haproxy_log_format: Option<String>,
    /// Most bytes of error lines kept (their typed entries and text, as
    /// [`entry_bytes`] counts them); 0 for no limit. Issue 23: a 100 MB
    /// log of error lines took 455 MiB; matching them to connections costs
    /// about as much again.
    pub max_bytes: usize,
}

/// The share of the memory budget (`--max-memory`) the error lines of
/// `files` logs may hold together: a quarter (the connections are judged
/// by then, but their findings and statistics remain), split evenly.
pub fn budget(max_memory: usize, files: usize) -> usize {
    max_memory / 4 / files.max(1)
}

/// What a kept error line of `line_len` bytes costs: its entry and the
/// text it holds, about as much again for the report's line it becomes,
/// and four times the line for that line's message and its rendering
/// (measured: 100 k kept nginx error lines peaked at 3.2 KB each while
/// this counted 0.7 KB; it now counts 1.9 KB).
pub fn entry_bytes(e: &Entry, line_len: usize) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let own = std::mem::size_of::<(u64, Entry)>()
        + e.request
            .as_ref()
            .map_or(0, |r| r.method.len() + r.path.len())
        + text(&e.flags)
        + text(&e.details)
        + text(&e.termination)
        + e.attempts.len() * std::mem::size_of::<super::Attempt>();
    2 * own + 4 * line_len
}

/// The nginx templates to try, the user's first.
fn templates(opts: &Options) -> Vec<Template> {
    let mut t: Vec<Template> = opts
        .nginx_log_format
        .iter()
        .map(|f| Template::new(f))
        .collect();
    if opts.nginx_log_format.is_none() {
        t.push(Template::new(INGRESS));
        t.push(Template::new(COMBINED));
    }
    t
}

/// Reads a log. Errors are the reader's (a file cut short in its gzip
/// stream, a read error); lines are never an error.
pub fn read<R: Read>(name: &str, input: R, opts: &Options) -> io::Result<ParsedLog> {
    let mut buf = BufReader::new(input);
    let head = buf.fill_buf()?;
    let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    let mut lines: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(buf)))
    } else {
        Box::new(buf)
    };
    let mut first: Vec<String> = Vec::new();
    let mut raw = Vec::new();
    let mut next = |lines: &mut Box<dyn BufRead>| -> io::Result<Option<String>> {
        Ok(bounded_line(lines.as_mut(), &mut raw)?.map(|long| {
            if long {
                // Cut: no format reads it, so it counts as unreadable.
                LONG_LINE.to_string()
            } else {
                String::from_utf8_lossy(&raw)
                    .trim_end_matches('\r')
                    .to_string()
            }
        }))
    };
    while first.len() < DETECT_LINES {
        match next(&mut lines)? {
            Some(l) => first.push(l),
            None => break,
        }
    }
    let candidates = templates(opts);
    let haproxy = opts
        .haproxy_log_format
        .as_deref()
        .map(haproxy_format::Template::new);
    let (format, template) = match opts.format {
        Some(f) => (Some(f), candidates[0].clone()),
        None => match detect::detect(&first, &candidates, haproxy.as_ref()) {
            Some((f, t)) => (Some(f), t),
            None => (None, candidates[0].clone()),
        },
    };
    let mut log = ParsedLog {
        name: name.to_string(),
        format,
        gzip,
        lines: 0,
        unreadable: 0,
        errors: Vec::new(),
        over_budget: 0,
    };
    let mut held = 0usize;
    let mut take = |line: &str, log: &mut ParsedLog| {
        log.lines += 1;
        if line == LONG_LINE {
            log.unreadable += 1;
            return;
        }
        let Some(format) = log.format else {
            log.unreadable += 1;
            return;
        };
        match format.parse(line, &template, haproxy.as_ref()) {
            Ok(Some(e)) if e.is_error() => {
                let cost = entry_bytes(&e, line.len());
                if opts.max_bytes > 0 && held + cost > opts.max_bytes {
                    log.over_budget += 1;
                } else {
                    held += cost;
                    log.errors.push((log.lines, e));
                }
            }
            Ok(_) => {}
            Err(_) if line.trim().is_empty() => {}
            Err(_) => log.unreadable += 1,
        }
    };
    for l in &first {
        take(l, &mut log);
    }
    while let Some(l) = next(&mut lines)? {
        take(&l, &mut log);
    }
    Ok(log)
}

#[cfg(test)]
mod test {
    use super::*;

    const LINES: &str = "2026/11/26 18:05:24 [error] 1#1: *4 upstream prematurely closed connection while reading response header from upstream, client: 10.0.0.9, server: , request: \"GET /a HTTP/1.1\", upstream: \"http://10.0.0.2:3000/a\", host: \"x\"\nnot a log line\n\n2026/11/26 18:05:25 [notice] 1#1: exiting\n";

    /// Issue 23: a line is never held longer than [`MAX_LINE`]; what is
    /// past it is skipped to the line's end, the next line is read whole,
    /// and a cut line counts as unreadable.
    #[test]
    fn test_23_long_line_is_cut_and_unreadable() {
        let mut text = LINES.lines().next().unwrap().to_string();
        text.push('\n');
        text.push_str(&"x".repeat(3 * MAX_LINE + 17));
        text.push('\n');
        text.push_str(LINES);
        // Read through a small buffer, so the long line spans many fills.
        let mut input = std::io::BufReader::with_capacity(1000, text.as_bytes());
        let mut raw = Vec::new();
        assert_eq!(bounded_line(&mut input, &mut raw).unwrap(), Some(false));
        assert_eq!(bounded_line(&mut input, &mut raw).unwrap(), Some(true));
        assert_eq!(raw.len(), MAX_LINE);
        assert!(raw.capacity() < 2 * MAX_LINE, "{}", raw.capacity());
        assert_eq!(bounded_line(&mut input, &mut raw).unwrap(), Some(false));
        assert!(raw.starts_with(b"2026/11/26 18:05:24 [error]"));
        let log = read("e.log", text.as_bytes(), &Options::default()).unwrap();
        assert_eq!(log.format, Some(LogFormat::NginxError));
        assert_eq!((log.lines, log.unreadable, log.errors.len()), (6, 2, 2));
        // The last line, without a newline, is still a line.
        let mut input = &b"a\nb"[..];
        assert_eq!(bounded_line(&mut input, &mut raw).unwrap(), Some(false));
        assert_eq!(bounded_line(&mut input, &mut raw).unwrap(), Some(false));
        assert_eq!(raw, b"b");
        assert_eq!(bounded_line(&mut input, &mut raw).unwrap(), None);
    }

    /// Issue 23: error lines are kept up to the budget; the rest are
    /// counted, not held.
    #[test]
    fn test_23_error_lines_past_the_budget_are_counted() {
        let line = LINES.lines().next().unwrap();
        let text = format!("{line}\n").repeat(1000);
        let all = read("e.log", text.as_bytes(), &Options::default()).unwrap();
        assert_eq!((all.errors.len(), all.over_budget), (1000, 0));
        let cost = entry_bytes(&all.errors[0].1, line.len());
        let opts = Options {
            max_bytes: 100 * cost + cost / 2,
            ..Options::default()
        };
        let cut = read("e.log", text.as_bytes(), &opts).unwrap();
        assert_eq!(
            (cut.lines, cut.errors.len(), cut.over_budget),
            (1000, 100, 900)
        );
        assert_eq!(budget(256 << 20, 2), 32 << 20);
    }

    #[test]
    fn test_plain_and_gzip_read_the_same() {
        let plain = read("e.log", LINES.as_bytes(), &Options::default()).unwrap();
        assert_eq!(plain.format, Some(LogFormat::NginxError));
        assert_eq!(
            (plain.lines, plain.unreadable, plain.errors.len()),
            (4, 1, 1)
        );
        assert_eq!(plain.errors[0].0, 1);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, LINES.as_bytes()).unwrap();
        let z = read("e.log.gz", &gz.finish().unwrap()[..], &Options::default()).unwrap();
        assert!(z.gzip && !plain.gzip);
        assert_eq!((z.lines, z.unreadable, z.errors.len()), (4, 1, 1));
    }

    #[test]
    fn test_forced_format_counts_unreadable() {
        let opts = Options {
            format: Some(LogFormat::HaproxyHttplog),
            ..Options::default()
        };
        let log = read("e.log", LINES.as_bytes(), &opts).unwrap();
        assert_eq!((log.lines, log.unreadable, log.errors.len()), (4, 3, 0));
    }

    #[test]
    fn test_cut_gzip_is_an_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, LINES.repeat(50).as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        assert!(read("e.gz", &bytes[..bytes.len() / 2], &Options::default()).is_err());
    }
}
