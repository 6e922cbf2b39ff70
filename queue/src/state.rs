//! The mutable state of a queued message and the types the store trait
//! exchanges.

use std::sync::Arc;
use std::time::Duration;

use crate::envelope::Envelope;
use crate::id::QueueId;
use crate::time::Timestamp;

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientStatus {
    /// Not delivered yet: the queue will try (again).
    Pending,
    /// Delivered (or relayed): final.
    Delivered,
    /// Failed permanently or expired: final; the sender is owed a report.
    Failed,
}

/// One recipient's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecipientState {
    /// Pending, delivered or failed.
    pub status: RecipientStatus,
    /// When the last outcome was recorded.
    pub updated: Option<Timestamp>,
    /// The last reply or diagnostic, e.g. `451 4.7.1 greylisted`.
    pub last_reply: Option<String>,
}

impl RecipientState {
    /// A recipient that has not been tried.
    pub fn pending() -> Self {
        RecipientState {
            status: RecipientStatus::Pending,
            updated: None,
            last_reply: None,
        }
    }
}

/// The mutable state of a queued message, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageState {
    /// Delivery attempts so far (deferrals recorded).
    pub attempts: u32,
    /// The earliest time of the next attempt.
    pub next_attempt: Timestamp,
    /// Put on hold by an operator: never leased until released.
    pub held: bool,
    /// A delay report was sent (so it is sent once).
    pub delay_warned: bool,
    /// One per recipient of the envelope, in the same order.
    pub recipients: Vec<RecipientState>,
}

impl MessageState {
    /// The state of a message just enqueued at `now`: every recipient
    /// pending, first attempt at `now` or at its FUTURERELEASE time.
    pub fn fresh(envelope: &Envelope, now: Timestamp) -> Self {
        MessageState {
            attempts: 0,
            next_attempt: envelope.hold_until.map_or(now, |t| t.max(now)),
            held: false,
            delay_warned: false,
            recipients: vec![RecipientState::pending(); envelope.recipients.len()],
        }
    }

    /// Indices of the recipients still pending.
    pub fn pending(&self) -> impl Iterator<Item = usize> + '_ {
        self.recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == RecipientStatus::Pending)
            .map(|(i, _)| i)
    }
}

/// The result of one delivery attempt to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Delivered: final.
    Delivered {
        /// The server's reply, for logs and success reports.
        reply: String,
    },
    /// Failed permanently: final; a failure report is owed.
    Failed {
        /// The reply or diagnostic, for the failure report.
        reply: String,
    },
    /// Failed for now: stays pending; the reply is kept for `mailq` and for
    /// the report if it later expires.
    Deferred {
        /// The reply or diagnostic.
        reply: String,
    },
}

/// An outcome for the recipient at `index` of the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecipientOutcome {
    /// The recipient's index in `Envelope::recipients`.
    pub index: usize,
    /// What happened.
    pub outcome: Outcome,
}

/// What `QueueStore::lease` should hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRequest {
    /// At most this many messages.
    pub max_messages: usize,
    /// How long the leases last unless renewed. A worker that dies without
    /// ending its lease loses it after this long and the work is handed out
    /// again.
    pub ttl: Duration,
}

/// A message handed to one worker: its envelope and the recipients it must
/// deliver now. While the lease lives, no other lease covers the message.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The backend's mark for this lease: a lease is valid while the
    /// message's current lease carries the same token. Opaque to workers.
    pub token: u64,
    /// The message.
    pub id: QueueId,
    /// Its envelope.
    pub envelope: Arc<Envelope>,
    /// When it was enqueued.
    pub queued: Timestamp,
    /// The size of the message data in bytes.
    pub size: u64,
    /// Attempts before this one.
    pub attempts: u32,
    /// Whether a delay report was already sent.
    pub delay_warned: bool,
    /// Indices (into `envelope.recipients`) of the recipients to deliver.
    pub pending: Vec<usize>,
    /// When the lease expires unless renewed.
    pub expires: Timestamp,
}

/// How a deferred message is put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deferral {
    /// The earliest time of the next attempt.
    pub next_attempt: Timestamp,
    /// A delay report was sent with this deferral.
    pub delay_warning_sent: bool,
}

/// Which of Postfix's queues a message would be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Not tried yet.
    Incoming,
    /// Leased by a worker now.
    Active,
    /// Tried and waiting for its next attempt.
    Deferred,
    /// On hold.
    Hold,
}

/// A queued message as `mailq` / `postcat` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The message.
    pub id: QueueId,
    /// Its envelope.
    pub envelope: Arc<Envelope>,
    /// When it was enqueued.
    pub queued: Timestamp,
    /// The size of the message data in bytes.
    pub size: u64,
    /// Its state.
    pub state: MessageState,
    /// When the current lease expires, if one is live.
    pub leased_until: Option<Timestamp>,
}

impl MessageInfo {
    /// Which queue the message is in.
    pub fn queue(&self) -> QueueName {
        if self.state.held {
            QueueName::Hold
        } else if self.leased_until.is_some() {
            QueueName::Active
        } else if self.state.attempts == 0 {
            QueueName::Incoming
        } else {
            QueueName::Deferred
        }
    }
}
