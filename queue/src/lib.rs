//! # postel-queue
//!
//! The mail queue of Postel, modelled on Postfix's queue manager: messages
//! wait in a store until delivered, deferred ones are retried between a
//! minimal and a maximal backoff until their lifetime ends, and every
//! recipient's outcome is kept.
//!
//! - [`QueueStore`]: the pluggable storage trait: enqueue (durable before
//!   it returns), lease due work to workers, record outcomes, complete,
//!   defer, delete; and the operator's list, inspect, hold, release, delete
//!   and force-retry (`mailq`, `postqueue`, `postsuper`).
//! - [`SpoolStore`]: the embedded default, one directory, a file per
//!   message, crash-safe writes, group commit and recovery;
//!   [`JournalStore`]: append-only segments with one `fdatasync` per batch
//!   (the fast one); `PgStore` (feature `postgres`) for a queue shared by
//!   several nodes; [`MemoryStore`] for tests.
//! - [`schedule`]: Sans-IO decisions: [`RetryPolicy`] (Postfix's
//!   `minimal_backoff_time`, `maximal_backoff_time`,
//!   `maximal_queue_lifetime`, `bounce_queue_lifetime`,
//!   `delay_warning_time`), work order by MT-PRIORITY then age,
//!   FUTURERELEASE and DELIVERBY, and per-destination concurrency, rate and
//!   backoff ([`Scheduler`]).
//!
//! - `deliver` (feature `delivery`): SMTP and LMTP delivery agents, MX
//!   resolution, a transport table, and a worker that drains the queue
//!   (queue time from the caller's clock; network timeouts on the
//!   monotonic clock).
//!
//! No clock is read: every call that depends on time takes `now`
//! ([`Timestamp`]); binaries use [`SystemClock`].
//!
//! ## Durability
//!
//! `enqueue` returns only once the message is on disk (file and directory
//! fsynced, a journal batch synced, or a committed transaction), so the
//! SMTP server may answer
//! `250` after it and not before. A crash at any point loses no
//! acknowledged message; at worst a recipient whose delivery was not yet
//! recorded is delivered twice, never zero times.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use postel_queue::schedule::{Plan, Scheduler, DestinationPolicy, RetryPolicy};
//! use postel_queue::{Envelope, LeaseRequest, MemoryStore, Outcome, QueueStore,
//!     RecipientOutcome, Recipient, Timestamp, Deferral};
//!
//! # async fn demo() -> Result<(), postel_queue::QueueError> {
//! let store = MemoryStore::new(); // or JournalStore::open(dir, JournalOptions::default())?.0
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let envelope = Envelope::new(
//!     "alice@example.org",
//!     [Recipient::new("bob@example.com"), Recipient::new("carol@example.net")],
//!     now,
//! );
//! let id = store.enqueue(envelope, b"Subject: hi\r\n\r\nhello\r\n".to_vec().into(), now).await?;
//! // Durable now: send 250.
//!
//! let leases = store.lease(LeaseRequest { max_messages: 10, ttl: Duration::from_secs(600) }, now).await?;
//! let lease = &leases[0];
//! assert_eq!((lease.id, lease.pending.clone()), (id, vec![0, 1]));
//! let _bytes = store.read_data(id).await?;
//! let pending = store.record(lease, &[
//!     RecipientOutcome { index: 0, outcome: Outcome::Delivered { reply: "250 2.0.0 ok".into() } },
//!     RecipientOutcome { index: 1, outcome: Outcome::Deferred { reply: "451 4.7.1 later".into() } },
//! ], now).await?;
//! assert_eq!(pending, 1);
//!
//! let scheduler = Scheduler::new(RetryPolicy::default(), DestinationPolicy::default()).unwrap();
//! match scheduler.after_failure(lease, now, None) {
//!     Plan::Retry { at, .. } => {
//!         store.defer(lease, Deferral { next_attempt: at, delay_warning_sent: false }, now).await?;
//!         assert_eq!(at, Timestamp::from_unix_secs(1_700_000_300));
//!     }
//!     Plan::Expire(_) => { /* fail the pending recipients, bounce, delete */ }
//! }
//! assert!(store.lease(LeaseRequest { max_messages: 10, ttl: Duration::from_secs(600) }, now).await?.is_empty());
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

mod codec;
#[cfg(feature = "delivery")]
pub mod deliver;
pub mod dsn;
mod engine;
pub mod envelope;
pub mod error;
mod group_commit;
mod id;
pub mod journal;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod schedule;
pub mod spool;
pub mod state;
mod store;
mod time;

pub use dsn::{
    Dsn, DsnConfig, DsnInput, DsnKind, DsnRecipient, ParamEncoding, Returned, StatusCode, build_dsn,
};
pub use envelope::{
    Body, ByMode, DeliverBy, Envelope, Notify, OriginalRecipient, Recipient, Ret, Trace,
};
pub use error::{CorruptError, MisuseError, QueueError, StorageError};
pub use id::{ParseQueueIdError, QueueId};
pub use journal::{JournalOptions, JournalRecovery, JournalStats, JournalStore};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PgError, PgOptions, PgStore};
pub use schedule::{RetryPolicy, Scheduler};
pub use spool::{RecoveryReport, SpoolOptions, SpoolStats, SpoolStore, SyncMode};
pub use state::{
    Deferral, Lease, LeaseRequest, MessageInfo, MessageState, Outcome, QueueName, RecipientOutcome,
    RecipientState, RecipientStatus,
};
pub use store::QueueStore;
pub use time::{SystemClock, Timestamp};
