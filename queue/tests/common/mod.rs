//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use postel_queue::{Envelope, LeaseRequest, Recipient, Timestamp};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("postel-queue-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

pub fn at(secs: u64) -> Timestamp {
    T0.saturating_add(Duration::from_secs(secs))
}

pub fn envelope(recipients: &[&str]) -> Envelope {
    Envelope::new(
        "sender@example.org",
        recipients.iter().map(|r| Recipient::new(*r)),
        T0,
    )
}

pub fn request(max_messages: usize, ttl_secs: u64) -> LeaseRequest {
    LeaseRequest {
        max_messages,
        ttl: Duration::from_secs(ttl_secs),
    }
}
