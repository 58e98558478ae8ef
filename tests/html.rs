//! The HTML report (issue 15): one self-contained page whose pictures are
//! the report's numbers. Checked twice: in the page as written (no script,
//! no network, the counts of bars, ticks and ladder arrows), and in a real
//! headless Chromium (Debian's `chromium`, installed by .ci/run), whose
//! dumped DOM must hold the same elements and which keeps a screenshot in
//! the target directory (`html-report.png`) to look at.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::{json, stdout};

const POST: &str = "fixtures/lab/post-races.backend.pcap";
const BOTH: &str = "fixtures/lab/get-races.proxy-any.pcap";

fn report(file: &str) -> Value {
    json(&["analyze", file])
}

/// What the page must draw for this report, with at most `limit` ladders.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    bars: usize,
    ticks: usize,
    race_ticks: usize,
    ladders: usize,
    arrows: usize,
}

fn expected(r: &Value, limit: usize) -> Counts {
    let mut c = Counts {
        bars: 0,
        ticks: 0,
        race_ticks: 0,
        ladders: 0,
        arrows: 0,
    };
    for s in r["servers"].as_array().unwrap() {
        let h = &s["histogram"];
        let drawn = !h.is_null()
            && (!s["idle_timeout"].is_null() || s["races"] != 0 || s["mismatch"] == true);
        if !drawn {
            continue;
        }
        for series in ["idle_closes", "reuse_gaps"] {
            c.bars += h[series]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n.as_u64() != Some(0))
                .count();
        }
        if !h["near_close"].is_null() {
            c.ticks += h["near_close"]["idle_closes_ms"].as_array().unwrap().len();
            c.ticks += h["near_close"]["reuse_gaps_ms"].as_array().unwrap().len();
        }
    }
    let mut races: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["race"].is_null())
        .collect();
    races.sort_by_key(|f| f["at"].as_str().unwrap().to_string());
    c.race_ticks = races.len();
    for f in races.iter().take(limit) {
        c.ladders += 1;
        let x = &f["race"];
        c.arrows += [
            "syn_at",
            "last_exchange_at",
            "fin_at",
            "request_at",
            "rst_at",
        ]
        .iter()
        .filter(|k| !x[**k].is_null())
        .count();
    }
    c
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

fn counted(html: &str) -> Counts {
    Counts {
        bars: count(html, "<rect class=\"bar "),
        ticks: count(html, "<line class=\"tick "),
        race_ticks: count(html, "<line class=\"race-tick "),
        ladders: count(html, "<figure class=\"ladder\""),
        arrows: count(html, "<line class=\"arrow "),
    }
}

fn page(file: &str, extra: &[&str]) -> String {
    let mut args = vec!["analyze", file, "--format", "html"];
    args.extend(extra);
    stdout(&args)
}

#[test]
fn test_html_is_self_contained_and_draws_the_report() {
    for file in [POST, BOTH] {
        let html = page(file, &[]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        for banned in ["<script", "http://", "https://", "<link", "@import", "url("] {
            assert!(!html.contains(banned), "{file}: {banned}");
        }
        let want = expected(&report(file), 20);
        assert!(want.bars > 0 && want.arrows > 0, "{want:?}");
        assert_eq!(counted(&html), want, "{file}");
    }
    // The races of the POST recording: 9, each with SYN, last response,
    // FIN, request and RST.
    let want = expected(&report(POST), 20);
    assert_eq!((want.ladders, want.arrows), (9, 45));
}

#[test]
fn test_html_limit_caps_the_ladders() {
    let html = page(POST, &["--limit", "3"]);
    let want = expected(&report(POST), 3);
    assert_eq!(counted(&html), want);
    assert_eq!(want.ladders, 3);
    // Once under the ladders, once under the findings table (3 rows and
    // its header).
    assert_eq!(count(&html, "… and 6 more; --limit 0 for all."), 2);
    assert_eq!(count(&html, "<tr>"), 4);
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let out = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()?;
        let path = String::from_utf8(out.stdout).ok()?;
        let path = path.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// Chromium with the flags a root CI machine needs, and a profile of its own.
fn headless(browser: &PathBuf, args: &[&str]) -> Vec<u8> {
    // One profile per run: tests run Chromium in parallel, and a profile
    // in use is locked.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = tempdir(&format!("profile-{n}"));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn tempdir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("html-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The page in a real browser: the SVG elements are in its DOM as the
/// report counts them, and a screenshot is taken.
#[test]
fn test_html_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("RACECAP_REQUIRE_CHROMIUM").is_none(),
            "RACECAP_REQUIRE_CHROMIUM is set but chromium is not installed"
        );
        eprintln!("skipped: chromium is not installed (.ci/run installs it)");
        return;
    };
    let dir = tempdir("page");
    let file = dir.join("report.html");
    let html = page(POST, &[]);
    std::fs::write(&file, &html).unwrap();
    let url = format!("file://{}", file.display());
    let dom = String::from_utf8(headless(&browser, &["--dump-dom", &url])).unwrap();
    let want = expected(&report(POST), 20);
    assert_eq!(counted(&dom), want);
    // Parsed as SVG, not as unknown HTML: the browser kept them inside
    // their svg elements (one per histogram, strip, timeline and ladder).
    assert_eq!(
        count(&dom, "<svg "),
        count(&html, "<svg "),
        "svg elements lost"
    );
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report.png");
    headless(
        &browser,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,2400",
            &url,
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 50_000, "{} bytes: a blank page?", png.len());
    eprintln!("screenshot: {}", shot.display());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `racecap ARGS` with standard output on a pseudo-terminal
/// (util-linux `script`), returning what the terminal showed and the exit
/// code; None where `script` is missing.
fn on_a_terminal(args: &str) -> Option<(String, i32)> {
    let bin = env!("CARGO_BIN_EXE_racecap");
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{bin} {args}; echo \"exit=$?\""),
            "/dev/null",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    // The progress bar shares the terminal: the line may start with its
    // escape codes.
    let code = text
        .lines()
        .rev()
        .find_map(|l| l.rsplit_once("exit=").map(|x| x.1))?
        .trim()
        .parse()
        .ok()?;
    Some((text, code))
}

/// Issue 26: `--format html` without `-o` dumped the page on the terminal.
/// It is refused there (exit 2, one line, nothing read); with `-o`, or
/// redirected, the page is written.
#[test]
fn test_26_html_refused_on_a_terminal() {
    let Some((text, code)) = on_a_terminal(&format!("analyze {POST} --format html")) else {
        eprintln!("skipped: no `script` to give racecap a terminal");
        return;
    };
    assert_eq!(code, 2, "{text}");
    assert!(!text.contains("<!DOCTYPE"), "{text}");
    assert!(text.contains("racecap: --format html"), "{text}");
    assert!(text.contains("-o report.html"), "{text}");
    let file = tempdir("tty").join("report.html");
    let (text, code) = on_a_terminal(&format!(
        "analyze {POST} --format html -o {}",
        file.display()
    ))
    .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("<!DOCTYPE"), "{text}");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    // Not a terminal (a pipe, as here): written to standard output.
    assert!(page(POST, &[]).starts_with("<!DOCTYPE html>"));
}

/// A capture of one server that closes idle connections after 5999.6–6005
/// ms, its clients reusing them after up to 5.95 s.
fn closes_at_six_seconds() -> PathBuf {
    use crate::synth::{Flow, Link, get, ok, pcap, secs};
    let rtt = 400_000;
    let closes = [5.9996, 5.9999, 6.0004, 6.001, 6.0025, 6.005];
    let reuses = [0.3, 1.2, 2.5, 4.1, 5.3, 5.95];
    let mut p = Vec::new();
    for (i, (close, reuse)) in closes.iter().zip(reuses).enumerate() {
        let port = 45000 + i as u16;
        let mut f = Flow::new(
            ("10.1.0.1".parse().unwrap(), port),
            ("10.1.0.9".parse().unwrap(), 3000),
            u32::from(port) * 1000,
            9_000_000 + u32::from(port),
        );
        let t = secs(i as f64 * 20.0);
        p.extend(f.handshake(t, rtt));
        p.extend(f.exchange(t + rtt, rtt, &get("/0"), &ok(Some(5))));
        let t = t + 2 * rtt + secs(reuse);
        p.extend(f.exchange(t, rtt, &get("/1"), &ok(Some(5))));
        let resp = t + rtt;
        p.push(f.fin(resp + secs(*close), false));
        p.push(f.fin(resp + secs(*close) + rtt / 2, true));
        p.push(f.ack(resp + secs(*close) + rtt, false));
    }
    let file = tempdir("six").join("six.pcap");
    std::fs::write(&file, pcap(&p, &Link::Ethernet(vec![]))).unwrap();
    file
}

/// Issue 26: a bin edge at exactly 6.0 s split the closes (5999.6–6005
/// ms) into a small bar beside the reuses and a big one after them, an
/// overlap that was not there. The bins follow the data: one bar of
/// closes, in a bin without reuses.
#[test]
fn test_26_histogram_does_not_split_the_closes() {
    let file = closes_at_six_seconds();
    let name = file.to_str().unwrap();
    let r = report(name);
    let h = &r["servers"][0]["histogram"];
    let idle: Vec<usize> = h["idle_closes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(idle.len(), 1, "{h}");
    assert_eq!(h["idle_closes"][idle[0]], 6, "{h}");
    assert_eq!(h["reuse_gaps"][idle[0]], 0, "{h}");
    let html = page(name, &[]);
    assert_eq!(count(&html, "<rect class=\"bar idle\""), 1);
    assert_eq!(counted(&html), expected(&r, 20));
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

/// The value of attribute `name` in the tag `tag`.
fn attr(tag: &str, name: &str) -> f64 {
    let at = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
}

/// Issue 26: in a crossed race the request's label sat on the FIN arrow
/// (the two cross near the proxy's line, where the label was). No label of
/// a ladder may touch an arrow other than its own: its box (11 px text,
/// about 6.5 px a character, centred) is kept clear of every other arrow.
#[test]
fn test_26_ladder_labels_clear_of_other_arrows() {
    for file in [POST, BOTH] {
        let html = page(file, &["--limit", "0"]);
        let mut checked = 0;
        for svg in html.split("<figure class=\"ladder\">").skip(1) {
            let svg = &svg[..svg.find("</svg>").unwrap()];
            // Each arrow is a line, its head, then its label.
            let mut arrows: Vec<[f64; 4]> = Vec::new();
            let mut labels: Vec<(usize, f64, f64, String)> = Vec::new();
            for part in svg.split("<line class=\"arrow ").skip(1) {
                let line = &part[..part.find("/>").unwrap()];
                arrows.push(["x1", "y1", "x2", "y2"].map(|k| attr(line, k)));
                let after_head = &part[part.find("<polygon").unwrap()..];
                let after_head = &after_head[after_head.find("/>").unwrap() + 2..];
                assert!(after_head.starts_with("<text"), "{after_head}");
                let tag = &after_head[..after_head.find('>').unwrap()];
                let text = &after_head[tag.len() + 1..after_head.find("</text>").unwrap()];
                labels.push((
                    arrows.len() - 1,
                    attr(tag, "x"),
                    attr(tag, "y"),
                    text.to_string(),
                ));
            }
            for (own, x, y, text) in &labels {
                let half = text.chars().count() as f64 * 6.5 / 2.0;
                let (left, right, top, bottom) = (x - half, x + half, y - 9.0, y + 2.0);
                for (i, [x1, y1, x2, y2]) in arrows.iter().enumerate() {
                    if i == *own {
                        continue;
                    }
                    for k in 0..=200 {
                        let t = f64::from(k) / 200.0;
                        let (px, py) = (x1 + (x2 - x1) * t, y1 + (y2 - y1) * t);
                        assert!(
                            !(left..=right).contains(&px) || !(top..=bottom).contains(&py),
                            "{file}: label {text:?} at ({x}, {y}) lies on arrow {i} ({x1},{y1})→({x2},{y2})"
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 0, "{file}: no label checked");
    }
}

/// Issue 26: the `--proxy-log` correlation was missing from the page. Its
/// sentences open the page as they open the tables, and its lines are a
/// table with the connection each rode; in Chromium too.
#[test]
fn test_26_html_carries_the_proxy_log() {
    let args = [
        "--proxy-log",
        "fixtures/lab/post-races.nginx-access.log",
        "--proxy-log",
        "fixtures/lab/post-races.nginx-error.log",
        "--nginx-log-format",
        crate::proxylog::LAB_LOG_FORMAT,
    ];
    let mut json_args = vec!["analyze", "fixtures/lab/post-races.proxy-any.pcap"];
    json_args.extend(args);
    json_args.extend(["--format", "json"]);
    let r: Value = serde_json::from_str(&stdout(&json_args)).unwrap();
    let entries = r["proxy_log"]["entries"].as_array().unwrap().len();
    assert_eq!(entries, 18);
    let mut extra = args.to_vec();
    extra.extend(["--limit", "0"]);
    let html = page("fixtures/lab/post-races.proxy-any.pcap", &extra);
    assert!(
        html.contains(
            "<p class=\"answer\">9 of 9 nginx 502s are keep-alive races on 10.231.2.2:8081"
        ),
        "{html}"
    );
    assert!(html.contains("<p class=\"answer\">9 of 9 nginx error-log lines are keep-alive races"));
    assert!(html.contains(
        "<section id=\"proxy-log\"><h2>Proxy log lines (18 of 18 explained; 83 lines read, 0 unreadable)</h2>"
    ));
    assert_eq!(count(&html, "<tr class=\"log-line\">"), entries);
    assert!(html.contains(
        "<td>fixtures/lab/post-races.nginx-error.log:1</td><td>18:06:02.000000000</td><td>upstream prematurely closed connection while reading response header from upstream</td><td>10.231.2.1:56920 → 10.231.2.2:8081</td><td>keepalive_race</td><td>request_time</td>"
    ));
    // --limit caps the rows as it caps the findings.
    let mut capped = args.to_vec();
    capped.extend(["--limit", "5"]);
    let html5 = page("fixtures/lab/post-races.proxy-any.pcap", &capped);
    assert_eq!(count(&html5, "<tr class=\"log-line\">"), 5);
    assert!(html5.contains("… and 13 more; --limit 0 for all."));

    let Some(browser) = chromium() else {
        eprintln!("skipped the browser: chromium is not installed (.ci/run installs it)");
        return;
    };
    let dir = tempdir("plog");
    let file = dir.join("report.html");
    std::fs::write(&file, &html).unwrap();
    let dom = String::from_utf8(headless(
        &browser,
        &["--dump-dom", &format!("file://{}", file.display())],
    ))
    .unwrap();
    assert_eq!(count(&dom, "<tr class=\"log-line\">"), entries);
    assert!(dom.contains("<section id=\"proxy-log\">"));
    let _ = std::fs::remove_dir_all(&dir);
}
