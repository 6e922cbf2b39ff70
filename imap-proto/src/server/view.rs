//! The selected mailbox as one session sees it: message numbers mapped to
//! UIDs, each message's last-reported flags and mod-sequence, and the
//! expunges that other sessions made but that this session may not
//! announce yet (RFC 9051 §7.4.1: never during FETCH, STORE or SEARCH by
//! message number).

use std::collections::BTreeSet;

use super::store::{Changes, MailboxSnapshot, MessageMeta};
use crate::sequence::SequenceSet;

/// The session's view of the selected mailbox.
#[derive(Debug, Clone)]
pub(crate) struct View {
    /// The store name.
    pub name: String,
    /// EXAMINE, or the store refuses changes.
    pub read_only: bool,
    pub uid_validity: u32,
    pub uid_next: u32,
    /// The highest mod-sequence this session has caught up with.
    pub highest_modseq: u64,
    /// Message `n` is `messages[n - 1]`; UIDs ascend.
    pub messages: Vec<MessageMeta>,
    /// UIDs expunged elsewhere, still numbered here until announced.
    pub pending_expunges: BTreeSet<u32>,
}

/// What a catch-up found, to be reported to the client.
#[derive(Debug, Default)]
pub(crate) struct Update {
    /// Message numbers to announce as EXPUNGE, each valid at its turn.
    pub expunged_seqs: Vec<u32>,
    /// UIDs expunged (for VANISHED).
    pub expunged_uids: Vec<u32>,
    /// The new EXISTS count, when it changed (or after expunges).
    pub exists: Option<u32>,
    /// Messages whose flags changed: (message number, meta).
    pub flag_changes: Vec<(u32, MessageMeta)>,
    /// The mailbox was recreated under the session's feet.
    pub validity_changed: bool,
}

impl View {
    pub fn new(name: String, read_only: bool, snapshot: MailboxSnapshot) -> Self {
        Self {
            name,
            read_only: read_only || !snapshot.writable,
            uid_validity: snapshot.uid_validity,
            uid_next: snapshot.uid_next,
            highest_modseq: snapshot.highest_modseq,
            messages: snapshot.messages,
            pending_expunges: BTreeSet::new(),
        }
    }

    pub fn exists(&self) -> u32 {
        self.messages.len() as u32
    }

    pub fn max_uid(&self) -> u32 {
        self.messages.last().map_or(0, |m| m.uid)
    }

    /// The message number of a UID.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.messages
            .binary_search_by_key(&uid, |m| m.uid)
            .ok()
            .map(|i| i as u32 + 1)
    }

    pub fn meta(&self, seq: u32) -> Option<&MessageMeta> {
        self.messages.get((seq as usize).checked_sub(1)?)
    }

    /// Records a message's new state (after this session's STORE).
    pub fn set_meta(&mut self, meta: &MessageMeta) {
        if let Ok(i) = self.messages.binary_search_by_key(&meta.uid, |m| m.uid) {
            self.messages[i] = meta.clone();
        }
    }

    /// Messages in a set of message numbers or UIDs, as (number, UID)
    /// pairs in ascending order. `saved` resolves `$` (as UIDs).
    pub fn resolve(&self, set: &SequenceSet, uid: bool, saved: &[u32]) -> Vec<(u32, u32)> {
        if matches!(set, SequenceSet::Saved) {
            return saved
                .iter()
                .filter_map(|u| self.seq_of(*u).map(|s| (s, *u)))
                .collect();
        }
        let largest = if uid { self.max_uid() } else { self.exists() };
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| (i as u32 + 1, m.uid))
            .filter(|(s, u)| set.contains(if uid { *u } else { *s }, largest))
            .collect()
    }

    /// Whether a message-number set names a message that does not exist
    /// (a BAD for FETCH/STORE/COPY by number, RFC 9051 §9 seq-number).
    pub fn seq_set_out_of_range(&self, set: &SequenceSet) -> bool {
        let SequenceSet::Items(items) = set else {
            return false;
        };
        let n = self.exists();
        items.iter().any(|item| {
            let ends = match *item {
                crate::sequence::SeqItem::Single(a) => [a, a],
                crate::sequence::SeqItem::Range(a, b) => [a, b],
            };
            ends.iter().any(|e| match e {
                crate::sequence::SeqNumber::Value(v) => v.get() > n,
                crate::sequence::SeqNumber::Largest => n == 0,
            })
        })
    }

    /// Removes a UID and returns the message number it had.
    pub fn remove_uid(&mut self, uid: u32) -> Option<u32> {
        let i = self.messages.binary_search_by_key(&uid, |m| m.uid).ok()?;
        self.messages.remove(i);
        self.pending_expunges.remove(&uid);
        Some(i as u32 + 1)
    }

    /// Applies what changed in the store. Expunges are applied only when
    /// `allow_expunge`; otherwise they wait in `pending_expunges`.
    pub fn apply(&mut self, changes: Changes, allow_expunge: bool) -> Update {
        let mut update = Update::default();
        if changes.uid_validity != self.uid_validity {
            update.validity_changed = true;
            return update;
        }
        for uid in changes.expunged {
            if self.seq_of(uid).is_some() {
                self.pending_expunges.insert(uid);
            }
        }
        if allow_expunge {
            let doomed: Vec<u32> = self.pending_expunges.iter().copied().collect();
            for uid in doomed {
                if let Some(seq) = self.remove_uid(uid) {
                    update.expunged_seqs.push(seq);
                    update.expunged_uids.push(uid);
                }
            }
        }
        let before = self.exists();
        for meta in changes.changed {
            match self.messages.binary_search_by_key(&meta.uid, |m| m.uid) {
                Ok(i) => {
                    if self.messages[i].modseq != meta.modseq
                        || self.messages[i].flags != meta.flags
                    {
                        let changed_flags = self.messages[i].flags != meta.flags;
                        self.messages[i] = meta.clone();
                        if changed_flags && !self.pending_expunges.contains(&meta.uid) {
                            update.flag_changes.push((i as u32 + 1, meta));
                        }
                    }
                }
                Err(i) if i == self.messages.len() && meta.uid >= self.uid_next_seen() => {
                    self.messages.push(meta);
                }
                // An older UID we never knew: it was added and expunged
                // between two catch-ups, or is below the view; ignore.
                Err(_) => {}
            }
        }
        if self.exists() != before || !update.expunged_seqs.is_empty() {
            update.exists = Some(self.exists());
        }
        self.uid_next = self.uid_next.max(changes.uid_next);
        self.highest_modseq = self.highest_modseq.max(changes.highest_modseq);
        update
    }

    fn uid_next_seen(&self) -> u32 {
        self.messages.last().map_or(1, |m| m.uid + 1)
    }
}
