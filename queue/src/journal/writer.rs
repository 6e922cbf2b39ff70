//! The journal's writer thread: group commit of appended records, segment
//! rotation, cleaning and removal.
//!
//! Callers hand their writes to one thread and wait on a oneshot. For each
//! batch (everything that queued up while the previous one was on its way
//! to the disk) the thread
//!
//! 1. appends one record per write to the current segment, rotating to a
//!    new segment when it is full (the full one is synced first, so only
//!    the last segment can ever end in a torn write);
//! 2. may clean one old segment: copies forward the messages, states and
//!    tombstones that keep it (see `tracker`);
//! 3. makes the batch durable with one `fdatasync` (and one directory
//!    fsync when a segment was created);
//! 4. completes each caller;
//! 5. removes segments nothing refers to any more (unlink, then one
//!    directory fsync before the tombstones that guarded against them are
//!    released).
//!
//! A failed write or sync stops the journal: every later write fails, since
//! what reached the disk is no longer known (the store must be reopened,
//! which replays what is there).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::record::{self, Encoded, Record};
use super::tracker::{Loc, Tracker};
use crate::error::StorageError;
use crate::group_commit::{BatchThread, Job};
use crate::id::QueueId;
use crate::spool::committer::{Write, sync_dir};

/// Where each queued message's data is: segment and offset.
pub(crate) type Index = HashMap<QueueId, (u64, u64)>;

/// The index, shared by the writer and readers. The writer removes a
/// segment file only while holding it, so a reader that found a location
/// under it can open the file.
#[derive(Debug, Default)]
pub(crate) struct SharedIndex(Mutex<Index>);

impl SharedIndex {
    pub(crate) fn new(index: Index) -> Self {
        SharedIndex(Mutex::new(index))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Index> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016X}.seg"))
}

/// Counters of the writer thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub syncs: AtomicU64,
    pub dir_syncs: AtomicU64,
    pub segments_removed: AtomicU64,
    pub bytes_copied: AtomicU64,
}

/// The handle writes are submitted through. Dropping it lets the thread
/// finish what was submitted, then joins it.
#[derive(Debug)]
pub(crate) struct Writer {
    thread: BatchThread,
    pub counters: Arc<Counters>,
}

/// What the writer starts from (built by recovery).
pub(crate) struct Start {
    pub dir: PathBuf,
    pub segment_size: u64,
    pub max_batch: usize,
    pub tracker: Tracker,
    pub index: Arc<SharedIndex>,
    /// The segment to append to, and its length.
    pub current: (u64, u64),
}

impl Writer {
    pub(crate) fn start(start: Start) -> Result<Self, StorageError> {
        let counters = Arc::new(Counters::default());
        let path = segment_path(&start.dir, start.current.0);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io("open", &path, e))?;
        let mut thread_state = State {
            dir: start.dir,
            segment_size: start.segment_size,
            current: start.current.0,
            len: start.current.1,
            out: BufWriter::with_capacity(256 << 10, file),
            tracker: start.tracker,
            index: start.index,
            counters: Arc::clone(&counters),
            dir_dirty: false,
            stopped: None,
            unpublished: Vec::new(),
        };
        // What recovery found unreferenced goes before anything new.
        thread_state.remove_dead();
        let thread = BatchThread::start("postel-journal", start.max_batch, move |batch| {
            thread_state.commit(batch)
        })?;
        Ok(Writer { thread, counters })
    }

    /// Queues a write; the receiver completes when it is durable.
    pub(crate) fn submit(&self, write: Write) -> oneshot::Receiver<Result<(), StorageError>> {
        self.thread.submit(write)
    }
}

struct State {
    dir: PathBuf,
    segment_size: u64,
    current: u64,
    len: u64,
    out: BufWriter<File>,
    tracker: Tracker,
    index: Arc<SharedIndex>,
    counters: Arc<Counters>,
    /// A segment was created since the last directory fsync.
    dir_dirty: bool,
    /// Why the journal stopped, if it did.
    stopped: Option<String>,
    /// Data locations of this batch's `M` records, published to readers
    /// once the batch is written out (a copy made by cleaning must not be
    /// read from the file before its bytes are there).
    unpublished: Vec<(QueueId, (u64, u64))>,
}

fn stopped_error(dir: &Path, why: &str) -> StorageError {
    StorageError::io(
        "append (the journal stopped after an earlier failure)",
        dir,
        io::Error::other(why.to_owned()),
    )
}

impl State {
    fn commit(&mut self, batch: Vec<Job>) {
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .records
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if let Some(why) = &self.stopped {
            for job in batch {
                let _ = job.done.send(Err(stopped_error(&self.dir, why)));
            }
            return;
        }
        let mut replies = Vec::with_capacity(batch.len());
        let mut result = Ok(());
        for Job { write, done } in batch {
            replies.push(done);
            if result.is_ok() {
                result = self.append(write);
            }
        }
        if result.is_ok() {
            result = self.clean();
        }
        if result.is_ok() {
            result = self.sync();
        }
        if let Err(e) = &result {
            self.stopped = Some(e.to_string());
            self.unpublished.clear();
        }
        if result.is_ok() {
            let mut index = self.index.lock();
            for (id, at) in self.unpublished.drain(..) {
                // Not if a later write of the batch removed it.
                if self.tracker.messages.contains_key(&id) {
                    index.insert(id, at);
                }
            }
        }
        for done in replies {
            let _ = done.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(e.duplicate()),
            });
        }
        if result.is_ok() {
            self.remove_dead();
        }
    }

    /// Appends one record, rotating first if the segment is full.
    fn write(&mut self, rec: &Encoded) -> Result<Loc, StorageError> {
        let len = rec.len();
        if self.len > 0 && self.len + len > self.segment_size {
            self.rotate()?;
        }
        let path = segment_path(&self.dir, self.current);
        self.out
            .write_all(&rec.head)
            .map_err(|e| StorageError::io("append", &path, e))?;
        for part in &rec.parts {
            self.out
                .write_all(part)
                .map_err(|e| StorageError::io("append", &path, e))?;
        }
        let loc = Loc {
            seg: self.current,
            offset: self.len,
            len,
        };
        self.len += len;
        self.tracker.appended(loc);
        Ok(loc)
    }

    fn append(&mut self, write: Write) -> Result<(), StorageError> {
        match write {
            Write::Message { id, header, data } => {
                let rec = record::message(id, header.as_bytes(), b"", data);
                let loc = self.write(&rec)?;
                self.placed(id, loc, record::message_data_offset(header.len(), 0));
            }
            Write::State { id, text } => {
                let loc = self.write(&record::state(id, &text))?;
                self.tracker.state(id, loc);
            }
            Write::Delete { id } => {
                let loc = self.write(&record::delete(id))?;
                self.index.lock().remove(&id);
                self.tracker.delete(id, loc.seg);
            }
        }
        Ok(())
    }

    /// An `M` record of `id` is at `loc`, its data `data_offset` into it.
    /// Readers see the new place once the batch is synced; until then the
    /// old one (a cleaned segment is removed only after that).
    fn placed(&mut self, id: QueueId, loc: Loc, data_offset: u64) {
        self.tracker.message(id, loc);
        self.unpublished
            .push((id, (loc.seg, loc.offset + data_offset)));
    }

    fn rotate(&mut self) -> Result<(), StorageError> {
        let old = segment_path(&self.dir, self.current);
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| StorageError::io("fdatasync", &old, e))?;
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        let next = self.current + 1;
        let path = segment_path(&self.dir, next);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io("create", &path, e))?;
        self.out = BufWriter::with_capacity(256 << 10, file);
        self.current = next;
        self.len = 0;
        self.tracker.appended(Loc {
            seg: next,
            offset: 0,
            len: 0,
        });
        self.dir_dirty = true;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        let path = segment_path(&self.dir, self.current);
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| StorageError::io("fdatasync", &path, e))?;
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.counters.dir_syncs.fetch_add(1, Ordering::Relaxed);
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Reads the record at `loc` back (from the page cache, usually).
    fn read_back(&mut self, loc: Loc) -> Result<Vec<u8>, StorageError> {
        if loc.seg == self.current {
            let path = segment_path(&self.dir, loc.seg);
            self.out
                .flush()
                .map_err(|e| StorageError::io("append", &path, e))?;
        }
        let path = segment_path(&self.dir, loc.seg);
        let mut buf = vec![0; usize::try_from(loc.len).unwrap_or(usize::MAX)];
        File::open(&path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(loc.offset))?;
                f.read_exact(&mut buf)
            })
            .map_err(|e| StorageError::io("read", &path, e))?;
        Ok(buf)
    }

    fn bad_record(&self, loc: Loc) -> StorageError {
        StorageError::io(
            "read back for cleaning",
            segment_path(&self.dir, loc.seg),
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no valid record at offset {}", loc.offset),
            ),
        )
    }

    /// Cleans at most one old, mostly dead segment: copies what keeps it
    /// to the current segment, after which nothing refers to it.
    fn clean(&mut self) -> Result<(), StorageError> {
        let Some(seg) = self.tracker.to_clean(self.current) else {
            return Ok(());
        };
        let held = self.tracker.held_by(seg);
        let mut copied = 0;
        for (id, t) in held.messages {
            let old = self.read_back(t.message)?;
            let Ok((
                Record::Message {
                    header,
                    state,
                    data_offset,
                    data_len,
                    ..
                },
                _,
            )) = record::read(&old)
            else {
                return Err(self.bad_record(t.message));
            };
            let latest = match t.state {
                Some(loc) => {
                    let buf = self.read_back(loc)?;
                    match record::read(&buf) {
                        Ok((Record::State { text, .. }, _)) => text.to_vec(),
                        _ => return Err(self.bad_record(loc)),
                    }
                }
                None => state.to_vec(),
            };
            let start = usize::try_from(data_offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(data_len).unwrap_or(usize::MAX));
            let data = bytes::Bytes::copy_from_slice(old.get(start..end).unwrap_or_default());
            let rec = record::message(id, header, &latest, data);
            let loc = self.write(&rec)?;
            copied += loc.len;
            let offset = record::message_data_offset(header.len(), latest.len());
            self.placed(id, loc, offset);
        }
        for (id, loc) in held.states {
            let buf = self.read_back(loc)?;
            let Ok((Record::State { text, .. }, _)) = record::read(&buf) else {
                return Err(self.bad_record(loc));
            };
            let text = String::from_utf8_lossy(text).into_owned();
            let new = self.write(&record::state(id, &text))?;
            copied += new.len;
            self.tracker.state(id, new);
        }
        for tomb in held.tombs {
            let new = self.write(&record::delete(tomb.id))?;
            self.tracker.move_tomb(tomb, new.seg);
        }
        self.counters
            .bytes_copied
            .fetch_add(copied, Ordering::Relaxed);
        Ok(())
    }

    /// Removes unreferenced segments. Each round's removals are made
    /// durable before the tombstones guarding against them are released
    /// (which may free more segments for the next round). A segment that
    /// cannot be removed stays and is tried again after the next batch.
    fn remove_dead(&mut self) {
        loop {
            let dead = self.tracker.dead(self.current);
            if dead.is_empty() {
                return;
            }
            let mut removed = Vec::new();
            {
                let _index = self.index.lock();
                for seg in dead {
                    let path = segment_path(&self.dir, seg);
                    match fs::remove_file(&path) {
                        Ok(()) => removed.push(seg),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => removed.push(seg),
                        Err(_) => {}
                    }
                }
            }
            if removed.is_empty() || sync_dir(&self.dir).is_err() {
                return;
            }
            self.counters.dir_syncs.fetch_add(1, Ordering::Relaxed);
            self.counters
                .segments_removed
                .fetch_add(removed.len() as u64, Ordering::Relaxed);
            self.tracker.removed(&removed);
        }
    }
}
