//! Arbitrary bytes through an LMTP server session that answers each message
//! with per-recipient replies drawn from the input: no panic, and the
//! number of replies always matches.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use postel_lmtp::{LmtpServer, RecipientReply};
use postel_smtp::server::{ConnectionInfo, ServerEvent};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut s = LmtpServer::new("lmtp.example", ConnectionInfo::default(), now);
    let mut flip = data.iter().cycle();
    for piece in data.chunks(7) {
        s.enqueue_input(now, piece);
        while let Some(event) = s.poll_event() {
            match event {
                ServerEvent::MessageEnd { .. } => {
                    let replies = s
                        .recipients()
                        .iter()
                        .map(|r| {
                            if flip.next().is_some_and(|b| b & 1 == 1) {
                                RecipientReply::mailbox_unavailable(&r.to)
                            } else {
                                RecipientReply::delivered(&r.to)
                            }
                        })
                        .collect();
                    s.respond_per_recipient(replies)
                        .expect("one reply per recipient");
                }
                e if e.needs_decision() => {
                    let _ = s.accept();
                }
                _ => {}
            }
        }
        let _ = s.poll_transmit();
    }
});
