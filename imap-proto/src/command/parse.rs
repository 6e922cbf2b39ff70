//! Parsing a complete command on the server.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::{AppendMessage, Command, CommandBody, Secret, StoreMode};
use crate::cursor::Cursor;
use crate::datetime::{DateTime, parse_date_time};
use crate::error::{CommandError, ParseError};
use crate::fetch::{self, FetchModifiers};
use crate::flag::{self, Flag};
use crate::lex::is_tag_char;
use crate::list;
use crate::mailbox::{self, Mailbox};
use crate::search::{self, SearchProgram};
use crate::select::{self, SelectParams};
use crate::sequence;
use crate::sort;
use crate::status;
use crate::tag::Tag;

/// The default limit on nesting (parentheses, NOT, OR) in one command.
pub const DEFAULT_MAX_DEPTH: usize = 32;

type Result<T> = std::result::Result<T, ParseError>;

pub(crate) fn parse_command(
    bytes: &[u8],
    max_depth: usize,
) -> std::result::Result<Command, CommandError> {
    let mut cur = Cursor::new(bytes, max_depth);
    let tag = tag(&mut cur).ok();
    let result = match &tag {
        Some(tag) => cur.sp().and_then(|()| body(&mut cur)).and_then(|body| {
            cur.finish()?;
            Ok(Command {
                tag: tag.clone(),
                body,
            })
        }),
        None => Err(cur.err("tag")),
    };
    result.map_err(|error| CommandError { tag, error })
}

fn tag(cur: &mut Cursor<'_>) -> Result<Tag> {
    let t = cur.take_while(is_tag_char);
    Tag::from_bytes(t).ok_or_else(|| cur.err("tag"))
}

fn body(cur: &mut Cursor<'_>) -> Result<CommandBody> {
    use CommandBody as C;
    let (name, offset) = cur.word()?;
    Ok(match name.as_str() {
        "CAPABILITY" => C::Capability,
        "NOOP" => C::Noop,
        "LOGOUT" => C::Logout,
        "STARTTLS" => C::StartTls,
        "NAMESPACE" => C::Namespace,
        "IDLE" => C::Idle,
        "CLOSE" => C::Close,
        "UNSELECT" => C::Unselect,
        "EXPUNGE" => C::Expunge,
        "AUTHENTICATE" => authenticate(cur)?,
        "LOGIN" => {
            cur.sp()?;
            let username = cur.astring()?;
            cur.sp()?;
            C::Login {
                username,
                password: Secret(cur.astring()?),
            }
        }
        "ENABLE" => {
            let mut capabilities = Vec::new();
            while cur.eat(b' ') {
                capabilities.push(cur.atom_string()?);
            }
            if capabilities.is_empty() {
                return Err(cur.err("SP capability"));
            }
            C::Enable { capabilities }
        }
        "SELECT" | "EXAMINE" => {
            let mailbox = sp_mailbox(cur)?;
            let params = if cur.eat(b' ') {
                select::parse(cur)?
            } else {
                SelectParams::default()
            };
            if name == "SELECT" {
                C::Select { mailbox, params }
            } else {
                C::Examine { mailbox, params }
            }
        }
        "CREATE" => {
            let mailbox = sp_mailbox(cur)?;
            let special_use = if cur.eat(b' ') {
                create_params(cur)?
            } else {
                Vec::new()
            };
            C::Create {
                mailbox,
                special_use,
            }
        }
        "DELETE" => C::Delete {
            mailbox: sp_mailbox(cur)?,
        },
        "RENAME" => C::Rename {
            from: sp_mailbox(cur)?,
            to: sp_mailbox(cur)?,
        },
        "SUBSCRIBE" => C::Subscribe {
            mailbox: sp_mailbox(cur)?,
        },
        "UNSUBSCRIBE" => C::Unsubscribe {
            mailbox: sp_mailbox(cur)?,
        },
        "LIST" => list_command(cur)?,
        "LSUB" => {
            let reference = sp_mailbox(cur)?;
            cur.sp()?;
            C::Lsub {
                reference,
                pattern: list::parse_pattern(cur)?,
            }
        }
        "STATUS" => {
            let mailbox = sp_mailbox(cur)?;
            cur.sp()?;
            C::Status {
                mailbox,
                attributes: status::parse_list(cur)?,
            }
        }
        "APPEND" => append(cur)?,
        "UID" => {
            cur.sp()?;
            let (sub, offset) = cur.word()?;
            match sub.as_str() {
                "EXPUNGE" => {
                    cur.sp()?;
                    C::UidExpunge {
                        set: sequence::parse(cur)?,
                    }
                }
                _ => uid_able(cur, &sub, offset, true)?,
            }
        }
        "ID" => {
            cur.sp()?;
            let fields = match cur.nstring_nil() {
                true => None,
                false => Some(cur.paren_list(|c| {
                    let k = c.string()?;
                    c.sp()?;
                    Ok((k, c.nstring()?))
                })?),
            };
            C::Id { fields }
        }
        "GETQUOTA" => {
            cur.sp()?;
            C::GetQuota {
                root: cur.astring()?,
            }
        }
        "GETQUOTAROOT" => C::GetQuotaRoot {
            mailbox: sp_mailbox(cur)?,
        },
        "SETQUOTA" => {
            cur.sp()?;
            let root = cur.astring()?;
            cur.sp()?;
            let limits = cur.paren_list(|c| {
                let r = c.atom_string()?;
                c.sp()?;
                Ok((r, c.number64()?))
            })?;
            C::SetQuota { root, limits }
        }
        "COMPRESS" => {
            cur.sp()?;
            C::Compress {
                algorithm: cur.atom_string()?.to_ascii_uppercase(),
            }
        }
        _ => uid_able(cur, &name, offset, false)?,
    })
}

fn sp_mailbox(cur: &mut Cursor<'_>) -> Result<Mailbox> {
    cur.sp()?;
    mailbox::parse(cur)
}

/// Commands that may follow `UID`.
fn uid_able(cur: &mut Cursor<'_>, name: &str, offset: usize, uid: bool) -> Result<CommandBody> {
    use CommandBody as C;
    Ok(match name {
        "FETCH" => {
            cur.sp()?;
            let set = sequence::parse(cur)?;
            cur.sp()?;
            let items = fetch::parse_items(cur)?;
            let modifiers = if cur.eat(b' ') {
                fetch::parse_modifiers(cur)?
            } else {
                FetchModifiers::default()
            };
            C::Fetch {
                uid,
                set,
                items,
                modifiers,
            }
        }
        "STORE" => store(cur, uid)?,
        "COPY" | "MOVE" => {
            cur.sp()?;
            let set = sequence::parse(cur)?;
            let mailbox = sp_mailbox(cur)?;
            if name == "COPY" {
                C::Copy { uid, set, mailbox }
            } else {
                C::Move { uid, set, mailbox }
            }
        }
        "SEARCH" => {
            let returns = if cur.eat_ci(b" RETURN ") {
                Some(cur.paren_list(search::parse_return)?)
            } else {
                None
            };
            // RFC 3501 allows any astring here (RFC 9051: atom / quoted).
            let charset = if cur.eat_ci(b" CHARSET ") {
                Some(String::from_utf8_lossy(&cur.astring()?).into_owned())
            } else {
                None
            };
            C::Search {
                uid,
                returns,
                program: SearchProgram {
                    charset,
                    criteria: search::parse_keys(cur)?,
                },
            }
        }
        "SORT" => {
            cur.sp()?;
            let criteria = sort::parse_criteria(cur)?;
            C::Sort {
                uid,
                criteria,
                program: charset_program(cur)?,
            }
        }
        "THREAD" => {
            cur.sp()?;
            let algorithm = sort::parse_algorithm(cur)?;
            C::Thread {
                uid,
                algorithm,
                program: charset_program(cur)?,
            }
        }
        _ if uid => {
            return Err(ParseError::UnknownKeyword {
                keyword: name.to_owned(),
                offset,
            });
        }
        _ => {
            return Err(ParseError::UnknownCommand {
                name: name.to_owned(),
            });
        }
    })
}

/// `SP charset 1*(SP search-key)` for SORT and THREAD.
fn charset_program(cur: &mut Cursor<'_>) -> Result<SearchProgram> {
    cur.sp()?;
    let charset = Some(cur.atom_or_quoted()?);
    Ok(SearchProgram {
        charset,
        criteria: search::parse_keys(cur)?,
    })
}

fn authenticate(cur: &mut Cursor<'_>) -> Result<CommandBody> {
    cur.sp()?;
    let mechanism = cur.atom_string()?.to_ascii_uppercase();
    let initial_response = if cur.eat(b' ') {
        Some(Secret(base64_response(cur)?))
    } else {
        None
    };
    Ok(CommandBody::Authenticate {
        mechanism,
        initial_response,
    })
}

/// `base64 / "="` up to the end of the line.
fn base64_response(cur: &mut Cursor<'_>) -> Result<Vec<u8>> {
    let offset = cur.pos();
    let text = cur.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if text == b"=" {
        return Ok(Vec::new());
    }
    if text.is_empty() {
        return Err(cur.err("base64"));
    }
    STANDARD
        .decode(text)
        .map_err(|_| ParseError::BadBase64 { offset })
}

fn create_params(cur: &mut Cursor<'_>) -> Result<Vec<String>> {
    let params = cur.paren_list(|c| {
        let (word, offset) = c.word()?;
        if word != "USE" {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
        c.sp()?;
        c.paren_list(|c| {
            c.expect(b'\\', "\\")?;
            c.atom_string()
        })
    })?;
    if params.is_empty() {
        return Err(cur.err("create parameter"));
    }
    Ok(params.into_iter().flatten().collect())
}

fn list_command(cur: &mut Cursor<'_>) -> Result<CommandBody> {
    cur.sp()?;
    let selection = if cur.peek() == Some(b'(') {
        let s = cur.paren_list(list::parse_select)?;
        cur.sp()?;
        s
    } else {
        Vec::new()
    };
    let reference = mailbox::parse(cur)?;
    cur.sp()?;
    let patterns = list::parse_patterns(cur)?;
    let returns = if cur.eat_ci(b" RETURN ") {
        cur.paren_list(list::parse_return)?
    } else {
        Vec::new()
    };
    Ok(CommandBody::List {
        selection,
        reference,
        patterns,
        returns,
    })
}

fn store(cur: &mut Cursor<'_>, uid: bool) -> Result<CommandBody> {
    cur.sp()?;
    let set = sequence::parse(cur)?;
    cur.sp()?;
    let mut unchanged_since = None;
    if cur.peek() == Some(b'(') {
        let mods = cur.paren_list(|c| {
            let (word, offset) = c.word()?;
            if word != "UNCHANGEDSINCE" {
                return Err(ParseError::UnknownKeyword {
                    keyword: word,
                    offset,
                });
            }
            c.sp()?;
            c.number64()
        })?;
        if mods.is_empty() {
            return Err(cur.err("store modifier"));
        }
        unchanged_since = mods.last().copied();
        cur.sp()?;
    }
    let mode = if cur.eat(b'+') {
        StoreMode::Add
    } else if cur.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    if !cur.eat_ci(b"FLAGS") {
        return Err(cur.err("FLAGS"));
    }
    let silent = cur.eat_ci(b".SILENT");
    cur.sp()?;
    let flags = if cur.peek() == Some(b'(') {
        flag::parse_list(cur)?
    } else {
        let mut flags = vec![flag::parse(cur)?];
        while cur.eat(b' ') {
            flags.push(flag::parse(cur)?);
        }
        flags
    };
    Ok(CommandBody::Store {
        uid,
        set,
        unchanged_since,
        mode,
        silent,
        flags,
    })
}

/// What precedes an APPEND's message: `SP mailbox [SP flag-list]
/// [SP date-time] SP`, and whether `UTF8 (` follows.
struct AppendHead {
    mailbox: Mailbox,
    flags: Vec<Flag>,
    date: Option<DateTime>,
    utf8: bool,
}

fn append_head(cur: &mut Cursor<'_>) -> Result<AppendHead> {
    let mailbox = sp_mailbox(cur)?;
    cur.sp()?;
    let mut flags = Vec::new();
    if cur.peek() == Some(b'(') {
        flags = flag::parse_list(cur)?;
        cur.sp()?;
    }
    let mut date = None;
    if cur.peek() == Some(b'"') {
        date = Some(parse_date_time(cur)?);
        cur.sp()?;
    }
    let utf8 = cur.eat_ci(b"UTF8 (");
    Ok(AppendHead {
        mailbox,
        flags,
        date,
        utf8,
    })
}

fn append(cur: &mut Cursor<'_>) -> Result<CommandBody> {
    let head = append_head(cur)?;
    if head.utf8 && cur.peek() != Some(b'~') {
        return Err(cur.err("literal8"));
    }
    let lit = cur.literal(true)?;
    let message = AppendMessage {
        data: Bytes::copy_from_slice(lit.data),
        binary: lit.binary,
        utf8: head.utf8,
    };
    if head.utf8 {
        cur.expect(b')', ")")?;
    }
    Ok(CommandBody::Append {
        mailbox: head.mailbox,
        flags: head.flags,
        date: head.date,
        message,
    })
}

/// The head of an APPEND whose message literal is about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppendPrefix {
    pub tag: Tag,
    pub mailbox: Mailbox,
    pub flags: Vec<Flag>,
    pub date: Option<DateTime>,
    pub utf8: bool,
}

/// Whether `prefix` (a command up to, not including, a literal's `{` or
/// `~{`) is an APPEND whose message that literal is.
pub(crate) fn append_prefix(prefix: &[u8], max_depth: usize) -> Option<AppendPrefix> {
    let mut cur = Cursor::new(prefix, max_depth);
    let tag = tag(&mut cur).ok()?;
    cur.sp().ok()?;
    let (name, _) = cur.word().ok()?;
    if name != "APPEND" {
        return None;
    }
    let head = append_head(&mut cur).ok()?;
    cur.at_end().then_some(AppendPrefix {
        tag,
        mailbox: head.mailbox,
        flags: head.flags,
        date: head.date,
        utf8: head.utf8,
    })
}

/// Whether a line is the `DONE` that ends IDLE (case-insensitive, CRLF
/// included).
pub fn is_done(line: &[u8]) -> bool {
    line.eq_ignore_ascii_case(b"DONE\r\n")
}

/// Parses a client's SASL continuation line (CRLF included): `Ok(None)`
/// for `*` (cancel), else the decoded bytes (an empty line is an empty
/// response).
pub fn parse_sasl_response(line: &[u8]) -> Result<Option<Secret>> {
    let mut cur = Cursor::new(line, 1);
    if cur.eat(b'*') {
        cur.finish()?;
        return Ok(None);
    }
    if cur.peek() == Some(b'\r') {
        cur.finish()?;
        return Ok(Some(Secret(Vec::new())));
    }
    let offset = cur.pos();
    let text = cur.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    let data = STANDARD
        .decode(text)
        .map_err(|_| ParseError::BadBase64 { offset })?;
    cur.finish()?;
    Ok(Some(Secret(data)))
}
