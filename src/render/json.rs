//! JSON for machines: the whole report as one pretty document
//! (docs/report-schema.md), or JSON Lines: one compact object per line,
//! each with a `type` (`finding`, `report`) so that a log pipeline can tell
//! a finding from the live capture's closing report without guessing from
//! the fields (issue 25).

use anyhow::Result;
use serde::Serialize;

use racecap::report::{Finding, Report};

/// The report as one JSON document, written as it is serialised
/// ([`super::emit`]).
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
pub fn write_findings<W: std::io::Write>(findings: &[Finding], out: &mut W) -> std::io::Result<()> {
    for f in findings {
        let record = Typed {
            kind: Kind::Finding,
            value: f,
        };
        serde_json::to_writer(&mut *out, &record).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A value as a compact JSON Lines record of its kind (no newline).
pub fn typed<T: Serialize>(kind: Kind, value: &T) -> Result<String> {
    line(&Typed { kind, value })
}

/// One value as a compact JSON line (no newline).
pub fn line<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}
