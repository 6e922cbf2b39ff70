//! SEARCH keys (RFC 9051 §6.4.4) with MODSEQ (RFC 7162), OLDER/YOUNGER
//! (RFC 5032) and RETURN options (RFC 4731, RFC 5182).

use crate::cursor::Cursor;
use crate::datetime::{Date, parse_date, write_date};
use crate::error::ParseError;
use crate::flag::Flag;
use crate::sequence::{self, SequenceSet};
use crate::writer::Writer;

/// One search key. Strings are bytes in the command's charset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(Vec<u8>),
    /// `BEFORE date`.
    Before(Date),
    /// `BODY string`.
    Body(Vec<u8>),
    /// `CC string`.
    Cc(Vec<u8>),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(Vec<u8>),
    /// `HEADER field-name string`.
    Header(Vec<u8>, Vec<u8>),
    /// `KEYWORD flag-keyword`.
    Keyword(String),
    /// `LARGER n`.
    Larger(u64),
    /// `NEW` (IMAP4rev1).
    New,
    /// `NOT key`.
    Not(Box<SearchKey>),
    /// `OLD` (IMAP4rev1).
    Old,
    /// `ON date`.
    On(Date),
    /// `OR key key`.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER n`.
    Smaller(u64),
    /// `SUBJECT string`.
    Subject(Vec<u8>),
    /// `TEXT string`.
    Text(Vec<u8>),
    /// `TO string`.
    To(Vec<u8>),
    /// `UID sequence-set`.
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(String),
    /// `UNSEEN`.
    Unseen,
    /// A bare sequence set (message numbers).
    SequenceSet(SequenceSet),
    /// `( key *(SP key) )`: all must match. Never empty.
    And(Vec<SearchKey>),
    /// `MODSEQ [entry-name entry-type] n` (RFC 7162 §3.1.5).
    ModSeq {
        /// The flag whose modification is meant, and which entry type.
        entry: Option<(Flag, EntryType)>,
        /// The mod-sequence value.
        modseq: u64,
    },
    /// `OLDER seconds` (RFC 5032).
    Older(u32),
    /// `YOUNGER seconds` (RFC 5032).
    Younger(u32),
}

/// The entry type in a MODSEQ search key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// `priv`.
    Private,
    /// `shared`.
    Shared,
    /// `all`.
    All,
}

/// An ESEARCH RETURN option (RFC 4731, SAVE from RFC 5182).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchReturn {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE`.
    Save,
}

/// The search program shared by SEARCH, SORT and THREAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchProgram {
    /// `CHARSET` (SEARCH) or the mandatory charset (SORT, THREAD).
    pub charset: Option<String>,
    /// The keys, all of which must match. Never empty.
    pub criteria: Vec<SearchKey>,
}

fn string_key(cur: &mut Cursor<'_>, f: fn(Vec<u8>) -> SearchKey) -> Result<SearchKey, ParseError> {
    cur.sp()?;
    Ok(f(cur.astring()?))
}

fn date_key(cur: &mut Cursor<'_>, f: fn(Date) -> SearchKey) -> Result<SearchKey, ParseError> {
    cur.sp()?;
    Ok(f(parse_date(cur)?))
}

/// Parses one `search-key`.
pub(crate) fn parse_key(cur: &mut Cursor<'_>) -> Result<SearchKey, ParseError> {
    match cur.peek() {
        Some(b'(') => {
            return cur.paren_list(parse_key).and_then(|keys| {
                if keys.is_empty() {
                    Err(ParseError::Unexpected {
                        offset: cur.pos() - 1,
                        expected: "search key",
                    })
                } else {
                    Ok(SearchKey::And(keys))
                }
            });
        }
        Some(b'0'..=b'9' | b'*' | b'$') => return sequence::parse(cur).map(SearchKey::SequenceSet),
        _ => {}
    }
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "DELETED" => SearchKey::Deleted,
        "DRAFT" => SearchKey::Draft,
        "FLAGGED" => SearchKey::Flagged,
        "NEW" => SearchKey::New,
        "OLD" => SearchKey::Old,
        "RECENT" => SearchKey::Recent,
        "SEEN" => SearchKey::Seen,
        "UNANSWERED" => SearchKey::Unanswered,
        "UNDELETED" => SearchKey::Undeleted,
        "UNDRAFT" => SearchKey::Undraft,
        "UNFLAGGED" => SearchKey::Unflagged,
        "UNSEEN" => SearchKey::Unseen,
        "BCC" => string_key(cur, SearchKey::Bcc)?,
        "BODY" => string_key(cur, SearchKey::Body)?,
        "CC" => string_key(cur, SearchKey::Cc)?,
        "FROM" => string_key(cur, SearchKey::From)?,
        "SUBJECT" => string_key(cur, SearchKey::Subject)?,
        "TEXT" => string_key(cur, SearchKey::Text)?,
        "TO" => string_key(cur, SearchKey::To)?,
        "BEFORE" => date_key(cur, SearchKey::Before)?,
        "ON" => date_key(cur, SearchKey::On)?,
        "SINCE" => date_key(cur, SearchKey::Since)?,
        "SENTBEFORE" => date_key(cur, SearchKey::SentBefore)?,
        "SENTON" => date_key(cur, SearchKey::SentOn)?,
        "SENTSINCE" => date_key(cur, SearchKey::SentSince)?,
        "HEADER" => {
            cur.sp()?;
            let name = cur.astring()?;
            cur.sp()?;
            SearchKey::Header(name, cur.astring()?)
        }
        "KEYWORD" | "UNKEYWORD" => {
            cur.sp()?;
            let k = cur.atom_string()?;
            if word == "KEYWORD" {
                SearchKey::Keyword(k)
            } else {
                SearchKey::Unkeyword(k)
            }
        }
        "LARGER" | "SMALLER" => {
            cur.sp()?;
            let n = cur.number64()?;
            if word == "LARGER" {
                SearchKey::Larger(n)
            } else {
                SearchKey::Smaller(n)
            }
        }
        "OLDER" | "YOUNGER" => {
            cur.sp()?;
            let n = cur.nz_number()?;
            if word == "OLDER" {
                SearchKey::Older(n)
            } else {
                SearchKey::Younger(n)
            }
        }
        "UID" => {
            cur.sp()?;
            SearchKey::Uid(sequence::parse(cur)?)
        }
        "NOT" => {
            cur.sp()?;
            cur.enter()?;
            let k = parse_key(cur)?;
            cur.leave();
            SearchKey::Not(Box::new(k))
        }
        "OR" => {
            cur.sp()?;
            cur.enter()?;
            let a = parse_key(cur)?;
            cur.sp()?;
            let b = parse_key(cur)?;
            cur.leave();
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        "MODSEQ" => {
            cur.sp()?;
            let entry = if cur.peek() == Some(b'"') {
                let entry = parse_entry(cur)?;
                cur.sp()?;
                Some(entry)
            } else {
                None
            };
            SearchKey::ModSeq {
                entry,
                modseq: cur.number64()?,
            }
        }
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// `entry-name SP entry-type-req`: `"/flags/\\Seen" priv`.
fn parse_entry(cur: &mut Cursor<'_>) -> Result<(Flag, EntryType), ParseError> {
    let offset = cur.pos();
    let name = cur.quoted()?;
    let bad = || ParseError::Unexpected {
        offset,
        expected: "\"/flags/<flag>\"",
    };
    let Some(flag) = name
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case(b"/flags/"))
        .map(|_| &name[7..])
    else {
        return Err(bad());
    };
    let flag = std::str::from_utf8(flag)
        .ok()
        .and_then(|f| Flag::parse(f).ok())
        .ok_or_else(bad)?;
    cur.sp()?;
    let (word, offset) = cur.word()?;
    let kind = match word.as_str() {
        "PRIV" => EntryType::Private,
        "SHARED" => EntryType::Shared,
        "ALL" => EntryType::All,
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    };
    Ok((flag, kind))
}

/// Parses `search-return-opt`.
pub(crate) fn parse_return(cur: &mut Cursor<'_>) -> Result<SearchReturn, ParseError> {
    let (word, offset) = cur.word()?;
    Ok(match word.as_str() {
        "MIN" => SearchReturn::Min,
        "MAX" => SearchReturn::Max,
        "ALL" => SearchReturn::All,
        "COUNT" => SearchReturn::Count,
        "SAVE" => SearchReturn::Save,
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

/// Parses `1*(SP search-key)` up to the end of the line: the caller has
/// consumed everything before the first SP.
pub(crate) fn parse_keys(cur: &mut Cursor<'_>) -> Result<Vec<SearchKey>, ParseError> {
    let mut keys = Vec::new();
    while cur.peek() == Some(b' ') {
        cur.sp()?;
        keys.push(parse_key(cur)?);
    }
    if keys.is_empty() {
        return Err(cur.err("search key"));
    }
    Ok(keys)
}

fn write_string_key(w: &mut Writer, name: &str, s: &[u8]) {
    w.str(name);
    w.sp();
    w.astring(s);
}

fn write_date_key(w: &mut Writer, name: &str, d: &Date) {
    w.str(name);
    w.sp();
    write_date(w, d);
}

/// Writes one search key.
pub(crate) fn write_key(w: &mut Writer, key: &SearchKey) {
    use SearchKey as K;
    match key {
        K::All => w.str("ALL"),
        K::Answered => w.str("ANSWERED"),
        K::Deleted => w.str("DELETED"),
        K::Draft => w.str("DRAFT"),
        K::Flagged => w.str("FLAGGED"),
        K::New => w.str("NEW"),
        K::Old => w.str("OLD"),
        K::Recent => w.str("RECENT"),
        K::Seen => w.str("SEEN"),
        K::Unanswered => w.str("UNANSWERED"),
        K::Undeleted => w.str("UNDELETED"),
        K::Undraft => w.str("UNDRAFT"),
        K::Unflagged => w.str("UNFLAGGED"),
        K::Unseen => w.str("UNSEEN"),
        K::Bcc(s) => write_string_key(w, "BCC", s),
        K::Body(s) => write_string_key(w, "BODY", s),
        K::Cc(s) => write_string_key(w, "CC", s),
        K::From(s) => write_string_key(w, "FROM", s),
        K::Subject(s) => write_string_key(w, "SUBJECT", s),
        K::Text(s) => write_string_key(w, "TEXT", s),
        K::To(s) => write_string_key(w, "TO", s),
        K::Before(d) => write_date_key(w, "BEFORE", d),
        K::On(d) => write_date_key(w, "ON", d),
        K::Since(d) => write_date_key(w, "SINCE", d),
        K::SentBefore(d) => write_date_key(w, "SENTBEFORE", d),
        K::SentOn(d) => write_date_key(w, "SENTON", d),
        K::SentSince(d) => write_date_key(w, "SENTSINCE", d),
        K::Header(n, v) => {
            w.str("HEADER ");
            w.astring(n);
            w.sp();
            w.astring(v);
        }
        K::Keyword(k) => {
            w.str("KEYWORD ");
            w.str(k);
        }
        K::Unkeyword(k) => {
            w.str("UNKEYWORD ");
            w.str(k);
        }
        K::Larger(n) => {
            w.str("LARGER ");
            w.num(n);
        }
        K::Smaller(n) => {
            w.str("SMALLER ");
            w.num(n);
        }
        K::Older(n) => {
            w.str("OLDER ");
            w.num(n);
        }
        K::Younger(n) => {
            w.str("YOUNGER ");
            w.num(n);
        }
        K::Uid(set) => {
            w.str("UID ");
            sequence::write(w, set);
        }
        K::SequenceSet(set) => sequence::write(w, set),
        K::Not(k) => {
            w.str("NOT ");
            write_key(w, k);
        }
        K::Or(a, b) => {
            w.str("OR ");
            write_key(w, a);
            w.sp();
            write_key(w, b);
        }
        K::And(keys) => w.paren_list(keys, write_key),
        K::ModSeq { entry, modseq } => {
            w.str("MODSEQ ");
            if let Some((flag, kind)) = entry {
                w.quoted(format!("/flags/{flag}").as_bytes());
                w.str(match kind {
                    EntryType::Private => " priv ",
                    EntryType::Shared => " shared ",
                    EntryType::All => " all ",
                });
            }
            w.num(modseq);
        }
    }
}

/// Writes a search return option.
pub(crate) fn write_return(w: &mut Writer, r: &SearchReturn) {
    w.str(match r {
        SearchReturn::Min => "MIN",
        SearchReturn::Max => "MAX",
        SearchReturn::All => "ALL",
        SearchReturn::Count => "COUNT",
        SearchReturn::Save => "SAVE",
    });
}

/// Writes `1*(SP search-key)`.
pub(crate) fn write_keys(w: &mut Writer, keys: &[SearchKey]) {
    for k in keys {
        w.sp();
        write_key(w, k);
    }
}
