//! Undoing Asterisk's C-escaping of caller names (Asterisk 13.5+).

use std::borrow::Cow;

/// Undoes the C-escaping Asterisk applies to `CallerIDName`, `ConnectedLineName` and
/// channel variable values: `\"` `\\` `\n` `\r` `\t` `\a` `\b` `\f` `\v` `\'` `\?`.
/// An unknown escape keeps both characters; a trailing lone `\` is kept.
///
/// ```
/// use ami_parking::unescape_c;
/// assert_eq!(unescape_c(r#"Say \"hi\""#), r#"Say "hi""#);
/// assert_eq!(unescape_c(r"a\\b"), r"a\b");
/// assert_eq!(unescape_c("plain"), "plain");
/// ```
pub fn unescape_c(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('?') => out.push('?'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape_c(r"\n\t\a\b\f\v\'\?"), "\n\t\u{7}\u{8}\u{c}\u{b}'?");
        assert_eq!(unescape_c(r"x\q"), r"x\q");
        assert_eq!(unescape_c("end\\"), "end\\");
    }
}
