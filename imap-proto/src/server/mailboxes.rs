//! Commands of the authenticated state: SELECT/EXAMINE, CREATE, DELETE,
//! RENAME, (UN)SUBSCRIBE, LIST/LSUB, NAMESPACE, STATUS and the QUOTA
//! commands.

use super::session::{ServerSession, uid_set};
use super::store::{DELIMITER, MailboxInfo, MailboxStore, StoreError};
use super::view::View;
use crate::command::CommandBody;
use crate::flag::{Flag, PermanentFlag};
use crate::list::{ListReturn, ListSelect};
use crate::mailbox::Mailbox;
use crate::response::{
    Code, Data, FetchData, ListExtended, ListItem, NamespaceEntry, QuotaResource, StatusKind,
};
use crate::select::SelectParams;
use crate::status::StatusAttribute;
use crate::tag::Tag;

/// Whether `name` matches a LIST pattern: `*` matches anything, `%`
/// anything but the delimiter (RFC 9051 §6.3.9). Linear in
/// `pattern.len() * name.len()`, so hostile patterns cost no more.
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // reach[j]: the pattern prefix matched so far can end at name[..j].
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    for pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                let mut on = false;
                for j in 0..=n.len() {
                    if reach[j] {
                        on = true;
                    }
                    if *pc == '%' && j > 0 && n[j - 1] == DELIMITER && !reach[j] {
                        on = false;
                    }
                    next[j] = on;
                }
            }
            c => {
                for j in 0..n.len() {
                    if reach[j] && n[j] == *c {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reach = next;
    }
    reach[n.len()]
}

fn has_children(all: &[MailboxInfo], name: &str) -> bool {
    all.iter().any(|m| {
        m.name.len() > name.len()
            && m.name.starts_with(name)
            && m.name[name.len()..].starts_with(DELIMITER)
    })
}

fn canonical_pattern(reference: &str, pattern: &str) -> String {
    let full = if reference.is_empty() || pattern.starts_with(DELIMITER) {
        pattern.to_owned()
    } else {
        format!("{reference}{pattern}")
    };
    // INBOX is case-insensitive, in patterns too.
    if full.len() >= 5 && full[..5].eq_ignore_ascii_case("INBOX") {
        let rest = &full[5..];
        if rest.is_empty() || rest.starts_with(DELIMITER) {
            return format!("INBOX{rest}");
        }
    }
    full
}

impl<S: MailboxStore> ServerSession<S> {
    /// Commands other than the ones `dispatch` handles itself.
    pub(crate) fn mailbox_command(&mut self, store: &mut S, tag: &Tag, body: CommandBody) -> bool {
        use CommandBody as C;
        let tag = tag.clone();
        match body {
            C::Select { mailbox, params } => self.select(store, tag, &mailbox, params, false),
            C::Examine { mailbox, params } => self.select(store, tag, &mailbox, params, true),
            C::Create {
                mailbox,
                special_use,
            } => {
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return true;
                };
                if name == "INBOX" {
                    self.no(tag, Some(Code::AlreadyExists), "INBOX exists");
                    return true;
                }
                let r = store.create(self.user_name(), &name, &special_use);
                self.simple(tag, r, "CREATE completed");
            }
            C::Delete { mailbox } => {
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return true;
                };
                let r = store.delete(self.user_name(), &name);
                if r.is_ok() && self.selected.as_ref().is_some_and(|v| v.name == name) {
                    self.selected = None;
                }
                self.simple(tag, r, "DELETE completed");
            }
            C::Rename { from, to } => {
                let (Some(from), Some(to)) =
                    (self.store_name(&tag, &from), self.store_name(&tag, &to))
                else {
                    return true;
                };
                let r = store.rename(self.user_name(), &from, &to);
                self.simple(tag, r, "RENAME completed");
            }
            C::Subscribe { mailbox } => {
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return true;
                };
                let r = store.subscribe(self.user_name(), &name, true);
                self.simple(tag, r, "SUBSCRIBE completed");
            }
            C::Unsubscribe { mailbox } => {
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return true;
                };
                let r = store.subscribe(self.user_name(), &name, false);
                self.simple(tag, r, "UNSUBSCRIBE completed");
            }
            C::List {
                selection,
                reference,
                patterns,
                returns,
            } => self.list(
                store, tag, &selection, &reference, &patterns, &returns, false,
            ),
            C::Lsub { reference, pattern } => self.list(
                store,
                tag,
                &[ListSelect::Subscribed],
                &reference,
                &[pattern],
                &[],
                true,
            ),
            C::Namespace => {
                self.data(Data::Namespace {
                    personal: Some(vec![NamespaceEntry {
                        prefix: Vec::new(),
                        delimiter: Some(DELIMITER),
                    }]),
                    other: None,
                    shared: None,
                });
                self.ok(tag, None, "NAMESPACE completed");
            }
            C::Status {
                mailbox,
                attributes,
            } => {
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return true;
                };
                match self.status_data(store, &name, &attributes) {
                    Ok(data) => {
                        self.data(data);
                        self.ok(tag, None, "STATUS completed");
                    }
                    Err(e) => self.store_failed(tag, e),
                }
            }
            C::GetQuota { root } => {
                if !self.config.extensions.quota {
                    self.bad(Some(tag), "QUOTA is not supported");
                    return true;
                }
                let root = String::from_utf8_lossy(&root).into_owned();
                match store.quota(self.user_name(), &root) {
                    Ok(q) => {
                        self.data(quota_data(&q));
                        self.ok(tag, None, "GETQUOTA completed");
                    }
                    Err(e) => self.store_failed(tag, e),
                }
            }
            C::GetQuotaRoot { mailbox } => {
                if !self.config.extensions.quota {
                    self.bad(Some(tag), "QUOTA is not supported");
                    return true;
                }
                let Some(name) = self.store_name(&tag, &mailbox) else {
                    return true;
                };
                match store.quota_roots(self.user_name(), &name) {
                    Ok(roots) => {
                        self.data(Data::QuotaRoot {
                            mailbox: mailbox.clone(),
                            roots: roots.iter().map(|q| q.root.as_bytes().to_vec()).collect(),
                        });
                        for q in &roots {
                            self.data(quota_data(q));
                        }
                        self.ok(tag, None, "GETQUOTAROOT completed");
                    }
                    Err(e) => self.store_failed(tag, e),
                }
            }
            C::SetQuota { .. } => {
                if !self.config.extensions.quota {
                    self.bad(Some(tag), "QUOTA is not supported");
                    return true;
                }
                self.no(
                    tag,
                    Some(Code::NoPerm),
                    "Quotas are set by the administrator",
                );
            }
            other => self.selected_command(store, tag, other),
        }
        true
    }

    fn simple(&mut self, tag: Tag, result: Result<(), StoreError>, text: &str) {
        match result {
            Ok(()) => self.ok(tag, None, text),
            Err(e) => self.store_failed(tag, e),
        }
    }

    pub(crate) fn store_failed(&mut self, tag: Tag, e: StoreError) {
        self.no(tag, Some(e.code()), &e.response_text());
    }

    fn select(
        &mut self,
        store: &mut S,
        tag: Tag,
        mailbox: &Mailbox,
        params: SelectParams,
        examine: bool,
    ) {
        let Some(name) = self.store_name(&tag, mailbox) else {
            return;
        };
        if params.qresync.is_some() && !self.enabled.qresync {
            self.bad(Some(tag), "QRESYNC was not enabled");
            return;
        }
        if params.condstore || params.qresync.is_some() {
            if !self.config.extensions.condstore {
                self.bad(Some(tag), "CONDSTORE is not supported");
                return;
            }
            self.enabled.condstore = true;
        }
        // Selecting closes the current mailbox without expunging.
        if self.selected.take().is_some() {
            self.saved.clear();
            if self.enabled.qresync || self.enabled.rev2 {
                self.untagged(
                    StatusKind::Ok,
                    Some(Code::Closed),
                    "Previous mailbox closed",
                );
            }
        }
        let snapshot = match store.select(self.user_name(), &name) {
            Ok(s) => s,
            Err(e) => {
                self.store_failed(tag, e);
                return;
            }
        };
        let view = View::new(name.clone(), examine, snapshot.clone());
        let mut flags = vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
        ];
        flags.extend(snapshot.keywords.iter().filter_map(|k| Flag::keyword(k)));
        self.data(Data::Flags(flags.clone()));
        self.data(Data::Exists(view.exists()));
        if !self.enabled.rev2 {
            self.data(Data::Recent(0));
            if let Some(i) = view
                .messages
                .iter()
                .position(|m| !m.flags.contains(&Flag::Seen))
            {
                self.untagged(
                    StatusKind::Ok,
                    Some(Code::Unseen(i as u32 + 1)),
                    "First unseen",
                );
            }
        }
        let mut perm: Vec<PermanentFlag> = if view.read_only {
            Vec::new()
        } else {
            flags.into_iter().map(PermanentFlag::Flag).collect()
        };
        if !view.read_only {
            perm.push(PermanentFlag::Wildcard);
        }
        self.untagged(StatusKind::Ok, Some(Code::PermanentFlags(perm)), "Limited");
        self.untagged(
            StatusKind::Ok,
            Some(Code::UidValidity(view.uid_validity)),
            "UIDs valid",
        );
        self.untagged(
            StatusKind::Ok,
            Some(Code::UidNext(view.uid_next)),
            "Predicted next UID",
        );
        if self.config.extensions.condstore {
            self.untagged(
                StatusKind::Ok,
                Some(Code::HighestModSeq(view.highest_modseq)),
                "Highest",
            );
        }
        if self.enabled.rev2 {
            let wire = self.wire_name(&name);
            self.data(Data::List(ListItem {
                attributes: Vec::new(),
                delimiter: Some(DELIMITER),
                mailbox: wire,
                extended: Vec::new(),
            }));
        }
        if let Some(q) = params.qresync
            && q.uid_validity == view.uid_validity
        {
            self.qresync_report(store, &view, &q);
        }
        let code = if view.read_only {
            Code::ReadOnly
        } else {
            Code::ReadWrite
        };
        self.selected = Some(view);
        self.ok(
            tag,
            Some(code),
            if examine {
                "EXAMINE completed"
            } else {
                "SELECT completed"
            },
        );
    }

    /// RFC 7162 §3.2.5: what vanished and what changed since the client's
    /// mod-sequence.
    fn qresync_report(&mut self, store: &mut S, view: &View, q: &crate::select::QResync) {
        let Ok(changes) = store.changes(self.user_name(), &view.name, q.modseq) else {
            return;
        };
        let known = |uid: u32| {
            q.known_uids
                .as_ref()
                .is_none_or(|set| set.contains(uid, view.uid_next.saturating_sub(1)))
        };
        let vanished: Vec<u32> = changes
            .expunged
            .iter()
            .copied()
            .filter(|u| known(*u))
            .collect();
        if let Some(set) = uid_set(&vanished) {
            self.data(Data::Vanished {
                earlier: true,
                uids: set,
            });
        }
        for meta in changes.changed {
            if let Some(seq) = view.seq_of(meta.uid) {
                self.data(Data::Fetch {
                    seq,
                    items: vec![
                        FetchData::Uid(meta.uid),
                        FetchData::Flags(meta.flags.clone()),
                        FetchData::ModSeq(meta.modseq),
                    ],
                });
            }
        }
    }

    pub(crate) fn status_data(
        &mut self,
        store: &mut S,
        name: &str,
        attributes: &[StatusAttribute],
    ) -> Result<Data, StoreError> {
        let st = store.status(self.user_name(), name)?;
        let items = attributes
            .iter()
            .map(|a| {
                let v = match a {
                    StatusAttribute::Messages => u64::from(st.messages),
                    StatusAttribute::Recent => 0,
                    StatusAttribute::UidNext => u64::from(st.uid_next),
                    StatusAttribute::UidValidity => u64::from(st.uid_validity),
                    StatusAttribute::Unseen => u64::from(st.unseen),
                    StatusAttribute::Deleted => u64::from(st.deleted),
                    StatusAttribute::Size => st.size,
                    StatusAttribute::HighestModSeq => st.highest_modseq,
                    StatusAttribute::AppendLimit => self.config.limits.append_limit,
                };
                (*a, v)
            })
            .collect();
        if attributes.contains(&StatusAttribute::HighestModSeq) {
            self.enabled.condstore = self.config.extensions.condstore;
        }
        Ok(Data::Status {
            mailbox: self.wire_name(name),
            items,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn list(
        &mut self,
        store: &mut S,
        tag: Tag,
        selection: &[ListSelect],
        reference: &Mailbox,
        patterns: &[Vec<u8>],
        returns: &[ListReturn],
        lsub: bool,
    ) {
        let enc = self.name_encoding();
        let Ok(reference) = reference.name(enc) else {
            self.bad(Some(tag), "Bad reference name");
            return;
        };
        let mut pats = Vec::new();
        for p in patterns {
            match Mailbox::from_wire(p.clone()).name(enc) {
                Ok(p) => pats.push(canonical_pattern(&reference, &p)),
                Err(e) => {
                    self.bad(Some(tag), &format!("Bad pattern: {e}"));
                    return;
                }
            }
        }
        // LIST "" "": the hierarchy delimiter and root.
        if !lsub && pats.len() == 1 && pats[0].is_empty() && selection.is_empty() {
            self.data(Data::List(ListItem {
                attributes: vec!["Noselect".into()],
                delimiter: Some(DELIMITER),
                mailbox: Mailbox::from_wire(Vec::<u8>::new()),
                extended: Vec::new(),
            }));
            self.ok(tag, None, "LIST completed");
            return;
        }
        let all = match store.list(self.user_name()) {
            Ok(a) => a,
            Err(e) => {
                self.store_failed(tag, e);
                return;
            }
        };
        let subscribed_only = selection.contains(&ListSelect::Subscribed);
        let special_only = selection.contains(&ListSelect::SpecialUse);
        let recursive = selection.contains(&ListSelect::RecursiveMatch);
        let want_subscribed = subscribed_only || returns.contains(&ListReturn::Subscribed);
        let status_attrs = returns.iter().find_map(|r| match r {
            ListReturn::Status(a) => Some(a.clone()),
            _ => None,
        });
        let matches = |name: &str| pats.iter().any(|p| pattern_matches(p, name));

        for info in &all {
            let (name, subscribed) = (&info.name, &info.subscribed);
            let children = has_children(&all, name);
            let child_subscribed = recursive
                && all.iter().any(|m| {
                    m.subscribed
                        && m.name.len() > name.len()
                        && m.name.starts_with(name.as_str())
                        && m.name[name.len()..].starts_with(DELIMITER)
                });
            if !matches(name) {
                continue;
            }
            if subscribed_only && !subscribed {
                continue;
            }
            if special_only && info.special_use.is_empty() {
                continue;
            }
            let mut attributes = Vec::new();
            if lsub {
                // LSUB reports only \Noselect-style attributes.
            } else {
                attributes.push(
                    if children {
                        "HasChildren"
                    } else {
                        "HasNoChildren"
                    }
                    .into(),
                );
                attributes.extend(info.special_use.iter().cloned());
                if want_subscribed && *subscribed {
                    attributes.push("Subscribed".into());
                }
            }
            let mut extended = Vec::new();
            if child_subscribed && subscribed_only {
                extended.push(ListExtended::ChildInfo(vec![b"SUBSCRIBED".to_vec()]));
            }
            let item = ListItem {
                attributes,
                delimiter: Some(DELIMITER),
                mailbox: self.wire_name(name),
                extended,
            };
            self.data(if lsub {
                Data::Lsub(item)
            } else {
                Data::List(item)
            });
            if let Some(attrs) = &status_attrs
                && let Ok(data) = self.status_data(store, name, attrs)
            {
                self.data(data);
            }
        }
        self.ok(
            tag,
            None,
            if lsub {
                "LSUB completed"
            } else {
                "LIST completed"
            },
        );
    }
}

fn quota_data(q: &super::store::QuotaInfo) -> Data {
    Data::Quota {
        root: q.root.as_bytes().to_vec(),
        resources: q
            .resources
            .iter()
            .map(|(name, usage, limit)| QuotaResource {
                name: name.clone(),
                usage: *usage,
                limit: *limit,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        assert!(pattern_matches("*", "a/b/c"));
        assert!(pattern_matches("%", "INBOX"));
        assert!(!pattern_matches("%", "a/b"));
        assert!(pattern_matches("a/%", "a/b"));
        assert!(!pattern_matches("a/%", "a/b/c"));
        assert!(pattern_matches("a/*", "a/b/c"));
        assert!(pattern_matches("%/%", "a/b"));
        assert!(!pattern_matches("INBOX", "INBOX/x"));
        assert!(pattern_matches("*x", "axbx"));
        assert!(pattern_matches("", ""));
        assert!(!pattern_matches("", "a"));
        // Many stars do not make matching slow.
        let hostile = "*a".repeat(500);
        assert!(!pattern_matches(&hostile, &"b".repeat(2000)));
    }

    #[test]
    fn reference_and_inbox_case() {
        assert_eq!(canonical_pattern("a/", "%"), "a/%");
        assert_eq!(canonical_pattern("", "inbox"), "INBOX");
        assert_eq!(canonical_pattern("", "Inbox/%"), "INBOX/%");
        assert_eq!(canonical_pattern("x", "/abs"), "/abs");
    }
}
