//! The Sans-IO POP3 server session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use postel_sasl::{
    AuthError, Identity, Mechanism, ServerExchange, ServerOptions, ServerStep, Verification,
};

use crate::apop::ApopTimestamp;
use crate::capability::CapaState;
use crate::command::Command;
use crate::error::UsageError;
use crate::lang;
use crate::maildrop::{MaildropRefusal, MessageInfo, is_valid_uid};
use crate::multiline::{DotStuffer, Flow};
use crate::response::{Response, ResponseCode};

use super::config::ServerConfig;
use super::event::{ConnectionInfo, LoginMethod, ServerEvent, SessionInfo, SessionState, TlsInfo};

/// How input is being read.
#[derive(Debug)]
enum Phase {
    /// Command lines.
    Command,
    /// Client responses of a SASL exchange.
    Auth(Box<ServerExchange>),
    /// SCRAM's server-final data went out as a `+` line; waiting for the
    /// empty answer.
    AuthFinal(Identity, Mechanism),
    /// STLS was accepted; waiting for the driver's handshake.
    AwaitTls,
    /// Skipping the rest of an over-long line; `-ERR` at its end unless the
    /// SASL case already answered.
    SkipLine { reply: bool },
    /// Done.
    Closed,
}

/// A locked maildrop in the TRANSACTION state.
#[derive(Debug)]
struct Maildrop {
    messages: Vec<MessageInfo>,
    deleted: Vec<bool>,
}

impl Maildrop {
    /// Messages not marked deleted, and their total size.
    fn live(&self) -> (usize, u64) {
        self.messages
            .iter()
            .zip(&self.deleted)
            .filter(|(_, d)| !**d)
            .fold((0, 0), |(n, s), (m, _)| (n + 1, s + m.size))
    }

    /// The index of message `number`, or the response for a bad number.
    fn index(&self, number: u32) -> Result<usize, Response> {
        let n = number as usize;
        if n == 0 || n > self.messages.len() {
            return Err(Response::err(format!(
                "no such message, only {} messages in maildrop",
                self.messages.len()
            )));
        }
        if self.deleted[n - 1] {
            return Err(Response::err(format!("message {number} already deleted")));
        }
        Ok(n - 1)
    }
}

/// The decision the session waits for.
#[derive(Debug)]
enum Pending {
    Login { user: String, method: LoginMethod },
    Auth(Box<ServerExchange>),
    Open { user: String, method: LoginMethod },
    Retrieve(Retrieval),
    Commit,
}

#[derive(Debug)]
struct Retrieval {
    number: u32,
    /// The status line, written before the first content.
    status: Option<Response>,
    encoder: DotStuffer,
}

/// A Sans-IO POP3 server session for one connection.
///
/// Feed it what the client sent with [`enqueue_input`](Self::enqueue_input),
/// take events with [`poll_event`](Self::poll_event) and answer those that
/// need a decision, and write what [`poll_transmit`](Self::poll_transmit)
/// returns to the client. Time is given, never read: pass `now` with input
/// and call [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout)'s deadline passes.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    info: SessionInfo,
    apop: Option<ApopTimestamp>,
    phase: Phase,
    /// USER given, waiting for PASS (AUTHORIZATION state).
    user: Option<String>,
    maildrop: Option<Maildrop>,
    pending: Option<Pending>,
    update: bool,
    input: BytesMut,
    output: Vec<u8>,
    events: VecDeque<ServerEvent>,
    errors: usize,
    last_input: Instant,
}

impl ServerSession {
    /// A session that greets the client with `+OK` and the configured text.
    /// APOP is not offered.
    pub fn new(config: Arc<ServerConfig>, connection: ConnectionInfo, now: Instant) -> Self {
        Self::start(config, connection, None, now)
    }

    /// A session whose greeting carries `timestamp`, which enables APOP
    /// (RFC 1939 §7). The timestamp must differ for every connection.
    pub fn with_apop(
        config: Arc<ServerConfig>,
        connection: ConnectionInfo,
        timestamp: ApopTimestamp,
        now: Instant,
    ) -> Self {
        Self::start(config, connection, Some(timestamp), now)
    }

    fn start(
        config: Arc<ServerConfig>,
        connection: ConnectionInfo,
        apop: Option<ApopTimestamp>,
        now: Instant,
    ) -> Self {
        let mut s = Self {
            config,
            info: SessionInfo {
                connection,
                ..SessionInfo::default()
            },
            apop,
            phase: Phase::Command,
            user: None,
            maildrop: None,
            pending: None,
            update: false,
            input: BytesMut::with_capacity(1024),
            output: Vec::with_capacity(1024),
            events: VecDeque::new(),
            errors: 0,
            last_input: now,
        };
        let mut text = s.config.greeting.clone();
        if let Some(t) = &s.apop {
            text.push(' ');
            text.push_str(t.as_str());
        }
        s.respond(Response::ok(text));
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// What is known about the client.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The APOP timestamp of the greeting, if APOP is offered.
    pub fn apop_timestamp(&self) -> Option<&ApopTimestamp> {
        self.apop.as_ref()
    }

    /// The protocol state.
    pub fn state(&self) -> SessionState {
        if matches!(self.phase, Phase::Closed) {
            SessionState::Closed
        } else if self.update {
            SessionState::Update
        } else if self.maildrop.is_some() {
            SessionState::Transaction
        } else {
            SessionState::Authorization
        }
    }

    /// True once the session is over; write the remaining output and close.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether the driver should read more input now. False while a
    /// decision is pending (a message is streaming), while STLS waits for
    /// its handshake and after close, so a pipelining client cannot make the
    /// session buffer without bound.
    pub fn wants_input(&self) -> bool {
        self.pending.is_none()
            && self.events.is_empty()
            && !matches!(self.phase, Phase::Closed | Phase::AwaitTls)
    }

    /// Adds bytes received from the client. Input that arrives while STLS
    /// waits for its handshake, or after close, is discarded.
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        self.last_input = now;
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls) {
            return;
        }
        self.input.extend_from_slice(input);
        // Only input that cannot be consumed counts: while a decision is
        // pending the session reads nothing.
        if self.pending.is_some() && self.input.len() > self.config.limits.max_buffered_input {
            self.close_with(Response::err(
                "Too much pipelined input, closing connection",
            ));
        }
    }

    /// Takes the bytes to write to the client, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.output.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.output))
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called, if at
    /// all (not while a decision is pending).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_some() || matches!(self.phase, Phase::Closed | Phase::AwaitTls) {
            return None;
        }
        let t = &self.config.timeouts;
        Some(
            self.last_input
                + if self.maildrop.is_some() {
                    t.transaction
                } else {
                    t.authorization
                },
        )
    }

    /// Closes the session if its deadline has passed: no response is sent
    /// and no message is removed (RFC 1939 §3).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        self.phase = Phase::Closed;
        self.input.clear();
        self.events.push_back(ServerEvent::TimedOut);
    }

    /// The driver finished the TLS handshake after [`ServerEvent::StartTls`].
    /// The session is in the AUTHORIZATION state as before, with nothing
    /// learned in plaintext kept.
    pub fn tls_established(&mut self, tls: TlsInfo) -> Result<(), UsageError> {
        if !matches!(self.phase, Phase::AwaitTls) {
            return Err(UsageError::WrongState("tls_established without STLS"));
        }
        self.input.clear();
        self.info.tls = Some(tls);
        self.user = None;
        self.phase = Phase::Command;
        Ok(())
    }

    /// Marks the connection as TLS from the start (implicit TLS, port 995).
    pub fn set_implicit_tls(&mut self, tls: TlsInfo) {
        self.info.tls = Some(tls);
    }

    /// Takes the next event. `None` means: write the output, then read more
    /// input (if [`wants_input`](Self::wants_input)), or answer the pending
    /// decision.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Some(ev);
            }
            if self.pending.is_some() || !self.step() {
                return self.events.pop_front();
            }
        }
    }

    // ----- decisions -----

    /// Answers [`ServerEvent::Login`] or [`ServerEvent::Apop`]: with `true`
    /// the session asks for the maildrop next
    /// ([`ServerEvent::OpenMaildrop`]); with `false` it answers
    /// `-ERR [AUTH]` and counts a failed login. Delay a `false` answer by a
    /// few seconds to slow password guessing (RFC 1939 §13).
    pub fn login_verified(&mut self, valid: bool) -> Result<(), UsageError> {
        match self.pending.take() {
            Some(Pending::Login { user, method }) => {
                if valid {
                    self.open_maildrop(user, method);
                } else {
                    self.error(Response::err_with(
                        ResponseCode::Auth,
                        "Invalid user name or password",
                    ));
                }
                Ok(())
            }
            other => self.wrong(other, "no USER/PASS or APOP login is pending"),
        }
    }

    /// Answers [`ServerEvent::AuthVerify`].
    pub fn auth_verified(&mut self, verification: Verification) -> Result<(), UsageError> {
        match self.pending.take() {
            Some(Pending::Auth(mut exchange)) => {
                let step = exchange.verified(verification);
                self.auth_step(exchange, step);
                Ok(())
            }
            other => self.wrong(other, "no AUTH verification is pending"),
        }
    }

    /// Answers [`ServerEvent::OpenMaildrop`] with the maildrop's messages:
    /// the session enters the TRANSACTION state. Each unique id must be 1-70
    /// characters from 0x21-0x7E and unique.
    pub fn maildrop_opened(&mut self, messages: Vec<MessageInfo>) -> Result<(), UsageError> {
        if !matches!(self.pending, Some(Pending::Open { .. })) {
            return Err(UsageError::WrongDecision("no maildrop open is pending"));
        }
        if let Some((i, m)) = messages
            .iter()
            .enumerate()
            .find(|(_, m)| !is_valid_uid(&m.uid))
        {
            return Err(UsageError::InvalidArgument(format!(
                "message {}: unique id {:?} is not 1-70 characters from 0x21-0x7E",
                i + 1,
                m.uid
            )));
        }
        let mut uids: Vec<&str> = messages.iter().map(|m| m.uid.as_str()).collect();
        uids.sort_unstable();
        if let Some(w) = uids.windows(2).find(|w| w[0] == w[1]) {
            return Err(UsageError::InvalidArgument(format!(
                "unique id {:?} appears twice",
                w[0]
            )));
        }
        let Some(Pending::Open { user, method }) = self.pending.take() else {
            return Err(UsageError::NoPendingDecision);
        };
        let maildrop = Maildrop {
            deleted: vec![false; messages.len()],
            messages,
        };
        let (n, size) = maildrop.live();
        self.respond(Response::ok(format!(
            "{user}'s maildrop has {n} {} ({size} octets)",
            plural(n, "message")
        )));
        self.maildrop = Some(maildrop);
        self.info.user = Some(user);
        self.info.method = Some(method);
        Ok(())
    }

    /// Answers [`ServerEvent::OpenMaildrop`] with a refusal (`[IN-USE]`,
    /// `[LOGIN-DELAY]`, `[SYS/TEMP]`, `[SYS/PERM]`); the session stays in
    /// the AUTHORIZATION state.
    pub fn maildrop_refused(&mut self, refusal: MaildropRefusal) -> Result<(), UsageError> {
        match self.pending.take() {
            Some(Pending::Open { .. }) => {
                self.respond(refusal.response());
                Ok(())
            }
            other => self.wrong(other, "no maildrop open is pending"),
        }
    }

    /// Streams the next piece of the message asked for by
    /// [`ServerEvent::Retrieve`]. The first call writes the `+OK` line. On
    /// [`Flow::Done`] (TOP has what it wants) stop reading and call
    /// [`message_end`](Self::message_end); further data is ignored.
    pub fn message_data(&mut self, data: &[u8]) -> Result<Flow, UsageError> {
        let Some(Pending::Retrieve(r)) = self.pending.as_mut() else {
            return Err(UsageError::WrongDecision("no RETR or TOP is pending"));
        };
        if let Some(status) = r.status.take() {
            status.write_to(&mut self.output);
        }
        Ok(r.encoder.encode(data, &mut self.output))
    }

    /// Ends the message asked for by [`ServerEvent::Retrieve`].
    pub fn message_end(&mut self) -> Result<(), UsageError> {
        match self.pending.take() {
            Some(Pending::Retrieve(mut r)) => {
                if let Some(status) = r.status.take() {
                    status.write_to(&mut self.output);
                }
                r.encoder.finish(&mut self.output);
                Ok(())
            }
            other => self.wrong(other, "no RETR or TOP is pending"),
        }
    }

    /// The message asked for by [`ServerEvent::Retrieve`] cannot be read.
    /// Before any data: `-ERR [SYS/TEMP]`. After some: the response cannot
    /// be taken back, so the session closes at once without ending it (the
    /// client sees a broken transfer, not a short message).
    pub fn message_failed(&mut self) -> Result<(), UsageError> {
        match self.pending.take() {
            Some(Pending::Retrieve(r)) => {
                if r.status.is_some() {
                    self.respond(Response::err_with(
                        ResponseCode::SysTemp,
                        format!("Cannot read message {} now", r.number),
                    ));
                } else {
                    self.phase = Phase::Closed;
                    self.input.clear();
                }
                Ok(())
            }
            other => self.wrong(other, "no RETR or TOP is pending"),
        }
    }

    /// Answers [`ServerEvent::Commit`]: `true` when the deleted messages are
    /// gone (`+OK`), `false` when some could not be removed (`-ERR
    /// [SYS/TEMP]`, RFC 1939 §6). The session then closes.
    pub fn commit_finished(&mut self, removed: bool) -> Result<(), UsageError> {
        match self.pending.take() {
            Some(Pending::Commit) => {
                let left = self.maildrop.as_ref().map_or(0, |m| m.live().0);
                let response = if !removed {
                    Response::err_with(ResponseCode::SysTemp, "some deleted messages not removed")
                } else if left == 0 {
                    Response::ok(format!(
                        "{} POP3 server signing off (maildrop empty)",
                        self.config.hostname
                    ))
                } else {
                    Response::ok(format!(
                        "{} POP3 server signing off ({left} {} left)",
                        self.config.hostname,
                        plural(left, "message")
                    ))
                };
                self.close_with(response);
                self.events.push_back(ServerEvent::Quit);
                Ok(())
            }
            other => self.wrong(other, "no commit is pending"),
        }
    }

    /// Puts back a pending decision that the wrong method tried to answer.
    fn wrong(&mut self, pending: Option<Pending>, what: &'static str) -> Result<(), UsageError> {
        let none = pending.is_none();
        self.pending = pending;
        if none {
            Err(UsageError::NoPendingDecision)
        } else {
            Err(UsageError::WrongDecision(what))
        }
    }

    // ----- the machine -----

    fn respond(&mut self, response: Response) {
        response.write_to(&mut self.output);
    }

    /// A refused command or failed login: counts toward the error limit.
    fn error(&mut self, response: Response) {
        self.respond(response);
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors {
            self.close_with(Response::err("Too many errors, closing connection"));
        }
    }

    fn close_with(&mut self, response: Response) {
        self.respond(response);
        self.phase = Phase::Closed;
        self.pending = None;
        self.input.clear();
    }

    fn plaintext_ok(&self) -> bool {
        self.info.tls.is_some() || self.config.allow_plaintext_login
    }

    /// Does one unit of work; false when nothing can be done without input.
    fn step(&mut self) -> bool {
        let limit = match self.phase {
            Phase::Closed | Phase::AwaitTls => return false,
            Phase::SkipLine { reply } => {
                return match memchr::memchr(b'\n', &self.input) {
                    Some(lf) => {
                        self.input.advance(lf + 1);
                        self.phase = Phase::Command;
                        if reply {
                            self.error(Response::err("Line too long"));
                        }
                        true
                    }
                    None => {
                        // All of it belongs to the over-long line.
                        self.input.clear();
                        false
                    }
                };
            }
            Phase::Auth(_) | Phase::AuthFinal(..) => self.config.limits.sasl_line,
            Phase::Command => self.config.limits.command_line,
        };
        // A line of at most `limit` bytes, CRLF included, has its LF within
        // the first `limit` bytes.
        let window = self.input.len().min(limit.max(1));
        let Some(lf) = memchr::memchr(b'\n', &self.input[..window]) else {
            if self.input.len() < limit.max(1) {
                return false;
            }
            self.input.advance(window);
            let in_auth = matches!(self.phase, Phase::Auth(_) | Phase::AuthFinal(..));
            // The SASL exchange (if any) is over: its line is answered now,
            // a command line once it has ended.
            self.phase = Phase::SkipLine { reply: !in_auth };
            if in_auth {
                self.error(Response::err("Authentication line too long"));
            }
            return true;
        };
        let mut line = self.input.split_to(lf + 1);
        line.truncate(lf);
        if line.last() == Some(&b'\r') {
            line.truncate(lf - 1);
        }
        match std::mem::replace(&mut self.phase, Phase::Command) {
            Phase::Auth(exchange) => self.auth_line(exchange, &line),
            Phase::AuthFinal(identity, mechanism) => {
                if line.as_ref() == b"*" {
                    self.error(Response::err("Authentication cancelled"));
                } else {
                    self.open_maildrop(
                        identity.acting_as().to_owned(),
                        LoginMethod::Sasl(mechanism),
                    );
                }
            }
            _ => self.command_line(&line),
        }
        true
    }

    fn command_line(&mut self, line: &[u8]) {
        let command = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => {
                self.error(e.response());
                return;
            }
        };
        // Commands valid in both states.
        match command {
            Command::Capa => return self.capa(),
            Command::Lang { range } => return self.lang(range.as_deref()),
            Command::Quit => return self.quit(),
            _ => {}
        }
        if self.maildrop.is_some() {
            self.transaction_command(command);
        } else {
            self.authorization_command(command);
        }
    }

    fn authorization_command(&mut self, command: Command) {
        let cfg = Arc::clone(&self.config);
        match command {
            Command::User { name } => {
                if !cfg.extensions.user {
                    self.error(Response::err("USER not available; use APOP or AUTH"));
                } else if !self.plaintext_ok() {
                    self.error(plaintext_refused());
                } else {
                    self.respond(Response::ok(format!("{name} send PASS")));
                    self.user = Some(name);
                }
            }
            Command::Pass { password } => match self.user.take() {
                Some(user) if self.plaintext_ok() => {
                    self.pending = Some(Pending::Login {
                        user: user.clone(),
                        method: LoginMethod::UserPass,
                    });
                    self.events.push_back(ServerEvent::Login { user, password });
                }
                Some(_) => self.error(plaintext_refused()),
                None => self.error(Response::err("Send USER first")),
            },
            Command::Apop { name, digest } => {
                let Some(ts) = &self.apop else {
                    self.error(Response::err("APOP not available"));
                    return;
                };
                let timestamp = ts.as_str().to_owned();
                self.user = None;
                self.pending = Some(Pending::Login {
                    user: name.clone(),
                    method: LoginMethod::Apop,
                });
                self.events.push_back(ServerEvent::Apop {
                    user: name,
                    timestamp,
                    digest,
                });
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response.as_deref()),
            Command::AuthList => {
                let mechs = cfg
                    .extensions
                    .usable_sasl(self.info.tls.is_some(), cfg.allow_plaintext_login);
                self.respond(Response::ok("Supported mechanisms follow"));
                for m in mechs {
                    self.output.extend_from_slice(m.name().as_bytes());
                    self.output.extend_from_slice(b"\r\n");
                }
                self.output.extend_from_slice(b".\r\n");
            }
            Command::Stls => {
                if !cfg.extensions.stls {
                    self.error(Response::err("STLS not available"));
                } else if self.info.tls.is_some() {
                    self.error(Response::err("TLS already active"));
                } else {
                    self.respond(Response::ok("Begin TLS negotiation"));
                    // Anything pipelined after STLS came in plaintext and
                    // must not be read as if it came through TLS.
                    self.input.clear();
                    self.user = None;
                    self.phase = Phase::AwaitTls;
                    self.events.push_back(ServerEvent::StartTls);
                }
            }
            Command::Utf8 => {
                if cfg.extensions.utf8 {
                    self.info.utf8 = true;
                    self.respond(Response::ok("UTF8 enabled"));
                } else {
                    self.error(Response::err("UTF8 not available"));
                }
            }
            other => self.error(Response::err(format!(
                "{} is not valid in the AUTHORIZATION state",
                other.keyword()
            ))),
        }
    }

    fn transaction_command(&mut self, command: Command) {
        let Some(md) = self.maildrop.as_mut() else {
            return;
        };
        match command {
            Command::Stat => {
                let (n, size) = md.live();
                self.respond(Response::ok(format!("{n} {size}")));
            }
            Command::List { msg: None } => {
                let (n, size) = md.live();
                let mut body = Vec::new();
                for (i, m) in md.messages.iter().enumerate() {
                    if !md.deleted[i] {
                        body.extend_from_slice(format!("{} {}\r\n", i + 1, m.size).as_bytes());
                    }
                }
                self.respond(Response::ok(format!(
                    "{n} {} ({size} octets)",
                    plural(n, "message")
                )));
                self.output.extend_from_slice(&body);
                self.output.extend_from_slice(b".\r\n");
            }
            Command::Uidl { msg: None } => {
                let mut body = Vec::new();
                for (i, m) in md.messages.iter().enumerate() {
                    if !md.deleted[i] {
                        body.extend_from_slice(format!("{} {}\r\n", i + 1, m.uid).as_bytes());
                    }
                }
                self.respond(Response::ok("unique-id listing follows"));
                self.output.extend_from_slice(&body);
                self.output.extend_from_slice(b".\r\n");
            }
            Command::List { msg: Some(n) } => {
                let r = md
                    .index(n)
                    .map(|i| Response::ok(format!("{n} {}", md.messages[i].size)));
                self.respond(r.unwrap_or_else(|e| e));
            }
            Command::Uidl { msg: Some(n) } => {
                let r = md
                    .index(n)
                    .map(|i| Response::ok(format!("{n} {}", md.messages[i].uid)));
                self.respond(r.unwrap_or_else(|e| e));
            }
            Command::Retr { msg } => match md.index(msg) {
                Ok(i) => {
                    let status = Response::ok(format!("{} octets", md.messages[i].size));
                    self.retrieve(msg, status, DotStuffer::new(), None);
                }
                Err(e) => self.respond(e),
            },
            Command::Top { msg, lines } => match md.index(msg) {
                Ok(_) => {
                    let status = Response::ok("top of message follows");
                    self.retrieve(msg, status, DotStuffer::top(lines), Some(lines));
                }
                Err(e) => self.respond(e),
            },
            Command::Dele { msg } => match md.index(msg) {
                Ok(i) => {
                    md.deleted[i] = true;
                    self.respond(Response::ok(format!("message {msg} deleted")));
                }
                Err(e) => self.respond(e),
            },
            Command::Noop => self.respond(Response::ok("")),
            Command::Rset => {
                md.deleted.iter_mut().for_each(|d| *d = false);
                let (n, size) = md.live();
                self.respond(Response::ok(format!(
                    "maildrop has {n} {} ({size} octets)",
                    plural(n, "message")
                )));
            }
            other => self.error(Response::err(format!(
                "{} is not valid in the TRANSACTION state",
                other.keyword()
            ))),
        }
    }

    fn retrieve(&mut self, number: u32, status: Response, encoder: DotStuffer, top: Option<u64>) {
        self.pending = Some(Pending::Retrieve(Retrieval {
            number,
            status: Some(status),
            encoder,
        }));
        self.events.push_back(ServerEvent::Retrieve {
            number,
            top_lines: top,
        });
    }

    fn capa(&mut self) {
        let lines = self.config.extensions.capa_lines(CapaState {
            authorization: self.maildrop.is_none(),
            tls: self.info.tls.is_some(),
            plaintext_ok: self.config.allow_plaintext_login,
        });
        self.respond(Response::ok("Capability list follows"));
        for line in lines {
            self.output.extend_from_slice(line.as_bytes());
            self.output.extend_from_slice(b"\r\n");
        }
        self.output.extend_from_slice(b".\r\n");
    }

    fn lang(&mut self, range: Option<&str>) {
        if !self.config.extensions.lang {
            self.error(Response::err("LANG not available"));
            return;
        }
        match range {
            None => {
                self.respond(Response::ok("Language listing follows"));
                for (tag, name) in lang::LANGUAGES {
                    self.output
                        .extend_from_slice(format!("{tag} {name}\r\n").as_bytes());
                }
                self.output.extend_from_slice(b".\r\n");
            }
            Some(r) if !lang::is_language_range(r) => {
                self.error(Response::err("Syntax error: not a language range"));
            }
            Some(r) => match lang::lookup(r) {
                Some(tag) => {
                    self.info.language = tag;
                    self.respond(Response::ok(format!("{tag} Language changed")));
                }
                None => self.respond(Response::err("invalid language")),
            },
        }
    }

    fn quit(&mut self) {
        if self.maildrop.is_some() {
            // UPDATE state (RFC 1939 §6): only now are deletions applied.
            let deleted: Vec<u32> = self
                .maildrop
                .as_ref()
                .map(|m| {
                    m.deleted
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| **d)
                        .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX))
                        .collect()
                })
                .unwrap_or_default();
            self.update = true;
            self.pending = Some(Pending::Commit);
            self.events.push_back(ServerEvent::Commit { deleted });
        } else {
            let bye = Response::ok(format!("{} POP3 server signing off", self.config.hostname));
            self.close_with(bye);
            self.events.push_back(ServerEvent::Quit);
        }
    }

    fn open_maildrop(&mut self, user: String, method: LoginMethod) {
        self.pending = Some(Pending::Open {
            user: user.clone(),
            method,
        });
        self.events
            .push_back(ServerEvent::OpenMaildrop { user, method });
    }

    fn auth(&mut self, mechanism: &str, initial: Option<&str>) {
        let cfg = Arc::clone(&self.config);
        let Some(mech) =
            Mechanism::from_name(mechanism.as_bytes()).filter(|m| cfg.extensions.sasl.contains(m))
        else {
            self.error(Response::err("Unrecognized authentication mechanism"));
            return;
        };
        if mech.sends_password_in_clear() && !self.plaintext_ok() {
            self.error(plaintext_refused());
            return;
        }
        let initial = match initial {
            None => None,
            Some(text) => match postel_sasl::wire::parse_initial_response(text.as_bytes()) {
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    self.error(Response::err("Cannot decode initial response"));
                    return;
                }
            },
        };
        self.user = None;
        let options = ServerOptions {
            max_response_len: cfg.limits.sasl_line,
            ..ServerOptions::default()
        };
        let mut exchange = Box::new(ServerExchange::new(mech, options));
        let step = exchange.start(initial.as_deref());
        self.auth_step(exchange, step);
    }

    fn auth_line(&mut self, mut exchange: Box<ServerExchange>, line: &[u8]) {
        match postel_sasl::wire::parse_client_line(line) {
            Ok(postel_sasl::wire::ClientLine::Cancel) => {
                self.error(Response::err("Authentication cancelled"));
            }
            Ok(postel_sasl::wire::ClientLine::Response(bytes)) => {
                let step = exchange.respond(&bytes);
                self.auth_step(exchange, step);
            }
            Err(_) => self.error(Response::err("Cannot decode response")),
        }
    }

    fn continuation(&mut self, data: &[u8]) {
        self.output.extend_from_slice(b"+ ");
        self.output
            .extend_from_slice(postel_sasl::wire::encode(data).as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    fn auth_step(&mut self, exchange: Box<ServerExchange>, step: ServerStep) {
        let mechanism = exchange.mechanism();
        match step {
            ServerStep::Challenge(data) => {
                self.continuation(&data);
                self.phase = Phase::Auth(exchange);
            }
            ServerStep::Verify(request) => {
                self.pending = Some(Pending::Auth(exchange));
                self.events.push_back(ServerEvent::AuthVerify(request));
            }
            ServerStep::Success {
                identity,
                additional,
            } => match additional {
                // POP3 has no way to carry data with +OK: send it as one
                // more challenge, answered by an empty line.
                Some(data) => {
                    self.continuation(&data);
                    self.phase = Phase::AuthFinal(identity, mechanism);
                }
                None => self.open_maildrop(
                    identity.acting_as().to_owned(),
                    LoginMethod::Sasl(mechanism),
                ),
            },
            ServerStep::Failure(err) => self.error(auth_failure(&err)),
        }
    }
}

fn auth_failure(err: &AuthError) -> Response {
    match err {
        AuthError::Cancelled => Response::err("Authentication cancelled"),
        AuthError::ResponseTooLong { .. } => Response::err("Authentication response too long"),
        AuthError::Malformed { .. } | AuthError::BadEncoding(_) => {
            Response::err("Cannot decode authentication response")
        }
        AuthError::ChannelBindingUnsupported => Response::err("Channel binding is not supported"),
        AuthError::ScramIterationsTooLow { .. } | AuthError::CallerMisuse(_) => {
            Response::err_with(ResponseCode::SysTemp, "Authentication is unavailable")
        }
        AuthError::Rejected | AuthError::InvalidProof => {
            Response::err_with(ResponseCode::Auth, "Authentication failed")
        }
    }
}

fn plaintext_refused() -> Response {
    Response::err_with(
        ResponseCode::Auth,
        "Plaintext login is not allowed without TLS; use STLS first",
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}
