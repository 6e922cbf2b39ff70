#![doc = include_str!("../README.md")]
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
