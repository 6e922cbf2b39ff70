//! # postel-pop3
//!
//! POP3 (RFC 1939) with its extensions — CAPA and response codes (RFC
//! 2449), STLS (RFC 2595), AUTH-RESP-CODE (RFC 3206), SASL (RFC 5034, via
//! `postel-sasl`), UTF8 and LANG (RFC 6856) — as Sans-IO codecs and session
//! state machines. Nothing here opens a socket, spawns a task or reads a
//! clock: bytes and time go in, events and bytes to write come out. Any
//! chunking of the input, down to one byte at a time, gives the same
//! result.
//!
//! - [`command`], [`response`], [`capability`]: the codecs.
//! - [`multiline`]: byte-stuffing, streaming both ways.
//! - [`server::ServerSession`]: a server session; [`maildrop`]: the storage
//!   traits, an in-memory store and the agent that connects them.
//! - [`client::ClientSession`]: a client that logs in and fetches mail.
//! - [`apop`]: APOP timestamps and digests.
//! - `tokio_io` (feature `tokio`): drivers over tokio streams, STLS through
//!   tokio-rustls.
//!
//! ## How the server side fits together
//!
//! The session decides everything about the protocol: state, limits,
//! responses, which messages are marked deleted. The application decides
//! everything else through events that wait for its answer
//! ([`server::ServerEvent::needs_decision`]):
//!
//! 1. credentials: `Login` (USER/PASS), `Apop`, `AuthVerify` (SASL);
//! 2. `OpenMaildrop`: lock the user's maildrop and list its messages, or
//!    refuse with `[IN-USE]`, `[LOGIN-DELAY]`, `[SYS/TEMP]`, `[SYS/PERM]`;
//! 3. `Retrieve` (RETR, TOP): hand the message over in chunks of any size
//!    with `message_data`; the session byte-stuffs each chunk into its
//!    output at once and cuts TOP after the wanted lines, so writing the
//!    output between chunks keeps one chunk in memory, whatever the size of
//!    the message;
//! 4. `Commit` (QUIT in TRANSACTION): remove the messages marked deleted.
//!    Nothing else ever removes a message: a dropped connection or a
//!    timeout leaves the maildrop as it was.
//!
//! Steps 2 to 4 are the same for every application, so
//! [`maildrop::MaildropAgent`] does them from a [`maildrop::MaildropStore`],
//! a small synchronous trait (lock a user's maildrop; list, read at an
//! offset, commit deletions). [`maildrop::MemoryStore`] implements it in
//! memory. The session stays testable on its own, and the agent is what
//! the tokio driver uses.
//!
//! ## A server session, driven by hand
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use postel_pop3::apop::{ApopTimestamp, verify_apop};
//! use postel_pop3::maildrop::{MaildropAgent, MemoryStore};
//! use postel_pop3::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
//!
//! let store = MemoryStore::new();
//! store.add("mrose", "m1", b"Subject: one\r\n\r\n.dot line\r\n").unwrap();
//! store.add("mrose", "m2", b"Subject: two\r\n\r\nbody\r\n").unwrap();
//!
//! let now = Instant::now();
//! let config = Arc::new(ServerConfig::new("pop.example.org"));
//! // The timestamp must be new for every connection (randomness from the caller).
//! let timestamp = ApopTimestamp::new("<1896.697170952@pop.example.org>").unwrap();
//! let mut session = ServerSession::with_apop(config, ConnectionInfo::default(), timestamp, now);
//! let mut agent = MaildropAgent::new(store.clone());
//!
//! let digest = postel_pop3::apop::apop_digest("<1896.697170952@pop.example.org>", "tanstaaf");
//! let input = format!("APOP mrose {digest}\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
//! session.enqueue_input(now, input.as_bytes());
//! let mut wire = Vec::new();
//! while !session.is_closed() {
//!     while let Some(event) = session.poll_event() {
//!         // The agent answers OpenMaildrop, Retrieve and Commit.
//!         if let Some(event) = agent.handle(&mut session, event).unwrap() {
//!             if let ServerEvent::Apop { timestamp, digest, .. } = event {
//!                 // Look up the user's shared secret, then:
//!                 session.login_verified(verify_apop(&timestamp, "tanstaaf", &digest)).unwrap();
//!             }
//!         }
//!     }
//!     while agent.is_streaming() {
//!         agent.pump(&mut session).unwrap();
//!         wire.extend(session.poll_transmit().unwrap_or_default()); // write to the client
//!     }
//!     wire.extend(session.poll_transmit().unwrap_or_default());
//! }
//! let wire = String::from_utf8(wire).unwrap();
//! assert!(wire.contains("+OK mrose's maildrop has 2 messages (49 octets)\r\n+OK 2 49\r\n"));
//! assert!(wire.contains("+OK 27 octets\r\nSubject: one\r\n\r\n..dot line\r\n.\r\n"));
//! assert!(wire.ends_with("+OK pop.example.org POP3 server signing off (1 message left)\r\n"));
//! assert_eq!(store.messages("mrose").len(), 1);
//! ```

pub mod apop;
pub mod capability;
pub mod client;
pub mod command;
pub mod error;
pub mod lang;
pub mod maildrop;
pub mod multiline;
pub mod response;
pub mod server;
#[cfg(feature = "tokio")]
pub mod tokio_io;

pub use command::Command;
pub use error::{CommandError, ResponseError, UsageError};
pub use response::{Response, ResponseCode};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
