//! The parser's primitives: a cursor over one complete command (literal data
//! included) that reads atoms, strings, literals and numbers.

use crate::error::ParseError;
use crate::lex::{is_astring_char, is_atom_char};

/// Largest `number64` (RFC 9051: 0 to 2^63-1).
pub(crate) const MAX_NUMBER64: u64 = i64::MAX as u64;

/// A literal's payload and whether it was a `literal8` (`~{n}`).
pub(crate) struct Literal<'a> {
    pub data: &'a [u8],
    pub binary: bool,
}

/// A position in a complete command.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

/// Classes of bytes inside a quoted string.
const PLAIN: u8 = 0;
/// A byte of a UTF-8 sequence: allowed, but the string must be validated.
const HIGH: u8 = 1;
/// `"`, `\`, NUL, CR or LF: ends the plain run.
const STOP: u8 = 2;

const QUOTED_CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut i = 0x80;
    while i < 256 {
        t[i] = HIGH;
        i += 1;
    }
    t[b'"' as usize] = STOP;
    t[b'\\' as usize] = STOP;
    t[0] = STOP;
    t[b'\r' as usize] = STOP;
    t[b'\n' as usize] = STOP;
    t
};

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], max_depth: usize) -> Self {
        Self {
            buf,
            pos: 0,
            depth: 0,
            max_depth,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to an earlier position.
    pub fn rewind(&mut self, pos: usize) {
        self.pos = pos.min(self.pos);
    }

    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.buf.get(self.pos + n).copied()
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// An error for the current position.
    pub fn err(&self, expected: &'static str) -> ParseError {
        if self.at_end() {
            ParseError::Incomplete { expected }
        } else {
            ParseError::Unexpected {
                offset: self.pos,
                expected,
            }
        }
    }

    /// Enters a nested construct (parenthesized list, NOT, OR).
    pub fn enter(&mut self) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(ParseError::TooDeep {
                limit: self.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, b: u8, expected: &'static str) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    pub fn sp(&mut self) -> Result<()> {
        self.expect(b' ', "SP")
    }

    pub fn crlf(&mut self) -> Result<()> {
        if self.rest().starts_with(b"\r\n") {
            self.pos += 2;
            Ok(())
        } else {
            Err(self.err("CRLF"))
        }
    }

    /// The end of the command: CRLF and nothing after it.
    pub fn finish(&mut self) -> Result<()> {
        self.crlf()?;
        if self.at_end() {
            Ok(())
        } else {
            Err(ParseError::Trailing { offset: self.pos })
        }
    }

    /// Consumes `word` (ASCII, compared case-insensitively) if the input
    /// starts with it.
    pub fn eat_ci(&mut self, word: &[u8]) -> bool {
        let rest = self.rest();
        if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    pub fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !pred(b) {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// `atom`: one or more atom characters.
    pub fn atom(&mut self) -> Result<&'a [u8]> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            Err(self.err("atom"))
        } else {
            Ok(atom)
        }
    }

    /// An atom as an owned string (atoms are ASCII).
    pub fn atom_string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.atom()?).into_owned())
    }

    /// A keyword made of letters, digits, `.`, `-` and `_`, upper-cased, with
    /// its offset. Used for command names, fetch items and search keys,
    /// which stop before `[`, `<` and `(`.
    pub fn word(&mut self) -> Result<(String, usize)> {
        let start = self.pos;
        let w = self.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if w.is_empty() {
            return Err(self.err("keyword"));
        }
        // Only ASCII passed the filter: one allocation, no lossy decoding.
        Ok((
            String::from_utf8(w.to_ascii_uppercase()).unwrap_or_default(),
            start,
        ))
    }

    fn digits(&mut self) -> Result<(u64, usize)> {
        let start = self.pos;
        let ds = self.take_while(|b| b.is_ascii_digit());
        if ds.is_empty() {
            return Err(self.err("number"));
        }
        let mut n: u64 = 0;
        for &d in ds {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(ParseError::NumberRange { offset: start })?;
        }
        Ok((n, start))
    }

    /// `number`: 0 to 2^32-1.
    pub fn number(&mut self) -> Result<u32> {
        let (n, offset) = self.digits()?;
        u32::try_from(n).map_err(|_| ParseError::NumberRange { offset })
    }

    /// `nz-number`: 1 to 2^32-1.
    pub fn nz_number(&mut self) -> Result<u32> {
        let offset = self.pos;
        match self.number()? {
            0 => Err(ParseError::NumberRange { offset }),
            n => Ok(n),
        }
    }

    /// `number64`: 0 to 2^63-1.
    pub fn number64(&mut self) -> Result<u64> {
        let (n, offset) = self.digits()?;
        if n > MAX_NUMBER64 {
            return Err(ParseError::NumberRange { offset });
        }
        Ok(n)
    }

    /// `nz-number64`: 1 to 2^63-1.
    pub fn nz_number64(&mut self) -> Result<u64> {
        let offset = self.pos;
        match self.number64()? {
            0 => Err(ParseError::NumberRange { offset }),
            n => Ok(n),
        }
    }

    /// `quoted`: a double-quoted string with `\"` and `\\` escapes.
    pub fn quoted(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        self.expect(b'"', "quoted string")?;
        let mut out = Vec::new();
        let mut ascii = true;
        loop {
            // Find the end of the plain run with one table lookup a byte,
            // then copy the run at once.
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let mut i = 0;
            let stop = loop {
                let Some(&b) = rest.get(i) else {
                    return Err(self.bad_quoted_run(i, "closing quote"));
                };
                let class = QUOTED_CLASS[usize::from(b)];
                if class == PLAIN {
                    i += 1;
                } else if class == HIGH {
                    ascii = false;
                    i += 1;
                } else {
                    break b;
                }
            };
            out.extend_from_slice(&rest[..i]);
            self.pos += i;
            match stop {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(e @ (b'"' | b'\\')) => {
                            out.push(e);
                            self.pos += 1;
                        }
                        _ => return Err(self.err("escaped quote or backslash")),
                    }
                }
                _ => return Err(self.err("quoted character")),
            }
        }
        if !ascii && std::str::from_utf8(&out).is_err() {
            return Err(ParseError::BadUtf8 { offset: start });
        }
        Ok(out)
    }

    /// The error for a quoted string whose run breaks `at` bytes ahead.
    fn bad_quoted_run(&mut self, at: usize, expected: &'static str) -> ParseError {
        self.pos += at;
        self.err(expected)
    }

    /// `literal` or `literal8` (the latter only when `allow_binary`):
    /// `{n}` or `{n+}`, CRLF, then n bytes.
    pub fn literal(&mut self, allow_binary: bool) -> Result<Literal<'a>> {
        let binary = allow_binary && self.peek() == Some(b'~') && self.peek_at(1) == Some(b'{');
        if binary {
            self.pos += 1;
        }
        self.expect(b'{', "literal")?;
        let size = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "}")?;
        self.crlf()?;
        let start = self.pos;
        let available = (self.buf.len() - start) as u64;
        if size > available {
            return Err(ParseError::Incomplete {
                expected: "literal data",
            });
        }
        // size <= available, which is a usize.
        let end = start + size as usize;
        let data = &self.buf[start..end];
        if !binary && let Some(i) = memchr::memchr(0, data) {
            return Err(ParseError::NulInLiteral { offset: start + i });
        }
        self.pos = end;
        Ok(Literal { data, binary })
    }

    /// `string`: quoted or literal.
    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal(false)?.data.to_vec()),
            _ => Err(self.err("string")),
        }
    }

    /// `astring`: one or more astring characters, or a string.
    pub fn astring(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    Err(self.err("astring"))
                } else {
                    Ok(a.to_vec())
                }
            }
        }
    }

    /// `nstring`: NIL or a string.
    pub fn nstring(&mut self) -> Result<Option<Vec<u8>>> {
        if self.nstring_nil() {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// Consumes `NIL` (any case) if it comes next as a whole atom.
    pub fn nstring_nil(&mut self) -> bool {
        if self.rest().len() >= 3
            && self.rest()[..3].eq_ignore_ascii_case(b"NIL")
            && !self.peek_at(3).is_some_and(is_atom_char)
        {
            self.pos += 3;
            true
        } else {
            false
        }
    }

    /// An atom or quoted string as text (charset names).
    pub fn atom_or_quoted(&mut self) -> Result<String> {
        let v = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            self.atom()?.to_vec()
        };
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    /// A parenthesized, space-separated, possibly empty list.
    pub fn paren_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.expect(b'(', "(")?;
        self.enter()?;
        let mut out = Vec::new();
        if !self.eat(b')') {
            loop {
                out.push(item(self)?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        self.leave();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(s: &[u8]) -> Cursor<'_> {
        Cursor::new(s, 4)
    }

    #[test]
    fn number_bounds() {
        assert_eq!(cur(b"4294967295").number(), Ok(u32::MAX));
        assert!(cur(b"4294967296").number().is_err());
        assert!(cur(b"0").nz_number().is_err());
        assert_eq!(cur(b"9223372036854775807").number64(), Ok(MAX_NUMBER64));
        assert!(cur(b"9223372036854775808").number64().is_err());
        assert!(cur(b"99999999999999999999999").number64().is_err());
        assert!(cur(b"x").number().is_err());
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(cur(br#""a\"b\\c""#).quoted(), Ok(br#"a"b\c"#.to_vec()));
        assert!(
            cur(br#""a\nb""#).quoted().is_err(),
            "only \\\" and \\\\ escape"
        );
        assert!(cur(b"\"a\r\nb\"").quoted().is_err());
        assert!(cur(b"\"open").quoted().is_err());
        assert_eq!(
            cur("\"żółw\"".as_bytes()).quoted(),
            Ok("żółw".as_bytes().to_vec())
        );
        assert!(cur(b"\"\xff\"").quoted().is_err());
    }

    #[test]
    fn literals() {
        let mut c = cur(b"{3}\r\nabc");
        let l = c.literal(false).unwrap();
        assert_eq!((l.data, l.binary), (&b"abc"[..], false));
        assert!(c.at_end());
        assert_eq!(cur(b"{3+}\r\nabc").literal(false).unwrap().data, b"abc");
        let l = cur(b"~{3}\r\na\0c").literal(true).unwrap();
        assert!(l.binary && l.data == b"a\0c");
        assert!(cur(b"{3}\r\na\0c").literal(false).is_err());
        assert!(cur(b"~{3}\r\nabc").literal(false).is_err());
        assert!(cur(b"{4}\r\nabc").literal(false).is_err());
        assert!(cur(b"{3}abc").literal(false).is_err());
        assert!(cur(b"{3-}\r\nabc").literal(false).is_err());
    }

    #[test]
    fn astrings_and_nstrings() {
        assert_eq!(cur(b"ab]c d").astring(), Ok(b"ab]c".to_vec()));
        assert_eq!(cur(b"\"\"").astring(), Ok(Vec::new()));
        assert!(cur(b"(x").astring().is_err());
        assert_eq!(cur(b"nil").nstring(), Ok(None));
        assert_eq!(cur(b"\"NIL\"").nstring(), Ok(Some(b"NIL".to_vec())));
        assert!(cur(b"NILS").nstring().is_err());
    }

    fn nest(c: &mut Cursor<'_>) -> Result<()> {
        if c.peek() == Some(b'(') {
            c.paren_list(nest).map(|_| ())
        } else {
            c.atom().map(|_| ())
        }
    }

    #[test]
    fn depth_is_bounded() {
        assert_eq!(
            nest(&mut cur(b"((((((x))))))")),
            Err(ParseError::TooDeep { limit: 4 })
        );
        assert_eq!(nest(&mut cur(b"((((x))))")), Ok(()));
    }
}
