//! Errors, split by cause: syntax ([`ParseError`]), the reader's limits and
//! framing ([`ReaderError`]), mailbox-name encodings ([`MailboxNameError`]).

use crate::tag::Tag;

/// A command that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input ended where more was required.
    #[error("input ended early (expected {expected})")]
    Incomplete {
        /// What the grammar required next.
        expected: &'static str,
    },
    /// A byte that the grammar does not allow here.
    #[error("unexpected byte at offset {offset} (expected {expected})")]
    Unexpected {
        /// Offset of the byte in the command.
        offset: usize,
        /// What the grammar required.
        expected: &'static str,
    },
    /// A number too large for its field (or zero where zero is not allowed).
    #[error("number out of range at offset {offset}")]
    NumberRange {
        /// Offset of the number.
        offset: usize,
    },
    /// A command name this crate does not know.
    #[error("unknown command {name:?}")]
    UnknownCommand {
        /// The name as sent (lossy UTF-8).
        name: String,
    },
    /// A keyword (fetch item, search key, option) this crate does not know.
    #[error("unknown keyword {keyword:?} at offset {offset}")]
    UnknownKeyword {
        /// The keyword as sent (lossy UTF-8).
        keyword: String,
        /// Offset of the keyword.
        offset: usize,
    },
    /// Parentheses or NOT/OR nested deeper than the parser allows.
    #[error("nesting deeper than {limit}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// A date or date-time with an impossible value.
    #[error("invalid date at offset {offset}")]
    BadDate {
        /// Offset of the date.
        offset: usize,
    },
    /// AUTHENTICATE's initial response is not valid base64.
    #[error("invalid base64 at offset {offset}")]
    BadBase64 {
        /// Offset of the response.
        offset: usize,
    },
    /// A NUL byte inside a literal that is not a literal8 (RFC 9051 CHAR8).
    #[error("NUL byte in a literal at offset {offset}")]
    NulInLiteral {
        /// Offset of the byte.
        offset: usize,
    },
    /// A quoted string with bytes above 0x7f that are not UTF-8.
    #[error("quoted string is not UTF-8 at offset {offset}")]
    BadUtf8 {
        /// Offset of the string.
        offset: usize,
    },
    /// Bytes after the end of the command.
    #[error("trailing bytes at offset {offset}")]
    Trailing {
        /// Offset of the first extra byte.
        offset: usize,
    },
}

/// A command that could not be parsed, with its tag when it had one, so the
/// server can answer `tag BAD` (or `* BAD` without one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct CommandError {
    /// The command's tag, when the line started with a valid one.
    pub tag: Option<Tag>,
    /// What was wrong.
    #[source]
    pub error: ParseError,
}

/// Why the command reader refused a command. The reader has already
/// resynchronized: it skips whatever the client still sends of the refused
/// command (non-synchronizing literal data included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderError {
    /// A line longer than `ReaderLimits::max_line`.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A line that ends in a bare LF instead of CRLF.
    #[error("line ends with a bare LF")]
    BareLineFeed,
    /// A literal larger than its limit (`max_literal`, or `max_append` for
    /// an APPEND message).
    #[error("literal of {size} bytes exceeds the limit of {limit}")]
    LiteralTooLarge {
        /// The announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A literal size that does not fit in 64 bits.
    #[error("literal size out of range")]
    BadLiteralSize,
    /// More literals in one command than `max_literals`.
    #[error("more than {limit} literals in one command")]
    TooManyLiterals {
        /// The limit.
        limit: usize,
    },
    /// A command longer than `max_command` bytes (lines and literals).
    #[error("command longer than {limit} bytes")]
    CommandTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Parentheses nested deeper than `max_depth`.
    #[error("parentheses nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A non-synchronizing literal while neither LITERAL+ nor LITERAL- is
    /// in effect.
    #[error("non-synchronizing literal not allowed")]
    NonSyncRefused,
    /// A non-synchronizing literal over 4096 bytes under LITERAL-
    /// (RFC 7888 §5).
    #[error("non-synchronizing literal of {size} bytes exceeds 4096 under LITERAL-")]
    NonSyncTooLarge {
        /// The announced size.
        size: u64,
    },
    /// What followed an APPEND message literal is not the end of the
    /// command (`)` for UTF8 data, then CRLF). MULTIAPPEND and CATENATE are
    /// not supported yet.
    #[error("unexpected bytes after the APPEND message")]
    BadAppendTail,
}

/// A mailbox name that is not valid in the encoding asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxNameError {
    /// A byte outside printable US-ASCII in a modified UTF-7 name.
    #[error("byte {byte:#04x} not allowed in modified UTF-7 at offset {offset}")]
    BadByte {
        /// The byte.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
    /// A shifted run that is not terminated by `-`, uses characters outside
    /// the modified base64 alphabet, or leaves non-zero bits.
    #[error("bad modified base64 run at offset {offset}")]
    BadBase64 {
        /// Offset of the `&` that starts the run.
        offset: usize,
    },
    /// The decoded UTF-16 is not valid (odd length, lone surrogate).
    #[error("bad UTF-16 in modified UTF-7 at offset {offset}")]
    BadUtf16 {
        /// Offset of the `&` that starts the run.
        offset: usize,
    },
    /// A valid but non-canonical encoding (a printable ASCII character
    /// shifted, two adjacent shifted runs): RFC 3501 §5.1.3 forbids it.
    #[error("non-canonical modified UTF-7")]
    NotCanonical,
    /// A UTF-8 name (RFC 6855) that is not valid UTF-8.
    #[error("mailbox name is not UTF-8")]
    NotUtf8,
    /// A control character in a UTF-8 name (RFC 6855 §3, RFC 5198).
    #[error("control character in mailbox name")]
    ControlCharacter,
}

/// The calling code used a session wrongly (the caller's fault, never the
/// peer's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// A method was called in a state where it means nothing.
    #[error("called in the wrong state: {0}")]
    WrongState(&'static str),
}
