//! Test harness for `postel_smtp::server::ServerSession`: feeds client bytes
//! in chunks of a chosen size, answers every decision through a closure, and
//! records what the session wrote and which events it reported.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postel_sasl::Verification;
use postel_smtp::reply::ReplyParser;
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession, TlsInfo};
use postel_smtp::{ForwardPath, Mailbox, Reply, ReversePath};

/// Chunk sizes every chunked test runs with; `usize::MAX` is "the whole
/// input in one read".
pub const CHUNK_SIZES: [usize; 5] = [1, 2, 3, 7, usize::MAX];

/// Chunk sizes 1 to 7 and the whole input.
pub const ALL_SMALL_CHUNKS: [usize; 8] = [1, 2, 3, 4, 5, 6, 7, usize::MAX];

/// How the application answers an event that needs a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `accept()` (for `AuthVerify`: `auth_verified(Verification::Accepted)`).
    Accept,
    /// `respond(reply)`: positive accepts, anything else refuses.
    Reply(Reply),
    /// `respond_per_recipient(replies)` (LMTP end of message).
    PerRecipient(Vec<Reply>),
    /// `auth_verified(verification)`.
    Auth(Verification),
}

/// A decider that accepts everything.
pub fn accept_all(_: &ServerEvent) -> Decision {
    Decision::Accept
}

/// A server session plus everything it produced.
pub struct Harness<F: FnMut(&ServerEvent) -> Decision> {
    /// The session under test.
    pub session: ServerSession,
    /// The clock handed to the session; tests move it forward.
    pub now: Instant,
    decide: F,
    /// Every byte the session asked to write, in order.
    pub output: Vec<u8>,
    /// Each non-empty `poll_transmit` result, in order.
    pub writes: Vec<Vec<u8>>,
    /// Events in order; consecutive `MessageData` chunks are merged into one.
    pub events: Vec<ServerEvent>,
    /// One entry per message that ended (`MessageEnd` or `MessageAborted`):
    /// the concatenated body delivered before the end.
    pub bodies: Vec<Vec<u8>>,
    current_body: Option<Vec<u8>>,
    /// On `StartTls`, call `tls_established` at once (for fuzzing).
    pub auto_tls: bool,
    /// Bytes of output already handed out by `take_new_output`.
    read_pos: usize,
}

impl<F: FnMut(&ServerEvent) -> Decision> Harness<F> {
    /// A session greeting with 220, for `config`.
    pub fn new(config: ServerConfig, decide: F) -> Self {
        let now = Instant::now();
        let session = ServerSession::new(Arc::new(config), ConnectionInfo::default(), now);
        Self::from_session(session, now, decide)
    }

    /// Wraps an existing session (e.g. one built with `ServerSession::refuse`).
    pub fn from_session(session: ServerSession, now: Instant, decide: F) -> Self {
        let mut h = Harness {
            session,
            now,
            decide,
            output: Vec::new(),
            writes: Vec::new(),
            events: Vec::new(),
            bodies: Vec::new(),
            current_body: None,
            auto_tls: false,
            read_pos: 0,
        };
        h.pump();
        h
    }

    /// Processes every event the session has, answering decisions, then
    /// collects the output.
    pub fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.record(&event);
                if event.needs_decision() {
                    let decision = (self.decide)(&event);
                    self.apply(&event, decision);
                }
                if self.auto_tls && event == ServerEvent::StartTls {
                    self.collect_output();
                    self.session
                        .tls_established(test_tls())
                        .expect("tls_established after StartTls");
                }
            }
            self.collect_output();
            if !progressed {
                break;
            }
        }
    }

    fn collect_output(&mut self) {
        if let Some(bytes) = self.session.poll_transmit() {
            assert!(!bytes.is_empty(), "poll_transmit returned an empty Some");
            self.output.extend_from_slice(&bytes);
            self.writes.push(bytes);
        }
    }

    fn record(&mut self, event: &ServerEvent) {
        match event {
            ServerEvent::MessageStart => {
                self.current_body = Some(Vec::new());
            }
            ServerEvent::MessageData(chunk) => {
                self.current_body
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(chunk);
                if let Some(ServerEvent::MessageData(prev)) = self.events.last_mut() {
                    let mut merged = prev.to_vec();
                    merged.extend_from_slice(chunk);
                    *prev = Bytes::from(merged);
                    return;
                }
            }
            ServerEvent::MessageEnd { .. } | ServerEvent::MessageAborted { .. } => {
                self.bodies
                    .push(self.current_body.take().unwrap_or_default());
            }
            _ => {}
        }
        self.events.push(event.clone());
    }

    fn apply(&mut self, event: &ServerEvent, decision: Decision) {
        let result = match (event, decision) {
            (ServerEvent::AuthVerify(_), Decision::Accept) => {
                self.session.auth_verified(Verification::Accepted)
            }
            (_, Decision::Accept) => self.session.accept(),
            (_, Decision::Reply(r)) => self.session.respond(r),
            (_, Decision::PerRecipient(v)) => self.session.respond_per_recipient(v),
            (_, Decision::Auth(v)) => self.session.auth_verified(v),
        };
        result.unwrap_or_else(|e| panic!("decision for {event:?} failed: {e}"));
    }

    /// Feeds `input` in pieces of `chunk` bytes, pumping after each.
    pub fn feed(&mut self, input: &[u8], chunk: usize) {
        for piece in input.chunks(chunk.max(1)) {
            self.session.enqueue_input(self.now, piece);
            self.pump();
        }
    }

    /// Feeds `input` split at the given offsets (sorted, deduplicated here).
    pub fn feed_split(&mut self, input: &[u8], cuts: &[usize]) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut start = 0;
        for cut in cuts.into_iter().chain(std::iter::once(input.len())) {
            if cut > start {
                self.session.enqueue_input(self.now, &input[start..cut]);
                self.pump();
                start = cut;
            }
        }
    }

    /// Output written since the last call.
    pub fn take_new_output(&mut self) -> Vec<u8> {
        let new = self.output[self.read_pos..].to_vec();
        self.read_pos = self.output.len();
        new
    }

    /// Feeds `input` and returns the replies written in response.
    pub fn send(&mut self, input: &[u8], chunk: usize) -> Vec<Reply> {
        self.feed(input, chunk);
        let out = self.take_new_output();
        parse_replies(&out)
    }

    /// Feeds `input` and returns the codes of the replies written in response.
    pub fn codes(&mut self, input: &[u8], chunk: usize) -> Vec<u16> {
        self.send(input, chunk).iter().map(Reply::code).collect()
    }

    /// Moves the clock forward and lets the session check its deadline.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.session.handle_timeout(self.now);
        self.pump();
    }

    /// Events other than message data, for order checks.
    pub fn events_without_data(&self) -> Vec<ServerEvent> {
        self.events
            .iter()
            .filter(|e| !matches!(e, ServerEvent::MessageData(_)))
            .cloned()
            .collect()
    }

    /// Senders of all `MailFrom` events, as strings (`<>` for null).
    pub fn senders(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::MailFrom { from, .. } => Some(from.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Recipients of all `RcptTo` events, as strings.
    pub fn recipients(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::RcptTo { to, .. } => Some(to.to_string()),
                _ => None,
            })
            .collect()
    }
}

/// The TLS facts tests hand to `tls_established`.
pub fn test_tls() -> TlsInfo {
    TlsInfo {
        protocol: "TLSv1.3".to_owned(),
        cipher: "TLS13_AES_128_GCM_SHA256".to_owned(),
    }
}

/// Parses every complete reply in `bytes`; panics on malformed output or on
/// a trailing partial reply.
pub fn parse_replies(bytes: &[u8]) -> Vec<Reply> {
    let mut parser = ReplyParser::default();
    parser.feed(bytes);
    let mut replies = Vec::new();
    while let Some(r) = parser
        .next_reply()
        .unwrap_or_else(|e| panic!("server wrote a malformed reply ({e}): {:?}", lossy(bytes)))
    {
        replies.push(r);
    }
    assert_eq!(
        parser.buffered(),
        0,
        "server output ends in a partial reply: {:?}",
        lossy(bytes)
    );
    replies
}

/// Bytes as text for assertion messages.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One step of a transcript: what the client sends, and the reply codes the
/// server must answer with (in order) before the next step.
pub type Step<'a> = (&'a str, &'a [u16]);

/// Runs a transcript against `h`, feeding each step in pieces of `chunk`
/// bytes and checking the reply codes after each. Client text is sent as is
/// (include the CRLFs).
pub fn run_transcript<F: FnMut(&ServerEvent) -> Decision>(
    h: &mut Harness<F>,
    chunk: usize,
    steps: &[Step<'_>],
) {
    for (i, (input, expected)) in steps.iter().enumerate() {
        h.feed(input.as_bytes(), chunk);
        let out = h.take_new_output();
        let codes: Vec<u16> = parse_replies(&out).iter().map(Reply::code).collect();
        assert_eq!(
            codes,
            *expected,
            "step {i} (chunk {}): client sent {input:?}, server wrote {:?}",
            chunk_label(chunk),
            lossy(&out)
        );
    }
}

/// A chunk size for messages: "whole" for `usize::MAX`.
pub fn chunk_label(chunk: usize) -> String {
    if chunk == usize::MAX {
        "whole".to_owned()
    } else {
        chunk.to_string()
    }
}

/// A fresh session for `config` whose 220 greeting has been checked and
/// consumed.
pub fn greeted<F: FnMut(&ServerEvent) -> Decision>(config: ServerConfig, decide: F) -> Harness<F> {
    let mut h = Harness::new(config, decide);
    let greeting = h.take_new_output();
    assert!(
        greeting.starts_with(b"220 "),
        "expected a 220 greeting, got {:?}",
        lossy(&greeting)
    );
    h
}

/// A mailbox from text; panics if it does not parse.
pub fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap_or_else(|e| panic!("{s:?} is not a mailbox: {e}"))
}

/// A reverse path from text.
pub fn sender(s: &str) -> ReversePath {
    ReversePath::Mailbox(mailbox(s))
}

/// A forward path from text.
pub fn rcpt(s: &str) -> ForwardPath {
    ForwardPath::Mailbox(mailbox(s))
}

/// Path of a seed transcript, relative to this crate.
pub fn seed_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/seed")
        .join(name)
}

/// Reads a seed transcript; fails the test with a clear message when absent.
pub fn read_seed(name: &str) -> String {
    let path = seed_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "seed transcript {} is missing or unreadable ({e}); the seed files are expected in \
             /work/shared/seed next to the workspace",
            path.display()
        )
    })
}

/// A client session and a server harness wired together in memory.
pub struct Pair<F: FnMut(&ServerEvent) -> Decision> {
    /// The client under test.
    pub client: postel_smtp::client::ClientSession,
    /// The server side.
    pub server: Harness<F>,
    /// Client events seen so far, in order.
    pub client_events: Vec<postel_smtp::client::ClientEvent>,
    /// Every byte the client wrote.
    pub client_bytes: Vec<u8>,
    /// Every byte the server wrote (the greeting included).
    pub server_bytes: Vec<u8>,
}

impl<F: FnMut(&ServerEvent) -> Decision> Pair<F> {
    /// Wires `client` to `server`.
    pub fn new(client: postel_smtp::client::ClientSession, server: Harness<F>) -> Self {
        Pair {
            client,
            server,
            client_events: Vec::new(),
            client_bytes: Vec::new(),
            server_bytes: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything more to say;
    /// returns the client events that came up during this call.
    pub fn run(&mut self) -> Vec<postel_smtp::client::ClientEvent> {
        let first_new = self.client_events.len();
        for _ in 0..10_000 {
            let mut moved = false;
            let from_server = self.server.take_new_output();
            if !from_server.is_empty() {
                self.server_bytes.extend_from_slice(&from_server);
                self.client.enqueue_input(self.server.now, &from_server);
                moved = true;
            }
            while let Some(ev) = self.client.poll_event() {
                self.client_events.push(ev);
                moved = true;
            }
            if let Some(from_client) = self.client.poll_transmit() {
                self.client_bytes.extend_from_slice(&from_client);
                self.server.feed(&from_client, usize::MAX);
                moved = true;
            }
            if !moved {
                return self.client_events[first_new..].to_vec();
            }
        }
        panic!("client and server never went quiet");
    }
}
