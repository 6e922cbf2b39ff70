//! `posteld serve`: a receiving MTA that authenticates every message.
//!
//! Each message is checked while it streams in (DKIM and ARC body hashes
//! are fed DATA chunk by chunk), then SPF, DMARC and iprev run; the message is
//! stored in a Maildir with `Return-Path`, `Received` and
//! `Authentication-Results` prepended, and only then acknowledged. With
//! `--enforce-dmarc`, a message whose DMARC disposition is `reject` is
//! refused with 550 5.7.1 instead.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Args;
use postel_auth::arc::ArcVerifier;
use postel_auth::dkim::DkimVerifier;
use postel_auth::dmarc::Policy;
use postel_auth::{AuthConfig, AuthRequest, DmarcVerdict, authenticate_with};
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::tokio_io::{ServerHandler, serve_connection};
use postel_smtp::{Reply, ReversePath};
use tokio::net::TcpListener;

use crate::UsageError;
use crate::auth::unix_now;
use crate::resolver::AnyResolver;

/// Arguments of `posteld serve` (all have embedded defaults).
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2525")]
    pub listen: Option<SocketAddr>,
    /// Maildir that receives the mail (tmp/, new/, cur/ are created).
    #[arg(long, default_value = "posteld-mail")]
    pub maildir: Option<PathBuf>,
    /// This host's name: the greeting, Received and the authserv-id.
    #[arg(long, default_value = "posteld.localhost")]
    pub hostname: Option<String>,
    /// Zone files to answer DNS from (may repeat); default: the system resolver.
    #[arg(long = "zone")]
    pub zones: Vec<PathBuf>,
    /// Refuse (550 5.7.1) mail whose DMARC disposition is reject.
    #[arg(long)]
    pub enforce_dmarc: bool,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 35 * 1024 * 1024)]
    pub max_size: u64,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Shared by every connection.
struct Shared {
    maildir: PathBuf,
    hostname: String,
    resolver: AnyResolver,
    auth: AuthConfig,
    enforce_dmarc: bool,
}

/// One connection's state.
struct Receiver {
    shared: Arc<Shared>,
    /// The message as received (stored once accepted).
    message: Vec<u8>,
    dkim: Option<DkimVerifier>,
    arc: Option<ArcVerifier>,
}

fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
    Reply::with_status(code, status, text.to_string())
}

impl Receiver {
    async fn finish_message(&mut self, session: &ServerSession) -> Reply {
        let Some(transaction) = session.transaction() else {
            return reply(503, (5, 5, 1), "No transaction");
        };
        let info = session.info();
        let ip = match info.connection.peer {
            Some(peer) => peer.ip(),
            None => return reply(451, (4, 3, 0), "Unknown client address"),
        };
        let helo = info.hello.clone().unwrap_or_default();
        let mail_from = match &transaction.from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.as_str().to_string(),
        };
        let return_path = transaction.from.to_string();
        let message = std::mem::take(&mut self.message);
        let (Some(dkim), Some(arc)) = (self.dkim.take(), self.arc.take()) else {
            return reply(451, (4, 3, 0), "Message state lost");
        };
        let now = unix_now();
        let request = AuthRequest {
            ip,
            helo: &helo,
            mail_from: &mail_from,
            message: &message,
            now_unix: now,
            dmarc_sample: (now % 100) as u8,
        };
        let shared = &self.shared;
        let report = authenticate_with(
            &shared.resolver,
            &request,
            &shared.auth,
            dkim.finish(),
            arc.finish(),
        )
        .await;
        if shared.enforce_dmarc
            && let DmarcVerdict::Evaluated(out) = &report.dmarc
            && out.disposition == Policy::Reject
        {
            return reply(
                550,
                (5, 7, 1),
                &format!("Rejected by the DMARC policy of {}", out.from_domain),
            );
        }
        let with = match (info.extended, info.tls.is_some()) {
            (false, _) => "SMTP",
            (true, false) => "ESMTP",
            (true, true) => "ESMTPS",
        };
        let mut stored = format!(
            "Return-Path: {return_path}\r\nReceived: from {helo} ([{ip}]) by {} with {with}; {now}\r\n{}",
            shared.hostname,
            report.authentication_results.to_header_field()
        )
        .into_bytes();
        stored.extend_from_slice(&message);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{now}.P{}Q{n}.{}", std::process::id(), shared.hostname);
        let dir = shared.maildir.clone();
        match tokio::task::spawn_blocking(move || store(&dir, &name, &stored)).await {
            Ok(Ok(())) => reply(250, (2, 0, 0), "Ok: delivered"),
            Ok(Err(e)) => {
                eprintln!("posteld: cannot store a message: {e}");
                reply(451, (4, 3, 0), "Cannot store the message now")
            }
            Err(e) => {
                eprintln!("posteld: storage task failed: {e}");
                reply(451, (4, 3, 0), "Cannot store the message now")
            }
        }
    }
}

/// Maildir delivery: write to tmp/, fsync, rename into new/, fsync the
/// directory; only then is the message acknowledged.
fn store(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join("tmp").join(name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("new").join(name))?;
    std::fs::File::open(dir.join("new"))?.sync_all()
}

impl ServerHandler for Receiver {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        match event {
            ServerEvent::MessageStart => {
                self.message.clear();
                let now = unix_now();
                self.dkim = Some(DkimVerifier::new(now, self.shared.auth.dkim.clone()));
                self.arc = Some(ArcVerifier::new(now, self.shared.auth.arc.clone()));
            }
            ServerEvent::MessageData(chunk) => {
                if let Some(dkim) = &mut self.dkim {
                    dkim.feed(&chunk);
                }
                if let Some(arc) = &mut self.arc {
                    arc.feed(&chunk);
                }
                self.message.extend_from_slice(&chunk);
            }
            ServerEvent::MessageEnd { .. } => {
                let r = self.finish_message(session).await;
                session.respond(r).map_err(std::io::Error::other)?;
            }
            ServerEvent::MessageAborted { .. } | ServerEvent::TransactionReset => {
                self.message.clear();
                self.dkim = None;
                self.arc = None;
            }
            ServerEvent::AuthVerify(_) => {
                session
                    .auth_verified(postel_sasl::Verification::Rejected)
                    .map_err(std::io::Error::other)?;
            }
            e if e.needs_decision() => session.accept().map_err(std::io::Error::other)?,
            _ => {}
        }
        Ok(())
    }
}

/// Run the server until the process is stopped.
pub async fn run(args: ServeArgs) -> Result<(), UsageError> {
    let listen = args.listen.unwrap_or_else(|| ([127, 0, 0, 1], 2525).into());
    let maildir = args
        .maildir
        .unwrap_or_else(|| PathBuf::from("posteld-mail"));
    let hostname = args.hostname.unwrap_or_else(|| "posteld.localhost".into());
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub))
            .map_err(|e| UsageError(format!("{}: cannot create: {e}", maildir.display())))?;
    }
    let resolver = AnyResolver::from_args(&args.zones)?;
    let mut config = ServerConfig::new(hostname.clone());
    config.limits.max_message_size = args.max_size;
    let config = Arc::new(config);
    let shared = Arc::new(Shared {
        maildir: maildir.clone(),
        auth: AuthConfig::new(&hostname),
        hostname,
        resolver,
        enforce_dmarc: args.enforce_dmarc,
    });
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| UsageError(e.to_string()))?;
    println!("posteld: SMTP on {local}, mail into {}", maildir.display());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("posteld: accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let config = Arc::clone(&config);
        let mut receiver = Receiver {
            shared: Arc::clone(&shared),
            message: Vec::new(),
            dkim: None,
            arc: None,
        };
        tokio::spawn(async move {
            let connection = ConnectionInfo {
                peer: Some(peer),
                local: stream.local_addr().ok(),
            };
            let session = ServerSession::new(config, connection, std::time::Instant::now());
            if let Err(e) = serve_connection(stream, session, &mut receiver, None).await {
                eprintln!("posteld: {peer}: {e}");
            }
        });
    }
}
