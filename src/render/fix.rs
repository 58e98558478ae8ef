//! The fix, for people: one block per group of servers that need the same
//! change, each server with its own numbers (never another's), and only the
//! steps of the proxy that is there (`report.proxy`). When the proxy is not
//! known every proxy's step is listed, one short line each, without
//! snippets. `--verbose` prints the long texts with their reasons and notes.
//! A snippet is only ever the configuration of the proxy that is there
//! (issue 21). Knowing that proxy, the server step clears its pool's
//! default (or says that no server timeout can, behind Envoy's 1 h), and
//! a server with no fix but a close the proxy outlasts gets a latent-risk
//! line.

use std::fmt::Write as _;

use racecap::analysis::defaults::{Side, latent_risk};
use racecap::analysis::proxy::ProxyKind;
use racecap::report::proxy::{ProxySeen, ProxySource};
use racecap::report::remedies::Remedy;
use racecap::report::{Cause, Report, ServerReport};

/// One step as printed: side, sentence, snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Step {
    pub(super) side: Side,
    pub(super) text: String,
    pub(super) snippet: Option<String>,
    /// A server step that sets no value: behind a proxy whose pool keeps
    /// idle connections longer than any sensible server timeout, it says
    /// that raising the server's cannot help (not an alternative fix).
    pub(super) no_value: bool,
}

/// How the proxy was known, for the heading.
fn source(p: ProxySeen) -> &'static str {
    match p.source {
        ProxySource::Flag => "named by --proxy",
        ProxySource::ProxyLog => "from the --proxy-log",
        ProxySource::ServerHeader => "named by its Server header in the capture",
        ProxySource::ClientKind => "the requests come from a pool inside an application",
        ProxySource::RequestHeaders => "recognised",
    }
}

/// A proxy whose own configuration can be printed: a library is not one
/// (which library it is does not show).
fn named(proxy: Option<ProxyKind>) -> bool {
    proxy.is_some_and(|p| p != ProxyKind::Library)
}

/// Whether the proxies' own idle close was measured: then their pool's
/// default is not what they do.
fn proxy_close_seen(s: &ServerReport) -> bool {
    s.idle_before_client_fin
        .as_ref()
        .is_some_and(|d| d.is_client_timeout())
}

/// The steps of one server, for the proxy that is there.
fn steps(s: &ServerReport, proxy: Option<ProxyKind>, verbose: bool) -> Vec<Step> {
    let mut out = Vec::new();
    let mut proxy_steps = 0;
    for r in &s.recommendations {
        let text = if verbose { &r.text } else { &r.short };
        let mine = match (r.proxy, proxy) {
            (None, _) => true,
            (Some(id), Some(p)) => p.takes_step(id),
            (Some(_), None) => true,
        };
        let step = match r.side {
            Side::Server => Step {
                side: r.side,
                text: text.clone(),
                snippet: r.snippet.clone(),
                // Behind a proxy whose pool outlives any sensible server
                // timeout, the report's server step says what can help
                // instead, with no value (Report::settle_proxy).
                no_value: r.value_ms.is_none() && r.proxy.is_some(),
            },
            Side::Retries => Step {
                side: r.side,
                text: text.clone(),
                // The snippet is one proxy's (or library's) configuration:
                // printed only for that one, named or recognised (issue
                // 21: `--proxy haproxy` printed Istio's VirtualService,
                // `--proxy istio` urllib3's Retry).
                snippet: r.snippet.clone().filter(|_| match (r.proxy, proxy) {
                    (Some(id), Some(p)) => p.takes_step(id),
                    _ => false,
                }),
                no_value: false,
            },
            side @ (Side::Proxy | Side::Client) => {
                // Another proxy's step is never printed for the one that is
                // there, not even with --verbose; with no proxy known,
                // --verbose lists every proxy's.
                if !mine && (!verbose || proxy.is_some()) {
                    continue;
                }
                proxy_steps += 1;
                Step {
                    side,
                    text: text.clone(),
                    snippet: r.snippet.clone().filter(|_| verbose || named(proxy)),
                    no_value: false,
                }
            }
        };
        out.push(step);
    }
    // A proxy without a step of its own: its knob, from the table.
    if let Some(p) = proxy
        && proxy_steps == 0
        && !s.recommendations.is_empty()
        && let Some(row) = p.knob_row()
    {
        let below = "the server's idle close (above)";
        let at = out
            .iter()
            .position(|x| x.side == Side::Retries)
            .unwrap_or(out.len());
        out.insert(
            at,
            Step {
                side: Side::Proxy,
                text: format!("{}: set {} below {below}.", row.software, row.knob),
                snippet: None,
                no_value: false,
            },
        );
    }
    out
}

/// Servers grouped by identical steps, in server order.
pub(super) fn groups(r: &Report, verbose: bool) -> Vec<(Vec<&ServerReport>, Vec<Step>)> {
    let proxy = r.proxy.map(|p| p.kind);
    let mut out: Vec<(Vec<&ServerReport>, Vec<Step>)> = Vec::new();
    for s in r.servers.iter().filter(|s| !s.recommendations.is_empty()) {
        let st = steps(s, proxy, verbose);
        match out.iter_mut().find(|(_, x)| *x == st) {
            Some((servers, _)) => servers.push(s),
            None => out.push((vec![s], st)),
        }
    }
    out
}

/// A cause other than the timer, in words for the fix line.
fn cause_label(m: &Remedy) -> String {
    match m.cause {
        Cause::Restart => "a restart".into(),
        Cause::PeerGone => "a peer gone or replaced".into(),
        Cause::Application => "the application's resets".into(),
        Cause::Path => match m.forgotten_within_ms {
            Some(w) => format!(
                "the path (a middlebox forgot idle flows, after at most {} idle)",
                racecap::units::secs(w.ms())
            ),
            None => "the path (a middlebox forgot idle flows)".into(),
        },
        Cause::IdleTimer => "the idle timer".into(),
        Cause::Upstream => "a proxy passing an upstream failure on".into(),
    }
}

/// The remedies (issue 21) as blocks: the servers and what happened, then
/// the steps, for the proxy that is there (the report holds no other's).
pub(super) fn remedies(r: &Report) -> Vec<(String, Vec<Step>)> {
    r.remedies
        .iter()
        .map(|m| {
            let servers = match m.servers.as_slice() {
                [] => String::new(),
                [a] => a.to_string(),
                [a, b] => format!("{a}, {b}"),
                [a, .., z] => format!("{} servers ({a} … {z})", m.servers.len()),
            };
            let head = format!("{servers}: {}", m.what);
            let steps = m
                .steps
                .iter()
                .map(|st| Step {
                    side: st.side,
                    text: st.text.to_string(),
                    snippet: st.snippet.clone(),
                    no_value: false,
                })
                .collect();
            (head, steps)
        })
        .collect()
}

/// The fix line when the failures have another cause than the timer: the
/// cause with the most failures, its first step and the proxy's own step
/// (or its second).
fn remedy_line(r: &Report, head: &str) -> Option<String> {
    let m = r
        .remedies
        .iter()
        .rev()
        .max_by_key(|m| m.failures)
        .filter(|m| !m.steps.is_empty())?;
    let first = &m.steps[0];
    let second = m.steps[1..]
        .iter()
        .find(|s| s.proxy_row.is_some())
        .or(m.steps.get(1));
    let mut line = format!("{head}: {}, not a timeout: {}", cause_label(m), first.text);
    if let Some(s) = second {
        line.push_str(&format!(" And {}: {}", s.side, s.text));
    }
    Some(line)
}

/// The heading of the fix line: the proxy and how it was known.
fn line_head(r: &Report) -> String {
    match r.proxy {
        Some(p) => format!("Fix ({}, {})", p.kind.label(), source(p)),
        None => "Fix".to_string(),
    }
}

/// The fix in one line, for the report's opening.
pub fn one_line(r: &Report) -> Option<String> {
    let Some((_, steps)) = groups(r, false).into_iter().next() else {
        // No timeout to change: the remedy of another cause, or the
        // proxy outlasting the server's close.
        return remedy_line(r, &line_head(r)).or_else(|| latent(r).into_iter().next());
    };
    // A server step that says raising it cannot help is no alternative.
    let server = steps
        .iter()
        .find(|s| s.side == Side::Server)
        .filter(|s| !s.no_value);
    let requester: Vec<&Step> = steps
        .iter()
        .filter(|s| matches!(s.side, Side::Proxy | Side::Client))
        .collect();
    let head = line_head(r);
    // Which library sends the requests does not show: no one library's step.
    let library = Step {
        side: Side::Client,
        text: "evict idle pooled connections before the server's idle close, or retry idempotent requests (each library's setting below).".into(),
        snippet: None,
        no_value: false,
    };
    let requester = match r.proxy {
        Some(p) if p.kind == ProxyKind::Library => vec![&library],
        _ => requester,
    };
    let line = match (r.proxy, requester.first(), server) {
        (Some(_), Some(p), Some(s)) => format!("{head}: {} Or on the server: {}", p.text, s.text),
        (Some(_), Some(p), None) => format!("{head}: {}", p.text),
        (None, _, Some(s)) => match racecap::report::proxy::retry_hint(&r.findings) {
            Some(kinds) => {
                let names: Vec<String> = kinds.iter().map(|k| format!("--proxy {k}")).collect();
                format!(
                    "{head}: {} Or lower the proxy's upstream idle timeout below the server's: its retries (lost GETs re-sent, POSTs not) look like those of {} or Go's http.Transport ({} for its setting).",
                    s.text,
                    kinds
                        .iter()
                        .map(|k| k.label())
                        .collect::<Vec<_>>()
                        .join(", "),
                    names.join(", ")
                )
            }
            None => format!(
                "{head}: {} Or lower the proxy's upstream idle timeout below the server's (--proxy NAME for its knob).",
                s.text
            ),
        },
        (_, _, Some(s)) => format!("{head}: {}", s.text),
        (_, _, None) => return None,
    };
    Some(line)
}

/// The latent risks (issue 21): servers with no fix to give (no race, the
/// reuses seen below the close), whose measured idle close the proxy that
/// is there outlasts by default. One line each, with the server.
pub(super) fn latent(r: &Report) -> Vec<String> {
    let Some(p) = r.proxy.map(|p| p.kind).filter(|p| named(Some(*p))) else {
        return Vec::new();
    };
    let Some(row) = p.knob_row() else {
        return Vec::new();
    };
    r.servers
        .iter()
        .filter(|s| s.recommendations.is_empty() && !proxy_close_seen(s))
        .filter_map(|s| {
            let d = s.idle_timeout.as_ref().filter(|d| d.tight)?;
            let line = latent_risk(d.estimate_ms.ms(), row, p.label())?;
            Some(format!("{}: {line}", s.endpoint))
        })
        .collect()
}

/// "How to fix it", one block per group of servers.
pub fn section(r: &Report, verbose: bool, out: &mut String) {
    let groups = groups(r, verbose);
    let latent = latent(r);
    let remedies = remedies(r);
    if groups.is_empty() && remedies.is_empty() {
        if !latent.is_empty() {
            let _ = writeln!(out);
            for l in &latent {
                let _ = writeln!(out, "{l}");
            }
        }
        return;
    }
    match r.proxy {
        Some(p) => {
            let _ = writeln!(
                out,
                "\nHow to fix it (for {}, {}; --proxy NAME for another):",
                p.kind.label(),
                source(p)
            );
        }
        None => {
            let names: Vec<&str> = ProxyKind::ALL.iter().map(|p| p.name()).collect();
            let _ = writeln!(
                out,
                "\nHow to fix it (proxy not recognised: every proxy's step, briefly; --proxy {} for one with its configuration):",
                names.join("|")
            );
        }
    }
    for (head, steps) in &remedies {
        let _ = writeln!(out, "\n{head}");
        print_steps(steps, out);
    }
    for (servers, steps) in &groups {
        out.push('\n');
        for s in servers {
            super::table::headline(s, out);
        }
        // After several servers' lines the steps would read as the last
        // one's (issue 26): say whose they are.
        if servers.len() > 1 {
            let _ = writeln!(
                out,
                "\nSteps for {}:",
                if servers.len() == 2 {
                    "both servers above".to_string()
                } else {
                    format!("all {} servers above", servers.len())
                }
            );
        }
        print_steps(steps, out);
    }
    if !latent.is_empty() {
        out.push('\n');
        for l in &latent {
            let _ = writeln!(out, "{l}");
        }
    }
    if !verbose {
        let _ = writeln!(
            out,
            "(--verbose for the reasons and notes behind each step)"
        );
    }
}

/// Numbered steps with their snippets.
fn print_steps(steps: &[Step], out: &mut String) {
    for (i, st) in steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}: {}", i + 1, st.side, st.text);
        if let Some(snippet) = &st.snippet {
            for line in snippet.lines() {
                let _ = writeln!(out, "       {line}");
            }
        }
    }
}
