//! Error types, split by whose fault the error is: the peer's (a bad command
//! line, a malformed server response) or the caller's (misuse of a session).

use thiserror::Error;

use crate::response::Response;

/// Why a command line was refused (the client's fault). Each error knows
/// the `-ERR` response a server sends for it: see [`CommandError::response`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The keyword is not a POP3 command this crate knows.
    #[error("unknown command")]
    UnknownCommand,
    /// The line is not UTF-8 or holds control characters.
    #[error("command line contains invalid bytes")]
    InvalidBytes,
    /// The arguments do not match the command's syntax.
    #[error("syntax error in {command}: {what}")]
    Syntax {
        /// The command keyword, upper case.
        command: &'static str,
        /// What was wrong.
        what: &'static str,
    },
}

impl CommandError {
    /// The response a server sends for this error.
    pub fn response(&self) -> Response {
        match self {
            CommandError::UnknownCommand => Response::err("Unknown command"),
            CommandError::InvalidBytes => Response::err("Invalid characters in command"),
            CommandError::Syntax { command, what } => {
                Response::err(format!("Syntax error in {command}: {what}"))
            }
        }
    }
}

/// Something the server sent that the client cannot read (the server's
/// fault).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseError {
    /// A status line that starts with neither `+OK` nor `-ERR`.
    #[error("response does not start with +OK or -ERR: {line:?}")]
    BadStatus {
        /// The start of the offending line.
        line: String,
    },
    /// A line longer than the limit.
    #[error("response line longer than {max} bytes")]
    LineTooLong {
        /// The limit, CRLF included.
        max: usize,
    },
    /// A multi-line listing with more lines than the limit.
    #[error("multi-line response has more than {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// A STAT, LIST or UIDL line that does not hold what it must.
    #[error("malformed {what} line: {line:?}")]
    BadListing {
        /// Which response ("STAT", "LIST", "UIDL").
        what: &'static str,
        /// The start of the offending line.
        line: String,
    },
    /// A SASL continuation (`+ ...`) that is not base64.
    #[error("SASL challenge is not base64")]
    BadChallenge,
}

/// The caller used a session in a way its state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsageError {
    /// A decision was given while no event was waiting for one.
    #[error("no event is waiting for a decision")]
    NoPendingDecision,
    /// The decision does not fit the event that waits.
    #[error("this decision does not fit the pending event: {0}")]
    WrongDecision(&'static str),
    /// A method was called in a state where it has no meaning.
    #[error("not possible now: {0}")]
    WrongState(&'static str),
    /// An argument is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// The start of `line` as text, for error messages (at most 80 bytes).
pub(crate) fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned()
}
