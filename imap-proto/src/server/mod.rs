//! The server side: a Sans-IO session over a [`MailboxStore`], an
//! in-memory store, and what FETCH, SEARCH, SORT and THREAD compute from
//! message bytes.
//!
//! - [`ServerSession`]: states (RFC 9051 §3), tags, BAD versus NO, LOGIN,
//!   AUTHENTICATE through postel-sasl, STARTTLS with the
//!   plaintext-injection defence, IDLE, APPEND streamed into the store,
//!   and the selected mailbox's message numbers, UIDs and mod-sequences
//!   kept consistent with other sessions' changes.
//! - [`MailboxStore`]: the storage trait; [`MemoryStore`] implements it.
//! - [`message`], [`search`], [`sort`]: ENVELOPE, BODYSTRUCTURE, sections,
//!   search keys, SORT and THREAD from the message bytes.
//!
//! ```
//! use std::{sync::Arc, time::Instant};
//! use postel_imap::server::{MemoryStore, ServerConfig, ServerEvent, ServerSession};
//!
//! let store = MemoryStore::new();
//! store.add_user("alice");
//! let mut st = store.clone();
//! let config = Arc::new(ServerConfig::new("ready"));
//! let mut session = ServerSession::new(config, Instant::now());
//! session.enqueue_input(Instant::now(), b"a LOGIN alice secret\r\nb SELECT INBOX\r\n");
//! while let Some(event) = session.poll_event(&mut st) {
//!     if let ServerEvent::Login { username, password } = event {
//!         // Check the password against your user database.
//!         let ok = username == "alice" && password.expose() == b"secret";
//!         session.login_verified(ok.then_some(username)).unwrap();
//!     }
//! }
//! let out = String::from_utf8(session.poll_transmit().unwrap()).unwrap();
//! assert!(out.contains("b OK [READ-WRITE] SELECT completed"));
//! ```

mod config;
mod event;
mod fetch;
mod mailboxes;
mod memory;
pub mod message;
pub mod search;
mod selected;
mod session;
pub mod sort;
mod store;
mod view;

pub use config::{Extensions, Limits, ServerConfig, Timeouts};
pub use event::{ServerEvent, SessionState};
pub use memory::{Clock, MemoryAppend, MemoryStore};
pub use session::ServerSession;
pub use store::{
    AppendSink, Changes, CopiedUids, DELIMITER, FlagChange, FlagsUpdated, MailboxInfo,
    MailboxSnapshot, MailboxStatus, MailboxStore, MessageMeta, MessageRecord, QuotaInfo,
    StoreError,
};
