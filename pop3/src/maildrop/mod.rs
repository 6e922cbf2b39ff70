//! Maildrops: what the application stores, behind two small synchronous
//! traits, and the glue that answers a session's maildrop events from them.
//!
//! The session itself never touches a maildrop. When a login succeeds it
//! emits [`OpenMaildrop`](crate::server::ServerEvent::OpenMaildrop), for
//! RETR and TOP it emits [`Retrieve`](crate::server::ServerEvent::Retrieve)
//! and takes the message back in chunks, and after QUIT it emits
//! [`Commit`](crate::server::ServerEvent::Commit). [`MaildropAgent`] answers
//! those three events from a [`MaildropStore`], reading each message a chunk
//! at a time so that a driver can write every chunk out before reading the
//! next: no message is ever held whole.
//!
//! [`MemoryStore`] is an in-memory store for tests and examples.

mod agent;
mod memory;

use std::io;

use crate::response::{Response, ResponseCode};

pub use agent::{DEFAULT_CHUNK_SIZE, MaildropAgent};
pub use memory::{MemoryMaildrop, MemoryStore};

/// One message of a maildrop, as LIST and UIDL describe it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageInfo {
    /// The exact size in octets as sent: with CRLF line endings and the
    /// last line closed, before byte-stuffing (RFC 1939 §5). See
    /// [`crate::multiline::wire_size`].
    pub size: u64,
    /// The unique id (UIDL): 1 to 70 characters from 0x21 to 0x7E, stable
    /// across sessions (RFC 1939 §7).
    pub uid: String,
}

/// Whether `uid` can be a UIDL unique id: 1 to 70 characters in 0x21..=0x7E.
pub fn is_valid_uid(uid: &str) -> bool {
    (1..=70).contains(&uid.len()) && uid.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Why a maildrop cannot be opened for a user who logged in correctly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaildropRefusal {
    /// Another session holds the lock: `-ERR [IN-USE]` (RFC 2449 §8.1.1).
    InUse,
    /// The user logged in too soon after the last time: `-ERR
    /// [LOGIN-DELAY]` (RFC 2449 §8.1.2).
    LoginDelay,
    /// A temporary problem (storage unavailable): `-ERR [SYS/TEMP] text`.
    Temporary(String),
    /// A permanent problem (the account is disabled): `-ERR [SYS/PERM] text`.
    Permanent(String),
}

impl MaildropRefusal {
    /// The response the session sends for this refusal.
    pub fn response(&self) -> Response {
        match self {
            MaildropRefusal::InUse => {
                Response::err_with(ResponseCode::InUse, "Maildrop is locked by another session")
            }
            MaildropRefusal::LoginDelay => Response::err_with(
                ResponseCode::LoginDelay,
                "Logged in too recently; try again later",
            ),
            MaildropRefusal::Temporary(text) => {
                Response::err_with(ResponseCode::SysTemp, text.clone())
            }
            MaildropRefusal::Permanent(text) => {
                Response::err_with(ResponseCode::SysPerm, text.clone())
            }
        }
    }
}

/// One user's maildrop, locked for one session. The lock lasts as long as
/// the value: dropping it releases the lock without removing anything.
pub trait Maildrop {
    /// The messages as they were when the lock was taken, in order: message
    /// number `n` is index `n - 1`. Called once, right after locking.
    fn messages(&self) -> Vec<MessageInfo>;

    /// Reads the content of message `index` from byte `offset` into `buf`,
    /// returning how many bytes were read; 0 means the end. The content
    /// should be in its wire form (CRLF line endings, last line closed), so
    /// that it matches the size reported; on the wire a bare LF becomes CRLF
    /// and an open last line is closed anyway.
    fn read(&mut self, index: usize, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Removes the messages at these indexes (ascending) for good. Called at
    /// most once, in the UPDATE state after QUIT; never when the connection
    /// drops or times out.
    fn commit(&mut self, deleted: &[usize]) -> io::Result<()>;
}

/// Where maildrops live: locks and opens one per user.
pub trait MaildropStore {
    /// The maildrop handle (it holds the lock).
    type Maildrop: Maildrop;

    /// Locks `user`'s maildrop exclusively (RFC 1939 §4) and opens it. The
    /// user's credentials have been checked already.
    fn lock(&self, user: &str) -> Result<Self::Maildrop, MaildropRefusal>;
}
