//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463):
//! building and serializing them on the server side, parsing them (also when
//! split across reads) on the client side.

use std::fmt;

use crate::error::ReplyError;

/// An enhanced mail system status code (RFC 3463): `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, 0 to 999.
    pub subject: u16,
    /// The detail, 0 to 999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Builds a code from its three parts.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }

    /// Parses `class.subject.detail` at the start of `text`, returning the code
    /// and the number of bytes it took. Requires the class to be 2, 4 or 5 and
    /// each other part 1 to 3 digits.
    pub fn parse_prefix(text: &[u8]) -> Option<(Self, usize)> {
        let class = match text.first()? {
            b'2' => 2,
            b'4' => 4,
            b'5' => 5,
            _ => return None,
        };
        if text.get(1) != Some(&b'.') {
            return None;
        }
        let (subject, n1) = parse_1_to_3_digits(&text[2..])?;
        if text.get(2 + n1) != Some(&b'.') {
            return None;
        }
        let start = 3 + n1;
        let (detail, n2) = parse_1_to_3_digits(&text[start..])?;
        Some((Self::new(class, subject, detail), start + n2))
    }
}

fn parse_1_to_3_digits(text: &[u8]) -> Option<(u16, usize)> {
    let n = text
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 || n > 3 {
        return None;
    }
    let value = text[..n]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Some((value, n))
}

impl EnhancedCode {
    /// Appends `class.subject.detail` to `out` (no allocation).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        fn number(n: u16, out: &mut Vec<u8>) {
            if n >= 100 {
                out.push(b'0' + (n / 100 % 10) as u8);
            }
            if n >= 10 {
                out.push(b'0' + (n / 10 % 10) as u8);
            }
            out.push(b'0' + (n % 10) as u8);
        }
        out.push(b'0' + self.class % 10);
        out.push(b'.');
        number(self.subject, out);
        out.push(b'.');
        number(self.detail, out);
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The broad meaning of a reply code's first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// 2yz: the command succeeded.
    PositiveCompletion,
    /// 3yz: the server waits for more (354, 334).
    PositiveIntermediate,
    /// 4yz: failed for now; try again later.
    TransientNegative,
    /// 5yz: failed for good.
    PermanentNegative,
}

/// One SMTP reply: a three-digit code, an optional enhanced status code and
/// one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

impl Reply {
    /// A single-line reply. `code` must be in 200..=599.
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Self {
        debug_assert!((200..=599).contains(&code), "reply code out of range");
        Self {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// A reply whose text has several lines (serialized as `250-...`).
    /// An empty `lines` gives one empty line.
    pub fn multiline(code: u16, enhanced: Option<EnhancedCode>, lines: Vec<String>) -> Self {
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        Self {
            code,
            enhanced,
            lines,
        }
    }

    /// Shorthand: code, enhanced code as `(class, subject, detail)`, text.
    pub fn with_status(code: u16, status: (u8, u16, u16), text: impl Into<String>) -> Self {
        Self::new(
            code,
            Some(EnhancedCode::new(status.0, status.1, status.2)),
            text,
        )
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code, if the reply carries one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text lines, without code or enhanced code.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// All lines joined with a space: handy for logs and error messages.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// What the first digit says.
    pub fn severity(&self) -> Severity {
        match self.code / 100 {
            2 => Severity::PositiveCompletion,
            3 => Severity::PositiveIntermediate,
            4 => Severity::TransientNegative,
            _ => Severity::PermanentNegative,
        }
    }

    /// 2yz.
    pub fn is_positive(&self) -> bool {
        self.code / 100 == 2
    }

    /// 3yz.
    pub fn is_intermediate(&self) -> bool {
        self.code / 100 == 3
    }

    /// 4yz.
    pub fn is_transient(&self) -> bool {
        self.code / 100 == 4
    }

    /// 5yz.
    pub fn is_permanent(&self) -> bool {
        self.code / 100 == 5
    }

    /// Appends the wire form (`code[-| ][enhanced ]text CRLF` per line) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len() - 1;
        let mut code = [0u8; 3];
        code[0] = b'0' + (self.code / 100 % 10) as u8;
        code[1] = b'0' + (self.code / 10 % 10) as u8;
        code[2] = b'0' + (self.code % 10) as u8;
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(&code);
            out.push(if i == last { b' ' } else { b'-' });
            if let Some(e) = self.enhanced {
                e.write_to(out);
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            // A reply line must never contain a line break of its own: that
            // would let text from a peer forge extra replies.
            out.extend(
                line.bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.enhanced {
            Some(e) => write!(f, "{} {} {}", self.code, e, self.text()),
            None => write!(f, "{} {}", self.code, self.text()),
        }
    }
}

/// Bounds for [`ReplyParser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Longest reply line accepted, CRLF included (RFC 5321 §4.5.3.1.5: 512).
    /// Real servers exceed 512 now and then, so the default is 4096.
    pub max_line: usize,
    /// Most lines in one multi-line reply (an EHLO reply rarely has 30).
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self {
            max_line: 4096,
            max_lines: 256,
        }
    }
}

/// Streaming parser for server replies, for the client side: feed bytes as
/// they arrive, take complete replies out. Replies split across reads, and
/// several replies in one read (pipelining), both work.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed; dropped when more input comes.
    read: usize,
    /// Lines of the reply being collected.
    pending: Option<Reply>,
    limits: ReplyLimits,
}

impl ReplyParser {
    /// A parser with the given limits.
    pub fn new(limits: ReplyLimits) -> Self {
        Self {
            buf: Vec::new(),
            read: 0,
            pending: None,
            limits,
        }
    }

    /// Buffers input.
    pub fn feed(&mut self, input: &[u8]) {
        if self.read > 0 {
            self.buf.drain(..self.read);
            self.read = 0;
        }
        self.buf.extend_from_slice(input);
    }

    /// Bytes buffered but not yet part of a complete reply line.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.read
    }

    /// Takes the next complete reply, `Ok(None)` if more input is needed.
    /// After an error the parser should be dropped with its connection.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let rest = &self.buf[self.read..];
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                if rest.len() > self.limits.max_line {
                    return Err(ReplyError::LineTooLong {
                        max: self.limits.max_line,
                    });
                }
                return Ok(None);
            };
            if lf + 1 > self.limits.max_line {
                return Err(ReplyError::LineTooLong {
                    max: self.limits.max_line,
                });
            }
            let line_end = if lf > 0 && rest[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            let parsed = parse_reply_line(&rest[..line_end]);
            self.read += lf + 1;
            let parsed = parsed?;
            let (code, last) = (parsed.code, parsed.last);
            match &mut self.pending {
                Some(reply) => {
                    if reply.code != code {
                        return Err(ReplyError::CodeChanged {
                            first: reply.code,
                            then: code,
                        });
                    }
                    if reply.lines.len() >= self.limits.max_lines {
                        return Err(ReplyError::TooManyLines {
                            max: self.limits.max_lines,
                        });
                    }
                    // Later lines lose the code only if it is the first
                    // line's: that is the one `write_to` puts on every line.
                    reply.lines.push(parsed.text_for(reply.enhanced));
                }
                None => {
                    let enhanced = parsed.enhanced.map(|(e, _)| e);
                    self.pending = Some(Reply {
                        code,
                        enhanced,
                        lines: vec![parsed.text_for(enhanced)],
                    });
                }
            }
            if last {
                return Ok(self.pending.take());
            }
        }
    }
}

/// Parses one line: `(code, is_last, enhanced, text)`.
fn parse_reply_line(line: &[u8]) -> Result<ParsedLine, ReplyError> {
    // A CR inside a reply line is not allowed (RFC 5321 textstring); read it
    // as a space, as `Reply::write_to` writes one, before anything else looks
    // at the line, so a reply parses back to what it would be sent as.
    let cleaned;
    let line = if memchr::memchr(b'\r', line).is_some() {
        cleaned = line
            .iter()
            .map(|&b| if b == b'\r' { b' ' } else { b })
            .collect::<Vec<u8>>();
        &cleaned[..]
    } else {
        line
    };
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::BadCode {
            line: String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned(),
        });
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    if !(200..=599).contains(&code) {
        return Err(ReplyError::BadCode {
            line: String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned(),
        });
    }
    let (last, rest) = match line.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => {
            return Err(ReplyError::BadSeparator {
                line: String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned(),
            });
        }
    };
    let mut enhanced = None;
    if let Some((e, n)) = EnhancedCode::parse_prefix(rest) {
        // Only an enhanced code of the same class as the reply code counts
        // (RFC 3463 §2); other text that happens to look like one stays text.
        if u16::from(e.class) == code / 100 && (rest.len() == n || rest[n] == b' ') {
            enhanced = Some((e, (n + 1).min(rest.len())));
        }
    }
    let text = match std::str::from_utf8(rest) {
        Ok(t) => t.to_owned(),
        Err(_) => String::from_utf8_lossy(rest).into_owned(),
    };
    Ok(ParsedLine {
        code,
        last,
        enhanced,
        text,
    })
}

/// One reply line: its code, whether it is the last, and its text with
/// the enhanced code (and the bytes it spans) if it starts with one.
struct ParsedLine {
    code: u16,
    last: bool,
    enhanced: Option<(EnhancedCode, usize)>,
    text: String,
}

impl ParsedLine {
    /// The text without the enhanced code, when that code is `expected`
    /// (the first line's, which the reply carries for every line).
    fn text_for(mut self, expected: Option<EnhancedCode>) -> String {
        match self.enhanced {
            Some((e, len)) if Some(e) == expected => {
                self.text.drain(..len);
                self.text
            }
            _ => self.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_multiline_with_enhanced_code() {
        let r = Reply::multiline(
            250,
            Some(EnhancedCode::new(2, 0, 0)),
            vec!["one".into(), "two".into()],
        );
        assert_eq!(r.to_bytes(), b"250-2.0.0 one\r\n250 2.0.0 two\r\n");
    }

    #[test]
    fn line_breaks_in_text_cannot_forge_replies() {
        let r = Reply::new(250, None, "ok\r\n250 forged");
        assert_eq!(r.to_bytes(), b"250 ok  250 forged\r\n");
    }

    #[test]
    fn parses_reply_split_across_reads() {
        let mut p = ReplyParser::default();
        p.feed(b"250-mx.example.org\r\n250-PIPEL");
        assert_eq!(p.next_reply().unwrap(), None);
        p.feed(b"INING\r\n250 SIZE 100\r\n220 2.0.0 go\r\n");
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.lines(), ["mx.example.org", "PIPELINING", "SIZE 100"]);
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.code(), 220);
        assert_eq!(r.enhanced(), Some(EnhancedCode::new(2, 0, 0)));
        assert_eq!(r.text(), "go");
    }

    #[test]
    fn enhanced_code_of_other_class_is_text() {
        let mut p = ReplyParser::default();
        p.feed(b"250 5.1.1 hello\r\n");
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.enhanced(), None);
        assert_eq!(r.text(), "5.1.1 hello");
    }

    #[test]
    fn rejects_code_change_and_garbage() {
        let mut p = ReplyParser::default();
        p.feed(b"250-a\r\n251 b\r\n");
        assert!(matches!(
            p.next_reply(),
            Err(ReplyError::CodeChanged { .. })
        ));
        let mut p = ReplyParser::default();
        p.feed(b"hello\r\n");
        assert!(matches!(p.next_reply(), Err(ReplyError::BadCode { .. })));
    }

    #[test]
    fn cr_inside_reply_text_reads_as_space() {
        // Found by the smtp_reply fuzz target: "250 SI/100\r0" must parse to
        // the reply that serializes back to the same bytes.
        let mut p = ReplyParser::default();
        p.feed(b"250-mx.example\r\n250 SI/100\r0\r\n");
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.lines(), ["mx.example", "SI/100 0"]);
        let mut q = ReplyParser::default();
        q.feed(&r.to_bytes());
        assert_eq!(q.next_reply().unwrap().unwrap(), r);
        // And: later lines keep a code that is not the first line's.
        let mut p = ReplyParser::default();
        p.feed(b"250-first\r\n250-2.0.8 2.0.85\r\n250 end\r\n");
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.lines(), ["first", "2.0.8 2.0.85", "end"]);
        let mut q = ReplyParser::default();
        q.feed(&r.to_bytes());
        assert_eq!(q.next_reply().unwrap().unwrap(), r);
        // Found next: a CR right after what looks like an enhanced code.
        let mut p = ReplyParser::default();
        p.feed(b"250 2.0.85\rtext\r\n");
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.enhanced(), Some(EnhancedCode::new(2, 0, 85)));
        let mut q = ReplyParser::default();
        q.feed(&r.to_bytes());
        assert_eq!(q.next_reply().unwrap().unwrap(), r);
    }

    #[test]
    fn bounded_line_length() {
        let mut p = ReplyParser::new(ReplyLimits {
            max_line: 16,
            max_lines: 4,
        });
        p.feed(&[b'2'; 40]);
        assert!(matches!(
            p.next_reply(),
            Err(ReplyError::LineTooLong { .. })
        ));
    }
}
