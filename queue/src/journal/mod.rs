//! The journal: a queue store in append-only segment files, where one
//! `fdatasync` makes a whole batch of enqueues, state changes and
//! completions durable on any filesystem.
//!
//! [`SpoolStore`](crate::SpoolStore) keeps one file per message, as Postfix
//! does: easy to inspect, but every new message is a new file, and each new
//! file's fsync is a journal commit of the filesystem's own, so group
//! commit saves directory fsyncs but not file fsyncs. [`JournalStore`]
//! appends records to the current segment (`<seq>.seg`, 16 hex digits) and
//! syncs it once per batch: a message (`M`: envelope header and data), a
//! state change (`S`), a completion (`D`). See the `record` module for the
//! format (each record framed with its length and a CRC-32).
//!
//! Segments roll over at [`JournalOptions::segment_size`]. A segment is
//! removed once nothing in it is needed (no queued message's data or latest
//! state, no deletion that must outlive an older segment); an old segment
//! that is at most half live data is cleaned by copying what it still holds
//! to the current one. Disk use stays within about twice the queue's size
//! plus a few segments.
//!
//! [`JournalStore::open`] replays the segments oldest first. Only the last
//! one can end in a torn write (a segment is synced before the next one is
//! started): its tail from the first bad frame on is cut off, and no caller
//! had heard "done" for it. A bad frame anywhere else is corruption: what
//! follows it in that segment is lost and reported.
//!
//! One store owns a journal directory at a time (an exclusive `flock` on
//! `<dir>/lock`, as for the spool).

mod record;
mod tracker;
mod writer;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::codec;
use crate::engine::{Core, Data, Durable, Engine, Entry};
use crate::error::{CorruptError, MisuseError, QueueError, StorageError};
use crate::id::QueueId;
use crate::spool::committer::sync_dir;
use crate::spool::{LOCK_FILE, lock_spool};
use crate::state::MessageState;
use record::{Bad, Record};
use tracker::{Loc, Tracker};
use writer::{Index, SharedIndex, Start, Writer, segment_path};

/// Tuning of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Size at which a segment is closed and a new one started (default
    /// 64 MiB). A record larger than this gets a segment of its own.
    pub segment_size: u64,
    /// The most writes committed in one batch (default 1024).
    pub max_batch: usize,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            segment_size: 64 << 20,
            max_batch: 1024,
        }
    }
}

/// A part of a segment that could not be read on opening.
#[derive(Debug)]
pub struct DamagedSegment {
    /// The segment file.
    pub path: PathBuf,
    /// Where the unreadable part starts.
    pub offset: u64,
    /// Its length: the rest of the file.
    pub len: u64,
    /// What is wrong.
    pub reason: String,
    /// True for the last segment's tail, which was cut off: a write torn by
    /// a crash, never acknowledged. False for damage inside the journal,
    /// which is left in place and reported at every opening.
    pub cut: bool,
}

/// What [`JournalStore::open`] found.
#[derive(Debug, Default)]
pub struct JournalRecovery {
    /// Messages in the queue.
    pub messages: usize,
    /// Segment files read.
    pub segments: usize,
    /// Records replayed.
    pub records: u64,
    /// Unreadable parts: a torn tail, or damage.
    pub damaged: Vec<DamagedSegment>,
    /// Records that were intact but could not be used (a message header or
    /// state that does not parse, a size that does not match): the
    /// message is left out, or, for a state, starts over from its initial
    /// state.
    pub bad_records: Vec<CorruptError>,
    /// Files that are not the journal's, left alone.
    pub unknown_files: Vec<PathBuf>,
}

impl JournalRecovery {
    /// True if everything read back whole (a cut torn tail included: that
    /// is what a crash leaves).
    pub fn is_clean(&self) -> bool {
        self.damaged.iter().all(|d| d.cut)
            && self.bad_records.is_empty()
            && self.unknown_files.is_empty()
    }
}

/// The writer thread's counters so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Batches committed: each is one `fdatasync`.
    pub batches: u64,
    /// Records submitted.
    pub records: u64,
    /// `fdatasync` calls (batches, and segments closed).
    pub syncs: u64,
    /// Directory fsyncs (segments created or removed).
    pub dir_syncs: u64,
    /// Segments removed.
    pub segments_removed: u64,
    /// Bytes copied forward by cleaning.
    pub bytes_copied: u64,
}

/// The journal behind a [`JournalStore`]: its directory, writer and index.
#[derive(Debug)]
pub(crate) struct Journal {
    pub dir: PathBuf,
    pub writer: Writer,
    pub index: Arc<SharedIndex>,
    /// Dropped last, after the writer has finished.
    pub _lock: File,
}

impl Journal {
    /// Reads a queued message's data.
    pub(crate) fn read_data(&self, id: QueueId, size: u64) -> Result<Bytes, QueueError> {
        let (file, path, offset) = {
            let index = self.index.lock();
            let &(seg, offset) = index.get(&id).ok_or(MisuseError::UnknownMessage(id))?;
            let path = segment_path(&self.dir, seg);
            let file = File::open(&path).map_err(|e| StorageError::io("open", &path, e))?;
            (file, path, offset)
        };
        let len = usize::try_from(size)
            .map_err(|_| StorageError::io("read", &path, io::Error::other("too large")))?;
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| StorageError::io("read", &path, e))?;
        Ok(Bytes::from(buf))
    }
}

/// A [`QueueStore`](crate::QueueStore) in append-only segment files with
/// one `fdatasync` per batch. See the [module docs](self).
#[derive(Debug)]
pub struct JournalStore {
    engine: Engine,
    journal: Arc<Journal>,
}

crate::store::delegate_store!(JournalStore);

impl JournalStore {
    /// Opens (creating it if needed) the journal in `dir`, replays it, and
    /// starts the writer thread. Damage is reported, never fatal; only a
    /// directory that cannot be read or written is an error, or one that
    /// another store has open ([`StorageError::Locked`]).
    pub fn open(
        dir: impl AsRef<Path>,
        options: JournalOptions,
    ) -> Result<(Self, JournalRecovery), QueueError> {
        if options.max_batch == 0 || options.segment_size < 4096 {
            return Err(MisuseError::InvalidConfig(
                "max_batch must be at least 1 and segment_size at least 4096",
            )
            .into());
        }
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io("create directory", &dir, e))?;
        let lock = lock_spool(&dir)?;
        let replayed = replay(&dir)?;
        let index = Arc::new(SharedIndex::new(replayed.index));
        let writer = Writer::start(Start {
            dir: dir.clone(),
            segment_size: options.segment_size,
            max_batch: options.max_batch,
            tracker: replayed.tracker,
            index: Arc::clone(&index),
            current: replayed.current,
        })?;
        let journal = Arc::new(Journal {
            dir,
            writer,
            index,
            _lock: lock,
        });
        let engine = Engine::new(replayed.core, Some(Durable::Journal(Arc::clone(&journal))));
        Ok((JournalStore { engine, journal }, replayed.report))
    }

    /// The journal directory.
    pub fn path(&self) -> &Path {
        &self.journal.dir
    }

    /// The writer thread's counters so far.
    pub fn stats(&self) -> JournalStats {
        let c = &self.journal.writer.counters;
        JournalStats {
            batches: c.batches.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            dir_syncs: c.dir_syncs.load(Ordering::Relaxed),
            segments_removed: c.segments_removed.load(Ordering::Relaxed),
            bytes_copied: c.bytes_copied.load(Ordering::Relaxed),
        }
    }
}

struct Replayed {
    core: Core,
    tracker: Tracker,
    index: Index,
    current: (u64, u64),
    report: JournalRecovery,
}

fn bad(path: &Path, offset: u64, reason: impl Into<String>) -> CorruptError {
    CorruptError::BadFile {
        path: path.to_owned(),
        line: 0,
        reason: format!("record at offset {offset}: {}", reason.into()),
    }
}

/// Applies one intact record to the queue being rebuilt.
#[allow(clippy::too_many_arguments)]
fn apply(
    rec: Record<'_>,
    loc: Loc,
    path: &Path,
    core: &mut Core,
    tracker: &mut Tracker,
    index: &mut Index,
    report: &mut JournalRecovery,
) {
    match rec {
        Record::Message {
            id,
            header,
            state,
            data_offset,
            data_len,
        } => {
            let header = match std::str::from_utf8(header)
                .map_err(|_| bad(path, loc.offset, "message header is not UTF-8"))
                .and_then(|t| {
                    codec::decode_message_header(t).map_err(|e| bad(path, loc.offset, describe(&e)))
                }) {
                Ok(h) if h.id != id => {
                    report.bad_records.push(bad(
                        path,
                        loc.offset,
                        "message header names another ID",
                    ));
                    return;
                }
                Ok(h) if h.size != data_len => {
                    report.bad_records.push(bad(
                        path,
                        loc.offset,
                        format!("{data_len} bytes of data, the header says {}", h.size),
                    ));
                    return;
                }
                Ok(h) => h,
                Err(e) => {
                    report.bad_records.push(e);
                    return;
                }
            };
            let fresh = MessageState::fresh(&header.envelope, header.queued);
            let state = if state.is_empty() {
                fresh
            } else {
                match decode_state(state, id, header.envelope.recipients.len()) {
                    Ok(s) => s,
                    Err(reason) => {
                        report.bad_records.push(bad(path, loc.offset, reason));
                        fresh
                    }
                }
            };
            core.ids.observe(id);
            core.entries.insert(
                id,
                Entry {
                    envelope: Arc::new(header.envelope),
                    queued: header.queued,
                    size: header.size,
                    state,
                    lease: None,
                    data: Data::Journal,
                },
            );
            tracker.message(id, loc);
            index.insert(id, (loc.seg, loc.offset + data_offset));
        }
        Record::State { id, text } => {
            let Some(entry) = core.entries.get_mut(&id) else {
                return;
            };
            match decode_state(text, id, entry.envelope.recipients.len()) {
                Ok(s) => {
                    entry.state = s;
                    tracker.state(id, loc);
                }
                Err(reason) => report.bad_records.push(bad(path, loc.offset, reason)),
            }
        }
        Record::Delete { id } => {
            core.entries.remove(&id);
            index.remove(&id);
            tracker.delete(id, loc.seg);
        }
    }
}

fn describe(e: &codec::DecodeError) -> String {
    format!("line {}: {}", e.line, e.reason)
}

fn decode_state(text: &[u8], id: QueueId, recipients: usize) -> Result<MessageState, String> {
    let text = std::str::from_utf8(text).map_err(|_| "state is not UTF-8".to_owned())?;
    let (got, state) = codec::decode_state(text).map_err(|e| describe(&e))?;
    if got != id {
        return Err("state names another ID".into());
    }
    if state.recipients.len() != recipients {
        return Err(format!(
            "state has {} recipients, the envelope {recipients}",
            state.recipients.len()
        ));
    }
    Ok(state)
}

/// Replays every segment, oldest first; cuts a torn tail off the last.
fn replay(dir: &Path) -> Result<Replayed, StorageError> {
    let mut report = JournalRecovery::default();
    let mut segments = BTreeMap::new();
    let listing = fs::read_dir(dir).map_err(|e| StorageError::io("read directory", dir, e))?;
    for item in listing {
        let item = item.map_err(|e| StorageError::io("read directory", dir, e))?;
        let path = item.path();
        let name = item.file_name();
        let name = name.to_str().unwrap_or("");
        if name == LOCK_FILE {
            continue;
        }
        let seq = name
            .strip_suffix(".seg")
            .filter(|s| s.len() == 16)
            .and_then(|s| u64::from_str_radix(s, 16).ok());
        match seq {
            Some(seq) => {
                segments.insert(seq, path);
            }
            None => report.unknown_files.push(path),
        }
    }

    let mut core = Core::default();
    let mut tracker = Tracker::default();
    let mut index = Index::new();
    let last = segments.keys().next_back().copied();
    let mut current = (last.unwrap_or(1), 0);
    for (&seq, path) in &segments {
        let mut buf = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| StorageError::io("read", path, e))?;
        report.segments += 1;
        let mut offset = 0usize;
        while offset < buf.len() {
            match record::read(&buf[offset..]) {
                Ok((rec, used)) => {
                    let loc = Loc {
                        seg: seq,
                        offset: offset as u64,
                        len: used as u64,
                    };
                    tracker.appended(loc);
                    report.records += 1;
                    apply(
                        rec,
                        loc,
                        path,
                        &mut core,
                        &mut tracker,
                        &mut index,
                        &mut report,
                    );
                    offset += used;
                }
                Err(why) => {
                    let reason = match why {
                        Bad::Truncated => "incomplete record".to_owned(),
                        Bad::Invalid(r) => r.to_owned(),
                    };
                    let cut = Some(seq) == last;
                    report.damaged.push(DamagedSegment {
                        path: path.clone(),
                        offset: offset as u64,
                        len: (buf.len() - offset) as u64,
                        reason,
                        cut,
                    });
                    if cut {
                        OpenOptions::new()
                            .write(true)
                            .open(path)
                            .and_then(|f| {
                                f.set_len(offset as u64)?;
                                f.sync_all()
                            })
                            .map_err(|e| StorageError::io("truncate", path, e))?;
                    }
                    break;
                }
            }
        }
        // Even an empty segment is one (the writer may append to it).
        tracker.appended(Loc {
            seg: seq,
            offset: 0,
            len: 0,
        });
        if Some(seq) == last {
            current = (seq, offset as u64);
        }
    }
    if last.is_none() {
        let path = segment_path(dir, current.0);
        File::create(&path).map_err(|e| StorageError::io("create", &path, e))?;
        sync_dir(dir)?;
        tracker.appended(Loc {
            seg: current.0,
            offset: 0,
            len: 0,
        });
    }
    report.messages = core.entries.len();
    Ok(Replayed {
        core,
        tracker,
        index,
        current,
        report,
    })
}

/// Room in a record body for the kind, ID, lengths and the state a copy
/// carries, besides the header and the data.
const RECORD_OVERHEAD: u64 = 64 << 10;

/// Checks an enqueue (its header and data) fits in one record.
pub(crate) fn check_size(header: &str, data: &Bytes) -> Result<(), QueueError> {
    fits(
        header.len() as u64,
        data.len() as u64,
        record::MAX_BODY as u64,
    )
}

fn fits(header: u64, data: u64, max_body: u64) -> Result<(), QueueError> {
    let limit = max_body.saturating_sub(header + RECORD_OVERHEAD);
    if data > limit {
        return Err(MisuseError::MessageTooLarge { size: data, limit }.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_fit_in_one_record() {
        let max = 1 << 20;
        let limit = max - 300 - RECORD_OVERHEAD;
        assert!(fits(300, limit, max).is_ok());
        match fits(300, limit + 1, max) {
            Err(QueueError::Misuse(MisuseError::MessageTooLarge { size, limit: l })) => {
                assert_eq!((size, l), (limit + 1, limit));
            }
            other => panic!("{other:?}"),
        }
        // The real limit is well above what an SMTP server accepts.
        assert!(check_size("h", &Bytes::from(vec![0; 1 << 20])).is_ok());
    }
}
