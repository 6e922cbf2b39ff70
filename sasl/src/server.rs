//! The server side of an exchange: [`ServerExchange`] runs one
//! authentication attempt and hands credential checks to the caller through
//! [`ServerStep::Verify`].

use std::fmt;

use crate::bearer::BearerServer;
use crate::error::AuthError;
use crate::login::LoginServer;
use crate::mechanism::Mechanism;
use crate::plain::PlainServer;
use crate::scram::{ScramCredentials, ScramServer};
use crate::wire::{self, ClientLine};

/// Default for [`ServerOptions::max_response_len`]: 16 KiB.
pub const DEFAULT_MAX_RESPONSE_LEN: usize = 16 * 1024;

/// Default for [`ServerOptions::scram_min_iterations`]: 4096, the minimum
/// RFC 7677 asks for.
pub const DEFAULT_SCRAM_MIN_ITERATIONS: u32 = 4096;

/// Limits a [`ServerExchange`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Longest client response accepted, in decoded bytes. Longer ones fail
    /// the exchange with [`AuthError::ResponseTooLong`].
    pub max_response_len: usize,
    /// Fewest PBKDF2 iterations accepted in the caller's SCRAM credentials.
    pub scram_min_iterations: u32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_response_len: DEFAULT_MAX_RESPONSE_LEN,
            scram_min_iterations: DEFAULT_SCRAM_MIN_ITERATIONS,
        }
    }
}

/// Who authenticated, and as whom they act.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The authorization identity the client asked to act as, if it asked
    /// for one (`None` means: as itself).
    pub authzid: Option<String>,
    /// The authentication identity whose credentials were checked.
    pub authcid: String,
}

impl Identity {
    /// The identity the session acts as: the authzid if there is one, else
    /// the authcid.
    pub fn acting_as(&self) -> &str {
        self.authzid.as_deref().unwrap_or(&self.authcid)
    }
}

/// What the server does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send this challenge and pass the client's decoded answer to
    /// [`ServerExchange::respond`]. The bytes are raw: the protocol layer
    /// base64-encodes them (`LOGIN` sends `Username:` and `Password:`;
    /// client-first mechanisms started without an initial response send an
    /// empty challenge).
    Challenge(Vec<u8>),
    /// Check these credentials and pass the verdict to
    /// [`ServerExchange::verified`].
    Verify(VerifyRequest),
    /// The client is authenticated.
    ///
    /// `additional` is data the server must still deliver (SCRAM's
    /// server-final message `v=...`). Where the protocol cannot carry data
    /// with success (SMTP, RFC 4954), send it as one more challenge, wait
    /// for the client's empty answer, then report success.
    Success {
        /// Who authenticated.
        identity: Identity,
        /// Additional data for the client, if any.
        additional: Option<Vec<u8>>,
    },
    /// The exchange failed and is over.
    Failure(AuthError),
}

/// Credentials the caller must check.
///
/// The `authzid` fields carry the identity the client asks to act as: the
/// caller must check that the authenticated user may act as it.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyRequest {
    /// A user name and password (`PLAIN`, `LOGIN`). Answer
    /// [`Verification::Accepted`] or [`Verification::Rejected`].
    Password {
        /// Requested authorization identity (`PLAIN` only).
        authzid: Option<String>,
        /// The user name.
        authcid: String,
        /// The password, exactly as sent.
        password: String,
    },
    /// An OAuth 2.0 bearer token (`XOAUTH2`, `OAUTHBEARER`). Answer
    /// [`Verification::Accepted`], [`Verification::AcceptedAs`] or
    /// [`Verification::Rejected`]; a rejection first sends the client a JSON
    /// error challenge.
    Bearer {
        /// Which of the two mechanisms carried the token.
        mechanism: Mechanism,
        /// `OAUTHBEARER`'s `a=` identity from the GS2 header.
        authzid: Option<String>,
        /// `XOAUTH2`'s `user=` value.
        user: Option<String>,
        /// The bearer token.
        token: String,
        /// `OAUTHBEARER`'s `host=` value.
        host: Option<String>,
        /// `OAUTHBEARER`'s `port=` value.
        port: Option<u16>,
    },
    /// A SCRAM user: look up the stored credentials and answer
    /// [`Verification::Scram`], or [`Verification::Rejected`] for an unknown
    /// user. (To hide which users exist, answer with made-up credentials
    /// instead: the exchange then fails with [`AuthError::InvalidProof`] as
    /// for a wrong password.)
    Scram {
        /// Requested authorization identity (`a=`).
        authzid: Option<String>,
        /// The user name (`n=`), unescaped. No SASLprep is applied.
        username: String,
    },
}

impl fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyRequest::Password {
                authzid, authcid, ..
            } => f
                .debug_struct("Password")
                .field("authzid", authzid)
                .field("authcid", authcid)
                .field("password", &"<redacted>")
                .finish(),
            VerifyRequest::Bearer {
                mechanism,
                authzid,
                user,
                host,
                port,
                ..
            } => f
                .debug_struct("Bearer")
                .field("mechanism", mechanism)
                .field("authzid", authzid)
                .field("user", user)
                .field("token", &"<redacted>")
                .field("host", host)
                .field("port", port)
                .finish(),
            VerifyRequest::Scram { authzid, username } => f
                .debug_struct("Scram")
                .field("authzid", authzid)
                .field("username", username)
                .finish(),
        }
    }
}

/// The caller's answer to a [`VerifyRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The password or token is valid for the identity in the request
    /// (`PLAIN`/`LOGIN`: the authcid; `XOAUTH2`: `user=`; `OAUTHBEARER`: `a=`,
    /// so an `OAUTHBEARER` request without `a=` needs
    /// [`Verification::AcceptedAs`]).
    Accepted,
    /// The credentials are valid and belong to this user (e.g. the subject
    /// of a bearer token, or a canonicalized user name). It becomes the
    /// authcid; a different name the client claimed (`user=`, `a=`) is kept
    /// as the authzid.
    AcceptedAs(String),
    /// The credentials are refused.
    Rejected,
    /// Stored SCRAM credentials for the user, and the server's part of the
    /// nonce (non-empty printable ASCII without `,`; it is appended to the
    /// client's nonce). Draw it from a secure random source, fresh for every
    /// exchange.
    Scram {
        /// The user's stored credentials.
        credentials: ScramCredentials,
        /// The server's nonce part.
        server_nonce: String,
    },
}

/// What the exchange expects next from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Start,
    Response,
    Verification,
    Nothing,
}

/// The per-mechanism state.
enum State {
    Plain(PlainServer),
    Login(LoginServer),
    Bearer(BearerServer),
    Scram(Box<ScramServer>),
}

/// One server-side authentication attempt.
///
/// Drive it with [`start`](Self::start), then answer each
/// [`ServerStep::Challenge`] with [`respond`](Self::respond) and each
/// [`ServerStep::Verify`] with [`verified`](Self::verified) until it returns
/// [`ServerStep::Success`] or [`ServerStep::Failure`]. A failure ends the
/// exchange; calls after the end, or out of order, return
/// [`AuthError::CallerMisuse`].
pub struct ServerExchange {
    mechanism: Mechanism,
    options: ServerOptions,
    expect: Expect,
    state: State,
}

impl fmt::Debug for ServerExchange {
    // Mechanism state may hold SCRAM keys: show only where the exchange is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerExchange")
            .field("mechanism", &self.mechanism)
            .field("options", &self.options)
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

impl ServerExchange {
    /// Prepares an attempt with `mechanism`.
    pub fn new(mechanism: Mechanism, options: ServerOptions) -> Self {
        let state = match mechanism {
            Mechanism::Plain => State::Plain(PlainServer::new()),
            Mechanism::Login => State::Login(LoginServer::new()),
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => {
                State::Bearer(BearerServer::new(mechanism))
            }
            Mechanism::ScramSha256 => {
                State::Scram(Box::new(ScramServer::new(options.scram_min_iterations)))
            }
        };
        ServerExchange {
            mechanism,
            options,
            expect: Expect::Start,
            state,
        }
    }

    /// The mechanism being run.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The limits in force.
    pub fn options(&self) -> ServerOptions {
        self.options
    }

    /// Whether the exchange has ended (with success or failure).
    pub fn is_finished(&self) -> bool {
        self.expect == Expect::Nothing
    }

    /// Starts the exchange. `initial` is the client's initial response if it
    /// sent one (`Some(&[])` for an empty one, written `=`), `None` if it
    /// sent none.
    pub fn start(&mut self, initial: Option<&[u8]>) -> ServerStep {
        if self.expect != Expect::Start {
            return self.misuse("start() called on an exchange that already started");
        }
        if let Some(step) = self.check_len(initial.map_or(0, <[u8]>::len)) {
            return step;
        }
        let step = match &mut self.state {
            State::Plain(s) => s.start(initial),
            State::Login(s) => s.start(initial),
            State::Bearer(s) => s.start(initial),
            State::Scram(s) => s.start(initial),
        };
        self.advance(step)
    }

    /// Passes the client's decoded response to the last
    /// [`ServerStep::Challenge`].
    pub fn respond(&mut self, response: &[u8]) -> ServerStep {
        if self.expect != Expect::Response {
            return self.misuse("respond() called while no challenge was outstanding");
        }
        if let Some(step) = self.check_len(response.len()) {
            return step;
        }
        let step = match &mut self.state {
            State::Plain(s) => s.respond(response),
            State::Login(s) => s.respond(response),
            State::Bearer(s) => s.respond(response),
            State::Scram(s) => s.respond(response),
        };
        self.advance(step)
    }

    /// Passes one raw client line (base64, `=` or `*`, without CRLF) that
    /// answers the last [`ServerStep::Challenge`]: decodes it, refusing
    /// overlong lines before decoding, and then acts as
    /// [`respond`](Self::respond) or [`cancel`](Self::cancel).
    pub fn respond_line(&mut self, line: &[u8]) -> ServerStep {
        if self.expect != Expect::Response {
            return self.misuse("respond_line() called while no challenge was outstanding");
        }
        let line = line.trim_ascii();
        if line.len() > wire::encoded_len(self.options.max_response_len) {
            return self.fail(AuthError::ResponseTooLong {
                len: line.len(),
                max: self.options.max_response_len,
            });
        }
        match wire::parse_client_line(line) {
            Ok(ClientLine::Cancel) => self.cancel(),
            Ok(ClientLine::Response(data)) => self.respond(&data),
            Err(err) => self.fail(AuthError::BadEncoding(err)),
        }
    }

    /// Passes the caller's verdict on the last [`ServerStep::Verify`].
    pub fn verified(&mut self, verification: Verification) -> ServerStep {
        if self.expect != Expect::Verification {
            return self.misuse("verified() called while no verification was pending");
        }
        let step = match &mut self.state {
            State::Plain(s) => s.verified(verification),
            State::Login(s) => s.verified(verification),
            State::Bearer(s) => s.verified(verification),
            State::Scram(s) => s.verified(verification),
        };
        self.advance(step)
    }

    /// Ends the exchange because the client cancelled it (a `*` line):
    /// returns [`ServerStep::Failure`] with [`AuthError::Cancelled`].
    pub fn cancel(&mut self) -> ServerStep {
        if self.expect == Expect::Nothing {
            return self.misuse("cancel() called on a finished exchange");
        }
        self.fail(AuthError::Cancelled)
    }

    fn check_len(&mut self, len: usize) -> Option<ServerStep> {
        let max = self.options.max_response_len;
        (len > max).then(|| self.fail(AuthError::ResponseTooLong { len, max }))
    }

    fn misuse(&mut self, what: &'static str) -> ServerStep {
        self.fail(AuthError::CallerMisuse(what))
    }

    fn fail(&mut self, err: AuthError) -> ServerStep {
        self.advance(ServerStep::Failure(err))
    }

    fn advance(&mut self, step: ServerStep) -> ServerStep {
        self.expect = match &step {
            ServerStep::Challenge(_) => Expect::Response,
            ServerStep::Verify(_) => Expect::Verification,
            ServerStep::Success { .. } | ServerStep::Failure(_) => Expect::Nothing,
        };
        step
    }
}

/// Builds a [`ServerStep::Failure`] for a malformed client message.
pub(crate) fn malformed(mechanism: Mechanism, what: &'static str) -> ServerStep {
    ServerStep::Failure(AuthError::Malformed { mechanism, what })
}

/// Turns the verdict on a password or bearer request into the final step.
///
/// `claimed` is the name the client said it authenticates as (used by
/// [`Verification::Accepted`]); `authzid` is a separately requested
/// authorization identity. With `claim_is_authz` (bearer tokens, whose
/// subject only the caller knows), a claimed name that differs from the one
/// in [`Verification::AcceptedAs`] is kept as the authzid.
pub(crate) fn verdict(
    verification: Verification,
    authzid: Option<String>,
    claimed: Option<String>,
    claim_is_authz: bool,
) -> ServerStep {
    let identity = match verification {
        Verification::Accepted => match claimed {
            Some(authcid) => Identity { authzid, authcid },
            None => {
                return ServerStep::Failure(AuthError::CallerMisuse(
                    "the request names no user; answer with Verification::AcceptedAs",
                ));
            }
        },
        Verification::AcceptedAs(authcid) => {
            let authzid = match authzid {
                Some(z) => Some(z),
                None if claim_is_authz => claimed.filter(|c| *c != authcid),
                None => None,
            };
            Identity { authzid, authcid }
        }
        Verification::Rejected => return ServerStep::Failure(AuthError::Rejected),
        Verification::Scram { .. } => {
            return ServerStep::Failure(AuthError::CallerMisuse(
                "Verification::Scram answers only VerifyRequest::Scram",
            ));
        }
    };
    ServerStep::Success {
        identity,
        additional: None,
    }
}
