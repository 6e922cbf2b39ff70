//! Property tests: byte-stuffing round trips, chunking invariance of the
//! server session and of the client session, and no panics on arbitrary
//! input.

mod common;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Harness, RFC_TIMESTAMP, config, rfc_store};
use postel_pop3::client::{ClientAuth, ClientConfig, ClientEvent, ClientSession};
use postel_pop3::maildrop::MemoryStore;
use postel_pop3::multiline::{DecodeStatus, DotDecoder, DotStuffer, to_crlf};
use postel_pop3::server::ServerEvent;
use postel_pop3::{Command, Response};
use proptest::collection::vec;
use proptest::prelude::*;

/// Bytes rich in the characters that matter: `.`, CR, LF.
fn body() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            3 => Just(b'.'),
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            4 => Just(b'a'),
            1 => any::<u8>(),
        ],
        0..300,
    )
}

/// Splits `data` at the given points (taken modulo its length).
fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| if data.is_empty() { 0 } else { c % data.len() })
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(&data[last..p]);
        last = p;
    }
    out.push(&data[last..]);
    out
}

fn encode(pieces: &[&[u8]], mut enc: DotStuffer) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        enc.encode(p, &mut out);
    }
    enc.finish(&mut out);
    out
}

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, bool, usize) {
    let mut dec = DotDecoder::new();
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    let mut ended = false;
    for p in pieces {
        assert!(!ended, "data after the terminator");
        input.extend_from_slice(p);
        if dec.decode(&mut input, &mut |b| out.extend_from_slice(&b)) == DecodeStatus::End {
            ended = true;
        }
    }
    (out, ended, input.len())
}

/// What the client must receive for `body`: CRLF line endings, and a
/// closed last line.
fn expected_content(body: &[u8]) -> Vec<u8> {
    let mut e = to_crlf(body);
    if !e.is_empty() && !e.ends_with(b"\n") {
        if e.ends_with(b"\r") {
            e.push(b'\n');
        } else {
            e.extend_from_slice(b"\r\n");
        }
    }
    e
}

/// TOP done the simple way: lines up to the first empty one, then `n`.
fn reference_top(content: &[u8], n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    let mut left = n;
    for line in content.split_inclusive(|&b| b == b'\n') {
        if !in_header {
            if left == 0 {
                break;
            }
            left -= 1;
        }
        out.extend_from_slice(line);
        if in_header && (line == b"\r\n" || line == b"\n") {
            in_header = false;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn stuffing_round_trips(data in body(), enc_cuts in vec(any::<usize>(), 0..6), dec_cuts in vec(any::<usize>(), 0..6)) {
        let wire = encode(&split(&data, &enc_cuts), DotStuffer::new());
        // Any split of the encoder's input gives the same wire bytes.
        prop_assert_eq!(&wire, &encode(&[&data], DotStuffer::new()));
        // The terminator is the last line and only there.
        prop_assert!(wire.ends_with(b".\r\n"));
        let (content, ended, left) = decode(&split(&wire, &dec_cuts));
        prop_assert!(ended);
        prop_assert_eq!(left, 0);
        prop_assert_eq!(content, expected_content(&data));
    }

    #[test]
    fn top_matches_the_simple_definition(data in body(), n in 0u64..6, cuts in vec(any::<usize>(), 0..6)) {
        let wire = encode(&split(&data, &cuts), DotStuffer::top(n));
        let (content, ended, _) = decode(&[&wire]);
        prop_assert!(ended);
        let full = expected_content(&data);
        prop_assert_eq!(content, reference_top(&full, n));
    }

    #[test]
    fn decoder_never_panics(data in vec(any::<u8>(), 0..400), cuts in vec(any::<usize>(), 0..6)) {
        let whole = decode(&[&data]);
        let mut dec = DotDecoder::new();
        let mut input = BytesMut::new();
        let mut out = Vec::new();
        let mut ended = false;
        for p in split(&data, &cuts) {
            if ended { break; }
            input.extend_from_slice(p);
            ended = dec.decode(&mut input, &mut |b| out.extend_from_slice(&b)) == DecodeStatus::End;
        }
        // Content up to the terminator is the same however the input is split.
        prop_assert_eq!(whole.1, ended);
        if ended {
            prop_assert_eq!(whole.0, out);
        }
    }
}

// ----- server sessions -----

fn command_line() -> impl Strategy<Value = String> {
    let digest = postel_pop3::apop::apop_digest(RFC_TIMESTAMP, "tanstaaf");
    prop_oneof![
        Just("USER mrose".to_owned()),
        Just("PASS tanstaaf".to_owned()),
        Just("PASS wrong".to_owned()),
        Just(format!("APOP mrose {digest}")),
        Just("AUTH PLAIN AG1yb3NlAHRhbnN0YWFm".to_owned()),
        Just("AUTH LOGIN".to_owned()),
        Just("bXJvc2U=".to_owned()),
        Just("dGFuc3RhYWY=".to_owned()),
        Just("*".to_owned()),
        Just("CAPA".to_owned()),
        Just("STLS".to_owned()),
        Just("STAT".to_owned()),
        Just("LIST".to_owned()),
        (0u32..4).prop_map(|n| format!("LIST {n}")),
        Just("UIDL".to_owned()),
        (0u32..4).prop_map(|n| format!("UIDL {n}")),
        (0u32..4).prop_map(|n| format!("RETR {n}")),
        (0u32..4, 0u64..4).prop_map(|(n, l)| format!("TOP {n} {l}")),
        (0u32..4).prop_map(|n| format!("DELE {n}")),
        Just("NOOP".to_owned()),
        Just("RSET".to_owned()),
        Just("LANG".to_owned()),
        Just("LANG en".to_owned()),
        Just("UTF8".to_owned()),
        Just("QUIT".to_owned()),
        "[ -~]{0,20}",
    ]
}

fn server_config() -> postel_pop3::server::ServerConfig {
    let mut c = config();
    c.extensions.stls = true;
    c.limits.max_errors = 50;
    c.limits.command_line = 64;
    c
}

fn run_server(
    input: &[u8],
    cuts: &[usize],
    agent_chunk: usize,
) -> (String, Vec<ServerEvent>, Vec<usize>) {
    let store = rfc_store();
    let mut h = Harness::with_chunk(
        server_config(),
        store.clone(),
        Some(RFC_TIMESTAMP),
        agent_chunk,
    );
    // All input counts as sent before any TLS handshake, so everything after
    // STLS is discarded however it is split.
    h.auto_tls = false;
    for piece in split(input, cuts) {
        h.session.enqueue_input(h.now, piece);
        h.pump();
    }
    let out = String::from_utf8_lossy(&h.output).into_owned();
    drop(h.agent);
    let left = vec![store.messages("mrose").len()];
    (out, h.events, left)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn server_is_chunking_invariant(
        lines in vec(command_line(), 0..25),
        cuts in vec(any::<usize>(), 0..12),
        agent_chunk in 1usize..50,
    ) {
        let script: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
        let whole = run_server(script.as_bytes(), &[], 4096);
        let pieces = run_server(script.as_bytes(), &cuts, agent_chunk);
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn server_never_panics_on_arbitrary_bytes(
        data in vec(any::<u8>(), 0..2000),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let (_, events, _) = run_server(&data, &cuts, 7);
        // Deletions are committed only through an explicit QUIT.
        if events.iter().any(|e| matches!(e, ServerEvent::Commit { .. })) {
            prop_assert!(events.contains(&ServerEvent::Quit));
        }
        let mut h = Harness::new(server_config(), MemoryStore::new(), None);
        h.feed(&data);
        h.session.handle_timeout(h.now + Duration::from_secs(3600));
        prop_assert!(h.session.is_closed() || h.session.poll_timeout().is_none());
    }

    #[test]
    fn server_never_panics_on_near_miss_commands(
        lines in vec("(USER|PASS|APOP|AUTH|STLS|CAPA|STAT|LIST|RETR|DELE|TOP|UIDL|LANG|UTF8|NOOP|RSET)( [ -~]{0,12}){0,3}", 0..20),
    ) {
        let script: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
        let mut h = Harness::rfc();
        h.feed(script.as_bytes());
        h.login_if_possible();
    }
}

trait LoginIfPossible {
    fn login_if_possible(&mut self);
}

impl LoginIfPossible for Harness {
    fn login_if_possible(&mut self) {
        if !self.session.is_closed() {
            self.feed(b"USER mrose\r\nPASS tanstaaf\r\nRETR 1\r\nQUIT\r\n");
        }
    }
}

// ----- client sessions -----

/// A whole server transcript for a client that logs in and runs commands.
fn server_transcript() -> Vec<u8> {
    let mut h = Harness::rfc();
    h.feed(
        b"CAPA\r\nUSER mrose\r\nPASS tanstaaf\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\n\
          RETR 9\r\nDELE 1\r\nQUIT\r\n",
    );
    h.output.clone()
}

fn client_config() -> ClientConfig {
    let mut c = ClientConfig::new(Some(ClientAuth::UserPass {
        user: "mrose".into(),
        password: "tanstaaf".into(),
    }));
    c.allow_plaintext_without_tls = true;
    c
}

/// Feeds `input` in pieces; gives commands on Ready; returns the events
/// with message data merged, and what the client sent.
fn run_client(input: &[u8], cuts: &[usize]) -> (Vec<ClientEvent>, Vec<u8>) {
    let now = Instant::now();
    let mut c = ClientSession::new(client_config(), now);
    let mut events: Vec<ClientEvent> = Vec::new();
    let mut sent = Vec::new();
    for piece in split(input, cuts) {
        c.enqueue_input(now, piece);
        while let Some(e) = c.poll_event() {
            if e == ClientEvent::Ready {
                c.stat(now).unwrap();
                c.list(now, None).unwrap();
                c.uidl(now, None).unwrap();
                c.retr(now, 1).unwrap();
                c.top(now, 2, 1).unwrap();
                c.retr(now, 9).unwrap();
                c.dele(now, 1).unwrap();
                c.quit(now).unwrap();
            }
            match (events.last_mut(), e) {
                (Some(ClientEvent::MessageData(prev)), ClientEvent::MessageData(more)) => {
                    let mut joined = prev.to_vec();
                    joined.extend_from_slice(&more);
                    *prev = joined.into();
                }
                (_, e) => events.push(e),
            }
        }
        sent.extend(c.poll_transmit().unwrap_or_default());
    }
    (events, sent)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn client_is_chunking_invariant(cuts in vec(any::<usize>(), 0..20)) {
        let transcript = server_transcript();
        let whole = run_client(&transcript, &[]);
        prop_assert!(matches!(whole.0.last(), Some(ClientEvent::Closed(r)) if r.is_ok()), "{:?}", whole.0);
        prop_assert_eq!(whole, run_client(&transcript, &cuts));
    }

    #[test]
    fn client_never_panics_on_arbitrary_bytes(
        prefix in 0usize..400,
        noise in vec(any::<u8>(), 0..600),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let mut input = server_transcript();
        input.truncate(prefix.min(input.len()));
        input.extend_from_slice(&noise);
        let _ = run_client(&input, &cuts);
        let _ = run_client(&noise, &cuts);
    }

    #[test]
    fn responses_and_commands_never_panic(line in vec(any::<u8>(), 0..80)) {
        if let Ok(r) = Response::parse(&line) {
            let bytes = r.to_bytes();
            prop_assert_eq!(Response::parse(&bytes[..bytes.len() - 2]).ok(), Some(r));
        }
        if let Ok(c) = Command::parse(&line) {
            let bytes = c.to_bytes();
            prop_assert_eq!(Command::parse(&bytes[..bytes.len() - 2]).ok(), Some(c));
        }
    }
}
