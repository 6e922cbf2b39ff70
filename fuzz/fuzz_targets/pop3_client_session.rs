//! Arbitrary server bytes against a POP3 client session that logs in (by
//! USER/PASS, APOP or SASL, chosen by the input) and pipelines every
//! transaction command: no panic, whatever the server says.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use postel_pop3::client::{ClientAuth, ClientConfig, ClientEvent, ClientSession, TlsPolicy};
use postel_sasl::ClientCredentials;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (control, input) = data.split_at(1);
    let auth = match control[0] & 3 {
        0 => ClientAuth::UserPass {
            user: "mrose".into(),
            password: "pw".into(),
        },
        1 => ClientAuth::Apop {
            user: "mrose".into(),
            secret: "tanstaaf".into(),
        },
        _ => ClientAuth::Sasl {
            mechanism: None,
            credentials: ClientCredentials::password("user", "pencil"),
            scram_nonce: Some("fyko+d2lbbFgONRv9qkxdawL".into()),
        },
    };
    let mut config = ClientConfig::new(Some(auth));
    config.allow_plaintext_without_tls = true;
    config.tls = if control[0] & 4 == 0 {
        TlsPolicy::Opportunistic
    } else {
        TlsPolicy::Required
    };
    config.use_pipelining = control[0] & 8 == 0;
    let now = Instant::now();
    let mut c = ClientSession::new(config, now);
    let chunk = usize::from(control[0] >> 4) + 1;
    for piece in input.chunks(chunk) {
        c.enqueue_input(now, piece);
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::StartTls => {
                    let _ = c.tls_established(now);
                }
                ClientEvent::Ready => {
                    let _ = c.stat(now);
                    let _ = c.list(now, None);
                    let _ = c.uidl(now, Some(1));
                    let _ = c.retr(now, 1);
                    let _ = c.top(now, 1, 3);
                    let _ = c.dele(now, 1);
                    let _ = c.rset(now);
                    let _ = c.noop(now);
                    let _ = c.quit(now);
                }
                _ => {}
            }
        }
        let _ = c.poll_transmit();
    }
    c.handle_timeout(now + Duration::from_secs(3600));
    assert!(c.is_closed() || c.poll_timeout().is_none());
});
