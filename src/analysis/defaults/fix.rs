//! The row fields that say how a product takes part in the fix: how its knob
//! is set, in which order, with which caveat, what it advertises, how it
//! retries. They live in the table next to the values they depend on, so the
//! recommendations are derived from the rows and `recommend.rs` names no
//! product (docs/keepalive-defaults.md cites every fact).

use serde::Serialize;

/// A server that advertises its configured idle timeout in a
/// `Keep-Alive: timeout=N` header and closes a fixed buffer after it, so
/// that header names it even when the value is not its default.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Advertised {
    /// How long after the advertised timeout the close comes, ms.
    pub buffer_ms: u64,
    /// The [`super::Candidate::note`] for a match through the header;
    /// `{close}` (`6.00 s`), `{configured}` and `{buffer}` (ms) and
    /// `{header}` (s) stand for the values.
    pub note: &'static str,
}

/// How a proxy's knob is set in the proxy side of the fix, given the
/// proxy target (the server's timeout minus a margin).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProxyFix {
    /// The knob is an idle timeout: set it to the target.
    IdleTimeout,
    /// No idle timeout, but idle connections are closed a share at a time
    /// every purge interval: set the interval to `1 / divisor` of the
    /// target, never above the knob's default `cap_ms` (the advice must not
    /// lengthen it).
    PurgeDelay {
        /// The target is divided by this.
        divisor: u64,
        /// The knob's default, ms.
        cap_ms: u64,
    },
    /// The row's default is short: a step only when it is not below the
    /// server's timeout (no default counts as never closing), and then the
    /// knob is set to the target.
    OnlyIfNotBelowServer,
    /// No idle timeout to set (a client pool that keeps idle connections
    /// until the server closes them): the step's text says what to do
    /// instead, and its snippet is given as is.
    NoIdleTimeout,
}

/// When a [`Caveat`] applies.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// The value the step sets is at most this, ms.
    ValueAtMost(u64),
}

/// A known side effect of the step, added to its text when it applies.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Caveat {
    /// The condition.
    pub when: When,
    /// Appended to the step's text as is (starts with a space).
    pub text: &'static str,
}

/// Which hop a proxy step's knob governs.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// A proxy or gateway's pool to backends over the network.
    Outbound,
    /// A sidecar's pool to the app in its own pod, over the pod's loopback
    /// (the server's clients are all loopback addresses: 127.0.0.6 is
    /// Istio's inbound source, 127.0.0.1 older sidecars').
    Inbound,
    /// Both: the knob's snippet sets the two.
    Both,
}

impl Hop {
    /// Whether a step for this hop applies where the capture shows `inbound`.
    pub fn applies(self, inbound: bool) -> bool {
        match self {
            Hop::Both => true,
            Hop::Inbound => inbound,
            Hop::Outbound => !inbound,
        }
    }
}

/// A proxy row's step in the proxy side of the fix; on a client-library
/// row, its step in the client side (when the requests come from a pool
/// inside an application, [`super::ClientKind::Library`]).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ProxyStep {
    /// Position among the proxy steps; the first one carries the general
    /// advice (lower the proxy's idle timeout, to what, why).
    pub order: u8,
    /// How the knob is set, and whether the step applies at all.
    pub fix: ProxyFix,
    /// The hop it governs: only steps for the hop the capture shows apply.
    pub hop: Hop,
    /// The product's name in the one-line summary given when the server's
    /// timeout was not measured ("Envoy and Istio default to 1 h, ...");
    /// only [`ProxyFix::IdleTimeout`] rows are summed up there.
    pub name: &'static str,
    /// The step; `{knob}`, `{value}` (the value set), `{default}` (the
    /// knob's default) and `{server}` (the server's timeout) stand for the values.
    pub text: &'static str,
    /// A side effect worth a warning, and when.
    pub caveat: Option<Caveat>,
}

/// A proxy usually found in front of a server. When the proxies' own idle
/// close was not seen, the server's target clears the longest of these
/// defaults that is still a sensible server timeout, and the others are
/// named as the ones to lower instead.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Usual {
    /// How the text names it; rows with the same label are named once.
    pub label: &'static str,
    /// Position in that text.
    pub rank: u8,
}

/// What a product does about a request that failed on a reused connection.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Retries {
    /// One clause for the retries step of the fix.
    pub on_reset: &'static str,
    /// Configuration that retries only idempotent requests on a reset; the
    /// first row in the table that has one gives the step its snippet.
    pub snippet: Option<&'static str>,
}

#[cfg(test)]
mod test {
    use super::super::{Role, proxy_rows, server_rows};

    #[test]
    fn test_fix_fields_sit_on_their_side() {
        for r in server_rows() {
            assert!(r.proxy_step.is_none() && r.usual.is_none() && r.retries.is_none());
        }
        for r in proxy_rows() {
            assert!(r.advertises.is_none(), "{}", r.id);
            assert_ne!(r.role, Role::Server);
        }
    }

    #[test]
    fn test_steps_have_distinct_orders_and_known_placeholders() {
        let steps: Vec<_> = proxy_rows().iter().filter_map(|r| r.proxy_step).collect();
        for (i, s) in steps.iter().enumerate() {
            assert!(steps[i + 1..].iter().all(|o| o.order != s.order));
            let rest = ["{knob}", "{value}", "{default}", "{server}"]
                .iter()
                .fold(s.text.to_string(), |t, p| t.replace(p, ""));
            assert!(!rest.contains('{'), "{}", s.text);
        }
        // A usual proxy has a default to clear or to name.
        for r in proxy_rows().iter().filter(|r| r.usual.is_some()) {
            assert!(r.default_ms.is_some(), "{}", r.id);
        }
    }
}
