//! HAProxy's own `log-format` (doc/configuration.txt, 8.2.4 "Custom log
//! format"), given with `--haproxy-log-format`: a template of literal text
//! and `%` variables, read the way [`super::nginx_access::Template`] reads
//! nginx's `log_format`. A custom format is HAProxy's common case (the
//! default httplog line says nothing about the backend connection), and a
//! log the default reader cannot read must not pass for a log with no
//! failures (issue 21).
//!
//! The variables read: the date (`%tr`, `%t`, `%trg`, `%T`, `%trl`, `%Tl`,
//! or `%Ts` with `%ms`), `%ST`, `%tsc`, the timers `%TR %Tw %Tc %Tr %Ta
//! %Tq %Th %Ti`, the request `%r` (best quoted: `%{+Q}r`), `%bi %bp` (the
//! proxy's end of the server connection: an exact match) and `%si %sp`.
//! Any other variable, including `%[sample]` expressions, is skipped over.
//! A `%{+Q}` variable is a quoted string; a captured-header variable
//! (`%hr`, `%hs`, `%hrl`, `%hsl`) a braced one; others end at the next
//! literal (or space).

use std::collections::HashMap;

use super::{Anchor, Entry, LoggedRequest, Unreadable, dash, endpoint, time};
use crate::units::NS_PER_MS;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var { name: String, quoted: bool },
}

/// A HAProxy `log-format`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// A captured-header variable: written `{…|…}`, spaces inside.
fn is_braced(name: &str) -> bool {
    matches!(name, "hr" | "hs" | "hrl" | "hsl")
}

impl Template {
    /// Compiles `%name`, `%{flags}name` and `%[sample]`; `%%` and `\ ` (the
    /// configuration's escaped space) are literal, like everything else.
    pub fn new(format: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let b = format.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let rest = &format[i..];
            if rest.starts_with("\\ ") || rest.starts_with("%%") {
                lit.push(if b[i] == b'%' { '%' } else { ' ' });
                i += 2;
                continue;
            }
            if b[i] != b'%' {
                let c = rest.chars().next().unwrap_or(' ');
                lit.push(c);
                i += c.len_utf8();
                continue;
            }
            let mut j = i + 1;
            let mut flags = "";
            if format[j..].starts_with('{') {
                let Some(end) = format[j..].find('}') else {
                    lit.push('%');
                    i += 1;
                    continue;
                };
                flags = &format[j + 1..j + end];
                j += end + 1;
            }
            let name = if format[j..].starts_with('[') {
                let end = format[j..].find(']').map_or(format.len(), |e| j + e + 1);
                let n = "[sample]".to_string();
                j = end;
                n
            } else {
                let len = format[j..]
                    .bytes()
                    .take_while(u8::is_ascii_alphanumeric)
                    .count();
                let n = format[j..j + len].to_string();
                j += len;
                n
            };
            if name.is_empty() {
                lit.push('%');
                i += 1;
                continue;
            }
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            let quoted = flags.split(',').any(|f| f == "+Q");
            parts.push(Part::Var { name, quoted });
            i = j;
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Template { parts }
    }

    /// The variables of `line` from `pos`, or `None` when it does not fit.
    /// Text after the template's end is allowed.
    fn vars_at<'a>(&self, line: &'a str, mut pos: usize) -> Option<HashMap<&str, &'a str>> {
        let mut vars = HashMap::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Lit(l) => {
                    if !line[pos..].starts_with(l.as_str()) {
                        return None;
                    }
                    pos += l.len();
                }
                Part::Var { name, quoted } => {
                    let rest = &line[pos..];
                    let (value, used) = if *quoted && rest.starts_with('"') {
                        let end = 1 + rest[1..].find('"')?;
                        (&rest[1..end], end + 1)
                    } else if is_braced(name) && rest.starts_with('{') {
                        let end = rest.find('}')?;
                        (&rest[..=end], end + 1)
                    } else {
                        let end = match self.parts.get(i + 1) {
                            Some(Part::Lit(l)) => rest.find(l.as_str())?,
                            Some(Part::Var { .. }) => rest.find(' ').unwrap_or(rest.len()),
                            None => rest.find(' ').unwrap_or(rest.len()),
                        };
                        (&rest[..end], end)
                    };
                    vars.insert(name.as_str(), value);
                    pos += used;
                }
            }
        }
        Some(vars)
    }

    /// Whether the format says anything racecap can use: a date and a
    /// status or termination state.
    pub fn is_usable(&self) -> bool {
        let has = |n: &[&str]| {
            self.parts
                .iter()
                .any(|p| matches!(p, Part::Var { name, .. } if n.contains(&name.as_str())))
        };
        has(&["tr", "t", "trg", "T", "trl", "Tl", "Ts"]) && has(&["ST", "tsc"])
    }

    /// One log line in this format, also behind a syslog header
    /// (`… haproxy[8344]: `).
    pub fn parse(&self, line: &str) -> Result<Entry, Unreadable> {
        let line = line.trim_end_matches(['\r', '\n']);
        self.parse_at(line, 0).or_else(|e| match line.find("]: ") {
            Some(at) => self.parse_at(line, at + 3),
            None => Err(e),
        })
    }

    fn parse_at(&self, line: &str, pos: usize) -> Result<Entry, Unreadable> {
        let vars = self.vars_at(line, pos).ok_or(Unreadable)?;
        let get = |k: &str| vars.get(k).copied().and_then(dash);
        let timer = |k: &str| -> Result<Option<i64>, Unreadable> {
            match get(k) {
                None => Ok(None),
                Some(s) => {
                    let v: i64 = s.trim_start_matches('+').parse().map_err(|_| Unreadable)?;
                    Ok((v >= 0).then(|| v.saturating_mul(NS_PER_MS)))
                }
            }
        };
        // The request's date (`%tr…`) is when its first byte came; the
        // accept date (`%t`, `%Ts`) is `%Th + %Ti` earlier.
        let (time, from_accept) = if let Some(s) = get("tr").or(get("t")) {
            let t = time::local(s, "%d/%b/%Y:%H:%M:%S%.f").ok_or(Unreadable)?;
            (t, get("tr").is_none())
        } else if let Some(s) = get("trg").or(get("T")).or(get("trl")).or(get("Tl")) {
            let t = time::nginx_local(s).ok_or(Unreadable)?;
            (t, get("trg").or(get("trl")).is_none())
        } else if let Some(s) = get("Ts") {
            let t = match get("ms") {
                Some(ms) if ms.len() == 3 && ms.bytes().all(|b| b.is_ascii_digit()) => {
                    time::epoch(&format!("{s}.{ms}"))
                }
                _ => time::epoch(s),
            };
            (t.ok_or(Unreadable)?, true)
        } else {
            return Err(Unreadable);
        };
        let status = match get("ST") {
            None | Some("-1") => None,
            Some(s) => Some(s.parse::<u16>().map_err(|_| Unreadable)?),
        };
        let termination = get("tsc").map(str::to_string);
        if status.is_none() && termination.is_none() {
            return Err(Unreadable);
        }
        if termination
            .as_ref()
            .is_some_and(|t| !(2..=4).contains(&t.len()))
        {
            return Err(Unreadable);
        }
        let tq = timer("Tq")?;
        let before = if from_accept {
            match tq {
                Some(t) => t,
                None => [timer("Th")?, timer("Ti")?, timer("TR")?]
                    .iter()
                    .flatten()
                    .sum(),
            }
        } else {
            timer("TR")?.unwrap_or(0)
        };
        let to_server = before + timer("Tw")?.unwrap_or(0) + timer("Tc")?.unwrap_or(0);
        let total = timer("Ta")?.or(timer("Tt")?);
        let endpoint_of = |ip: &str, port: &str| {
            let (ip, port) = (get(ip)?, get(port)?);
            if ip.contains(':') {
                endpoint(&format!("[{ip}]:{port}"))
            } else {
                endpoint(&format!("{ip}:{port}"))
            }
        };
        Ok(Entry {
            time,
            anchor: Anchor::Request,
            shift_ns: to_server,
            lead_ns: NS_PER_MS,
            span_ns: total.map_or(0, |t| (t - to_server).max(0)),
            status,
            request: get("r").and_then(LoggedRequest::parse),
            upstream: endpoint_of("si", "sp"),
            upstream_local: endpoint_of("bi", "bp"),
            flags: None,
            details: None,
            termination,
            attempts: Vec::new(),
            error_log: false,
            no_backend: false,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// The lab's format (scripts/lab/record-haproxy.sh).
    const LAB: &str =
        "%Ts.%ms %ci:%cp %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %rc %bi:%bp %si:%sp %{+Q}r";

    #[test]
    fn test_lab_format_race_line() {
        let t = Template::new(LAB);
        assert!(t.is_usable());
        let e = t
            .parse(r#"1796151908.955 127.0.0.1:40000 be/node 0/0/0/-1/36 502 0 SH-- 0 10.221.3.1:39148 10.221.3.2:8221 "GET /gap2-2942 HTTP/1.1""#)
            .unwrap();
        assert_eq!(
            (e.status, e.termination.as_deref()),
            (Some(502), Some("SH--"))
        );
        assert!(e.is_error());
        assert_eq!(e.time.ns, 1_796_151_908_955 * NS_PER_MS);
        assert_eq!(e.time.precision_ns, NS_PER_MS);
        assert_eq!(e.upstream_local.unwrap().to_string(), "10.221.3.1:39148");
        assert_eq!(e.upstream.unwrap().to_string(), "10.221.3.2:8221");
        assert_eq!(e.request.unwrap().path, "/gap2-2942");
        assert_eq!(e.span_ns, 36 * NS_PER_MS);
        let ok = t
            .parse(r#"1796151901.723 127.0.0.1:40000 be/node 0/0/1/5/6 200 20 ---- 0 10.221.3.1:39148 10.221.3.2:8221 "GET /first HTTP/1.1""#)
            .unwrap();
        assert!(!ok.is_error());
    }

    #[test]
    fn test_h2_lab_format_and_syslog_header() {
        // fixtures/lab/h2-*.haproxy.log
        let t = Template::new("%Ts.%ms %ST %tsc %rc %bi:%bp %{+Q}r %Tq/%Tw/%Tc/%Tr/%Ta");
        let line =
            r#"1796151908.955 502 SH-- 0 10.216.3.1:39148 "GET /gap2-1942 HTTP/1.1" 0/0/0/-1/36"#;
        let e = t.parse(line).unwrap();
        assert_eq!(e.upstream_local.unwrap().port, 39148);
        let sys = format!("Nov 26 18:06:02 proxy haproxy[8344]: {line}");
        assert_eq!(t.parse(&sys).unwrap(), e);
    }

    #[test]
    fn test_default_httplog_as_a_template() {
        // doc/configuration.txt: `option httplog` is this log-format.
        let t = Template::new(
            r#"%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"#,
        );
        let doc = r#"10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1""#;
        let e = t.parse(doc).unwrap();
        assert_eq!(e, super::super::haproxy::parse(doc).unwrap());
    }

    #[test]
    fn test_escapes_samples_and_unreadable() {
        let t = Template::new(r"%Ts\ %[ssl_fc]\ %{+Q}r\ %ST\ 100%%");
        let e = t
            .parse(r#"1796151908 1 "GET / HTTP/1.1" 503 100%"#)
            .unwrap();
        assert_eq!(e.status, Some(503));
        assert_eq!(t.parse("hello"), Err(Unreadable));
        assert_eq!(t.parse(r#"x 1 "GET / HTTP/1.1" 503 100%"#), Err(Unreadable));
        assert!(!Template::new("%ci %b").is_usable());
    }
}
