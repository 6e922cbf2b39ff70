//! IMAP codecs of postel-imap next to imap-codec 2.0.0-alpha.10 and djc's
//! imap-proto 0.17.0, on the same bytes in the same criterion group.
//!
//! Groups:
//! - `imap_command_parse`: the server side. A mix of four commands in one
//!   buffer (UID FETCH of header fields, a SEARCH of 8 criteria with nested
//!   NOT/OR, UID STORE, APPEND of a 100 KB message), and each command alone
//!   (plus an APPEND of 2.4 KB, as in `shared/BENCHMARKS.md`). Ours:
//!   `CommandReader` (the literal accepted as a server does) and
//!   `Command::parse` for each command; the APPEND message streams out of
//!   the reader as `AppendData` chunks, which are counted. imap-codec:
//!   `CommandCodec::decode` in a loop over the same buffer.
//! - `imap_response_encode`: the answer to `UID FETCH 1:* (UID FLAGS
//!   RFC822.SIZE ENVELOPE)` over 10,000 messages. Ours through the whole
//!   `ServerSession<MemoryStore>` (command in, `poll_event` /
//!   `poll_transmit` drained), and `Response::encode` over prebuilt
//!   `Data::Fetch` values; imap-codec's `ResponseCodec::encode` over the
//!   same responses as its own values.
//! - `imap_response_parse`: the client side, the same bytes. Ours:
//!   `ResponseReader` (the whole buffer enqueued, events drained), and
//!   `Response::parse` over the responses cut apart beforehand (for
//!   information); imap-codec's `ResponseCodec::decode` loop; imap-proto's
//!   `Response::parse` loop.
//!
//! Every contestant is checked once, before timing, to find the same number
//! of commands or responses (and the same APPEND size, the same bytes
//! where it writes).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::{CommandCodec, ResponseCodec};

use postel_imap::server::{MemoryStore, ServerConfig, ServerEvent, ServerSession};
use postel_imap::{
    Address, Command, CommandReader, Data, Envelope, FetchData, Flag, ReaderEvent, ReaderLimits,
    Response, ResponseEvent, ResponseLimits, ResponseReader, StatusKind, StatusResponse, Tag,
};

/// Messages in the mailbox of the response groups.
const MESSAGES: usize = 10_000;
const FETCH_COMMAND: &[u8] = b"f UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)\r\n";

/// xorshift64*: the same messages on every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
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
];
const FIRST: &[&str] = &[
    "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yvonne",
];
const LAST: &[&str] = &[
    "Smith", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis",
];
const DOMAINS: &[&str] = &[
    "example.org",
    "example.com",
    "example.net",
    "mail.example.org",
    "corp.example.com",
    "lists.example.net",
];
const ZONES: &[&str] = &["+0000", "+0100", "-0500", "-0800", "+0530"];
const WEEKDAYS: &[&str] = &["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// A mailbox with its display name as the envelope has it.
struct Person {
    name: Option<String>,
    local: String,
    domain: String,
    /// As written in the header.
    header: String,
}

fn person(rng: &mut Rng) -> Person {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let local = format!(
        "{}.{}",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase()
    );
    let domain = rng.pick(DOMAINS).to_owned();
    let (name, header) = match rng.below(3) {
        0 => (
            Some(format!("{first} {last}")),
            format!("\"{first} {last}\" <{local}@{domain}>"),
        ),
        1 => (
            Some(format!("{first} {last}")),
            format!("{first} {last} <{local}@{domain}>"),
        ),
        _ => (None, format!("{local}@{domain}")),
    };
    Person {
        name,
        local,
        domain,
        header,
    }
}

fn address(p: &Person) -> Address {
    Address {
        name: p.name.as_ref().map(|n| n.as_bytes().to_vec()),
        adl: None,
        mailbox: Some(p.local.as_bytes().to_vec()),
        host: Some(p.domain.as_bytes().to_vec()),
    }
}

/// Text lines of at most 76 characters until `out` holds `target` bytes.
fn text_lines(rng: &mut Rng, out: &mut Vec<u8>, target: usize) {
    let mut line = String::with_capacity(80);
    while out.len() < target {
        line.clear();
        let width = 40 + rng.below(37);
        while line.len() < width {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(rng.pick(WORDS));
        }
        line.truncate(76);
        out.extend_from_slice(line.trim_end().as_bytes());
        out.extend_from_slice(b"\r\n");
        if rng.below(8) == 0 {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Base64-looking lines of 76 characters until `out` holds `target` bytes.
fn base64_lines(rng: &mut Rng, out: &mut Vec<u8>, target: usize) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while out.len() < target {
        for _ in 0..76 {
            out.push(ALPHABET[rng.below(64)]);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// One realistic message (1 to 10 KB, one in five multipart/mixed with a
/// base64 attachment) and its envelope.
fn message(rng: &mut Rng, i: usize) -> (Vec<u8>, Envelope) {
    let from = person(rng);
    let to: Vec<Person> = (0..1 + rng.below(3)).map(|_| person(rng)).collect();
    let cc: Vec<Person> = if rng.below(3) == 0 {
        (0..1 + rng.below(2)).map(|_| person(rng)).collect()
    } else {
        Vec::new()
    };
    let reply = rng.below(4) == 0;
    let mut subject = String::new();
    if reply {
        subject.push_str("Re: ");
    }
    for k in 0..3 + rng.below(7) {
        if k > 0 {
            subject.push(' ');
        }
        let w = rng.pick(WORDS);
        if k == 0 {
            let mut c = w.chars();
            let f = c.next().unwrap();
            subject.extend(f.to_uppercase());
            subject.push_str(c.as_str());
        } else {
            subject.push_str(w);
        }
    }
    // All in November 2026 (1 November was a Sunday).
    let secs = i * 250 + rng.below(200);
    let day = secs / 86_400;
    let date = format!(
        "{}, {:02} Nov 2026 {:02}:{:02}:{:02} {}",
        WEEKDAYS[day % 7],
        day + 1,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        rng.pick(ZONES)
    );
    let message_id = format!("<2026{:08}.{:x}@{}>", i, rng.below(1 << 30), from.domain);
    let in_reply_to =
        reply.then(|| format!("<2026{:08}.{:x}@{}>", i / 2, rng.below(1 << 30), DOMAINS[0]));
    let size = 1000 + rng.below(9000);
    let multipart = rng.below(5) == 0;

    let mut m = Vec::with_capacity(size + 512);
    m.extend_from_slice(
        format!(
            "Return-Path: <{}@{}>\r\nReceived: from mx{}.{} (mx{}.{} [192.0.2.{}])\r\n\tby imap.example.net with ESMTPS id {:x}; {}\r\n",
            from.local, from.domain, i % 7, from.domain, i % 7, from.domain, i % 250 + 1, rng.below(1 << 30), date
        )
        .as_bytes(),
    );
    let list = |ps: &[Person]| {
        ps.iter()
            .map(|p| p.header.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    m.extend_from_slice(
        format!(
            "Date: {date}\r\nFrom: {}\r\nTo: {}\r\n",
            from.header,
            list(&to)
        )
        .as_bytes(),
    );
    if !cc.is_empty() {
        m.extend_from_slice(format!("Cc: {}\r\n", list(&cc)).as_bytes());
    }
    m.extend_from_slice(format!("Subject: {subject}\r\nMessage-ID: {message_id}\r\n").as_bytes());
    if let Some(r) = &in_reply_to {
        m.extend_from_slice(format!("In-Reply-To: {r}\r\nReferences: {r}\r\n").as_bytes());
    }
    m.extend_from_slice(b"MIME-Version: 1.0\r\n");
    if multipart {
        let boundary = format!("=_b{i:06}_{:x}", rng.below(1 << 20));
        m.extend_from_slice(
            format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            )
            .as_bytes(),
        );
        let text_end = m.len() + (size.saturating_sub(m.len())) / 3;
        text_lines(rng, &mut m, text_end);
        m.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"report-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            )
            .as_bytes(),
        );
        base64_lines(rng, &mut m, size);
        m.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    } else {
        m.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
        text_lines(rng, &mut m, size);
    }

    let from_list = vec![address(&from)];
    let envelope = Envelope {
        date: Some(date.into_bytes()),
        subject: Some(subject.into_bytes()),
        from: from_list.clone(),
        sender: from_list.clone(),
        reply_to: from_list,
        to: to.iter().map(address).collect(),
        cc: cc.iter().map(address).collect(),
        bcc: Vec::new(),
        in_reply_to: in_reply_to.map(String::into_bytes),
        message_id: Some(message_id.into_bytes()),
    };
    (m, envelope)
}

fn flags(rng: &mut Rng) -> Vec<Flag> {
    let mut f = Vec::new();
    if rng.below(10) != 0 {
        f.push(Flag::Seen);
    }
    if rng.below(6) == 0 {
        f.push(Flag::Answered);
    }
    if rng.below(12) == 0 {
        f.push(Flag::Flagged);
    }
    if rng.below(15) == 0 {
        f.push(Flag::Keyword("$Forwarded".into()));
    }
    f
}

struct Mailbox {
    /// (raw message, flags, envelope), UID = index + 1.
    messages: Vec<(Bytes, Vec<Flag>, Envelope)>,
}

fn mailbox() -> Mailbox {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let messages = (0..MESSAGES)
        .map(|i| {
            let (raw, envelope) = message(&mut rng, i);
            let flags = flags(&mut rng);
            (Bytes::from(raw), flags, envelope)
        })
        .collect();
    Mailbox { messages }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// A message of at least `target` bytes for APPEND.
fn append_message(target: usize) -> Vec<u8> {
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let mut m = b"From: Alice Smith <alice.smith@example.org>\r\nTo: Bob Jones <bob.jones@example.net>\r\nSubject: Draft of the quarterly report\r\nDate: Sat, 28 Nov 2026 18:00:00 +0000\r\nMessage-ID: <draft.20261128@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
    text_lines(&mut rng, &mut m, target);
    m
}

fn append_command(tag: &str, msg: &[u8]) -> Vec<u8> {
    let mut c = format!(
        "{tag} APPEND INBOX (\\Seen $Draft) \"28-Nov-2026 18:00:00 +0000\" {{{}}}\r\n",
        msg.len()
    )
    .into_bytes();
    c.extend_from_slice(msg);
    c.extend_from_slice(b"\r\n");
    c
}

const CMD_FETCH: &[u8] = b"a001 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n";
const CMD_SEARCH: &[u8] = b"a002 SEARCH UNSEEN SINCE 1-Nov-2026 FROM \"alice@example.org\" NOT DELETED OR SUBJECT \"quarterly report\" NOT (OR TO \"bob\" CC \"carol\") LARGER 1024 NOT OR FLAGGED ANSWERED BODY \"invoice\"\r\n";
const CMD_STORE: &[u8] =
    b"a003 UID STORE 1:100,205,300:310 +FLAGS.SILENT (\\Seen \\Flagged $Forwarded)\r\n";

/// What the contestant found: commands, and the APPEND message bytes.
type Found = (usize, u64);

/// Ours: the reader as a server runs it (each APPEND literal accepted, its
/// message streamed and counted), `Command::parse` for every other command.
fn postel_commands(reader: &mut CommandReader, input: &[u8]) -> Found {
    reader.enqueue_input(input);
    let mut commands = 0;
    let mut append = 0u64;
    while let Some(event) = reader.next_event() {
        match event {
            ReaderEvent::Command(bytes) => {
                let command = Command::parse(&bytes).expect("command parses");
                black_box(command);
                commands += 1;
            }
            ReaderEvent::Literal(request) => {
                assert!(request.append.is_some());
                black_box(request);
                reader.accept_literal();
            }
            ReaderEvent::AppendData(chunk) => append += chunk.len() as u64,
            ReaderEvent::AppendEnd => commands += 1,
            ReaderEvent::Refused { tag, error } => panic!("refused {tag:?}: {error}"),
        }
    }
    (commands, append)
}

/// Ours without the reader: `Command::parse` on each complete command (for
/// the commands without literals only).
fn postel_parse_only(commands: &[&[u8]]) -> Found {
    for c in commands {
        black_box(Command::parse(black_box(c)).expect("command parses"));
    }
    (commands.len(), 0)
}

fn codec_commands(codec: &CommandCodec, input: &[u8]) -> Found {
    use imap_codec::imap_types::command::CommandBody;
    use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
    let mut rest = input;
    let mut commands = 0;
    let mut append = 0u64;
    while !rest.is_empty() {
        let (r, command) = codec.decode(rest).expect("imap-codec decodes the command");
        if let CommandBody::Append { message, .. } = &command.body {
            append += match message {
                LiteralOrLiteral8::Literal(l) => l.data().len() as u64,
                LiteralOrLiteral8::Literal8(l) => l.data.len() as u64,
            };
        }
        black_box(command);
        commands += 1;
        rest = r;
    }
    (commands, append)
}

fn bench_commands(c: &mut Criterion) {
    let append_100k = append_command("a004", &append_message(100 * 1024));
    let append_2k4 = append_command("a005", &append_message(2400));
    let mut mix = Vec::new();
    for part in [CMD_FETCH, CMD_SEARCH, CMD_STORE, &append_100k[..]] {
        mix.extend_from_slice(part);
    }
    let append_100k_size = append_message(100 * 1024).len() as u64;
    let append_2k4_size = append_message(2400).len() as u64;

    // (name, bytes, commands, APPEND bytes)
    let cases: Vec<(&str, Vec<u8>, Found)> = vec![
        ("mix", mix.clone(), (4, append_100k_size)),
        ("uid_fetch", CMD_FETCH.to_vec(), (1, 0)),
        ("search", CMD_SEARCH.to_vec(), (1, 0)),
        ("uid_store", CMD_STORE.to_vec(), (1, 0)),
        ("append_100k", append_100k.clone(), (1, append_100k_size)),
        ("append_2k4", append_2k4.clone(), (1, append_2k4_size)),
    ];

    let codec = CommandCodec::new();
    let mut reader = CommandReader::new(ReaderLimits::default());
    for (name, input, expected) in &cases {
        assert_eq!(
            postel_commands(&mut reader, input),
            *expected,
            "postel {name}"
        );
        assert_eq!(
            codec_commands(&codec, input),
            *expected,
            "imap-codec {name}"
        );
        eprintln!(
            "imap_command_parse/{name}: {} bytes, {} commands, APPEND message {} bytes",
            input.len(),
            expected.0,
            expected.1
        );
    }
    let no_literals: Vec<&[u8]> = vec![CMD_FETCH, CMD_SEARCH, CMD_STORE];
    assert_eq!(postel_parse_only(&no_literals).0, 3);

    let mut group = c.benchmark_group("imap_command_parse");
    group.sample_size(20);
    for (name, input, _) in &cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("postel_reader_parse", name),
            input,
            |b, input| b.iter(|| postel_commands(&mut reader, black_box(input))),
        );
        group.bench_with_input(BenchmarkId::new("imap_codec", name), input, |b, input| {
            b.iter(|| codec_commands(&codec, black_box(input)))
        });
    }
    // For information: the parser alone, the three commands without literals.
    let bytes: usize = no_literals.iter().map(|c| c.len()).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(
        BenchmarkId::new("postel_parse_only", "fetch_search_store"),
        |b| b.iter(|| postel_parse_only(black_box(&no_literals))),
    );
    group.finish();
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// The FETCH responses as prebuilt values, then the tagged OK.
fn prebuilt_responses(mb: &Mailbox) -> Vec<Response> {
    let mut out: Vec<Response> = mb
        .messages
        .iter()
        .enumerate()
        .map(|(i, (raw, flags, envelope))| {
            let n = i as u32 + 1;
            Response::Data(Data::Fetch {
                seq: n,
                items: vec![
                    FetchData::Uid(n),
                    FetchData::Flags(flags.clone()),
                    FetchData::Rfc822Size(raw.len() as u64),
                    FetchData::Envelope(Box::new(envelope.clone())),
                ],
            })
        })
        .collect();
    out.push(Response::Status(StatusResponse {
        tag: Tag::new("f"),
        kind: StatusKind::Ok,
        code: None,
        text: "FETCH completed".into(),
    }));
    out
}

/// A store holding the mailbox in alice's INBOX.
fn store(mb: &Mailbox) -> MemoryStore {
    let store = MemoryStore::new();
    store.add_user("alice");
    for (raw, flags, _) in &mb.messages {
        store
            .insert("alice", "INBOX", raw.clone(), flags, None)
            .unwrap();
    }
    store
}

/// Runs the session until it has nothing more to do; `sink` sees every
/// piece of output. Logins for alice are accepted.
fn drain(
    session: &mut ServerSession<MemoryStore>,
    store: &mut MemoryStore,
    sink: &mut impl FnMut(Vec<u8>),
) {
    loop {
        let event = session.poll_event(store);
        // `None` also means "output at the high-water mark": write it and
        // poll again; stop when neither gives anything.
        let wrote = match session.poll_transmit() {
            Some(out) => {
                sink(out);
                true
            }
            None => false,
        };
        match event {
            Some(ServerEvent::Login { username, .. }) => {
                assert_eq!(username, "alice");
                session.login_verified(Some("alice".into())).unwrap();
            }
            Some(ServerEvent::LoggedIn { .. }) => {}
            Some(other) => panic!("unexpected event {other:?}"),
            None if wrote => {}
            None => break,
        }
    }
}

/// A session logged in as alice with INBOX selected.
fn selected_session(store: &mut MemoryStore) -> ServerSession<MemoryStore> {
    let config = Arc::new(ServerConfig::new("Postel IMAP ready"));
    let now = Instant::now();
    let mut session = ServerSession::new(config, now);
    session.enqueue_input(now, b"l LOGIN alice secret\r\ns SELECT INBOX\r\n");
    let mut out = Vec::new();
    drain(&mut session, store, &mut |o| out.extend_from_slice(&o));
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("\r\ns OK [READ-WRITE]"),
        "not selected: {text}"
    );
    session
}

/// `UID FETCH 1:*` through the session; returns (bytes, output pieces).
fn session_fetch(
    session: &mut ServerSession<MemoryStore>,
    store: &mut MemoryStore,
    sink: &mut impl FnMut(&[u8]),
) -> (usize, usize) {
    session.enqueue_input(Instant::now(), FETCH_COMMAND);
    let mut len = 0;
    let mut pieces = 0;
    drain(session, store, &mut |out| {
        len += out.len();
        pieces += 1;
        sink(&out);
    });
    (len, pieces)
}

fn postel_encode(responses: &[Response]) -> usize {
    let mut len = 0;
    for r in responses {
        let bytes = r.encode();
        len += bytes.len();
        black_box(bytes);
    }
    len
}

fn codec_encode(
    codec: &ResponseCodec,
    responses: &[imap_codec::imap_types::response::Response<'static>],
) -> usize {
    let mut len = 0;
    for r in responses {
        let bytes = codec.encode(r).dump();
        len += bytes.len();
        black_box(bytes);
    }
    len
}

/// The first place where two byte strings differ, for the report.
fn first_difference(a: &[u8], b: &[u8]) -> Option<(usize, String, String)> {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    if i == a.len() && i == b.len() {
        return None;
    }
    let excerpt = |s: &[u8]| {
        let from = i.saturating_sub(60);
        String::from_utf8_lossy(&s[from..(i + 60).min(s.len())]).into_owned()
    };
    Some((i, excerpt(a), excerpt(b)))
}

struct ResponseSetup {
    mb: Mailbox,
    responses: Vec<Response>,
    wire: Vec<u8>,
    codec_responses: Vec<imap_codec::imap_types::response::Response<'static>>,
}

fn response_setup() -> ResponseSetup {
    let started = Instant::now();
    let mb = mailbox();
    let responses = prebuilt_responses(&mb);
    let mut wire = Vec::new();
    for r in &responses {
        wire.extend_from_slice(&r.encode());
    }
    // imap-codec's values for the same responses: decoded from the same
    // bytes, made owned.
    let codec = ResponseCodec::new();
    let mut codec_responses = Vec::with_capacity(responses.len());
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let (r, response) = codec.decode(rest).expect("imap-codec decodes the response");
        codec_responses.push(response.into_static());
        rest = r;
    }
    assert_eq!(codec_responses.len(), MESSAGES + 1);
    let bodies: usize = mb.messages.iter().map(|m| m.0.len()).sum();
    let multipart = mb
        .messages
        .iter()
        .filter(|m| memchr::memmem::find(&m.0, b"multipart/mixed").is_some())
        .count();
    eprintln!(
        "imap responses: {MESSAGES} messages ({bodies} bytes, {multipart} multipart), UID FETCH response {} bytes, set up in {:.1} s",
        wire.len(),
        started.elapsed().as_secs_f64()
    );
    ResponseSetup {
        mb,
        responses,
        wire,
        codec_responses,
    }
}

fn bench_encode(c: &mut Criterion, s: &ResponseSetup) {
    // Ours, Response::encode: the bytes are `wire` by construction.
    assert_eq!(postel_encode(&s.responses), s.wire.len());
    // imap-codec writes the same bytes from its own values.
    let codec = ResponseCodec::new();
    let mut codec_wire = Vec::new();
    for r in &s.codec_responses {
        codec_wire.extend_from_slice(&codec.encode(r).dump());
    }
    if let Some((at, ours, theirs)) = first_difference(&s.wire, &codec_wire) {
        panic!("imap-codec writes other bytes at {at}:\n ours: {ours:?}\n imap-codec: {theirs:?}");
    }

    // Ours through the server session: compare what it sends with the
    // prebuilt responses (the envelopes come from the server's own MIME
    // code there).
    let mut store = store(&s.mb);
    let mut session = selected_session(&mut store);
    let mut served = Vec::new();
    let (served_len, pieces) = session_fetch(&mut session, &mut store, &mut |o| {
        served.extend_from_slice(o)
    });
    let served_responses = served.windows(2).filter(|w| w == b"\r\n").count();
    assert_eq!(
        served_responses,
        MESSAGES + 1,
        "the session sends one line per message and the OK"
    );
    assert!(served.ends_with(b"\r\nf OK FETCH completed\r\n"));
    match first_difference(&s.wire, &served) {
        None => eprintln!(
            "imap_response_encode: the server session sends exactly the prebuilt bytes ({served_len} bytes in {pieces} pieces)"
        ),
        Some((at, ours, session)) => eprintln!(
            "imap_response_encode: WARNING the server session's bytes differ from the prebuilt responses ({served_len} against {} bytes, first at {at}):\n prebuilt: {ours:?}\n session:  {session:?}",
            s.wire.len()
        ),
    }

    let mut group = c.benchmark_group("imap_response_encode");
    group.sample_size(20);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(s.wire.len() as u64));
    group.bench_function("postel_response_encode", |b| {
        b.iter(|| postel_encode(black_box(&s.responses)))
    });
    group.bench_function("imap_codec_response_codec", |b| {
        b.iter(|| codec_encode(&codec, black_box(&s.codec_responses)))
    });
    // The session's own output size (equal to the others when its
    // envelopes match the prebuilt ones).
    group.throughput(Throughput::Bytes(served_len as u64));
    group.bench_function("postel_server_session", |b| {
        b.iter(|| {
            session_fetch(&mut session, &mut store, &mut |o| {
                black_box(o);
            })
        })
    });
    group.finish();
}

/// Ours: the client's reader over the whole buffer; returns the number of
/// responses (FETCH responses checked for their four items).
fn postel_reader(reader: &mut ResponseReader, wire: &[u8]) -> usize {
    reader.enqueue_input(wire);
    let mut n = 0;
    while let Some(event) = reader.next_event() {
        match event {
            ResponseEvent::Response(r) => {
                if let Response::Data(Data::Fetch { items, .. }) = &r {
                    debug_assert_eq!(items.len(), 4);
                }
                black_box(r);
                n += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    n
}

fn postel_parse_lines(lines: &[&[u8]]) -> usize {
    for l in lines {
        black_box(Response::parse(black_box(l)).expect("response parses"));
    }
    lines.len()
}

fn codec_decode(codec: &ResponseCodec, wire: &[u8]) -> usize {
    let mut rest = wire;
    let mut n = 0;
    while !rest.is_empty() {
        let (r, response) = codec.decode(rest).expect("imap-codec decodes the response");
        black_box(response);
        n += 1;
        rest = r;
    }
    n
}

fn djc_parse(wire: &[u8]) -> usize {
    let mut rest = wire;
    let mut n = 0;
    while !rest.is_empty() {
        let (r, response) =
            imap_proto::Response::parse(rest).expect("imap-proto parses the response");
        black_box(response);
        n += 1;
        rest = r;
    }
    n
}

fn bench_parse(c: &mut Criterion, s: &ResponseSetup) {
    let wire = &s.wire[..];
    // Ours: every response comes back equal to the prebuilt value.
    let mut reader = ResponseReader::new(ResponseLimits::default());
    reader.enqueue_input(wire);
    let mut parsed = Vec::new();
    while let Some(event) = reader.next_event() {
        match event {
            ResponseEvent::Response(r) => parsed.push(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        parsed == s.responses,
        "ResponseReader gives back the prebuilt responses"
    );
    assert_eq!(postel_reader(&mut reader, wire), MESSAGES + 1);
    // The responses hold no literals: cut at CRLF for Response::parse alone.
    let lines: Vec<&[u8]> = wire.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(postel_parse_lines(&lines), MESSAGES + 1);

    let codec = ResponseCodec::new();
    assert_eq!(codec_decode(&codec, wire), MESSAGES + 1);

    // imap-proto: the same count, every FETCH with its four items and the
    // same subjects.
    let mut rest = wire;
    let mut fetches = 0;
    while !rest.is_empty() {
        let (r, response) = imap_proto::Response::parse(rest).expect("imap-proto parses");
        if let imap_proto::Response::Fetch(seq, attrs) = &response {
            assert_eq!(attrs.len(), 4);
            let Some(imap_proto::AttributeValue::Envelope(env)) = attrs.get(3) else {
                panic!("no envelope in {attrs:?}");
            };
            let expected = &s.mb.messages[*seq as usize - 1].2;
            assert_eq!(env.subject.as_deref(), expected.subject.as_deref());
            assert_eq!(env.to.as_ref().map_or(0, Vec::len), expected.to.len());
            fetches += 1;
        }
        rest = r;
    }
    assert_eq!(fetches, MESSAGES);
    assert_eq!(djc_parse(wire), MESSAGES + 1);

    let mut group = c.benchmark_group("imap_response_parse");
    group.sample_size(20);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("postel_response_reader", |b| {
        b.iter(|| postel_reader(&mut reader, black_box(wire)))
    });
    group.bench_function("postel_response_parse_only", |b| {
        b.iter(|| postel_parse_lines(black_box(&lines)))
    });
    group.bench_function("imap_codec_response_codec", |b| {
        b.iter(|| codec_decode(&codec, black_box(wire)))
    });
    group.bench_function("imap_proto_parse_response", |b| {
        b.iter(|| djc_parse(black_box(wire)))
    });
    group.finish();
}

fn bench_responses(c: &mut Criterion) {
    let setup = response_setup();
    bench_encode(c, &setup);
    bench_parse(c, &setup);
}

criterion_group!(benches, bench_commands, bench_responses);
criterion_main!(benches);
