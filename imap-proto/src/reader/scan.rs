//! Line scanning for the reader: parenthesis depth outside quoted strings,
//! and the literal header (`{n}`, `{n+}`, `~{n}`) that may end a line.

use crate::cursor::MAX_NUMBER64;

/// How many trailing bytes of a skipped line are kept to spot a literal
/// header (enough for `~{` + 19 digits + `+}` CRLF).
pub(crate) const TAIL: usize = 32;

/// A literal header at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LiteralHeader {
    /// The announced size.
    pub size: u64,
    /// `{n+}`.
    pub non_sync: bool,
    /// `~{n}`.
    pub binary: bool,
    /// Offset of `{` (or of `~`) in the scanned bytes.
    pub start: usize,
}

/// What ends a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnd {
    /// No literal header: the command ends here (if nothing is pending).
    Plain,
    /// A literal follows.
    Literal(LiteralHeader),
    /// A header whose size does not fit in a number64.
    BadSize,
}

/// Scans a line (CRLF included) for parentheses outside quoted strings,
/// updating `depth`. Returns the deepest level reached and whether the
/// line ended inside a quoted string.
pub(crate) fn scan_depth(line: &[u8], depth: &mut usize) -> (usize, bool) {
    let mut max = *depth;
    let mut pos = 0;
    loop {
        // Outside a quoted string: jump to the next quote or parenthesis.
        let Some(i) = memchr::memchr3(b'"', b'(', b')', &line[pos..]) else {
            return (max, false);
        };
        pos += i;
        match line[pos] {
            b'(' => {
                *depth += 1;
                max = max.max(*depth);
            }
            b')' => *depth = depth.saturating_sub(1),
            _ => {
                // Inside: jump to the closing quote, skipping escapes.
                loop {
                    pos += 1;
                    let Some(j) = memchr::memchr2(b'"', b'\\', &line[pos..]) else {
                        return (max, true);
                    };
                    pos += j;
                    if line[pos] == b'"' {
                        break;
                    }
                    pos += 1;
                    if pos >= line.len() {
                        return (max, true);
                    }
                }
            }
        }
        pos += 1;
    }
}

/// The literal header that ends `line` (which must end with CRLF to have
/// one).
pub(crate) fn line_end(line: &[u8]) -> LineEnd {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return LineEnd::Plain;
    };
    let Some(inner) = body.strip_suffix(b"}") else {
        return LineEnd::Plain;
    };
    let Some(open) = memchr::memrchr(b'{', inner) else {
        return LineEnd::Plain;
    };
    let mut digits = &inner[open + 1..];
    let non_sync = digits.last() == Some(&b'+');
    if non_sync {
        digits = &digits[..digits.len() - 1];
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return LineEnd::Plain;
    }
    let mut size: u64 = 0;
    for &d in digits {
        match size
            .checked_mul(10)
            .and_then(|s| s.checked_add(u64::from(d - b'0')))
        {
            Some(s) if s <= MAX_NUMBER64 => size = s,
            _ => return LineEnd::BadSize,
        }
    }
    let binary = open > 0 && inner[open - 1] == b'~';
    LineEnd::Literal(LiteralHeader {
        size,
        non_sync,
        binary,
        start: if binary { open - 1 } else { open },
    })
}

/// The header ending a line, judged from its last [`TAIL`] bytes only, as
/// for lines that are skipped (so the answer does not depend on how much
/// of a long line was kept).
pub(crate) fn tail_end(line: &[u8]) -> LineEnd {
    line_end(&line[line.len().saturating_sub(TAIL)..])
}

/// Appends `more` to `tail`, keeping its last [`TAIL`] bytes.
pub(crate) fn push_tail(tail: &mut Vec<u8>, more: &[u8]) {
    let keep = &more[more.len().saturating_sub(TAIL)..];
    tail.extend_from_slice(keep);
    if tail.len() > TAIL {
        tail.drain(..tail.len() - TAIL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_headers() {
        let lit = |size, non_sync, binary, start| {
            LineEnd::Literal(LiteralHeader {
                size,
                non_sync,
                binary,
                start,
            })
        };
        assert_eq!(line_end(b"A LOGIN {5}\r\n"), lit(5, false, false, 8));
        assert_eq!(line_end(b"A LOGIN {5+}\r\n"), lit(5, true, false, 8));
        assert_eq!(line_end(b"A X ~{0}\r\n"), lit(0, false, true, 4));
        assert_eq!(line_end(b"A LOGIN {5}\n"), LineEnd::Plain);
        assert_eq!(line_end(b"A LOGIN {}\r\n"), LineEnd::Plain);
        assert_eq!(line_end(b"A LOGIN {5-}\r\n"), LineEnd::Plain);
        assert_eq!(line_end(b"A LOGIN {x}\r\n"), LineEnd::Plain);
        assert_eq!(line_end(b"A X {9223372036854775808}\r\n"), LineEnd::BadSize);
    }

    #[test]
    fn depth_ignores_quoted_parens() {
        let mut depth = 0;
        assert_eq!(
            scan_depth(b"A (a \"(\\\"((\" (b)\r\n", &mut depth),
            (2, false)
        );
        assert_eq!(depth, 1);
        assert_eq!(scan_depth(b") \"open\r\n", &mut depth), (1, true));
        assert_eq!(depth, 0);
    }

    #[test]
    fn tails_keep_the_last_bytes() {
        let mut tail = Vec::new();
        push_tail(&mut tail, &[b'a'; 100]);
        push_tail(&mut tail, b" {12+}\r\n");
        assert_eq!(tail.len(), TAIL);
        assert!(matches!(line_end(&tail), LineEnd::Literal(h) if h.size == 12 && h.non_sync));
    }
}

#[cfg(test)]
mod scan_depth_tests {
    use super::scan_depth;
    use proptest::prelude::*;

    /// The byte-at-a-time definition that `scan_depth` must agree with.
    fn reference(line: &[u8], depth: &mut usize) -> (usize, bool) {
        let mut max = *depth;
        let (mut in_quote, mut escaped) = (false, false);
        for &b in line {
            if in_quote {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_quote = false;
                }
                continue;
            }
            match b {
                b'"' => in_quote = true,
                b'(' => {
                    *depth += 1;
                    max = max.max(*depth);
                }
                b')' => *depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        (max, in_quote)
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(
            line in proptest::collection::vec(prop::sample::select(b"ab\"\\() \r\n".to_vec()), 0..64),
            start in 0usize..4,
        ) {
            let (mut a, mut b) = (start, start);
            prop_assert_eq!(scan_depth(&line, &mut a), reference(&line, &mut b));
            prop_assert_eq!(a, b);
        }
    }
}
