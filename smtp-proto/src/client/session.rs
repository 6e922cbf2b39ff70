//! The Sans-IO SMTP/LMTP client session.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use postel_sasl::{ClientExchange, ClientSecret, Mechanism};
use thiserror::Error;

use crate::address::{ForwardPath, ReversePath};
use crate::command::Command;
use crate::data::DotStuffer;
use crate::error::{ReplyError, UsageError};
use crate::extensions::Capabilities;
use crate::params::{BodyType, MailParameters, RcptParameters};
use crate::reply::{Reply, ReplyParser};
use crate::server::Protocol;

use super::config::{ClientConfig, TlsPolicy};

/// A message to send: the envelope. The body is streamed after
/// [`ClientEvent::SendBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sender.
    pub from: ReversePath,
    /// MAIL parameters the caller wants (SIZE, BODY, DSN ...). Those the
    /// server does not support are dropped, except where that would change
    /// the meaning of the message (SMTPUTF8, BINARYMIME, REQUIRETLS), which
    /// fails the message instead.
    pub params: MailParameters,
    /// The recipients and their parameters.
    pub recipients: Vec<(ForwardPath, RcptParameters)>,
}

/// Why a whole client session failed. Per-message failures are not errors:
/// they are [`MessageOutcome`]s.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// The server greeted with something other than 220.
    #[error("server refused the connection: {0}")]
    GreetingRefused(Reply),
    /// EHLO and HELO (or LHLO) were refused.
    #[error("server refused our greeting: {0}")]
    HelloRefused(Reply),
    /// TLS is required but the server does not offer STARTTLS.
    #[error("TLS is required but the server does not offer STARTTLS")]
    TlsUnavailable,
    /// TLS is required and the server refused STARTTLS.
    #[error("server refused STARTTLS: {0}")]
    StartTlsRefused(Reply),
    /// AUTH is configured but no offered mechanism fits (or TLS is missing).
    #[error("no usable AUTH mechanism: {0}")]
    AuthUnavailable(&'static str),
    /// The server refused our credentials.
    #[error("authentication failed: {0}")]
    AuthFailed(Reply),
    /// The SASL exchange failed on our side (e.g. a bad SCRAM server signature).
    #[error("authentication exchange failed: {0}")]
    Sasl(String),
    /// The server sent something that is not an SMTP reply.
    #[error("malformed reply from server: {0}")]
    Protocol(#[from] ReplyError),
    /// The server sent a reply we did not expect.
    #[error("unexpected reply: {0}")]
    UnexpectedReply(Reply),
    /// The server is closing the connection (421).
    #[error("server is closing the connection: {0}")]
    ServerClosing(Reply),
    /// No reply in time.
    #[error("timed out waiting for the reply to {0}")]
    TimedOut(&'static str),
}

/// How one recipient fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// The server took responsibility (2yz).
    Accepted(Reply),
    /// Try again later (4yz, or a connection problem).
    TransientFailure(Reply),
    /// Give up and bounce (5yz).
    PermanentFailure(Reply),
}

impl DeliveryStatus {
    fn from_reply(reply: Reply) -> Self {
        if reply.is_positive() {
            DeliveryStatus::Accepted(reply)
        } else if reply.is_permanent() {
            DeliveryStatus::PermanentFailure(reply)
        } else {
            DeliveryStatus::TransientFailure(reply)
        }
    }

    /// The reply behind the status.
    pub fn reply(&self) -> &Reply {
        match self {
            DeliveryStatus::Accepted(r)
            | DeliveryStatus::TransientFailure(r)
            | DeliveryStatus::PermanentFailure(r) => r,
        }
    }
}

/// One recipient's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    /// The recipient.
    pub to: ForwardPath,
    /// What happened.
    pub status: DeliveryStatus,
}

/// The outcome of one message, per recipient in envelope order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageOutcome {
    /// One entry per envelope recipient.
    pub recipients: Vec<RecipientOutcome>,
}

/// An event from [`ClientSession::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server accepted STARTTLS. Write all output, do the TLS handshake
    /// on the connection, then call [`ClientSession::tls_established`].
    StartTls,
    /// Greeting, EHLO, TLS and AUTH are done: [`ClientSession::send`] a message.
    Ready,
    /// Stream the body now with [`ClientSession::body_chunk`] and finish
    /// with [`ClientSession::body_end`].
    SendBody,
    /// The message is done; per-recipient outcomes. The session is ready for
    /// the next message or QUIT.
    Delivered(MessageOutcome),
    /// The session failed; close the connection. A message in flight was
    /// reported first with transient failures.
    Failed(ClientError),
    /// QUIT was answered; close the connection.
    Closed,
}

/// What a reply we wait for answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt(usize),
    Data,
    /// Final reply after the body (LMTP: one per accepted recipient).
    DataEnd,
    Bdat,
    Rset,
    Quit,
}

impl Expect {
    fn name(self) -> &'static str {
        match self {
            Expect::Greeting => "the greeting",
            Expect::Ehlo => "EHLO",
            Expect::Helo => "HELO",
            Expect::StartTls => "STARTTLS",
            Expect::Auth => "AUTH",
            Expect::Mail => "MAIL",
            Expect::Rcpt(_) => "RCPT",
            Expect::Data => "DATA",
            Expect::DataEnd => "the end of data",
            Expect::Bdat => "BDAT",
            Expect::Rset => "RSET",
            Expect::Quit => "QUIT",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Greeting, EHLO, STARTTLS, AUTH.
    Setup,
    /// Waiting for the driver's TLS handshake.
    AwaitTls,
    /// Waiting for the application's next message.
    Ready,
    /// A message transaction is under way.
    Transaction,
    /// The application streams the body.
    Body,
    /// Over.
    Closed,
}

#[derive(Debug)]
struct Job {
    envelope: Envelope,
    mail: Option<Reply>,
    rcpt: Vec<Option<Reply>>,
    /// A failure that applies to every accepted recipient (DATA refused, a
    /// BDAT chunk refused).
    failure: Option<Reply>,
    finals: Vec<Reply>,
    chunked: bool,
    /// DATA was sent in the same batch as MAIL and RCPT.
    data_pipelined: bool,
    stuffer: DotStuffer,
    /// Final replies still expected.
    finals_expected: usize,
}

impl Job {
    fn accepted(&self) -> usize {
        if !self.mail.as_ref().is_some_and(Reply::is_positive) {
            return 0;
        }
        self.rcpt
            .iter()
            .filter(|r| r.as_ref().is_some_and(Reply::is_positive))
            .count()
    }
}

/// A Sans-IO SMTP (or LMTP) client session for one connection.
///
/// Feed it the server's bytes with [`enqueue_input`](Self::enqueue_input),
/// write what [`poll_transmit`](Self::poll_transmit) returns, and react to
/// [`poll_event`](Self::poll_event). Time is given, never read.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    phase: Phase,
    parser: ReplyParser,
    expect: VecDeque<Expect>,
    events: VecDeque<ClientEvent>,
    output: Vec<u8>,
    capabilities: Capabilities,
    greeting: Option<Reply>,
    tls: bool,
    authenticated: bool,
    sasl: Option<(Mechanism, ClientExchange)>,
    sasl_final_seen: bool,
    job: Option<Job>,
    last_activity: Instant,
}

impl ClientSession {
    /// A session on a fresh connection, waiting for the greeting.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let parser = ReplyParser::new(config.reply_limits);
        Self {
            config,
            phase: Phase::Setup,
            parser,
            expect: VecDeque::from([Expect::Greeting]),
            events: VecDeque::new(),
            output: Vec::with_capacity(1024),
            capabilities: Capabilities::default(),
            greeting: None,
            tls: false,
            authenticated: false,
            sasl: None,
            sasl_final_seen: false,
            job: None,
            last_activity: now,
        }
    }

    /// A session on a connection that is TLS from the start (port 465).
    pub fn new_implicit_tls(config: ClientConfig, now: Instant) -> Self {
        let mut s = Self::new(config, now);
        s.tls = true;
        s
    }

    /// What the server's EHLO reply offered.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The server's greeting, once received.
    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    /// Whether the connection is TLS now.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether AUTH succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Adds bytes received from the server.
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls) {
            return;
        }
        self.last_activity = now;
        self.parser.feed(input);
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
    /// application's next call).
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if matches!(self.phase, Phase::Closed | Phase::AwaitTls) || self.expect.is_empty() {
                return None;
            }
            match self.parser.next_reply() {
                Ok(Some(reply)) => self.on_reply(reply),
                Ok(None) => return None,
                Err(e) => self.fail(ClientError::Protocol(e)),
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls | Phase::Body) {
            return None;
        }
        let t = &self.config.timeouts;
        let wait: Duration = match self.expect.front()? {
            Expect::Greeting => t.greeting,
            Expect::Mail => t.mail,
            Expect::Rcpt(_) => t.rcpt,
            Expect::Data => t.data_initiation,
            Expect::Bdat => t.data_block,
            Expect::DataEnd => t.data_termination,
            _ => t.command,
        };
        Some(self.last_activity + wait)
    }

    /// Fails the session if the reply it waits for is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout()
            && now >= deadline
        {
            let what = self.expect.front().map_or("a reply", |e| e.name());
            self.fail(ClientError::TimedOut(what));
        }
    }

    /// The TLS handshake after [`ClientEvent::StartTls`] is done: EHLO again.
    pub fn tls_established(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.phase != Phase::AwaitTls {
            return Err(UsageError::WrongState("tls_established without STARTTLS"));
        }
        self.last_activity = now;
        self.tls = true;
        // Replies the server (or someone in between) sent in plaintext after
        // 220 must not be read as if they came through TLS.
        self.parser = ReplyParser::new(self.config.reply_limits);
        self.capabilities = Capabilities::default();
        self.phase = Phase::Setup;
        self.send_hello();
        Ok(())
    }

    /// Starts a message. Allowed after [`ClientEvent::Ready`] or
    /// [`ClientEvent::Delivered`].
    pub fn send(&mut self, now: Instant, envelope: Envelope) -> Result<(), UsageError> {
        if self.phase != Phase::Ready {
            return Err(UsageError::WrongState("send() needs a ready session"));
        }
        if envelope.recipients.is_empty() {
            return Err(UsageError::InvalidArgument(
                "a message needs at least one recipient",
            ));
        }
        self.last_activity = now;
        let caps = &self.capabilities;
        let n = envelope.recipients.len();
        let mut params = envelope.params.clone();
        let needs_utf8 = params.smtputf8
            || envelope.from.mailbox().is_some_and(|m| m.needs_smtputf8())
            || envelope.recipients.iter().any(|(r, _)| r.needs_smtputf8());
        let refuse = if needs_utf8 && !caps.smtputf8 {
            Some(Reply::with_status(
                553,
                (5, 6, 7),
                "Server does not support SMTPUTF8; cannot send non-ASCII addresses",
            ))
        } else if params.body == Some(BodyType::BinaryMime) && !(caps.binarymime && caps.chunking) {
            Some(Reply::with_status(
                554,
                (5, 6, 3),
                "Server does not support BINARYMIME; conversion not supported",
            ))
        } else if params.requiretls && !(self.tls && caps.requiretls) {
            Some(Reply::with_status(
                530,
                (5, 7, 10),
                "REQUIRETLS: next hop does not support it over TLS",
            ))
        } else if let (Some(size), Some(max)) = (params.size, caps.size.filter(|m| *m > 0)) {
            (size > max).then(|| {
                Reply::with_status(
                    552,
                    (5, 3, 4),
                    format!("Message size {size} exceeds the server's limit {max}"),
                )
            })
        } else {
            None
        };
        if let Some(reply) = refuse {
            let recipients = envelope
                .recipients
                .into_iter()
                .map(|(to, _)| RecipientOutcome {
                    to,
                    status: DeliveryStatus::from_reply(reply.clone()),
                })
                .collect();
            self.events
                .push_back(ClientEvent::Delivered(MessageOutcome { recipients }));
            return Ok(());
        }
        // Drop parameters the server did not offer.
        params.smtputf8 = needs_utf8;
        if caps.size.is_none() {
            params.size = None;
        }
        if params.body == Some(BodyType::EightBitMime) && !caps.eight_bit_mime {
            params.body = None;
        }
        if !caps.dsn {
            params.ret = None;
            params.envid = None;
        }
        if !self.authenticated {
            params.auth = None;
        }
        if !caps.mt_priority {
            params.mt_priority = None;
        }
        if !caps.future_release {
            params.hold = None;
        }
        if !caps.deliver_by {
            params.by = None;
        }
        if !caps.no_soliciting {
            params.no_soliciting = None;
        }
        if !caps.mtrk {
            params.mtrk = None;
        }
        let chunked = caps.chunking
            && (self.config.use_chunking || params.body == Some(BodyType::BinaryMime));
        let pipelining = caps.pipelining && self.config.use_pipelining;
        Command::Mail {
            from: envelope.from.clone(),
            params: Box::new(params),
        }
        .write_to(&mut self.output);
        self.expect.push_back(Expect::Mail);
        let mut job = Job {
            envelope,
            mail: None,
            rcpt: vec![None; n],
            failure: None,
            finals: Vec::new(),
            chunked,
            data_pipelined: false,
            stuffer: DotStuffer::new(),
            finals_expected: 0,
        };
        if pipelining {
            for i in 0..n {
                self.write_rcpt(&job, i);
            }
            if !chunked {
                Command::Data.write_to(&mut self.output);
                self.expect.push_back(Expect::Data);
                job.data_pipelined = true;
            }
        }
        self.job = Some(job);
        self.phase = Phase::Transaction;
        Ok(())
    }

    fn write_rcpt(&mut self, job: &Job, i: usize) {
        let (to, params) = &job.envelope.recipients[i];
        let mut params = params.clone();
        if !self.capabilities.dsn {
            params.notify = None;
            params.orcpt = None;
        }
        if !self.capabilities.rrvs {
            params.rrvs = None;
        }
        Command::Rcpt {
            to: to.clone(),
            params,
        }
        .write_to(&mut self.output);
        self.expect.push_back(Expect::Rcpt(i));
    }

    /// Sends a piece of the body (after [`ClientEvent::SendBody`]). With
    /// DATA the bytes are dot-stuffed and bare line endings become CRLF; with
    /// BDAT they go as they are.
    pub fn body_chunk(&mut self, data: &[u8]) -> Result<(), UsageError> {
        if self.phase != Phase::Body {
            return Err(UsageError::WrongState("body_chunk() outside the body"));
        }
        let Some(job) = self.job.as_mut() else {
            return Err(UsageError::WrongState("no message"));
        };
        if data.is_empty() {
            return Ok(());
        }
        if job.chunked {
            Command::Bdat {
                size: data.len() as u64,
                last: false,
            }
            .write_to(&mut self.output);
            self.output.extend_from_slice(data);
            self.expect.push_back(Expect::Bdat);
        } else {
            job.stuffer.encode(data, &mut self.output);
        }
        Ok(())
    }

    /// Ends the body.
    pub fn body_end(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.phase != Phase::Body {
            return Err(UsageError::WrongState("body_end() outside the body"));
        }
        let Some(job) = self.job.as_mut() else {
            return Err(UsageError::WrongState("no message"));
        };
        self.last_activity = now;
        if job.chunked {
            Command::Bdat {
                size: 0,
                last: true,
            }
            .write_to(&mut self.output);
        } else {
            job.stuffer.finish(&mut self.output);
        }
        let finals = match self.config.protocol {
            Protocol::Smtp => 1,
            Protocol::Lmtp => job.accepted(),
        };
        job.finals_expected = finals;
        for _ in 0..finals {
            self.expect.push_back(Expect::DataEnd);
        }
        self.phase = Phase::Transaction;
        Ok(())
    }

    /// Sends QUIT (when no message is in flight).
    pub fn quit(&mut self, now: Instant) -> Result<(), UsageError> {
        if !matches!(self.phase, Phase::Ready | Phase::Setup) {
            return Err(UsageError::WrongState(
                "quit() while a message is in flight",
            ));
        }
        self.last_activity = now;
        Command::Quit.write_to(&mut self.output);
        self.expect.push_back(Expect::Quit);
        self.phase = Phase::Ready;
        Ok(())
    }

    // ----- replies -----

    fn on_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            self.fail(ClientError::UnexpectedReply(reply));
            return;
        };
        if reply.code() == 421 && expect != Expect::Quit {
            self.fail(ClientError::ServerClosing(reply));
            return;
        }
        match expect {
            Expect::Greeting => {
                if reply.code() == 220 {
                    self.greeting = Some(reply);
                    self.send_hello();
                } else {
                    self.fail(ClientError::GreetingRefused(reply));
                }
            }
            Expect::Ehlo => {
                if reply.is_positive() {
                    self.capabilities = Capabilities::from_ehlo_lines(reply.lines());
                    self.after_hello();
                } else if reply.is_permanent() && self.config.protocol == Protocol::Smtp {
                    // RFC 5321 §3.2: fall back to HELO.
                    Command::Helo {
                        domain: self.config.hello_name.clone(),
                    }
                    .write_to(&mut self.output);
                    self.expect.push_back(Expect::Helo);
                } else {
                    self.fail(ClientError::HelloRefused(reply));
                }
            }
            Expect::Helo => {
                if reply.is_positive() {
                    self.capabilities = Capabilities::default();
                    self.after_hello();
                } else {
                    self.fail(ClientError::HelloRefused(reply));
                }
            }
            Expect::StartTls => {
                if reply.code() == 220 {
                    self.phase = Phase::AwaitTls;
                    self.events.push_back(ClientEvent::StartTls);
                } else if self.config.tls == TlsPolicy::Required {
                    self.fail(ClientError::StartTlsRefused(reply));
                } else {
                    self.after_tls();
                }
            }
            Expect::Auth => self.on_auth_reply(reply),
            Expect::Mail => self.on_mail(reply),
            Expect::Rcpt(i) => self.on_rcpt(i, reply),
            Expect::Data => self.on_data(reply),
            Expect::Bdat => {
                if let Some(job) = self.job.as_mut()
                    && !reply.is_positive()
                    && job.failure.is_none()
                {
                    job.failure = Some(reply);
                }
            }
            Expect::DataEnd => {
                if let Some(job) = self.job.as_mut() {
                    job.finals.push(reply);
                    // After a refused BDAT chunk the server has no
                    // transaction left and answers the last chunk once,
                    // even in LMTP: that one reply ends the message.
                    let failed = job.failure.is_some();
                    if failed || job.finals.len() >= job.finals_expected {
                        let unanswered = job.finals_expected.saturating_sub(job.finals.len());
                        for _ in 0..unanswered {
                            if self.expect.front() == Some(&Expect::DataEnd) {
                                self.expect.pop_front();
                            }
                        }
                        self.finish_job(failed);
                    }
                }
            }
            Expect::Rset => {}
            Expect::Quit => {
                self.phase = Phase::Closed;
                self.events.push_back(ClientEvent::Closed);
            }
        }
    }

    fn send_hello(&mut self) {
        let domain = self.config.hello_name.clone();
        let cmd = match self.config.protocol {
            Protocol::Smtp => Command::Ehlo { domain },
            Protocol::Lmtp => Command::Lhlo { domain },
        };
        cmd.write_to(&mut self.output);
        self.expect.push_back(Expect::Ehlo);
    }

    fn after_hello(&mut self) {
        if !self.tls && self.config.tls != TlsPolicy::Disabled {
            if self.capabilities.starttls {
                Command::StartTls.write_to(&mut self.output);
                self.expect.push_back(Expect::StartTls);
                return;
            }
            if self.config.tls == TlsPolicy::Required {
                self.fail(ClientError::TlsUnavailable);
                return;
            }
        }
        self.after_tls();
    }

    fn after_tls(&mut self) {
        if self.config.auth.is_some() && !self.authenticated {
            self.start_auth();
            return;
        }
        self.become_ready();
    }

    fn become_ready(&mut self) {
        self.phase = Phase::Ready;
        self.events.push_back(ClientEvent::Ready);
    }

    fn start_auth(&mut self) {
        let Some(auth) = self.config.auth.clone() else {
            return;
        };
        let caps = &self.capabilities;
        let offered = |m: Mechanism| caps.offers_auth(m);
        let clear_ok = self.tls || auth.allow_plaintext_without_tls;
        let mechanism = match auth.mechanism {
            Some(m) => offered(m).then_some(m),
            None => {
                let order: &[Mechanism] = match auth.credentials.secret {
                    ClientSecret::Password(_) => {
                        &[Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login]
                    }
                    ClientSecret::BearerToken(_) => &[Mechanism::OAuthBearer, Mechanism::XOAuth2],
                };
                order.iter().copied().find(|m| {
                    offered(*m)
                        && (*m != Mechanism::ScramSha256 || auth.scram_nonce.is_some())
                        && (clear_ok || !m.sends_password_in_clear())
                })
            }
        };
        let Some(mechanism) = mechanism else {
            self.fail(ClientError::AuthUnavailable(
                "the server offers no mechanism that fits",
            ));
            return;
        };
        if mechanism.sends_password_in_clear() && !clear_ok {
            self.fail(ClientError::AuthUnavailable(
                "refusing to send a password in the clear without TLS",
            ));
            return;
        }
        let mut exchange = match ClientExchange::new(mechanism, auth.credentials, auth.scram_nonce)
        {
            Ok(e) => e,
            Err(e) => {
                self.fail(ClientError::Sasl(e.to_string()));
                return;
            }
        };
        let initial = exchange.initial_response().map(|ir| {
            if ir.is_empty() {
                "=".to_owned()
            } else {
                postel_sasl::wire::encode(&ir)
            }
        });
        Command::Auth {
            mechanism: mechanism.name().to_owned(),
            initial_response: initial,
        }
        .write_to(&mut self.output);
        self.expect.push_back(Expect::Auth);
        self.sasl = Some((mechanism, exchange));
        self.sasl_final_seen = false;
    }

    fn on_auth_reply(&mut self, reply: Reply) {
        let Some((mechanism, exchange)) = self.sasl.as_mut() else {
            self.fail(ClientError::UnexpectedReply(reply));
            return;
        };
        match reply.code() {
            334 => {
                let text = reply.lines().first().map(String::as_str).unwrap_or("");
                let Ok(challenge) = postel_sasl::wire::decode(text.as_bytes()) else {
                    self.fail(ClientError::Sasl(
                        "server challenge is not base64".to_owned(),
                    ));
                    return;
                };
                let is_scram_final =
                    *mechanism == Mechanism::ScramSha256 && challenge.starts_with(b"v=");
                let response = if is_scram_final {
                    // SCRAM's server-final message comes as a challenge
                    // (RFC 4954 §4): check it, answer with an empty line.
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
                        self.expect.push_back(Expect::Auth);
                    }
                    Err(e) => {
                        // Cancel the exchange, then fail.
                        self.output.extend_from_slice(b"*\r\n");
                        self.expect.push_back(Expect::Auth);
                        self.sasl = None;
                        self.fail(ClientError::Sasl(e.to_string()));
                    }
                }
            }
            235 => {
                let check = if self.sasl_final_seen {
                    Ok(())
                } else {
                    exchange.finish(None)
                };
                self.sasl = None;
                match check {
                    Ok(()) => {
                        self.authenticated = true;
                        self.become_ready();
                    }
                    Err(e) => self.fail(ClientError::Sasl(e.to_string())),
                }
            }
            _ => {
                self.sasl = None;
                self.fail(ClientError::AuthFailed(reply));
            }
        }
    }

    fn on_mail(&mut self, reply: Reply) {
        let pipelining = self.capabilities.pipelining && self.config.use_pipelining;
        let Some(job) = self.job.as_mut() else { return };
        let ok = reply.is_positive();
        job.mail = Some(reply);
        if pipelining {
            return;
        }
        if ok {
            let job = self.job.take();
            if let Some(job) = job {
                self.write_rcpt(&job, 0);
                self.job = Some(job);
            }
        } else {
            self.finish_job(false);
        }
    }

    fn on_rcpt(&mut self, i: usize, reply: Reply) {
        let pipelining = self.capabilities.pipelining && self.config.use_pipelining;
        let Some(job) = self.job.as_mut() else { return };
        job.rcpt[i] = Some(reply);
        let n = job.rcpt.len();
        if i + 1 < n {
            if !pipelining && let Some(job) = self.job.take() {
                self.write_rcpt(&job, i + 1);
                self.job = Some(job);
            }
            return;
        }
        if job.data_pipelined {
            return; // the DATA reply decides
        }
        let mail_ok = job.mail.as_ref().is_some_and(Reply::is_positive);
        if job.accepted() == 0 {
            self.finish_job(mail_ok);
        } else if job.chunked {
            self.phase = Phase::Body;
            self.events.push_back(ClientEvent::SendBody);
        } else {
            Command::Data.write_to(&mut self.output);
            self.expect.push_back(Expect::Data);
        }
    }

    fn on_data(&mut self, reply: Reply) {
        let Some(job) = self.job.as_mut() else { return };
        if reply.code() == 354 {
            if job.accepted() > 0 {
                self.phase = Phase::Body;
                self.events.push_back(ClientEvent::SendBody);
            } else {
                // RFC 2920 §3.1: DATA was accepted though no recipient was;
                // send an empty message and discard its reply.
                self.output.extend_from_slice(b".\r\n");
                self.expect.push_back(Expect::Rset);
                self.finish_job(false);
            }
        } else {
            if job.accepted() > 0 {
                job.failure = Some(reply);
            }
            let mail_ok = job.mail.as_ref().is_some_and(Reply::is_positive);
            self.finish_job(mail_ok);
        }
    }

    /// Reports the job's outcome; sends RSET first when the server may still
    /// hold a transaction.
    fn finish_job(&mut self, rset: bool) {
        let Some(job) = self.job.take() else { return };
        if rset {
            Command::Rset.write_to(&mut self.output);
            self.expect.push_back(Expect::Rset);
        }
        let outcome = outcome_of(job, self.config.protocol);
        self.phase = Phase::Ready;
        self.events.push_back(ClientEvent::Delivered(outcome));
    }

    fn fail(&mut self, error: ClientError) {
        if let Some(job) = self.job.take() {
            let reply = match &error {
                ClientError::ServerClosing(r) => r.clone(),
                other => Reply::with_status(451, (4, 4, 0), format!("Session failed: {other}")),
            };
            let recipients = job
                .envelope
                .recipients
                .into_iter()
                .map(|(to, _)| RecipientOutcome {
                    to,
                    status: DeliveryStatus::TransientFailure(reply.clone()),
                })
                .collect();
            self.events
                .push_back(ClientEvent::Delivered(MessageOutcome { recipients }));
        }
        if self.phase != Phase::Closed {
            self.events.push_back(ClientEvent::Failed(error));
        }
        self.phase = Phase::Closed;
        self.expect.clear();
    }
}

fn outcome_of(job: Job, protocol: Protocol) -> MessageOutcome {
    let mail_ok = job.mail.as_ref().is_some_and(Reply::is_positive);
    let mut finals = job.finals.into_iter();
    let single_final = match protocol {
        Protocol::Smtp => finals.next(),
        Protocol::Lmtp => None,
    };
    let recipients = job
        .envelope
        .recipients
        .into_iter()
        .zip(job.rcpt)
        .map(|((to, _), rcpt)| {
            let reply = if !mail_ok {
                job.mail
                    .clone()
                    .unwrap_or_else(|| Reply::with_status(451, (4, 4, 0), "No reply to MAIL"))
            } else {
                match rcpt {
                    Some(r) if r.is_positive() => match &job.failure {
                        Some(f) => f.clone(),
                        None => match protocol {
                            Protocol::Smtp => single_final.clone(),
                            Protocol::Lmtp => finals.next(),
                        }
                        .unwrap_or_else(|| Reply::with_status(451, (4, 4, 0), "No final reply")),
                    },
                    Some(r) => r,
                    None => Reply::with_status(451, (4, 4, 0), "No reply to RCPT"),
                }
            };
            RecipientOutcome {
                to,
                status: DeliveryStatus::from_reply(reply),
            }
        })
        .collect();
    MessageOutcome { recipients }
}
