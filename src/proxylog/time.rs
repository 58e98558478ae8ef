//! A log line's time as the log wrote it: the moment, how precise it is
//! (nginx's error log has whole seconds, Envoy milliseconds) and whether
//! the line says its time zone (Envoy's `Z`, nginx's `+0200`) or leaves it
//! to the reader (nginx's error log, HAProxy's accept date: the proxy
//! host's local time). Matching widens its window by the precision and
//! estimates a missing zone from the lines that match uniquely.

use chrono::{DateTime, NaiveDateTime};

use crate::units::NS_PER_S;

/// The time of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogTime {
    /// Nanoseconds since the epoch: in UTC when `zone` is known, else the
    /// wall clock read as if it were UTC.
    pub ns: i64,
    /// The unit of the last digit written (1 s for `18:05:24`, 1 ms for
    /// `.505`): the true moment lies in `[ns, ns + precision_ns)`.
    pub precision_ns: i64,
    /// The zone the line states, seconds east of UTC (already applied to
    /// `ns`); `None` when the line does not say.
    pub zone_s: Option<i32>,
}

/// The unit of the last of `digits` fractional digits.
fn precision(digits: usize) -> i64 {
    let mut p = NS_PER_S;
    for _ in 0..digits.min(9) {
        p /= 10;
    }
    p
}

/// Digits after the decimal point in the first run of `s` that has one.
fn fraction_digits(s: &str) -> usize {
    s.split_once('.')
        .map_or(0, |(_, f)| f.bytes().take_while(u8::is_ascii_digit).count())
}

/// RFC 3339 (Envoy's `%START_TIME%`, nginx's `$time_iso8601`).
pub fn rfc3339(s: &str) -> Option<LogTime> {
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    Some(LogTime {
        ns: t.timestamp_nanos_opt()?,
        precision_ns: precision(fraction_digits(s)),
        zone_s: Some(t.offset().local_minus_utc()),
    })
}

/// Epoch seconds with a fraction (nginx's `$msec`: `1795716324.750`).
pub fn epoch(s: &str) -> Option<LogTime> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let digits = frac.len().min(9);
    let mut frac_ns: i64 = if digits == 0 {
        0
    } else {
        frac[..digits].parse().ok()?
    };
    for _ in digits..9 {
        frac_ns *= 10;
    }
    Some(LogTime {
        ns: secs.checked_mul(NS_PER_S)?.checked_add(frac_ns)?,
        precision_ns: precision(digits),
        zone_s: Some(0),
    })
}

/// A wall-clock time in `fmt` (chrono's syntax) with no zone.
pub fn local(s: &str, fmt: &str) -> Option<LogTime> {
    let t = NaiveDateTime::parse_from_str(s, fmt).ok()?;
    Some(LogTime {
        ns: t.and_utc().timestamp_nanos_opt()?,
        precision_ns: precision(fraction_digits(s.rsplit(':').next().unwrap_or(""))),
        zone_s: None,
    })
}

/// nginx's `$time_local`: `26/Nov/2026:18:05:24 +0000`.
pub fn nginx_local(s: &str) -> Option<LogTime> {
    let t = DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z").ok()?;
    Some(LogTime {
        ns: t.timestamp_nanos_opt()?,
        precision_ns: NS_PER_S,
        zone_s: Some(t.offset().local_minus_utc()),
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_rfc3339_keeps_precision_and_zone() {
        let t = rfc3339("2020-09-14T07:00:25.505Z").unwrap();
        assert_eq!(t.ns, 1_600_066_825_505_000_000);
        assert_eq!(t.precision_ns, 1_000_000);
        assert_eq!(t.zone_s, Some(0));
        let z = rfc3339("2020-09-14T09:00:25.505+02:00").unwrap();
        assert_eq!((z.ns, z.zone_s), (t.ns, Some(7200)));
    }

    #[test]
    fn test_epoch_msec() {
        let t = epoch("1795716324.750").unwrap();
        assert_eq!(t.ns, 1_795_716_324_750_000_000);
        assert_eq!(t.precision_ns, 1_000_000);
        assert_eq!(epoch("17x"), None);
        assert_eq!(epoch("99999999999999999999"), None);
    }

    #[test]
    fn test_local_times_have_no_zone() {
        let e = local("2026/11/26 18:05:24", "%Y/%m/%d %H:%M:%S").unwrap();
        assert_eq!(
            (e.ns, e.precision_ns, e.zone_s),
            (1_795_716_324 * NS_PER_S, NS_PER_S, None)
        );
        let h = local("06/Feb/2009:12:14:14.655", "%d/%b/%Y:%H:%M:%S%.f").unwrap();
        assert_eq!(h.precision_ns, 1_000_000);
        let n = nginx_local("26/Nov/2026:20:05:24 +0200").unwrap();
        assert_eq!((n.ns, n.zone_s), (e.ns, Some(7200)));
    }
}
