//! Evaluating SEARCH keys (RFC 9051 §6.4.4) against one message, with
//! MODSEQ (RFC 7162), OLDER / YOUNGER (RFC 5032) and `$` (RFC 5182).
//!
//! The caller supplies the per-message state in a [`Candidate`] and the
//! mailbox-wide state in a [`SearchEnv`]; [`needs_message`] tells it when
//! the message itself must be loaded. Nothing here reads a clock.

use crate::datetime::{Date, DateTime};
use crate::flag::Flag;
use crate::search::SearchKey;
use crate::sequence::SequenceSet;

use super::message::{MessageView, unix_time};

/// The charsets SEARCH accepts, for `NO [BADCHARSET (US-ASCII UTF-8)]`.
pub const SEARCH_CHARSETS: [&str; 2] = ["US-ASCII", "UTF-8"];

/// A CHARSET that SEARCH does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported charset {0:?}")]
pub struct BadCharset(pub String);

/// Accepts a missing CHARSET, `US-ASCII` and `UTF-8` (any case); anything
/// else is answered `NO [BADCHARSET (US-ASCII UTF-8)]` (see
/// [`SEARCH_CHARSETS`]).
pub fn check_charset(charset: Option<&str>) -> Result<(), BadCharset> {
    match charset {
        None => Ok(()),
        Some(c) if SEARCH_CHARSETS.iter().any(|s| s.eq_ignore_ascii_case(c)) => Ok(()),
        Some(c) => Err(BadCharset(c.to_owned())),
    }
}

/// One message being searched.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its message sequence number.
    pub seq: u32,
    /// Its UID.
    pub uid: u32,
    /// Its flags (`\Recent` is given by `recent`, not here).
    pub flags: &'a [Flag],
    /// Whether it is recent in this session (IMAP4rev1 `\Recent`).
    pub recent: bool,
    /// Its mod-sequence (RFC 7162).
    pub modseq: u64,
    /// INTERNALDATE.
    pub internal_date: DateTime,
    /// RFC822.SIZE.
    pub size: u64,
    /// The message itself; needed when [`needs_message`] says so. Header,
    /// body, text and sent-date keys never match without it (nor do the
    /// SENT* keys when it has no valid Date:).
    pub message: Option<&'a MessageView>,
}

/// What every candidate of one SEARCH shares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchEnv {
    /// The number of messages in the mailbox: `*` in a sequence set.
    pub max_seq: u32,
    /// The highest UID in use: `*` in a UID set.
    pub max_uid: u32,
    /// The current time in seconds since the epoch, for OLDER and YOUNGER.
    pub now_unix: i64,
    /// The saved result (`$`, RFC 5182) as UIDs; `None` when nothing was
    /// saved, so `$` matches nothing.
    pub saved: Option<SequenceSet>,
}

/// Whether any key of the program, nested ones included (inside NOT, OR
/// and parentheses), satisfies `pred`.
pub fn any_key(keys: &[SearchKey], pred: &impl Fn(&SearchKey) -> bool) -> bool {
    keys.iter().any(|k| {
        pred(k)
            || match k {
                SearchKey::Not(k) => any_key(std::slice::from_ref(k), pred),
                SearchKey::Or(a, b) => {
                    any_key(std::slice::from_ref(a), pred) || any_key(std::slice::from_ref(b), pred)
                }
                SearchKey::And(v) => any_key(v, pred),
                _ => false,
            }
    })
}

/// Whether any key needs the message's header or body (so the server loads
/// it only then).
pub fn needs_message(keys: &[SearchKey]) -> bool {
    use SearchKey as K;
    any_key(keys, &|k| {
        matches!(
            k,
            K::Bcc(_)
                | K::Body(_)
                | K::Cc(_)
                | K::From(_)
                | K::Header(..)
                | K::Subject(_)
                | K::Text(_)
                | K::To(_)
                | K::SentBefore(_)
                | K::SentOn(_)
                | K::SentSince(_)
        )
    })
}

/// Whether the candidate matches all of `keys`.
pub fn matches(keys: &[SearchKey], c: &Candidate<'_>, env: &SearchEnv) -> bool {
    keys.iter().all(|k| key_matches(k, c, env))
}

fn has(c: &Candidate<'_>, flag: &Flag) -> bool {
    c.flags.contains(flag)
}

fn has_keyword(c: &Candidate<'_>, keyword: &str) -> bool {
    c.flags.iter().any(|f| match f {
        Flag::Keyword(k) => k.eq_ignore_ascii_case(keyword),
        _ => false,
    })
}

/// Whether `set` holds the candidate, by sequence number or UID; `$` is
/// the saved UIDs either way.
fn in_set(set: &SequenceSet, by_uid: bool, c: &Candidate<'_>, env: &SearchEnv) -> bool {
    match set {
        SequenceSet::Saved => env
            .saved
            .as_ref()
            .is_some_and(|s| s.contains(c.uid, env.max_uid)),
        _ if by_uid => set.contains(c.uid, env.max_uid),
        _ => set.contains(c.seq, env.max_seq),
    }
}

/// Case-insensitive substring match; an empty needle matches anything.
fn contains(hay: &str, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    needle.is_empty() || hay.to_lowercase().contains(&needle)
}

fn header_contains(m: &MessageView, name: &str, needle: &[u8]) -> bool {
    m.header_values(name).iter().any(|v| contains(v, needle))
}

fn sent_date(c: &Candidate<'_>) -> Option<Date> {
    c.message?.sent_date().map(|d| d.date())
}

fn key_matches(key: &SearchKey, c: &Candidate<'_>, env: &SearchEnv) -> bool {
    use SearchKey as K;
    let message = c.message;
    let with_message = |f: &dyn Fn(&MessageView) -> bool| message.is_some_and(f);
    match key {
        K::All => true,
        K::Answered => has(c, &Flag::Answered),
        K::Deleted => has(c, &Flag::Deleted),
        K::Draft => has(c, &Flag::Draft),
        K::Flagged => has(c, &Flag::Flagged),
        K::Seen => has(c, &Flag::Seen),
        K::Unanswered => !has(c, &Flag::Answered),
        K::Undeleted => !has(c, &Flag::Deleted),
        K::Undraft => !has(c, &Flag::Draft),
        K::Unflagged => !has(c, &Flag::Flagged),
        K::Unseen => !has(c, &Flag::Seen),
        K::Recent => c.recent,
        K::New => c.recent && !has(c, &Flag::Seen),
        K::Old => !c.recent,
        K::Keyword(k) => has_keyword(c, k),
        K::Unkeyword(k) => !has_keyword(c, k),
        K::Larger(n) => c.size > *n,
        K::Smaller(n) => c.size < *n,
        K::Before(d) => c.internal_date.date() < *d,
        K::On(d) => c.internal_date.date() == *d,
        K::Since(d) => c.internal_date.date() >= *d,
        K::SentBefore(d) => sent_date(c).is_some_and(|s| s < *d),
        K::SentOn(d) => sent_date(c).is_some_and(|s| s == *d),
        K::SentSince(d) => sent_date(c).is_some_and(|s| s >= *d),
        // OLDER n: at least n seconds old; YOUNGER n: at most n seconds old
        // ("within the interval", RFC 5032); both hold at exactly n.
        K::Older(n) => unix_time(&c.internal_date) <= env.now_unix.saturating_sub(i64::from(*n)),
        K::Younger(n) => unix_time(&c.internal_date) >= env.now_unix.saturating_sub(i64::from(*n)),
        K::ModSeq { modseq, .. } => c.modseq >= *modseq,
        K::SequenceSet(set) => in_set(set, false, c, env),
        K::Uid(set) => in_set(set, true, c, env),
        K::Not(k) => !key_matches(k, c, env),
        K::Or(a, b) => key_matches(a, c, env) || key_matches(b, c, env),
        K::And(keys) => matches(keys, c, env),
        K::From(s) => with_message(&|m| header_contains(m, "from", s)),
        K::To(s) => with_message(&|m| header_contains(m, "to", s)),
        K::Cc(s) => with_message(&|m| header_contains(m, "cc", s)),
        K::Bcc(s) => with_message(&|m| header_contains(m, "bcc", s)),
        K::Subject(s) => with_message(&|m| header_contains(m, "subject", s)),
        K::Header(name, s) => with_message(&|m| {
            let name = String::from_utf8_lossy(name);
            if s.is_empty() {
                m.has_header(&name)
            } else {
                header_contains(m, &name, s)
            }
        }),
        K::Body(s) => with_message(&|m| m.body_contains(&String::from_utf8_lossy(s))),
        K::Text(s) => with_message(&|m| m.text_contains(&String::from_utf8_lossy(s))),
    }
}
