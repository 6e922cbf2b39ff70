//! An in-memory [`MaildropStore`]: users' messages in a shared map, with the
//! per-user lock POP3 requires.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::{Maildrop, MaildropRefusal, MaildropStore, MessageInfo, is_valid_uid};
use crate::error::UsageError;
use crate::multiline::wire_form;

#[derive(Debug, Clone)]
struct Stored {
    uid: String,
    data: Bytes,
}

#[derive(Debug, Default)]
struct Mailbox {
    messages: Vec<Stored>,
    locked: bool,
}

/// Maildrops in memory, shared by every clone (wrap nothing: it is an
/// `Arc` inside). A user without messages has an empty maildrop.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<HashMap<String, Mailbox>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Mailbox>> {
        // A panic elsewhere while holding the lock leaves consistent data:
        // every update below is a single push, retain or flag change.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a message to `user`'s maildrop. Line endings are turned into
    /// CRLF and an unfinished last line is closed, the form the message
    /// takes on the wire, so sizes are exact. Fails if `uid` is not a valid
    /// unique id or is already used there.
    pub fn add(&self, user: &str, uid: &str, data: &[u8]) -> Result<(), UsageError> {
        if !is_valid_uid(uid) {
            return Err(UsageError::InvalidArgument(format!(
                "unique id {uid:?} is not 1-70 characters from 0x21-0x7E"
            )));
        }
        let mut map = self.map();
        let mailbox = map.entry(user.to_owned()).or_default();
        if mailbox.messages.iter().any(|m| m.uid == uid) {
            return Err(UsageError::InvalidArgument(format!(
                "unique id {uid:?} already used in {user}'s maildrop"
            )));
        }
        mailbox.messages.push(Stored {
            uid: uid.to_owned(),
            data: Bytes::from(wire_form(data)),
        });
        Ok(())
    }

    /// `user`'s messages now: unique id and content.
    pub fn messages(&self, user: &str) -> Vec<(String, Bytes)> {
        self.map().get(user).map_or_else(Vec::new, |m| {
            m.messages
                .iter()
                .map(|s| (s.uid.clone(), s.data.clone()))
                .collect()
        })
    }

    /// Whether a session holds `user`'s maildrop.
    pub fn is_locked(&self, user: &str) -> bool {
        self.map().get(user).is_some_and(|m| m.locked)
    }
}

impl MaildropStore for MemoryStore {
    type Maildrop = MemoryMaildrop;

    fn lock(&self, user: &str) -> Result<MemoryMaildrop, MaildropRefusal> {
        let mut map = self.map();
        let mailbox = map.entry(user.to_owned()).or_default();
        if mailbox.locked {
            return Err(MaildropRefusal::InUse);
        }
        mailbox.locked = true;
        Ok(MemoryMaildrop {
            store: self.clone(),
            user: user.to_owned(),
            snapshot: mailbox.messages.clone(),
        })
    }
}

/// One user's maildrop in a [`MemoryStore`], locked until dropped.
#[derive(Debug)]
pub struct MemoryMaildrop {
    store: MemoryStore,
    user: String,
    /// The messages when the lock was taken (contents are shared, not
    /// copied).
    snapshot: Vec<Stored>,
}

impl MemoryMaildrop {
    /// Whose maildrop this is.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The unique id of message `index`.
    pub fn uid(&self, index: usize) -> Option<&str> {
        self.snapshot.get(index).map(|s| s.uid.as_str())
    }
}

impl Maildrop for MemoryMaildrop {
    fn messages(&self) -> Vec<MessageInfo> {
        self.snapshot
            .iter()
            .map(|s| MessageInfo {
                size: s.data.len() as u64,
                uid: s.uid.clone(),
            })
            .collect()
    }

    fn read(&mut self, index: usize, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data = &self
            .snapshot
            .get(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such message"))?
            .data;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, deleted: &[usize]) -> io::Result<()> {
        let gone: Vec<&str> = deleted
            .iter()
            .filter_map(|&i| self.snapshot.get(i).map(|s| s.uid.as_str()))
            .collect();
        let mut map = self.store.map();
        if let Some(mailbox) = map.get_mut(&self.user) {
            // Messages delivered since the lock was taken stay.
            mailbox.messages.retain(|m| !gone.contains(&m.uid.as_str()));
        }
        Ok(())
    }
}

impl Drop for MemoryMaildrop {
    fn drop(&mut self) {
        if let Some(mailbox) = self.store.map().get_mut(&self.user) {
            mailbox.locked = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_read_commit_release() {
        let store = MemoryStore::new();
        store.add("alice", "a1", b"one\n").unwrap();
        store.add("alice", "a2", b"two\r\n").unwrap();
        assert!(store.add("alice", "a2", b"dup").is_err());
        assert!(store.add("alice", "bad id", b"x").is_err());
        let mut drop1 = store.lock("alice").unwrap();
        assert!(store.is_locked("alice"));
        assert_eq!(store.lock("alice").err(), Some(MaildropRefusal::InUse));
        let list = drop1.messages();
        assert_eq!(list[0].size, 5);
        let mut buf = [0u8; 3];
        assert_eq!(drop1.read(0, 0, &mut buf).unwrap(), 3);
        assert_eq!(&buf, b"one");
        assert_eq!(drop1.read(0, 3, &mut buf).unwrap(), 2);
        assert_eq!(drop1.read(0, 5, &mut buf).unwrap(), 0);
        assert!(drop1.read(9, 0, &mut buf).is_err());
        drop1.commit(&[0]).unwrap();
        drop(drop1);
        assert!(!store.is_locked("alice"));
        assert_eq!(store.messages("alice").len(), 1);
        // A user nobody wrote to has an empty maildrop.
        assert!(store.lock("bob").unwrap().messages().is_empty());
    }
}
