//! What every segment still holds that matters: the bookkeeping that tells
//! which segments can be removed and which are worth cleaning.
//!
//! A segment is needed while it holds
//!
//! - the current `M` record (envelope and data) of a queued message;
//! - the latest `S` record of a queued message;
//! - a `D` record that must outlive an `M` record of the same message in
//!   another segment: if the `D` went first, replaying the other segment
//!   would bring the message back (a "tombstone").
//!
//! Each of those is one reference; a segment with none (other than the one
//! being appended to) can be removed. Replaying whatever segments exist,
//! oldest first, then always gives the queue as it was.

use std::collections::{BTreeMap, HashMap};

use crate::id::QueueId;

/// A record's place: segment, offset of its frame, whole length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub seg: u64,
    pub offset: u64,
    pub len: u64,
}

/// A queued message's records.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    /// Its current `M` record.
    pub message: Loc,
    /// Its latest `S` record, if one came after the `M` record.
    pub state: Option<Loc>,
    /// Older segments that may still hold an `M` record of it (after a
    /// crash interrupted the removal of a cleaned segment).
    pub stale: Vec<u64>,
}

/// A `D` record in `holder` that must stay while segment `guards` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tomb {
    pub id: QueueId,
    pub holder: u64,
    pub guards: u64,
}

/// One segment's bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SegInfo {
    /// Bytes written.
    pub len: u64,
    /// Bytes of `M` records of queued messages.
    pub live: u64,
    /// References (see the module docs).
    pub refs: usize,
}

/// What a segment holds that must be written again before it can go.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// Messages whose current `M` record is there.
    pub messages: Vec<(QueueId, Tracked)>,
    /// Latest states there of messages whose `M` record is elsewhere.
    pub states: Vec<(QueueId, Loc)>,
    /// Tombstones there.
    pub tombs: Vec<Tomb>,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub segments: BTreeMap<u64, SegInfo>,
    pub messages: HashMap<QueueId, Tracked>,
    pub tombs: Vec<Tomb>,
}

impl Tracker {
    fn seg(&mut self, seg: u64) -> &mut SegInfo {
        self.segments.entry(seg).or_default()
    }

    fn unref(&mut self, seg: u64, live: u64) {
        if let Some(s) = self.segments.get_mut(&seg) {
            s.refs = s.refs.saturating_sub(1);
            s.live = s.live.saturating_sub(live);
        }
    }

    /// A record was appended at `loc` (whatever its kind).
    pub(crate) fn appended(&mut self, loc: Loc) {
        let s = self.seg(loc.seg);
        s.len = s.len.max(loc.offset + loc.len);
    }

    /// An `M` record of `id` at `loc`: a new message, or a copy of a queued
    /// one (whose old records stop counting; the copy carries its state).
    pub(crate) fn message(&mut self, id: QueueId, loc: Loc) {
        let s = self.seg(loc.seg);
        s.refs += 1;
        s.live += loc.len;
        let mut tracked = Tracked {
            message: loc,
            state: None,
            stale: Vec::new(),
        };
        if let Some(old) = self.messages.remove(&id) {
            self.unref(old.message.seg, old.message.len);
            if let Some(state) = old.state {
                self.unref(state.seg, 0);
            }
            tracked.stale = old.stale;
            if old.message.seg != loc.seg {
                tracked.stale.push(old.message.seg);
            }
        }
        self.messages.insert(id, tracked);
    }

    /// An `S` record of `id` at `loc`. Returns false if `id` is not queued
    /// (the record is then of no account).
    pub(crate) fn state(&mut self, id: QueueId, loc: Loc) -> bool {
        let Some(t) = self.messages.get_mut(&id) else {
            return false;
        };
        let old = t.state.replace(loc);
        self.seg(loc.seg).refs += 1;
        if let Some(old) = old {
            self.unref(old.seg, 0);
        }
        true
    }

    /// A `D` record of `id` in segment `seg`.
    pub(crate) fn delete(&mut self, id: QueueId, seg: u64) {
        let Some(t) = self.messages.remove(&id) else {
            return;
        };
        self.unref(t.message.seg, t.message.len);
        if let Some(state) = t.state {
            self.unref(state.seg, 0);
        }
        let mut guards = t.stale;
        guards.push(t.message.seg);
        guards.sort_unstable();
        guards.dedup();
        for g in guards {
            if g != seg && self.segments.contains_key(&g) {
                self.tombs.push(Tomb {
                    id,
                    holder: seg,
                    guards: g,
                });
                self.seg(seg).refs += 1;
            }
        }
    }

    /// A `D` record that was in `tomb.holder` was written again in `seg`.
    pub(crate) fn move_tomb(&mut self, tomb: Tomb, seg: u64) {
        if let Some(t) = self.tombs.iter_mut().find(|t| **t == tomb) {
            t.holder = seg;
            self.unref(tomb.holder, 0);
            self.seg(seg).refs += 1;
        }
    }

    /// Forgets removed segments: the tombstones that guarded against them
    /// are no longer needed.
    pub(crate) fn removed(&mut self, segs: &[u64]) {
        for seg in segs {
            self.segments.remove(seg);
        }
        let mut released = Vec::new();
        self.tombs.retain(|t| {
            let keep = !segs.contains(&t.guards);
            if !keep {
                released.push(t.holder);
            }
            keep
        });
        for holder in released {
            self.unref(holder, 0);
        }
    }

    /// Segments other than `current` with no references.
    pub(crate) fn dead(&self, current: u64) -> Vec<u64> {
        self.segments
            .iter()
            .filter(|(seq, s)| **seq != current && s.refs == 0)
            .map(|(seq, _)| *seq)
            .collect()
    }

    /// A segment worth cleaning: at least two segments older than
    /// `current`, still referenced, and at most half of it live data (so a
    /// copy costs at most half a segment and the journal stays within about
    /// twice the queue's size).
    pub(crate) fn to_clean(&self, current: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|(seq, s)| **seq + 2 <= current && s.refs > 0 && s.live * 2 <= s.len)
            .map(|(seq, _)| *seq)
    }

    /// What segment `seg` holds that must be written again elsewhere
    /// before it can go.
    pub(crate) fn held_by(&self, seg: u64) -> Held {
        let mut messages = Vec::new();
        let mut states = Vec::new();
        for (id, t) in &self.messages {
            if t.message.seg == seg {
                messages.push((*id, t.clone()));
            } else if let Some(s) = t.state.filter(|s| s.seg == seg) {
                states.push((*id, s));
            }
        }
        messages.sort_by_key(|(id, _)| *id);
        states.sort_by_key(|(id, _)| *id);
        let tombs = self
            .tombs
            .iter()
            .copied()
            .filter(|t| t.holder == seg)
            .collect();
        Held {
            messages,
            states,
            tombs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn id(n: u64) -> QueueId {
        QueueId::from_parts(Timestamp::from_unix_millis(n), 0)
    }

    fn loc(seg: u64, offset: u64) -> Loc {
        Loc {
            seg,
            offset,
            len: 10,
        }
    }

    #[test]
    fn references_follow_messages_states_and_tombstones() {
        let mut t = Tracker::default();
        for (seg, off) in [(1, 0), (1, 10), (2, 0), (3, 0)] {
            t.appended(loc(seg, off));
        }
        t.message(id(1), loc(1, 0));
        t.message(id(2), loc(1, 10));
        assert_eq!(t.segments[&1].refs, 2);
        // A state in segment 2, then a newer one in 3: only the newer counts.
        assert!(t.state(id(1), loc(2, 0)));
        assert!(t.state(id(1), loc(3, 0)));
        assert_eq!((t.segments[&2].refs, t.segments[&3].refs), (0, 1));
        assert_eq!(t.dead(3), [2]);
        // Deleting message 2 in segment 3 leaves a tombstone there that
        // guards against segment 1.
        t.delete(id(2), 3);
        assert_eq!(t.segments[&1].refs, 1);
        assert_eq!(t.segments[&3].refs, 2);
        t.delete(id(1), 3);
        assert_eq!(t.segments[&1].refs, 0);
        assert_eq!(t.dead(3), [1, 2]);
        t.removed(&[1, 2]);
        // Segment 1 is gone: the tombstones are no longer needed.
        assert_eq!(t.segments[&3].refs, 0);
        assert!(t.tombs.is_empty());
        // A state for a message that is gone counts for nothing.
        assert!(!t.state(id(1), loc(3, 0)));
    }

    #[test]
    fn a_copy_moves_the_references_and_remembers_the_old_segment() {
        let mut t = Tracker::default();
        t.appended(loc(1, 0));
        t.appended(loc(4, 0));
        t.message(id(1), loc(1, 0));
        t.state(id(1), loc(1, 0));
        t.message(id(1), loc(4, 0));
        assert_eq!(t.segments[&1].refs, 0);
        assert_eq!(t.messages[&id(1)].stale, [1]);
        // If segment 1 was not removed, a delete must guard against it.
        t.delete(id(1), 4);
        assert_eq!(t.tombs.len(), 1);
        assert_eq!(t.tombs[0].guards, 1);
    }
}
