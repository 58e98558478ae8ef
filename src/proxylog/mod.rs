//! Proxy logs: the other half of an incident. A user starts from a line in a
//! proxy's log (Istio's `503 UC`, nginx's "upstream prematurely closed
//! connection", HAProxy's `SH--`), not from a pcap; this module reads those
//! lines and ties each 5xx or error line to the connection in the capture
//! that explains it.
//!
//! One file per log format, each a pure function from one line to a typed
//! [`Entry`] ([`envoy`] for Envoy's and Istio's text and JSON access logs,
//! [`nginx_access`], [`nginx_error`], [`haproxy`], [`haproxy_format`]); [`detect`] picks the
//! format from the lines; [`input`] reads a file's lines (gzip or not);
//! [`crate::report::matching`] ties entries to connections and builds the
//! report section;
//! [`symptoms`] says what each proxy logs for each verdict. Like the rest of
//! the core, nothing here touches files or the clock: lines come in as
//! bytes, times as the log wrote them.

pub mod detect;
pub mod envoy;
pub mod haproxy;
pub mod haproxy_format;
pub mod input;
pub mod nginx_access;
pub mod nginx_error;
pub mod symptoms;
mod time;
mod tokens;

use std::net::SocketAddr;

use crate::analysis::proxy::ProxyKind;
use crate::flow::Endpoint;
use crate::named::named_enum;

pub use time::LogTime;

named_enum! {
    /// The log formats racecap reads (`--proxy-log-format`).
    pub enum LogFormat {
        /// Envoy's default text access log.
        Envoy => "envoy",
        /// Istio's default text access log (every layout since 1.3).
        Istio => "istio",
        /// Envoy/Istio JSON access logs, keyed by the operators' usual names.
        EnvoyJson => "envoy-json",
        /// nginx's error log (its fixed format).
        NginxError => "nginx-error",
        /// nginx access log in the `combined` format (or ingress-nginx's
        /// default, which extends it), or a `log_format` given by the user.
        NginxCombined => "nginx-combined",
        /// nginx access log as JSON keyed by nginx variable names.
        NginxJson => "nginx-json",
        /// HAProxy's default `option httplog` format.
        HaproxyHttplog => "haproxy-httplog",
        /// HAProxy's own `log-format`, given with `--haproxy-log-format`.
        HaproxyLogFormat => "haproxy-log-format",
    }
}

impl LogFormat {
    /// The format with this name (`--proxy-log-format`).
    pub fn from_name(name: &str) -> Option<LogFormat> {
        LogFormat::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Which proxy writes it: every format is one proxy's, so a new
    /// format must name its proxy here (the fix is written for it).
    pub fn proxy_kind(self) -> ProxyKind {
        match self {
            LogFormat::Envoy | LogFormat::EnvoyJson => ProxyKind::Envoy,
            LogFormat::Istio => ProxyKind::Istio,
            LogFormat::NginxError | LogFormat::NginxCombined | LogFormat::NginxJson => {
                ProxyKind::Nginx
            }
            LogFormat::HaproxyHttplog | LogFormat::HaproxyLogFormat => ProxyKind::Haproxy,
        }
    }

    /// Which proxy writes it, for people ("17 of 17 nginx 502s …").
    pub fn proxy(self) -> &'static str {
        self.proxy_kind().label()
    }

    /// Parses one line in this format. `Ok(None)` for a line that is
    /// readable but says nothing about a request (an nginx notice, an empty
    /// line); `Err` for a line this format cannot read (every line, for
    /// `haproxy-log-format` without its template).
    pub fn parse(
        self,
        line: &str,
        nginx: &nginx_access::Template,
        haproxy: Option<&haproxy_format::Template>,
    ) -> Result<Option<Entry>, Unreadable> {
        match self {
            LogFormat::Envoy => envoy::parse_envoy(line).map(Some),
            LogFormat::Istio => envoy::parse_istio(line).map(Some),
            LogFormat::EnvoyJson => envoy::parse_json(line).map(Some),
            LogFormat::NginxError => nginx_error::parse(line),
            LogFormat::NginxCombined => nginx.parse(line).map(Some),
            LogFormat::NginxJson => nginx_access::parse_json(line).map(Some),
            LogFormat::HaproxyHttplog => haproxy::parse(line).map(Some),
            LogFormat::HaproxyLogFormat => haproxy
                .ok_or(Unreadable)
                .and_then(|t| t.parse(line))
                .map(Some),
        }
    }
}

/// A line the format could not read (counted, never fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// What the line's time marks, and so which moment of a connection it is
/// compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The request's start (Envoy's `%START_TIME%`, an nginx access line's
    /// `$msec − $request_time`, HAProxy's accept date): compared with the
    /// moment the lost request went out on the connection.
    Request,
    /// The moment the proxy noticed the failure (an nginx error line is
    /// written then): compared with the failure (the RST, the FIN, the last
    /// SYN).
    Failure,
}

/// A request line as logged (the HTTP version dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
}

impl LoggedRequest {
    /// `"GET /a HTTP/1.1"` (or without the version) → method and target.
    pub fn parse(s: &str) -> Option<LoggedRequest> {
        let mut it = s.split(' ');
        let method = it.next()?;
        let path = it.next()?;
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || path.is_empty() {
            return None;
        }
        Some(LoggedRequest {
            method: method.to_string(),
            path: path.to_string(),
        })
    }
}

/// One try at an upstream, as nginx lists them (`"502, 200"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub upstream: Option<Endpoint>,
    /// `None` for `-` (no response: nginx logs 502 for its own answer, `-`
    /// when it never got as far).
    pub status: Option<u16>,
    pub connect_ns: Option<i64>,
    pub response_ns: Option<i64>,
}

/// One log line, typed: what every format can say about a request that a
/// connection in the capture can confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The line's time, with its precision and zone.
    pub time: LogTime,
    pub anchor: Anchor,
    /// The best estimate of the anchored moment, relative to `time` (an
    /// nginx access line is written at the request's end; its failing try
    /// began `$request_time` earlier); nanoseconds.
    pub shift_ns: i64,
    /// How long before `time + shift_ns` the anchored moment can lie (an error logged
    /// when a timer fired names a failure that began that much earlier);
    /// nanoseconds.
    pub lead_ns: i64,
    /// How long after `time + shift_ns` (and its precision) the anchored
    /// moment can lie (a request's start is followed by its duration);
    /// nanoseconds, 0 when unknown.
    pub span_ns: i64,
    /// The status sent to the proxy's client (`None` in an error log).
    pub status: Option<u16>,
    pub request: Option<LoggedRequest>,
    /// The backend the failing try went to (`%UPSTREAM_HOST%`,
    /// `$upstream_addr`, nginx's `upstream:`, HAProxy's `%si:%sp`).
    pub upstream: Option<Endpoint>,
    /// The proxy's own end of that connection (`%UPSTREAM_LOCAL_ADDRESS%`,
    /// HAProxy's `%bi:%bp`): with it the match is exact.
    pub upstream_local: Option<Endpoint>,
    /// Envoy's `%RESPONSE_FLAGS%` (`UC`, `UF,URX`).
    pub flags: Option<String>,
    /// Envoy's `%RESPONSE_CODE_DETAILS%`, or the error log's message.
    pub details: Option<String>,
    /// HAProxy's termination state (`SH--`).
    pub termination: Option<String>,
    /// nginx's tries, in order (empty in other formats).
    pub attempts: Vec<Attempt>,
    /// An error log's line (it reports a failure whatever the status).
    pub error_log: bool,
    /// The proxy says it picked no backend (Envoy's `%UPSTREAM_HOST%` is
    /// `-`, as with `UH`): no connection can explain the line.
    pub no_backend: bool,
}

impl Entry {
    /// Where the anchored moment lies on the log's clock, `[lo, hi]` in
    /// nanoseconds, and the best single guess in it.
    pub fn window(&self) -> (i64, i64, i64) {
        let at = self.time.ns.saturating_add(self.shift_ns);
        let lo = at.saturating_sub(self.lead_ns);
        let hi = at
            .saturating_add(self.time.precision_ns)
            .saturating_add(self.span_ns);
        (lo, hi, at.saturating_add(self.time.precision_ns / 2))
    }

    /// A line about a failure: a 5xx, a failed upstream try, an error-log
    /// line about an upstream, or a HAProxy session the server side ended.
    pub fn is_error(&self) -> bool {
        if self.error_log {
            return true;
        }
        if self.status.is_some_and(|s| s >= 500) || self.failed_attempt().is_some() {
            return true;
        }
        // HAProxy: the first letter says who ended the session; `S` and `s`
        // are the server's abort and timeout, even with a 200 already sent
        // (`sD--`: the response was cut).
        self.termination
            .as_deref()
            .is_some_and(|t| t.starts_with(['S', 's']))
    }

    /// The first nginx try the upstream failed (502/503/504, or `-`).
    pub fn failed_attempt(&self) -> Option<usize> {
        self.attempts
            .iter()
            .position(|a| a.status.is_none_or(|s| s >= 500))
            .filter(|_| self.attempts.len() > 1 || self.status.is_some_and(|s| s >= 500))
    }

    /// The status the line is about: the failing try's for nginx, the
    /// client's otherwise.
    pub fn error_status(&self) -> Option<u16> {
        match self.failed_attempt() {
            Some(i) => self.attempts[i].status.or(self.status),
            None => self.status,
        }
    }

    /// A short message for the report: status and flags, or the error.
    pub fn message(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(s) = self.status {
            parts.push(s.to_string());
        }
        if self.attempts.len() > 1 {
            let st: Vec<String> = self
                .attempts
                .iter()
                .map(|a| a.status.map_or("-".into(), |s| s.to_string()))
                .collect();
            parts.push(format!("(upstream {})", st.join(", ")));
        }
        if let Some(f) = self.flags.as_deref().filter(|f| *f != "-") {
            parts.push(f.to_string());
        }
        if let Some(t) = &self.termination {
            parts.push(t.clone());
        }
        if let Some(d) = self.details.as_deref().filter(|d| *d != "-") {
            parts.push(cut(d, 120));
        }
        parts.join(" ")
    }
}

/// At most `n` characters, with `…` when cut.
fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `ip:port` or `[ip6]:port`; `-` and anything else is `None`. Also takes
/// a URL's authority (`http://10.0.0.2:3000/path`, nginx's `upstream:`).
pub fn endpoint(s: &str) -> Option<Endpoint> {
    let s = s.trim();
    let s = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .map_or(s, |rest| rest.split('/').next().unwrap_or(rest));
    let a: SocketAddr = s.parse().ok()?;
    Some(Endpoint {
        ip: a.ip(),
        port: a.port(),
    })
}

/// `-` is no value.
fn dash(s: &str) -> Option<&str> {
    (s != "-" && !s.is_empty()).then_some(s)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_endpoint_forms() {
        assert_eq!(
            endpoint("10.0.0.2:3000").unwrap().to_string(),
            "10.0.0.2:3000"
        );
        assert_eq!(
            endpoint("[fd00::2]:80").unwrap().to_string(),
            "[fd00::2]:80"
        );
        assert_eq!(
            endpoint("http://10.231.2.2:8081/lane1/8")
                .unwrap()
                .to_string(),
            "10.231.2.2:8081"
        );
        assert_eq!(endpoint("-"), None);
        assert_eq!(endpoint("backend:80"), None);
    }

    #[test]
    fn test_request_line() {
        let r = LoggedRequest::parse("GET /callback?code=x HTTP/2").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "/callback?code=x")
        );
        assert_eq!(LoggedRequest::parse("-"), None);
        assert_eq!(LoggedRequest::parse("get /"), None);
    }

    #[test]
    fn test_cut_at_char_boundary() {
        assert_eq!(cut("ééé", 2), "éé…");
        assert_eq!(cut("ab", 2), "ab");
    }
}
