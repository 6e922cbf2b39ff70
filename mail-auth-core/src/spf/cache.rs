//! A cache of parsed SPF records, shared by checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::record::SpfRecord;

/// Record text to its parse.
type Records = HashMap<Box<[u8]>, Arc<SpfRecord>>;

/// Parsed SPF records keyed by their TXT text, so that checks that see the
/// same record (a busy receiver sees the big providers' records all day)
/// parse it once. DNS answers stay the resolver's business: this holds only
/// the parse of a text, which never goes stale. Bounded: when full, it is
/// emptied and refilled.
///
/// Clones share the same cache.
#[derive(Debug, Clone)]
pub struct SpfRecordCache {
    inner: Arc<Mutex<Records>>,
    capacity: usize,
}

impl SpfRecordCache {
    /// A cache holding at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        SpfRecordCache {
            inner: Arc::new(Mutex::new(HashMap::new())),
            capacity,
        }
    }

    /// The parsed record for `text`, if cached.
    pub fn get(&self, text: &[u8]) -> Option<Arc<SpfRecord>> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(text).cloned()
    }

    /// Remember the parse of `text`.
    pub fn insert(&self, text: &[u8], record: Arc<SpfRecord>) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        if self.capacity > 0 {
            map.insert(text.into(), record);
        }
    }

    /// How many records are cached.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
