//! Errors, split by cause: the storage failed, the caller misused the API,
//! or stored data is bad.

use std::io;
use std::path::PathBuf;

use crate::id::QueueId;

/// Any error of a queue operation.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The storage under the queue failed (disk, database). The operation
    /// may be retried; for `enqueue` the message is not accepted.
    #[error("queue storage failed: {0}")]
    Storage(#[from] StorageError),
    /// The caller asked for something the queue's state does not allow.
    #[error("queue misuse: {0}")]
    Misuse(#[from] MisuseError),
    /// Stored data could not be read back.
    #[error("bad queue data: {0}")]
    Corrupt(#[from] CorruptError),
}

/// The storage under the queue failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file-system call failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done (`write`, `fsync`, `rename`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The spool's commit thread is gone (it panicked, or the store is being
    /// dropped), so nothing can be made durable.
    #[error("the spool's commit thread has stopped")]
    CommitterStopped,
    /// Another store (in this process or another) has the spool directory
    /// open.
    #[error("spool {} is in use by another store", .0.display())]
    Locked(PathBuf),
    /// The spool could not start its commit thread.
    #[error("cannot start the spool's commit thread")]
    Spawn(#[source] io::Error),
}

impl StorageError {
    /// The same error again, for each of the callers one failure concerns
    /// (`io::Error` is not `Clone`: its kind and text are kept).
    pub(crate) fn duplicate(&self) -> StorageError {
        match self {
            StorageError::Io { op, path, source } => StorageError::Io {
                op,
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            StorageError::CommitterStopped => StorageError::CommitterStopped,
            StorageError::Locked(p) => StorageError::Locked(p.clone()),
            StorageError::Spawn(e) => StorageError::Spawn(io::Error::new(e.kind(), e.to_string())),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// The caller asked for something the queue does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MisuseError {
    /// No message with this ID is queued (any more).
    #[error("no queued message {0}")]
    UnknownMessage(QueueId),
    /// The lease is no longer valid: the message was leased again after the
    /// lease expired, or the lease was already ended.
    #[error("the lease on {0} is no longer held")]
    LeaseLost(QueueId),
    /// The recipient is not one of the lease's pending recipients.
    #[error("recipient {index} of {id} is not pending under this lease")]
    NotLeased {
        /// The message.
        id: QueueId,
        /// The recipient's index in the envelope.
        index: usize,
    },
    /// An envelope without recipients.
    #[error("an envelope needs at least one recipient")]
    NoRecipients,
    /// MT-PRIORITY outside -9..=9.
    #[error("MT-PRIORITY {0} is outside -9..=9")]
    BadPriority(i8),
    /// A lease with a zero time to live, or a request for zero messages.
    #[error("a lease request needs a positive time to live and count")]
    EmptyLeaseRequest,
    /// A message too large for the store (the journal's records are at
    /// most 1 GiB).
    #[error("a message of {size} bytes is larger than this store takes ({limit})")]
    MessageTooLarge {
        /// The message's size.
        size: u64,
        /// The largest the store takes.
        limit: u64,
    },
    /// A configuration value that cannot work.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
}

/// Stored data that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum CorruptError {
    /// A spool file does not parse.
    #[error("{}: line {line}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// The line (1-based; 0 when the problem is not on one line).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A message file is shorter or longer than its header says.
    #[error("{}: {actual} bytes of message data, the header says {expected}", path.display())]
    WrongSize {
        /// The file.
        path: PathBuf,
        /// The size in the header.
        expected: u64,
        /// The size found.
        actual: u64,
    },
}
