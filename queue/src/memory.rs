//! The in-memory store: for tests and for programs that can lose their
//! queue.

use crate::engine::{Core, Engine};

/// A [`QueueStore`](crate::QueueStore) in memory. Nothing survives the
/// process; "durable" means "in the map". Same semantics as the spool
/// otherwise, checked by the same test suite.
#[derive(Debug)]
pub struct MemoryStore {
    engine: Engine,
}

impl MemoryStore {
    /// An empty queue.
    pub fn new() -> Self {
        MemoryStore {
            engine: Engine::new(Core::default(), None),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

crate::store::delegate_store!(MemoryStore);
