//! Writing server responses.

use super::code;
use super::{
    Data, ESearchItem, ListExtended, ListItem, NamespaceEntry, Response, StatusResponse, ThreadNode,
};
use crate::flag;
use crate::literal::NonSyncLiterals;
use crate::mailbox;
use crate::sequence;
use crate::status::StatusAttribute;
use crate::writer::{WriteOptions, Writer};

/// Response text with CR, LF and NUL replaced by spaces.
fn text(w: &mut Writer, t: &str) {
    for c in t.chars() {
        match c {
            '\r' | '\n' | '\0' => w.byte(b' '),
            c => w.str(c.encode_utf8(&mut [0; 4])),
        }
    }
}

fn resp_text(w: &mut Writer, c: &Option<code::Code>, t: &str) {
    if let Some(c) = c {
        code::write(w, c);
        if !t.is_empty() {
            w.sp();
        }
    }
    text(w, t);
}

fn status(w: &mut Writer, s: &StatusResponse) {
    match &s.tag {
        Some(t) => w.str(t.as_str()),
        None => w.byte(b'*'),
    }
    w.sp();
    w.str(s.kind.as_str());
    if s.code.is_some() || !s.text.is_empty() {
        w.sp();
        resp_text(w, &s.code, &s.text);
    }
}

fn delimiter(w: &mut Writer, d: Option<char>) {
    match d {
        None => w.str("NIL"),
        Some(c) => w.quoted(c.encode_utf8(&mut [0; 4]).as_bytes()),
    }
}

fn list_item(w: &mut Writer, name: &str, item: &ListItem) {
    w.str(name);
    w.sp();
    w.paren_list(&item.attributes, |w, a| {
        w.byte(b'\\');
        w.str(a);
    });
    w.sp();
    delimiter(w, item.delimiter);
    w.sp();
    mailbox::write(w, &item.mailbox);
    if !item.extended.is_empty() {
        w.sp();
        w.paren_list(&item.extended, |w, e| match e {
            ListExtended::ChildInfo(values) => {
                w.str("\"CHILDINFO\" ");
                w.paren_list(values, |w, v| w.string(v));
            }
            ListExtended::OldName(m) => {
                w.str("\"OLDNAME\" (");
                mailbox::write(w, m);
                w.byte(b')');
            }
        });
    }
}

fn thread(w: &mut Writer, t: &ThreadNode) {
    w.byte(b'(');
    for (i, n) in t.chain.iter().enumerate() {
        if i > 0 {
            w.sp();
        }
        w.num(n);
    }
    if !t.chain.is_empty() && !t.children.is_empty() {
        w.sp();
    }
    for c in &t.children {
        thread(w, c);
    }
    w.byte(b')');
}

fn namespace(w: &mut Writer, ns: &Option<Vec<NamespaceEntry>>) {
    w.sp();
    match ns {
        None => w.str("NIL"),
        Some(list) => {
            w.byte(b'(');
            for e in list {
                w.byte(b'(');
                w.string(&e.prefix);
                w.sp();
                delimiter(w, e.delimiter);
                w.byte(b')');
            }
            w.byte(b')');
        }
    }
}

fn numbers(w: &mut Writer, ns: &[u32]) {
    for n in ns {
        w.sp();
        w.num(n);
    }
}

fn data(w: &mut Writer, d: &Data) {
    w.str("* ");
    match d {
        Data::Capability(caps) | Data::Enabled(caps) => {
            w.str(if matches!(d, Data::Capability(_)) {
                "CAPABILITY"
            } else {
                "ENABLED"
            });
            for c in caps {
                w.sp();
                w.str(c);
            }
        }
        Data::Flags(flags) => {
            w.str("FLAGS ");
            flag::write_list(w, flags);
        }
        Data::Exists(n) => {
            w.num(n);
            w.str(" EXISTS");
        }
        Data::Recent(n) => {
            w.num(n);
            w.str(" RECENT");
        }
        Data::Expunge(n) => {
            w.num(n);
            w.str(" EXPUNGE");
        }
        Data::Fetch { seq, items } => {
            w.num(seq);
            w.str(" FETCH ");
            super::fetch::write(w, items);
        }
        Data::List(item) => list_item(w, "LIST", item),
        Data::Lsub(item) => list_item(w, "LSUB", item),
        Data::Status { mailbox: m, items } => {
            w.str("STATUS ");
            mailbox::write(w, m);
            w.sp();
            w.paren_list(items, |w, (a, n): &(StatusAttribute, u64)| {
                w.str(a.as_str());
                w.sp();
                w.num(n);
            });
        }
        Data::Search { ids, modseq } => {
            w.str("SEARCH");
            numbers(w, ids);
            if let Some(m) = modseq {
                w.str(" (MODSEQ ");
                w.num(m);
                w.byte(b')');
            }
        }
        Data::Sort(ids) => {
            w.str("SORT");
            numbers(w, ids);
        }
        Data::Thread(threads) => {
            w.str("THREAD");
            if !threads.is_empty() {
                w.sp();
                for t in threads {
                    thread(w, t);
                }
            }
        }
        Data::ESearch { tag, uid, items } => {
            w.str("ESEARCH");
            if let Some(t) = tag {
                w.str(" (TAG ");
                w.quoted(t.as_str().as_bytes());
                w.byte(b')');
            }
            if *uid {
                w.str(" UID");
            }
            for item in items {
                w.sp();
                match item {
                    ESearchItem::Min(n) => {
                        w.str("MIN ");
                        w.num(n);
                    }
                    ESearchItem::Max(n) => {
                        w.str("MAX ");
                        w.num(n);
                    }
                    ESearchItem::Count(n) => {
                        w.str("COUNT ");
                        w.num(n);
                    }
                    ESearchItem::ModSeq(n) => {
                        w.str("MODSEQ ");
                        w.num(n);
                    }
                    ESearchItem::All(set) => {
                        w.str("ALL ");
                        sequence::write(w, set);
                    }
                }
            }
        }
        Data::Vanished { earlier, uids } => {
            w.str("VANISHED ");
            if *earlier {
                w.str("(EARLIER) ");
            }
            sequence::write(w, uids);
        }
        Data::Namespace {
            personal,
            other,
            shared,
        } => {
            w.str("NAMESPACE");
            namespace(w, personal);
            namespace(w, other);
            namespace(w, shared);
        }
        Data::Id(fields) => {
            w.str("ID ");
            match fields {
                None => w.str("NIL"),
                Some(fields) => w.paren_list(fields, |w, (k, v)| {
                    w.string(k);
                    w.sp();
                    w.nstring(v.as_deref());
                }),
            }
        }
        Data::Quota { root, resources } => {
            w.str("QUOTA ");
            w.astring(root);
            w.sp();
            w.paren_list(resources, |w, r| {
                w.str(&r.name);
                w.sp();
                w.num(r.usage);
                w.sp();
                w.num(r.limit);
            });
        }
        Data::QuotaRoot { mailbox: m, roots } => {
            w.str("QUOTAROOT ");
            mailbox::write(w, m);
            for r in roots {
                w.sp();
                w.astring(r);
            }
        }
    }
}

pub(crate) fn write_response(r: &Response) -> Vec<u8> {
    // Servers send synchronizing-form literals only.
    let mut w = Writer::new(WriteOptions {
        non_sync: NonSyncLiterals::Refused,
    });
    match r {
        Response::Status(s) => status(&mut w, s),
        Response::Continuation(c) => {
            w.str("+ ");
            resp_text(&mut w, &c.code, &c.text);
        }
        Response::Data(d) => data(&mut w, d),
    }
    w.finish().bytes
}
