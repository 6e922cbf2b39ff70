//! SMTP codecs of postel-smtp side by side with smtp-proto 0.2.5, each pair
//! on the same input bytes in the same criterion group.
//!
//! Groups:
//! - `smtp_command_stream`: a pipelined transaction of 53 command lines.
//! - `smtp_data_unstuff_1mb`, `smtp_data_unstuff_50mb`: the end-of-data
//!   search and dot-unstuffing of a DATA body, with a bare `memmem` search
//!   for `CRLF.CRLF` as the floor.
//! - `smtp_reply_parse`: a 13-line EHLO reply.
//!
//! Every input is checked once, outside the timed loops, so that each
//! contestant is known to do the whole job (all commands parsed, the same
//! unstuffed content, the same reply lines).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use postel_smtp::address::PathSyntax;
use postel_smtp::command::Command;
use postel_smtp::data::{BareLineEndings, DecodeStatus, DecoderConfig, DotDecoder};
use postel_smtp::extensions::Capabilities;
use postel_smtp::reply::ReplyParser;
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};

use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{EhloResponse, Request};

// ---------------------------------------------------------------------------
// Command stream
// ---------------------------------------------------------------------------

const RECIPIENTS: usize = 50;
/// EHLO + MAIL + recipients + DATA.
const COMMANDS: usize = RECIPIENTS + 3;

/// EHLO, MAIL FROM with SIZE and BODY, 50 RCPT TO and DATA, as a client
/// that pipelines sends them in one write.
fn command_stream() -> Vec<u8> {
    let mut buf = Vec::with_capacity(2048);
    buf.extend_from_slice(b"EHLO client.example.org\r\n");
    buf.extend_from_slice(b"MAIL FROM:<sender@example.org> SIZE=123456 BODY=8BITMIME\r\n");
    for n in 0..RECIPIENTS {
        buf.extend_from_slice(format!("RCPT TO:<recipient{n:02}@example.net>\r\n").as_bytes());
    }
    buf.extend_from_slice(b"DATA\r\n");
    buf
}

const LENIENT: PathSyntax = PathSyntax { lenient: true };

/// Ours, codec only: cut the buffer at each LF and parse the line without its
/// CRLF. Returns the number of commands that parsed.
fn postel_parse_stream(buf: &[u8]) -> usize {
    let mut parsed = 0;
    let mut start = 0;
    while let Some(off) = memchr::memchr(b'\n', &buf[start..]) {
        let end = start + off;
        let line = &buf[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let command = Command::parse(line, LENIENT);
        parsed += usize::from(command.is_ok());
        let _ = black_box(command);
        start = end + 1;
    }
    parsed
}

/// Ours, the whole server state machine: the session splits the lines,
/// parses and checks each command, and writes every reply; the application
/// accepts every decision. Returns the number of command events seen.
fn postel_session_stream(config: &Arc<ServerConfig>, now: Instant, buf: &[u8]) -> usize {
    let mut session = ServerSession::new(Arc::clone(config), ConnectionInfo::default(), now);
    session.enqueue_input(now, buf);
    let mut commands = 0;
    while let Some(event) = session.poll_event() {
        match &event {
            ServerEvent::Hello { .. }
            | ServerEvent::MailFrom { .. }
            | ServerEvent::RcptTo { .. } => {
                commands += 1;
            }
            // DATA was accepted: 354 is in the output.
            ServerEvent::MessageStart => commands += 1,
            _ => {}
        }
        if event.needs_decision() {
            session.accept().expect("a decision is pending");
        }
        black_box(event);
    }
    black_box(session.poll_transmit());
    commands
}

/// The peer: `RequestReceiver::ingest` takes one request at a time off the
/// byte iterator until it is empty. Returns the number of requests parsed.
fn peer_parse_stream(buf: &[u8]) -> usize {
    let mut receiver = RequestReceiver::default();
    let mut bytes = buf.iter();
    let mut parsed = 0;
    while bytes.len() > 0 {
        match receiver.ingest(&mut bytes) {
            Ok(request) => {
                parsed += 1;
                black_box(request);
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
            Err(e) => {
                black_box(e);
            }
        }
    }
    parsed
}

fn bench_command_stream(c: &mut Criterion) {
    let buf = command_stream();
    let config = Arc::new(ServerConfig::new("mx.example.net"));
    let now = Instant::now();

    // Each contestant handles all 53 commands (and they agree on them).
    assert_eq!(postel_parse_stream(&buf), COMMANDS);
    assert_eq!(postel_session_stream(&config, now, &buf), COMMANDS);
    assert_eq!(peer_parse_stream(&buf), COMMANDS);
    check_peer_requests(&buf);

    let mut group = c.benchmark_group("smtp_command_stream");
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("postel_command_parse", |b| {
        b.iter(|| postel_parse_stream(black_box(&buf)))
    });
    group.bench_function("postel_server_session", |b| {
        b.iter(|| postel_session_stream(&config, now, black_box(&buf)))
    });
    group.bench_function("smtp_proto_request_receiver", |b| {
        b.iter(|| peer_parse_stream(black_box(&buf)))
    });
    group.finish();
}

/// The peer really parsed what was sent (not just consumed the bytes).
fn check_peer_requests(buf: &[u8]) {
    let mut receiver = RequestReceiver::default();
    let mut bytes = buf.iter();
    let mut rcpts = 0;
    let mut kinds = Vec::new();
    while bytes.len() > 0 {
        match receiver
            .ingest(&mut bytes)
            .expect("the peer parses every command")
        {
            Request::Ehlo { host } => {
                assert_eq!(host, "client.example.org");
                kinds.push("EHLO");
            }
            Request::Mail { from } => {
                assert_eq!(from.address, "sender@example.org");
                assert_eq!(from.size, 123456);
                kinds.push("MAIL");
            }
            Request::Rcpt { to } => {
                assert_eq!(to.address, format!("recipient{rcpts:02}@example.net"));
                rcpts += 1;
            }
            Request::Data => kinds.push("DATA"),
            other => panic!("unexpected request {other:?}"),
        }
    }
    assert_eq!(kinds, ["EHLO", "MAIL", "DATA"]);
    assert_eq!(rcpts, RECIPIENTS);
}

// ---------------------------------------------------------------------------
// DATA body
// ---------------------------------------------------------------------------

/// A tiny deterministic generator (xorshift64*), so the body is the same
/// on every run without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "that",
    "on",
    "with",
    "as",
    "by",
    "be",
    "this",
    "are",
    "from",
    "or",
    "at",
    "an",
    "it",
    "we",
    "will",
    "have",
    "not",
    "can",
    "all",
    "our",
    "message",
    "server",
    "delivery",
    "queue",
    "please",
    "report",
    "attached",
    "meeting",
    "schedule",
    "invoice",
    "account",
    "project",
    "review",
    "tomorrow",
    "morning",
    "regards",
    "thanks",
    "update",
    "question",
    "budget",
    "quarter",
    "results",
    "numbers",
    "customer",
    "release",
    "version",
    "changes",
    "document",
    "draft",
    "final",
    "agenda",
    "minutes",
    "office",
    "weekend",
    "holiday",
    "travel",
    "hotel",
    "flight",
    "booking",
    "confirmation",
    "password",
    "security",
    "network",
    "backup",
    "storage",
    "database",
    "migration",
    "team",
    "Monday",
    "Friday",
    "September",
    "London",
    "Berlin",
    "Tokyo",
    "2024",
    "42",
    "3.5",
    "(see",
    "below)",
    "e.g.",
    "i.e.",
    "etc.",
    "--",
    "Re:",
    "Fwd:",
    "http://example.org/a/b",
    "ok,",
];

/// Longest line of text before its CRLF. Lines are filled with whole words
/// up to this, which makes them about 76 characters long on average.
const LINE: usize = 79;

/// A DATA body as it travels on the wire: text lines of about 76 characters
/// plus CRLF, about one in 50 starting with `.` (so dot-stuffed as `..`),
/// ending with `CRLF.CRLF`. Returns the wire bytes and the unstuffed content.
fn data_body(target: usize) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target as u64);
    let mut wire = Vec::with_capacity(target + 256);
    let mut content = Vec::with_capacity(target + 256);
    let mut line = String::with_capacity(LINE + 16);
    while wire.len() < target {
        line.clear();
        if rng.below(50) == 0 {
            // A line that starts with a dot: an ellipsis, a file name, ...
            line.push_str(if rng.below(2) == 0 {
                "...and"
            } else {
                ".profile"
            });
        }
        loop {
            let word = WORDS[rng.below(WORDS.len())];
            let sep = usize::from(!line.is_empty());
            if line.len() + sep + word.len() > LINE {
                break;
            }
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
        }
        if line.starts_with('.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(line.as_bytes());
        wire.extend_from_slice(b"\r\n");
        content.extend_from_slice(line.as_bytes());
        content.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    (wire, content)
}

/// What a server would use: RFC 5321's 1000-octet line limit, bare CR/LF
/// refused, and no size limit that the 50 MB body would hit.
const DECODER: DecoderConfig = DecoderConfig {
    bare_line_endings: BareLineEndings::Reject,
    max_line: Some(1000),
    max_size: u64::MAX,
};

/// Ours: decode the whole body; the chunks are views into `input`, counted
/// and handed to `black_box`. Returns the status and the content length.
fn postel_unstuff(input: &mut BytesMut) -> (DecodeStatus, u64) {
    let mut decoder = DotDecoder::new(DECODER);
    let mut len = 0u64;
    let status = decoder.decode(input, &mut |chunk: Bytes| {
        len += chunk.len() as u64;
        black_box(chunk);
    });
    (status, len)
}

/// Ours, with the chunks copied into one Vec: the same output as the peer's.
fn postel_unstuff_into(input: &mut BytesMut, out: &mut Vec<u8>) -> DecodeStatus {
    let mut decoder = DotDecoder::new(DECODER);
    decoder.decode(input, &mut |chunk: Bytes| out.extend_from_slice(&chunk))
}

/// The peer: `DataReceiver::ingest` copies the unstuffed content into `out`.
fn peer_unstuff(wire: &[u8], out: &mut Vec<u8>) -> (bool, usize) {
    let mut receiver = DataReceiver::new();
    let mut bytes = wire.iter();
    let done = receiver.ingest(&mut bytes, out);
    (done, bytes.len())
}

/// A Vec with room for `n` bytes whose pages are already touched, so the
/// peer pays no page faults that our pre-filled BytesMut does not.
/// (`vec![0; n]` would not do: calloc may hand out fresh, untouched pages.)
fn prefaulted_vec(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, 0xAA);
    black_box(&mut v);
    v.clear();
    v
}

fn bench_data(c: &mut Criterion, name: &str, target: usize) {
    let (wire, content) = data_body(target);
    let stuffed = wire.windows(3).filter(|w| w == b"\n..").count();
    assert!(stuffed > 0);

    // Ours: the whole content (so no violation stopped it), the whole input
    // consumed.
    let mut input = BytesMut::from(&wire[..]);
    let mut ours = Vec::new();
    assert_eq!(
        postel_unstuff_into(&mut input, &mut ours),
        DecodeStatus::End
    );
    assert!(input.is_empty());
    assert_eq!(ours, content);
    let mut input = BytesMut::from(&wire[..]);
    assert_eq!(
        postel_unstuff(&mut input),
        (DecodeStatus::End, content.len() as u64)
    );
    assert!(input.is_empty());
    // The peer: the same content, the whole input consumed.
    let mut theirs = Vec::with_capacity(wire.len());
    assert_eq!(peer_unstuff(&wire, &mut theirs), (true, 0));
    assert_eq!(theirs, content);
    // The floor finds the terminator, and only it.
    assert_eq!(
        memchr::memmem::find(&wire, b"\r\n.\r\n"),
        Some(wire.len() - 5)
    );
    let lines = wire.iter().filter(|&&b| b == b'\n').count();
    eprintln!(
        "{name}: {} wire bytes, {lines} lines (mean {:.1} octets with CRLF), {stuffed} dot-stuffed",
        wire.len(),
        wire.len() as f64 / lines as f64,
    );

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(wire.len() as u64));
    if wire.len() > 10 << 20 {
        group.sample_size(20);
    }
    group.bench_function("postel_dot_decoder", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut input| {
                black_box(postel_unstuff(&mut input));
                // Dropped outside the timing, like the peer's output.
                input
            },
            BatchSize::LargeInput,
        )
    });
    // Not a contestant of its own: the cost of also copying our zero-copy
    // chunks into one contiguous Vec, as the peer always does.
    group.bench_function("postel_dot_decoder_into_vec", |b| {
        b.iter_batched(
            || (BytesMut::from(&wire[..]), prefaulted_vec(wire.len())),
            |(mut input, mut out)| {
                black_box(postel_unstuff_into(&mut input, &mut out));
                (input, out)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("smtp_proto_data_receiver", |b| {
        b.iter_batched(
            || prefaulted_vec(wire.len()),
            |mut out| {
                black_box(peer_unstuff(black_box(&wire), &mut out));
                out
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("memchr_memmem_find", |b| {
        b.iter(|| memchr::memmem::find(black_box(&wire), b"\r\n.\r\n"))
    });
    group.finish();
}

fn bench_data_1mb(c: &mut Criterion) {
    bench_data(c, "smtp_data_unstuff_1mb", 1 << 20);
}

fn bench_data_50mb(c: &mut Criterion) {
    bench_data(c, "smtp_data_unstuff_50mb", 50 << 20);
}

// ---------------------------------------------------------------------------
// EHLO reply
// ---------------------------------------------------------------------------

/// An EHLO reply of 13 lines as a current MTA sends it.
const EHLO_REPLY: &[u8] = b"250-mx.example.net Hello client.example.org [192.0.2.10]\r\n\
250-PIPELINING\r\n\
250-SIZE 52428800\r\n\
250-ETRN\r\n\
250-STARTTLS\r\n\
250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-8BITMIME\r\n\
250-DSN\r\n\
250-SMTPUTF8\r\n\
250-CHUNKING\r\n\
250-BINARYMIME\r\n\
250 REQUIRETLS\r\n";

fn postel_reply(bytes: &[u8]) -> postel_smtp::Reply {
    let mut parser = ReplyParser::default();
    parser.feed(bytes);
    parser
        .next_reply()
        .expect("valid reply")
        .expect("complete reply")
}

fn bench_reply(c: &mut Criterion) {
    let reply = postel_reply(EHLO_REPLY);
    assert_eq!(reply.code(), 250);
    assert_eq!(reply.lines().len(), 13);
    let caps = Capabilities::from_ehlo_lines(reply.lines());
    assert_eq!(caps.size, Some(52_428_800));
    assert_eq!(caps.auth, ["PLAIN", "LOGIN", "SCRAM-SHA-256"]);
    assert!(caps.pipelining && caps.starttls && caps.chunking && caps.requiretls);
    let peer = EhloResponse::parse(&mut EHLO_REPLY.iter()).expect("valid reply");
    assert_eq!(peer.hostname, "mx.example.net");
    assert_eq!(peer.size, 52_428_800);
    assert!(peer.has_capability(smtp_proto::EXT_REQUIRE_TLS));

    let mut group = c.benchmark_group("smtp_reply_parse");
    group.throughput(Throughput::Bytes(EHLO_REPLY.len() as u64));
    group.bench_function("postel_reply_parser", |b| {
        b.iter(|| postel_reply(black_box(EHLO_REPLY)))
    });
    // The peer also interprets the keywords; this is our equivalent.
    group.bench_function("postel_reply_parser_capabilities", |b| {
        b.iter(|| Capabilities::from_ehlo_lines(postel_reply(black_box(EHLO_REPLY)).lines()))
    });
    group.bench_function("smtp_proto_ehlo_response", |b| {
        b.iter(|| EhloResponse::parse(&mut black_box(EHLO_REPLY).iter()))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_command_stream,
    bench_data_1mb,
    bench_data_50mb,
    bench_reply
);
criterion_main!(benches);
