//! The fix as printed: every snippet is for the proxy named (`--proxy`)
//! or recognised, none for another (issue 21).

use crate::util::stdout;

const POST: &str = "fixtures/lab/post-races.backend.pcap";
const LIBRARY: &str = "fixtures/lab/client-lib.backend.pcap";

/// Issue 21: `--proxy haproxy` printed an Istio VirtualService as the
/// retry snippet; with `--verbose` too, only HAProxy's configuration.
#[test]
fn test_issue_21_haproxy_gets_no_istio_snippet() {
    for verbose in [false, true] {
        let mut args = vec!["analyze", POST, "--proxy", "haproxy"];
        if verbose {
            args.push("--verbose");
        }
        let out = stdout(&args);
        assert!(out.contains("default-server pool-purge-delay"), "{out}");
        for other in ["VirtualService", "DestinationRule", "upstream backend {"] {
            assert!(!out.contains(other), "{verbose}: {other} in\n{out}");
        }
    }
}

/// Issue 21: `--proxy istio` printed Python urllib3's Retry as the retry
/// snippet; a library's pool still gets it.
#[test]
fn test_issue_21_istio_gets_no_library_snippet() {
    let out = stdout(&["analyze", LIBRARY, "--proxy", "istio"]);
    assert!(!out.contains("HTTPAdapter"), "{out}");
    let out = stdout(&["analyze", LIBRARY]);
    assert!(out.contains("HTTPAdapter"), "{out}");
}

/// Issue 21: the HAProxy step read "set pool-purge-delay (server),
/// http-reuse to 500 ms": one knob, one value, the other remedy named.
#[test]
fn test_issue_21_haproxy_step_wording() {
    let out = stdout(&["analyze", POST, "--proxy", "haproxy"]);
    assert!(
        out.contains("set pool-purge-delay to 500 ms on the servers"),
        "{out}"
    );
    assert!(out.contains("or stop reuse with http-reuse never"), "{out}");
    assert!(!out.contains("http-reuse to"), "{out}");
}
