//! What a server session offers and the limits it enforces.

use std::time::Duration;

use postel_sasl::Mechanism;

use crate::reader::ReaderLimits;

/// Optional extensions. Each one that is on appears in CAPABILITY; the
/// rest of the protocol (IMAP4rev2 and IMAP4rev1, UIDPLUS, MOVE, UNSELECT,
/// NAMESPACE, ID, ENABLE, SASL-IR, LIST-EXTENDED, LIST-STATUS, ESEARCH,
/// SEARCHRES, SPECIAL-USE, CREATE-SPECIAL-USE, BINARY, STATUS=SIZE,
/// SAVEDATE, WITHIN, CHILDREN) is always offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// IDLE (RFC 2177).
    pub idle: bool,
    /// CONDSTORE and QRESYNC (RFC 7162).
    pub condstore: bool,
    /// UTF8=ACCEPT (RFC 6855).
    pub utf8_accept: bool,
    /// QUOTA (RFC 9208).
    pub quota: bool,
    /// SORT, THREAD=ORDEREDSUBJECT, THREAD=REFERENCES (RFC 5256).
    pub sort_thread: bool,
    /// COMPRESS=DEFLATE (RFC 4978): the session negotiates, the driver
    /// compresses.
    pub compress: bool,
    /// LITERAL+ (RFC 7888); when off, LITERAL- is offered.
    pub literal_plus: bool,
}

impl Default for Extensions {
    fn default() -> Self {
        Self {
            idle: true,
            condstore: true,
            utf8_accept: true,
            quota: true,
            sort_thread: true,
            compress: false,
            literal_plus: true,
        }
    }
}

/// Session timeouts (RFC 9051 §5.4: an authenticated client is not logged
/// out before 30 minutes of inactivity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Before login.
    pub not_authenticated: Duration,
    /// After login, IDLE included.
    pub authenticated: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            not_authenticated: Duration::from_secs(60),
            authenticated: Duration::from_secs(30 * 60),
        }
    }
}

/// Limits beyond the command reader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The command reader's limits (line, literal, nesting...).
    pub reader: ReaderLimits,
    /// Largest message APPEND accepts (APPENDLIMIT, RFC 7889).
    pub append_limit: u64,
    /// Protocol errors (BAD) in a row before the session says BYE.
    pub max_bad_commands: usize,
    /// Failed logins before the session says BYE.
    pub max_failed_logins: usize,
    /// Output buffered before a long FETCH pauses until the driver has
    /// written it (the FETCH resumes on the next `poll_event`).
    pub output_high_water: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            reader: ReaderLimits::default(),
            append_limit: 64 * 1024 * 1024,
            max_bad_commands: 10,
            max_failed_logins: 3,
            output_high_water: 256 * 1024,
        }
    }
}

/// A server session's configuration, shared by all sessions of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Text of the greeting (`* OK [CAPABILITY ...] text`).
    pub greeting: String,
    /// SASL mechanisms for AUTHENTICATE.
    pub mechanisms: Vec<Mechanism>,
    /// Offer STARTTLS (the driver must be able to do TLS).
    pub starttls: bool,
    /// Allow LOGIN and password mechanisms without TLS. When false and the
    /// connection is plaintext, LOGINDISABLED is advertised and they are
    /// refused with `[PRIVACYREQUIRED]`.
    pub plaintext_auth: bool,
    /// Optional extensions.
    pub extensions: Extensions,
    /// Limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// The server's ID fields (RFC 2971).
    pub id: Vec<(String, String)>,
}

impl ServerConfig {
    /// A configuration with PLAIN, LOGIN and SCRAM-SHA-256, STARTTLS not
    /// offered and plaintext authentication allowed (loopback use).
    pub fn new(greeting: impl Into<String>) -> Self {
        Self {
            greeting: greeting.into(),
            mechanisms: vec![Mechanism::Plain, Mechanism::Login, Mechanism::ScramSha256],
            starttls: false,
            plaintext_auth: true,
            extensions: Extensions::default(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            id: vec![("name".into(), "postel".into())],
        }
    }
}
