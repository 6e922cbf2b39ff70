//! The thread both directory stores commit through: callers hand it
//! writes and wait on a oneshot; it takes everything that queued up while
//! it was busy as one batch and gives the batch to the store's commit
//! function (the spool's file writes, the journal's appends), which makes
//! it durable with one round of flushes and completes each caller.
//!
//! A dedicated OS thread (not an async task) keeps blocking fsyncs away from
//! the caller's runtime, and keeps the library free of any runtime.

use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use tokio::sync::oneshot;

use crate::error::StorageError;
use crate::spool::committer::Write;

/// Where a caller hears that its write is durable (or why not).
pub(crate) type Reply = oneshot::Sender<Result<(), StorageError>>;

/// A write and its caller.
pub(crate) struct Job {
    pub write: Write,
    pub done: Reply,
}

/// The handle writes are submitted through. Dropping it lets the thread
/// finish what was submitted, then joins it.
#[derive(Debug)]
pub(crate) struct BatchThread {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl BatchThread {
    /// Starts the thread `name`, which calls `commit` with batches of at
    /// most `max_batch` jobs.
    pub(crate) fn start(
        name: &str,
        max_batch: usize,
        mut commit: impl FnMut(Vec<Job>) + Send + 'static,
    ) -> Result<Self, StorageError> {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    commit(batch);
                }
            })
            .map_err(StorageError::Spawn)?;
        Ok(BatchThread {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a write; the receiver completes when it is durable.
    pub(crate) fn submit(&self, write: Write) -> oneshot::Receiver<Result<(), StorageError>> {
        let (done, rx) = oneshot::channel();
        if let Some(tx) = &self.tx {
            // If the thread is gone the job (and `done`) is dropped and the
            // receiver reports that.
            let _ = tx.send(Job { write, done });
        }
        rx
    }
}

impl Drop for BatchThread {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
