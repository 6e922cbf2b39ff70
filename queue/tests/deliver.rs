//! The delivery agents against in-process SMTP and LMTP servers on
//! 127.0.0.1 (postel-smtp's server session), with DNS from a
//! `MemoryResolver` and time from a manual clock.
#![cfg(feature = "delivery")]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postel_dns::{Answer, MemoryResolver, Record, RecordType};
use postel_queue::deliver::{
    RandomSource, ReportedRecipient, ResolveOptions, RunReport, SmtpNexthop, SmtpPolicy,
    SplitMix64, Status, TlsPolicy, TransportTable, Worker, WorkerOptions, route::resolve_smtp,
};
use postel_queue::dsn::DsnKind;
use postel_queue::schedule::{DestinationPolicy, ExpireReason};
use postel_queue::{
    Envelope, MemoryStore, MessageInfo, Notify, OriginalRecipient, QueueStore, Recipient,
    RecipientStatus, Ret, RetryPolicy, Scheduler, Timestamp,
};
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::tokio_io::{ServerHandler, serve_connection};
use postel_smtp::{Reply, ReversePath};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use common::{T0, TempDir};

// ---------------------------------------------------------------------------
// A test SMTP server: RCPT to `defer*` gets 451, to `reject*` gets 550, any
// other is accepted; every message is kept.

#[derive(Debug, Clone)]
struct Received {
    from: String,
    params: MailParameters,
    rcpts: Vec<(String, RcptParameters)>,
    data: Vec<u8>,
    tls: bool,
}

#[derive(Debug, Default)]
struct Seen {
    connections: AtomicUsize,
    messages: Mutex<Vec<Received>>,
}

impl Seen {
    fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

struct TestHandler {
    seen: Arc<Seen>,
    message: Vec<u8>,
}

fn local_part(to: &postel_smtp::ForwardPath) -> String {
    to.mailbox()
        .map(|m| m.local_part_raw().to_owned())
        .unwrap_or_default()
}

impl ServerHandler for TestHandler {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        let r = match event {
            ServerEvent::RcptTo { to, .. } => {
                let local = local_part(&to);
                if local.starts_with("defer") {
                    session.reject(Reply::with_status(451, (4, 2, 1), "Mailbox busy, later"))
                } else if local.starts_with("reject") {
                    session.reject(Reply::with_status(550, (5, 1, 1), "No such user"))
                } else {
                    session.accept()
                }
            }
            ServerEvent::MessageStart => {
                self.message.clear();
                Ok(())
            }
            ServerEvent::MessageData(d) => {
                self.message.extend_from_slice(&d);
                Ok(())
            }
            ServerEvent::MessageEnd { .. } => {
                if let Some(t) = session.transaction() {
                    let from = match &t.from {
                        ReversePath::Null => String::new(),
                        ReversePath::Mailbox(m) => m.as_str().to_owned(),
                    };
                    let received = Received {
                        from,
                        params: t.params.clone(),
                        rcpts: t
                            .recipients
                            .iter()
                            .map(|r| (r.to.to_string(), r.params.clone()))
                            .collect(),
                        data: std::mem::take(&mut self.message),
                        tls: session.info().tls.is_some(),
                    };
                    self.seen.messages.lock().unwrap().push(received);
                }
                session.accept()
            }
            e if e.needs_decision() => session.accept(),
            _ => Ok(()),
        };
        r.map_err(std::io::Error::other)
    }
}

#[derive(Clone, Default)]
struct ServerOptions {
    tls: Option<TlsAcceptor>,
    /// Greet with this instead of 220.
    refuse: Option<Reply>,
    /// Offer STARTTLS without being able to do it: the connection drops
    /// after `220` to STARTTLS.
    broken_tls: bool,
    /// Do not offer DSN.
    no_dsn: bool,
}

async fn smtp_server(ip: &str, options: ServerOptions) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let mut config = ServerConfig::new("sink.test");
    config.extensions.starttls = options.tls.is_some() || options.broken_tls;
    config.extensions.dsn = !options.no_dsn;
    let config = Arc::new(config);
    let s = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            s.connections.fetch_add(1, Ordering::SeqCst);
            let info = ConnectionInfo {
                peer: Some(peer),
                local: None,
            };
            let session = match &options.refuse {
                Some(r) => {
                    ServerSession::refuse(Arc::clone(&config), info, r.clone(), Instant::now())
                }
                None => ServerSession::new(Arc::clone(&config), info, Instant::now()),
            };
            let mut handler = TestHandler {
                seen: Arc::clone(&s),
                message: Vec::new(),
            };
            let tls = options.tls.clone();
            tokio::spawn(async move {
                let _ = serve_connection(stream, session, &mut handler, tls).await;
            });
        }
    });
    (addr, seen)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// A CA (self-signed root) and a server certificate for `localhost` and
/// 127.0.0.1 signed by it.
fn test_pki() -> (rustls::pki_types::CertificateDer<'static>, TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    (ca.der().clone(), TlsAcceptor::from(Arc::new(config)))
}

// ---------------------------------------------------------------------------
// Worker plumbing.

type Clock = Arc<AtomicU64>;

fn clock_at(t: Timestamp) -> Clock {
    Arc::new(AtomicU64::new(t.unix_millis()))
}

fn advance(clock: &Clock, secs: u64) {
    clock.fetch_add(secs * 1000, Ordering::SeqCst);
}

/// The reports the hook was asked for: (message, kind, recipients).
type Failures = Arc<Mutex<Vec<(MessageInfo, DsnKind, Vec<ReportedRecipient>)>>>;

type TestWorker =
    Worker<MemoryStore, MemoryResolver, Box<dyn Fn() -> Timestamp + Send + Sync + 'static>>;

fn worker(
    store: &Arc<MemoryStore>,
    dns: MemoryResolver,
    clock: &Clock,
    table: TransportTable,
    smtp: SmtpPolicy,
) -> (TestWorker, Failures) {
    let options = WorkerOptions {
        smtp: SmtpPolicy {
            hello_name: "client.test".into(),
            connect_timeout: Duration::from_secs(5),
            ..smtp
        },
        seed: 7,
        ..WorkerOptions::default()
    };
    worker_with(store, dns, clock, table, options, RetryPolicy::default())
}

/// A worker with these options and retry policy; its report hook collects
/// every report asked for.
fn worker_with(
    store: &Arc<MemoryStore>,
    dns: MemoryResolver,
    clock: &Clock,
    table: TransportTable,
    options: WorkerOptions,
    retry: RetryPolicy,
) -> (TestWorker, Failures) {
    let c = Arc::clone(clock);
    let now: Box<dyn Fn() -> Timestamp + Send + Sync> =
        Box::new(move || Timestamp::from_unix_millis(c.load(Ordering::SeqCst)));
    let failures: Failures = Arc::default();
    let f = Arc::clone(&failures);
    let hook = move |info: &MessageInfo, kind: DsnKind, r: &[ReportedRecipient]| {
        f.lock().unwrap().push((info.clone(), kind, r.to_vec()));
    };
    let scheduler = Scheduler::new(retry, DestinationPolicy::default()).unwrap();
    let w = Worker::new(
        Arc::clone(store),
        Arc::new(dns),
        now,
        table,
        scheduler,
        options,
    )
    .unwrap()
    .with_report_hook(Arc::new(hook));
    (w, failures)
}

fn table_to(addr: SocketAddr) -> TransportTable {
    TransportTable::with_relayhost(
        SmtpNexthop::parse(&format!("[{}]:{}", addr.ip(), addr.port())).unwrap(),
    )
}

async fn enqueue(
    store: &MemoryStore,
    sender: &str,
    rcpts: &[&str],
    now: Timestamp,
) -> postel_queue::QueueId {
    let env = Envelope::new(sender, rcpts.iter().map(|r| Recipient::new(*r)), now);
    store
        .enqueue(env, b"Subject: test\r\n\r\nhello\r\n".to_vec().into(), now)
        .await
        .unwrap()
}

fn statuses(report: &RunReport) -> Vec<(String, Status)> {
    let mut v: Vec<_> = report
        .events
        .iter()
        .map(|e| (e.address.clone(), e.status))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn per_recipient_outcomes_dsn_parameters_and_expiry() {
    let (addr, seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let mut table = TransportTable::new();
    table
        .insert_str("a.test", &format!("smtp:[127.0.0.1]:{}", addr.port()))
        .unwrap();
    let (mut w, failures) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table,
        SmtpPolicy::default(),
    );

    let mut env = Envelope::new(
        "sender@origin.test",
        [
            Recipient {
                address: "ok@a.test".into(),
                notify: Some(Notify {
                    success: true,
                    failure: true,
                    delay: false,
                }),
                orcpt: Some(OriginalRecipient {
                    addr_type: "rfc822".into(),
                    address: "Ok@A.test".into(),
                }),
            },
            Recipient::new("defer@a.test"),
            Recipient::new("reject@a.test"),
        ],
        T0,
    );
    env.envid = Some("env-42".into());
    env.ret = Some(Ret::Headers);
    let id = store
        .enqueue(env, b"Subject: x\r\n\r\nbody\r\n".to_vec().into(), T0)
        .await
        .unwrap();

    let report = w.run_once().await.unwrap();
    assert_eq!(
        statuses(&report),
        [
            ("defer@a.test".into(), Status::Deferred),
            ("ok@a.test".into(), Status::Delivered),
            ("reject@a.test".into(), Status::Failed),
        ]
    );
    assert_eq!(
        (report.deleted, report.deferred, report.connections),
        (0, 1, 1)
    );

    // What the server saw: one message, one recipient, DSN parameters passed.
    let got = seen.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "sender@origin.test");
    assert_eq!(got[0].params.envid.as_deref(), Some("env-42"));
    assert_eq!(got[0].params.size, Some(20));
    assert_eq!(got[0].rcpts.len(), 1);
    let (to, p) = &got[0].rcpts[0];
    assert_eq!(to, "<ok@a.test>");
    assert!(p.notify.is_some_and(|n| n.success && n.failure && !n.delay));
    assert_eq!(
        p.orcpt.as_ref().map(|o| o.address.as_str()),
        Some("Ok@A.test")
    );
    assert_eq!(got[0].data, b"Subject: x\r\n\r\nbody\r\n");

    // The failure hook saw the rejected recipient, with the server's reply.
    {
        let f = failures.lock().unwrap();
        assert_eq!(f.len(), 1);
        let (info, kind, failed) = &f[0];
        assert_eq!((info.id, *kind), (id, DsnKind::Failure));
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].address, "reject@a.test");
        assert_eq!(failed[0].expired, None);
        assert!(
            failed[0].reply.starts_with("550 5.1.1 "),
            "{}",
            failed[0].reply
        );
        assert!(failed[0].remote.as_deref().unwrap().contains("127.0.0.1"));
        assert_eq!(info.state.recipients[2].status, RecipientStatus::Failed);
    }

    // The store keeps the deferred one with its reply, due in 300 s.
    let info = store.inspect(id, T0).await.unwrap();
    let r: Vec<_> = info.state.recipients.iter().map(|r| r.status).collect();
    assert_eq!(
        r,
        [
            RecipientStatus::Delivered,
            RecipientStatus::Pending,
            RecipientStatus::Failed
        ]
    );
    assert!(
        info.state.recipients[1]
            .last_reply
            .as_deref()
            .unwrap()
            .starts_with("451 4.2.1")
    );
    assert_eq!(info.state.attempts, 1);
    assert_eq!(info.state.next_attempt, common::at(300));
    assert_eq!(w.run_once().await.unwrap().leased, 0, "not due yet");

    // Five days later the last attempt fails again: the message expires.
    advance(&clock, 5 * 86_400);
    let report = w.run_once().await.unwrap();
    assert_eq!(statuses(&report), [("defer@a.test".into(), Status::Failed)]);
    assert_eq!(report.deleted, 1);
    assert!(store.list(T0).await.unwrap().is_empty());
    let f = failures.lock().unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[1].1, f[1].2[0].expired),
        (DsnKind::Failure, Some(ExpireReason::Lifetime))
    );
    assert!(
        f[1].2[0].reply.starts_with("554 5.4.7 "),
        "{}",
        f[1].2[0].reply
    );
    assert!(f[1].2[0].reply.contains("451 4.2.1"));
}

#[tokio::test]
async fn one_connection_carries_every_message_for_a_destination() {
    let (addr, seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let (mut w, _) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(addr),
        SmtpPolicy::default(),
    );
    for i in 0..5 {
        // Two domains, one relayhost: one destination.
        let to = if i % 2 == 0 {
            "u@one.test"
        } else {
            "u@two.test"
        };
        enqueue(&store, "s@origin.test", &[to, "reject@two.test"], T0).await;
    }
    let report = w.run_once().await.unwrap();
    assert_eq!(report.leased, 5);
    assert_eq!(report.connections, 1);
    assert_eq!(report.count(Status::Delivered), 5);
    assert_eq!(report.count(Status::Failed), 5);
    assert_eq!(report.deleted, 5);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(seen.messages().len(), 5);
    assert!(store.list(T0).await.unwrap().is_empty());
}

#[tokio::test]
async fn starttls_required_opportunistic_and_missing() {
    let (root, acceptor) = test_pki();
    let (tls_addr, tls_seen) = smtp_server(
        "127.0.0.1",
        ServerOptions {
            tls: Some(acceptor),
            ..ServerOptions::default()
        },
    )
    .await;
    let (plain_addr, plain_seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let required = SmtpPolicy {
        tls: TlsPolicy::Required,
        webpki_roots: false,
        extra_roots: vec![root],
        ..SmtpPolicy::default()
    };

    // Required, with the test root trusted: delivered over TLS.
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let (mut w, _) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(tls_addr),
        required.clone(),
    );
    enqueue(&store, "s@o.test", &["u@x.test"], T0).await;
    let report = w.run_once().await.unwrap();
    assert_eq!(statuses(&report), [("u@x.test".into(), Status::Delivered)]);
    assert!(tls_seen.messages()[0].tls);

    // Required, root not trusted: the certificate does not verify; deferred.
    let untrusted = SmtpPolicy {
        tls: TlsPolicy::Required,
        webpki_roots: true,
        ..SmtpPolicy::default()
    };
    let store = Arc::new(MemoryStore::new());
    let (mut w, _) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(tls_addr),
        untrusted,
    );
    enqueue(&store, "s@o.test", &["u@x.test"], T0).await;
    let report = w.run_once().await.unwrap();
    assert_eq!(report.count(Status::Deferred), 1);
    assert!(
        report.events[0].reply.starts_with("451 4.7.5 "),
        "{}",
        report.events[0].reply
    );
    assert_eq!(tls_seen.messages().len(), 1);

    // Required, server without STARTTLS: deferred, nothing sent in the clear.
    let store = Arc::new(MemoryStore::new());
    let (mut w, _) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(plain_addr),
        required,
    );
    enqueue(&store, "s@o.test", &["u@x.test"], T0).await;
    let report = w.run_once().await.unwrap();
    assert_eq!(report.count(Status::Deferred), 1);
    assert!(
        report.events[0].reply.starts_with("451 4.7.4 "),
        "{}",
        report.events[0].reply
    );
    assert!(plain_seen.messages().is_empty());

    // Opportunistic, and the handshake fails: once more in plaintext.
    let (broken_addr, broken_seen) = smtp_server(
        "127.0.0.1",
        ServerOptions {
            broken_tls: true,
            ..ServerOptions::default()
        },
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    let (mut w, _) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(broken_addr),
        SmtpPolicy::default(),
    );
    enqueue(&store, "s@o.test", &["u@x.test"], T0).await;
    let report = w.run_once().await.unwrap();
    assert_eq!(report.count(Status::Delivered), 1);
    assert_eq!(broken_seen.connections.load(Ordering::SeqCst), 2);
    assert!(!broken_seen.messages()[0].tls);

    // Opportunistic (the default): TLS where offered, unverified; plaintext
    // where not.
    for (addr, seen) in [(tls_addr, &tls_seen), (plain_addr, &plain_seen)] {
        let store = Arc::new(MemoryStore::new());
        let (mut w, _) = worker(
            &store,
            MemoryResolver::new(),
            &clock,
            table_to(addr),
            SmtpPolicy::default(),
        );
        enqueue(&store, "s@o.test", &["u@x.test"], T0).await;
        let report = w.run_once().await.unwrap();
        assert_eq!(report.count(Status::Delivered), 1);
        let last = seen.messages().pop().unwrap();
        assert_eq!(last.tls, addr == tls_addr);
    }
}

fn a(ip: &str) -> Record {
    Record::A(ip.parse().unwrap())
}

fn mx(preference: u16, exchange: &str) -> Record {
    Record::Mx {
        preference,
        exchange: exchange.into(),
    }
}

#[tokio::test]
async fn mx_order_fallback_implicit_and_null_mx() {
    let (addr, seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let port = addr.port();
    let mut dns = MemoryResolver::new();
    // mx1 (preferred) has an address nobody listens on: refused.
    dns.add("mx.test", mx(20, "mx2.mx.test"))
        .add("mx.test", mx(10, "mx1.mx.test"))
        .add("mx1.mx.test", a("127.0.0.2"))
        .add("mx2.mx.test", a("127.0.0.1"))
        .add("implicit.test", a("127.0.0.1"))
        .add("null.test", mx(0, "."))
        .add("nohost.test", mx(10, "gone.nohost.test"));
    dns.insert(
        "flaky.test",
        RecordType::Mx,
        Answer::TempFail("SERVFAIL".into()),
    );

    let nexthop = |d: &str| SmtpNexthop::parse(&format!("{d}:{port}")).unwrap();
    let resolve = |d: &str| {
        let dns = dns.clone();
        let n = nexthop(d);
        async move {
            resolve_smtp(
                &dns,
                &n,
                &mut SplitMix64::new(1),
                &ResolveOptions::default(),
            )
            .await
        }
    };
    let t = resolve("mx.test").await.unwrap();
    let order: Vec<_> = t
        .iter()
        .map(|t| (t.host.as_str(), t.addr.to_string()))
        .collect();
    assert_eq!(
        order,
        [
            ("mx1.mx.test", format!("127.0.0.2:{port}")),
            ("mx2.mx.test", format!("127.0.0.1:{port}"))
        ]
    );
    let t = resolve("implicit.test").await.unwrap();
    assert_eq!(
        (t[0].host.as_str(), t[0].preference),
        ("implicit.test", None)
    );
    let e = resolve("null.test").await.unwrap_err();
    assert!(e.is_permanent());
    assert!(e.reply().starts_with("556 5.1.10 "), "{}", e.reply());
    let e = resolve("nowhere.test").await.unwrap_err();
    assert!(e.is_permanent() && e.reply().starts_with("550 5.1.2 "));
    let e = resolve("nohost.test").await.unwrap_err();
    assert!(e.is_permanent() && e.reply().starts_with("550 5.4.4 "));
    let e = resolve("flaky.test").await.unwrap_err();
    assert!(!e.is_permanent() && e.reply().starts_with("451 4.4.3 "));

    // Through the worker: every domain's MX hosts on the test port.
    let mut table = TransportTable::new();
    for d in [
        "mx.test",
        "implicit.test",
        "null.test",
        "nowhere.test",
        "flaky.test",
    ] {
        table.insert_str(d, &format!("smtp:{d}:{port}")).unwrap();
    }
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let (mut w, failures) = worker(&store, dns.clone(), &clock, table, SmtpPolicy::default());
    enqueue(
        &store,
        "s@o.test",
        &[
            "a@mx.test",
            "b@implicit.test",
            "c@null.test",
            "d@nowhere.test",
            "e@flaky.test",
        ],
        T0,
    )
    .await;
    let report = w.run_once().await.unwrap();
    assert_eq!(
        statuses(&report),
        [
            ("a@mx.test".into(), Status::Delivered),
            ("b@implicit.test".into(), Status::Delivered),
            ("c@null.test".into(), Status::Failed),
            ("d@nowhere.test".into(), Status::Failed),
            ("e@flaky.test".into(), Status::Deferred),
        ]
    );
    let delivered_by = report
        .events
        .iter()
        .find(|e| e.address == "a@mx.test")
        .unwrap();
    assert_eq!(
        delivered_by.destination.as_deref(),
        Some(&*format!("smtp:mx.test:{port}"))
    );
    assert_eq!(seen.messages().len(), 2, "one per destination");
    // Null MX fails on the first attempt, without a connection.
    let f = failures.lock().unwrap();
    let null = f[0].2.iter().find(|r| r.address == "c@null.test").unwrap();
    assert!(null.reply.starts_with("556 5.1.10 ") && null.remote.is_none());
}

#[tokio::test]
async fn equal_preferences_are_shuffled_by_the_seed() {
    let mut dns = MemoryResolver::new();
    for (p, h, ip) in [
        (10, "a", "127.0.1.1"),
        (10, "b", "127.0.1.2"),
        (10, "c", "127.0.1.3"),
        (20, "z", "127.0.1.9"),
    ] {
        dns.add("eq.test", mx(p, &format!("{h}.eq.test")))
            .add(&format!("{h}.eq.test"), a(ip));
    }
    let n = SmtpNexthop::parse("eq.test").unwrap();
    let mut orders = std::collections::BTreeSet::new();
    for seed in 0..40u64 {
        let once = |seed| {
            let dns = dns.clone();
            let n = n.clone();
            async move {
                let t = resolve_smtp(
                    &dns,
                    &n,
                    &mut SplitMix64::new(seed),
                    &ResolveOptions::default(),
                )
                .await
                .unwrap();
                t.iter().map(|t| t.host.clone()).collect::<Vec<_>>()
            }
        };
        let first = once(seed).await;
        assert_eq!(
            first,
            once(seed).await,
            "the same seed gives the same order"
        );
        assert_eq!(first[3], "z.eq.test", "the worse preference stays last");
        orders.insert(first[..3].join(","));
    }
    assert_eq!(
        orders.len(),
        6,
        "all orders of the three equal hosts: {orders:?}"
    );
    // A caller's own generator works too.
    struct Fixed(u64);
    impl RandomSource for Fixed {
        fn next_u64(&mut self) -> u64 {
            self.0
        }
    }
    let mut fixed = Fixed(0);
    let t = resolve_smtp(&dns, &n, &mut fixed, &ResolveOptions::default())
        .await
        .unwrap();
    assert_eq!(t.len(), 4);
}

#[tokio::test]
async fn relayhost_brackets_skip_the_mx_lookup() {
    let (addr, seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let port = addr.port();
    let mut dns = MemoryResolver::new();
    dns.add("relay.test", mx(10, "elsewhere.test"))
        .add("elsewhere.test", a("127.0.0.3"))
        .add("relay.test", a("127.0.0.1"));
    let opts = ResolveOptions::default();
    let bracketed = SmtpNexthop::parse(&format!("[relay.test]:{port}")).unwrap();
    let t = resolve_smtp(&dns, &bracketed, &mut SplitMix64::new(0), &opts)
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].addr, addr);
    let mx_looked_up = SmtpNexthop::parse(&format!("relay.test:{port}")).unwrap();
    let t = resolve_smtp(&dns, &mx_looked_up, &mut SplitMix64::new(0), &opts)
        .await
        .unwrap();
    assert_eq!(t[0].addr.to_string(), format!("127.0.0.3:{port}"));
    assert_eq!(t[0].preference, Some(10));

    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let (mut w, _) = worker(
        &store,
        dns,
        &clock,
        TransportTable::with_relayhost(bracketed),
        SmtpPolicy::default(),
    );
    enqueue(&store, "s@o.test", &["u@anywhere.test"], T0).await;
    let report = w.run_once().await.unwrap();
    assert_eq!(report.count(Status::Delivered), 1);
    assert_eq!(
        report.events[0].destination.as_deref(),
        Some(&*format!("smtp:[relay.test]:{port}"))
    );
    assert_eq!(seen.messages().len(), 1);
}

#[tokio::test]
async fn connection_failures_defer_everything_and_back_the_destination_off() {
    let dead = closed_port().await;
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let table =
        TransportTable::with_relayhost(SmtpNexthop::parse(&format!("[127.0.0.1]:{dead}")).unwrap());
    let key = format!("smtp:[127.0.0.1]:{dead}");
    let (mut w, failures) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table,
        SmtpPolicy::default(),
    );
    let id = enqueue(&store, "s@o.test", &["a@x.test", "b@y.test"], T0).await;
    for attempt in 1..=3u64 {
        let report = w.run_once().await.unwrap();
        assert_eq!(report.count(Status::Deferred), 2, "attempt {attempt}");
        assert!(
            report.events[0]
                .reply
                .starts_with("451 4.4.1 connect to 127.0.0.1"),
            "{}",
            report.events[0].reply
        );
        let info = store.inspect(id, T0).await.unwrap();
        assert_eq!(info.state.attempts as u64, attempt);
        // After three failures the destination is backed off as a whole.
        let now = Timestamp::from_unix_millis(clock.load(Ordering::SeqCst));
        assert_eq!(
            w.scheduler().backed_off_until(&key, now).is_some(),
            attempt == 3
        );
        // Due again after the backoff: 300, 600, 1200 s.
        advance(&clock, 300 << (attempt - 1));
    }
    assert!(failures.lock().unwrap().is_empty());

    // A 421 greeting is a failure of the destination too.
    let (addr, seen) = smtp_server(
        "127.0.0.1",
        ServerOptions {
            refuse: Some(Reply::with_status(421, (4, 3, 2), "Too busy")),
            ..ServerOptions::default()
        },
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    let (mut w, _) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(addr),
        SmtpPolicy::default(),
    );
    enqueue(&store, "s@o.test", &["a@x.test"], T0).await;
    let report = w.run_once().await.unwrap();
    assert_eq!(report.count(Status::Deferred), 1);
    assert!(
        report.events[0].reply.starts_with("421 4.4.2 "),
        "{}",
        report.events[0].reply
    );
    assert!(report.events[0].reply.contains("Too busy"));
    assert!(seen.messages().is_empty());
}

// ---------------------------------------------------------------------------
// LMTP: a server that answers each recipient after the data: `full*` gets
// 552, `busy*` 451, others 250.

async fn serve_lmtp<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, seen: Arc<Seen>) {
    let mut session =
        postel_lmtp::LmtpServer::new("mda.test", ConnectionInfo::default(), Instant::now())
            .into_session();
    let mut buf = vec![0u8; 8192];
    let mut message = Vec::new();
    loop {
        while let Some(event) = session.poll_event() {
            match event {
                ServerEvent::MessageData(d) => message.extend_from_slice(&d),
                ServerEvent::MessageEnd { .. } => {
                    let rcpts: Vec<_> = session
                        .transaction()
                        .map(|t| t.recipients.clone())
                        .unwrap_or_default();
                    let replies = rcpts
                        .iter()
                        .map(|r| {
                            let local = local_part(&r.to);
                            if local.starts_with("full") {
                                postel_lmtp::RecipientReply::mailbox_full(&r.to)
                            } else if local.starts_with("busy") {
                                postel_lmtp::RecipientReply::temporary_failure(&r.to)
                            } else {
                                postel_lmtp::RecipientReply::delivered(&r.to)
                            }
                        })
                        .collect();
                    seen.messages.lock().unwrap().push(Received {
                        from: String::new(),
                        params: MailParameters::default(),
                        rcpts: rcpts
                            .iter()
                            .map(|r| (r.to.to_string(), r.params.clone()))
                            .collect(),
                        data: std::mem::take(&mut message),
                        tls: false,
                    });
                    session.respond_per_recipient(replies).unwrap();
                }
                e if e.needs_decision() => session.accept().unwrap(),
                _ => {}
            }
        }
        if let Some(out) = session.poll_transmit()
            && stream.write_all(&out).await.is_err()
        {
            return;
        }
        if session.is_closed() {
            return;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => session.enqueue_input(Instant::now(), &buf[..n]),
        }
    }
}

#[tokio::test]
async fn lmtp_over_tcp_and_unix_socket_per_recipient() {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_addr = tcp.local_addr().unwrap();
    let tcp_seen = Arc::new(Seen::default());
    let s = Arc::clone(&tcp_seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = tcp.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_lmtp(stream, Arc::clone(&s)));
        }
    });
    let dir = TempDir::new("lmtp");
    let sock = dir.path().join("lmtp.sock");
    let unix = tokio::net::UnixListener::bind(&sock).unwrap();
    let unix_seen = Arc::new(Seen::default());
    let s = Arc::clone(&unix_seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = unix.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_lmtp(stream, Arc::clone(&s)));
        }
    });

    let mut table = TransportTable::new();
    table
        .insert_str(
            "tcp.test",
            &format!("lmtp:{}:{}", tcp_addr.ip(), tcp_addr.port()),
        )
        .unwrap()
        .insert_str("unix.test", &format!("lmtp:unix:{}", sock.display()))
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let (mut w, failures) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table,
        SmtpPolicy::default(),
    );
    for _ in 0..2 {
        enqueue(
            &store,
            "s@o.test",
            &[
                "u@tcp.test",
                "full@tcp.test",
                "busy@tcp.test",
                "v@unix.test",
                "full@unix.test",
            ],
            T0,
        )
        .await;
    }
    let report = w.run_once().await.unwrap();
    let mut per: Vec<_> = statuses(&report);
    per.dedup();
    assert_eq!(
        per,
        [
            ("busy@tcp.test".into(), Status::Deferred),
            ("full@tcp.test".into(), Status::Failed),
            ("full@unix.test".into(), Status::Failed),
            ("u@tcp.test".into(), Status::Delivered),
            ("v@unix.test".into(), Status::Delivered),
        ]
    );
    assert_eq!(report.count(Status::Delivered), 4);
    let full = report
        .events
        .iter()
        .find(|e| e.address == "full@unix.test")
        .unwrap();
    assert!(full.reply.starts_with("552 5.2.2 "), "{}", full.reply);
    // One connection per destination for both messages.
    assert_eq!(tcp_seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(unix_seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(tcp_seen.messages().len(), 2);
    assert_eq!(unix_seen.messages()[0].rcpts.len(), 2);
    assert_eq!(failures.lock().unwrap().len(), 2);
    assert_eq!(report.deferred, 2);
}

#[test]
fn seeded_generator_is_reproducible() {
    let mut a = SplitMix64::new(99);
    let mut b = SplitMix64::new(99);
    for _ in 0..10 {
        assert_eq!(a.next_u64(), b.next_u64());
    }
    assert!((0..1000).all(|_| a.below(3) < 3));
}

// ---------------------------------------------------------------------------
// Reports beyond failures, and parallel connections.

fn with_notify(rcpt: &str, notify: Notify) -> Recipient {
    let mut r = Recipient::new(rcpt);
    r.notify = Some(notify);
    r
}

/// NOTIFY=SUCCESS gets a `relayed` report only from a next hop without
/// DSN (one with DSN is given NOTIFY and reports itself), and only for the
/// recipients that asked; LMTP's final delivery gets `delivered`.
#[tokio::test]
async fn success_reports_only_where_the_next_hop_cannot_report() {
    let (with_dsn, _) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let (without_dsn, plain_seen) = smtp_server(
        "127.0.0.1",
        ServerOptions {
            no_dsn: true,
            ..ServerOptions::default()
        },
    )
    .await;
    let lmtp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lmtp_addr = lmtp.local_addr().unwrap();
    let lmtp_seen = Arc::new(Seen::default());
    let s = Arc::clone(&lmtp_seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = lmtp.accept().await {
            tokio::spawn(serve_lmtp(stream, Arc::clone(&s)));
        }
    });
    let mut table = TransportTable::new();
    table
        .insert_str("dsn.test", &format!("smtp:[127.0.0.1]:{}", with_dsn.port()))
        .unwrap()
        .insert_str(
            "plain.test",
            &format!("smtp:[127.0.0.1]:{}", without_dsn.port()),
        )
        .unwrap()
        .insert_str("box.test", &format!("lmtp:127.0.0.1:{}", lmtp_addr.port()))
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let (mut w, reports) = worker(
        &store,
        MemoryResolver::new(),
        &clock,
        table,
        SmtpPolicy::default(),
    );
    let success = Notify {
        success: true,
        failure: true,
        delay: false,
    };
    let env = Envelope::new(
        "s@o.test",
        [
            with_notify("a@dsn.test", success),
            with_notify("b@plain.test", success),
            Recipient::new("c@plain.test"),
            with_notify("d@box.test", success),
        ],
        T0,
    );
    let id = store
        .enqueue(env, b"Subject: x\r\n\r\nhi\r\n".to_vec().into(), T0)
        .await
        .unwrap();
    let report = w.run_once().await.unwrap();
    assert_eq!(report.count(Status::Delivered), 4);
    assert_eq!(report.deleted, 1);
    assert_eq!(plain_seen.messages().len(), 1);
    assert_eq!(lmtp_seen.messages().len(), 1);

    let mut got: Vec<(DsnKind, Vec<String>)> = reports
        .lock()
        .unwrap()
        .iter()
        .map(|(info, kind, r)| {
            assert_eq!(info.id, id);
            (*kind, r.iter().map(|x| x.address.clone()).collect())
        })
        .collect();
    got.sort_by_key(|(_, a)| a.clone());
    assert_eq!(
        got,
        [
            (DsnKind::Relayed, vec!["b@plain.test".to_owned()]),
            (DsnKind::Delivered, vec!["d@box.test".to_owned()]),
        ]
    );
    let reports = reports.lock().unwrap();
    let relayed = &reports.iter().find(|r| r.1 == DsnKind::Relayed).unwrap().2[0];
    assert!(relayed.reply.starts_with("250"), "{}", relayed.reply);
    assert!(relayed.remote.as_deref().unwrap().contains("127.0.0.1"));
}

/// With `delay_warning_time`, one delay report once a message has waited
/// that long with recipients still deferred, for the recipients whose
/// NOTIFY asks for it (or is absent), and never a second one.
#[tokio::test]
async fn one_delay_report_after_the_delay_warning_time() {
    let (addr, _) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let retry = RetryPolicy {
        delay_warning_time: Some(Duration::from_secs(3600)),
        ..RetryPolicy::default()
    };
    let options = WorkerOptions {
        smtp: SmtpPolicy {
            hello_name: "client.test".into(),
            ..SmtpPolicy::default()
        },
        ..WorkerOptions::default()
    };
    let (mut w, reports) = worker_with(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(addr),
        options,
        retry,
    );
    let env = Envelope::new(
        "s@o.test",
        [
            Recipient::new("defer-a@x.test"),
            with_notify(
                "defer-b@x.test",
                Notify {
                    success: false,
                    failure: true,
                    delay: false,
                },
            ),
            Recipient::new("ok@x.test"),
        ],
        T0,
    );
    let id = store
        .enqueue(env, b"Subject: x\r\n\r\nhi\r\n".to_vec().into(), T0)
        .await
        .unwrap();
    // The first attempts come before the warning time: no report.
    let mut attempts = 0;
    while clock.load(Ordering::SeqCst) < T0.unix_millis() + 3_600_000 {
        let report = w.run_once().await.unwrap();
        if report.leased > 0 {
            attempts += 1;
            assert!(reports.lock().unwrap().is_empty());
        }
        advance(&clock, 300);
    }
    assert!(attempts >= 2, "{attempts}");
    assert!(!store.inspect(id, T0).await.unwrap().state.delay_warned);
    // The first attempt after it: one delay report, for defer-a only.
    loop {
        if w.run_once().await.unwrap().leased > 0 {
            break;
        }
        advance(&clock, 300);
    }
    {
        let r = reports.lock().unwrap();
        assert_eq!(r.len(), 1);
        let (info, kind, recipients) = &r[0];
        assert_eq!(
            *kind,
            DsnKind::Delay {
                retry_until: T0.saturating_add(RetryPolicy::default().maximal_queue_lifetime)
            }
        );
        assert_eq!(
            recipients
                .iter()
                .map(|x| x.address.as_str())
                .collect::<Vec<_>>(),
            ["defer-a@x.test"]
        );
        assert!(recipients[0].reply.starts_with("451 4.2.1"));
        assert_eq!(info.state.recipients[2].status, RecipientStatus::Delivered);
    }
    assert!(store.inspect(id, T0).await.unwrap().state.delay_warned);
    // Later attempts: no second report.
    for _ in 0..20 {
        w.run_once().await.unwrap();
        advance(&clock, 1000);
    }
    assert_eq!(reports.lock().unwrap().len(), 1);

    // A message whose deferred recipients all opted out of delay reports
    // gets none, and is marked as warned so the question is not asked
    // again.
    let start = Timestamp::from_unix_millis(clock.load(Ordering::SeqCst));
    let env = Envelope::new(
        "t@o.test",
        [with_notify(
            "defer-c@x.test",
            Notify {
                success: false,
                failure: true,
                delay: false,
            },
        )],
        start,
    );
    let quiet = store
        .enqueue(env, b"Subject: y\r\n\r\nhi\r\n".to_vec().into(), start)
        .await
        .unwrap();
    for _ in 0..12 {
        w.run_once().await.unwrap();
        advance(&clock, 900);
    }
    let info = store.inspect(quiet, start).await.unwrap();
    assert!(info.state.attempts >= 2, "{}", info.state.attempts);
    assert!(info.state.delay_warned);
    assert_eq!(reports.lock().unwrap().len(), 1);
}

/// A destination with much leased work gets one connection per
/// `messages_per_connection` messages, up to its concurrency limit; every
/// message is delivered once and removed.
#[tokio::test]
async fn a_busy_destination_gets_several_connections() {
    let (addr, seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let options = WorkerOptions {
        smtp: SmtpPolicy {
            hello_name: "client.test".into(),
            ..SmtpPolicy::default()
        },
        messages_per_connection: 8,
        ..WorkerOptions::default()
    };
    let (mut w, _) = worker_with(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(addr),
        options.clone(),
        RetryPolicy::default(),
    );
    for i in 0..40 {
        enqueue(&store, "s@o.test", &[&format!("r{i}@x.test")], T0).await;
    }
    let report = w.run_once().await.unwrap();
    assert_eq!((report.leased, report.deleted), (40, 40));
    assert_eq!(report.connections, 5);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 5);
    let mut rcpts: Vec<String> = seen
        .messages()
        .iter()
        .flat_map(|m| m.rcpts.iter().map(|r| r.0.clone()))
        .collect();
    rcpts.sort();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 40);
    assert_eq!(seen.messages().len(), 40);
    assert!(store.list(T0).await.unwrap().is_empty());

    // Never more than the destination's concurrency limit (20).
    let (mut w, _) = worker_with(
        &store,
        MemoryResolver::new(),
        &clock,
        table_to(addr),
        WorkerOptions {
            messages_per_connection: 1,
            ..options
        },
        RetryPolicy::default(),
    );
    for i in 0..50 {
        enqueue(&store, "s@o.test", &[&format!("q{i}@x.test")], T0).await;
    }
    let report = w.run_once().await.unwrap();
    assert_eq!((report.deleted, report.connections), (50, 20));
    assert_eq!(seen.messages().len(), 90);
}

/// MX ordering and fallback from an RFC 1035 zone file (postel-dns's
/// `ZoneResolver`): preference order, equal preferences shuffled by the
/// seed (both orders seen), each host's IPv4 then IPv6 addresses; then
/// through the worker: a preferred MX that refuses falls back to the next,
/// an A-only domain is its own implicit MX, a null MX fails at once.
#[tokio::test]
async fn mx_ordering_and_fallback_from_a_zone_file() {
    let (addr, seen) = smtp_server("127.0.0.1", ServerOptions::default()).await;
    let port = addr.port();
    let dir = TempDir::new("zone");
    let zone_path = dir.path().join("test.zone");
    std::fs::write(
        &zone_path,
        "$ORIGIN test.\n\
         $TTL 300\n\
         shuffle     IN MX 10 a.shuffle\n\
         shuffle     IN MX 10 b.shuffle\n\
         shuffle     IN MX 20 c.shuffle\n\
         a.shuffle   IN A    127.0.1.1\n\
         a.shuffle   IN AAAA ::1\n\
         b.shuffle   IN A    127.0.1.2\n\
         c.shuffle   IN A    127.0.1.3\n\
         fallback    IN MX 5  dead.fallback\n\
         fallback    IN MX 50 live.fallback\n\
         dead.fallback IN A  127.0.0.2\n\
         live.fallback IN A  127.0.0.1\n\
         implicit    IN A    127.0.0.1\n\
         null        IN MX 0 .\n",
    )
    .unwrap();
    let zone = postel_dns::ZoneResolver::from_file(&zone_path).unwrap();

    let mut first = std::collections::BTreeSet::new();
    for seed in 0..32 {
        let hop = SmtpNexthop::parse(&format!("shuffle.test:{port}")).unwrap();
        let t = resolve_smtp(
            &zone,
            &hop,
            &mut SplitMix64::new(seed),
            &ResolveOptions::default(),
        )
        .await
        .unwrap();
        let hosts: Vec<_> = t.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(hosts.len(), 4, "{hosts:?}");
        assert_eq!(hosts[3], "c.shuffle.test");
        first.insert(hosts[0].to_owned());
        // a's IPv4 address before its IPv6 one, next to each other.
        let a: Vec<_> = t
            .iter()
            .filter(|t| t.host == "a.shuffle.test")
            .map(|t| t.addr)
            .collect();
        assert_eq!(
            a,
            [
                format!("127.0.1.1:{port}").parse().unwrap(),
                format!("[::1]:{port}").parse().unwrap()
            ]
        );
    }
    assert_eq!(
        first.into_iter().collect::<Vec<_>>(),
        ["a.shuffle.test", "b.shuffle.test"],
        "both orders of the equal preferences"
    );

    let mut table = TransportTable::new();
    for d in ["fallback.test", "implicit.test", "null.test"] {
        table.insert_str(d, &format!("smtp:{d}:{port}")).unwrap();
    }
    let store = Arc::new(MemoryStore::new());
    let clock = clock_at(T0);
    let c = Arc::clone(&clock);
    let now = move || Timestamp::from_unix_millis(c.load(Ordering::SeqCst));
    let options = WorkerOptions {
        smtp: SmtpPolicy {
            hello_name: "client.test".into(),
            connect_timeout: Duration::from_secs(5),
            ..SmtpPolicy::default()
        },
        ..WorkerOptions::default()
    };
    let scheduler = Scheduler::new(RetryPolicy::default(), DestinationPolicy::default()).unwrap();
    let mut w = Worker::new(
        Arc::clone(&store),
        Arc::new(zone),
        now,
        table,
        scheduler,
        options,
    )
    .unwrap();
    enqueue(
        &store,
        "s@o.test",
        &["x@fallback.test", "y@implicit.test", "z@null.test"],
        T0,
    )
    .await;
    let report = w.run_once().await.unwrap();
    assert_eq!(
        statuses(&report),
        [
            ("x@fallback.test".into(), Status::Delivered),
            ("y@implicit.test".into(), Status::Delivered),
            ("z@null.test".into(), Status::Failed),
        ]
    );
    assert_eq!(seen.messages().len(), 2);
    let null = report
        .events
        .iter()
        .find(|e| e.address == "z@null.test")
        .unwrap();
    assert!(null.reply.starts_with("556 5.1.10 "), "{}", null.reply);
}
