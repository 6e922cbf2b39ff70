//! Sans-IO IMAP codecs (IMAP4rev2, RFC 9051, and IMAP4rev1, RFC 3501, with
//! the common extensions).
//!
//! - [`reader::CommandReader`] splits a server's input into complete
//!   commands, literals included, under explicit limits; it stops at each
//!   synchronizing literal so the session can send `+` or refuse, and
//!   streams an APPEND message out in chunks instead of buffering it.
//! - [`Command::parse`] turns a complete command into a typed
//!   [`Command`]; [`Command::encode`] writes one on the client.
//! - [`client::ResponseReader`] frames a server's output into responses
//!   on the client, streaming large FETCH bodies;
//!   [`client::ClientSession`] is a Sans-IO client session on top of it.
//! - [`server::ServerSession`] is a Sans-IO server session over a
//!   [`server::MailboxStore`]; [`server::MemoryStore`] is an in-memory one.
//! - The building blocks: [`SequenceSet`], [`Flag`], [`Mailbox`] (with
//!   [`utf7`] and UTF-8 names), [`Date`] / [`DateTime`], search keys, fetch
//!   attributes.
//!
//! Nothing here performs I/O, reads a clock or panics on input.
//!
//! ```
//! use postel_imap::{Command, CommandBody, CommandReader, ReaderEvent, ReaderLimits};
//!
//! let mut reader = CommandReader::new(ReaderLimits::default());
//! reader.enqueue_input(b"A001 LOGIN {4}\r\n");
//! // A synchronizing literal: the session decides, then sends "+ Ready".
//! let Some(ReaderEvent::Literal(request)) = reader.next_event() else { panic!() };
//! assert_eq!(request.size, 4);
//! reader.accept_literal();
//! reader.enqueue_input(b"fred secret\r\n");
//! let Some(ReaderEvent::Command(bytes)) = reader.next_event() else { panic!() };
//! let command = Command::parse(&bytes).unwrap();
//! assert!(matches!(command.body, CommandBody::Login { .. }));
//! ```

pub mod client;
pub mod command;
mod cursor;
pub mod datetime;
pub mod error;
pub mod fetch;
pub mod flag;
pub mod lex;
pub mod list;
pub mod literal;
pub mod mailbox;
pub mod reader;
pub mod response;
pub mod search;
pub mod select;
pub mod sequence;
pub mod server;
pub mod sort;
pub mod status;
pub mod tag;
#[cfg(feature = "tokio")]
pub mod tokio_io;
pub mod utf7;
mod writer;

pub use client::{
    ClientConfig, ClientEvent, ClientSession, ResponseEvent, ResponseLimits, ResponseReader,
};
pub use command::{AppendMessage, Command, CommandBody, Secret, StoreMode};
pub use datetime::{Date, DateTime};
pub use error::{CommandError, MailboxNameError, ParseError, ReaderError, UsageError};
pub use fetch::{FetchAttribute, FetchItems, FetchModifiers, Partial, Section, SectionText};
pub use flag::{Flag, PermanentFlag};
pub use list::{ListReturn, ListSelect};
pub use literal::{LITERAL_MINUS_MAX, NonSyncLiterals};
pub use mailbox::{Mailbox, NameEncoding};
pub use reader::{AppendHeader, CommandReader, LiteralRequest, ReaderEvent, ReaderLimits};
pub use response::{
    Address, BodyExt, BodyExtension, BodyFields, BodyStructure, Code, Continuation, Data,
    Disposition, ESearchItem, Envelope, FetchData, ListExtended, ListItem, NamespaceEntry, Params,
    QuotaResource, Response, SingleKind, StatusKind, StatusResponse, ThreadNode,
};
pub use search::{EntryType, SearchKey, SearchProgram, SearchReturn};
pub use select::{QResync, SelectParams};
pub use sequence::{SeqItem, SeqNumber, SequenceSet};
pub use sort::{SortCriterion, SortKey, ThreadAlgorithm};
pub use status::StatusAttribute;
pub use tag::Tag;
pub use writer::{Encoded, WriteOptions};
