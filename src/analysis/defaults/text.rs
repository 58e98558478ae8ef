//! How numbers read in the fix: seconds for measurements, whole units for
//! targets, and the template filling for snippets and row texts. One place,
//! so the server and proxy sides print a value the same way.

/// Measured seconds with three decimals, the way the fix texts print them:
/// two would round a 6.001 s close and a 5.997 s reuse to the same value.
pub(super) use crate::units::secs;

/// Seconds with two decimals for configured values and the candidates'
/// notes (`6.00 s: Node.js …`), which name a setting, not a measurement.
pub(super) use crate::units::secs_2;

/// A duration as configuration files take it: `5s`, `750ms`.
pub(super) fn dur(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A duration for prose: `65 s`, `150 ms`.
pub(super) fn human(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// A default for prose: `1 h` for whole hours, else as [`human`].
pub(super) fn human_default(ms: u64) -> String {
    if ms >= 3_600_000 && ms.is_multiple_of(3_600_000) {
        format!("{} h", ms / 3_600_000)
    } else {
        human(ms)
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(super) fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Fills a snippet template with a value in ms.
pub(super) fn fill(template: &str, ms: u64) -> String {
    let s = if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        format!("{}", ms as f64 / 1000.0)
    };
    template
        .replace("{ms}", &ms.to_string())
        .replace("{s}", &s)
        .replace("{dur}", &dur(ms))
}
