//! Parsing one complete server response on the client.

use super::code::{self, Code};
use super::{
    Continuation, Data, ESearchItem, ListExtended, ListItem, NamespaceEntry, QuotaResource,
    Response, StatusKind, StatusResponse, ThreadNode,
};
use crate::cursor::Cursor;
use crate::error::ParseError;
use crate::flag;
use crate::lex::is_tag_char;
use crate::mailbox;
use crate::sequence;
use crate::status;
use crate::tag::Tag;

type Result<T> = std::result::Result<T, ParseError>;

/// Nesting allowed in a response: body structures of deeply nested MIME
/// messages go deeper than commands do.
const MAX_DEPTH: usize = 100;

pub(crate) fn parse_response(bytes: &[u8]) -> Result<Response> {
    let mut cur = Cursor::new(bytes, MAX_DEPTH);
    let response = if cur.eat(b'+') {
        cur.eat(b' ');
        let (code, text) = resp_text(&mut cur)?;
        Response::Continuation(Continuation { code, text })
    } else if cur.eat(b'*') {
        cur.sp()?;
        untagged(&mut cur)?
    } else {
        let tag = Tag::from_bytes(cur.take_while(is_tag_char)).ok_or_else(|| cur.err("tag"))?;
        cur.sp()?;
        let (word, offset) = cur.word()?;
        let kind = match word.as_str() {
            "OK" => StatusKind::Ok,
            "NO" => StatusKind::No,
            "BAD" => StatusKind::Bad,
            _ => {
                return Err(ParseError::UnknownKeyword {
                    keyword: word,
                    offset,
                });
            }
        };
        Response::Status(status_rest(&mut cur, Some(tag), kind)?)
    };
    cur.finish()?;
    Ok(response)
}

/// `["[" code "]" [SP]] text`, up to CRLF. A `[` that does not start a
/// valid code is taken as text.
fn resp_text(cur: &mut Cursor<'_>) -> Result<(Option<Code>, String)> {
    let mut code = None;
    if cur.peek() == Some(b'[') {
        let start = cur.pos();
        match code::parse(cur) {
            Ok(c) => {
                code = Some(c);
                cur.eat(b' ');
            }
            Err(_) => cur.rewind(start),
        }
    }
    // Human-readable only: bytes that are not UTF-8 (some servers send
    // Latin-1) are replaced rather than refused.
    let text = cur.take_while(|b| b != b'\r' && b != b'\n' && b != 0);
    Ok((code, String::from_utf8_lossy(text).into_owned()))
}

fn status_rest(cur: &mut Cursor<'_>, tag: Option<Tag>, kind: StatusKind) -> Result<StatusResponse> {
    cur.eat(b' ');
    let (code, text) = resp_text(cur)?;
    Ok(StatusResponse {
        tag,
        kind,
        code,
        text,
    })
}

fn atoms(cur: &mut Cursor<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    while cur.eat(b' ') {
        out.push(cur.atom_string()?);
    }
    Ok(out)
}

fn nz_numbers(cur: &mut Cursor<'_>) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    while cur.peek() == Some(b' ') && cur.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
        cur.sp()?;
        out.push(cur.nz_number()?);
    }
    Ok(out)
}

/// `DQUOTE QUOTED-CHAR DQUOTE / nil`.
fn delimiter(cur: &mut Cursor<'_>) -> Result<Option<char>> {
    if cur.nstring_nil() {
        return Ok(None);
    }
    let offset = cur.pos();
    let q = cur.quoted()?;
    let s = std::str::from_utf8(&q).map_err(|_| ParseError::BadUtf8 { offset })?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Some(c)),
        _ => Err(ParseError::Unexpected {
            offset,
            expected: "one delimiter character",
        }),
    }
}

fn list_item(cur: &mut Cursor<'_>) -> Result<ListItem> {
    cur.sp()?;
    let attributes = cur.paren_list(|c| {
        c.expect(b'\\', "\\")?;
        c.atom_string()
    })?;
    cur.sp()?;
    let delimiter = delimiter(cur)?;
    cur.sp()?;
    let mailbox = mailbox::parse(cur)?;
    let extended = if cur.eat(b' ') {
        cur.paren_list(list_extended)?
    } else {
        Vec::new()
    };
    Ok(ListItem {
        attributes,
        delimiter,
        mailbox,
        extended,
    })
}

/// `tag SP value` of LIST extended data (CHILDINFO and OLDNAME).
fn list_extended(cur: &mut Cursor<'_>) -> Result<ListExtended> {
    let offset = cur.pos();
    let tag = cur.astring()?.to_ascii_uppercase();
    cur.sp()?;
    match tag.as_slice() {
        b"CHILDINFO" => {
            let list = cur.paren_list(|c| c.astring())?;
            if list.is_empty() {
                return Err(cur.err("CHILDINFO value"));
            }
            Ok(ListExtended::ChildInfo(list))
        }
        b"OLDNAME" => {
            cur.expect(b'(', "(")?;
            let m = mailbox::parse(cur)?;
            cur.expect(b')', ")")?;
            Ok(ListExtended::OldName(m))
        }
        _ => Err(ParseError::UnknownKeyword {
            keyword: String::from_utf8_lossy(&tag).into_owned(),
            offset,
        }),
    }
}

/// `thread-list`: `"(" members [SP nested] ")"` or `"(" nested ")"`.
fn thread_list(cur: &mut Cursor<'_>) -> Result<ThreadNode> {
    cur.expect(b'(', "(")?;
    cur.enter()?;
    let mut chain = Vec::new();
    if cur.peek() != Some(b'(') {
        chain.push(cur.nz_number()?);
        while cur.peek() == Some(b' ') && cur.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            cur.sp()?;
            chain.push(cur.nz_number()?);
        }
        if cur.peek() == Some(b' ') {
            cur.sp()?;
        }
    }
    let mut children = Vec::new();
    while cur.peek() == Some(b'(') {
        children.push(thread_list(cur)?);
    }
    if children.len() == 1 || (chain.is_empty() && children.is_empty()) {
        return Err(cur.err("two or more nested threads"));
    }
    cur.expect(b')', ")")?;
    cur.leave();
    Ok(ThreadNode { chain, children })
}

fn namespace(cur: &mut Cursor<'_>) -> Result<Option<Vec<NamespaceEntry>>> {
    cur.sp()?;
    if cur.nstring_nil() {
        return Ok(None);
    }
    cur.expect(b'(', "(")?;
    let mut out = Vec::new();
    while cur.eat(b'(') {
        let prefix = cur.string()?;
        cur.sp()?;
        let delimiter = delimiter(cur)?;
        cur.expect(b')', ")")?;
        out.push(NamespaceEntry { prefix, delimiter });
    }
    if out.is_empty() {
        return Err(cur.err("namespace"));
    }
    cur.expect(b')', ")")?;
    Ok(Some(out))
}

fn esearch_item(cur: &mut Cursor<'_>) -> Result<ESearchItem> {
    let (word, offset) = cur.word()?;
    cur.sp()?;
    Ok(match word.as_str() {
        "MIN" => ESearchItem::Min(cur.nz_number()?),
        "MAX" => ESearchItem::Max(cur.nz_number()?),
        "ALL" => ESearchItem::All(sequence::parse(cur)?),
        "COUNT" => ESearchItem::Count(cur.number()?),
        "MODSEQ" => ESearchItem::ModSeq(cur.nz_number64()?),
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    })
}

fn untagged(cur: &mut Cursor<'_>) -> Result<Response> {
    if cur.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = cur.number()?;
        cur.sp()?;
        let (word, offset) = cur.word()?;
        let data = match word.as_str() {
            "EXISTS" => Data::Exists(n),
            "RECENT" => Data::Recent(n),
            "EXPUNGE" if n > 0 => Data::Expunge(n),
            "FETCH" if n > 0 => {
                cur.sp()?;
                Data::Fetch {
                    seq: n,
                    items: super::fetch::parse(cur)?,
                }
            }
            _ => {
                return Err(ParseError::UnknownKeyword {
                    keyword: word,
                    offset,
                });
            }
        };
        return Ok(Response::Data(data));
    }
    let (word, offset) = cur.word()?;
    let kind = match word.as_str() {
        "OK" => Some(StatusKind::Ok),
        "NO" => Some(StatusKind::No),
        "BAD" => Some(StatusKind::Bad),
        "PREAUTH" => Some(StatusKind::PreAuth),
        "BYE" => Some(StatusKind::Bye),
        _ => None,
    };
    if let Some(kind) = kind {
        return Ok(Response::Status(status_rest(cur, None, kind)?));
    }
    let data = match word.as_str() {
        "CAPABILITY" => Data::Capability(atoms(cur)?),
        "ENABLED" => Data::Enabled(atoms(cur)?),
        "FLAGS" => {
            cur.sp()?;
            Data::Flags(flag::parse_list(cur)?)
        }
        "LIST" => Data::List(list_item(cur)?),
        "LSUB" => Data::Lsub(list_item(cur)?),
        "STATUS" => {
            cur.sp()?;
            let mailbox = mailbox::parse(cur)?;
            cur.sp()?;
            let items = cur.paren_list(|c| {
                let a = status::parse(c)?;
                c.sp()?;
                Ok((a, c.number64()?))
            })?;
            Data::Status { mailbox, items }
        }
        "SEARCH" => {
            let ids = nz_numbers(cur)?;
            let modseq = if cur.eat_ci(b" (MODSEQ ") {
                let m = cur.nz_number64()?;
                cur.expect(b')', ")")?;
                Some(m)
            } else {
                None
            };
            Data::Search { ids, modseq }
        }
        "SORT" => Data::Sort(nz_numbers(cur)?),
        "THREAD" => {
            let mut threads = Vec::new();
            if cur.eat(b' ') {
                while cur.peek() == Some(b'(') {
                    threads.push(thread_list(cur)?);
                }
                if threads.is_empty() {
                    return Err(cur.err("thread list"));
                }
            }
            Data::Thread(threads)
        }
        "ESEARCH" => {
            let tag = if cur.eat_ci(b" (TAG ") {
                let offset = cur.pos();
                let t = cur.astring()?;
                cur.expect(b')', ")")?;
                Some(Tag::from_bytes(&t).ok_or(ParseError::Unexpected {
                    offset,
                    expected: "tag",
                })?)
            } else {
                None
            };
            let uid = cur.eat_ci(b" UID");
            let mut items = Vec::new();
            while cur.eat(b' ') {
                items.push(esearch_item(cur)?);
            }
            Data::ESearch { tag, uid, items }
        }
        "VANISHED" => {
            cur.sp()?;
            let earlier = cur.eat_ci(b"(EARLIER) ");
            Data::Vanished {
                earlier,
                uids: sequence::parse(cur)?,
            }
        }
        "NAMESPACE" => Data::Namespace {
            personal: namespace(cur)?,
            other: namespace(cur)?,
            shared: namespace(cur)?,
        },
        "ID" => {
            cur.sp()?;
            if cur.nstring_nil() {
                Data::Id(None)
            } else {
                Data::Id(Some(cur.paren_list(|c| {
                    let k = c.string()?;
                    c.sp()?;
                    Ok((k, c.nstring()?))
                })?))
            }
        }
        "QUOTA" => {
            cur.sp()?;
            let root = cur.astring()?;
            cur.sp()?;
            let resources = cur.paren_list(|c| {
                let name = c.atom_string()?;
                c.sp()?;
                let usage = c.number64()?;
                c.sp()?;
                Ok(QuotaResource {
                    name,
                    usage,
                    limit: c.number64()?,
                })
            })?;
            Data::Quota { root, resources }
        }
        "QUOTAROOT" => {
            cur.sp()?;
            let mailbox = mailbox::parse(cur)?;
            let mut roots = Vec::new();
            while cur.eat(b' ') {
                roots.push(cur.astring()?);
            }
            Data::QuotaRoot { mailbox, roots }
        }
        _ => {
            return Err(ParseError::UnknownKeyword {
                keyword: word,
                offset,
            });
        }
    };
    Ok(Response::Data(data))
}
