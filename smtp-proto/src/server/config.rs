//! Configuration of a server session: identity, extensions, limits, timeouts
//! and strictness.

use std::time::Duration;

use crate::data::BareLineEndings;
use crate::extensions::Extensions;

/// SMTP (RFC 5321) or LMTP (RFC 2033).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// SMTP: HELO/EHLO, one reply after the message.
    #[default]
    Smtp,
    /// LMTP: LHLO, one reply per accepted recipient after the message.
    Lmtp,
}

/// Size and count limits (RFC 5321 §4.5.3.1). Every one is enforced with
/// bounded buffering and answered with the RFC's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included (512). MAIL and RCPT get 500
    /// more each when DSN or AUTH is offered, as RFC 3461 §5 and RFC 4954 §5
    /// ask. Overrun: `500 5.5.2`.
    pub command_line: usize,
    /// Longest AUTH command or SASL response line (RFC 4954 §4: 12288).
    pub auth_line: usize,
    /// Longest DATA text line, CRLF included (1000); `None` accepts any
    /// length. Overrun: `500 5.5.2` after the end of data.
    pub text_line: Option<usize>,
    /// Most recipients per message (at least 100 per the RFC). Overrun:
    /// `452 4.5.3`.
    pub max_recipients: usize,
    /// Largest message in octets, advertised with SIZE. Overrun: `552 5.3.4`.
    pub max_message_size: u64,
    /// Failed commands after which the session closes with `421 4.7.0`.
    pub max_errors: usize,
    /// Most input bytes buffered while the session waits for a decision
    /// from the application; beyond it the session closes with `421 4.7.0`.
    /// Drivers that honour `wants_input()` never reach it.
    pub max_buffered_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            command_line: 512,
            auth_line: 12288,
            text_line: Some(1000),
            max_recipients: 100,
            max_message_size: 35 * 1024 * 1024,
            max_errors: 20,
            max_buffered_input: 1024 * 1024,
        }
    }
}

/// Server timeouts (RFC 5321 §4.5.3.2.7 asks for at least 5 minutes),
/// measured from the last input the caller passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for the next command (300 s).
    pub command: Duration,
    /// Waiting for more message data during DATA or BDAT (600 s, matching
    /// the client's 10 minute data termination timeout).
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(300),
            data: Duration::from_secs(600),
        }
    }
}

/// How strict the session is with clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strictness {
    /// Accept `MAIL FROM: <a@b>` and `MAIL FROM:a@b` (default true, as
    /// Postfix does). When false they get `501 5.5.4`.
    pub lenient_paths: bool,
    /// Accept command lines ended by a bare LF (default true). Message data
    /// is governed by `bare_line_endings`, never by this.
    pub bare_lf_in_commands: bool,
    /// What to do with bare CR and bare LF in DATA (default: reject).
    pub bare_line_endings: BareLineEndings,
    /// Refuse AUTH with mechanisms that send secrets in the clear unless the
    /// connection is TLS (default true): `538 5.7.11`.
    pub require_tls_for_plaintext_auth: bool,
    /// Accept recipients with sender-specified routing (`a%b@c`, `b!a@c`,
    /// `"a@b"@c`), which open-relay tricks use (default false: `553 5.7.1`).
    pub allow_routing_in_recipients: bool,
    /// Require HELO/EHLO before MAIL (default true, RFC 5321 §4.1.4).
    pub require_hello: bool,
}

impl Default for Strictness {
    fn default() -> Self {
        Self {
            lenient_paths: true,
            bare_lf_in_commands: true,
            bare_line_endings: BareLineEndings::Reject,
            require_tls_for_plaintext_auth: true,
            allow_routing_in_recipients: false,
            require_hello: true,
        }
    }
}

/// Everything a server session needs to know, shared by all sessions of a
/// listener (wrap it in an `Arc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The server's host name, used in the greeting and replies.
    pub hostname: String,
    /// Text after the host name in the 220 greeting.
    pub greeting: String,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// What EHLO/LHLO offers.
    pub extensions: Extensions,
    /// Size and count limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Strictness.
    pub strictness: Strictness,
}

impl ServerConfig {
    /// An SMTP server named `hostname` with [`Extensions::recommended`] and
    /// RFC defaults elsewhere.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            greeting: "ESMTP Postel".to_owned(),
            protocol: Protocol::Smtp,
            extensions: Extensions::recommended(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            strictness: Strictness::default(),
        }
    }

    /// An LMTP server named `hostname`.
    pub fn lmtp(hostname: impl Into<String>) -> Self {
        Self {
            greeting: "LMTP Postel".to_owned(),
            protocol: Protocol::Lmtp,
            ..Self::new(hostname)
        }
    }
}
