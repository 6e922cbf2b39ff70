//! The caller's misuse of a session, one taxonomy for every machine.
//!
//! Errors in Postel are split by cause, as rustls splits its own: the
//! peer's fault (a bad command or reply: each protocol crate's
//! `CommandError`/`ReplyError`), the caller's misuse (this [`UsageError`]:
//! a call the session's state does not allow), and an incompatibility (the
//! peer lacks what the configuration requires: each client's
//! `ClientError`). A call that fails with a `UsageError` changes nothing in
//! the session.

use std::fmt;

use crate::ticket::Ticket;

/// The caller used a session in a way its state does not allow. The session
/// is exactly as it was before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A decision was given while no event waits for one.
    NoPendingDecision,
    /// The ticket was answered already, or belongs to an earlier event.
    StaleTicket,
    /// The ticket belongs to another session.
    ForeignTicket,
    /// The decision does not fit the event that waits (per-recipient
    /// replies for a MAIL command, say).
    WrongDecision {
        /// The event that waits.
        pending: &'static str,
        /// The decision that was given.
        given: &'static str,
    },
    /// The method has no meaning in the session's state (an upgrade that was
    /// not asked for, a command before the greeting).
    WrongState(&'static str),
    /// An argument is invalid (a message without recipients, a reply code
    /// out of range, the wrong number of per-recipient replies).
    InvalidArgument(&'static str),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoPendingDecision => f.write_str("no event is waiting for a decision"),
            UsageError::StaleTicket => {
                f.write_str("the ticket was answered already or belongs to an earlier event")
            }
            UsageError::ForeignTicket => f.write_str("the ticket belongs to another session"),
            UsageError::WrongDecision { pending, given } => {
                write!(
                    f,
                    "a {given} decision does not fit the pending {pending} event"
                )
            }
            UsageError::WrongState(what) => write!(f, "not possible now: {what}"),
            UsageError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for UsageError {}

/// A decision that was refused: the [`UsageError`] and the ticket, handed
/// back so that the caller can answer again correctly. The session is
/// exactly as it was before the call.
#[derive(Debug, PartialEq, Eq)]
pub struct DecisionError {
    error: UsageError,
    ticket: Ticket,
}

impl DecisionError {
    /// Pairs an error with the ticket it refused.
    pub fn new(error: UsageError, ticket: Ticket) -> Self {
        Self { error, ticket }
    }

    /// Why the decision was refused.
    pub fn error(&self) -> &UsageError {
        &self.error
    }

    /// The ticket back, to answer again (a stale or foreign ticket stays
    /// useless).
    pub fn into_ticket(self) -> Ticket {
        self.ticket
    }

    /// Both parts.
    pub fn into_parts(self) -> (UsageError, Ticket) {
        (self.error, self.ticket)
    }
}

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for DecisionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<DecisionError> for UsageError {
    fn from(e: DecisionError) -> Self {
        e.error
    }
}

impl From<UsageError> for std::io::Error {
    fn from(e: UsageError) -> Self {
        std::io::Error::other(e)
    }
}

impl From<DecisionError> for std::io::Error {
    fn from(e: DecisionError) -> Self {
        std::io::Error::other(e.error)
    }
}
