//! What a server session tells the application, and the session facts the
//! application may read.

use std::net::SocketAddr;

use postel_sasl::{Mechanism, VerifyRequest};

use crate::command::Password;

/// An event from [`ServerSession::poll_event`](super::ServerSession::poll_event).
///
/// Events marked *decision* stop the session until the application answers
/// with the method named; nothing more is read or answered before that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// *Decision*: USER and PASS. Check the password, then call
    /// [`login_verified`](super::ServerSession::login_verified).
    Login {
        /// The name from USER.
        user: String,
        /// The password from PASS.
        password: Password,
    },
    /// *Decision*: APOP. Look up the user's shared secret, check the digest
    /// with [`verify_apop`](crate::apop::verify_apop), then call
    /// [`login_verified`](super::ServerSession::login_verified).
    Apop {
        /// The name.
        user: String,
        /// The greeting's timestamp, brackets included.
        timestamp: String,
        /// The client's digest, 32 lower-case hex digits.
        digest: String,
    },
    /// *Decision*: a SASL exchange needs a credential check; answer with
    /// [`auth_verified`](super::ServerSession::auth_verified).
    AuthVerify(VerifyRequest),
    /// *Decision*: the user proved who they are; lock and open their
    /// maildrop, then call
    /// [`maildrop_opened`](super::ServerSession::maildrop_opened) with its
    /// listing or [`maildrop_refused`](super::ServerSession::maildrop_refused).
    /// [`MaildropAgent`](crate::maildrop::MaildropAgent) does this from a
    /// [`MaildropStore`](crate::maildrop::MaildropStore).
    OpenMaildrop {
        /// The user (for SASL, the identity acted as).
        user: String,
        /// How they logged in.
        method: LoginMethod,
    },
    /// *Decision*: RETR or TOP. Stream the message's content with
    /// [`message_data`](super::ServerSession::message_data) (write the
    /// session's output between chunks), then
    /// [`message_end`](super::ServerSession::message_end); or
    /// [`message_failed`](super::ServerSession::message_failed).
    Retrieve {
        /// The message number (1-based).
        number: u32,
        /// For TOP: the body lines wanted after the header. The session cuts
        /// the message there itself; `message_data` returns
        /// [`Flow::Done`](crate::multiline::Flow::Done) once it has enough.
        top_lines: Option<u64>,
    },
    /// *Decision*: QUIT in the TRANSACTION state (the UPDATE state). Remove
    /// these messages (1-based numbers, ascending; possibly none), release
    /// the lock, then call
    /// [`commit_finished`](super::ServerSession::commit_finished).
    Commit {
        /// The messages marked deleted.
        deleted: Vec<u32>,
    },
    /// `+OK` for STLS is in the output. Write all output, run the TLS
    /// handshake, then call
    /// [`tls_established`](super::ServerSession::tls_established). Input that
    /// came before the handshake has been discarded (plaintext injection).
    StartTls,
    /// The client said QUIT; the response is in the output and the session
    /// is closed.
    Quit,
    /// The client was silent too long; the session closed without a response
    /// and without removing any message.
    TimedOut,
}

impl ServerEvent {
    /// Whether the session waits for the application's decision on this event.
    pub fn needs_decision(&self) -> bool {
        matches!(
            self,
            ServerEvent::Login { .. }
                | ServerEvent::Apop { .. }
                | ServerEvent::AuthVerify(_)
                | ServerEvent::OpenMaildrop { .. }
                | ServerEvent::Retrieve { .. }
                | ServerEvent::Commit { .. }
        )
    }
}

/// How a user logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// USER and PASS.
    UserPass,
    /// APOP.
    Apop,
    /// AUTH with this SASL mechanism.
    Sasl(Mechanism),
}

/// The protocol state (RFC 1939 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Before a successful login.
    Authorization,
    /// Logged in, maildrop locked.
    Transaction,
    /// QUIT from TRANSACTION: deletions are being committed.
    Update,
    /// Over.
    Closed,
}

/// Facts about the connection that the driver gives the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// Our address.
    pub local: Option<SocketAddr>,
}

/// The TLS parameters after STLS (or for implicit TLS, port 995).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// E.g. "TLSv1.3".
    pub protocol: String,
    /// E.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher: String,
}

/// What the session knows about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// From the driver.
    pub connection: ConnectionInfo,
    /// TLS, once established.
    pub tls: Option<TlsInfo>,
    /// The logged-in user, once the maildrop is open.
    pub user: Option<String>,
    /// How they logged in.
    pub method: Option<LoginMethod>,
    /// The client sent UTF8 (RFC 6856 §2).
    pub utf8: bool,
    /// The language of responses (LANG, RFC 6856 §3).
    pub language: &'static str,
}

impl Default for SessionInfo {
    fn default() -> Self {
        Self {
            connection: ConnectionInfo::default(),
            tls: None,
            user: None,
            method: None,
            utf8: false,
            language: crate::lang::DEFAULT_LANGUAGE,
        }
    }
}
