//! ENVELOPE and BODY / BODYSTRUCTURE data (RFC 9051 §7.5.2).

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::writer::Writer;

type Result<T> = std::result::Result<T, ParseError>;

/// An address in an envelope; every part may be NIL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// The display name.
    pub name: Option<Vec<u8>>,
    /// The source route (obsolete).
    pub adl: Option<Vec<u8>>,
    /// The local part, or the group name (with `host` NIL).
    pub mailbox: Option<Vec<u8>>,
    /// The domain.
    pub host: Option<Vec<u8>>,
}

/// A message's envelope. Address lists are empty for NIL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// `Date:`.
    pub date: Option<Vec<u8>>,
    /// `Subject:`.
    pub subject: Option<Vec<u8>>,
    /// `From:`.
    pub from: Vec<Address>,
    /// `Sender:`.
    pub sender: Vec<Address>,
    /// `Reply-To:`.
    pub reply_to: Vec<Address>,
    /// `To:`.
    pub to: Vec<Address>,
    /// `Cc:`.
    pub cc: Vec<Address>,
    /// `Bcc:`.
    pub bcc: Vec<Address>,
    /// `In-Reply-To:`.
    pub in_reply_to: Option<Vec<u8>>,
    /// `Message-ID:`.
    pub message_id: Option<Vec<u8>>,
}

/// Parameters (`("charset" "utf-8")`); empty for NIL.
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// The fields every single part has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyFields {
    /// Content-Type parameters.
    pub params: Params,
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding.
    pub encoding: Vec<u8>,
    /// Size in octets (encoded).
    pub octets: u32,
}

/// Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// `inline`, `attachment`.
    pub kind: Vec<u8>,
    /// Its parameters.
    pub params: Params,
}

/// Extension data beyond the extension fields this crate knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyExtension {
    /// A string or NIL.
    String(Option<Vec<u8>>),
    /// A number.
    Number(u64),
    /// A parenthesized list.
    List(Vec<BodyExtension>),
}

/// Extension data of BODYSTRUCTURE. When present it is written whole
/// (absent trailing fields parse as NIL / empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyExt {
    /// Content-MD5 (single parts only; ignored for multiparts).
    pub md5: Option<Vec<u8>>,
    /// Content-Type parameters (multiparts only; ignored for single parts).
    pub params: Params,
    /// Content-Disposition.
    pub disposition: Option<Disposition>,
    /// Content-Language values; empty for NIL.
    pub language: Vec<Vec<u8>>,
    /// Content-Location.
    pub location: Option<Vec<u8>>,
    /// Further extension data.
    pub extensions: Vec<BodyExtension>,
}

/// What kind of single part, decided by its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingleKind {
    /// Any type but `text/*` and `message/rfc822` / `message/global`.
    Basic,
    /// `text/*`, with its line count.
    Text {
        /// Lines.
        lines: u64,
    },
    /// `message/rfc822` or `message/global`: the inner message.
    Message {
        /// Its envelope.
        envelope: Box<Envelope>,
        /// Its structure.
        body: Box<BodyStructure>,
        /// Lines.
        lines: u64,
    },
}

/// A body structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStructure {
    /// A single part.
    Single {
        /// The media type (`TEXT`, `IMAGE`).
        media_type: Vec<u8>,
        /// The subtype (`PLAIN`).
        subtype: Vec<u8>,
        /// The common fields.
        fields: BodyFields,
        /// Text / message specifics; must agree with `media_type`.
        kind: SingleKind,
        /// Extension data (BODYSTRUCTURE only).
        ext: Option<BodyExt>,
    },
    /// A multipart: parts and subtype.
    Multi {
        /// The parts (at least one).
        parts: Vec<BodyStructure>,
        /// The subtype (`MIXED`).
        subtype: Vec<u8>,
        /// Extension data (BODYSTRUCTURE only).
        ext: Option<BodyExt>,
    },
}

fn is_message(media_type: &[u8], subtype: &[u8]) -> bool {
    media_type.eq_ignore_ascii_case(b"MESSAGE")
        && (subtype.eq_ignore_ascii_case(b"RFC822") || subtype.eq_ignore_ascii_case(b"GLOBAL"))
}

fn address_list(cur: &mut Cursor<'_>) -> Result<Vec<Address>> {
    if cur.nstring_nil() {
        return Ok(Vec::new());
    }
    cur.expect(b'(', "(")?;
    let mut out = Vec::new();
    while cur.eat(b'(') {
        let name = cur.nstring()?;
        cur.sp()?;
        let adl = cur.nstring()?;
        cur.sp()?;
        let mailbox = cur.nstring()?;
        cur.sp()?;
        let host = cur.nstring()?;
        cur.expect(b')', ")")?;
        out.push(Address {
            name,
            adl,
            mailbox,
            host,
        });
    }
    if out.is_empty() {
        return Err(cur.err("address"));
    }
    cur.expect(b')', ")")?;
    Ok(out)
}

/// Parses `envelope`.
pub(crate) fn parse_envelope(cur: &mut Cursor<'_>) -> Result<Envelope> {
    cur.expect(b'(', "(")?;
    cur.enter()?;
    let date = cur.nstring()?;
    cur.sp()?;
    let subject = cur.nstring()?;
    let mut lists: [Vec<Address>; 6] = Default::default();
    for list in &mut lists {
        cur.sp()?;
        *list = address_list(cur)?;
    }
    cur.sp()?;
    let in_reply_to = cur.nstring()?;
    cur.sp()?;
    let message_id = cur.nstring()?;
    cur.expect(b')', ")")?;
    cur.leave();
    let [from, sender, reply_to, to, cc, bcc] = lists;
    Ok(Envelope {
        date,
        subject,
        from,
        sender,
        reply_to,
        to,
        cc,
        bcc,
        in_reply_to,
        message_id,
    })
}

fn params(cur: &mut Cursor<'_>) -> Result<Params> {
    if cur.nstring_nil() {
        return Ok(Vec::new());
    }
    let list = cur.paren_list(|c| {
        let k = c.string()?;
        c.sp()?;
        Ok((k, c.string()?))
    })?;
    if list.is_empty() {
        return Err(cur.err("parameter"));
    }
    Ok(list)
}

fn body_fields(cur: &mut Cursor<'_>) -> Result<BodyFields> {
    let params = params(cur)?;
    cur.sp()?;
    let id = cur.nstring()?;
    cur.sp()?;
    let description = cur.nstring()?;
    cur.sp()?;
    let encoding = cur.string()?;
    cur.sp()?;
    Ok(BodyFields {
        params,
        id,
        description,
        encoding,
        octets: cur.number()?,
    })
}

fn extension(cur: &mut Cursor<'_>) -> Result<BodyExtension> {
    match cur.peek() {
        Some(b'(') => cur.paren_list(extension).map(BodyExtension::List),
        Some(b'0'..=b'9') => cur.number64().map(BodyExtension::Number),
        _ => cur.nstring().map(BodyExtension::String),
    }
}

/// Parses the extension fields after md5 / params: `[SP dsp [SP lang [SP
/// loc *(SP ext)]]]`.
fn ext_tail(cur: &mut Cursor<'_>, ext: &mut BodyExt) -> Result<()> {
    if !cur.eat(b' ') {
        return Ok(());
    }
    ext.disposition = if cur.nstring_nil() {
        None
    } else {
        cur.expect(b'(', "(")?;
        let kind = cur.string()?;
        cur.sp()?;
        let params = params(cur)?;
        cur.expect(b')', ")")?;
        Some(Disposition { kind, params })
    };
    if !cur.eat(b' ') {
        return Ok(());
    }
    ext.language = if cur.peek() == Some(b'(') {
        cur.paren_list(|c| c.string())?
    } else {
        cur.nstring()?.into_iter().collect()
    };
    if !cur.eat(b' ') {
        return Ok(());
    }
    ext.location = cur.nstring()?;
    while cur.eat(b' ') {
        ext.extensions.push(extension(cur)?);
    }
    Ok(())
}

/// Parses `body` (BODY or BODYSTRUCTURE form).
pub(crate) fn parse_body(cur: &mut Cursor<'_>) -> Result<BodyStructure> {
    cur.expect(b'(', "(")?;
    cur.enter()?;
    let body = if cur.peek() == Some(b'(') {
        let mut parts = Vec::new();
        while cur.peek() == Some(b'(') {
            parts.push(parse_body(cur)?);
        }
        cur.sp()?;
        let subtype = cur.string()?;
        let ext = if cur.eat(b' ') {
            let mut ext = BodyExt {
                params: params(cur)?,
                ..BodyExt::default()
            };
            ext_tail(cur, &mut ext)?;
            Some(ext)
        } else {
            None
        };
        BodyStructure::Multi {
            parts,
            subtype,
            ext,
        }
    } else {
        let media_type = cur.string()?;
        cur.sp()?;
        let subtype = cur.string()?;
        cur.sp()?;
        let fields = body_fields(cur)?;
        let kind = if media_type.eq_ignore_ascii_case(b"TEXT") {
            cur.sp()?;
            SingleKind::Text {
                lines: cur.number64()?,
            }
        } else if is_message(&media_type, &subtype) {
            cur.sp()?;
            let envelope = Box::new(parse_envelope(cur)?);
            cur.sp()?;
            let body = Box::new(parse_body(cur)?);
            cur.sp()?;
            SingleKind::Message {
                envelope,
                body,
                lines: cur.number64()?,
            }
        } else {
            SingleKind::Basic
        };
        let ext = if cur.eat(b' ') {
            let mut ext = BodyExt {
                md5: cur.nstring()?,
                ..BodyExt::default()
            };
            ext_tail(cur, &mut ext)?;
            Some(ext)
        } else {
            None
        };
        BodyStructure::Single {
            media_type,
            subtype,
            fields,
            kind,
            ext,
        }
    };
    cur.expect(b')', ")")?;
    cur.leave();
    Ok(body)
}

fn write_address_list(w: &mut Writer, list: &[Address]) {
    if list.is_empty() {
        w.str("NIL");
        return;
    }
    w.byte(b'(');
    for a in list {
        w.byte(b'(');
        w.nstring(a.name.as_deref());
        w.sp();
        w.nstring(a.adl.as_deref());
        w.sp();
        w.nstring(a.mailbox.as_deref());
        w.sp();
        w.nstring(a.host.as_deref());
        w.byte(b')');
    }
    w.byte(b')');
}

/// Writes `envelope`.
pub(crate) fn write_envelope(w: &mut Writer, e: &Envelope) {
    w.byte(b'(');
    w.nstring(e.date.as_deref());
    w.sp();
    w.nstring(e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        w.sp();
        write_address_list(w, list);
    }
    w.sp();
    w.nstring(e.in_reply_to.as_deref());
    w.sp();
    w.nstring(e.message_id.as_deref());
    w.byte(b')');
}

fn write_params(w: &mut Writer, p: &Params) {
    if p.is_empty() {
        w.str("NIL");
    } else {
        w.paren_list(p, |w, (k, v)| {
            w.string(k);
            w.sp();
            w.string(v);
        });
    }
}

fn write_extension(w: &mut Writer, e: &BodyExtension) {
    match e {
        BodyExtension::String(s) => w.nstring(s.as_deref()),
        BodyExtension::Number(n) => w.num(n),
        BodyExtension::List(l) => w.paren_list(l, write_extension),
    }
}

fn write_ext_tail(w: &mut Writer, ext: &BodyExt) {
    w.sp();
    match &ext.disposition {
        None => w.str("NIL"),
        Some(d) => {
            w.byte(b'(');
            w.string(&d.kind);
            w.sp();
            write_params(w, &d.params);
            w.byte(b')');
        }
    }
    w.sp();
    match ext.language.as_slice() {
        [] => w.str("NIL"),
        [one] => w.string(one),
        many => w.paren_list(many, |w, l| w.string(l)),
    }
    w.sp();
    w.nstring(ext.location.as_deref());
    for e in &ext.extensions {
        w.sp();
        write_extension(w, e);
    }
}

/// Writes `body`; with `extended` false (the BODY form) extension data is
/// left out.
pub(crate) fn write_body(w: &mut Writer, b: &BodyStructure, extended: bool) {
    w.byte(b'(');
    match b {
        BodyStructure::Multi {
            parts,
            subtype,
            ext,
        } => {
            for p in parts {
                write_body(w, p, extended);
            }
            w.sp();
            w.string(subtype);
            if let (true, Some(ext)) = (extended, ext) {
                w.sp();
                write_params(w, &ext.params);
                write_ext_tail(w, ext);
            }
        }
        BodyStructure::Single {
            media_type,
            subtype,
            fields,
            kind,
            ext,
        } => {
            w.string(media_type);
            w.sp();
            w.string(subtype);
            w.sp();
            write_params(w, &fields.params);
            w.sp();
            w.nstring(fields.id.as_deref());
            w.sp();
            w.nstring(fields.description.as_deref());
            w.sp();
            w.string(&fields.encoding);
            w.sp();
            w.num(fields.octets);
            match kind {
                SingleKind::Basic => {}
                SingleKind::Text { lines } => {
                    w.sp();
                    w.num(lines);
                }
                SingleKind::Message {
                    envelope,
                    body,
                    lines,
                } => {
                    w.sp();
                    write_envelope(w, envelope);
                    w.sp();
                    write_body(w, body, extended);
                    w.sp();
                    w.num(lines);
                }
            }
            if let (true, Some(ext)) = (extended, ext) {
                w.sp();
                w.nstring(ext.md5.as_deref());
                write_ext_tail(w, ext);
            }
        }
    }
    w.byte(b')');
}
