//! The delivery agents against a server we did not write: Postfix's
//! `smtp-sink` (Debian's `postfix` package), started by each test on
//! 127.0.0.1 and told to capture every transaction to a file (`-d`).
//!
//! Without `/usr/sbin/smtp-sink` the tests are skipped, unless
//! `POSTEL_REQUIRE_POSTFIX=1` (set by scripts/test.sh as root), which makes
//! a missing sink a failure.
//!
//! The dump format of the installed smtp-sink (checked against it): one
//! file per transaction, created at MAIL and removed again if the
//! transaction ends before the end of the data; each line ends with LF:
//!
//! ```text
//! X-Client-Addr: 127.0.0.1
//! X-Client-Proto: ESMTP              (or SMTP, LMTP)
//! X-Helo-Args: client.test           (if EHLO/HELO/LHLO came first)
//! X-Mail-Args: <sender@x> SIZE=123   (what followed MAIL FROM:)
//! X-Rcpt-Args: <rcpt@y> NOTIFY=...   (one per RCPT accepted, in order)
//! Received: from client.test ([127.0.0.1])
//! <TAB>by NAME (smtp-sink) with ESMTP id 0123abcd;
//! <TAB>Sun, 29 Nov 2026 03:32:15 +0000 (UTC)
//! the message data
//! ```
//!
//! The data is written as it came off the wire with every CR left out and
//! the first dot of each line dropped (undoing dot-stuffing), up to and
//! including the LF of the final `.` line: for data made of CRLF lines the
//! dump holds the data with LF line ends and one more LF. The file is
//! complete before the reply to the final dot is sent, so a client that
//! has its reply can read it.
#![cfg(feature = "delivery")]

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postel_dns::MemoryResolver;
use postel_queue::deliver::{
    LmtpPolicy, ReportedRecipient, RunReport, SmtpNexthop, SmtpPolicy, Status, TransportTable,
    Worker, WorkerOptions,
};
use postel_queue::dsn::DsnKind;
use postel_queue::schedule::DestinationPolicy;
use postel_queue::{
    Body, Envelope, MemoryStore, MessageInfo, Notify, QueueId, QueueStore, Recipient,
    RecipientStatus, RetryPolicy, Scheduler, Timestamp,
};

use common::{T0, TempDir};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

// ---------------------------------------------------------------------------
// The sink process.

/// A running smtp-sink, killed when dropped, with its dump directory.
struct Sink {
    child: Child,
    port: u16,
    dumps: PathBuf,
    log: PathBuf,
    // Dropped after `drop` killed the process.
    _dir: TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("smtp-sink on port {} said:\n{}", self.port, self.log());
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The user smtp-sink switches to when started as root (it refuses to run
/// as root without `-u`).
fn unprivileged_user() -> &'static str {
    let postfix = fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.starts_with("postfix:")))
        .unwrap_or(false);
    if postfix { "postfix" } else { "nobody" }
}

/// Waits until the sink answers on `port` with its greeting. `Err` if it
/// exited (the port was taken meanwhile, say), or something else answered.
fn wait_ready(child: &mut Child, port: u16, hostname: &str) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("smtp-sink exited: {status}"));
        }
        if let Ok(mut probe) = StdStream::connect_timeout(&addr, Duration::from_millis(500)) {
            probe
                .set_read_timeout(Some(Duration::from_secs(2)))
                .map_err(|e| e.to_string())?;
            let mut greeting = String::new();
            let _ = BufReader::new(&probe).read_line(&mut greeting);
            if !greeting.starts_with(&format!("220 {hostname} ")) {
                return Err(format!("port {port} answered {greeting:?}, not our sink"));
            }
            let _ = probe.write_all(b"QUIT\r\n");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on port {port} after 5 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Sink {
    /// Starts smtp-sink with `options` (besides `-h`, `-d`, `-u`) on a free
    /// port of 127.0.0.1. `None`, after saying so, when smtp-sink is not
    /// installed; a panic instead with `POSTEL_REQUIRE_POSTFIX=1`.
    fn start(name: &str, options: &[&str]) -> Option<Sink> {
        if !Path::new(SMTP_SINK).is_file() {
            if std::env::var("POSTEL_REQUIRE_POSTFIX").as_deref() == Ok("1") {
                panic!(
                    "{SMTP_SINK} is missing and POSTEL_REQUIRE_POSTFIX=1: install Debian's \
                     postfix package (unconfigured is enough)"
                );
            }
            eprintln!(
                "skipping {}: {SMTP_SINK} is missing (Debian's postfix package); set \
                 POSTEL_REQUIRE_POSTFIX=1 to fail instead",
                std::thread::current().name().unwrap_or(name)
            );
            return None;
        }
        static SINKS: AtomicUsize = AtomicUsize::new(0);
        let n = SINKS.fetch_add(1, Ordering::Relaxed);
        let dir = TempDir::new(name);
        let dumps = dir.path().join("dump");
        fs::create_dir(&dumps).unwrap();
        // The sink writes as the user of `-u` when started as root: it must
        // get through the directory (whatever the umask) and write in the
        // dump directory.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&dumps, fs::Permissions::from_mode(0o777)).unwrap();
        let root = fs::metadata(dir.path()).unwrap().uid() == 0;
        let log = dir.path().join("smtp-sink.log");
        // A name of our own in the greeting tells our sink from anything
        // else that might have taken the port.
        let hostname = format!("{}-{n}.sink.test", name.replace('_', "-"));
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let stderr = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            let mut command = Command::new(SMTP_SINK);
            command
                .args(options)
                .arg("-h")
                .arg(&hostname)
                .arg("-d")
                .arg(dumps.join("m."));
            if root {
                command.arg("-u").arg(unprivileged_user());
            }
            let mut child = command
                .arg(format!("127.0.0.1:{port}"))
                .arg("64")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {SMTP_SINK}: {e}"));
            match wait_ready(&mut child, port, &hostname) {
                Ok(()) => {
                    return Some(Sink {
                        child,
                        port,
                        dumps,
                        log,
                        _dir: dir,
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    failures.push(e);
                }
            }
        }
        panic!(
            "smtp-sink did not start: {failures:?}\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `[127.0.0.1]:port`, the SMTP next hop.
    fn nexthop(&self) -> SmtpNexthop {
        SmtpNexthop::parse(&format!("[127.0.0.1]:{}", self.port)).unwrap()
    }

    /// The transactions captured so far, in no particular order.
    fn dumps(&self) -> Vec<Dump> {
        let mut paths: Vec<PathBuf> = fs::read_dir(&self.dumps)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| Dump::parse(&fs::read(p).unwrap()))
            .collect()
    }

    /// The sink's own messages (warnings), shown when a test fails.
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (briefly) until no capture file is left: the sink removes the
    /// file of a transaction that ended before its data, but possibly only
    /// once the client has gone. True if none is left.
    fn no_dumps_left(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if fs::read_dir(&self.dumps).unwrap().next().is_none() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One captured transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dump {
    /// `X-Client-Proto`: SMTP, ESMTP or LMTP.
    proto: String,
    /// `X-Helo-Args`.
    helo: Option<String>,
    /// `X-Mail-Args`: `<sender> PARAM=...`.
    mail: String,
    /// `X-Rcpt-Args`, in order.
    rcpts: Vec<String>,
    /// The message as the sink wrote it (see the module docs).
    data: Vec<u8>,
}

impl Dump {
    fn parse(file: &[u8]) -> Dump {
        let mut dump = Dump {
            proto: String::new(),
            helo: None,
            mail: String::new(),
            rcpts: Vec::new(),
            data: Vec::new(),
        };
        let mut rest = file;
        let mut line = || -> String {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or_else(|| panic!("unterminated record in {file:?}"));
            let l = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 1..];
            l
        };
        loop {
            let l = line();
            let (name, value) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("not a record: {l:?}"));
            match name {
                "X-Client-Addr" => assert_eq!(value, "127.0.0.1"),
                "X-Client-Proto" => dump.proto = value.to_owned(),
                "X-Helo-Args" => dump.helo = Some(value.to_owned()),
                "X-Mail-Args" => dump.mail = value.to_owned(),
                "X-Rcpt-Args" => dump.rcpts.push(value.to_owned()),
                // Three lines, the last of the sink's own.
                "Received" => {
                    for _ in 0..2 {
                        let l = line();
                        assert!(l.starts_with('\t'), "Received: continues with {l:?}");
                    }
                    break;
                }
                other => panic!("unknown record {other:?}"),
            }
        }
        dump.data = rest.to_vec();
        dump
    }

    /// The reverse path, without angle brackets.
    fn sender(&self) -> &str {
        let path = self.mail.split(' ').next().unwrap_or("");
        path.trim_start_matches('<').trim_end_matches('>')
    }

    /// The MAIL parameters after the path.
    fn mail_params(&self) -> Vec<&str> {
        self.mail.split(' ').skip(1).collect()
    }

    /// The forward paths, without angle brackets or parameters.
    fn recipients(&self) -> Vec<&str> {
        self.rcpts
            .iter()
            .map(|r| {
                let path = r.split(' ').next().unwrap_or("");
                path.trim_start_matches('<').trim_end_matches('>')
            })
            .collect()
    }
}

/// Message data (CRLF lines) as the sink dumps it: CRs left out, one LF
/// more (from the final `.` line). Dot-stuffing is undone by the sink, so
/// a dump equal to this shows the stuffing made the round trip.
fn as_dumped(data: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = data.iter().copied().filter(|&b| b != b'\r').collect();
    v.push(b'\n');
    v
}

/// Where two byte strings first differ, for assertion messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let around = |s: &[u8]| {
        let from = at.saturating_sub(20);
        String::from_utf8_lossy(&s[from..(at + 20).min(s.len())]).into_owned()
    };
    format!(
        "lengths {} and {}, first difference at {at}: {:?} vs {:?}",
        a.len(),
        b.len(),
        around(a),
        around(b)
    )
}

// ---------------------------------------------------------------------------
// The worker.

type Clock = Arc<AtomicU64>;

/// The reports the hook was asked for.
type Reports = Arc<Mutex<Vec<(MessageInfo, DsnKind, Vec<ReportedRecipient>)>>>;

type TestWorker =
    Worker<MemoryStore, MemoryResolver, Box<dyn Fn() -> Timestamp + Send + Sync + 'static>>;

/// A worker over a memory store, with a manual clock from T0, no DNS, and
/// a report hook that records every report.
struct Harness {
    store: Arc<MemoryStore>,
    clock: Clock,
    worker: TestWorker,
    reports: Reports,
}

impl Harness {
    fn new(table: TransportTable) -> Harness {
        let store = Arc::new(MemoryStore::new());
        let clock: Clock = Arc::new(AtomicU64::new(T0.unix_millis()));
        let c = Arc::clone(&clock);
        let now: Box<dyn Fn() -> Timestamp + Send + Sync> =
            Box::new(move || Timestamp::from_unix_millis(c.load(Ordering::SeqCst)));
        let reports: Reports = Arc::default();
        let r = Arc::clone(&reports);
        let hook = move |info: &MessageInfo, kind: DsnKind, rcpts: &[ReportedRecipient]| {
            r.lock().unwrap().push((info.clone(), kind, rcpts.to_vec()));
        };
        let options = WorkerOptions {
            smtp: SmtpPolicy {
                hello_name: "client.test".into(),
                connect_timeout: Duration::from_secs(5),
                ..SmtpPolicy::default()
            },
            lmtp: LmtpPolicy {
                hello_name: "client.test".into(),
                connect_timeout: Duration::from_secs(5),
                ..LmtpPolicy::default()
            },
            seed: 7,
            ..WorkerOptions::default()
        };
        let scheduler =
            Scheduler::new(RetryPolicy::default(), DestinationPolicy::default()).unwrap();
        let worker = Worker::new(
            Arc::clone(&store),
            Arc::new(MemoryResolver::new()),
            now,
            table,
            scheduler,
            options,
        )
        .unwrap()
        .with_report_hook(Arc::new(hook));
        Harness {
            store,
            clock,
            worker,
            reports,
        }
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.clock.load(Ordering::SeqCst))
    }

    fn advance(&self, secs: u64) {
        self.clock.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    async fn enqueue(&self, envelope: Envelope, data: &[u8]) -> QueueId {
        self.store
            .enqueue(envelope, data.to_vec().into(), self.now())
            .await
            .unwrap()
    }

    /// One pass, which must not report errors.
    async fn run(&mut self) -> RunReport {
        let report = self.worker.run_once().await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        report
    }

    async fn queued(&self) -> Vec<MessageInfo> {
        self.store.list(self.now()).await.unwrap()
    }

    fn reports(&self) -> Vec<(MessageInfo, DsnKind, Vec<ReportedRecipient>)> {
        self.reports.lock().unwrap().clone()
    }
}

fn envelope(sender: &str, recipients: &[&str]) -> Envelope {
    Envelope::new(sender, recipients.iter().map(|r| Recipient::new(*r)), T0)
}

fn simple_message(subject: &str) -> Vec<u8> {
    format!("From: <s@origin.test>\r\nSubject: {subject}\r\n\r\nHello.\r\n").into_bytes()
}

/// Appends one line so that `data` ends exactly at `len` (the line's CRLF
/// included).
fn pad_to(data: &mut Vec<u8>, len: usize) {
    while len - data.len() > 200 {
        data.extend_from_slice(&[b'f'; 70]);
        data.extend_from_slice(b"\r\n");
    }
    let filler = len - data.len() - 2;
    assert!(filler >= 1);
    data.extend(std::iter::repeat_n(b'p', filler));
    data.extend_from_slice(b"\r\n");
    assert_eq!(data.len(), len);
}

/// Message `i` of the bulk test: distinct headers and body, with lines
/// starting with dots in some, 8-bit text in others, and one of about
/// 200 KB whose dot lines sit on the 64 KiB boundaries where the client
/// cuts the data into chunks.
fn bulk_message(i: usize, sender: &str) -> Vec<u8> {
    let mut d = format!(
        "From: <{sender}>\r\nTo: <undisclosed>\r\nSubject: message {i}\r\n\
         Message-ID: <{i}.bulk@origin.test>\r\n\r\nBody of message {i}.\r\n"
    )
    .into_bytes();
    if i % 4 == 1 {
        d.extend_from_slice(b".a line that starts with a dot\r\n..and one with two\r\n.\r\n");
        d.extend_from_slice(b"the line before this one was a single dot\r\n");
    }
    if i % 7 == 3 {
        d.extend_from_slice("caf\u{e9}, na\u{ef}ve, \u{2713}\r\n".as_bytes());
        d.extend_from_slice(b"not even UTF-8: \xff\xfe\x80\r\n");
    }
    if i == 10 {
        // The 64 KiB chunks of the client: a dot line right at the first
        // boundary, a CRLF cut by the second, a lone dot at the third.
        pad_to(&mut d, 64 * 1024);
        d.extend_from_slice(b".dot line at the first chunk boundary\r\n");
        pad_to(&mut d, 2 * 64 * 1024 + 1);
        d.extend_from_slice(b".dot line after a CRLF cut in two\r\n");
        pad_to(&mut d, 3 * 64 * 1024);
        d.extend_from_slice(b".\r\n");
        d.extend_from_slice(b"..\r\n");
    }
    d.extend_from_slice(format!("-- \r\nend of message {i}\r\n").as_bytes());
    d
}

// ---------------------------------------------------------------------------

/// Thirty messages through one relayhost (smtp-sink with PIPELINING, taking
/// at most two sessions at once, the others waiting in its listen queue):
/// every message arrives exactly once, with its sender (the null sender
/// too), its recipients in order, BODY=8BITMIME where the envelope has it
/// (and no SIZE=, which the sink does not offer), and the data byte for byte (dot-stuffing, 8-bit text, 64 KiB chunk
/// boundaries); every recipient is recorded delivered and the store ends
/// empty.
#[tokio::test]
async fn smtp_sink_takes_every_message() {
    let Some(sink) = Sink::start("bulk", &["-m", "2"]) else {
        return;
    };
    let mut h = Harness::new(TransportTable::with_relayhost(sink.nexthop()));
    struct Sent {
        id: QueueId,
        sender: String,
        recipients: Vec<String>,
        eight_bit: bool,
        data: Vec<u8>,
    }
    let mut sent = Vec::new();
    for i in 0..30 {
        // The last one is a bounce: the null sender.
        let sender = if i == 29 {
            String::new()
        } else {
            format!("sender{i}@origin{}.test", i % 3)
        };
        let recipients: Vec<String> = (0..1 + i % 3)
            .map(|k| format!("rcpt{i}.{k}@dest{k}.test"))
            .collect();
        let mut env = Envelope::new(sender.clone(), recipients.iter().map(Recipient::new), T0);
        let eight_bit = i % 7 == 3;
        if eight_bit {
            env.body = Some(Body::EightBitMime);
        }
        let data = bulk_message(i, &sender);
        let id = h.enqueue(env, &data).await;
        sent.push(Sent {
            id,
            sender,
            recipients,
            eight_bit,
            data,
        });
    }
    let total_recipients: usize = sent.iter().map(|s| s.recipients.len()).sum();
    assert_eq!(total_recipients, 60);

    let started = Instant::now();
    let mut reports = Vec::new();
    while !h.queued().await.is_empty() {
        assert!(reports.len() < 3, "still queued after 3 passes");
        reports.push(h.run().await);
    }
    eprintln!("30 messages in {:?}", started.elapsed());
    assert_eq!(reports.len(), 1, "one pass is enough");
    let report = &reports[0];
    assert_eq!(report.leased, 30);
    assert_eq!((report.deleted, report.deferred), (30, 0));
    // 8 messages per connection.
    assert_eq!(report.connections, 4);
    assert_eq!(report.count(Status::Delivered), 60, "{:?}", report.events);
    let key = format!("smtp:[127.0.0.1]:{}", sink.port);
    for s in &sent {
        for r in &s.recipients {
            let events: Vec<_> = report
                .events
                .iter()
                .filter(|e| e.id == s.id && &e.address == r)
                .collect();
            assert_eq!(events.len(), 1, "{r}");
            assert_eq!(events[0].destination.as_deref(), Some(&*key));
            assert!(events[0].reply.starts_with("250 2.0.0 "), "{:?}", events[0]);
        }
    }
    assert!(h.reports().is_empty());

    let dumps = sink.dumps();
    assert_eq!(dumps.len(), 30, "one transaction per message");
    for (i, s) in sent.iter().enumerate() {
        let expected = as_dumped(&s.data);
        let found: Vec<&Dump> = dumps.iter().filter(|d| d.data == expected).collect();
        if found.len() != 1 {
            let subject = format!("Subject: message {i}\n");
            let near = dumps.iter().find(|d| {
                d.data
                    .windows(subject.len())
                    .any(|w| w == subject.as_bytes())
            });
            panic!(
                "message {i} arrived {} times intact; {}",
                found.len(),
                near.map_or("not at all".to_owned(), |d| first_difference(
                    &d.data, &expected
                ))
            );
        }
        let d = found[0];
        assert_eq!(d.proto, "ESMTP");
        assert_eq!(d.helo.as_deref(), Some("client.test"));
        assert_eq!(d.sender(), s.sender, "message {i}");
        assert_eq!(d.recipients(), s.recipients, "message {i}");
        // The sink offers 8BITMIME but not SIZE: BODY= where the
        // envelope has it, SIZE= never.
        let want: &[&str] = if s.eight_bit { &["BODY=8BITMIME"] } else { &[] };
        assert_eq!(d.mail_params(), want, "message {i}: {}", d.mail);
    }
    // The big one is laid out as meant: a dot line starts each of the
    // first and the third chunk boundaries, and the second cuts a CRLF
    // before one.
    let big = &sent[10].data;
    const K64: usize = 64 * 1024;
    assert_eq!(&big[K64 - 2..K64 + 1], b"\r\n.");
    assert_eq!(&big[2 * K64 - 1..2 * K64 + 2], b"\r\n.");
    assert_eq!(&big[3 * K64 - 2..3 * K64 + 3], b"\r\n.\r\n");
}

/// LMTP to `smtp-sink -L`: one reply per recipient after the data
/// (the sink's `250 2.2.0 Ok`, not SMTP's single `250 2.0.0`), each
/// recipient recorded delivered with it, the messages captured over LHLO,
/// and the store empty.
#[tokio::test]
async fn lmtp_to_smtp_sink() {
    let Some(sink) = Sink::start("lmtp", &["-L"]) else {
        return;
    };
    let mut table = TransportTable::new();
    table
        .insert_str("x.test", &format!("lmtp:127.0.0.1:{}", sink.port))
        .unwrap();
    let mut h = Harness::new(table);
    let mut sent = Vec::new();
    for i in 0..6 {
        let rcpts: Vec<String> = (0..2 + i % 2)
            .map(|k| format!("box{i}.{k}@x.test"))
            .collect();
        let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
        let data = simple_message(&format!("lmtp {i}"));
        let id = h.enqueue(envelope("s@origin.test", &refs), &data).await;
        sent.push((id, rcpts, data));
    }
    let report = h.run().await;
    assert_eq!((report.leased, report.deleted, report.deferred), (6, 6, 0));
    assert_eq!(report.connections, 1);
    assert_eq!(report.events.len(), 15);
    let key = format!("lmtp:inet:[127.0.0.1]:{}", sink.port);
    for e in &report.events {
        assert_eq!(e.status, Status::Delivered, "{e:?}");
        assert_eq!(e.reply, "250 2.2.0 Ok", "{e:?}");
        assert_eq!(e.destination.as_deref(), Some(&*key));
    }
    assert!(h.queued().await.is_empty());
    assert!(h.reports().is_empty());

    let dumps = sink.dumps();
    assert_eq!(dumps.len(), 6);
    for (id, rcpts, data) in &sent {
        let d = dumps
            .iter()
            .find(|d| d.data == as_dumped(data))
            .unwrap_or_else(|| panic!("{id} not captured"));
        assert_eq!(d.proto, "LMTP");
        assert_eq!(d.helo.as_deref(), Some("client.test"));
        assert_eq!(d.sender(), "s@origin.test");
        assert_eq!(d.recipients(), *rcpts);
        for r in rcpts {
            let e = report
                .events
                .iter()
                .filter(|e| e.id == *id && &e.address == r)
                .count();
            assert_eq!(e, 1, "{r}");
        }
    }
}

/// `smtp-sink -f rcpt` answers every RCPT with a 5xx: the recipients fail,
/// the hook gets one failure report per message with exactly those
/// recipients and the sink's reply, and the messages are removed without
/// any data having been sent.
#[tokio::test]
async fn hard_rejects_fail_with_a_report() {
    let Some(sink) = Sink::start("hard", &["-f", "rcpt"]) else {
        return;
    };
    let mut h = Harness::new(TransportTable::with_relayhost(sink.nexthop()));
    let two = h
        .enqueue(
            envelope("s@origin.test", &["a@x.test", "b@y.test"]),
            &simple_message("two"),
        )
        .await;
    let one = h
        .enqueue(
            envelope("s@origin.test", &["c@x.test"]),
            &simple_message("one"),
        )
        .await;
    let report = h.run().await;
    assert_eq!(report.count(Status::Failed), 3, "{:?}", report.events);
    assert_eq!((report.deleted, report.deferred), (2, 0));
    for e in &report.events {
        assert_eq!(e.reply, "500 5.3.0 Error: command failed");
    }
    assert!(h.queued().await.is_empty());

    let mut reports = h.reports();
    reports.sort_by_key(|r| r.2.len());
    let summary: Vec<(QueueId, DsnKind, Vec<&str>)> = reports
        .iter()
        .map(|(info, kind, r)| {
            (
                info.id,
                *kind,
                r.iter().map(|x| x.address.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (one, DsnKind::Failure, vec!["c@x.test"]),
            (two, DsnKind::Failure, vec!["a@x.test", "b@y.test"]),
        ]
    );
    let remote = format!("127.0.0.1]:{}", sink.port);
    for (info, _, rcpts) in &reports {
        for r in rcpts {
            assert_eq!(r.reply, "500 5.3.0 Error: command failed");
            assert_eq!(r.expired, None);
            assert!(
                r.remote.as_deref().is_some_and(|x| x.ends_with(&remote)),
                "{r:?}"
            );
            assert_eq!(
                info.state.recipients[r.index].status,
                RecipientStatus::Failed
            );
        }
    }
    assert!(sink.no_dumps_left(), "a transaction got to its data");
}

/// A 4xx from smtp-sink (`-r`) to RCPT, to DATA, or to the final dot:
/// every recipient is deferred with the sink's reply, the message stays
/// queued after one attempt, due again in 300 s (the default retry
/// policy), no report is asked for, and the destination is not backed off
/// (a refused transaction is not a failing destination).
#[tokio::test]
async fn soft_rejects_defer() {
    for command in ["rcpt", "data", "."] {
        let Some(sink) = Sink::start("soft", &["-r", command]) else {
            return;
        };
        let mut h = Harness::new(TransportTable::with_relayhost(sink.nexthop()));
        let data = simple_message(&format!("soft {command}"));
        let id = h
            .enqueue(envelope("s@origin.test", &["a@x.test", "b@y.test"]), &data)
            .await;
        let report = h.run().await;
        assert_eq!(
            report.count(Status::Deferred),
            2,
            "{command}: {:?}",
            report.events
        );
        assert_eq!((report.deleted, report.deferred), (0, 1), "{command}");
        for e in &report.events {
            assert_eq!(e.reply, "450 4.3.0 Error: command failed", "{command}");
        }
        let info = h.store.inspect(id, h.now()).await.unwrap();
        assert_eq!(info.state.attempts, 1, "{command}");
        assert_eq!(info.state.next_attempt, common::at(300), "{command}");
        for r in &info.state.recipients {
            assert_eq!(r.status, RecipientStatus::Pending);
            assert_eq!(
                r.last_reply.as_deref(),
                Some("450 4.3.0 Error: command failed")
            );
        }
        assert!(h.reports().is_empty(), "{command}");
        let key = format!("smtp:[127.0.0.1]:{}", sink.port);
        assert_eq!(h.worker.scheduler().backed_off_until(&key, h.now()), None);
        // Not due before then.
        assert_eq!(h.run().await.leased, 0);
        if command == "." {
            // The whole message went over: the sink kept it and said 450.
            let dumps = sink.dumps();
            assert_eq!(dumps.len(), 1);
            assert_eq!(dumps[0].data, as_dumped(&data));
        } else {
            assert!(sink.no_dumps_left(), "{command}: the data went over");
        }
    }
}

/// `smtp-sink -Q mail` says 421 and hangs up at MAIL: the recipients are
/// deferred with that reply, and the third such pass in a row (each after
/// the message's retry time) backs the destination off as a whole.
#[tokio::test]
async fn closing_421_counts_against_the_destination() {
    let Some(sink) = Sink::start("closing", &["-Q", "mail"]) else {
        return;
    };
    let mut h = Harness::new(TransportTable::with_relayhost(sink.nexthop()));
    let key = format!("smtp:[127.0.0.1]:{}", sink.port);
    let id = h
        .enqueue(
            envelope("s@origin.test", &["a@x.test", "b@y.test"]),
            &simple_message("closing"),
        )
        .await;
    for attempt in 1..=3u64 {
        let report = h.run().await;
        assert_eq!(report.leased, 1, "attempt {attempt}");
        assert_eq!(report.connections, 1, "attempt {attempt}");
        assert_eq!(
            report.count(Status::Deferred),
            2,
            "attempt {attempt}: {:?}",
            report.events
        );
        for e in &report.events {
            assert!(e.reply.starts_with("421 4.4.2 "), "{}", e.reply);
            assert!(
                e.reply.contains("421 4.0.0 Server closing connection"),
                "{}",
                e.reply
            );
        }
        let info = h.store.inspect(id, h.now()).await.unwrap();
        assert_eq!(u64::from(info.state.attempts), attempt);
        assert_eq!(
            h.worker
                .scheduler()
                .backed_off_until(&key, h.now())
                .is_some(),
            attempt == 3,
            "attempt {attempt}"
        );
        // Due again after 300, 600, 1200 s.
        h.advance(300 << (attempt - 1));
    }
    assert!(h.reports().is_empty());
    assert!(sink.dumps().is_empty());
}

/// Success reports (NOTIFY=SUCCESS) through smtp-sink: a next hop without
/// DSN (`-N`) is not given NOTIFY, so the queue reports `relayed` itself,
/// for the recipient that asked only; a next hop with DSN is given NOTIFY
/// (visible in the capture) and no report is made for it.
#[tokio::test]
async fn no_dsn_next_hop_gets_relayed_reports() {
    let Some(plain) = Sink::start("nodsn", &["-N"]) else {
        return;
    };
    let Some(dsn) = Sink::start("dsn", &[]) else {
        return;
    };
    let mut table = TransportTable::new();
    table
        .insert_str("plain.test", &format!("smtp:[127.0.0.1]:{}", plain.port))
        .unwrap()
        .insert_str("dsn.test", &format!("smtp:[127.0.0.1]:{}", dsn.port))
        .unwrap();
    let mut h = Harness::new(table);
    let success = Notify {
        success: true,
        failure: true,
        delay: false,
    };
    let with_notify = |address: &str| Recipient {
        notify: Some(success),
        ..Recipient::new(address)
    };
    let env = Envelope::new(
        "s@origin.test",
        [
            with_notify("a@plain.test"),
            Recipient::new("b@plain.test"),
            with_notify("c@dsn.test"),
            Recipient::new("d@dsn.test"),
        ],
        T0,
    );
    let data = simple_message("success");
    let id = h.enqueue(env, &data).await;
    let report = h.run().await;
    assert_eq!(report.count(Status::Delivered), 4, "{:?}", report.events);
    assert_eq!(report.deleted, 1);

    let reports = h.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let (info, kind, rcpts) = &reports[0];
    assert_eq!((info.id, *kind), (id, DsnKind::Relayed));
    assert_eq!(
        rcpts.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(),
        ["a@plain.test"]
    );
    assert!(rcpts[0].reply.starts_with("250 2.0.0 "), "{:?}", rcpts[0]);
    let remote = format!("127.0.0.1]:{}", plain.port);
    assert!(
        rcpts[0]
            .remote
            .as_deref()
            .is_some_and(|r| r.ends_with(&remote)),
        "{:?}",
        rcpts[0]
    );

    // What each next hop was told.
    let p = plain.dumps();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].rcpts, ["<a@plain.test>", "<b@plain.test>"]);
    assert_eq!(p[0].data, as_dumped(&data));
    let d = dsn.dumps();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].recipients(), ["c@dsn.test", "d@dsn.test"]);
    assert!(
        d[0].rcpts[0].contains(" NOTIFY=SUCCESS,FAILURE"),
        "{:?}",
        d[0].rcpts
    );
    assert!(!d[0].rcpts[1].contains("NOTIFY="), "{:?}", d[0].rcpts);
}
