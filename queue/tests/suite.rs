//! The shared test suite of the `QueueStore` trait (tests/backend), run
//! against the built-in backends: `MemoryStore`, `SpoolStore` (both sync
//! modes) and `JournalStore` (with small segments, so that rotation and
//! cleaning happen during the cases).

mod common;
#[macro_use]
mod backend;

use common::TempDir;
use postel_queue::{JournalOptions, JournalStore, MemoryStore, SpoolOptions, SpoolStore, SyncMode};

async fn memory(_name: &str) -> Option<((), MemoryStore)> {
    Some(((), MemoryStore::new()))
}

async fn spool(name: &str) -> Option<(TempDir, SpoolStore)> {
    let dir = TempDir::new(name);
    let (store, report) = SpoolStore::open(dir.path(), SpoolOptions::default()).unwrap();
    assert!(report.is_clean() && report.messages == 0);
    Some((dir, store))
}

/// The spool with one `syncfs` a batch instead of an fsync a file.
async fn spool_syncfs(name: &str) -> Option<(TempDir, SpoolStore)> {
    let dir = TempDir::new(name);
    let options = SpoolOptions {
        sync_mode: SyncMode::Filesystem,
        ..SpoolOptions::default()
    };
    let (store, report) = SpoolStore::open(dir.path(), options).unwrap();
    assert!(report.is_clean() && report.messages == 0);
    Some((dir, store))
}

/// The journal, with 4 KiB segments.
async fn journal(name: &str) -> Option<(TempDir, JournalStore)> {
    let dir = TempDir::new(name);
    let options = JournalOptions {
        segment_size: 4096,
        ..JournalOptions::default()
    };
    let (store, report) = JournalStore::open(dir.path(), options).unwrap();
    assert!(report.is_clean() && report.messages == 0, "{report:?}");
    Some((dir, store))
}

backend_suite!(memory, super::memory);
backend_suite!(journal, super::journal);
backend_suite!(spool, super::spool);
backend_suite!(spool_syncfs, super::spool_syncfs);
