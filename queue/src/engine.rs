//! The queue logic both built-in stores share: the in-memory index of
//! messages, their states and leases, and the order in which state changes
//! are handed to the durable store's writer (the spool's commit thread, or
//! the journal's writer).
//!
//! The index is authoritative while the process runs; the spool is what
//! survives it. A change is applied to the index and its new state encoded
//! and queued for the commit thread under one lock, so the spool sees the
//! changes of one message in the order they happened; the caller then
//! waits, without the lock, until the change is durable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::codec::{self, MessageHeader};
use crate::envelope::Envelope;
use crate::error::{MisuseError, QueueError, StorageError};
use crate::id::{IdGenerator, QueueId};
use crate::journal::{self, Journal};
use crate::schedule::WorkKey;
use crate::spool::committer::{Committer, Write};
use crate::spool::read_message_data;
use crate::state::{
    Deferral, Lease, LeaseRequest, MessageInfo, MessageState, Outcome, RecipientOutcome,
    RecipientStatus,
};
use crate::time::Timestamp;

/// Where a message's bytes are.
#[derive(Debug)]
pub(crate) enum Data {
    Memory(Bytes),
    /// In the spool's message file, after a header of this many bytes.
    File {
        offset: u64,
    },
    /// In the journal (which knows where).
    Journal,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub envelope: Arc<Envelope>,
    pub queued: Timestamp,
    pub size: u64,
    pub state: MessageState,
    /// The live (or expired, not yet replaced) lease: token and expiry.
    pub lease: Option<(u64, Timestamp)>,
    pub data: Data,
}

impl Entry {
    fn info(&self, id: QueueId, now: Timestamp) -> MessageInfo {
        MessageInfo {
            id,
            envelope: Arc::clone(&self.envelope),
            queued: self.queued,
            size: self.size,
            state: self.state.clone(),
            leased_until: self.lease.map(|(_, t)| t).filter(|&t| t > now),
        }
    }

    fn is_due(&self, now: Timestamp) -> bool {
        !self.state.held
            && self.lease.is_none_or(|(_, expires)| expires <= now)
            && self.due_at() <= now
            && self.state.pending().next().is_some()
    }

    /// The earliest time it can be leased: its next attempt, or its
    /// FUTURERELEASE time.
    fn due_at(&self) -> Timestamp {
        self.envelope
            .hold_until
            .map_or(self.state.next_attempt, |t| t.max(self.state.next_attempt))
    }

    fn work_key(&self, id: QueueId) -> WorkKey {
        WorkKey {
            priority: self.envelope.priority,
            queued: self.queued,
            id,
        }
    }

    /// Where the due index should have it.
    fn slot(&self) -> Slot {
        if self.state.held || self.state.pending().next().is_none() {
            return Slot::None;
        }
        match self.lease {
            Some((_, expires)) => Slot::Leased(expires),
            None => Slot::Waiting(self.due_at()),
        }
    }
}

/// A message's place in the due index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Held, or nothing pending: never leased as it is.
    None,
    /// Not leased; due at this time.
    Waiting(Timestamp),
    /// Due (seen due by a lease call), in `ready`.
    Ready,
    /// Leased until this time.
    Leased(Timestamp),
}

/// The due index: which messages a lease call has to look at, so that it
/// does not scan the queue. Every message with pending work is in exactly
/// one of the sets, as its `Slot` says.
#[derive(Debug, Default)]
struct DueIndex {
    slots: BTreeMap<QueueId, Slot>,
    /// Not leased, by the time they become due.
    waiting: BTreeSet<(Timestamp, QueueId)>,
    /// Due, in the order work is handed out (MT-PRIORITY, then age).
    ready: BTreeSet<WorkKey>,
    /// Leased, by expiry.
    leased: BTreeSet<(Timestamp, QueueId)>,
}

impl DueIndex {
    fn remove(&mut self, id: QueueId, key: Option<WorkKey>) {
        match self.slots.remove(&id) {
            Some(Slot::Waiting(t)) => {
                self.waiting.remove(&(t, id));
            }
            Some(Slot::Ready) => {
                if let Some(k) = key {
                    self.ready.remove(&k);
                }
            }
            Some(Slot::Leased(t)) => {
                self.leased.remove(&(t, id));
            }
            Some(Slot::None) | None => {}
        }
    }

    fn put(&mut self, id: QueueId, slot: Slot, key: WorkKey) {
        match slot {
            Slot::None => return,
            Slot::Waiting(t) => {
                self.waiting.insert((t, id));
            }
            Slot::Ready => {
                self.ready.insert(key);
            }
            Slot::Leased(t) => {
                self.leased.insert((t, id));
            }
        }
        self.slots.insert(id, slot);
    }
}

#[derive(Debug, Default)]
pub(crate) struct Core {
    pub entries: BTreeMap<QueueId, Entry>,
    pub ids: IdGenerator,
    next_token: u64,
    due: DueIndex,
}

impl Core {
    fn entry(&mut self, id: QueueId) -> Result<&mut Entry, MisuseError> {
        self.entries
            .get_mut(&id)
            .ok_or(MisuseError::UnknownMessage(id))
    }

    fn leased(&mut self, lease: &Lease) -> Result<&mut Entry, MisuseError> {
        let entry = self.entry(lease.id)?;
        match entry.lease {
            Some((token, _)) if token == lease.token => Ok(entry),
            _ => Err(MisuseError::LeaseLost(lease.id)),
        }
    }

    /// Puts `id` where the due index should have it (after any change to
    /// its entry, or its removal).
    pub(crate) fn reindex(&mut self, id: QueueId) {
        let key = self.entries.get(&id).map(|e| e.work_key(id));
        self.due.remove(id, key);
        if let (Some(e), Some(key)) = (self.entries.get(&id), key) {
            self.due.put(id, e.slot(), key);
        }
    }

    /// Builds the due index from scratch (after recovery).
    pub(crate) fn rebuild_index(&mut self) {
        self.due = DueIndex::default();
        let ids: Vec<QueueId> = self.entries.keys().copied().collect();
        for id in ids {
            self.reindex(id);
        }
    }

    fn lease(&mut self, request: LeaseRequest, now: Timestamp) -> Vec<Lease> {
        // Expired leases and messages that came due join `ready`.
        let mut moved = Vec::new();
        while let Some(&(t, id)) = self.due.leased.first() {
            if t > now {
                break;
            }
            self.due.leased.remove(&(t, id));
            self.due.slots.remove(&id);
            moved.push(id);
        }
        while let Some(&(t, id)) = self.due.waiting.first() {
            if t > now {
                break;
            }
            self.due.waiting.remove(&(t, id));
            self.due.slots.remove(&id);
            moved.push(id);
        }
        for id in moved {
            let Some(e) = self.entries.get(&id) else {
                continue;
            };
            let key = e.work_key(id);
            if e.is_due(now) {
                self.due.put(id, Slot::Ready, key);
            } else {
                // An expired lease of a held message, say.
                let slot = match e.slot() {
                    Slot::Leased(_) => Slot::Waiting(e.due_at()),
                    other => other,
                };
                self.due.put(id, slot, key);
            }
        }

        let expires = now.saturating_add(request.ttl);
        let mut leases = Vec::new();
        let mut not_yet = Vec::new();
        while leases.len() < request.max_messages {
            let Some(key) = self.due.ready.pop_first() else {
                break;
            };
            self.due.slots.remove(&key.id);
            let Some(e) = self.entries.get_mut(&key.id) else {
                continue;
            };
            if !e.is_due(now) {
                // Moved to `ready` by a call with a later `now`.
                not_yet.push(key.id);
                continue;
            }
            self.next_token += 1;
            let token = self.next_token;
            e.lease = Some((token, expires));
            leases.push(Lease {
                token,
                id: key.id,
                envelope: Arc::clone(&e.envelope),
                queued: e.queued,
                size: e.size,
                attempts: e.state.attempts,
                delay_warned: e.state.delay_warned,
                pending: e.state.pending().collect(),
                expires,
            });
            self.due.put(key.id, Slot::Leased(expires), key);
        }
        for id in not_yet {
            self.reindex(id);
        }
        leases
    }

    fn record(
        &mut self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> Result<usize, MisuseError> {
        let entry = self.leased(lease)?;
        let mut recipients = entry.state.recipients.clone();
        for o in outcomes {
            let not_leased = MisuseError::NotLeased {
                id: lease.id,
                index: o.index,
            };
            if lease.pending.binary_search(&o.index).is_err() {
                return Err(not_leased);
            }
            let r = recipients.get_mut(o.index).ok_or(not_leased.clone())?;
            if r.status != RecipientStatus::Pending {
                return Err(not_leased);
            }
            let (status, reply) = match &o.outcome {
                Outcome::Delivered { reply } => (RecipientStatus::Delivered, reply),
                Outcome::Failed { reply } => (RecipientStatus::Failed, reply),
                Outcome::Deferred { reply } => (RecipientStatus::Pending, reply),
            };
            r.status = status;
            r.updated = Some(now);
            r.last_reply = Some(reply.clone());
        }
        entry.state.recipients = recipients;
        Ok(entry.state.pending().count())
    }
}

/// The shared implementation behind `MemoryStore` and `SpoolStore`.
#[derive(Debug)]
pub(crate) struct Engine {
    core: Mutex<Core>,
    durable: Option<Durable>,
}

/// Where an engine's changes are made durable.
#[derive(Debug)]
pub(crate) enum Durable {
    /// The spool: a file per message and per state.
    Files(Arc<Spool>),
    /// The journal: records appended to segments.
    Journal(Arc<Journal>),
}

impl Durable {
    fn submit(&self, write: Write) -> Done {
        match self {
            Durable::Files(spool) => spool.committer.submit(write),
            Durable::Journal(journal) => journal.writer.submit(write),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Spool {
    pub dir: PathBuf,
    pub committer: Committer,
    /// The spool's lock (see `spool::lock_spool`); dropped last, after the
    /// commit thread has finished.
    pub _lock: std::fs::File,
}

type Done = oneshot::Receiver<Result<(), StorageError>>;

async fn wait(done: Vec<Done>) -> Result<(), QueueError> {
    let mut first_error = None;
    for rx in done {
        let result = rx.await.unwrap_or(Err(StorageError::CommitterStopped));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), |e| Err(e.into()))
}

fn validate(envelope: &Envelope) -> Result<(), MisuseError> {
    if envelope.recipients.is_empty() {
        return Err(MisuseError::NoRecipients);
    }
    if !(-9..=9).contains(&envelope.priority) {
        return Err(MisuseError::BadPriority(envelope.priority));
    }
    Ok(())
}

impl Engine {
    pub(crate) fn new(mut core: Core, durable: Option<Durable>) -> Self {
        core.rebuild_index();
        Engine {
            core: Mutex::new(core),
            durable,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock cannot leave the index half
        // changed in a way later calls would trip over: keep going.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the current state of `ids` for the spool (under the lock, so
    /// in order); nothing to wait for in memory.
    fn persist(&self, core: &Core, ids: &[QueueId]) -> Vec<Done> {
        let Some(durable) = &self.durable else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| core.entries.get(id).map(|e| (id, e)))
            .map(|(&id, e)| {
                durable.submit(Write::State {
                    id,
                    text: codec::encode_state(id, &e.state),
                })
            })
            .collect()
    }

    /// Applies `change` to one message and waits until its new state is
    /// durable.
    async fn change<T>(
        &self,
        id: QueueId,
        change: impl FnOnce(&mut Core) -> Result<(T, bool), MisuseError>,
    ) -> Result<T, QueueError> {
        let (value, done) = {
            let mut core = self.lock();
            let (value, changed) = change(&mut core)?;
            core.reindex(id);
            let done = if changed {
                self.persist(&core, &[id])
            } else {
                Vec::new()
            };
            (value, done)
        };
        wait(done).await?;
        Ok(value)
    }

    pub(crate) async fn enqueue(
        &self,
        envelope: Envelope,
        data: Bytes,
        now: Timestamp,
    ) -> Result<QueueId, QueueError> {
        validate(&envelope)?;
        let id = self.lock().ids.next(now);
        let size = data.len() as u64;
        let (envelope, data) = match &self.durable {
            None => (envelope, Data::Memory(data)),
            Some(durable) => {
                let header = MessageHeader {
                    id,
                    queued: now,
                    size,
                    envelope,
                };
                let text = codec::encode_message_header(&header);
                let offset = text.len() as u64;
                let stored = match durable {
                    Durable::Files(_) => Data::File { offset },
                    Durable::Journal(_) => {
                        journal::check_size(&text, &data)?;
                        Data::Journal
                    }
                };
                let done = durable.submit(Write::Message {
                    id,
                    header: text,
                    data,
                });
                wait(vec![done]).await?;
                (header.envelope, stored)
            }
        };
        let state = MessageState::fresh(&envelope, now);
        let mut core = self.lock();
        core.entries.insert(
            id,
            Entry {
                envelope: Arc::new(envelope),
                queued: now,
                size,
                state,
                lease: None,
                data,
            },
        );
        core.reindex(id);
        Ok(id)
    }

    pub(crate) fn lease(
        &self,
        request: LeaseRequest,
        now: Timestamp,
    ) -> Result<Vec<Lease>, QueueError> {
        if request.max_messages == 0 || request.ttl.is_zero() {
            return Err(MisuseError::EmptyLeaseRequest.into());
        }
        Ok(self.lock().lease(request, now))
    }

    pub(crate) fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Timestamp, QueueError> {
        if ttl.is_zero() {
            return Err(MisuseError::EmptyLeaseRequest.into());
        }
        let mut core = self.lock();
        let entry = core.leased(lease)?;
        let expires = now.saturating_add(ttl);
        entry.lease = Some((lease.token, expires));
        core.reindex(lease.id);
        Ok(expires)
    }

    pub(crate) fn read_data(&self, id: QueueId) -> Result<Bytes, QueueError> {
        let (offset, size) = {
            let core = self.lock();
            let entry = core
                .entries
                .get(&id)
                .ok_or(MisuseError::UnknownMessage(id))?;
            match &entry.data {
                Data::Memory(bytes) => return Ok(bytes.clone()),
                Data::File { offset } => (Some(*offset), entry.size),
                Data::Journal => (None, entry.size),
            }
        };
        match (&self.durable, offset) {
            (Some(Durable::Files(spool)), Some(offset)) => {
                read_message_data(&spool.dir, id, offset, size)
            }
            (Some(Durable::Journal(journal)), None) => journal.read_data(id, size),
            _ => Err(MisuseError::UnknownMessage(id).into()),
        }
    }

    pub(crate) async fn record(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> Result<usize, QueueError> {
        self.change(lease.id, |core| {
            Ok((core.record(lease, outcomes, now)?, !outcomes.is_empty()))
        })
        .await
    }

    pub(crate) async fn complete(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> Result<usize, QueueError> {
        let (pending, done) = {
            let mut core = self.lock();
            let pending = core.record(lease, outcomes, now)?;
            if pending > 0 {
                core.reindex(lease.id);
            }
            let done = if pending > 0 {
                if outcomes.is_empty() {
                    Vec::new()
                } else {
                    self.persist(&core, &[lease.id])
                }
            } else {
                core.entries.remove(&lease.id);
                core.reindex(lease.id);
                match &self.durable {
                    Some(durable) => vec![durable.submit(Write::Delete { id: lease.id })],
                    None => Vec::new(),
                }
            };
            (pending, done)
        };
        wait(done).await?;
        Ok(pending)
    }

    pub(crate) async fn defer(
        &self,
        lease: &Lease,
        deferral: Deferral,
        _now: Timestamp,
    ) -> Result<(), QueueError> {
        self.change(lease.id, |core| {
            let entry = core.leased(lease)?;
            entry.lease = None;
            let s = &mut entry.state;
            s.attempts = s.attempts.saturating_add(1);
            s.next_attempt = deferral.next_attempt;
            s.delay_warned |= deferral.delay_warning_sent;
            Ok(((), true))
        })
        .await
    }

    pub(crate) fn unlease(&self, lease: &Lease) -> Result<(), QueueError> {
        let mut core = self.lock();
        core.leased(lease)?.lease = None;
        core.reindex(lease.id);
        Ok(())
    }

    pub(crate) async fn delete(&self, id: QueueId) -> Result<(), QueueError> {
        let done = {
            let mut core = self.lock();
            core.entries
                .remove(&id)
                .ok_or(MisuseError::UnknownMessage(id))?;
            core.reindex(id);
            match &self.durable {
                Some(durable) => vec![durable.submit(Write::Delete { id })],
                None => Vec::new(),
            }
        };
        wait(done).await
    }

    pub(crate) fn list(&self, now: Timestamp) -> Vec<MessageInfo> {
        let core = self.lock();
        core.entries
            .iter()
            .map(|(&id, e)| e.info(id, now))
            .collect()
    }

    pub(crate) fn inspect(&self, id: QueueId, now: Timestamp) -> Result<MessageInfo, QueueError> {
        let core = self.lock();
        let entry = core
            .entries
            .get(&id)
            .ok_or(MisuseError::UnknownMessage(id))?;
        Ok(entry.info(id, now))
    }

    pub(crate) async fn set_held(&self, id: QueueId, held: bool) -> Result<(), QueueError> {
        self.change(id, |core| {
            let s = &mut core.entry(id)?.state;
            let changed = s.held != held;
            s.held = held;
            Ok(((), changed))
        })
        .await
    }

    pub(crate) async fn force_retry(&self, id: QueueId, now: Timestamp) -> Result<(), QueueError> {
        self.change(id, |core| {
            let s = &mut core.entry(id)?.state;
            let changed = s.next_attempt > now;
            s.next_attempt = s.next_attempt.min(now);
            Ok(((), changed))
        })
        .await
    }

    pub(crate) async fn force_retry_all(&self, now: Timestamp) -> Result<usize, QueueError> {
        let (count, done) = {
            let mut core = self.lock();
            let mut changed = Vec::new();
            for (&id, e) in core.entries.iter_mut() {
                if e.state.next_attempt > now {
                    e.state.next_attempt = now;
                    changed.push(id);
                }
            }
            for &id in &changed {
                core.reindex(id);
            }
            (changed.len(), self.persist(&core, &changed))
        };
        wait(done).await?;
        Ok(count)
    }
}
