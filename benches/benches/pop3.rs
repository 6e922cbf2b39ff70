//! POP3 RETR byte-stuffing in postel-pop3, both ways, each next to a bare
//! `memchr::memmem` search for `CRLF.CRLF` over the same buffer in the same
//! criterion group (the floor: finding the end without looking at anything
//! else).
//!
//! Groups:
//! - `pop3_retr_encode_10mb`: the server side. A 10 MB message (CRLF text
//!   lines of 76 characters, about one in 50 beginning with `.`) turned into
//!   a RETR body by `DotStuffer`: in one call, in the 64 KiB chunks the
//!   maildrop agent reads, and through a whole `ServerSession` with its
//!   `MaildropAgent` (for scale: more work than the encoder alone).
//! - `pop3_retr_decode_10mb`: the client side. The same message as RETR
//!   sends it (stuffed, ended by `.CRLF`) decoded by `DotDecoder`, and by a
//!   whole `ClientSession` fed 16 KiB reads (for scale).
//!
//! Every contestant is checked once, before timing, to produce exactly the
//! expected bytes.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use postel_pop3::client::{ClientAuth, ClientConfig, ClientEvent, ClientSession, TlsPolicy};
use postel_pop3::maildrop::{MaildropAgent, MemoryStore};
use postel_pop3::multiline::{DecodeStatus, DotDecoder, DotStuffer};
use postel_pop3::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};

/// Message size: 10 MB (decimal).
const TARGET: usize = 10_000_000;
/// Characters in a body line, CRLF excluded.
const LINE: usize = 76;
/// What the maildrop agent reads per pump (its default).
const CHUNK: usize = 64 * 1024;
/// What a client reads from its socket at a time.
const READ: usize = 16 * 1024;
const TERMINATOR: &[u8] = b"\r\n.\r\n";

/// xorshift64*: the same message on every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "a", "about", "after", "again", "agenda", "all", "also", "and", "answer", "are", "as", "at",
    "attached", "backup", "be", "because", "before", "below", "best", "budget", "but", "by",
    "call", "can", "changes", "client", "could", "customer", "data", "date", "did", "do",
    "document", "draft", "each", "email", "end", "even", "every", "file", "final", "first", "for",
    "from", "get", "good", "had", "has", "have", "he", "her", "here", "his", "how", "I", "if",
    "in", "into", "invoice", "is", "it", "its", "just", "know", "last", "like", "list", "mail",
    "make", "many", "may", "meeting", "message", "more", "most", "my", "new", "next", "no", "not",
    "now", "of", "on", "one", "only", "or", "other", "our", "out", "over", "people", "please",
    "project", "quarter", "question", "regards", "release", "report", "review", "said", "same",
    "schedule", "see", "server", "she", "should", "so", "some", "than", "thanks", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "time", "to", "today", "tomorrow",
    "two", "up", "update", "us", "use", "version", "was", "we", "well", "were", "what", "when",
    "which", "who", "will", "with", "would", "year", "you", "your", "2026", "42", "3.5", "e.g.",
    "(see", "below)", "--", "Re:",
];

/// Beginnings of the lines that start with a dot.
const DOT_STARTS: &[&str] = &["...", ".profile", ".NET", ".5 percent", "..", ". "];

/// A 10 MB message with CRLF line endings: a header, a blank line, then
/// body lines of exactly 76 characters, about one in 50 beginning with `.`
/// (never a line of only `.`, so the raw message holds no `CRLF.CRLF`).
fn message() -> Vec<u8> {
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let mut msg = Vec::with_capacity(TARGET + 2 * LINE);
    msg.extend_from_slice(
        b"Return-Path: <sender@example.org>\r\n\
Received: from mail.example.org (mail.example.org [192.0.2.25])\r\n\
\tby pop.example.net with ESMTPS id 4F2a9c0Bq1z; Sat, 28 Nov 2026 18:00:00 +0000\r\n\
Message-ID: <20261128180000.4F2a9c0Bq1z@example.org>\r\n\
Date: Sat, 28 Nov 2026 18:00:00 +0000\r\n\
From: Sender <sender@example.org>\r\n\
To: Alice <alice@example.net>\r\n\
Subject: Quarterly report, full text\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n",
    );
    let mut line = String::with_capacity(2 * LINE);
    while msg.len() < TARGET {
        line.clear();
        if rng.below(50) == 0 {
            line.push_str(DOT_STARTS[rng.below(DOT_STARTS.len())]);
        }
        while line.len() < LINE {
            if !line.is_empty() && !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(WORDS[rng.below(WORDS.len())]);
        }
        line.truncate(LINE);
        msg.extend_from_slice(line.as_bytes());
        msg.extend_from_slice(b"\r\n");
    }
    msg
}

/// The RETR body, built line by line the obvious way: each line that
/// begins with `.` gets another, then the terminating `.CRLF`.
fn stuffed(msg: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(msg.len() + msg.len() / 50);
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

// ---------------------------------------------------------------------------
// Encoding (server side)
// ---------------------------------------------------------------------------

/// The whole message in one call, into `out` (cleared, capacity kept).
fn encode_whole(msg: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut encoder = DotStuffer::new();
    encoder.encode(msg, out);
    encoder.finish(out);
    out.len()
}

/// The message in 64 KiB chunks, `out` emptied after each one as a server
/// writes it to the socket. Returns the wire length.
fn encode_chunks(msg: &[u8], out: &mut Vec<u8>) -> usize {
    let mut encoder = DotStuffer::new();
    let mut written = 0;
    for chunk in msg.chunks(CHUNK) {
        out.clear();
        encoder.encode(chunk, out);
        written += out.len();
        black_box(&out[..]);
    }
    out.clear();
    encoder.finish(out);
    written + out.len()
}

fn server_config() -> Arc<ServerConfig> {
    let mut config = ServerConfig::new("pop.example.net");
    config.allow_plaintext_login = true;
    Arc::new(config)
}

/// A server session logged in to `store`'s one maildrop, greeting taken.
fn logged_in_server(
    config: &Arc<ServerConfig>,
    store: &MemoryStore,
    now: Instant,
) -> (ServerSession, MaildropAgent<MemoryStore>) {
    let mut session = ServerSession::new(Arc::clone(config), ConnectionInfo::default(), now);
    let mut agent = MaildropAgent::new(store.clone());
    session.enqueue_input(now, b"USER alice\r\nPASS secret\r\n");
    while let Some(event) = session.poll_event() {
        if let Some(ServerEvent::Login { .. }) = agent.handle(&mut session, event).unwrap() {
            session.login_verified(true).unwrap();
        }
    }
    let greeting_and_login = session.poll_transmit().unwrap();
    assert!(
        greeting_and_login.ends_with(b"octets)\r\n"),
        "not logged in"
    );
    (session, agent)
}

/// RETR 1 through the whole server session: the agent pumps 64 KiB chunks
/// from the store into the session, and each chunk's output is taken as a
/// driver would write it. `sink` sees every piece of output.
fn session_retr(
    session: &mut ServerSession,
    agent: &mut MaildropAgent<MemoryStore>,
    now: Instant,
    sink: &mut impl FnMut(&[u8]),
) {
    session.enqueue_input(now, b"RETR 1\r\n");
    while let Some(event) = session.poll_event() {
        let unexpected = agent.handle(session, event).unwrap();
        assert!(unexpected.is_none());
        while agent.is_streaming() {
            agent.pump(session).unwrap();
            if let Some(out) = session.poll_transmit() {
                sink(&out);
            }
        }
    }
    if let Some(out) = session.poll_transmit() {
        sink(&out);
    }
}

fn bench_encode(c: &mut Criterion) {
    let msg = message();
    let wire = stuffed(&msg);
    let mut out = Vec::new();
    assert_eq!(encode_whole(&msg, &mut out), wire.len());
    assert_eq!(out, wire);
    let mut pieces = Vec::new();
    let mut chunked = Vec::with_capacity(wire.len());
    let mut encoder = DotStuffer::new();
    for chunk in msg.chunks(CHUNK) {
        encoder.encode(chunk, &mut pieces);
        chunked.append(&mut pieces);
    }
    encoder.finish(&mut chunked);
    assert_eq!(chunked, wire);
    assert_eq!(encode_chunks(&msg, &mut pieces), wire.len());

    let config = server_config();
    let store = MemoryStore::new();
    store.add("alice", "m1", &msg).unwrap();
    let now = Instant::now();
    let (mut session, mut agent) = logged_in_server(&config, &store, now);
    let mut served = Vec::new();
    session_retr(&mut session, &mut agent, now, &mut |b| {
        served.extend_from_slice(b)
    });
    let status = format!("+OK {} octets\r\n", msg.len());
    assert_eq!(&served[..status.len()], status.as_bytes());
    assert_eq!(&served[status.len()..], &wire[..]);
    drop((session, agent));

    // The floor: nothing to find in the raw message (no line is only `.`).
    assert_eq!(memchr::memmem::find(&msg, TERMINATOR), None);
    let lines = msg.iter().filter(|&&b| b == b'\n').count();
    eprintln!(
        "pop3_retr_encode_10mb: message {} bytes, {lines} lines, {} dot-stuffed; wire {} bytes",
        msg.len(),
        wire.len() - msg.len() - 3,
        wire.len()
    );

    let mut group = c.benchmark_group("pop3_retr_encode_10mb");
    group.throughput(Throughput::Bytes(msg.len() as u64));
    group.sample_size(20);
    group.bench_function("postel_dot_stuffer", |b| {
        // Sized by the check above: no allocation in the timed loop.
        b.iter(|| encode_whole(black_box(&msg), &mut out))
    });
    group.bench_function("postel_dot_stuffer_64k_chunks", |b| {
        b.iter(|| encode_chunks(black_box(&msg), &mut pieces))
    });
    // For scale: the whole RETR in the server session.
    group.bench_function("postel_server_session_retr", |b| {
        b.iter_batched(
            || logged_in_server(&config, &store, now),
            |(mut session, mut agent)| {
                let mut len = 0;
                session_retr(&mut session, &mut agent, now, &mut |out| {
                    len += out.len();
                    black_box(out);
                });
                black_box(len);
                // Dropped (and the maildrop unlocked) outside the timing.
                (session, agent)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("memchr_memmem_find", |b| {
        b.iter(|| memchr::memmem::find(black_box(&msg), TERMINATOR))
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// Decoding (client side)
// ---------------------------------------------------------------------------

/// The whole RETR body through one decoder; the chunks it hands out are
/// views into `input`, counted. Returns the status and the content length.
fn decode(input: &mut BytesMut) -> (DecodeStatus, u64) {
    let mut decoder = DotDecoder::new();
    let mut len = 0u64;
    let status = decoder.decode(input, &mut |chunk: Bytes| {
        len += chunk.len() as u64;
        black_box(chunk);
    });
    (status, len)
}

/// A client session logged in (USER/PASS, no TLS, PIPELINING) that has
/// sent RETR 1 and read its `+OK` line: the body comes next.
fn client_in_retr(now: Instant, octets: usize) -> ClientSession {
    let mut config = ClientConfig::new(Some(ClientAuth::UserPass {
        user: "alice".into(),
        password: "secret".into(),
    }));
    config.tls = TlsPolicy::Disabled;
    config.allow_plaintext_without_tls = true;
    let mut session = ClientSession::new(config, now);
    session.enqueue_input(
        now,
        b"+OK ready\r\n+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n+OK\r\n+OK logged in\r\n",
    );
    let mut ready = false;
    while let Some(event) = session.poll_event() {
        ready |= matches!(event, ClientEvent::Ready);
    }
    assert!(ready, "not logged in");
    session.retr(now, 1).unwrap();
    session.enqueue_input(now, format!("+OK {octets} octets\r\n").as_bytes());
    assert_eq!(
        session.poll_event(),
        Some(ClientEvent::MessageStart { number: 1 })
    );
    assert_eq!(session.poll_event(), None);
    black_box(session.poll_transmit());
    session
}

/// Feeds the body to the session in 16 KiB reads and takes every event;
/// `sink` sees each piece of content. Returns the size MessageEnd reports.
fn client_read(
    session: &mut ClientSession,
    wire: &[u8],
    now: Instant,
    sink: &mut impl FnMut(Bytes),
) -> u64 {
    let mut end = None;
    for read in wire.chunks(READ) {
        session.enqueue_input(now, read);
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::MessageData(chunk) => sink(chunk),
                ClientEvent::MessageEnd { size, .. } => end = Some(size),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    end.expect("the message ended")
}

fn bench_decode(c: &mut Criterion) {
    let msg = message();
    let wire = stuffed(&msg);
    let mut input = BytesMut::from(&wire[..]);
    let mut content = Vec::with_capacity(msg.len());
    let status = DotDecoder::new().decode(&mut input, &mut |chunk| {
        content.extend_from_slice(&chunk);
    });
    assert_eq!(status, DecodeStatus::End);
    assert!(input.is_empty());
    assert_eq!(content, msg);
    let mut input = BytesMut::from(&wire[..]);
    assert_eq!(decode(&mut input), (DecodeStatus::End, msg.len() as u64));

    let now = Instant::now();
    let mut session = client_in_retr(now, msg.len());
    content.clear();
    let size = client_read(&mut session, &wire, now, &mut |chunk| {
        content.extend_from_slice(&chunk)
    });
    assert_eq!(size, msg.len() as u64);
    assert_eq!(content, msg);

    // The floor finds the terminator, and only it.
    assert_eq!(
        memchr::memmem::find(&wire, TERMINATOR),
        Some(wire.len() - TERMINATOR.len())
    );

    let mut group = c.benchmark_group("pop3_retr_decode_10mb");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.sample_size(20);
    group.bench_function("postel_dot_decoder", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut input| {
                black_box(decode(&mut input));
                // Dropped outside the timing.
                input
            },
            BatchSize::LargeInput,
        )
    });
    // For scale: the client session, which also copies each read into its
    // input buffer.
    group.bench_function("postel_client_session_16k_reads", |b| {
        b.iter_batched(
            || client_in_retr(now, msg.len()),
            |mut session| {
                let size = client_read(&mut session, black_box(&wire), now, &mut |chunk| {
                    black_box(chunk);
                });
                black_box(size);
                session
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("memchr_memmem_find", |b| {
        b.iter(|| memchr::memmem::find(black_box(&wire), TERMINATOR))
    });
    group.finish();
}

criterion_group!(benches, bench_encode, bench_decode);
criterion_main!(benches);
