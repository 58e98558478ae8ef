//! `--metrics-listen`: serves [`racecap::metrics`] at `GET /metrics`, one
//! request per connection, on a thread of its own: OpenMetrics to scrapers
//! that ask for it (Prometheus does), the 0.0.4 text format to the others.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use racecap::metrics::Metrics;

/// How long a scraper may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` (here, in racecap's own network namespace) and serves
/// `/metrics` on a thread of its own until the process ends.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("--metrics-listen {addr}: binding"))?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("racecap-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                // A scraper that misbehaves costs its own connection only.
                let _ = answer(stream, &metrics);
            }
        })
        .context("starting the metrics thread")?;
    Ok(bound)
}

/// Answers one request: the exposition for `GET /metrics`, 404 otherwise.
fn answer(stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Read the headers (only Accept matters) before answering.
    let mut line = String::new();
    let mut openmetrics = false;
    while reader.read_line(&mut line)? > 2 {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("accept")
        {
            openmetrics = wants_openmetrics(value);
        }
        line.clear();
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
        let m = Metrics::new();
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
