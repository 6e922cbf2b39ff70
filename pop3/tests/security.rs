//! Limits, timeouts, dropped connections, STLS plaintext injection,
//! plaintext logins before TLS, maildrop locking, and misuse of the
//! session's API.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{CHUNK_SIZES, Harness, RFC_TIMESTAMP, config, rfc_store};
use postel_pop3::UsageError;
use postel_pop3::maildrop::{MaildropAgent, MaildropRefusal, MessageInfo};
use postel_pop3::multiline::Flow;
use postel_pop3::server::{
    ConnectionInfo, ServerConfig, ServerEvent, ServerSession, SessionState, TlsInfo,
};

fn tls_config() -> ServerConfig {
    let mut c = config();
    c.allow_plaintext_login = false;
    c.extensions.stls = true;
    c
}

// ----- limits -----

#[test]
fn command_line_limit_is_255_octets_with_crlf() {
    for chunk in CHUNK_SIZES {
        let mut h = Harness::rfc();
        h.take_new_output();
        let fits = format!("USER {}\r\n", "a".repeat(255 - 7));
        assert_eq!(fits.len(), 255);
        let too_long = format!("USER {}\r\n", "a".repeat(256 - 7));
        let input = format!("{fits}{too_long}NOOP\r\nQUIT\r\n");
        h.feed_chunked(input.as_bytes(), chunk);
        assert_eq!(
            h.take_new_output(),
            format!(
                "+OK {} send PASS\r\n-ERR Line too long\r\n-ERR NOOP is not valid in the AUTHORIZATION state\r\n\
                 +OK dewey POP3 server signing off\r\n",
                "a".repeat(248)
            ),
            "chunk size {chunk}"
        );
    }
}

#[test]
fn endless_line_is_skipped_in_bounded_memory() {
    let mut h = Harness::rfc();
    h.take_new_output();
    let block = vec![b'x'; 64 * 1024];
    for _ in 0..64 {
        h.feed(&block); // 4 MiB without a line end
        assert_eq!(h.take_new_output(), "");
    }
    h.feed(b"\r\nQUIT\r\n");
    assert_eq!(
        h.take_new_output(),
        "-ERR Line too long\r\n+OK dewey POP3 server signing off\r\n"
    );
}

#[test]
fn configured_line_limit() {
    let mut c = config();
    c.limits.command_line = 12;
    let mut h = Harness::new(c, rfc_store(), None);
    assert_eq!(h.say("USER abcde"), "+OK abcde send PASS\r\n"); // 12 octets
    assert_eq!(h.say("USER abcdef"), "-ERR Line too long\r\n"); // 13 octets
}

#[test]
fn auth_initial_response_counts_toward_the_command_line() {
    let mut h = Harness::rfc();
    // RFC 5034 §4: an initial response that makes AUTH longer than 255
    // octets must not be sent; the server refuses such a line.
    let ir = "A".repeat(300);
    assert_eq!(h.say(&format!("AUTH PLAIN {ir}")), "-ERR Line too long\r\n");
    assert_eq!(h.session.state(), SessionState::Authorization);
}

#[test]
fn sasl_line_limit() {
    let mut c = config();
    c.limits.sasl_line = 1000;
    let mut h = Harness::new(c, rfc_store(), None);
    assert_eq!(h.say("AUTH PLAIN"), "+ \r\n");
    // 996 base64 characters + CRLF: within the limit, reaches the mechanism.
    let response = "QUFB".repeat(249);
    assert_eq!(
        h.say(&response),
        "-ERR Cannot decode authentication response\r\n"
    );
    assert_eq!(h.say("AUTH PLAIN"), "+ \r\n");
    let response = "QUFB".repeat(250); // 1000 + CRLF: over
    assert_eq!(h.say(&response), "-ERR Authentication line too long\r\n");
    // The exchange is over; commands work again.
    assert_eq!(h.say("USER mrose"), "+OK mrose send PASS\r\n");
}

#[test]
fn too_many_errors_close_the_session() {
    let mut c = config();
    c.limits.max_errors = 3;
    let mut h = Harness::new(c, rfc_store(), None);
    assert_eq!(h.say("BOGUS"), "-ERR Unknown command\r\n");
    h.say("USER mrose");
    assert_eq!(
        h.say("PASS wrong"),
        "-ERR [AUTH] Invalid user name or password\r\n"
    );
    assert_eq!(
        h.say("STAT"),
        "-ERR STAT is not valid in the AUTHORIZATION state\r\n-ERR Too many errors, closing connection\r\n"
    );
    assert!(h.session.is_closed());
    assert_eq!(h.say("USER mrose"), "");
}

#[test]
fn message_errors_do_not_count() {
    let mut c = config();
    c.limits.max_errors = 2;
    let mut h = Harness::new(c, rfc_store(), None);
    h.login();
    for _ in 0..10 {
        h.say("RETR 9");
        h.say("DELE 1");
    }
    assert!(!h.session.is_closed());
}

#[test]
fn pipelined_input_is_bounded_while_a_decision_is_pending() {
    let mut c = config();
    c.limits.max_buffered_input = 1024;
    let now = Instant::now();
    let mut s = ServerSession::new(Arc::new(c), ConnectionInfo::default(), now);
    s.poll_transmit();
    s.enqueue_input(now, b"USER mrose\r\nPASS tanstaaf\r\n");
    assert_eq!(s.poll_event().map(|e| e.needs_decision()), Some(true));
    assert!(!s.wants_input());
    s.enqueue_input(now, &[b'N'; 1000]);
    assert!(!s.is_closed());
    s.enqueue_input(now, &[b'N'; 100]);
    assert!(s.is_closed());
    let out = String::from_utf8(s.poll_transmit().unwrap()).unwrap();
    assert!(out.ends_with("-ERR Too much pipelined input, closing connection\r\n"));
    assert_eq!(s.login_verified(true), Err(UsageError::NoPendingDecision));
}

// ----- timeouts and dropped connections -----

#[test]
fn timeout_closes_silently_and_keeps_every_message() {
    let mut h = Harness::rfc();
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(600))
    );
    h.login();
    h.say("DELE 1");
    h.say("DELE 2");
    let deadline = h.session.poll_timeout().unwrap();
    assert_eq!(deadline, h.now + Duration::from_secs(600));
    h.session.handle_timeout(deadline - Duration::from_secs(1));
    assert!(!h.session.is_closed());
    h.session.handle_timeout(deadline);
    h.pump();
    assert!(h.session.is_closed());
    assert_eq!(h.take_new_output(), "", "no response on autologout");
    assert_eq!(h.events.last(), Some(&ServerEvent::TimedOut));
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, ServerEvent::Commit { .. }))
    );
    drop(h.agent);
    assert_eq!(h.store.messages("mrose").len(), 2);
    assert!(!h.store.is_locked("mrose"));
}

#[test]
fn configured_timeouts_per_state() {
    let mut c = config();
    c.timeouts.authorization = Duration::from_secs(30);
    c.timeouts.transaction = Duration::from_secs(900);
    let mut h = Harness::new(c, rfc_store(), None);
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(30))
    );
    h.login();
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(900))
    );
    // Input moves the deadline.
    h.now += Duration::from_secs(100);
    h.say("NOOP");
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(900))
    );
}

#[test]
fn dropped_connection_removes_nothing() {
    let store = rfc_store();
    let mut h = Harness::new(config(), store.clone(), None);
    h.login();
    assert_eq!(h.say("DELE 1"), "+OK message 1 deleted\r\n");
    assert_eq!(h.say("DELE 2"), "+OK message 2 deleted\r\n");
    drop(h); // the connection is gone without QUIT
    assert_eq!(store.messages("mrose").len(), 2);
    assert!(!store.is_locked("mrose"));
    // The next session sees both.
    let mut h = Harness::new(config(), store, None);
    h.login();
    assert_eq!(h.say("STAT"), "+OK 2 320\r\n");
}

// ----- STLS -----

#[test]
fn stls_discards_pipelined_plaintext() {
    for chunk in CHUNK_SIZES {
        let mut h = Harness::new(tls_config(), rfc_store(), None);
        h.auto_tls = false;
        h.take_new_output();
        // In one packet, or split: all of it arrives before the handshake.
        h.feed_chunked(b"STLS\r\nUSER mrose\r\nPASS tanstaaf\r\n", chunk);
        h.session.tls_established(TlsInfo::default()).unwrap();
        h.pump();
        assert_eq!(
            h.take_new_output(),
            "+OK Begin TLS negotiation\r\n",
            "chunk size {chunk}"
        );
        assert!(
            !h.events
                .iter()
                .any(|e| matches!(e, ServerEvent::Login { .. })),
            "chunk size {chunk}"
        );
        assert!(h.session.info().tls.is_some());
        assert_eq!(h.session.state(), SessionState::Authorization);
        // Through "TLS" now.
        assert_eq!(h.say("USER mrose"), "+OK mrose send PASS\r\n");
    }
}

#[test]
fn input_before_the_handshake_is_discarded() {
    let mut h = Harness::new(tls_config(), rfc_store(), None);
    h.auto_tls = false;
    h.say("STLS");
    assert!(!h.session.wants_input());
    assert_eq!(h.session.poll_timeout(), None);
    h.feed(b"USER mrose\r\n"); // injected before the handshake
    h.session.tls_established(TlsInfo::default()).unwrap();
    assert_eq!(h.say("PASS tanstaaf"), "-ERR Send USER first\r\n");
    assert_eq!(
        h.session.tls_established(TlsInfo::default()),
        Err(UsageError::WrongState("tls_established without STLS"))
    );
}

#[test]
fn stls_only_once_and_only_before_login() {
    let mut h = Harness::new(tls_config(), rfc_store(), None);
    assert!(h.say("CAPA").contains("\r\nSTLS\r\n"));
    assert_eq!(h.say("STLS"), "+OK Begin TLS negotiation\r\n");
    assert!(!h.say("CAPA").contains("\r\nSTLS\r\n"));
    assert_eq!(h.say("STLS"), "-ERR TLS already active\r\n");
    h.login();
    assert_eq!(
        h.say("STLS"),
        "-ERR STLS is not valid in the TRANSACTION state\r\n"
    );
}

#[test]
fn plaintext_logins_refused_before_tls() {
    let refused = "-ERR [AUTH] Plaintext login is not allowed without TLS; use STLS first\r\n";
    let mut h = Harness::new(tls_config(), rfc_store(), Some(RFC_TIMESTAMP));
    let capa = h.say("CAPA");
    assert!(!capa.contains("\r\nUSER\r\n"), "{capa}");
    assert!(capa.contains("\r\nSASL SCRAM-SHA-256\r\n"), "{capa}");
    assert_eq!(h.say("USER mrose"), refused);
    assert_eq!(h.say("PASS tanstaaf"), "-ERR Send USER first\r\n");
    assert_eq!(h.say("AUTH PLAIN AG1yb3NlAHRhbnN0YWFm"), refused);
    assert_eq!(h.say("AUTH LOGIN"), refused);
    assert_eq!(
        h.say("AUTH"),
        "+OK Supported mechanisms follow\r\nSCRAM-SHA-256\r\n.\r\n"
    );
    // SCRAM and APOP send no password: allowed.
    assert_eq!(h.say("AUTH SCRAM-SHA-256"), "+ \r\n");
    assert_eq!(h.say("*"), "-ERR Authentication cancelled\r\n");
    let digest = postel_pop3::apop::apop_digest(RFC_TIMESTAMP, "tanstaaf");
    assert!(
        h.say(&format!("APOP mrose {digest}"))
            .starts_with("+OK mrose's")
    );
    // After STLS everything is allowed.
    let mut h = Harness::new(tls_config(), rfc_store(), None);
    h.say("STLS");
    let capa = h.say("CAPA");
    assert!(capa.contains("\r\nUSER\r\n"), "{capa}");
    assert!(
        capa.contains("\r\nSASL SCRAM-SHA-256 PLAIN LOGIN\r\n"),
        "{capa}"
    );
    assert!(
        h.say("AUTH PLAIN AG1yb3NlAHRhbnN0YWFm")
            .starts_with("+OK mrose's")
    );
}

// ----- locking -----

#[test]
fn second_session_gets_in_use() {
    let store = rfc_store();
    let mut first = Harness::new(config(), store.clone(), None);
    first.login();
    let mut second = Harness::new(config(), store.clone(), None);
    second.say("USER mrose");
    assert_eq!(
        second.say("PASS tanstaaf"),
        "-ERR [IN-USE] Maildrop is locked by another session\r\n"
    );
    assert_eq!(second.session.state(), SessionState::Authorization);
    first.say("DELE 1");
    first.say("QUIT");
    second.say("USER mrose");
    assert_eq!(
        second.say("PASS tanstaaf"),
        "+OK mrose's maildrop has 1 message (200 octets)\r\n"
    );
}

#[test]
fn maildrop_refusals_carry_response_codes() {
    let cases = [
        (
            MaildropRefusal::LoginDelay,
            "-ERR [LOGIN-DELAY] Logged in too recently; try again later\r\n",
        ),
        (
            MaildropRefusal::Temporary("Storage is offline".into()),
            "-ERR [SYS/TEMP] Storage is offline\r\n",
        ),
        (
            MaildropRefusal::Permanent("Account disabled".into()),
            "-ERR [SYS/PERM] Account disabled\r\n",
        ),
        (
            MaildropRefusal::InUse,
            "-ERR [IN-USE] Maildrop is locked by another session\r\n",
        ),
    ];
    for (refusal, expected) in cases {
        let now = Instant::now();
        let mut s = ServerSession::new(Arc::new(config()), ConnectionInfo::default(), now);
        s.poll_transmit();
        s.enqueue_input(now, b"USER mrose\r\nPASS x\r\n");
        assert!(matches!(s.poll_event(), Some(ServerEvent::Login { .. })));
        s.login_verified(true).unwrap();
        assert!(matches!(
            s.poll_event(),
            Some(ServerEvent::OpenMaildrop { .. })
        ));
        s.maildrop_refused(refusal).unwrap();
        let out = String::from_utf8(s.poll_transmit().unwrap()).unwrap();
        assert!(out.ends_with(expected), "{out}");
        assert_eq!(s.state(), SessionState::Authorization);
    }
}

// ----- the application's side -----

fn logged_in_session() -> ServerSession {
    let now = Instant::now();
    let mut s = ServerSession::new(Arc::new(config()), ConnectionInfo::default(), now);
    s.enqueue_input(now, b"USER mrose\r\nPASS x\r\n");
    s.poll_event();
    s.login_verified(true).unwrap();
    s.poll_event();
    s.maildrop_opened(vec![
        MessageInfo {
            size: 12,
            uid: "a".into(),
        },
        MessageInfo {
            size: 5,
            uid: "b".into(),
        },
    ])
    .unwrap();
    s.poll_transmit();
    s
}

#[test]
fn read_failure_before_and_after_data() {
    let now = Instant::now();
    let mut s = logged_in_session();
    s.enqueue_input(now, b"RETR 1\r\n");
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Retrieve {
            number: 1,
            top_lines: None
        })
    );
    s.message_failed().unwrap();
    assert_eq!(
        s.poll_transmit().unwrap(),
        b"-ERR [SYS/TEMP] Cannot read message 1 now\r\n"
    );
    s.enqueue_input(now, b"RETR 1\r\nNOOP\r\n");
    s.poll_event();
    assert_eq!(s.message_data(b"half a mess"), Ok(Flow::Continue));
    s.message_failed().unwrap();
    assert!(s.is_closed());
    // The client sees a broken transfer: no terminator.
    assert_eq!(s.poll_transmit().unwrap(), b"+OK 12 octets\r\nhalf a mess");
}

#[test]
fn commit_failure_is_reported() {
    let now = Instant::now();
    let mut s = logged_in_session();
    s.enqueue_input(now, b"DELE 2\r\nQUIT\r\n");
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Commit { deleted: vec![2] })
    );
    assert_eq!(s.state(), SessionState::Update);
    s.commit_finished(false).unwrap();
    assert_eq!(s.poll_event(), Some(ServerEvent::Quit));
    let out = String::from_utf8(s.poll_transmit().unwrap()).unwrap();
    assert!(out.ends_with("-ERR [SYS/TEMP] some deleted messages not removed\r\n"));
    assert!(s.is_closed());
}

#[test]
fn decisions_out_of_turn_are_usage_errors() {
    let now = Instant::now();
    let mut s = ServerSession::new(Arc::new(config()), ConnectionInfo::default(), now);
    assert_eq!(s.login_verified(true), Err(UsageError::NoPendingDecision));
    assert_eq!(s.message_end(), Err(UsageError::NoPendingDecision));
    assert_eq!(s.commit_finished(true), Err(UsageError::NoPendingDecision));
    assert!(s.message_data(b"x").is_err());
    assert!(s.maildrop_opened(Vec::new()).is_err());
    s.enqueue_input(now, b"USER mrose\r\nPASS x\r\n");
    assert!(matches!(s.poll_event(), Some(ServerEvent::Login { .. })));
    // The wrong answer keeps the question open.
    assert!(matches!(
        s.maildrop_refused(MaildropRefusal::InUse),
        Err(UsageError::WrongDecision(_))
    ));
    assert!(matches!(
        s.auth_verified(postel_sasl::Verification::Accepted),
        Err(UsageError::WrongDecision(_))
    ));
    s.login_verified(true).unwrap();
    s.poll_event();
    let bad_uid = vec![MessageInfo {
        size: 1,
        uid: "has space".into(),
    }];
    assert!(matches!(
        s.maildrop_opened(bad_uid),
        Err(UsageError::InvalidArgument(_))
    ));
    let dup = vec![
        MessageInfo {
            size: 1,
            uid: "x".into(),
        },
        MessageInfo {
            size: 1,
            uid: "x".into(),
        },
    ];
    assert!(matches!(
        s.maildrop_opened(dup),
        Err(UsageError::InvalidArgument(_))
    ));
    assert!(s.maildrop_opened(Vec::new()).is_ok());
}

#[test]
fn top_stops_reading_early() {
    let store = rfc_store();
    let big = format!("Subject: big\r\n\r\n{}", "line\r\n".repeat(100_000));
    store.add("alice", "big", big.as_bytes()).unwrap();
    let mut h = Harness::with_chunk(config(), store, None, 1024);
    h.say("USER alice");
    h.say("PASS secret");
    let out = h.say("TOP 1 2");
    assert_eq!(
        out,
        "+OK top of message follows\r\nSubject: big\r\n\r\nline\r\nline\r\n.\r\n"
    );
    // A retrieval streams in chunks: the agent moved 1 KiB per pump.
    let out = h.say("RETR 1");
    assert_eq!(out.len(), "+OK 600016 octets\r\n".len() + big.len() + 3);
}

#[test]
fn apop_timestamp_is_checked_by_the_application() {
    let now = Instant::now();
    let ts = postel_pop3::apop::ApopTimestamp::new(RFC_TIMESTAMP).unwrap();
    let mut s = ServerSession::with_apop(Arc::new(config()), ConnectionInfo::default(), ts, now);
    assert_eq!(s.apop_timestamp().unwrap().as_str(), RFC_TIMESTAMP);
    s.enqueue_input(now, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Apop {
            user: "mrose".into(),
            timestamp: RFC_TIMESTAMP.into(),
            digest: "c4c9334bac560ecc979e58001b3e22fb".into()
        })
    );
    let _ = MaildropAgent::new(rfc_store());
}
