//! Every command in every state, right and wrong, with the exact response.

mod common;

use common::{Harness, RFC_TIMESTAMP, config, rfc_store};
use postel_pop3::apop::apop_digest;
use postel_pop3::server::{ServerConfig, SessionState};

fn patient() -> ServerConfig {
    let mut c = config();
    c.limits.max_errors = 1000;
    c
}

fn harness() -> Harness {
    Harness::new(patient(), rfc_store(), Some(RFC_TIMESTAMP))
}

fn check(h: &mut Harness, table: &[(&str, &str)]) {
    for (command, expected) in table {
        assert_eq!(h.say(command), *expected, "command {command:?}");
    }
}

const NOT_IN_AUTHORIZATION: [&str; 10] = [
    "STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL", "UIDL 1",
];

#[test]
fn authorization_state() {
    let mut h = harness();
    assert_eq!(h.session.state(), SessionState::Authorization);
    for command in NOT_IN_AUTHORIZATION {
        let verb = command.split(' ').next().unwrap();
        assert_eq!(
            h.say(command),
            format!("-ERR {verb} is not valid in the AUTHORIZATION state\r\n"),
            "{command}"
        );
    }
    check(
        &mut h,
        &[
            ("XTND XMIT", "-ERR Unknown command\r\n"),
            ("", "-ERR Unknown command\r\n"),
            ("USER", "-ERR Syntax error in USER: expected one name\r\n"),
            (
                "USER a b",
                "-ERR Syntax error in USER: expected one name\r\n",
            ),
            ("PASS", "-ERR Syntax error in PASS: expected a password\r\n"),
            ("PASS tanstaaf", "-ERR Send USER first\r\n"),
            (
                "APOP mrose",
                "-ERR Syntax error in APOP: expected a name and a digest\r\n",
            ),
            (
                "APOP mrose 1234",
                "-ERR Syntax error in APOP: the digest must be 32 hex digits\r\n",
            ),
            (
                "APOP mrose 00000000000000000000000000000000",
                "-ERR [AUTH] Invalid user name or password\r\n",
            ),
            ("AUTH FOO", "-ERR Unrecognized authentication mechanism\r\n"),
            (
                "AUTH XOAUTH2",
                "-ERR Unrecognized authentication mechanism\r\n",
            ),
            ("AUTH PLAIN !!!", "-ERR Cannot decode initial response\r\n"),
            (
                "AUTH",
                "+OK Supported mechanisms follow\r\nSCRAM-SHA-256\r\nPLAIN\r\nLOGIN\r\n.\r\n",
            ),
            ("STLS", "-ERR STLS not available\r\n"),
            (
                "STLS x",
                "-ERR Syntax error in STLS: no arguments allowed\r\n",
            ),
            (
                "CAPA x",
                "-ERR Syntax error in CAPA: no arguments allowed\r\n",
            ),
            (
                "QUIT now",
                "-ERR Syntax error in QUIT: no arguments allowed\r\n",
            ),
            ("USER nobody", "+OK nobody send PASS\r\n"),
            ("PASS x", "-ERR [AUTH] Invalid user name or password\r\n"),
            ("user mrose", "+OK mrose send PASS\r\n"),
            // A second USER replaces the first.
            ("USER alice", "+OK alice send PASS\r\n"),
            (
                "PASS tanstaaf",
                "-ERR [AUTH] Invalid user name or password\r\n",
            ),
        ],
    );
    assert_eq!(h.session.state(), SessionState::Authorization);
    let digest = apop_digest(RFC_TIMESTAMP, "tanstaaf");
    assert_eq!(
        h.say(&format!("apop mrose {}", digest.to_uppercase())),
        "+OK mrose's maildrop has 2 messages (320 octets)\r\n"
    );
    assert_eq!(h.session.state(), SessionState::Transaction);
}

#[test]
fn apop_without_timestamp_is_refused() {
    let mut h = Harness::new(patient(), rfc_store(), None);
    let greeting = String::from_utf8(h.output.clone()).unwrap();
    assert_eq!(greeting, "+OK POP3 server ready\r\n");
    assert_eq!(
        h.say(&format!(
            "APOP mrose {}",
            apop_digest(RFC_TIMESTAMP, "tanstaaf")
        )),
        "-ERR APOP not available\r\n"
    );
}

#[test]
fn user_disabled() {
    let mut c = patient();
    c.extensions.user = false;
    let mut h = Harness::new(c, rfc_store(), None);
    assert_eq!(
        h.say("USER mrose"),
        "-ERR USER not available; use APOP or AUTH\r\n"
    );
    assert!(!h.say("CAPA").contains("\r\nUSER\r\n"));
}

#[test]
fn transaction_state() {
    let mut h = harness();
    h.login();
    for command in ["USER mrose", "PASS x", "AUTH PLAIN", "AUTH", "STLS", "UTF8"] {
        let verb = command.split(' ').next().unwrap();
        assert_eq!(
            h.say(command),
            format!("-ERR {verb} is not valid in the TRANSACTION state\r\n"),
            "{command}"
        );
    }
    let digest = apop_digest(RFC_TIMESTAMP, "tanstaaf");
    assert_eq!(
        h.say(&format!("APOP mrose {digest}")),
        "-ERR APOP is not valid in the TRANSACTION state\r\n"
    );
    let none = "-ERR no such message, only 2 messages in maildrop\r\n";
    check(
        &mut h,
        &[
            ("STAT", "+OK 2 320\r\n"),
            ("LIST 1", "+OK 1 120\r\n"),
            ("LIST 0", none),
            ("LIST 3", none),
            ("LIST 4294967296", none),
            (
                "LIST x",
                "-ERR Syntax error in LIST: the message number must be digits\r\n",
            ),
            (
                "LIST 1 2",
                "-ERR Syntax error in LIST: expected at most one message number\r\n",
            ),
            (
                "RETR",
                "-ERR Syntax error in RETR: expected one message number\r\n",
            ),
            (
                "RETR -1",
                "-ERR Syntax error in RETR: the message number must be digits\r\n",
            ),
            ("RETR 0", none),
            ("RETR 3", none),
            ("DELE 3", none),
            (
                "DELE",
                "-ERR Syntax error in DELE: expected one message number\r\n",
            ),
            (
                "TOP 1",
                "-ERR Syntax error in TOP: expected a message number and a line count\r\n",
            ),
            (
                "TOP 1 x",
                "-ERR Syntax error in TOP: the line count must be digits\r\n",
            ),
            ("TOP 3 0", none),
            ("UIDL 0", none),
            (
                "NOOP x",
                "-ERR Syntax error in NOOP: no arguments allowed\r\n",
            ),
            (
                "STAT 1",
                "-ERR Syntax error in STAT: no arguments allowed\r\n",
            ),
            (
                "RSET 1",
                "-ERR Syntax error in RSET: no arguments allowed\r\n",
            ),
            ("NOOP", "+OK\r\n"),
            // Deleted messages vanish from every view but keep their number.
            ("DELE 1", "+OK message 1 deleted\r\n"),
            ("STAT", "+OK 1 200\r\n"),
            ("LIST", "+OK 1 message (200 octets)\r\n2 200\r\n.\r\n"),
            (
                "UIDL",
                "+OK unique-id listing follows\r\n2 QhdPYR:00WBw1Ph7x8\r\n.\r\n",
            ),
            ("LIST 1", "-ERR message 1 already deleted\r\n"),
            ("UIDL 1", "-ERR message 1 already deleted\r\n"),
            ("RETR 1", "-ERR message 1 already deleted\r\n"),
            ("TOP 1 0", "-ERR message 1 already deleted\r\n"),
            ("DELE 1", "-ERR message 1 already deleted\r\n"),
            ("LIST 2", "+OK 2 200\r\n"),
            ("DELE 2", "+OK message 2 deleted\r\n"),
            ("STAT", "+OK 0 0\r\n"),
            ("LIST", "+OK 0 messages (0 octets)\r\n.\r\n"),
            ("RSET", "+OK maildrop has 2 messages (320 octets)\r\n"),
            ("STAT", "+OK 2 320\r\n"),
        ],
    );
    assert_eq!(
        h.say("TOP 1 0"),
        "+OK top of message follows\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n"
    );
    assert_eq!(
        h.say("TOP 1 1"),
        "+OK top of message follows\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n..leading dot\r\n.\r\n"
    );
    let retr = h.say("RETR 1");
    assert!(retr.starts_with("+OK 120 octets\r\nFrom: a@example.org\r\n"));
    assert!(retr.contains("\r\n..leading dot\r\n...two dots\r\n"));
    assert!(retr.ends_with("xx\r\n.\r\n"));
    // Nothing was removed: deletions wait for QUIT.
    assert_eq!(h.store.messages("mrose").len(), 2);
    assert!(h.store.is_locked("mrose"));
    h.say("DELE 2");
    assert_eq!(
        h.say("QUIT"),
        "+OK dewey POP3 server signing off (1 message left)\r\n"
    );
    assert_eq!(h.session.state(), SessionState::Closed);
    let left = h.store.messages("mrose");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, "QhdPYR:00WBw1Ph7x7");
    assert!(!h.store.is_locked("mrose"));
}

#[test]
fn closed_session_ignores_input() {
    let mut h = harness();
    h.say("QUIT");
    assert_eq!(h.say("USER mrose"), "");
    assert_eq!(h.say("QUIT"), "");
    assert!(!h.session.wants_input());
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn empty_maildrop() {
    let mut h = harness();
    h.say("USER alice");
    assert_eq!(
        h.say("PASS secret"),
        "+OK alice's maildrop has 0 messages (0 octets)\r\n"
    );
    check(
        &mut h,
        &[
            ("STAT", "+OK 0 0\r\n"),
            ("LIST", "+OK 0 messages (0 octets)\r\n.\r\n"),
            ("UIDL", "+OK unique-id listing follows\r\n.\r\n"),
            (
                "RETR 1",
                "-ERR no such message, only 0 messages in maildrop\r\n",
            ),
            (
                "QUIT",
                "+OK dewey POP3 server signing off (maildrop empty)\r\n",
            ),
        ],
    );
}

#[test]
fn keywords_are_case_insensitive_and_bare_lf_is_accepted() {
    let mut h = harness();
    h.take_new_output();
    h.feed(b"uSeR mrose\npAsS tanstaaf\nsTaT\r\n");
    assert_eq!(
        h.take_new_output(),
        "+OK mrose send PASS\r\n+OK mrose's maildrop has 2 messages (320 octets)\r\n+OK 2 320\r\n"
    );
}

#[test]
fn password_with_spaces() {
    let mut h = harness();
    h.passwords
        .insert("alice".into(), "correct horse  battery".into());
    h.say("USER alice");
    assert!(
        h.say("PASS correct horse  battery")
            .starts_with("+OK alice's")
    );
}
