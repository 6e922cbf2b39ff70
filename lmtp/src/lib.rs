//! # postel-lmtp
//!
//! LMTP (RFC 2033) on postel-smtp's session machines: the same parser, DATA
//! decoder, limits and smuggling defences, with the two differences LMTP
//! makes: `LHLO` instead of `HELO`/`EHLO`, and after the message one reply
//! per accepted recipient, so a final delivery agent can refuse one mailbox
//! (over quota, say) while delivering to the others.
//!
//! ```
//! use std::time::Instant;
//! use postel_lmtp::{LmtpServer, RecipientReply};
//! use postel_smtp::server::{ConnectionInfo, ServerEvent};
//!
//! let now = Instant::now();
//! let mut server = LmtpServer::new("mail.example.com", ConnectionInfo::default(), now);
//! server.enqueue_input(now, b"LHLO test.net\r\nMAIL FROM:<a@test.net>\r\n\
//!     RCPT TO:<a@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\nHi\r\n.\r\n");
//! while let Some(event) = server.poll_event() {
//!     match event {
//!         ServerEvent::MessageEnd { .. } => {
//!             // Deliver to each mailbox, then answer for each recipient.
//!             let replies = server
//!                 .recipients()
//!                 .iter()
//!                 .map(|r| match r.to.to_string().as_str() {
//!                     "<c@example.com>" => RecipientReply::mailbox_unavailable(&r.to),
//!                     _ => RecipientReply::delivered(&r.to),
//!                 })
//!                 .collect();
//!             server.respond_per_recipient(replies).unwrap();
//!         }
//!         e if e.needs_decision() => server.accept().unwrap(),
//!         _ => {}
//!     }
//! }
//! let out = String::from_utf8(server.poll_transmit().unwrap()).unwrap();
//! assert!(out.ends_with("250 2.1.5 <a@example.com> delivered\r\n550 5.1.1 <c@example.com> mailbox unavailable\r\n"));
//! ```

use std::sync::Arc;
use std::time::Instant;

use postel_smtp::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
use postel_smtp::server::{
    ConnectionInfo, Protocol, Recipient, ServerConfig, ServerEvent, ServerSession, SessionInfo,
};
use postel_smtp::{ForwardPath, Reply, UsageError};

pub use postel_smtp::client::{DeliveryStatus, MessageOutcome, RecipientOutcome};

/// Builders for the per-recipient replies an LMTP server sends.
pub struct RecipientReply;

impl RecipientReply {
    /// `250 2.1.5 <to> delivered`.
    pub fn delivered(to: &ForwardPath) -> Reply {
        Reply::with_status(250, (2, 1, 5), format!("{to} delivered"))
    }

    /// `550 5.1.1 <to> mailbox unavailable`.
    pub fn mailbox_unavailable(to: &ForwardPath) -> Reply {
        Reply::with_status(550, (5, 1, 1), format!("{to} mailbox unavailable"))
    }

    /// `552 5.2.2 <to> mailbox full` (over quota).
    pub fn mailbox_full(to: &ForwardPath) -> Reply {
        Reply::with_status(552, (5, 2, 2), format!("{to} mailbox full"))
    }

    /// `451 4.3.0 <to> temporary failure, try again later`.
    pub fn temporary_failure(to: &ForwardPath) -> Reply {
        Reply::with_status(
            451,
            (4, 3, 0),
            format!("{to} temporary failure, try again later"),
        )
    }
}

/// An LMTP server session: a [`ServerSession`] in LMTP mode with the
/// per-recipient answer at the end of each message.
#[derive(Debug)]
pub struct LmtpServer {
    inner: ServerSession,
}

impl LmtpServer {
    /// A session for a server named `hostname` with RFC defaults.
    pub fn new(hostname: &str, connection: ConnectionInfo, now: Instant) -> Self {
        Self {
            inner: ServerSession::new(Arc::new(ServerConfig::lmtp(hostname)), connection, now),
        }
    }

    /// A session with a given configuration, whose protocol must be LMTP.
    pub fn with_config(
        config: Arc<ServerConfig>,
        connection: ConnectionInfo,
        now: Instant,
    ) -> Result<Self, UsageError> {
        if config.protocol != Protocol::Lmtp {
            return Err(UsageError::InvalidArgument(
                "LmtpServer needs a configuration with Protocol::Lmtp",
            ));
        }
        Ok(Self {
            inner: ServerSession::new(config, connection, now),
        })
    }

    /// The accepted recipients of the message in progress, in RCPT order:
    /// the order [`respond_per_recipient`](Self::respond_per_recipient) expects.
    pub fn recipients(&self) -> &[Recipient] {
        self.inner
            .transaction()
            .map_or(&[], |t| t.recipients.as_slice())
    }

    /// Answers the end of a message with one reply per accepted recipient.
    pub fn respond_per_recipient(&mut self, replies: Vec<Reply>) -> Result<(), UsageError> {
        self.inner.respond_per_recipient(replies)
    }

    /// See [`ServerSession::enqueue_input`].
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        self.inner.enqueue_input(now, input);
    }

    /// See [`ServerSession::poll_event`].
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.inner.poll_event()
    }

    /// See [`ServerSession::poll_transmit`].
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.inner.poll_transmit()
    }

    /// See [`ServerSession::accept`]; at the end of a message it delivers
    /// to every recipient with `250`.
    pub fn accept(&mut self) -> Result<(), UsageError> {
        self.inner.accept()
    }

    /// See [`ServerSession::reject`]; at the end of a message the same reply
    /// goes to every recipient.
    pub fn reject(&mut self, reply: Reply) -> Result<(), UsageError> {
        self.inner.reject(reply)
    }

    /// What is known about the client.
    pub fn info(&self) -> &SessionInfo {
        self.inner.info()
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The underlying session, for everything else (timeouts, AUTH ...).
    pub fn session(&mut self) -> &mut ServerSession {
        &mut self.inner
    }

    /// Unwraps the underlying session (to hand it to a driver such as
    /// `postel_smtp::tokio_io::serve_connection`).
    pub fn into_session(self) -> ServerSession {
        self.inner
    }
}

/// An LMTP client session: a [`ClientSession`] in LMTP mode, whose
/// [`MessageOutcome`] carries the server's own reply for each recipient.
#[derive(Debug)]
pub struct LmtpClient {
    inner: ClientSession,
}

impl LmtpClient {
    /// A client that says `LHLO hello_name`.
    pub fn new(hello_name: &str, now: Instant) -> Self {
        Self {
            inner: ClientSession::new(ClientConfig::lmtp(hello_name), now),
        }
    }

    /// A client with a given configuration (its protocol is forced to LMTP).
    pub fn with_config(mut config: ClientConfig, now: Instant) -> Self {
        config.protocol = Protocol::Lmtp;
        Self {
            inner: ClientSession::new(config, now),
        }
    }

    /// See [`ClientSession::enqueue_input`].
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        self.inner.enqueue_input(now, input);
    }

    /// See [`ClientSession::poll_event`].
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.inner.poll_event()
    }

    /// See [`ClientSession::poll_transmit`].
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.inner.poll_transmit()
    }

    /// See [`ClientSession::send`].
    pub fn send(&mut self, now: Instant, envelope: Envelope) -> Result<(), UsageError> {
        self.inner.send(now, envelope)
    }

    /// See [`ClientSession::body_chunk`].
    pub fn body_chunk(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.inner.body_chunk(data)
    }

    /// See [`ClientSession::body_end`].
    pub fn body_end(&mut self, now: Instant) -> Result<(), UsageError> {
        self.inner.body_end(now)
    }

    /// See [`ClientSession::quit`].
    pub fn quit(&mut self, now: Instant) -> Result<(), UsageError> {
        self.inner.quit(now)
    }

    /// The underlying session.
    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.inner
    }

    /// Unwraps the underlying session.
    pub fn into_session(self) -> ClientSession {
        self.inner
    }
}
