//! JSON for machines: the whole report as one pretty document
//! (docs/report-schema.md), or JSON Lines: one compact object per line,
//! each with a `type` (`finding`, `report`) so that a log pipeline can tell
//! a finding from the live capture's closing report without guessing from
//! the fields (issue 25).

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use racecap::report::{Finding, Report};

/// The report as one JSON document, written as it is serialised
/// ([`super::emit`]).
pub fn write_document<W: Write>(report: &Report, out: &mut W) -> io::Result<()> {
    pretty(report, &mut *out)?;
    out.write_all(b"\n")
}

/// `value` as `serde_json::to_writer_pretty` writes it, through [`Pretty`].
fn pretty<T: Serialize + ?Sized, W: Write>(value: &T, out: &mut W) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Pretty::default());
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// serde_json's `PrettyFormatter` (two spaces a level), writing each line
/// break with its indentation in one piece. The `PrettyFormatter` writes
/// the indentation two spaces at a time, one buffered write each, and a
/// large report's 1.7 million keys sit several levels deep (issue 22: the
/// real mix's JSON took 364 M instructions, 304 M this way).
/// `test_pretty_is_serde_jsons` holds it to serde_json's bytes.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

/// A line break after a comma, and the indentation of [`Pretty::DEEP`] levels.
const BREAK: &[u8; 2 + 2 * Pretty::DEEP] = &{
    let mut b = [b' '; 2 + 2 * Pretty::DEEP];
    b[0] = b',';
    b[1] = b'\n';
    b
};

impl Pretty {
    /// Levels written in one piece (a report reaches six).
    const DEEP: usize = 32;

    /// A line break (after a comma unless `first`) and the indentation.
    fn line<W: ?Sized + Write>(&self, w: &mut W, first: bool) -> io::Result<()> {
        let from = usize::from(first);
        if self.depth <= Self::DEEP {
            return w.write_all(&BREAK[from..2 + 2 * self.depth]);
        }
        w.write_all(&BREAK[from..2])?;
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// An array or an object begins: one level deeper, nothing in it yet.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// It ends: on a line of its own unless it was empty (`[]`, `{}`).
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.line(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.line(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
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
pub fn write_findings<W: Write>(findings: &[Finding], out: &mut W) -> io::Result<()> {
    for f in findings {
        let record = Typed {
            kind: Kind::Finding,
            value: f,
        };
        serde_json::to_writer(&mut *out, &record).map_err(io::Error::from)?;
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

#[cfg(test)]
mod test {
    use super::pretty;

    /// [`super::Pretty`] writes serde_json's pretty bytes: empty and
    /// nested arrays and objects, and nesting past the levels it writes
    /// in one piece.
    #[test]
    fn test_pretty_is_serde_jsons() {
        let mut deep = serde_json::json!({"leaf": [1, {}, []]});
        for i in 0..40 {
            deep = if i % 2 == 0 {
                serde_json::json!([deep, {"k": i}, [], {}])
            } else {
                serde_json::json!({"a": deep, "b": [], "c": {}, "d": "x\n\"y\""})
            };
        }
        for v in [
            serde_json::json!(null),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!({"a": [], "b": {}, "c": [[]], "d": [{}], "e": 1.5}),
            serde_json::json!({"k\"ey\n": "v\"al", "": "", "x": {"": {"y": "\u{1}"}}}),
            deep,
        ] {
            let mut ours = Vec::new();
            pretty(&v, &mut ours).unwrap();
            let theirs = serde_json::to_string_pretty(&v).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), theirs);
        }
        // Keys that are numbers (quoted as keys), and a struct.
        let numbered: std::collections::BTreeMap<u16, Vec<u8>> =
            [(80, vec![]), (443, vec![1, 2])].into_iter().collect();
        let mut ours = Vec::new();
        pretty(&numbered, &mut ours).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string_pretty(&numbered).unwrap()
        );
    }
}
