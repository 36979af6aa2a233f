//! Enough of Rust's lexer to find module paths: tokens without comments and
//! literals, and the leaves of a `use` tree.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A name.
    Ident(String),
    /// `::`
    Sep,
    /// Any other character that matters.
    Punct(char),
}

/// Rust source as tokens with their line numbers, without comments, string, char and
/// number literals (enough of Rust's lexer to find paths).
pub(super) fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let ident_start = |ch: char| ch.is_alphabetic() || ch == '_';
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    // Skips a quoted literal opened at `i` (on the quote); `raw` counts the `#`s of a
    // raw string (None: escapes apply). Returns the index after the closing quote.
    let skip_quoted = |mut i: usize, raw: Option<usize>, line: &mut usize| -> usize {
        i += 1;
        while i < c.len() {
            match (c[i], raw) {
                ('\n', _) => *line += 1,
                ('\\', None) => {
                    if c.get(i + 1) == Some(&'\n') {
                        *line += 1;
                    }
                    i += 1;
                }
                ('"', None) => return i + 1,
                ('"', Some(n)) if (1..=n).all(|k| c.get(i + k) == Some(&'#')) => return i + 1 + n,
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_quoted(i, None, &mut line);
        } else if (ch == 'r' || (ch == 'b' && next == Some('r'))) && {
            // A raw (byte) string: r"..", r#".."#, br"..".
            let j = if ch == 'b' { i + 2 } else { i + 1 };
            let hashes = c[j.min(c.len())..].iter().take_while(|&&h| h == '#').count();
            c.get(j + hashes) == Some(&'"') && (i == 0 || !ident_char(c[i - 1]))
        } {
            let j = if ch == 'b' { i + 2 } else { i + 1 };
            let hashes = c[j..].iter().take_while(|&&h| h == '#').count();
            i = skip_quoted(j + hashes, Some(hashes), &mut line);
        } else if ch == 'b' && next == Some('"') {
            i = skip_quoted(i + 1, None, &mut line);
        } else if ch == 'b' && next == Some('\'') {
            i += 1; // a byte literal: read on as a char literal
        } else if ch == '\'' {
            // A char literal ('a', '\n', '\u{1F}') or a lifetime ('a, 'static).
            if next == Some('\\') {
                i += 3; // past the backslash and the escaped char (`'\''`)
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch == 'r' && next == Some('#') && c.get(i + 2).is_some_and(|&h| ident_start(h)) {
            i += 2; // a raw identifier: read on as the identifier
        } else if ident_start(ch) {
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch.is_ascii_digit() {
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
        } else if ch == ':' && next == Some(':') {
            out.push((Tok::Sep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

pub(super) fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

/// The leaves of the use tree starting at `toks[*i]`, each as (segments, the name it
/// brings in, line); `*i` ends on the closing `;` or `}` or `,`.
pub(super) fn use_tree(
    toks: &[(Tok, usize)],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, String, usize)>,
) {
    let mut path = prefix.to_vec();
    while let Some((t, line)) = toks.get(*i) {
        match t {
            Tok::Ident(s) if s == "as" => {
                *i += 1;
                let alias = ident(toks.get(*i)).unwrap_or("_").to_owned();
                out.push((path.clone(), alias, *line));
                *i += 1;
                return;
            }
            Tok::Ident(s) if s == "self" && path.len() > prefix.len() => {
                *i += 1; // `x::self` does not occur; read on
            }
            Tok::Ident(s) if s == "self" && !prefix.is_empty() => {
                // `{self, ..}`: the prefix itself.
                let name = prefix.last().cloned().unwrap_or_default();
                *i += 1;
                if ident(toks.get(*i)) == Some("as") {
                    continue;
                }
                out.push((path.clone(), name, *line));
                return;
            }
            Tok::Ident(s) => {
                path.push(s.clone());
                *i += 1;
            }
            Tok::Sep => *i += 1,
            Tok::Punct('{') => {
                *i += 1;
                loop {
                    use_tree(toks, i, &path, out);
                    match toks.get(*i) {
                        Some((Tok::Punct(','), _)) => *i += 1,
                        Some((Tok::Punct('}'), _)) => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                    if matches!(toks.get(*i), Some((Tok::Punct('}'), _))) {
                        *i += 1;
                        return;
                    }
                }
            }
            Tok::Punct('*') => {
                out.push((path.clone(), "*".into(), *line));
                *i += 1;
                return;
            }
            Tok::Punct(_) => {
                if path.len() > prefix.len() {
                    let name = path.last().cloned().unwrap_or_default();
                    out.push((path.clone(), name, *line));
                }
                return;
            }
        }
    }
}
