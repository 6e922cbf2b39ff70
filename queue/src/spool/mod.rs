//! The filesystem spool: the embedded default store.
//!
//! One directory. Each message is two files named by its queue ID:
//!
//! - `<id>.msg`, written once at enqueue and never changed: a text header
//!   (the envelope, see the `codec` module docs) and the message bytes;
//! - `<id>.state`, the mutable part (per-recipient status, attempts, next
//!   attempt, hold), replaced whole on every change. A message without one
//!   is in its initial state, so an enqueue writes one file.
//!
//! Every file is written as `<name>.tmp`, fsynced, renamed into place, and
//! then the directory is fsynced; a call returns only after that (see the
//! `committer` module for how concurrent calls share those fsyncs). A crash
//! therefore leaves each file either in its old or its new complete form,
//! plus perhaps a stray `.tmp`, and [`SpoolStore::open`] finds every message
//! and its last durable state:
//!
//! - `*.tmp` files are unfinished writes whose callers never heard
//!   "done": removed.
//! - A message file that does not parse, or whose size is wrong, is moved to
//!   `corrupt/` (with its state file) and reported; it is not delivered.
//! - A state file that does not parse is moved to `corrupt/` and reported,
//!   and the message starts over from its initial state: its recipients may
//!   get it twice, but none loses it.
//! - A state file without a message file is what a deletion interrupted
//!   between its two removals leaves: removed.
//!
//! Leases live in memory only: after a restart all work is available again.
//! One store owns a spool directory at a time: [`SpoolStore::open`] takes an
//! exclusive `flock` on `<dir>/lock` (held until the store is dropped, or
//! released by the kernel when the process dies) and refuses a directory
//! another store holds ([`StorageError::Locked`]), since two processes
//! recovering and writing the same files would deliver messages twice and
//! delete each other's work.

pub(crate) mod committer;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::codec::{self, DecodeError};
use crate::engine::{Core, Data, Durable, Engine, Entry, Spool};
use crate::error::{CorruptError, MisuseError, QueueError, StorageError};
use crate::id::QueueId;
use crate::state::MessageState;
use committer::{Committer, message_path, state_path, sync_dir};

/// The subdirectory that unreadable files are moved to.
pub const CORRUPT_DIR: &str = "corrupt";

/// The file whose lock marks the spool as in use.
pub const LOCK_FILE: &str = "lock";

/// The largest message header or state file read back (16 MiB).
const MAX_META: usize = 16 << 20;

/// How a batch's new files are made durable before they are renamed into
/// place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// `fsync` each file (on `sync_threads` threads): what Postfix does,
    /// and the only cost is the spool's own.
    #[default]
    PerFile,
    /// One `syncfs(2)` of the spool's filesystem for the whole batch. On a
    /// journaling filesystem this is one journal commit however many files
    /// the batch wrote, so it is much faster under concurrent load; but it
    /// also flushes everything else dirty on that filesystem, so give the
    /// spool a filesystem of its own. Linux reports write-back errors
    /// through `syncfs` since 5.8; on older kernels use `PerFile`.
    Filesystem,
}

/// Tuning of the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolOptions {
    /// Threads that fsync the files of one batch in parallel (default 4).
    pub sync_threads: usize,
    /// The most writes committed in one batch (default 1024).
    pub max_batch: usize,
    /// How a batch's files are made durable (default per file).
    pub sync_mode: SyncMode,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            sync_threads: 4,
            max_batch: 1024,
            sync_mode: SyncMode::PerFile,
        }
    }
}

/// Counters of the commit thread, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Batches committed: each ends with at most one directory fsync.
    pub batches: u64,
    /// Writes submitted (new messages, states, deletions).
    pub writes: u64,
    /// File fsyncs.
    pub file_syncs: u64,
    /// Directory fsyncs.
    pub dir_syncs: u64,
}

/// What was done to an unreadable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineAction {
    /// The message file is unreadable: the message (and its state file) was
    /// set aside and will not be delivered.
    MessageSetAside,
    /// The state file is unreadable: it was set aside and the message starts
    /// over from its initial state.
    StateReset,
}

/// An unreadable file found by recovery.
#[derive(Debug)]
pub struct Quarantined {
    /// The message.
    pub id: QueueId,
    /// What was done.
    pub action: QuarantineAction,
    /// What is wrong with the file.
    pub error: CorruptError,
    /// Where the files went.
    pub moved_to: Vec<PathBuf>,
    /// Why a file could not be moved (it stays in place and is reported
    /// again at the next start).
    pub move_error: Option<StorageError>,
}

/// What [`SpoolStore::open`] found.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Messages in the queue.
    pub messages: usize,
    /// Unfinished writes removed.
    pub removed_temp_files: Vec<PathBuf>,
    /// State files without a message, removed.
    pub removed_orphans: Vec<PathBuf>,
    /// Unreadable files, set aside.
    pub quarantined: Vec<Quarantined>,
    /// Files that are not the spool's, left alone.
    pub unknown_files: Vec<PathBuf>,
}

impl RecoveryReport {
    /// True if nothing but complete messages was found.
    pub fn is_clean(&self) -> bool {
        self.removed_temp_files.is_empty()
            && self.removed_orphans.is_empty()
            && self.quarantined.is_empty()
            && self.unknown_files.is_empty()
    }
}

/// A [`QueueStore`](crate::QueueStore) in one directory, crash safe, with
/// group commit. See the [module docs](self) for the layout and the
/// recovery rules.
///
/// `read_data` reads the message file on the calling thread (a plain file
/// read, no fsync); everything that writes goes through the commit thread.
#[derive(Debug)]
pub struct SpoolStore {
    engine: Engine,
    spool: Arc<Spool>,
}

crate::store::delegate_store!(SpoolStore);

impl SpoolStore {
    /// Opens (creating it if needed) the spool in `dir`, recovers every
    /// message and its state, and starts the commit thread. Unreadable
    /// files are quarantined and reported, never fatal; only a directory
    /// that cannot be read or changed is an error.
    pub fn open(
        dir: impl AsRef<Path>,
        options: SpoolOptions,
    ) -> Result<(Self, RecoveryReport), QueueError> {
        if options.sync_threads == 0 || options.max_batch == 0 {
            return Err(MisuseError::InvalidConfig(
                "sync_threads and max_batch must be at least 1",
            )
            .into());
        }
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io("create directory", &dir, e))?;
        let lock = lock_spool(&dir)?;
        let (core, report) = recover(&dir)?;
        let committer = Committer::start(dir.clone(), options)?;
        let spool = Arc::new(Spool {
            dir,
            committer,
            _lock: lock,
        });
        let engine = Engine::new(core, Some(Durable::Files(Arc::clone(&spool))));
        Ok((SpoolStore { engine, spool }, report))
    }

    /// The spool directory.
    pub fn path(&self) -> &Path {
        &self.spool.dir
    }

    /// The commit thread's counters so far.
    pub fn stats(&self) -> SpoolStats {
        let c = &self.spool.committer.counters;
        SpoolStats {
            batches: c.batches.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            file_syncs: c.file_syncs.load(Ordering::Relaxed),
            dir_syncs: c.dir_syncs.load(Ordering::Relaxed),
        }
    }
}

fn bad(path: &Path, e: DecodeError) -> CorruptError {
    CorruptError::BadFile {
        path: path.to_path_buf(),
        line: e.line,
        reason: e.reason,
    }
}

fn unreadable(path: &Path, e: &io::Error) -> CorruptError {
    CorruptError::BadFile {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("cannot be read: {e}"),
    }
}

/// Reads a message file's header: returns it and the offset of the data.
fn read_header(path: &Path, id: QueueId) -> Result<(codec::MessageHeader, u64), CorruptError> {
    let mut file = File::open(path).map_err(|e| unreadable(path, &e))?;
    let len = file.metadata().map_err(|e| unreadable(path, &e))?.len();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut searched = 0;
    let end = loop {
        if let Some(i) = buf[searched..].windows(2).position(|w| w == b"\n\n") {
            break searched + i + 2;
        }
        searched = buf.len().saturating_sub(1);
        if buf.len() > MAX_META {
            return Err(bad(
                path,
                DecodeError {
                    line: 0,
                    reason: "header too long".into(),
                },
            ));
        }
        let n = file.read(&mut chunk).map_err(|e| unreadable(path, &e))?;
        if n == 0 {
            return Err(bad(
                path,
                DecodeError {
                    line: 0,
                    reason: "no end of header".into(),
                },
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| {
        bad(
            path,
            DecodeError {
                line: 0,
                reason: "header is not text".into(),
            },
        )
    })?;
    let header = codec::decode_message_header(text).map_err(|e| bad(path, e))?;
    if header.id != id {
        return Err(bad(
            path,
            DecodeError {
                line: 2,
                reason: format!("the ID is {} but the file name says {id}", header.id),
            },
        ));
    }
    let offset = end as u64;
    let actual = len.saturating_sub(offset);
    if actual != header.size {
        return Err(CorruptError::WrongSize {
            path: path.to_path_buf(),
            expected: header.size,
            actual,
        });
    }
    Ok((header, offset))
}

fn read_state(path: &Path, id: QueueId, recipients: usize) -> Result<MessageState, CorruptError> {
    let mut text = String::new();
    File::open(path)
        .and_then(|f| f.take(MAX_META as u64 + 1).read_to_string(&mut text))
        .map_err(|e| unreadable(path, &e))?;
    let (state_id, state) = codec::decode_state(&text).map_err(|e| bad(path, e))?;
    let problem = if state_id != id {
        Some(format!("the ID is {state_id} but the file name says {id}"))
    } else if state.recipients.len() != recipients {
        Some(format!(
            "{} recipient states for {recipients} recipients",
            state.recipients.len()
        ))
    } else {
        None
    };
    match problem {
        Some(reason) => Err(bad(path, DecodeError { line: 0, reason })),
        None => Ok(state),
    }
}

/// Moves files into `corrupt/`, under a fresh name if taken.
fn quarantine(dir: &Path, files: &[PathBuf]) -> (Vec<PathBuf>, Option<StorageError>) {
    let target_dir = dir.join(CORRUPT_DIR);
    if let Err(e) = fs::create_dir_all(&target_dir) {
        return (
            Vec::new(),
            Some(StorageError::io("create directory", target_dir, e)),
        );
    }
    let mut moved = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut target = target_dir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = target_dir.join(format!("{name}.{n}"));
            n += 1;
        }
        if let Err(e) = fs::rename(file, &target) {
            return (moved, Some(StorageError::io("rename", file, e)));
        }
        moved.push(target);
    }
    if let Err(e) = sync_dir(&target_dir) {
        return (moved, Some(e));
    }
    (moved, None)
}

/// Takes the spool's lock, or reports who holds it.
pub(crate) fn lock_spool(dir: &Path) -> Result<File, StorageError> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io("open", &path, e))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(StorageError::Locked(dir.to_owned())),
        Err(e) => Err(StorageError::io("lock", &path, e.into())),
    }
}

fn recover(dir: &Path) -> Result<(Core, RecoveryReport), StorageError> {
    let mut report = RecoveryReport::default();
    let mut messages = BTreeSet::new();
    let mut states = BTreeSet::new();
    let listing = fs::read_dir(dir).map_err(|e| StorageError::io("read directory", dir, e))?;
    for item in listing {
        let item = item.map_err(|e| StorageError::io("read directory", dir, e))?;
        let path = item.path();
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            report.unknown_files.push(path);
            continue;
        };
        if name == CORRUPT_DIR || name == LOCK_FILE {
            continue;
        }
        if name.ends_with(".tmp") {
            fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
            report.removed_temp_files.push(path);
            continue;
        }
        let parsed = name
            .split_once('.')
            .and_then(|(stem, ext)| Some((stem.parse::<QueueId>().ok()?, ext)));
        match parsed {
            Some((id, "msg")) => {
                messages.insert(id);
            }
            Some((id, "state")) => {
                states.insert(id);
            }
            _ => report.unknown_files.push(path),
        }
    }

    let mut core = Core::default();
    for &id in &messages {
        let msg_path = message_path(dir, id);
        let st_path = state_path(dir, id);
        let has_state = states.remove(&id);
        let (header, offset) = match read_header(&msg_path, id) {
            Ok(found) => found,
            Err(error) => {
                let mut files = vec![msg_path];
                if has_state {
                    files.push(st_path);
                }
                let (moved_to, move_error) = quarantine(dir, &files);
                report.quarantined.push(Quarantined {
                    id,
                    action: QuarantineAction::MessageSetAside,
                    error,
                    moved_to,
                    move_error,
                });
                continue;
            }
        };
        let envelope = header.envelope;
        let fresh = MessageState::fresh(&envelope, header.queued);
        let state = if has_state {
            match read_state(&st_path, id, envelope.recipients.len()) {
                Ok(state) => state,
                Err(error) => {
                    let (moved_to, move_error) = quarantine(dir, &[st_path]);
                    report.quarantined.push(Quarantined {
                        id,
                        action: QuarantineAction::StateReset,
                        error,
                        moved_to,
                        move_error,
                    });
                    fresh
                }
            }
        } else {
            fresh
        };
        core.ids.observe(id);
        core.entries.insert(
            id,
            Entry {
                envelope: Arc::new(envelope),
                queued: header.queued,
                size: header.size,
                state,
                lease: None,
                data: Data::File { offset },
            },
        );
    }
    for id in states {
        let path = state_path(dir, id);
        fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
        report.removed_orphans.push(path);
    }
    if !(report.removed_temp_files.is_empty()
        && report.removed_orphans.is_empty()
        && report.quarantined.is_empty())
    {
        sync_dir(dir)?;
    }
    report.messages = core.entries.len();
    Ok((core, report))
}

/// Reads `size` bytes of message data at `offset` of a message file.
pub(crate) fn read_message_data(
    dir: &Path,
    id: QueueId,
    offset: u64,
    size: u64,
) -> Result<Bytes, QueueError> {
    let path = message_path(dir, id);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(MisuseError::UnknownMessage(id).into());
        }
        Err(e) => return Err(StorageError::io("open", path, e).into()),
    };
    let len = usize::try_from(size)
        .map_err(|_| StorageError::io("read", &path, io::Error::other("too large")))?;
    let mut buf = vec![0; len];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut buf))
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => QueueError::from(CorruptError::WrongSize {
                path: path.clone(),
                expected: size,
                actual: file
                    .metadata()
                    .map_or(0, |m| m.len().saturating_sub(offset)),
            }),
            _ => StorageError::io("read", &path, e).into(),
        })?;
    Ok(Bytes::from(buf))
}
