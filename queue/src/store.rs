//! The pluggable part: what every queue backend does.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::envelope::Envelope;
use crate::error::QueueError;
use crate::id::QueueId;
use crate::state::{Deferral, Lease, LeaseRequest, MessageInfo, RecipientOutcome};
use crate::time::Timestamp;

/// A message queue: durable storage of messages and their delivery state,
/// and the leases that hand the work to workers.
///
/// The methods are `async` (returning `impl Future + Send`) because
/// durability is shared: the filesystem spool's commit thread makes a whole
/// batch of concurrent enqueues durable with one round of fsyncs and then
/// wakes each caller, and a database backend commits over the network. A
/// synchronous trait would force one flush per call, or a thread per caller.
///
/// Time is always an argument (`now`): a backend never reads a clock.
///
/// Guarantees every backend gives, checked by the shared test suite:
///
/// - `enqueue` returns only when the message and its envelope are durable;
///   an SMTP server sends `250` after that, never before.
/// - Outcomes, deferrals, holds and deletions are durable when their call
///   returns. A crash between a delivery and `record` means the recipient is
///   delivered again (at least once, never zero times).
/// - At most one live lease covers a message, so two workers never deliver
///   the same recipient at once. A lease that is not ended or renewed before
///   it expires is handed out again; a lease whose work was handed out again
///   is lost (`MisuseError::LeaseLost`), while an expired lease nobody took
///   over still works.
/// - Leases do not survive the store: after a restart every message is
///   available again.
pub trait QueueStore: Send + Sync {
    /// Stores a message and returns its ID once it is durable. The message
    /// is due at `now`, or at its FUTURERELEASE time.
    fn enqueue(
        &self,
        envelope: Envelope,
        data: Bytes,
        now: Timestamp,
    ) -> impl Future<Output = Result<QueueId, QueueError>> + Send;

    /// Leases due work: messages not held, not leased, whose next attempt
    /// is at or before `now`, with pending recipients; in [`WorkKey`] order
    /// (MT-PRIORITY, then age).
    ///
    /// [`WorkKey`]: crate::schedule::WorkKey
    fn lease(
        &self,
        request: LeaseRequest,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Lease>, QueueError>> + Send;

    /// Extends a lease to `now + ttl` and returns the new expiry.
    fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<Timestamp, QueueError>> + Send;

    /// The message data (its bytes as received).
    fn read_data(&self, id: QueueId) -> impl Future<Output = Result<Bytes, QueueError>> + Send;

    /// Records outcomes for recipients of the lease, durably. Returns how
    /// many recipients of the message are still pending. Each index must be
    /// pending under this lease; delivered and failed recipients leave it.
    /// Nothing is recorded if any outcome is invalid.
    fn record(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, QueueError>> + Send;

    /// Records outcomes like [`record`](Self::record) and, when that leaves
    /// no recipient pending, removes the message in the same durable step,
    /// without writing its final state first (the spool unlinks its files;
    /// a database deletes the row in the record's transaction). Returns how
    /// many recipients are still pending: `0` means the message is gone.
    ///
    /// This is the common end of a delivery: one durable change per
    /// message instead of a `record` and then a `delete`. A crash before it
    /// is durable leaves the message as it was, to be delivered again.
    fn complete(
        &self,
        lease: &Lease,
        outcomes: &[RecipientOutcome],
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, QueueError>> + Send;

    /// Ends the lease after a failed attempt: one more attempt is counted,
    /// and the message is due again at `deferral.next_attempt`.
    fn defer(
        &self,
        lease: &Lease,
        deferral: Deferral,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Ends the lease without an attempt (shutdown, a busy destination): the
    /// message is due again at once.
    fn unlease(&self, lease: &Lease) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Removes a message, leased or not (`postsuper -d`), or a finished
    /// one.
    fn delete(&self, id: QueueId) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Every queued message, by ID (`mailq`).
    fn list(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<MessageInfo>, QueueError>> + Send;

    /// One message (`postcat -q`).
    fn inspect(
        &self,
        id: QueueId,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessageInfo, QueueError>> + Send;

    /// Puts a message on hold (`postsuper -h`): it is not leased until
    /// released. A live lease stays valid.
    fn hold(&self, id: QueueId) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Releases a held message (`postsuper -H`); its next attempt is kept.
    fn release(&self, id: QueueId) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Makes a deferred message due now (`postqueue -i`), FUTURERELEASE
    /// still honoured.
    fn force_retry(
        &self,
        id: QueueId,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Makes every deferred message due now (`postqueue -f`); returns how
    /// many changed.
    fn force_retry_all(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, QueueError>> + Send;
}

/// Implements [`QueueStore`] for a type with an `engine: Engine` field.
macro_rules! delegate_store {
    ($ty:ty) => {
        impl $crate::store::QueueStore for $ty {
            async fn enqueue(
                &self,
                envelope: $crate::Envelope,
                data: ::bytes::Bytes,
                now: $crate::Timestamp,
            ) -> Result<$crate::QueueId, $crate::QueueError> {
                self.engine.enqueue(envelope, data, now).await
            }

            async fn lease(
                &self,
                request: $crate::LeaseRequest,
                now: $crate::Timestamp,
            ) -> Result<Vec<$crate::Lease>, $crate::QueueError> {
                self.engine.lease(request, now)
            }

            async fn renew(
                &self,
                lease: &$crate::Lease,
                ttl: ::std::time::Duration,
                now: $crate::Timestamp,
            ) -> Result<$crate::Timestamp, $crate::QueueError> {
                self.engine.renew(lease, ttl, now)
            }

            async fn read_data(
                &self,
                id: $crate::QueueId,
            ) -> Result<::bytes::Bytes, $crate::QueueError> {
                self.engine.read_data(id)
            }

            async fn record(
                &self,
                lease: &$crate::Lease,
                outcomes: &[$crate::RecipientOutcome],
                now: $crate::Timestamp,
            ) -> Result<usize, $crate::QueueError> {
                self.engine.record(lease, outcomes, now).await
            }

            async fn complete(
                &self,
                lease: &$crate::Lease,
                outcomes: &[$crate::RecipientOutcome],
                now: $crate::Timestamp,
            ) -> Result<usize, $crate::QueueError> {
                self.engine.complete(lease, outcomes, now).await
            }

            async fn defer(
                &self,
                lease: &$crate::Lease,
                deferral: $crate::Deferral,
                now: $crate::Timestamp,
            ) -> Result<(), $crate::QueueError> {
                self.engine.defer(lease, deferral, now).await
            }

            async fn unlease(&self, lease: &$crate::Lease) -> Result<(), $crate::QueueError> {
                self.engine.unlease(lease)
            }

            async fn delete(&self, id: $crate::QueueId) -> Result<(), $crate::QueueError> {
                self.engine.delete(id).await
            }

            async fn list(
                &self,
                now: $crate::Timestamp,
            ) -> Result<Vec<$crate::MessageInfo>, $crate::QueueError> {
                Ok(self.engine.list(now))
            }

            async fn inspect(
                &self,
                id: $crate::QueueId,
                now: $crate::Timestamp,
            ) -> Result<$crate::MessageInfo, $crate::QueueError> {
                self.engine.inspect(id, now)
            }

            async fn hold(&self, id: $crate::QueueId) -> Result<(), $crate::QueueError> {
                self.engine.set_held(id, true).await
            }

            async fn release(&self, id: $crate::QueueId) -> Result<(), $crate::QueueError> {
                self.engine.set_held(id, false).await
            }

            async fn force_retry(
                &self,
                id: $crate::QueueId,
                now: $crate::Timestamp,
            ) -> Result<(), $crate::QueueError> {
                self.engine.force_retry(id, now).await
            }

            async fn force_retry_all(
                &self,
                now: $crate::Timestamp,
            ) -> Result<usize, $crate::QueueError> {
                self.engine.force_retry_all(now).await
            }
        }
    };
}
pub(crate) use delegate_store;
