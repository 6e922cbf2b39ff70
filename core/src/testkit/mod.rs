//! The test kit (feature `test-kit`): a client machine against a server
//! machine in memory on a virtual clock, `C:`/`S:` transcripts, and replay
//! of a script at every chunking. The protocol crates' tests, the fuzz
//! targets and the benches use it instead of harnesses of their own.

mod clock;
mod pair;
mod transcript;

pub use clock::VirtualClock;
pub use pair::{Pair, PairLimits, Side};
pub use transcript::{Line, Transcript};

use std::time::Instant;

use crate::connection::TlsInfo;
use crate::session::{Session, SessionEvent, Upgrade, Upgraded};

/// The TLS parameters the kit reports when it "completes" a handshake in
/// memory (no bytes are encrypted).
pub fn memory_tls_info() -> TlsInfo {
    TlsInfo::new("TLSv1.3", "TLS_AES_128_GCM_SHA256")
}

/// What an in-memory upgrade completes with.
pub fn memory_upgrade(up: Upgrade) -> Upgraded {
    match up {
        Upgrade::StartTls => Upgraded::Tls(memory_tls_info()),
        Upgrade::Compress(c) => Upgraded::Compress(c),
    }
}

/// Runs a server session over `chunks` of client input at `now`, with
/// `on_event` answering events (the kit completes upgrades in memory after
/// it), and returns everything the session wrote. Deadlines are not
/// advanced: a script that needs time uses a [`Pair`] or calls
/// `handle_timeout` itself.
pub fn run_script<S, F>(session: &mut S, chunks: &[&[u8]], now: Instant, mut on_event: F) -> Vec<u8>
where
    S: Session,
    F: FnMut(&mut S, S::Event),
{
    let mut out = Vec::new();
    let mut settle = |session: &mut S, out: &mut Vec<u8>| {
        loop {
            let mut progressed = false;
            while let Some(event) = session.poll_event() {
                progressed = true;
                let up = event.upgrade();
                on_event(session, event);
                if let Some(up) = up {
                    let _ = session.poll_transmit(out);
                    session
                        .upgrade_done(now, memory_upgrade(up))
                        .expect("the session accepts the upgrade it asked for");
                }
            }
            if session.poll_transmit(out) > 0 {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    };
    settle(session, &mut out);
    for chunk in chunks {
        if session.is_closed() {
            break;
        }
        session.enqueue_input(now, chunk);
        settle(session, &mut out);
    }
    out
}

/// Runs the script made by `make` over `input` whole, split in two at every
/// position, and one byte at a time, asserts that every run wrote the same
/// bytes, and returns them. `make` builds a fresh session and its event
/// handler for each run.
pub fn replay_at_every_chunking<S, F>(
    input: &[u8],
    now: Instant,
    mut make: impl FnMut() -> (S, F),
) -> Vec<u8>
where
    S: Session,
    F: FnMut(&mut S, S::Event),
{
    let (mut session, handler) = make();
    let whole = run_script(&mut session, &[input], now, handler);
    for cut in 1..input.len() {
        let (mut session, handler) = make();
        let got = run_script(&mut session, &[&input[..cut], &input[cut..]], now, handler);
        assert_eq!(
            Transcript::server_lines(&got),
            Transcript::server_lines(&whole),
            "input cut at byte {cut} gave other output"
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (mut session, handler) = make();
    let got = run_script(&mut session, &bytes, now, handler);
    assert_eq!(
        Transcript::server_lines(&got),
        Transcript::server_lines(&whole),
        "input fed one byte at a time gave other output"
    );
    whole
}
