//! LIST options: LIST-EXTENDED (RFC 5258) selection and return options,
//! SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819); and mailbox patterns.

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::lex::is_list_char;
use crate::status::{self, StatusAttribute};
use crate::writer::Writer;

/// A LIST selection option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListSelect {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE` (RFC 6154).
    SpecialUse,
}

/// A LIST return option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE` (RFC 6154).
    SpecialUse,
    /// `STATUS (attributes)` (RFC 5819).
    Status(Vec<StatusAttribute>),
}

/// Parses one selection option.
pub(crate) fn parse_select(cur: &mut Cursor<'_>) -> Result<ListSelect, ParseError> {
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "SUBSCRIBED" => ListSelect::Subscribed,
        "REMOTE" => ListSelect::Remote,
        "RECURSIVEMATCH" => ListSelect::RecursiveMatch,
        "SPECIAL-USE" => ListSelect::SpecialUse,
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses one return option.
pub(crate) fn parse_return(cur: &mut Cursor<'_>) -> Result<ListReturn, ParseError> {
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "SUBSCRIBED" => ListReturn::Subscribed,
        "CHILDREN" => ListReturn::Children,
        "SPECIAL-USE" => ListReturn::SpecialUse,
        "STATUS" => {
            cur.sp()?;
            ListReturn::Status(status::parse_list(cur)?)
        }
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses `list-mailbox`: one or more list characters, or a string.
pub(crate) fn parse_pattern(cur: &mut Cursor<'_>) -> Result<Vec<u8>, ParseError> {
    match cur.peek() {
        Some(b'"' | b'{') => cur.string(),
        _ => {
            let p = cur.take_while(is_list_char);
            if p.is_empty() {
                Err(cur.err("mailbox pattern"))
            } else {
                Ok(p.to_vec())
            }
        }
    }
}

/// Parses `mbox-or-pat`: one pattern or a parenthesized list of them.
pub(crate) fn parse_patterns(cur: &mut Cursor<'_>) -> Result<Vec<Vec<u8>>, ParseError> {
    if cur.peek() == Some(b'(') {
        let list = cur.paren_list(parse_pattern)?;
        if list.is_empty() {
            return Err(cur.err("mailbox pattern"));
        }
        Ok(list)
    } else {
        Ok(vec![parse_pattern(cur)?])
    }
}

/// Writes a selection option.
pub(crate) fn write_select(w: &mut Writer, s: &ListSelect) {
    w.str(match s {
        ListSelect::Subscribed => "SUBSCRIBED",
        ListSelect::Remote => "REMOTE",
        ListSelect::RecursiveMatch => "RECURSIVEMATCH",
        ListSelect::SpecialUse => "SPECIAL-USE",
    });
}

/// Writes a return option.
pub(crate) fn write_return(w: &mut Writer, r: &ListReturn) {
    match r {
        ListReturn::Subscribed => w.str("SUBSCRIBED"),
        ListReturn::Children => w.str("CHILDREN"),
        ListReturn::SpecialUse => w.str("SPECIAL-USE"),
        ListReturn::Status(atts) => {
            w.str("STATUS ");
            status::write_list(w, atts);
        }
    }
}

/// Writes a pattern: bare when all list characters, else a string.
pub(crate) fn write_pattern(w: &mut Writer, p: &[u8]) {
    if !p.is_empty() && p.iter().all(|&b| is_list_char(b)) {
        w.raw(p);
    } else {
        w.string(p);
    }
}

/// Writes one pattern bare or several in parentheses.
pub(crate) fn write_patterns(w: &mut Writer, ps: &[Vec<u8>]) {
    if ps.len() == 1 {
        write_pattern(w, &ps[0]);
    } else {
        w.paren_list(ps, |w, p| write_pattern(w, p));
    }
}
