//! The server session: input, output, states, login and the dispatch of
//! commands. The commands themselves are in `mailboxes.rs` (authenticated
//! state), `selected.rs` and `fetch.rs` (selected state).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use postel_sasl::{Mechanism, ServerExchange, ServerOptions, ServerStep, Verification};

use super::config::ServerConfig;
use super::event::{ServerEvent, SessionState};
use super::fetch::FetchJob;
use super::store::{AppendSink, MailboxStore, StoreError};
use super::view::{Update, View};
use crate::command::{Command, CommandBody, Secret, is_done, parse_sasl_response};
use crate::error::UsageError;
use crate::literal::NonSyncLiterals;
use crate::mailbox::{Mailbox, NameEncoding};
use crate::reader::{CommandReader, LiteralRequest, ReaderEvent};
use crate::response::{Code, Continuation, Data, FetchData, Response, StatusKind, StatusResponse};
use crate::sequence::SequenceSet;
use crate::tag::Tag;

/// Extensions the client turned on with ENABLE (or implicitly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Enabled {
    pub condstore: bool,
    pub qresync: bool,
    pub utf8: bool,
    pub rev2: bool,
}

#[derive(Debug)]
enum Phase {
    Command,
    /// AUTHENTICATE in progress: the next line is a SASL response.
    Sasl {
        tag: Tag,
        exchange: Box<ServerExchange>,
    },
    /// AUTHENTICATE succeeded, but the client must still answer the
    /// server's final data (SCRAM's `v=`) with an empty response.
    SaslFinal {
        tag: Tag,
        user: String,
    },
    /// Waiting for `auth_verified`.
    AwaitAuth {
        tag: Tag,
        exchange: Box<ServerExchange>,
    },
    /// Waiting for `login_verified`.
    AwaitLogin {
        tag: Tag,
    },
    AwaitTls,
    Idle {
        tag: Tag,
    },
    Closed,
}

/// An APPEND whose message is flowing.
struct Appending<A> {
    tag: Tag,
    sink: Option<A>,
    error: Option<StoreError>,
}

/// A Sans-IO IMAP server session for one connection, over a
/// [`MailboxStore`] that the caller passes to each call that needs it.
///
/// Feed it client bytes with [`enqueue_input`](Self::enqueue_input), call
/// [`poll_event`](Self::poll_event) until it returns `None` (answering the
/// decisions), and write what [`poll_transmit`](Self::poll_transmit)
/// returns. Time is given, never read: pass `now` with input and call
/// [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout) has passed. While the client idles,
/// call [`check_mailbox`](Self::check_mailbox) when the store may have
/// changed (or every few seconds).
pub struct ServerSession<S: MailboxStore> {
    pub(crate) config: Arc<ServerConfig>,
    reader: CommandReader,
    pub(crate) output: Vec<u8>,
    events: VecDeque<ServerEvent>,
    phase: Phase,
    pub(crate) user: Option<String>,
    tls: bool,
    compressing: bool,
    pub(crate) enabled: Enabled,
    pub(crate) selected: Option<View>,
    appending: Option<Appending<S::Append>>,
    pub(crate) job: Option<FetchJob>,
    /// The SEARCHRES result (`$`), as UIDs.
    pub(crate) saved: Vec<u32>,
    bad_in_a_row: usize,
    failed_logins: usize,
    last_activity: Instant,
    pub(crate) now_unix: i64,
}

impl<S: MailboxStore> std::fmt::Debug for ServerSession<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("state", &self.state())
            .field("user", &self.user)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// The kinds of command a state allows.
fn allowed(state: SessionState, body: &CommandBody) -> bool {
    use CommandBody as C;
    match body {
        C::Capability | C::Noop | C::Logout | C::Id { .. } => true,
        C::StartTls | C::Authenticate { .. } | C::Login { .. } => {
            state == SessionState::NotAuthenticated
        }
        C::Enable { .. } => state == SessionState::Authenticated,
        C::Select { .. }
        | C::Examine { .. }
        | C::Create { .. }
        | C::Delete { .. }
        | C::Rename { .. }
        | C::Subscribe { .. }
        | C::Unsubscribe { .. }
        | C::List { .. }
        | C::Lsub { .. }
        | C::Namespace
        | C::Status { .. }
        | C::Append { .. }
        | C::Idle
        | C::GetQuota { .. }
        | C::GetQuotaRoot { .. }
        | C::SetQuota { .. }
        | C::Compress { .. } => {
            matches!(state, SessionState::Authenticated | SessionState::Selected)
        }
        C::Close
        | C::Unselect
        | C::Expunge
        | C::UidExpunge { .. }
        | C::Search { .. }
        | C::Fetch { .. }
        | C::Store { .. }
        | C::Copy { .. }
        | C::Move { .. }
        | C::Sort { .. }
        | C::Thread { .. } => state == SessionState::Selected,
    }
}

impl<S: MailboxStore> ServerSession<S> {
    /// A session that greets the client with `* OK [CAPABILITY ...]`.
    pub fn new(config: Arc<ServerConfig>, now: Instant) -> Self {
        let mut limits = config.limits.reader;
        limits.non_sync = if config.extensions.literal_plus {
            NonSyncLiterals::Plus
        } else {
            NonSyncLiterals::Minus
        };
        let mut s = Self {
            reader: CommandReader::new(limits),
            config,
            output: Vec::with_capacity(4096),
            events: VecDeque::new(),
            phase: Phase::Command,
            user: None,
            tls: false,
            compressing: false,
            enabled: Enabled::default(),
            selected: None,
            appending: None,
            job: None,
            saved: Vec::new(),
            bad_in_a_row: 0,
            failed_logins: 0,
            last_activity: now,
            now_unix: 0,
        };
        let caps = s.capabilities();
        let text = s.config.greeting.clone();
        s.untagged(StatusKind::Ok, Some(Code::Capability(caps)), &text);
        s
    }

    /// A session on a connection that is TLS from the start (port 993).
    pub fn new_tls(config: Arc<ServerConfig>, now: Instant) -> Self {
        let mut s = Self {
            tls: true,
            ..Self::new(config, now)
        };
        // The greeting was written before `tls` was set: write it again.
        s.output.clear();
        let caps = s.capabilities();
        let text = s.config.greeting.clone();
        s.untagged(StatusKind::Ok, Some(Code::Capability(caps)), &text);
        s
    }

    /// A session whose user is already known (PREAUTH greeting), e.g. over
    /// a local pipe.
    pub fn preauth(config: Arc<ServerConfig>, user: &str, now: Instant) -> Self {
        let mut s = Self::new(config, now);
        s.output.clear();
        s.user = Some(user.to_owned());
        let caps = s.capabilities();
        s.untagged(
            StatusKind::PreAuth,
            Some(Code::Capability(caps)),
            "Logged in",
        );
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The protocol state.
    pub fn state(&self) -> SessionState {
        if matches!(self.phase, Phase::Closed) {
            SessionState::Logout
        } else if self.selected.is_some() {
            SessionState::Selected
        } else if self.user.is_some() {
            SessionState::Authenticated
        } else {
            SessionState::NotAuthenticated
        }
    }

    /// The logged-in user.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The selected mailbox's store name.
    pub fn selected_mailbox(&self) -> Option<&str> {
        self.selected.as_ref().map(|v| v.name.as_str())
    }

    /// Whether the client is idling (IDLE, RFC 2177).
    pub fn is_idling(&self) -> bool {
        matches!(self.phase, Phase::Idle { .. })
    }

    /// True once the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Sets the wall-clock time in seconds since 1970 (for SEARCH OLDER and
    /// YOUNGER). The driver sets it before feeding input.
    pub fn set_unix_time(&mut self, seconds: i64) {
        self.now_unix = seconds;
    }

    /// Whether the driver should read more input: false while a decision
    /// is pending, a literal waits, a long FETCH has output to write, or
    /// STARTTLS waits for its handshake.
    pub fn wants_input(&self) -> bool {
        matches!(
            self.phase,
            Phase::Command | Phase::Sasl { .. } | Phase::SaslFinal { .. } | Phase::Idle { .. }
        ) && self.job.is_none()
            && self.events.is_empty()
            && self.reader.wants_input()
            && self.output.len() < self.config.limits.output_high_water
    }

    /// Adds bytes received from the client.
    pub fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        self.last_activity = now;
        if matches!(self.phase, Phase::Closed | Phase::AwaitTls) {
            return;
        }
        self.reader.enqueue_input(input);
    }

    /// Takes the bytes to write to the client, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.output.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.output))
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed
            | Phase::AwaitTls
            | Phase::AwaitLogin { .. }
            | Phase::AwaitAuth { .. } => None,
            _ => {
                let t = &self.config.timeouts;
                Some(
                    self.last_activity
                        + if self.user.is_some() {
                            t.authenticated
                        } else {
                            t.not_authenticated
                        },
                )
            }
        }
    }

    /// Logs the client out with `* BYE` if its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|d| now >= d) {
            self.untagged(StatusKind::Bye, None, "Autologout; idle for too long");
            self.close();
        }
    }

    /// The driver finished the TLS handshake after [`ServerEvent::StartTls`].
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        if !matches!(self.phase, Phase::AwaitTls) {
            return Err(UsageError::WrongState("tls_established without STARTTLS"));
        }
        self.reader.discard_input();
        self.tls = true;
        self.phase = Phase::Command;
        Ok(())
    }

    /// Answers [`ServerEvent::Login`]: `Some(user)` logs the client in as
    /// `user` (the name as the store knows it), `None` refuses.
    pub fn login_verified(&mut self, user: Option<String>) -> Result<(), UsageError> {
        let Phase::AwaitLogin { tag, .. } = std::mem::replace(&mut self.phase, Phase::Command)
        else {
            return Err(UsageError::WrongState("login_verified without a LOGIN"));
        };
        match user {
            Some(user) => self.logged_in(tag, user),
            None => self.login_failed(tag),
        }
        Ok(())
    }

    /// Answers [`ServerEvent::AuthVerify`].
    pub fn auth_verified(&mut self, verification: Verification) -> Result<(), UsageError> {
        let Phase::AwaitAuth { tag, mut exchange } =
            std::mem::replace(&mut self.phase, Phase::Command)
        else {
            return Err(UsageError::WrongState("auth_verified without AUTHENTICATE"));
        };
        let step = exchange.verified(verification);
        self.sasl_step(tag, exchange, step);
        Ok(())
    }

    /// Takes the next event, doing the work of the commands received.
    /// `None` means: write the output, then read more input (if
    /// [`wants_input`](Self::wants_input)), or answer the pending decision.
    pub fn poll_event(&mut self, store: &mut S) -> Option<ServerEvent> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Some(ev);
            }
            if self.output.len() >= self.config.limits.output_high_water {
                return None;
            }
            if self.job.is_some() {
                self.run_fetch_job(store);
                continue;
            }
            if !self.step(store) {
                return self.events.pop_front();
            }
        }
    }

    /// While the client idles: reports what changed in the selected
    /// mailbox. Call it when the store may have changed.
    pub fn check_mailbox(&mut self, store: &mut S) {
        if self.is_idling() {
            self.catch_up(store, true);
        }
    }

    // ----- the input loop -----

    /// Handles one reader event; false when nothing could be done.
    fn step(&mut self, store: &mut S) -> bool {
        match self.phase {
            Phase::Command | Phase::Sasl { .. } | Phase::SaslFinal { .. } | Phase::Idle { .. } => {}
            _ => return false,
        }
        let Some(event) = self.reader.next_event() else {
            return false;
        };
        match event {
            ReaderEvent::Command(bytes) => match &self.phase {
                Phase::Sasl { .. } | Phase::SaslFinal { .. } => self.sasl_line(&bytes),
                Phase::Idle { .. } => self.idle_line(store, &bytes),
                _ => self.command(store, &bytes),
            },
            ReaderEvent::Literal(request) => self.literal(store, request),
            ReaderEvent::AppendData(chunk) => self.append_data(&chunk),
            ReaderEvent::AppendEnd => self.append_end(store),
            ReaderEvent::Refused { tag, error } => {
                if let Some(a) = self.appending.take() {
                    // The message's trailing bytes were wrong: drop it.
                    drop(a);
                }
                if let Phase::Sasl { .. } | Phase::SaslFinal { .. } = self.phase {
                    let (Phase::Sasl { tag, .. } | Phase::SaslFinal { tag, .. }) =
                        std::mem::replace(&mut self.phase, Phase::Command)
                    else {
                        return true;
                    };
                    self.reader.set_raw_lines(false);
                    self.bad(Some(tag), &format!("Authentication aborted: {error}"));
                } else {
                    self.bad(tag, &error.to_string());
                }
            }
        }
        true
    }

    fn command(&mut self, store: &mut S, bytes: &[u8]) {
        let command = match Command::parse(bytes) {
            Ok(c) => c,
            Err(e) => {
                let tag = Tag::peek(bytes);
                self.bad(tag, &e.to_string());
                return;
            }
        };
        let state = self.state();
        if !allowed(state, &command.body) {
            let text = match state {
                _ if matches!(
                    command.body,
                    CommandBody::Login { .. }
                        | CommandBody::Authenticate { .. }
                        | CommandBody::StartTls
                ) =>
                {
                    "Already logged in"
                }
                SessionState::NotAuthenticated => "Log in first",
                SessionState::Authenticated => "Select a mailbox first",
                _ => "Command not valid in this state",
            };
            self.bad(Some(command.tag), text);
            return;
        }
        self.bad_in_a_row = 0;
        self.dispatch(store, command);
    }

    fn dispatch(&mut self, store: &mut S, command: Command) {
        use CommandBody as C;
        let Command { tag, body } = command;
        match body {
            C::Capability => {
                let caps = self.capabilities();
                self.data(Data::Capability(caps));
                self.ok(tag, None, "CAPABILITY completed");
            }
            C::Noop => {
                self.catch_up(store, true);
                self.ok(tag, None, "NOOP completed");
            }
            C::Logout => {
                self.untagged(StatusKind::Bye, None, "Logging out");
                self.ok(tag, None, "LOGOUT completed");
                self.close();
            }
            C::Id { .. } => {
                let fields = self
                    .config
                    .id
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec())))
                    .collect::<Vec<_>>();
                self.data(Data::Id(if fields.is_empty() {
                    None
                } else {
                    Some(fields)
                }));
                self.ok(tag, None, "ID completed");
            }
            C::StartTls => self.starttls(tag),
            C::Login { username, password } => self.login(tag, username, password),
            C::Authenticate {
                mechanism,
                initial_response,
            } => self.authenticate(tag, &mechanism, initial_response),
            C::Enable { capabilities } => self.enable(tag, &capabilities),
            C::Compress { algorithm } => self.compress(tag, &algorithm),
            C::Idle => {
                if !self.config.extensions.idle {
                    self.bad(Some(tag), "IDLE is not supported");
                    return;
                }
                self.catch_up(store, true);
                self.write(&Response::Continuation(Continuation::text("idling")));
                self.reader.set_raw_lines(true);
                self.phase = Phase::Idle { tag };
            }
            C::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                // Only when the reader could not stream the message (it
                // always does for well-formed APPENDs): store it whole.
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return;
                };
                let result = store
                    .begin_append(self.user_name(), &name, &flags, date)
                    .and_then(|mut sink| {
                        sink.write(&message.data)?;
                        store.commit_append(sink)
                    });
                self.append_result(store, tag, result);
            }
            other => {
                self.mailbox_command(store, &tag, other);
            }
        }
    }

    // ----- authentication -----

    fn password_allowed(&self) -> bool {
        self.tls || self.config.plaintext_auth
    }

    fn starttls(&mut self, tag: Tag) {
        if !self.config.starttls || self.tls {
            self.bad(Some(tag), "STARTTLS is not available");
            return;
        }
        self.ok(tag, None, "Begin TLS negotiation now");
        // Whatever the client sent after STARTTLS in plaintext is dropped
        // (RFC 9051 §11.1: plaintext injection).
        self.reader.discard_input();
        self.phase = Phase::AwaitTls;
        self.events.push_back(ServerEvent::StartTls);
    }

    fn login(&mut self, tag: Tag, username: Vec<u8>, password: Secret) {
        if !self.password_allowed() {
            self.no(
                tag,
                Some(Code::PrivacyRequired),
                "LOGIN is disabled until STARTTLS",
            );
            return;
        }
        let Ok(username) = String::from_utf8(username) else {
            self.no(tag, Some(Code::AuthenticationFailed), "Invalid user name");
            return;
        };
        self.events
            .push_back(ServerEvent::Login { username, password });
        self.phase = Phase::AwaitLogin { tag };
    }

    fn authenticate(&mut self, tag: Tag, name: &str, initial: Option<Secret>) {
        let Some(mechanism) =
            Mechanism::from_name(name.as_bytes()).filter(|m| self.config.mechanisms.contains(m))
        else {
            self.no(
                tag,
                Some(Code::Cannot),
                "Unsupported authentication mechanism",
            );
            return;
        };
        if mechanism.sends_password_in_clear() && !self.password_allowed() {
            self.no(
                tag,
                Some(Code::PrivacyRequired),
                "Plaintext authentication is disabled until STARTTLS",
            );
            return;
        }
        let mut exchange = Box::new(ServerExchange::new(mechanism, ServerOptions::default()));
        let step = exchange.start(initial.as_ref().map(|s| s.expose()));
        self.sasl_step(tag, exchange, step);
    }

    fn sasl_line(&mut self, line: &[u8]) {
        let phase = std::mem::replace(&mut self.phase, Phase::Command);
        self.reader.set_raw_lines(false);
        let (tag, mut exchange) = match phase {
            Phase::Sasl { tag, exchange } => (tag, exchange),
            Phase::SaslFinal { tag, user } => {
                match parse_sasl_response(line) {
                    Ok(Some(r)) if r.expose().is_empty() => self.logged_in(tag, user),
                    Ok(None) => self.bad(Some(tag), "Authentication cancelled"),
                    _ => self.login_failed(tag),
                }
                return;
            }
            other => {
                self.phase = other;
                return;
            }
        };
        match parse_sasl_response(line) {
            Ok(None) => self.bad(Some(tag), "Authentication cancelled"),
            Ok(Some(response)) => {
                let step = exchange.respond(response.expose());
                self.sasl_step(tag, exchange, step);
            }
            Err(e) => self.bad(Some(tag), &format!("Invalid SASL response: {e}")),
        }
    }

    fn sasl_step(&mut self, tag: Tag, exchange: Box<ServerExchange>, step: ServerStep) {
        match step {
            ServerStep::Challenge(data) => {
                self.write(&Response::Continuation(Continuation::sasl(&data)));
                self.reader.set_raw_lines(true);
                self.phase = Phase::Sasl { tag, exchange };
            }
            ServerStep::Verify(request) => {
                self.events.push_back(ServerEvent::AuthVerify(request));
                self.phase = Phase::AwaitAuth { tag, exchange };
            }
            ServerStep::Success {
                identity,
                additional,
            } => match additional {
                // The tagged OK carries no SASL data here: send it as a last
                // challenge and wait for the client's empty answer.
                Some(data) if !data.is_empty() => {
                    self.write(&Response::Continuation(Continuation::sasl(&data)));
                    self.reader.set_raw_lines(true);
                    self.phase = Phase::SaslFinal {
                        tag,
                        user: identity.acting_as().to_owned(),
                    };
                }
                _ => self.logged_in(tag, identity.acting_as().to_owned()),
            },
            ServerStep::Failure(e) => {
                if matches!(
                    e,
                    postel_sasl::AuthError::CallerMisuse(_)
                        | postel_sasl::AuthError::ScramIterationsTooLow { .. }
                ) {
                    self.no(tag, Some(Code::ServerBug), "Authentication failed");
                } else {
                    self.login_failed_with(tag, &e.to_string());
                }
            }
        }
    }

    fn logged_in(&mut self, tag: Tag, user: String) {
        self.user = Some(user.clone());
        self.failed_logins = 0;
        let caps = self.capabilities();
        self.ok(tag, Some(Code::Capability(caps)), "Logged in");
        self.events.push_back(ServerEvent::LoggedIn { user });
    }

    fn login_failed(&mut self, tag: Tag) {
        self.login_failed_with(tag, "Invalid credentials");
    }

    fn login_failed_with(&mut self, tag: Tag, text: &str) {
        self.failed_logins += 1;
        self.no(tag, Some(Code::AuthenticationFailed), text);
        if self.failed_logins >= self.config.limits.max_failed_logins {
            self.untagged(StatusKind::Bye, None, "Too many failed logins");
            self.close();
        }
    }

    fn enable(&mut self, tag: Tag, capabilities: &[String]) {
        let mut newly = Vec::new();
        for cap in capabilities {
            let upper = cap.to_ascii_uppercase();
            let (known, flag) = match upper.as_str() {
                "CONDSTORE" if self.config.extensions.condstore => {
                    (true, &mut self.enabled.condstore)
                }
                "QRESYNC" if self.config.extensions.condstore => (true, &mut self.enabled.qresync),
                "UTF8=ACCEPT" if self.config.extensions.utf8_accept => {
                    (true, &mut self.enabled.utf8)
                }
                "IMAP4REV2" => (true, &mut self.enabled.rev2),
                _ => continue,
            };
            if known && !*flag {
                *flag = true;
                newly.push(upper);
            }
        }
        if self.enabled.qresync {
            self.enabled.condstore = true;
        }
        self.data(Data::Enabled(newly));
        self.ok(tag, None, "ENABLE completed");
    }

    fn compress(&mut self, tag: Tag, algorithm: &str) {
        if !self.config.extensions.compress {
            self.bad(Some(tag), "COMPRESS is not supported");
        } else if self.compressing {
            self.no(
                tag,
                Some(Code::Other("COMPRESSIONACTIVE".into(), None)),
                "Compression is already on",
            );
        } else if !algorithm.eq_ignore_ascii_case("DEFLATE") {
            self.bad(Some(tag), "Unknown compression algorithm");
        } else {
            self.compressing = true;
            self.ok(tag, None, "DEFLATE active");
            self.events.push_back(ServerEvent::Compress);
        }
    }

    // ----- IDLE -----

    fn idle_line(&mut self, store: &mut S, line: &[u8]) {
        let Phase::Idle { tag } = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        self.reader.set_raw_lines(false);
        if is_done(line) {
            self.catch_up(store, true);
            self.ok(tag, None, "IDLE terminated");
        } else {
            self.bad(Some(tag), "Expected DONE");
        }
    }

    // ----- APPEND -----

    fn literal(&mut self, store: &mut S, request: LiteralRequest) {
        let tag = request.tag.clone();
        let Some(append) = request.append.clone() else {
            // A literal inside a command: the reader enforced its size.
            if request.synchronizing {
                self.write(&Response::Continuation(Continuation::text("Ready")));
            }
            self.reader.accept_literal();
            return;
        };
        let refuse = |s: &mut Self, code: Code, text: &str| {
            s.reader.reject_literal();
            s.no(append.tag.clone(), Some(code), text);
        };
        if !matches!(
            self.state(),
            SessionState::Authenticated | SessionState::Selected
        ) {
            self.reader.reject_literal();
            self.bad(tag, "Log in first");
            return;
        }
        if request.size > self.config.limits.append_limit {
            refuse(self, Code::TooBig, "Message exceeds APPENDLIMIT");
            return;
        }
        let name = match append.mailbox.name(self.name_encoding()) {
            Ok(n) => normalize_name(&n),
            Err(e) => {
                self.reader.reject_literal();
                self.bad(Some(append.tag.clone()), &format!("Bad mailbox name: {e}"));
                return;
            }
        };
        match store.begin_append(self.user_name(), &name, &append.flags, append.date) {
            Ok(sink) => {
                self.appending = Some(Appending {
                    tag: append.tag.clone(),
                    sink: Some(sink),
                    error: None,
                });
                if request.synchronizing {
                    self.write(&Response::Continuation(Continuation::text(
                        "Ready for literal data",
                    )));
                }
                self.reader.accept_literal();
            }
            Err(StoreError::NonExistent) => {
                refuse(self, Code::TryCreate, "Mailbox does not exist");
            }
            Err(e) => refuse(self, e.code(), &e.response_text()),
        }
    }

    fn append_data(&mut self, chunk: &Bytes) {
        if let Some(a) = &mut self.appending
            && a.error.is_none()
            && let Some(sink) = &mut a.sink
            && let Err(e) = sink.write(chunk)
        {
            a.error = Some(e);
            a.sink = None;
        }
    }

    fn append_end(&mut self, store: &mut S) {
        let Some(a) = self.appending.take() else {
            return;
        };
        let result = match (a.error, a.sink) {
            (Some(e), _) => Err(e),
            (None, Some(sink)) => store.commit_append(sink),
            (None, None) => Err(StoreError::Unavailable("append lost".into())),
        };
        self.append_result(store, a.tag, result);
    }

    fn append_result(&mut self, store: &mut S, tag: Tag, result: Result<(u32, u32), StoreError>) {
        match result {
            Ok((validity, uid)) => {
                self.catch_up(store, true);
                self.ok(
                    tag,
                    Some(Code::AppendUid {
                        uid_validity: validity,
                        uids: SequenceSet::single(uid).unwrap_or(SequenceSet::Saved),
                    }),
                    "APPEND completed",
                );
            }
            Err(StoreError::NonExistent) => {
                self.no(tag, Some(Code::TryCreate), "Mailbox does not exist")
            }
            Err(e) => self.no(tag, Some(e.code()), &e.response_text()),
        }
    }

    // ----- the selected mailbox -----

    /// Reports what changed in the selected mailbox since the session last
    /// looked; EXPUNGE only when `allow_expunge`.
    pub(crate) fn catch_up(&mut self, store: &mut S, allow_expunge: bool) {
        let Some(view) = &self.selected else {
            return;
        };
        let (name, since) = (view.name.clone(), view.highest_modseq);
        let changes = match store.changes(self.user_name(), &name, since) {
            Ok(c) => c,
            Err(StoreError::NonExistent) => {
                self.untagged(StatusKind::Bye, None, "The selected mailbox was deleted");
                self.close();
                return;
            }
            Err(_) => return,
        };
        let Some(view) = &mut self.selected else {
            return;
        };
        let update = view.apply(changes, allow_expunge);
        self.report(update);
    }

    fn report(&mut self, update: Update) {
        if update.validity_changed {
            self.untagged(
                StatusKind::Bye,
                None,
                "The selected mailbox was recreated; select it again",
            );
            self.close();
            return;
        }
        if self.enabled.qresync {
            if let Some(set) = uid_set(&update.expunged_uids) {
                self.data(Data::Vanished {
                    earlier: false,
                    uids: set,
                });
            }
        } else {
            for seq in &update.expunged_seqs {
                self.data(Data::Expunge(*seq));
            }
        }
        if let Some(n) = update.exists {
            self.data(Data::Exists(n));
        }
        for (seq, meta) in update.flag_changes {
            let mut items = vec![FetchData::Flags(meta.flags.clone())];
            if self.enabled.qresync {
                items.insert(0, FetchData::Uid(meta.uid));
            }
            if self.enabled.condstore {
                items.push(FetchData::ModSeq(meta.modseq));
            }
            self.data(Data::Fetch { seq, items });
        }
    }

    // ----- helpers -----

    pub(crate) fn user_name(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    /// How mailbox names travel in this session.
    pub(crate) fn name_encoding(&self) -> NameEncoding {
        if self.enabled.utf8 || self.enabled.rev2 {
            NameEncoding::Utf8
        } else {
            NameEncoding::Utf7
        }
    }

    /// The store name of a wire name, or a BAD already written.
    pub(crate) fn store_name(&mut self, tag: &Tag, mailbox: &Mailbox) -> Option<String> {
        match mailbox.name(self.name_encoding()) {
            Ok(n) => Some(normalize_name(&n)),
            Err(e) => {
                self.bad(Some(tag.clone()), &format!("Bad mailbox name: {e}"));
                None
            }
        }
    }

    /// The wire form of a store name.
    pub(crate) fn wire_name(&self, name: &str) -> Mailbox {
        Mailbox::from_name(name, self.name_encoding())
            .unwrap_or_else(|_| Mailbox::from_wire(name.as_bytes()))
    }

    /// The capability list for the current state.
    pub fn capabilities(&self) -> Vec<String> {
        let ext = &self.config.extensions;
        let mut caps: Vec<String> = vec!["IMAP4rev2".into(), "IMAP4rev1".into()];
        let pre_auth = self.user.is_none();
        if pre_auth {
            if self.config.starttls && !self.tls {
                caps.push("STARTTLS".into());
            }
            if !self.password_allowed() {
                caps.push("LOGINDISABLED".into());
            }
            for m in &self.config.mechanisms {
                if self.password_allowed() || !m.sends_password_in_clear() {
                    caps.push(format!("AUTH={}", m.name()));
                }
            }
            caps.push("SASL-IR".into());
        }
        caps.push(
            if ext.literal_plus {
                "LITERAL+"
            } else {
                "LITERAL-"
            }
            .into(),
        );
        for c in [
            "ENABLE",
            "ID",
            "NAMESPACE",
            "UIDPLUS",
            "MOVE",
            "UNSELECT",
            "CHILDREN",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "ESEARCH",
            "SEARCHRES",
            "WITHIN",
            "BINARY",
            "STATUS=SIZE",
        ] {
            caps.push(c.into());
        }
        caps.push(format!("APPENDLIMIT={}", self.config.limits.append_limit));
        if ext.idle {
            caps.push("IDLE".into());
        }
        if ext.condstore {
            caps.push("CONDSTORE".into());
            caps.push("QRESYNC".into());
        }
        if ext.utf8_accept {
            caps.push("UTF8=ACCEPT".into());
        }
        if ext.quota {
            caps.push("QUOTA".into());
            caps.push("QUOTA=RES-STORAGE".into());
            caps.push("QUOTA=RES-MESSAGE".into());
        }
        if ext.sort_thread {
            caps.push("SORT".into());
            caps.push("SORT=DISPLAY".into());
            caps.push("THREAD=ORDEREDSUBJECT".into());
            caps.push("THREAD=REFERENCES".into());
        }
        if ext.compress && !self.compressing {
            caps.push("COMPRESS=DEFLATE".into());
        }
        caps
    }

    pub(crate) fn write(&mut self, response: &Response) {
        self.output.extend_from_slice(&response.encode());
    }

    pub(crate) fn data(&mut self, data: Data) {
        self.write(&Response::Data(data));
    }

    fn status(&mut self, tag: Option<Tag>, kind: StatusKind, code: Option<Code>, text: &str) {
        self.write(&Response::Status(StatusResponse {
            tag,
            kind,
            code,
            text: text.to_owned(),
        }));
    }

    pub(crate) fn untagged(&mut self, kind: StatusKind, code: Option<Code>, text: &str) {
        self.status(None, kind, code, text);
    }

    pub(crate) fn ok(&mut self, tag: Tag, code: Option<Code>, text: &str) {
        self.status(Some(tag), StatusKind::Ok, code, text);
    }

    pub(crate) fn no(&mut self, tag: Tag, code: Option<Code>, text: &str) {
        self.status(Some(tag), StatusKind::No, code, text);
    }

    /// A BAD response; too many in a row end the session.
    pub(crate) fn bad(&mut self, tag: Option<Tag>, text: &str) {
        self.status(tag, StatusKind::Bad, None, text);
        self.bad_in_a_row += 1;
        if self.bad_in_a_row >= self.config.limits.max_bad_commands {
            self.untagged(StatusKind::Bye, None, "Too many invalid commands");
            self.close();
        }
    }

    pub(crate) fn close(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.phase = Phase::Closed;
            self.job = None;
            self.appending = None;
            self.reader.discard_input();
            self.events.push_back(ServerEvent::Closed);
        }
    }
}

/// INBOX in any case is `INBOX`; a trailing delimiter is dropped (CREATE
/// `foo/` creates `foo`).
pub(crate) fn normalize_name(name: &str) -> String {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    if trimmed.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else if trimmed.len() > 6 && trimmed[..6].eq_ignore_ascii_case("INBOX/") {
        format!("INBOX/{}", &trimmed[6..])
    } else {
        trimmed.to_owned()
    }
}

/// A compact UID set (`1:3,7`) from ascending UIDs; `None` when empty.
pub(crate) fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
    use crate::sequence::{SeqItem, SeqNumber};
    use std::num::NonZeroU32;
    let mut items = Vec::new();
    let mut iter = uids.iter().copied().filter(|u| *u > 0).peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        let a = SeqNumber::Value(NonZeroU32::new(start)?);
        items.push(if start == end {
            SeqItem::Single(a)
        } else {
            SeqItem::Range(a, SeqNumber::Value(NonZeroU32::new(end)?))
        });
    }
    (!items.is_empty()).then_some(SequenceSet::Items(items))
}
