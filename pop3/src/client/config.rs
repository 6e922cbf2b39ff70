//! Configuration of a client session.

use std::time::Duration;

use postel_sasl::{ClientCredentials, Mechanism};

/// When the client uses STLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Never.
    Disabled,
    /// When CAPA lists STLS; carry on in plaintext if it does not, or if the
    /// server refuses the command.
    #[default]
    Opportunistic,
    /// Always; fail the session if the server does not offer or refuses it.
    Required,
}

/// How to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// USER and PASS (the password goes in the clear: see
    /// [`ClientConfig::allow_plaintext_without_tls`]).
    UserPass {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// APOP with the shared secret (needs a timestamp in the greeting).
    Apop {
        /// The user name.
        user: String,
        /// The shared secret.
        secret: String,
    },
    /// AUTH with a SASL mechanism (RFC 5034).
    Sasl {
        /// The mechanism; `None` picks the strongest that CAPA's SASL line
        /// offers and that fits the secret (SCRAM-SHA-256, then PLAIN, then
        /// LOGIN; OAUTHBEARER, then XOAUTH2 for tokens).
        mechanism: Option<Mechanism>,
        /// Who and with what secret.
        credentials: ClientCredentials,
        /// The client nonce for SCRAM (printable, no comma): randomness
        /// comes from the caller. Without one, SCRAM is never picked.
        scram_nonce: Option<String>,
    },
}

/// How long the client waits for each response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// The greeting (5 minutes).
    pub greeting: Duration,
    /// Any other response, measured from the last byte received (10
    /// minutes, the server's own autologout time).
    pub command: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        Self {
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(600),
        }
    }
}

/// Bounds on what the server sends. Message bodies stream without a bound;
/// everything the session has to hold is bounded here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Longest status line or listing line, CRLF included (RFC 2449 §4:
    /// 512).
    pub max_line: usize,
    /// Most lines in a CAPA, LIST or UIDL response (1,000,000).
    pub max_listing_lines: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_line: 512,
            max_listing_lines: 1_000_000,
        }
    }
}

/// Everything a client session needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// STLS policy.
    pub tls: TlsPolicy,
    /// How to log in; `None` stays in the AUTHORIZATION state (to read CAPA,
    /// or QUIT).
    pub auth: Option<ClientAuth>,
    /// Send a password in the clear (USER/PASS, PLAIN, LOGIN, bearer
    /// tokens) without TLS (default false).
    pub allow_plaintext_without_tls: bool,
    /// Send commands without waiting for responses when the server offers
    /// PIPELINING (default true).
    pub use_pipelining: bool,
    /// Timeouts.
    pub timeouts: ClientTimeouts,
    /// Bounds on server responses.
    pub limits: ResponseLimits,
}

impl ClientConfig {
    /// A client that logs in with `auth`, with opportunistic STLS.
    pub fn new(auth: Option<ClientAuth>) -> Self {
        Self {
            tls: TlsPolicy::Opportunistic,
            auth,
            allow_plaintext_without_tls: false,
            use_pipelining: true,
            timeouts: ClientTimeouts::default(),
            limits: ResponseLimits::default(),
        }
    }
}
