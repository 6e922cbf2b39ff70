//! The client's errors, split by whose fault they are: the server's
//! ([`ProtocolError`]) or the caller's ([`UsageError`]).

use bytes::Bytes;

use super::reader::ResponseError;
use crate::tag::Tag;

/// The server broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A response that breaks a limit or does not parse; the session has
    /// skipped it.
    #[error("bad response from server ({error}): {}", excerpt(raw))]
    Malformed {
        /// Why it was refused.
        error: ResponseError,
        /// Its raw bytes (see [`InvalidResponse`](super::InvalidResponse)).
        raw: Bytes,
    },
    /// The first response is not `* OK`, `* PREAUTH` or `* BYE`.
    #[error("bad greeting from server: {0}")]
    BadGreeting(String),
    /// A tagged response whose tag matches no command in progress.
    #[error("tagged response for unknown command {0}")]
    UnknownTag(Tag),
    /// A continuation request (`+`) when no command waits for one.
    #[error("unexpected continuation request from server")]
    UnexpectedContinuation,
    /// A SASL challenge that is not valid base64.
    #[error("SASL challenge is not valid base64")]
    BadChallenge,
    /// The SASL exchange failed: a malformed challenge, or (fatal) a server
    /// that reported success without proving it knows the credentials
    /// (SCRAM), or that reported success after the client cancelled.
    #[error("authentication exchange failed: {0}")]
    Sasl(#[from] postel_sasl::ClientError),
    /// The server accepted an AUTHENTICATE that the client had cancelled.
    #[error("server reported success for a cancelled authentication")]
    SuccessAfterCancel,
}

/// The caller used the session in a way it does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The session is over (LOGOUT completed, BYE received, or a fatal
    /// protocol error).
    #[error("the session is closed")]
    Closed,
    /// LOGOUT has been given: no command may follow it.
    #[error("LOGOUT was given; no command may follow it")]
    LogoutPending,
    /// The server advertises LOGINDISABLED.
    #[error("the server advertises LOGINDISABLED: use authenticate() (after STARTTLS)")]
    LoginDisabled,
    /// The connection is not TLS and the configuration forbids sending a
    /// password (or bearer token) in the clear.
    #[error(
        "refusing to send a password in the clear: the connection is not TLS \
         (set ClientConfig::allow_plaintext_auth to override)"
    )]
    PlaintextAuth,
    /// A command that needs its dedicated method.
    #[error("{0} must be given with its dedicated method")]
    UseDedicatedMethod(&'static str),
    /// A command this session cannot run (COMPRESS).
    #[error("{0} is not supported by this session")]
    Unsupported(&'static str),
    /// The server's capabilities lack what the command needs.
    #[error("the server does not advertise {0}")]
    MissingCapability(&'static str),
    /// `idle_done` without an IDLE in progress.
    #[error("no IDLE in progress")]
    NotIdling,
    /// `tls_established` without a STARTTLS that succeeded.
    #[error("no STARTTLS handshake is pending")]
    NoTlsPending,
    /// STARTTLS on a connection that is TLS already.
    #[error("the connection is TLS already")]
    AlreadyTls,
    /// The SASL exchange could not be set up (e.g. a bearer token for a
    /// password mechanism, or SCRAM without a nonce).
    #[error("cannot authenticate: {0}")]
    Sasl(#[from] postel_sasl::ClientError),
}

/// Either kind of error, for callers that want one type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server's fault.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The caller's.
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// At most 120 characters of `raw`, lossy, for messages.
pub(crate) fn excerpt(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(120)]);
    let text = text.trim_end_matches(['\r', '\n']);
    if raw.len() > 120 {
        format!("{text:?}...")
    } else {
        format!("{text:?}")
    }
}
