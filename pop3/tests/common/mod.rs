//! Test harness for `postel_pop3::server::ServerSession`: a session plus a
//! `MaildropAgent` over a `MemoryStore`, credentials checked against a
//! table, input fed in chunks of a chosen size, and everything the session
//! wrote and reported recorded.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use postel_pop3::apop::{ApopTimestamp, verify_apop};
use postel_pop3::client::{ClientConfig, ClientEvent, ClientSession};
use postel_pop3::maildrop::{MaildropAgent, MemoryStore};
use postel_pop3::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession, TlsInfo};
use postel_sasl::{ScramCredentials, Verification, VerifyRequest};

/// Chunk sizes every chunked test runs with; `usize::MAX` is "the whole
/// input in one read".
pub const CHUNK_SIZES: [usize; 5] = [1, 2, 3, 7, usize::MAX];

/// The RFC 1939 §10 APOP timestamp.
pub const RFC_TIMESTAMP: &str = "<1896.697170952@dbc.mtview.ca.us>";

/// Message 1 of the standard maildrop (120 octets, like RFC 1939 §10's).
pub fn message_one() -> Vec<u8> {
    let mut m =
        b"From: a@example.org\r\nSubject: one\r\n\r\n.leading dot\r\n..two dots\r\n".to_vec();
    while m.len() < 118 {
        m.extend_from_slice(b"x");
    }
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), 120);
    m
}

/// Message 2 of the standard maildrop (200 octets).
pub fn message_two() -> Vec<u8> {
    let mut m =
        b"From: b@example.org\r\nSubject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n".to_vec();
    while m.len() < 198 {
        m.extend_from_slice(b"y");
    }
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), 200);
    m
}

/// A store with mrose's two messages (RFC 1939 §10: 320 octets) and an
/// empty maildrop for alice.
pub fn rfc_store() -> MemoryStore {
    let store = MemoryStore::new();
    store
        .add("mrose", "QhdPYR:00WBw1Ph7x7", &message_one())
        .unwrap();
    store
        .add("mrose", "QhdPYR:00WBw1Ph7x8", &message_two())
        .unwrap();
    store
}

/// A configuration that allows plaintext logins, named "dewey" as in
/// RFC 1939 §10.
pub fn config() -> ServerConfig {
    let mut c = ServerConfig::new("dewey");
    c.greeting = "POP3 server ready".to_owned();
    c.allow_plaintext_login = true;
    c
}

/// The SCRAM salt and server nonce the harness uses.
pub const SCRAM_SALT: &[u8] = b"harness salt";
/// The server's SCRAM nonce part.
pub const SCRAM_SERVER_NONCE: &str = "srvnonce42";

/// A server session, an agent, and what they did.
pub struct Harness {
    /// The session under test.
    pub session: ServerSession,
    /// The maildrop agent.
    pub agent: MaildropAgent<MemoryStore>,
    /// The store behind the agent.
    pub store: MemoryStore,
    /// The clock handed to the session.
    pub now: Instant,
    /// user → password (and APOP secret).
    pub passwords: HashMap<String, String>,
    scram: HashMap<String, ScramCredentials>,
    /// Every byte the session wrote, in order.
    pub output: Vec<u8>,
    /// Every event, in order.
    pub events: Vec<ServerEvent>,
    /// On `StartTls`, call `tls_established` at once.
    pub auto_tls: bool,
    read_pos: usize,
}

impl Harness {
    /// A session for `config` over `store`; APOP offered with `apop`.
    pub fn new(config: ServerConfig, store: MemoryStore, apop: Option<&str>) -> Self {
        Self::with_chunk(config, store, apop, 7)
    }

    /// Like `new`, with the agent reading `chunk` bytes per pump.
    pub fn with_chunk(
        config: ServerConfig,
        store: MemoryStore,
        apop: Option<&str>,
        chunk: usize,
    ) -> Self {
        let now = Instant::now();
        let config = Arc::new(config);
        let session = match apop {
            Some(ts) => ServerSession::with_apop(
                config,
                ConnectionInfo::default(),
                ApopTimestamp::new(ts).unwrap(),
                now,
            ),
            None => ServerSession::new(config, ConnectionInfo::default(), now),
        };
        let mut passwords = HashMap::new();
        passwords.insert("mrose".to_owned(), "tanstaaf".to_owned());
        passwords.insert("alice".to_owned(), "secret".to_owned());
        let mut h = Harness {
            session,
            agent: MaildropAgent::with_chunk_size(store.clone(), chunk),
            store,
            now,
            passwords,
            scram: HashMap::new(),
            output: Vec::new(),
            events: Vec::new(),
            auto_tls: true,
            read_pos: 0,
        };
        h.pump();
        h
    }

    /// The standard harness: RFC store, `config()`, APOP with the RFC
    /// timestamp.
    pub fn rfc() -> Self {
        Self::new(config(), rfc_store(), Some(RFC_TIMESTAMP))
    }

    fn password(&self, user: &str) -> Option<&str> {
        self.passwords.get(user).map(String::as_str)
    }

    fn decide(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Login { user, password } => {
                let ok = self.password(&user) == Some(password.as_str());
                self.session.login_verified(ok).unwrap();
            }
            ServerEvent::Apop {
                user,
                timestamp,
                digest,
            } => {
                let ok = self
                    .password(&user)
                    .is_some_and(|p| verify_apop(&timestamp, p, &digest));
                self.session.login_verified(ok).unwrap();
            }
            ServerEvent::AuthVerify(req) => {
                let v = match req {
                    VerifyRequest::Password {
                        authcid, password, ..
                    } => {
                        if self.password(&authcid) == Some(password.as_str()) {
                            Verification::Accepted
                        } else {
                            Verification::Rejected
                        }
                    }
                    VerifyRequest::Scram { username, .. } => match self.password(&username) {
                        Some(p) => {
                            let p = p.to_owned();
                            let creds = self
                                .scram
                                .entry(username)
                                .or_insert_with(|| ScramCredentials::derive(&p, SCRAM_SALT, 4096))
                                .clone();
                            Verification::Scram {
                                credentials: creds,
                                server_nonce: SCRAM_SERVER_NONCE.to_owned(),
                            }
                        }
                        None => Verification::Rejected,
                    },
                    VerifyRequest::Bearer { .. } => Verification::Rejected,
                };
                self.session.auth_verified(v).unwrap();
            }
            ServerEvent::StartTls if self.auto_tls => {
                self.session.tls_established(TlsInfo::default()).unwrap();
            }
            _ => {}
        }
    }

    /// Runs the session until it needs input: events answered, messages
    /// streamed, output collected.
    pub fn pump(&mut self) {
        loop {
            let mut progress = false;
            while let Some(event) = self.session.poll_event() {
                progress = true;
                self.events.push(event.clone());
                if let Some(other) = self.agent.handle(&mut self.session, event).unwrap() {
                    self.decide(other);
                }
            }
            while self.agent.is_streaming() {
                progress = true;
                self.agent.pump(&mut self.session).unwrap();
                self.collect();
            }
            self.collect();
            if !progress {
                break;
            }
        }
    }

    fn collect(&mut self) {
        if let Some(out) = self.session.poll_transmit() {
            self.output.extend_from_slice(&out);
        }
    }

    /// Feeds `input` in pieces of `chunk` bytes, pumping after each.
    pub fn feed_chunked(&mut self, input: &[u8], chunk: usize) {
        for piece in input.chunks(chunk.clamp(1, input.len().max(1))) {
            self.session.enqueue_input(self.now, piece);
            self.pump();
        }
    }

    /// Feeds `input` whole.
    pub fn feed(&mut self, input: &[u8]) {
        self.feed_chunked(input, usize::MAX);
    }

    /// Output written since the last call, as text.
    pub fn take_new_output(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.output[self.read_pos..]).into_owned();
        self.read_pos = self.output.len();
        s
    }

    /// Sends `line` (CRLF added) and returns what the session wrote back.
    pub fn say(&mut self, line: &str) -> String {
        self.take_new_output();
        self.feed(format!("{line}\r\n").as_bytes());
        self.take_new_output()
    }

    /// Logs in as mrose with USER/PASS (output discarded).
    pub fn login(&mut self) {
        let r = self.say("USER mrose");
        assert!(r.starts_with("+OK"), "{r}");
        let r = self.say("PASS tanstaaf");
        assert!(r.starts_with("+OK"), "{r}");
        self.take_new_output();
    }
}

/// A client and a server session wired together in memory.
pub struct Wire {
    /// The server side.
    pub server: Harness,
    /// The client side.
    pub client: ClientSession,
    /// Client events, in order.
    pub client_events: Vec<ClientEvent>,
    /// Bytes the client sent.
    pub client_sent: Vec<u8>,
}

impl Wire {
    /// Wires a fresh client with `client_config` to `server`.
    pub fn new(server: Harness, client_config: ClientConfig) -> Self {
        let client = ClientSession::new(client_config, server.now);
        Wire {
            server,
            client,
            client_events: Vec::new(),
            client_sent: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything to say; calls
    /// `react` with each client event (to give commands).
    pub fn run(&mut self, mut react: impl FnMut(&mut ClientSession, &ClientEvent, Instant)) {
        let now = self.server.now;
        let mut server_pos = 0;
        for _ in 0..10_000 {
            let mut progress = false;
            // server → client
            if self.server.output.len() > server_pos {
                let bytes = self.server.output[server_pos..].to_vec();
                server_pos = self.server.output.len();
                self.client.enqueue_input(now, &bytes);
                progress = true;
            }
            while let Some(e) = self.client.poll_event() {
                progress = true;
                if let ClientEvent::StartTls = e {
                    self.client.tls_established(now).unwrap();
                }
                react(&mut self.client, &e, now);
                self.client_events.push(e);
            }
            // client → server
            if let Some(out) = self.client.poll_transmit() {
                progress = true;
                self.client_sent.extend_from_slice(&out);
                self.server.feed(&out);
            }
            if !progress {
                return;
            }
        }
        panic!("the sessions kept talking");
    }

    /// The concatenated content of each retrieved message, in order.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for e in &self.client_events {
            match e {
                ClientEvent::MessageStart { .. } => out.push(Vec::new()),
                ClientEvent::MessageData(b) => {
                    if let Some(last) = out.last_mut() {
                        last.extend_from_slice(b);
                    }
                }
                _ => {}
            }
        }
        out
    }
}
