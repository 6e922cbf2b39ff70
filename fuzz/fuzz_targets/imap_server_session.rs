//! Arbitrary bytes through a full IMAP server session over the in-memory
//! store (two messages, one multipart), fed in input-chosen chunks with
//! login verdicts drawn from the input: no panic; output stays bounded per
//! step; the store's INBOX never loses a message that no EXPUNGE, MOVE or
//! CLOSE could have removed.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use postel_imap::server::{MemoryStore, ServerConfig, ServerEvent, ServerSession};
use postel_sasl::Verification;

const MULTIPART: &[u8] = b"From: a@example.org\r\nSubject: m\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n";

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (control, input) = data.split_at(2);
    let store = MemoryStore::new();
    store.add_user("alice");
    let _ = store.insert(
        "alice",
        "INBOX",
        Bytes::from_static(b"Subject: a\r\n\r\nbody\r\n"),
        &[],
        None,
    );
    let _ = store.insert("alice", "INBOX", Bytes::from_static(MULTIPART), &[], None);
    let mut config = ServerConfig::new("fuzz");
    config.starttls = true;
    config.plaintext_auth = control[0] & 1 == 0;
    config.extensions.compress = control[0] & 2 == 0;
    config.limits.reader.max_line = 128 + usize::from(control[0]) * 8;
    config.limits.output_high_water = 4096;
    let now = Instant::now();
    let mut s: ServerSession<MemoryStore> = if control[0] & 4 == 0 {
        ServerSession::new(Arc::new(config), now)
    } else {
        ServerSession::preauth(Arc::new(config), "alice", now)
    };
    let mut st = store.clone();
    let chunk = usize::from(control[1]) + 1;
    let mut verdicts = input.iter().cycle();
    for piece in input.chunks(chunk) {
        s.enqueue_input(now, piece);
        loop {
            let event = s.poll_event(&mut st);
            let out = s.poll_transmit().map_or(0, |o| o.len());
            // One step writes at most the high-water mark plus one response.
            assert!(out < 4096 + 256 * 1024);
            let yes = verdicts.next().is_some_and(|b| b & 1 == 0);
            match event {
                Some(ServerEvent::Login { .. }) => {
                    let _ = s.login_verified(yes.then(|| "alice".to_string()));
                }
                Some(ServerEvent::AuthVerify(_)) => {
                    let _ = s.auth_verified(if yes {
                        Verification::Accepted
                    } else {
                        Verification::Rejected
                    });
                }
                Some(ServerEvent::StartTls) => {
                    let _ = s.tls_established();
                }
                Some(_) => {}
                None if out == 0 => break,
                None => {}
            }
        }
        s.check_mailbox(&mut st);
    }
    s.handle_timeout(now + Duration::from_secs(7200));
    assert!(s.is_closed());
    let removable = input.windows(5).any(|w| w.eq_ignore_ascii_case(b"EXPUN"))
        || input.windows(4).any(|w| w.eq_ignore_ascii_case(b"MOVE"))
        || input.windows(5).any(|w| w.eq_ignore_ascii_case(b"CLOSE"))
        || input.windows(6).any(|w| w.eq_ignore_ascii_case(b"RENAME"));
    if !removable {
        assert!(store.messages("alice", "INBOX").len() >= 2);
    }
});
