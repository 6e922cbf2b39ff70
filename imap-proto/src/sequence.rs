//! Sequence sets (RFC 9051 `sequence-set`): numbers, `*`, ranges, and `$`
//! (the saved search result, RFC 5182).

use std::fmt;
use std::num::NonZeroU32;

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::writer::Writer;

/// One end of a range: a message number / UID, or `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A number, never zero.
    Value(NonZeroU32),
    /// `*`: the largest number in use.
    Largest,
}

impl SeqNumber {
    /// The number, with `*` replaced by `largest`.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            Self::Value(v) => v.get(),
            Self::Largest => largest,
        }
    }

    fn order_key(self) -> u64 {
        match self {
            Self::Value(v) => u64::from(v.get()),
            Self::Largest => u64::MAX,
        }
    }
}

/// One element of a sequence set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqItem {
    /// A single number or `*`.
    Single(SeqNumber),
    /// `a:b`, kept in the order sent (`4:2` means the same as `2:4`).
    Range(SeqNumber, SeqNumber),
}

impl SeqItem {
    /// Whether `n` lies in this item, `*` standing for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        match *self {
            Self::Single(a) => a.resolve(largest) == n,
            Self::Range(a, b) => {
                let (a, b) = (a.resolve(largest), b.resolve(largest));
                (a.min(b)..=a.max(b)).contains(&n)
            }
        }
    }
}

/// A sequence set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// `$`: the result of the last `SEARCH RETURN (SAVE)`.
    Saved,
    /// A non-empty comma-separated list of numbers and ranges.
    Items(Vec<SeqItem>),
}

impl SequenceSet {
    /// A set of one number; `None` for zero.
    pub fn single(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(|n| Self::Items(vec![SeqItem::Single(SeqNumber::Value(n))]))
    }

    /// `a:b`; `None` if either is zero.
    pub fn range(a: u32, b: u32) -> Option<Self> {
        Some(Self::Items(vec![SeqItem::Range(
            SeqNumber::Value(NonZeroU32::new(a)?),
            SeqNumber::Value(NonZeroU32::new(b)?),
        )]))
    }

    /// Parses a complete sequence set such as `1:4,7,9:*` or `$`.
    pub fn parse(text: &[u8]) -> Result<Self, ParseError> {
        let mut cur = Cursor::new(text, 1);
        let set = parse(&mut cur)?;
        if cur.at_end() {
            Ok(set)
        } else {
            Err(ParseError::Trailing { offset: cur.pos() })
        }
    }

    /// The same set with every range written low to high (`*` counts as
    /// the highest). `$` is returned unchanged. Nothing else is merged or
    /// reordered; the parser never does this on its own.
    pub fn normalized(&self) -> Self {
        match self {
            Self::Saved => Self::Saved,
            Self::Items(items) => Self::Items(
                items
                    .iter()
                    .map(|item| match *item {
                        SeqItem::Range(a, b) if a.order_key() > b.order_key() => {
                            SeqItem::Range(b, a)
                        }
                        other => other,
                    })
                    .collect(),
            ),
        }
    }

    /// Whether `n` is in the set, `*` standing for `largest`. Always false
    /// for `$`, which the caller resolves.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        match self {
            Self::Saved => false,
            Self::Items(items) => items.iter().any(|i| i.contains(n, largest)),
        }
    }
}

fn seq_number(cur: &mut Cursor<'_>) -> Result<SeqNumber, ParseError> {
    if cur.eat(b'*') {
        return Ok(SeqNumber::Largest);
    }
    let offset = cur.pos();
    let n = cur.nz_number()?;
    NonZeroU32::new(n)
        .map(SeqNumber::Value)
        .ok_or(ParseError::NumberRange { offset })
}

/// Parses `sequence-set`.
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<SequenceSet, ParseError> {
    if cur.eat(b'$') {
        return Ok(SequenceSet::Saved);
    }
    let mut items = Vec::new();
    loop {
        let a = seq_number(cur)?;
        if cur.eat(b':') {
            let b = seq_number(cur)?;
            items.push(SeqItem::Range(a, b));
        } else {
            items.push(SeqItem::Single(a));
        }
        if !cur.eat(b',') {
            break;
        }
    }
    Ok(SequenceSet::Items(items))
}

/// Writes a sequence set.
pub(crate) fn write(w: &mut Writer, set: &SequenceSet) {
    w.str(&set.to_string());
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(v) => write!(f, "{v}"),
            Self::Largest => f.write_str("*"),
        }
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Saved => f.write_str("$"),
            Self::Items(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    match item {
                        SeqItem::Single(a) => write!(f, "{a}")?,
                        SeqItem::Range(a, b) => write!(f, "{a}:{b}")?,
                    }
                }
                Ok(())
            }
        }
    }
}
