//! Units, converted in one place. The analysis works in integer nanoseconds
//! (packet timestamps and the gaps between them); the JSON report carries
//! times as RFC 3339 strings and durations as milliseconds with microsecond
//! precision; people read seconds. Every conversion between those is here,
//! so the same number never prints two ways by accident.

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
        f.write_str(Rfc3339::of(self.0).as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Rfc3339::of(self.0).as_str())
    }
}

/// RFC 3339 in UTC with nanoseconds, written into a buffer of its own:
/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, always 30 bytes (an `i64` of
/// nanoseconds spans the years 1677 to 2262). A report holds several
/// timestamps per finding, 80 000 on a capture with 10 000 findings;
/// through chrono's formatting each cost some 1 300 instructions and an
/// allocation, here about a fifth (docs/performance.md).
struct Rfc3339([u8; 30]);

impl Rfc3339 {
    fn of(ns: i64) -> Rfc3339 {
        let secs = ns.div_euclid(NS_PER_S);
        let nanos = ns.rem_euclid(NS_PER_S) as u32;
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let mut b = *b"0000-00-00T00:00:00.000000000Z";
        digits(&mut b[0..4], year as u32);
        digits(&mut b[5..7], month);
        digits(&mut b[8..10], day);
        digits(&mut b[11..13], tod / 3600);
        digits(&mut b[14..16], tod / 60 % 60);
        digits(&mut b[17..19], tod % 60);
        digits(&mut b[20..29], nanos);
        Rfc3339(b)
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// Writes `v` in decimal into all of `out`, zero-padded on the left.
fn digits(out: &mut [u8], mut v: u32) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, which counts in 400-year eras from
/// 0000-03-01 so that the leap day ends each year).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    Rfc3339::of(ns).as_str().to_string()
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
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(rfc3339(i64::MAX), "2262-04-11T23:47:16.854775807Z");
        // 2000-02-29 and 2100-03-01: the leap rules of 400 and 100 years.
        assert_eq!(
            rfc3339(951_782_400 * NS_PER_S),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            rfc3339(4_107_542_400 * NS_PER_S),
            "2100-03-01T00:00:00.000000000Z"
        );
    }

    proptest::proptest! {
        /// The formatter writes what chrono does, for every i64.
        #[test]
        fn prop_rfc3339_is_chronos(ns in proptest::num::i64::ANY) {
            let chrono = chrono::DateTime::from_timestamp_nanos(ns)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            proptest::prop_assert_eq!(rfc3339(ns), chrono);
        }
    }
}
