//! nginx access logs. A `log_format` is a template of literal text and
//! `$variables`, so one reader serves them all: the `combined` format,
//! ingress-nginx's default (combined plus the upstream variables), any
//! `log_format` the user gives (`--nginx-log-format`), and JSON lines
//! whose keys are the variable names. What the lines say comes from the
//! variables: `$msec`/`$time_iso8601`/`$time_local` (written when the
//! request ended), `$request` (or `$request_method` + `$request_uri`),
//! `$status`, `$request_time`, and the per-try lists `$upstream_addr`,
//! `$upstream_status`, `$upstream_connect_time`, `$upstream_response_time`
//! (`"502, 200"`: the first try failed, nginx retried).

use std::collections::HashMap;

use serde_json::Value;

use super::{Anchor, Attempt, Entry, LoggedRequest, Unreadable, dash, endpoint, time};
use crate::units::{NS_PER_MS, NS_PER_S};

/// nginx's predefined `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// ingress-nginx's default `log-format-upstream` (its docs, "Log format").
pub const INGRESS: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"#;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(String),
}

/// A `log_format`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// nginx's lists join tries with `, ` and internal redirects with ` : `.
fn is_list(var: &str) -> bool {
    var.starts_with("upstream_")
}

impl Template {
    /// Compiles `$name` and `${name}` variables; everything else is literal.
    pub fn new(format: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut it = format.char_indices().peekable();
        while let Some((i, c)) = it.next() {
            if c != '$' {
                lit.push(c);
                continue;
            }
            let braced = format[i + 1..].starts_with('{');
            let start = i + 1 + usize::from(braced);
            let len = format[start..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len == 0 {
                lit.push(c);
                continue;
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var(format[start..start + len].to_string()));
            let end = start + len + usize::from(braced && format[start + len..].starts_with('}'));
            while it.peek().is_some_and(|(j, _)| *j < end) {
                it.next();
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Template { parts }
    }

    /// The variables of a line, or `None` when it does not fit. Text after
    /// the template's end is allowed (formats grow at the end).
    fn vars<'a>(&self, line: &'a str) -> Option<HashMap<&str, &'a str>> {
        let line = line.trim_end_matches(['\r', '\n']);
        let mut vars = HashMap::new();
        let mut pos = 0;
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Lit(l) => {
                    if !line[pos..].starts_with(l.as_str()) {
                        return None;
                    }
                    pos += l.len();
                }
                Part::Var(v) => {
                    let end = match self.parts.get(i + 1) {
                        Some(Part::Lit(l)) => {
                            let mut from = pos;
                            loop {
                                let at = from + line[from..].find(l.as_str())?;
                                let value = &line[pos..at];
                                let after = &line[at + l.len()..];
                                let continues = is_list(v)
                                    && (value.ends_with(',')
                                        || (l == " " && after.starts_with(": ")));
                                if !continues {
                                    break at;
                                }
                                from = at + l.len();
                            }
                        }
                        Some(Part::Var(_)) => {
                            pos + line[pos..].find(' ').unwrap_or(line.len() - pos)
                        }
                        None => line.len(),
                    };
                    vars.insert(v.as_str(), &line[pos..end]);
                    pos = end;
                }
            }
        }
        Some(vars)
    }

    /// One access-log line in this format.
    pub fn parse(&self, line: &str) -> Result<Entry, Unreadable> {
        let vars = self.vars(line).ok_or(Unreadable)?;
        entry(&|k| vars.get(k).copied().and_then(dash).map(str::to_string))
    }
}

/// nginx JSON (`log_format x escape=json '{"msec":"$msec",…}'`): the keys
/// are the variable names; values strings or numbers.
pub fn parse_json(line: &str) -> Result<Entry, Unreadable> {
    let v: Value = serde_json::from_str(line).map_err(|_| Unreadable)?;
    if !v.is_object() {
        return Err(Unreadable);
    }
    entry(&|k| match v.get(k)? {
        Value::String(s) => dash(s).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Seconds with milliseconds (`0.041`) → nanoseconds.
fn secs(s: &str) -> Option<i64> {
    let t = time::epoch(s.trim())?;
    Some(t.ns)
}

/// A per-try list (`"502, 200"`, `"a : b"`), split.
fn list(s: Option<String>) -> Vec<String> {
    s.map_or_else(Vec::new, |s| {
        s.split([',', ':'])
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// An upstream address list must not split on the port's colon.
fn addr_list(s: Option<String>) -> Vec<String> {
    s.map_or_else(Vec::new, |s| {
        s.split(", ")
            .flat_map(|x| x.split(" : "))
            .map(|x| x.trim().to_string())
            .collect()
    })
}

fn entry(get: &dyn Fn(&str) -> Option<String>) -> Result<Entry, Unreadable> {
    let time = if let Some(m) = get("msec") {
        time::epoch(&m)
    } else if let Some(t) = get("time_iso8601") {
        time::rfc3339(&t)
    } else if let Some(t) = get("time_local") {
        time::nginx_local(&t)
    } else {
        None
    }
    .ok_or(Unreadable)?;
    let status = match get("status") {
        Some(s) => Some(s.parse::<u16>().map_err(|_| Unreadable)?),
        None => None,
    };
    let request = get("request")
        .and_then(|r| LoggedRequest::parse(&r))
        .or_else(|| {
            let method = get("request_method").or_else(|| get("method"))?;
            let path = get("request_uri").or_else(|| get("uri"))?;
            Some(LoggedRequest { method, path })
        });
    let addrs = addr_list(get("upstream_addr"));
    let statuses = list(get("upstream_status"));
    let connects = list(get("upstream_connect_time"));
    let responses = list(get("upstream_response_time"));
    let n = addrs.len().max(statuses.len());
    let attempts: Vec<Attempt> = (0..n)
        .map(|i| Attempt {
            upstream: addrs.get(i).and_then(|a| endpoint(a)),
            status: statuses.get(i).and_then(|s| s.parse().ok()),
            connect_ns: connects.get(i).and_then(|s| secs(s)),
            response_ns: responses.get(i).and_then(|s| secs(s)),
        })
        .collect();
    let request_ns = get("request_time").and_then(|s| secs(&s));
    let mut e = Entry {
        time,
        anchor: Anchor::Request,
        shift_ns: 0,
        lead_ns: 0,
        span_ns: 0,
        status,
        request,
        upstream: None,
        upstream_local: None,
        flags: None,
        details: None,
        termination: None,
        attempts,
        error_log: false,
        no_backend: false,
    };
    let k = e.failed_attempt().unwrap_or(0);
    e.upstream = e.attempts.get(k).and_then(|a| a.upstream);
    // The line is written when the request ends; the failing try began
    // `$request_time` earlier plus the tries before it. Each of those
    // numbers is rounded to the millisecond.
    let before: i64 = e.attempts[..k.min(e.attempts.len())]
        .iter()
        .filter_map(|a| a.response_ns)
        .sum();
    let took = request_ns.or_else(|| {
        let all: i64 = e.attempts.iter().filter_map(|a| a.response_ns).sum();
        (all > 0).then_some(all)
    });
    match took {
        Some(d) => {
            let rounding = NS_PER_MS * (2 + k as i64);
            e.shift_ns = -(d - before).max(0);
            e.lead_ns = rounding;
            e.span_ns = e
                .attempts
                .get(k)
                .and_then(|a| a.response_ns)
                .unwrap_or(0)
                .saturating_add(rounding);
        }
        // Nothing says how long the request took: it began before the line,
        // how long is unknown; a second covers a failing try's usual life.
        None => e.lead_ns = NS_PER_S,
    }
    Ok(e)
}

#[cfg(test)]
mod test {
    use super::*;

    /// The lab's `log_format race` (fixtures/README.md).
    const LAB: &str = r#"$msec "$request" $status "$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_response_time" $request_time $remote_port"#;

    #[test]
    fn test_lab_format_retried_get() {
        let t = Template::new(LAB);
        let line = r#"1795716324.750 "GET /lane1/8 HTTP/1.1" 200 "10.231.2.2:8081, 10.231.2.2:8081" "502, 200" "0.000, 0.041" "0.040, 0.084" 0.124 55778"#;
        let e = t.parse(line).unwrap();
        assert_eq!(e.status, Some(200));
        assert!(e.is_error());
        assert_eq!(e.failed_attempt(), Some(0));
        assert_eq!(e.error_status(), Some(502));
        assert_eq!(e.attempts.len(), 2);
        assert_eq!(e.attempts[1].response_ns, Some(84 * NS_PER_MS));
        assert_eq!(e.upstream.unwrap().to_string(), "10.231.2.2:8081");
        // The failing try began at $msec − $request_time.
        assert_eq!(e.time.ns + e.shift_ns, 1_795_716_324_626_000_000);
        assert_eq!(e.message(), "200 (upstream 502, 200)");
    }

    #[test]
    fn test_lab_format_post_not_retried() {
        let t = Template::new(LAB);
        let line = r#"1795716362.462 "POST /lane1/8 HTTP/1.1" 502 "10.231.2.2:8081" "502" "0.000" "0.040" 0.041 56686"#;
        let e = t.parse(line).unwrap();
        assert!(e.is_error());
        assert_eq!(e.error_status(), Some(502));
        assert_eq!(e.time.ns + e.shift_ns, 1_795_716_362_421_000_000);
        let ok = r#"1795716362.846 "POST /lane1/9 HTTP/1.1" 200 "10.231.2.2:8081" "200" "0.041" "0.083" 0.083 59502"#;
        assert!(!t.parse(ok).unwrap().is_error());
        assert_eq!(t.parse("1795716362.846 GET"), Err(Unreadable));
    }

    #[test]
    fn test_combined() {
        let t = Template::new(COMBINED);
        let line = r#"10.231.1.1 - - [26/Nov/2026:20:06:02 +0200] "POST /lane1/8 HTTP/1.1" 502 157 "-" "python-urllib/3.11""#;
        let e = t.parse(line).unwrap();
        assert_eq!(e.status, Some(502));
        assert_eq!((e.time.zone_s, e.time.precision_ns), (Some(7200), NS_PER_S));
        assert_eq!(e.time.ns, 1_795_716_362 * NS_PER_S);
        assert_eq!(e.upstream, None);
        assert!(e.is_error());
    }

    #[test]
    fn test_ingress_lists_with_spaces() {
        let t = Template::new(INGRESS);
        let line = r#"10.0.0.9 - - [26/Nov/2026:18:06:02 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8" 80 0.130 [default-app-80] [] 10.0.0.2:3000, 10.0.0.3:3000 0, 12 0.040, 0.090 502, 200 abc123"#;
        let e = t.parse(line).unwrap();
        assert_eq!(e.attempts.len(), 2);
        assert_eq!(e.attempts[0].status, Some(502));
        assert_eq!(e.attempts[1].upstream.unwrap().to_string(), "10.0.0.3:3000");
        assert_eq!(e.upstream.unwrap().to_string(), "10.0.0.2:3000");
    }

    #[test]
    fn test_json() {
        let line = r#"{"msec":"1795716362.462","method":"POST","uri":"/lane1/8","status":502,"upstream_addr":"10.231.2.2:8081","upstream_status":"502","upstream_connect_time":"0.000","upstream_response_time":"0.040","request_time":"0.041"}"#;
        let e = parse_json(line).unwrap();
        assert_eq!(e.error_status(), Some(502));
        assert_eq!(e.request.unwrap().path, "/lane1/8");
        assert_eq!(parse_json(r#"{"status":502}"#), Err(Unreadable));
        assert_eq!(parse_json("502"), Err(Unreadable));
    }

    #[test]
    fn test_template_forms() {
        let t = Template::new("${msec}x$ $status");
        assert_eq!(
            t.parts,
            vec![
                Part::Var("msec".into()),
                Part::Lit("x$ ".into()),
                Part::Var("status".into())
            ]
        );
    }
}
