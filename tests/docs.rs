//! The examples in README.md and docs/report-schema.md are the binary's
//! real output (issue 15: they had drifted). The README's blocks are
//! checked line by line (a `…` line stands for lines left out); the schema
//! page's JSON examples value by value, trimmed as the page says
//! (`scripts/doc-examples.py` regenerates them).

use serde_json::Value;

use crate::util::{json, stdout};

/// The fenced blocks of `text` between `from` and the next `## ` heading.
fn blocks(text: &str, from: &str) -> Vec<String> {
    let start = text.find(from).expect("section");
    let rest = &text[start + from.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out = Vec::new();
    let mut parts = section.split("\n```");
    parts.next();
    while let (Some(body), Some(_)) = (parts.next(), parts.next()) {
        // Skip the info string (`json`) on the fence line.
        let body = body.split_once('\n').map_or("", |x| x.1);
        out.push(body.to_string());
    }
    out
}

/// Every line of `block` appears in `output`, in order and consecutive
/// (the block may start anywhere); `…` skips ahead.
fn in_order(block: &str, output: &str) {
    let lines: Vec<&str> = output.lines().collect();
    let mut at = 0;
    let mut skipping = true;
    for want in block.lines() {
        if want == "…" {
            skipping = true;
            continue;
        }
        let found = if skipping {
            lines[at..].iter().position(|l| *l == want).map(|i| at + i)
        } else {
            (lines.get(at) == Some(&want)).then_some(at)
        };
        let Some(i) = found else {
            panic!("README line not in the output (at line {at}): {want}\n--- output:\n{output}");
        };
        at = i + 1;
        skipping = false;
    }
}

#[test]
fn test_readme_output_blocks_are_real() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let out = stdout(&[
        "analyze",
        "fixtures/lab/get-races.backend.pcap",
        "--fail-on",
        "race",
    ]);
    let b = blocks(&readme, "## What it tells you");
    assert_eq!(b.len(), 2, "{b:?}");
    // Issue 26: a `…` hid that the steps after several servers read as the
    // last one's. The opening and the fix are shown whole.
    assert!(
        !b[0].lines().any(|l| l == "…"),
        "the README's first output block leaves lines out"
    );
    for block in &b {
        in_order(block, &out);
    }
}

/// The page's example, and the binary's report trimmed the page's way.
fn schema_blocks() -> Vec<String> {
    let doc = std::fs::read_to_string("docs/report-schema.md").unwrap();
    blocks(&doc, "## Examples")
}

#[test]
fn test_schema_race_example_is_real() {
    let doc: Value = serde_json::from_str(&schema_blocks()[0]).unwrap();
    let mut r = json(&["analyze", "fixtures/lab/post-races.backend.pcap"]);
    r["summary"]["servers"].as_array_mut().unwrap().truncate(1);
    r["findings"].as_array_mut().unwrap().truncate(1);
    r["servers"].as_array_mut().unwrap().truncate(1);
    let recs = r["servers"][0]["recommendations"].as_array_mut().unwrap();
    recs.retain(|x| x["side"] != "proxy" || x["proxy"] == "nginx-upstream");
    assert_eq!(recs.len(), 3);
    assert_eq!(doc, r);
}

#[test]
fn test_schema_connections_and_jsonl_examples_are_real() {
    let b = schema_blocks();
    let doc: Value = serde_json::from_str(&b[1]).unwrap();
    let r = json(&[
        "analyze",
        "fixtures/lab/control.backend.pcap",
        "--connections",
    ]);
    assert_eq!(doc["connections"], r["connections"]);
    let line = stdout(&[
        "analyze",
        "fixtures/lab/post-races.backend.pcap",
        "--format",
        "jsonl",
    ]);
    assert_eq!(b[2].trim_end(), line.lines().next().unwrap());
}
