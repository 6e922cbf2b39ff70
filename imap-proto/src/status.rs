//! STATUS data items (RFC 9051 §6.3.11, RFC 7162, RFC 7889).

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::writer::Writer;

/// A STATUS data item a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusAttribute {
    /// `MESSAGES`.
    Messages,
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED` (IMAP4rev2).
    Deleted,
    /// `SIZE` (IMAP4rev2).
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162).
    HighestModSeq,
    /// `APPENDLIMIT` (RFC 7889).
    AppendLimit,
}

impl StatusAttribute {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "MESSAGES",
            Self::Recent => "RECENT",
            Self::UidNext => "UIDNEXT",
            Self::UidValidity => "UIDVALIDITY",
            Self::Unseen => "UNSEEN",
            Self::Deleted => "DELETED",
            Self::Size => "SIZE",
            Self::HighestModSeq => "HIGHESTMODSEQ",
            Self::AppendLimit => "APPENDLIMIT",
        }
    }
}

/// Parses one `status-att`.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<StatusAttribute, ParseError> {
    use StatusAttribute as S;
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "MESSAGES" => S::Messages,
        "RECENT" => S::Recent,
        "UIDNEXT" => S::UidNext,
        "UIDVALIDITY" => S::UidValidity,
        "UNSEEN" => S::Unseen,
        "DELETED" => S::Deleted,
        "SIZE" => S::Size,
        "HIGHESTMODSEQ" => S::HighestModSeq,
        "APPENDLIMIT" => S::AppendLimit,
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses `"(" status-att *(SP status-att) ")"` (never empty).
pub(crate) fn parse_list(cur: &mut Cursor<'_>) -> Result<Vec<StatusAttribute>, ParseError> {
    let list = cur.paren_list(parse)?;
    if list.is_empty() {
        return Err(cur.err("status attribute"));
    }
    Ok(list)
}

/// Writes a status attribute list.
pub(crate) fn write_list(w: &mut Writer, list: &[StatusAttribute]) {
    w.paren_list(list, |w, a| w.str(a.as_str()));
}
