//! The spool's commit thread: group commit of file writes.
//!
//! Callers hand their writes to one thread through a channel and wait on a
//! oneshot. The thread takes everything that queued up while it was busy as
//! one batch and, for the whole batch:
//!
//! 1. writes each file under a temporary name (`<name>.tmp`);
//! 2. fsyncs those files, spread over a few short-lived threads so that the
//!    file system can fold them into few journal commits;
//! 3. renames each into place (and removes the files of deleted messages,
//!    the message file first: a state file alone is an orphan, a message
//!    file alone would be a message to deliver again);
//! 4. fsyncs the directory once, which makes every rename and removal of the
//!    batch durable;
//! 5. completes each caller.
//!
//! A write is therefore never visible under its final name before its bytes
//! are on disk, and no caller hears "done" before the directory entry is
//! durable too. While one batch is on its way to the disk the next one
//! gathers, so the number of directory fsyncs per message falls as
//! concurrency rises, which is the point: 64 concurrent SMTP sessions do
//! not wait for 64 rounds of flushes.
//!
//! The thread itself is `group_commit::BatchThread`, shared with the
//! journal.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{SpoolOptions, SyncMode};
use crate::error::StorageError;
use crate::group_commit::{BatchThread, Job, Reply};
use crate::id::QueueId;

/// One change to the spool directory.
#[derive(Debug)]
pub(crate) enum Write {
    /// A new message file: header, then data.
    Message {
        id: QueueId,
        header: String,
        data: Bytes,
    },
    /// A message's state file, replaced whole.
    State { id: QueueId, text: String },
    /// Both files of a message, removed.
    Delete { id: QueueId },
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub writes: AtomicU64,
    pub file_syncs: AtomicU64,
    pub dir_syncs: AtomicU64,
}

/// The handle the engine submits writes through. Dropping it lets the
/// thread finish what was submitted, then joins it.
#[derive(Debug)]
pub(crate) struct Committer {
    thread: BatchThread,
    pub counters: Arc<Counters>,
}

pub(crate) fn message_path(dir: &Path, id: QueueId) -> PathBuf {
    dir.join(format!("{id}.msg"))
}

pub(crate) fn state_path(dir: &Path, id: QueueId) -> PathBuf {
    dir.join(format!("{id}.state"))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Fsyncs a directory, making the names created, renamed or removed in it
/// durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io("fsync directory", dir, e))
}

impl Committer {
    pub(crate) fn start(dir: PathBuf, options: SpoolOptions) -> Result<Self, StorageError> {
        let SpoolOptions {
            sync_threads,
            max_batch,
            sync_mode,
        } = options;
        let counters = Arc::new(Counters::default());
        let batcher = Batcher {
            dir,
            sync_threads: sync_threads.max(1),
            sync_mode,
            counters: Arc::clone(&counters),
        };
        let thread = BatchThread::start("postel-spool-commit", max_batch, move |batch| {
            batcher.commit(batch)
        })?;
        Ok(Committer { thread, counters })
    }

    /// Queues a write; the receiver completes when it is durable.
    pub(crate) fn submit(&self, write: Write) -> oneshot::Receiver<Result<(), StorageError>> {
        self.thread.submit(write)
    }
}

/// A file to write in this batch and the callers waiting for it.
struct FileWrite {
    path: PathBuf,
    tmp: PathBuf,
    parts: Vec<Bytes>,
    waiting: Vec<Reply>,
    file: Option<File>,
    /// The message was deleted later in the same batch: nothing to write.
    skip: bool,
    result: Result<(), StorageError>,
}

struct Batcher {
    dir: PathBuf,
    sync_threads: usize,
    sync_mode: SyncMode,
    counters: Arc<Counters>,
}

impl Batcher {
    fn commit(&self, batch: Vec<Job>) {
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);

        // Plan: one file write per path (a later state of a message replaces
        // an earlier one in the same batch), deletions last.
        let mut files: Vec<FileWrite> = Vec::new();
        let mut by_path: HashMap<PathBuf, usize> = HashMap::new();
        let mut deletes: Vec<(QueueId, Reply)> = Vec::new();
        for Job { write, done } in batch {
            let (path, parts) = match write {
                Write::Message { id, header, data } => {
                    (message_path(&self.dir, id), vec![Bytes::from(header), data])
                }
                Write::State { id, text } => (state_path(&self.dir, id), vec![Bytes::from(text)]),
                Write::Delete { id } => {
                    deletes.push((id, done));
                    continue;
                }
            };
            match by_path.get(&path) {
                Some(&i) => {
                    files[i].parts = parts;
                    files[i].waiting.push(done);
                }
                None => {
                    by_path.insert(path.clone(), files.len());
                    files.push(FileWrite {
                        tmp: tmp_path(&path),
                        path,
                        parts,
                        waiting: vec![done],
                        file: None,
                        skip: false,
                        result: Ok(()),
                    });
                }
            }
        }
        // Files of messages deleted in this batch need not be written.
        for (id, _) in &deletes {
            for p in [message_path(&self.dir, *id), state_path(&self.dir, *id)] {
                if let Some(&i) = by_path.get(&p) {
                    files[i].skip = true;
                }
            }
        }

        for f in files.iter_mut().filter(|f| !f.skip) {
            f.result = write_tmp(f);
        }
        self.sync_files(&mut files);

        let mut touched_dir = false;
        for f in files.iter_mut().filter(|f| !f.skip) {
            if f.result.is_ok() {
                f.result =
                    fs::rename(&f.tmp, &f.path).map_err(|e| StorageError::io("rename", &f.tmp, e));
                touched_dir |= f.result.is_ok();
            }
            if f.result.is_err() {
                let _ = fs::remove_file(&f.tmp);
            }
        }
        let mut delete_results = Vec::with_capacity(deletes.len());
        for (id, done) in deletes {
            let mut result = Ok(());
            for path in [message_path(&self.dir, id), state_path(&self.dir, id)] {
                match fs::remove_file(&path) {
                    Ok(()) => touched_dir = true,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        result = Err(StorageError::io("remove", path, e));
                        break;
                    }
                }
            }
            delete_results.push((result, done));
        }

        let dir_result = if touched_dir {
            self.counters.dir_syncs.fetch_add(1, Ordering::Relaxed);
            sync_dir(&self.dir).map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        let finish = |result: Result<(), StorageError>| match (&dir_result, result) {
            (_, Err(e)) => Err(e),
            (Err(msg), Ok(())) => Err(StorageError::io(
                "fsync directory",
                &self.dir,
                io::Error::other(msg.clone()),
            )),
            (Ok(()), Ok(())) => Ok(()),
        };
        for f in files {
            for done in f.waiting {
                let _ = done.send(finish(
                    f.result.as_ref().map_err(StorageError::duplicate).copied(),
                ));
            }
        }
        for (result, done) in delete_results {
            let _ = done.send(finish(result));
        }
    }

    /// Fsyncs the written temporary files, on up to `sync_threads` threads
    /// when there are several (the calling thread is one of them, and does
    /// all the work if no thread can be started).
    fn sync_files(&self, files: &mut [FileWrite]) {
        if self.sync_mode == SyncMode::Filesystem {
            return self.sync_filesystem(files);
        }
        let open: Vec<&mut FileWrite> = files.iter_mut().filter(|f| f.file.is_some()).collect();
        self.counters
            .file_syncs
            .fetch_add(open.len() as u64, Ordering::Relaxed);
        let helpers = self.sync_threads.min(open.len()).saturating_sub(1);
        let queue = Mutex::new(open.into_iter());
        let work = || {
            loop {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some(f) = next else { break };
                if let Some(file) = f.file.take()
                    && let Err(e) = file.sync_all()
                {
                    f.result = Err(StorageError::io("fsync", &f.tmp, e));
                }
            }
        };
        if helpers == 0 {
            work();
            return;
        }
        thread::scope(|scope| {
            for _ in 0..helpers {
                let _ = thread::Builder::new().spawn_scoped(scope, work);
            }
            work();
        });
    }
}

impl Batcher {
    /// [`SyncMode::Filesystem`]: one `syncfs` makes every file of the batch
    /// durable; a failure fails them all.
    fn sync_filesystem(&self, files: &mut [FileWrite]) {
        let open: Vec<&mut FileWrite> = files.iter_mut().filter(|f| f.file.is_some()).collect();
        if open.is_empty() {
            return;
        }
        self.counters.file_syncs.fetch_add(1, Ordering::Relaxed);
        let result = fs::File::open(&self.dir)
            .and_then(|d| rustix::fs::syncfs(&d).map_err(io::Error::from))
            .map_err(|e| e.to_string());
        for f in open {
            f.file = None;
            if let Err(msg) = &result {
                f.result = Err(StorageError::io(
                    "syncfs",
                    &self.dir,
                    io::Error::other(msg.clone()),
                ));
            }
        }
    }
}

fn write_tmp(f: &mut FileWrite) -> Result<(), StorageError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&f.tmp)
        .map_err(|e| StorageError::io("create", &f.tmp, e))?;
    for part in &f.parts {
        file.write_all(part)
            .map_err(|e| StorageError::io("write", &f.tmp, e))?;
    }
    f.file = Some(file);
    Ok(())
}
