//! What a server session tells the application, and the session facts the
//! application may read (for Received headers, policy and logs).

use std::net::SocketAddr;

use bytes::Bytes;
use postel_sasl::{Identity, VerifyRequest};

use crate::address::{ForwardPath, ReversePath};
use crate::data::{BareLineEnding, DataViolation};
use crate::params::{MailParameters, RcptParameters};

/// An event from [`ServerSession::poll_event`](super::ServerSession::poll_event).
///
/// Events marked *decision* stop the session until the application answers
/// with [`accept`](super::ServerSession::accept) or
/// [`reject`](super::ServerSession::reject) (or the AUTH and LMTP variants):
/// nothing is acknowledged to the client before that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// *Decision*: the client said HELO, EHLO or LHLO.
    Hello {
        /// The name it gave.
        domain: String,
        /// EHLO or LHLO rather than HELO.
        extended: bool,
    },
    /// *Decision*: MAIL FROM. Accepting starts a transaction.
    MailFrom {
        /// The sender.
        from: ReversePath,
        /// Its parameters (already checked against what was advertised).
        params: MailParameters,
    },
    /// *Decision*: RCPT TO.
    RcptTo {
        /// The recipient.
        to: ForwardPath,
        /// Its parameters.
        params: RcptParameters,
    },
    /// The message body begins (after `354`, or at the first BDAT chunk).
    MessageStart,
    /// A piece of the message body, already unstuffed. Pieces come in order.
    MessageData(Bytes),
    /// *Decision*: the body is complete. Make the message durable, then
    /// accept (SMTP: one reply; LMTP: one per recipient).
    MessageEnd {
        /// Body octets.
        size: u64,
    },
    /// The body was refused; the session has already replied. Discard what
    /// was received.
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
    /// The transaction was dropped (RSET, a new EHLO, STARTTLS) before its
    /// message ended. Discard its state.
    TransactionReset,
    /// *Decision*: check these credentials, then call
    /// [`auth_verified`](super::ServerSession::auth_verified).
    AuthVerify(VerifyRequest),
    /// AUTH succeeded; `235` was sent.
    Authenticated(Identity),
    /// `220` for STARTTLS is in the output. Write all output, then start the
    /// TLS handshake on the connection and call
    /// [`tls_established`](super::ServerSession::tls_established). Input that
    /// came before the handshake has been discarded (plaintext injection).
    StartTls,
    /// *Decision*: ETRN (RFC 1985) for this node.
    Etrn {
        /// The node.
        node: String,
    },
    /// The client said QUIT; `221` is in the output and the session is closed.
    Quit,
    /// The client was silent too long; `421` is in the output and the
    /// session is closed.
    TimedOut,
}

impl ServerEvent {
    /// Whether the session waits for the application's decision on this event.
    pub fn needs_decision(&self) -> bool {
        matches!(
            self,
            ServerEvent::Hello { .. }
                | ServerEvent::MailFrom { .. }
                | ServerEvent::RcptTo { .. }
                | ServerEvent::MessageEnd { .. }
                | ServerEvent::AuthVerify(_)
                | ServerEvent::Etrn { .. }
        )
    }
}

/// Why a message body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    /// A bare CR or LF in DATA (SMTP smuggling defence).
    BareLineEnding(BareLineEnding),
    /// A text line over the limit.
    LineTooLong,
    /// Larger than the message size limit.
    TooLarge,
    /// The connection timed out during the body.
    TimedOut,
}

impl From<DataViolation> for AbortReason {
    fn from(v: DataViolation) -> Self {
        match v {
            DataViolation::Bare(b) => AbortReason::BareLineEnding(b),
            DataViolation::LineTooLong => AbortReason::LineTooLong,
            DataViolation::TooLarge => AbortReason::TooLarge,
        }
    }
}

/// Facts about the connection that the driver gives the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// Our address.
    pub local: Option<SocketAddr>,
}

/// The TLS parameters after STARTTLS (or for implicit TLS), for trace headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// E.g. "TLSv1.3".
    pub protocol: String,
    /// E.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher: String,
}

/// What the session knows about the client, for Received headers and policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// From the driver.
    pub connection: ConnectionInfo,
    /// The HELO/EHLO/LHLO name, once accepted.
    pub hello: Option<String>,
    /// EHLO/LHLO rather than HELO.
    pub extended: bool,
    /// TLS, once established.
    pub tls: Option<TlsInfo>,
    /// The authenticated identity, once AUTH succeeded.
    pub auth: Option<Identity>,
    /// Messages accepted in this session.
    pub messages: u64,
}

/// One accepted recipient of the current transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path.
    pub to: ForwardPath,
    /// Its parameters.
    pub params: RcptParameters,
}

/// The mail transaction in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The accepted sender.
    pub from: ReversePath,
    /// Its parameters.
    pub params: MailParameters,
    /// The accepted recipients, in order.
    pub recipients: Vec<Recipient>,
}
