//! Delivery status notifications: the reports (RFC 3464) that the queue
//! owes a sender under the DSN extension (RFC 3461) — bounces, delay
//! warnings, and success reports.
//!
//! [`build_dsn`] is Sans-IO: it takes the original envelope and message,
//! the recipients concerned with their last replies, the kind of report and
//! the time, and returns a complete message and the envelope to enqueue it
//! with, or `None` when no report is owed (the sender is the null sender,
//! or no recipient's NOTIFY asks for this kind).
//!
//! ```
//! use postel_queue::dsn::{build_dsn, DsnConfig, DsnInput, DsnKind, DsnRecipient};
//! use postel_queue::{Envelope, QueueId, Recipient, Timestamp};
//!
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let envelope = Envelope::new("alice@example.org", [Recipient::new("bob@example.com")], now);
//! let config = DsnConfig::new("mx.example.org");
//! let recipients = [DsnRecipient::new(0, "550 5.1.1 no such user")];
//! let dsn = build_dsn(&DsnInput {
//!     config: &config,
//!     id: QueueId::from_parts(now, 0),
//!     envelope: &envelope,
//!     message: b"Subject: hi\r\n\r\nhello\r\n",
//!     kind: DsnKind::Failure,
//!     recipients: &recipients,
//!     now,
//! })
//! .expect("a failure report is owed");
//! assert!(dsn.envelope.is_null_sender());
//! assert_eq!(dsn.envelope.recipients[0].address, "alice@example.org");
//! assert!(dsn.message.windows(13).any(|w| w == b"Status: 5.1.1"));
//! // store.enqueue(dsn.envelope, dsn.message.into(), now).await?;
//! ```
//!
//! Everything copied from the envelope or from replies into the report is
//! cleaned first: control characters (CR and LF among them) become spaces,
//! runs of white space collapse, non-ASCII characters become `\x{HEX}`
//! escapes (RFC 6533) so that the report's own parts stay 7-bit, and long
//! header fields are folded at spaces. Nothing a remote server or a sender
//! says can start a header field or a MIME part of its own.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::envelope::{Body, Envelope, Notify, Recipient, Ret};
use crate::id::QueueId;
use crate::time::Timestamp;

/// Postfix's `bounce_size_limit`: the default of
/// [`DsnConfig::max_return_size`].
pub const DEFAULT_MAX_RETURN_SIZE: usize = 50_000;

/// The longest reply text copied into a report, in bytes (after cleaning);
/// longer replies are cut and marked with `...`.
const MAX_REPLY_LEN: usize = 4096;

/// Header lines are folded to stay within this length where spaces allow.
const FOLD_WIDTH: usize = 78;

/// A run of text without spaces longer than this is split (RFC 5322 caps a
/// line at 998 characters).
const HARD_WIDTH: usize = 900;

/// The kind of report, which decides its `Action:` and who asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsnKind {
    /// Delivery failed for good (`Action: failed`); asked for by
    /// NOTIFY=FAILURE or by an absent NOTIFY.
    Failure,
    /// Delivery is late and still being tried (`Action: delayed`); asked for
    /// by NOTIFY=DELAY or by an absent NOTIFY.
    Delay {
        /// When the queue gives up (`Will-Retry-Until:`): the end of the
        /// message's lifetime.
        retry_until: Timestamp,
    },
    /// Delivered to the recipient's mailbox (`Action: delivered`); asked for
    /// by NOTIFY=SUCCESS only.
    Delivered,
    /// Handed to a next hop that does not offer DSN, so no further report
    /// will come (`Action: relayed`); asked for by NOTIFY=SUCCESS only.
    Relayed,
}

impl DsnKind {
    /// The `Action:` value (RFC 3464 §2.3.3).
    pub fn action(&self) -> &'static str {
        match self {
            DsnKind::Failure => "failed",
            DsnKind::Delay { .. } => "delayed",
            DsnKind::Delivered => "delivered",
            DsnKind::Relayed => "relayed",
        }
    }

    /// Whether a recipient with this NOTIFY wants a report of this kind. An
    /// absent NOTIFY means FAILURE and DELAY (RFC 3461 §4.1 leaves DELAY to
    /// the MTA; this queue sends it, as Postfix and Sendmail do).
    pub fn wanted_by(&self, notify: Option<Notify>) -> bool {
        match (self, notify) {
            (DsnKind::Failure | DsnKind::Delay { .. }, None) => true,
            (DsnKind::Delivered | DsnKind::Relayed, None) => false,
            (DsnKind::Failure, Some(n)) => n.failure,
            (DsnKind::Delay { .. }, Some(n)) => n.delay,
            (DsnKind::Delivered | DsnKind::Relayed, Some(n)) => n.success,
        }
    }

    /// The status class that fits the action: 5 (or 4, for a message that
    /// expired after temporary failures) for a failure, 4 for a delay, 2 for
    /// success.
    fn fits(&self, class: u8) -> bool {
        match self {
            DsnKind::Failure => class == 4 || class == 5,
            DsnKind::Delay { .. } => class == 4,
            DsnKind::Delivered | DsnKind::Relayed => class == 2,
        }
    }

    fn default_status(&self) -> StatusCode {
        let class = match self {
            DsnKind::Failure => 5,
            DsnKind::Delay { .. } => 4,
            DsnKind::Delivered | DsnKind::Relayed => 2,
        };
        StatusCode {
            class,
            subject: 0,
            detail: 0,
        }
    }
}

/// An enhanced mail system status code (RFC 3463), e.g. `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

/// Text that is not an enhanced status code (`2`, `4` or `5`, then two
/// numbers of one to three digits, separated by dots).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an enhanced status code (class.subject.detail, e.g. 5.1.1)")]
pub struct ParseStatusCodeError;

impl StatusCode {
    /// A code from its parts; `None` unless the class is 2, 4 or 5 and the
    /// other parts are at most 999.
    pub fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        (matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999).then_some(StatusCode {
            class,
            subject,
            detail,
        })
    }

    /// The class: 2 (success), 4 (persistent transient failure) or 5
    /// (permanent failure).
    pub fn class(&self) -> u8 {
        self.class
    }

    /// The subject, e.g. 1 (addressing) in `5.1.1`.
    pub fn subject(&self) -> u16 {
        self.subject
    }

    /// The detail, e.g. the last 1 in `5.1.1`.
    pub fn detail(&self) -> u16 {
        self.detail
    }

    /// The status of an SMTP reply such as `550 5.1.1 no such user`: its
    /// enhanced code (RFC 2034) when it has one whose class matches the
    /// reply code, else `X.0.0` from the reply code's first digit. `None`
    /// when the text does not start with a reply code of class 2, 4 or 5.
    pub fn from_reply(reply: &str) -> Option<Self> {
        let (class, rest) = reply_code(reply.trim_start())?;
        let enhanced = rest
            .split([' ', '\r', '\n', '\t'])
            .next()
            .and_then(|word| word.parse::<StatusCode>().ok())
            .filter(|code| code.class == class);
        Some(enhanced.unwrap_or(StatusCode {
            class,
            subject: 0,
            detail: 0,
        }))
    }
}

/// The class digit of a reply that starts with a three-digit code of class
/// 2, 4 or 5 followed by a space, a hyphen or nothing, and the text after
/// that separator.
fn reply_code(reply: &str) -> Option<(u8, &str)> {
    let bytes = reply.as_bytes();
    let code = bytes.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(code[0], b'2' | b'4' | b'5') {
        return None;
    }
    match bytes.get(3) {
        None => Some((code[0] - b'0', "")),
        Some(b' ' | b'-') => Some((code[0] - b'0', reply.get(4..).unwrap_or(""))),
        Some(_) => None,
    }
}

impl FromStr for StatusCode {
    type Err = ParseStatusCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        let mut number = |max_len: usize| -> Result<u16, ParseStatusCodeError> {
            let part = parts.next().ok_or(ParseStatusCodeError)?;
            if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(ParseStatusCodeError);
            }
            part.parse().map_err(|_| ParseStatusCodeError)
        };
        let class = number(1)?;
        let subject = number(3)?;
        let detail = number(3)?;
        if parts.next().is_some() {
            return Err(ParseStatusCodeError);
        }
        let class = u8::try_from(class).map_err(|_| ParseStatusCodeError)?;
        StatusCode::new(class, subject, detail).ok_or(ParseStatusCodeError)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// How the envelope's DSN parameters (ENVID, the ORCPT addresses) are held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ParamEncoding {
    /// Already xtext-decoded, as `postel-smtp` hands them over and as the
    /// envelope documents: copied as they are (decoding twice would turn a
    /// literal `+41` into `A`).
    #[default]
    Decoded,
    /// Still xtext as on the wire (`ENVID=QQ+2B1`): decoded here, as RFC 3461
    /// §4.2 and §4.4 require for the report. A value that is not valid xtext
    /// is copied as it is.
    Xtext,
}

/// The reporting MTA's settings, the same for every report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnConfig {
    /// This MTA's host name: `Reporting-MTA: dns; <host>`, the `From:`
    /// address `MAILER-DAEMON@<host>` and the right side of the
    /// `Message-ID`.
    pub reporting_mta: String,
    /// The most bytes of the original message a report returns. A failure
    /// report returns the whole message only when it fits; otherwise, and
    /// for the other kinds, only its header, cut at a line boundary to fit.
    /// Zero returns nothing.
    pub max_return_size: usize,
    /// How the envelope holds ENVID and ORCPT.
    pub param_encoding: ParamEncoding,
}

impl DsnConfig {
    /// Settings for this host with the defaults: returns up to
    /// [`DEFAULT_MAX_RETURN_SIZE`] bytes, decoded DSN parameters.
    pub fn new(reporting_mta: impl Into<String>) -> Self {
        DsnConfig {
            reporting_mta: reporting_mta.into(),
            max_return_size: DEFAULT_MAX_RETURN_SIZE,
            param_encoding: ParamEncoding::Decoded,
        }
    }
}

/// One recipient the report is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DsnRecipient {
    /// The recipient's index in the original envelope's recipients (as in
    /// `RecipientOutcome::index` and `Lease::pending`). An index out of range
    /// is skipped.
    pub index: usize,
    /// The final reply, e.g. `550 5.1.1 no such user` (multi-line replies may
    /// keep their line breaks), or a local diagnostic such as `connection
    /// timed out`. An SMTP reply becomes `Diagnostic-Code: smtp; <reply>`,
    /// anything else `Diagnostic-Code: X-Postel; <text>`; empty, none.
    pub reply: String,
    /// The status, when the caller knows better than the reply (e.g. `4.4.7`
    /// for an expired message). Otherwise taken from the reply. Either way a
    /// status whose class does not fit the report's action is replaced by
    /// `5.0.0`, `4.0.0` or `2.0.0`.
    pub status: Option<StatusCode>,
    /// The server that gave the reply (`Remote-MTA: dns; <host>`).
    pub remote_mta: Option<String>,
    /// When delivery to this recipient was last tried
    /// (`Last-Attempt-Date:`).
    pub last_attempt: Option<Timestamp>,
}

impl DsnRecipient {
    /// A recipient with its final reply and nothing else.
    pub fn new(index: usize, reply: impl Into<String>) -> Self {
        DsnRecipient {
            index,
            reply: reply.into(),
            status: None,
            remote_mta: None,
            last_attempt: None,
        }
    }
}

/// Everything one report is made from.
#[derive(Debug, Clone, Copy)]
pub struct DsnInput<'a> {
    /// The reporting MTA's settings.
    pub config: &'a DsnConfig,
    /// The original message's queue ID: it names the report's MIME boundary
    /// and `Message-ID`, and goes into `X-Postel-Queue-ID:`.
    pub id: QueueId,
    /// The original envelope. Its `received` time is the `Arrival-Date:`.
    pub envelope: &'a Envelope,
    /// The original message as queued; only its header is needed when the
    /// report returns no more than that.
    pub message: &'a [u8],
    /// What happened.
    pub kind: DsnKind,
    /// The recipients concerned, all reported in one message (those whose
    /// NOTIFY does not ask for this kind are left out).
    pub recipients: &'a [DsnRecipient],
    /// The time of the report: its `Date:`.
    pub now: Timestamp,
}

/// How much of the original message a report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    /// The whole message, as `message/rfc822`.
    Full,
    /// Its header, as `text/rfc822-headers`.
    Headers,
    /// Its header only, as `text/rfc822-headers`, though the whole message
    /// was due: it is larger than [`DsnConfig::max_return_size`], or binary
    /// (sent as BINARYMIME, or holding NULs or overlong lines), which a
    /// report sent as 8-bit text cannot carry.
    HeadersInsteadOfFull,
    /// The first lines of its header, as `text/rfc822-headers`, because
    /// the header alone is larger than `max_return_size`.
    TruncatedHeaders,
    /// Nothing (no header, or `max_return_size` is zero): the report has two
    /// parts.
    Nothing,
}

/// A report ready to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// Its envelope: the null sender, and the original sender as the only
    /// recipient, with NOTIFY=NEVER; BODY=8BITMIME (or BINARYMIME) when the
    /// returned original needs it; SMTPUTF8 when the sender's address does.
    pub envelope: Envelope,
    /// The message: `multipart/report; report-type=delivery-status`.
    pub message: Vec<u8>,
    /// The indices of the recipients it reports, in the order given.
    pub reported: Vec<usize>,
    /// How much of the original it returns.
    pub returned: Returned,
    /// The MIME boundary used, absent from the content of every part.
    pub boundary: String,
}

/// Builds the report of `input.kind` for the recipients of `input`, or
/// returns `None` when none is owed: the original sender is the null sender
/// (a report is never sent about a report), or no recipient given is in the
/// envelope and asks for this kind by its NOTIFY.
///
/// The report (RFC 3464, RFC 6522) has a `text/plain` explanation listing
/// each recipient with its reply, a `message/delivery-status` part, and the
/// original message or its header:
///
/// - a failure report returns what RET= asked for: the whole message for
///   `RET=FULL`, the header for `RET=HDRS`. Without RET= the MTA chooses
///   (RFC 3461 §4.3): the whole message, so the sender sees what was lost,
///   as most MTAs do;
/// - delay and success reports return the header only, whatever RET= says:
///   RFC 3461 §4.3 gives RET= for failure reports, and the message is still
///   on its way or arrived;
/// - the whole message is returned only when it fits
///   [`DsnConfig::max_return_size`] and is not binary (BINARYMIME, NULs,
///   lines over 998 octets); else its header, itself cut at a line boundary
///   to that size.
///
/// The MIME boundary is `=_<queue id>.dsn`, with `.1`, `.2`, ... appended
/// until it occurs in no part's content. Line ends of the returned original
/// are made CRLF; an 8-bit original is labelled `8bit` and the report's
/// envelope asks for BODY=8BITMIME.
pub fn build_dsn(input: &DsnInput<'_>) -> Option<Dsn> {
    let envelope = input.envelope;
    let sender = clean_address(&envelope.sender);
    if envelope.is_null_sender() || sender.is_empty() || sender == "<>" {
        return None;
    }
    let mut reported: Vec<usize> = Vec::new();
    let mut concerned: Vec<(&DsnRecipient, &Recipient)> = Vec::new();
    for r in input.recipients {
        let Some(original) = envelope.recipients.get(r.index) else {
            continue;
        };
        if reported.contains(&r.index) || !input.kind.wanted_by(original.notify) {
            continue;
        }
        reported.push(r.index);
        concerned.push((r, original));
    }
    if concerned.is_empty() {
        return None;
    }

    let config = input.config;
    let host = clean_host(&config.reporting_mta);
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    };

    let (returned, original_part) = returned_part(input);
    let text = explanation(input, &host, &concerned, returned);
    let status = delivery_status(input, &host, &concerned);

    let base = format!("=_{}.dsn", input.id);
    let mut boundary = base.clone();
    let mut n = 0u64;
    while [text.as_bytes(), status.as_bytes(), original_part.content()]
        .iter()
        .any(|part| contains(part, boundary.as_bytes()))
    {
        n += 1;
        boundary = format!("{base}.{n}");
    }

    let mut out = String::new();
    header(&mut out, "Date", &rfc5322_date(input.now));
    header(
        &mut out,
        "From",
        &format!("Mail Delivery System <MAILER-DAEMON@{host}>"),
    );
    header(&mut out, "To", &format!("<{sender}>"));
    header(&mut out, "Subject", subject(input.kind));
    let first = reported.first().copied().unwrap_or(0);
    header(
        &mut out,
        "Message-ID",
        &format!(
            "<{}.{}.{}.{first}@{host}>",
            input.id,
            input.kind.action(),
            input.now.unix_millis()
        ),
    );
    header(&mut out, "Auto-Submitted", "auto-replied");
    header(&mut out, "MIME-Version", "1.0");
    header(
        &mut out,
        "Content-Type",
        &format!("multipart/report; report-type=delivery-status; boundary=\"{boundary}\""),
    );
    out.push_str("\r\nThis is a MIME-formatted delivery status notification.\r\n");

    let _ = write!(out, "\r\n--{boundary}\r\n");
    out.push_str("Content-Type: text/plain; charset=us-ascii\r\n");
    out.push_str("Content-Description: Notification\r\n\r\n");
    out.push_str(&text);
    let _ = write!(out, "\r\n--{boundary}\r\n");
    out.push_str("Content-Type: message/delivery-status\r\n");
    out.push_str("Content-Description: Delivery report\r\n\r\n");
    out.push_str(&status);

    let mut message = out.into_bytes();
    let body = match &original_part {
        OriginalPart::None => None,
        OriginalPart::Full(content) | OriginalPart::Headers(content) => {
            let (content_type, description) = match original_part {
                OriginalPart::Full(_) => ("message/rfc822", "Returned message"),
                _ => ("text/rfc822-headers", "Returned message header"),
            };
            let eight_bit = !content.is_ascii();
            let mut head = format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Description: {description}\r\n"
            );
            if eight_bit {
                head.push_str("Content-Transfer-Encoding: 8bit\r\n");
            }
            head.push_str("\r\n");
            message.extend_from_slice(head.as_bytes());
            message.extend_from_slice(content);
            eight_bit.then_some(Body::EightBitMime)
        }
    };
    message.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    let mut dsn_envelope = Envelope::new(
        "",
        [Recipient {
            address: sender.clone(),
            notify: Some(Notify::NEVER),
            orcpt: None,
        }],
        input.now,
    );
    dsn_envelope.body = body;
    dsn_envelope.smtputf8 = !sender.is_ascii();

    Some(Dsn {
        envelope: dsn_envelope,
        message,
        reported,
        returned,
        boundary,
    })
}

fn subject(kind: DsnKind) -> &'static str {
    match kind {
        DsnKind::Failure => "Undelivered mail returned to sender",
        DsnKind::Delay { .. } => "Delayed mail (still being retried)",
        DsnKind::Delivered => "Successful mail delivery report",
        DsnKind::Relayed => "Mail relayed: no further delivery reports",
    }
}

/// The returned original, its line ends made CRLF.
enum OriginalPart {
    Full(Vec<u8>),
    Headers(Vec<u8>),
    None,
}

impl OriginalPart {
    fn content(&self) -> &[u8] {
        match self {
            OriginalPart::Full(c) | OriginalPart::Headers(c) => c,
            OriginalPart::None => &[],
        }
    }
}

fn returned_part(input: &DsnInput<'_>) -> (Returned, OriginalPart) {
    let limit = input.config.max_return_size;
    if limit == 0 {
        return (Returned::Nothing, OriginalPart::None);
    }
    let wants_full =
        input.kind == DsnKind::Failure && input.envelope.ret.unwrap_or(Ret::Full) == Ret::Full;
    let mut instead_of_full = false;
    if wants_full {
        // The length check comes first so that a huge message is not copied.
        if input.envelope.body != Some(Body::BinaryMime) && input.message.len() <= limit {
            let full = crlf(input.message);
            if !full.is_empty() && full.len() <= limit && !is_binary(&full) {
                return (Returned::Full, OriginalPart::Full(full));
            }
        }
        instead_of_full = true;
    }
    let mut headers = text_lines(&crlf(header_block(input.message)));
    if headers.is_empty() {
        return (Returned::Nothing, OriginalPart::None);
    }
    if headers.len() > limit {
        // Keep whole lines only.
        let keep = headers[..limit]
            .windows(2)
            .rposition(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        if keep == 0 {
            return (Returned::Nothing, OriginalPart::None);
        }
        headers.truncate(keep);
        return (Returned::TruncatedHeaders, OriginalPart::Headers(headers));
    }
    let returned = if instead_of_full {
        Returned::HeadersInsteadOfFull
    } else {
        Returned::Headers
    };
    (returned, OriginalPart::Headers(headers))
}

/// The header of a message: its lines up to (without) the first empty
/// line, or all of it when there is none.
fn header_block(message: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < message.len() {
        let rest = &message[start..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") || rest.starts_with(b"\r") {
            return &message[..start];
        }
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => return message,
            Some(i) => {
                let mut end = start + i + 1;
                if message[start + i] == b'\r' && message.get(end) == Some(&b'\n') {
                    end += 1;
                }
                start = end;
            }
        }
    }
    message
}

/// `bytes` with every line end (CRLF, bare LF, bare CR) made CRLF, and a
/// final line end added when missing.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Data that is neither 7bit nor 8bit (RFC 2045 §2.7, §2.8): a NUL, or a
/// line over 998 octets. Line ends are CRLF already.
fn is_binary(content: &[u8]) -> bool {
    content
        .split(|&b| b == b'\n')
        .any(|line| line.len() > 999 || line.contains(&0))
}

/// A header block made fit for a text part: without NULs, and with lines
/// over 998 octets folded (never inside a UTF-8 sequence). Line ends are
/// CRLF already.
fn text_lines(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    for line in block.split_inclusive(|&b| b == b'\n') {
        let mut rest: Vec<u8> = line.iter().copied().filter(|&b| b != 0).collect();
        while rest.len() > HARD_WIDTH + 2 {
            let mut cut = HARD_WIDTH;
            while cut > 1 && (0x80..0xC0).contains(&rest[cut]) {
                cut -= 1;
            }
            out.extend_from_slice(&rest[..cut]);
            out.extend_from_slice(b"\r\n ");
            rest.drain(..cut);
        }
        out.extend_from_slice(&rest);
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack.len() >= needle.len()
        && haystack
            .windows(needle.len())
            .any(|w| w[0] == needle[0] && w == needle)
}

/// The `text/plain` part: what happened, in words, and each recipient with
/// its reply.
fn explanation(
    input: &DsnInput<'_>,
    host: &str,
    concerned: &[(&DsnRecipient, &Recipient)],
    returned: Returned,
) -> String {
    let mut out = String::new();
    let _ = write!(out, "This is the mail system at host {host}.\r\n\r\n");
    let summary = match input.kind {
        DsnKind::Failure => "Your message could not be delivered to the recipients listed below. \
             The mail system has given up on them."
            .to_string(),
        DsnKind::Delay { retry_until } => format!(
            "Your message has not yet been delivered to the recipients listed below. \
             The mail system will keep trying until {}. You do not need to send it again.",
            rfc5322_date(retry_until)
        ),
        DsnKind::Delivered => "Your message was delivered to the recipients listed below.".into(),
        DsnKind::Relayed => "Your message was passed on to the recipients listed below, \
             through mail servers that send no delivery reports: no further notice \
             will come about them."
            .into(),
    };
    wrap(&mut out, &summary, "", "");
    out.push_str("\r\n");
    let attached = match returned {
        Returned::Full => Some("The message is attached below.".to_string()),
        Returned::Headers => Some("The header of the message is attached below.".into()),
        Returned::HeadersInsteadOfFull if input.message.len() > input.config.max_return_size => {
            Some(format!(
                "The message is too large to be returned whole (the limit is {} bytes); \
                 its header is attached below.",
                input.config.max_return_size
            ))
        }
        Returned::HeadersInsteadOfFull => Some(
            "The message holds binary data and is not returned whole; \
             its header is attached below."
                .into(),
        ),
        Returned::TruncatedHeaders => Some(format!(
            "The beginning of the message's header (up to {} bytes) is attached below.",
            input.config.max_return_size
        )),
        Returned::Nothing => None,
    };
    if let Some(attached) = attached {
        wrap(&mut out, &attached, "", "");
        out.push_str("\r\n");
    }
    for (r, original) in concerned {
        let (addr_type, address) = final_recipient(&original.address);
        let shown = if addr_type == "rfc822" {
            format!("<{address}>")
        } else {
            format!("<{address}> ({addr_type})")
        };
        wrap(&mut out, &shown, "", "    ");
        let reply = clean_text(&r.reply, MAX_REPLY_LEN);
        let said = match (&r.remote_mta, reply.is_empty()) {
            (_, true) => format!("status {}", status_of(input.kind, r)),
            (Some(mta), false) if !clean_host(mta).is_empty() => {
                format!("host {} said: {reply}", clean_host(mta))
            }
            _ => reply,
        };
        wrap(&mut out, &said, "    ", "    ");
        out.push_str("\r\n");
    }
    out
}

/// The `message/delivery-status` part (RFC 3464 §2.2, §2.3).
fn delivery_status(
    input: &DsnInput<'_>,
    host: &str,
    concerned: &[(&DsnRecipient, &Recipient)],
) -> String {
    let envelope = input.envelope;
    let encoding = input.config.param_encoding;
    let mut out = String::new();
    if let Some(envid) = &envelope.envid {
        let envid = clean_text(&decode_param(envid, encoding), usize::MAX);
        if !envid.is_empty() {
            header(&mut out, "Original-Envelope-Id", &envid);
        }
    }
    header(&mut out, "Reporting-MTA", &format!("dns; {host}"));
    header(&mut out, "X-Postel-Queue-ID", &input.id.to_string());
    header(&mut out, "Arrival-Date", &rfc5322_date(envelope.received));
    for (r, original) in concerned {
        out.push_str("\r\n");
        if let Some(orcpt) = &original.orcpt {
            let address = decode_param(&orcpt.address, encoding);
            let (addr_type, address) = typed_address(&orcpt.addr_type, &address);
            if !address.is_empty() {
                header(
                    &mut out,
                    "Original-Recipient",
                    &format!("{addr_type};{address}"),
                );
            }
        }
        let (addr_type, address) = final_recipient(&original.address);
        header(
            &mut out,
            "Final-Recipient",
            &format!("{addr_type}; {address}"),
        );
        header(&mut out, "Action", input.kind.action());
        header(&mut out, "Status", &status_of(input.kind, r).to_string());
        if let Some(mta) = &r.remote_mta {
            let mta = clean_host(mta);
            if !mta.is_empty() {
                header(&mut out, "Remote-MTA", &format!("dns; {mta}"));
            }
        }
        let reply = clean_text(&r.reply, MAX_REPLY_LEN);
        if !reply.is_empty() {
            let diagnostic_type = if reply_code(&reply).is_some() {
                "smtp"
            } else {
                "X-Postel"
            };
            header(
                &mut out,
                "Diagnostic-Code",
                &format!("{diagnostic_type}; {reply}"),
            );
        }
        if let Some(t) = r.last_attempt {
            header(&mut out, "Last-Attempt-Date", &rfc5322_date(t));
        }
        if let DsnKind::Delay { retry_until } = input.kind {
            header(&mut out, "Will-Retry-Until", &rfc5322_date(retry_until));
        }
    }
    out
}

fn status_of(kind: DsnKind, r: &DsnRecipient) -> StatusCode {
    r.status
        .or_else(|| StatusCode::from_reply(&r.reply))
        .filter(|s| kind.fits(s.class))
        .unwrap_or_else(|| kind.default_status())
}

fn decode_param(value: &str, encoding: ParamEncoding) -> String {
    match encoding {
        ParamEncoding::Decoded => value.to_string(),
        ParamEncoding::Xtext => xtext_decode(value).unwrap_or_else(|| value.to_string()),
    }
}

/// The address type and address of a `Final-Recipient:` field: `rfc822`
/// for an ASCII address, `utf-8` with `\x{HEX}` escapes otherwise.
fn final_recipient(address: &str) -> (String, String) {
    typed_address("rfc822", address)
}

/// An address type and a decoded address as a 7-bit field value: ASCII
/// addresses keep their type (an unusable type becomes `rfc822`); an
/// address of type `utf-8`, or any address with non-ASCII characters,
/// becomes `utf-8` in utf-8-addr-xtext form (RFC 6533 §3), which is what
/// `message/delivery-status` carries.
fn typed_address(addr_type: &str, address: &str) -> (String, String) {
    let is_utf8_type = addr_type.eq_ignore_ascii_case("utf-8");
    // A utf-8 address may still hold \x{..} escapes; decode them so that
    // they are written once, uniformly.
    let address = if is_utf8_type {
        unescape_utf8_addr(address)
    } else {
        address.to_string()
    };
    let address: String = address
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string();
    if is_utf8_type || !address.is_ascii() {
        return ("utf-8".into(), utf8_addr_xtext(&address));
    }
    let addr_type: String = addr_type
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    let addr_type = if addr_type.is_empty() {
        "rfc822".to_string()
    } else {
        addr_type.to_ascii_lowercase()
    };
    // Spaces inside an address (a quoted local part) are kept, but not runs
    // of them, so that folding never leaves a blank line.
    (addr_type, collapse_spaces(&address))
}

fn collapse_spaces(s: &str) -> String {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// utf-8-addr-xtext (RFC 6533 §3): printable ASCII except `+`, `=` and
/// `\`, everything else as `\x{HEX}`.
fn utf8_addr_xtext(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    for c in address.chars() {
        if c.is_ascii_graphic() && !matches!(c, '+' | '=' | '\\') {
            out.push(c);
        } else {
            let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
        }
    }
    out
}

/// Decodes the `\x{HEX}` escapes of a utf-8-addr-xtext or -unitext
/// address (RFC 6533); an escape that is not valid stays as it is.
fn unescape_utf8_addr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\x{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let decoded = after.find('}').and_then(|end| {
            let hex = &after[..end];
            let ok = (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let c = ok
                .then(|| u32::from_str_radix(hex, 16).ok())
                .flatten()
                .and_then(char::from_u32)?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes xtext (RFC 3461 §4): `+` and two hex digits stand for a byte;
/// other characters are printable ASCII other than `+` and `=`. Lower-case
/// hex digits are accepted too. `None` when the text is not xtext or does
/// not decode to UTF-8.
pub fn xtext_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'=' => return None,
            b @ b'!'..=b'~' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// An address for a header or a report: without control characters, and
/// trimmed. Non-ASCII characters stay (the `To:` of a report to a UTF-8
/// address needs them, under SMTPUTF8).
fn clean_address(address: &str) -> String {
    let cleaned: String = address.chars().filter(|c| !c.is_control()).collect();
    collapse_spaces(cleaned.trim())
}

/// A host name or address literal: only the characters those can hold.
fn clean_host(host: &str) -> String {
    host.trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'))
        .take(255)
        .collect()
}

/// Free text (a reply, an ENVID) as one 7-bit line: control characters
/// and white space runs become one space, non-ASCII characters `\x{HEX}`;
/// cut to about `max` bytes.
fn clean_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            space = true;
            continue;
        }
        if out.len() >= max {
            out.push_str("...");
            return out;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c.is_ascii() {
            out.push(c);
        } else {
            let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
        }
    }
    out
}

/// Writes `Name: value` folded at spaces to about 78 columns, and a run
/// without spaces longer than 900 split. `value` holds no line breaks and
/// no runs of spaces (it went through one of the `clean_*` functions).
fn header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    let mut column = name.len() + 1;
    let mut first = true;
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        if !first && column + 1 + word.len() > FOLD_WIDTH {
            out.push_str("\r\n");
            column = 0;
        }
        out.push(' ');
        column += 1;
        first = false;
        while word.len() > HARD_WIDTH {
            let cut = floor_char_boundary(word, HARD_WIDTH);
            out.push_str(&word[..cut]);
            out.push_str("\r\n ");
            column = 1;
            word = &word[cut..];
        }
        out.push_str(word);
        column += word.len();
    }
    out.push_str("\r\n");
}

/// Writes `text` as lines of about 76 columns: the first starts with
/// `first`, the others with `rest`.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    out.push_str(first);
    let mut column = first.len();
    let mut line_empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        if !line_empty && column + 1 + word.len() > 76 {
            out.push_str("\r\n");
            out.push_str(rest);
            column = rest.len();
            line_empty = true;
        }
        if !line_empty {
            out.push(' ');
            column += 1;
        }
        while word.len() > HARD_WIDTH {
            let cut = floor_char_boundary(word, HARD_WIDTH);
            out.push_str(&word[..cut]);
            out.push_str("\r\n");
            out.push_str(rest);
            column = rest.len();
            word = &word[cut..];
        }
        out.push_str(word);
        column += word.len();
        line_empty = false;
    }
    out.push_str("\r\n");
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    if i == 0 {
        // One character wider than the limit cannot happen (chars are at
        // most 4 bytes); take the first character anyway.
        s.chars().next().map_or(s.len(), char::len_utf8)
    } else {
        i
    }
}

/// A date-time as RFC 5322 §3.3 writes it, in UTC:
/// `Tue, 14 Nov 2023 22:13:20 +0000`. Milliseconds are dropped.
pub fn rfc5322_date(t: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.unix_millis() / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[usize::try_from(days % 7).unwrap_or(0)];
    let month = MONTHS[usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11)];
    format!(
        "{weekday}, {day} {month} {year:04} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01, in
/// the proleptic Gregorian calendar (the era arithmetic of H. Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            rfc5322_date(Timestamp::EPOCH),
            "Thu, 1 Jan 1970 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(Timestamp::from_unix_secs(1_700_000_000)),
            "Tue, 14 Nov 2023 22:13:20 +0000"
        );
        assert_eq!(
            rfc5322_date(Timestamp::from_unix_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(Timestamp::from_unix_secs(4_102_444_799)),
            "Thu, 31 Dec 2099 23:59:59 +0000"
        );
        assert_eq!(
            rfc5322_date(Timestamp::from_unix_secs(4_107_542_399)),
            "Sun, 28 Feb 2100 23:59:59 +0000"
        );
        // Does not overflow at the end of time.
        let _ = rfc5322_date(Timestamp::from_unix_millis(u64::MAX));
    }

    #[test]
    fn status_codes() {
        let code = |s: &str| StatusCode::from_reply(s).map(|c| c.to_string());
        assert_eq!(code("550 5.1.1 no such user").as_deref(), Some("5.1.1"));
        assert_eq!(
            code("550-5.7.26 dmarc\r\n550 5.7.26 more").as_deref(),
            Some("5.7.26")
        );
        assert_eq!(code("451 greylisted").as_deref(), Some("4.0.0"));
        assert_eq!(code("550 4.1.1 class mismatch").as_deref(), Some("5.0.0"));
        assert_eq!(code("250").as_deref(), Some("2.0.0"));
        assert_eq!(code("550 5.1.1.1 too many").as_deref(), Some("5.0.0"));
        assert_eq!(code("connection refused"), None);
        assert_eq!(code("5500 x"), None);
        assert_eq!(code("350 go on"), None);
        assert_eq!(code("5"), None);
        assert!("5.1234.1".parse::<StatusCode>().is_err());
        assert!("3.1.1".parse::<StatusCode>().is_err());
        assert!("5..1".parse::<StatusCode>().is_err());
        assert_eq!("2.0.0".parse::<StatusCode>().unwrap().class(), 2);
    }

    #[test]
    fn xtext_and_utf8_addresses() {
        assert_eq!(xtext_decode("QQ+2B1").as_deref(), Some("QQ+1"));
        assert_eq!(xtext_decode("a+20b").as_deref(), Some("a b"));
        assert_eq!(xtext_decode("a+2"), None);
        assert_eq!(xtext_decode("a=b"), None);
        assert_eq!(xtext_decode("a b"), None);
        assert_eq!(
            typed_address("utf-8", "\\x{4E0A}@example.com"),
            ("utf-8".to_string(), "\\x{4E0A}@example.com".to_string())
        );
        assert_eq!(
            typed_address("rfc822", "上+x@example.com").1,
            "\\x{4E0A}\\x{2B}x@example.com"
        );
        assert_eq!(unescape_utf8_addr("\\x{zz}\\x{41}\\x{"), "\\x{zz}A\\x{");
    }

    #[test]
    fn folding() {
        let mut out = String::new();
        let long = "word ".repeat(40);
        header(&mut out, "Diagnostic-Code", long.trim());
        assert!(out.lines().all(|l| l.len() <= FOLD_WIDTH));
        assert!(out.lines().skip(1).all(|l| l.starts_with(' ')));
        let mut out = String::new();
        header(&mut out, "X", &"a".repeat(2000));
        assert!(out.split("\r\n").all(|l| l.len() <= 998));
    }

    #[test]
    fn header_blocks() {
        assert_eq!(header_block(b"A: b\r\n\r\nbody"), b"A: b\r\n");
        assert_eq!(header_block(b"A: b\nC: d\n\nbody"), b"A: b\nC: d\n");
        assert_eq!(header_block(b"\r\nbody"), b"");
        assert_eq!(header_block(b"A: b"), b"A: b");
        assert_eq!(crlf(b"a\nb\rc\r\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"a"), b"a\r\n");
    }
}
