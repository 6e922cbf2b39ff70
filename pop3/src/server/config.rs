//! Configuration of a server session: identity, extensions, limits and
//! timeouts.

use std::time::Duration;

use crate::capability::Extensions;

/// Size and count limits. Each is enforced with bounded buffering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included (RFC 2449 §4: 255). This covers
    /// AUTH with an initial response too (RFC 5034 §4). Overrun: `-ERR Line
    /// too long` once the line has ended.
    pub command_line: usize,
    /// Longest line of a SASL exchange after the AUTH command, CRLF
    /// included (12288, as RFC 4954 asks of SMTP). Overrun: the exchange
    /// fails.
    pub sasl_line: usize,
    /// Refused commands and failed logins after which the session closes.
    pub max_errors: usize,
    /// Most input bytes buffered while the session waits for a decision;
    /// beyond it the session closes. Drivers that honour `wants_input()`
    /// never reach it.
    pub max_buffered_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            command_line: 255,
            sasl_line: 12288,
            max_errors: 10,
            max_buffered_input: 64 * 1024,
        }
    }
}

/// Inactivity timeouts, from the last input the caller passed in. RFC 1939
/// §3 asks for at least 10 minutes. When one expires the session closes
/// without a response and without removing any message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// In the AUTHORIZATION state, SASL exchanges included (600 s).
    pub authorization: Duration,
    /// In the TRANSACTION state (600 s).
    pub transaction: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            authorization: Duration::from_secs(600),
            transaction: Duration::from_secs(600),
        }
    }
}

/// Everything a server session needs to know, shared by all sessions of a
/// listener (wrap it in an `Arc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The server's host name, used in the sign-off response.
    pub hostname: String,
    /// Text of the `+OK` greeting (the APOP timestamp, if any, follows it).
    pub greeting: String,
    /// What CAPA offers.
    pub extensions: Extensions,
    /// Allow USER/PASS and SASL mechanisms that send the password in the
    /// clear on a connection without TLS (default false; RFC 2595 §4 and
    /// RFC 5034 §6 ask servers not to). Refusals carry `[AUTH]`.
    pub allow_plaintext_login: bool,
    /// Limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
}

impl ServerConfig {
    /// A server named `hostname` with [`Extensions::default`] (no STLS) and
    /// RFC defaults elsewhere.
    pub fn new(hostname: impl Into<String>) -> Self {
        let hostname = hostname.into();
        Self {
            greeting: format!("{hostname} POP3 server ready"),
            hostname,
            extensions: Extensions::default(),
            allow_plaintext_login: false,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}
