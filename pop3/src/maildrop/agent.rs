//! [`MaildropAgent`]: answers a session's maildrop events from a
//! [`MaildropStore`], streaming messages a chunk at a time.

use std::io;

use super::{Maildrop, MaildropStore};
use crate::error::UsageError;
use crate::multiline::Flow;
use crate::server::{ServerEvent, ServerSession};

/// Default chunk size for [`MaildropAgent::pump`]: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
struct Reading {
    index: usize,
    offset: u64,
}

/// Answers [`ServerEvent::OpenMaildrop`], [`ServerEvent::Retrieve`] and
/// [`ServerEvent::Commit`] from a [`MaildropStore`], and holds the locked
/// maildrop for the session (dropping the agent releases the lock, without
/// removing anything).
///
/// A retrieval is not answered at once: [`handle`](Self::handle) starts it,
/// and each [`pump`](Self::pump) moves one chunk from the maildrop into the
/// session. A driver writes the session's output after every pump, so only
/// one chunk of a message is in memory at a time.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use postel_pop3::maildrop::{MaildropAgent, MemoryStore};
/// use postel_pop3::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
///
/// let store = MemoryStore::new();
/// store.add("alice", "m1", b"Subject: hi\r\n\r\nHello\r\n").unwrap();
/// let mut config = ServerConfig::new("pop.example");
/// config.allow_plaintext_login = true;
/// let now = Instant::now();
/// let mut session = ServerSession::new(Arc::new(config), ConnectionInfo::default(), now);
/// let mut agent = MaildropAgent::new(store.clone());
/// session.enqueue_input(now, b"USER alice\r\nPASS secret\r\nRETR 1\r\n");
/// let mut wire = Vec::new();
/// loop {
///     while let Some(event) = session.poll_event() {
///         match agent.handle(&mut session, event).unwrap() {
///             Some(ServerEvent::Login { password, .. }) => {
///                 session.login_verified(password.as_str() == "secret").unwrap()
///             }
///             _ => {}
///         }
///     }
///     while agent.is_streaming() {
///         agent.pump(&mut session).unwrap();
///         wire.extend(session.poll_transmit().unwrap_or_default()); // write it out
///     }
///     wire.extend(session.poll_transmit().unwrap_or_default());
///     if session.wants_input() { break; }
/// }
/// assert!(wire.ends_with(b"+OK 22 octets\r\nSubject: hi\r\n\r\nHello\r\n.\r\n"));
/// assert!(store.is_locked("alice"));
/// drop(agent);
/// assert!(!store.is_locked("alice"));
/// ```
#[derive(Debug)]
pub struct MaildropAgent<S: MaildropStore> {
    store: S,
    maildrop: Option<S::Maildrop>,
    reading: Option<Reading>,
    buffer: Vec<u8>,
}

impl<S: MaildropStore> MaildropAgent<S> {
    /// An agent for `store`, reading [`DEFAULT_CHUNK_SIZE`] bytes per pump.
    pub fn new(store: S) -> Self {
        Self::with_chunk_size(store, DEFAULT_CHUNK_SIZE)
    }

    /// An agent reading `chunk_size` bytes (at least 1) per pump.
    pub fn with_chunk_size(store: S, chunk_size: usize) -> Self {
        Self {
            store,
            maildrop: None,
            reading: None,
            buffer: vec![0; chunk_size.max(1)],
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The locked maildrop, once the session opened it.
    pub fn maildrop(&self) -> Option<&S::Maildrop> {
        self.maildrop.as_ref()
    }

    /// Answers the event if it is one of the maildrop's; any other event is
    /// given back for the application. A `Retrieve` is only started: call
    /// [`pump`](Self::pump) while [`is_streaming`](Self::is_streaming).
    pub fn handle(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> Result<Option<ServerEvent>, UsageError> {
        match event {
            ServerEvent::OpenMaildrop { user, .. } => {
                match self.store.lock(&user) {
                    Ok(maildrop) => {
                        let messages = maildrop.messages();
                        session.maildrop_opened(messages)?;
                        self.maildrop = Some(maildrop);
                    }
                    Err(refusal) => session.maildrop_refused(refusal)?,
                }
                Ok(None)
            }
            ServerEvent::Retrieve { number, .. } => {
                if self.maildrop.is_none() {
                    session.message_failed()?;
                } else {
                    self.reading = Some(Reading {
                        index: number as usize - 1,
                        offset: 0,
                    });
                }
                Ok(None)
            }
            ServerEvent::Commit { deleted } => {
                let indexes: Vec<usize> = deleted.iter().map(|&n| n as usize - 1).collect();
                let removed = match self.maildrop.as_mut() {
                    Some(m) => m.commit(&indexes).is_ok(),
                    None => deleted.is_empty(),
                };
                // UPDATE ends with the lock released (RFC 1939 §6).
                self.maildrop = None;
                session.commit_finished(removed)?;
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    /// Whether a message is being streamed.
    pub fn is_streaming(&self) -> bool {
        self.reading.is_some()
    }

    /// Moves the next chunk of the message being retrieved into the session
    /// (and ends it when the maildrop has no more, or TOP has enough). A
    /// read error fails the retrieval (see
    /// [`ServerSession::message_failed`]) and is returned after that, for
    /// logging.
    pub fn pump(&mut self, session: &mut ServerSession) -> Result<Option<io::Error>, UsageError> {
        let (Some(reading), Some(maildrop)) = (self.reading.as_mut(), self.maildrop.as_mut())
        else {
            self.reading = None;
            return Ok(None);
        };
        match maildrop.read(reading.index, reading.offset, &mut self.buffer) {
            Ok(0) => {
                self.reading = None;
                session.message_end()?;
            }
            Ok(n) => {
                reading.offset += n as u64;
                if session.message_data(&self.buffer[..n])? == Flow::Done {
                    self.reading = None;
                    session.message_end()?;
                }
            }
            Err(e) => {
                self.reading = None;
                session.message_failed()?;
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Releases the maildrop's lock now (as dropping the agent does),
    /// removing nothing.
    pub fn release(&mut self) {
        self.reading = None;
        self.maildrop = None;
    }
}
