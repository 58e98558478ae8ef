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
    let profile = tempdir("profile");
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
