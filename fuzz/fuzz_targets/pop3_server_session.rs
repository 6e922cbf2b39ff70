//! Arbitrary bytes through a full POP3 server session (APOP, STLS, SASL,
//! UTF8, LANG all offered) over an in-memory maildrop, fed in input-chosen
//! chunks, with credential verdicts also drawn from the input. Nothing may
//! panic, deletions happen only through QUIT, and the maildrop lock is
//! released when the session ends.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use postel_pop3::apop::ApopTimestamp;
use postel_pop3::maildrop::{MaildropAgent, MemoryStore};
use postel_pop3::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession, TlsInfo};
use postel_sasl::{Mechanism, ScramCredentials, Verification, VerifyRequest};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (control, input) = data.split_at(2);
    let store = MemoryStore::new();
    let _ = store.add("mrose", "u1", b"Subject: a\r\n\r\n.dot\r\nline\r\n");
    let _ = store.add("mrose", "u2", b"Subject: b\n\nbare lf\n");
    let mut config = ServerConfig::new("fuzz.example");
    config.extensions.stls = true;
    config.extensions.sasl = Mechanism::ALL.to_vec();
    config.allow_plaintext_login = control[0] & 1 == 0;
    config.limits.command_line = 64 + usize::from(control[0] >> 2);
    let now = Instant::now();
    let Ok(ts) = ApopTimestamp::new("<1.2@fuzz.example>") else {
        return;
    };
    let mut s = ServerSession::with_apop(Arc::new(config), ConnectionInfo::default(), ts, now);
    let mut agent = MaildropAgent::with_chunk_size(store.clone(), usize::from(control[1] % 32) + 1);
    let chunk = usize::from(control[1] / 32) * 3 + 1;
    let mut verdicts = input.iter().cycle();
    let mut committed = false;
    for piece in input.chunks(chunk) {
        s.enqueue_input(now, piece);
        while let Some(event) = s.poll_event() {
            committed |= matches!(event, ServerEvent::Commit { .. });
            let Ok(Some(event)) = agent.handle(&mut s, event) else {
                continue;
            };
            let yes = verdicts.next().is_some_and(|b| b & 1 == 0);
            match event {
                ServerEvent::StartTls => {
                    let _ = s.tls_established(TlsInfo::default());
                }
                ServerEvent::Login { .. } | ServerEvent::Apop { .. } => {
                    let _ = s.login_verified(yes);
                }
                ServerEvent::AuthVerify(VerifyRequest::Scram { .. }) if yes => {
                    let _ = s.auth_verified(Verification::Scram {
                        credentials: ScramCredentials::derive("pencil", b"salt", 4096),
                        server_nonce: "srv".into(),
                    });
                }
                ServerEvent::AuthVerify(_) => {
                    let _ = s.auth_verified(if yes {
                        Verification::Accepted
                    } else {
                        Verification::Rejected
                    });
                }
                _ => {}
            }
        }
        while agent.is_streaming() {
            let _ = agent.pump(&mut s);
            let _ = s.poll_transmit();
        }
        let _ = s.poll_transmit();
    }
    s.handle_timeout(now + Duration::from_secs(3600));
    assert!(s.is_closed() || s.poll_timeout().is_none());
    if !committed {
        assert_eq!(store.messages("mrose").len(), 2);
    }
    drop(agent);
    assert!(!store.is_locked("mrose"));
});
