//! A stored message as IMAP sees it: its MIME part tree with the byte offsets
//! of every part's header and body, and what FETCH (RFC 9051 §6.4.5,
//! §7.5.2; BINARY, RFC 3516), SEARCH, SORT and THREAD (RFC 5256) need from
//! it.
//!
//! [`MessageView::new`] parses the raw message once with `mail-parser` and
//! keeps only an owned tree of offsets and MIME fields; sections are slices
//! of the raw bytes. Every message, however broken, yields a view. Calls
//! into mail-parser run under `catch_unwind` (a panic there falls back to a
//! plain header/body split), and mail-parser is never shown a nested
//! message: attached messages are parsed here, one level at a time, so
//! deep nesting cannot exhaust the stack.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, MessageParser, PartType};

use crate::datetime::{Date, DateTime};
use crate::fetch::{Partial, Section, SectionText};
use crate::response::{
    Address, BodyExt, BodyFields, BodyStructure, Disposition, Envelope, Params, SingleKind,
};

/// How deeply multiparts and attached messages may nest. A part deeper than
/// this is kept as one opaque leaf (shown as `TEXT/PLAIN`), which also keeps
/// BODYSTRUCTURE within what a client's parser accepts.
pub const MAX_NESTING: usize = 40;

/// How many base64 or quoted-printable encoded attached messages may nest
/// (each one is decoded into a buffer of its own).
const MAX_ENCODED_NESTING: usize = 3;

/// The host given to an address without a domain (a NIL host would mean a
/// group marker).
const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";
/// The mailbox given to an address without a local part.
const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";

/// Why a BINARY fetch (RFC 3516) cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// The part number names no part of this message.
    #[error("no such part")]
    NoSuchPart,
    /// The part is a multipart, which has no content of its own to decode.
    #[error("the part is a multipart")]
    NotLeaf,
    /// The part's Content-Transfer-Encoding is not one this server can
    /// decode; the server answers NO `[UNKNOWN-CTE]`.
    #[error("unknown Content-Transfer-Encoding {0:?}")]
    UnknownCte(String),
}

/// A raw message and its MIME structure.
///
/// Part numbers follow RFC 9051 §6.4.5: the parts of a multipart are
/// numbered from 1; a message that is not multipart has one part, 1, its
/// body; the parts of a MESSAGE/RFC822 (or MESSAGE/GLOBAL) part are those of
/// the attached message.
#[derive(Debug, Clone)]
pub struct MessageView {
    raw: Bytes,
    /// `bufs[0]` is `raw`; later buffers hold decoded attached messages
    /// that were sent base64 or quoted-printable encoded.
    bufs: Vec<Bytes>,
    root: Node,
}

/// One MIME entity. For the root of a message, `header` is the message
/// header; `body` never includes the line break before a boundary.
#[derive(Debug, Clone)]
struct Node {
    buf: usize,
    header: Range<usize>,
    body: Range<usize>,
    info: PartInfo,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Leaf,
    Multi(Vec<Node>),
    /// A MESSAGE/RFC822 or MESSAGE/GLOBAL part; the box holds the attached
    /// message's root entity.
    Message(Box<Node>),
}

/// A Content-Transfer-Encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cte {
    /// 7bit, 8bit, binary, or none given.
    Identity,
    Base64,
    QuotedPrintable,
    Unknown,
}

/// Parameters as mail-parser decodes them (RFC 2231 applied).
type TextParams = Vec<(String, String)>;

/// The MIME fields of one entity, parsed from its header.
#[derive(Debug, Clone, Default)]
struct PartInfo {
    /// The declared media type and subtype, lower-cased; `None` when
    /// Content-Type is absent or invalid.
    ctype: Option<(String, String)>,
    params: TextParams,
    encoding: Option<Vec<u8>>,
    id: Option<Vec<u8>>,
    description: Option<Vec<u8>>,
    md5: Option<Vec<u8>>,
    location: Option<Vec<u8>>,
    disposition: Option<(String, TextParams)>,
    language: Vec<String>,
    /// A part of a multipart/digest, whose default type is message/rfc822.
    digest_child: bool,
}

impl PartInfo {
    fn parse(header: &[u8], digest_child: bool) -> Self {
        let fields = split_fields(header);
        // The last occurrence wins, as in mail-parser, which shaped the tree.
        let last = |name: &str| {
            fields
                .iter()
                .rev()
                .find(|f| f.is(header, name))
                .map(|f| f.value(header))
        };
        let raw = |name: &str| last(name).map(|v| clean(unfold(v)));
        let mut info = PartInfo {
            encoding: raw("content-transfer-encoding"),
            id: raw("content-id"),
            description: raw("content-description"),
            md5: raw("content-md5"),
            location: raw("content-location"),
            digest_child,
            ..PartInfo::default()
        };
        if let Some((t, s, params)) = last("content-type").and_then(parse_content_type)
            && !s.is_empty()
        {
            info.ctype = Some((t, s));
            info.params = params;
        }
        info.disposition = last("content-disposition")
            .and_then(parse_content_type)
            .map(|(kind, _, params)| (kind, params));
        if let Some(v) = last("content-language") {
            let data = with_newline(v);
            info.language = match guard(|| MessageStream::new(&data).parse_comma_separared()) {
                Some(HeaderValue::Text(t)) => vec![t.into_owned()],
                Some(HeaderValue::TextList(l)) => l.into_iter().map(Cow::into_owned).collect(),
                _ => Vec::new(),
            };
        }
        info
    }

    fn is(&self, media_type: &str, subtype: &str) -> bool {
        self.ctype
            .as_ref()
            .is_some_and(|(t, s)| t == media_type && s == subtype)
    }

    /// message/rfc822 or message/global, declared or by the digest default.
    fn is_message(&self) -> bool {
        match &self.ctype {
            Some((t, s)) => t == "message" && (s == "rfc822" || s == "global"),
            None => self.digest_child,
        }
    }

    fn cte(&self) -> Cte {
        let Some(v) = self.encoding.as_deref() else {
            return Cte::Identity;
        };
        let v = trim_wsp(v);
        let is = |name: &[u8]| v.eq_ignore_ascii_case(name);
        if v.is_empty() || is(b"7bit") || is(b"8bit") || is(b"binary") {
            Cte::Identity
        } else if is(b"base64") {
            Cte::Base64
        } else if is(b"quoted-printable") {
            Cte::QuotedPrintable
        } else {
            Cte::Unknown
        }
    }
}

/// Runs a call into mail-parser, turning a panic inside it into `None`.
/// (mail-parser 0.11.9 can overflow an integer on malformed
/// quoted-printable parts, which panics where overflow checks are on.)
fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// Parses a Content-Type or Content-Disposition value into (type, subtype,
/// parameters), type and subtype lower-cased.
fn parse_content_type(value: &[u8]) -> Option<(String, String, TextParams)> {
    let data = with_newline(value);
    let Some(HeaderValue::ContentType(ct)) =
        guard(|| MessageStream::new(&data).parse_content_type())
    else {
        return None;
    };
    // NUL octets are dropped here, before the type decides the layout, as
    // they are from every string IMAP sends.
    let strip = |v: &str| v.replace('\0', "");
    let t = strip(&ct.c_type).to_ascii_lowercase();
    if t.is_empty() {
        return None;
    }
    let s = ct
        .c_subtype
        .map(|s| strip(&s).to_ascii_lowercase())
        .unwrap_or_default();
    let params = ct
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|a| (strip(&a.name), strip(&a.value)))
        .collect();
    Some((t, s, params))
}

/// Where a part is built: its buffer, the offset mail-parser's offsets
/// count from, the range the part must lie in, and how deep it is.
#[derive(Debug, Clone, Copy)]
struct Slot {
    buf: usize,
    base: usize,
    lo: usize,
    hi: usize,
    /// The entity fills `lo..hi` exactly (a message root).
    exact: bool,
    digest_child: bool,
    depth: usize,
    encoded_depth: usize,
}

/// Skips white space, folds and comments from `i` within one header field.
fn skip_cfws(data: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&b) = data.get(i) {
        match b {
            // A line break ends the field unless a fold follows.
            b'\n' if !data.get(i + 1).is_some_and(|&n| is_wsp(n)) => return i,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b'\\' if depth > 0 => i += 1,
            _ if depth > 0 => {}
            _ => return i,
        }
        i += 1;
    }
    i
}

/// The token (media type or subtype) at `i`, as a range.
fn type_token(data: &[u8], i: usize) -> Range<usize> {
    let mut end = i;
    while data
        .get(end)
        .is_some_and(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b';' | b'('))
    {
        end += 1;
    }
    i..end
}

/// A copy of `data`, the same length, for mail-parser to lay out: every
/// Content-Type of `message/*` becomes `xessage/*` and `multipart/digest`
/// becomes `multipart/xigest`. mail-parser then never nests messages (its
/// nested messages are dropped and copied recursively, which overflows the
/// stack on deeply nested input); attached messages are parsed here, one
/// level at a time, up to [`MAX_NESTING`].
fn layout_input(data: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut line = 0;
    while line < data.len() {
        let rest = data.get(line..).unwrap_or_default();
        let next = memchr::memchr(b'\n', rest).map_or(data.len(), |p| line + p + 1);
        let name_at = line + rest.iter().take_while(|&&b| is_wsp(b)).count();
        let after_name = name_at + 12;
        if data
            .get(name_at..after_name)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"content-type"))
        {
            let colon = after_name
                + data
                    .get(after_name..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|&&b| is_wsp(b))
                    .count();
            if data.get(colon) == Some(&b':') {
                let media = type_token(data, skip_cfws(data, colon + 1));
                let slash = skip_cfws(data, media.end);
                let sub = if data.get(slash) == Some(&b'/') {
                    type_token(data, skip_cfws(data, slash + 1))
                } else {
                    slash..slash
                };
                let is = |r: &Range<usize>, word: &[u8]| {
                    data.get(r.clone())
                        .is_some_and(|t| t.eq_ignore_ascii_case(word))
                };
                let patch = if is(&media, b"message") {
                    Some(media.start)
                } else if is(&media, b"multipart") && is(&sub, b"digest") {
                    Some(sub.start)
                } else {
                    None
                };
                if let Some(at) = patch
                    && let Some(b) = out.get_or_insert_with(|| data.to_vec()).get_mut(at)
                {
                    *b = b'x';
                }
            }
        }
        line = next;
    }
    out.map_or(Cow::Borrowed(data), Cow::Owned)
}

/// Drops a parsed message without recursion.
fn release(message: mail_parser::Message<'_>) {
    let mut stack = vec![message];
    while let Some(mut m) = stack.pop() {
        for part in &mut m.parts {
            if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                stack.push(inner);
            }
        }
    }
}

struct Builder {
    bufs: Vec<Bytes>,
}

impl Builder {
    fn bytes(&self, buf: usize, range: Range<usize>) -> &[u8] {
        self.bufs
            .get(buf)
            .and_then(|b| b.get(range))
            .unwrap_or_default()
    }

    /// Lays out the message that fills `slot` (`slot.base` is where the
    /// data handed to mail-parser starts in the buffer).
    fn message(&mut self, slot: Slot) -> Node {
        let data = match self.bufs.get(slot.buf) {
            Some(b) if slot.lo <= slot.hi && slot.hi <= b.len() => b.slice(slot.lo..slot.hi),
            _ => Bytes::new(),
        };
        let input = layout_input(&data);
        match guard(|| MessageParser::new().parse(&input[..])).flatten() {
            Some(m) => {
                let node = self.entity(&m, 0, slot);
                release(m);
                node
            }
            None => self.plain(slot),
        }
    }

    /// Builds entity `id` of `msg`, clamping mail-parser's offsets into the
    /// slot so that malformed input can never produce a bad range.
    fn entity(&mut self, msg: &mail_parser::Message<'_>, id: usize, slot: Slot) -> Node {
        let Some(part) = msg.parts.get(id) else {
            return self.plain(slot);
        };
        let hi = slot.hi;
        let lo = slot.lo.min(hi);
        let at = |v: u32, min: usize| {
            slot.base
                .saturating_add(usize::try_from(v).unwrap_or(usize::MAX))
                .clamp(min, hi)
        };
        let hs = if slot.exact {
            lo
        } else {
            at(part.offset_header, lo)
        };
        let bs = at(part.offset_body, hs);
        let be = if slot.exact {
            hi
        } else {
            at(part.offset_end, bs)
        };
        let info = PartInfo::parse(self.bytes(slot.buf, hs..bs), slot.digest_child);
        let deeper = Slot {
            depth: slot.depth + 1,
            ..slot
        };
        let kind = if slot.depth >= MAX_NESTING {
            Kind::Leaf
        } else {
            match &part.body {
                PartType::Multipart(ids) => {
                    let digest = info.is("multipart", "digest");
                    let mut children = Vec::with_capacity(ids.len());
                    let mut cursor = bs;
                    for &child in ids {
                        let child = usize::try_from(child).unwrap_or(usize::MAX);
                        // Children always follow their parent; anything else
                        // could loop.
                        if child <= id {
                            continue;
                        }
                        let node = self.entity(
                            msg,
                            child,
                            Slot {
                                lo: cursor,
                                hi: be,
                                exact: false,
                                digest_child: digest,
                                ..deeper
                            },
                        );
                        cursor = node.body.end;
                        children.push(node);
                    }
                    Kind::Multi(children)
                }
                _ if info.is_message() => self.attached(deeper, bs..be, &info),
                _ => Kind::Leaf,
            }
        };
        Node {
            buf: slot.buf,
            header: hs..bs,
            body: bs..be,
            info,
            kind,
        }
    }

    /// An attached message: laid out where it is, or, when it is sent
    /// base64 or quoted-printable encoded, decoded into a buffer of its own.
    fn attached(&mut self, slot: Slot, body: Range<usize>, info: &PartInfo) -> Kind {
        let cte = info.cte();
        let inner = if matches!(cte, Cte::Base64 | Cte::QuotedPrintable) {
            if slot.encoded_depth >= MAX_ENCODED_NESTING {
                return Kind::Leaf;
            }
            let decoded =
                Bytes::from(decode_transfer(self.bytes(slot.buf, body), cte).into_owned());
            let len = decoded.len();
            self.bufs.push(decoded);
            Slot {
                buf: self.bufs.len() - 1,
                base: 0,
                lo: 0,
                hi: len,
                exact: true,
                digest_child: false,
                depth: slot.depth,
                encoded_depth: slot.encoded_depth + 1,
            }
        } else {
            Slot {
                base: body.start,
                lo: body.start,
                hi: body.end,
                exact: true,
                digest_child: false,
                ..slot
            }
        };
        Kind::Message(Box::new(self.message(inner)))
    }

    /// A leaf whose header and body are split here, without mail-parser.
    fn plain(&self, slot: Slot) -> Node {
        let hi = slot.hi;
        let lo = slot.lo.min(hi);
        let split = lo + header_len(self.bytes(slot.buf, lo..hi));
        let info = PartInfo::parse(self.bytes(slot.buf, lo..split), slot.digest_child);
        Node {
            buf: slot.buf,
            header: lo..split,
            body: split..hi,
            info,
            kind: Kind::Leaf,
        }
    }
}

/// The length of the header block at the start of `data`, blank line
/// included; all of `data` when there is no blank line.
fn header_len(data: &[u8]) -> usize {
    let mut i = 0;
    while i < data.len() {
        let rest = data.get(i..).unwrap_or_default();
        if rest.starts_with(b"\n") {
            return i + 1;
        }
        if rest.starts_with(b"\r\n") {
            return i + 2;
        }
        match memchr::memchr(b'\n', rest) {
            Some(p) => i += p + 1,
            None => return data.len(),
        }
    }
    data.len()
}

/// One header field: `start..end` is the whole field, continuation lines
/// and the final line break included.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    colon: Option<usize>,
    end: usize,
}

impl Field {
    /// The field name; `None` for a line without a colon.
    fn name<'h>(&self, h: &'h [u8]) -> Option<&'h [u8]> {
        let name = trim_wsp(h.get(self.start..self.colon?)?);
        (!name.is_empty()).then_some(name)
    }

    fn is(&self, h: &[u8], name: &str) -> bool {
        self.name(h)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Everything after the colon, folds and final line break included.
    fn value<'h>(&self, h: &'h [u8]) -> &'h [u8] {
        self.colon
            .and_then(|c| h.get(c + 1..self.end))
            .unwrap_or_default()
    }

    fn raw<'h>(&self, h: &'h [u8]) -> &'h [u8] {
        h.get(self.start..self.end).unwrap_or_default()
    }
}

/// Splits a header block into fields, up to the blank line.
fn split_fields(h: &[u8]) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    let mut i = 0;
    while i < h.len() {
        let rest = h.get(i..).unwrap_or_default();
        let end = memchr::memchr(b'\n', rest).map_or(h.len(), |p| i + p + 1);
        let line = h.get(i..end).unwrap_or_default();
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        match line.first() {
            Some(b' ' | b'\t') => {
                if let Some(last) = fields.last_mut() {
                    last.end = end;
                }
            }
            _ => fields.push(Field {
                start: i,
                colon: memchr::memchr(b':', line).map(|p| i + p),
                end,
            }),
        }
        i = end;
    }
    fields
}

fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t')
}

fn trim_wsp(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v
        && (is_wsp(*first) || *first == b'\r' || *first == b'\n')
    {
        v = rest;
    }
    while let [rest @ .., last] = v
        && (is_wsp(*last) || *last == b'\r' || *last == b'\n')
    {
        v = rest;
    }
    v
}

/// Removes the line breaks of folded lines (keeping the white space after
/// them) and the surrounding white space.
fn unfold(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for (i, &b) in v.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && v.get(i + 1) == Some(&b'\n')) {
            continue;
        }
        out.push(b);
    }
    trim_wsp(&out).to_vec()
}

/// Drops NUL octets, which no IMAP string may carry.
fn clean(mut v: Vec<u8>) -> Vec<u8> {
    v.retain(|&b| b != 0);
    v
}

/// The value with a final LF, which mail-parser's field parsers need to
/// see the end of the field.
fn with_newline(v: &[u8]) -> Cow<'_, [u8]> {
    if v.ends_with(b"\n") {
        Cow::Borrowed(v)
    } else {
        let mut owned = v.to_vec();
        owned.push(b'\n');
        Cow::Owned(owned)
    }
}

/// Decodes a header field value as text: unfolds it and decodes RFC 2047
/// encoded words (white space runs become one space).
pub fn decode_header_text(value: &[u8]) -> String {
    let data = with_newline(value);
    match guard(|| MessageStream::new(&data).parse_unstructured()) {
        Some(HeaderValue::Text(t)) => t.into_owned(),
        Some(HeaderValue::TextList(l)) => l.join(" "),
        _ => String::new(),
    }
}

/// Parses a Date: value; `None` when it is not a valid date.
fn parse_date_value(value: &[u8]) -> Option<DateTime> {
    let data = with_newline(value);
    let Some(HeaderValue::DateTime(d)) = guard(|| MessageStream::new(&data).parse_date()) else {
        return None;
    };
    let date = Date::new(d.year, d.month, d.day)?;
    let zone = i16::from(d.tz_hour) * 60 + i16::from(d.tz_minute);
    let zone = if d.tz_before_gmt { -zone } else { zone };
    DateTime::new(date, d.hour, d.minute, d.second, zone)
}

/// The message IDs (`<...>`, brackets and white space removed) in a value.
fn message_ids(value: &[u8]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(open) = memchr::memchr(b'<', rest) {
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = memchr::memchr(b'>', after) else {
            break;
        };
        let id: Vec<u8> = after
            .get(..close)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace() && *b != 0)
            .collect();
        if !id.is_empty() && !id.contains(&b'<') {
            ids.push(String::from_utf8_lossy(&id).into_owned());
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    ids
}

/// Decodes a body by its Content-Transfer-Encoding; unknown encodings are
/// returned as they are.
fn decode_transfer(data: &[u8], cte: Cte) -> Cow<'_, [u8]> {
    match cte {
        Cte::Identity | Cte::Unknown => Cow::Borrowed(data),
        Cte::Base64 => Cow::Owned(guard(|| base64_decode(data)).flatten().unwrap_or_else(|| {
            // Lenient: skip whatever is not base64.
            let filtered: Vec<u8> = data
                .iter()
                .copied()
                .filter(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                .collect();
            guard(|| base64_decode(&filtered))
                .flatten()
                .unwrap_or_default()
        })),
        Cte::QuotedPrintable => Cow::Owned(
            guard(|| quoted_printable_decode(data))
                .flatten()
                .unwrap_or_else(|| lenient_quoted_printable(data)),
        ),
    }
}

/// Quoted-printable decoding that keeps malformed `=` sequences as they
/// are (RFC 2045 §6.7 note 1) instead of failing.
fn lenient_quoted_printable(data: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (data.get(i + 1), data.get(i + 2)) {
            (Some(b'\n'), _) => i += 2,
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(hex(h).unwrap_or(0) << 4 | hex(l).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The number of lines in a body: its line feeds, plus one for a last line
/// without one.
fn count_lines(body: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', body).count();
    let partial = usize::from(body.last().is_some_and(|&b| b != b'\n'));
    u64::try_from(lf + partial).unwrap_or(u64::MAX)
}

/// Seconds since 1970-01-01T00:00:00Z of an instant with a zone.
pub fn unix_time(dt: &DateTime) -> i64 {
    let d = dt.date();
    // Days from civil (proleptic Gregorian), after H. Hinnant's algorithm.
    let (y, m, day) = (
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let (h, min, s) = dt.time();
    days * 86_400 + i64::from(h) * 3600 + i64::from(min) * 60 + i64::from(s)
        - i64::from(dt.zone_minutes()) * 60
}

/// Applies a `<offset.length>` partial to fetched data: an offset past the
/// end gives an empty string, a length past the end stops at the end.
pub fn apply_partial(data: Bytes, partial: Option<Partial>) -> Bytes {
    let Some(p) = partial else {
        return data;
    };
    let len = data.len();
    let start = usize::try_from(p.offset).unwrap_or(usize::MAX).min(len);
    let end = start
        .saturating_add(usize::try_from(p.length).unwrap_or(usize::MAX))
        .min(len);
    data.slice(start..end)
}

// ---------------------------------------------------------------------------
// Addresses, parsed for ENVELOPE with encoded words left as they are.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom, or a quoted string's content.
    Word(Vec<u8>),
    Comment(Vec<u8>),
    Special(u8),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
}

fn is_atext(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | 0
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'.'
            | b'['
            | b']'
            | b'"'
            | b'\\'
    )
}

fn tokenize(v: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | 0 => i += 1,
            b'(' => {
                let mut depth = 0usize;
                let mut text = Vec::new();
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'\\' => {
                            if let Some(&n) = v.get(i) {
                                text.push(n);
                                i += 1;
                            }
                        }
                        b'(' => {
                            if depth > 0 {
                                text.push(c);
                            }
                            depth += 1;
                        }
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                            text.push(c);
                        }
                        _ => text.push(c),
                    }
                }
                toks.push(Tok::Comment(text));
            }
            b'"' => {
                i += 1;
                let mut text = Vec::new();
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'\\' => {
                            if let Some(&n) = v.get(i) {
                                text.push(n);
                                i += 1;
                            }
                        }
                        b'"' => break,
                        _ => text.push(c),
                    }
                }
                toks.push(Tok::Word(text));
            }
            b'[' => {
                let start = i;
                while let Some(&c) = v.get(i) {
                    i += 1;
                    if c == b']' {
                        break;
                    }
                }
                toks.push(Tok::Literal(v.get(start..i).unwrap_or_default().to_vec()));
            }
            _ if !is_atext(b) => {
                toks.push(Tok::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while v.get(i).is_some_and(|&c| is_atext(c)) {
                    i += 1;
                }
                toks.push(Tok::Word(v.get(start..i).unwrap_or_default().to_vec()));
            }
        }
    }
    toks
}

/// A display name: words joined by single spaces, specials attached.
fn phrase(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Tok::Word(w) | Tok::Literal(w) => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
            }
            Tok::Special(b) => out.push(*b),
            Tok::Comment(_) => {}
        }
    }
    out
}

/// Tokens written together, comments dropped (a local part, a domain).
fn concat(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Tok::Word(w) | Tok::Literal(w) => out.extend_from_slice(w),
            Tok::Special(b) => out.push(*b),
            Tok::Comment(_) => {}
        }
    }
    out
}

fn is_special(t: &Tok, c: u8) -> bool {
    matches!(t, Tok::Special(b) if *b == c)
}

fn non_empty(v: Vec<u8>) -> Option<Vec<u8>> {
    (!v.is_empty()).then_some(v)
}

/// `local@domain` tokens: the local part and the domain.
fn addr_spec(toks: &[Tok]) -> (Vec<u8>, Vec<u8>) {
    match toks.iter().position(|t| is_special(t, b'@')) {
        Some(at) => (
            concat(toks.get(..at).unwrap_or_default()),
            concat(toks.get(at + 1..).unwrap_or_default()),
        ),
        None => (concat(toks), Vec::new()),
    }
}

fn make_address(
    name: Option<Vec<u8>>,
    adl: Option<Vec<u8>>,
    local: Vec<u8>,
    host: Vec<u8>,
) -> Address {
    Address {
        name,
        adl,
        mailbox: Some(non_empty(local).unwrap_or_else(|| MISSING_MAILBOX.to_vec())),
        host: Some(non_empty(host).unwrap_or_else(|| MISSING_DOMAIN.to_vec())),
    }
}

/// One mailbox: `name <route:local@domain>` or `local@domain (comment)`.
fn mailbox(item: &[Tok]) -> Option<Address> {
    if item.iter().all(|t| matches!(t, Tok::Comment(_))) {
        return None;
    }
    if let Some(lt) = item.iter().position(|t| is_special(t, b'<')) {
        let name = non_empty(phrase(item.get(..lt).unwrap_or_default()));
        let rest = item.get(lt + 1..).unwrap_or_default();
        let gt = rest
            .iter()
            .position(|t| is_special(t, b'>'))
            .unwrap_or(rest.len());
        let mut inside = rest.get(..gt).unwrap_or_default();
        let mut adl = None;
        if inside.first().is_some_and(|t| is_special(t, b'@'))
            && let Some(colon) = inside.iter().position(|t| is_special(t, b':'))
        {
            adl = non_empty(concat(inside.get(..colon).unwrap_or_default()));
            inside = inside.get(colon + 1..).unwrap_or_default();
        }
        let (local, host) = addr_spec(inside);
        return Some(make_address(name, adl, local, host));
    }
    if item.iter().any(|t| is_special(t, b'@')) {
        // An addr-spec; a comment after it stands in for the name.
        let name = item.iter().rev().find_map(|t| match t {
            Tok::Comment(c) => non_empty(trim_wsp(c).to_vec()),
            _ => None,
        });
        let (local, host) = addr_spec(item);
        return Some(make_address(name, None, local, host));
    }
    Some(make_address(None, None, phrase(item), Vec::new()))
}

/// Parses an address-list into ENVELOPE addresses. A group becomes a start
/// marker (mailbox = group name, host NIL), its members, and an end marker
/// (all NIL). Display names keep their encoded words.
fn parse_addresses(value: &[u8]) -> Vec<Address> {
    let toks = tokenize(value);
    let mut out = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while i < toks.len() {
        let mut j = i;
        let mut angle = false;
        let mut stop = None;
        while let Some(t) = toks.get(j) {
            match t {
                Tok::Special(b'<') => angle = true,
                Tok::Special(b'>') => angle = false,
                Tok::Special(c @ (b',' | b';')) if !angle => {
                    stop = Some(*c);
                    break;
                }
                Tok::Special(b':') if !angle && !in_group => {
                    stop = Some(b':');
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let item = toks.get(i..j).unwrap_or_default();
        match stop {
            Some(b':') => {
                out.push(Address {
                    mailbox: Some(phrase(item)),
                    ..Address::default()
                });
                in_group = true;
            }
            Some(b';') => {
                out.extend(mailbox(item));
                if in_group {
                    out.push(Address::default());
                    in_group = false;
                }
            }
            _ => out.extend(mailbox(item)),
        }
        i = j + 1;
    }
    if in_group {
        out.push(Address::default());
    }
    for a in &mut out {
        for part in [&mut a.name, &mut a.adl, &mut a.mailbox, &mut a.host] {
            if let Some(v) = part.take() {
                *part = Some(clean(v));
            }
        }
    }
    out
}

/// The ENVELOPE of a header block.
fn envelope_of(h: &[u8]) -> Envelope {
    let fields = split_fields(h);
    let first = |name: &str| fields.iter().find(|f| f.is(h, name)).map(|f| f.value(h));
    let text = |name: &str| first(name).map(|v| clean(unfold(v)));
    let addresses = |name: &str| {
        first(name)
            .map(|v| parse_addresses(&unfold(v)))
            .unwrap_or_default()
    };
    let from = addresses("from");
    let or_from = |list: Vec<Address>| if list.is_empty() { from.clone() } else { list };
    Envelope {
        date: text("date"),
        subject: text("subject"),
        sender: or_from(addresses("sender")),
        reply_to: or_from(addresses("reply-to")),
        to: addresses("to"),
        cc: addresses("cc"),
        bcc: addresses("bcc"),
        in_reply_to: text("in-reply-to"),
        message_id: text("message-id"),
        from,
    }
}

/// Keeps only the fields named (or, with `not`, those not named), then the
/// blank line, as HEADER.FIELDS and HEADER.FIELDS.NOT return them. Lines
/// end as the header's own lines do (CRLF, or LF in a bare-LF message).
fn filter_fields(h: &[u8], names: &[Vec<u8>], not: bool) -> Vec<u8> {
    let eol: &[u8] = if h.ends_with(b"\n") && !h.ends_with(b"\r\n") {
        b"\n"
    } else {
        b"\r\n"
    };
    let mut out = Vec::new();
    for f in split_fields(h) {
        let Some(name) = f.name(h) else {
            continue;
        };
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) != not {
            let raw = f.raw(h);
            out.extend_from_slice(raw);
            if !raw.ends_with(b"\n") {
                out.extend_from_slice(eol);
            }
        }
    }
    out.extend_from_slice(eol);
    out
}

fn upper(s: &str) -> Vec<u8> {
    clean(s.to_ascii_uppercase().into_bytes())
}

fn params_out(params: &[(String, String)]) -> Params {
    params
        .iter()
        .map(|(k, v)| (upper(k), clean(v.clone().into_bytes())))
        .collect()
}

/// The media type, subtype and parameters shown for a leaf or attached
/// message, lower-case. A structure type that is not laid out as one (a
/// multipart without a usable boundary, a message nested too deeply) is
/// shown as text/plain, as is a part without a valid Content-Type.
fn present(node: &Node) -> (String, String, TextParams) {
    let info = &node.info;
    let default_text = || {
        (
            "text".to_owned(),
            "plain".to_owned(),
            vec![("charset".to_owned(), "US-ASCII".to_owned())],
        )
    };
    match (&node.kind, &info.ctype) {
        (Kind::Message(_), Some((_, s))) if info.is_message() => {
            ("message".to_owned(), s.clone(), info.params.clone())
        }
        (Kind::Message(_), _) => (
            "message".to_owned(),
            "rfc822".to_owned(),
            info.params.clone(),
        ),
        (_, Some((t, s))) if t != "multipart" && !info.is_message() => {
            let mut params = info.params.clone();
            if t == "text"
                && !params
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("charset"))
            {
                params.push(("charset".to_owned(), "US-ASCII".to_owned()));
            }
            (t.clone(), s.clone(), params)
        }
        _ => default_text(),
    }
}

fn empty_text_part(extended: bool) -> BodyStructure {
    BodyStructure::Single {
        media_type: b"TEXT".to_vec(),
        subtype: b"PLAIN".to_vec(),
        fields: BodyFields {
            params: vec![(b"CHARSET".to_vec(), b"US-ASCII".to_vec())],
            id: None,
            description: None,
            encoding: b"7BIT".to_vec(),
            octets: 0,
        },
        kind: SingleKind::Text { lines: 0 },
        ext: extended.then(BodyExt::default),
    }
}

fn ext_of(info: &PartInfo, multi: bool) -> BodyExt {
    BodyExt {
        md5: if multi { None } else { info.md5.clone() },
        params: if multi {
            params_out(&info.params)
        } else {
            Vec::new()
        },
        disposition: info.disposition.as_ref().map(|(kind, params)| Disposition {
            kind: upper(kind),
            params: params_out(params),
        }),
        language: info
            .language
            .iter()
            .map(|l| clean(l.clone().into_bytes()))
            .collect(),
        location: info.location.clone(),
        extensions: Vec::new(),
    }
}

impl MessageView {
    /// Parses `raw` once. Never fails: a message without a blank line after
    /// its header is all header; bare LF line ends work as CRLF does.
    pub fn new(raw: Bytes) -> Self {
        let mut builder = Builder {
            bufs: vec![raw.clone()],
        };
        let root = builder.message(Slot {
            buf: 0,
            base: 0,
            lo: 0,
            hi: raw.len(),
            exact: true,
            digest_child: false,
            depth: 0,
            encoded_depth: 0,
        });
        Self {
            raw,
            bufs: builder.bufs,
            root,
        }
    }

    /// The raw message.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The size in octets (RFC822.SIZE).
    pub fn size(&self) -> u64 {
        u64::try_from(self.raw.len()).unwrap_or(u64::MAX)
    }

    fn bytes(&self, buf: usize, range: Range<usize>) -> &[u8] {
        self.bufs
            .get(buf)
            .and_then(|b| b.get(range))
            .unwrap_or_default()
    }

    fn slice(&self, buf: usize, range: Range<usize>) -> Bytes {
        match self.bufs.get(buf) {
            Some(b) if range.start <= range.end && range.end <= b.len() => b.slice(range),
            _ => Bytes::new(),
        }
    }

    fn header_of(&self, node: &Node) -> &[u8] {
        self.bytes(node.buf, node.header.clone())
    }

    /// The top-level header block, blank line included.
    pub fn header(&self) -> Bytes {
        self.slice(self.root.buf, self.root.header.clone())
    }

    /// The top-level body (what `BODY[TEXT]` returns).
    pub fn text(&self) -> Bytes {
        self.slice(self.root.buf, self.root.body.clone())
    }

    /// ENVELOPE (RFC 9051 §7.5.2): date, subject, message IDs as raw
    /// unfolded values (encoded words left encoded); addresses with groups
    /// as start and end markers; sender and reply-to default to from.
    pub fn envelope(&self) -> Envelope {
        envelope_of(self.header_of(&self.root))
    }

    /// BODY (`extended` false) or BODYSTRUCTURE (`extended` true). Parts
    /// without a Content-Type are TEXT/PLAIN with CHARSET US-ASCII
    /// (MESSAGE/RFC822 in a multipart/digest); the encoding defaults to
    /// 7BIT; octets and lines count the encoded body. A multipart without
    /// parts shows one empty TEXT/PLAIN part.
    pub fn body_structure(&self, extended: bool) -> BodyStructure {
        self.structure(&self.root, extended)
    }

    fn structure(&self, node: &Node, extended: bool) -> BodyStructure {
        let info = &node.info;
        if let Kind::Multi(children) = &node.kind {
            let parts = if children.is_empty() {
                vec![empty_text_part(extended)]
            } else {
                children
                    .iter()
                    .map(|c| self.structure(c, extended))
                    .collect()
            };
            let subtype = match &info.ctype {
                Some((t, s)) if t == "multipart" => upper(s),
                _ => b"MIXED".to_vec(),
            };
            return BodyStructure::Multi {
                parts,
                subtype,
                ext: extended.then(|| ext_of(info, true)),
            };
        }
        let (media_type, subtype, params) = present(node);
        let body = self.bytes(node.buf, node.body.clone());
        let lines = count_lines(body);
        let kind = match &node.kind {
            Kind::Message(inner) => SingleKind::Message {
                envelope: Box::new(envelope_of(self.header_of(inner))),
                body: Box::new(self.structure(inner, extended)),
                lines,
            },
            _ if media_type == "text" => SingleKind::Text { lines },
            _ => SingleKind::Basic,
        };
        let encoding = match info.encoding.as_deref().map(trim_wsp) {
            Some(e) if !e.is_empty() => clean(e.to_ascii_uppercase()),
            _ => b"7BIT".to_vec(),
        };
        BodyStructure::Single {
            media_type: upper(&media_type),
            subtype: upper(&subtype),
            fields: BodyFields {
                params: params_out(&params),
                id: info.id.clone(),
                description: info.description.clone(),
                encoding,
                octets: u32::try_from(body.len()).unwrap_or(u32::MAX),
            },
            kind,
            ext: extended.then(|| ext_of(info, false)),
        }
    }

    /// The part a part path names (RFC 9051 §6.4.5), or `None`.
    fn part(&self, path: &[u32]) -> Option<&Node> {
        let mut node = &self.root;
        // `node` is a message's root entity, whose parts are being numbered.
        let mut message = true;
        for &n in path {
            let index = usize::try_from(n).ok()?.checked_sub(1)?;
            if !message && let Kind::Message(inner) = &node.kind {
                node = inner;
                message = true;
            }
            node = match &node.kind {
                Kind::Multi(children) => children.get(index)?,
                _ if message && index == 0 => node,
                _ => return None,
            };
            message = false;
        }
        Some(node)
    }

    /// Whether the part path names a part of this message.
    pub fn has_part(&self, path: &[u32]) -> bool {
        self.part(path).is_some()
    }

    fn message_text(&self, msg: &Node, text: &SectionText) -> Option<Bytes> {
        match text {
            SectionText::Header => Some(self.slice(msg.buf, msg.header.clone())),
            SectionText::Text => Some(self.slice(msg.buf, msg.body.clone())),
            SectionText::HeaderFields(names) => Some(Bytes::from(filter_fields(
                self.header_of(msg),
                names,
                false,
            ))),
            SectionText::HeaderFieldsNot(names) => {
                Some(Bytes::from(filter_fields(self.header_of(msg), names, true)))
            }
            SectionText::Mime => None,
        }
    }

    /// The data of `BODY[section]`, before any partial.
    ///
    /// `BODY[]` is the whole message; `HEADER` includes the blank line;
    /// `HEADER.FIELDS` and `.NOT` return whole fields (continuation lines
    /// included, names compared case-insensitively) and end with a blank
    /// line (CRLF; LF when the header's lines end in bare LF); `n.MIME` is part n's MIME header; `n.HEADER`, `n.TEXT`
    /// and `n.HEADER.FIELDS` need part n to be MESSAGE/RFC822 or
    /// MESSAGE/GLOBAL. `None` when the section does not exist; the server
    /// then sends NIL (the data is an nstring).
    pub fn section(&self, section: &Section) -> Option<Bytes> {
        if section.part.is_empty() {
            return match &section.text {
                None => Some(self.raw.clone()),
                Some(text) => self.message_text(&self.root, text),
            };
        }
        let node = self.part(&section.part)?;
        match &section.text {
            None => Some(self.slice(node.buf, node.body.clone())),
            Some(SectionText::Mime) => Some(self.slice(node.buf, node.header.clone())),
            Some(text) => match &node.kind {
                Kind::Message(inner) => self.message_text(inner, text),
                _ => None,
            },
        }
    }

    /// The content of a part with its Content-Transfer-Encoding removed
    /// (`BINARY[part]`, RFC 3516): base64 and quoted-printable decoded,
    /// 7bit, 8bit and binary as they are. An empty path is the whole
    /// message, unchanged.
    pub fn binary(&self, part: &[u32]) -> Result<Bytes, BinaryError> {
        if part.is_empty() {
            return Ok(self.raw.clone());
        }
        let node = self.part(part).ok_or(BinaryError::NoSuchPart)?;
        if matches!(node.kind, Kind::Multi(_)) {
            return Err(BinaryError::NotLeaf);
        }
        let data = self.slice(node.buf, node.body.clone());
        match node.info.cte() {
            Cte::Identity => Ok(data),
            Cte::Unknown => Err(BinaryError::UnknownCte(
                String::from_utf8_lossy(trim_wsp(
                    node.info.encoding.as_deref().unwrap_or_default(),
                ))
                .into_owned(),
            )),
            cte => Ok(Bytes::from(decode_transfer(&data, cte).into_owned())),
        }
    }

    /// `BINARY.SIZE[part]`: the size of [`binary`](Self::binary)'s data.
    pub fn binary_size(&self, part: &[u32]) -> Result<u64, BinaryError> {
        self.binary(part)
            .map(|b| u64::try_from(b.len()).unwrap_or(u64::MAX))
    }

    fn top_fields(&self) -> (&[u8], Vec<Field>) {
        let h = self.header_of(&self.root);
        (h, split_fields(h))
    }

    /// Every top-level field named `name` (case-insensitive), unfolded and
    /// with RFC 2047 encoded words decoded.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let (h, fields) = self.top_fields();
        fields
            .iter()
            .filter(|f| f.is(h, name))
            .map(|f| decode_header_text(f.value(h)))
            .collect()
    }

    /// Whether the top-level header has a field named `name`.
    pub fn has_header(&self, name: &str) -> bool {
        let (h, fields) = self.top_fields();
        fields.iter().any(|f| f.is(h, name))
    }

    fn first_raw(&self, name: &str) -> Option<Vec<u8>> {
        let (h, fields) = self.top_fields();
        fields
            .iter()
            .find(|f| f.is(h, name))
            .map(|f| f.value(h).to_vec())
    }

    /// The Date: header as written, in its own zone; `None` when absent or
    /// not a valid date. SENTBEFORE, SENTON and SENTSINCE compare its date
    /// part; SORT and THREAD its instant.
    pub fn sent_date(&self) -> Option<DateTime> {
        self.first_raw("date").and_then(|v| parse_date_value(&v))
    }

    /// The decoded Subject:.
    pub fn subject(&self) -> Option<String> {
        self.first_raw("subject").map(|v| decode_header_text(&v))
    }

    /// The Message-ID (without angle brackets).
    pub fn message_id(&self) -> Option<String> {
        self.first_raw("message-id")
            .and_then(|v| message_ids(&v).into_iter().next())
    }

    /// The message IDs in References: (every such field, in order).
    pub fn references(&self) -> Vec<String> {
        let (h, fields) = self.top_fields();
        fields
            .iter()
            .filter(|f| f.is(h, "references"))
            .flat_map(|f| message_ids(f.value(h)))
            .collect()
    }

    /// The message IDs in the first In-Reply-To:.
    pub fn in_reply_to(&self) -> Vec<String> {
        self.first_raw("in-reply-to")
            .map(|v| message_ids(&v))
            .unwrap_or_default()
    }

    /// The addresses of the first field named `name` (From, To, Cc...), as
    /// ENVELOPE shows them.
    pub fn addresses(&self, name: &str) -> Vec<Address> {
        self.first_raw(name)
            .map(|v| parse_addresses(&unfold(&v)))
            .unwrap_or_default()
    }

    /// The mailbox (local part) of the first address in field `name`: the
    /// SORT key FROM, TO and CC (RFC 5256).
    pub fn first_mailbox(&self, name: &str) -> Option<String> {
        self.addresses(name)
            .into_iter()
            .find(|a| a.host.is_some())
            .and_then(|a| a.mailbox)
            .map(|m| String::from_utf8_lossy(&m).into_owned())
    }

    /// The display name of the first address in field `name`, decoded, or
    /// else its `mailbox@host`: the SORT keys DISPLAYFROM and DISPLAYTO
    /// (RFC 5957). `None` without such an address.
    pub fn display_name(&self, name: &str) -> Option<String> {
        let a = self
            .addresses(name)
            .into_iter()
            .find(|a| a.host.is_some())?;
        if let Some(n) = a.name.as_deref() {
            let decoded = decode_header_text(n);
            if !decoded.trim().is_empty() {
                return Some(decoded);
            }
        }
        let mailbox = a.mailbox.unwrap_or_default();
        let host = a.host.unwrap_or_default();
        Some(format!(
            "{}@{}",
            String::from_utf8_lossy(&mailbox),
            String::from_utf8_lossy(&host)
        ))
    }

    /// A message header as text: each field as `Name: value`, decoded.
    fn header_text(&self, node: &Node) -> String {
        let h = self.header_of(node);
        let mut out = String::new();
        for f in split_fields(h) {
            if let Some(name) = f.name(h) {
                out.push_str(&String::from_utf8_lossy(name));
                out.push_str(": ");
                out.push_str(&decode_header_text(f.value(h)));
                out.push('\n');
            }
        }
        out
    }

    /// A text leaf's content, transfer- and charset-decoded.
    fn leaf_text(&self, node: &Node) -> String {
        let data = self.bytes(node.buf, node.body.clone());
        let decoded = decode_transfer(data, node.info.cte());
        let (_, _, params) = present(node);
        let charset = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.as_str());
        // US-ASCII text with 8-bit octets in it is most likely UTF-8.
        let decoder = charset
            .filter(|c| !c.eq_ignore_ascii_case("us-ascii"))
            .and_then(|c| charset_decoder(c.as_bytes()));
        decoder
            .and_then(|decode| guard(|| decode(&decoded)))
            .unwrap_or_else(|| String::from_utf8_lossy(&decoded).into_owned())
    }

    /// Calls `f` on each piece of text in the body of `node` (text parts
    /// decoded; attached messages' headers and texts) until it returns true.
    fn any_text(&self, node: &Node, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match &node.kind {
            Kind::Multi(children) => children.iter().any(|c| self.any_text(c, f)),
            Kind::Message(inner) => f(&self.header_text(inner)) || self.any_text(inner, f),
            Kind::Leaf => present(node).0 == "text" && f(&self.leaf_text(node)),
        }
    }

    /// SEARCH BODY: whether the decoded text of the body contains `needle`,
    /// case-insensitively. An empty needle matches every message.
    pub fn body_contains(&self, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        needle.is_empty() || self.any_text(&self.root, &mut |t| t.to_lowercase().contains(&needle))
    }

    /// SEARCH TEXT: [`body_contains`](Self::body_contains) over the decoded
    /// header and the body.
    pub fn text_contains(&self, needle: &str) -> bool {
        let lower = needle.to_lowercase();
        lower.is_empty()
            || self.header_text(&self.root).to_lowercase().contains(&lower)
            || self.body_contains(needle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = parse_addresses(b"\"Joe Q. Public\" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org (John)");
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].name.as_deref(), Some(&b"Joe Q. Public"[..]));
        assert_eq!(a[0].mailbox.as_deref(), Some(&b"john.q.public"[..]));
        assert_eq!(a[0].host.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(a[2].name.as_deref(), Some(&b"John"[..]));
        let g = parse_addresses(b"A Group:Ed Jones <c@a.test>,joe@where.test;, <@r1,@r2:x@y>");
        assert_eq!(g.len(), 5);
        assert_eq!(g[0].mailbox.as_deref(), Some(&b"A Group"[..]));
        assert_eq!(g[0].host, None);
        assert_eq!(g[3], Address::default());
        assert_eq!(g[4].adl.as_deref(), Some(&b"@r1,@r2"[..]));
        assert_eq!(g[4].mailbox.as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn lines_and_headers() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\r\n"), 1);
        assert_eq!(count_lines(b"a\r\nb"), 2);
        assert_eq!(header_len(b"a: b\r\n\r\nbody"), 8);
        assert_eq!(header_len(b"a: b\n\nbody"), 6);
        assert_eq!(header_len(b"a: b"), 4);
        assert_eq!(header_len(b"\r\nbody"), 2);
        assert_eq!(unfold(b" a\r\n b\r\n"), b"a b");
    }

    #[test]
    fn time() {
        let d = Date::new(1970, 1, 1).unwrap();
        assert_eq!(unix_time(&DateTime::new(d, 0, 0, 0, 0).unwrap()), 0);
        assert_eq!(unix_time(&DateTime::new(d, 1, 0, 0, 60).unwrap()), 0);
        let d = Date::new(2000, 3, 1).unwrap();
        assert_eq!(
            unix_time(&DateTime::new(d, 0, 0, 0, 0).unwrap()),
            951_868_800
        );
    }

    #[test]
    fn lenient_qp() {
        assert_eq!(lenient_quoted_printable(b"a=3Db=\r\nc=zz="), b"a=bc=zz=");
    }
}
