//! `--metrics-listen`: serves [`racecap::metrics`] at `GET /metrics`, one
//! request per connection, each on a thread of its own: OpenMetrics to
//! scrapers that ask for it (Prometheus does), the 0.0.4 text format to the
//! others. Bounded whatever a client does: a request head of at most
//! [`MAX_HEAD`] bytes read within [`REQUEST_TIME`], and at most
//! [`MAX_CLIENTS`] connections served at once (one slow client holds only
//! its own).

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use racecap::metrics::Metrics;

/// How long a scraper may take to send its whole request head (a byte
/// every few seconds must not hold a connection for ever).
const REQUEST_TIME: Duration = Duration::from_secs(5);

/// The longest request head read: a scrape's is a few hundred bytes.
const MAX_HEAD: u64 = 16 << 10;

/// Connections served at once; beyond, a new one is closed at once.
const MAX_CLIENTS: usize = 16;

/// Binds `addr` (here, in racecap's own network namespace) and serves
/// `/metrics` on a thread of its own until the process ends.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("--metrics-listen {addr}: binding"))?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("racecap-metrics".into())
        .spawn(move || {
            let busy = Arc::new(AtomicUsize::new(0));
            for stream in listener.incoming().flatten() {
                if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                    busy.fetch_sub(1, Ordering::AcqRel);
                    continue; // (dropped: closed)
                }
                let (metrics, done) = (metrics.clone(), busy.clone());
                let spawned = std::thread::Builder::new()
                    .name("racecap-scrape".into())
                    .spawn(move || {
                        // A scraper that misbehaves costs its own connection only.
                        let _ = answer(stream, &metrics);
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::AcqRel);
                }
            }
        })
        .context("starting the metrics thread")?;
    Ok(bound)
}

/// Answers one request: the exposition for `GET /metrics`, 404 otherwise.
fn answer(stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    let until = Instant::now() + REQUEST_TIME;
    let limited = Deadline {
        stream: stream.try_clone()?,
        until,
    }
    .take(MAX_HEAD);
    let mut reader = BufReader::new(limited);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Read the headers (only Accept matters) before answering.
    let mut line = String::new();
    let mut openmetrics = false;
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n > 0 && !line.ends_with('\n') {
            // Past MAX_HEAD, or the client stopped mid-line: no request.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        if n <= 2 {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("accept")
        {
            openmetrics = wants_openmetrics(value);
        }
    }
    let mut words = request.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") if openmetrics => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.text(),
        ),
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            text_004(&metrics.text()),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "racecap serves /metrics only\n".to_string(),
        ),
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// A socket read within a deadline for the whole request, not per read.
struct Deadline {
    stream: TcpStream,
    until: Instant,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "request too slow"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// The OpenMetrics exposition in Prometheus' older text format (0.0.4),
/// for scrapers that do not ask for OpenMetrics (`curl`, `promtool check
/// metrics`, older agents), as the Go client negotiates it. The two differ
/// only where prometheus-client's output uses them: a counter family is
/// named without `_total` in OpenMetrics and with it in 0.0.4, and 0.0.4
/// has no `# UNIT` or `# EOF` lines.
fn text_004(openmetrics: &str) -> String {
    let mut counters = HashSet::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            counters.insert(name.to_string());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Whether a scraper's `Accept` header asks for OpenMetrics.
fn wants_openmetrics(accept: &str) -> bool {
    accept.contains("application/openmetrics-text")
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_004_names_counters_with_total_and_has_no_eof() {
        let m = Metrics::default();
        m.packets(3);
        m.open_connections(7);
        let old = text_004(&m.text());
        assert!(
            old.contains("# TYPE racecap_capture_packets_total counter\n"),
            "{old}"
        );
        assert!(old.contains("# HELP racecap_capture_packets_total Packets captured.\n"));
        assert!(old.contains("racecap_capture_packets_total 3\n"));
        assert!(old.contains("# TYPE racecap_open_connections gauge\n"));
        assert!(!old.contains("# EOF"));
    }

    #[test]
    fn test_openmetrics_only_when_asked() {
        // Prometheus' scrape Accept header; curl's.
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
        ));
        assert!(!wants_openmetrics("*/*"));
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use std::io::Read;

    fn scrape(addr: SocketAddr) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    /// Issue 23: a client trickling its request held every other scrape
    /// (one thread served everyone), and a request line with no newline
    /// was read whole (800 MiB). Now a slow client holds its own
    /// connection only, and a request head past MAX_HEAD is refused
    /// without being read further.
    #[test]
    fn test_23_slow_and_endless_clients_hold_nobody() {
        let addr = serve("127.0.0.1:0".parse().unwrap(), Arc::new(Metrics::default())).unwrap();
        // A trickler: one byte, then silence.
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"G").unwrap();
        // An endless request line: the server stops reading it and closes.
        let mut endless = TcpStream::connect(addr).unwrap();
        endless
            .set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let chunk = vec![b'a'; 64 << 10];
        let mut sent = 0u64;
        while sent < 64 << 20 {
            match endless.write(&chunk) {
                Ok(n) => sent += n as u64,
                Err(_) => break,
            }
        }
        assert!(
            sent < 64 << 20,
            "the server read {sent} bytes of one request line"
        );
        // Meanwhile a scrape is answered, the trickler still connected.
        let answer = scrape(addr);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.contains("racecap_"), "{answer}");
        slow.write_all(b"E").unwrap_or(());
    }
}
