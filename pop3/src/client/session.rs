//! The Sans-IO POP3 client session.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use postel_sasl::{ClientExchange, ClientSecret, Mechanism};
use thiserror::Error;

use crate::apop::apop_digest;
use crate::capability::Capabilities;
use crate::command::{Command, Password};
use crate::error::{ResponseError, UsageError, excerpt};
use crate::multiline::{DecodeStatus, DotDecoder};
use crate::response::Response;

use super::config::{ClientAuth, ClientConfig, TlsPolicy};

/// Why a whole client session failed. A `-ERR` to a transaction command is
/// not an error: it is [`ClientEvent::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The server greeted with `-ERR`.
    #[error("server refused the connection: {0}")]
    GreetingRefused(Response),
    /// TLS is required but the server does not offer STLS.
    #[error("TLS is required but the server does not offer STLS")]
    TlsUnavailable,
    /// TLS is required and the server refused STLS.
    #[error("server refused STLS: {0}")]
    StartTlsRefused(Response),
    /// The login method cannot be used here (no fitting SASL mechanism, no
    /// APOP timestamp, or a password would go out in the clear).
    #[error("cannot log in: {0}")]
    AuthUnavailable(&'static str),
    /// The server refused the login (the maildrop may be locked: see the
    /// response code, e.g. `[IN-USE]`).
    #[error("login failed: {0}")]
    AuthFailed(Response),
    /// The SASL exchange failed on our side (e.g. a bad SCRAM server
    /// signature).
    #[error("authentication exchange failed: {0}")]
    Sasl(#[from] postel_sasl::ClientError),
    /// The server sent something that is not POP3.
    #[error("malformed response from server: {0}")]
    Protocol(#[from] ResponseError),
    /// The server sent data when no response was due.
    #[error("unexpected data from server: {0:?}")]
    Unexpected(String),
    /// No response in time.
    #[error("timed out waiting for the response to {0}")]
    TimedOut(&'static str),
}

/// One line of a LIST response: a message and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanListing {
    /// The message number.
    pub number: u32,
    /// Its size in octets.
    pub size: u64,
}

/// One line of a UIDL response: a message and its unique id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueId {
    /// The message number.
    pub number: u32,
    /// Its unique id.
    pub uid: String,
}

/// An event from [`ClientSession::poll_event`]. Responses come in the
/// order the commands were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server accepted STLS. Write all output, run the TLS handshake,
    /// then call [`ClientSession::tls_established`].
    StartTls,
    /// Logged in (TRANSACTION state), or, without [`ClientConfig::auth`],
    /// done with CAPA and STLS: commands may be given now.
    Ready,
    /// STAT: messages and total size.
    Stat {
        /// Messages not marked deleted.
        count: u32,
        /// Their total size in octets.
        size: u64,
    },
    /// LIST without an argument.
    List(Vec<ScanListing>),
    /// LIST with a message number.
    ListOne(ScanListing),
    /// UIDL without an argument.
    Uidl(Vec<UniqueId>),
    /// UIDL with a message number.
    UidlOne(UniqueId),
    /// RETR or TOP was accepted; the content follows as
    /// [`ClientEvent::MessageData`].
    MessageStart {
        /// The message number.
        number: u32,
    },
    /// A piece of the message, unstuffed, line endings as sent.
    MessageData(Bytes),
    /// The message (or its top) is complete.
    MessageEnd {
        /// The message number.
        number: u32,
        /// Content octets received.
        size: u64,
    },
    /// DELE succeeded.
    Deleted {
        /// The message number.
        number: u32,
    },
    /// RSET succeeded.
    Reset,
    /// NOOP succeeded.
    Noop,
    /// A command got `-ERR`; the session goes on.
    Refused {
        /// The command.
        command: Command,
        /// The server's response.
        response: Response,
    },
    /// QUIT was answered (`-ERR` when the server could not remove the
    /// deleted messages); close the connection.
    Closed(Response),
    /// The session failed; close the connection.
    Failed(ClientError),
}

/// What a response we wait for answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Greeting,
    Capa,
    Stls,
    User,
    Pass,
    Apop,
    Auth,
    Command(Command),
}

impl Expect {
    fn name(&self) -> &'static str {
        match self {
            Expect::Greeting => "the greeting",
            Expect::Capa => "CAPA",
            Expect::Stls => "STLS",
            Expect::User => "USER",
            Expect::Pass => "PASS",
            Expect::Apop => "APOP",
            Expect::Auth => "AUTH",
            Expect::Command(c) => c.keyword(),
        }
    }
}

/// A multi-line response being read.
#[derive(Debug)]
enum Body {
    None,
    /// CAPA, LIST or UIDL lines.
    Lines {
        of: Expect,
        lines: Vec<String>,
    },
    /// RETR or TOP content.
    Message {
        number: u32,
        decoder: DotDecoder,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Greeting, CAPA, STLS, login.
    Setup,
    /// Waiting for the driver's TLS handshake.
    AwaitTls,
    /// Commands may be given.
    Ready,
    /// Over.
    Closed,
}

/// A Sans-IO POP3 client session for one connection.
///
/// Feed it the server's bytes with [`enqueue_input`](Self::enqueue_input),
/// write what [`poll_transmit`](Self::poll_transmit) returns, and react to
/// [`poll_event`](Self::poll_event). After [`ClientEvent::Ready`] give
/// commands ([`stat`](Self::stat), [`retr`](Self::retr) ...): they are sent
/// at once when the server offers PIPELINING, else one at a time, and their
/// results come back as events in order.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    phase: Phase,
    input: BytesMut,
    expect: VecDeque<Expect>,
    /// Commands given but not sent yet (no pipelining).
    queue: VecDeque<Command>,
    body: Body,
    events: VecDeque<ClientEvent>,
    output: Vec<u8>,
    capabilities: Capabilities,
    greeting: Option<Response>,
    tls: bool,
    logged_in: bool,
    quit: bool,
    sasl: Option<ClientExchange>,
    sasl_final_seen: bool,
    last_activity: Instant,
}

impl ClientSession {
    /// A session on a fresh connection, waiting for the greeting.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        Self {
            config,
            phase: Phase::Setup,
            input: BytesMut::with_capacity(4096),
            expect: VecDeque::from([Expect::Greeting]),
            queue: VecDeque::new(),
            body: Body::None,
            events: VecDeque::new(),
            output: Vec::with_capacity(256),
            capabilities: Capabilities::default(),
            greeting: None,
            tls: false,
            logged_in: false,
            quit: false,
            sasl: None,
            sasl_final_seen: false,
            last_activity: now,
        }
    }

    /// A session on a connection that is TLS from the start (port 995).
    pub fn new_implicit_tls(config: ClientConfig, now: Instant) -> Self {
        let mut s = Self::new(config, now);
        s.tls = true;
        s
    }

    /// What the server's CAPA response offered (empty if it has no CAPA).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The server's greeting, once received.
    pub fn greeting(&self) -> Option<&Response> {
        self.greeting.as_ref()
    }

    /// The APOP timestamp in the greeting (`<...>`), if there is one.
    pub fn apop_timestamp(&self) -> Option<&str> {
        let text = self.greeting.as_ref()?.text();
        let start = text.find('<')?;
        let end = start + text[start..].find('>')?;
        Some(&text[start..=end])
    }

    /// Whether the connection is TLS now.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the login succeeded (TRANSACTION state).
    pub fn is_logged_in(&self) -> bool {
        self.logged_in
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Adds bytes received from the server. Bytes that arrive while STLS
    /// waits for its handshake, or after close, are discarded.
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls) {
            return;
        }
        self.last_activity = now;
        self.input.extend_from_slice(input);
    }

    /// Takes the bytes to write to the server, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.output.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.output))
        }
    }

    /// The next event, or `None` when the session needs input (or the
    /// application's next command).
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if matches!(self.phase, Phase::Closed | Phase::AwaitTls) || !self.step() {
                return self.events.pop_front();
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due: while a
    /// response is awaited.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls) {
            return None;
        }
        let t = &self.config.timeouts;
        match self.expect.front() {
            Some(Expect::Greeting) => Some(self.last_activity + t.greeting),
            Some(_) => Some(self.last_activity + t.command),
            None if !matches!(self.body, Body::None) => Some(self.last_activity + t.command),
            None => None,
        }
    }

    /// Fails the session if the response it waits for is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout()
            && now >= deadline
        {
            let what = self.expect.front().map_or("a message", Expect::name);
            self.fail(ClientError::TimedOut(what));
        }
    }

    /// The TLS handshake after [`ClientEvent::StartTls`] is done: CAPA
    /// again, then log in.
    pub fn tls_established(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.phase != Phase::AwaitTls {
            return Err(UsageError::WrongState("tls_established without STLS"));
        }
        self.last_activity = now;
        self.tls = true;
        // Responses sent in plaintext after +OK must not be read as if they
        // came through TLS.
        self.input.clear();
        self.capabilities = Capabilities::default();
        self.phase = Phase::Setup;
        self.send(Command::Capa, Expect::Capa);
        Ok(())
    }

    // ----- commands -----

    /// STAT.
    pub fn stat(&mut self, now: Instant) -> Result<(), UsageError> {
        self.submit(now, Command::Stat)
    }

    /// LIST, for all messages or one.
    pub fn list(&mut self, now: Instant, msg: Option<u32>) -> Result<(), UsageError> {
        self.submit(now, Command::List { msg })
    }

    /// UIDL, for all messages or one.
    pub fn uidl(&mut self, now: Instant, msg: Option<u32>) -> Result<(), UsageError> {
        self.submit(now, Command::Uidl { msg })
    }

    /// RETR: the message streams back as events.
    pub fn retr(&mut self, now: Instant, msg: u32) -> Result<(), UsageError> {
        self.submit(now, Command::Retr { msg })
    }

    /// TOP: the header and `lines` body lines stream back as events.
    pub fn top(&mut self, now: Instant, msg: u32, lines: u64) -> Result<(), UsageError> {
        self.submit(now, Command::Top { msg, lines })
    }

    /// DELE (applied by the server only after QUIT).
    pub fn dele(&mut self, now: Instant, msg: u32) -> Result<(), UsageError> {
        self.submit(now, Command::Dele { msg })
    }

    /// RSET.
    pub fn rset(&mut self, now: Instant) -> Result<(), UsageError> {
        self.submit(now, Command::Rset)
    }

    /// NOOP.
    pub fn noop(&mut self, now: Instant) -> Result<(), UsageError> {
        self.submit(now, Command::Noop)
    }

    /// QUIT: after the commands given before it. No command may follow.
    pub fn quit(&mut self, now: Instant) -> Result<(), UsageError> {
        self.submit(now, Command::Quit)
    }

    fn submit(&mut self, now: Instant, command: Command) -> Result<(), UsageError> {
        if self.phase != Phase::Ready {
            return Err(UsageError::WrongState(
                "commands can be given only after ClientEvent::Ready",
            ));
        }
        if self.quit {
            return Err(UsageError::WrongState("QUIT was given"));
        }
        if !matches!(command, Command::Quit) && !self.logged_in {
            return Err(UsageError::WrongState("not logged in"));
        }
        if matches!(command, Command::Quit) {
            self.quit = true;
        }
        if self.expect.is_empty() && matches!(self.body, Body::None) {
            self.last_activity = now;
        }
        self.queue.push_back(command);
        self.send_queued();
        Ok(())
    }

    fn pipelining(&self) -> bool {
        self.capabilities.pipelining && self.config.use_pipelining
    }

    /// Sends queued commands: all of them with pipelining, else one when
    /// nothing is in flight.
    fn send_queued(&mut self) {
        while let Some(command) = self.queue.front() {
            let idle = self.expect.is_empty() && matches!(self.body, Body::None);
            if !idle && !self.pipelining() {
                return;
            }
            let command = command.clone();
            self.queue.pop_front();
            self.send(command.clone(), Expect::Command(command));
        }
    }

    fn send(&mut self, command: Command, expect: Expect) {
        command.write_to(&mut self.output);
        self.expect.push_back(expect);
    }

    // ----- responses -----

    /// Does one unit of work; false when more input is needed.
    fn step(&mut self) -> bool {
        match &mut self.body {
            Body::Message { number, decoder } => {
                let number = *number;
                let events = &mut self.events;
                let before = self.input.len();
                let status = decoder.decode(&mut self.input, &mut |chunk| {
                    events.push_back(ClientEvent::MessageData(chunk));
                });
                match status {
                    DecodeStatus::End => {
                        let size = decoder.size();
                        self.body = Body::None;
                        self.events
                            .push_back(ClientEvent::MessageEnd { number, size });
                        self.send_queued();
                        true
                    }
                    DecodeStatus::NeedMore => self.input.len() != before,
                }
            }
            Body::Lines { .. } => {
                let Some(line) = self.read_line() else {
                    return false;
                };
                if line.as_ref() == b"." {
                    if let Body::Lines { of, lines } = std::mem::replace(&mut self.body, Body::None)
                    {
                        self.lines_done(of, lines);
                    }
                    return true;
                }
                let max = self.config.limits.max_listing_lines;
                let Body::Lines { lines, .. } = &mut self.body else {
                    return true;
                };
                if lines.len() >= max {
                    self.fail(ResponseError::TooManyLines { max }.into());
                    return true;
                }
                let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
                lines.push(String::from_utf8_lossy(unstuffed).into_owned());
                true
            }
            Body::None => {
                if self.input.is_empty() {
                    return false;
                }
                if self.expect.is_empty() {
                    let text = excerpt(&self.input);
                    self.fail(ClientError::Unexpected(text));
                    return true;
                }
                let Some(line) = self.read_line() else {
                    return false;
                };
                if self.expect.front() == Some(&Expect::Auth)
                    && line.first() == Some(&b'+')
                    && matches!(line.get(1), None | Some(b' '))
                {
                    self.on_challenge(line.get(2..).unwrap_or(&[]));
                    return true;
                }
                match Response::parse(&line) {
                    Ok(r) => {
                        if let Some(expect) = self.expect.pop_front() {
                            self.on_response(expect, r);
                        }
                    }
                    Err(e) => self.fail(e.into()),
                }
                true
            }
        }
    }

    /// Takes one line (without its line ending) from the input, or fails the
    /// session if it is too long.
    fn read_line(&mut self) -> Option<Bytes> {
        let max = self.config.limits.max_line.max(1);
        let window = self.input.len().min(max);
        match memchr::memchr(b'\n', &self.input[..window]) {
            Some(lf) => {
                let mut line = self.input.split_to(lf + 1);
                line.truncate(lf);
                if line.last() == Some(&b'\r') {
                    line.truncate(lf - 1);
                }
                Some(line.freeze())
            }
            None => {
                if self.input.len() >= max {
                    self.fail(ResponseError::LineTooLong { max }.into());
                }
                None
            }
        }
    }

    fn on_response(&mut self, expect: Expect, r: Response) {
        match expect {
            Expect::Greeting => {
                if r.is_ok() {
                    self.greeting = Some(r);
                    self.send(Command::Capa, Expect::Capa);
                } else {
                    self.fail(ClientError::GreetingRefused(r));
                }
            }
            Expect::Capa => {
                if r.is_ok() {
                    self.body = Body::Lines {
                        of: Expect::Capa,
                        lines: Vec::new(),
                    };
                } else {
                    // RFC 2449 §5: a server without CAPA answers -ERR.
                    self.capabilities = Capabilities::default();
                    self.after_capa();
                }
            }
            Expect::Stls => {
                if r.is_ok() {
                    self.input.clear();
                    self.phase = Phase::AwaitTls;
                    self.events.push_back(ClientEvent::StartTls);
                } else if self.config.tls == TlsPolicy::Required {
                    self.fail(ClientError::StartTlsRefused(r));
                } else {
                    self.login();
                }
            }
            Expect::User => {
                if let (true, Some(ClientAuth::UserPass { password, .. })) =
                    (r.is_ok(), &self.config.auth)
                {
                    let password = Password::new(password.clone());
                    self.send(Command::Pass { password }, Expect::Pass);
                } else {
                    self.fail(ClientError::AuthFailed(r));
                }
            }
            Expect::Pass | Expect::Apop => {
                if r.is_ok() {
                    self.logged_in_now();
                } else {
                    self.fail(ClientError::AuthFailed(r));
                }
            }
            Expect::Auth => self.on_auth_result(r),
            Expect::Command(command) => self.on_command_response(command, r),
        }
    }

    fn on_command_response(&mut self, command: Command, r: Response) {
        if matches!(command, Command::Quit) {
            self.phase = Phase::Closed;
            self.expect.clear();
            self.queue.clear();
            self.events.push_back(ClientEvent::Closed(r));
            return;
        }
        if !r.is_ok() {
            self.events.push_back(ClientEvent::Refused {
                command,
                response: r,
            });
            self.send_queued();
            return;
        }
        match command {
            Command::Stat => match two_numbers(r.text()) {
                Some((count, size)) => {
                    let count = u32::try_from(count).unwrap_or(u32::MAX);
                    self.events.push_back(ClientEvent::Stat { count, size });
                }
                None => return self.bad_listing("STAT", r.text()),
            },
            Command::List { msg: Some(_) } => match scan_listing(r.text()) {
                Some(s) => self.events.push_back(ClientEvent::ListOne(s)),
                None => return self.bad_listing("LIST", r.text()),
            },
            Command::Uidl { msg: Some(_) } => match unique_id(r.text()) {
                Some(u) => self.events.push_back(ClientEvent::UidlOne(u)),
                None => return self.bad_listing("UIDL", r.text()),
            },
            Command::List { msg: None } | Command::Uidl { msg: None } => {
                self.body = Body::Lines {
                    of: Expect::Command(command),
                    lines: Vec::new(),
                };
                return;
            }
            Command::Retr { msg: number } | Command::Top { msg: number, .. } => {
                self.events.push_back(ClientEvent::MessageStart { number });
                self.body = Body::Message {
                    number,
                    decoder: DotDecoder::new(),
                };
                return;
            }
            Command::Dele { msg } => self.events.push_back(ClientEvent::Deleted { number: msg }),
            Command::Rset => self.events.push_back(ClientEvent::Reset),
            Command::Noop => self.events.push_back(ClientEvent::Noop),
            _ => {}
        }
        self.send_queued();
    }

    fn bad_listing(&mut self, what: &'static str, line: &str) {
        self.fail(
            ResponseError::BadListing {
                what,
                line: excerpt(line.as_bytes()),
            }
            .into(),
        );
    }

    fn lines_done(&mut self, of: Expect, lines: Vec<String>) {
        match of {
            Expect::Capa => {
                self.capabilities = Capabilities::from_lines(&lines);
                self.after_capa();
            }
            Expect::Command(Command::List { .. }) => {
                let mut out = Vec::with_capacity(lines.len());
                for line in &lines {
                    match scan_listing(line) {
                        Some(s) => out.push(s),
                        None => return self.bad_listing("LIST", line),
                    }
                }
                self.events.push_back(ClientEvent::List(out));
                self.send_queued();
            }
            Expect::Command(Command::Uidl { .. }) => {
                let mut out = Vec::with_capacity(lines.len());
                for line in &lines {
                    match unique_id(line) {
                        Some(u) => out.push(u),
                        None => return self.bad_listing("UIDL", line),
                    }
                }
                self.events.push_back(ClientEvent::Uidl(out));
                self.send_queued();
            }
            _ => {}
        }
    }

    fn after_capa(&mut self) {
        if self.logged_in {
            return;
        }
        if !self.tls && self.config.tls != TlsPolicy::Disabled {
            if self.capabilities.stls {
                self.send(Command::Stls, Expect::Stls);
                return;
            }
            if self.config.tls == TlsPolicy::Required {
                self.fail(ClientError::TlsUnavailable);
                return;
            }
        }
        self.login();
    }

    fn login(&mut self) {
        let clear_ok = self.tls || self.config.allow_plaintext_without_tls;
        match self.config.auth.clone() {
            None => {
                self.phase = Phase::Ready;
                self.events.push_back(ClientEvent::Ready);
            }
            Some(ClientAuth::UserPass { user, .. }) => {
                if !clear_ok {
                    self.fail(ClientError::AuthUnavailable(
                        "refusing to send a password in the clear without TLS",
                    ));
                    return;
                }
                self.send(Command::User { name: user }, Expect::User);
            }
            Some(ClientAuth::Apop { user, secret }) => {
                let Some(ts) = self.apop_timestamp() else {
                    self.fail(ClientError::AuthUnavailable(
                        "the greeting has no APOP timestamp",
                    ));
                    return;
                };
                let digest = apop_digest(ts, &secret);
                self.send(Command::Apop { name: user, digest }, Expect::Apop);
            }
            Some(ClientAuth::Sasl {
                mechanism,
                credentials,
                scram_nonce,
            }) => self.start_sasl(mechanism, credentials, scram_nonce, clear_ok),
        }
    }

    fn start_sasl(
        &mut self,
        mechanism: Option<Mechanism>,
        credentials: postel_sasl::ClientCredentials,
        scram_nonce: Option<String>,
        clear_ok: bool,
    ) {
        let caps = &self.capabilities;
        let mechanism = match mechanism {
            Some(m) => Some(m),
            None => {
                let order: &[Mechanism] = match credentials.secret {
                    ClientSecret::Password(_) => {
                        &[Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login]
                    }
                    ClientSecret::BearerToken(_) => &[Mechanism::OAuthBearer, Mechanism::XOAuth2],
                };
                order.iter().copied().find(|m| {
                    caps.offers_sasl(*m)
                        && (*m != Mechanism::ScramSha256 || scram_nonce.is_some())
                        && (clear_ok || !m.sends_password_in_clear())
                })
            }
        };
        let Some(mechanism) = mechanism else {
            self.fail(ClientError::AuthUnavailable(
                "the server offers no SASL mechanism that fits",
            ));
            return;
        };
        if mechanism.sends_password_in_clear() && !clear_ok {
            self.fail(ClientError::AuthUnavailable(
                "refusing to send a password in the clear without TLS",
            ));
            return;
        }
        let mut exchange = match ClientExchange::new(mechanism, credentials, scram_nonce) {
            Ok(e) => e,
            Err(e) => {
                self.fail(e.into());
                return;
            }
        };
        // RFC 5034 §4: no initial response if it would make the command
        // longer than 255 octets; the server's empty challenge asks for it.
        let initial = exchange
            .initial_response()
            .map(|ir| postel_sasl::wire::encode_initial_response(&ir))
            .filter(|ir| "AUTH ".len() + mechanism.name().len() + 1 + ir.len() + 2 <= 255);
        self.send(
            Command::Auth {
                mechanism: mechanism.name().to_owned(),
                initial_response: initial,
            },
            Expect::Auth,
        );
        self.sasl = Some(exchange);
        self.sasl_final_seen = false;
    }

    fn on_challenge(&mut self, text: &[u8]) {
        // The `+ ` line answered the AUTH (or the last response); the next
        // line answers ours.
        self.expect.pop_front();
        let Some(exchange) = self.sasl.as_mut() else {
            self.fail(ClientError::Unexpected(excerpt(text)));
            return;
        };
        let Ok(challenge) = postel_sasl::wire::decode(text) else {
            self.output.extend_from_slice(b"*\r\n");
            self.fail(ResponseError::BadChallenge.into());
            return;
        };
        let scram_final =
            exchange.mechanism() == Mechanism::ScramSha256 && challenge.starts_with(b"v=");
        let response = if scram_final {
            // SCRAM's server-final message comes as a challenge: check the
            // server's signature, answer with an empty line.
            self.sasl_final_seen = true;
            exchange.finish(Some(&challenge)).map(|()| Vec::new())
        } else {
            exchange.respond(&challenge)
        };
        match response {
            Ok(bytes) => {
                self.output
                    .extend_from_slice(postel_sasl::wire::encode(&bytes).as_bytes());
                self.output.extend_from_slice(b"\r\n");
                self.expect.push_front(Expect::Auth);
            }
            Err(e) => {
                self.output.extend_from_slice(b"*\r\n");
                self.fail(e.into());
            }
        }
    }

    fn on_auth_result(&mut self, r: Response) {
        let Some(mut exchange) = self.sasl.take() else {
            self.fail(ClientError::Unexpected(r.to_string()));
            return;
        };
        if !r.is_ok() {
            self.fail(ClientError::AuthFailed(r));
            return;
        }
        let check = if self.sasl_final_seen {
            Ok(())
        } else {
            exchange.finish(None)
        };
        match check {
            Ok(()) => self.logged_in_now(),
            Err(e) => self.fail(e.into()),
        }
    }

    fn logged_in_now(&mut self) {
        self.logged_in = true;
        self.phase = Phase::Ready;
        self.events.push_back(ClientEvent::Ready);
    }

    fn fail(&mut self, error: ClientError) {
        if self.phase != Phase::Closed {
            self.events.push_back(ClientEvent::Failed(error));
        }
        self.phase = Phase::Closed;
        self.expect.clear();
        self.queue.clear();
        self.body = Body::None;
        self.input.clear();
    }
}

/// The first two numbers of `text` (`"2 320"`, `"2 320 more"`).
fn two_numbers(text: &str) -> Option<(u64, u64)> {
    let mut words = text.split_ascii_whitespace();
    let a = words.next()?.parse().ok()?;
    let b = words.next()?.parse().ok()?;
    Some((a, b))
}

fn scan_listing(text: &str) -> Option<ScanListing> {
    let (number, size) = two_numbers(text)?;
    Some(ScanListing {
        number: u32::try_from(number).ok()?,
        size,
    })
}

fn unique_id(text: &str) -> Option<UniqueId> {
    let mut words = text.split_ascii_whitespace();
    let number = words.next()?.parse().ok()?;
    let uid = words.next()?.to_owned();
    Some(UniqueId { number, uid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_lines() {
        assert_eq!(
            scan_listing("1 120"),
            Some(ScanListing {
                number: 1,
                size: 120
            })
        );
        assert_eq!(scan_listing("1"), None);
        assert_eq!(scan_listing("x 1"), None);
        assert_eq!(
            unique_id("2 QhdPYR:00WBw1Ph7x7"),
            Some(UniqueId {
                number: 2,
                uid: "QhdPYR:00WBw1Ph7x7".into()
            })
        );
        assert_eq!(two_numbers("2 320"), Some((2, 320)));
    }
}
