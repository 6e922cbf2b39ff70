//! Arbitrary server bytes against a client session sending a message with
//! pipelining, STARTTLS and AUTH configured: no panic, whatever the server says.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use postel_sasl::ClientCredentials;
use postel_smtp::client::{ClientAuth, ClientConfig, ClientEvent, ClientSession, Envelope};
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::{ForwardPath, Mailbox, ReversePath};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let (control, input) = data.split_at(1);
    let mut config = ClientConfig::new("client.example");
    if control[0] & 1 == 1 {
        config.auth = Some(ClientAuth {
            mechanism: None,
            credentials: ClientCredentials::password("user", "pencil"),
            scram_nonce: Some("fyko+d2lbbFgONRv9qkxdawL".into()),
            allow_plaintext_without_tls: true,
        });
    }
    config.use_chunking = control[0] & 2 == 0;
    let now = Instant::now();
    let mut c = ClientSession::new(config, now);
    let mb = |s: &str| Mailbox::parse(s).ok();
    let (Some(from), Some(a), Some(b)) = (
        mb("a@example.org"),
        mb("b@example.net"),
        mb("c@example.net"),
    ) else {
        return;
    };
    let mut envelope = Some(Envelope {
        from: ReversePath::Mailbox(from),
        params: MailParameters {
            size: Some(10),
            ..MailParameters::default()
        },
        recipients: vec![
            (ForwardPath::Mailbox(a), RcptParameters::default()),
            (ForwardPath::Mailbox(b), RcptParameters::default()),
        ],
    });
    let chunk = usize::from(control[0] >> 4) + 1;
    for piece in input.chunks(chunk) {
        c.enqueue_input(now, piece);
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::StartTls => {
                    let _ = c.tls_established(now);
                }
                ClientEvent::Ready => {
                    if let Some(e) = envelope.take() {
                        let _ = c.send(now, e);
                    } else {
                        let _ = c.quit(now);
                    }
                }
                ClientEvent::SendBody => {
                    let _ = c.body_chunk(b"Subject: x\r\n\r\n.dot\r\n");
                    let _ = c.body_end(now);
                }
                ClientEvent::Delivered(o) => {
                    assert_eq!(o.recipients.len(), 2);
                    let _ = c.quit(now);
                }
                ClientEvent::Failed(_) | ClientEvent::Closed => {}
            }
        }
        let _ = c.poll_transmit();
    }
});
