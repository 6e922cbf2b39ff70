//! The shared test suite of the `QueueStore` trait (tests/backend), run
//! against the built-in backends: `MemoryStore` and `SpoolStore`.

mod common;
#[macro_use]
mod backend;

use common::TempDir;
use postel_queue::{MemoryStore, SpoolOptions, SpoolStore};

async fn memory(_name: &str) -> Option<((), MemoryStore)> {
    Some(((), MemoryStore::new()))
}

async fn spool(name: &str) -> Option<(TempDir, SpoolStore)> {
    let dir = TempDir::new(name);
    let (store, report) = SpoolStore::open(dir.path(), SpoolOptions::default()).unwrap();
    assert!(report.is_clean() && report.messages == 0);
    Some((dir, store))
}

backend_suite!(memory, super::memory);
backend_suite!(spool, super::spool);
