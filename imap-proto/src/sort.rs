//! SORT criteria and THREAD algorithms (RFC 5256, DISPLAYFROM/DISPLAYTO
//! from RFC 5957).

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::writer::Writer;

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// `ARRIVAL`.
    Arrival,
    /// `CC`.
    Cc,
    /// `DATE`.
    Date,
    /// `FROM`.
    From,
    /// `SIZE`.
    Size,
    /// `SUBJECT`.
    Subject,
    /// `TO`.
    To,
    /// `DISPLAYFROM` (RFC 5957).
    DisplayFrom,
    /// `DISPLAYTO` (RFC 5957).
    DisplayTo,
}

impl SortKey {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arrival => "ARRIVAL",
            Self::Cc => "CC",
            Self::Date => "DATE",
            Self::From => "FROM",
            Self::Size => "SIZE",
            Self::Subject => "SUBJECT",
            Self::To => "TO",
            Self::DisplayFrom => "DISPLAYFROM",
            Self::DisplayTo => "DISPLAYTO",
        }
    }
}

/// One sort criterion: a key, possibly reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    /// `REVERSE`.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// A THREAD algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThreadAlgorithm {
    /// `ORDEREDSUBJECT`.
    OrderedSubject,
    /// `REFERENCES`.
    References,
    /// Another algorithm (an atom, upper-cased).
    Other(String),
}

fn sort_key(cur: &mut Cursor<'_>) -> Result<SortKey, ParseError> {
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "ARRIVAL" => SortKey::Arrival,
        "CC" => SortKey::Cc,
        "DATE" => SortKey::Date,
        "FROM" => SortKey::From,
        "SIZE" => SortKey::Size,
        "SUBJECT" => SortKey::Subject,
        "TO" => SortKey::To,
        "DISPLAYFROM" => SortKey::DisplayFrom,
        "DISPLAYTO" => SortKey::DisplayTo,
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses `"(" sort-criterion *(SP sort-criterion) ")"`.
pub(crate) fn parse_criteria(cur: &mut Cursor<'_>) -> Result<Vec<SortCriterion>, ParseError> {
    let list = cur.paren_list(|c| {
        let reverse = c.eat_ci(b"REVERSE ");
        Ok(SortCriterion {
            reverse,
            key: sort_key(c)?,
        })
    })?;
    if list.is_empty() {
        return Err(cur.err("sort criterion"));
    }
    Ok(list)
}

/// Parses `thread-alg`.
pub(crate) fn parse_algorithm(cur: &mut Cursor<'_>) -> Result<ThreadAlgorithm, ParseError> {
    let name = cur.atom_string()?.to_ascii_uppercase();
    Ok(match name.as_str() {
        "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        "REFERENCES" => ThreadAlgorithm::References,
        _ => ThreadAlgorithm::Other(name),
    })
}

/// Writes sort criteria.
pub(crate) fn write_criteria(w: &mut Writer, list: &[SortCriterion]) {
    w.paren_list(list, |w, c| {
        if c.reverse {
            w.str("REVERSE ");
        }
        w.str(c.key.as_str());
    });
}

/// Writes a thread algorithm. An `Other` name is written as given; one
/// that is not an atom makes a command the server refuses.
pub(crate) fn write_algorithm(w: &mut Writer, a: &ThreadAlgorithm) {
    match a {
        ThreadAlgorithm::OrderedSubject => w.str("ORDEREDSUBJECT"),
        ThreadAlgorithm::References => w.str("REFERENCES"),
        ThreadAlgorithm::Other(o) => {
            w.str(o);
        }
    }
}
