//! Envoy's and Istio's access logs (docs/…/envoy-access-log.md in the
//! design notes; Envoy's "Default Format String", Istio's
//! `EnvoyTextLogFormat` in `pilot/pkg/model/telemetry_logging.go`). The
//! fields that tie a line to a connection: `%START_TIME%` (the request's
//! start, ms, UTC), method and path, `%RESPONSE_CODE%`, `%RESPONSE_FLAGS%`
//! (`UC` is the race), `%RESPONSE_CODE_DETAILS%`, `%DURATION%`,
//! `%UPSTREAM_HOST%` (the backend) and, in Istio's formats only,
//! `%UPSTREAM_LOCAL_ADDRESS%` (the proxy's source ip:port: the exact
//! 4-tuple).

use serde_json::Value;

use super::tokens::{self, Token};
use super::{Anchor, Entry, LoggedRequest, Unreadable, dash, endpoint, time};
use crate::units::NS_PER_MS;

/// The fields every Envoy-family line starts with:
/// `[%START_TIME%] "%REQ(:METHOD)% %PATH% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%`.
fn head(t: &[Token<'_>]) -> Result<Entry, Unreadable> {
    let (
        Some(Token::Bracketed(ts)),
        Some(Token::Quoted(req)),
        Some(Token::Bare(code)),
        Some(Token::Bare(flags)),
    ) = (t.first(), t.get(1), t.get(2), t.get(3))
    else {
        return Err(Unreadable);
    };
    let time = time::rfc3339(ts).ok_or(Unreadable)?;
    // Envoy writes 0 when no response was sent (the client went away first).
    let status: u16 = code.parse().map_err(|_| Unreadable)?;
    Ok(Entry {
        time,
        anchor: Anchor::Request,
        shift_ns: 0,
        lead_ns: 0,
        span_ns: 0,
        status: Some(status),
        request: LoggedRequest::parse(req),
        upstream: None,
        upstream_local: None,
        flags: dash(flags).map(str::to_string),
        details: None,
        termination: None,
        attempts: Vec::new(),
        error_log: false,
        no_backend: false,
    })
}

/// `%DURATION%`: whole milliseconds, or `-`.
fn duration_ns(s: &str) -> Result<i64, Unreadable> {
    if s == "-" {
        return Ok(0);
    }
    let ms: i64 = s.parse().map_err(|_| Unreadable)?;
    ms.checked_mul(NS_PER_MS)
        .filter(|d| *d >= 0)
        .ok_or(Unreadable)
}

fn bare<'a>(t: &[Token<'a>], i: usize) -> Result<&'a str, Unreadable> {
    match t.get(i) {
        Some(Token::Bare(s)) => Ok(s),
        _ => Err(Unreadable),
    }
}

fn quoted<'a>(t: &[Token<'a>], i: usize) -> Result<&'a str, Unreadable> {
    match t.get(i) {
        Some(Token::Quoted(s)) => Ok(s),
        _ => Err(Unreadable),
    }
}

/// Envoy's default format:
/// `… %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
/// %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
/// "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
/// "%UPSTREAM_HOST%"`. Newer Envoys append fields; they are ignored.
pub fn parse_envoy(line: &str) -> Result<Entry, Unreadable> {
    let t = tokens::split(line).ok_or(Unreadable)?;
    let mut e = head(&t)?;
    // Byte counts are numbers: that is what tells this layout from Istio's,
    // whose next field is a quoted or a details string.
    bare(&t, 4)?.parse::<u64>().map_err(|_| Unreadable)?;
    e.span_ns = duration_ns(bare(&t, 6)?)?;
    for i in 8..=11 {
        quoted(&t, i)?;
    }
    let host = quoted(&t, 12)?;
    e.upstream = endpoint(host);
    e.no_backend = dash(host).is_none();
    Ok(e)
}

/// Istio's default text format, every layout since 1.3 (the reference
/// table): after `%RESPONSE_FLAGS%` come, in ≥ 1.9,
/// `%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%`; in 1.3–1.7
/// a quoted mixer status; then always `"%UPSTREAM_TRANSPORT_FAILURE_REASON%"
/// %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(…SERVICE-TIME)%`, four
/// quoted headers, `"%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS%
/// …`.
pub fn parse_istio(line: &str) -> Result<Entry, Unreadable> {
    let t = tokens::split(line).ok_or(Unreadable)?;
    let mut e = head(&t)?;
    let mut i = 4;
    if let Token::Bare(details) = *t.get(i).ok_or(Unreadable)? {
        // ≥ 1.9: details and connection termination details, both bare.
        e.details = dash(details).map(str::to_string);
        bare(&t, i + 1)?;
        i += 2;
    }
    quoted(&t, i)?;
    if matches!(t.get(i + 1), Some(Token::Quoted(_))) {
        // 1.3–1.7: `"%DYNAMIC_METADATA(istio.mixer:status)%"` came first.
        i += 1;
    }
    let transport = quoted(&t, i)?;
    bare(&t, i + 1)?.parse::<u64>().map_err(|_| Unreadable)?;
    e.span_ns = duration_ns(bare(&t, i + 3)?)?;
    for j in i + 5..=i + 8 {
        quoted(&t, j)?;
    }
    let host = quoted(&t, i + 9)?;
    e.upstream = endpoint(host);
    e.no_backend = dash(host).is_none();
    e.upstream_local = t.get(i + 11).and_then(|x| endpoint(x.text()));
    if e.details.is_none()
        && let Some(r) = dash(transport)
    {
        e.details = Some(r.to_string());
    }
    Ok(e)
}

/// A JSON value as text: strings as they are, numbers written out, `null`
/// and `-` as nothing.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => dash(s).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Envoy/Istio JSON (`accessLogEncoding: JSON`, `EnvoyJSONLogFormatIstio`):
/// the same operators under the keys `start_time`, `method`, `path`,
/// `response_code`, `response_flags`, `response_code_details`,
/// `duration`, `upstream_host`, `upstream_local_address`.
pub fn parse_json(line: &str) -> Result<Entry, Unreadable> {
    let v: Value = serde_json::from_str(line).map_err(|_| Unreadable)?;
    let ts = text(&v, "start_time").ok_or(Unreadable)?;
    let time = time::rfc3339(&ts).ok_or(Unreadable)?;
    let status = match text(&v, "response_code") {
        Some(s) => Some(s.parse::<u16>().map_err(|_| Unreadable)?),
        None => None,
    };
    let request = match (text(&v, "method"), text(&v, "path")) {
        (Some(method), Some(path)) => Some(LoggedRequest { method, path }),
        _ => None,
    };
    Ok(Entry {
        time,
        anchor: Anchor::Request,
        shift_ns: 0,
        lead_ns: 0,
        span_ns: text(&v, "duration").map_or(Ok(0), |d| duration_ns(&d))?,
        status,
        request,
        upstream: text(&v, "upstream_host").and_then(|s| endpoint(&s)),
        upstream_local: text(&v, "upstream_local_address").and_then(|s| endpoint(&s)),
        flags: text(&v, "response_flags"),
        details: text(&v, "response_code_details")
            .or_else(|| text(&v, "upstream_transport_failure_reason")),
        termination: None,
        attempts: Vec::new(),
        error_log: false,
        no_backend: text(&v, "upstream_host").is_none(),
    })
}

#[cfg(test)]
mod test {
    use super::*;

    /// The seed: an Istio 1.8 line (one quoted field after `UC`), from the
    /// issue and the reference's field-by-field decode.
    const SEED: &str = r#"[2020-09-14T07:00:25.505Z] "GET /callback?code=xxx&state=xxx HTTP/2" 503 UC "-" 0 95 1 - "10.233.64.1" "Mozilla/5.0 ..." "2926fb89-..." "192.168.200.23:32222" "10.233.64.210:3000" outbound|3000||dkube-ui.dkube.svc.cluster.local - 10.233.64.200:443 10.233.64.1:39082 - -"#;

    #[test]
    fn test_istio_18_seed_line() {
        let e = parse_istio(SEED).unwrap();
        assert_eq!(e.status, Some(503));
        assert_eq!(e.flags.as_deref(), Some("UC"));
        assert_eq!(e.time.ns, 1_600_066_825_505_000_000);
        assert_eq!(e.span_ns, NS_PER_MS);
        let r = e.request.as_ref().unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "/callback?code=xxx&state=xxx")
        );
        assert_eq!(e.upstream.unwrap().to_string(), "10.233.64.210:3000");
        // `%UPSTREAM_LOCAL_ADDRESS%` is `-` in the seed: no exact match.
        assert_eq!(e.upstream_local, None);
        assert!(e.is_error());
        // The seed is no Envoy default line (its byte count is quoted).
        assert_eq!(parse_envoy(SEED), Err(Unreadable));
    }

    #[test]
    fn test_istio_current_layout() {
        let line = r#"[2026-11-26T18:05:24.626Z] "POST /lane1/8 HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 22 95 1 - "-" "curl/8.5.0" "5f1c0d3e" "backend:8081" "10.231.2.2:8081" outbound|8081||backend.default.svc.cluster.local 10.231.2.1:56920 10.96.0.10:8081 10.231.1.1:40000 - default"#;
        let e = parse_istio(line).unwrap();
        assert_eq!(
            e.details.as_deref(),
            Some("upstream_reset_before_response_started{connection_termination}")
        );
        assert_eq!(e.upstream.unwrap().to_string(), "10.231.2.2:8081");
        assert_eq!(e.upstream_local.unwrap().to_string(), "10.231.2.1:56920");
        assert_eq!(
            e.message(),
            "503 UC upstream_reset_before_response_started{connection_termination}"
        );
    }

    #[test]
    fn test_istio_17_layout_with_mixer_status() {
        let line = r#"[2020-09-14T07:00:25.505Z] "GET / HTTP/1.1" 503 UC "-" "-" 0 95 1 - "-" "ua" "id" "a" "10.0.0.2:3000" outbound|3000||a 10.0.0.1:41000 10.0.0.3:80 10.0.0.4:5000 - default"#;
        let e = parse_istio(line).unwrap();
        assert_eq!(e.upstream_local.unwrap().to_string(), "10.0.0.1:41000");
    }

    #[test]
    fn test_envoy_default() {
        let line = r#"[2026-11-26T18:05:24.626Z] "GET /lane1/8 HTTP/1.1" 503 UC 0 95 2 - "-" "curl/8.5.0" "5f1c0d3e-7b1a-4b7e" "10.231.1.2:9001" "10.231.2.2:8081""#;
        let e = parse_envoy(line).unwrap();
        assert_eq!(e.status, Some(503));
        assert_eq!(e.span_ns, 2 * NS_PER_MS);
        assert_eq!(e.upstream.unwrap().to_string(), "10.231.2.2:8081");
        assert_eq!(e.upstream_local, None);
        let ok = r#"[2026-11-26T18:05:24.626Z] "GET / HTTP/1.1" 200 - 0 5 3 2 "-" "ua" "id" "a" "10.0.0.2:3000""#;
        assert!(!parse_envoy(ok).unwrap().is_error());
        assert_eq!(
            parse_envoy("[x] \"GET / HTTP/1.1\" 503 UC"),
            Err(Unreadable)
        );
    }

    #[test]
    fn test_json() {
        let line = r#"{"start_time":"2026-11-26T18:05:24.626Z","method":"GET","path":"/a","protocol":"HTTP/1.1","response_code":503,"response_flags":"UC","response_code_details":"upstream_reset_before_response_started{connection_termination}","duration":1,"upstream_host":"10.0.0.2:3000","upstream_local_address":"10.0.0.1:45000"}"#;
        let e = parse_json(line).unwrap();
        assert_eq!(e.status, Some(503));
        assert_eq!(e.upstream_local.unwrap().to_string(), "10.0.0.1:45000");
        assert_eq!(parse_json(r#"{"start_time":"x"}"#), Err(Unreadable));
        assert_eq!(parse_json("[1]"), Err(Unreadable));
    }
}
