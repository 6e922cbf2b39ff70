//! Durable enqueue + lease + complete of 10 KB messages on postel-queue's
//! filesystem spool (file per message) and journal (append-only segments),
//! with 1 and with 64 concurrent producers, against one fsync per message
//! measured in the same run on the same disk.
//!
//! The baseline is what a spool without group commit does for each
//! message: write the file, fsync it, rename it into place, fsync the
//! directory (enqueue), then unlink it and fsync the directory again
//! (completion). Each postel-queue message goes through `enqueue`, `lease`
//! and `complete` (delivered, which removes it), each durable before it
//! returns.
//!
//! Not a criterion bench: the figure is messages per second of a disk-bound
//! pipeline, taken as the median of `RUNS` runs of `MESSAGES` messages.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-benches cargo bench --manifest-path benches/Cargo.toml --bench queue
//! QUEUE_BENCH_DIR=/some/disk QUEUE_BENCH_MESSAGES=4000 cargo bench ... --bench queue
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use postel_queue::{
    Envelope, JournalOptions, JournalStore, LeaseRequest, Outcome, QueueStore, Recipient,
    RecipientOutcome, SpoolOptions, SpoolStore, SyncMode, Timestamp,
};

const RUNS: usize = 3;

/// Producers, store, and the row's name.
const CONFIGS: [(usize, Kind, &str); 6] = [
    (
        1,
        Kind::Spool(SyncMode::PerFile),
        "spool, 1 producer, fsync per file",
    ),
    (
        64,
        Kind::Spool(SyncMode::PerFile),
        "spool, 64 producers, fsync per file",
    ),
    (
        1,
        Kind::Spool(SyncMode::Filesystem),
        "spool, 1 producer, one syncfs per batch",
    ),
    (
        64,
        Kind::Spool(SyncMode::Filesystem),
        "spool, 64 producers, one syncfs per batch",
    ),
    (1, Kind::Journal, "journal, 1 producer"),
    (64, Kind::Journal, "journal, 64 producers"),
];

fn message() -> Bytes {
    let mut m = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n".to_vec();
    while m.len() < 10 * 1024 {
        m.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n",
        );
    }
    m.truncate(10 * 1024);
    Bytes::from(m)
}

fn fsync_dir(dir: &Path) {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("fsync dir");
}

/// One fsync per message: the classic spool write, then (with `complete`)
/// its removal.
fn baseline(dir: &Path, n: usize, data: &[u8], complete: bool) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let tmp = dir.join(format!("{i}.tmp"));
        let fin = dir.join(format!("{i}.msg"));
        let mut f = File::create(&tmp).expect("create");
        f.write_all(data).expect("write");
        f.sync_all().expect("fsync");
        fs::rename(&tmp, &fin).expect("rename");
        fsync_dir(dir);
        if complete {
            fs::remove_file(&fin).expect("unlink");
            fsync_dir(dir);
        }
    }
    start.elapsed()
}

async fn one_message<S: QueueStore>(store: &S, data: Bytes, now: Timestamp, complete: bool) {
    let envelope = Envelope::new("a@example.org", [Recipient::new("b@example.net")], now);
    store.enqueue(envelope, data, now).await.expect("enqueue");
    if !complete {
        return;
    }
    let req = LeaseRequest {
        max_messages: 1,
        ttl: Duration::from_secs(600),
    };
    // Any due message will do: with many producers, one may complete
    // another's message; every message is completed exactly once overall.
    let leases = store.lease(req, now).await.expect("lease");
    for lease in leases {
        complete_lease(store, &lease, now).await;
    }
}

/// Records every pending recipient of the lease as delivered, which removes
/// the message in the same durable step (`complete`).
async fn complete_lease<S: QueueStore>(store: &S, lease: &postel_queue::Lease, now: Timestamp) {
    let outcomes: Vec<RecipientOutcome> = lease
        .pending
        .iter()
        .map(|&index| RecipientOutcome {
            index,
            outcome: Outcome::Delivered {
                reply: "250 2.0.0 ok".into(),
            },
        })
        .collect();
    let pending = store
        .complete(lease, &outcomes, now)
        .await
        .expect("complete");
    assert_eq!(pending, 0);
}

/// Drains what producers left leased by others (none normally).
async fn drain<S: QueueStore>(store: &S, now: Timestamp) -> usize {
    let mut left = 0;
    loop {
        let req = LeaseRequest {
            max_messages: 64,
            ttl: Duration::from_secs(600),
        };
        let leases = store.lease(req, now).await.expect("lease");
        if leases.is_empty() {
            return left;
        }
        for lease in leases {
            left += 1;
            complete_lease(store, &lease, now).await;
        }
    }
}

/// The stores measured.
#[derive(Clone, Copy)]
enum Kind {
    Spool(SyncMode),
    Journal,
}

/// Runs `n` messages through a fresh store in `dir` from `producers`
/// concurrent tasks; returns the time and the number of flushes (directory
/// fsyncs for the spool, fdatasyncs for the journal).
fn store_run(
    dir: &Path,
    n: usize,
    producers: usize,
    data: &Bytes,
    complete: bool,
    kind: Kind,
) -> (Duration, u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .expect("runtime");
    rt.block_on(async {
        match kind {
            Kind::Spool(mode) => {
                let options = SpoolOptions {
                    sync_mode: mode,
                    ..SpoolOptions::default()
                };
                let (store, _) = SpoolStore::open(dir, options).expect("open spool");
                let store = Arc::new(store);
                let before = store.stats().dir_syncs;
                let t = drive(&store, n, producers, data, complete).await;
                (t, store.stats().dir_syncs - before)
            }
            Kind::Journal => {
                let (store, _) =
                    JournalStore::open(dir, JournalOptions::default()).expect("open journal");
                let store = Arc::new(store);
                let before = store.stats().syncs;
                let t = drive(&store, n, producers, data, complete).await;
                (t, store.stats().syncs - before)
            }
        }
    })
}

async fn drive<S: QueueStore + 'static>(
    store: &Arc<S>,
    n: usize,
    producers: usize,
    data: &Bytes,
    complete: bool,
) -> Duration {
    let now = Timestamp::from_unix_secs(1_700_000_000);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..producers {
        let store = store.clone();
        let data = data.clone();
        let count = n / producers + usize::from(p < n % producers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..count {
                one_message(&*store, data.clone(), now, complete).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer");
    }
    let elapsed = start.elapsed();
    if complete {
        let left = drain(&**store, now).await;
        assert_eq!(left, 0, "every message was completed by a producer");
    }
    elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn fresh(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported.
    let root = std::env::var_os("QUEUE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("postel-queue-bench"));
    let n: usize = std::env::var("QUEUE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let data = message();
    println!(
        "postel-queue spool: {n} messages of {} bytes, median of {RUNS} runs, in {}",
        data.len(),
        root.display()
    );

    let mut rows = Vec::new();
    for complete in [true, false] {
        let mut base = Vec::new();
        let mut spool: Vec<Vec<f64>> = vec![Vec::new(); CONFIGS.len()];
        let mut syncs = [0u64; CONFIGS.len()];
        for _ in 0..RUNS {
            let d = fresh(&root, "baseline");
            base.push(n as f64 / baseline(&d, n, &data, complete).as_secs_f64());
            for (k, (producers, kind, _)) in CONFIGS.into_iter().enumerate() {
                let d = fresh(&root, "spool");
                let (t, s) = store_run(&d, n, producers, &data, complete, kind);
                spool[k].push(n as f64 / t.as_secs_f64());
                syncs[k] = s;
            }
        }
        rows.push((
            complete,
            median(base),
            spool.into_iter().map(median).collect::<Vec<_>>(),
            syncs,
        ));
    }
    let _ = fs::remove_dir_all(&root);
    println!(
        "| work | messages/s | vs one fsync per message | flushes (last run: directory fsyncs; journal: fdatasyncs) |"
    );
    println!("|---|---|---|---|");
    for (complete, b, rates, syncs) in rows {
        let (what, spool, dirs) = if complete {
            (
                "write, fsync, rename, fsync dir; unlink, fsync dir",
                "enqueue, lease, complete",
                2 * n,
            )
        } else {
            ("write, fsync, rename, fsync dir", "enqueue only", n)
        };
        println!("| one fsync per message ({what}) | {b:.0} | 1.00x | {dirs} |");
        for (k, (_, _, name)) in CONFIGS.iter().enumerate() {
            println!(
                "| postel-queue {name} ({spool}) | {:.0} | {:.2}x | {} |",
                rates[k],
                rates[k] / b,
                syncs[k]
            );
        }
    }
}
