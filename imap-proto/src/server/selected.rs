//! Commands of the selected state: CLOSE, UNSELECT, EXPUNGE, SEARCH,
//! STORE, COPY, MOVE, SORT and THREAD (FETCH is in `fetch.rs`).

use super::message::MessageView;
use super::search::{Candidate, SearchEnv, any_key, check_charset, matches, needs_message};
use super::session::{ServerSession, uid_set};
use super::sort::{SortItem, sort, thread};
use super::store::{FlagChange, MailboxStore, MessageRecord, StoreError};
use crate::command::{CommandBody, StoreMode};
use crate::flag::Flag;
use crate::response::{Code, Data, ESearchItem, FetchData};
use crate::search::{SearchKey, SearchProgram, SearchReturn};
use crate::sequence::SequenceSet;
use crate::tag::Tag;

fn uses_modseq(keys: &[SearchKey]) -> bool {
    any_key(keys, &|k| matches!(k, SearchKey::ModSeq { .. }))
}

/// Whether a key reads the internal date, the size or the content of a
/// message (anything the view alone cannot answer).
fn uses_record(keys: &[SearchKey]) -> bool {
    needs_message(keys)
        || any_key(keys, &|k| {
            matches!(
                k,
                SearchKey::Before(_)
                    | SearchKey::On(_)
                    | SearchKey::Since(_)
                    | SearchKey::Older(_)
                    | SearchKey::Younger(_)
                    | SearchKey::Larger(_)
                    | SearchKey::Smaller(_)
            )
        })
}

/// One message that matched a search, with what SORT and THREAD need.
struct Hit {
    seq: u32,
    uid: u32,
    modseq: u64,
    record: Option<MessageRecord>,
    view: Option<MessageView>,
}

impl<S: MailboxStore> ServerSession<S> {
    /// Commands of the selected state.
    pub(crate) fn selected_command(&mut self, store: &mut S, tag: Tag, body: CommandBody) {
        use CommandBody as C;
        match body {
            C::Close => {
                if let Some(view) = self.selected.take()
                    && !view.read_only
                {
                    // Expunged silently (RFC 9051 §6.4.1).
                    let _ = store.expunge(self.user_name(), &view.name, None);
                }
                self.saved.clear();
                self.ok(tag, None, "CLOSE completed");
            }
            C::Unselect => {
                self.selected = None;
                self.saved.clear();
                self.ok(tag, None, "UNSELECT completed");
            }
            C::Expunge => self.expunge(store, tag, None),
            C::UidExpunge { set } => self.expunge(store, tag, Some(set)),
            C::Search {
                uid,
                returns,
                program,
            } => self.search(store, tag, uid, returns, &program),
            C::Fetch {
                uid,
                set,
                items,
                modifiers,
            } => self.fetch(store, tag, uid, &set, items, modifiers),
            C::Store {
                uid,
                set,
                unchanged_since,
                mode,
                silent,
                flags,
            } => self.store(store, tag, uid, &set, unchanged_since, mode, silent, &flags),
            C::Copy { uid, set, mailbox } => {
                self.copy_or_move(store, tag, uid, &set, &mailbox, false)
            }
            C::Move { uid, set, mailbox } => {
                self.copy_or_move(store, tag, uid, &set, &mailbox, true)
            }
            C::Sort {
                uid,
                criteria,
                program,
            } => {
                if !self.config.extensions.sort_thread {
                    self.bad(Some(tag), "SORT is not supported");
                    return;
                }
                let Some(hits) = self.matching(store, &tag, &program, true) else {
                    return;
                };
                let items = sort_items(&hits, uid);
                let ids = sort(&criteria, &items);
                self.data(Data::Sort(ids));
                self.catch_up(store, uid);
                self.ok(tag, None, "SORT completed");
            }
            C::Thread {
                uid,
                algorithm,
                program,
            } => {
                if !self.config.extensions.sort_thread {
                    self.bad(Some(tag), "THREAD is not supported");
                    return;
                }
                let Some(hits) = self.matching(store, &tag, &program, true) else {
                    return;
                };
                let items = sort_items(&hits, uid);
                let Some(threads) = thread(&algorithm, &items) else {
                    self.bad(Some(tag), "Unknown THREAD algorithm");
                    return;
                };
                self.data(Data::Thread(threads));
                self.catch_up(store, uid);
                self.ok(tag, None, "THREAD completed");
            }
            _ => self.bad(Some(tag), "Command not valid in this state"),
        }
    }

    fn expunge(&mut self, store: &mut S, tag: Tag, uids: Option<SequenceSet>) {
        let Some(view) = &self.selected else {
            return;
        };
        if view.read_only {
            self.no(tag, Some(Code::ReadOnly), "Mailbox is read-only");
            return;
        }
        let name = view.name.clone();
        let wanted: Option<Vec<u32>> = uids.as_ref().map(|set| {
            view.resolve(set, true, &self.saved)
                .into_iter()
                .map(|(_, u)| u)
                .collect()
        });
        match store.expunge(self.user_name(), &name, wanted.as_deref()) {
            Ok(gone) => {
                self.announce_expunged(&gone);
                self.catch_up(store, true);
                self.ok(tag, None, "EXPUNGE completed");
            }
            Err(e) => self.store_failed(tag, e),
        }
    }

    /// Removes UIDs from the view and tells the client (EXPUNGE, or
    /// VANISHED under QRESYNC).
    fn announce_expunged(&mut self, uids: &[u32]) {
        let Some(view) = &mut self.selected else {
            return;
        };
        let mut seqs = Vec::new();
        let mut removed = Vec::new();
        for uid in uids {
            if let Some(seq) = view.remove_uid(*uid) {
                seqs.push(seq);
                removed.push(*uid);
            }
        }
        if self.enabled.qresync {
            if let Some(set) = uid_set(&removed) {
                self.data(Data::Vanished {
                    earlier: false,
                    uids: set,
                });
            }
        } else {
            for seq in seqs {
                self.data(Data::Expunge(seq));
            }
        }
    }

    /// The messages matching a search program, or a response already
    /// written. Loads message content only when a key needs it.
    fn matching(
        &mut self,
        store: &mut S,
        tag: &Tag,
        program: &SearchProgram,
        keep: bool,
    ) -> Option<Vec<Hit>> {
        if check_charset(program.charset.as_deref()).is_err() {
            self.no(
                tag.clone(),
                Some(Code::BadCharset(vec!["US-ASCII".into(), "UTF-8".into()])),
                "Unsupported charset",
            );
            return None;
        }
        if uses_modseq(&program.criteria) {
            self.enabled.condstore = self.config.extensions.condstore;
        }
        let view = self.selected.as_ref()?;
        let name = view.name.clone();
        let content = needs_message(&program.criteria) || keep;
        let env = SearchEnv {
            max_seq: view.exists(),
            max_uid: view.max_uid(),
            now_unix: self.now_unix,
            saved: uid_set(&self.saved),
        };
        // (number, UID, mod-sequence, flags) of every message still here.
        let targets: Vec<(u32, u32, u64, Vec<Flag>)> = view
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !view.pending_expunges.contains(&m.uid))
            .map(|(i, m)| (i as u32 + 1, m.uid, m.modseq, m.flags.clone()))
            .collect();
        // Keys on flags, numbers and UIDs are answered from the view; the
        // store is read only for dates, sizes and content.
        let fetch = keep || uses_record(&program.criteria);
        let unread = crate::datetime::DateTime::from_unix_seconds(0);
        let mut hits = Vec::new();
        for (seq, uid, modseq, flags) in targets {
            let record = if fetch {
                match store.fetch(self.user_name(), &name, uid) {
                    Ok(r) => Some(r),
                    Err(StoreError::NonExistent) => continue,
                    Err(e) => {
                        self.store_failed(tag.clone(), e);
                        return None;
                    }
                }
            } else {
                None
            };
            let message = match &record {
                Some(r) if content => Some(MessageView::new(r.raw.clone())),
                _ => None,
            };
            let (internal_date, size) = match &record {
                Some(r) => (r.internal_date, r.raw.len() as u64),
                // Not read by any key (see `uses_record`).
                None => match unread {
                    Some(d) => (d, 0),
                    None => continue,
                },
            };
            let candidate = Candidate {
                seq,
                uid,
                flags: &flags,
                recent: false,
                modseq,
                internal_date,
                size,
                message: message.as_ref(),
            };
            if matches(&program.criteria, &candidate, &env) {
                hits.push(Hit {
                    seq,
                    uid,
                    modseq,
                    record: if keep { record } else { None },
                    view: if keep { message } else { None },
                });
            }
        }
        Some(hits)
    }

    fn search(
        &mut self,
        store: &mut S,
        tag: Tag,
        uid: bool,
        returns: Option<Vec<SearchReturn>>,
        program: &SearchProgram,
    ) {
        let Some(hits) = self.matching(store, &tag, program, false) else {
            return;
        };
        let ids: Vec<u32> = hits
            .iter()
            .map(|h| if uid { h.uid } else { h.seq })
            .collect();
        let modseq = uses_modseq(&program.criteria)
            .then(|| hits.iter().map(|h| h.modseq).max())
            .flatten();
        let esearch = returns.is_some() || self.enabled.rev2;
        let mut returns = returns.unwrap_or_default();
        if returns.contains(&SearchReturn::Save) {
            self.saved = hits.iter().map(|h| h.uid).collect();
            if returns.len() == 1 {
                // SAVE alone: no ESEARCH response (RFC 5182 §2.4).
                self.catch_up(store, uid);
                self.ok(tag, None, "SEARCH completed");
                return;
            }
        }
        if esearch {
            if returns.iter().all(|r| *r == SearchReturn::Save) {
                returns.push(SearchReturn::All);
            }
            let mut items = Vec::new();
            for r in &returns {
                match r {
                    SearchReturn::Min => {
                        if let Some(m) = ids.iter().min() {
                            items.push(ESearchItem::Min(*m));
                        }
                    }
                    SearchReturn::Max => {
                        if let Some(m) = ids.iter().max() {
                            items.push(ESearchItem::Max(*m));
                        }
                    }
                    SearchReturn::All => {
                        let mut sorted = ids.clone();
                        sorted.sort_unstable();
                        if let Some(set) = uid_set(&sorted) {
                            items.push(ESearchItem::All(set));
                        }
                    }
                    SearchReturn::Count => items.push(ESearchItem::Count(ids.len() as u32)),
                    SearchReturn::Save => {}
                }
            }
            if let Some(m) = modseq
                && !ids.is_empty()
            {
                items.push(ESearchItem::ModSeq(m));
            }
            self.data(Data::ESearch {
                tag: Some(tag.clone()),
                uid,
                items,
            });
        } else {
            self.data(Data::Search { ids, modseq });
        }
        self.catch_up(store, uid);
        self.ok(tag, None, "SEARCH completed");
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        store: &mut S,
        tag: Tag,
        uid: bool,
        set: &SequenceSet,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        flags: &[Flag],
    ) {
        let Some(view) = &self.selected else {
            return;
        };
        if !uid && view.seq_set_out_of_range(set) {
            self.bad(Some(tag), "Invalid message number");
            return;
        }
        if view.read_only {
            self.no(tag, Some(Code::ReadOnly), "Mailbox is read-only");
            return;
        }
        if unchanged_since.is_some() {
            if !self.config.extensions.condstore {
                self.bad(Some(tag), "CONDSTORE is not supported");
                return;
            }
            self.enabled.condstore = true;
        }
        let name = view.name.clone();
        let targets: Vec<(u32, u32)> = view
            .resolve(set, uid, &self.saved)
            .into_iter()
            .filter(|(_, u)| !view.pending_expunges.contains(u))
            .collect();
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let change = match mode {
            StoreMode::Replace => FlagChange::Replace,
            StoreMode::Add => FlagChange::Add,
            StoreMode::Remove => FlagChange::Remove,
        };
        let flags: Vec<Flag> = flags
            .iter()
            .filter(|f| **f != Flag::Recent)
            .cloned()
            .collect();
        let result = match store.store_flags(
            self.user_name(),
            &name,
            &uids,
            change,
            &flags,
            unchanged_since,
        ) {
            Ok(r) => r,
            Err(e) => {
                self.store_failed(tag, e);
                return;
            }
        };
        for meta in &result.updated {
            let Some(view) = &mut self.selected else {
                return;
            };
            view.set_meta(meta);
            let Some(seq) = view.seq_of(meta.uid) else {
                continue;
            };
            if silent && unchanged_since.is_none() {
                continue;
            }
            let mut items = Vec::new();
            if uid {
                items.push(FetchData::Uid(meta.uid));
            }
            if !silent {
                items.push(FetchData::Flags(meta.flags.clone()));
            }
            if self.enabled.condstore {
                items.push(FetchData::ModSeq(meta.modseq));
            }
            self.data(Data::Fetch { seq, items });
        }
        self.catch_up(store, uid);
        let modified: Vec<u32> = if uid {
            result.modified.clone()
        } else {
            let view = self.selected.as_ref();
            let mut v: Vec<u32> = result
                .modified
                .iter()
                .filter_map(|u| view.and_then(|v| v.seq_of(*u)))
                .collect();
            v.sort_unstable();
            v
        };
        match uid_set(&modified) {
            Some(set) => self.ok(tag, Some(Code::Modified(set)), "Conditional STORE failed"),
            None => self.ok(tag, None, "STORE completed"),
        }
    }

    fn copy_or_move(
        &mut self,
        store: &mut S,
        tag: Tag,
        uid: bool,
        set: &SequenceSet,
        mailbox: &crate::mailbox::Mailbox,
        moving: bool,
    ) {
        let Some(dest) = self.store_name(&tag, mailbox) else {
            return;
        };
        let Some(view) = &self.selected else {
            return;
        };
        if !uid && view.seq_set_out_of_range(set) {
            self.bad(Some(tag), "Invalid message number");
            return;
        }
        if moving && view.read_only {
            self.no(tag, Some(Code::ReadOnly), "Mailbox is read-only");
            return;
        }
        let name = view.name.clone();
        let uids: Vec<u32> = view
            .resolve(set, uid, &self.saved)
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        let verb = if moving { "MOVE" } else { "COPY" };
        if uids.is_empty() {
            self.ok(tag, None, &format!("{verb} completed; no messages"));
            return;
        }
        let result = if moving {
            store.move_messages(self.user_name(), &name, &uids, &dest)
        } else {
            store.copy(self.user_name(), &name, &uids, &dest)
        };
        match result {
            Ok(copied) => {
                let src: Vec<u32> = copied.pairs.iter().map(|p| p.0).collect();
                let dst: Vec<u32> = copied.pairs.iter().map(|p| p.1).collect();
                let code = match (uid_set(&src), uid_set(&dst)) {
                    (Some(source), Some(dest)) => Some(Code::CopyUid {
                        uid_validity: copied.uid_validity,
                        source,
                        dest,
                    }),
                    _ => None,
                };
                if moving {
                    if let Some(code) = code {
                        self.untagged(crate::response::StatusKind::Ok, Some(code), "Moved");
                    }
                    self.announce_expunged(&src);
                    self.catch_up(store, true);
                    self.ok(tag, None, "MOVE completed");
                } else {
                    self.catch_up(store, uid);
                    self.ok(tag, code, "COPY completed");
                }
            }
            Err(StoreError::NonExistent) => self.no(
                tag,
                Some(Code::TryCreate),
                "Destination mailbox does not exist",
            ),
            Err(e) => self.store_failed(tag, e),
        }
    }
}

fn sort_items(hits: &[Hit], uid: bool) -> Vec<SortItem<'_>> {
    hits.iter()
        .filter_map(|h| {
            let record = h.record.as_ref()?;
            Some(SortItem {
                id: if uid { h.uid } else { h.seq },
                seq: h.seq,
                internal_date: record.internal_date,
                size: record.raw.len() as u64,
                message: h.view.as_ref()?,
            })
        })
        .collect()
}
