//! # postel-smtp
//!
//! SMTP and ESMTP (RFC 5321 and its extensions) as Sans-IO codecs and
//! session state machines. Nothing here opens a socket, spawns a task or
//! reads a clock: bytes and time go in, events and bytes to write come out.
//! Any chunking of the input, down to one byte at a time, gives the same
//! result.
//!
//! - [`command`], [`reply`], [`address`], [`params`], [`extensions`]: the codecs.
//! - [`data`]: DATA dot-unstuffing (with the SMTP smuggling defences) and dot-stuffing.
//! - [`server::ServerSession`]: a server (or LMTP server) session.
//! - [`client::ClientSession`]: a client that delivers messages.
//!
//! ## A server session, driven by hand
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
//!
//! let now = Instant::now();
//! let config = Arc::new(ServerConfig::new("mx.example.org"));
//! let mut session = ServerSession::new(config, ConnectionInfo::default(), now);
//! assert!(session.poll_transmit().unwrap().starts_with(b"220 mx.example.org"));
//!
//! session.enqueue_input(now, b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n");
//! let mut message = Vec::new();
//! let mut input: Vec<&[u8]> = vec![b"RCPT TO:<b@example.org>\r\nDATA\r\n", b"Hi!\r\n.\r\nQUIT\r\n"];
//! loop {
//!     while let Some(event) = session.poll_event() {
//!         match event {
//!             ServerEvent::MessageData(chunk) => message.extend_from_slice(&chunk),
//!             // Make the message durable here, then acknowledge it.
//!             ServerEvent::MessageEnd { .. } => session.accept().unwrap(),
//!             e if e.needs_decision() => session.accept().unwrap(),
//!             _ => {}
//!         }
//!     }
//!     let _reply_bytes = session.poll_transmit(); // write these to the client
//!     if session.is_closed() { break; }
//!     session.enqueue_input(now, input.remove(0));
//! }
//! assert_eq!(message, b"Hi!\r\n");
//! ```

pub mod address;
pub mod client;
pub mod command;
pub mod data;
pub mod error;
pub mod extensions;
pub mod params;
pub mod reply;
mod scan;
pub mod server;
#[cfg(feature = "tokio")]
pub mod tokio_io;
pub mod xtext;

pub use address::{ForwardPath, Mailbox, ReversePath};
pub use command::Command;
pub use error::{CommandError, ReplyError, UsageError};
pub use reply::{EnhancedCode, Reply};
