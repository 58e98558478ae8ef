//! Known keep-alive defaults of servers, proxies and load balancers, matched
//! against measured timeouts, and the concrete fix for a mismatch.
//!
//! A measured idle close (say 6.00 s) means little to a reader until it is
//! named ("Node.js, 5000 ms keepAliveTimeout plus its 1000 ms buffer") and
//! turned into the line to paste. The values come from the project's
//! `docs/keepalive-defaults.md`, which cites the source file or document
//! each one was read in; rows that file marks UNVERIFIED are left out. The
//! rule behind every recommendation: the side that sends requests (the
//! proxy's upstream pool) must give up on an idle connection before the
//! server does.

use serde::Serialize;

use crate::named::named_enum;

/// A software whose default matches a measured timeout.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Candidate {
    /// Software and version range, as in [`KnownDefault::software`].
    pub software: &'static str,
    /// The knob that sets the timeout.
    pub setting: &'static str,
    /// The configured value, ms: the software's default; when matched
    /// through its `Keep-Alive` header, the value that header advertises;
    /// when a [`Witness`] names software whose default does not match, the
    /// value the measured close implies.
    pub default_ms: u64,
    /// When the close shows up on the wire, ms after the last exchange.
    pub expected_close_ms: u64,
    /// One line, e.g. "6.00 s: Node.js http.Server keepAliveTimeout 5000 ms + 1000 ms buffer".
    pub note: String,
    /// What named this software besides the timing: a response header
    /// naming the product, or the `Keep-Alive` header; `None` for a match
    /// on the close alone.
    pub witness: Option<WitnessKind>,
    /// The table row it matched (the fix reads the row's fields).
    #[serde(skip)]
    pub row: &'static KnownDefault,
}

named_enum! {
    /// Which side of the timeout chain a step of the fix changes: the
    /// renderers pick and order steps by it, so it is a type, not a word.
    pub enum Side {
        /// The server's keep-alive timeout.
        Server => "server",
        /// The proxy's (or load balancer's) upstream pool.
        Proxy => "proxy",
        /// A pool inside an application (an HTTP client library).
        Client => "client",
        /// Which lost requests to retry.
        Retries => "retries",
    }
}

/// One step of the fix.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recommendation {
    /// The side it changes.
    pub side: Side,
    /// The value the step sets, ms, when it sets one: the server's new
    /// idle timeout, or the proxy's or pool's idle timeout (or purge
    /// delay). Not in the report (the texts carry it); it is what the
    /// rule "server above what the pool keeps, proxy below the server's
    /// close" is checked on, and what the renderer compares with the
    /// proxy that is there.
    #[serde(skip)]
    pub value_ms: Option<u64>,
    /// What to do and why, with the measured numbers.
    pub text: String,
    /// What to do, in a sentence or two without the measurements (the
    /// table prints them per server beside it); `text` has the reasons.
    pub short: String,
    /// The table row of the proxy, load balancer or client library this
    /// step is for; none for a step that holds for any of them.
    pub proxy: Option<RowId>,
    /// Configuration to paste, when there is one.
    pub snippet: Option<String>,
}

/// What was measured for one server, as input to the recommendations.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    /// The server's idle close, ms (estimate of the FIN cluster).
    pub server_timeout_ms: Option<f64>,
    /// The `Keep-Alive: timeout=N` the server advertised, s.
    pub keep_alive_header_s: Option<u32>,
    /// Longest idle gap after which a reused connection was answered, ms.
    pub reuse_window_ms: Option<f64>,
    /// The clients' (proxies') own idle close, ms.
    pub client_idle_ms: Option<f64>,
    /// How long the pool was shown to keep a connection idle by a stale
    /// race: the request came this long after the connection's last
    /// exchange (the server's close plus the FIN → request gap), ms. The
    /// server's new timeout must clear it as it clears the reuse window.
    pub stale_idle_ms: Option<f64>,
    /// Keep-alive races seen.
    pub races: u64,
    /// Races whose request the client re-sent on another connection.
    pub retried_races: u64,
    /// Clients reuse connections idle longer than the server keeps them, or races were seen.
    pub mismatch: bool,
    /// Output of [`match_server_witnessed`] for `server_timeout_ms`, best first.
    pub matches: &'a [Candidate],
    /// Who sends the requests: a proxy, or a pool inside an application.
    pub client: ClientKind,
    /// Every client of the server was a loopback address: the capture is
    /// inside the server's pod, on the sidecar → app hop.
    pub inbound: bool,
    /// The server's connections speak HTTP/2 (h2c, gRPC): its knobs and
    /// the proxies' retries for refused streams are HTTP/2's.
    pub http2: bool,
    /// HTTP/2 races whose stream was above the server's GOAWAY's
    /// last-stream-id: never processed, safe to retry whatever the method.
    pub unprocessed_races: u64,
}

/// Which side of the timeout chain a row describes.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accepts requests; must keep idle connections the longest.
    Server,
    /// Proxy or CDN: its upstream connection pool.
    Proxy,
    /// Managed load balancer: its connections to the targets.
    LoadBalancer,
    /// HTTP client library: its connection pool.
    Client,
    /// NAT, conntrack or an L4 load balancer: forgets an idle flow, often
    /// without a FIN or RST (the next packet meets nothing, or an RST).
    Middlebox,
}

/// How the reference confirmed a row.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum Verified {
    /// Read in the project's source.
    #[serde(rename = "src")]
    Source,
    /// Read in official documentation or API definitions.
    #[serde(rename = "doc")]
    Doc,
    /// Seen only in a secondary source (PR, issue, maintainer comment): likely, re-check.
    #[serde(rename = "2nd")]
    Secondary,
}

/// A moment after the last exchange at which the software closes an idle
/// connection, as seen on the wire.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Close {
    /// Ms after the last exchange.
    pub at_ms: u64,
    /// The [`Candidate::note`] for a match on this close.
    pub note: &'static str,
}

/// One row of the defaults table.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct KnownDefault {
    /// Short stable identifier.
    pub id: RowId,
    /// Software and version range; unique in the table.
    pub software: &'static str,
    /// Which side of the chain it sits on.
    pub role: Role,
    /// The default idle timeout; `None` when there is none (idle connections are kept forever).
    pub default_ms: Option<u64>,
    /// When the idle close appears on the wire, most likely first; empty when
    /// the software never closes an idle connection by default.
    pub closes: &'static [Close],
    /// How far above a close's `at_ms` its idle closes can spread, ms: a
    /// server that checks its deadlines once per poll closes anywhere in
    /// [`at_ms`, `at_ms + jitter_ms`] (gunicorn's gthread worker: up to one
    /// 1 s poll late). 0 when the closes are as sharp as the timer; the
    /// matching tolerance covers clocks and the capture point either way.
    pub jitter_ms: u64,
    /// Servers: tokens of a `Server` or `X-Powered-By` response header
    /// that name this software (a product token, compared without case:
    /// `Apache` in `Apache/2.4.71 (Debian)`); empty when its responses carry
    /// no mark of it by default, or the mark names other software too.
    pub marks: &'static [&'static str],
    /// The knob that changes it.
    pub knob: &'static str,
    /// Ready to paste; `{ms}`, `{s}` and `{dur}` (`5s`, `750ms`) stand for the new value.
    pub snippet: &'static str,
    /// Caveats: version differences, related knobs; may be empty.
    pub note: &'static str,
    /// How the reference confirmed the value.
    pub verified: Verified,
    /// Servers: the `Keep-Alive: timeout=N` it sends and how long after
    /// that value it closes; [`match_server_with_header`] names the row by it.
    pub advertises: Option<Advertised>,
    /// Proxies: the row's step in the proxy side of the fix.
    pub proxy_step: Option<ProxyStep>,
    /// Proxies: usually in front of a server; named when the proxies' own
    /// idle close was not seen.
    pub usual: Option<Usual>,
    /// Proxies: how it retries a request that failed on a reused connection.
    pub retries: Option<Retries>,
}

mod client;
mod fix;
mod h2;
#[cfg(test)]
mod pinned;
mod proxy;
mod recommend;
mod remedy;
mod row_id;
mod table;
mod text;
mod witness;

pub use client::ClientKind;
pub use fix::{Advertised, Caveat, Hop, ProxyFix, ProxyStep, Retries, Usual, When};
pub use proxy::latent_risk;
pub use recommend::{recommend, server_step_behind};
pub use remedy::{REMEDIES, RemedyRow, fill, keepalive_s, remedy_steps};
pub use row_id::RowId;
use table::{PROXIES, SERVERS};
pub use witness::{Witness, WitnessKind, match_server_witnessed};

/// The server rows of the table.
pub fn server_rows() -> &'static [KnownDefault] {
    SERVERS
}

/// The proxy, load-balancer and client-pool rows of the table.
pub fn proxy_rows() -> &'static [KnownDefault] {
    PROXIES
}

/// The HTTP/2 server rows (none closes idle by default).
pub fn h2_server_rows() -> &'static [KnownDefault] {
    h2::H2_SERVERS
}

/// The HTTP/2 proxy and client rows, with their retries of lost streams.
pub fn h2_proxy_rows() -> &'static [KnownDefault] {
    h2::H2_PROXIES
}

/// HTTP/2 servers whose default idle close matches `measured_ms`: HTTP/1
/// defaults say nothing of an h2 server (a 2 s close is not gunicorn's),
/// and no HTTP/2 server closes idle by default, so none today; a close
/// names a setting, and the fix lists the knobs.
pub fn match_h2_server(measured_ms: f64) -> Vec<Candidate> {
    match_rows(h2::H2_SERVERS, measured_ms)
}

/// How far a close may sit from a known value and still match it: clocks,
/// timer granularity and the capture point shift it by a few ms up to a few %.
fn tolerance_ms(measured_ms: f64) -> f64 {
    (measured_ms * 0.03).max(150.0)
}

/// How far `measured_ms` lies outside the spread of a close, ms (0 inside):
/// a row's closes come anywhere in [`at_ms`, `at_ms + jitter_ms`], so a
/// measured value there is as good a match as `at_ms` itself.
fn distance_ms(at_ms: u64, jitter_ms: u64, measured_ms: f64) -> f64 {
    // A NaN measurement is near nothing.
    if measured_ms.is_nan() {
        return f64::INFINITY;
    }
    let (lo, hi) = (at_ms as f64, (at_ms + jitter_ms) as f64);
    if measured_ms < lo {
        lo - measured_ms
    } else if measured_ms > hi {
        measured_ms - hi
    } else {
        0.0
    }
}

/// The rows of `rows` with a close within tolerance of `measured_ms`, one
/// candidate per row (its closest close), nearest close first, ties in
/// table order. The close itself, not the row's jitter above it: a
/// measured value is a tight cluster's middle or a spread's lower edge, and
/// a jittery row (gunicorn's 1 s poll) makes neither a tight cluster above
/// its close nor a spread that starts there (issue 21: Node, nginx and Go
/// closing tightly at 3.0 s, and Tomcat's 3.0–4.5 s, were all named
/// gunicorn). Only a header that names the row reads its jitter
/// ([`match_named_jittered`]).
fn match_rows(rows: &'static [KnownDefault], measured_ms: f64) -> Vec<Candidate> {
    if !measured_ms.is_finite() || measured_ms <= 0.0 {
        return Vec::new();
    }
    let tol = tolerance_ms(measured_ms);
    let mut found: Vec<(f64, usize, Candidate)> = Vec::new();
    for row in rows {
        let best = row
            .closes
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.at_ms as f64 - measured_ms).abs(), i, c))
            .filter(|(d, _, _)| *d <= tol)
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((d, i, c)) = best {
            found.push((d, i, candidate(row, c)));
        }
    }
    // At equal distance a row's main close outranks another row's alternate
    // (e.g. "older releases"); the sort is stable, so the rest keeps table order.
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.into_iter().map(|(_, _, c)| c).collect()
}

/// The candidate for `row`'s close `c`.
fn candidate(row: &'static KnownDefault, c: &Close) -> Candidate {
    Candidate {
        software: row.software,
        setting: row.knob,
        default_ms: row.default_ms.unwrap_or(c.at_ms),
        expected_close_ms: c.at_ms,
        note: c.note.to_string(),
        witness: None,
        row,
    }
}

/// The first of `rows` (rows a header names) with a close whose jitter
/// spread holds `measured_ms`: the header names the software, and its
/// poll explains where in the spread the value fell.
fn match_named_jittered(rows: &[&'static KnownDefault], measured_ms: f64) -> Option<Candidate> {
    let tol = tolerance_ms(measured_ms);
    rows.iter().find_map(|row| {
        row.closes
            .iter()
            .find(|c| distance_ms(c.at_ms, row.jitter_ms, measured_ms) <= tol)
            .map(|c| candidate(row, c))
    })
}

/// Software whose default idle close matches `measured_ms`, best match first.
pub fn match_server(measured_ms: f64) -> Vec<Candidate> {
    match_rows(SERVERS, measured_ms)
}

/// Like [`match_server`], with the server's `Keep-Alive: timeout=N` header as
/// a second witness: a server row that [`KnownDefault::advertises`] its
/// configured value closes its buffer after it, so a close that far above the
/// advertised value names that row even when the value is not its default
/// (Node.js: keepAliveTimeout plus its 1000 ms keepAliveTimeoutBuffer).
/// The same as [`match_server_witnessed`] with no [`Witness`].
pub fn match_server_with_header(measured_ms: f64, header_s: Option<u32>) -> Vec<Candidate> {
    match_server_witnessed(measured_ms, header_s, &Witness::default())
}

/// [`match_server`] with the `Keep-Alive` header's witness (see
/// [`match_server_with_header`]): the rows it names first, then the rest.
fn match_server_advertised(measured_ms: f64, header_s: Option<u32>) -> Vec<Candidate> {
    let mut out = match_server(measured_ms);
    let Some(h) = header_s else {
        return out;
    };
    // The header floors the configured value to whole seconds (Node.js
    // advertises timeout=0 for a keepAliveTimeout under 1 s): the value is
    // anywhere in [h s, h s + 999 ms], and so is the close above it.
    let floor = u64::from(h) * 1000;
    let mut named = Vec::new();
    for row in SERVERS {
        let Some(adv) = row.advertises else {
            continue;
        };
        // Written so that a NaN measurement names nothing.
        let near = distance_ms(floor + adv.buffer_ms, row.jitter_ms + 999, measured_ms)
            <= tolerance_ms(measured_ms);
        if !near {
            continue;
        }
        // Whole seconds when the close is near them (the usual case), else
        // the measured value less the buffer, to 10 ms.
        let above = measured_ms - (floor + adv.buffer_ms) as f64;
        let configured = if above <= tolerance_ms(measured_ms) {
            floor
        } else {
            ((above / 10.0).round() as u64 * 10).clamp(1, 999) + floor
        };
        let close = configured + adv.buffer_ms;
        out.retain(|c| !std::ptr::eq(c.row, row));
        named.push(Candidate {
            software: row.software,
            setting: row.knob,
            default_ms: configured,
            expected_close_ms: close,
            row,
            witness: Some(WitnessKind::KeepAliveHeader),
            note: text::names(
                adv.note,
                &[
                    ("{close}", &text::secs_2(close as f64)),
                    ("{configured}", &configured.to_string()),
                    ("{buffer}", &adv.buffer_ms.to_string()),
                    ("{header}", &h.to_string()),
                ],
            ),
        });
    }
    // Named by two witnesses, so ahead of the matches on the close alone.
    named.extend(out);
    named
}

/// The distinct close jitters of the server rows above 0, ms, ascending:
/// the widths a jittery server's closes can spread over.
pub fn server_jitters_ms() -> Vec<u64> {
    let mut j: Vec<u64> = SERVERS
        .iter()
        .map(|r| r.jitter_ms)
        .filter(|&j| j > 0)
        .collect();
    j.sort_unstable();
    j.dedup();
    j
}

/// Proxies, load balancers and client pools whose default idle close matches
/// `measured_ms` (a client-side FIN after idle), best match first.
pub fn match_proxy(measured_ms: f64) -> Vec<Candidate> {
    match_rows(PROXIES, measured_ms)
}

#[cfg(test)]
mod tests;
