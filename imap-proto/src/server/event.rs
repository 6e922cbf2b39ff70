//! What a server session tells the application.

use postel_sasl::VerifyRequest;

use crate::command::Secret;

/// An event from [`ServerSession::poll_event`](super::ServerSession::poll_event).
///
/// Events marked *decision* stop the session until the application answers
/// with the method named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// *Decision*: LOGIN. Check the password, then call
    /// [`login_verified`](super::ServerSession::login_verified). Delay a
    /// refusal by a few seconds to slow password guessing.
    Login {
        /// The user name as sent.
        username: String,
        /// The password.
        password: Secret,
    },
    /// *Decision*: an AUTHENTICATE exchange needs a credential check; call
    /// [`auth_verified`](super::ServerSession::auth_verified). When the
    /// request names an authzid, accept only if the user may act as it.
    AuthVerify(VerifyRequest),
    /// A user logged in; the session now acts for this user in every call
    /// to the store.
    LoggedIn {
        /// The user.
        user: String,
    },
    /// The tagged OK to STARTTLS is in the output. Write all output, run
    /// the TLS handshake, then call
    /// [`tls_established`](super::ServerSession::tls_established). Input
    /// received before the handshake has been discarded.
    StartTls,
    /// The tagged OK to `COMPRESS DEFLATE` is in the output. Write all
    /// output, then compress everything written and decompress everything
    /// read from now on (RFC 4978).
    Compress,
    /// The session is over (LOGOUT, a BYE for too many errors, a timeout);
    /// write the remaining output and close the connection.
    Closed,
}

impl ServerEvent {
    /// Whether the session waits for the application's answer.
    pub fn needs_decision(&self) -> bool {
        matches!(self, Self::Login { .. } | Self::AuthVerify(_))
    }
}

/// The protocol state (RFC 9051 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// After LOGOUT or BYE.
    Logout,
}
