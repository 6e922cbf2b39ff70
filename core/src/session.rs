//! The session contract: the one surface every protocol machine has.

use std::time::Instant;

use crate::connection::TlsInfo;
use crate::error::UsageError;

/// A change of the byte stream under a session that the driver carries out:
/// the session has queued its last reply in the old form and waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Upgrade {
    /// Start TLS (SMTP STARTTLS, POP3 STLS, IMAP STARTTLS). The session has
    /// discarded whatever plaintext was pipelined behind the command.
    StartTls,
    /// Start compression (IMAP COMPRESS, RFC 4978). Output written after
    /// the current output is compressed, and so is input read after it.
    Compress(Compression),
}

/// A compression method a session can switch to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Raw deflate (RFC 1951) with a sync flush after each write (RFC 4978).
    Deflate,
}

/// What the driver did after an [`Upgrade`], for
/// [`Session::upgrade_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Upgraded {
    /// The TLS handshake finished with these parameters.
    Tls(TlsInfo),
    /// Compression is on in both directions.
    Compress(Compression),
}

impl Upgraded {
    /// The upgrade this completes.
    pub fn upgrade(&self) -> Upgrade {
        match self {
            Upgraded::Tls(_) => Upgrade::StartTls,
            Upgraded::Compress(c) => Upgrade::Compress(*c),
        }
    }
}

/// Why a session closed, as every machine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer ended the session (QUIT, LOGOUT) and got its goodbye.
    PeerQuit,
    /// We ended it on the application's request (QUIT, LOGOUT sent by our
    /// client, or [`Session::begin_shutdown`] on a server).
    LocalQuit,
    /// The peer was silent past the protocol's timeout.
    TimedOut,
    /// The peer made too many errors, sent what cannot be recovered from, or
    /// broke the protocol.
    ProtocolViolation,
    /// Service was refused at the greeting or later (SMTP 554, 421).
    Refused,
    /// The peer closed the connection or failed (a client's view).
    PeerFailed,
}

/// What a session's events must tell a driver that knows nothing else about
/// the protocol.
pub trait SessionEvent {
    /// The upgrade the driver must carry out before feeding more input, or
    /// `None`. The session has queued the reply that ends the old form; the
    /// driver writes all output, does the upgrade and calls
    /// [`Session::upgrade_done`].
    fn upgrade(&self) -> Option<Upgrade> {
        None
    }

    /// Whether the session waits for the application's answer to this event
    /// (the event carries a [`Ticket`](crate::Ticket)).
    fn needs_decision(&self) -> bool {
        false
    }

    /// Set on the event that says the session has closed.
    fn close_reason(&self) -> Option<&CloseReason> {
        None
    }
}

/// The Sans-IO contract of every Postel protocol machine, server or client.
///
/// A driver loops over the same calls whatever the protocol:
///
/// 1. [`enqueue_input`](Self::enqueue_input) with the bytes the peer sent
///    and the time they came (only while [`wants_input`](Self::wants_input));
/// 2. [`poll_event`](Self::poll_event) until it returns `None`, answering
///    events that carry a ticket, and carrying out [`Upgrade`]s;
/// 3. [`poll_transmit`](Self::poll_transmit) and write what it gave;
/// 4. wait for input or for [`poll_timeout`](Self::poll_timeout)'s
///    deadline, and call [`handle_timeout`](Self::handle_timeout) when it
///    passes; stop once [`is_closed`](Self::is_closed) and the output is
///    written.
///
/// Any chunking of the input gives the same events and output. Nothing in
/// an implementation opens a socket, spawns a task, sleeps or reads a
/// clock: `now` always comes from the caller.
pub trait Session {
    /// What the machine tells its application.
    type Event: SessionEvent;

    /// Hands the machine bytes from the peer that arrived at `now`. Call it
    /// only while [`wants_input`](Self::wants_input) is true; then poll
    /// events and output again. Input given while a decision is pending is
    /// buffered up to the machine's limit.
    fn enqueue_input(&mut self, now: Instant, input: &[u8]);

    /// The next event, or `None` when the machine needs input, a decision
    /// or a deadline. Poll again after every [`enqueue_input`](Self::enqueue_input),
    /// decision, [`handle_timeout`](Self::handle_timeout) and
    /// [`upgrade_done`](Self::upgrade_done).
    #[must_use = "events must be handled; decisions must be answered"]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// Appends the bytes to write to the peer to `out` and returns how many
    /// were appended (0 when there is nothing to write). Poll after every
    /// other call; write everything before an upgrade.
    #[must_use = "the returned bytes must be written to the peer"]
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout)
    /// must be called, or `None`. It can change after any other call; ask
    /// again before each wait.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;

    /// Tells the machine that `now` has come; it acts on every deadline
    /// that has passed (and ignores an early call). Poll events and output
    /// afterwards.
    fn handle_timeout(&mut self, now: Instant);

    /// False while the machine waits for a decision or an upgrade, or has
    /// buffered as much input as it will hold: the driver stops reading
    /// (back-pressure) until it is true again.
    #[must_use]
    fn wants_input(&self) -> bool;

    /// Says the driver finished the [`Upgrade`] an event asked for. Poll
    /// events and output afterwards. Called at any other time, or with an
    /// upgrade that was not asked for, it returns an error and changes
    /// nothing.
    fn upgrade_done(&mut self, now: Instant, done: Upgraded) -> Result<(), UsageError>;

    /// Asks a server to end the session as soon as the reply in progress is
    /// finished (with the protocol's goodbye: SMTP `421`, POP3 `-ERR`, IMAP
    /// `* BYE`), or a client to end it politely (QUIT, LOGOUT) when it is
    /// next idle. Poll events and output afterwards.
    fn begin_shutdown(&mut self, now: Instant);

    /// True once the session has ended; nothing more comes but the output
    /// still queued.
    #[must_use]
    fn is_closed(&self) -> bool;

    /// The queued output as one vector, or `None` when there is none: a
    /// convenience over [`poll_transmit`](Self::poll_transmit) for tests and
    /// simple drivers.
    #[must_use = "the returned bytes must be written to the peer"]
    fn take_transmit(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        (self.poll_transmit(&mut out) > 0).then_some(out)
    }
}

/// Moves `pending` into `out` without copying when `out` is empty, and
/// returns how many bytes moved: the usual body of
/// [`Session::poll_transmit`].
pub fn move_output(pending: &mut Vec<u8>, out: &mut Vec<u8>) -> usize {
    let n = pending.len();
    if n == 0 {
        return 0;
    }
    if out.is_empty() {
        std::mem::swap(pending, out);
    } else {
        out.extend_from_slice(pending);
        pending.clear();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_output_swaps_into_an_empty_buffer_and_appends_otherwise() {
        let mut pending = b"abc".to_vec();
        let mut out = Vec::new();
        assert_eq!(move_output(&mut pending, &mut out), 3);
        assert_eq!(out, b"abc");
        assert!(pending.is_empty());
        pending.extend_from_slice(b"de");
        assert_eq!(move_output(&mut pending, &mut out), 2);
        assert_eq!(out, b"abcde");
        assert_eq!(move_output(&mut pending, &mut out), 0);
    }
}
