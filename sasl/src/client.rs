//! The client side of an exchange: [`ClientExchange`] produces the
//! responses to a server's challenges.

use std::fmt;

use crate::bearer::BearerClient;
use crate::error::ClientError;
use crate::login::LoginClient;
use crate::mechanism::Mechanism;
use crate::plain::PlainClient;
use crate::scram::ScramClient;

/// Default for [`ClientOptions::max_challenge_len`]: 16 KiB.
pub const DEFAULT_MAX_CHALLENGE_LEN: usize = 16 * 1024;

/// Default for [`ClientOptions::scram_max_iterations`]. PBKDF2 at this
/// count takes around a second; a server asking for more is more likely
/// hostile than careful.
pub const DEFAULT_SCRAM_MAX_ITERATIONS: u32 = 1_000_000;

/// The client's secret.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecret {
    /// A password (`PLAIN`, `LOGIN`, `SCRAM-SHA-256`).
    Password(String),
    /// An OAuth 2.0 access token (`XOAUTH2`, `OAUTHBEARER`).
    BearerToken(String),
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientSecret::Password(_) => f.write_str("Password(<redacted>)"),
            ClientSecret::BearerToken(_) => f.write_str("BearerToken(<redacted>)"),
        }
    }
}

/// What the client authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// Identity to act as, if not the user's own. An empty string counts
    /// as none. (`OAUTHBEARER` sends the username as `a=` when this is
    /// `None`; `LOGIN` and `XOAUTH2` cannot carry it and ignore it.)
    pub authzid: Option<String>,
    /// The user name.
    pub username: String,
    /// The password or token.
    pub secret: ClientSecret,
    /// Server host name, sent by `OAUTHBEARER` as `host=`.
    pub host: Option<String>,
    /// Server port, sent by `OAUTHBEARER` as `port=`.
    pub port: Option<u16>,
}

impl ClientCredentials {
    /// A user name and password, without authzid, host or port.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        ClientCredentials {
            authzid: None,
            username: username.into(),
            secret: ClientSecret::Password(password.into()),
            host: None,
            port: None,
        }
    }

    /// A user name and bearer token, without authzid, host or port.
    pub fn bearer(username: impl Into<String>, token: impl Into<String>) -> Self {
        ClientCredentials {
            authzid: None,
            username: username.into(),
            secret: ClientSecret::BearerToken(token.into()),
            host: None,
            port: None,
        }
    }
}

/// Limits a [`ClientExchange`] enforces on what the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Longest server challenge accepted, in decoded bytes.
    pub max_challenge_len: usize,
    /// Fewest SCRAM iterations accepted from the server (RFC 7677 asks for
    /// at least 4096).
    pub scram_min_iterations: u32,
    /// Most SCRAM iterations accepted from the server.
    pub scram_max_iterations: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_challenge_len: DEFAULT_MAX_CHALLENGE_LEN,
            scram_min_iterations: crate::server::DEFAULT_SCRAM_MIN_ITERATIONS,
            scram_max_iterations: DEFAULT_SCRAM_MAX_ITERATIONS,
        }
    }
}

/// Where the exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing produced yet.
    Start,
    /// The client-first message was handed out as an initial response; no
    /// challenge has arrived.
    FirstOffered,
    /// At least one challenge was answered.
    Running,
    /// Finished, successfully or not.
    Finished,
}

enum Mech {
    Plain(PlainClient),
    Login(LoginClient),
    Bearer(BearerClient),
    Scram(Box<ScramClient>),
}

/// One client-side authentication attempt.
///
/// Send [`initial_response`](Self::initial_response) with the `AUTH`
/// command if the server allows it, answer each challenge with
/// [`respond`](Self::respond), and call [`finish`](Self::finish) when the
/// server reports success. Without an initial response, a client-first
/// mechanism answers the server's empty challenge with its first message.
/// After an error, or after `finish`, the exchange is over.
pub struct ClientExchange {
    mechanism: Mechanism,
    options: ClientOptions,
    phase: Phase,
    mech: Mech,
}

impl fmt::Debug for ClientExchange {
    // The mechanism state holds the secret: show only where the exchange is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientExchange")
            .field("mechanism", &self.mechanism)
            .field("options", &self.options)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl ClientExchange {
    /// Prepares an attempt with default [`ClientOptions`].
    ///
    /// For `SCRAM-SHA-256`, `client_nonce` must be `Some` (non-empty
    /// printable ASCII without `,`, drawn from a secure random source); it
    /// is ignored otherwise. Fails if the secret does not suit the mechanism
    /// (a bearer token for a password mechanism or the reverse) or the
    /// credentials cannot be expressed in it.
    pub fn new(
        mechanism: Mechanism,
        credentials: ClientCredentials,
        client_nonce: Option<String>,
    ) -> Result<Self, ClientError> {
        Self::with_options(
            mechanism,
            credentials,
            client_nonce,
            ClientOptions::default(),
        )
    }

    /// Like [`new`](Self::new), with explicit limits.
    pub fn with_options(
        mechanism: Mechanism,
        credentials: ClientCredentials,
        client_nonce: Option<String>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let ClientCredentials {
            authzid,
            username,
            secret,
            host,
            port,
        } = credentials;
        let authzid = authzid.as_deref().filter(|a| !a.is_empty());
        let mech = match (mechanism, secret) {
            (Mechanism::Plain, ClientSecret::Password(pw)) => {
                Mech::Plain(PlainClient::new(authzid, &username, &pw)?)
            }
            (Mechanism::Login, ClientSecret::Password(pw)) => {
                Mech::Login(LoginClient::new(&username, &pw)?)
            }
            (Mechanism::ScramSha256, ClientSecret::Password(pw)) => {
                Mech::Scram(Box::new(ScramClient::new(
                    authzid,
                    &username,
                    &pw,
                    client_nonce,
                    options.scram_min_iterations,
                    options.scram_max_iterations,
                )?))
            }
            (Mechanism::XOAuth2 | Mechanism::OAuthBearer, ClientSecret::BearerToken(token)) => {
                Mech::Bearer(BearerClient::new(
                    mechanism,
                    authzid,
                    &username,
                    &token,
                    host.as_deref(),
                    port,
                )?)
            }
            (Mechanism::XOAuth2 | Mechanism::OAuthBearer, ClientSecret::Password(_)) => {
                return Err(ClientError::SecretMismatch {
                    mechanism,
                    expected: "a bearer token (ClientSecret::BearerToken)",
                });
            }
            (_, ClientSecret::BearerToken(_)) => {
                return Err(ClientError::SecretMismatch {
                    mechanism,
                    expected: "a password (ClientSecret::Password)",
                });
            }
        };
        Ok(ClientExchange {
            mechanism,
            options,
            phase: Phase::Start,
            mech,
        })
    }

    /// The mechanism being run.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange is over.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// The error a bearer-token server sent as its challenge (usually JSON
    /// such as `{"status":"invalid_token",...}`), once it has arrived.
    pub fn server_error(&self) -> Option<&str> {
        match &self.mech {
            Mech::Bearer(b) => b.error(),
            _ => None,
        }
    }

    /// The client-first message to send as an initial response, if the
    /// mechanism has one (all but `LOGIN`) and no challenge has been
    /// answered yet.
    pub fn initial_response(&mut self) -> Option<Vec<u8>> {
        if !matches!(self.phase, Phase::Start | Phase::FirstOffered) {
            return None;
        }
        let first = self.first_message()?;
        self.phase = Phase::FirstOffered;
        Some(first)
    }

    /// Answers a (decoded) server challenge: `LOGIN`'s prompts, SCRAM's
    /// server-first message (answered with the client-final message) and
    /// server-final message sent as a challenge (answered with nothing), a
    /// bearer mechanism's JSON error (answered with the dummy response; see
    /// [`server_error`](Self::server_error)), or the empty challenge a
    /// server sends when there was no initial response.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        if self.phase == Phase::Finished {
            return Err(ClientError::CallerMisuse(
                "respond() called on a finished exchange",
            ));
        }
        let result = self.respond_inner(challenge);
        self.phase = if result.is_ok() {
            Phase::Running
        } else {
            Phase::Finished
        };
        result
    }

    fn respond_inner(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        let max = self.options.max_challenge_len;
        if challenge.len() > max {
            return Err(ClientError::ChallengeTooLong {
                len: challenge.len(),
                max,
            });
        }
        if matches!(self.phase, Phase::Start | Phase::FirstOffered)
            && let Some(first) = self.first_message()
        {
            if challenge.is_empty() {
                return Ok(first);
            }
            if self.phase == Phase::Start {
                return Err(ClientError::UnexpectedChallenge {
                    mechanism: self.mechanism,
                    what: "a non-empty challenge before the client's first message",
                });
            }
        }
        match &mut self.mech {
            Mech::Plain(m) => m.on_challenge(challenge),
            Mech::Login(m) => m.on_challenge(challenge),
            Mech::Bearer(m) => m.on_challenge(challenge),
            Mech::Scram(m) => m.on_challenge(challenge),
        }
    }

    /// Called when the server reports success, with its additional data if
    /// any. For SCRAM this checks the server's signature (`v=`), unless it
    /// already came as a challenge, and fails if it is missing or wrong;
    /// other mechanisms ignore additional data.
    pub fn finish(&mut self, additional: Option<&[u8]>) -> Result<(), ClientError> {
        if self.phase == Phase::Finished {
            return Err(ClientError::CallerMisuse(
                "finish() called on a finished exchange",
            ));
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        if phase == Phase::Start && self.mechanism.has_initial_response() {
            return Err(ClientError::UnexpectedSuccess(
                "server reported success before the client sent its credentials",
            ));
        }
        match &mut self.mech {
            Mech::Plain(m) => m.finish(),
            Mech::Login(m) => m.finish(),
            Mech::Bearer(m) => m.finish(),
            Mech::Scram(m) => m.finish(additional),
        }
    }

    fn first_message(&self) -> Option<Vec<u8>> {
        match &self.mech {
            Mech::Plain(m) => Some(m.first_message()),
            Mech::Login(_) => None,
            Mech::Bearer(m) => Some(m.first_message()),
            Mech::Scram(m) => Some(m.first_message()),
        }
    }
}
