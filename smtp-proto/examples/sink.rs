//! An SMTP sink: accepts every message and stores each in its own file in
//! `OUT/new/` (Maildir style: written to `OUT/tmp/`, then renamed).
//!
//! ```text
//! cargo run --release -p postel-smtp --example sink -- --listen 127.0.0.1:2525 --out /tmp/sink [--tls] [--fsync]
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::tokio_io::{ServerHandler, serve_connection};
use postel_smtp::{Reply, ReversePath};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

#[derive(Parser, Debug)]
#[command(about = "SMTP sink: accept every message and store it Maildir style")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: SocketAddr,
    /// Maildir to write to (tmp/ and new/ are created).
    #[arg(long)]
    out: PathBuf,
    /// Offer STARTTLS with a self-signed certificate.
    #[arg(long)]
    tls: bool,
    /// fsync each message file and the directory before acknowledging it.
    #[arg(long)]
    fsync: bool,
    /// Host name for the greeting.
    #[arg(long, default_value = "sink.postel.test")]
    hostname: String,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 35 * 1024 * 1024)]
    max_size: u64,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

struct Sink {
    out: PathBuf,
    fsync: bool,
    hostname: String,
    message: Vec<u8>,
}

impl Sink {
    /// The trace header an MDA adds, built from what the session knows.
    fn received_header(&self, session: &ServerSession, from: &ReversePath) -> String {
        let info = session.info();
        let peer = info
            .connection
            .peer
            .map(|p| p.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let helo = info.hello.as_deref().unwrap_or("unknown");
        let with = match (info.extended, info.tls.is_some(), info.auth.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        };
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!(
            "Return-Path: {from}\r\nReceived: from {helo} ([{peer}]) by {} with {with}; {secs}\r\n",
            self.hostname
        )
    }
}

fn store(dir: &Path, name: &str, data: &[u8], fsync: bool) -> std::io::Result<PathBuf> {
    let tmp = dir.join("tmp").join(name);
    let new = dir.join("new").join(name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    if fsync {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &new)?;
    if fsync {
        std::fs::File::open(dir.join("new"))?.sync_all()?;
    }
    Ok(new)
}

impl ServerHandler for Sink {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        match event {
            ServerEvent::MessageStart => {
                self.message.clear();
                if let Some(t) = session.transaction() {
                    let header = self.received_header(session, &t.from.clone());
                    self.message.extend_from_slice(header.as_bytes());
                }
            }
            ServerEvent::MessageData(chunk) => self.message.extend_from_slice(&chunk),
            ServerEvent::MessageEnd { .. } => {
                let secs = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let name = format!("{secs}.P{}Q{n}.{}", std::process::id(), self.hostname);
                let data = std::mem::take(&mut self.message);
                let (dir, fsync) = (self.out.clone(), self.fsync);
                let stored =
                    tokio::task::spawn_blocking(move || store(&dir, &name, &data, fsync)).await;
                let reply = match stored {
                    Ok(Ok(path)) => {
                        let id = path
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        Reply::with_status(250, (2, 0, 0), format!("Ok: queued as {id}"))
                    }
                    Ok(Err(e)) => {
                        eprintln!("sink: cannot store message: {e}");
                        Reply::with_status(451, (4, 3, 0), "Cannot store message now")
                    }
                    Err(e) => {
                        eprintln!("sink: storage task failed: {e}");
                        Reply::with_status(451, (4, 3, 0), "Cannot store message now")
                    }
                };
                session.respond(reply).map_err(std::io::Error::other)?;
            }
            ServerEvent::MessageAborted { .. } | ServerEvent::TransactionReset => {
                self.message.clear();
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

fn self_signed_acceptor(hostname: &str) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    let certified = rcgen::generate_simple_self_signed(vec![hostname.to_owned()])?;
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(args.out.join("tmp"))?;
    std::fs::create_dir_all(args.out.join("new"))?;
    std::fs::create_dir_all(args.out.join("cur"))?;
    let mut config = ServerConfig::new(args.hostname.clone());
    config.limits.max_message_size = args.max_size;
    config.extensions.starttls = args.tls;
    let config = Arc::new(config);
    let tls = if args.tls {
        Some(self_signed_acceptor(&args.hostname)?)
    } else {
        None
    };
    let listener = TcpListener::bind(args.listen).await?;
    println!("sink: listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let config = Arc::clone(&config);
        let tls = tls.clone();
        let mut sink = Sink {
            out: args.out.clone(),
            fsync: args.fsync,
            hostname: args.hostname.clone(),
            message: Vec::new(),
        };
        tokio::spawn(async move {
            let connection = ConnectionInfo {
                peer: Some(peer),
                local: stream.local_addr().ok(),
            };
            let session = ServerSession::new(config, connection, std::time::Instant::now());
            if let Err(e) = serve_connection(stream, session, &mut sink, tls).await {
                eprintln!("sink: {peer}: {e}");
            }
        });
    }
}
