//! SMTP smuggling: a DATA body may only end at CRLF "." CRLF. Bare CR and
//! bare LF around a dot must never end the message, so the commands an
//! attacker hides after such a fake terminator are never executed. With the
//! default policy the message is refused (550); with `Normalize` it is
//! accepted with CRLF in place of each bare line ending, and the smuggled
//! text stays part of the body.

mod common;

use common::{ALL_SMALL_CHUNKS, Harness, accept_all, lossy, rcpt, sender};
use postel_smtp::data::{BareLineEnding, BareLineEndings};
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::server::{AbortReason, ServerConfig, ServerEvent};

const PREFIX: &str = "EHLO attacker.example\r\n\
    MAIL FROM:<a@attacker.example>\r\n\
    RCPT TO:<victim@foo.com>\r\n\
    DATA\r\n";

const HEAD: &str = "Subject: hi\r\n\r\nhello";

/// What the attacker hopes a server runs after the fake terminator.
const SMUGGLED: &str = "MAIL FROM:<admin@foo.com>\r\n\
    RCPT TO:<victim@foo.com>\r\n\
    DATA\r\n\
    From: admin@foo.com\r\n\
    \r\n\
    smuggled";

/// The real end of data, then commands that must run.
const SUFFIX: &str = "\r\n.\r\nMAIL FROM:<after@attacker.example>\r\nRSET\r\nQUIT\r\n";

const REFUSAL: &str = "550 5.6.0 Message refused: bare CR or LF in message data; lines must end \
                       with CRLF (RFC 5321 section 2.3.8)\r\n";

fn config(policy: BareLineEndings) -> ServerConfig {
    let mut c = ServerConfig::new("foo.com");
    c.strictness.bare_line_endings = policy;
    c
}

/// Runs PREFIX + `body` + SUFFIX with both policies and every chunk size.
/// `body` is the wire text between DATA's 354 and the real CRLF.CRLF (that
/// CRLF excluded). `rejected_body` is what is handed out before the
/// violation is seen; `normalized_body` what `Normalize` delivers.
fn check(body: &str, kind: BareLineEnding, rejected_body: &str, normalized_body: &str) {
    for policy in [BareLineEndings::Reject, BareLineEndings::Normalize] {
        for chunk in ALL_SMALL_CHUNKS {
            let ctx = format!("policy {policy:?}, chunk {chunk}");
            let mut h = Harness::new(config(policy), accept_all);
            h.take_new_output();

            // Nothing after 354 until the real terminator: no fake end.
            let codes = h.codes(format!("{PREFIX}{body}").as_bytes(), chunk);
            assert_eq!(codes, [250, 250, 250, 354], "{ctx}");

            let out = {
                h.feed(SUFFIX.as_bytes(), chunk);
                h.take_new_output()
            };
            let mut expected_out = String::new();
            match policy {
                BareLineEndings::Reject => expected_out.push_str(REFUSAL),
                BareLineEndings::Normalize => expected_out.push_str("250 2.0.0 Ok: queued\r\n"),
            }
            expected_out.push_str(
                "250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n221 2.0.0 foo.com closing connection\r\n",
            );
            assert_eq!(lossy(&out), expected_out, "{ctx}");

            // The smuggled MAIL never ran; the one after the real end did.
            assert_eq!(
                h.senders(),
                ["<a@attacker.example>", "<after@attacker.example>"],
                "{ctx}"
            );
            assert_eq!(h.recipients(), ["<victim@foo.com>"], "{ctx}");

            let end = match policy {
                BareLineEndings::Reject => ServerEvent::MessageAborted {
                    reason: AbortReason::BareLineEnding(kind),
                },
                BareLineEndings::Normalize => ServerEvent::MessageEnd {
                    size: normalized_body.len() as u64,
                },
            };
            assert_eq!(
                h.events_without_data(),
                vec![
                    ServerEvent::Hello {
                        domain: "attacker.example".into(),
                        extended: true
                    },
                    ServerEvent::MailFrom {
                        from: sender("a@attacker.example"),
                        params: MailParameters::default()
                    },
                    ServerEvent::RcptTo {
                        to: rcpt("victim@foo.com"),
                        params: RcptParameters::default()
                    },
                    ServerEvent::MessageStart,
                    end,
                    ServerEvent::MailFrom {
                        from: sender("after@attacker.example"),
                        params: MailParameters::default()
                    },
                    ServerEvent::TransactionReset,
                    ServerEvent::Quit,
                ],
                "{ctx}"
            );
            let expected_body = match policy {
                BareLineEndings::Reject => rejected_body,
                BareLineEndings::Normalize => normalized_body,
            };
            assert_eq!(h.bodies.len(), 1, "{ctx}");
            assert_eq!(lossy(&h.bodies[0]), expected_body, "{ctx}");
            let delivered = u64::from(policy == BareLineEndings::Normalize);
            assert_eq!(h.session.info().messages, delivered, "{ctx}");
        }
    }
}

/// The smuggled commands with their line ends as they are delivered.
fn smuggled_delivered() -> String {
    format!("{SMUGGLED}\r\n")
}

#[test]
fn bare_lf_dot_bare_lf_does_not_end_data() {
    check(
        &format!("{HEAD}\n.\n{SMUGGLED}"),
        BareLineEnding::Lf,
        HEAD,
        &format!("{HEAD}\r\n.\r\n{}", smuggled_delivered()),
    );
}

#[test]
fn bare_cr_dot_bare_cr_does_not_end_data() {
    check(
        &format!("{HEAD}\r.\r{SMUGGLED}"),
        BareLineEnding::Cr,
        HEAD,
        &format!("{HEAD}\r\n.\r\n{}", smuggled_delivered()),
    );
}

#[test]
fn crlf_dot_bare_lf_does_not_end_data() {
    // The dot follows a real CRLF, so it starts a line; the bare LF after it
    // does not end that line, which therefore is "." followed by more text:
    // a dot-stuffed line whose leading dot is removed (RFC 5321 §4.5.2).
    check(
        &format!("{HEAD}\r\n.\n{SMUGGLED}"),
        BareLineEnding::Lf,
        &format!("{HEAD}\r\n"),
        &format!("{HEAD}\r\n\r\n{}", smuggled_delivered()),
    );
}

#[test]
fn bare_lf_dot_crlf_does_not_end_data() {
    // After a bare LF no line starts, so ".\r\n" is text in the middle of a line.
    check(
        &format!("{HEAD}\n.\r\n{SMUGGLED}"),
        BareLineEnding::Lf,
        HEAD,
        &format!("{HEAD}\r\n.\r\n{}", smuggled_delivered()),
    );
}

#[test]
fn bare_cr_in_body_rejected() {
    check(
        "line one\rline two\r\n\rstarts with CR\r\nends with CR\r\r\nlast",
        BareLineEnding::Cr,
        "line one",
        "line one\r\nline two\r\n\r\nstarts with CR\r\nends with CR\r\n\r\nlast\r\n",
    );
}

#[test]
fn bare_lf_in_body_rejected() {
    check(
        "line one\nline two\r\n\nstarts with LF\r\nends with LF\n\r\nlast",
        BareLineEnding::Lf,
        "line one",
        "line one\r\nline two\r\n\r\nstarts with LF\r\nends with LF\r\n\r\nlast\r\n",
    );
}

#[test]
fn bare_lf_as_first_body_byte_rejected() {
    check("\n.\nafter", BareLineEnding::Lf, "", "\r\n.\r\nafter\r\n");
}

#[test]
fn lone_dot_lines_with_bare_endings_never_end_data() {
    // A run of every fake terminator in one body; only the final CRLF.CRLF
    // ends it.
    check(
        "a\n.\nb\r.\rc\r\n.\nd\n.\r\ne\r\n.\re",
        BareLineEnding::Lf,
        "a",
        "a\r\n.\r\nb\r\n.\r\nc\r\n\r\nd\r\n.\r\ne\r\n\r\ne\r\n",
    );
}
