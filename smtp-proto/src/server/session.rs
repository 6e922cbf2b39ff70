//! The Sans-IO SMTP/LMTP server session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use postel_sasl::{AuthError, Mechanism, ServerExchange, ServerOptions, ServerStep, Verification};

use crate::address::PathSyntax;
use crate::command::Command;
use crate::data::{DataViolation, DecodeStatus, DecoderConfig, DotDecoder};
use crate::error::UsageError;
use crate::extensions::{Extension, ehlo_keywords};
use crate::params::BodyType;
use crate::reply::Reply;

use super::config::{Protocol, ServerConfig};
use super::event::{
    AbortReason, ConnectionInfo, Recipient, ServerEvent, SessionInfo, TlsInfo, Transaction,
};

/// Where the session is in the protocol.
#[derive(Debug)]
enum Phase {
    /// Reading command lines.
    Command,
    /// Reading a DATA body.
    Data(DotDecoder),
    /// Reading `remaining` octets of a BDAT chunk.
    Bdat {
        remaining: u64,
        last: bool,
        /// Set when the chunk is read only to be thrown away, with the reply
        /// to send when it is.
        discard: Option<Reply>,
        /// How many times that reply goes out: an LMTP server answers the
        /// last chunk of a transaction once per accepted recipient.
        copies: usize,
    },
    /// Reading the client's responses in a SASL exchange.
    Auth(Box<ServerExchange>),
    /// SCRAM's server-final data was sent as a 334; waiting for the empty line.
    AuthFinal(postel_sasl::Identity),
    /// STARTTLS was accepted; waiting for the driver's handshake.
    AwaitTls,
    /// Greeted with 554: only QUIT is accepted.
    Refused,
    /// Skipping the rest of an over-long line; then back to reading
    /// commands, or to the refused state.
    SkipLine {
        /// Return to [`Phase::Refused`] rather than [`Phase::Command`].
        refused: bool,
        /// Send `500 5.5.2` at the end of the line (the AUTH case has already
        /// answered).
        reply: bool,
    },
    /// Done: QUIT, timeout or too many errors.
    Closed,
}

/// The decision the session waits for.
#[derive(Debug)]
enum Pending {
    Hello { domain: String, extended: bool },
    Mail(Transaction),
    Rcpt(Recipient),
    Message,
    Auth(Box<ServerExchange>),
    Etrn,
}

/// A Sans-IO SMTP (or LMTP) server session for one connection.
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
    phase: Phase,
    pending: Option<Pending>,
    transaction: Option<Transaction>,
    /// A BDAT sequence is under way in the current transaction.
    chunking: bool,
    /// Body octets so far in a BDAT sequence.
    bdat_size: u64,
    input: BytesMut,
    output: Vec<u8>,
    events: VecDeque<ServerEvent>,
    errors: usize,
    last_input: Instant,
}

impl ServerSession {
    /// A session that greets the client with `220`.
    pub fn new(config: Arc<ServerConfig>, connection: ConnectionInfo, now: Instant) -> Self {
        let mut s = Self::blank(config, connection, now);
        let greeting = Reply::new(
            220,
            None,
            format!("{} {}", s.config.hostname, s.config.greeting),
        );
        greeting.write_to(&mut s.output);
        s
    }

    /// A session that refuses service with `reply` (normally `554`) and then
    /// answers every command but QUIT with `503` (RFC 5321 §3.1).
    pub fn refuse(
        config: Arc<ServerConfig>,
        connection: ConnectionInfo,
        reply: Reply,
        now: Instant,
    ) -> Self {
        let mut s = Self::blank(config, connection, now);
        reply.write_to(&mut s.output);
        s.phase = Phase::Refused;
        s
    }

    fn blank(config: Arc<ServerConfig>, connection: ConnectionInfo, now: Instant) -> Self {
        Self {
            config,
            info: SessionInfo {
                connection,
                ..SessionInfo::default()
            },
            phase: Phase::Command,
            pending: None,
            transaction: None,
            chunking: false,
            bdat_size: 0,
            input: BytesMut::with_capacity(4096),
            output: Vec::with_capacity(1024),
            events: VecDeque::new(),
            errors: 0,
            last_input: now,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// What is known about the client.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The transaction in progress, if MAIL was accepted.
    pub fn transaction(&self) -> Option<&Transaction> {
        self.transaction.as_ref()
    }

    /// True once the session is over; write the remaining output and close.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether the driver should read more input now. False while a
    /// decision is pending, while STARTTLS waits for its handshake and after
    /// close, so a pipelining client cannot make the session buffer without
    /// bound.
    pub fn wants_input(&self) -> bool {
        self.pending.is_none()
            && self.events.is_empty()
            && !matches!(self.phase, Phase::Closed | Phase::AwaitTls)
    }

    /// Adds bytes received from the client. Input that arrives while
    /// STARTTLS waits for its handshake, or after close, is discarded.
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        self.last_input = now;
        match self.phase {
            Phase::Closed | Phase::AwaitTls => {}
            _ => {
                self.input.extend_from_slice(input);
                // Only input that cannot be consumed counts: while a decision
                // is pending the session reads nothing.
                if self.pending.is_some()
                    && self.input.len() > self.config.limits.max_buffered_input
                {
                    self.input.clear();
                    self.close_with(Reply::with_status(
                        421,
                        (4, 7, 0),
                        format!("{} Too much pipelined input", self.config.hostname),
                    ));
                }
            }
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

    /// When [`handle_timeout`](Self::handle_timeout) should be called, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_some() {
            return None;
        }
        let t = &self.config.timeouts;
        match self.phase {
            Phase::Closed | Phase::AwaitTls => None,
            Phase::Data(_) | Phase::Bdat { .. } => Some(self.last_input + t.data),
            _ => Some(self.last_input + t.command),
        }
    }

    /// Closes the session with `421 4.4.2` if its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        if matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. }) && self.transaction.is_some() {
            self.events.push_back(ServerEvent::MessageAborted {
                reason: AbortReason::TimedOut,
            });
        }
        self.close_with(Reply::with_status(
            421,
            (4, 4, 2),
            format!("{} Error: timeout exceeded", self.config.hostname),
        ));
        self.events.push_back(ServerEvent::TimedOut);
    }

    /// The driver finished the TLS handshake after [`ServerEvent::StartTls`].
    /// The session starts over as RFC 3207 §4.2 requires: the client must
    /// EHLO again and anything learned before is forgotten.
    pub fn tls_established(&mut self, tls: TlsInfo) -> Result<(), UsageError> {
        if !matches!(self.phase, Phase::AwaitTls) {
            return Err(UsageError::WrongState("tls_established without STARTTLS"));
        }
        self.input.clear();
        self.info.tls = Some(tls);
        self.info.hello = None;
        self.info.extended = false;
        self.info.auth = None;
        self.phase = Phase::Command;
        Ok(())
    }

    /// Marks the connection as TLS from the start (implicit TLS, port 465).
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
            if self.pending.is_some() {
                return None;
            }
            if !self.step() {
                return None;
            }
        }
    }

    // ----- decisions -----

    /// Accepts the pending event with the standard positive reply.
    pub fn accept(&mut self) -> Result<(), UsageError> {
        let reply = match self.pending.as_ref().ok_or(UsageError::NoPendingDecision)? {
            Pending::Hello { .. } => None,
            Pending::Mail(_) => Some(Reply::with_status(250, (2, 1, 0), "Ok")),
            Pending::Rcpt(_) => Some(Reply::with_status(250, (2, 1, 5), "Ok")),
            Pending::Message => Some(Reply::with_status(250, (2, 0, 0), "Ok: queued")),
            Pending::Etrn => Some(Reply::with_status(250, (2, 0, 0), "Queuing started")),
            Pending::Auth(_) => {
                return Err(UsageError::WrongDecision(
                    "AUTH verification is answered with auth_verified()",
                ));
            }
        };
        match reply {
            Some(r) => self.decide(r),
            None => self.decide_hello_accept(),
        }
    }

    /// Answers the pending event with `reply`: a 2yz reply accepts it, any
    /// other refuses it. For an LMTP message this one reply goes to every
    /// recipient.
    pub fn reject(&mut self, reply: Reply) -> Result<(), UsageError> {
        self.decide(reply)
    }

    /// Answers the pending event with `reply`, whatever its code (an alias of
    /// [`reject`](Self::reject) that reads better for positive replies, e.g.
    /// `250 2.0.0 Ok: queued as 4F2A`).
    pub fn respond(&mut self, reply: Reply) -> Result<(), UsageError> {
        self.decide(reply)
    }

    /// LMTP: answers the end of the message with one reply per accepted
    /// recipient, in RCPT order (RFC 2033 §4.2).
    pub fn respond_per_recipient(&mut self, replies: Vec<Reply>) -> Result<(), UsageError> {
        if !matches!(self.pending, Some(Pending::Message)) {
            return Err(UsageError::WrongDecision(
                "per-recipient replies answer only the end of a message",
            ));
        }
        if self.config.protocol != Protocol::Lmtp {
            return Err(UsageError::WrongDecision(
                "per-recipient replies are for LMTP",
            ));
        }
        let expected = self.transaction.as_ref().map_or(0, |t| t.recipients.len());
        if replies.len() != expected {
            return Err(UsageError::ReplyCount {
                expected,
                got: replies.len(),
            });
        }
        self.pending = None;
        let any_ok = replies.iter().any(Reply::is_positive);
        for r in &replies {
            r.write_to(&mut self.output);
        }
        self.finish_message(any_ok);
        Ok(())
    }

    /// Answers [`ServerEvent::AuthVerify`].
    pub fn auth_verified(&mut self, verification: Verification) -> Result<(), UsageError> {
        let Some(Pending::Auth(mut exchange)) = self.pending.take() else {
            let p = self.pending.take();
            self.pending = p;
            return Err(UsageError::WrongDecision("no AUTH verification is pending"));
        };
        let step = exchange.verified(verification);
        self.auth_step(exchange, step);
        Ok(())
    }

    fn decide_hello_accept(&mut self) -> Result<(), UsageError> {
        let Some(Pending::Hello { domain, extended }) = self.pending.take() else {
            return Err(UsageError::NoPendingDecision);
        };
        let cfg = &self.config;
        if extended {
            let mut lines = Vec::with_capacity(20);
            lines.push(format!("{} Hello {}", cfg.hostname, domain));
            let tls = self.info.tls.is_some();
            let auth_allowed = self.info.auth.is_none();
            lines.extend(ehlo_keywords(
                &cfg.extensions,
                cfg.limits.max_message_size,
                cfg.limits.max_recipients,
                tls,
                auth_allowed,
            ));
            Reply::multiline(250, None, lines).write_to(&mut self.output);
        } else {
            Reply::new(250, None, cfg.hostname.clone()).write_to(&mut self.output);
        }
        self.info.hello = Some(domain);
        self.info.extended = extended;
        Ok(())
    }

    fn decide(&mut self, reply: Reply) -> Result<(), UsageError> {
        let pending = self.pending.take().ok_or(UsageError::NoPendingDecision)?;
        let ok = reply.is_positive();
        match pending {
            Pending::Hello { domain, extended } => {
                if ok {
                    self.info.hello = Some(domain);
                    self.info.extended = extended;
                }
            }
            Pending::Mail(t) => {
                if ok {
                    self.transaction = Some(t);
                }
            }
            Pending::Rcpt(r) => {
                if ok && let Some(t) = self.transaction.as_mut() {
                    t.recipients.push(r);
                }
            }
            Pending::Message => {
                match self.config.protocol {
                    Protocol::Smtp => reply.write_to(&mut self.output),
                    Protocol::Lmtp => {
                        let n = self.transaction.as_ref().map_or(0, |t| t.recipients.len());
                        for _ in 0..n {
                            reply.write_to(&mut self.output);
                        }
                    }
                }
                self.finish_message(ok);
                return Ok(());
            }
            Pending::Etrn => {}
            Pending::Auth(exchange) => {
                self.pending = Some(Pending::Auth(exchange));
                return Err(UsageError::WrongDecision(
                    "AUTH verification is answered with auth_verified()",
                ));
            }
        }
        reply.write_to(&mut self.output);
        Ok(())
    }

    fn finish_message(&mut self, accepted: bool) {
        if accepted {
            self.info.messages += 1;
        }
        self.transaction = None;
        self.chunking = false;
        self.bdat_size = 0;
    }

    // ----- the machine -----

    fn reply(&mut self, code: u16, status: (u8, u16, u16), text: &str) {
        Reply::with_status(code, status, text).write_to(&mut self.output);
    }

    /// A refused command: counts toward the error limit.
    fn error(&mut self, reply: Reply) {
        reply.write_to(&mut self.output);
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors {
            self.close_with(Reply::with_status(
                421,
                (4, 7, 0),
                format!(
                    "{} Too many errors, closing connection",
                    self.config.hostname
                ),
            ));
        }
    }

    fn close_with(&mut self, reply: Reply) {
        reply.write_to(&mut self.output);
        self.phase = Phase::Closed;
        self.pending = None;
        self.input.clear();
    }

    fn reset_transaction(&mut self) {
        if self.transaction.take().is_some() {
            self.events.push_back(ServerEvent::TransactionReset);
        }
        self.chunking = false;
        self.bdat_size = 0;
    }

    /// Does one unit of work; false when nothing can be done without input.
    fn step(&mut self) -> bool {
        match &mut self.phase {
            Phase::Closed | Phase::AwaitTls => false,
            Phase::Data(decoder) => {
                let events = &mut self.events;
                let status = decoder.decode(&mut self.input, &mut |chunk| {
                    events.push_back(ServerEvent::MessageData(chunk));
                });
                match status {
                    DecodeStatus::NeedMore => !self.events.is_empty(),
                    DecodeStatus::End => {
                        let size = decoder.size();
                        let violation = decoder.violation();
                        self.phase = Phase::Command;
                        self.end_of_body(size, violation);
                        true
                    }
                }
            }
            Phase::Bdat {
                remaining,
                last,
                discard,
                copies,
            } => {
                if *remaining > 0 {
                    if self.input.is_empty() {
                        return false;
                    }
                    let take = (*remaining).min(self.input.len() as u64) as usize;
                    *remaining -= take as u64;
                    let chunk = self.input.split_to(take);
                    if discard.is_none() {
                        self.bdat_size += take as u64;
                        if self.bdat_size > self.config.limits.max_message_size {
                            *discard = Some(too_large());
                            self.events.push_back(ServerEvent::MessageAborted {
                                reason: AbortReason::TooLarge,
                            });
                            self.transaction = None;
                            self.chunking = false;
                        } else {
                            self.events
                                .push_back(ServerEvent::MessageData(chunk.freeze()));
                        }
                    }
                    return true;
                }
                let last = *last;
                let copies = *copies;
                let discard = discard.take();
                self.phase = Phase::Command;
                match discard {
                    Some(reply) => {
                        self.bdat_size = 0;
                        for _ in 1..copies {
                            reply.write_to(&mut self.output);
                        }
                        self.error(reply);
                    }
                    None if last => {
                        self.pending = Some(Pending::Message);
                        self.events.push_back(ServerEvent::MessageEnd {
                            size: self.bdat_size,
                        });
                    }
                    None => {
                        let n = self.bdat_size;
                        self.reply(250, (2, 0, 0), &format!("{n} octets received"));
                    }
                }
                true
            }
            Phase::SkipLine { refused, reply } => match memchr::memchr(b'\n', &self.input) {
                Some(lf) => {
                    let (refused, reply) = (*refused, *reply);
                    self.input.advance(lf + 1);
                    self.phase = if refused {
                        Phase::Refused
                    } else {
                        Phase::Command
                    };
                    if reply {
                        self.error(Reply::with_status(500, (5, 5, 2), "Line too long"));
                    }
                    true
                }
                None => {
                    // All of it belongs to the over-long line.
                    self.input.clear();
                    false
                }
            },
            Phase::Command | Phase::Refused | Phase::Auth(_) | Phase::AuthFinal(_) => {
                let limit = match self.phase {
                    Phase::Auth(_) | Phase::AuthFinal(_) => self.config.limits.auth_line,
                    _ => self
                        .config
                        .limits
                        .auth_line
                        .max(self.config.limits.command_line + 1000),
                };
                let Some(lf) =
                    memchr::memchr(b'\n', &self.input[..self.input.len().min(limit + 1)])
                else {
                    if self.input.len() > limit {
                        // Drop what was searched (no line end in it); the
                        // rest of the line may be followed by more commands.
                        self.input.advance(limit + 1);
                        self.phase = match std::mem::replace(&mut self.phase, Phase::Command) {
                            Phase::Auth(_) | Phase::AuthFinal(_) => {
                                self.reply(
                                    500,
                                    (5, 5, 6),
                                    "Authentication exchange line is too long",
                                );
                                Phase::SkipLine {
                                    refused: false,
                                    reply: false,
                                }
                            }
                            Phase::Refused => Phase::SkipLine {
                                refused: true,
                                reply: true,
                            },
                            _ => Phase::SkipLine {
                                refused: false,
                                reply: true,
                            },
                        };
                        return true;
                    }
                    return false;
                };
                let mut line = self.input.split_to(lf + 1);
                line.truncate(lf);
                let bare_lf = !line.ends_with(b"\r");
                if !bare_lf {
                    line.truncate(lf - 1);
                }
                if bare_lf && !self.config.strictness.bare_lf_in_commands {
                    self.error(Reply::with_status(
                        500,
                        (5, 5, 2),
                        "Command lines must end with CRLF",
                    ));
                    return true;
                }
                match std::mem::replace(&mut self.phase, Phase::Command) {
                    Phase::Auth(exchange) => self.auth_line(exchange, &line),
                    Phase::AuthFinal(identity) => {
                        if line.as_ref() == b"*" {
                            self.reply(501, (5, 0, 0), "Authentication cancelled");
                        } else {
                            self.auth_succeeded(identity);
                        }
                    }
                    Phase::Refused => {
                        self.phase = Phase::Refused;
                        self.refused_line(&line);
                    }
                    _ => self.command_line(&line),
                }
                true
            }
        }
    }

    fn refused_line(&mut self, line: &[u8]) {
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"QUIT") {
            self.quit();
        } else {
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                "Bad sequence of commands",
            ));
        }
    }

    fn quit(&mut self) {
        let bye = Reply::with_status(
            221,
            (2, 0, 0),
            format!("{} closing connection", self.config.hostname),
        );
        if self.transaction.is_some() {
            self.events.push_back(ServerEvent::TransactionReset);
        }
        self.close_with(bye);
        self.events.push_back(ServerEvent::Quit);
    }

    fn end_of_body(&mut self, size: u64, violation: Option<DataViolation>) {
        match violation {
            None => {
                self.pending = Some(Pending::Message);
                self.events.push_back(ServerEvent::MessageEnd { size });
            }
            Some(v) => {
                let reply = match v {
                    DataViolation::Bare(_) => Reply::with_status(
                        550,
                        (5, 6, 0),
                        "Message refused: bare CR or LF in message data; lines must end with CRLF (RFC 5321 section 2.3.8)",
                    ),
                    DataViolation::LineTooLong => {
                        Reply::with_status(500, (5, 5, 2), "Line too long in message data")
                    }
                    DataViolation::TooLarge => too_large(),
                };
                // LMTP answers once per recipient even for a refused body.
                let n = match self.config.protocol {
                    Protocol::Lmtp => self
                        .transaction
                        .as_ref()
                        .map_or(1, |t| t.recipients.len().max(1)),
                    Protocol::Smtp => 1,
                };
                for _ in 0..n {
                    reply.write_to(&mut self.output);
                }
                self.events
                    .push_back(ServerEvent::MessageAborted { reason: v.into() });
                self.transaction = None;
                self.chunking = false;
                self.bdat_size = 0;
            }
        }
    }

    fn command_line(&mut self, line: &[u8]) {
        let cfg = Arc::clone(&self.config);
        let syntax = PathSyntax {
            lenient: cfg.strictness.lenient_paths,
        };
        let command = match Command::parse(line, syntax) {
            Ok(c) => c,
            Err(e) => {
                self.error(e.reply());
                return;
            }
        };
        // Per-command line limits: AUTH gets 12288 (RFC 4954 §4); MAIL and
        // RCPT get more room for DSN and AUTH= parameters.
        let limit = match &command {
            Command::Auth { .. } => cfg.limits.auth_line,
            Command::Mail { .. } | Command::Rcpt { .. } => {
                cfg.limits.command_line
                    + if cfg.extensions.dsn { 500 } else { 0 }
                    + if cfg.extensions.auth.is_empty() {
                        0
                    } else {
                        500
                    }
            }
            _ => cfg.limits.command_line,
        };
        if line.len() + 2 > limit {
            self.error(Reply::with_status(500, (5, 5, 2), "Line too long"));
            return;
        }
        let lmtp = cfg.protocol == Protocol::Lmtp;
        match command {
            Command::Ehlo { domain } | Command::Helo { domain } if lmtp => {
                let _ = domain;
                self.error(Reply::with_status(
                    500,
                    (5, 5, 1),
                    "This is an LMTP server: use LHLO",
                ));
            }
            Command::Lhlo { .. } if !lmtp => {
                self.error(Reply::with_status(500, (5, 5, 1), "Command unrecognized"));
            }
            Command::Ehlo { domain } | Command::Lhlo { domain } => self.hello(domain, true),
            Command::Helo { domain } => self.hello(domain, false),
            Command::Mail { from, params } => self.mail(from, *params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.reply(250, (2, 0, 0), "Ok");
            }
            Command::Noop => self.reply(250, (2, 0, 0), "Ok"),
            Command::Quit => self.quit(),
            Command::Vrfy { .. } => self.reply(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Command::Expn { .. } => {
                self.error(Reply::with_status(502, (5, 5, 1), "EXPN not available"))
            }
            Command::Help { .. } => self.reply(
                214,
                (2, 0, 0),
                "Postel SMTP server; commands are those of RFC 5321 and the extensions EHLO lists",
            ),
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response.as_deref()),
            Command::Etrn { node } => {
                if !cfg.extensions.etrn {
                    self.error(Reply::with_status(502, (5, 5, 1), "ETRN not available"));
                } else if self.transaction.is_some() {
                    self.error(Reply::with_status(
                        503,
                        (5, 5, 1),
                        "ETRN not allowed during a mail transaction",
                    ));
                } else {
                    self.pending = Some(Pending::Etrn);
                    self.events.push_back(ServerEvent::Etrn { node });
                }
            }
            Command::Legacy(_) => {
                self.error(Reply::with_status(
                    502,
                    (5, 5, 1),
                    "Command not implemented",
                ));
            }
        }
    }

    fn hello(&mut self, domain: String, extended: bool) {
        // A new EHLO/HELO resets any transaction (RFC 5321 §4.1.4).
        self.reset_transaction();
        self.pending = Some(Pending::Hello {
            domain: domain.clone(),
            extended,
        });
        self.events
            .push_back(ServerEvent::Hello { domain, extended });
    }

    fn mail(&mut self, from: crate::address::ReversePath, params: crate::params::MailParameters) {
        let cfg = Arc::clone(&self.config);
        if cfg.strictness.require_hello && self.info.hello.is_none() {
            let verb = if cfg.protocol == Protocol::Lmtp {
                "LHLO"
            } else {
                "HELO/EHLO"
            };
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                format!("Send {verb} first"),
            ));
            return;
        }
        if self.transaction.is_some() {
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                "Sender already specified",
            ));
            return;
        }
        if let Some(ext) = params
            .extensions_used()
            .find(|e| !self.extension_usable(*e))
        {
            self.error(Reply::with_status(
                555,
                (5, 5, 4),
                format!("MAIL parameter of {ext:?} not supported"),
            ));
            return;
        }
        if let Some(size) = params.size
            && size > cfg.limits.max_message_size
        {
            self.error(too_large());
            return;
        }
        if params.requiretls && self.info.tls.is_none() {
            self.error(Reply::with_status(
                530,
                (5, 7, 10),
                "REQUIRETLS needs a TLS connection",
            ));
            return;
        }
        if from.mailbox().is_some_and(|m| m.needs_smtputf8()) && !params.smtputf8 {
            self.error(Reply::with_status(
                553,
                (5, 6, 7),
                "Non-ASCII sender address needs the SMTPUTF8 parameter",
            ));
            return;
        }
        let t = Transaction {
            from: from.clone(),
            params: params.clone(),
            recipients: Vec::new(),
        };
        self.pending = Some(Pending::Mail(t));
        self.events
            .push_back(ServerEvent::MailFrom { from, params });
    }

    /// Whether a parameter's extension may be used now: advertised, and
    /// the client used EHLO.
    fn extension_usable(&self, ext: Extension) -> bool {
        self.info.extended
            && self.config.extensions.enabled(ext)
            && (ext != Extension::RequireTls || self.info.tls.is_some())
    }

    fn rcpt(&mut self, to: crate::address::ForwardPath, params: crate::params::RcptParameters) {
        let Some(t) = &self.transaction else {
            self.error(Reply::with_status(503, (5, 5, 1), "Need MAIL before RCPT"));
            return;
        };
        if self.chunking {
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                "RCPT not allowed after BDAT",
            ));
            return;
        }
        if t.recipients.len() >= self.config.limits.max_recipients {
            // Not an error: RFC 5321 §4.5.3.1.10 wants the client to send the
            // rest in another transaction.
            self.reply(452, (4, 5, 3), "Too many recipients");
            return;
        }
        if to.needs_smtputf8() && !t.params.smtputf8 {
            self.error(Reply::with_status(
                553,
                (5, 6, 7),
                "Non-ASCII recipient address needs the SMTPUTF8 parameter on MAIL",
            ));
            return;
        }
        if let Some(ext) = params
            .extensions_used()
            .find(|e| !self.extension_usable(*e))
        {
            self.error(Reply::with_status(
                555,
                (5, 5, 4),
                format!("RCPT parameter of {ext:?} not supported"),
            ));
            return;
        }
        if !self.config.strictness.allow_routing_in_recipients
            && let Some(hazard) = to.mailbox().and_then(|m| m.routing_hazard())
        {
            self.error(Reply::with_status(
                553,
                (5, 7, 1),
                format!("Sender-specified routing is not allowed ({hazard:?})"),
            ));
            return;
        }
        // The event carries a copy; the pending decision keeps the original
        // so that accepting it needs no second copy.
        self.events.push_back(ServerEvent::RcptTo {
            to: to.clone(),
            params: params.clone(),
        });
        self.pending = Some(Pending::Rcpt(Recipient { to, params }));
    }

    /// Checks MAIL and RCPT were given; otherwise the reply to send.
    fn transaction_ready(&self) -> Result<(), Reply> {
        match &self.transaction {
            None => Err(Reply::with_status(503, (5, 5, 1), "Need MAIL command")),
            Some(t) if t.recipients.is_empty() => {
                Err(Reply::with_status(554, (5, 5, 1), "No valid recipients"))
            }
            Some(_) => Ok(()),
        }
    }

    fn data(&mut self) {
        if self.chunking {
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                "DATA not allowed after BDAT",
            ));
            return;
        }
        if let Err(r) = self.transaction_ready() {
            self.error(r);
            return;
        }
        if self
            .transaction
            .as_ref()
            .is_some_and(|t| t.params.body == Some(BodyType::BinaryMime))
        {
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                "BODY=BINARYMIME requires BDAT",
            ));
            return;
        }
        self.reply(354, (2, 0, 0), "End data with <CR><LF>.<CR><LF>");
        let limits = &self.config.limits;
        self.phase = Phase::Data(DotDecoder::new(DecoderConfig {
            bare_line_endings: self.config.strictness.bare_line_endings,
            max_line: limits.text_line,
            max_size: limits.max_message_size,
        }));
        self.events.push_back(ServerEvent::MessageStart);
    }

    fn bdat(&mut self, size: u64, last: bool) {
        let discard = if !self.config.extensions.chunking {
            Some(Reply::with_status(502, (5, 5, 1), "BDAT not available"))
        } else {
            self.transaction_ready().err()
        };
        // The reply to a refused last chunk of a live LMTP transaction goes
        // to every recipient (RFC 2033 §4.2), so clients can count replies.
        let copies = match (&self.transaction, self.config.protocol, last, &discard) {
            (Some(t), Protocol::Lmtp, true, None) => t.recipients.len().max(1),
            _ => 1,
        };
        if discard.is_none() {
            if !self.chunking {
                self.chunking = true;
                self.bdat_size = 0;
                self.events.push_back(ServerEvent::MessageStart);
            }
            if self.bdat_size.saturating_add(size) > self.config.limits.max_message_size {
                // Read the chunk anyway (it is on its way), then refuse.
                self.events.push_back(ServerEvent::MessageAborted {
                    reason: AbortReason::TooLarge,
                });
                self.transaction = None;
                self.chunking = false;
                self.phase = Phase::Bdat {
                    remaining: size,
                    last,
                    discard: Some(too_large()),
                    copies,
                };
                return;
            }
        }
        self.phase = Phase::Bdat {
            remaining: size,
            last,
            discard,
            copies,
        };
    }

    fn starttls(&mut self) {
        if !self.config.extensions.starttls {
            self.error(Reply::with_status(502, (5, 5, 1), "STARTTLS not available"));
            return;
        }
        if self.info.tls.is_some() {
            self.error(Reply::with_status(503, (5, 5, 1), "TLS already active"));
            return;
        }
        self.reset_transaction();
        self.reply(220, (2, 0, 0), "Ready to start TLS");
        // Anything the client pipelined after STARTTLS came in plaintext and
        // must not be read as if it came through TLS (CVE-2011-0411 class).
        self.input.clear();
        self.phase = Phase::AwaitTls;
        self.events.push_back(ServerEvent::StartTls);
    }

    fn auth(&mut self, mechanism: &str, initial: Option<&str>) {
        let cfg = Arc::clone(&self.config);
        let Some(mech) =
            Mechanism::from_name(mechanism.as_bytes()).filter(|m| cfg.extensions.auth.contains(m))
        else {
            if cfg.extensions.auth.is_empty() {
                self.error(Reply::with_status(502, (5, 5, 1), "AUTH not available"));
            } else {
                self.error(Reply::with_status(
                    504,
                    (5, 5, 4),
                    "Unrecognized authentication type",
                ));
            }
            return;
        };
        if !self.info.extended {
            self.error(Reply::with_status(503, (5, 5, 1), "Send EHLO first"));
            return;
        }
        if self.info.auth.is_some() {
            self.error(Reply::with_status(503, (5, 5, 1), "Already authenticated"));
            return;
        }
        if self.transaction.is_some() {
            self.error(Reply::with_status(
                503,
                (5, 5, 1),
                "AUTH not allowed during a mail transaction",
            ));
            return;
        }
        if mech.sends_password_in_clear()
            && self.info.tls.is_none()
            && cfg.strictness.require_tls_for_plaintext_auth
        {
            self.error(Reply::with_status(
                538,
                (5, 7, 11),
                "Encryption required for requested authentication mechanism",
            ));
            return;
        }
        let initial = match initial {
            None => None,
            Some(text) => match postel_sasl::wire::parse_initial_response(text.as_bytes()) {
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    self.error(Reply::with_status(
                        501,
                        (5, 5, 2),
                        "Cannot decode initial response",
                    ));
                    return;
                }
            },
        };
        let mut exchange = Box::new(ServerExchange::new(mech, ServerOptions::default()));
        let step = exchange.start(initial.as_deref());
        self.auth_step(exchange, step);
    }

    fn auth_line(&mut self, mut exchange: Box<ServerExchange>, line: &[u8]) {
        match postel_sasl::wire::parse_client_line(line) {
            Ok(postel_sasl::wire::ClientLine::Cancel) => {
                self.error(Reply::with_status(
                    501,
                    (5, 0, 0),
                    "Authentication cancelled",
                ));
            }
            Ok(postel_sasl::wire::ClientLine::Response(bytes)) => {
                let step = exchange.respond(&bytes);
                self.auth_step(exchange, step);
            }
            Err(_) => self.error(Reply::with_status(501, (5, 5, 2), "Cannot decode response")),
        }
    }

    fn auth_step(&mut self, exchange: Box<ServerExchange>, step: ServerStep) {
        match step {
            ServerStep::Challenge(data) => {
                let text = postel_sasl::wire::encode(&data);
                self.output.extend_from_slice(b"334 ");
                self.output.extend_from_slice(text.as_bytes());
                self.output.extend_from_slice(b"\r\n");
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
                // RFC 4954 §4: additional data with success goes in a 334,
                // which the client answers with an empty line.
                Some(data) => {
                    let text = postel_sasl::wire::encode(&data);
                    self.output.extend_from_slice(b"334 ");
                    self.output.extend_from_slice(text.as_bytes());
                    self.output.extend_from_slice(b"\r\n");
                    self.phase = Phase::AuthFinal(identity);
                }
                None => self.auth_succeeded(identity),
            },
            ServerStep::Failure(err) => self.error(auth_failure_reply(&err)),
        }
    }

    fn auth_succeeded(&mut self, identity: postel_sasl::Identity) {
        self.reply(235, (2, 7, 0), "Authentication successful");
        self.info.auth = Some(identity.clone());
        self.events.push_back(ServerEvent::Authenticated(identity));
    }
}

fn too_large() -> Reply {
    Reply::with_status(
        552,
        (5, 3, 4),
        "Message size exceeds fixed maximum message size",
    )
}

fn auth_failure_reply(err: &AuthError) -> Reply {
    match err {
        AuthError::Cancelled => Reply::with_status(501, (5, 0, 0), "Authentication cancelled"),
        AuthError::ResponseTooLong { .. } => {
            Reply::with_status(500, (5, 5, 6), "Authentication exchange line is too long")
        }
        AuthError::Malformed { .. } => {
            Reply::with_status(501, (5, 5, 2), format!("Cannot decode response: {err}"))
        }
        _ => Reply::with_status(535, (5, 7, 8), "Authentication credentials invalid"),
    }
}
