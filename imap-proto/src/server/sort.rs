//! SORT and THREAD (RFC 5256) with DISPLAYFROM / DISPLAYTO (RFC 5957).
//!
//! The caller runs the search first and hands the matching messages over
//! as [`SortItem`]s; the result is their `id`s (sequence numbers or UIDs).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::datetime::DateTime;
use crate::response::ThreadNode;
use crate::sort::{SortCriterion, SortKey, ThreadAlgorithm};

use super::message::{MessageView, decode_header_text, unix_time};

/// One message to sort or thread.
#[derive(Debug, Clone, Copy)]
pub struct SortItem<'a> {
    /// What to return for it: its sequence number or its UID.
    pub id: u32,
    /// Its sequence number, which breaks ties.
    pub seq: u32,
    /// INTERNALDATE: the ARRIVAL key, and the sent date when the message
    /// has no valid Date:.
    pub internal_date: DateTime,
    /// RFC822.SIZE.
    pub size: u64,
    /// The message.
    pub message: &'a MessageView,
}

impl SortItem<'_> {
    /// The sent date (RFC 5256 §2.2) in seconds since the epoch: Date:,
    /// or INTERNALDATE when that is missing or invalid.
    fn sent(&self) -> i64 {
        unix_time(&self.message.sent_date().unwrap_or(self.internal_date))
    }
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Strips a leading `[blob]` and the white space after it; `None` when the
/// text does not start with one.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let close = rest.find(['[', ']'])?;
    let after = rest.get(close..)?.strip_prefix(']')?;
    Some(after.trim_start_matches(is_wsp))
}

fn strip_prefix_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// Strips one `*subj-blob subj-refwd` leader (`[x] Re:`, `Fwd [y]:`).
fn strip_refwd(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(r) = strip_blob(rest) {
        rest = r;
    }
    let rest = strip_prefix_ci(rest, "re")
        .or_else(|| strip_prefix_ci(rest, "fwd"))
        .or_else(|| strip_prefix_ci(rest, "fw"))?;
    let rest = rest.trim_start_matches(is_wsp);
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// The base subject (RFC 5256 §2.1) and whether the subject marked a reply
/// or forward (a `Re:`/`Fwd:` leader, a `(fwd)` trailer or a `[fwd: ...]`
/// wrapper).
fn base_subject_and_reply(subject: &str) -> (String, bool) {
    // (1) Decode encoded words; tabs and line breaks become spaces, runs of
    // spaces one space.
    let flat: String = subject
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let decoded = decode_header_text(flat.as_bytes());
    let mut s = String::with_capacity(decoded.len());
    for c in decoded.chars() {
        let c = if is_wsp(c) || c == '\r' || c == '\n' {
            ' '
        } else {
            c
        };
        if !(c == ' ' && s.ends_with(' ')) {
            s.push(c);
        }
    }
    let mut reply = false;
    loop {
        // (2) Trailers: white space and "(fwd)".
        loop {
            if s.ends_with(' ') {
                s.pop();
            } else if s.len() >= 5
                && s.get(s.len() - 5..)
                    .is_some_and(|t| t.eq_ignore_ascii_case("(fwd)"))
            {
                s.truncate(s.len() - 5);
                reply = true;
            } else {
                break;
            }
        }
        // (3)-(5) Leaders, and blobs that leave something behind.
        loop {
            let before = s.len();
            loop {
                if let Some(rest) = s.strip_prefix(' ') {
                    s = rest.to_owned();
                } else if let Some(rest) = strip_refwd(&s) {
                    s = rest.to_owned();
                    reply = true;
                } else {
                    break;
                }
            }
            if let Some(rest) = strip_blob(&s)
                && !rest.is_empty()
            {
                s = rest.to_owned();
            }
            if s.len() == before {
                break;
            }
        }
        // (6) A "[fwd: ...]" wrapper.
        if let Some(inner) = strip_prefix_ci(&s, "[fwd:").and_then(|r| r.strip_suffix(']')) {
            s = inner.to_owned();
            reply = true;
            continue;
        }
        break;
    }
    (s.to_uppercase(), reply)
}

/// The base subject of RFC 5256 §2.1, upper-cased for comparison: encoded
/// words decoded, white space normalized, `Re:`/`Fw:`/`Fwd:` leaders with
/// their `[blob]`s, `(fwd)` trailers and `[fwd: ...]` wrappers removed.
/// `"Re: [fwd: Re: Hello]"` gives `"HELLO"`.
pub fn base_subject(subject: &str) -> String {
    base_subject_and_reply(subject).0
}

/// A precomputed sort key value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyValue {
    Number(i64),
    Text(String),
}

fn key_value(key: SortKey, item: &SortItem<'_>) -> KeyValue {
    let m = item.message;
    let text = |s: Option<String>| KeyValue::Text(s.unwrap_or_default());
    match key {
        SortKey::Arrival => KeyValue::Number(unix_time(&item.internal_date)),
        SortKey::Date => KeyValue::Number(item.sent()),
        SortKey::Size => KeyValue::Number(i64::try_from(item.size).unwrap_or(i64::MAX)),
        // i;ascii-casemap
        SortKey::From => text(m.first_mailbox("from").map(|s| s.to_ascii_uppercase())),
        SortKey::To => text(m.first_mailbox("to").map(|s| s.to_ascii_uppercase())),
        SortKey::Cc => text(m.first_mailbox("cc").map(|s| s.to_ascii_uppercase())),
        SortKey::Subject => text(m.subject().map(|s| base_subject(&s))),
        // i;unicode-casemap, approximated by Unicode upper case.
        SortKey::DisplayFrom => text(m.display_name("from").map(|s| s.to_uppercase())),
        SortKey::DisplayTo => text(m.display_name("to").map(|s| s.to_uppercase())),
    }
}

/// SORT: the items' ids ordered by the criteria, ties broken by sequence
/// number. DATE is the sent date (Date:, else INTERNALDATE) compared in
/// UTC; FROM, TO and CC the first address's mailbox; SUBJECT the base
/// subject; a missing value sorts as the empty string.
pub fn sort(criteria: &[SortCriterion], items: &[SortItem<'_>]) -> Vec<u32> {
    let keys: Vec<Vec<KeyValue>> = items
        .iter()
        .map(|item| criteria.iter().map(|c| key_value(c.key, item)).collect())
        .collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        for (i, c) in criteria.iter().enumerate() {
            let ka = keys.get(a).and_then(|k| k.get(i));
            let kb = keys.get(b).and_then(|k| k.get(i));
            let ord = ka.cmp(&kb);
            let ord = if c.reverse { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        let seq = |i: usize| items.get(i).map(|it| it.seq);
        seq(a).cmp(&seq(b))
    });
    order
        .into_iter()
        .filter_map(|i| items.get(i).map(|it| it.id))
        .collect()
}

/// THREAD: `None` for an algorithm other than ORDEREDSUBJECT and
/// REFERENCES.
pub fn thread(algorithm: &ThreadAlgorithm, items: &[SortItem<'_>]) -> Option<Vec<ThreadNode>> {
    match algorithm {
        ThreadAlgorithm::OrderedSubject => Some(ordered_subject(items)),
        ThreadAlgorithm::References => Some(references(items)),
        ThreadAlgorithm::Other(_) => None,
    }
}

/// A parent and its children, or just the parent.
fn parent_with(id: u32, children: Vec<u32>) -> ThreadNode {
    match children.as_slice() {
        [] => ThreadNode {
            chain: vec![id],
            children: Vec::new(),
        },
        [one] => ThreadNode {
            chain: vec![id, *one],
            children: Vec::new(),
        },
        _ => ThreadNode {
            chain: vec![id],
            children: children
                .into_iter()
                .map(|c| ThreadNode {
                    chain: vec![c],
                    children: Vec::new(),
                })
                .collect(),
        },
    }
}

/// ORDEREDSUBJECT: one thread per base subject; the earliest message is
/// the parent of all the others; threads ordered by their first message.
fn ordered_subject(items: &[SortItem<'_>]) -> Vec<ThreadNode> {
    let mut keyed: Vec<(String, i64, u32, u32)> = items
        .iter()
        .map(|it| {
            let subject = it.message.subject().unwrap_or_default();
            (base_subject(&subject), it.sent(), it.seq, it.id)
        })
        .collect();
    keyed.sort();
    let mut threads: Vec<((i64, u32), ThreadNode)> = Vec::new();
    let mut i = 0;
    while let Some((subject, sent, seq, id)) = keyed.get(i) {
        let mut children = Vec::new();
        let mut j = i + 1;
        while let Some((s, _, _, child)) = keyed.get(j)
            && s == subject
        {
            children.push(*child);
            j += 1;
        }
        threads.push(((*sent, *seq), parent_with(*id, children)));
        i = j;
    }
    threads.sort_by_key(|(key, _)| *key);
    threads.into_iter().map(|(_, t)| t).collect()
}

/// A container of the REFERENCES algorithm: a message or a dummy.
#[derive(Debug, Clone, Default)]
struct Container {
    item: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Threader<'i, 'm> {
    items: &'i [SortItem<'m>],
    c: Vec<Container>,
    /// The sent date and sequence number of each item.
    when: Vec<(i64, u32)>,
    /// The base subject of each item and whether it marks a reply.
    subjects: Vec<Option<(String, bool)>>,
}

impl Threader<'_, '_> {
    fn new_container(&mut self, item: Option<usize>) -> usize {
        self.c.push(Container {
            item,
            ..Container::default()
        });
        self.c.len() - 1
    }

    fn parent(&self, i: usize) -> Option<usize> {
        self.c.get(i).and_then(|c| c.parent)
    }

    fn children(&self, i: usize) -> &[usize] {
        self.c.get(i).map_or(&[], |c| c.children.as_slice())
    }

    fn is_dummy(&self, i: usize) -> bool {
        self.c.get(i).is_none_or(|c| c.item.is_none())
    }

    /// Whether `a` is `b` or one of its descendants.
    fn is_within(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(a);
        let mut steps = 0;
        while let Some(x) = cur {
            if x == b {
                return true;
            }
            steps += 1;
            if steps > self.c.len() {
                return true;
            }
            cur = self.parent(x);
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.parent(child) {
            if let Some(pc) = self.c.get_mut(p) {
                pc.children.retain(|&x| x != child);
            }
            if let Some(cc) = self.c.get_mut(child) {
                cc.parent = None;
            }
        }
    }

    /// Makes `parent` the parent of `child` unless that would make a loop.
    fn link(&mut self, parent: usize, child: usize) -> bool {
        if self.is_within(parent, child) {
            return false;
        }
        if let Some(cc) = self.c.get_mut(child) {
            cc.parent = Some(parent);
        }
        if let Some(pc) = self.c.get_mut(parent) {
            pc.children.push(child);
        }
        true
    }

    /// The sort key of a container: its message's, or for a dummy its
    /// first child's.
    fn key(&self, i: usize) -> (i64, u32) {
        let mut cur = i;
        for _ in 0..=self.c.len() {
            match self.c.get(cur) {
                Some(Container {
                    item: Some(item), ..
                }) => return self.when.get(*item).copied().unwrap_or((0, 0)),
                Some(Container { children, .. }) if !children.is_empty() => {
                    cur = children.first().copied().unwrap_or(cur);
                }
                _ => break,
            }
        }
        (i64::MAX, u32::MAX)
    }

    fn sort_children(&mut self, i: usize) {
        let mut children = self
            .c
            .get_mut(i)
            .map(|c| std::mem::take(&mut c.children))
            .unwrap_or_default();
        children.sort_by_key(|&x| self.key(x));
        if let Some(c) = self.c.get_mut(i) {
            c.children = children;
        }
    }

    /// The containers below `roots`, children before their parents.
    fn post_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((n, done)) = stack.pop() {
            if done {
                out.push(n);
            } else {
                stack.push((n, true));
                stack.extend(self.children(n).iter().rev().map(|&ch| (ch, false)));
            }
        }
        out
    }

    fn subject(&self, i: usize) -> Option<(String, bool)> {
        let mut cur = i;
        if self.is_dummy(cur) {
            cur = *self.children(cur).first()?;
        }
        let item = self.c.get(cur)?.item?;
        self.subjects
            .get(item)?
            .clone()
            .filter(|(base, _)| !base.is_empty())
    }

    fn is_reply(&self, i: usize) -> bool {
        !self.is_dummy(i) && self.subject(i).is_some_and(|(_, r)| r)
    }
}

/// REFERENCES (RFC 5256 §3): link messages by Message-ID, References and
/// In-Reply-To, prune dummies, merge threads with the same base subject,
/// sort siblings by sent date.
fn references(items: &[SortItem<'_>]) -> Vec<ThreadNode> {
    let mut t = Threader {
        items,
        c: Vec::with_capacity(items.len()),
        when: items.iter().map(|it| (it.sent(), it.seq)).collect(),
        subjects: items
            .iter()
            .map(|it| it.message.subject().map(|s| base_subject_and_reply(&s)))
            .collect(),
    };
    // (1) Containers and links, in sequence order.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items.get(i).map(|it| it.seq));
    let mut table: HashMap<String, usize> = HashMap::new();
    for i in order {
        let Some(item) = items.get(i) else { continue };
        let m = item.message;
        // A: this message's container; a missing or duplicate Message-ID
        // gets a unique one.
        let me = match m.message_id() {
            Some(id) => match table.get(&id).copied() {
                Some(c) if t.is_dummy(c) => {
                    if let Some(cc) = t.c.get_mut(c) {
                        cc.item = Some(i);
                    }
                    c
                }
                Some(_) => t.new_container(Some(i)),
                None => {
                    let c = t.new_container(Some(i));
                    table.insert(id, c);
                    c
                }
            },
            None => t.new_container(Some(i)),
        };
        // B: link the references to each other.
        let mut refs = m.references();
        if refs.is_empty() {
            refs = m.in_reply_to().into_iter().take(1).collect();
        }
        let mut ref_containers = Vec::with_capacity(refs.len());
        for id in refs {
            let c = match table.get(&id) {
                Some(&c) => c,
                None => {
                    let c = t.new_container(None);
                    table.insert(id, c);
                    c
                }
            };
            ref_containers.push(c);
        }
        for pair in ref_containers.windows(2) {
            if let [a, b] = *pair
                && a != b
                && t.parent(b).is_none()
            {
                t.link(a, b);
            }
        }
        // C: the last reference is the parent, replacing any other.
        t.unlink(me);
        if let Some(&last) = ref_containers.last()
            && last != me
        {
            t.link(last, me);
        }
    }
    // (2) The root set.
    let roots: Vec<usize> = (0..t.c.len()).filter(|&i| t.parent(i).is_none()).collect();
    // (3) Prune dummies, children first.
    for n in t.post_order(&roots) {
        let children = t.children(n).to_vec();
        let mut kept = Vec::with_capacity(children.len());
        for ch in children {
            if t.is_dummy(ch) {
                kept.extend(t.children(ch).iter().copied());
            } else {
                kept.push(ch);
            }
        }
        for &k in &kept {
            if let Some(kc) = t.c.get_mut(k) {
                kc.parent = Some(n);
            }
        }
        if let Some(nc) = t.c.get_mut(n) {
            nc.children = kept;
        }
    }
    let mut top: Vec<usize> = Vec::with_capacity(roots.len());
    for r in roots {
        if !t.is_dummy(r) {
            top.push(r);
            continue;
        }
        match t.children(r) {
            [] => {}
            [only] => {
                let only = *only;
                if let Some(oc) = t.c.get_mut(only) {
                    oc.parent = None;
                }
                top.push(only);
            }
            _ => top.push(r),
        }
    }
    // (4) Sort the top level by sent date (a dummy by its first child).
    for &r in &top {
        if t.is_dummy(r) {
            t.sort_children(r);
        }
    }
    top.sort_by_key(|&r| t.key(r));
    // (5) Merge threads with the same base subject.
    let mut subjects: HashMap<String, usize> = HashMap::new();
    for &r in &top {
        let Some((base, _)) = t.subject(r) else {
            continue;
        };
        match subjects.get(&base).copied() {
            None => {
                subjects.insert(base, r);
            }
            Some(old) => {
                if !t.is_dummy(old) && (t.is_dummy(r) || (t.is_reply(old) && !t.is_reply(r))) {
                    subjects.insert(base, r);
                }
            }
        }
    }
    // Top-level containers merged into another, and those wrapped in a new
    // dummy together with another.
    let mut absorbed: HashSet<usize> = HashSet::new();
    let mut wrapped: HashMap<usize, usize> = HashMap::new();
    for &r in &top {
        if wrapped.contains_key(&r) {
            continue;
        }
        let Some((base, _)) = t.subject(r) else {
            continue;
        };
        let Some(&holder) = subjects.get(&base) else {
            continue;
        };
        if holder == r {
            continue;
        }
        if t.is_dummy(holder) && t.is_dummy(r) {
            let moved =
                t.c.get_mut(r)
                    .map(|c| std::mem::take(&mut c.children))
                    .unwrap_or_default();
            for ch in moved {
                if let Some(cc) = t.c.get_mut(ch) {
                    cc.parent = Some(holder);
                }
                if let Some(hc) = t.c.get_mut(holder) {
                    hc.children.push(ch);
                }
            }
        } else if t.is_dummy(holder) || (t.is_reply(r) && !t.is_reply(holder)) {
            t.link(holder, r);
        } else {
            // The holder is a message on the top level: both go below a
            // new dummy, which takes the holder's place.
            let dummy = t.new_container(None);
            t.link(dummy, holder);
            t.link(dummy, r);
            wrapped.insert(holder, dummy);
            subjects.insert(base, dummy);
        }
        absorbed.insert(r);
    }
    let mut merged: Vec<usize> = top
        .iter()
        .filter(|r| !absorbed.contains(r))
        .map(|r| wrapped.get(r).copied().unwrap_or(*r))
        .collect();
    // (6) Sort every set of siblings, youngest generation first.
    for n in t.post_order(&merged) {
        t.sort_children(n);
    }
    merged.sort_by_key(|&r| t.key(r));
    to_nodes(&t, &merged)
}

/// Turns the container tree into THREAD nodes: a message with one child
/// continues its chain; dummies appear only at the top level.
fn to_nodes(t: &Threader<'_, '_>, top: &[usize]) -> Vec<ThreadNode> {
    // Bottom-up: each container's list of nodes (several for a dummy below
    // the top level, whose children take its place).
    let order = t.post_order(top);
    let mut built: HashMap<usize, Vec<ThreadNode>> = HashMap::with_capacity(order.len());
    let id_of = |n: usize| {
        t.c.get(n)
            .and_then(|c| c.item)
            .and_then(|i| t.items.get(i))
            .map(|it| it.id)
    };
    for n in order {
        let mut kids: Vec<ThreadNode> = Vec::new();
        for ch in t.children(n) {
            kids.extend(built.remove(ch).unwrap_or_default());
        }
        let nodes = match id_of(n) {
            None => kids,
            // Chains are built deepest first and turned round at the end.
            Some(id) => match <[ThreadNode; 1]>::try_from(kids) {
                Ok([mut only]) => {
                    only.chain.push(id);
                    vec![only]
                }
                Err(kids) => vec![ThreadNode {
                    chain: vec![id],
                    children: kids,
                }],
            },
        };
        built.insert(n, nodes);
    }
    let mut out = Vec::with_capacity(top.len());
    for r in top {
        let mut nodes = built.remove(r).unwrap_or_default();
        if id_of(*r).is_none() && nodes.len() >= 2 {
            out.push(ThreadNode {
                chain: Vec::new(),
                children: nodes,
            });
        } else {
            out.append(&mut nodes);
        }
    }
    let mut stack: Vec<&mut ThreadNode> = out.iter_mut().collect();
    while let Some(node) = stack.pop() {
        node.chain.reverse();
        stack.extend(node.children.iter_mut());
    }
    out
}
