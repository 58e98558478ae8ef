//! Enums whose variants have stable names in reports (verdicts, race kinds,
//! skip reasons, roles). One declaration gives the enum, the list of every
//! variant, the name of each and its serialisation as that name, so that a
//! new variant is one line and cannot be missing from `ALL` (counts are kept
//! in arrays indexed by variant: a variant missing there would panic).

/// Declares a fieldless enum whose every variant has a stable name:
///
/// ```ignore
/// named_enum! {
///     /// Doc of the enum.
///     pub enum Kind {
///         /// Doc of the variant.
///         Crossed => "crossed",
///     }
/// }
/// ```
///
/// gives `Kind::ALL` (every variant, in declaration order), `Kind::COUNT`,
/// `kind.name()`, `kind.index()` (its place in `ALL`), `Display` and
/// `Serialize` as the name.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order (the report's order).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// How many variants there are (the length of per-variant arrays).
            pub const COUNT: usize = Self::ALL.len();

            /// The stable name used in tables and JSON.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The variant's place in [`Self::ALL`], for per-variant arrays.
            pub const fn index(self) -> usize {
                self as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod test {
    named_enum! {
        /// A test enum.
        enum Example {
            /// First.
            One => "one",
            /// Second.
            Two => "two_words",
        }
    }

    #[test]
    fn test_all_names_and_indexes() {
        assert_eq!(Example::COUNT, 2);
        for (i, v) in Example::ALL.iter().enumerate() {
            assert_eq!(v.index(), i);
        }
        assert_eq!(Example::Two.name(), "two_words");
        assert_eq!(Example::One.to_string(), "one");
        assert_eq!(
            serde_json::to_string(&Example::Two).unwrap(),
            "\"two_words\""
        );
    }
}
