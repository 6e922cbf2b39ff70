//! Server responses (started ahead of schedule): status responses with
//! their codes, continuation requests, and the untagged data other than
//! FETCH. Written on the server ([`Response::encode`]), parsed on the
//! client ([`Response::parse`]) from one complete response, literals
//! inline.
//!
//! The client-side framing (and the streaming of large FETCH literals) is
//! [`ResponseReader`](crate::client::ResponseReader). Not yet here: LIST
//! extended data other than CHILDINFO and OLDNAME.

mod body;
mod code;
pub(crate) mod fetch;
mod parse;
mod write;

pub use body::{
    Address, BodyExt, BodyExtension, BodyFields, BodyStructure, Disposition, Envelope, Params,
    SingleKind,
};
pub use code::Code;
pub use fetch::FetchData;

use crate::command::IdField;
use crate::flag::Flag;
use crate::mailbox::Mailbox;
use crate::sequence::SequenceSet;
use crate::status::StatusAttribute;
use crate::tag::Tag;

/// The kind of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (untagged greeting only).
    PreAuth,
    /// `BYE` (untagged only).
    Bye,
}

impl StatusKind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::No => "NO",
            Self::Bad => "BAD",
            Self::PreAuth => "PREAUTH",
            Self::Bye => "BYE",
        }
    }
}

/// `tag OK/NO/BAD [code] text` or `* OK/NO/BAD/PREAUTH/BYE [code] text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// The tag, or `None` for an untagged (`*`) response.
    pub tag: Option<Tag>,
    /// OK, NO, BAD, PREAUTH or BYE.
    pub kind: StatusKind,
    /// The response code in brackets.
    pub code: Option<Code>,
    /// Human-readable text. Written with CR, LF and NUL replaced by spaces;
    /// without a code it should not start with `[`.
    pub text: String,
}

/// A continuation request: `+ [code] text`. A SASL challenge is base64
/// text; see [`Continuation::sasl`] and [`Continuation::decode_sasl`]
/// (whether the text is a challenge depends on the command in progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The code in brackets.
    pub code: Option<Code>,
    /// The text (or base64 challenge).
    pub text: String,
}

impl Continuation {
    /// A continuation with plain text (`+ Ready for literal`).
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            code: None,
            text: text.into(),
        }
    }

    /// A SASL challenge, base64-encoded.
    pub fn sasl(challenge: &[u8]) -> Self {
        use base64::Engine;
        Self::text(base64::engine::general_purpose::STANDARD.encode(challenge))
    }

    /// Decodes the text as a SASL challenge.
    pub fn decode_sasl(&self) -> Result<Vec<u8>, base64::DecodeError> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(self.text.as_bytes())
    }
}

/// One `LIST` / `LSUB` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// Mailbox attributes without the backslash (`Noselect`, `Sent`).
    pub attributes: Vec<String>,
    /// The hierarchy delimiter, `None` for NIL (flat).
    pub delimiter: Option<char>,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// LIST-EXTENDED data (RFC 5258 §9); written only when non-empty.
    pub extended: Vec<ListExtended>,
}

/// An item of LIST extended data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListExtended {
    /// `("CHILDINFO" ("SUBSCRIBED"))` (RFC 5258); never empty.
    ChildInfo(Vec<Vec<u8>>),
    /// `("OLDNAME" ("name"))` (RFC 9051 §7.3.1).
    OldName(Mailbox),
}

/// One THREAD list (RFC 5256): a chain of messages, each the parent of the
/// next, then the threads below the last one. `children` is empty or has
/// two or more entries; an empty chain needs two or more children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    /// Message numbers or UIDs, parent first.
    pub chain: Vec<u32>,
    /// Sub-threads of the last message of the chain.
    pub children: Vec<ThreadNode>,
}

/// An ESEARCH result item (RFC 4731, RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ESearchItem {
    /// `MIN n`.
    Min(u32),
    /// `MAX n`.
    Max(u32),
    /// `ALL set`.
    All(SequenceSet),
    /// `COUNT n`.
    Count(u32),
    /// `MODSEQ n`.
    ModSeq(u64),
}

/// One namespace: a prefix and its delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// The prefix (a string).
    pub prefix: Vec<u8>,
    /// The delimiter, `None` for NIL.
    pub delimiter: Option<char>,
}

/// One quota resource: name, usage, limit (RFC 9208).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaResource {
    /// The resource name (`STORAGE`, `MESSAGE`).
    pub name: String,
    /// Current usage.
    pub usage: u64,
    /// The limit.
    pub limit: u64,
}

/// Untagged data other than status responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `* CAPABILITY ...`.
    Capability(Vec<String>),
    /// `* ENABLED ...` (RFC 5161).
    Enabled(Vec<String>),
    /// `* FLAGS (...)`.
    Flags(Vec<Flag>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT` (IMAP4rev1).
    Recent(u32),
    /// `* n EXPUNGE` (n ≥ 1).
    Expunge(u32),
    /// `* n FETCH (...)` (n ≥ 1; never empty).
    Fetch {
        /// The message number.
        seq: u32,
        /// The data items.
        items: Vec<FetchData>,
    },
    /// `* LIST (...) d mailbox`.
    List(ListItem),
    /// `* LSUB (...) d mailbox` (IMAP4rev1).
    Lsub(ListItem),
    /// `* STATUS mailbox (att n ...)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// Attributes and values.
        items: Vec<(StatusAttribute, u64)>,
    },
    /// `* SEARCH n... [(MODSEQ m)]` (IMAP4rev1, RFC 7162).
    Search {
        /// Message numbers or UIDs (each ≥ 1).
        ids: Vec<u32>,
        /// The highest mod-sequence of the matches.
        modseq: Option<u64>,
    },
    /// `* SORT n...` (RFC 5256).
    Sort(Vec<u32>),
    /// `* THREAD (...)(...)` (RFC 5256).
    Thread(Vec<ThreadNode>),
    /// `* ESEARCH [(TAG "t")] [UID] items` (RFC 4731).
    ESearch {
        /// The correlator: the tag of the command.
        tag: Option<Tag>,
        /// Results are UIDs.
        uid: bool,
        /// The items.
        items: Vec<ESearchItem>,
    },
    /// `* VANISHED [(EARLIER)] uids` (RFC 7162).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// The UIDs.
        uids: SequenceSet,
    },
    /// `* NAMESPACE personal other shared` (RFC 2342); `None` for NIL.
    Namespace {
        /// Personal namespaces.
        personal: Option<Vec<NamespaceEntry>>,
        /// Other users' namespaces.
        other: Option<Vec<NamespaceEntry>>,
        /// Shared namespaces.
        shared: Option<Vec<NamespaceEntry>>,
    },
    /// `* ID (...)` or `* ID NIL` (RFC 2971).
    Id(Option<Vec<IdField>>),
    /// `* QUOTA root (resource usage limit ...)` (RFC 9208).
    Quota {
        /// The quota root.
        root: Vec<u8>,
        /// The resources.
        resources: Vec<QuotaResource>,
    },
    /// `* QUOTAROOT mailbox root...` (RFC 9208).
    QuotaRoot {
        /// The mailbox.
        mailbox: Mailbox,
        /// Its quota roots.
        roots: Vec<Vec<u8>>,
    },
}

/// One server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A tagged or untagged status response.
    Status(StatusResponse),
    /// `+ ...`.
    Continuation(Continuation),
    /// Untagged data.
    Data(Data),
}

impl Response {
    /// Parses one complete response (CRLF included, literals inline).
    pub fn parse(bytes: &[u8]) -> Result<Self, crate::error::ParseError> {
        parse::parse_response(bytes)
    }

    /// Writes the response, CRLF included. Literals are always
    /// synchronizing in form (`{n}`), as servers must send them.
    pub fn encode(&self) -> Vec<u8> {
        write::write_response(self)
    }
}
