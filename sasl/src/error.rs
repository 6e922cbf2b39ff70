//! Error types, split by whose fault the error is.
//!
//! * [`WireError`]: the base64 framing of a line could not be decoded.
//! * [`AuthError`]: a server-side exchange failed, mostly because of what the
//!   client sent; [`AuthError::CallerMisuse`] and
//!   [`AuthError::ScramIterationsTooLow`] are the calling server's own fault.
//! * [`ClientError`]: a client-side exchange failed, either because of what
//!   the server sent or because the caller passed unusable credentials.
//! * [`UnknownMechanism`]: a mechanism name this crate does not implement.

use crate::mechanism::Mechanism;

/// A line of the base64 framing that SMTP, IMAP and POP3 share could not be
/// decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A byte outside the standard base64 alphabet (or a misplaced `=`).
    #[error("invalid base64: byte 0x{byte:02x} at offset {offset} is not in the alphabet")]
    InvalidByte {
        /// Offset of the byte, counted after trimming surrounding whitespace.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The number of base64 symbols cannot encode a whole number of bytes.
    #[error("invalid base64: {symbols} symbols cannot encode whole bytes")]
    InvalidLength {
        /// Number of symbols seen.
        symbols: usize,
    },
    /// The last symbol carries non-zero bits that decoding would discard,
    /// so the text is not the canonical encoding of any byte string.
    #[error("invalid base64: last symbol 0x{byte:02x} at offset {offset} has stray low bits")]
    NonCanonical {
        /// Offset of the last symbol.
        offset: usize,
        /// The symbol.
        byte: u8,
    },
    /// Padding is missing or wrong: standard base64 pads to a multiple of
    /// four symbols with `=`.
    #[error("invalid base64: padding is missing or incorrect")]
    InvalidPadding,
}

impl From<base64::DecodeError> for WireError {
    fn from(err: base64::DecodeError) -> Self {
        match err {
            base64::DecodeError::InvalidByte(offset, byte) => {
                WireError::InvalidByte { offset, byte }
            }
            base64::DecodeError::InvalidLength(symbols) => WireError::InvalidLength { symbols },
            base64::DecodeError::InvalidLastSymbol(offset, byte) => {
                WireError::NonCanonical { offset, byte }
            }
            base64::DecodeError::InvalidPadding => WireError::InvalidPadding,
        }
    }
}

/// Why a server-side exchange failed.
///
/// Every variant but [`AuthError::CallerMisuse`] and
/// [`AuthError::ScramIterationsTooLow`] is caused by the client; those two
/// are bugs or misconfiguration in the calling server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The client's message does not follow the mechanism's syntax.
    #[error("malformed {mechanism} message from client: {what}")]
    Malformed {
        /// The mechanism being run.
        mechanism: Mechanism,
        /// What was wrong, and in which part of the message.
        what: &'static str,
    },
    /// The client cancelled the exchange (a `*` line, RFC 4954 §4).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The caller refused the credentials.
    #[error("credentials rejected")]
    Rejected,
    /// A client message exceeds [`ServerOptions::max_response_len`](crate::ServerOptions::max_response_len).
    #[error("client response of {len} bytes exceeds the limit of {max} bytes")]
    ResponseTooLong {
        /// Length of the response (decoded, or of the base64 line when it
        /// was refused before decoding).
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A line of the exchange was not valid base64.
    #[error("client line is not valid base64: {0}")]
    BadEncoding(#[from] WireError),
    /// The client asked for channel binding (`p=` GS2 flag), which this
    /// crate does not implement.
    #[error("client requested channel binding (gs2 flag \"p=\"), which is not supported")]
    ChannelBindingUnsupported,
    /// The SCRAM client proof does not match the stored key: wrong password.
    #[error("SCRAM client proof does not match the stored credentials")]
    InvalidProof,
    /// The caller's SCRAM credentials use fewer PBKDF2 iterations than
    /// [`ServerOptions::scram_min_iterations`](crate::ServerOptions::scram_min_iterations).
    #[error(
        "stored SCRAM credentials use {iterations} iterations, below the configured minimum {min}"
    )]
    ScramIterationsTooLow {
        /// Iterations in the caller's credentials.
        iterations: u32,
        /// The configured minimum.
        min: u32,
    },
    /// The calling code used the exchange out of order or answered a
    /// verification request with the wrong kind of answer.
    #[error("server exchange misused by the caller: {0}")]
    CallerMisuse(&'static str),
}

/// Why a client-side exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server's challenge does not follow the mechanism's syntax.
    #[error("malformed {mechanism} challenge from server: {what}")]
    MalformedChallenge {
        /// The mechanism being run.
        mechanism: Mechanism,
        /// What was wrong, and in which part of the challenge.
        what: &'static str,
    },
    /// The server sent a challenge where the mechanism has none.
    #[error("unexpected {mechanism} challenge from server: {what}")]
    UnexpectedChallenge {
        /// The mechanism being run.
        mechanism: Mechanism,
        /// At which point of the exchange it arrived.
        what: &'static str,
    },
    /// A server challenge exceeds the client's limit.
    #[error("server challenge of {len} bytes exceeds the limit of {max} bytes")]
    ChallengeTooLong {
        /// Length of the challenge.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The SCRAM server nonce does not extend the client's nonce.
    #[error(
        "SCRAM server-first nonce does not start with the client nonce (or adds nothing to it)"
    )]
    NonceMismatch,
    /// The SCRAM iteration count from the server is below the client's minimum.
    #[error("SCRAM iteration count {iterations} from server is below the minimum {min}")]
    IterationsTooLow {
        /// Iterations the server asked for.
        iterations: u32,
        /// The client's minimum.
        min: u32,
    },
    /// The SCRAM iteration count from the server is above the client's
    /// maximum (a guard against a server making the client burn CPU).
    #[error("SCRAM iteration count {iterations} from server is above the maximum {max}")]
    IterationsTooHigh {
        /// Iterations the server asked for.
        iterations: u32,
        /// The client's maximum.
        max: u32,
    },
    /// The SCRAM server signature (`v=`) is wrong: the server does not know
    /// the credentials.
    #[error(
        "SCRAM server signature does not match: the server did not prove knowledge of the password"
    )]
    ServerSignatureMismatch,
    /// The server reported SCRAM success without ever sending its signature.
    #[error("SCRAM server reported success without sending its signature (v=)")]
    ServerSignatureMissing,
    /// The SCRAM server reported an error (`e=`) in its final message.
    #[error("SCRAM server reported error: {0}")]
    ServerReportedError(String),
    /// The server reported success where the exchange cannot have succeeded.
    #[error("server reported success unexpectedly: {0}")]
    UnexpectedSuccess(&'static str),
    /// The credentials carry the wrong kind of secret for the mechanism.
    #[error("{mechanism} needs {expected}")]
    SecretMismatch {
        /// The mechanism asked for.
        mechanism: Mechanism,
        /// The kind of secret it needs.
        expected: &'static str,
    },
    /// SCRAM needs a client nonce and none was given.
    #[error("SCRAM needs a client nonce and none was given")]
    MissingNonce,
    /// The client nonce is empty or has characters outside printable ASCII
    /// or a `,`.
    #[error("SCRAM client nonce must be non-empty printable ASCII without ','")]
    InvalidNonce,
    /// The credentials cannot be expressed in the mechanism's syntax.
    #[error("credentials unusable: {0}")]
    InvalidCredentials(&'static str),
    /// The calling code used the exchange out of order.
    #[error("client exchange misused by the caller: {0}")]
    CallerMisuse(&'static str),
}

/// A mechanism name that this crate does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown or unsupported SASL mechanism {name:?}")]
pub struct UnknownMechanism {
    /// The name that was asked for (at most 64 characters of it).
    pub name: String,
}
