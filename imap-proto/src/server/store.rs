//! The mailbox store: what the server session needs from the application's
//! storage, as a synchronous trait that an in-memory store, a Maildir and an
//! SQL database can all implement.
//!
//! Names are UTF-8 with `/` as the hierarchy delimiter, whatever the wire
//! encoding of the session; `INBOX` is always spelled `INBOX`. Every message
//! has a UID (ascending within a mailbox, never reused while the mailbox's
//! UIDVALIDITY stays) and a mod-sequence (RFC 7162) that grows on every
//! change of the message; expunges are remembered with the mod-sequence at
//! which they happened so that a session can learn what vanished since a
//! mod-sequence it knows. This is what lets several sessions share one
//! mailbox: each asks [`MailboxStore::changes`] when it may report changes.

use bytes::Bytes;

use crate::datetime::DateTime;
use crate::flag::Flag;
use crate::response::Code;

/// The hierarchy delimiter of store names.
pub const DELIMITER: char = '/';

/// Why a store operation failed. Each maps to a response code (RFC 5530).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The mailbox (or message) does not exist.
    #[error("no such mailbox")]
    NonExistent,
    /// The mailbox exists already.
    #[error("mailbox already exists")]
    AlreadyExists,
    /// The user may not do this.
    #[error("permission denied")]
    NoPerm,
    /// A quota would be exceeded.
    #[error("quota exceeded")]
    OverQuota,
    /// A limit of the store (message size, mailbox count) would be exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The operation cannot be done on this mailbox (INBOX cannot be
    /// deleted, a name is not valid for the store).
    #[error("cannot: {0}")]
    Cannot(String),
    /// The mailbox has child mailboxes and cannot be deleted without them.
    #[error("mailbox has children")]
    HasChildren,
    /// The mailbox is in use elsewhere and locked.
    #[error("mailbox in use")]
    InUse,
    /// A temporary failure of the backing storage.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// The storage found damaged data.
    #[error("storage corrupted: {0}")]
    Corruption(String),
}

impl StoreError {
    /// The text of the `NO` response that reports this error: the message
    /// as a sentence.
    pub fn response_text(&self) -> String {
        match self {
            Self::NonExistent => "Mailbox does not exist".to_owned(),
            other => {
                let t = other.to_string();
                let mut c = t.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            }
        }
    }

    /// The response code that reports this error.
    pub fn code(&self) -> Code {
        match self {
            Self::NonExistent => Code::NonExistent,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::NoPerm => Code::NoPerm,
            Self::OverQuota => Code::OverQuota,
            Self::Limit(_) => Code::Limit,
            Self::Cannot(_) => Code::Cannot,
            Self::HasChildren => Code::HasChildren,
            Self::InUse => Code::InUse,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Corruption(_) => Code::Corruption,
        }
    }
}

/// One mailbox in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The full name (`Archive/2026`).
    pub name: String,
    /// Special-use attributes without the backslash (`Sent`, `Trash`).
    pub special_use: Vec<String>,
    /// Whether the user subscribed to it.
    pub subscribed: bool,
}

/// What a session knows of a message in the selected mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// The UID.
    pub uid: u32,
    /// Its flags (without `\Recent`).
    pub flags: Vec<Flag>,
    /// Its mod-sequence.
    pub modseq: u64,
}

/// A mailbox opened by SELECT or EXAMINE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSnapshot {
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// The next UID to be assigned.
    pub uid_next: u32,
    /// The highest mod-sequence of the mailbox (RFC 7162).
    pub highest_modseq: u64,
    /// The messages, in ascending UID order.
    pub messages: Vec<MessageMeta>,
    /// Keywords defined in the mailbox (sent in FLAGS besides the system
    /// flags).
    pub keywords: Vec<String>,
    /// Whether the store lets this user change the mailbox; `false` makes
    /// SELECT behave like EXAMINE.
    pub writable: bool,
}

/// What changed in a mailbox since a mod-sequence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// UIDVALIDITY now (a change means the mailbox was recreated).
    pub uid_validity: u32,
    /// The next UID now.
    pub uid_next: u32,
    /// The highest mod-sequence now.
    pub highest_modseq: u64,
    /// Messages changed or added after the mod-sequence, ascending by UID.
    pub changed: Vec<MessageMeta>,
    /// UIDs expunged after the mod-sequence, ascending.
    pub expunged: Vec<u32>,
}

/// A message's data for FETCH and SEARCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Its state.
    pub meta: MessageMeta,
    /// INTERNALDATE.
    pub internal_date: DateTime,
    /// SAVEDATE (RFC 8514), when the store keeps it.
    pub save_date: Option<DateTime>,
    /// The message, exactly as stored.
    pub raw: Bytes,
}

/// The numbers STATUS reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailboxStatus {
    /// Number of messages.
    pub messages: u32,
    /// The next UID.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Total size of the messages in octets (STATUS=SIZE, RFC 8438).
    pub size: u64,
    /// The highest mod-sequence.
    pub highest_modseq: u64,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    /// Replace the flags.
    Replace,
    /// Add the flags.
    Add,
    /// Remove the flags.
    Remove,
}

/// The result of changing flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagsUpdated {
    /// Messages whose flags were changed or asked for, with their state
    /// after the change (ascending UIDs; messages expunged meanwhile are
    /// left out).
    pub updated: Vec<MessageMeta>,
    /// UIDs not changed because their mod-sequence was above
    /// UNCHANGEDSINCE (RFC 7162 §3.1.3).
    pub modified: Vec<u32>,
}

/// UIDs of messages copied or moved (UIDPLUS, RFC 4315).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopiedUids {
    /// The destination's UIDVALIDITY.
    pub uid_validity: u32,
    /// Source UID and destination UID pairs, ascending by source UID.
    pub pairs: Vec<(u32, u32)>,
}

/// A quota root's resources (RFC 9208).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaInfo {
    /// The root's name.
    pub root: String,
    /// Resource name, usage and limit.
    pub resources: Vec<(String, u64, u64)>,
}

/// A message being appended, written in pieces as the client sends it.
pub trait AppendSink {
    /// Adds the next piece of the message.
    fn write(&mut self, data: &[u8]) -> Result<(), StoreError>;
}

/// The storage behind a server session.
///
/// Every method acts for `user`, the authenticated identity, and gets
/// names as described in the [module documentation](self). Methods return
/// promptly; a store backed by a network database blocks the calling
/// thread (run sessions on a blocking-capable executor thread) or keeps a
/// local cache.
pub trait MailboxStore {
    /// A message being appended.
    type Append: AppendSink;

    /// All mailboxes of the user, INBOX included.
    fn list(&mut self, user: &str) -> Result<Vec<MailboxInfo>, StoreError>;

    /// Creates a mailbox (and missing parents) with special-use
    /// attributes (CREATE-SPECIAL-USE, RFC 6154).
    fn create(&mut self, user: &str, name: &str, special_use: &[String]) -> Result<(), StoreError>;

    /// Deletes a mailbox. INBOX cannot be deleted.
    fn delete(&mut self, user: &str, name: &str) -> Result<(), StoreError>;

    /// Renames a mailbox and its children. Renaming INBOX moves its
    /// messages to the new mailbox and leaves INBOX empty.
    fn rename(&mut self, user: &str, from: &str, to: &str) -> Result<(), StoreError>;

    /// Subscribes or unsubscribes. Subscribing to a name that does not
    /// exist is allowed.
    fn subscribe(&mut self, user: &str, name: &str, subscribed: bool) -> Result<(), StoreError>;

    /// Opens a mailbox for SELECT or EXAMINE.
    fn select(&mut self, user: &str, name: &str) -> Result<MailboxSnapshot, StoreError>;

    /// STATUS numbers.
    fn status(&mut self, user: &str, name: &str) -> Result<MailboxStatus, StoreError>;

    /// What changed after `since` (a mod-sequence).
    fn changes(&mut self, user: &str, name: &str, since: u64) -> Result<Changes, StoreError>;

    /// One message, by UID; [`StoreError::NonExistent`] once expunged.
    fn fetch(&mut self, user: &str, name: &str, uid: u32) -> Result<MessageRecord, StoreError>;

    /// Changes flags of the messages with these UIDs (ascending), skipping
    /// those whose mod-sequence is above `unchanged_since`. Every changed
    /// message gets a new mod-sequence.
    fn store_flags(
        &mut self,
        user: &str,
        name: &str,
        uids: &[u32],
        change: FlagChange,
        flags: &[Flag],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdated, StoreError>;

    /// Starts appending a message to a mailbox; `date` is the internal date
    /// asked for (the store picks the current time otherwise).
    fn begin_append(
        &mut self,
        user: &str,
        name: &str,
        flags: &[Flag],
        date: Option<DateTime>,
    ) -> Result<Self::Append, StoreError>;

    /// Makes an appended message part of the mailbox: returns the
    /// mailbox's UIDVALIDITY and the new UID.
    fn commit_append(&mut self, append: Self::Append) -> Result<(u32, u32), StoreError>;

    /// Copies messages (ascending UIDs) to another mailbox.
    fn copy(
        &mut self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopiedUids, StoreError>;

    /// Moves messages (ascending UIDs) to another mailbox: copies them, then
    /// expunges them from the source, as one operation where the store can.
    fn move_messages(
        &mut self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopiedUids, StoreError>;

    /// Expunges the messages flagged `\Deleted`, only those among `uids`
    /// when given (UID EXPUNGE). Returns the expunged UIDs, ascending.
    fn expunge(
        &mut self,
        user: &str,
        name: &str,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError>;

    /// The quota roots of a mailbox and their resources (RFC 9208). The
    /// default has none.
    fn quota_roots(&mut self, user: &str, name: &str) -> Result<Vec<QuotaInfo>, StoreError> {
        let _ = (user, name);
        Ok(Vec::new())
    }

    /// One quota root (RFC 9208). The default knows none.
    fn quota(&mut self, user: &str, root: &str) -> Result<QuotaInfo, StoreError> {
        let _ = (user, root);
        Err(StoreError::NonExistent)
    }
}
