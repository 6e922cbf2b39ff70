//! An in-memory [`MailboxStore`] for tests and examples. Clones share the
//! same data, so every connection of a server gets a clone and sees the
//! others' changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::store::{
    AppendSink, Changes, CopiedUids, DELIMITER, FlagChange, FlagsUpdated, MailboxInfo,
    MailboxSnapshot, MailboxStatus, MailboxStore, MessageMeta, MessageRecord, StoreError,
};
use crate::datetime::{Date, DateTime};
use crate::flag::Flag;

/// Where the store gets the current time for messages appended without a
/// date. The store never reads a clock itself.
pub type Clock = Arc<dyn Fn() -> DateTime + Send + Sync>;

/// The in-memory store. See the [module documentation](self).
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: Clock,
    max_message: u64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, Account>,
    next_uid_validity: u32,
}

#[derive(Default)]
struct Account {
    mailboxes: BTreeMap<String, Folder>,
    subscriptions: BTreeSet<String>,
}

struct Folder {
    uid_validity: u32,
    uid_next: u32,
    highest_modseq: u64,
    messages: Vec<Stored>,
    /// Expunged UIDs with the mod-sequence of the expunge.
    expunged: Vec<(u32, u64)>,
    special_use: Vec<String>,
    keywords: BTreeSet<String>,
}

#[derive(Clone)]
struct Stored {
    meta: MessageMeta,
    internal_date: DateTime,
    save_date: DateTime,
    raw: Bytes,
}

/// A message being appended to a [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryAppend {
    user: String,
    mailbox: String,
    flags: Vec<Flag>,
    date: DateTime,
    data: Vec<u8>,
    limit: u64,
}

impl AppendSink for MemoryAppend {
    fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        if self.data.len() as u64 + data.len() as u64 > self.limit {
            return Err(StoreError::Limit("message too large".into()));
        }
        self.data.extend_from_slice(data);
        Ok(())
    }
}

/// 1 January 2000, 00:00:00 +0000: the date of the default clock.
fn epoch() -> DateTime {
    DateTime::new(Date::new(2000, 1, 1).expect("valid date"), 0, 0, 0, 0).expect("valid time")
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store whose clock always says 1 January 2000; see
    /// [`with_clock`](Self::with_clock).
    pub fn new() -> Self {
        Self::with_clock(Arc::new(epoch))
    }

    /// An empty store that dates appended messages with `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                users: HashMap::new(),
                next_uid_validity: 1,
            })),
            clock,
            max_message: 64 * 1024 * 1024,
        }
    }

    /// Sets the largest message accepted by APPEND, COPY aside (default
    /// 64 MiB).
    pub fn set_max_message(&mut self, max: u64) {
        self.max_message = max;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves consistent data:
        // every change is made in one step under the lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a user with an empty INBOX (nothing happens if it exists).
    pub fn add_user(&self, user: &str) {
        let mut inner = self.lock();
        if inner.users.contains_key(user) {
            return;
        }
        let validity = inner.next_validity();
        let mut account = Account::default();
        account
            .mailboxes
            .insert("INBOX".into(), Folder::new(validity, Vec::new()));
        account.subscriptions.insert("INBOX".into());
        inner.users.insert(user.to_owned(), account);
    }

    /// Adds a message directly (loading a mailbox at start): returns its UID.
    pub fn insert(
        &self,
        user: &str,
        mailbox: &str,
        raw: Bytes,
        flags: &[Flag],
        date: Option<DateTime>,
    ) -> Result<u32, StoreError> {
        let now = (self.clock)();
        let mut inner = self.lock();
        let folder = inner.folder_mut(user, mailbox)?;
        Ok(folder.add(raw, flags, date.unwrap_or(now), now))
    }

    /// The messages of a mailbox: UID, flags and bytes (for tests).
    pub fn messages(&self, user: &str, mailbox: &str) -> Vec<(u32, Vec<Flag>, Bytes)> {
        let mut inner = self.lock();
        match inner.folder_mut(user, mailbox) {
            Ok(f) => f
                .messages
                .iter()
                .map(|m| (m.meta.uid, m.meta.flags.clone(), m.raw.clone()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Inner {
    fn next_validity(&mut self) -> u32 {
        let v = self.next_uid_validity.max(1);
        self.next_uid_validity = v.wrapping_add(1).max(1);
        v
    }

    fn account(&mut self, user: &str) -> Result<&mut Account, StoreError> {
        self.users.get_mut(user).ok_or(StoreError::NoPerm)
    }

    fn folder_mut(&mut self, user: &str, name: &str) -> Result<&mut Folder, StoreError> {
        self.account(user)?
            .mailboxes
            .get_mut(name)
            .ok_or(StoreError::NonExistent)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(DELIMITER)
        && !name.ends_with(DELIMITER)
        && !name.contains("//")
        && !name.chars().any(|c| c.is_control() || c == '*' || c == '%')
}

fn parent_names(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

fn is_inside(name: &str, parent: &str) -> bool {
    name.len() > parent.len()
        && name.starts_with(parent)
        && name[parent.len()..].starts_with(DELIMITER)
}

fn normalize_flags(flags: &[Flag]) -> Vec<Flag> {
    let mut out: Vec<Flag> = Vec::with_capacity(flags.len());
    for f in flags {
        if *f != Flag::Recent && !out.contains(f) {
            out.push(f.clone());
        }
    }
    out
}

impl Folder {
    fn new(uid_validity: u32, special_use: Vec<String>) -> Self {
        Self {
            uid_validity,
            uid_next: 1,
            highest_modseq: 1,
            messages: Vec::new(),
            expunged: Vec::new(),
            special_use,
            keywords: BTreeSet::new(),
        }
    }

    fn bump(&mut self) -> u64 {
        self.highest_modseq += 1;
        self.highest_modseq
    }

    fn note_keywords(&mut self, flags: &[Flag]) {
        for f in flags {
            if let Flag::Keyword(k) = f {
                self.keywords.insert(k.clone());
            }
        }
    }

    fn add(&mut self, raw: Bytes, flags: &[Flag], date: DateTime, now: DateTime) -> u32 {
        let uid = self.uid_next;
        self.uid_next = self.uid_next.saturating_add(1);
        let modseq = self.bump();
        let flags = normalize_flags(flags);
        self.note_keywords(&flags);
        self.messages.push(Stored {
            meta: MessageMeta { uid, flags, modseq },
            internal_date: date,
            save_date: now,
            raw,
        });
        uid
    }

    fn find(&self, uid: u32) -> Option<&Stored> {
        self.messages
            .binary_search_by_key(&uid, |m| m.meta.uid)
            .ok()
            .and_then(|i| self.messages.get(i))
    }

    fn take_stored(&self, uids: &[u32]) -> Vec<Stored> {
        uids.iter().filter_map(|u| self.find(*u).cloned()).collect()
    }

    fn remove(&mut self, uids: &[u32]) -> Vec<u32> {
        let set: BTreeSet<u32> = uids.iter().copied().collect();
        let mut removed = Vec::new();
        self.messages.retain(|m| {
            if set.contains(&m.meta.uid) {
                removed.push(m.meta.uid);
                false
            } else {
                true
            }
        });
        if !removed.is_empty() {
            let modseq = self.bump();
            self.expunged.extend(removed.iter().map(|u| (*u, modseq)));
        }
        removed
    }

    fn snapshot(&self) -> MailboxSnapshot {
        MailboxSnapshot {
            uid_validity: self.uid_validity,
            uid_next: self.uid_next,
            highest_modseq: self.highest_modseq,
            messages: self.messages.iter().map(|m| m.meta.clone()).collect(),
            keywords: self.keywords.iter().cloned().collect(),
            writable: true,
        }
    }
}

impl MailboxStore for MemoryStore {
    type Append = MemoryAppend;

    fn list(&mut self, user: &str) -> Result<Vec<MailboxInfo>, StoreError> {
        let mut inner = self.lock();
        let account = inner.account(user)?;
        Ok(account
            .mailboxes
            .iter()
            .map(|(name, f)| MailboxInfo {
                name: name.clone(),
                special_use: f.special_use.clone(),
                subscribed: account.subscriptions.contains(name),
            })
            .collect())
    }

    fn create(&mut self, user: &str, name: &str, special_use: &[String]) -> Result<(), StoreError> {
        if !valid_name(name) {
            return Err(StoreError::Cannot("invalid mailbox name".into()));
        }
        const KNOWN: [&str; 7] = [
            "All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash",
        ];
        if let Some(u) = special_use
            .iter()
            .find(|u| !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(u)))
        {
            return Err(StoreError::Cannot(format!(
                "unknown special-use attribute \\{u}"
            )));
        }
        let mut inner = self.lock();
        if inner.account(user)?.mailboxes.contains_key(name) {
            return Err(StoreError::AlreadyExists);
        }
        let parents: Vec<String> = parent_names(name).map(str::to_owned).collect();
        for p in parents {
            if !inner.account(user)?.mailboxes.contains_key(&p) {
                let v = inner.next_validity();
                inner
                    .account(user)?
                    .mailboxes
                    .insert(p, Folder::new(v, Vec::new()));
            }
        }
        let v = inner.next_validity();
        inner
            .account(user)?
            .mailboxes
            .insert(name.to_owned(), Folder::new(v, special_use.to_vec()));
        Ok(())
    }

    fn delete(&mut self, user: &str, name: &str) -> Result<(), StoreError> {
        if name == "INBOX" {
            return Err(StoreError::Cannot("INBOX cannot be deleted".into()));
        }
        let mut inner = self.lock();
        let account = inner.account(user)?;
        if !account.mailboxes.contains_key(name) {
            return Err(StoreError::NonExistent);
        }
        if account.mailboxes.keys().any(|k| is_inside(k, name)) {
            return Err(StoreError::HasChildren);
        }
        account.mailboxes.remove(name);
        Ok(())
    }

    fn rename(&mut self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        if !valid_name(to) {
            return Err(StoreError::Cannot("invalid mailbox name".into()));
        }
        let now = (self.clock)();
        let mut inner = self.lock();
        if !inner.account(user)?.mailboxes.contains_key(from) {
            return Err(StoreError::NonExistent);
        }
        if inner.account(user)?.mailboxes.contains_key(to) {
            return Err(StoreError::AlreadyExists);
        }
        if is_inside(to, from) {
            return Err(StoreError::Cannot(
                "cannot rename a mailbox below itself".into(),
            ));
        }
        for p in parent_names(to).map(str::to_owned).collect::<Vec<_>>() {
            if !inner.account(user)?.mailboxes.contains_key(&p) {
                let v = inner.next_validity();
                inner
                    .account(user)?
                    .mailboxes
                    .insert(p, Folder::new(v, Vec::new()));
            }
        }
        let v = inner.next_validity();
        let account = inner.account(user)?;
        if from == "INBOX" {
            // RFC 9051 §6.3.6: the messages move, INBOX stays and is empty.
            let inbox = account
                .mailboxes
                .get_mut("INBOX")
                .ok_or(StoreError::NonExistent)?;
            let mut fresh = Folder::new(v, Vec::new());
            for m in std::mem::take(&mut inbox.messages) {
                fresh.add(m.raw, &m.meta.flags, m.internal_date, now);
            }
            let uids: Vec<u32> = (1..inbox.uid_next).collect();
            inbox.remove(&uids);
            account.mailboxes.insert(to.to_owned(), fresh);
            return Ok(());
        }
        let moving: Vec<String> = account
            .mailboxes
            .keys()
            .filter(|k| k.as_str() == from || is_inside(k, from))
            .cloned()
            .collect();
        for old in moving {
            if let Some(folder) = account.mailboxes.remove(&old) {
                let new = format!("{to}{}", &old[from.len()..]);
                account.mailboxes.insert(new, folder);
            }
        }
        Ok(())
    }

    fn subscribe(&mut self, user: &str, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let account = inner.account(user)?;
        if subscribed {
            account.subscriptions.insert(name.to_owned());
        } else if !account.subscriptions.remove(name) {
            return Err(StoreError::NonExistent);
        }
        Ok(())
    }

    fn select(&mut self, user: &str, name: &str) -> Result<MailboxSnapshot, StoreError> {
        let mut inner = self.lock();
        Ok(inner.folder_mut(user, name)?.snapshot())
    }

    fn status(&mut self, user: &str, name: &str) -> Result<MailboxStatus, StoreError> {
        let mut inner = self.lock();
        let f = inner.folder_mut(user, name)?;
        Ok(MailboxStatus {
            messages: f.messages.len() as u32,
            uid_next: f.uid_next,
            uid_validity: f.uid_validity,
            unseen: f
                .messages
                .iter()
                .filter(|m| !m.meta.flags.contains(&Flag::Seen))
                .count() as u32,
            deleted: f
                .messages
                .iter()
                .filter(|m| m.meta.flags.contains(&Flag::Deleted))
                .count() as u32,
            size: f.messages.iter().map(|m| m.raw.len() as u64).sum(),
            highest_modseq: f.highest_modseq,
        })
    }

    fn changes(&mut self, user: &str, name: &str, since: u64) -> Result<Changes, StoreError> {
        let mut inner = self.lock();
        let f = inner.folder_mut(user, name)?;
        Ok(Changes {
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            highest_modseq: f.highest_modseq,
            changed: f
                .messages
                .iter()
                .filter(|m| m.meta.modseq > since)
                .map(|m| m.meta.clone())
                .collect(),
            expunged: {
                let mut v: Vec<u32> = f
                    .expunged
                    .iter()
                    .filter(|(_, m)| *m > since)
                    .map(|(u, _)| *u)
                    .collect();
                v.sort_unstable();
                v
            },
        })
    }

    fn fetch(&mut self, user: &str, name: &str, uid: u32) -> Result<MessageRecord, StoreError> {
        let mut inner = self.lock();
        let f = inner.folder_mut(user, name)?;
        let m = f.find(uid).ok_or(StoreError::NonExistent)?;
        Ok(MessageRecord {
            meta: m.meta.clone(),
            internal_date: m.internal_date,
            save_date: Some(m.save_date),
            raw: m.raw.clone(),
        })
    }

    fn store_flags(
        &mut self,
        user: &str,
        name: &str,
        uids: &[u32],
        change: FlagChange,
        flags: &[Flag],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdated, StoreError> {
        let mut inner = self.lock();
        let f = inner.folder_mut(user, name)?;
        let flags = normalize_flags(flags);
        f.note_keywords(&flags);
        let mut out = FlagsUpdated::default();
        for uid in uids {
            let Ok(i) = f.messages.binary_search_by_key(uid, |m| m.meta.uid) else {
                continue;
            };
            let current = f.messages[i].meta.clone();
            if unchanged_since.is_some_and(|u| current.modseq > u) {
                out.modified.push(*uid);
                continue;
            }
            let mut new = current.flags.clone();
            match change {
                FlagChange::Replace => new = flags.clone(),
                FlagChange::Add => {
                    for fl in &flags {
                        if !new.contains(fl) {
                            new.push(fl.clone());
                        }
                    }
                }
                FlagChange::Remove => new.retain(|fl| !flags.contains(fl)),
            }
            let same =
                new.len() == current.flags.len() && new.iter().all(|fl| current.flags.contains(fl));
            if !same {
                let modseq = f.bump();
                let m = &mut f.messages[i].meta;
                m.flags = new;
                m.modseq = modseq;
            }
            out.updated.push(f.messages[i].meta.clone());
        }
        Ok(out)
    }

    fn begin_append(
        &mut self,
        user: &str,
        name: &str,
        flags: &[Flag],
        date: Option<DateTime>,
    ) -> Result<MemoryAppend, StoreError> {
        {
            let mut inner = self.lock();
            inner.folder_mut(user, name)?;
        }
        Ok(MemoryAppend {
            user: user.to_owned(),
            mailbox: name.to_owned(),
            flags: flags.to_vec(),
            date: date.unwrap_or_else(|| (self.clock)()),
            data: Vec::new(),
            limit: self.max_message,
        })
    }

    fn commit_append(&mut self, append: MemoryAppend) -> Result<(u32, u32), StoreError> {
        let now = (self.clock)();
        let mut inner = self.lock();
        let f = inner.folder_mut(&append.user, &append.mailbox)?;
        let uid = f.add(Bytes::from(append.data), &append.flags, append.date, now);
        Ok((f.uid_validity, uid))
    }

    fn copy(
        &mut self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopiedUids, StoreError> {
        let now = (self.clock)();
        let mut inner = self.lock();
        let source = inner.folder_mut(user, from)?.take_stored(uids);
        let dest = inner.folder_mut(user, to).map_err(|e| match e {
            StoreError::NonExistent => StoreError::NonExistent,
            other => other,
        })?;
        let mut out = CopiedUids {
            uid_validity: dest.uid_validity,
            pairs: Vec::with_capacity(source.len()),
        };
        for m in source {
            let uid = dest.add(m.raw, &m.meta.flags, m.internal_date, now);
            out.pairs.push((m.meta.uid, uid));
        }
        Ok(out)
    }

    fn move_messages(
        &mut self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopiedUids, StoreError> {
        if from == to {
            return Err(StoreError::Cannot(
                "source and destination are the same mailbox".into(),
            ));
        }
        // One lock for both halves: no other session sees the copy without
        // the expunge.
        let now = (self.clock)();
        let mut inner = self.lock();
        let source = inner.folder_mut(user, from)?.take_stored(uids);
        let dest = inner.folder_mut(user, to)?;
        let mut out = CopiedUids {
            uid_validity: dest.uid_validity,
            pairs: Vec::with_capacity(source.len()),
        };
        for m in &source {
            let uid = dest.add(m.raw.clone(), &m.meta.flags, m.internal_date, now);
            out.pairs.push((m.meta.uid, uid));
        }
        let moved: Vec<u32> = source.iter().map(|m| m.meta.uid).collect();
        inner.folder_mut(user, from)?.remove(&moved);
        Ok(out)
    }

    fn expunge(
        &mut self,
        user: &str,
        name: &str,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        let mut inner = self.lock();
        let f = inner.folder_mut(user, name)?;
        let wanted: Option<BTreeSet<u32>> = uids.map(|u| u.iter().copied().collect());
        let doomed: Vec<u32> = f
            .messages
            .iter()
            .filter(|m| m.meta.flags.contains(&Flag::Deleted))
            .filter(|m| wanted.as_ref().is_none_or(|w| w.contains(&m.meta.uid)))
            .map(|m| m.meta.uid)
            .collect();
        Ok(f.remove(&doomed))
    }
}
