//! Mailbox names: the wire form, INBOX's case-insensitivity, and the two
//! encodings (modified UTF-7 for IMAP4rev1, UTF-8 for IMAP4rev2 and
//! UTF8=ACCEPT, RFC 6855).

use crate::cursor::Cursor;
use crate::error::{MailboxNameError, ParseError};
use crate::utf7;
use crate::writer::Writer;

/// How mailbox names are encoded on the wire in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameEncoding {
    /// Modified UTF-7 (IMAP4rev1 without UTF8=ACCEPT).
    Utf7,
    /// UTF-8 (IMAP4rev2, or after `ENABLE UTF8=ACCEPT`).
    Utf8,
}

/// A mailbox name as sent on the wire. `INBOX` in any case is stored as
/// `INBOX`, so two names naming INBOX compare equal; other names are
/// case-sensitive and kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mailbox(Vec<u8>);

impl Mailbox {
    /// INBOX.
    pub fn inbox() -> Self {
        Self(b"INBOX".to_vec())
    }

    /// A name from its wire bytes (the astring's content).
    pub fn from_wire(bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        if bytes.eq_ignore_ascii_case(b"INBOX") {
            Self::inbox()
        } else {
            Self(bytes)
        }
    }

    /// Encodes a name for the wire.
    pub fn from_name(name: &str, encoding: NameEncoding) -> Result<Self, MailboxNameError> {
        match encoding {
            NameEncoding::Utf7 => Ok(Self::from_wire(utf7::encode(name))),
            NameEncoding::Utf8 => {
                check_utf8_name(name)?;
                Ok(Self::from_wire(name.as_bytes()))
            }
        }
    }

    /// Decodes the wire form, validating it.
    pub fn name(&self, encoding: NameEncoding) -> Result<String, MailboxNameError> {
        match encoding {
            NameEncoding::Utf7 => utf7::decode(&self.0),
            NameEncoding::Utf8 => {
                let s = std::str::from_utf8(&self.0).map_err(|_| MailboxNameError::NotUtf8)?;
                check_utf8_name(s)?;
                Ok(s.to_owned())
            }
        }
    }

    /// The wire bytes.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is INBOX.
    pub fn is_inbox(&self) -> bool {
        self.0 == b"INBOX"
    }
}

/// RFC 6855 §3: names follow Net-Unicode (RFC 5198), so no control
/// characters (C0, DEL, C1).
fn check_utf8_name(name: &str) -> Result<(), MailboxNameError> {
    if name.chars().any(char::is_control) {
        Err(MailboxNameError::ControlCharacter)
    } else {
        Ok(())
    }
}

/// Parses `mailbox` (an astring).
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Mailbox, ParseError> {
    cur.astring().map(Mailbox::from_wire)
}

/// Writes `mailbox`.
pub(crate) fn write(w: &mut Writer, mailbox: &Mailbox) {
    w.astring(&mailbox.0);
}
