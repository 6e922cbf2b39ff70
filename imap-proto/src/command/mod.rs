//! IMAP commands (client to server): the types, parsing on the server
//! ([`Command::parse`]) and writing on the client ([`Command::encode`]).
//!
//! Keywords are case-insensitive on input and written upper-case. A
//! command is parsed from its complete bytes as the [`CommandReader`]
//! delivers them, literal data included; the writer produces the same
//! shape, so `Command::parse(&cmd.encode(opts).bytes) == Ok(cmd)` for
//! every command whose fields hold what the grammar allows (non-empty
//! lists where the grammar wants one item or more, no NUL bytes in
//! strings).
//!
//! [`CommandReader`]: crate::reader::CommandReader

pub(crate) mod parse;
mod write;

use std::fmt;

use bytes::Bytes;

use crate::datetime::DateTime;
use crate::error::CommandError;
use crate::fetch::{FetchItems, FetchModifiers};
use crate::flag::Flag;
use crate::list::{ListReturn, ListSelect};
use crate::mailbox::Mailbox;
use crate::search::{SearchKey, SearchProgram, SearchReturn};
use crate::select::SelectParams;
use crate::sequence::SequenceSet;
use crate::sort::{SortCriterion, ThreadAlgorithm};
use crate::status::StatusAttribute;
use crate::tag::Tag;
use crate::writer::{Encoded, WriteOptions, Writer};

pub use parse::{DEFAULT_MAX_DEPTH, is_done, parse_sasl_response};

/// One ID field: a name and a value (NIL as `None`).
pub type IdField = (Vec<u8>, Option<Vec<u8>>);

/// A password or other secret; its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `+FLAGS`, `-FLAGS` or `FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// The message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// The message bytes.
    pub data: Bytes,
    /// Sent as a literal8 (`~{n}`, RFC 3516).
    pub binary: bool,
    /// Sent as `UTF8 (~{n})` (RFC 6855 §4); implies `binary`.
    pub utf8: bool,
}

/// A complete command: its tag and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag.
    pub tag: Tag,
    /// The command proper.
    pub body: CommandBody,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR, RFC 4959).
    Authenticate {
        /// The mechanism name, upper-cased.
        mechanism: String,
        /// The decoded initial response; `Some(empty)` for `=`.
        initial_response: Option<Secret>,
    },
    /// `LOGIN user password`.
    Login {
        /// The user name.
        username: Vec<u8>,
        /// The password.
        password: Secret,
    },
    /// `ENABLE capability...` (RFC 5161); never empty.
    Enable {
        /// The capabilities, as sent.
        capabilities: Vec<String>,
    },
    /// `SELECT mailbox [params]`.
    Select {
        /// The mailbox.
        mailbox: Mailbox,
        /// CONDSTORE / QRESYNC.
        params: SelectParams,
    },
    /// `EXAMINE mailbox [params]`.
    Examine {
        /// The mailbox.
        mailbox: Mailbox,
        /// CONDSTORE / QRESYNC.
        params: SelectParams,
    },
    /// `CREATE mailbox [(USE (attrs))]` (RFC 6154 §3).
    Create {
        /// The mailbox.
        mailbox: Mailbox,
        /// Special-use attributes, without the backslash (`Sent`, `Drafts`).
        special_use: Vec<String>,
    },
    /// `DELETE mailbox`.
    Delete {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `RENAME from to`.
    Rename {
        /// The existing name.
        from: Mailbox,
        /// The new name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `LIST [(select-opts)] reference patterns [RETURN (return-opts)]`.
    List {
        /// Selection options (LIST-EXTENDED).
        selection: Vec<ListSelect>,
        /// The reference name.
        reference: Mailbox,
        /// The patterns; never empty.
        patterns: Vec<Vec<u8>>,
        /// Return options (LIST-EXTENDED).
        returns: Vec<ListReturn>,
    },
    /// `LSUB reference pattern` (IMAP4rev1).
    Lsub {
        /// The reference name.
        reference: Mailbox,
        /// The pattern.
        pattern: Vec<u8>,
    },
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `STATUS mailbox (attributes)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// The data items; never empty.
        attributes: Vec<StatusAttribute>,
    },
    /// `APPEND mailbox [flags] [date-time] message`.
    Append {
        /// The mailbox.
        mailbox: Mailbox,
        /// The flags to set (empty: none given).
        flags: Vec<Flag>,
        /// The internal date.
        date: Option<DateTime>,
        /// The message.
        message: AppendMessage,
    },
    /// `IDLE` (RFC 2177); the client ends it with `DONE` ([`is_done`]).
    Idle,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `EXPUNGE`.
    Expunge,
    /// `UID EXPUNGE set` (RFC 4315).
    UidExpunge {
        /// The UIDs.
        set: SequenceSet,
    },
    /// `[UID] SEARCH [RETURN (opts)] [CHARSET c] keys`.
    Search {
        /// UID SEARCH.
        uid: bool,
        /// `RETURN (...)` (ESEARCH); `Some(empty)` for `RETURN ()`.
        returns: Option<Vec<SearchReturn>>,
        /// The charset and keys.
        program: SearchProgram,
    },
    /// `[UID] FETCH set items [modifiers]`.
    Fetch {
        /// UID FETCH.
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// What to fetch.
        items: FetchItems,
        /// CHANGEDSINCE / VANISHED.
        modifiers: FetchModifiers,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags`.
    Store {
        /// UID STORE.
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// `UNCHANGEDSINCE` (RFC 7162).
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        mode: StoreMode,
        /// `.SILENT`.
        silent: bool,
        /// The flags (possibly empty).
        flags: Vec<Flag>,
    },
    /// `[UID] COPY set mailbox`.
    Copy {
        /// UID COPY.
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// The destination.
        mailbox: Mailbox,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851).
    Move {
        /// UID MOVE.
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// The destination.
        mailbox: Mailbox,
    },
    /// `ID (key value ...)` or `ID NIL` (RFC 2971).
    Id {
        /// The fields, `None` for NIL.
        fields: Option<Vec<IdField>>,
    },
    /// `GETQUOTA root` (RFC 9208).
    GetQuota {
        /// The quota root.
        root: Vec<u8>,
    },
    /// `GETQUOTAROOT mailbox` (RFC 9208).
    GetQuotaRoot {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// `SETQUOTA root (resource limit ...)` (RFC 9208).
    SetQuota {
        /// The quota root.
        root: Vec<u8>,
        /// Resource names (atoms, as sent) and limits.
        limits: Vec<(String, u64)>,
    },
    /// `[UID] SORT (criteria) charset keys` (RFC 5256).
    Sort {
        /// UID SORT.
        uid: bool,
        /// The sort criteria; never empty.
        criteria: Vec<SortCriterion>,
        /// The charset (always present) and keys.
        program: SearchProgram,
    },
    /// `[UID] THREAD algorithm charset keys` (RFC 5256).
    Thread {
        /// UID THREAD.
        uid: bool,
        /// The algorithm.
        algorithm: ThreadAlgorithm,
        /// The charset (always present) and keys.
        program: SearchProgram,
    },
    /// `COMPRESS algorithm` (RFC 4978).
    Compress {
        /// The algorithm, upper-cased (`DEFLATE`).
        algorithm: String,
    },
}

impl Command {
    /// A command with a tag.
    pub fn new(tag: Tag, body: CommandBody) -> Self {
        Self { tag, body }
    }

    /// Parses one complete command (CRLF included, literals inline) with
    /// the default nesting limit.
    pub fn parse(bytes: &[u8]) -> Result<Self, CommandError> {
        parse::parse_command(bytes, DEFAULT_MAX_DEPTH)
    }

    /// Parses with an explicit limit on nesting (parentheses, NOT, OR).
    pub fn parse_with_depth(bytes: &[u8], max_depth: usize) -> Result<Self, CommandError> {
        parse::parse_command(bytes, max_depth)
    }

    /// Writes the command, with the literal forms `opts` allows.
    pub fn encode(&self, opts: WriteOptions) -> Encoded {
        let mut w = Writer::new(opts);
        write::write_command(&mut w, self);
        w.finish()
    }
}

impl SearchProgram {
    /// A program of keys without a charset.
    pub fn new(criteria: Vec<SearchKey>) -> Self {
        Self {
            charset: None,
            criteria,
        }
    }
}
