//! Cheap marks of the software in the server's own responses. A `Server` or
//! `X-Powered-By` header names the product outright, so the row it names
//! goes ahead of every row that only shares its timing (issue 12: behind
//! `Server: Apache/2.4.71` a 5 s close listed uvicorn first). When the named
//! row's default does not match the close, the software is still the one
//! there: its knob was changed, and the close says to what.

use super::table::SERVERS;
use super::text::{human, human_default, secs_2};
use super::{Candidate, KnownDefault, match_named_jittered, match_server_advertised, tolerance_ms};
use crate::named::named_enum;

/// Cheap marks of the software in the server's responses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Witness<'a> {
    /// The `Server` response header's value, as sent.
    pub server_header: Option<&'a str>,
    /// The `X-Powered-By` response header's value, as sent.
    pub powered_by: Option<&'a str>,
}

named_enum! {
    /// What named a [`Candidate`] besides its timing.
    pub enum WitnessKind {
        /// A product token of the `Server` response header.
        ServerHeader => "server_header",
        /// A product token of the `X-Powered-By` response header.
        PoweredBy => "x_powered_by",
        /// `Keep-Alive: timeout=N`: N s plus the row's buffer is the close.
        KeepAliveHeader => "keep_alive_header",
    }
}

impl WitnessKind {
    /// The header, for prose.
    fn header(self) -> &'static str {
        match self {
            WitnessKind::ServerHeader => "Server",
            WitnessKind::PoweredBy => "X-Powered-By",
            WitnessKind::KeepAliveHeader => "Keep-Alive",
        }
    }
}

/// Product tokens read from one header value; a longer list is a made-up
/// header, not a server's.
const MAX_PRODUCTS: usize = 8;

/// The product tokens of a header value, without versions and comments:
/// `Apache/2.4.71 (Debian) OpenSSL/3.0` gives `Apache`, `OpenSSL`;
/// `Jetty(9.4.51)` gives `Jetty` (RFC 9110 10.2.4: `Server = product *( RWS
/// ( product / comment ) )`, `product = token ["/" product-version]`).
fn products<'a>(value: &'a str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut in_version = false;
    let mut start: Option<usize> = None;
    let end = |start: &mut Option<usize>, i: usize, out: &mut Vec<&'a str>| {
        if let Some(s) = start.take()
            && out.len() < MAX_PRODUCTS
        {
            out.push(&value[s..i]);
        }
    };
    for (i, ch) in value.char_indices() {
        match ch {
            '(' => {
                end(&mut start, i, &mut out);
                depth += 1;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                in_version = false;
            }
            _ if depth > 0 => {}
            c if c.is_whitespace() || c == ',' || c == ';' => {
                end(&mut start, i, &mut out);
                in_version = false;
            }
            '/' => {
                end(&mut start, i, &mut out);
                in_version = true;
            }
            _ if in_version => {}
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    end(&mut start, value.len(), &mut out);
    out
}

/// The server rows a witness names: what named them, the mark (as the
/// table spells it) and the rows carrying it, in table order.
struct Named {
    kind: WitnessKind,
    mark: &'static str,
    rows: Vec<&'static KnownDefault>,
}

/// The first product token, `Server` before `X-Powered-By`, that is some
/// row's mark. `Server` first: it names the HTTP server, where
/// `X-Powered-By` names what runs on it.
fn named(w: &Witness<'_>) -> Option<Named> {
    let headers = [
        (WitnessKind::ServerHeader, w.server_header),
        (WitnessKind::PoweredBy, w.powered_by),
    ];
    for (kind, value) in headers {
        for token in value.map(products).unwrap_or_default() {
            let carries = |r: &&KnownDefault| r.marks.iter().any(|m| m.eq_ignore_ascii_case(token));
            let rows: Vec<&'static KnownDefault> = SERVERS.iter().filter(carries).collect();
            let Some(first) = rows.first() else {
                continue;
            };
            let mark = first
                .marks
                .iter()
                .find(|m| m.eq_ignore_ascii_case(token))
                .copied()
                .unwrap_or_default();
            return Some(Named { kind, mark, rows });
        }
    }
    None
}

/// A configured value the way people write one: whole seconds when the
/// close is that near them, else to 100 ms.
fn round_configured(ms: f64, tol: f64) -> u64 {
    let s = (ms / 1000.0).round();
    if s >= 1.0 && (ms - s * 1000.0).abs() <= tol {
        s as u64 * 1000
    } else {
        (((ms / 100.0).round()) as u64).max(1) * 100
    }
}

/// The candidate for a named row whose default does not match: the
/// configured value is the close minus the row's buffer (the main close's
/// distance from its default; Node.js: 1000 ms). `measured_ms` is taken as
/// the lower edge of a jittery row's closes (see [`super::super::samples`]).
/// `None` when the close is below the buffer, which the row cannot produce.
fn configured(row: &'static KnownDefault, measured_ms: f64, n: &Named) -> Option<Candidate> {
    if !measured_ms.is_finite() || measured_ms <= 0.0 {
        return None;
    }
    let buffer = match (row.closes.first(), row.default_ms) {
        (Some(c), Some(d)) => c.at_ms.saturating_sub(d),
        _ => 0,
    };
    let raw = measured_ms - buffer as f64;
    if raw < 1.0 {
        return None;
    }
    let value = round_configured(raw, tolerance_ms(measured_ms));
    let default = row
        .default_ms
        .map_or_else(|| "none".to_string(), human_default);
    Some(Candidate {
        software: row.software,
        setting: row.knob,
        default_ms: value,
        expected_close_ms: value + buffer,
        note: format!(
            "{}: the {} header names {} ({}); its {} looks set to {} here (default {})",
            secs_2(measured_ms),
            n.kind.header(),
            row.software,
            n.mark,
            row.knob,
            human(value),
            default
        ),
        witness: Some(n.kind),
        row,
    })
}

/// Like [`super::match_server_with_header`], with the server's response
/// headers as a witness: the rows a `Server` or `X-Powered-By` header names
/// come first. Of those, the ones whose close matches, as usual; when none
/// does, the first of them in table order, as configured to the value the
/// close implies (`default_ms`), with a note that says so. Then the rest,
/// as without a witness.
pub fn match_server_witnessed(
    measured_ms: f64,
    header_s: Option<u32>,
    w: &Witness<'_>,
) -> Vec<Candidate> {
    let out = match_server_advertised(measured_ms, header_s);
    let Some(n) = named(w) else {
        return out;
    };
    let is_named = |c: &Candidate| n.rows.iter().any(|r| std::ptr::eq(*r, c.row));
    let (mut first, rest): (Vec<Candidate>, Vec<Candidate>) = out.into_iter().partition(is_named);
    for c in &mut first {
        // The header names the product; a `Keep-Alive` witness stays in the note.
        c.witness = Some(n.kind);
        c.note = format!(
            "{}; the {} header names it ({})",
            c.note,
            n.kind.header(),
            n.mark
        );
    }
    // The header names the software, so its poll may explain where in its
    // spread the value fell (gunicorn: anywhere in 2.0–3.0 s).
    if first.is_empty()
        && let Some(mut c) = match_named_jittered(&n.rows, measured_ms)
    {
        c.witness = Some(n.kind);
        c.note = format!(
            "{}; the {} header names it ({})",
            c.note,
            n.kind.header(),
            n.mark
        );
        first.push(c);
    }
    if first.is_empty() {
        first.extend(n.rows.first().and_then(|r| configured(r, measured_ms, &n)));
    }
    first.extend(rest);
    first
}

#[cfg(test)]
mod test {
    use super::*;

    fn server(value: &str) -> Witness<'_> {
        Witness {
            server_header: Some(value),
            powered_by: None,
        }
    }

    #[test]
    fn test_products() {
        assert_eq!(
            products("Apache/2.4.71 (Debian) OpenSSL/3.0.2"),
            ["Apache", "OpenSSL"]
        );
        assert_eq!(products("Jetty(9.4.51.v20230217)"), ["Jetty"]);
        assert_eq!(products("gunicorn"), ["gunicorn"]);
        assert_eq!(
            products("Python/3.12 aiohttp/3.11.2"),
            ["Python", "aiohttp"]
        );
        assert!(products("(only a comment)").is_empty());
        assert_eq!(products(&"a ".repeat(100)).len(), MAX_PRODUCTS);
    }

    #[test]
    fn test_apache_header_default_close() {
        let m = match_server_witnessed(5001.0, None, &server("Apache/2.4.71 (Debian)"));
        assert_eq!(m[0].software, "Apache httpd 2.x");
        assert_eq!(m[0].witness, Some(WitnessKind::ServerHeader));
        assert_eq!(m[0].default_ms, 5000);
        assert!(
            m[0].note.contains("Server header names it (Apache)"),
            "{}",
            m[0].note
        );
        // The other 5 s servers follow, named by their timing only.
        assert!(m[1..].iter().any(|c| c.software == "uvicorn"));
        assert!(m[1..].iter().all(|c| c.witness.is_none()));
    }

    #[test]
    fn test_apache_header_configured_close() {
        let m = match_server_witnessed(2003.0, None, &server("Apache/2.4.71 (Debian)"));
        assert_eq!(m[0].software, "Apache httpd 2.x");
        assert_eq!((m[0].default_ms, m[0].expected_close_ms), (2000, 2000));
        assert_eq!(m[0].witness, Some(WitnessKind::ServerHeader));
        assert!(
            m[0].note
                .contains("KeepAliveTimeout looks set to 2 s here (default 5 s)"),
            "{}",
            m[0].note
        );
        // gunicorn's default matches the timing: still listed, second.
        assert_eq!(m[1].software, "gunicorn");
        // Off whole seconds, to 100 ms.
        let m = match_server_witnessed(2_430.0, None, &server("apache"));
        assert_eq!(m[0].default_ms, 2_400);
    }

    #[test]
    fn test_gunicorn_spread_named_by_header() {
        // gthread: keep-alive 2 s plus up to one 1 s poll; the lower edge,
        // the median and the upper edge of the spread all name gunicorn.
        for ms in [2_004.0, 2_500.0, 2_990.0] {
            let m = match_server_witnessed(ms, None, &server("gunicorn"));
            assert_eq!(m[0].software, "gunicorn", "{ms}");
            assert_eq!(m[0].default_ms, 2_000, "{ms}");
            assert_eq!(m[0].witness, Some(WitnessKind::ServerHeader));
        }
        // --keep-alive 5, measured at the spread's lower edge.
        let m = match_server_witnessed(5_010.0, None, &server("gunicorn/20.1.0"));
        assert_eq!((m[0].software, m[0].default_ms), ("gunicorn", 5_000));
        assert!(m[0].note.contains("(default 2 s)"), "{}", m[0].note);
    }

    #[test]
    fn test_uvicorn_ahead_of_other_five_second_rows() {
        let m = match_server_witnessed(5_002.0, None, &server("uvicorn"));
        assert_eq!(m[0].software, "uvicorn");
        let names: Vec<_> = m.iter().map(|c| c.software).collect();
        assert!(names[1..].contains(&"Apache httpd 2.x"), "{names:?}");
        assert!(!names[1..].contains(&"uvicorn"), "{names:?}");
        // Ray Serve carries uvicorn's header and its own default (90 s).
        let m = match_server_witnessed(90_100.0, None, &server("uvicorn"));
        assert_eq!(m[0].software, "Ray Serve (uvicorn inside)");
    }

    #[test]
    fn test_no_witness_keeps_order() {
        for ms in [2_003.0, 5_002.0, 6_000.0, 60_000.0, 75_010.0] {
            for h in [None, Some(2), Some(5)] {
                assert_eq!(
                    match_server_witnessed(ms, h, &Witness::default()),
                    match_server_advertised(ms, h)
                );
                // A header that names no row changes nothing either.
                assert_eq!(
                    match_server_witnessed(ms, h, &server("SomethingElse/1.0")),
                    match_server_advertised(ms, h)
                );
            }
        }
    }

    #[test]
    fn test_express_and_keep_alive_header() {
        // Node (Express) configured to 2 s: advertises timeout=2, closes 1 s later.
        let w = Witness {
            server_header: None,
            powered_by: Some("Express"),
        };
        let m = match_server_witnessed(3_001.0, Some(2), &w);
        assert_eq!(m[0].setting, "server.keepAliveTimeout");
        assert_eq!((m[0].default_ms, m[0].expected_close_ms), (2_000, 3_000));
        assert_eq!(m[0].witness, Some(WitnessKind::PoweredBy));
        // Without the Keep-Alive header, the buffer comes off the close.
        let m = match_server_witnessed(11_000.0, None, &w);
        assert_eq!((m[0].default_ms, m[0].expected_close_ms), (10_000, 11_000));
        // Below the buffer Node cannot have closed: no configured guess.
        assert!(match_server_witnessed(600.0, None, &w).is_empty());
    }
}
