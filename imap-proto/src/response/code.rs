//! Response codes (`[...]` in status responses, RFC 9051 §7.1, RFC 5530,
//! RFC 4315, RFC 7162, RFC 7889).

use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::flag::PermanentFlag;
use crate::sequence::{self, SequenceSet};
use crate::writer::Writer;

/// A response code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// `ALERT`.
    Alert,
    /// `ALREADYEXISTS`.
    AlreadyExists,
    /// `APPENDUID uidvalidity uids` (RFC 4315).
    AppendUid {
        /// The mailbox's UIDVALIDITY.
        uid_validity: u32,
        /// The new UIDs.
        uids: SequenceSet,
    },
    /// `AUTHENTICATIONFAILED`.
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED`.
    AuthorizationFailed,
    /// `BADCHARSET [(charsets)]`.
    BadCharset(Vec<String>),
    /// `CANNOT`.
    Cannot,
    /// `CAPABILITY ...`.
    Capability(Vec<String>),
    /// `CLIENTBUG`.
    ClientBug,
    /// `CLOSED` (RFC 7162).
    Closed,
    /// `CONTACTADMIN`.
    ContactAdmin,
    /// `COPYUID uidvalidity source dest` (RFC 4315).
    CopyUid {
        /// The destination's UIDVALIDITY.
        uid_validity: u32,
        /// The source UIDs.
        source: SequenceSet,
        /// The new UIDs.
        dest: SequenceSet,
    },
    /// `CORRUPTION`.
    Corruption,
    /// `EXPIRED`.
    Expired,
    /// `EXPUNGEISSUED`.
    ExpungeIssued,
    /// `HASCHILDREN`.
    HasChildren,
    /// `HIGHESTMODSEQ n` (RFC 7162).
    HighestModSeq(u64),
    /// `INUSE`.
    InUse,
    /// `LIMIT`.
    Limit,
    /// `MODIFIED set` (RFC 7162).
    Modified(SequenceSet),
    /// `NOMODSEQ` (RFC 7162).
    NoModSeq,
    /// `NONEXISTENT`.
    NonExistent,
    /// `NOPERM`.
    NoPerm,
    /// `OVERQUOTA`.
    OverQuota,
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (...)`.
    PermanentFlags(Vec<PermanentFlag>),
    /// `PRIVACYREQUIRED`.
    PrivacyRequired,
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `SERVERBUG`.
    ServerBug,
    /// `TOOBIG` (RFC 7889).
    TooBig,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(u32),
    /// `UIDNOTSTICKY` (RFC 4315).
    UidNotSticky,
    /// `UIDVALIDITY n`.
    UidValidity(u32),
    /// `UNAVAILABLE`.
    Unavailable,
    /// `UNKNOWN-CTE` (RFC 3516).
    UnknownCte,
    /// `UNSEEN n` (IMAP4rev1).
    Unseen(u32),
    /// Any other code: an atom (upper-cased) and optional text without `]`.
    Other(String, Option<String>),
}

fn atoms(cur: &mut Cursor<'_>) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    while cur.eat(b' ') {
        out.push(cur.atom_string()?);
    }
    Ok(out)
}

/// Parses a code between `[` and `]` (both consumed here).
pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<Code, ParseError> {
    use Code as C;
    cur.expect(b'[', "[")?;
    let name = cur
        .take_while(|b| crate::lex::is_atom_char(b) && b != b'[')
        .to_ascii_uppercase();
    if name.is_empty() {
        return Err(cur.err("response code"));
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    let code = match name.as_str() {
        "ALERT" => C::Alert,
        "ALREADYEXISTS" => C::AlreadyExists,
        "AUTHENTICATIONFAILED" => C::AuthenticationFailed,
        "AUTHORIZATIONFAILED" => C::AuthorizationFailed,
        "CANNOT" => C::Cannot,
        "CLIENTBUG" => C::ClientBug,
        "CLOSED" => C::Closed,
        "CONTACTADMIN" => C::ContactAdmin,
        "CORRUPTION" => C::Corruption,
        "EXPIRED" => C::Expired,
        "EXPUNGEISSUED" => C::ExpungeIssued,
        "HASCHILDREN" => C::HasChildren,
        "INUSE" => C::InUse,
        "LIMIT" => C::Limit,
        "NOMODSEQ" => C::NoModSeq,
        "NONEXISTENT" => C::NonExistent,
        "NOPERM" => C::NoPerm,
        "OVERQUOTA" => C::OverQuota,
        "PARSE" => C::Parse,
        "PRIVACYREQUIRED" => C::PrivacyRequired,
        "READ-ONLY" => C::ReadOnly,
        "READ-WRITE" => C::ReadWrite,
        "SERVERBUG" => C::ServerBug,
        "TOOBIG" => C::TooBig,
        "TRYCREATE" => C::TryCreate,
        "UIDNOTSTICKY" => C::UidNotSticky,
        "UNAVAILABLE" => C::Unavailable,
        "UNKNOWN-CTE" => C::UnknownCte,
        "CAPABILITY" => C::Capability(atoms(cur)?),
        "BADCHARSET" => {
            if cur.eat(b' ') {
                C::BadCharset(cur.paren_list(|c| c.atom_or_quoted())?)
            } else {
                C::BadCharset(Vec::new())
            }
        }
        "PERMANENTFLAGS" => {
            cur.sp()?;
            C::PermanentFlags(cur.paren_list(|c| {
                if c.rest().starts_with(b"\\*") {
                    c.eat(b'\\');
                    c.eat(b'*');
                    Ok(PermanentFlag::Wildcard)
                } else {
                    crate::flag::parse(c).map(PermanentFlag::Flag)
                }
            })?)
        }
        "APPENDUID" => {
            cur.sp()?;
            let uid_validity = cur.nz_number()?;
            cur.sp()?;
            C::AppendUid {
                uid_validity,
                uids: sequence::parse(cur)?,
            }
        }
        "COPYUID" => {
            cur.sp()?;
            let uid_validity = cur.nz_number()?;
            cur.sp()?;
            let source = sequence::parse(cur)?;
            cur.sp()?;
            C::CopyUid {
                uid_validity,
                source,
                dest: sequence::parse(cur)?,
            }
        }
        "HIGHESTMODSEQ" => {
            cur.sp()?;
            C::HighestModSeq(cur.nz_number64()?)
        }
        "MODIFIED" => {
            cur.sp()?;
            C::Modified(sequence::parse(cur)?)
        }
        "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" => {
            cur.sp()?;
            let n = cur.nz_number()?;
            match name.as_str() {
                "UIDNEXT" => C::UidNext(n),
                "UIDVALIDITY" => C::UidValidity(n),
                _ => C::Unseen(n),
            }
        }
        _ => {
            let value = if cur.eat(b' ') {
                let v = cur.take_while(|b| !matches!(b, b']' | b'\r' | b'\n' | 0));
                Some(String::from_utf8_lossy(v).into_owned())
            } else {
                None
            };
            C::Other(name, value)
        }
    };
    cur.expect(b']', "]")?;
    Ok(code)
}

/// Writes `[code]`.
pub(crate) fn write(w: &mut Writer, code: &Code) {
    use Code as C;
    w.byte(b'[');
    let simple = match code {
        C::Alert => "ALERT",
        C::AlreadyExists => "ALREADYEXISTS",
        C::AuthenticationFailed => "AUTHENTICATIONFAILED",
        C::AuthorizationFailed => "AUTHORIZATIONFAILED",
        C::Cannot => "CANNOT",
        C::ClientBug => "CLIENTBUG",
        C::Closed => "CLOSED",
        C::ContactAdmin => "CONTACTADMIN",
        C::Corruption => "CORRUPTION",
        C::Expired => "EXPIRED",
        C::ExpungeIssued => "EXPUNGEISSUED",
        C::HasChildren => "HASCHILDREN",
        C::InUse => "INUSE",
        C::Limit => "LIMIT",
        C::NoModSeq => "NOMODSEQ",
        C::NonExistent => "NONEXISTENT",
        C::NoPerm => "NOPERM",
        C::OverQuota => "OVERQUOTA",
        C::Parse => "PARSE",
        C::PrivacyRequired => "PRIVACYREQUIRED",
        C::ReadOnly => "READ-ONLY",
        C::ReadWrite => "READ-WRITE",
        C::ServerBug => "SERVERBUG",
        C::TooBig => "TOOBIG",
        C::TryCreate => "TRYCREATE",
        C::UidNotSticky => "UIDNOTSTICKY",
        C::Unavailable => "UNAVAILABLE",
        C::UnknownCte => "UNKNOWN-CTE",
        _ => "",
    };
    w.str(simple);
    match code {
        C::Capability(caps) => {
            w.str("CAPABILITY");
            for c in caps {
                w.sp();
                w.str(c);
            }
        }
        C::BadCharset(cs) => {
            w.str("BADCHARSET");
            if !cs.is_empty() {
                w.sp();
                w.paren_list(cs, |w, c| {
                    if crate::lex::is_atom(c.as_bytes()) {
                        w.str(c);
                    } else {
                        w.quoted(c.as_bytes());
                    }
                });
            }
        }
        C::PermanentFlags(flags) => {
            w.str("PERMANENTFLAGS ");
            w.paren_list(flags, |w, f| w.str(&f.to_string()));
        }
        C::AppendUid { uid_validity, uids } => {
            w.str("APPENDUID ");
            w.num(uid_validity);
            w.sp();
            sequence::write(w, uids);
        }
        C::CopyUid {
            uid_validity,
            source,
            dest,
        } => {
            w.str("COPYUID ");
            w.num(uid_validity);
            w.sp();
            sequence::write(w, source);
            w.sp();
            sequence::write(w, dest);
        }
        C::HighestModSeq(n) => {
            w.str("HIGHESTMODSEQ ");
            w.num(n);
        }
        C::Modified(set) => {
            w.str("MODIFIED ");
            sequence::write(w, set);
        }
        C::UidNext(n) => {
            w.str("UIDNEXT ");
            w.num(n);
        }
        C::UidValidity(n) => {
            w.str("UIDVALIDITY ");
            w.num(n);
        }
        C::Unseen(n) => {
            w.str("UNSEEN ");
            w.num(n);
        }
        C::Other(name, value) => {
            w.str(name);
            if let Some(v) = value {
                w.sp();
                let clean: String = v
                    .chars()
                    .map(|c| {
                        if matches!(c, ']' | '\r' | '\n' | '\0') {
                            ' '
                        } else {
                            c
                        }
                    })
                    .collect();
                w.str(&clean);
            }
        }
        _ => {}
    }
    w.byte(b']');
}
