//! FETCH items (RFC 9051 §6.4.5), BINARY (RFC 3516) and the CONDSTORE /
//! QRESYNC modifiers (RFC 7162).

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::writer::Writer;

/// What a FETCH asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItems {
    /// `ALL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE.
    All,
    /// `FAST`: FLAGS INTERNALDATE RFC822.SIZE.
    Fast,
    /// `FULL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.
    Full,
    /// One attribute, or a parenthesized list of them. Never empty.
    Attributes(Vec<FetchAttribute>),
}

/// A byte range `<offset.length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    /// First octet, counting from zero.
    pub offset: u64,
    /// Number of octets, never zero.
    pub length: u64,
}

/// The text part of a section specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`; never empty.
    HeaderFields(Vec<Vec<u8>>),
    /// `HEADER.FIELDS.NOT (names)`; never empty.
    HeaderFieldsNot(Vec<Vec<u8>>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// A section specifier: `BODY[1.2.HEADER]` has part `[1, 2]` and text
/// `Header`; `BODY[]` has neither.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// The part path; each number is at least 1.
    pub part: Vec<u32>,
    /// The text specifier, if any.
    pub text: Option<SectionText>,
}

/// One fetch attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822` (IMAP4rev1).
    Rfc822,
    /// `RFC822.HEADER` (IMAP4rev1).
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT` (IMAP4rev1).
    Rfc822Text,
    /// `BODY` (the structure without extension data).
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section,
        /// The byte range.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// The part path (possibly empty).
        part: Vec<u32>,
        /// The byte range.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        /// The part path (possibly empty).
        part: Vec<u32>,
    },
    /// `MODSEQ` (RFC 7162).
    ModSeq,
}

/// FETCH modifiers: `(CHANGEDSINCE n [VANISHED])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    /// `CHANGEDSINCE mod-sequence`.
    pub changed_since: Option<u64>,
    /// `VANISHED` (UID FETCH with QRESYNC).
    pub vanished: bool,
}

impl FetchModifiers {
    /// Whether no modifier is set.
    pub fn is_empty(&self) -> bool {
        self.changed_since.is_none() && !self.vanished
    }
}

fn part_path(cur: &mut Cursor<'_>) -> Result<Vec<u32>, ParseError> {
    let mut part = Vec::new();
    while cur.peek().is_some_and(|b| b.is_ascii_digit()) {
        part.push(cur.nz_number()?);
        if cur.peek() == Some(b'.') && cur.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            cur.eat(b'.');
        } else {
            break;
        }
    }
    Ok(part)
}

fn header_list(cur: &mut Cursor<'_>) -> Result<Vec<Vec<u8>>, ParseError> {
    cur.sp()?;
    let list = cur.paren_list(|c| c.astring())?;
    if list.is_empty() {
        return Err(cur.err("header field name"));
    }
    Ok(list)
}

/// Parses `[section-spec]` including the brackets.
pub(crate) fn parse_section(cur: &mut Cursor<'_>) -> Result<Section, ParseError> {
    cur.expect(b'[', "[")?;
    let part = part_path(cur)?;
    let text = if cur.peek() == Some(b']') {
        None
    } else {
        if !part.is_empty() {
            cur.expect(b'.', ".")?;
        }
        let (word, offset) = cur.word()?;
        Some(match word.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !part.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" => SectionText::HeaderFields(header_list(cur)?),
            "HEADER.FIELDS.NOT" => SectionText::HeaderFieldsNot(header_list(cur)?),
            _ => {
                return Err(ParseError::UnknownKeyword {
                    keyword: word,
                    offset,
                });
            }
        })
    };
    cur.expect(b']', "]")?;
    Ok(Section { part, text })
}

/// Parses `[part]` of BINARY.
pub(crate) fn parse_binary_part(cur: &mut Cursor<'_>) -> Result<Vec<u32>, ParseError> {
    cur.expect(b'[', "[")?;
    let part = part_path(cur)?;
    cur.expect(b']', "]")?;
    Ok(part)
}

fn partial(cur: &mut Cursor<'_>) -> Result<Option<Partial>, ParseError> {
    if !cur.eat(b'<') {
        return Ok(None);
    }
    let offset = cur.number64()?;
    cur.expect(b'.', ".")?;
    let length = cur.nz_number64()?;
    cur.expect(b'>', ">")?;
    Ok(Some(Partial { offset, length }))
}

/// Parses one `fetch-att`.
pub(crate) fn parse_attribute(cur: &mut Cursor<'_>) -> Result<FetchAttribute, ParseError> {
    use FetchAttribute as A;
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "ENVELOPE" => A::Envelope,
        "FLAGS" => A::Flags,
        "INTERNALDATE" => A::InternalDate,
        "RFC822" => A::Rfc822,
        "RFC822.HEADER" => A::Rfc822Header,
        "RFC822.SIZE" => A::Rfc822Size,
        "RFC822.TEXT" => A::Rfc822Text,
        "BODYSTRUCTURE" => A::BodyStructure,
        "UID" => A::Uid,
        "MODSEQ" => A::ModSeq,
        "BODY" if cur.peek() != Some(b'[') => A::Body,
        "BODY" | "BODY.PEEK" => A::BodySection {
            peek: word == "BODY.PEEK",
            section: parse_section(cur)?,
            partial: partial(cur)?,
        },
        "BINARY" | "BINARY.PEEK" => A::Binary {
            peek: word == "BINARY.PEEK",
            part: parse_binary_part(cur)?,
            partial: partial(cur)?,
        },
        "BINARY.SIZE" => A::BinarySize {
            part: parse_binary_part(cur)?,
        },
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses what follows `FETCH set SP`: a macro, one attribute or a list.
pub(crate) fn parse_items(cur: &mut Cursor<'_>) -> Result<FetchItems, ParseError> {
    if cur.peek() == Some(b'(') {
        let list = cur.paren_list(parse_attribute)?;
        if list.is_empty() {
            return Err(cur.err("fetch attribute"));
        }
        return Ok(FetchItems::Attributes(list));
    }
    let start = cur.pos();
    let (word, _) = cur.word()?;
    Ok(match word.as_str() {
        "ALL" => FetchItems::All,
        "FAST" => FetchItems::Fast,
        "FULL" => FetchItems::Full,
        _ => {
            cur.rewind(start);
            FetchItems::Attributes(vec![parse_attribute(cur)?])
        }
    })
}

/// Parses `SP "(" fetch-modifier *(SP fetch-modifier) ")"`.
pub(crate) fn parse_modifiers(cur: &mut Cursor<'_>) -> Result<FetchModifiers, ParseError> {
    let mut mods = FetchModifiers::default();
    let list = cur.paren_list(|c| {
        let (word, offset) = c.word()?;
        match word.as_str() {
            "CHANGEDSINCE" => {
                c.sp()?;
                Ok((Some(c.nz_number64()?), false))
            }
            "VANISHED" => Ok((None, true)),
            _ => Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            }),
        }
    })?;
    for (changed, vanished) in list {
        if changed.is_some() {
            mods.changed_since = changed;
        }
        mods.vanished |= vanished;
    }
    Ok(mods)
}

/// Writes a part path (`1.2`).
pub(crate) fn write_part(w: &mut Writer, part: &[u32]) {
    for (i, p) in part.iter().enumerate() {
        if i > 0 {
            w.byte(b'.');
        }
        w.num(p);
    }
}

fn write_partial(w: &mut Writer, p: &Option<Partial>) {
    if let Some(p) = p {
        w.byte(b'<');
        w.num(p.offset);
        w.byte(b'.');
        w.num(p.length);
        w.byte(b'>');
    }
}

/// Writes `[section-spec]`.
pub(crate) fn write_section(w: &mut Writer, s: &Section) {
    w.byte(b'[');
    write_part(w, &s.part);
    if let Some(text) = &s.text {
        if !s.part.is_empty() {
            w.byte(b'.');
        }
        let names = match text {
            SectionText::Header => {
                w.str("HEADER");
                None
            }
            SectionText::Text => {
                w.str("TEXT");
                None
            }
            SectionText::Mime => {
                w.str("MIME");
                None
            }
            SectionText::HeaderFields(n) => {
                w.str("HEADER.FIELDS ");
                Some(n)
            }
            SectionText::HeaderFieldsNot(n) => {
                w.str("HEADER.FIELDS.NOT ");
                Some(n)
            }
        };
        if let Some(names) = names {
            w.paren_list(names, |w, n| w.astring(n));
        }
    }
    w.byte(b']');
}

/// Writes one fetch attribute.
pub(crate) fn write_attribute(w: &mut Writer, a: &FetchAttribute) {
    use FetchAttribute as A;
    match a {
        A::Envelope => w.str("ENVELOPE"),
        A::Flags => w.str("FLAGS"),
        A::InternalDate => w.str("INTERNALDATE"),
        A::Rfc822 => w.str("RFC822"),
        A::Rfc822Header => w.str("RFC822.HEADER"),
        A::Rfc822Size => w.str("RFC822.SIZE"),
        A::Rfc822Text => w.str("RFC822.TEXT"),
        A::Body => w.str("BODY"),
        A::BodyStructure => w.str("BODYSTRUCTURE"),
        A::Uid => w.str("UID"),
        A::ModSeq => w.str("MODSEQ"),
        A::BodySection {
            peek,
            section,
            partial,
        } => {
            w.str(if *peek { "BODY.PEEK" } else { "BODY" });
            write_section(w, section);
            write_partial(w, partial);
        }
        A::Binary {
            peek,
            part,
            partial,
        } => {
            w.str(if *peek { "BINARY.PEEK[" } else { "BINARY[" });
            write_part(w, part);
            w.byte(b']');
            write_partial(w, partial);
        }
        A::BinarySize { part } => {
            w.str("BINARY.SIZE[");
            write_part(w, part);
            w.byte(b']');
        }
    }
}

/// Writes the items of a FETCH.
pub(crate) fn write_items(w: &mut Writer, items: &FetchItems) {
    match items {
        FetchItems::All => w.str("ALL"),
        FetchItems::Fast => w.str("FAST"),
        FetchItems::Full => w.str("FULL"),
        FetchItems::Attributes(list) if list.len() == 1 => write_attribute(w, &list[0]),
        FetchItems::Attributes(list) => w.paren_list(list, write_attribute),
    }
}

/// Writes ` (CHANGEDSINCE n VANISHED)` when any modifier is set.
pub(crate) fn write_modifiers(w: &mut Writer, m: &FetchModifiers) {
    if m.is_empty() {
        return;
    }
    w.str(" (");
    if let Some(n) = m.changed_since {
        w.str("CHANGEDSINCE ");
        w.num(n);
        if m.vanished {
            w.sp();
        }
    }
    if m.vanished {
        w.str("VANISHED");
    }
    w.byte(b')');
}
