//! The client's response reader: server output in any chunking in,
//! complete responses out, under explicit limits.
//!
//! - A response is one line, or lines joined by literals (`{n}`, `~{n}`);
//!   it is buffered whole, literals inline, and comes out parsed
//!   ([`ResponseEvent::Response`]).
//! - A literal of a FETCH message body — `BODY[...]`, `BINARY[...]`,
//!   `RFC822`, `RFC822.HEADER`, `RFC822.TEXT` — larger than
//!   [`ResponseLimits::stream_threshold`] is never buffered. The reader
//!   announces it ([`ResponseEvent::FetchLiteralStart`], with the message
//!   number, the item and the size), passes its bytes on as they arrive
//!   ([`ResponseEvent::FetchLiteralData`], each chunk a zero-copy piece of
//!   the input) and closes it ([`ResponseEvent::FetchLiteralEnd`]). In the
//!   buffered response the literal is replaced by an empty one (`{0}` or
//!   `~{0}`), so when the FETCH completes it comes out as an ordinary
//!   [`Data::Fetch`](crate::Data::Fetch) whose streamed items carry empty
//!   data (`Some(Bytes::new())`): the bytes went out in the events before
//!   it. A FETCH may stream several literals; each gets its own
//!   start/data/end run, in order.
//! - A response that breaks a limit or does not parse comes out as
//!   [`ResponseEvent::Invalid`] with its raw bytes. The reader has already
//!   moved past it: it skips the rest of that response (literal data
//!   included, when a literal header ends the line) and starts again at
//!   the next line.
//!
//! Status responses (`tag OK ...`, `* BYE ...`) and continuation requests
//! (`+ ...`) never carry literals, so text that happens to end in `{5}`
//! does not make the reader wait for five bytes.
//!
//! Memory: after [`ResponseReader::next_event`] returns `None`, the reader
//! holds at most `max_line` bytes of unread input plus `max_response`
//! bytes of the response being assembled ([`ResponseReader::buffered`]).

use bytes::{Bytes, BytesMut};

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::fetch::Section;
use crate::reader::scan::{LineEnd, LiteralHeader, line_end, push_tail, scan_depth, tail_end};
use crate::response::Response;

/// Bounds on what the reader buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Longest line, CRLF included (default 1 MiB: an untagged SEARCH of a
    /// large mailbox is one long line).
    pub max_line: usize,
    /// Largest literal buffered inside a response (default 1 MiB). Larger
    /// FETCH body literals stream; any other literal above this refuses
    /// the response.
    pub max_literal: u64,
    /// Largest response buffered, lines and literals, streamed literals
    /// not counted (default 8 MiB).
    pub max_response: usize,
    /// Most literals in one response (default 4096).
    pub max_literals: usize,
    /// FETCH body literals larger than this stream instead of being
    /// buffered (default 64 KiB). The effective threshold is the smaller of
    /// this and `max_literal`; 0 streams every non-empty body literal.
    pub stream_threshold: u64,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_line: 1024 * 1024,
            max_literal: 1024 * 1024,
            max_response: 8 * 1024 * 1024,
            max_literals: 4096,
            stream_threshold: 64 * 1024,
        }
    }
}

/// Why the reader refused a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// A line longer than `max_line`.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A line ending in a bare LF.
    #[error("line ends with a bare LF")]
    BareLineFeed,
    /// A literal (other than a streamed FETCH body) above `max_literal`.
    #[error("literal of {size} bytes exceeds the limit of {limit}")]
    LiteralTooLarge {
        /// The announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A literal size that does not fit in a number64.
    #[error("literal size out of range")]
    BadLiteralSize,
    /// More literals in one response than `max_literals`.
    #[error("more than {limit} literals in one response")]
    TooManyLiterals {
        /// The limit.
        limit: usize,
    },
    /// A response longer than `max_response`.
    #[error("response longer than {limit} bytes")]
    ResponseTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A complete response that does not follow the grammar.
    #[error("unparsable response: {0}")]
    Parse(#[from] ParseError),
}

/// A response the reader refused, with its raw bytes: the whole response
/// when it failed to parse, else what was buffered of it (at most
/// `max_line` bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidResponse {
    /// Why.
    pub error: ResponseError,
    /// The raw bytes.
    pub raw: Bytes,
}

/// Which FETCH item a streamed literal belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamedItem {
    /// `BODY[section]<origin>`.
    BodySection {
        /// The section.
        section: Section,
        /// The offset of a partial fetch.
        origin: Option<u64>,
    },
    /// `BINARY[part]<origin>` (RFC 3516).
    Binary {
        /// The part path.
        part: Vec<u32>,
        /// The offset of a partial fetch.
        origin: Option<u64>,
    },
    /// `RFC822`.
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.TEXT`.
    Rfc822Text,
}

/// A FETCH literal about to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedLiteral {
    /// The message sequence number of the FETCH response.
    pub seq: u32,
    /// The item.
    pub item: StreamedItem,
    /// The announced size: exactly this many bytes follow as data.
    pub size: u64,
    /// A literal8 (`~{n}`).
    pub binary: bool,
}

/// What the reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// A complete response.
    Response(Response),
    /// A FETCH body literal starts streaming.
    FetchLiteralStart(StreamedLiteral),
    /// The next piece of the streaming literal.
    FetchLiteralData(Bytes),
    /// The streaming literal is complete; the rest of its FETCH response
    /// follows.
    FetchLiteralEnd,
    /// A refused response; the reader has moved past it.
    Invalid(InvalidResponse),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a line of a response.
    Line,
    /// Buffering literal data into the response.
    Literal { remaining: u64 },
    /// Passing a FETCH literal on.
    Stream { remaining: u64 },
    /// Discarding literal data of a refused response.
    Skip { remaining: u64 },
    /// Discarding the rest of a line of a refused response.
    SkipLine,
}

/// Frames server output into responses. See the module documentation.
#[derive(Debug)]
pub struct ResponseReader {
    limits: ResponseLimits,
    input: BytesMut,
    /// How much of `input` is known to hold no LF.
    scanned: usize,
    /// The response being assembled.
    resp: BytesMut,
    literals: usize,
    /// The response is a status response or continuation request: it has
    /// no literals.
    plain: bool,
    tail: Vec<u8>,
    state: State,
    last_len: usize,
}

impl ResponseReader {
    /// A reader with the given limits.
    pub fn new(limits: ResponseLimits) -> Self {
        Self {
            limits,
            input: BytesMut::new(),
            scanned: 0,
            resp: BytesMut::new(),
            literals: 0,
            plain: false,
            tail: Vec::new(),
            state: State::Line,
            last_len: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ResponseLimits {
        &self.limits
    }

    /// Bytes from the server.
    pub fn enqueue_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Bytes held: unread input plus the response being assembled.
    pub fn buffered(&self) -> usize {
        self.input.len() + self.resp.len()
    }

    /// Whether the reader is between responses (nothing of a response
    /// received yet beyond what is in the unread input).
    pub fn is_idle(&self) -> bool {
        self.state == State::Line && self.resp.is_empty()
    }

    /// The raw size of the last response returned as
    /// [`ResponseEvent::Response`] (streamed literals not counted).
    pub fn last_response_len(&self) -> usize {
        self.last_len
    }

    /// Drops everything buffered and starts afresh at a response boundary
    /// (after STARTTLS: what came in plaintext must not be read as if it
    /// came through TLS).
    pub fn clear(&mut self) {
        self.input.clear();
        self.scanned = 0;
        self.reset();
        self.state = State::Line;
    }

    /// The next event, or `None` when more input is needed.
    pub fn next_event(&mut self) -> Option<ResponseEvent> {
        loop {
            match self.state {
                State::Line => match self.take_line() {
                    Some(line) => {
                        if let Some(ev) = self.on_line(line) {
                            return Some(ev);
                        }
                    }
                    None => {
                        if self.input.len() > self.limits.max_line {
                            return Some(self.partial_line_too_long());
                        }
                        return None;
                    }
                },
                State::Literal { remaining } => {
                    if remaining == 0 {
                        self.state = State::Line;
                        continue;
                    }
                    if self.input.is_empty() {
                        return None;
                    }
                    let n = take_len(remaining, self.input.len());
                    let piece = self.input.split_to(n);
                    self.resp.extend_from_slice(&piece);
                    self.state = State::Literal {
                        remaining: remaining - n as u64,
                    };
                }
                State::Stream { remaining } => {
                    if remaining == 0 {
                        self.state = State::Line;
                        return Some(ResponseEvent::FetchLiteralEnd);
                    }
                    if self.input.is_empty() {
                        return None;
                    }
                    let n = take_len(remaining, self.input.len());
                    let chunk = self.input.split_to(n).freeze();
                    self.state = State::Stream {
                        remaining: remaining - n as u64,
                    };
                    return Some(ResponseEvent::FetchLiteralData(chunk));
                }
                State::Skip { remaining } => {
                    if remaining == 0 {
                        self.tail.clear();
                        self.state = State::SkipLine;
                        continue;
                    }
                    if self.input.is_empty() {
                        return None;
                    }
                    let n = take_len(remaining, self.input.len());
                    let _ = self.input.split_to(n);
                    self.state = State::Skip {
                        remaining: remaining - n as u64,
                    };
                }
                State::SkipLine => match memchr::memchr(b'\n', &self.input) {
                    None => {
                        push_tail(&mut self.tail, &self.input);
                        self.input.clear();
                        return None;
                    }
                    Some(i) => {
                        let line = self.input.split_to(i + 1);
                        push_tail(&mut self.tail, &line);
                        self.state = match line_end(&self.tail) {
                            LineEnd::Literal(h) => State::Skip { remaining: h.size },
                            _ => State::Line,
                        };
                        self.tail.clear();
                    }
                },
            }
        }
    }

    /// A complete line from the input, if there is one.
    fn take_line(&mut self) -> Option<BytesMut> {
        match memchr::memchr(b'\n', &self.input[self.scanned..]) {
            Some(i) => {
                let end = self.scanned + i + 1;
                self.scanned = 0;
                Some(self.input.split_to(end))
            }
            None => {
                self.scanned = self.input.len();
                None
            }
        }
    }

    fn reset(&mut self) {
        self.resp.clear();
        self.literals = 0;
        self.plain = false;
        self.tail.clear();
    }

    /// What to report of a refused response: at most `max_line` bytes.
    fn raw_excerpt(&self, more: &[u8]) -> Bytes {
        let cap = self.limits.max_line;
        let mut raw = Vec::with_capacity(cap.min(self.resp.len() + more.len()));
        raw.extend_from_slice(&self.resp[..self.resp.len().min(cap)]);
        let room = cap - raw.len();
        raw.extend_from_slice(&more[..more.len().min(room)]);
        Bytes::from(raw)
    }

    /// Refuses the current response and arranges to skip what follows of
    /// it (the literal that `end` announces, then up to the next line).
    fn refuse(&mut self, error: ResponseError, more: &[u8], end: LineEnd) -> ResponseEvent {
        let raw = self.raw_excerpt(more);
        self.reset();
        self.state = match end {
            LineEnd::Literal(h) => State::Skip { remaining: h.size },
            _ => State::Line,
        };
        ResponseEvent::Invalid(InvalidResponse { error, raw })
    }

    /// A line grew past the limit before its end arrived.
    fn partial_line_too_long(&mut self) -> ResponseEvent {
        let input = std::mem::take(&mut self.input);
        let error = ResponseError::LineTooLong {
            limit: self.limits.max_line,
        };
        let ev = self.refuse(error, &input, LineEnd::Plain);
        push_tail(&mut self.tail, &input);
        self.scanned = 0;
        self.state = State::SkipLine;
        ev
    }

    /// Handles one complete line of a response.
    fn on_line(&mut self, line: BytesMut) -> Option<ResponseEvent> {
        let limits = self.limits;
        if line.len() > limits.max_line {
            let error = ResponseError::LineTooLong {
                limit: limits.max_line,
            };
            return Some(self.refuse(error, &line, tail_end(&line)));
        }
        if !line.ends_with(b"\r\n") {
            return Some(self.refuse(ResponseError::BareLineFeed, &line, LineEnd::Plain));
        }
        if self.resp.is_empty() {
            if line[..] == b"\r\n"[..] {
                return None;
            }
            self.plain = is_status_or_continuation(&line);
        }
        // Only a line that ends like a literal header needs the quote scan
        // (a `{5}` inside a quoted string is text).
        let end = match line_end(&line) {
            LineEnd::Plain => LineEnd::Plain,
            _ if self.plain || scan_depth(&line, &mut 0).1 => LineEnd::Plain,
            other => other,
        };
        if self.resp.len() + line.len() > limits.max_response {
            let error = ResponseError::ResponseTooLarge {
                limit: limits.max_response,
            };
            return Some(self.refuse(error, &line, end));
        }
        if self.resp.is_empty() && end == LineEnd::Plain {
            // A whole response in one line: no copy.
            let bytes = line.freeze();
            self.reset();
            self.last_len = bytes.len();
            return Some(parsed(bytes));
        }
        let line_start = self.resp.len();
        self.resp.extend_from_slice(&line);
        match end {
            LineEnd::Plain => {
                let bytes = self.resp.split().freeze();
                self.reset();
                self.last_len = bytes.len();
                Some(parsed(bytes))
            }
            LineEnd::BadSize => Some(self.refuse(ResponseError::BadLiteralSize, &[], end)),
            LineEnd::Literal(h) => self.on_literal(h, line_start + h.start),
        }
    }

    /// A line of the current response ended with a literal header that
    /// starts at `header_at` in the buffered response.
    fn on_literal(&mut self, h: LiteralHeader, header_at: usize) -> Option<ResponseEvent> {
        let limits = self.limits;
        let end = LineEnd::Literal(h);
        self.literals += 1;
        if self.literals > limits.max_literals {
            let error = ResponseError::TooManyLiterals {
                limit: limits.max_literals,
            };
            return Some(self.refuse(error, &[], end));
        }
        let threshold = limits.stream_threshold.min(limits.max_literal);
        if h.size > threshold
            && let Some((seq, item)) = streamed_item(&self.resp[..header_at])
        {
            self.resp.truncate(header_at);
            self.resp
                .extend_from_slice(if h.binary { b"~{0}\r\n" } else { b"{0}\r\n" });
            self.state = State::Stream { remaining: h.size };
            return Some(ResponseEvent::FetchLiteralStart(StreamedLiteral {
                seq,
                item,
                size: h.size,
                binary: h.binary,
            }));
        }
        if h.size > limits.max_literal {
            let error = ResponseError::LiteralTooLarge {
                size: h.size,
                limit: limits.max_literal,
            };
            return Some(self.refuse(error, &[], end));
        }
        if self.resp.len() as u64 + h.size > limits.max_response as u64 {
            let error = ResponseError::ResponseTooLarge {
                limit: limits.max_response,
            };
            return Some(self.refuse(error, &[], end));
        }
        self.state = State::Literal { remaining: h.size };
        None
    }
}

impl Default for ResponseReader {
    fn default() -> Self {
        Self::new(ResponseLimits::default())
    }
}

/// A complete response's event.
fn parsed(bytes: Bytes) -> ResponseEvent {
    match Response::parse(&bytes) {
        Ok(r) => ResponseEvent::Response(r),
        Err(e) => ResponseEvent::Invalid(InvalidResponse {
            error: e.into(),
            raw: bytes,
        }),
    }
}

/// `min(remaining, available)` as a usize.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

/// Whether the first line of a response is a status response or a
/// continuation request, which carry no literals.
fn is_status_or_continuation(line: &[u8]) -> bool {
    if line.first() == Some(&b'+') {
        return true;
    }
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let rest = &line[sp + 1..];
    let word_end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    let word = &rest[..word_end];
    let status = |w: &[u8]| {
        [&b"OK"[..], b"NO", b"BAD"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    };
    if &line[..sp] == b"*" {
        status(word) || word.eq_ignore_ascii_case(b"BYE") || word.eq_ignore_ascii_case(b"PREAUTH")
    } else {
        status(word)
    }
}

/// The message number and item of a FETCH response whose buffered prefix
/// (everything before a literal header) ends with a body item that may
/// stream: `* n FETCH (... BODY[...]<o> `.
fn streamed_item(prefix: &[u8]) -> Option<(u32, StreamedItem)> {
    let mut cur = Cursor::new(prefix, 100);
    if !cur.eat(b'*') || !cur.eat(b' ') {
        return None;
    }
    let seq = cur.nz_number().ok()?;
    if !cur.eat_ci(b" FETCH (") {
        return None;
    }
    loop {
        let start = cur.pos();
        if let Some(item) = item_head(&mut cur)
            && cur.at_end()
        {
            return Some((seq, item));
        }
        cur.rewind(start);
        crate::response::fetch::item(&mut cur).ok()?;
        if !cur.eat(b' ') {
            return None;
        }
    }
}

/// `BODY[section]<origin> `, `BINARY[part]<origin> ` or `RFC822[.x] `.
fn item_head(cur: &mut Cursor<'_>) -> Option<StreamedItem> {
    let (word, _) = cur.word().ok()?;
    let item = match word.as_str() {
        "BODY" if cur.peek() == Some(b'[') => {
            let section = crate::fetch::parse_section(cur).ok()?;
            StreamedItem::BodySection {
                section,
                origin: origin(cur)?,
            }
        }
        "BINARY" => {
            let part = crate::fetch::parse_binary_part(cur).ok()?;
            StreamedItem::Binary {
                part,
                origin: origin(cur)?,
            }
        }
        "RFC822" => StreamedItem::Rfc822,
        "RFC822.HEADER" => StreamedItem::Rfc822Header,
        "RFC822.TEXT" => StreamedItem::Rfc822Text,
        _ => return None,
    };
    cur.eat(b' ').then_some(item)
}

fn origin(cur: &mut Cursor<'_>) -> Option<Option<u64>> {
    if !cur.eat(b'<') {
        return Some(None);
    }
    let n = cur.number64().ok()?;
    cur.eat(b'>').then_some(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_carry_no_literals() {
        assert!(is_status_or_continuation(b"+ Ready {5}\r\n"));
        assert!(is_status_or_continuation(b"A1 OK done {5}\r\n"));
        assert!(is_status_or_continuation(b"* bye {5}\r\n"));
        assert!(is_status_or_continuation(b"* OK\r\n"));
        assert!(!is_status_or_continuation(b"* 1 FETCH (BODY[] {5}\r\n"));
        assert!(!is_status_or_continuation(b"* OKAY {5}\r\n"));
        assert!(!is_status_or_continuation(b"A1 PREAUTH {5}\r\n"));
    }

    #[test]
    fn stream_prefixes() {
        let got = streamed_item(b"* 12 FETCH (UID 5 BODY[1.HEADER.FIELDS (A B)]<10> ");
        assert_eq!(
            got,
            Some((
                12,
                StreamedItem::BodySection {
                    section: Section {
                        part: vec![1],
                        text: Some(crate::SectionText::HeaderFields(vec![
                            b"A".to_vec(),
                            b"B".to_vec()
                        ])),
                    },
                    origin: Some(10),
                }
            ))
        );
        assert_eq!(
            streamed_item(b"* 1 FETCH (BODY[] {0}\r\n BINARY[2] "),
            Some((
                1,
                StreamedItem::Binary {
                    part: vec![2],
                    origin: None
                }
            ))
        );
        assert_eq!(
            streamed_item(b"* 1 fetch (RFC822.TEXT "),
            Some((1, StreamedItem::Rfc822Text))
        );
        assert_eq!(streamed_item(b"* 1 FETCH (ENVELOPE ("), None);
        assert_eq!(streamed_item(b"* LIST () \"/\" "), None);
        assert_eq!(streamed_item(b"* 0 FETCH (RFC822 "), None);
    }
}
