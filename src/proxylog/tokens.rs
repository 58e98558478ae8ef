//! Splits an access-log line into fields the way the proxies write them:
//! `"…"` quoted (with `\"` inside, as Envoy and nginx escape it), `[…]`
//! bracketed (times), `{…}` braced (HAProxy's captured headers), and
//! everything else separated by spaces.

/// One field and how it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Bare(&'a str),
    Quoted(&'a str),
    Bracketed(&'a str),
    Braced(&'a str),
}

impl<'a> Token<'a> {
    /// The text inside the delimiters.
    pub fn text(self) -> &'a str {
        match self {
            Token::Bare(s) | Token::Quoted(s) | Token::Bracketed(s) | Token::Braced(s) => s,
        }
    }
}

/// The fields of a line; `None` when a quote or bracket is never closed.
pub fn split(line: &str) -> Option<Vec<Token<'_>>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if j >= b.len() {
                    return None;
                }
                out.push(Token::Quoted(&line[start..j]));
                i = j + 1;
            }
            open @ (b'[' | b'{') => {
                let close = if open == b'[' { b']' } else { b'}' };
                let start = i + 1;
                let j = start + b[start..].iter().position(|&c| c == close)?;
                let s = &line[start..j];
                out.push(if open == b'[' {
                    Token::Bracketed(s)
                } else {
                    Token::Braced(s)
                });
                i = j + 1;
            }
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
                out.push(Token::Bare(&line[start..i]));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_split_kinds() {
        let t =
            split(r#"[2020-09-14T07:00:25.505Z] "GET / HTTP/2" 503 {a|b} "x \"y\" z""#).unwrap();
        assert_eq!(
            t,
            vec![
                Token::Bracketed("2020-09-14T07:00:25.505Z"),
                Token::Quoted("GET / HTTP/2"),
                Token::Bare("503"),
                Token::Braced("a|b"),
                Token::Quoted(r#"x \"y\" z"#),
            ]
        );
    }

    #[test]
    fn test_split_unclosed() {
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split("[abc"), None);
        // A backslash at the very end must not step past the line.
        assert_eq!(split("\"\\"), None);
    }
}
