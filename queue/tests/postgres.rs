//! `PgStore` against a real PostgreSQL server: the shared backend suite,
//! two stores ("nodes") on one queue, and two worker processes delivering
//! one queue's mail concurrently.
//!
//! Needs `POSTEL_PG_URL` (a connection string); without it every test
//! returns at once after a notice. `scripts/pg-test.sh` starts a throwaway
//! server and runs this file. Each test uses a schema of its own, dropped
//! and made anew when the test starts, so tests run in parallel.

mod common;
#[macro_use]
mod backend;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use backend::{deferred, delivered, misuse};
use bytes::Bytes;
use common::{T0, TempDir, at, envelope, request};
use postel_queue::{
    Deferral, LeaseRequest, MisuseError, PgOptions, PgStore, QueueError, QueueStore,
    RecipientStatus, SystemClock,
};

const URL_VAR: &str = "POSTEL_PG_URL";
/// Set in a worker process: its number.
const WORKER_VAR: &str = "POSTEL_PG_WORKER";
const WORKER_SCHEMA_VAR: &str = "POSTEL_PG_WORKER_SCHEMA";
const WORKER_DIR_VAR: &str = "POSTEL_PG_WORKER_DIR";

/// The server's connection string, or `None` after a notice (once) that
/// the tests are skipped.
fn pg_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                // Straight to the stream, past the test harness's capture.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {URL_VAR} is not set: skipping the PostgreSQL tests \
                     (scripts/pg-test.sh runs them against a throwaway server)"
                );
            });
            None
        }
    }
}

/// Drops `schema` if it is there, so a test starts from nothing.
async fn reset_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
    drop(client);
    let _ = task.await;
}

async fn open(url: &str, schema: &str) -> PgStore {
    let options = PgOptions {
        schema: schema.to_owned(),
        ..PgOptions::default()
    };
    PgStore::connect(url, options).await.unwrap()
}

/// A fresh, migrated queue in the schema `postel_<name>`.
async fn fresh(name: &str) -> Option<(String, PgStore)> {
    let url = pg_url()?;
    let schema = format!("postel_{name}");
    reset_schema(&url, &schema).await;
    let store = open(&url, &schema).await;
    store.migrate().await.unwrap();
    Some((url, store))
}

async fn suite_store(name: &str) -> Option<((), PgStore)> {
    let (_, store) = fresh(&format!("suite_{name}")).await?;
    Some(((), store))
}

backend_suite!(pg, super::suite_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_required() {
    let Some(url) = pg_url() else { return };
    let schema = "postel_migrate";
    reset_schema(&url, schema).await;
    let store = open(&url, schema).await;
    // Before the tables exist: the caller's mistake, said so.
    let e = store.lease(request(1, 60), T0).await.unwrap_err();
    assert!(
        matches!(misuse(e), MisuseError::InvalidConfig(m) if m.contains("migrate")),
        "a missing schema is reported as misuse"
    );
    // Two nodes starting at once, then a restart.
    let other = open(&url, schema).await;
    let (a, b) = tokio::join!(store.migrate(), other.migrate());
    a.unwrap();
    b.unwrap();
    store.migrate().await.unwrap();
    store
        .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    assert_eq!(other.list(T0).await.unwrap().len(), 1);

    for bad in ["Upper", "pg_x", "x-y", ""] {
        let options = PgOptions {
            schema: bad.into(),
            ..PgOptions::default()
        };
        assert!(matches!(
            PgStore::connect(&url, options).await.unwrap_err(),
            QueueError::Misuse(MisuseError::InvalidConfig(_))
        ));
    }
    assert!(matches!(
        PgStore::connect("host=127.0.0.1 port=notaport", PgOptions::default())
            .await
            .unwrap_err(),
        QueueError::Misuse(MisuseError::InvalidConfig(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_postgres_cannot_hold_round_trip() {
    let Some((_, s)) = fresh("texts").await else {
        return;
    };
    let mut e = envelope(&["nul\0and%25@x.example"]);
    e.sender = "50%\0off@y.example".into();
    let id = s
        .enqueue(e.clone(), Bytes::from_static(b"\0\xff\r\n"), T0)
        .await
        .unwrap();
    let l = s.lease(request(1, 60), T0).await.unwrap().remove(0);
    let reply = "451 4.3.0 \0 100% %00 busy";
    s.record(
        &l,
        &[postel_queue::RecipientOutcome {
            index: 0,
            outcome: postel_queue::Outcome::Deferred {
                reply: reply.into(),
            },
        }],
        T0,
    )
    .await
    .unwrap();
    let info = s.inspect(id, T0).await.unwrap();
    assert_eq!(*info.envelope, e);
    assert_eq!(info.state.recipients[0].last_reply.as_deref(), Some(reply));
    assert_eq!(
        s.read_data(id).await.unwrap(),
        Bytes::from_static(b"\0\xff\r\n")
    );
}

/// Two stores on one queue, as two nodes would have: concurrent leases
/// never overlap, and an expired lease another node took over is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_share_a_message() {
    let Some((url, a)) = fresh("two_nodes").await else {
        return;
    };
    let b = open(&url, a.schema()).await;
    assert_ne!(a.owner(), b.owner());
    for i in 0..120 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.enqueue(
            envelope(&[&format!("r{i}@x.example"), "s@y.example"]),
            Bytes::new(),
            T0,
        )
        .await
        .unwrap();
    }
    let (a, b) = (Arc::new(a), Arc::new(b));
    let leaser = |s: Arc<PgStore>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let leases = s.lease(request(7, 600), at(1)).await.unwrap();
                if leases.is_empty() {
                    break got;
                }
                got.extend(leases.into_iter().map(|l| (l.id, l.pending)));
                tokio::task::yield_now().await;
            }
        })
    };
    let (got_a, got_b) = tokio::join!(leaser(Arc::clone(&a)), leaser(Arc::clone(&b)));
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    let ids_a: HashSet<_> = got_a.iter().map(|(id, _)| *id).collect();
    let ids_b: HashSet<_> = got_b.iter().map(|(id, _)| *id).collect();
    assert_eq!((ids_a.len(), ids_b.len()), (got_a.len(), got_b.len()));
    assert!(ids_a.is_disjoint(&ids_b), "a message leased by both nodes");
    assert_eq!(ids_a.len() + ids_b.len(), 120);
    assert!(got_a.iter().chain(&got_b).all(|(_, p)| p == &[0, 1]));
    assert!(!got_a.is_empty() && !got_b.is_empty(), "both nodes leased");

    // Lease loss across nodes: a's lease expires, b takes the message over.
    let (url_c, c) = fresh("lease_loss").await.unwrap();
    let d = open(&url_c, c.schema()).await;
    let id = c
        .enqueue(envelope(&["a@x.example", "b@x.example"]), Bytes::new(), T0)
        .await
        .unwrap();
    let old = c.lease(request(1, 10), T0).await.unwrap().remove(0);
    assert!(d.lease(request(1, 10), at(9)).await.unwrap().is_empty());
    c.record(&old, &[delivered(0)], at(5)).await.unwrap();
    let new = d.lease(request(1, 10), at(10)).await.unwrap().remove(0);
    assert_eq!((new.id, new.pending.clone()), (id, vec![1]));
    assert_eq!(
        misuse(c.record(&old, &[delivered(1)], at(11)).await.unwrap_err()),
        MisuseError::LeaseLost(id)
    );
    let deferral = Deferral {
        next_attempt: at(100),
        delay_warning_sent: false,
    };
    assert_eq!(
        misuse(c.defer(&old, deferral, at(11)).await.unwrap_err()),
        MisuseError::LeaseLost(id)
    );
    assert_eq!(
        misuse(
            c.renew(&old, Duration::from_secs(10), at(11))
                .await
                .unwrap_err()
        ),
        MisuseError::LeaseLost(id)
    );
    assert_eq!(
        misuse(c.unlease(&old).await.unwrap_err()),
        MisuseError::LeaseLost(id)
    );
    let info = c.inspect(id, at(11)).await.unwrap();
    assert_eq!(info.leased_until, Some(at(20)));
    assert_eq!(info.state.recipients[1].status, RecipientStatus::Pending);
    assert_eq!(
        leased_by(&url_c, c.schema()).await,
        vec![Some(d.owner().to_owned())]
    );
    d.record(&new, &[deferred(1)], at(12)).await.unwrap();
    d.defer(&new, deferral, at(12)).await.unwrap();
    assert_eq!(leased_by(&url_c, c.schema()).await, vec![None]);
    assert_eq!(c.inspect(id, at(12)).await.unwrap().state.attempts, 1);
}

async fn leased_by(url: &str, schema: &str) -> Vec<Option<String>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query(
            &format!("SELECT leased_by FROM \"{schema}\".messages ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

const MESSAGES: usize = 200;
const RECIPIENTS: usize = 2;
const WORKERS: usize = 2;

fn spawn_worker(n: usize, schema: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER_VAR, n.to_string())
        .env(WORKER_SCHEMA_VAR, schema)
        .env(WORKER_DIR_VAR, dir)
        // The harness's report of the one test would end up in ours.
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Two processes (this test binary again, in worker mode) share one queue:
/// each delivery is logged with O_APPEND, with its lease's expiry. Every
/// recipient must be delivered exactly once, always under a live lease.
#[test]
fn two_processes_deliver_each_recipient_once() {
    let Some(url) = pg_url() else { return };
    let dir = TempDir::new("pg-workers");
    let schema = "postel_processes";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let expected: HashSet<(String, usize)> = runtime.block_on(async {
        reset_schema(&url, schema).await;
        let store = open(&url, schema).await;
        store.migrate().await.unwrap();
        let now = SystemClock::now();
        let mut expected = HashSet::new();
        for i in 0..MESSAGES {
            let rcpts: Vec<String> = (0..RECIPIENTS)
                .map(|j| format!("r{i}.{j}@x.example"))
                .collect();
            let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
            let id = store
                .enqueue(envelope(&refs), Bytes::from(format!("message {i}")), now)
                .await
                .unwrap();
            expected.extend((0..RECIPIENTS).map(|j| (id.to_string(), j)));
        }
        expected
    });

    let mut children: Vec<Child> = (0..WORKERS)
        .map(|n| spawn_worker(n, schema, dir.path()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    for child in &mut children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                for c in &mut children {
                    let _ = c.kill();
                }
                panic!("worker processes did not finish in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "a worker failed: {status}");
    }

    let log = std::fs::read_to_string(dir.path().join("deliveries.log")).unwrap();
    let mut seen = HashSet::new();
    let mut per_worker: HashMap<&str, usize> = HashMap::new();
    for line in log.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 5, "{line:?}");
        let (worker, id, index) = (f[0], f[1].to_owned(), f[2].parse::<usize>().unwrap());
        let (when, expires): (u64, u64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        assert!(when < expires, "delivered after its lease expired: {line}");
        assert!(
            seen.insert((id, index)),
            "delivered twice while every lease was held: {line}"
        );
        *per_worker.entry(worker).or_default() += 1;
    }
    assert_eq!(seen, expected, "every recipient delivered exactly once");
    assert_eq!(seen.len(), MESSAGES * RECIPIENTS);
    assert_eq!(
        per_worker.len(),
        WORKERS,
        "both processes delivered: {per_worker:?}"
    );
    runtime.block_on(async {
        let store = open(&url, schema).await;
        assert!(store.list(SystemClock::now()).await.unwrap().is_empty());
    });
}

/// The worker process of `two_processes_deliver_each_recipient_once`; does
/// nothing when run as an ordinary test.
#[test]
fn worker_process() {
    let Ok(n) = std::env::var(WORKER_VAR) else {
        return;
    };
    let url = std::env::var(URL_VAR).unwrap();
    let schema = std::env::var(WORKER_SCHEMA_VAR).unwrap();
    let dir = std::path::PathBuf::from(std::env::var(WORKER_DIR_VAR).unwrap());

    // Start together: announce, then wait for the other workers.
    std::fs::write(dir.join(format!("ready.{n}")), b"").unwrap();
    let start = Instant::now();
    while (0..WORKERS).any(|w| !dir.join(format!("ready.{w}")).exists()) {
        assert!(start.elapsed() < Duration::from_secs(60), "no partner");
        std::thread::sleep(Duration::from_millis(5));
    }

    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("deliveries.log"))
        .unwrap();
    let log = Arc::new(log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(open(&url, &schema).await);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..2 {
            let (store, log, n) = (Arc::clone(&store), Arc::clone(&log), n.clone());
            tasks.spawn(async move {
                let request = LeaseRequest {
                    max_messages: 3,
                    ttl: Duration::from_secs(120),
                };
                loop {
                    let leases = store.lease(request, SystemClock::now()).await.unwrap();
                    if leases.is_empty() {
                        break;
                    }
                    for lease in leases {
                        for &index in &lease.pending {
                            let now = SystemClock::now();
                            // One write(2) per line, O_APPEND: lines from
                            // both processes never interleave.
                            let line = format!(
                                "{n} {} {index} {} {}\n",
                                lease.id,
                                now.unix_millis(),
                                lease.expires.unix_millis()
                            );
                            (&*log).write_all(line.as_bytes()).unwrap();
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            // Fails (LeaseLost) if the lease was taken over.
                            store
                                .record(&lease, &[delivered(index)], now)
                                .await
                                .unwrap();
                        }
                        store.delete(lease.id).await.unwrap();
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    });
}
