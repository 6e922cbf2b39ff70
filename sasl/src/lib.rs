//! Sans-IO SASL mechanisms for SMTP (RFC 4954), IMAP and POP3 sessions.
//!
//! Both sides of `PLAIN` (RFC 4616), `LOGIN` (draft-murchison-sasl-login),
//! `XOAUTH2` (Google), `OAUTHBEARER` (RFC 7628) and `SCRAM-SHA-256`
//! (RFC 5802, RFC 7677; no channel binding).
//!
//! The crate does no I/O, reads no clock and draws no random numbers: the
//! protocol layer moves bytes, and the caller supplies nonces and checks
//! credentials. A server never sees a password store: a
//! [`ServerExchange`] hands the client's credentials out in a
//! [`ServerStep::Verify`] and waits for the caller's [`Verification`].
//! Malformed or oversized input fails the exchange with an error, never a
//! panic.
//!
//! The [`wire`] module handles the base64 framing the three protocols
//! share: challenges and responses are raw bytes everywhere else.
//!
//! # A `PLAIN` exchange on the server
//!
//! ```
//! use postel_sasl::{
//!     wire, Mechanism, ServerExchange, ServerOptions, ServerStep, Verification, VerifyRequest,
//! };
//!
//! // C: AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm
//! let initial = wire::parse_initial_response(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
//! let mut exchange = ServerExchange::new(Mechanism::Plain, ServerOptions::default());
//! let step = exchange.start(Some(&initial));
//! let ServerStep::Verify(VerifyRequest::Password { authcid, password, .. }) = step else {
//!     panic!("expected a password check, got {step:?}");
//! };
//! // The caller checks the password against its own store.
//! let ok = authcid == "tim" && password == "tanstaaftanstaaf";
//! let verdict = if ok { Verification::Accepted } else { Verification::Rejected };
//! match exchange.verified(verdict) {
//!     ServerStep::Success { identity, .. } => assert_eq!(identity.authcid, "tim"),
//!     other => panic!("expected success, got {other:?}"),
//! }
//! // S: 235 2.7.0 Authentication successful
//! ```
//!
//! # A `SCRAM-SHA-256` exchange, both sides
//!
//! ```
//! use postel_sasl::{
//!     ClientCredentials, ClientExchange, Mechanism, ScramCredentials, ServerExchange,
//!     ServerOptions, ServerStep, Verification, VerifyRequest,
//! };
//!
//! // What the server stored when the password was set.
//! let stored = ScramCredentials::derive("pencil", b"per-user salt", 4096);
//!
//! // Nonces come from the caller's secure random source.
//! let mut client = ClientExchange::new(
//!     Mechanism::ScramSha256,
//!     ClientCredentials::password("user", "pencil"),
//!     Some("rOprNGfwEbeRWgbNEkqO".to_owned()),
//! )
//! .unwrap();
//! let mut server = ServerExchange::new(Mechanism::ScramSha256, ServerOptions::default());
//!
//! // client-first, as the initial response
//! let first = client.initial_response().unwrap();
//! let ServerStep::Verify(VerifyRequest::Scram { username, .. }) = server.start(Some(&first)) else {
//!     panic!("expected a SCRAM lookup");
//! };
//! assert_eq!(username, "user");
//! let step = server.verified(Verification::Scram {
//!     credentials: stored.clone(),
//!     server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".to_owned(),
//! });
//! // server-first, then client-final
//! let ServerStep::Challenge(server_first) = step else { panic!("expected a challenge") };
//! let client_final = client.respond(&server_first).unwrap();
//! // success, with the server-final message as additional data
//! let ServerStep::Success { identity, additional } = server.respond(&client_final) else {
//!     panic!("expected success");
//! };
//! assert_eq!(identity.authcid, "user");
//! // The client checks the server's signature: the server knew the password too.
//! client.finish(additional.as_deref()).unwrap();
//! ```
#![forbid(unsafe_code)]

mod bearer;
mod client;
mod error;
mod gs2;
mod login;
mod mechanism;
mod plain;
mod scram;
mod server;
pub mod wire;

pub use bearer::{OAUTHBEARER_ERROR, XOAUTH2_ERROR};
pub use client::{
    ClientCredentials, ClientExchange, ClientOptions, ClientSecret, DEFAULT_MAX_CHALLENGE_LEN,
    DEFAULT_SCRAM_MAX_ITERATIONS,
};
pub use error::{AuthError, ClientError, UnknownMechanism, WireError};
pub use login::{PASSWORD_CHALLENGE, USERNAME_CHALLENGE};
pub use mechanism::Mechanism;
pub use scram::{KEY_LEN, ScramCredentials};
pub use server::{
    DEFAULT_MAX_RESPONSE_LEN, DEFAULT_SCRAM_MIN_ITERATIONS, Identity, ServerExchange,
    ServerOptions, ServerStep, Verification, VerifyRequest,
};
