//! JSON for machines: the whole report as one pretty document
//! (docs/report-schema.md), or JSON Lines: one compact object per line,
//! each with a `type` (`finding`, `report`) so that a log pipeline can tell
//! a finding from the live capture's closing report without guessing from
//! the fields (issue 25).

use anyhow::Result;
use serde::Serialize;

use racecap::report::{Finding, Report};

/// The report as one JSON document.
pub fn document(report: &Report) -> Result<String> {
    let mut out = Vec::new();
    write_document(report, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// The report as one JSON document, written as it is serialised: a
/// report of 10 000 findings is some 20 MB, and building it in one string
/// first cost its copies as the string grew and its pages, about a fifth
/// of the time after the last packet (docs/performance.md).
pub fn write_document<W: std::io::Write>(report: &Report, out: &mut W) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// What a JSON Lines record is: its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One failing connection (a [`Finding`]).
    Finding,
    /// The whole report, last line of a live capture.
    Report,
}

/// A JSON Lines record: the `type` first, then the value's own fields.
#[derive(Debug, Serialize)]
pub struct Typed<'a, T> {
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(flatten)]
    pub value: &'a T,
}

/// One JSON object per finding, one per line, each `"type":"finding"`.
pub fn findings(findings: &[Finding]) -> Result<String> {
    let mut s = String::new();
    for f in findings {
        s.push_str(&typed(Kind::Finding, f)?);
        s.push('\n');
    }
    Ok(s)
}

/// A value as a compact JSON Lines record of its kind (no newline).
pub fn typed<T: Serialize>(kind: Kind, value: &T) -> Result<String> {
    line(&Typed { kind, value })
}

/// One value as a compact JSON line (no newline).
pub fn line<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}
