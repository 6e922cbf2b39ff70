//! Error types, split by whose fault the error is: the peer's (bad input),
//! the caller's (misuse of a session), or neither (an incompatibility).

use thiserror::Error;

use crate::reply::Reply;

/// A server reply that could not be parsed (the server's fault).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// The line does not start with a three-digit code from 200 to 599.
    #[error("reply line does not start with a reply code 200-599: {line:?}")]
    BadCode {
        /// The start of the offending line.
        line: String,
    },
    /// The fourth byte is neither space nor hyphen.
    #[error("reply code is not followed by ' ' or '-': {line:?}")]
    BadSeparator {
        /// The start of the offending line.
        line: String,
    },
    /// A multi-line reply changed its code between lines.
    #[error("multi-line reply changed its code from {first} to {then}")]
    CodeChanged {
        /// The code of the first line.
        first: u16,
        /// The code of the line that differs.
        then: u16,
    },
    /// A reply line is longer than the limit.
    #[error("reply line longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A multi-line reply has more lines than the limit.
    #[error("multi-line reply has more than {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
}

/// Why a command line was refused (the client's fault). Each error knows the
/// reply a server sends for it: see [`CommandError::reply`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The verb is not an SMTP command we know.
    #[error("unrecognized command")]
    UnknownCommand,
    /// The line is not valid UTF-8 or contains control characters.
    #[error("command line contains invalid bytes")]
    InvalidBytes,
    /// The command's arguments do not match its syntax.
    #[error("syntax error in {command} arguments: {what}")]
    Syntax {
        /// The command, upper case.
        command: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// A path (`<...>`) is malformed.
    #[error("malformed {which} address: {what}")]
    BadPath {
        /// "sender" or "recipient".
        which: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// An address without angle brackets, refused by the strict setting.
    #[error("{which} address must be enclosed in angle brackets")]
    MissingBrackets {
        /// "sender" or "recipient".
        which: &'static str,
    },
    /// An ESMTP parameter keyword we do not know.
    #[error("unknown parameter {keyword}")]
    UnknownParameter {
        /// The keyword, upper case.
        keyword: String,
    },
    /// The same parameter twice.
    #[error("parameter {keyword} given twice")]
    DuplicateParameter {
        /// The keyword.
        keyword: &'static str,
    },
    /// A known parameter with a bad value.
    #[error("bad value for parameter {keyword}: {what}")]
    BadParameterValue {
        /// The keyword.
        keyword: &'static str,
        /// What was wrong.
        what: &'static str,
    },
}

impl CommandError {
    /// The reply a server sends for this error (RFC 5321 §4.2.2, RFC 3463,
    /// RFC 1869 §6 for parameters).
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::UnknownCommand => {
                Reply::with_status(500, (5, 5, 1), "Command unrecognized")
            }
            CommandError::InvalidBytes => {
                Reply::with_status(500, (5, 5, 2), "Invalid characters in command")
            }
            CommandError::Syntax { .. } => {
                Reply::with_status(501, (5, 5, 4), format!("Syntax error: {self}"))
            }
            CommandError::BadPath { which, .. } => {
                let status = if *which == "sender" {
                    (5, 1, 7)
                } else {
                    (5, 1, 3)
                };
                Reply::with_status(553, status, format!("Syntax error: {self}"))
            }
            CommandError::MissingBrackets { .. } => {
                Reply::with_status(501, (5, 5, 4), format!("Syntax error: {self}"))
            }
            CommandError::UnknownParameter { .. } => {
                Reply::with_status(555, (5, 5, 4), format!("Unsupported: {self}"))
            }
            CommandError::DuplicateParameter { .. } | CommandError::BadParameterValue { .. } => {
                Reply::with_status(501, (5, 5, 4), format!("Syntax error: {self}"))
            }
        }
    }
}

/// The caller used a session in a way its state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsageError {
    /// A decision was given while no event was waiting for one.
    #[error("no event is waiting for a decision")]
    NoPendingDecision,
    /// The decision does not fit the event that waits (e.g. per-recipient
    /// replies for a MAIL command).
    #[error("this decision does not fit the pending event: {0}")]
    WrongDecision(&'static str),
    /// The number of per-recipient replies differs from the accepted recipients.
    #[error("expected {expected} per-recipient replies, got {got}")]
    ReplyCount {
        /// Accepted recipients.
        expected: usize,
        /// Replies given.
        got: usize,
    },
    /// A method was called in a state where it has no meaning.
    #[error("not possible now: {0}")]
    WrongState(&'static str),
    /// An argument is invalid (e.g. a message without recipients).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}
