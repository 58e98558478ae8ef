//! JSON for machines: the whole report as one pretty document
//! (docs/report-schema.md), or one compact object per finding per line.

use anyhow::Result;
use serde::Serialize;

use racecap::report::{Finding, Report};

/// The report as one JSON document.
pub fn document(report: &Report) -> Result<String> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}

/// One JSON object per finding, one per line.
pub fn findings(findings: &[Finding]) -> Result<String> {
    let mut s = String::new();
    for f in findings {
        s.push_str(&line(f)?);
        s.push('\n');
    }
    Ok(s)
}

/// One value as a compact JSON line (no newline).
pub fn line<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}
