//! The spool's text format for envelopes and message state.
//!
//! Versioned, line based, written and parsed here (no serialization
//! dependency): a first line naming the kind and version, then `key: value`
//! lines. Values are percent-encoded so that every byte outside `!`..`~` and
//! `%` itself become `%XX`: a value never holds a space, a line break or a
//! non-ASCII byte, so a line splits on spaces without ambiguity. In lines with
//! several fields an optional string is `-` when absent and `+` followed by
//! the encoded text when present (so an empty string is `+`).
//!
//! ```text
//! postel-queue-message 1
//! id: 018BCFE568000000
//! queued: 1700000000000
//! size: 1234
//! sender: alice@example.org
//! received: 1699999999990
//! priority: 0
//! rcpt: +bob@example.com success,failure +rfc822 +bob@example.com
//! rcpt: +carol@example.net - - -
//!
//! <message data, exactly `size` bytes>
//! ```
//!
//! A state file ends with `end: <recipients>`, so a truncated one is never
//! taken for a shorter valid one; a message file's header holds the size of
//! the data that follows, which is checked against the file's length.
//!
//! A decoder rejects unknown versions, unknown or repeated keys and missing
//! required keys: a file this version cannot read in full is reported, never
//! half-understood.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::envelope::{
    Body, ByMode, DeliverBy, Envelope, Notify, OriginalRecipient, Recipient, Ret, Trace,
};
use crate::id::QueueId;
use crate::state::{MessageState, RecipientState, RecipientStatus};
use crate::time::Timestamp;

const MESSAGE_MAGIC: &str = "postel-queue-message";
const STATE_MAGIC: &str = "postel-queue-state";
const VERSION: u32 = 1;

/// A line of a spool file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// 1-based line, 0 for the file as a whole.
    pub line: usize,
    pub reason: String,
}

fn err(line: usize, reason: impl Into<String>) -> DecodeError {
    DecodeError {
        line,
        reason: reason.into(),
    }
}

/// The message file's header: what the queue knows about a message besides
/// its bytes and its mutable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageHeader {
    pub id: QueueId,
    pub queued: Timestamp,
    pub size: u64,
    pub envelope: Envelope,
}

// ---------------------------------------------------------------- encoding

fn pct(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if (0x21..=0x7E).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn token(out: &mut String, s: Option<&str>) {
    match s {
        None => out.push('-'),
        Some(s) => {
            out.push('+');
            pct(out, s);
        }
    }
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key}: {value}");
}

fn text_line(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push_str(": ");
    pct(out, value);
    out.push('\n');
}

fn notify_token(out: &mut String, notify: Option<Notify>) {
    match notify {
        None => out.push('-'),
        Some(n) if n.is_never() => out.push_str("never"),
        Some(n) => {
            let words = [
                (n.success, "success"),
                (n.failure, "failure"),
                (n.delay, "delay"),
            ];
            let list: Vec<&str> = words
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, w)| *w)
                .collect();
            out.push_str(&list.join(","));
        }
    }
}

/// The header of a message file, ending with the empty line after which the
/// message data starts.
pub(crate) fn encode_message_header(h: &MessageHeader) -> String {
    let e = &h.envelope;
    let mut out = String::with_capacity(256 + 64 * e.recipients.len());
    let _ = writeln!(out, "{MESSAGE_MAGIC} {VERSION}");
    line(&mut out, "id", h.id);
    line(&mut out, "queued", h.queued.unix_millis());
    line(&mut out, "size", h.size);
    text_line(&mut out, "sender", &e.sender);
    line(&mut out, "received", e.received.unix_millis());
    line(&mut out, "priority", e.priority);
    if let Some(envid) = &e.envid {
        text_line(&mut out, "envid", envid);
    }
    if let Some(ret) = e.ret {
        line(
            &mut out,
            "ret",
            match ret {
                Ret::Full => "full",
                Ret::Headers => "headers",
            },
        );
    }
    if let Some(auth) = &e.auth {
        text_line(&mut out, "auth", auth);
    }
    if let Some(body) = e.body {
        line(
            &mut out,
            "body",
            match body {
                Body::SevenBit => "7bit",
                Body::EightBitMime => "8bitmime",
                Body::BinaryMime => "binarymime",
            },
        );
    }
    if e.smtputf8 {
        line(&mut out, "smtputf8", "yes");
    }
    if e.requiretls {
        line(&mut out, "requiretls", "yes");
    }
    if let Some(t) = e.hold_until {
        line(&mut out, "hold-until", t.unix_millis());
    }
    if let Some(by) = e.deliver_by {
        let mode = match by.mode {
            ByMode::Return => "return",
            ByMode::Notify => "notify",
        };
        let trace = if by.trace { "trace" } else { "notrace" };
        line(
            &mut out,
            "deliver-by",
            format_args!("{} {mode} {trace}", by.deadline.unix_millis()),
        );
    }
    let t = &e.trace;
    if let Some(addr) = t.client_addr {
        line(&mut out, "client-addr", addr);
    }
    for (key, value) in [
        ("client-name", &t.client_name),
        ("helo", &t.helo),
        ("protocol", &t.protocol),
        ("tls", &t.tls),
    ] {
        if let Some(v) = value {
            text_line(&mut out, key, v);
        }
    }
    for r in &e.recipients {
        out.push_str("rcpt: ");
        token(&mut out, Some(&r.address));
        out.push(' ');
        notify_token(&mut out, r.notify);
        out.push(' ');
        token(&mut out, r.orcpt.as_ref().map(|o| o.addr_type.as_str()));
        out.push(' ');
        token(&mut out, r.orcpt.as_ref().map(|o| o.address.as_str()));
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The whole state file.
pub(crate) fn encode_state(id: QueueId, s: &MessageState) -> String {
    let mut out = String::with_capacity(128 + 32 * s.recipients.len());
    let _ = writeln!(out, "{STATE_MAGIC} {VERSION}");
    line(&mut out, "id", id);
    line(&mut out, "attempts", s.attempts);
    line(&mut out, "next-attempt", s.next_attempt.unix_millis());
    line(&mut out, "held", if s.held { "yes" } else { "no" });
    line(
        &mut out,
        "delay-warned",
        if s.delay_warned { "yes" } else { "no" },
    );
    for r in &s.recipients {
        out.push_str("rcpt: ");
        out.push_str(match r.status {
            RecipientStatus::Pending => "pending",
            RecipientStatus::Delivered => "delivered",
            RecipientStatus::Failed => "failed",
        });
        out.push(' ');
        match r.updated {
            Some(t) => {
                let _ = write!(out, "{}", t.unix_millis());
            }
            None => out.push('-'),
        }
        out.push(' ');
        token(&mut out, r.last_reply.as_deref());
        out.push('\n');
    }
    line(&mut out, "end", s.recipients.len());
    out
}

// ---------------------------------------------------------------- decoding

fn unpct(line_no: usize, s: &str) -> Result<String, DecodeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| err(line_no, "bad %-escape"))?;
                out.push(hex);
                i += 3;
            }
            c if (0x21..=0x7E).contains(&c) => {
                out.push(c);
                i += 1;
            }
            _ => return Err(err(line_no, "unescaped byte in a value")),
        }
    }
    String::from_utf8(out).map_err(|_| err(line_no, "value is not UTF-8"))
}

fn untoken(line_no: usize, t: &str) -> Result<Option<String>, DecodeError> {
    match t.strip_prefix('+') {
        Some(rest) => unpct(line_no, rest).map(Some),
        None if t == "-" => Ok(None),
        None => Err(err(line_no, "a field must be '-' or start with '+'")),
    }
}

fn number<T: std::str::FromStr>(line_no: usize, s: &str) -> Result<T, DecodeError> {
    // Plain decimal only: no sign for unsigned types, no spaces.
    if s.is_empty() || s.starts_with('+') {
        return Err(err(line_no, "not a number"));
    }
    s.parse().map_err(|_| err(line_no, "not a number"))
}

fn yes_no(line_no: usize, s: &str) -> Result<bool, DecodeError> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(err(line_no, "expected yes or no")),
    }
}

fn notify(line_no: usize, s: &str) -> Result<Option<Notify>, DecodeError> {
    match s {
        "-" => Ok(None),
        "never" => Ok(Some(Notify::NEVER)),
        _ => {
            let mut n = Notify::NEVER;
            for word in s.split(',') {
                let slot = match word {
                    "success" => &mut n.success,
                    "failure" => &mut n.failure,
                    "delay" => &mut n.delay,
                    _ => return Err(err(line_no, "unknown NOTIFY keyword")),
                };
                if std::mem::replace(slot, true) {
                    return Err(err(line_no, "repeated NOTIFY keyword"));
                }
            }
            Ok(Some(n))
        }
    }
}

/// Splits a file into `(line number, key, value)`, after checking its first
/// line. Stops at the first empty line.
fn fields<'a>(
    text: &'a str,
    magic: &str,
) -> Result<impl Iterator<Item = Result<(usize, &'a str, &'a str), DecodeError>>, DecodeError> {
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let version = first
        .strip_prefix(magic)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| err(1, format!("not a {magic} file")))?;
    if version != VERSION.to_string() {
        return Err(err(1, format!("unsupported version {version:?}")));
    }
    Ok(lines
        .enumerate()
        .map(|(i, l)| (i + 2, l))
        .take_while(|(_, l)| !l.is_empty())
        .map(|(n, l)| {
            let (key, value) = l
                .split_once(": ")
                .ok_or_else(|| err(n, "expected 'key: value'"))?;
            Ok((n, key, value))
        }))
}

fn set<T>(slot: &mut Option<T>, value: T, n: usize, key: &str) -> Result<(), DecodeError> {
    if slot.replace(value).is_some() {
        return Err(err(n, format!("repeated key {key}")));
    }
    Ok(())
}

fn required<T>(slot: Option<T>, key: &str) -> Result<T, DecodeError> {
    slot.ok_or_else(|| err(0, format!("missing key {key}")))
}

fn split_exact<const N: usize>(n: usize, value: &str) -> Result<[&str; N], DecodeError> {
    let mut parts = value.split(' ');
    let mut out = [""; N];
    for slot in &mut out {
        *slot = parts.next().ok_or_else(|| err(n, "too few fields"))?;
    }
    if parts.next().is_some() {
        return Err(err(n, "too many fields"));
    }
    Ok(out)
}

/// Parses a message file's header: `text` is everything before the empty
/// line (the empty line itself may follow).
pub(crate) fn decode_message_header(text: &str) -> Result<MessageHeader, DecodeError> {
    let mut id = None;
    let mut queued = None;
    let mut size = None;
    let mut sender = None;
    let mut received = None;
    let mut priority = None;
    let mut envid = None;
    let mut ret = None;
    let mut auth = None;
    let mut body = None;
    let mut smtputf8 = None;
    let mut requiretls = None;
    let mut hold_until = None;
    let mut deliver_by = None;
    let mut client_addr = None;
    let mut client_name = None;
    let mut helo = None;
    let mut protocol = None;
    let mut tls = None;
    let mut recipients = Vec::new();
    for field in fields(text, MESSAGE_MAGIC)? {
        let (n, key, v) = field?;
        match key {
            "id" => set(
                &mut id,
                v.parse::<QueueId>().map_err(|_| err(n, "bad queue ID"))?,
                n,
                key,
            )?,
            "queued" => set(
                &mut queued,
                Timestamp::from_unix_millis(number(n, v)?),
                n,
                key,
            )?,
            "size" => set(&mut size, number::<u64>(n, v)?, n, key)?,
            "sender" => set(&mut sender, unpct(n, v)?, n, key)?,
            "received" => set(
                &mut received,
                Timestamp::from_unix_millis(number(n, v)?),
                n,
                key,
            )?,
            "priority" => {
                let p: i8 = v.parse().map_err(|_| err(n, "not a number"))?;
                if !(-9..=9).contains(&p) {
                    return Err(err(n, "priority outside -9..=9"));
                }
                set(&mut priority, p, n, key)?;
            }
            "envid" => set(&mut envid, unpct(n, v)?, n, key)?,
            "ret" => {
                let r = match v {
                    "full" => Ret::Full,
                    "headers" => Ret::Headers,
                    _ => return Err(err(n, "unknown RET")),
                };
                set(&mut ret, r, n, key)?;
            }
            "auth" => set(&mut auth, unpct(n, v)?, n, key)?,
            "body" => {
                let b = match v {
                    "7bit" => Body::SevenBit,
                    "8bitmime" => Body::EightBitMime,
                    "binarymime" => Body::BinaryMime,
                    _ => return Err(err(n, "unknown BODY")),
                };
                set(&mut body, b, n, key)?;
            }
            "smtputf8" | "requiretls" => {
                if v != "yes" {
                    return Err(err(n, "expected yes"));
                }
                let slot = if key == "smtputf8" {
                    &mut smtputf8
                } else {
                    &mut requiretls
                };
                set(slot, true, n, key)?;
            }
            "hold-until" => set(
                &mut hold_until,
                Timestamp::from_unix_millis(number(n, v)?),
                n,
                key,
            )?,
            "deliver-by" => {
                let [deadline, mode, trace] = split_exact(n, v)?;
                let mode = match mode {
                    "return" => ByMode::Return,
                    "notify" => ByMode::Notify,
                    _ => return Err(err(n, "unknown DELIVERBY mode")),
                };
                let trace = match trace {
                    "trace" => true,
                    "notrace" => false,
                    _ => return Err(err(n, "expected trace or notrace")),
                };
                let by = DeliverBy {
                    deadline: Timestamp::from_unix_millis(number(n, deadline)?),
                    mode,
                    trace,
                };
                set(&mut deliver_by, by, n, key)?;
            }
            "client-addr" => {
                let addr: IpAddr = v.parse().map_err(|_| err(n, "bad IP address"))?;
                set(&mut client_addr, addr, n, key)?;
            }
            "client-name" => set(&mut client_name, unpct(n, v)?, n, key)?,
            "helo" => set(&mut helo, unpct(n, v)?, n, key)?,
            "protocol" => set(&mut protocol, unpct(n, v)?, n, key)?,
            "tls" => set(&mut tls, unpct(n, v)?, n, key)?,
            "rcpt" => {
                let [address, notify_field, orcpt_type, orcpt_addr] = split_exact(n, v)?;
                let address =
                    untoken(n, address)?.ok_or_else(|| err(n, "recipient without address"))?;
                let orcpt = match (untoken(n, orcpt_type)?, untoken(n, orcpt_addr)?) {
                    (None, None) => None,
                    (Some(addr_type), Some(address)) => {
                        Some(OriginalRecipient { addr_type, address })
                    }
                    _ => return Err(err(n, "ORCPT needs both a type and an address")),
                };
                recipients.push(Recipient {
                    address,
                    notify: notify(n, notify_field)?,
                    orcpt,
                });
            }
            _ => return Err(err(n, format!("unknown key {key}"))),
        }
    }
    if recipients.is_empty() {
        return Err(err(0, "no recipients"));
    }
    Ok(MessageHeader {
        id: required(id, "id")?,
        queued: required(queued, "queued")?,
        size: required(size, "size")?,
        envelope: Envelope {
            sender: required(sender, "sender")?,
            recipients,
            envid,
            ret,
            received: required(received, "received")?,
            auth,
            body,
            smtputf8: smtputf8.unwrap_or(false),
            requiretls: requiretls.unwrap_or(false),
            priority: required(priority, "priority")?,
            hold_until,
            deliver_by,
            trace: Trace {
                client_addr,
                client_name,
                helo,
                protocol,
                tls,
            },
        },
    })
}

/// Parses a state file.
pub(crate) fn decode_state(text: &str) -> Result<(QueueId, MessageState), DecodeError> {
    let mut id = None;
    let mut attempts = None;
    let mut next_attempt = None;
    let mut held = None;
    let mut delay_warned = None;
    let mut recipients = Vec::new();
    let mut end = None;
    if !text.ends_with('\n') || text.contains("\n\n") {
        return Err(err(0, "truncated, or an empty line"));
    }
    for field in fields(text, STATE_MAGIC)? {
        let (n, key, v) = field?;
        if end.is_some() {
            return Err(err(n, "a line after the end line"));
        }
        match key {
            "end" => {
                if number::<usize>(n, v)? != recipients.len() {
                    return Err(err(n, "the end line does not match the recipient count"));
                }
                end = Some(());
            }
            "id" => set(
                &mut id,
                v.parse::<QueueId>().map_err(|_| err(n, "bad queue ID"))?,
                n,
                key,
            )?,
            "attempts" => set(&mut attempts, number::<u32>(n, v)?, n, key)?,
            "next-attempt" => set(
                &mut next_attempt,
                Timestamp::from_unix_millis(number(n, v)?),
                n,
                key,
            )?,
            "held" => set(&mut held, yes_no(n, v)?, n, key)?,
            "delay-warned" => set(&mut delay_warned, yes_no(n, v)?, n, key)?,
            "rcpt" => {
                let [status, updated, reply] = split_exact(n, v)?;
                let status = match status {
                    "pending" => RecipientStatus::Pending,
                    "delivered" => RecipientStatus::Delivered,
                    "failed" => RecipientStatus::Failed,
                    _ => return Err(err(n, "unknown recipient status")),
                };
                let updated = match updated {
                    "-" => None,
                    t => Some(Timestamp::from_unix_millis(number(n, t)?)),
                };
                recipients.push(RecipientState {
                    status,
                    updated,
                    last_reply: untoken(n, reply)?,
                });
            }
            _ => return Err(err(n, format!("unknown key {key}"))),
        }
    }
    required(end, "end (the file is truncated)")?;
    Ok((
        required(id, "id")?,
        MessageState {
            attempts: required(attempts, "attempts")?,
            next_attempt: required(next_attempt, "next-attempt")?,
            held: required(held, "held")?,
            delay_warned: required(delay_warned, "delay-warned")?,
            recipients,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> MessageHeader {
        let mut e = Envelope::new(
            "",
            [
                Recipient {
                    address: "bob@example.com".into(),
                    notify: Some(Notify {
                        success: true,
                        failure: true,
                        delay: false,
                    }),
                    orcpt: Some(OriginalRecipient {
                        addr_type: "rfc822".into(),
                        address: "Bob <b@x>".into(),
                    }),
                },
                Recipient::new("+-%"),
            ],
            Timestamp::from_unix_millis(5),
        );
        e.deliver_by = Some(DeliverBy {
            deadline: Timestamp::from_unix_millis(99),
            mode: ByMode::Notify,
            trace: true,
        });
        e.trace.client_addr = Some("2001:db8::1".parse().unwrap());
        e.trace.helo = Some("héllo\r\nwörld".into());
        MessageHeader {
            id: QueueId::from_parts(Timestamp::from_unix_millis(7), 1),
            queued: Timestamp::from_unix_millis(7),
            size: 3,
            envelope: e,
        }
    }

    #[test]
    fn header_is_readable_and_round_trips() {
        let h = header();
        let text = encode_message_header(&h);
        assert!(text.contains("sender: \n"), "{text}");
        assert!(
            text.contains("rcpt: +bob@example.com success,failure +rfc822 +Bob%20<b@x>\n"),
            "{text}"
        );
        assert!(text.contains("rcpt: ++-%25 - - -\n"), "{text}");
        assert!(text.ends_with("\n\n") && text.is_ascii());
        assert_eq!(decode_message_header(&text), Ok(h));
    }

    #[test]
    fn decoder_rejects_what_it_does_not_know() {
        let text = encode_message_header(&header());
        let cases = [
            text.replace("postel-queue-message 1", "postel-queue-message 2"),
            text.replace("size: 3\n", "size: 3\nsize: 3\n"),
            text.replace("size: 3\n", "colour: blue\n"),
            text.replace("size: 3\n", ""),
            text.replace("size: 3", "size: -3"),
            text.replace("+rfc822", "-"),
            text.replace("%20", "%2"),
            text.replace("%20", "%C3"),
            text.replace("priority: 0", "priority: 10"),
            text.replace("success,failure", "success,success"),
            text.lines()
                .filter(|l| !l.starts_with("rcpt"))
                .collect::<Vec<_>>()
                .join("\n"),
            String::new(),
        ];
        for case in cases {
            assert!(decode_message_header(&case).is_err(), "{case}");
        }
        let state = encode_state(
            header().id,
            &MessageState::fresh(&header().envelope, Timestamp::EPOCH),
        );
        assert!(decode_state(&state).is_ok());
        for cut in 1..state.len() {
            assert!(decode_state(&state[..cut]).is_err(), "{}", &state[..cut]);
        }
        assert!(decode_state(&format!("{state}\njunk")).is_err());
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,12}",
            any::<String>(),
            Just(String::new()),
            Just("-".to_string()),
            Just("+".to_string()),
        ]
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn ts() -> impl Strategy<Value = Timestamp> {
        any::<u64>().prop_map(Timestamp::from_unix_millis)
    }

    fn recipient() -> impl Strategy<Value = Recipient> {
        (
            text(),
            proptest::option::of((any::<bool>(), any::<bool>(), any::<bool>())),
            proptest::option::of((text(), text())),
        )
            .prop_map(|(address, notify, orcpt)| Recipient {
                address,
                notify: notify.map(|(success, failure, delay)| Notify {
                    success,
                    failure,
                    delay,
                }),
                orcpt: orcpt.map(|(addr_type, address)| OriginalRecipient { addr_type, address }),
            })
    }

    prop_compose! {
        fn envelope()(
            sender in text(),
            recipients in proptest::collection::vec(recipient(), 1..5),
            envid in opt_text(),
            ret in proptest::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Headers)]),
            received in ts(),
            auth in opt_text(),
            body in proptest::option::of(prop_oneof![Just(Body::SevenBit), Just(Body::EightBitMime), Just(Body::BinaryMime)]),
            flags in (any::<bool>(), any::<bool>()),
            priority in -9i8..=9,
            hold_until in proptest::option::of(ts()),
            by in proptest::option::of((ts(), any::<bool>(), any::<bool>())),
            addr in proptest::option::of(any::<IpAddr>()),
            names in (opt_text(), opt_text(), opt_text(), opt_text()),
        ) -> Envelope {
            Envelope {
                sender, recipients, envid, ret, received, auth, body,
                smtputf8: flags.0, requiretls: flags.1, priority, hold_until,
                deliver_by: by.map(|(deadline, r, trace)| DeliverBy {
                    deadline, mode: if r { ByMode::Return } else { ByMode::Notify }, trace,
                }),
                trace: Trace { client_addr: addr, client_name: names.0, helo: names.1, protocol: names.2, tls: names.3 },
            }
        }
    }

    fn recipient_state() -> impl Strategy<Value = RecipientState> {
        (
            prop_oneof![
                Just(RecipientStatus::Pending),
                Just(RecipientStatus::Delivered),
                Just(RecipientStatus::Failed)
            ],
            proptest::option::of(ts()),
            opt_text(),
        )
            .prop_map(|(status, updated, last_reply)| RecipientState {
                status,
                updated,
                last_reply,
            })
    }

    proptest! {
        #[test]
        fn message_header_round_trips(
            e in envelope(), millis in 0u64..0xFFFF_FFFF_FFFF, seq: u16, queued in ts(), size: u64,
        ) {
            let h = MessageHeader { id: QueueId::from_parts(Timestamp::from_unix_millis(millis), seq), queued, size, envelope: e };
            let text = encode_message_header(&h);
            prop_assert!(text.is_ascii());
            prop_assert_eq!(text.find("\n\n"), Some(text.len() - 2));
            prop_assert_eq!(decode_message_header(&text), Ok(h));
        }

        #[test]
        fn state_round_trips(
            millis in 0u64..0xFFFF_FFFF_FFFF, seq: u16, attempts: u32, next in ts(),
            held: bool, delay_warned: bool,
            recipients in proptest::collection::vec(recipient_state(), 0..6),
        ) {
            let id = QueueId::from_parts(Timestamp::from_unix_millis(millis), seq);
            let s = MessageState { attempts, next_attempt: next, held, delay_warned, recipients };
            let text = encode_state(id, &s);
            prop_assert!(text.is_ascii());
            prop_assert_eq!(decode_state(&text), Ok((id, s)));
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = decode_message_header(&text);
            let _ = decode_state(&text);
        }
    }
}
