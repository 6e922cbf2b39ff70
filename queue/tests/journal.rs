//! `JournalStore`: replay after a restart, torn tails cut at every offset,
//! group commit, removal and cleaning of segments, tombstones, damage,
//! the directory lock, and a model test against `MemoryStore` with
//! restarts at random points.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{T0, TempDir, at, request};
use postel_queue::{
    Deferral, Envelope, JournalOptions, JournalRecovery, JournalStore, MemoryStore, MessageState,
    Outcome, QueueError, QueueStore, Recipient, RecipientOutcome, RecipientStatus, StorageError,
    Timestamp,
};
use proptest::prelude::*;

fn options(segment_size: u64) -> JournalOptions {
    JournalOptions {
        segment_size,
        ..JournalOptions::default()
    }
}

fn open(dir: &Path, segment_size: u64) -> (JournalStore, JournalRecovery) {
    JournalStore::open(dir, options(segment_size)).unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn delivered(index: usize) -> RecipientOutcome {
    RecipientOutcome {
        index,
        outcome: Outcome::Delivered {
            reply: "250 2.0.0 ok".into(),
        },
    }
}

/// Everything a store keeps about each message, by sender (the tests give
/// each message its own), without IDs (a restarted store may number new
/// messages differently from a store that never restarted).
type Snapshot = Vec<(String, Envelope, Timestamp, u64, MessageState, Bytes)>;

async fn snapshot(s: &impl QueueStore, now: Timestamp) -> Snapshot {
    let mut v = Vec::new();
    for m in s.list(now).await.unwrap() {
        let data = s.read_data(m.id).await.unwrap();
        v.push((
            m.envelope.sender.clone(),
            (*m.envelope).clone(),
            m.queued,
            m.size,
            m.state,
            data,
        ));
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn message(sender: &str, rcpts: usize, size: usize, now: Timestamp) -> (Envelope, Bytes) {
    let env = Envelope::new(
        sender,
        (0..rcpts).map(|i| Recipient::new(format!("r{i}@x.example"))),
        now,
    );
    let mut data = format!("From: {sender}\r\n\r\n").into_bytes();
    data.extend((0..size).map(|i| b'a' + (i % 26) as u8));
    (env, Bytes::from(data))
}

#[tokio::test]
async fn reopening_replays_every_message_and_state() {
    let dir = TempDir::new("journal-reopen");
    let (s, report) = open(dir.path(), 64 << 20);
    assert!(report.is_clean() && report.messages == 0);
    let mut ids = Vec::new();
    for i in 0..5u64 {
        let (env, data) = message(&format!("s{i}@o.example"), 2, i as usize * 300, at(i));
        ids.push(s.enqueue(env, data, at(i)).await.unwrap());
    }
    let leases = s.lease(request(5, 60), at(10)).await.unwrap();
    let l0 = leases.iter().find(|l| l.id == ids[0]).unwrap();
    s.record(l0, &[delivered(0)], at(11)).await.unwrap();
    s.defer(
        l0,
        Deferral {
            next_attempt: at(900),
            delay_warning_sent: true,
        },
        at(11),
    )
    .await
    .unwrap();
    s.hold(ids[1]).await.unwrap();
    s.delete(ids[2]).await.unwrap();
    let l3 = leases.iter().find(|l| l.id == ids[3]).unwrap();
    assert_eq!(
        s.complete(l3, &[delivered(0), delivered(1)], at(12))
            .await
            .unwrap(),
        0
    );
    let before = snapshot(&s, at(13)).await;
    assert_eq!(before.len(), 3);
    drop(s);

    let (s, report) = open(dir.path(), 64 << 20);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.messages, 3);
    assert_eq!(snapshot(&s, at(13)).await, before);
    let info = s.inspect(ids[0], at(13)).await.unwrap();
    assert_eq!(info.state.recipients[0].status, RecipientStatus::Delivered);
    assert_eq!((info.state.attempts, info.state.next_attempt), (1, at(900)));
    // New IDs sort after the replayed ones even if the clock went back.
    let (env, data) = message("late@o.example", 1, 0, T0);
    assert!(s.enqueue(env, data, T0).await.unwrap() > ids[4]);
}

/// A crash while a batch is being written leaves the last segment ending
/// anywhere inside its records; none of them was acknowledged. Opening
/// cuts the tail off at the last whole record, keeps everything before,
/// and the journal goes on from there.
#[tokio::test]
async fn a_torn_tail_is_cut_at_every_offset() {
    let dir = TempDir::new("journal-torn");
    let (s, _) = open(dir.path(), 64 << 20);
    for i in 0..3 {
        let (env, data) = message(&format!("s{i}@o.example"), 1, 50, at(i));
        s.enqueue(env, data, at(i)).await.unwrap();
    }
    let seg = segments(dir.path()).pop().unwrap();
    let acknowledged = fs::metadata(&seg).unwrap().len();
    let (env, data) = message("s3@o.example", 2, 120, at(3));
    s.enqueue(env, data, at(3)).await.unwrap();
    drop(s);
    let whole = fs::read(&seg).unwrap();
    assert!(whole.len() as u64 > acknowledged);

    let name = seg.file_name().unwrap().to_owned();
    let mut tails: Vec<Vec<u8>> = (acknowledged as usize..=whole.len())
        .map(|cut| whole[..cut].to_vec())
        .collect();
    // Garbage after a whole record: zeros (an extended file whose blocks
    // never got written) and noise.
    tails.push([&whole[..], &[0u8; 100][..]].concat());
    tails.push([&whole[..], b"\x10\x00\x00\x00garbage that is not a record"].concat());
    for bytes in tails {
        let copy = TempDir::new("journal-torn-copy");
        fs::write(copy.path().join(&name), &bytes).unwrap();
        let complete = bytes.len() >= whole.len();
        let (s, report) = open(copy.path(), 64 << 20);
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.messages, if complete { 4 } else { 3 });
        let cut = bytes.len() != acknowledged as usize && bytes.len() != whole.len();
        assert_eq!(report.damaged.len(), usize::from(cut), "{report:?}");
        let kept = fs::metadata(copy.path().join(&name)).unwrap().len();
        assert_eq!(
            kept,
            if complete {
                whole.len() as u64
            } else {
                acknowledged
            }
        );
        // Writing goes on after the cut, and reads back whole.
        let (env, data) = message("after@o.example", 1, 10, at(9));
        s.enqueue(env, data.clone(), at(9)).await.unwrap();
        let before = snapshot(&s, at(10)).await;
        drop(s);
        let (s, report) = open(copy.path(), 64 << 20);
        assert!(report.is_clean() && report.damaged.is_empty(), "{report:?}");
        assert_eq!(snapshot(&s, at(10)).await, before);
    }
}

/// 64 concurrent producers: every enqueue is durable when it returns, and
/// they share `fdatasync`s (one per batch, fewer batches than messages).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_one_fdatasync_per_batch() {
    let dir = TempDir::new("journal-group");
    let (s, _) = open(dir.path(), 64 << 20);
    let s = Arc::new(s);
    let start = Arc::new(tokio::sync::Barrier::new(64));
    let mut producers = tokio::task::JoinSet::new();
    for i in 0..64u64 {
        let s = Arc::clone(&s);
        let start = Arc::clone(&start);
        producers.spawn(async move {
            start.wait().await;
            let (env, data) = message(&format!("s{i:02}@o.example"), 1, 2000, at(i));
            s.enqueue(env, data, at(i)).await.unwrap()
        });
    }
    let mut ids = Vec::new();
    while let Some(id) = producers.join_next().await {
        ids.push(id.unwrap());
    }
    let stats = s.stats();
    eprintln!("64 concurrent enqueues: {stats:?}");
    assert_eq!(stats.records, 64);
    assert!(stats.batches < 64, "{stats:?}");
    assert_eq!(stats.syncs, stats.batches, "{stats:?}");
    drop(s);
    let (s, report) = open(dir.path(), 64 << 20);
    assert!(report.is_clean());
    ids.sort();
    let listed: Vec<_> = s.list(T0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(listed, ids);
}

/// Segments whose messages are all done are removed: a long run through
/// small segments leaves a few files, and an empty queue after a restart.
#[tokio::test]
async fn finished_segments_are_removed() {
    let dir = TempDir::new("journal-remove");
    let (s, _) = open(dir.path(), 4096);
    for i in 0..200u64 {
        let (env, data) = message(&format!("s{i:03}@o.example"), 1, 1000, at(i));
        s.enqueue(env, data, at(i)).await.unwrap();
        let l = s.lease(request(1, 60), at(i)).await.unwrap().remove(0);
        assert_eq!(s.complete(&l, &[delivered(0)], at(i)).await.unwrap(), 0);
    }
    let stats = s.stats();
    eprintln!("{stats:?}, {} segment files", segments(dir.path()).len());
    assert!(stats.segments_removed >= 40, "{stats:?}");
    assert!(segments(dir.path()).len() <= 2);
    drop(s);
    let (s, report) = open(dir.path(), 4096);
    assert!(report.is_clean() && report.messages == 0, "{report:?}");
    assert!(s.list(T0).await.unwrap().is_empty());
}

/// A message that stays queued while traffic goes by is copied forward
/// when its segment is cleaned, with its latest state (a delivered
/// recipient, a hold), and the old segments go. Its data can be read all
/// along, while it is being copied too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_messages_are_copied_forward_with_their_state() {
    let dir = TempDir::new("journal-clean");
    let (s, _) = open(dir.path(), 4096);
    let (env, data) = message("long@o.example", 2, 700, T0);
    let long = s.enqueue(env, data.clone(), T0).await.unwrap();
    let l = s.lease(request(1, 60), T0).await.unwrap().remove(0);
    s.record(&l, &[delivered(0)], at(1)).await.unwrap();
    s.defer(
        &l,
        Deferral {
            next_attempt: at(5000),
            delay_warning_sent: false,
        },
        at(1),
    )
    .await
    .unwrap();
    s.hold(long).await.unwrap();
    let before = snapshot(&s, at(2)).await;
    let s = Arc::new(s);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (s, stop, data) = (Arc::clone(&s), Arc::clone(&stop), data.clone());
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(s.read_data(long).await.unwrap(), data);
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    for i in 0..300u64 {
        let (env, d) = message(&format!("s{i:03}@o.example"), 1, 900, at(10 + i));
        s.enqueue(env, d, at(10 + i)).await.unwrap();
        let l = s.lease(request(1, 60), at(10 + i)).await.unwrap().remove(0);
        assert_eq!(
            s.complete(&l, &[delivered(0)], at(10 + i)).await.unwrap(),
            0
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.unwrap();
    let stats = s.stats();
    eprintln!(
        "{stats:?}, {} segment files, {reads} reads",
        segments(dir.path()).len()
    );
    assert!(stats.bytes_copied > 0, "{stats:?}");
    assert!(
        segments(dir.path()).len() <= 4,
        "{:?}",
        segments(dir.path())
    );
    assert_eq!(snapshot(&*s, at(2)).await, before);
    assert_eq!(s.read_data(long).await.unwrap(), data);
    drop(s);
    let (s, report) = open(dir.path(), 4096);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(snapshot(&s, at(2)).await, before);
    let info = s.inspect(long, at(2)).await.unwrap();
    assert!(info.state.held);
    assert_eq!(info.state.recipients[0].status, RecipientStatus::Delivered);
}

/// A deletion recorded in a later segment must outlive the segment that
/// holds the deleted message while that one is kept (here by a large
/// message that stays queued): otherwise a restart would bring the
/// deleted message back.
#[tokio::test]
async fn a_deletion_outlives_the_segment_it_cancels() {
    let dir = TempDir::new("journal-tomb");
    let (s, _) = open(dir.path(), 4096);
    let (env, data) = message("big@o.example", 1, 3000, T0);
    s.enqueue(env, data, T0).await.unwrap();
    let (env, data) = message("small@o.example", 1, 10, T0);
    let small = s.enqueue(env, data, T0).await.unwrap();
    // Traffic until the first segment is two behind.
    for i in 0..20u64 {
        let (env, d) = message(&format!("s{i:03}@o.example"), 1, 900, at(i));
        let id = s.enqueue(env, d, at(i)).await.unwrap();
        s.delete(id).await.unwrap();
    }
    s.delete(small).await.unwrap();
    for i in 20..60u64 {
        let (env, d) = message(&format!("s{i:03}@o.example"), 1, 900, at(i));
        let id = s.enqueue(env, d, at(i)).await.unwrap();
        s.delete(id).await.unwrap();
    }
    let before = snapshot(&s, at(100)).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].0, "big@o.example");
    drop(s);
    let (s, report) = open(dir.path(), 4096);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(snapshot(&s, at(100)).await, before);
    assert!(s.inspect(small, at(100)).await.is_err());
}

/// Damage inside the journal (not a torn tail) is reported, what comes
/// before it is kept, and the journal goes on.
#[tokio::test]
async fn damage_inside_the_journal_is_reported_not_fatal() {
    let dir = TempDir::new("journal-damage");
    let (s, _) = open(dir.path(), 4096);
    for i in 0..10u64 {
        let (env, d) = message(&format!("s{i}@o.example"), 1, 900, at(i));
        s.enqueue(env, d, at(i)).await.unwrap();
    }
    drop(s);
    let segs = segments(dir.path());
    assert!(segs.len() >= 3, "{segs:?}");
    // Flip a byte in the second record of the first segment.
    let mut bytes = fs::read(&segs[0]).unwrap();
    let first_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize + 8;
    bytes[first_len + 20] ^= 0xFF;
    fs::write(&segs[0], &bytes).unwrap();

    let (s, report) = open(dir.path(), 4096);
    assert!(!report.is_clean());
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    let d = &report.damaged[0];
    assert_eq!((d.offset, d.cut), (first_len as u64, false));
    assert_eq!(d.reason, "checksum mismatch");
    let senders: Vec<String> = snapshot(&s, at(20))
        .await
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert!(senders.contains(&"s0@o.example".to_owned()));
    assert!(!senders.contains(&"s1@o.example".to_owned()));
    assert!(senders.contains(&"s9@o.example".to_owned()));
    let (env, d) = message("after@o.example", 1, 10, at(30));
    s.enqueue(env, d, at(30)).await.unwrap();
}

/// One store per journal directory.
#[tokio::test]
async fn a_journal_in_use_is_refused() {
    let dir = TempDir::new("journal-lock");
    let (s, _) = open(dir.path(), 4096);
    match JournalStore::open(dir.path(), options(4096)) {
        Err(QueueError::Storage(StorageError::Locked(p))) => assert_eq!(p, dir.path()),
        Err(e) => panic!("wrong error: {e:?}"),
        Ok(_) => panic!("a second store opened a journal in use"),
    }
    drop(s);
    open(dir.path(), 4096);
    // Settings that cannot work are refused.
    for bad in [
        JournalOptions {
            segment_size: 4095,
            ..JournalOptions::default()
        },
        JournalOptions {
            max_batch: 0,
            ..JournalOptions::default()
        },
    ] {
        assert!(matches!(
            JournalStore::open(dir.path(), bad),
            Err(QueueError::Misuse(_))
        ));
    }
}

// ---------------------------------------------------------------------------
// The model: the same operations on a MemoryStore and a JournalStore with
// tiny segments give the same queue, also after restarts of the journal.

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        rcpts: usize,
        size: usize,
    },
    /// Lease message `k` (by position among the queued) and record one
    /// outcome per pending recipient, from `outcomes` (0 delivered, 1
    /// failed, 2 deferred); then `complete` if nothing is deferred, else
    /// defer.
    Attempt {
        k: usize,
        outcomes: u16,
    },
    Hold {
        k: usize,
    },
    Release {
        k: usize,
    },
    Delete {
        k: usize,
    },
    ForceRetryAll,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..4usize, 0..3000usize).prop_map(|(rcpts, size)| Op::Enqueue { rcpts, size }),
        4 => (any::<usize>(), any::<u16>()).prop_map(|(k, outcomes)| Op::Attempt { k, outcomes }),
        1 => any::<usize>().prop_map(|k| Op::Hold { k }),
        1 => any::<usize>().prop_map(|k| Op::Release { k }),
        1 => any::<usize>().prop_map(|k| Op::Delete { k }),
        1 => Just(Op::ForceRetryAll),
        1 => Just(Op::Restart),
    ]
}

/// The ID of the `k`th queued message (by sender) in a store.
async fn nth(s: &impl QueueStore, k: usize, now: Timestamp) -> Option<postel_queue::QueueId> {
    let mut all: Vec<_> = s
        .list(now)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.envelope.sender.clone(), m.id))
        .collect();
    if all.is_empty() {
        return None;
    }
    all.sort();
    Some(all[k % all.len()].1)
}

async fn apply(s: &impl QueueStore, op: &Op, step: u64, n: &mut u64) {
    let now = at(10 * step);
    match *op {
        Op::Enqueue { rcpts, size } => {
            let (env, data) = message(&format!("s{n:04}@o.example"), rcpts, size, now);
            *n += 1;
            s.enqueue(env, data, now).await.unwrap();
        }
        Op::Attempt { k, outcomes } => {
            let Some(id) = nth(s, k, now).await else {
                return;
            };
            let far = at(10 * step + 1_000_000);
            for lease in s.lease(request(10_000, 60), far).await.unwrap() {
                if lease.id != id {
                    s.unlease(&lease).await.unwrap();
                    continue;
                }
                let mut list = Vec::new();
                let mut deferred = false;
                for (j, &index) in lease.pending.iter().enumerate() {
                    let outcome = match (outcomes >> (2 * (j % 8))) % 3 {
                        0 => Outcome::Delivered {
                            reply: "250 ok".into(),
                        },
                        1 => Outcome::Failed {
                            reply: "550 no".into(),
                        },
                        _ => {
                            deferred = true;
                            Outcome::Deferred {
                                reply: "451 later".into(),
                            }
                        }
                    };
                    list.push(RecipientOutcome { index, outcome });
                }
                if s.complete(&lease, &list, now).await.unwrap() > 0 {
                    assert!(deferred);
                    let deferral = Deferral {
                        next_attempt: now.saturating_add(Duration::from_secs(300)),
                        delay_warning_sent: outcomes & 1 == 1,
                    };
                    s.defer(&lease, deferral, now).await.unwrap();
                }
            }
        }
        Op::Hold { k } => {
            if let Some(id) = nth(s, k, now).await {
                s.hold(id).await.unwrap();
            }
        }
        Op::Release { k } => {
            if let Some(id) = nth(s, k, now).await {
                s.release(id).await.unwrap();
            }
        }
        Op::Delete { k } => {
            if let Some(id) = nth(s, k, now).await {
                s.delete(id).await.unwrap();
            }
        }
        Op::ForceRetryAll => {
            s.force_retry_all(now).await.unwrap();
        }
        Op::Restart => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_journal_matches_the_memory_store_across_restarts(ops in prop::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let dir = TempDir::new("journal-model");
            let memory = MemoryStore::new();
            let (mut journal, _) = open(dir.path(), 4096);
            let (mut n_memory, mut n_journal) = (0, 0);
            for (step, op) in ops.iter().enumerate() {
                let step = step as u64;
                if let Op::Restart = op {
                    drop(journal);
                    let (reopened, report) = open(dir.path(), 4096);
                    assert!(report.is_clean(), "{report:?}");
                    journal = reopened;
                }
                apply(&memory, op, step, &mut n_memory).await;
                apply(&journal, op, step, &mut n_journal).await;
                let now = at(10 * step + 5);
                assert_eq!(snapshot(&journal, now).await, snapshot(&memory, now).await, "after {op:?}");
            }
            let end = at(100_000);
            let expected = snapshot(&memory, end).await;
            drop(journal);
            let (journal, report) = open(dir.path(), 4096);
            assert!(report.is_clean(), "{report:?}");
            assert_eq!(snapshot(&journal, end).await, expected);
            // The journal holds little more than the queue.
            let on_disk: u64 = segments(dir.path())
                .iter()
                .map(|p| fs::metadata(p).unwrap().len())
                .sum();
            let queued: u64 = expected.iter().map(|m| m.3 + 600).sum();
            assert!(on_disk <= 2 * queued + 4 * 4096 + 8192, "{on_disk} bytes for {queued}");
        });
    }
}
