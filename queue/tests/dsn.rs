//! Delivery status notifications (RFC 3464): every report built here is
//! parsed back with mail-parser and checked part by part and field by field.

use std::time::Duration;

use mail_parser::{HeaderValue, Message, MessageParser, MessagePart, MimeHeaders};
use postel_queue::dsn::{
    DEFAULT_MAX_RETURN_SIZE, Dsn, DsnConfig, DsnInput, DsnKind, DsnRecipient, ParamEncoding,
    Returned, StatusCode, build_dsn, rfc5322_date,
};
use postel_queue::{Body, Envelope, Notify, OriginalRecipient, QueueId, Recipient, Ret, Timestamp};
use proptest::prelude::*;

const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);
const ORIGINAL: &[u8] = b"From: Alice <alice@example.org>\r\n\
To: bob@example.com\r\n\
Subject: lunch\r\n\
Message-ID: <lunch.1@example.org>\r\n\
\r\n\
Shall we meet at noon?\r\n";

fn id() -> QueueId {
    QueueId::from_parts(Timestamp::from_unix_millis(0x18B_CFE5_6800), 7)
}

fn notify(success: bool, failure: bool, delay: bool) -> Option<Notify> {
    Some(Notify {
        success,
        failure,
        delay,
    })
}

fn rcpt(address: &str, notify: Option<Notify>) -> Recipient {
    Recipient {
        address: address.into(),
        notify,
        orcpt: None,
    }
}

fn envelope(recipients: Vec<Recipient>) -> Envelope {
    Envelope::new("alice@example.org", recipients, T0)
}

fn build(
    config: &DsnConfig,
    envelope: &Envelope,
    message: &[u8],
    kind: DsnKind,
    recipients: &[DsnRecipient],
) -> Option<Dsn> {
    build_dsn(&DsnInput {
        config,
        id: id(),
        envelope,
        message,
        kind,
        recipients,
        now: T0.saturating_add(Duration::from_secs(3600)),
    })
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(raw)
        .expect("the report parses")
}

/// The parts of a `multipart/report; report-type=delivery-status`.
fn report_parts<'a>(m: &'a Message<'a>) -> Vec<&'a MessagePart<'a>> {
    let ct = m.content_type().expect("a Content-Type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    m.parts[0]
        .sub_parts()
        .expect("multipart")
        .iter()
        .map(|&i| &m.parts[i as usize])
        .collect()
}

fn content_type(part: &MessagePart<'_>) -> String {
    let ct = part.content_type().expect("each part has a Content-Type");
    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
}

type Block = Vec<(String, String)>;

/// The field blocks of a `message/delivery-status` body, unfolded, names in
/// lower case: the per-message block first, then one per recipient.
fn status_blocks(part: &MessagePart<'_>) -> Vec<Block> {
    assert_eq!(content_type(part), "message/delivery-status");
    let text = std::str::from_utf8(part.contents()).expect("7-bit text");
    let mut blocks = Vec::new();
    let mut block: Block = Vec::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else if line.starts_with(' ') || line.starts_with('\t') {
            block
                .last_mut()
                .expect("a field to continue")
                .1
                .push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("name: value");
            block.push((name.to_ascii_lowercase(), value.trim_start().to_string()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

fn field<'a>(block: &'a Block, name: &str) -> Option<&'a str> {
    let mut found = block.iter().filter(|(n, _)| n == name);
    let first = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "{name} given twice");
    first
}

fn names(block: &Block) -> Vec<&str> {
    block.iter().map(|(n, _)| n.as_str()).collect()
}

fn text_of(part: &MessagePart<'_>) -> String {
    assert_eq!(content_type(part), "text/plain");
    part.text_contents().expect("text").to_string()
}

fn header_text<'a>(m: &'a Message<'a>, name: &'a str) -> Option<&'a str> {
    match m.header(name)? {
        HeaderValue::Text(t) => Some(t),
        _ => m.header_raw(name).map(str::trim),
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// The report up to its third part (or all of it): what the builder wrote
/// itself, as opposed to the returned original.
fn own_text(dsn: &Dsn) -> &[u8] {
    let marker = format!("--{}\r\nContent-Type: message/rfc822", dsn.boundary);
    let marker2 = format!("--{}\r\nContent-Type: text/rfc822-headers", dsn.boundary);
    let m = &dsn.message;
    let end = [marker, marker2]
        .iter()
        .filter_map(|k| m.windows(k.len()).position(|w| w == k.as_bytes()))
        .min()
        .unwrap_or(m.len());
    &m[..end]
}

/// Lines end in CRLF, no bare CR or LF, no line over 998 octets.
fn assert_well_formed_lines(bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert_eq!(i.checked_sub(1).map(|j| bytes[j]), Some(b'\r'), "bare LF");
        }
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR");
        }
    }
    for line in bytes.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "line of {} octets", line.len());
    }
}

#[test]
fn golden_failure_report() {
    let mut e = envelope(vec![
        Recipient {
            address: "bob@example.com".into(),
            notify: None,
            orcpt: Some(OriginalRecipient {
                addr_type: "rfc822".into(),
                address: "Bob@Example.COM".into(),
            }),
        },
        rcpt("carol@example.net", notify(false, true, false)),
    ]);
    e.envid = Some("QQ314159".into());
    e.ret = Some(Ret::Full);
    let mut bob = DsnRecipient::new(
        0,
        "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local table",
    );
    bob.remote_mta = Some("mx.example.com".into());
    bob.last_attempt = Some(T0.saturating_add(Duration::from_secs(3599)));
    let carol = DsnRecipient::new(1, "554 transaction failed");
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &[bob, carol]).unwrap();
    let expected = "\
Date: Tue, 14 Nov 2023 23:13:20 +0000
From: Mail Delivery System <MAILER-DAEMON@mail.example.org>
To: <alice@example.org>
Subject: Undelivered mail returned to sender
Message-ID: <018BCFE568000007.failed.1700003600000.0@mail.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary=\"=_018BCFE568000007.dsn\"

This is a MIME-formatted delivery status notification.

--=_018BCFE568000007.dsn
Content-Type: text/plain; charset=us-ascii
Content-Description: Notification

This is the mail system at host mail.example.org.

Your message could not be delivered to the recipients listed below. The mail
system has given up on them.

The message is attached below.

<bob@example.com>
    host mx.example.com said: 550 5.1.1 <bob@example.com>: Recipient address
    rejected: User unknown in local table

<carol@example.net>
    554 transaction failed


--=_018BCFE568000007.dsn
Content-Type: message/delivery-status
Content-Description: Delivery report

Original-Envelope-Id: QQ314159
Reporting-MTA: dns; mail.example.org
X-Postel-Queue-ID: 018BCFE568000007
Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000

Original-Recipient: rfc822;Bob@Example.COM
Final-Recipient: rfc822; bob@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address
 rejected: User unknown in local table
Last-Attempt-Date: Tue, 14 Nov 2023 23:13:19 +0000

Final-Recipient: rfc822; carol@example.net
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 554 transaction failed

--=_018BCFE568000007.dsn
Content-Type: message/rfc822
Content-Description: Returned message

From: Alice <alice@example.org>
To: bob@example.com
Subject: lunch
Message-ID: <lunch.1@example.org>

Shall we meet at noon?

--=_018BCFE568000007.dsn--
"
    .replace('\n', "\r\n");
    let got = String::from_utf8(dsn.message.clone()).unwrap();
    assert_eq!(got, expected, "\n{got}");
    assert_eq!(dsn.reported, vec![0, 1]);
    assert_eq!(dsn.returned, Returned::Full);
}

#[test]
fn failure_with_ret_full_returns_the_message() {
    let mut e = envelope(vec![rcpt("bob@example.com", None)]);
    e.ret = Some(Ret::Full);
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Failure,
        &[DsnRecipient::new(0, "550 5.1.1 unknown user")],
    )
    .unwrap();
    assert_eq!(dsn.returned, Returned::Full);

    // The envelope to send it with.
    assert!(dsn.envelope.is_null_sender());
    assert_eq!(dsn.envelope.recipients.len(), 1);
    assert_eq!(dsn.envelope.recipients[0].address, "alice@example.org");
    assert_eq!(dsn.envelope.recipients[0].notify, Some(Notify::NEVER));
    assert_eq!(dsn.envelope.recipients[0].orcpt, None);
    assert_eq!(
        (dsn.envelope.ret, dsn.envelope.envid.as_ref()),
        (None, None)
    );
    assert_eq!(dsn.envelope.body, None);

    let m = parse(&dsn.message);
    assert_eq!(m.subject(), Some("Undelivered mail returned to sender"));
    let from = m.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.name(), Some("Mail Delivery System"));
    assert_eq!(from.address(), Some("MAILER-DAEMON@mail.example.org"));
    let to = m.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("alice@example.org"));
    assert_eq!(header_text(&m, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(header_text(&m, "MIME-Version"), Some("1.0"));
    let date = m.date().unwrap();
    assert_eq!(
        (date.year, date.month, date.day, date.hour, date.tz_hour),
        (2023, 11, 14, 23, 0)
    );
    assert!(m.message_id().unwrap().ends_with("@mail.example.org"));

    let parts = report_parts(&m);
    let types: Vec<String> = parts.iter().map(|p| content_type(p)).collect();
    assert_eq!(
        types,
        ["text/plain", "message/delivery-status", "message/rfc822"]
    );
    let text = text_of(parts[0]);
    assert!(text.contains("<bob@example.com>") && text.contains("550 5.1.1 unknown user"));
    let returned = parts[2].message().expect("a nested message");
    assert_eq!(returned.subject(), Some("lunch"));
    assert_eq!(returned.raw_message(), ORIGINAL);
    assert_eq!(
        returned.body_text(0).as_deref(),
        Some("Shall we meet at noon?\r\n")
    );

    let blocks = status_blocks(parts[1]);
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        names(&blocks[0]),
        ["reporting-mta", "x-postel-queue-id", "arrival-date"]
    );
    assert_eq!(
        field(&blocks[0], "reporting-mta"),
        Some("dns; mail.example.org")
    );
    assert_eq!(
        field(&blocks[0], "arrival-date"),
        Some(rfc5322_date(T0).as_str())
    );
    assert_eq!(
        names(&blocks[1]),
        ["final-recipient", "action", "status", "diagnostic-code"]
    );
    assert_eq!(
        field(&blocks[1], "final-recipient"),
        Some("rfc822; bob@example.com")
    );
    assert_eq!(field(&blocks[1], "action"), Some("failed"));
    assert_eq!(field(&blocks[1], "status"), Some("5.1.1"));
    assert_eq!(
        field(&blocks[1], "diagnostic-code"),
        Some("smtp; 550 5.1.1 unknown user")
    );
}

#[test]
fn failure_with_ret_hdrs_returns_the_header() {
    let mut e = envelope(vec![rcpt("bob@example.com", None)]);
    e.ret = Some(Ret::Headers);
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Failure,
        &[DsnRecipient::new(0, "550 5.1.1 unknown user")],
    )
    .unwrap();
    assert_eq!(dsn.returned, Returned::Headers);
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    assert_eq!(content_type(parts[2]), "text/rfc822-headers");
    let header_end = ORIGINAL.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
    assert_eq!(parts[2].contents(), &ORIGINAL[..header_end]);
    assert!(!dsn.message.windows(10).any(|w| w == b"Shall we m"));
    assert!(text_of(parts[0]).contains("The header of the message is attached below."));
}

#[test]
fn without_ret_a_failure_returns_the_message_unless_too_large() {
    let e = envelope(vec![rcpt("bob@example.com", None)]);
    let r = [DsnRecipient::new(0, "550 5.1.1 unknown user")];
    let mut config = DsnConfig::new("mail.example.org");
    assert_eq!(config.max_return_size, DEFAULT_MAX_RETURN_SIZE);
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &r).unwrap();
    assert_eq!(dsn.returned, Returned::Full);

    // Over the limit: the header only, and the text says why.
    config.max_return_size = ORIGINAL.len() - 1;
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &r).unwrap();
    assert_eq!(dsn.returned, Returned::HeadersInsteadOfFull);
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    assert_eq!(content_type(parts[2]), "text/rfc822-headers");
    assert!(text_of(parts[0]).contains("too large"));

    // Even the header is over the limit: whole lines of it that fit.
    config.max_return_size = 60;
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &r).unwrap();
    assert_eq!(dsn.returned, Returned::TruncatedHeaders);
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    assert_eq!(
        parts[2].contents(),
        b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\n"
    );

    // Nothing to return: two parts.
    config.max_return_size = 0;
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &r).unwrap();
    assert_eq!(dsn.returned, Returned::Nothing);
    let m = parse(&dsn.message);
    assert_eq!(report_parts(&m).len(), 2);

    // A BINARYMIME message is not returned whole; 8-bit headers are labelled.
    let mut e = e.clone();
    e.body = Some(Body::BinaryMime);
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(
        &config,
        &e,
        "Subject: caf\u{e9}\r\n\r\n\0\0".as_bytes(),
        DsnKind::Failure,
        &r,
    )
    .unwrap();
    assert_eq!(dsn.returned, Returned::HeadersInsteadOfFull);
    assert_eq!(dsn.envelope.body, Some(Body::EightBitMime));
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    assert_eq!(
        parts[2].content_transfer_encoding(),
        Some("8bit"),
        "8-bit content is labelled"
    );
    assert!(text_of(parts[0]).contains("binary data"));

    // So is a message that is binary without saying so; a header line too
    // long for a text part is folded, and NULs in the header dropped.
    let e = envelope(vec![rcpt("bob@example.com", None)]);
    let long = format!(
        "X-Long: {}\r\nX-Nul: a\0b\r\n\r\nbody\0\r\n",
        "y".repeat(2000)
    );
    let dsn = build(&config, &e, long.as_bytes(), DsnKind::Failure, &r).unwrap();
    assert_eq!(dsn.returned, Returned::HeadersInsteadOfFull);
    assert_eq!(dsn.envelope.body, None);
    assert_well_formed_lines(&dsn.message);
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    let returned = std::str::from_utf8(parts[2].contents()).unwrap();
    assert_eq!(
        returned.replace("\r\n ", ""),
        format!("X-Long: {}\r\nX-Nul: ab\r\n", "y".repeat(2000))
    );
}

#[test]
fn delay_report_says_until_when() {
    let mut e = envelope(vec![rcpt("bob@example.com", None)]);
    e.ret = Some(Ret::Full); // delay reports return the header whatever RET says
    let until = T0.saturating_add(Duration::from_secs(5 * 86_400));
    let mut r = DsnRecipient::new(0, "451 4.7.1 greylisted, try again later");
    r.remote_mta = Some("mx.example.com".into());
    r.last_attempt = Some(T0.saturating_add(Duration::from_secs(3000)));
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Delay { retry_until: until },
        &[r],
    )
    .unwrap();
    assert_eq!(dsn.returned, Returned::Headers);
    let m = parse(&dsn.message);
    assert_eq!(m.subject(), Some("Delayed mail (still being retried)"));
    let parts = report_parts(&m);
    assert_eq!(content_type(parts[2]), "text/rfc822-headers");
    let text = text_of(parts[0]);
    assert!(text.contains("not yet been delivered"));
    assert!(text.contains("Sun, 19 Nov 2023 22:13:20 +0000"), "{text}");
    let blocks = status_blocks(parts[1]);
    assert_eq!(blocks.len(), 2);
    let b = &blocks[1];
    assert_eq!(
        names(b),
        [
            "final-recipient",
            "action",
            "status",
            "remote-mta",
            "diagnostic-code",
            "last-attempt-date",
            "will-retry-until"
        ]
    );
    assert_eq!(field(b, "action"), Some("delayed"));
    assert_eq!(field(b, "status"), Some("4.7.1"));
    assert_eq!(field(b, "remote-mta"), Some("dns; mx.example.com"));
    assert_eq!(
        field(b, "will-retry-until"),
        Some("Sun, 19 Nov 2023 22:13:20 +0000")
    );
    assert_eq!(
        field(b, "last-attempt-date"),
        Some("Tue, 14 Nov 2023 23:03:20 +0000")
    );

    // A 5xx reply cannot be the status of a delay.
    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Delay { retry_until: until },
        &[DsnRecipient::new(0, "550 5.1.1 odd")],
    )
    .unwrap();
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    assert_eq!(field(&status_blocks(parts[1])[1], "status"), Some("4.0.0"));
}

#[test]
fn success_reports_relayed_and_delivered() {
    let e = envelope(vec![
        rcpt("bob@example.com", notify(true, true, false)),
        rcpt("carol@example.net", None),
        rcpt("dave@example.net", notify(false, true, true)),
    ]);
    let config = DsnConfig::new("mail.example.org");
    let all: Vec<DsnRecipient> = (0..3)
        .map(|i| DsnRecipient::new(i, "250 2.0.0 Ok: queued as 4Xy"))
        .collect();
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Relayed, &all).unwrap();
    assert_eq!(
        dsn.reported,
        vec![0],
        "only NOTIFY=SUCCESS asks for success"
    );
    assert_eq!(dsn.returned, Returned::Headers);
    let m = parse(&dsn.message);
    assert_eq!(
        m.subject(),
        Some("Mail relayed: no further delivery reports")
    );
    let parts = report_parts(&m);
    assert_eq!(content_type(parts[2]), "text/rfc822-headers");
    let blocks = status_blocks(parts[1]);
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        field(&blocks[1], "final-recipient"),
        Some("rfc822; bob@example.com")
    );
    assert_eq!(field(&blocks[1], "action"), Some("relayed"));
    assert_eq!(field(&blocks[1], "status"), Some("2.0.0"));
    assert_eq!(
        field(&blocks[1], "diagnostic-code"),
        Some("smtp; 250 2.0.0 Ok: queued as 4Xy")
    );

    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Delivered,
        &[DsnRecipient::new(0, "")],
    )
    .unwrap();
    let m = parse(&dsn.message);
    assert_eq!(m.subject(), Some("Successful mail delivery report"));
    let parts = report_parts(&m);
    let blocks = status_blocks(parts[1]);
    assert_eq!(
        names(&blocks[1]),
        ["final-recipient", "action", "status"],
        "no reply, no Diagnostic-Code"
    );
    assert_eq!(field(&blocks[1], "action"), Some("delivered"));
    assert_eq!(field(&blocks[1], "status"), Some("2.0.0"));

    // Nobody asked for success.
    assert!(build(&config, &e, ORIGINAL, DsnKind::Delivered, &all[1..]).is_none());
}

#[test]
fn notify_filters_recipients() {
    let e = envelope(vec![
        rcpt("never@example.com", Some(Notify::NEVER)),
        rcpt("success@example.com", notify(true, false, false)),
        rcpt("delay@example.com", notify(false, false, true)),
        rcpt("default@example.com", None),
        rcpt("failure@example.com", notify(false, true, false)),
    ]);
    let config = DsnConfig::new("mail.example.org");
    let all: Vec<DsnRecipient> = (0..5)
        .map(|i| DsnRecipient::new(i, "550 5.1.1 no"))
        .collect();
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &all).unwrap();
    assert_eq!(dsn.reported, vec![3, 4]);
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    let blocks = status_blocks(parts[1]);
    let finals: Vec<&str> = blocks[1..]
        .iter()
        .map(|b| field(b, "final-recipient").unwrap())
        .collect();
    assert_eq!(
        finals,
        ["rfc822; default@example.com", "rfc822; failure@example.com"]
    );
    let text = text_of(parts[0]);
    assert!(!text.contains("never@") && !text.contains("success@") && !text.contains("delay@"));

    let delay = DsnKind::Delay {
        retry_until: T0.saturating_add(Duration::from_secs(86_400)),
    };
    let all: Vec<DsnRecipient> = (0..5).map(|i| DsnRecipient::new(i, "451 later")).collect();
    let dsn = build(&config, &e, ORIGINAL, delay, &all).unwrap();
    assert_eq!(dsn.reported, vec![2, 3]);

    // Only NEVER and SUCCESS recipients failed: no report.
    assert!(build(&config, &e, ORIGINAL, DsnKind::Failure, &all[..2]).is_none());
    // Unknown indices are skipped, repeated ones reported once.
    let odd = [
        DsnRecipient::new(99, "550 x"),
        DsnRecipient::new(4, "550 5.1.1 first"),
        DsnRecipient::new(4, "550 5.1.1 again"),
    ];
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &odd).unwrap();
    assert_eq!(dsn.reported, vec![4]);
    assert!(build(&config, &e, ORIGINAL, DsnKind::Failure, &odd[..1]).is_none());
    assert!(build(&config, &e, ORIGINAL, DsnKind::Failure, &[]).is_none());
}

#[test]
fn the_null_sender_gets_no_report() {
    let mut e = Envelope::new("", [rcpt("bob@example.com", notify(true, true, true))], T0);
    let config = DsnConfig::new("mail.example.org");
    let r = [DsnRecipient::new(0, "550 5.1.1 no")];
    for kind in [
        DsnKind::Failure,
        DsnKind::Delay { retry_until: T0 },
        DsnKind::Delivered,
        DsnKind::Relayed,
    ] {
        assert!(build(&config, &e, ORIGINAL, kind, &r).is_none());
    }
    // Nor a sender that is nothing but control characters.
    e.sender = "\r\n".into();
    assert!(build(&config, &e, ORIGINAL, DsnKind::Failure, &r).is_none());
}

#[test]
fn several_recipients_in_one_report() {
    let e = envelope(vec![
        rcpt("a@example.com", None),
        rcpt("b@example.com", None),
        rcpt("c@example.com", None),
        rcpt("d@example.com", None),
    ]);
    let mut a = DsnRecipient::new(0, "550-5.1.1 first line\r\n550 5.1.1 no such user");
    a.remote_mta = Some("mx1.example.com".into());
    let b = DsnRecipient::new(1, "554 rejected");
    let mut c = DsnRecipient::new(2, "451 4.4.1 no answer");
    c.status = StatusCode::new(4, 4, 7);
    c.last_attempt = Some(T0);
    let d = DsnRecipient::new(
        3,
        "connect to mx.example.com[192.0.2.1]:25: Connection refused",
    );
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &[a, b, c, d]).unwrap();
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    let blocks = status_blocks(parts[1]);
    assert_eq!(blocks.len(), 5);
    let expect: [(&str, &str, &str, Option<&str>); 4] = [
        (
            "a@example.com",
            "5.1.1",
            "smtp; 550-5.1.1 first line 550 5.1.1 no such user",
            Some("dns; mx1.example.com"),
        ),
        ("b@example.com", "5.0.0", "smtp; 554 rejected", None),
        ("c@example.com", "4.4.7", "smtp; 451 4.4.1 no answer", None),
        (
            "d@example.com",
            "5.0.0",
            "X-Postel; connect to mx.example.com[192.0.2.1]:25: Connection refused",
            None,
        ),
    ];
    for (block, (addr, status, diagnostic, remote)) in blocks[1..].iter().zip(expect) {
        assert_eq!(
            field(block, "final-recipient"),
            Some(format!("rfc822; {addr}").as_str())
        );
        assert_eq!(field(block, "action"), Some("failed"));
        assert_eq!(field(block, "status"), Some(status));
        assert_eq!(field(block, "diagnostic-code"), Some(diagnostic));
        assert_eq!(field(block, "remote-mta"), remote);
        assert_eq!(field(block, "original-recipient"), None);
    }
    assert_eq!(
        field(&blocks[3], "last-attempt-date"),
        Some("Tue, 14 Nov 2023 22:13:20 +0000")
    );
    let text = text_of(parts[0]);
    for addr in ["<a@example.com>", "<b@example.com>", "<c@example.com>"] {
        assert!(text.contains(addr), "{addr} in {text}");
    }
    assert!(text.contains("host mx1.example.com said: 550-5.1.1 first line 550 5.1.1"));
}

#[test]
fn orcpt_and_envid_are_xtext_decoded() {
    let mut e = envelope(vec![
        Recipient {
            address: "bob@example.com".into(),
            notify: None,
            orcpt: Some(OriginalRecipient {
                addr_type: "rfc822".into(),
                address: "Bob+2Bexternal@Example.COM".into(),
            }),
        },
        Recipient {
            address: "xn--2ca@example.com".into(),
            notify: None,
            orcpt: Some(OriginalRecipient {
                addr_type: "utf-8".into(),
                address: "+5Cx{E9}+2B1@example.com".into(),
            }),
        },
        Recipient {
            address: "carol@example.com".into(),
            notify: None,
            orcpt: Some(OriginalRecipient {
                addr_type: "rfc822".into(),
                address: "not=xtext@example.com".into(),
            }),
        },
    ]);
    e.envid = Some("QQ+2B1+20x".into());
    let mut config = DsnConfig::new("mail.example.org");
    config.param_encoding = ParamEncoding::Xtext;
    let all: Vec<DsnRecipient> = (0..3).map(|i| DsnRecipient::new(i, "550 no")).collect();
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &all).unwrap();
    let m = parse(&dsn.message);
    let blocks = status_blocks(report_parts(&m)[1]);
    assert_eq!(field(&blocks[0], "original-envelope-id"), Some("QQ+1 x"));
    assert_eq!(
        field(&blocks[1], "original-recipient"),
        Some("rfc822;Bob+external@Example.COM")
    );
    // utf-8 addresses stay in utf-8-addr-xtext form (RFC 6533), which keeps
    // the part 7-bit; '+' is escaped there too.
    assert_eq!(
        field(&blocks[2], "original-recipient"),
        Some("utf-8;\\x{E9}\\x{2B}1@example.com")
    );
    // Not xtext: copied as given.
    assert_eq!(
        field(&blocks[3], "original-recipient"),
        Some("rfc822;not=xtext@example.com")
    );

    // Already decoded (what postel-smtp stores): not decoded twice.
    let mut e = e.clone();
    e.envid = Some("QQ+41".into());
    e.recipients[0].orcpt.as_mut().unwrap().address = "Bob+41@Example.COM".into();
    e.recipients[1].orcpt.as_mut().unwrap().address = "\u{e9}@example.com".into();
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &all).unwrap();
    let m = parse(&dsn.message);
    let blocks = status_blocks(report_parts(&m)[1]);
    assert_eq!(field(&blocks[0], "original-envelope-id"), Some("QQ+41"));
    assert_eq!(
        field(&blocks[1], "original-recipient"),
        Some("rfc822;Bob+41@Example.COM")
    );
    assert_eq!(
        field(&blocks[2], "original-recipient"),
        Some("utf-8;\\x{E9}@example.com")
    );
}

#[test]
fn a_non_ascii_sender_and_recipient() {
    let e = Envelope::new(
        "j\u{f6}rg@example.de",
        [rcpt("\u{4e0a}@example.com", None)],
        T0,
    );
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Failure,
        &[DsnRecipient::new(0, "550 5.1.1 unknown \u{4e0a}")],
    )
    .unwrap();
    assert!(dsn.envelope.smtputf8);
    assert_eq!(dsn.envelope.recipients[0].address, "j\u{f6}rg@example.de");
    let m = parse(&dsn.message);
    let parts = report_parts(&m);
    assert!(std::str::from_utf8(own_text(&dsn)).is_ok());
    let blocks = status_blocks(parts[1]);
    assert_eq!(
        field(&blocks[1], "final-recipient"),
        Some("utf-8; \\x{4E0A}@example.com")
    );
    assert_eq!(
        field(&blocks[1], "diagnostic-code"),
        Some("smtp; 550 5.1.1 unknown \\x{4E0A}")
    );
    assert!(parts[0].contents().is_ascii() && parts[1].contents().is_ascii());
}

#[test]
fn injection_stays_inside_its_field() {
    let mut e = Envelope::new(
        "alice@example.org\r\nBcc: victim@example.net",
        [Recipient {
            address: "bob@example.com\r\nX-Evil: rcpt".into(),
            notify: None,
            orcpt: Some(OriginalRecipient {
                addr_type: "rfc822\r\nX-Evil".into(),
                address: "bob@example.com\r\n\r\nX-Evil: orcpt".into(),
            }),
        }],
        T0,
    );
    e.envid = Some("id\r\nX-Evil: envid".into());
    let mut r = DsnRecipient::new(
        0,
        "550 5.1.1 bad\r\nSubject: pwned\r\n\r\nX-Evil: reply\n--=_018BCFE568000007.dsn\r\n\x1b[31m",
    );
    r.remote_mta = Some("mx.example.com\r\nX-Evil: mta".into());
    let config = DsnConfig::new("mail.example.org\r\nX-Evil: host");
    let dsn = build(&config, &e, ORIGINAL, DsnKind::Failure, &[r]).unwrap();
    assert_well_formed_lines(own_text(&dsn));
    let m = parse(&dsn.message);
    assert_eq!(m.subject(), Some("Undelivered mail returned to sender"));
    assert!(m.header("Bcc").is_none() && m.header("X-Evil").is_none());
    assert_eq!(dsn.envelope.recipients[0].address.lines().count(), 1);
    let parts = report_parts(&m);
    assert_eq!(parts.len(), 3, "the fake boundary opened no part");
    assert_ne!(dsn.boundary, "=_018BCFE568000007.dsn");
    let blocks = status_blocks(parts[1]);
    assert_eq!(blocks.len(), 2);
    for block in &blocks {
        assert!(
            names(block)
                .iter()
                .all(|n| !n.starts_with("x-evil") && *n != "subject"),
            "{block:?}"
        );
    }
    let diagnostic = field(&blocks[1], "diagnostic-code").unwrap();
    assert!(diagnostic.starts_with("smtp; 550 5.1.1 bad Subject: pwned X-Evil: reply"));
    assert!(!diagnostic.contains('\x1b'));
    assert_eq!(field(&blocks[1], "status"), Some("5.1.1"));
    assert_eq!(
        field(&blocks[0], "original-envelope-id"),
        Some("id X-Evil: envid")
    );
    assert_eq!(
        field(&blocks[0], "reporting-mta"),
        Some("dns; mail.example.orgX-Evil:host")
    );
}

#[test]
fn long_replies_are_folded() {
    let e = envelope(vec![rcpt("bob@example.com", None)]);
    let long = format!("550 5.7.1 {} {}", "policy ".repeat(200), "x".repeat(3000));
    let config = DsnConfig::new("mail.example.org");
    let dsn = build(
        &config,
        &e,
        ORIGINAL,
        DsnKind::Failure,
        &[DsnRecipient::new(0, long)],
    )
    .unwrap();
    assert_well_formed_lines(own_text(&dsn));
    let m = parse(&dsn.message);
    let blocks = status_blocks(report_parts(&m)[1]);
    let diagnostic = field(&blocks[1], "diagnostic-code").unwrap();
    assert!(diagnostic.starts_with("smtp; 550 5.7.1 policy policy"));
    assert!(diagnostic.ends_with("..."), "cut at 4096 bytes");
}

fn with_collisions() -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(b"=_018BCFE568000007.dsn".to_vec()),
        (0u32..4).prop_map(|n| format!("--=_018BCFE568000007.dsn.{n}\r\n").into_bytes()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"Subject: x\r\n".to_vec()),
    ];
    proptest::collection::vec(chunk, 0..24).prop_map(|chunks| chunks.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_boundary_never_occurs_in_the_content(
        message in with_collisions(),
        reply in "[ -~\r\n]{0,40}|550 =_018BCFE568000007\\.dsn(\\.[0-3])?",
        ret in prop_oneof![Just(None), Just(Some(Ret::Full)), Just(Some(Ret::Headers))],
    ) {
        let mut e = envelope(vec![rcpt("bob@example.com", None)]);
        e.ret = ret;
        let config = DsnConfig::new("mail.example.org");
        let dsn = build(&config, &e, &message, DsnKind::Failure, &[DsnRecipient::new(0, reply)])
            .unwrap();
        let parts = if dsn.returned == Returned::Nothing { 2 } else { 3 };
        // Once in Content-Type, then the delimiters: one per part and the
        // closing one. Nowhere else.
        prop_assert_eq!(count(&dsn.message, dsn.boundary.as_bytes()), 1 + parts + 1);
        let m = parse(&dsn.message);
        prop_assert_eq!(report_parts(&m).len(), parts);
        assert_well_formed_lines(&dsn.message);
    }

    #[test]
    fn the_builder_never_panics(
        sender in any::<String>(),
        addresses in proptest::collection::vec(any::<String>(), 1..4),
        orcpt in proptest::option::of((any::<String>(), any::<String>())),
        envid in proptest::option::of(any::<String>()),
        replies in proptest::collection::vec((0usize..6, any::<String>(), proptest::option::of(any::<String>())), 0..5),
        host in any::<String>(),
        message in proptest::collection::vec(any::<u8>(), 0..300),
        kind in 0u8..4,
        notify_bits in proptest::option::of(0u8..8),
        ret in prop_oneof![Just(None), Just(Some(Ret::Full)), Just(Some(Ret::Headers))],
        xtext in any::<bool>(),
        limit in prop_oneof![Just(0usize), 0usize..400, Just(usize::MAX)],
        now in any::<u64>(),
    ) {
        let notify = notify_bits.map(|b| Notify { success: b & 1 != 0, failure: b & 2 != 0, delay: b & 4 != 0 });
        let recipients: Vec<Recipient> = addresses
            .iter()
            .map(|a| Recipient {
                address: a.clone(),
                notify,
                orcpt: orcpt.clone().map(|(addr_type, address)| OriginalRecipient { addr_type, address }),
            })
            .collect();
        let mut e = Envelope::new(sender, recipients, Timestamp::from_unix_millis(now / 2));
        e.envid = envid;
        e.ret = ret;
        let mut config = DsnConfig::new(host);
        config.max_return_size = limit;
        config.param_encoding = if xtext { ParamEncoding::Xtext } else { ParamEncoding::Decoded };
        let kind = match kind {
            0 => DsnKind::Failure,
            1 => DsnKind::Delay { retry_until: Timestamp::from_unix_millis(now) },
            2 => DsnKind::Delivered,
            _ => DsnKind::Relayed,
        };
        let rs: Vec<DsnRecipient> = replies
            .into_iter()
            .map(|(index, reply, mta)| {
                let mut r = DsnRecipient::new(index, reply);
                r.remote_mta = mta;
                r.last_attempt = Some(Timestamp::from_unix_millis(now));
                r
            })
            .collect();
        let dsn = build_dsn(&DsnInput {
            config: &config,
            id: id(),
            envelope: &e,
            message: &message,
            kind,
            recipients: &rs,
            now: Timestamp::from_unix_millis(now),
        });
        if let Some(dsn) = dsn {
            prop_assert!(!dsn.reported.is_empty());
            prop_assert!(dsn.envelope.is_null_sender());
            assert_well_formed_lines(&dsn.message);
            let m = parse(&dsn.message);
            let parts = report_parts(&m);
            // The builder's own parts are 7-bit.
            prop_assert!(parts[0].contents().is_ascii() && parts[1].contents().is_ascii());
            let blocks = status_blocks(parts[1]);
            prop_assert_eq!(blocks.len(), 1 + dsn.reported.len());
            for block in &blocks[1..] {
                prop_assert_eq!(field(block, "action"), Some(kind.action()));
                let status: StatusCode = field(block, "status").unwrap().parse().unwrap();
                let fits = match kind {
                    DsnKind::Failure => status.class() != 2,
                    DsnKind::Delay { .. } => status.class() == 4,
                    _ => status.class() == 2,
                };
                prop_assert!(fits);
            }
        }
    }
}
