//! What only the filesystem spool has: recovery after a restart or a crash,
//! quarantine of bad files, and group commit.

mod common;

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{T0, TempDir, at, envelope, request};
use postel_queue::spool::{CORRUPT_DIR, LOCK_FILE, QuarantineAction};
use postel_queue::{
    CorruptError, Deferral, Outcome, QueueError, QueueId, QueueStore, RecipientOutcome,
    RecipientStatus, SpoolOptions, SpoolStore, StorageError,
};

fn open(dir: &TempDir) -> (SpoolStore, postel_queue::RecoveryReport) {
    SpoolStore::open(dir.path(), SpoolOptions::default()).unwrap()
}

fn delivered(index: usize) -> RecipientOutcome {
    RecipientOutcome {
        index,
        outcome: Outcome::Delivered {
            reply: "250 ok".into(),
        },
    }
}

/// The spool's files, without its lock file.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != LOCK_FILE)
        .collect();
    v.sort();
    v
}

type Snapshot = Vec<(
    QueueId,
    postel_queue::Envelope,
    postel_queue::Timestamp,
    u64,
    postel_queue::MessageState,
)>;

async fn snapshot(s: &SpoolStore) -> Snapshot {
    s.list(at(0))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, (*m.envelope).clone(), m.queued, m.size, m.state))
        .collect()
}

#[tokio::test]
async fn reopening_finds_every_message_and_its_state() {
    let dir = TempDir::new("reopen");
    let (s, _) = open(&dir);
    let mut ids = Vec::new();
    for i in 0..5u64 {
        let mut e = envelope(&["a@x.example", "b@y.example"]);
        e.priority = i as i8 - 2;
        let data = Bytes::from(format!("message {i}\r\n").repeat(i as usize * 100));
        ids.push(s.enqueue(e, data, at(i)).await.unwrap());
    }
    // Message 0: one recipient delivered, the other deferred.
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
    // Message 1 on hold, message 2 deleted, message 3 still leased when the
    // process stops.
    s.hold(ids[1]).await.unwrap();
    s.delete(ids[2]).await.unwrap();
    let before = snapshot(&s).await;
    drop(s);
    assert!(!names(dir.path()).iter().any(|n| n.ends_with(".tmp")));

    let (s, report) = open(&dir);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.messages, 4);
    assert_eq!(snapshot(&s).await, before);
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| *i != 2) {
        let expected = format!("message {i}\r\n").repeat(i * 100);
        assert_eq!(s.read_data(*id).await.unwrap(), expected.as_bytes());
    }
    let info = s.inspect(ids[0], at(12)).await.unwrap();
    assert_eq!(info.state.recipients[0].status, RecipientStatus::Delivered);
    assert_eq!(
        (
            info.state.attempts,
            info.state.next_attempt,
            info.state.delay_warned
        ),
        (1, at(900), true)
    );
    assert!(s.inspect(ids[1], at(12)).await.unwrap().state.held);
    // Leases did not survive: every unheld message with pending work is due
    // (message 0 at its next attempt).
    let due: Vec<QueueId> = s
        .lease(request(10, 60), at(12))
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(due, [ids[4], ids[3]]);
    // New IDs sort after the recovered ones even if the clock went back.
    let newer = s
        .enqueue(envelope(&["c@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    assert!(newer > ids[4]);
}

/// A spool directory has one owner: a second store is refused while the
/// first is open (two owners would deliver twice and delete each other's
/// work), and can open it once the first is dropped.
#[tokio::test]
async fn a_spool_in_use_is_refused() {
    let dir = TempDir::new("locked");
    let (s, _) = open(&dir);
    let id = s
        .enqueue(envelope(&["a@x.example"]), Bytes::from_static(b"hi"), T0)
        .await
        .unwrap();
    match SpoolStore::open(dir.path(), SpoolOptions::default()) {
        Err(QueueError::Storage(StorageError::Locked(p))) => assert_eq!(p, dir.path()),
        Err(e) => panic!("wrong error: {e:?}"),
        Ok(_) => panic!("a second store opened a spool in use"),
    }
    drop(s);
    let (s, report) = open(&dir);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(s.list(T0).await.unwrap().len(), 1);
    assert_eq!(s.list(T0).await.unwrap()[0].id, id);
}

/// `complete` of a finished message writes no state file (no file fsync,
/// one removal), and the message stays gone after reopening.
#[tokio::test]
async fn complete_removes_files_without_writing_state() {
    let dir = TempDir::new("complete");
    let (s, _) = open(&dir);
    let id = s
        .enqueue(envelope(&["a@x.example"]), Bytes::from_static(b"hi"), T0)
        .await
        .unwrap();
    let l = s.lease(request(1, 60), T0).await.unwrap().remove(0);
    let before = s.stats();
    assert_eq!(s.complete(&l, &[delivered(0)], at(1)).await.unwrap(), 0);
    let after = s.stats();
    assert_eq!(
        (
            after.writes - before.writes,
            after.file_syncs - before.file_syncs
        ),
        (1, 0)
    );
    assert!(
        names(dir.path())
            .iter()
            .all(|n| !n.starts_with(&id.to_string()))
    );
    drop(s);
    let (s, report) = open(&dir);
    assert!(report.is_clean(), "{report:?}");
    assert!(s.list(at(2)).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_interrupted_state_write_is_recovered() {
    let dir = TempDir::new("interrupted");
    let (s, _) = open(&dir);
    let id = s
        .enqueue(
            envelope(&["a@x.example", "b@x.example"]),
            Bytes::from_static(b"hi"),
            T0,
        )
        .await
        .unwrap();
    let l = s.lease(request(1, 60), T0).await.unwrap().remove(0);
    s.record(&l, &[delivered(0)], at(1)).await.unwrap();
    drop(s);
    let state = dir.path().join(format!("{id}.state"));
    let good = fs::read_to_string(&state).unwrap();

    // A crash while the next state was being written leaves a temporary
    // file (complete or not): the last durable state wins.
    fs::write(
        dir.path().join(format!("{id}.state.tmp")),
        &good[..good.len() / 2],
    )
    .unwrap();
    // A crash while a message was being enqueued: never acknowledged.
    fs::write(
        dir.path().join("0000000000010000.msg.tmp"),
        "postel-queue-message 1\nid: ",
    )
    .unwrap();
    let (s, report) = open(&dir);
    assert_eq!(report.removed_temp_files.len(), 2);
    assert!(report.quarantined.is_empty());
    assert_eq!(report.messages, 1);
    assert_eq!(
        s.inspect(id, at(2)).await.unwrap().state.recipients[0].status,
        RecipientStatus::Delivered
    );
    drop(s);
    assert_eq!(
        names(dir.path()),
        [format!("{id}.msg"), format!("{id}.state")]
    );

    // A state file cut short (a disk that lied about its flush): quarantined,
    // and the message starts over rather than being lost.
    fs::write(&state, &good[..good.len() - 3]).unwrap();
    let (s, report) = open(&dir);
    assert_eq!(report.quarantined.len(), 1);
    let q = &report.quarantined[0];
    assert_eq!((q.id, q.action), (id, QuarantineAction::StateReset));
    assert!(q.move_error.is_none());
    assert!(
        matches!(q.error, CorruptError::BadFile { .. }),
        "{}",
        q.error
    );
    assert_eq!(
        q.moved_to,
        [dir.path().join(CORRUPT_DIR).join(format!("{id}.state"))]
    );
    let info = s.inspect(id, at(2)).await.unwrap();
    assert!(
        info.state
            .recipients
            .iter()
            .all(|r| r.status == RecipientStatus::Pending)
    );
    assert_eq!(
        s.lease(request(1, 60), at(2)).await.unwrap()[0].pending,
        [0, 1]
    );
    assert_eq!(s.read_data(id).await.unwrap(), &b"hi"[..]);
}

#[tokio::test]
async fn corrupt_message_files_are_quarantined_not_fatal() {
    let dir = TempDir::new("corrupt");
    let (s, _) = open(&dir);
    let good = s
        .enqueue(envelope(&["a@x.example"]), Bytes::from_static(b"fine"), T0)
        .await
        .unwrap();
    let cut = s
        .enqueue(
            envelope(&["a@x.example"]),
            Bytes::from_static(b"0123456789"),
            T0,
        )
        .await
        .unwrap();
    let renamed = s
        .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    s.hold(cut).await.unwrap();
    drop(s);
    let path = |id: QueueId, ext: &str| dir.path().join(format!("{id}.{ext}"));
    // Data cut short.
    let bytes = fs::read(path(cut, "msg")).unwrap();
    fs::write(path(cut, "msg"), &bytes[..bytes.len() - 4]).unwrap();
    // A file whose name and content disagree.
    let stranger = QueueId::from_parts(at(99), 0);
    fs::rename(path(renamed, "msg"), path(stranger, "msg")).unwrap();
    // Garbage, and bytes that are not text.
    let garbage = QueueId::from_parts(at(100), 0);
    fs::write(path(garbage, "msg"), b"\xff\xfe\n\n\x00").unwrap();
    let empty = QueueId::from_parts(at(101), 0);
    fs::write(path(empty, "msg"), b"").unwrap();
    // Not the spool's.
    fs::write(dir.path().join("README"), "hello").unwrap();

    let (s, report) = open(&dir);
    assert_eq!(report.messages, 1);
    assert_eq!(report.unknown_files, [dir.path().join("README")]);
    let mut set_aside: Vec<QueueId> = report
        .quarantined
        .iter()
        .inspect(|q| assert_eq!(q.action, QuarantineAction::MessageSetAside))
        .map(|q| q.id)
        .collect();
    set_aside.sort();
    assert_eq!(set_aside, [cut, stranger, garbage, empty]);
    let cut_report = report.quarantined.iter().find(|q| q.id == cut).unwrap();
    assert!(matches!(
        cut_report.error,
        CorruptError::WrongSize {
            expected: 10,
            actual: 6,
            ..
        }
    ));
    assert_eq!(
        cut_report.moved_to.len(),
        2,
        "the state file goes with its message"
    );
    assert_eq!(s.read_data(good).await.unwrap(), &b"fine"[..]);
    let corrupt = names(&dir.path().join(CORRUPT_DIR));
    assert_eq!(corrupt.len(), 5);
    drop(s);
    // Once set aside, they are not reported again.
    let (_s, report) = open(&dir);
    assert_eq!((report.messages, report.quarantined.len()), (1, 0));
}

#[tokio::test]
async fn data_lost_under_a_running_store_is_an_error_not_a_panic() {
    let dir = TempDir::new("lost");
    let (s, _) = open(&dir);
    let id = s
        .enqueue(
            envelope(&["a@x.example"]),
            Bytes::from_static(b"0123456789"),
            T0,
        )
        .await
        .unwrap();
    let path = dir.path().join(format!("{id}.msg"));
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        s.read_data(id).await.unwrap_err(),
        QueueError::Corrupt(CorruptError::WrongSize {
            expected: 10,
            actual: 9,
            ..
        })
    ));
}

#[tokio::test]
async fn orphans_are_removed_and_deletions_are_durable() {
    let dir = TempDir::new("orphans");
    let (s, _) = open(&dir);
    let a = s
        .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    let b = s
        .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    s.hold(a).await.unwrap();
    s.hold(b).await.unwrap();
    s.delete(b).await.unwrap();
    drop(s);
    // A deletion interrupted between its two removals leaves a state file.
    fs::copy(
        dir.path().join(format!("{a}.state")),
        dir.path().join(format!("{b}.state")),
    )
    .unwrap();
    let (s, report) = open(&dir);
    assert_eq!(
        report.removed_orphans,
        [dir.path().join(format!("{b}.state"))]
    );
    assert_eq!(
        s.list(T0)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [a]
    );
    s.delete(a).await.unwrap();
    drop(s);
    assert!(names(dir.path()).is_empty());
}

/// 64 concurrent producers: every message durable and found after a
/// restart, with fewer commit batches (and directory fsyncs) than messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_fsyncs() {
    let dir = TempDir::new("group");
    let (s, _) = open(&dir);
    let s = Arc::new(s);
    let mut producers = tokio::task::JoinSet::new();
    // All start together, as 64 SMTP sessions reaching end-of-data at once.
    let start = Arc::new(tokio::sync::Barrier::new(64));
    for i in 0..64u64 {
        let s = Arc::clone(&s);
        let start = Arc::clone(&start);
        producers.spawn(async move {
            start.wait().await;
            let data = Bytes::from(format!("Subject: {i}\r\n\r\n{}\r\n", "x".repeat(2000)));
            s.enqueue(envelope(&["a@x.example"]), data, at(i))
                .await
                .unwrap()
        });
    }
    let started = std::time::Instant::now();
    let mut ids = Vec::new();
    while let Some(id) = producers.join_next().await {
        ids.push(id.unwrap());
    }
    let concurrent = started.elapsed();
    let stats = s.stats();
    eprintln!("64 concurrent enqueues: {stats:?} in {concurrent:?}");
    assert_eq!((stats.writes, stats.file_syncs), (64, 64));
    assert!(
        stats.batches < 64 && stats.dir_syncs == stats.batches,
        "{stats:?}"
    );

    // One at a time, each enqueue is a batch of its own.
    let before = s.stats();
    let started = std::time::Instant::now();
    for i in 0..64 {
        let data = Bytes::from(format!("Subject: {i}\r\n\r\n{}\r\n", "x".repeat(2000)));
        ids.push(
            s.enqueue(envelope(&["a@x.example"]), data, at(100 + i))
                .await
                .unwrap(),
        );
    }
    let batches = s.stats().batches - before.batches;
    eprintln!(
        "64 sequential enqueues: {batches} batches in {:?}",
        started.elapsed()
    );
    assert_eq!(batches, 64);
    drop(s);

    let (s, report) = open(&dir);
    assert!(report.is_clean());
    ids.sort();
    assert_eq!(
        s.list(T0)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        ids
    );
}

/// With `SyncMode::Filesystem`, a batch costs one `syncfs` however many
/// files it wrote, and what was acknowledged is found on reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncfs_mode_makes_a_batch_durable_with_one_sync() {
    let dir = TempDir::new("syncfs");
    let options = postel_queue::SpoolOptions {
        sync_mode: postel_queue::SyncMode::Filesystem,
        ..postel_queue::SpoolOptions::default()
    };
    let (s, _) = SpoolStore::open(dir.path(), options).unwrap();
    let s = Arc::new(s);
    let mut producers = tokio::task::JoinSet::new();
    let start = Arc::new(tokio::sync::Barrier::new(64));
    for i in 0..64u64 {
        let s = Arc::clone(&s);
        let start = Arc::clone(&start);
        producers.spawn(async move {
            start.wait().await;
            let data = Bytes::from(format!("Subject: {i}\r\n\r\nbody\r\n"));
            s.enqueue(envelope(&["a@x.example"]), data, at(i))
                .await
                .unwrap()
        });
    }
    let mut ids = Vec::new();
    while let Some(id) = producers.join_next().await {
        ids.push(id.unwrap());
    }
    let stats = s.stats();
    assert_eq!(stats.writes, 64);
    assert_eq!(stats.file_syncs, stats.batches, "{stats:?}");
    assert!(stats.batches < 64, "{stats:?}");
    drop(s);
    let (s, report) = open(&dir);
    assert!(report.is_clean());
    ids.sort();
    let listed: Vec<_> = s.list(T0).await.unwrap().iter().map(|m| m.id).collect();
    assert_eq!(listed, ids);
}

/// State changes of many messages at once are batched as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_outcomes_share_fsyncs() {
    let dir = TempDir::new("outcomes");
    let (s, _) = open(&dir);
    let s = Arc::new(s);
    for _ in 0..32 {
        s.enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
    }
    let before = s.stats();
    let mut workers = tokio::task::JoinSet::new();
    let start = Arc::new(tokio::sync::Barrier::new(32));
    for l in s.lease(request(32, 60), T0).await.unwrap() {
        let s = Arc::clone(&s);
        let start = Arc::clone(&start);
        workers.spawn(async move {
            start.wait().await;
            s.record(&l, &[delivered(0)], at(1)).await.unwrap()
        });
    }
    while let Some(left) = workers.join_next().await {
        assert_eq!(left.unwrap(), 0);
    }
    let after = s.stats();
    assert_eq!(after.writes - before.writes, 32);
    assert!(after.batches - before.batches < 32, "{after:?}");
    drop(s);
    let (s, _) = open(&dir);
    let list = s.list(T0).await.unwrap();
    assert!(
        list.iter()
            .all(|m| m.state.recipients[0].status == RecipientStatus::Delivered)
    );
}

#[tokio::test]
async fn lease_ttl_is_caller_time() {
    let dir = TempDir::new("ttl");
    let (s, _) = open(&dir);
    s.enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    let l = s.lease(request(1, 30), T0).await.unwrap().remove(0);
    assert_eq!(l.expires, T0.saturating_add(Duration::from_secs(30)));
    assert!(s.lease(request(1, 30), at(29)).await.unwrap().is_empty());
    assert_eq!(s.lease(request(1, 30), at(30)).await.unwrap().len(), 1);
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever bytes are in the spool, opening it never panics: it
        /// recovers or quarantines.
        #[test]
        fn opening_a_spool_of_garbage_never_panics(
            msg in proptest::collection::vec(any::<u8>(), 0..300),
            state in proptest::collection::vec(any::<u8>(), 0..300),
            mangle_real in any::<bool>(),
        ) {
            let dir = TempDir::new("garbage");
            let id = QueueId::from_parts(at(5), 1);
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            if mangle_real {
                let (s, _) = open(&dir);
                let real = rt.block_on(s.enqueue(envelope(&["a@x.example"]), Bytes::from_static(b"x"), T0)).unwrap();
                rt.block_on(s.hold(real)).unwrap();
                drop(s);
                // Keep a real header, replace its data and its state.
                let path = dir.path().join(format!("{real}.msg"));
                let mut bytes = fs::read(&path).unwrap();
                bytes.truncate(bytes.len() - 1);
                bytes.extend_from_slice(&msg);
                fs::write(&path, bytes).unwrap();
                fs::write(dir.path().join(format!("{real}.state")), &state).unwrap();
            }
            fs::write(dir.path().join(format!("{id}.msg")), &msg).unwrap();
            fs::write(dir.path().join(format!("{id}.state")), &state).unwrap();
            let (s, report) = open(&dir);
            prop_assert!(report.messages <= 2);
            for m in rt.block_on(s.list(T0)).unwrap() {
                let _ = rt.block_on(s.read_data(m.id));
            }
        }
    }
}
