//! Arbitrary bytes through a full server session with every extension on
//! (STARTTLS, AUTH, CHUNKING ...), fed in input-chosen chunks, with the
//! application's decisions also drawn from the input. Nothing may panic,
//! and the session's buffers stay bounded.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use postel_sasl::{Mechanism, Verification};
use postel_smtp::Reply;
use postel_smtp::extensions::Extensions;
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession, TlsInfo};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (control, input) = data.split_at(2);
    let mut config = ServerConfig::new("fuzz.example");
    config.extensions = Extensions {
        starttls: true,
        auth: Mechanism::ALL.to_vec(),
        etrn: true,
        requiretls: true,
        mt_priority: Some("MIXER".into()),
        future_release: Some((86400, "2030-01-01T00:00:00Z".into())),
        deliver_by: Some(60),
        no_soliciting: Some(String::new()),
        mtrk: true,
        rrvs: true,
        ..Extensions::recommended()
    };
    config.limits.max_message_size = 4096;
    config.limits.max_recipients = 5;
    config.strictness.require_tls_for_plaintext_auth = control[0] & 1 == 0;
    config.strictness.lenient_paths = control[0] & 2 == 0;
    let config = Arc::new(config);
    let now = Instant::now();
    let mut s = ServerSession::new(config, ConnectionInfo::default(), now);
    let chunk = usize::from(control[1] % 16) + 1;
    let mut decisions = input.iter().cycle();
    for piece in input.chunks(chunk) {
        s.enqueue_input(now, piece);
        while let Some(event) = s.poll_event() {
            match event {
                ServerEvent::StartTls => {
                    let _ = s.tls_established(TlsInfo::default());
                }
                ServerEvent::AuthVerify(_) => {
                    let v = if decisions.next().is_some_and(|b| b & 1 == 0) {
                        Verification::Accepted
                    } else {
                        Verification::Rejected
                    };
                    let _ = s.auth_verified(v);
                }
                e if e.needs_decision() => {
                    if decisions.next().is_some_and(|b| b & 3 == 0) {
                        let _ = s.reject(Reply::with_status(550, (5, 7, 1), "no"));
                    } else {
                        let _ = s.accept();
                    }
                }
                _ => {}
            }
        }
        let _ = s.poll_transmit();
    }
    s.handle_timeout(now + Duration::from_secs(3600));
    assert!(s.is_closed() || s.poll_timeout().is_none());
});
