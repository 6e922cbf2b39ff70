//! FETCH response data (`* n FETCH (...)`, RFC 9051 §7.5.2).

use bytes::Bytes;

use super::body::{self, BodyStructure, Envelope};
use crate::cursor::Cursor;
use crate::datetime::{DateTime, parse_date_time, write_date_time};
use crate::error::ParseError;
use crate::fetch::Section;
use crate::flag::{self, Flag};
use crate::writer::Writer;

type Result<T> = std::result::Result<T, ParseError>;

/// One item of a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchData {
    /// `FLAGS (...)`.
    Flags(Vec<Flag>),
    /// `UID n`.
    Uid(u32),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `RFC822.SIZE n`.
    Rfc822Size(u64),
    /// `MODSEQ (n)` (RFC 7162).
    ModSeq(u64),
    /// `ENVELOPE (...)`.
    Envelope(Box<Envelope>),
    /// `BODY (...)`: the structure without extension data.
    Body(Box<BodyStructure>),
    /// `BODYSTRUCTURE (...)`.
    BodyStructure(Box<BodyStructure>),
    /// `BODY[section]<origin> data`.
    BodySection {
        /// The section (as asked).
        section: Section,
        /// The offset of a partial fetch.
        origin: Option<u64>,
        /// The data, `None` for NIL.
        data: Option<Bytes>,
    },
    /// `BINARY[part] data` (RFC 3516); written as a literal8 when the data
    /// holds a NUL.
    Binary {
        /// The part path.
        part: Vec<u32>,
        /// The offset of a partial fetch.
        origin: Option<u64>,
        /// The decoded data, `None` for NIL.
        data: Option<Bytes>,
    },
    /// `BINARY.SIZE[part] n`.
    BinarySize {
        /// The part path.
        part: Vec<u32>,
        /// The decoded size.
        size: u64,
    },
    /// `RFC822 data` (IMAP4rev1).
    Rfc822(Option<Bytes>),
    /// `RFC822.HEADER data` (IMAP4rev1).
    Rfc822Header(Option<Bytes>),
    /// `RFC822.TEXT data` (IMAP4rev1).
    Rfc822Text(Option<Bytes>),
}

fn nstring_bytes(cur: &mut Cursor<'_>) -> Result<Option<Bytes>> {
    Ok(cur.nstring()?.map(Bytes::from))
}

fn origin(cur: &mut Cursor<'_>) -> Result<Option<u64>> {
    if cur.eat(b'<') {
        let n = cur.number64()?;
        cur.expect(b'>', ">")?;
        Ok(Some(n))
    } else {
        Ok(None)
    }
}

/// Parses one `msg-att` item.
pub(crate) fn item(cur: &mut Cursor<'_>) -> Result<FetchData> {
    use FetchData as F;
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "FLAGS" => {
            cur.sp()?;
            F::Flags(flag::parse_list(cur)?)
        }
        "UID" => {
            cur.sp()?;
            F::Uid(cur.nz_number()?)
        }
        "INTERNALDATE" => {
            cur.sp()?;
            F::InternalDate(parse_date_time(cur)?)
        }
        "RFC822.SIZE" => {
            cur.sp()?;
            F::Rfc822Size(cur.number64()?)
        }
        "MODSEQ" => {
            cur.sp()?;
            cur.expect(b'(', "(")?;
            let n = cur.nz_number64()?;
            cur.expect(b')', ")")?;
            F::ModSeq(n)
        }
        "ENVELOPE" => {
            cur.sp()?;
            F::Envelope(Box::new(body::parse_envelope(cur)?))
        }
        "BODYSTRUCTURE" => {
            cur.sp()?;
            F::BodyStructure(Box::new(body::parse_body(cur)?))
        }
        "BODY" if cur.peek() == Some(b' ') => {
            cur.sp()?;
            F::Body(Box::new(body::parse_body(cur)?))
        }
        "BODY" => {
            let section = crate::fetch::parse_section(cur)?;
            let origin = origin(cur)?;
            cur.sp()?;
            F::BodySection {
                section,
                origin,
                data: nstring_bytes(cur)?,
            }
        }
        "BINARY" => {
            let part = crate::fetch::parse_binary_part(cur)?;
            let origin = origin(cur)?;
            cur.sp()?;
            let data = if cur.peek() == Some(b'~') {
                Some(Bytes::copy_from_slice(cur.literal(true)?.data))
            } else {
                nstring_bytes(cur)?
            };
            F::Binary { part, origin, data }
        }
        "BINARY.SIZE" => {
            let part = crate::fetch::parse_binary_part(cur)?;
            cur.sp()?;
            F::BinarySize {
                part,
                size: cur.number64()?,
            }
        }
        "RFC822" => {
            cur.sp()?;
            F::Rfc822(nstring_bytes(cur)?)
        }
        "RFC822.HEADER" => {
            cur.sp()?;
            F::Rfc822Header(nstring_bytes(cur)?)
        }
        "RFC822.TEXT" => {
            cur.sp()?;
            F::Rfc822Text(nstring_bytes(cur)?)
        }
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses `"(" msg-att-item *(SP msg-att-item) ")"`.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Vec<FetchData>> {
    let items = cur.paren_list(item)?;
    if items.is_empty() {
        return Err(cur.err("fetch data"));
    }
    Ok(items)
}

fn write_origin(w: &mut Writer, origin: Option<u64>) {
    if let Some(o) = origin {
        w.byte(b'<');
        w.num(o);
        w.byte(b'>');
    }
}

fn write_item(w: &mut Writer, item: &FetchData) {
    use FetchData as F;
    match item {
        F::Flags(flags) => {
            w.str("FLAGS ");
            flag::write_list(w, flags);
        }
        F::Uid(n) => {
            w.str("UID ");
            w.num(n);
        }
        F::InternalDate(d) => {
            w.str("INTERNALDATE ");
            write_date_time(w, d);
        }
        F::Rfc822Size(n) => {
            w.str("RFC822.SIZE ");
            w.num(n);
        }
        F::ModSeq(n) => {
            w.str("MODSEQ (");
            w.num(n);
            w.byte(b')');
        }
        F::Envelope(e) => {
            w.str("ENVELOPE ");
            body::write_envelope(w, e);
        }
        F::Body(b) => {
            w.str("BODY ");
            body::write_body(w, b, false);
        }
        F::BodyStructure(b) => {
            w.str("BODYSTRUCTURE ");
            body::write_body(w, b, true);
        }
        F::BodySection {
            section,
            origin,
            data,
        } => {
            w.str("BODY");
            crate::fetch::write_section(w, section);
            write_origin(w, *origin);
            w.sp();
            w.nstring(data.as_deref());
        }
        F::Binary { part, origin, data } => {
            w.str("BINARY[");
            crate::fetch::write_part(w, part);
            w.byte(b']');
            write_origin(w, *origin);
            w.sp();
            match data {
                Some(d) if d.contains(&0) => w.literal(d, true),
                d => w.nstring(d.as_deref()),
            }
        }
        F::BinarySize { part, size } => {
            w.str("BINARY.SIZE[");
            crate::fetch::write_part(w, part);
            w.str("] ");
            w.num(size);
        }
        F::Rfc822(d) | F::Rfc822Header(d) | F::Rfc822Text(d) => {
            w.str(match item {
                F::Rfc822(_) => "RFC822 ",
                F::Rfc822Header(_) => "RFC822.HEADER ",
                _ => "RFC822.TEXT ",
            });
            w.nstring(d.as_deref());
        }
    }
}

/// Writes the parenthesized item list.
pub(crate) fn write(w: &mut Writer, items: &[FetchData]) {
    w.paren_list(items, write_item);
}
