//! HAProxy's default `option httplog` line (doc/configuration.txt, "HTTP
//! log format"):
//! `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
//! %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r`, usually behind a syslog
//! header. The date is the proxy host's local time to the millisecond with
//! no zone; the server is named, not addressed, so a default line matches
//! by request and time. A format that appends `%bi:%bp %si:%sp` (the
//! proxy's source toward the server, and the server) after the request is
//! read too: then the match is exact. The termination state's first
//! letter says who ended the session (`S` the server, `s` its timeout, `C`
//! the client); the second when (`H` waiting for headers, `D` during
//! data, `C` connecting).

use super::tokens::{self, Token};
use super::{Anchor, Entry, LoggedRequest, Unreadable, endpoint, time};
use crate::units::NS_PER_MS;

/// A timer: milliseconds, `-1` when the step never happened, `+` before
/// `Ta` with `option logasap`.
fn timer(s: &str) -> Result<Option<i64>, Unreadable> {
    let v: i64 = s.trim_start_matches('+').parse().map_err(|_| Unreadable)?;
    Ok((v >= 0).then(|| v.saturating_mul(NS_PER_MS)))
}

/// One httplog line.
pub fn parse(line: &str) -> Result<Entry, Unreadable> {
    let t = tokens::split(line).ok_or(Unreadable)?;
    // The date is the first bracketed field after the client's ip:port;
    // whatever precedes them is the syslog header.
    let at = t
        .iter()
        .enumerate()
        .position(|(i, x)| {
            i > 0
                && matches!(x, Token::Bracketed(_))
                && matches!(t[i - 1], Token::Bare(c) if endpoint(c).is_some())
        })
        .ok_or(Unreadable)?;
    let field = |i: usize| match t.get(at + i) {
        Some(Token::Bare(s)) => Ok(*s),
        _ => Err(Unreadable),
    };
    let time = time::local(t[at].text(), "%d/%b/%Y:%H:%M:%S%.f").ok_or(Unreadable)?;
    field(2)?.split_once('/').ok_or(Unreadable)?;
    let timers: Vec<&str> = field(3)?.split('/').collect();
    if timers.len() != 5 {
        return Err(Unreadable);
    }
    let mut ms = [None; 5];
    for (m, s) in ms.iter_mut().zip(&timers) {
        *m = timer(s)?;
    }
    let status = match field(4)? {
        "-1" => None,
        s => Some(s.parse::<u16>().map_err(|_| Unreadable)?),
    };
    let termination = field(8)?;
    if !(2..=4).contains(&termination.len()) {
        return Err(Unreadable);
    }
    // Captured headers (`{…}`) come before the quoted request, when set.
    let mut i = at + 11;
    while matches!(t.get(i), Some(Token::Braced(_))) {
        i += 1;
    }
    let Some(Token::Quoted(req)) = t.get(i) else {
        return Err(Unreadable);
    };
    let extra = |j: usize| t.get(i + j).and_then(|x| endpoint(x.text()));
    // The request reaches the server after it was received (TR), waited in
    // the queue (Tw) and the connection was made (Tc).
    let to_server: i64 = ms[..3].iter().flatten().sum();
    let total = ms[4].unwrap_or(to_server);
    Ok(Entry {
        time,
        anchor: Anchor::Request,
        shift_ns: to_server,
        lead_ns: NS_PER_MS,
        span_ns: (total - to_server).max(0),
        status,
        request: LoggedRequest::parse(req),
        upstream: extra(2),
        upstream_local: extra(1),
        flags: None,
        details: None,
        termination: Some(termination.to_string()),
        attempts: Vec::new(),
        error_log: false,
        no_backend: false,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn line(status: &str, tsc: &str, timers: &str) -> String {
        format!(
            r#"Nov 26 18:06:02 proxy haproxy[8344]: 10.231.1.1:40000 [26/Nov/2026:18:06:02.421] fe be/app1 {timers} {status} 0 - - {tsc} 1/1/0/0/0 0/0 "POST /lane1/8 HTTP/1.1""#
        )
    }

    #[test]
    fn test_termination_states() {
        let sh = parse(&line("502", "SH--", "0/0/0/-1/40")).unwrap();
        assert_eq!(
            (sh.status, sh.termination.as_deref()),
            (Some(502), Some("SH--"))
        );
        assert!(sh.is_error());
        assert_eq!(sh.message(), "502 SH--");
        let r = sh.request.unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/lane1/8"));
        assert_eq!(sh.time.zone_s, None);
        assert_eq!(sh.time.precision_ns, NS_PER_MS);
        assert_eq!(sh.upstream, None);

        let sc = parse(&line("503", "SC--", "0/0/-1/-1/3001")).unwrap();
        assert!(sc.is_error());
        // Cut during the data: the status was 200, the session still failed.
        let sd = parse(&line("200", "sD--", "0/0/1/5/30005")).unwrap();
        assert!(sd.is_error());
        assert_eq!(sd.shift_ns, NS_PER_MS);
        let ok = parse(&line("200", "----", "0/0/1/5/6")).unwrap();
        assert!(!ok.is_error());
        let client = parse(&line("200", "CD--", "0/0/1/5/6")).unwrap();
        assert!(!client.is_error());
    }

    #[test]
    fn test_docs_example_and_extras() {
        // doc/configuration.txt's example, with captured headers.
        let doc = r#"Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
        let e = parse(doc).unwrap();
        assert_eq!(e.status, Some(200));
        assert_eq!(e.shift_ns, 40 * NS_PER_MS);
        assert_eq!(e.span_ns, 69 * NS_PER_MS);
        let with = format!(
            "{} 10.231.2.1:56920 10.231.2.2:8081",
            line("502", "SH--", "0/0/0/-1/40")
        );
        let x = parse(&with).unwrap();
        assert_eq!(x.upstream_local.unwrap().to_string(), "10.231.2.1:56920");
        assert_eq!(x.upstream.unwrap().to_string(), "10.231.2.2:8081");
    }

    #[test]
    fn test_unreadable() {
        assert_eq!(parse("10.0.0.1:1 [x] a b/c 1/2 200"), Err(Unreadable));
        assert_eq!(parse(&line("5x2", "SH--", "0/0/0/-1/40")), Err(Unreadable));
        assert_eq!(parse(&line("502", "SH--", "0/0/0/40")), Err(Unreadable));
        assert_eq!(parse(""), Err(Unreadable));
    }
}
