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
    names(
        template,
        &[("{ms}", &ms.to_string()), ("{s}", &s), ("{dur}", &dur(ms))],
    )
}

/// Fills the placeholders of `template` (`("{value}", "5 s")`, ...) in one
/// pass. The values are never read again for placeholders, so a knob whose
/// own text holds braces is kept as it is. (A chain of `str::replace`
/// said the same at a copy and a search of the whole text per placeholder:
/// some 20 000 instructions per proxy step of the fix, 1 000 servers of a
/// report at a time.)
pub(super) fn names(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match values.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &rest[name.len()..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod test {
    use super::names;

    #[test]
    fn test_names_fills_each_placeholder_and_keeps_the_rest() {
        let vars = [("{value}", "5 s"), ("{knob}", "a {value} b")];
        assert_eq!(
            names("set {knob} to {value}; {other} {", &vars),
            "set a {value} b to 5 s; {other} {"
        );
        assert_eq!(names("", &vars), "");
        assert_eq!(names("{{value}}", &vars), "{5 s}");
    }

    /// Every template of the defaults table fills as the chain of
    /// `str::replace` filled it, with every kind of value a fix puts in
    /// (an empty default among them).
    #[test]
    fn test_names_fills_the_tables_templates_as_the_chain() {
        use crate::analysis::defaults::table::{PROXIES, SERVERS};
        // The chain of `str::replace`, in the order of `values`.
        let same = |template: &str, values: &[(&str, &str)], row: &str| {
            let chain = values
                .iter()
                .fold(template.to_string(), |t, (name, v)| t.replace(name, v));
            assert_eq!(names(template, values), chain, "{row}");
        };
        let values = ["", "5 s", "750 ms", "1 h", "4.999 s", "a {value} b"];
        for row in PROXIES.iter().chain(SERVERS) {
            for v in values {
                for k in [row.knob, "x {knob}"] {
                    if let Some(step) = row.proxy_step {
                        let vars = [
                            ("{value}", v),
                            ("{default}", v),
                            ("{server}", v),
                            ("{knob}", k),
                        ];
                        same(step.text, &vars, row.software);
                    }
                }
                same(
                    row.snippet,
                    &[("{ms}", v), ("{s}", v), ("{dur}", v)],
                    row.software,
                );
                if let Some(adv) = row.advertises {
                    let vars = [
                        ("{close}", v),
                        ("{configured}", v),
                        ("{buffer}", v),
                        ("{header}", v),
                    ];
                    same(adv.note, &vars, row.software);
                }
            }
        }
    }

    proptest::proptest! {
        /// One pass says what the chain of `str::replace` it replaced said,
        /// for values without braces but the last, and not empty: an empty
        /// value can join the text around it into a placeholder the chain
        /// fills and one pass does not (`{{a}bb}`). The table's templates
        /// hold no such joint (the test above).
        #[test]
        fn prop_names_is_the_replace_chain(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec!["{a}", "{bb}", "{k}", "{", "}", "a", "bb", "{a", " "]),
                0..16,
            ),
            a in "[0-9 s]{1,4}",
            b in "[0-9 ms]{1,4}",
            last in "[{}a-z]{0,6}",
        ) {
            let template = pieces.concat();
            let chain = template
                .replace("{a}", &a)
                .replace("{bb}", &b)
                .replace("{k}", &last);
            let vars = [("{a}", a.as_str()), ("{bb}", b.as_str()), ("{k}", last.as_str())];
            proptest::prop_assert_eq!(names(&template, &vars), chain);
        }
    }
}
