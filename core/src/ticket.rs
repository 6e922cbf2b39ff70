//! Tickets: the proof that a decision answers the event that asked for it.
//!
//! An event that needs the application's answer carries a [`Ticket`]; the
//! answer gives it back. A ticket is move-only (not `Clone`), so one event
//! is answered once; the session checks that the ticket is its own and the
//! one it waits for, and refuses any other without changing state
//! ([`UsageError::StaleTicket`], [`UsageError::ForeignTicket`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{DecisionError, UsageError};

/// The right to answer one pending event of one session.
#[must_use = "an event with a ticket waits for a decision: answer it"]
#[derive(PartialEq, Eq)]
pub struct Ticket {
    session: u64,
    serial: u64,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ticket({}#{})", self.session, self.serial)
    }
}

/// Issues and checks a session's tickets. A session holds one and asks it
/// for a ticket each time an event needs a decision.
#[derive(Debug)]
pub struct TicketBook {
    session: u64,
    next: u64,
    outstanding: Option<u64>,
}

impl Default for TicketBook {
    fn default() -> Self {
        Self::new()
    }
}

static SESSIONS: AtomicU64 = AtomicU64::new(1);

impl TicketBook {
    /// A book for a new session, distinct from every other book in the
    /// process.
    pub fn new() -> Self {
        Self {
            session: SESSIONS.fetch_add(1, Ordering::Relaxed),
            next: 1,
            outstanding: None,
        }
    }

    /// Issues the ticket for the event about to be returned. Call it once
    /// per decision event; an older outstanding ticket becomes stale.
    pub fn issue(&mut self) -> Ticket {
        let serial = self.next;
        self.next += 1;
        self.outstanding = Some(serial);
        Ticket {
            session: self.session,
            serial,
        }
    }

    /// Whether a ticket is outstanding (a decision is pending).
    pub fn is_pending(&self) -> bool {
        self.outstanding.is_some()
    }

    /// Checks that `ticket` answers the pending decision, without redeeming
    /// it. Call before any change of state.
    pub fn check(&self, ticket: &Ticket) -> Result<(), UsageError> {
        if ticket.session != self.session {
            return Err(UsageError::ForeignTicket);
        }
        match self.outstanding {
            None if ticket.serial < self.next => Err(UsageError::StaleTicket),
            None => Err(UsageError::NoPendingDecision),
            Some(serial) if serial == ticket.serial => Ok(()),
            Some(_) => Err(UsageError::StaleTicket),
        }
    }

    /// [`check`](Self::check), with the ticket handed back on failure.
    pub fn verify(&self, ticket: Ticket) -> Result<Ticket, DecisionError> {
        match self.check(&ticket) {
            Ok(()) => Ok(ticket),
            Err(e) => Err(DecisionError::new(e, ticket)),
        }
    }

    /// Redeems a checked ticket: the decision is made. Call after the last
    /// check that can fail, so a refused call changes nothing.
    pub fn redeem(&mut self, ticket: Ticket) {
        debug_assert!(self.check(&ticket).is_ok());
        if self.check(&ticket).is_ok() {
            self.outstanding = None;
        }
    }

    /// Withdraws the pending decision without an answer (the connection
    /// timed out, say): its ticket becomes stale.
    pub fn withdraw(&mut self) {
        self.outstanding = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_answers_once() {
        let mut book = TicketBook::new();
        let t = book.issue();
        assert!(book.is_pending());
        let t = book.verify(t).unwrap();
        book.redeem(t);
        assert!(!book.is_pending());
        let mut again = TicketBook::new();
        let foreign = again.issue();
        assert_eq!(book.check(&foreign), Err(UsageError::ForeignTicket));
    }

    #[test]
    fn an_older_ticket_is_stale() {
        let mut book = TicketBook::new();
        let old = book.issue();
        let new = book.issue();
        assert_eq!(book.check(&old), Err(UsageError::StaleTicket));
        let err = book.verify(old).unwrap_err();
        assert_eq!(err.error(), &UsageError::StaleTicket);
        book.redeem(new);
        let _ = err.into_ticket();
    }

    #[test]
    fn a_withdrawn_ticket_is_stale() {
        let mut book = TicketBook::new();
        let t = book.issue();
        book.withdraw();
        assert_eq!(book.check(&t), Err(UsageError::StaleTicket));
    }
}
