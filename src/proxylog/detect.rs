//! Which format a log is in, from its first lines: the format that reads
//! the most of them wins (ties go to the earlier in [`LogFormat::ALL`]).
//! The formats are told apart by their first fields (Envoy's bracketed
//! RFC 3339 time, nginx's `YYYY/MM/DD`, HAProxy's `ip:port [date]`, JSON's
//! keys), so a log rarely fits two; Envoy's and Istio's layouts differ in
//! what follows the flags.

use super::LogFormat;
use super::haproxy_format;
use super::nginx_access::Template;

/// The format (and, for nginx access logs, the template) that reads (or
/// knowingly passes over, like an nginx notice) the
/// most `lines`; `None` when none reads any. With the user's HAProxy
/// `log-format` (`haproxy`), `haproxy-log-format` competes too.
pub fn detect(
    lines: &[String],
    templates: &[Template],
    haproxy: Option<&haproxy_format::Template>,
) -> Option<(LogFormat, Template)> {
    let mut best: Option<(usize, LogFormat, Template)> = None;
    for &format in LogFormat::ALL {
        let tries: Vec<&Template> = if format == LogFormat::NginxCombined {
            templates.iter().collect()
        } else {
            templates.first().into_iter().collect()
        };
        for t in tries {
            let n = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .filter(|l| format.parse(l, t, haproxy).is_ok())
                .count();
            if n > 0 && best.as_ref().is_none_or(|(m, _, _)| n > *m) {
                best = Some((n, format, t.clone()));
            }
        }
    }
    best.map(|(_, f, t)| (f, t))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::proxylog::nginx_access::{COMBINED, INGRESS};

    fn one(line: &str) -> Option<LogFormat> {
        let t = [Template::new(INGRESS), Template::new(COMBINED)];
        detect(&[line.to_string()], &t, None).map(|(f, _)| f)
    }

    #[test]
    fn test_each_format_is_told_apart() {
        let cases = [
            (
                r#"[2020-09-14T07:00:25.505Z] "GET /a HTTP/2" 503 UC "-" 0 95 1 - "10.233.64.1" "ua" "id" "a" "10.233.64.210:3000" outbound|3000||x - 10.233.64.200:443 10.233.64.1:39082 - -"#,
                LogFormat::Istio,
            ),
            (
                r#"[2026-11-26T18:05:24.626Z] "GET /a HTTP/1.1" 503 UC 0 95 2 - "-" "ua" "id" "a" "10.0.0.2:3000""#,
                LogFormat::Envoy,
            ),
            (
                r#"{"start_time":"2026-11-26T18:05:24.626Z","method":"GET","path":"/a","response_code":503}"#,
                LogFormat::EnvoyJson,
            ),
            (
                r#"{"msec":"1795716362.462","request":"GET /a HTTP/1.1","status":"502"}"#,
                LogFormat::NginxJson,
            ),
            (
                r#"2026/11/26 18:05:24 [error] 1#1: *4 upstream timed out (110: Connection timed out) while connecting to upstream, client: 10.0.0.9, server: , request: "GET /a HTTP/1.1", upstream: "http://10.0.0.2:3000/a", host: "x""#,
                LogFormat::NginxError,
            ),
            (
                r#"10.0.0.9 - - [26/Nov/2026:18:06:02 +0000] "GET /a HTTP/1.1" 502 157 "-" "ua""#,
                LogFormat::NginxCombined,
            ),
            (
                r#"10.0.0.9:40000 [26/Nov/2026:18:06:02.421] fe be/app1 0/0/0/-1/40 502 0 - - SH-- 1/1/0/0/0 0/0 "GET /a HTTP/1.1""#,
                LogFormat::HaproxyHttplog,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(one(line), Some(want), "{line}");
        }
        assert_eq!(one("hello"), None);
    }
}
