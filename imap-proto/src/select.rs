//! SELECT / EXAMINE parameters: CONDSTORE and QRESYNC (RFC 7162).

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::sequence::{self, SequenceSet};
use crate::writer::Writer;

/// The QRESYNC parameter (RFC 7162 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY the client last knew (non-zero).
    pub uid_validity: u32,
    /// The last mod-sequence the client knew.
    pub modseq: u64,
    /// The UIDs the client knows about.
    pub known_uids: Option<SequenceSet>,
    /// Message numbers and the UIDs they map to, to find expunges cheaply.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// Parameters of SELECT and EXAMINE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectParams {
    /// `CONDSTORE`.
    pub condstore: bool,
    /// `QRESYNC (...)`.
    pub qresync: Option<QResync>,
}

impl SelectParams {
    /// Whether no parameter is set.
    pub fn is_empty(&self) -> bool {
        !self.condstore && self.qresync.is_none()
    }
}

fn qresync(cur: &mut Cursor<'_>) -> Result<QResync, ParseError> {
    cur.expect(b'(', "(")?;
    cur.enter()?;
    let uid_validity = cur.nz_number()?;
    cur.sp()?;
    let modseq = cur.nz_number64()?;
    let mut known_uids = None;
    let mut seq_match = None;
    if cur.eat(b' ') {
        if cur.peek() != Some(b'(') {
            known_uids = Some(sequence::parse(cur)?);
            if cur.eat(b' ') {
                seq_match = Some(seq_match_data(cur)?);
            }
        } else {
            seq_match = Some(seq_match_data(cur)?);
        }
    }
    cur.expect(b')', ")")?;
    cur.leave();
    Ok(QResync {
        uid_validity,
        modseq,
        known_uids,
        seq_match,
    })
}

fn seq_match_data(cur: &mut Cursor<'_>) -> Result<(SequenceSet, SequenceSet), ParseError> {
    cur.expect(b'(', "(")?;
    let seqs = sequence::parse(cur)?;
    cur.sp()?;
    let uids = sequence::parse(cur)?;
    cur.expect(b')', ")")?;
    Ok((seqs, uids))
}

/// Parses `"(" select-param *(SP select-param) ")"`.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<SelectParams, ParseError> {
    let mut params = SelectParams::default();
    let list = cur.paren_list(|c| {
        let (word, offset) = c.word()?;
        match word.as_str() {
            "CONDSTORE" => Ok(None),
            "QRESYNC" => {
                c.sp()?;
                Ok(Some(qresync(c)?))
            }
            _ => Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            }),
        }
    })?;
    if list.is_empty() {
        return Err(cur.err("select parameter"));
    }
    for p in list {
        match p {
            None => params.condstore = true,
            Some(q) => params.qresync = Some(q),
        }
    }
    Ok(params)
}

/// Writes ` (CONDSTORE QRESYNC (...))` when any parameter is set.
pub(crate) fn write(w: &mut Writer, p: &SelectParams) {
    if p.is_empty() {
        return;
    }
    w.str(" (");
    if p.condstore {
        w.str("CONDSTORE");
        if p.qresync.is_some() {
            w.sp();
        }
    }
    if let Some(q) = &p.qresync {
        w.str("QRESYNC (");
        w.num(q.uid_validity);
        w.sp();
        w.num(q.modseq);
        if let Some(k) = &q.known_uids {
            w.sp();
            sequence::write(w, k);
        }
        if let Some((s, u)) = &q.seq_match {
            w.str(" (");
            sequence::write(w, s);
            w.sp();
            sequence::write(w, u);
            w.byte(b')');
        }
        w.byte(b')');
    }
    w.byte(b')');
}
