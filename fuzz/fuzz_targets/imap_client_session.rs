//! Arbitrary server output through the IMAP client session, with commands
//! queued (LOGIN, SELECT, FETCH with bodies, APPEND with a literal, IDLE)
//! and the bytes fed in input-chosen chunks: no panic, buffering stays
//! within the configured limits, and a second feeding one byte at a time
//! gives the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_imap::client::{ClientConfig, ClientEvent, ClientSession, ResponseLimits};
use postel_imap::{Command, CommandBody};

fn queue(s: &mut ClientSession) {
    let _ = s.login("alice", "secret");
    for line in [
        &b"x SELECT INBOX\r\n"[..],
        b"x UID FETCH 1:* (UID FLAGS BODY.PEEK[] ENVELOPE)\r\n",
        b"x APPEND INBOX (\\Seen) {5}\r\nhello\r\n",
        b"x STORE 1 +FLAGS (\\Deleted)\r\n",
    ] {
        if let Ok(c) = Command::parse(line) {
            let _ = s.enqueue(c.body);
        }
    }
    let _ = s.idle();
    let _ = s.enqueue(CommandBody::Logout);
}

fn run(input: &[u8], chunk: usize) -> Vec<String> {
    let limits = ResponseLimits {
        max_line: 1024,
        max_literal: 2048,
        max_response: 8192,
        max_literals: 16,
        stream_threshold: 256,
    };
    let mut s = ClientSession::new(ClientConfig {
        limits,
        allow_plaintext_auth: true,
        max_collected: 16 * 1024,
        ..ClientConfig::default()
    });
    queue(&mut s);
    let mut events = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        s.enqueue_input(piece);
        while let Some(ev) = s.next_event() {
            if matches!(ev, ClientEvent::StartTls) {
                let _ = s.tls_established();
            }
            if matches!(ev, ClientEvent::IdleStarted { .. }) {
                let _ = s.idle_done();
            }
            // Streamed data comes in chunk-dependent pieces: record only
            // the kind of event for those.
            events.push(match &ev {
                ClientEvent::FetchLiteralData(_) => "data".to_string(),
                other => format!("{other:?}"),
            });
        }
        let _ = s.poll_transmit();
        assert!(s.buffered() <= 1024 + 8192 + chunk);
    }
    events.dedup_by(|a, b| a == "data" && b == "data");
    events
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (chunk, input) = (usize::from(data[0]) + 1, &data[1..]);
    let a = run(input, chunk);
    let b = run(input, 1);
    assert_eq!(a, b);
});
