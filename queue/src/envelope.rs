//! The envelope of a queued message: what SMTP said about it, not what is
//! in it.
//!
//! These types are the queue's own rather than `postel-smtp`'s parameter
//! types: the spool format is a contract of this crate, and the queue keeps
//! absolute times (`HOLDFOR=60` becomes a release time, `BY=3600;R` a
//! deadline) where the SMTP parameters are relative to the time of receipt.

use std::net::IpAddr;

use crate::time::Timestamp;

/// NOTIFY= of DSN (RFC 3461 §4.1): when the sender wants a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Notify {
    /// SUCCESS: report delivery.
    pub success: bool,
    /// FAILURE: report failure.
    pub failure: bool,
    /// DELAY: report delays.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
    };

    /// True for `NEVER`.
    pub fn is_never(&self) -> bool {
        *self == Self::NEVER
    }
}

/// ORCPT= of DSN (RFC 3461 §4.2), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginalRecipient {
    /// The address type, e.g. `rfc822` or `utf-8`.
    pub addr_type: String,
    /// The original address.
    pub address: String,
}

/// One recipient of a message, with its DSN parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recipient {
    /// The forward path, without angle brackets (`user@example.org`).
    pub address: String,
    /// NOTIFY=, if given.
    pub notify: Option<Notify>,
    /// ORCPT=, if given.
    pub orcpt: Option<OriginalRecipient>,
}

impl Recipient {
    /// A recipient without DSN parameters.
    pub fn new(address: impl Into<String>) -> Self {
        Recipient {
            address: address.into(),
            notify: None,
            orcpt: None,
        }
    }
}

/// RET= of DSN (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// Return the full message in a failure report.
    Full,
    /// Return only the headers.
    Headers,
}

/// BODY= (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME`.
    BinaryMime,
}

/// What to do when a DELIVERBY deadline passes (RFC 2852 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByMode {
    /// `R`: stop trying and return the message (a failure report).
    Return,
    /// `N`: keep trying, and tell the sender it is late (a delay report).
    Notify,
}

/// A DELIVERBY request (RFC 2852), as an absolute deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    /// When the message must have been delivered.
    pub deadline: Timestamp,
    /// What happens after the deadline.
    pub mode: ByMode,
    /// `T`: the sender asked for trace reports.
    pub trace: bool,
}

/// Where a message came from: what the `Received:` header and the logs say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Trace {
    /// The client's IP address.
    pub client_addr: Option<IpAddr>,
    /// The client's verified host name.
    pub client_name: Option<String>,
    /// The name the client gave in HELO/EHLO/LHLO.
    pub helo: Option<String>,
    /// The protocol keyword of RFC 3848 (`ESMTPSA`, `LMTP`, ...).
    pub protocol: Option<String>,
    /// The TLS version and cipher, if any.
    pub tls: Option<String>,
}

/// The envelope of a message: sender, recipients and everything SMTP said
/// about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// The reverse path without angle brackets; empty for the null sender
    /// `<>` (bounces).
    pub sender: String,
    /// The recipients, in the order they were accepted. At least one.
    pub recipients: Vec<Recipient>,
    /// ENVID= (RFC 3461).
    pub envid: Option<String>,
    /// RET= (RFC 3461).
    pub ret: Option<Ret>,
    /// When the SMTP server received the message.
    pub received: Timestamp,
    /// The authenticated identity of the submitter (SASL), if any.
    pub auth: Option<String>,
    /// BODY=, if given.
    pub body: Option<Body>,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// REQUIRETLS (RFC 8689).
    pub requiretls: bool,
    /// MT-PRIORITY (RFC 6710), -9 to 9; 0 when not given. Higher goes first.
    pub priority: i8,
    /// FUTURERELEASE (RFC 4865): not to be delivered before this time.
    pub hold_until: Option<Timestamp>,
    /// DELIVERBY (RFC 2852).
    pub deliver_by: Option<DeliverBy>,
    /// Where the message came from.
    pub trace: Trace,
}

impl Envelope {
    /// An envelope with the given sender and recipients, received at
    /// `received`, and nothing else set.
    pub fn new(
        sender: impl Into<String>,
        recipients: impl IntoIterator<Item = Recipient>,
        received: Timestamp,
    ) -> Self {
        Envelope {
            sender: sender.into(),
            recipients: recipients.into_iter().collect(),
            envid: None,
            ret: None,
            received,
            auth: None,
            body: None,
            smtputf8: false,
            requiretls: false,
            priority: 0,
            hold_until: None,
            deliver_by: None,
            trace: Trace::default(),
        }
    }

    /// True for the null sender (a bounce or other report).
    pub fn is_null_sender(&self) -> bool {
        self.sender.is_empty()
    }
}
