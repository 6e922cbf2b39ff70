//! RFC 5322 message splitting: header fields (raw and unfolded) and the body.
//!
//! The header ends at the first empty line; everything after that line is
//! the body. A message with no empty line is all header and has an empty
//! body.
//!
//! **Line endings.** Mail on the wire uses CRLF, but messages read from
//! files or local delivery agents often use bare LF. This module treats a
//! bare LF exactly like CRLF wherever it looks for line ends (the end of a
//! field, folding, the empty line ending the header). The raw bytes it hands
//! out are the input bytes unchanged; the DKIM canonicalizations then write
//! every line end as CRLF, so a message whose CRLFs were all turned into LFs
//! still verifies.
//!
//! **Lines that are not fields.** A header line that is neither a field
//! (`name:` with a name of printable ASCII other than `:`, optionally
//! followed by white space before the colon, as the obsolete syntax of RFC
//! 5322 §4.5 allows) nor a continuation of one (starting with SP or HTAB)
//! is skipped, as is a continuation line with no field before it (an mbox
//! `From ` line is the usual case). Skipped lines are never signed or
//! matched by name.

use std::borrow::Cow;

/// One header field: its name, its raw bytes and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    name: &'a str,
    raw: &'a [u8],
    value_start: usize,
    value_end: usize,
}

impl<'a> HeaderField<'a> {
    /// The field name as written (compare it ignoring ASCII case), without
    /// any white space between it and the colon.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The whole field as it appeared in the message: name, colon, value,
    /// folding, and the final line end (CRLF or bare LF) if there was one.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The bytes after the colon, folding included, without the final line
    /// end.
    pub fn raw_value(&self) -> &'a [u8] {
        &self.raw[self.value_start..self.value_end]
    }

    /// The value with folding removed (every line end that is followed by
    /// white space is deleted, RFC 5322 §2.2.3) and the white space around
    /// it trimmed. Bytes that are not UTF-8 are replaced with U+FFFD.
    pub fn unfolded_value(&self) -> String {
        let unfolded = unfold(self.raw_value());
        let text = String::from_utf8_lossy(&unfolded);
        text.trim_matches(|c| c == ' ' || c == '\t').to_string()
    }

    /// True if this field's name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// Remove folding line ends (CRLF or bare LF) from a raw value.
fn unfold(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\n') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' if raw.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Where the line starting at `start` ends: the index just past its line
/// end (or `bytes.len()`), and the index where its content ends.
fn line_at(bytes: &[u8], start: usize) -> (usize, usize) {
    match memchr::memchr(b'\n', &bytes[start..]) {
        Some(pos) => {
            let lf = start + pos;
            let content_end = if lf > start && bytes[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (lf + 1, content_end)
        }
        None => (bytes.len(), bytes.len()),
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The length of the line end at the start of `bytes` (2 for CRLF, 1 for a
/// bare LF), or `None` if `bytes` does not start with one.
fn line_end_len(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [b'\r', b'\n', ..] => Some(2),
        [b'\n', ..] => Some(1),
        _ => None,
    }
}

/// Parse a header block (the bytes before the empty line, or a whole
/// message, in which case parsing stops at the empty line) into fields, top
/// to bottom.
pub fn parse_header(header: &[u8]) -> Vec<HeaderField<'_>> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < header.len() {
        if line_end_len(&header[pos..]).is_some() {
            break; // the empty line: end of header
        }
        let (mut next, mut content_end) = line_at(header, pos);
        // Gather continuation lines.
        while next < header.len() && is_wsp(header[next]) {
            let (n, c) = line_at(header, next);
            next = n;
            content_end = c;
        }
        if let Some(field) = field_from(header, pos, next, content_end) {
            fields.push(field);
        }
        pos = next;
    }
    fields
}

/// Build a field from `header[start..end]` if its first line is `name:`.
fn field_from(
    header: &[u8],
    start: usize,
    end: usize,
    content_end: usize,
) -> Option<HeaderField<'_>> {
    let raw = &header[start..end];
    let colon = memchr::memchr(b':', &raw[..content_end - start])?;
    let mut name_end = colon;
    while name_end > 0 && is_wsp(raw[name_end - 1]) {
        name_end -= 1;
    }
    let name_bytes = &raw[..name_end];
    if name_bytes.is_empty() || !name_bytes.iter().all(|&b| (33..=126).contains(&b)) {
        return None;
    }
    let name = std::str::from_utf8(name_bytes).ok()?;
    Some(HeaderField {
        name,
        raw,
        value_start: colon + 1,
        value_end: content_end - start,
    })
}

/// Split a whole message into its header fields and its body. The body
/// starts after the first empty line (CRLF CRLF, or LF LF); it is empty
/// if there is none.
pub fn split(message: &[u8]) -> (Vec<HeaderField<'_>>, &[u8]) {
    let mut splitter = HeaderSplitter::new(usize::MAX);
    let used = splitter.feed(message);
    let header = &message[..splitter.header_len()];
    (parse_header(header), &message[used.min(message.len())..])
}

/// Finds where a message's header ends while the message arrives in
/// chunks, keeping the header bytes (up to a limit).
///
/// ```
/// use postel_auth::message::HeaderSplitter;
/// let mut s = HeaderSplitter::new(1 << 20);
/// assert_eq!(s.feed(b"Subject: hi\r"), 12);
/// let used = s.feed(b"\n\r\nbody");
/// assert_eq!(used, 3);
/// assert!(s.is_complete());
/// assert_eq!(s.header(), b"Subject: hi\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct HeaderSplitter {
    buf: Vec<u8>,
    max: usize,
    /// Bytes of the header seen so far (kept or not).
    seen: usize,
    /// The header length (excluding the empty line) once complete.
    header_len: Option<usize>,
    at_line_start: bool,
    cr_at_line_start: bool,
    overflowed: bool,
}

impl HeaderSplitter {
    /// A splitter that keeps at most `max_header` bytes of header.
    pub fn new(max_header: usize) -> Self {
        HeaderSplitter {
            buf: Vec::new(),
            max: max_header,
            seen: 0,
            header_len: None,
            at_line_start: true,
            cr_at_line_start: false,
            overflowed: false,
        }
    }

    /// Feed the next chunk. Returns how many bytes of `chunk` belong to the
    /// header (the empty line that ends it included); the rest of the chunk
    /// is body. Once the header is complete, every later chunk is body and
    /// this returns 0.
    pub fn feed(&mut self, chunk: &[u8]) -> usize {
        if self.header_len.is_some() {
            return 0;
        }
        let mut i = 0;
        while i < chunk.len() {
            if self.cr_at_line_start {
                self.cr_at_line_start = false;
                if chunk[i] == b'\n' {
                    // The empty line CRLF: the header ends before its CR.
                    self.header_len = Some(self.seen - 1);
                    self.seen += 1;
                    return i + 1;
                }
                // A CR that starts a line but not an empty line: keep it.
                self.seen -= 1;
                self.keep(b"\r");
                self.at_line_start = false;
            } else if self.at_line_start {
                match chunk[i] {
                    b'\n' => {
                        self.header_len = Some(self.seen);
                        self.seen += 1;
                        return i + 1;
                    }
                    b'\r' => {
                        self.cr_at_line_start = true;
                        self.seen += 1;
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            // Inside a line: keep everything through the next LF at once.
            match memchr::memchr(b'\n', &chunk[i..]) {
                Some(j) => {
                    self.keep(&chunk[i..=i + j]);
                    self.at_line_start = true;
                    i += j + 1;
                }
                None => {
                    self.keep(&chunk[i..]);
                    self.at_line_start = false;
                    return chunk.len();
                }
            }
        }
        chunk.len()
    }

    fn keep(&mut self, bytes: &[u8]) {
        self.seen += bytes.len();
        if self.overflowed {
            return;
        }
        if self.buf.len() + bytes.len() > self.max {
            self.overflowed = true;
            self.buf = Vec::new();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// True once the empty line ending the header has been seen.
    pub fn is_complete(&self) -> bool {
        self.header_len.is_some()
    }

    /// True if the header grew past the limit; its bytes were dropped.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The header bytes kept so far (empty after an overflow), without the
    /// empty line.
    pub fn header(&self) -> &[u8] {
        &self.buf
    }

    /// The length of the header seen so far, without the empty line (also
    /// counted after an overflow).
    pub fn header_len(&self) -> usize {
        self.header_len.unwrap_or(self.seen)
    }

    /// Take the kept header bytes out of the splitter.
    pub fn into_header(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields_and_body() {
        let msg = b"From: a@b\r\nSubject: one\r\n two\r\nB : Y\r\n\r\nbody\r\n";
        let (fields, body) = split(msg);
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].name(), "From");
        assert_eq!(fields[1].raw(), b"Subject: one\r\n two\r\n");
        assert_eq!(fields[1].raw_value(), b" one\r\n two");
        assert_eq!(fields[1].unfolded_value(), "one two");
        assert_eq!(fields[2].name(), "B");
        assert_eq!(body, b"body\r\n");
    }

    #[test]
    fn lf_only_and_no_body() {
        let (fields, body) = split(b"A: 1\n b\nC: 2\n\nx\n");
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].unfolded_value(), "1 b");
        assert_eq!(body, b"x\n");
        let (fields, body) = split(b"A: 1\r\nC: 2");
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[1].raw(), b"C: 2");
        assert!(body.is_empty());
        let (fields, body) = split(b"\r\nbody");
        assert!(fields.is_empty());
        assert_eq!(body, b"body");
    }

    #[test]
    fn skips_non_fields() {
        let (fields, _) = split(b" cont\r\nFrom me Mon\r\nbad name: x\r\nOk: y\r\n\r\n");
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].name(), "Ok");
    }

    #[test]
    fn splitter_chunks_and_overflow() {
        let msg = b"A: 1\r\nB: 2\r\n\r\nbody";
        for cut in 0..msg.len() {
            let mut s = HeaderSplitter::new(100);
            let a = s.feed(&msg[..cut]);
            let b = s.feed(&msg[cut..]);
            let body_start = if s.is_complete() && a < cut {
                a
            } else {
                cut + b
            };
            assert_eq!(&msg[body_start..], b"body", "cut {cut}");
            assert_eq!(s.header(), b"A: 1\r\nB: 2\r\n");
        }
        let mut s = HeaderSplitter::new(4);
        s.feed(b"A: 12345\r\n\r\n");
        assert!(s.overflowed() && s.is_complete());
        assert!(s.header().is_empty());
    }
}
