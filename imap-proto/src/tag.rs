//! Command tags (RFC 9051 §2.2.1).

use std::fmt;

use crate::lex::is_tag_char;

/// A command tag: one or more astring characters other than `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Validates a tag; `None` when it is empty or has a byte a tag may not.
    pub fn new(tag: &str) -> Option<Self> {
        Self::from_bytes(tag.as_bytes())
    }

    /// Validates a tag given as bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || !bytes.iter().all(|&b| is_tag_char(b)) {
            return None;
        }
        // Tag characters are ASCII, so this cannot fail.
        std::str::from_utf8(bytes).ok().map(|s| Self(s.to_owned()))
    }

    /// A tag from text the caller knows to be valid (tag characters only,
    /// non-empty).
    pub(crate) fn from_valid(tag: String) -> Self {
        debug_assert!(Self::new(&tag).is_some());
        Self(tag)
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag at the start of a command line: the bytes before the first
    /// space, if they form a valid tag.
    pub fn peek(command: &[u8]) -> Option<Self> {
        let end = memchr::memchr(b' ', command)?;
        Self::from_bytes(&command[..end])
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
