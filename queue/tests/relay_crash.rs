//! The relay example as a child process, killed with SIGKILL at seeded
//! random moments and restarted on the same spool: every message that got
//! `250` must reach the sink at least once (duplicates are allowed, counted
//! and printed). And with the relayhost down, mail waits and goes out once
//! it is back.
//!
//! Finding the binary: Cargo gives tests `CARGO_BIN_EXE_*` for binaries
//! only, not for examples. The test runs `$CARGO build -p postel-queue
//! --example relay --features delivery` (a no-op when `cargo test` already
//! built the examples, and the only way to be sure the binary is current
//! when the test is run alone with `--test relay_crash`), with the target
//! directory and profile derived from the test's own path
//! (`<target>/<profile>/deps/relay_crash-*` → `<target>/<profile>/examples/relay`),
//! and without the variables Cargo sets for running tests (which would make
//! some build scripts rerun). A cross build (`--target`) is not supported.
//! Without `$CARGO` (the test binary run by hand) it uses whatever binary
//! is there.
#![cfg(all(feature = "delivery", unix))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postel_queue::deliver::{RandomSource, SplitMix64};
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::tokio_io::{ServerHandler, serve_connection};

use common::TempDir;

fn relay_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(build_relay).clone()
}

fn build_relay() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps/<test>")
        .to_path_buf();
    let bin = profile_dir
        .join("examples")
        .join(format!("relay{}", std::env::consts::EXE_SUFFIX));
    if let Ok(cargo) = std::env::var("CARGO") {
        let target_dir = profile_dir.parent().expect("<target>");
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "-p",
            "postel-queue",
            "--example",
            "relay",
            "--features",
            "delivery",
        ])
        .env("CARGO_TARGET_DIR", target_dir);
        // Drop what Cargo set for running this test (not the caller's own
        // CARGO_* configuration): build scripts that watch these variables
        // (ring watches CARGO_MANIFEST_DIR) would otherwise rebuild, and the
        // next plain `cargo test` would rebuild them back.
        for (name, _) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            let set_by_cargo_for_tests = [
                "CARGO_PKG_",
                "CARGO_BIN_EXE_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .iter()
            .any(|p| name.starts_with(p));
            if set_by_cargo_for_tests {
                cmd.env_remove(name);
            }
        }
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
            None => {}
        }
        let status = cmd.status().expect("run cargo build for the relay example");
        assert!(status.success(), "building the relay example failed");
    }
    assert!(bin.exists(), "no relay example at {}", bin.display());
    bin
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Relay {
    child: Child,
}

impl Relay {
    fn start(bin: &Path, spool: &Path, port: u16, relayhost: u16, log: &Path) -> Relay {
        Relay::start_with(bin, spool, port, relayhost, log, &[])
    }

    /// With more arguments (`--journal`).
    fn start_with(
        bin: &Path,
        spool: &Path,
        port: u16,
        relayhost: u16,
        log: &Path,
        extra: &[&str],
    ) -> Relay {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(bin)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--spool",
                &spool.display().to_string(),
                "--relayhost",
                &format!("[127.0.0.1]:{relayhost}"),
                "--min-backoff",
                "1",
                "--max-backoff",
                "2",
                "--connect-timeout",
                "2",
                "--poll-ms",
                "100",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start the relay");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end so the relay never writes into a closed pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the relay did not start listening");
        assert!(line.starts_with("relay: listening on"), "{line}");
        Relay { child }
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

/// The sink: records the `X-Seq` and `X-Try` of every message, a few milliseconds
/// after it arrives, before answering (so that kills land mid-delivery).
struct Sink {
    seqs: Arc<Mutex<Vec<(u64, u64)>>>,
    message: Vec<u8>,
}

impl ServerHandler for Sink {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        match event {
            ServerEvent::MessageStart => self.message.clear(),
            ServerEvent::MessageData(d) => self.message.extend_from_slice(&d),
            ServerEvent::MessageEnd { .. } => {
                tokio::time::sleep(Duration::from_millis(3)).await;
                let text = String::from_utf8_lossy(&self.message);
                let header = |name: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|s| s.trim().parse::<u64>().ok())
                };
                if let Some(seq) = header("X-Seq: ") {
                    let attempt = header("X-Try: ").unwrap_or(0);
                    self.seqs.lock().unwrap().push((seq, attempt));
                }
                session.accept().map_err(std::io::Error::other)?;
            }
            e if e.needs_decision() => session.accept().map_err(std::io::Error::other)?,
            _ => {}
        }
        Ok(())
    }
}

fn start_sink(rt: &tokio::runtime::Runtime, port: u16) -> Arc<Mutex<Vec<(u64, u64)>>> {
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seqs);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .expect("bind the sink");
    let config = Arc::new(ServerConfig::new("sink.test"));
    rt.spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let mut sink = Sink {
                seqs: Arc::clone(&s),
                message: Vec::new(),
            };
            let info = ConnectionInfo {
                peer: Some(peer),
                local: None,
            };
            let session = ServerSession::new(Arc::clone(&config), info, std::time::Instant::now());
            tokio::spawn(async move {
                let _ = serve_connection(stream, session, &mut sink, None).await;
            });
        }
    });
    seqs
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<u16> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad reply {line:?}")))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

/// Sends message `seq` (the client's `attempt`th try at it) with a plain
/// SMTP dialogue; true if it got 250.
fn send_one(addr: SocketAddr, seq: u64, attempt: u64) -> std::io::Result<bool> {
    let mut w = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    w.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(w.try_clone()?);
    let mut step = |cmd: &[u8], want: u16, r: &mut BufReader<TcpStream>| -> std::io::Result<bool> {
        if !cmd.is_empty() {
            w.write_all(cmd)?;
        }
        Ok(read_reply(r)? == want)
    };
    if !(step(b"", 220, &mut r)?
        && step(b"EHLO client.test\r\n", 250, &mut r)?
        && step(b"MAIL FROM:<s@origin.test>\r\n", 250, &mut r)?
        && step(b"RCPT TO:<u@dest.test>\r\n", 250, &mut r)?
        && step(b"DATA\r\n", 354, &mut r)?)
    {
        return Ok(false);
    }
    let body = format!(
        "X-Seq: {seq}\r\nX-Try: {attempt}\r\nSubject: crash test {seq}\r\n\r\nbody of {seq}\r\n.\r\n"
    );
    let acked = step(body.as_bytes(), 250, &mut r)?;
    let _ = step(b"QUIT\r\n", 221, &mut r);
    Ok(acked)
}

fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "msg"))
            .count()
    })
}

/// Messages still queued in a journal (the relay must not be running).
fn journaled(spool: &Path) -> usize {
    let (store, report) = postel_queue::JournalStore::open(spool, Default::default()).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let rt = runtime();
    rt.block_on(postel_queue::QueueStore::list(
        &store,
        postel_queue::Timestamp::from_unix_secs(0),
    ))
    .unwrap()
    .len()
}

#[test]
fn acknowledged_mail_survives_sigkill_at_random_moments() {
    survives_sigkill(&[]);
}

/// The same with the queue in a journal of 8 KiB segments: kills land in
/// the middle of appends, group commits, segment rotation, cleaning and
/// removal.
#[test]
fn acknowledged_mail_survives_sigkill_with_the_journal() {
    survives_sigkill(&["--journal", "--journal-segment-size", "8192"]);
}

fn survives_sigkill(extra: &[&str]) {
    const MESSAGES: u64 = 100;
    const KILLS: usize = 12;
    let bin = relay_binary();
    let rt = runtime();
    let sink_port = free_port();
    let delivered = start_sink(&rt, sink_port);
    let dir = TempDir::new("relay-crash");
    let spool = dir.path().join("spool");
    let log = dir.path().join("relay.log");
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let journal = !extra.is_empty();
    let mut relay = Relay::start_with(&bin, &spool, port, sink_port, &log, extra);

    let acked = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let acked = Arc::clone(&acked);
        std::thread::spawn(move || {
            let mut retries = 0u64;
            for seq in 0..MESSAGES {
                let mut attempt = 0;
                loop {
                    match send_one(addr, seq, attempt) {
                        Ok(true) => break,
                        _ => {
                            retries += 1;
                            attempt += 1;
                            assert!(retries < 5000, "the relay never came back");
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                acked.lock().unwrap().push(seq);
                std::thread::sleep(Duration::from_millis(5));
            }
            retries
        })
    };

    let mut rng = SplitMix64::new(0x5eed_2024);
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(80 + rng.below(420) as u64));
        relay.kill();
        std::thread::sleep(Duration::from_millis(rng.below(100) as u64));
        relay = Relay::start_with(&bin, &spool, port, sink_port, &log, extra);
    }
    let retries = sender.join().expect("sender");
    let acked: BTreeSet<u64> = acked.lock().unwrap().iter().copied().collect();
    let all_in = wait_until(Duration::from_secs(60), || {
        let got: BTreeSet<u64> = delivered.lock().unwrap().iter().map(|d| d.0).collect();
        acked.is_subset(&got)
    });
    // Everything finished is deleted from the spool. A journal can only be
    // read with the relay stopped: stop it, look, and start it again
    // until it is empty.
    let drained = if journal {
        let mut left = usize::MAX;
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(500));
            relay.kill();
            left = journaled(&spool);
            relay = Relay::start_with(&bin, &spool, port, sink_port, &log, extra);
            if left == 0 {
                break;
            }
        }
        left == 0
    } else {
        wait_until(Duration::from_secs(20), || spooled(&spool) == 0)
    };
    relay.kill();

    // Per (message, client try): more than one arrival is the relay
    // delivering a queued copy again; several tries of one message arriving
    // is the client resending after a kill cut off its 250.
    let mut copies: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for d in delivered.lock().unwrap().iter() {
        *copies.entry(*d).or_default() += 1;
    }
    let arrived: BTreeSet<u64> = copies.keys().map(|k| k.0).collect();
    let missing: Vec<u64> = acked.difference(&arrived).copied().collect();
    let redelivered: usize = copies.values().map(|c| c - 1).sum();
    let resent = copies.len() - arrived.len();
    println!(
        "relay_crash: {} acknowledged, {} arrivals: {redelivered} redelivered by the relay, \
         {resent} extra copies the client resent; {KILLS} SIGKILLs, {retries} client retries, \
         missing {missing:?}",
        acked.len(),
        copies.values().sum::<usize>(),
    );
    if !all_in || !drained {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("relay log (last lines, newest first):\n{}", tail.join("\n"));
        for e in std::fs::read_dir(&spool).into_iter().flatten().flatten() {
            let text = std::fs::read(e.path()).unwrap_or_default();
            eprintln!(
                "{}:\n{}",
                e.path().display(),
                String::from_utf8_lossy(&text)
            );
        }
    }
    assert_eq!(acked.len() as u64, MESSAGES);
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:?}"
    );
    assert!(drained, "message(s) left in the queue");
}

#[test]
fn relayhost_down_defers_then_delivers_when_it_comes_back() {
    let bin = relay_binary();
    let rt = runtime();
    let dir = TempDir::new("relay-down");
    let spool = dir.path().join("spool");
    let log = dir.path().join("relay.log");
    let sink_port = free_port(); // nothing listens there yet
    let port = free_port();
    let relay = Relay::start(&bin, &spool, port, sink_port, &log);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for seq in 0..3 {
        assert!(
            send_one(addr, seq, 0).unwrap(),
            "message {seq} acknowledged"
        );
    }
    // Retries every 1-2 s, all refused.
    let deferred = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("deferred: 451 4.4.1 connect to")
            .count()
            >= 6
    });
    assert!(
        deferred,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(spooled(&spool), 3);

    let delivered = start_sink(&rt, sink_port);
    let arrived = wait_until(Duration::from_secs(30), || {
        delivered.lock().unwrap().len() >= 3
    });
    let drained = wait_until(Duration::from_secs(10), || spooled(&spool) == 0);
    // The relay logs a pass's outcomes after the pass, so after the delete.
    let logged = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("delivered: 250")
    });
    relay.kill();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(arrived, "{log}");
    let mut got: Vec<u64> = delivered.lock().unwrap().iter().map(|d| d.0).collect();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, [0, 1, 2]);
    assert!(drained, "{log}");
    assert!(logged, "{log}");
}

/// A sink that refuses `nobody@...` at RCPT with 550 5.1.1 and keeps every
/// message it accepts, whole.
struct RefusingSink {
    kept: Arc<Mutex<Vec<Vec<u8>>>>,
    message: Vec<u8>,
}

impl ServerHandler for RefusingSink {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        match event {
            ServerEvent::RcptTo { to, .. } if to.to_string().contains("nobody@") => session
                .reject(postel_smtp::Reply::with_status(
                    550,
                    (5, 1, 1),
                    "no such user here",
                ))
                .map_err(std::io::Error::other)?,
            ServerEvent::MessageStart => self.message.clear(),
            ServerEvent::MessageData(d) => self.message.extend_from_slice(&d),
            ServerEvent::MessageEnd { .. } => {
                self.kept
                    .lock()
                    .unwrap()
                    .push(std::mem::take(&mut self.message));
                session.accept().map_err(std::io::Error::other)?;
            }
            e if e.needs_decision() => session.accept().map_err(std::io::Error::other)?,
            _ => {}
        }
        Ok(())
    }
}

/// A recipient refused with 5xx gets its sender an RFC 3464 report, queued
/// by the relay from the null sender and delivered like any message; the
/// other recipient gets the message.
#[test]
fn refused_recipient_gets_its_sender_a_failure_report() {
    let bin = relay_binary();
    let rt = runtime();
    let dir = TempDir::new("relay-bounce");
    let spool = dir.path().join("spool");
    let log = dir.path().join("relay.log");
    let sink_port = free_port();
    let kept = Arc::new(Mutex::new(Vec::new()));
    {
        let kept = Arc::clone(&kept);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", sink_port)))
            .expect("bind the sink");
        let config = Arc::new(ServerConfig::new("sink.test"));
        rt.spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let mut sink = RefusingSink {
                    kept: Arc::clone(&kept),
                    message: Vec::new(),
                };
                let info = ConnectionInfo {
                    peer: Some(peer),
                    local: None,
                };
                let session =
                    ServerSession::new(Arc::clone(&config), info, std::time::Instant::now());
                tokio::spawn(async move {
                    let _ = serve_connection(stream, session, &mut sink, None).await;
                });
            }
        });
    }
    let port = free_port();
    let relay = Relay::start(&bin, &spool, port, sink_port, &log);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut w = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    assert_eq!(read_reply(&mut r).unwrap(), 220);
    for (cmd, want) in [
        (&b"EHLO client.test\r\n"[..], 250),
        (b"MAIL FROM:<sender@origin.test>\r\n", 250),
        (b"RCPT TO:<someone@dest.test>\r\n", 250),
        (b"RCPT TO:<nobody@dest.test>\r\n", 250),
        (b"DATA\r\n", 354),
        (
            b"Subject: will half bounce\r\nMessage-ID: <hb@origin.test>\r\n\r\nhello\r\n.\r\n",
            250,
        ),
        (b"QUIT\r\n", 221),
    ] {
        w.write_all(cmd).unwrap();
        assert_eq!(
            read_reply(&mut r).unwrap(),
            want,
            "{}",
            String::from_utf8_lossy(cmd)
        );
    }
    // The message, then the report about nobody@.
    let both = wait_until(Duration::from_secs(30), || kept.lock().unwrap().len() >= 2);
    let drained = wait_until(Duration::from_secs(10), || spooled(&spool) == 0);
    relay.kill();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(both, "{log}");
    assert!(drained, "{log}");
    let kept = kept.lock().unwrap();
    let report = kept
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .find(|m| m.contains("multipart/report"))
        .unwrap_or_else(|| panic!("no report among {kept:?}\n{log}"));
    assert!(report.contains("report-type=delivery-status"), "{report}");
    assert!(
        report.contains("Final-Recipient: rfc822; nobody@dest.test"),
        "{report}"
    );
    assert!(report.contains("Action: failed"), "{report}");
    assert!(report.contains("Status: 5.1.1"), "{report}");
    assert!(report.contains("no such user here"), "{report}");
    assert!(
        !report.contains("Final-Recipient: rfc822; someone@dest.test"),
        "{report}"
    );
    // The original comes back with it (RET absent, a small failure: whole).
    assert!(report.contains("Message-ID: <hb@origin.test>"), "{report}");
}
