//! The RFCs' own examples, replayed against the server session byte for
//! byte: RFC 1939 §10 (with APOP), RFC 1939 §5-7's command examples,
//! RFC 2449 §5's CAPA, RFC 5034 §4's AUTH PLAIN, RFC 6856 §3's LANG.

mod common;

use common::{CHUNK_SIZES, Harness, RFC_TIMESTAMP, config, message_one, message_two, rfc_store};
use postel_pop3::apop::apop_digest;
use postel_pop3::capability::{Expire, LoginDelay};
use postel_pop3::server::ServerEvent;
use postel_sasl::Mechanism;

/// The wire form of a message: its content, byte-stuffed, then `.CRLF`.
fn stuffed(message: &[u8]) -> String {
    let text = String::from_utf8(message.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out + ".\r\n"
}

#[test]
fn rfc1939_section_10_example_session() {
    assert_eq!(
        apop_digest(RFC_TIMESTAMP, "tanstaaf"),
        "c4c9334bac560ecc979e58001b3e22fb"
    );
    let client = "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n\
                  STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\nQUIT\r\n";
    let expected = format!(
        "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n\
         +OK mrose's maildrop has 2 messages (320 octets)\r\n\
         +OK 2 320\r\n\
         +OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n\
         +OK 120 octets\r\n{}\
         +OK message 1 deleted\r\n\
         +OK 200 octets\r\n{}\
         +OK message 2 deleted\r\n\
         +OK dewey POP3 server signing off (maildrop empty)\r\n",
        stuffed(&message_one()),
        stuffed(&message_two())
    );
    for chunk in CHUNK_SIZES {
        let mut h = Harness::rfc();
        h.feed_chunked(client.as_bytes(), chunk);
        assert_eq!(h.take_new_output(), expected, "chunk size {chunk}");
        assert!(h.session.is_closed());
        // UPDATE removed both messages and released the lock.
        assert!(h.store.messages("mrose").is_empty());
        assert!(!h.store.is_locked("mrose"));
        assert_eq!(
            h.events.last(),
            Some(&ServerEvent::Quit),
            "chunk size {chunk}"
        );
        assert!(h.events.contains(&ServerEvent::Commit {
            deleted: vec![1, 2]
        }));
    }
}

#[test]
fn rfc1939_command_examples() {
    let mut h = Harness::rfc();
    h.login();
    // STAT (§5)
    assert_eq!(h.say("STAT"), "+OK 2 320\r\n");
    // LIST (§5)
    assert_eq!(
        h.say("LIST"),
        "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
    );
    assert_eq!(h.say("LIST 2"), "+OK 2 200\r\n");
    assert_eq!(
        h.say("LIST 3"),
        "-ERR no such message, only 2 messages in maildrop\r\n"
    );
    // DELE (§5)
    assert_eq!(h.say("DELE 1"), "+OK message 1 deleted\r\n");
    assert_eq!(h.say("DELE 1"), "-ERR message 1 already deleted\r\n");
    // NOOP, RSET (§5)
    assert_eq!(h.say("NOOP"), "+OK\r\n");
    assert_eq!(
        h.say("RSET"),
        "+OK maildrop has 2 messages (320 octets)\r\n"
    );
    // UIDL (§7)
    assert_eq!(
        h.say("UIDL"),
        "+OK unique-id listing follows\r\n1 QhdPYR:00WBw1Ph7x7\r\n2 QhdPYR:00WBw1Ph7x8\r\n.\r\n"
    );
    assert_eq!(h.say("UIDL 2"), "+OK 2 QhdPYR:00WBw1Ph7x8\r\n");
    assert_eq!(
        h.say("UIDL 3"),
        "-ERR no such message, only 2 messages in maildrop\r\n"
    );
    // TOP (§7)
    assert_eq!(
        h.say("TOP 2 2"),
        "+OK top of message follows\r\nFrom: b@example.org\r\nSubject: two\r\n\r\nline 1\r\nline 2\r\n.\r\n"
    );
    assert_eq!(
        h.say("TOP 10 3"),
        "-ERR no such message, only 2 messages in maildrop\r\n"
    );
    // QUIT in TRANSACTION with nothing deleted (§6).
    assert_eq!(
        h.say("QUIT"),
        "+OK dewey POP3 server signing off (2 messages left)\r\n"
    );
    // QUIT in AUTHORIZATION (§4).
    let mut h = Harness::rfc();
    assert_eq!(h.say("QUIT"), "+OK dewey POP3 server signing off\r\n");
    assert!(h.session.is_closed());
}

#[test]
fn rfc1939_user_pass_examples() {
    let mut h = Harness::rfc();
    assert_eq!(h.say("USER mrose"), "+OK mrose send PASS\r\n");
    assert_eq!(
        h.say("PASS tanstaaf"),
        "+OK mrose's maildrop has 2 messages (320 octets)\r\n"
    );
    let mut h = Harness::rfc();
    h.say("USER mrose");
    assert_eq!(
        h.say("PASS secret"),
        "-ERR [AUTH] Invalid user name or password\r\n"
    );
    // After a failed PASS the client starts again with USER.
    assert_eq!(h.say("PASS tanstaaf"), "-ERR Send USER first\r\n");
}

#[test]
fn rfc2449_capa_example() {
    // Configured like the RFC's example server; our SASL mechanisms stand
    // in for its CRAM-MD5 and KERBEROS_V4.
    let mut c = config();
    c.extensions.sasl = vec![Mechanism::ScramSha256];
    c.extensions.login_delay = Some(LoginDelay {
        seconds: 900,
        per_user: false,
    });
    c.extensions.expire = Some(Expire {
        days: Some(60),
        per_user: false,
    });
    c.extensions.implementation = Some("Shlemazle-Plotz-v302".into());
    c.extensions.auth_resp_code = false;
    c.extensions.utf8 = false;
    c.extensions.lang = false;
    let mut h = Harness::new(c, rfc_store(), None);
    assert_eq!(
        h.say("CAPA"),
        "+OK Capability list follows\r\n\
         TOP\r\n\
         USER\r\n\
         SASL SCRAM-SHA-256\r\n\
         RESP-CODES\r\n\
         LOGIN-DELAY 900\r\n\
         PIPELINING\r\n\
         EXPIRE 60\r\n\
         UIDL\r\n\
         IMPLEMENTATION Shlemazle-Plotz-v302\r\n\
         .\r\n"
    );
}

#[test]
fn rfc2449_per_user_values_and_transaction_state() {
    let mut c = config();
    c.extensions.login_delay = Some(LoginDelay {
        seconds: 900,
        per_user: true,
    });
    c.extensions.expire = Some(Expire {
        days: None,
        per_user: true,
    });
    c.extensions.stls = true;
    let mut h = Harness::new(c, rfc_store(), None);
    let before = h.say("CAPA");
    assert!(before.contains("\r\nLOGIN-DELAY 900 USER\r\n"), "{before}");
    assert!(before.contains("\r\nEXPIRE NEVER USER\r\n"), "{before}");
    assert!(before.contains("\r\nSTLS\r\n"), "{before}");
    assert!(before.contains("\r\nUSER\r\n"), "{before}");
    assert!(before.contains("\r\nUTF8\r\n"), "{before}");
    h.login();
    let after = h.say("CAPA");
    assert_eq!(
        after,
        "+OK Capability list follows\r\nTOP\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\nPIPELINING\r\n\
         EXPIRE NEVER\r\nUIDL\r\nIMPLEMENTATION Postel\r\nAUTH-RESP-CODE\r\nLANG\r\n.\r\n"
    );
}

#[test]
fn rfc5034_auth_plain_example() {
    // C: AUTH PLAIN / S: + / C: dGVzdAB0ZXN0AHRlc3Q= (authzid "test",
    // authcid "test", password "test").
    let mut h = Harness::rfc();
    h.passwords.insert("test".into(), "test".into());
    h.store.add("test", "t1", b"x\r\n").unwrap();
    assert_eq!(h.say("AUTH PLAIN"), "+ \r\n");
    assert_eq!(
        h.say("dGVzdAB0ZXN0AHRlc3Q="),
        "+OK test's maildrop has 1 message (3 octets)\r\n"
    );
    // With an initial response, and cancelled.
    let mut h = Harness::rfc();
    assert_eq!(
        h.say("AUTH PLAIN AG1yb3NlAHRhbnN0YWFm"),
        "+OK mrose's maildrop has 2 messages (320 octets)\r\n"
    );
    let mut h = Harness::rfc();
    assert_eq!(h.say("AUTH LOGIN"), "+ VXNlcm5hbWU6\r\n");
    assert_eq!(h.say("*"), "-ERR Authentication cancelled\r\n");
    // Still in AUTHORIZATION.
    assert_eq!(h.say("USER mrose"), "+OK mrose send PASS\r\n");
}

#[test]
fn rfc6856_lang_and_utf8() {
    let mut h = Harness::rfc();
    assert_eq!(
        h.say("LANG"),
        "+OK Language listing follows\r\nen English\r\n.\r\n"
    );
    assert_eq!(h.say("LANG en"), "+OK en Language changed\r\n");
    assert_eq!(h.say("LANG *"), "+OK en Language changed\r\n");
    assert_eq!(h.say("LANG en-GB"), "+OK en Language changed\r\n");
    assert_eq!(h.say("LANG uga"), "-ERR invalid language\r\n");
    assert_eq!(
        h.say("LANG en_US!"),
        "-ERR Syntax error: not a language range\r\n"
    );
    assert_eq!(h.session.info().language, "en");
    assert_eq!(h.say("UTF8"), "+OK UTF8 enabled\r\n");
    assert!(h.session.info().utf8);
    h.login();
    // LANG works in TRANSACTION too; UTF8 does not.
    assert_eq!(h.say("LANG en"), "+OK en Language changed\r\n");
    assert_eq!(
        h.say("UTF8"),
        "-ERR UTF8 is not valid in the TRANSACTION state\r\n"
    );
}
