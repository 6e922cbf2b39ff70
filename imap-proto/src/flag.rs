//! Message flags (RFC 9051 `flag`, `flag-perm`, `flag-fetch`).

use std::fmt;

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::lex::is_atom;
use crate::writer::Writer;

/// A message flag. System flags compare case-insensitively on input and
/// are written in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`.
    Seen,
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Draft`.
    Draft,
    /// `\Recent` (IMAP4rev1 only; never valid in STORE or APPEND there).
    Recent,
    /// Another `\name` (a flag-extension); holds the atom after `\`.
    Extension(String),
    /// A keyword such as `$Forwarded` or `NonJunk` (an atom).
    Keyword(String),
}

impl Flag {
    /// A keyword; `None` if it is not a valid atom.
    pub fn keyword(name: &str) -> Option<Self> {
        is_atom(name.as_bytes()).then(|| Self::Keyword(name.to_owned()))
    }

    /// Classifies the atom after a backslash.
    fn system(name: &str) -> Self {
        match name.to_ascii_uppercase().as_str() {
            "SEEN" => Self::Seen,
            "ANSWERED" => Self::Answered,
            "FLAGGED" => Self::Flagged,
            "DELETED" => Self::Deleted,
            "DRAFT" => Self::Draft,
            "RECENT" => Self::Recent,
            _ => Self::Extension(name.to_owned()),
        }
    }

    /// Parses a flag from its text (`\Seen`, `$Junk`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut cur = Cursor::new(text.as_bytes(), 1);
        let flag = parse(&mut cur)?;
        if cur.at_end() {
            Ok(flag)
        } else {
            Err(ParseError::Trailing { offset: cur.pos() })
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seen => f.write_str("\\Seen"),
            Self::Answered => f.write_str("\\Answered"),
            Self::Flagged => f.write_str("\\Flagged"),
            Self::Deleted => f.write_str("\\Deleted"),
            Self::Draft => f.write_str("\\Draft"),
            Self::Recent => f.write_str("\\Recent"),
            Self::Extension(e) => write!(f, "\\{e}"),
            Self::Keyword(k) => f.write_str(k),
        }
    }
}

/// An entry of PERMANENTFLAGS: a flag, or `\*` (new keywords may be
/// created).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PermanentFlag {
    /// A flag that can be changed permanently.
    Flag(Flag),
    /// `\*`.
    Wildcard,
}

impl PermanentFlag {
    /// Parses a PERMANENTFLAGS entry.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text == "\\*" {
            Ok(Self::Wildcard)
        } else {
            Flag::parse(text).map(Self::Flag)
        }
    }
}

impl fmt::Display for PermanentFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(flag) => flag.fmt(f),
            Self::Wildcard => f.write_str("\\*"),
        }
    }
}

/// Parses `flag`.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Flag, ParseError> {
    if cur.eat(b'\\') {
        Ok(Flag::system(&cur.atom_string()?))
    } else {
        Ok(Flag::Keyword(cur.atom_string()?))
    }
}

/// Parses `flag-list`: `(` [flag *(SP flag)] `)`.
pub(crate) fn parse_list(cur: &mut Cursor<'_>) -> Result<Vec<Flag>, ParseError> {
    cur.paren_list(parse)
}

/// Writes a flag.
pub(crate) fn write(w: &mut Writer, flag: &Flag) {
    w.str(&flag.to_string());
}

/// Writes a flag list.
pub(crate) fn write_list(w: &mut Writer, flags: &[Flag]) {
    w.paren_list(flags, write);
}
