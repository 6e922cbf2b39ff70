//! An LMTP server that stores each message once per accepted recipient
//! (`OUT/<local part>/new/`, Maildir style) and refuses the named local
//! parts with `550 5.1.1` in the per-recipient replies after the data, as a
//! final delivery agent does for a mailbox that cannot take mail.
//!
//! ```text
//! cargo run --release -p postel-lmtp --example lmtp-sink -- --listen 127.0.0.1:2424 --out /tmp/lmtp [--reject bob]...
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use postel_lmtp::RecipientReply;
use postel_smtp::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_smtp::tokio_io::{ServerHandler, serve_connection};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(about = "LMTP sink: per-recipient delivery into Maildirs")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2424")]
    listen: SocketAddr,
    /// Folder holding one Maildir per local part.
    #[arg(long)]
    out: PathBuf,
    /// Local part to refuse with 550 5.1.1 after the data; repeat for more.
    #[arg(long)]
    reject: Vec<String>,
    /// Host name for the greeting.
    #[arg(long, default_value = "lmtp.postel.test")]
    hostname: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

struct Delivery {
    out: PathBuf,
    reject: Arc<Vec<String>>,
    message: Vec<u8>,
}

/// A file-system-safe Maildir name for a local part.
fn folder_for(local: &str) -> String {
    local
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn deliver(root: &Path, local: &str, data: &[u8]) -> std::io::Result<()> {
    let dir = root.join(folder_for(local));
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{secs}.P{}Q{n}.lmtp", std::process::id());
    let tmp = dir.join("tmp").join(&name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("new").join(&name))?;
    std::fs::File::open(dir.join("new"))?.sync_all()
}

impl ServerHandler for Delivery {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> std::io::Result<()> {
        match event {
            ServerEvent::MessageStart => self.message.clear(),
            ServerEvent::MessageData(chunk) => self.message.extend_from_slice(&chunk),
            ServerEvent::MessageEnd { .. } => {
                let recipients = session
                    .transaction()
                    .map(|t| t.recipients.clone())
                    .unwrap_or_default();
                let data = Arc::new(std::mem::take(&mut self.message));
                let mut replies = Vec::with_capacity(recipients.len());
                for r in &recipients {
                    let local = r
                        .to
                        .mailbox()
                        .map_or_else(|| "postmaster".to_owned(), |m| m.local_part().into_owned());
                    if self.reject.iter().any(|x| x.eq_ignore_ascii_case(&local)) {
                        replies.push(RecipientReply::mailbox_unavailable(&r.to));
                        continue;
                    }
                    let (root, data2) = (self.out.clone(), Arc::clone(&data));
                    let stored =
                        tokio::task::spawn_blocking(move || deliver(&root, &local, &data2)).await;
                    replies.push(match stored {
                        Ok(Ok(())) => RecipientReply::delivered(&r.to),
                        Ok(Err(e)) => {
                            eprintln!("lmtp-sink: {}: {e}", r.to);
                            RecipientReply::temporary_failure(&r.to)
                        }
                        Err(e) => {
                            eprintln!("lmtp-sink: {}: {e}", r.to);
                            RecipientReply::temporary_failure(&r.to)
                        }
                    });
                }
                session
                    .respond_per_recipient(replies)
                    .map_err(std::io::Error::other)?;
            }
            ServerEvent::MessageAborted { .. } | ServerEvent::TransactionReset => {
                self.message.clear()
            }
            e if e.needs_decision() => session.accept().map_err(std::io::Error::other)?,
            _ => {}
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let config = Arc::new(ServerConfig::lmtp(args.hostname.clone()));
    let reject = Arc::new(args.reject.clone());
    let listener = TcpListener::bind(args.listen).await?;
    println!("lmtp-sink: listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let config = Arc::clone(&config);
        let mut handler = Delivery {
            out: args.out.clone(),
            reject: Arc::clone(&reject),
            message: Vec::new(),
        };
        tokio::spawn(async move {
            let connection = ConnectionInfo {
                peer: Some(peer),
                local: stream.local_addr().ok(),
            };
            let session = ServerSession::new(config, connection, std::time::Instant::now());
            if let Err(e) = serve_connection(stream, session, &mut handler, None).await {
                eprintln!("lmtp-sink: {peer}: {e}");
            }
        });
    }
}
