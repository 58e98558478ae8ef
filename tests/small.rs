//! Issue 15's small things, each as the user met it: completions and man
//! page, `--server` without a port, a focus that matches nothing, `capture`
//! without an interface, and `--evidence` keeping the retries.

use crate::util::{json, run};

const GET: &str = "fixtures/lab/get-races.backend.pcap";

#[test]
fn test_completions_and_man_page() {
    for (shell, mark) in [
        ("bash", "complete -F _racecap"),
        ("zsh", "#compdef racecap"),
        ("fish", "complete -c racecap"),
    ] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(mark), "{shell}: {out}");
        // Generated from the flags: the new ones are in it.
        assert!(out.contains("--proxy"), "{shell}");
    }
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH racecap 1"), "{out}");
    let (code, out, _) = run(&["man", "analyze"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH racecap-analyze 1"), "{out}");
    assert!(out.contains("\\-\\-proxy\\-log"), "{out}");
    let (code, _, err) = run(&["man", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("one of: analyze"), "{err}");
}

/// `--server 10.231.2.2`: every port of that address.
#[test]
fn test_server_without_port_is_every_port() {
    let all = json(&["analyze", GET]);
    let host = json(&["analyze", GET, "--server", "10.231.2.2"]);
    assert_eq!(host["summary"], all["summary"]);
    let one = json(&["analyze", GET, "--server", "10.231.2.2:8081"]);
    assert_eq!(one["servers"].as_array().unwrap().len(), 1);
    let (code, _, err) = run(&["analyze", GET, "--server", "10.231.2"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected IP, IP:PORT"), "{err}");
}

/// A filter that matches nothing says so, first and as a warning.
#[test]
fn test_focus_matching_nothing_says_so() {
    for focus in [["--port", "1234"], ["--server", "10.9.9.9"]] {
        let mut args = vec!["analyze", GET];
        args.extend(focus);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0);
        assert!(out.starts_with("Nothing analysed: the --server / --port filter matched none of the 413 TCP segments."), "{out}");
        assert!(
            err.contains("matched none of the 413 TCP segments"),
            "{err}"
        );
    }
    // A filter that matches says nothing of the kind.
    let (_, out, err) = run(&["analyze", GET, "--port", "8081"]);
    assert!(!out.contains("Nothing analysed") && !err.contains("matched none"));
}

#[test]
fn test_capture_without_interface_names_ifindex() {
    let (code, _, err) = run(&["capture"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("-i IFACE") && err.contains("--ifindex N"),
        "{err}"
    );
}

/// Re-analysing the evidence file finds the same retries: the connections
/// that carried them are in it (before, 4 of 8 here, 22 of 26 for gunicorn).
#[test]
fn test_evidence_keeps_the_retries() {
    let dir = std::env::temp_dir().join(format!("racecap-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in [GET, "fixtures/lab/gunicorn.backend.pcap"] {
        let out = dir.join("evidence.pcap");
        let full = json(&["analyze", file, "--evidence", out.to_str().unwrap()]);
        let again = json(&["analyze", out.to_str().unwrap()]);
        assert!(full["summary"]["retried"].as_u64().unwrap() > 0);
        for k in ["races", "retried", "not_retried", "lost_by_method"] {
            assert_eq!(again["summary"][k], full["summary"][k], "{file}: {k}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
