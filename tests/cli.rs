//! The binary: exit codes, one-line errors, standard input, focus, evidence
//! output, and snapshots of the table and JSON reports.

use std::fs;

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

use crate::util::{json, run, tmp};

const RACES: &str = "fixtures/lab/get-races.backend.pcap";
const CONTROL: &str = "fixtures/lab/control.backend.pcap";

#[test]
fn test_missing_file_exits_2_with_one_line() {
    let (code, out, err) = run(&["analyze", "no-such-dump.pcap"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("racecap: no-such-dump.pcap: "), "{err}");
    assert!(err.contains("No such file"), "{err}");
}

/// A classic pcap (µs, little-endian) of `frames` on link type `linktype`.
fn pcap_of(linktype: u32, frames: &[&[u8]]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, linktype] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [
            1_700_000_000u32 + i as u32,
            0,
            f.len() as u32,
            f.len() as u32,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(f);
    }
    b
}

/// A capture racecap cannot read (no supported link type, or no TCP at
/// all, or no packets) must not pass a CI gate as "0 keep-alive races".
#[test]
fn test_nothing_decodable_exits_2() {
    // IEEE 802.11 radio frames: a link type racecap does not decode.
    let wifi = tmp("wifi.pcap");
    fs::write(
        &wifi,
        pcap_of(105, &[&[0x80, 0, 0, 0, 0xff, 0xff], &[0x08, 1, 2]]),
    )
    .unwrap();
    let (code, out, err) = run(&["analyze", wifi.to_str().unwrap(), "--fail-on", "race"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("wifi.pcap: no TCP segment could be decoded from its 2 packets"),
        "{err}"
    );
    assert!(err.contains("unsupported_link_type: 2"), "{err}");
    // Raw IPv4 carrying UDP only.
    let udp: Vec<u8> = [
        &[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ][..],
        &[0, 53, 0, 53, 0, 8, 0, 0],
    ]
    .concat();
    let dns = tmp("udp.pcap");
    fs::write(&dns, pcap_of(101, &[&udp])).unwrap();
    let (code, _, err) = run(&["analyze", dns.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("other_protocol: 1"), "{err}");
    // A header and no packets.
    let none = tmp("none.pcap");
    fs::write(&none, pcap_of(1, &[])).unwrap();
    let (code, _, err) = run(&["analyze", none.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("none.pcap: no packets"), "{err}");
}

/// Some frames that cannot be decoded beside readable ones: a warning on
/// stderr and in the report, and the report of the rest.
#[test]
fn test_some_undecodable_frames_warn() {
    let good = fs::read(RACES).unwrap();
    // The fixture's first frame, then one cut inside its IP header.
    let first =
        &good[24 + 16..24 + 16 + u32::from_le_bytes(good[32..36].try_into().unwrap()) as usize];
    let cut = &first[..20];
    let path = tmp("some-cut.pcap");
    fs::write(&path, pcap_of(1, &[first, cut])).unwrap();
    let (code, out, err) = run(&["analyze", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 of 2 packets could not be decoded ("),
        "{err}"
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    let warnings = r["capture"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("could not be decoded"))
    );
}

#[test]
fn test_not_a_capture_exits_2() {
    let (code, _, err) = run(&["analyze", "README.md"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("README.md: not a pcap or pcapng capture"),
        "{err}"
    );
    let empty = tmp("empty.pcap");
    fs::write(&empty, b"").unwrap();
    let (code, _, err) = run(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("empty input"), "{err}");
}

#[test]
fn test_cut_off_file_reports_what_it_has_and_warns() {
    let bytes = fs::read(CONTROL).unwrap();
    let cut = tmp("cut.pcap");
    fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let (code, out, err) = run(&["analyze", cut.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning") && err.contains("cut off"), "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["capture"]["packets"], 249);
    assert!(
        r["capture"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("cut off")
    );
}

#[test]
fn test_fail_on_exit_codes() {
    assert_eq!(run(&["analyze", RACES, "--fail-on", "race"]).0, 1);
    assert_eq!(run(&["analyze", RACES, "--fail-on", "failure"]).0, 1);
    assert_eq!(run(&["analyze", RACES]).0, 0);
    assert_eq!(run(&["analyze", CONTROL, "--fail-on", "race"]).0, 0);
    assert_eq!(run(&["analyze", CONTROL, "--fail-on", "failure"]).0, 0);
    assert_eq!(run(&["analyze", RACES, "--fail-on", "sometimes"]).0, 2);
}

#[test]
fn test_stdin_equals_file() {
    let from_file = json(&["analyze", RACES]);
    let out = cargo_bin_cmd!("racecap")
        .args(["analyze", "-", "--format", "json"])
        .write_stdin(fs::read(RACES).unwrap())
        .output()
        .unwrap();
    let mut from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_stdin["capture"]["files"][0]["name"], "-");
    from_stdin["capture"]["files"][0]["name"] = RACES.into();
    assert_eq!(from_file, from_stdin);
}

#[test]
fn test_focus_on_one_server() {
    let r = json(&["analyze", RACES, "--server", "10.231.2.2:8081"]);
    assert_eq!(r["findings"].as_array().unwrap().len(), 2);
    assert_eq!(r["servers"].as_array().unwrap().len(), 1);
    let r = json(&["analyze", RACES, "--port", "8084"]);
    assert_eq!(r["findings"].as_array().unwrap().len(), 2);
    let (code, _, err) = run(&["analyze", RACES, "--server", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("--server nonsense"), "{err}");
}

#[test]
fn test_evidence_holds_the_failing_connections() {
    let ev = tmp("evidence.pcap");
    let (code, _, err) = run(&["analyze", RACES, "--evidence", ev.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("failing connections"), "{err}");
    let r = json(&["analyze", ev.to_str().unwrap(), "--connections"]);
    assert_eq!(r["verdict_counts"]["keepalive_race"], 8);
    // The 8 raced connections and those that carried nginx's retries: 4
    // more, as each lane's first retry went out on the connection that
    // raced next.
    assert_eq!(r["connections"].as_array().unwrap().len(), 12);
    assert_eq!(r["summary"]["retried"], 8);
    // From standard input too (spooled for the second pass).
    let ev2 = tmp("evidence-stdin.pcap");
    let out = cargo_bin_cmd!("racecap")
        .args(["analyze", "-", "--evidence", ev2.to_str().unwrap()])
        .write_stdin(fs::read(RACES).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fs::read(&ev).unwrap(), fs::read(&ev2).unwrap());
}

#[test]
fn test_jsonl_one_finding_per_line() {
    let (code, out, _) = run(&["analyze", RACES, "--format", "jsonl"]);
    assert_eq!(code, 0);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert!(lines.iter().all(|l| l["verdict"] == "keepalive_race"));
    // Issue 25: every record says what it is, first.
    assert!(lines.iter().all(|l| l["type"] == "finding"));
    assert!(out.lines().all(|l| l.starts_with(r#"{"type":"finding","#)));
}

#[test]
fn test_output_file() {
    let out = tmp("report.json");
    let (code, stdout, _) = run(&[
        "analyze",
        RACES,
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    let r: Value = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["schema_version"], 2);
}

#[test]
fn test_snapshot_table_race_fixture() {
    let (_, out, _) = run(&["analyze", RACES]);
    insta::assert_snapshot!("table_get_races", out);
}

#[test]
fn test_snapshot_table_connections_control() {
    let (_, out, _) = run(&["analyze", CONTROL, "--connections"]);
    insta::assert_snapshot!("table_control_connections", out);
}

#[test]
fn test_snapshot_json_race_fixture() {
    let (_, out, _) = run(&[
        "analyze",
        "fixtures/lab/post-races.backend.pcap",
        "--format",
        "json",
    ]);
    insta::assert_snapshot!("json_post_races", out);
}

/// The findings of the close shapes' recordings, as JSON: every new
/// verdict and race kind in its documented shape (truncated_response,
/// client_timeout, server_reset with its acknowledged request,
/// connect_refused and races from the faults recording; the reset race
/// without a FIN from gunicorn's; lingering races without an RST from
/// Apache's).
#[test]
fn test_snapshot_json_close_shapes() {
    for (name, capture) in [
        ("json_faults_findings", "fixtures/lab/faults.backend.pcap"),
        (
            "json_gunicorn_findings",
            "fixtures/lab/gunicorn.backend.pcap",
        ),
        ("json_apache_findings", "fixtures/lab/apache.backend.pcap"),
    ] {
        let r = json(&["analyze", capture]);
        let findings = serde_json::to_string_pretty(&r["findings"]).unwrap();
        insta::assert_snapshot!(name, findings);
    }
}

/// Without the `live` feature, `capture` says how to get it, in one line.
#[cfg(not(feature = "live"))]
#[test]
fn test_capture_without_live_feature() {
    let (code, _, err) = run(&["capture", "-i", "eth0"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--features live") && err.contains("libpcap-dev"),
        "{err}"
    );
}

#[test]
fn test_interfaces_lists_loopback() {
    let (code, out, _) = run(&["interfaces", "--json"]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "lo" && i["index"] == 1)
    );
}

/// A duration beyond what `std::time::Duration` holds is a usage error, not
/// a panic (it used to panic in `Duration::from_secs_f64`).
#[test]
fn test_capture_absurd_duration_is_a_usage_error() {
    let (code, _, err) = run(&[
        "capture",
        "-i",
        "lo",
        "--duration",
        "99999999999999999999999s",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("too long a duration"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Issue 23: `analyze - --evidence` spooled standard input through a
/// predictable name (`racecap-stdin-PID.pcap`) opened with `File::create`,
/// so a symlink planted there by another user had its target overwritten
/// when racecap ran as root. The spool is now a new file (O_EXCL) under a
/// random name, readable by its owner only, and gone after the run.
#[test]
fn test_23_stdin_spool_is_a_private_new_file() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let dir = tmp("spool-tmpdir");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let ev = tmp("evidence-spool.pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_racecap"))
        .args(["analyze", "-", "--evidence", ev.to_str().unwrap()])
        .env("TMPDIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The spool exists while racecap waits for standard input.
    let spool = (0..500)
        .find_map(|_| {
            let found = fs::read_dir(&dir)
                .unwrap()
                .next()
                .map(|e| e.unwrap().path());
            if found.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            found
        })
        .expect("no spool file appeared");
    let name = spool.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        !name.contains(&child.id().to_string()),
        "predictable spool name {name}"
    );
    let meta = fs::symlink_metadata(&spool).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        meta.permissions().mode() & 0o077,
        0,
        "{name} is readable by others"
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&fs::read(RACES).unwrap()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fs::metadata(&ev).unwrap().len() > 0);
    // Removed after the run.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

/// Issue 23: `--fail-on … | head -c 10` exited 0 when the reader closed
/// standard output early. The verdict is the exit code; a closed pipe only
/// stops the writing.
#[test]
fn test_23_closed_stdout_keeps_the_verdict() {
    use std::process::{Command, Stdio};
    for format in ["table", "json"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_racecap"))
            .args(["analyze", RACES, "--fail-on", "race", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before racecap has written anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{format}: {err}");
        assert!(err.is_empty(), "{format}: {err}");
    }
}

/// A build without the `ebpf` feature says how to get `watch`, in one
/// line, and exits 2 (issue 24).
#[cfg(not(feature = "ebpf"))]
#[test]
fn test_watch_not_in_this_build() {
    let (code, out, err) = run(&["watch", "--duration", "1s"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(
        err.trim_end(),
        "racecap: watch is not in this build of racecap (build it with --features ebpf)"
    );
}
