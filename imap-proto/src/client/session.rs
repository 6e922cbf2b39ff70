//! The Sans-IO IMAP client session.

use std::collections::VecDeque;

use bytes::Bytes;
use postel_sasl::{ClientCredentials, ClientExchange, Mechanism};

use super::capabilities::Capabilities;
use super::error::{ProtocolError, UsageError, excerpt};
use super::reader::{ResponseEvent, ResponseLimits, ResponseReader, StreamedLiteral};
use crate::command::{Command, CommandBody, Secret};
use crate::literal::NonSyncLiterals;
use crate::response::{Code, Continuation, Data, FetchData, Response, StatusKind, StatusResponse};
use crate::tag::Tag;
use crate::writer::WriteOptions;

/// What happens to the untagged data a command brings back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataMode {
    /// Held and handed back with the command's completion
    /// ([`ClientEvent::Done`]), up to [`ClientConfig::max_collected`]
    /// bytes for the whole session; beyond that it flows live as
    /// [`ClientEvent::Data`] and the completion says `spilled`.
    #[default]
    Collect,
    /// Emitted live as [`ClientEvent::Data`] as it arrives; the completion
    /// carries none. For FETCHes of many messages.
    Stream,
}

/// How a client session behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Bounds on what the server sends.
    pub limits: ResponseLimits,
    /// The connection is TLS from the start (port 993).
    pub tls: bool,
    /// Send a password (LOGIN, or a SASL mechanism that exposes the secret)
    /// on a connection that is not TLS (default false).
    pub allow_plaintext_auth: bool,
    /// Send commands without waiting for the previous ones to complete
    /// (default true). Commands that change the session's footing (LOGIN,
    /// AUTHENTICATE, STARTTLS, IDLE) always wait, and nothing is sent
    /// after them until they complete.
    pub pipelining: bool,
    /// Ask for CAPABILITY when the greeting, a login or STARTTLS leaves the
    /// capabilities unknown (default true). These internal commands use
    /// tags from the same sequence and report no completion.
    pub auto_capability: bool,
    /// The default for [`ClientSession::enqueue`] (default `Collect`).
    pub data_mode: DataMode,
    /// Most bytes of untagged responses (as received) held for
    /// completions at any time (default 16 MiB).
    pub max_collected: usize,
    /// Use non-synchronizing literals when the server offers LITERAL+ or
    /// LITERAL- (or IMAP4rev2) (default true).
    pub non_sync_literals: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            limits: ResponseLimits::default(),
            tls: false,
            allow_plaintext_auth: false,
            pipelining: true,
            auto_capability: true,
            data_mode: DataMode::Collect,
            max_collected: 16 * 1024 * 1024,
            non_sync_literals: true,
        }
    }
}

/// The IMAP connection state (RFC 9051 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Waiting for the greeting.
    Greeting,
    /// Not authenticated.
    NotAuthenticated,
    /// Authenticated, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// LOGOUT or BYE: the connection is ending.
    Logout,
}

/// An event from [`ClientSession::next_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server's greeting (`* OK` or `* PREAUTH`).
    Greeting(StatusResponse),
    /// The capabilities are now known (greeting code, CAPABILITY data,
    /// `[CAPABILITY ...]` in a tagged OK).
    Capabilities(Capabilities),
    /// A command completed.
    Done {
        /// Its tag.
        tag: Tag,
        /// The tagged response.
        status: StatusResponse,
        /// Its untagged data, in order (`DataMode::Collect`).
        data: Vec<Data>,
        /// Untagged OK/NO/BAD responses that belong to it (the
        /// `[UIDVALIDITY]`, `[UIDNEXT]`, `[PERMANENTFLAGS]` ... of SELECT).
        untagged: Vec<StatusResponse>,
        /// The collection limit was reached: data after that point came as
        /// [`ClientEvent::Data`].
        spilled: bool,
    },
    /// Untagged data of a command, live (`DataMode::Stream`, or spilled).
    Data {
        /// The command's tag.
        tag: Tag,
        /// The data.
        data: Data,
    },
    /// Untagged data that no command in progress asked for: mailbox
    /// updates (EXISTS, EXPUNGE, FETCH FLAGS from another session), or
    /// anything while idling.
    Unsolicited(Data),
    /// An untagged OK/NO/BAD: with the tag of the command it belongs to
    /// (in `DataMode::Stream`), or `None` (`[ALERT]`, notices).
    Status {
        /// The command it belongs to, if any.
        tag: Option<Tag>,
        /// The response.
        status: StatusResponse,
    },
    /// A FETCH body literal starts streaming; its bytes follow as
    /// `FetchLiteralData`, then `FetchLiteralEnd`, then (later) the FETCH
    /// response itself with that item's data empty.
    FetchLiteralStart {
        /// The command the FETCH response belongs to, if any.
        tag: Option<Tag>,
        /// Message, item and size.
        literal: StreamedLiteral,
    },
    /// The next piece of the streaming literal.
    FetchLiteralData(Bytes),
    /// The streaming literal is complete.
    FetchLiteralEnd,
    /// The server accepted IDLE (`+`): updates follow as `Unsolicited`
    /// until [`ClientSession::idle_done`].
    IdleStarted {
        /// The IDLE command's tag.
        tag: Tag,
    },
    /// STARTTLS succeeded: write all output, run the TLS handshake on the
    /// connection, then call [`ClientSession::tls_established`]. Input
    /// received until then is discarded.
    StartTls,
    /// A queued command was dropped before being sent.
    NotSent {
        /// Its tag.
        tag: Tag,
        /// Why.
        reason: UsageError,
    },
    /// `* BYE`: the server is closing the connection.
    Bye(StatusResponse),
    /// The server broke the protocol; the session skipped the offending
    /// response and goes on.
    Error(ProtocolError),
    /// The server broke the protocol in a way the session cannot recover
    /// from; `Closed` follows.
    Failed(ProtocolError),
    /// The session is over (LOGOUT completed, a BYE greeting, or a failure):
    /// close the connection.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Capability,
    Login,
    Authenticate,
    StartTls,
    Idle,
    Logout,
    Select,
    Close,
    Enable,
    List,
    Lsub,
    Status,
    Search,
    Sort,
    Thread,
    Fetch { uid: bool },
    Store { uid: bool },
    Expunge,
    Namespace,
    Id,
    Quota,
    QuotaRoot,
    Other,
}

impl Kind {
    fn of(body: &CommandBody) -> Self {
        use CommandBody as C;
        match body {
            C::Capability => Self::Capability,
            C::Login { .. } => Self::Login,
            C::Authenticate { .. } => Self::Authenticate,
            C::StartTls => Self::StartTls,
            C::Idle => Self::Idle,
            C::Logout => Self::Logout,
            C::Select { .. } | C::Examine { .. } => Self::Select,
            C::Close | C::Unselect => Self::Close,
            C::Enable { .. } => Self::Enable,
            C::List { .. } => Self::List,
            C::Lsub { .. } => Self::Lsub,
            C::Status { .. } => Self::Status,
            C::Search { .. } => Self::Search,
            C::Sort { .. } => Self::Sort,
            C::Thread { .. } => Self::Thread,
            C::Fetch { uid, .. } => Self::Fetch { uid: *uid },
            C::Store { uid, .. } => Self::Store { uid: *uid },
            C::Expunge | C::UidExpunge { .. } | C::Move { .. } => Self::Expunge,
            C::Namespace => Self::Namespace,
            C::Id { .. } => Self::Id,
            C::GetQuota { .. } | C::SetQuota { .. } => Self::Quota,
            C::GetQuotaRoot { .. } => Self::QuotaRoot,
            _ => Self::Other,
        }
    }

    /// Waits for everything before it, and holds everything after it.
    fn exclusive(self) -> bool {
        matches!(
            self,
            Self::Login | Self::Authenticate | Self::StartTls | Self::Idle
        )
    }

    /// Whether untagged `data` answers a command of this kind.
    fn expects(self, data: &Data) -> bool {
        use Data as D;
        match (self, data) {
            (Self::Capability | Self::Login | Self::Authenticate, D::Capability(_))
            | (Self::Enable, D::Enabled(_))
            | (
                Self::Select,
                D::Flags(_) | D::Exists(_) | D::Recent(_) | D::Vanished { .. } | D::List(_),
            )
            | (Self::List, D::List(_) | D::Status { .. })
            | (Self::Lsub, D::Lsub(_))
            | (Self::Status, D::Status { .. })
            | (Self::Search, D::Search { .. } | D::ESearch { .. })
            | (Self::Sort, D::Sort(_) | D::ESearch { .. })
            | (Self::Thread, D::Thread(_))
            | (Self::Fetch { .. }, D::Vanished { .. })
            | (Self::Expunge, D::Expunge(_) | D::Vanished { .. })
            | (Self::Namespace, D::Namespace { .. })
            | (Self::Id, D::Id(_))
            | (Self::Quota, D::Quota { .. })
            | (Self::QuotaRoot, D::QuotaRoot { .. } | D::Quota { .. }) => true,
            (_, D::Fetch { items, .. }) => {
                self.expects_fetch(items.iter().any(|i| matches!(i, FetchData::Uid(_))))
            }
            _ => false,
        }
    }

    /// Whether a FETCH response (with or without a UID item) answers a
    /// command of this kind. UID FETCH and UID STORE responses always carry
    /// the UID (RFC 9051 §6.4.9), so one without it is unsolicited.
    fn expects_fetch(self, has_uid: bool) -> bool {
        match self {
            Self::Select => true,
            Self::Fetch { uid } | Self::Store { uid } => has_uid || !uid,
            _ => false,
        }
    }
}

/// Codes of the untagged OK responses that SELECT and EXAMINE bring.
fn is_select_code(code: &Code) -> bool {
    matches!(
        code,
        Code::UidValidity(_)
            | Code::UidNext(_)
            | Code::PermanentFlags(_)
            | Code::HighestModSeq(_)
            | Code::NoModSeq
            | Code::Unseen(_)
            | Code::Closed
            | Code::ReadOnly
            | Code::ReadWrite
    )
}

#[derive(Debug)]
enum QueuedBody {
    Command(CommandBody),
    Authenticate(Box<ClientExchange>),
}

#[derive(Debug)]
struct Queued {
    tag: Tag,
    body: QueuedBody,
    mode: DataMode,
    internal: bool,
    /// IDLE: `idle_done` was called before it was sent.
    done_requested: bool,
}

impl Queued {
    fn kind(&self) -> Kind {
        match &self.body {
            QueuedBody::Command(b) => Kind::of(b),
            QueuedBody::Authenticate(_) => Kind::Authenticate,
        }
    }
}

#[derive(Debug)]
struct SaslState {
    exchange: ClientExchange,
    final_seen: bool,
    cancelled: bool,
}

#[derive(Debug)]
enum Extra {
    None,
    Sasl(Box<SaslState>),
    Idle {
        started: bool,
        done_sent: bool,
        done_requested: bool,
    },
}

/// A command sent (at least in part) and waiting for its completion.
#[derive(Debug)]
struct InFlight {
    tag: Tag,
    kind: Kind,
    mode: DataMode,
    internal: bool,
    data: Vec<Data>,
    untagged: Vec<StatusResponse>,
    collected: usize,
    spilled: bool,
    caps_epoch: u64,
    extra: Extra,
}

/// The command being written, stopped at a synchronizing literal.
#[derive(Debug)]
struct Writing {
    tag: Tag,
    bytes: Vec<u8>,
    pos: usize,
    sync: VecDeque<usize>,
}

/// Untagged data or status held for a completion.
enum Collected {
    Data(Data),
    Status(StatusResponse),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    Ready,
    AwaitTls,
    Closed,
}

/// A Sans-IO IMAP client session for one connection.
///
/// Feed the server's bytes to [`enqueue_input`](Self::enqueue_input),
/// handle [`next_event`](Self::next_event) until it returns `None`, then
/// write what [`poll_transmit`](Self::poll_transmit) returns. Commands
/// ([`enqueue`](Self::enqueue), [`login`](Self::login),
/// [`authenticate`](Self::authenticate), [`idle`](Self::idle) ...) may be
/// given at any time, before the greeting too: each gets its tag at once
/// and is sent as soon as the rules allow:
///
/// - nothing before the greeting;
/// - commands are pipelined (unless [`ClientConfig::pipelining`] is off),
///   except LOGIN, AUTHENTICATE, STARTTLS and IDLE, which wait for every
///   command before them and hold every command after them;
/// - a command is encoded when it is sent, with non-synchronizing literals
///   when the server offers LITERAL+ (any size) or LITERAL- / IMAP4rev2
///   (up to 4096 bytes); at each synchronizing literal the session stops
///   writing until the server's `+`, and nothing else is written meanwhile.
///   If the server answers the command instead, the rest is not sent.
///
/// Untagged data is routed to the oldest command in progress that expects
/// that kind of data (FETCH to FETCH, STORE and SELECT; EXISTS to SELECT;
/// EXPUNGE to EXPUNGE and MOVE; ESEARCH by its TAG correlator ...). It
/// comes back with the command's [`ClientEvent::Done`] (`DataMode::Collect`)
/// or live as [`ClientEvent::Data`] (`DataMode::Stream`). Data no command
/// expects is [`ClientEvent::Unsolicited`], live. IMAP cannot tell a
/// solicited FETCH from an unsolicited one for the same message during a
/// FETCH without UID; such responses go to the command.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    reader: ResponseReader,
    phase: Phase,
    state: ConnectionState,
    caps: Option<Capabilities>,
    caps_epoch: u64,
    tls: bool,
    next_tag: u64,
    queue: VecDeque<Queued>,
    in_flight: Vec<InFlight>,
    writing: Option<Writing>,
    output: Vec<u8>,
    events: VecDeque<ClientEvent>,
    collected_total: usize,
    logout_given: bool,
    bye: bool,
}

impl ClientSession {
    /// A session on a fresh connection, waiting for the greeting.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            reader: ResponseReader::new(config.limits),
            tls: config.tls,
            config,
            phase: Phase::Greeting,
            state: ConnectionState::Greeting,
            caps: None,
            caps_epoch: 0,
            next_tag: 1,
            queue: VecDeque::new(),
            in_flight: Vec::new(),
            writing: None,
            output: Vec::new(),
            events: VecDeque::new(),
            collected_total: 0,
            logout_given: false,
            bye: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The capabilities, when known.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// The connection state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// Whether the connection is TLS (from the start, or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether the session reads input now (not while a STARTTLS handshake
    /// is pending, not after close).
    pub fn wants_input(&self) -> bool {
        matches!(self.phase, Phase::Greeting | Phase::Ready)
    }

    /// Whether an IDLE is in progress (sent, not completed).
    pub fn is_idling(&self) -> bool {
        self.in_flight.iter().any(|c| c.kind == Kind::Idle)
    }

    /// Commands given and not completed (queued or in progress).
    pub fn pending(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// Bytes of input held by the response reader.
    pub fn buffered(&self) -> usize {
        self.reader.buffered()
    }

    /// Adds bytes received from the server. Bytes that arrive while a
    /// STARTTLS handshake is pending, or after close, are discarded.
    pub fn enqueue_input(&mut self, bytes: &[u8]) {
        if self.wants_input() {
            self.reader.enqueue_input(bytes);
        }
    }

    /// Takes the bytes to write to the server, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.output.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.output))
        }
    }

    /// The next event, or `None` when the session needs input.
    pub fn next_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if !self.wants_input() {
                return None;
            }
            let ev = self.reader.next_event()?;
            self.on_reader_event(ev);
        }
    }

    // ----- commands -----

    /// Queues a command with the configured [`DataMode`]; returns its tag.
    ///
    /// AUTHENTICATE goes through [`authenticate`](Self::authenticate);
    /// COMPRESS is not supported. LOGIN is checked as in
    /// [`login`](Self::login).
    pub fn enqueue(&mut self, body: CommandBody) -> Result<Tag, UsageError> {
        self.enqueue_with(body, self.config.data_mode)
    }

    /// Queues a command with an explicit [`DataMode`].
    pub fn enqueue_with(&mut self, body: CommandBody, mode: DataMode) -> Result<Tag, UsageError> {
        self.check_open()?;
        match &body {
            CommandBody::Authenticate { .. } => {
                return Err(UsageError::UseDedicatedMethod(
                    "AUTHENTICATE (ClientSession::authenticate)",
                ));
            }
            CommandBody::Compress { .. } => return Err(UsageError::Unsupported("COMPRESS")),
            CommandBody::Login { .. } => self.check_auth(None)?,
            CommandBody::Idle if self.caps.as_ref().is_some_and(|c| !c.idle()) => {
                return Err(UsageError::MissingCapability("IDLE"));
            }
            CommandBody::StartTls => {
                if self.tls || self.starttls_pending() {
                    return Err(UsageError::AlreadyTls);
                }
                if self.caps.as_ref().is_some_and(|c| !c.starttls()) {
                    return Err(UsageError::MissingCapability("STARTTLS"));
                }
            }
            CommandBody::Logout => self.logout_given = true,
            _ => {}
        }
        Ok(self.push(QueuedBody::Command(body), mode, false))
    }

    /// `LOGIN user password`. Refused (here, or with
    /// [`ClientEvent::NotSent`] when it comes to be sent and the facts were
    /// not known before) if the server advertises LOGINDISABLED, or if the
    /// connection is not TLS and [`ClientConfig::allow_plaintext_auth`] is
    /// off.
    pub fn login(&mut self, user: &str, password: &str) -> Result<Tag, UsageError> {
        self.enqueue(CommandBody::Login {
            username: user.as_bytes().to_vec(),
            password: Secret::new(password.as_bytes()),
        })
    }

    /// `AUTHENTICATE` with a SASL mechanism, driven through the server's
    /// challenges; with an initial response when the server offers SASL-IR.
    /// `scram_nonce` is the SCRAM client nonce (randomness comes from the
    /// caller). A mechanism that exposes the secret is refused without TLS
    /// unless [`ClientConfig::allow_plaintext_auth`] is set.
    pub fn authenticate(
        &mut self,
        mechanism: Mechanism,
        credentials: ClientCredentials,
        scram_nonce: Option<String>,
    ) -> Result<Tag, UsageError> {
        let exchange = ClientExchange::new(mechanism, credentials, scram_nonce)?;
        self.authenticate_with(exchange)
    }

    /// As [`authenticate`](Self::authenticate), with an exchange set up by
    /// the caller (e.g. with other [`postel_sasl::ClientOptions`]).
    pub fn authenticate_with(&mut self, exchange: ClientExchange) -> Result<Tag, UsageError> {
        self.check_open()?;
        self.check_auth(Some(exchange.mechanism()))?;
        Ok(self.push(
            QueuedBody::Authenticate(Box::new(exchange)),
            DataMode::Collect,
            false,
        ))
    }

    /// `STARTTLS`. On success the session emits [`ClientEvent::StartTls`]
    /// and waits for [`tls_established`](Self::tls_established).
    pub fn starttls(&mut self) -> Result<Tag, UsageError> {
        self.enqueue(CommandBody::StartTls)
    }

    /// The TLS handshake after [`ClientEvent::StartTls`] is done. The
    /// capabilities are forgotten (and asked for again with
    /// [`ClientConfig::auto_capability`]); queued commands go out.
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        if self.phase != Phase::AwaitTls {
            return Err(UsageError::NoTlsPending);
        }
        self.phase = Phase::Ready;
        self.tls = true;
        self.forget_caps();
        self.reader.clear();
        if self.config.auto_capability {
            self.push_internal_capability();
        }
        self.pump();
        Ok(())
    }

    /// `IDLE` (RFC 2177): [`ClientEvent::IdleStarted`] on the server's
    /// `+`, then updates as [`ClientEvent::Unsolicited`] until
    /// [`idle_done`](Self::idle_done). Commands given meanwhile wait.
    pub fn idle(&mut self) -> Result<Tag, UsageError> {
        self.enqueue(CommandBody::Idle)
    }

    /// Ends the IDLE in progress (`DONE`); its completion follows as
    /// [`ClientEvent::Done`]. Called before the server's `+`, `DONE` goes
    /// out as soon as it comes.
    pub fn idle_done(&mut self) -> Result<(), UsageError> {
        for c in &mut self.in_flight {
            if let Extra::Idle {
                started,
                done_sent,
                done_requested,
            } = &mut c.extra
            {
                if *done_sent || *done_requested {
                    return Err(UsageError::NotIdling);
                }
                if *started {
                    *done_sent = true;
                    self.output.extend_from_slice(b"DONE\r\n");
                } else {
                    *done_requested = true;
                }
                return Ok(());
            }
        }
        for q in &mut self.queue {
            if q.kind() == Kind::Idle && !q.done_requested {
                q.done_requested = true;
                return Ok(());
            }
        }
        Err(UsageError::NotIdling)
    }

    /// `LOGOUT`, after the commands given before it: the server's BYE
    /// comes as [`ClientEvent::Bye`], the completion as
    /// [`ClientEvent::Done`], then [`ClientEvent::Closed`].
    pub fn logout(&mut self) -> Result<Tag, UsageError> {
        self.enqueue(CommandBody::Logout)
    }

    fn check_open(&self) -> Result<(), UsageError> {
        if self.phase == Phase::Closed || self.bye {
            return Err(UsageError::Closed);
        }
        if self.logout_given {
            return Err(UsageError::LogoutPending);
        }
        Ok(())
    }

    /// STARTTLS queued, in progress or waiting for its handshake.
    fn starttls_pending(&self) -> bool {
        self.phase == Phase::AwaitTls
            || self.queue.iter().any(|q| q.kind() == Kind::StartTls)
            || self.in_flight.iter().any(|c| c.kind == Kind::StartTls)
    }

    /// The login policy as far as it can be judged now: a STARTTLS to come
    /// changes both the transport and the capabilities.
    fn check_auth(&self, mechanism: Option<Mechanism>) -> Result<(), UsageError> {
        if self.starttls_pending() {
            return Ok(());
        }
        self.auth_allowed(mechanism)
    }

    /// The login policy: `None` for LOGIN, else the SASL mechanism.
    fn auth_allowed(&self, mechanism: Option<Mechanism>) -> Result<(), UsageError> {
        let exposes = mechanism.is_none_or(Mechanism::sends_password_in_clear);
        if mechanism.is_none() && self.caps.as_ref().is_some_and(Capabilities::login_disabled) {
            return Err(UsageError::LoginDisabled);
        }
        if exposes && !self.tls && !self.config.allow_plaintext_auth {
            return Err(UsageError::PlaintextAuth);
        }
        Ok(())
    }

    fn new_tag(&mut self) -> Tag {
        let tag = Tag::from_valid(format!("A{:04}", self.next_tag));
        self.next_tag = self.next_tag.wrapping_add(1);
        tag
    }

    fn push(&mut self, body: QueuedBody, mode: DataMode, internal: bool) -> Tag {
        let tag = self.new_tag();
        self.queue.push_back(Queued {
            tag: tag.clone(),
            body,
            mode,
            internal,
            done_requested: false,
        });
        self.pump();
        tag
    }

    fn push_internal_capability(&mut self) {
        let tag = self.new_tag();
        self.queue.push_front(Queued {
            tag,
            body: QueuedBody::Command(CommandBody::Capability),
            mode: DataMode::Collect,
            internal: true,
            done_requested: false,
        });
    }

    fn set_caps(&mut self, atoms: &[String]) {
        let caps = Capabilities::new(atoms);
        self.caps = Some(caps.clone());
        self.caps_epoch += 1;
        self.events.push_back(ClientEvent::Capabilities(caps));
    }

    fn forget_caps(&mut self) {
        self.caps = None;
        self.caps_epoch += 1;
    }

    // ----- sending -----

    /// Sends queued commands as far as the rules allow.
    fn pump(&mut self) {
        while self.phase == Phase::Ready && self.writing.is_none() {
            let Some(front) = self.queue.front() else {
                return;
            };
            let kind = front.kind();
            if self.in_flight.iter().any(|c| c.kind.exclusive()) {
                return;
            }
            if !self.in_flight.is_empty() && (kind.exclusive() || !self.config.pipelining) {
                return;
            }
            if let Some(q) = self.queue.pop_front() {
                self.send(q);
            }
        }
    }

    fn send(&mut self, q: Queued) {
        let kind = q.kind();
        let Queued {
            tag,
            body,
            mode,
            internal,
            done_requested,
        } = q;
        let (body, extra) = match body {
            QueuedBody::Command(body) => {
                let extra = if kind == Kind::Idle {
                    Extra::Idle {
                        started: false,
                        done_sent: false,
                        done_requested,
                    }
                } else {
                    Extra::None
                };
                if kind == Kind::Login
                    && let Err(reason) = self.auth_allowed(None)
                {
                    self.events.push_back(ClientEvent::NotSent { tag, reason });
                    return;
                }
                (body, extra)
            }
            QueuedBody::Authenticate(mut exchange) => {
                let mechanism = exchange.mechanism();
                if let Err(reason) = self.auth_allowed(Some(mechanism)) {
                    self.events.push_back(ClientEvent::NotSent { tag, reason });
                    return;
                }
                let sasl_ir = self.caps.as_ref().is_some_and(Capabilities::sasl_ir);
                let initial_response = if sasl_ir && mechanism.has_initial_response() {
                    exchange.initial_response().map(Secret::new)
                } else {
                    None
                };
                let body = CommandBody::Authenticate {
                    mechanism: mechanism.name().to_owned(),
                    initial_response,
                };
                let sasl = SaslState {
                    exchange: *exchange,
                    final_seen: false,
                    cancelled: false,
                };
                (body, Extra::Sasl(Box::new(sasl)))
            }
        };
        let non_sync = match &self.caps {
            Some(c) if self.config.non_sync_literals => c.non_sync_literals(),
            _ => NonSyncLiterals::Refused,
        };
        let encoded = Command::new(tag.clone(), body).encode(WriteOptions { non_sync });
        self.in_flight.push(InFlight {
            tag: tag.clone(),
            kind,
            mode,
            internal,
            data: Vec::new(),
            untagged: Vec::new(),
            collected: 0,
            spilled: false,
            caps_epoch: self.caps_epoch,
            extra,
        });
        let mut w = Writing {
            tag,
            bytes: encoded.bytes,
            pos: 0,
            sync: encoded.sync_points.into(),
        };
        if !self.write_segment(&mut w) {
            self.writing = Some(w);
        }
    }

    /// Writes up to the next synchronizing literal (or the end); true when
    /// the command is written completely.
    fn write_segment(&mut self, w: &mut Writing) -> bool {
        let end = w
            .sync
            .pop_front()
            .unwrap_or(w.bytes.len())
            .clamp(w.pos, w.bytes.len());
        self.output.extend_from_slice(&w.bytes[w.pos..end]);
        w.pos = end;
        w.pos == w.bytes.len()
    }

    // ----- receiving -----

    fn on_reader_event(&mut self, ev: ResponseEvent) {
        if self.phase == Phase::Greeting {
            self.on_greeting(ev);
            return;
        }
        match ev {
            ResponseEvent::Response(r) => {
                let len = self.reader.last_response_len();
                match r {
                    Response::Status(s) if s.tag.is_some() => self.on_tagged(s),
                    Response::Status(s) => self.on_untagged_status(s, len),
                    Response::Continuation(c) => self.on_continuation(&c),
                    Response::Data(d) => self.on_data(d, len),
                }
            }
            ResponseEvent::FetchLiteralStart(literal) => {
                let tag = self
                    .in_flight
                    .iter()
                    .find(|c| c.kind.expects_fetch(true))
                    .map(|c| c.tag.clone());
                self.events
                    .push_back(ClientEvent::FetchLiteralStart { tag, literal });
            }
            ResponseEvent::FetchLiteralData(b) => {
                self.events.push_back(ClientEvent::FetchLiteralData(b));
            }
            ResponseEvent::FetchLiteralEnd => self.events.push_back(ClientEvent::FetchLiteralEnd),
            ResponseEvent::Invalid(inv) => {
                // A lost completion would leave its command waiting forever.
                let ours =
                    Tag::peek(&inv.raw).is_some_and(|t| self.in_flight.iter().any(|c| c.tag == t));
                let error = ProtocolError::Malformed {
                    error: inv.error,
                    raw: inv.raw,
                };
                if ours {
                    self.fail(error);
                } else {
                    self.events.push_back(ClientEvent::Error(error));
                }
            }
        }
    }

    fn on_greeting(&mut self, ev: ResponseEvent) {
        let s = match ev {
            ResponseEvent::Response(Response::Status(s)) if s.tag.is_none() => s,
            ResponseEvent::Response(r) => {
                return self.fail(ProtocolError::BadGreeting(excerpt(&r.encode())));
            }
            ResponseEvent::Invalid(inv) => {
                return self.fail(ProtocolError::BadGreeting(excerpt(&inv.raw)));
            }
            _ => return self.fail(ProtocolError::BadGreeting("a FETCH literal".into())),
        };
        match s.kind {
            StatusKind::Ok | StatusKind::PreAuth => {
                self.state = if s.kind == StatusKind::Ok {
                    ConnectionState::NotAuthenticated
                } else {
                    ConnectionState::Authenticated
                };
                self.phase = Phase::Ready;
                let caps = match &s.code {
                    Some(Code::Capability(list)) => Some(list.clone()),
                    _ => None,
                };
                self.events.push_back(ClientEvent::Greeting(s));
                match caps {
                    Some(list) => self.set_caps(&list),
                    None if self.config.auto_capability => self.push_internal_capability(),
                    None => {}
                }
                self.pump();
            }
            StatusKind::Bye => {
                self.state = ConnectionState::Logout;
                self.events.push_back(ClientEvent::Bye(s));
                self.close();
            }
            _ => self.fail(ProtocolError::BadGreeting(excerpt(
                &Response::Status(s).encode(),
            ))),
        }
    }

    fn on_tagged(&mut self, s: StatusResponse) {
        let Some(tag) = s.tag.clone() else {
            return;
        };
        let Some(i) = self.in_flight.iter().position(|c| c.tag == tag) else {
            self.events
                .push_back(ClientEvent::Error(ProtocolError::UnknownTag(tag)));
            return;
        };
        let cmd = self.in_flight.remove(i);
        self.collected_total = self.collected_total.saturating_sub(cmd.collected);
        if self.writing.as_ref().is_some_and(|w| w.tag == tag) {
            // The server answered before taking the literal: the rest of
            // the command is not sent.
            self.writing = None;
        }
        if let Some(Code::Capability(list)) = &s.code {
            let list = list.clone();
            self.set_caps(&list);
        }
        let ok = s.kind == StatusKind::Ok;
        match cmd.kind {
            Kind::Login | Kind::Authenticate if ok => {
                if let Extra::Sasl(mut st) = cmd.extra {
                    if st.cancelled {
                        return self.fail(ProtocolError::SuccessAfterCancel);
                    }
                    if !st.final_seen
                        && let Err(e) = st.exchange.finish(None)
                    {
                        return self.fail(ProtocolError::Sasl(e));
                    }
                }
                self.state = ConnectionState::Authenticated;
                if self.caps_epoch == cmd.caps_epoch {
                    // Capabilities change with authentication (RFC 9051
                    // §6.2): without new ones, the old ones are stale.
                    self.forget_caps();
                    if self.config.auto_capability {
                        self.push_internal_capability();
                    }
                }
            }
            Kind::StartTls if ok => {
                self.push_done(tag, s, cmd.data, cmd.untagged, cmd.spilled);
                self.phase = Phase::AwaitTls;
                self.reader.clear();
                self.events.push_back(ClientEvent::StartTls);
                return;
            }
            Kind::Select => {
                self.state = if ok {
                    ConnectionState::Selected
                } else {
                    ConnectionState::Authenticated
                };
            }
            Kind::Close if ok => self.state = ConnectionState::Authenticated,
            Kind::Logout => {
                if ok {
                    self.state = ConnectionState::Logout;
                    self.push_done(tag, s, cmd.data, cmd.untagged, cmd.spilled);
                    self.close();
                    return;
                }
                self.logout_given = false;
            }
            _ => {}
        }
        if !cmd.internal {
            self.push_done(tag, s, cmd.data, cmd.untagged, cmd.spilled);
        }
        self.pump();
    }

    fn push_done(
        &mut self,
        tag: Tag,
        status: StatusResponse,
        data: Vec<Data>,
        untagged: Vec<StatusResponse>,
        spilled: bool,
    ) {
        self.events.push_back(ClientEvent::Done {
            tag,
            status,
            data,
            untagged,
            spilled,
        });
    }

    fn on_untagged_status(&mut self, s: StatusResponse, len: usize) {
        if s.kind == StatusKind::Bye {
            self.state = ConnectionState::Logout;
            self.bye = true;
            self.events.push_back(ClientEvent::Bye(s));
            while let Some(q) = self.queue.pop_front() {
                self.events.push_back(ClientEvent::NotSent {
                    tag: q.tag,
                    reason: UsageError::Closed,
                });
            }
            return;
        }
        if let Some(Code::Capability(list)) = &s.code {
            let list = list.clone();
            self.set_caps(&list);
        }
        let target = if s.code.as_ref().is_some_and(is_select_code) {
            self.in_flight.iter().position(|c| c.kind == Kind::Select)
        } else {
            None
        };
        match target {
            Some(i) => {
                if let Some(Collected::Status(s)) = self.collect(i, len, Collected::Status(s)) {
                    let tag = Some(self.in_flight[i].tag.clone());
                    self.events
                        .push_back(ClientEvent::Status { tag, status: s });
                }
            }
            None => self.events.push_back(ClientEvent::Status {
                tag: None,
                status: s,
            }),
        }
    }

    fn on_data(&mut self, d: Data, len: usize) {
        if let Data::Capability(list) = &d {
            let list = list.clone();
            self.set_caps(&list);
        }
        let target = match &d {
            Data::ESearch { tag: Some(t), .. } => self.in_flight.iter().position(|c| &c.tag == t),
            _ => self.in_flight.iter().position(|c| c.kind.expects(&d)),
        };
        let Some(i) = target else {
            self.events.push_back(ClientEvent::Unsolicited(d));
            return;
        };
        if self.in_flight[i].internal {
            return;
        }
        if let Some(Collected::Data(data)) = self.collect(i, len, Collected::Data(d)) {
            let tag = self.in_flight[i].tag.clone();
            self.events.push_back(ClientEvent::Data { tag, data });
        }
    }

    /// Holds `item` for command `i` if its mode and the limit allow; else
    /// hands it back to be emitted live.
    fn collect(&mut self, i: usize, len: usize, item: Collected) -> Option<Collected> {
        let max = self.config.max_collected;
        let total = self.collected_total;
        let cmd = &mut self.in_flight[i];
        if cmd.mode == DataMode::Stream {
            return Some(item);
        }
        if cmd.spilled || total.saturating_add(len) > max {
            cmd.spilled = true;
            return Some(item);
        }
        cmd.collected += len;
        self.collected_total = total + len;
        match item {
            Collected::Data(d) => cmd.data.push(d),
            Collected::Status(s) => cmd.untagged.push(s),
        }
        None
    }

    fn on_continuation(&mut self, c: &Continuation) {
        if let Some(mut w) = self.writing.take() {
            if self.write_segment(&mut w) {
                self.pump();
            } else {
                self.writing = Some(w);
            }
            return;
        }
        if let Some(i) = self
            .in_flight
            .iter()
            .position(|f| matches!(f.extra, Extra::Sasl(_)))
        {
            self.sasl_step(i, c);
            return;
        }
        for f in &mut self.in_flight {
            if let Extra::Idle {
                started: started @ false,
                done_sent,
                done_requested,
            } = &mut f.extra
            {
                *started = true;
                self.events
                    .push_back(ClientEvent::IdleStarted { tag: f.tag.clone() });
                if *done_requested {
                    *done_sent = true;
                    self.output.extend_from_slice(b"DONE\r\n");
                }
                return;
            }
        }
        self.events
            .push_back(ClientEvent::Error(ProtocolError::UnexpectedContinuation));
    }

    fn sasl_step(&mut self, i: usize, c: &Continuation) {
        let Extra::Sasl(st) = &mut self.in_flight[i].extra else {
            return;
        };
        if st.cancelled {
            self.events
                .push_back(ClientEvent::Error(ProtocolError::UnexpectedContinuation));
            return;
        }
        let Ok(challenge) = postel_sasl::wire::decode(c.text.as_bytes()) else {
            st.cancelled = true;
            self.output.extend_from_slice(b"*\r\n");
            self.events
                .push_back(ClientEvent::Error(ProtocolError::BadChallenge));
            return;
        };
        // SCRAM's server-final message comes as a challenge (RFC 9051
        // §6.2.2 has no success data): check the server's signature and
        // answer with an empty line.
        let scram_final = st.exchange.mechanism() == Mechanism::ScramSha256
            && challenge.starts_with(b"v=")
            && !st.final_seen;
        let response = if scram_final {
            st.final_seen = true;
            st.exchange.finish(Some(&challenge)).map(|()| Vec::new())
        } else {
            st.exchange.respond(&challenge)
        };
        match response {
            Ok(bytes) => {
                self.output
                    .extend_from_slice(postel_sasl::wire::encode(&bytes).as_bytes());
                self.output.extend_from_slice(b"\r\n");
            }
            Err(e) => {
                st.cancelled = true;
                self.output.extend_from_slice(b"*\r\n");
                self.events
                    .push_back(ClientEvent::Error(ProtocolError::Sasl(e)));
            }
        }
    }

    fn fail(&mut self, error: ProtocolError) {
        self.events.push_back(ClientEvent::Failed(error));
        self.close();
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.reader.clear();
        self.queue.clear();
        self.in_flight.clear();
        self.writing = None;
        self.collected_total = 0;
        self.events.push_back(ClientEvent::Closed);
    }
}
