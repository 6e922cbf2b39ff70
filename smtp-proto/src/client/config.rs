//! Configuration of a client session.

use std::time::Duration;

use postel_sasl::{ClientCredentials, Mechanism};

use crate::reply::ReplyLimits;
use crate::server::Protocol;

/// When the client uses STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Never.
    Disabled,
    /// When the server offers it; carry on in plaintext if it does not, or
    /// if it refuses the command.
    #[default]
    Opportunistic,
    /// Always; fail the session if the server does not offer it.
    Required,
}

/// Credentials for AUTH.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    /// The mechanism; `None` picks the strongest the server offers that fits
    /// the secret (SCRAM-SHA-256, then PLAIN, then LOGIN; OAUTHBEARER, then
    /// XOAUTH2 for tokens).
    pub mechanism: Option<Mechanism>,
    /// Who and with what secret.
    pub credentials: ClientCredentials,
    /// The client nonce for SCRAM (printable, no comma): randomness comes
    /// from the caller. Without one, SCRAM is never picked.
    pub scram_nonce: Option<String>,
    /// Allow mechanisms that send the secret in the clear without TLS
    /// (default false).
    pub allow_plaintext_without_tls: bool,
}

/// Client timeouts (RFC 5321 §4.5.3.2), for waiting on each reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// The 220 greeting (5 minutes).
    pub greeting: Duration,
    /// EHLO, STARTTLS, AUTH, RSET, QUIT and similar (5 minutes).
    pub command: Duration,
    /// MAIL (5 minutes).
    pub mail: Duration,
    /// RCPT (5 minutes).
    pub rcpt: Duration,
    /// The 354 after DATA (2 minutes).
    pub data_initiation: Duration,
    /// A reply to a BDAT chunk (3 minutes, the data block timeout).
    pub data_block: Duration,
    /// The reply after the end of data (10 minutes).
    pub data_termination: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        let m = |n: u64| Duration::from_secs(60 * n);
        Self {
            greeting: m(5),
            command: m(5),
            mail: m(5),
            rcpt: m(5),
            data_initiation: m(2),
            data_block: m(3),
            data_termination: m(10),
        }
    }
}

/// Everything a client session needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The name sent with EHLO/HELO/LHLO.
    pub hello_name: String,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// STARTTLS policy.
    pub tls: TlsPolicy,
    /// AUTH, if wanted.
    pub auth: Option<ClientAuth>,
    /// Use BDAT when the server offers CHUNKING (default true).
    pub use_chunking: bool,
    /// Send commands in batches when the server offers PIPELINING (default true).
    pub use_pipelining: bool,
    /// Timeouts.
    pub timeouts: ClientTimeouts,
    /// Bounds on server replies.
    pub reply_limits: ReplyLimits,
}

impl ClientConfig {
    /// An SMTP client that says `EHLO hello_name`, with opportunistic TLS.
    pub fn new(hello_name: impl Into<String>) -> Self {
        Self {
            hello_name: hello_name.into(),
            protocol: Protocol::Smtp,
            tls: TlsPolicy::Opportunistic,
            auth: None,
            use_chunking: true,
            use_pipelining: true,
            timeouts: ClientTimeouts::default(),
            reply_limits: ReplyLimits::default(),
        }
    }

    /// An LMTP client (no STARTTLS by default: LMTP runs on trusted links).
    pub fn lmtp(hello_name: impl Into<String>) -> Self {
        Self {
            protocol: Protocol::Lmtp,
            tls: TlsPolicy::Disabled,
            ..Self::new(hello_name)
        }
    }
}
