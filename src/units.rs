//! Units, converted in one place. The analysis works in integer nanoseconds
//! (packet timestamps and the gaps between them); the JSON report carries
//! times as RFC 3339 strings and durations as milliseconds with microsecond
//! precision; people read seconds. Every conversion between those is here,
//! so the same number never prints two ways by accident.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

/// Nanoseconds in a millisecond.
pub const NS_PER_MS: i64 = 1_000_000;
/// Nanoseconds in a second.
pub const NS_PER_S: i64 = 1_000_000_000;

/// A moment: nanoseconds since the Unix epoch (a packet's timestamp).
/// Serialised as RFC 3339 in UTC with nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// RFC 3339 in UTC with nanoseconds, e.g. `2026-11-26T17:56:21.123456789Z`.
    pub fn rfc3339(self) -> String {
        rfc3339(self.0)
    }

    /// The time of day with nanoseconds, e.g. `17:56:21.123456789` (for
    /// tables, whose header already gives the date).
    pub fn time_of_day(self) -> String {
        let s = self.rfc3339();
        match s.split_once('T') {
            Some((_, t)) => t.trim_end_matches('Z').to_string(),
            None => s,
        }
    }

    /// The time of day to the millisecond, e.g. `17:56:21.123` (for
    /// sentences; the tables keep the nanoseconds).
    pub fn time_of_day_ms(self) -> String {
        let t = self.time_of_day();
        match t.find('.') {
            Some(dot) => t[..(dot + 4).min(t.len())].to_string(),
            None => t,
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

/// A length of time, held in nanoseconds; reported in milliseconds with
/// microsecond precision (the report's `*_ms` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl Millis {
    /// Milliseconds, rounded to the microsecond.
    pub fn ms(self) -> f64 {
        ms(self.0)
    }
}

impl Serialize for Millis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.ms())
    }
}

/// RFC 3339 in UTC with nanoseconds, from nanoseconds since the epoch.
pub fn rfc3339(ns: i64) -> String {
    DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Milliseconds with microsecond precision, from nanoseconds.
pub fn ms(ns: i64) -> f64 {
    (ns as f64 / 1000.0).round() / 1000.0
}

/// Seconds with millisecond precision, from nanoseconds (the capture's span).
pub fn seconds(ns: i64) -> f64 {
    (ns as f64 / 1e6).round() / 1e3
}

/// Seconds for people, to the millisecond: `3.001 s` (tables and headlines,
/// where the overlap of two timeouts must stay visible).
pub fn secs(ms: f64) -> String {
    format!("{:.3} s", ms / 1000.0)
}

/// Seconds for people, to 10 ms: `3.00 s` (the defaults table's notes and
/// the fix texts, which name configured values).
pub fn secs_2(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

/// A gap for people: short ones in ms (a crossed race is a fraction of an
/// RTT), long ones in seconds.
pub fn gap(ms: f64) -> String {
    if ms.abs() < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        secs(ms)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_units() {
        assert_eq!(ms(3_001_234_567), 3001.235);
        assert_eq!(Millis(1_500).ms(), 0.002);
        assert_eq!(seconds(34_032_767_000), 34.033);
        assert_eq!(secs(3001.2), "3.001 s");
        assert_eq!(secs_2(3001.2), "3.00 s");
        assert_eq!(gap(0.84), "0.8 ms");
        assert_eq!(gap(-1200.0), "-1.200 s");
        let t = Timestamp(1_764_180_311_333_077_000);
        assert_eq!(t.rfc3339(), "2025-11-26T18:05:11.333077000Z");
        assert_eq!(t.time_of_day(), "18:05:11.333077000");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2025-11-26T18:05:11.333077000Z\""
        );
    }
}
