//! A store-and-forward SMTP relay on postel-queue: an SMTP server that
//! answers `250` only once the message is durable in a spool directory,
//! and a worker that delivers the queue to a relayhost, retrying on the
//! schedule until the message's lifetime ends.
//!
//! ```text
//! cargo run --release -p postel-queue --example relay --features delivery -- \
//!     --listen 127.0.0.1:2525 --spool /tmp/relay-spool --relayhost '[127.0.0.1]:2526' \
//!     [--min-backoff SECONDS] [--max-backoff SECONDS] [--lifetime SECONDS]
//!     [--delay-warning SECONDS]
//! ```
//!
//! It relays for anyone who can reach `--listen`: bind it to loopback. It
//! may be killed at any moment (SIGKILL included) and restarted on the same
//! spool: every message that got `250` is delivered, at least once.
//! Stdout gets one line, `relay: listening on ADDR`, once it accepts
//! connections; stderr gets one line per delivery outcome.
//!
//! Recipients that fail for good get an RFC 3464 failure report, queued in
//! the same spool from the null sender to the original sender; with
//! `--delay-warning SECONDS` a delay report when a message waits that long,
//! and recipients with NOTIFY=SUCCESS a `relayed` report when the
//! relayhost does not offer DSN.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use postel_dns::{Answer, Query, Record, RecordType, Resolver};
use postel_queue::deliver::{
    HookError, HookFuture, ReportHook, ReportedRecipient, SmtpNexthop, SmtpPolicy, Status,
    TransportTable, Worker, WorkerOptions,
};
use postel_queue::dsn::{DsnConfig, DsnInput, DsnKind, DsnRecipient, build_dsn, rfc5322_date};
use postel_queue::schedule::DestinationPolicy;
use postel_queue::{
    Body, ByMode, DeliverBy, Envelope, JournalOptions, JournalStore, MessageInfo, Notify,
    OriginalRecipient, QueueError, QueueStore, Recipient, Ret, RetryPolicy, Scheduler,
    SpoolOptions, SpoolStore, SystemClock, Trace,
};
use postel_smtp::params::{BodyType, Hold, Ret as SmtpRet};
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::tokio_io::{ServerHandler, serve_connection};
use postel_smtp::{ForwardPath, Reply, ReversePath};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(about = "SMTP relay: spool durably, then deliver to a relayhost")]
struct Args {
    /// Address to listen on (port 0 picks one; the line on stdout says which).
    #[arg(long)]
    listen: SocketAddr,
    /// The spool directory (created if needed).
    #[arg(long)]
    spool: PathBuf,
    /// Keep the queue in a journal (append-only segments, one fdatasync
    /// per batch) instead of a file per message.
    #[arg(long)]
    journal: bool,
    /// With --journal: the size at which a segment is closed, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    journal_segment_size: u64,
    /// Where to send everything: `[host]:port` (no MX lookup) or
    /// `host:port` (the MX hosts of host).
    #[arg(long)]
    relayhost: String,
    /// The first retry wait and the destination backoff, in seconds.
    #[arg(long, default_value_t = 300)]
    min_backoff: u64,
    /// The longest retry wait, in seconds.
    #[arg(long, default_value_t = 4000)]
    max_backoff: u64,
    /// How long a message is tried before it expires, in seconds.
    #[arg(long, default_value_t = 5 * 86_400)]
    lifetime: u64,
    /// Send a delay report (to senders whose recipients did not opt out
    /// with NOTIFY) once a message has waited this many seconds; off by
    /// default, as in Postfix.
    #[arg(long)]
    delay_warning: Option<u64>,
    /// Our host name: greeting, Received, EHLO.
    #[arg(long, default_value = "relay.postel.test")]
    hostname: String,
    /// TCP connect timeout towards the relayhost, in seconds.
    #[arg(long, default_value_t = 30)]
    connect_timeout: u64,
    /// How often the queue is scanned for due work, in milliseconds.
    #[arg(long, default_value_t = 250)]
    poll_ms: u64,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 35 * 1024 * 1024)]
    max_size: u64,
}

/// A resolver on the operating system's: addresses only (getaddrinfo),
/// no MX records (so `host:port` relayhosts use the host's addresses as
/// an implicit MX). Enough for an example; posteld has the full resolver.
struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, query: &Query) -> impl std::future::Future<Output = Answer> + Send {
        let name = query.name().to_owned();
        let rtype = query.record_type();
        async move {
            if !matches!(rtype, RecordType::A | RecordType::Aaaa) {
                return Answer::NoData;
            }
            match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(addrs) => Answer::from_records(
                    addrs
                        .filter_map(|a| match (a.ip(), rtype) {
                            (IpAddr::V4(v4), RecordType::A) => Some(Record::A(v4)),
                            (IpAddr::V6(v6), RecordType::Aaaa) => Some(Record::Aaaa(v6)),
                            _ => None,
                        })
                        .collect(),
                ),
                Err(e) => Answer::TempFail(e.to_string()),
            }
        }
    }
}

/// One SMTP connection: collects the message, enqueues it, then answers.
struct Receiver<S> {
    store: Arc<S>,
    wake: Arc<tokio::sync::Notify>,
    hostname: String,
    message: Vec<u8>,
}

fn envelope_of(session: &ServerSession) -> Option<Envelope> {
    let t = session.transaction()?;
    let now = SystemClock::now();
    let sender = match &t.from {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(m) => m.as_str().to_owned(),
    };
    let recipients = t.recipients.iter().map(|r| Recipient {
        address: match &r.to {
            ForwardPath::Postmaster => "postmaster".to_owned(),
            ForwardPath::Mailbox(m) => m.as_str().to_owned(),
        },
        notify: r.params.notify.map(|n| Notify {
            success: n.success,
            failure: n.failure,
            delay: n.delay,
        }),
        orcpt: r.params.orcpt.as_ref().map(|o| OriginalRecipient {
            addr_type: o.addr_type.clone(),
            address: o.address.clone(),
        }),
    });
    let mut envelope = Envelope::new(sender, recipients, now);
    let p = &t.params;
    envelope.envid = p.envid.clone();
    envelope.ret = p.ret.map(|r| match r {
        SmtpRet::Full => Ret::Full,
        SmtpRet::Headers => Ret::Headers,
    });
    envelope.body = p.body.map(|b| match b {
        BodyType::SevenBit => Body::SevenBit,
        BodyType::EightBitMime => Body::EightBitMime,
        BodyType::BinaryMime => Body::BinaryMime,
    });
    envelope.smtputf8 = p.smtputf8;
    envelope.requiretls = p.requiretls;
    envelope.priority = p.mt_priority.unwrap_or(0);
    if let Some(Hold::For(secs)) = p.hold {
        envelope.hold_until = Some(now.saturating_add(Duration::from_secs(secs)));
    }
    if let Some(by) = p.by {
        let deadline = if by.seconds >= 0 {
            now.saturating_add(Duration::from_secs(by.seconds.unsigned_abs()))
        } else {
            now.saturating_sub(Duration::from_secs(by.seconds.unsigned_abs()))
        };
        envelope.deliver_by = Some(DeliverBy {
            deadline,
            mode: if by.return_if_late {
                ByMode::Return
            } else {
                ByMode::Notify
            },
            trace: by.trace,
        });
    }
    let info = session.info();
    envelope.trace = Trace {
        client_addr: info.connection.peer.map(|p| p.ip()),
        client_name: None,
        helo: info.hello.clone(),
        protocol: Some(if info.extended { "ESMTP" } else { "SMTP" }.to_owned()),
        tls: info
            .tls
            .as_ref()
            .map(|t| format!("{} {}", t.protocol, t.cipher)),
    };
    Some(envelope)
}

impl<S: QueueStore> Receiver<S> {
    async fn finish(&mut self, session: &ServerSession) -> Reply {
        let Some(envelope) = envelope_of(session) else {
            return Reply::with_status(503, (5, 5, 1), "No transaction");
        };
        let peer = session
            .info()
            .connection
            .peer
            .map_or_else(|| "unknown".to_owned(), |p| p.ip().to_string());
        let helo = session.info().hello.clone().unwrap_or_default();
        let mut data = format!(
            "Received: from {helo} ([{peer}]) by {} with ESMTP; {}\r\n",
            self.hostname,
            rfc5322_date(SystemClock::now())
        )
        .into_bytes();
        data.append(&mut self.message);
        match self
            .store
            .enqueue(envelope, data.into(), SystemClock::now())
            .await
        {
            Ok(id) => {
                // Durable now; only now may the client hear 250.
                self.wake.notify_one();
                Reply::with_status(250, (2, 0, 0), format!("Ok: queued as {id}"))
            }
            Err(e) => {
                eprintln!("relay: cannot queue a message: {e}");
                Reply::with_status(451, (4, 3, 0), "Cannot queue the message now")
            }
        }
    }
}

impl<S: QueueStore> ServerHandler for Receiver<S> {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        match event {
            ServerEvent::MessageStart => self.message.clear(),
            ServerEvent::MessageData(chunk) => self.message.extend_from_slice(&chunk),
            ServerEvent::MessageEnd { .. } => {
                let reply = self.finish(session).await;
                session.respond(reply).map_err(std::io::Error::other)?;
            }
            ServerEvent::MessageAborted { .. } | ServerEvent::TransactionReset => {
                self.message.clear();
            }
            ServerEvent::AuthVerify(_) => session
                .auth_verified(postel_sasl::Verification::Rejected)
                .map_err(std::io::Error::other)?,
            e if e.needs_decision() => session.accept().map_err(std::io::Error::other)?,
            _ => {}
        }
        Ok(())
    }
}

/// The report hook: one RFC 3464 report for the recipients concerned
/// (failed together, delayed, or relayed to a next hop without DSN when
/// they asked for NOTIFY=SUCCESS), enqueued in the same spool from the null
/// sender, so it is never bounced itself. A failure report is queued before
/// the failures are recorded: if that fails, the recipients stay deferred
/// and the report is tried again.
struct Bounces<S> {
    store: Arc<S>,
    config: DsnConfig,
}

impl<S: QueueStore> ReportHook for Bounces<S> {
    fn on_report<'a>(
        &'a self,
        message: &'a MessageInfo,
        kind: DsnKind,
        recipients: &'a [ReportedRecipient],
    ) -> HookFuture<'a> {
        Box::pin(async move {
            let now = SystemClock::now();
            let data = self
                .store
                .read_data(message.id)
                .await
                .map_err(|e| HookError(Box::new(e)))?;
            let list: Vec<DsnRecipient> = recipients
                .iter()
                .map(|f| DsnRecipient {
                    index: f.index,
                    reply: f.reply.clone(),
                    status: f.expired.and_then(|_| "4.4.7".parse().ok()),
                    remote_mta: f.remote.clone(),
                    last_attempt: Some(now),
                })
                .collect();
            let input = DsnInput {
                config: &self.config,
                id: message.id,
                envelope: &message.envelope,
                message: &data,
                kind,
                recipients: &list,
                now,
            };
            let Some(report) = build_dsn(&input) else {
                // A bounce of a bounce, or NOTIFY asked for none.
                return Ok(());
            };
            let id = self
                .store
                .enqueue(report.envelope, report.message.into(), now)
                .await
                .map_err(|e| HookError(Box::new(e)))?;
            eprintln!(
                "relay: {}: {} report {id} for {} recipient(s)",
                message.id,
                kind.action(),
                recipients.len()
            );
            Ok(())
        })
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

async fn run(args: Args) -> Result<(), String> {
    let relayhost = SmtpNexthop::parse(&args.relayhost).map_err(|e| format!("--relayhost: {e}"))?;
    let retry = RetryPolicy {
        minimal_backoff_time: secs(args.min_backoff),
        maximal_backoff_time: secs(args.max_backoff),
        maximal_queue_lifetime: secs(args.lifetime),
        bounce_queue_lifetime: secs(args.lifetime),
        delay_warning_time: args.delay_warning.map(secs),
    };
    let destination = DestinationPolicy {
        minimal_backoff_time: secs(args.min_backoff),
        maximal_backoff_time: secs(args.max_backoff),
        ..DestinationPolicy::default()
    };
    let scheduler = Scheduler::new(retry, destination).map_err(|e| e.to_string())?;

    let where_ = |e: QueueError| format!("{}: {e}", args.spool.display());
    if args.journal {
        let (store, report) = JournalStore::open(
            &args.spool,
            JournalOptions {
                segment_size: args.journal_segment_size,
                ..JournalOptions::default()
            },
        )
        .map_err(where_)?;
        eprintln!(
            "relay: journal {}: {} message(s) recovered from {} segment(s), {} damaged part(s)",
            args.spool.display(),
            report.messages,
            report.segments,
            report.damaged.len()
        );
        serve(args, relayhost, scheduler, Arc::new(store)).await
    } else {
        let (store, report) =
            SpoolStore::open(&args.spool, SpoolOptions::default()).map_err(where_)?;
        eprintln!(
            "relay: spool {}: {} message(s) recovered, {} temporary file(s) removed, {} quarantined",
            args.spool.display(),
            report.messages,
            report.removed_temp_files.len(),
            report.quarantined.len()
        );
        serve(args, relayhost, scheduler, Arc::new(store)).await
    }
}

/// The server and the worker over `store`.
async fn serve<S: QueueStore + 'static>(
    args: Args,
    relayhost: SmtpNexthop,
    scheduler: Scheduler,
    store: Arc<S>,
) -> Result<(), String> {
    let wake = Arc::new(tokio::sync::Notify::new());

    let seed = SystemClock::now().unix_millis() ^ u64::from(std::process::id()).rotate_left(32);
    let options = WorkerOptions {
        smtp: SmtpPolicy {
            hello_name: args.hostname.clone(),
            connect_timeout: secs(args.connect_timeout),
            ..SmtpPolicy::default()
        },
        seed,
        poll_interval: Duration::from_millis(args.poll_ms.max(1)),
        ..WorkerOptions::default()
    };
    let mut worker = Worker::new(
        Arc::clone(&store),
        Arc::new(SystemResolver),
        SystemClock,
        TransportTable::with_relayhost(relayhost),
        scheduler,
        options,
    )
    .map_err(|e| e.to_string())?
    .with_report_hook(Arc::new(Bounces {
        store: Arc::clone(&store),
        config: DsnConfig::new(args.hostname.clone()),
    }));

    let mut config = ServerConfig::new(args.hostname.clone());
    config.limits.max_message_size = args.max_size;
    let config = Arc::new(config);
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("relay: listening on {local}");

    let server = {
        let store = Arc::clone(&store);
        let wake = Arc::clone(&wake);
        let hostname = args.hostname.clone();
        async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("relay: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let mut receiver = Receiver {
                    store: Arc::clone(&store),
                    wake: Arc::clone(&wake),
                    hostname: hostname.clone(),
                    message: Vec::new(),
                };
                let config = Arc::clone(&config);
                tokio::spawn(async move {
                    let connection = ConnectionInfo {
                        peer: Some(peer),
                        local: stream.local_addr().ok(),
                    };
                    let session = ServerSession::new(config, connection, Instant::now());
                    if let Err(e) = serve_connection(stream, session, &mut receiver, None).await {
                        eprintln!("relay: {peer}: {e}");
                    }
                });
            }
        }
    };
    let server = tokio::spawn(server);

    worker
        .run(&wake, shutdown_signal(), |result| match result {
            Ok(report) => {
                for e in &report.events {
                    let word = match e.status {
                        Status::Delivered => "delivered",
                        Status::Deferred => "deferred",
                        Status::Failed => "failed",
                    };
                    eprintln!("relay: {} <{}> {word}: {}", e.id, e.address, e.reply);
                }
                for e in &report.errors {
                    eprintln!("relay: {e}");
                }
                if report.swept > 0 {
                    eprintln!(
                        "relay: deleted {} finished message(s) left by an interrupted run",
                        report.swept
                    );
                }
            }
            Err(e) => eprintln!("relay: worker: {e}"),
        })
        .await;
    server.abort();
    eprintln!("relay: shutting down");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relay: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay: {e}");
            ExitCode::from(2)
        }
    }
}
