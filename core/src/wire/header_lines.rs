//! A raw message's header lines: where each line ends and where its first colon is.
//!
//! In CRLF mode (what Asterisk sends) only `\r\n` ends a line, and a line is read 32
//! bytes at a time with vector compares (`wide`); in LF mode (which Asterisk accepts)
//! `\n` ends it, found eight bytes at a time in a word. [`super::ami_codec`] frames the
//! messages and decides the [`LineMode`]; this module only cuts one into its headers.

use wide::u8x32;

/// How lines end on this connection; decided by the first line end seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineMode {
    /// Not known yet.
    #[default]
    Unknown,
    /// `\r\n` ends a line; a bare `\n` is part of a value (Asterisk's `Park successful\n`).
    Crlf,
    /// `\n` ends a line (a trailing `\r` is dropped); Asterisk accepts such input too.
    Lf,
}

/// Iterator over a [`RawMessage`](super::ami_codec::RawMessage)'s headers.
///
/// In CRLF mode a line is read 32 bytes at a time from its start (most header lines
/// fit in one), its `\n`s and its `:`s found together in each (vector compares and
/// their masks: two SSE2 compares each on x86-64), and `next` is small enough to be
/// inlined into the loop that reads the headers (the header scan of every live event
/// and every list item).
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    data: &'a [u8],
    /// Where the next line starts.
    start: usize,
    mode: LineMode,
}

/// Where the `\n`s and the `:`s are among the 32 bytes at `at` (zero-padded past the
/// end): bit `i` of each mask is byte `at + i`.
#[inline(always)]
fn masks32(data: &[u8], at: usize) -> (u32, u32) {
    let chunk: [u8; 32] = match data.get(at..at.saturating_add(32)) {
        Some(c) => c.try_into().unwrap_or([0; 32]),
        None => {
            let mut c = [0u8; 32];
            let tail = data.get(at..).unwrap_or_default();
            c[..tail.len()].copy_from_slice(tail);
            c
        }
    };
    let v = u8x32::from(chunk);
    let mask = |b: u8| v.simd_eq(u8x32::splat(b)).to_bitmask();
    (mask(b'\n'), mask(b':'))
}

impl<'a> Headers<'a> {
    pub(super) fn new(data: &'a [u8], mode: LineMode) -> Self {
        Self { data, start: 0, mode }
    }

    /// The next non-empty line in CRLF mode (only `\r\n` ends a line), and the place
    /// of its first `:` in it.
    #[inline(always)]
    fn next_crlf_line(&mut self) -> Option<(&'a [u8], Option<usize>)> {
        let data = self.data;
        'line: loop {
            let start = self.start;
            if start >= data.len() {
                return None;
            }
            let mut colon = None;
            let mut at = start;
            while at < data.len() {
                let (mut newlines, colons) = masks32(data, at);
                if colon.is_none() && colons != 0 {
                    colon = Some(at + colons.trailing_zeros() as usize - start);
                }
                while newlines != 0 {
                    let end = at + newlines.trailing_zeros() as usize;
                    newlines &= newlines - 1;
                    // A `\n` at the line's start ends no line (the byte before it ended
                    // the last one).
                    if end > start && data[end - 1] == b'\r' {
                        self.start = end + 1;
                        let line = &data[start..end - 1];
                        if line.is_empty() {
                            continue 'line;
                        }
                        return Some((line, colon.filter(|&c| c < line.len())));
                    }
                }
                at += 32;
            }
            self.start = data.len();
            return Some((&data[start..], colon));
        }
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (line, colon) = match self.mode {
            LineMode::Lf => loop {
                let rest = self.data.get(self.start..).filter(|r| !r.is_empty())?;
                let (line, after) = split_lf_line(rest);
                self.start = self.data.len() - after.len();
                if !line.is_empty() {
                    break (line, find(b':', line));
                }
            },
            _ => self.next_crlf_line()?,
        };
        Some(match colon {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..0], line),
        })
    }
}

/// The first `b` in `data`. Header names and most lines are short, and a call to
/// memchr costs more than it saves there: the first 64 bytes are searched eight at
/// a time in a word (the lowest byte equal to `b` sets the lowest flag bit), the
/// rest with memchr.
#[inline]
fn find(b: u8, data: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const WORDS: usize = 8;
    let pattern = LO * u64::from(b);
    let mut i = 0;
    for chunk in data.chunks_exact(8).take(WORDS) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ pattern;
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i == 8 * WORDS {
        return memchr::memchr(b, &data[i..]).map(|j| i + j);
    }
    data[i..].iter().position(|&c| c == b).map(|j| i + j)
}

/// Splits off the first line in LF mode (`\n` ends it; a `\r` before it is dropped).
fn split_lf_line(data: &[u8]) -> (&[u8], &[u8]) {
    match find(b'\n', data) {
        Some(i) => {
            let line = &data[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), &data[i + 1..])
        }
        None => (data.strip_suffix(b"\r").unwrap_or(data), &data[data.len()..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_agrees_with_memchr_at_every_length_and_place() {
        for len in 0..150 {
            for at in 0..=len {
                let mut data = vec![b'a'; len];
                data.iter_mut().skip(at + 1).step_by(3).for_each(|c| *c = 0xff);
                if at < len {
                    data[at] = b':';
                }
                data.iter_mut().take(at).step_by(5).for_each(|c| *c = b';');
                assert_eq!(find(b':', &data), memchr::memchr(b':', &data), "{len} {at}");
            }
        }
    }

    /// The first line in CRLF mode by plain searches: the first `\n` after a `\r`.
    fn split_crlf_line(data: &[u8]) -> (&[u8], &[u8]) {
        let mut from = 0;
        while let Some(i) = find(b'\n', &data[from..]) {
            let at = from + i;
            if at > 0 && data[at - 1] == b'\r' {
                return (&data[..at - 1], &data[at + 1..]);
            }
            from = at + 1;
        }
        (data, &data[data.len()..])
    }

    /// The headers as the two plain searches find them: each line (`split_crlf_line`
    /// or `split_lf_line`), then its first colon (`find`), empty lines skipped.
    fn headers_by_line(data: &[u8], mode: LineMode) -> Vec<(&[u8], &[u8])> {
        let (mut rest, mut out) = (data, Vec::new());
        while !rest.is_empty() {
            let (line, after) =
                if mode == LineMode::Lf { split_lf_line(rest) } else { split_crlf_line(rest) };
            rest = after;
            if line.is_empty() {
                continue;
            }
            out.push(match find(b':', line) {
                Some(i) => (&line[..i], line[i + 1..].strip_prefix(b" ").unwrap_or(&line[i + 1..])),
                None => (&line[..0], line),
            });
        }
        out
    }

    #[test]
    fn the_one_pass_header_walk_equals_the_line_by_line_searches() {
        // Random strings of the bytes that matter (`:`, `\r`, `\n`), their neighbours
        // and others (0x0b, `;`, space, tab, 0x00, 0xff), of 0 to 100 bytes: up to four
        // 32-byte chunks.
        let alphabet = [b':', b'\r', b'\n', b'a', 0x0b, b';', b' ', 0x09, 0x00, 0xff];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut cases: Vec<Vec<u8>> = (0..40_000usize)
            .map(|case| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = (seed % 101) as usize;
                (0..len)
                    .map(|k| alphabet[((seed >> (k % 21 * 3)) as usize + k * case) % alphabet.len()])
                    .collect()
            })
            .collect();
        // Every place of a line end, a colon and a bare `\r` or `\n` around the chunk
        // edges (31, 32, 63, 64), and a colon only after the line end.
        let endings: [&[u8]; 9] = [
            b"\r\n",
            b":\r\n",
            b"\r:\n\r\n",
            b"\n\r\n",
            b"\r\r\n:",
            b"a\r\nb:c",
            b":",
            b"\r",
            b"\r\nk: v\r\n",
        ];
        for n in 0..=70 {
            for end in endings {
                for filler in [b'a', b'\n', b'\r', b':'] {
                    let mut data = vec![filler; n];
                    data.extend_from_slice(end);
                    cases.push(data);
                }
            }
        }
        for data in &cases {
            for mode in [LineMode::Crlf, LineMode::Lf] {
                let got: Vec<_> = Headers::new(data, mode).collect();
                assert_eq!(got, headers_by_line(data, mode), "{mode:?} {:?}", String::from_utf8_lossy(data));
            }
        }
    }

    #[test]
    fn a_crlf_line_that_starts_with_a_bare_lf_ends_at_its_crlf() {
        let got: Vec<_> = Headers::new(b"\nab\r\nrest", LineMode::Crlf).collect();
        assert_eq!(got, [(&b""[..], &b"\nab"[..]), (&b""[..], &b"rest"[..])]);
        let got: Vec<_> = Headers::new(b"\n", LineMode::Crlf).collect();
        assert_eq!(got, [(&b""[..], &b"\n"[..])]);
    }
}
