//! nginx's error log. Its format is fixed (ngx_log_error_core):
//! `YYYY/MM/DD HH:MM:SS [level] pid#tid: *connection message, client: …,
//! server: …, request: "…", upstream: "…", host: "…"`. The time is the
//! proxy host's local time to the second, with no zone. The lines that
//! concern us are those at `error` or worse that name an upstream: nginx
//! writes one when a try at a backend fails, with the reason in words
//! ("upstream prematurely closed connection", "recv() failed (104:
//! Connection reset by peer)", "connect() failed (111: Connection
//! refused)", "upstream timed out (110: Connection timed out)").

use super::{Anchor, Entry, LoggedRequest, Unreadable, endpoint, time};
use crate::units::NS_PER_S;

/// nginx's default timeouts toward upstreams (`proxy_connect_timeout`,
/// `proxy_read_timeout`, `proxy_send_timeout`) are 60 s: an error logged
/// when one fires names a connection whose trouble (the first SYN, the
/// request) began up to that long before the line.
const TIMER_LEAD_NS: i64 = 60 * NS_PER_S;

/// Severity, in nginx's order.
const LEVELS: [&str; 8] = [
    "debug", "info", "notice", "warn", "error", "crit", "alert", "emerg",
];

/// The value of `key: "…"` or `key: …` in the line's tail.
fn field<'a>(tail: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!(", {key}: ");
    let at = tail.find(&needle)? + needle.len();
    let rest = &tail[at..];
    match rest.strip_prefix('"') {
        Some(q) => q.find('"').map(|end| &q[..end]),
        None => Some(rest.split(", ").next().unwrap_or(rest)),
    }
}

/// One error-log line: `Ok(None)` for a line below `error`, or one that
/// names no upstream (nginx's own trouble, not a backend's).
pub fn parse(line: &str) -> Result<Option<Entry>, Unreadable> {
    let line = line.trim_end();
    if line.is_empty() {
        return Ok(None);
    }
    let stamp = line.get(..19).ok_or(Unreadable)?;
    let time = time::local(stamp, "%Y/%m/%d %H:%M:%S").ok_or(Unreadable)?;
    let rest = line[19..].strip_prefix(" [").ok_or(Unreadable)?;
    let (level, rest) = rest.split_once("] ").ok_or(Unreadable)?;
    let severity = LEVELS.iter().position(|l| *l == level).ok_or(Unreadable)?;
    // `pid#tid: `
    let (pid, rest) = rest.split_once(": ").ok_or(Unreadable)?;
    if !pid.contains('#') {
        return Err(Unreadable);
    }
    // `*connection ` (absent for messages about no connection).
    let rest = match rest.strip_prefix('*') {
        Some(r) => r.split_once(' ').map_or("", |(_, m)| m),
        None => rest,
    };
    if severity < 4 {
        return Ok(None);
    }
    let (message, tail) = match rest.find(", client: ") {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let Some(upstream) = field(tail, "upstream") else {
        return Ok(None);
    };
    let lead_ns = if message.contains("timed out") {
        TIMER_LEAD_NS
    } else {
        0
    };
    Ok(Some(Entry {
        time,
        anchor: Anchor::Failure,
        shift_ns: 0,
        lead_ns,
        span_ns: 0,
        status: None,
        request: field(tail, "request").and_then(LoggedRequest::parse),
        upstream: endpoint(upstream),
        upstream_local: None,
        flags: None,
        details: Some(message.to_string()),
        termination: None,
        attempts: Vec::new(),
        error_log: true,
        no_backend: false,
    }))
}

#[cfg(test)]
mod test {
    use super::*;

    fn line(msg: &str) -> String {
        format!(
            r#"2026/11/26 18:05:24 [error] 7969#7969: *43 {msg}, client: 10.231.1.1, server: , request: "POST /lane1/8 HTTP/1.1", upstream: "http://10.231.2.2:8081/lane1/8", host: "10.231.1.2:9001""#
        )
    }

    #[test]
    fn test_upstream_messages() {
        for msg in [
            "upstream prematurely closed connection while reading response header from upstream",
            "recv() failed (104: Connection reset by peer) while reading response header from upstream",
            "connect() failed (111: Connection refused) while connecting to upstream",
            "upstream timed out (110: Connection timed out) while connecting to upstream",
        ] {
            let e = parse(&line(msg)).unwrap().unwrap();
            assert!(e.is_error() && e.error_log);
            assert_eq!(e.details.as_deref(), Some(msg));
            assert_eq!(e.upstream.unwrap().to_string(), "10.231.2.2:8081");
            let r = e.request.unwrap();
            assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/lane1/8"));
            assert_eq!(e.time.ns, 1_795_716_324 * NS_PER_S);
            assert_eq!((e.time.precision_ns, e.time.zone_s), (NS_PER_S, None));
            assert_eq!(e.status, None);
            assert_eq!(
                e.lead_ns,
                if msg.contains("timed out") {
                    TIMER_LEAD_NS
                } else {
                    0
                }
            );
        }
    }

    #[test]
    fn test_lines_not_about_an_upstream() {
        let notice = "2026/11/26 18:05:20 [notice] 7969#7969: signal process started";
        assert_eq!(parse(notice), Ok(None));
        let warn = line("an upstream response is buffered to a temporary file")
            .replace("[error]", "[warn]");
        assert_eq!(parse(&warn), Ok(None));
        let own = r#"2026/11/26 18:05:24 [error] 7969#7969: *1 open() "/srv/x" failed (2: No such file or directory), client: 10.0.0.1, server: a, request: "GET /x HTTP/1.1", host: "a""#;
        assert_eq!(parse(own), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn test_unreadable() {
        assert_eq!(parse("2026/11/26 18:05:24 error"), Err(Unreadable));
        assert_eq!(parse("[error] x"), Err(Unreadable));
        assert_eq!(parse("2026/11/26 18:05:24 [loud] 1#1: x"), Err(Unreadable));
        assert_eq!(parse("2026/11/26 18:05:é4 [error] 1#1: x"), Err(Unreadable));
    }
}
