//! An IMAP server for one account over the in-memory store, loading every
//! file of a folder into INBOX at start: a Maildir (`cur/` and `new/`, with
//! the flags of the file names) or a folder of `.eml` files.
//!
//! ```text
//! cargo run --release -p postel-imap --example imap-server -- --listen 127.0.0.1:1143 \
//!     --user alice --password secret --load /path/to/maildir [--tls]
//! ```
//!
//! Logins: LOGIN, and AUTHENTICATE PLAIN, LOGIN and SCRAM-SHA-256. With
//! `--tls` the server offers STARTTLS with a self-signed certificate and
//! refuses passwords in the clear before it (LOGINDISABLED); without it,
//! plaintext logins are allowed, as servers do on loopback. Changes live in
//! memory only.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use postel_imap::DateTime;
use postel_imap::Flag;
use postel_imap::server::{Extensions, MemoryStore, ServerConfig, ServerEvent, ServerSession};
use postel_imap::tokio_io::{DEFAULT_IDLE_POLL, ServerHandler, serve_connection};
use postel_sasl::{ScramCredentials, Verification, VerifyRequest};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

#[derive(Parser, Debug)]
#[command(about = "IMAP server for one account over messages loaded from a folder")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1143")]
    listen: SocketAddr,
    /// The account's user name.
    #[arg(long)]
    user: String,
    /// The account's password.
    #[arg(long)]
    password: String,
    /// A Maildir (cur/ and new/) or a folder of .eml files to load into
    /// INBOX.
    #[arg(long)]
    load: Option<PathBuf>,
    /// Offer STARTTLS with a self-signed certificate; refuse passwords in
    /// the clear before it.
    #[arg(long)]
    tls: bool,
    /// Offer COMPRESS=DEFLATE.
    #[arg(long)]
    compress: bool,
    /// Host name for the certificate.
    #[arg(long, default_value = "imap.postel.test")]
    hostname: String,
}

/// Maildir flags from a file name's `:2,` suffix.
fn maildir_flags(name: &str) -> Vec<Flag> {
    let Some((_, info)) = name.rsplit_once(":2,") else {
        return Vec::new();
    };
    info.chars()
        .filter_map(|c| match c {
            'S' => Some(Flag::Seen),
            'R' => Some(Flag::Answered),
            'F' => Some(Flag::Flagged),
            'T' => Some(Flag::Deleted),
            'D' => Some(Flag::Draft),
            _ => None,
        })
        .collect()
}

/// The message in IMAP's wire form: Maildir files often end lines with a
/// bare LF, IMAP always with CRLF (RFC 9051 §2.2), and RFC822.SIZE counts
/// the wire form.
fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// The files to load, in name order (Maildir `cur` then `new`).
fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let maildir = dir.join("cur").is_dir() || dir.join("new").is_dir();
    let folders = if maildir {
        vec![dir.join("cur"), dir.join("new")]
    } else {
        vec![dir.to_path_buf()]
    };
    let mut out = Vec::new();
    for folder in folders {
        if !folder.is_dir() {
            continue;
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        out.extend(names);
    }
    Ok(out)
}

fn unix_time(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn wall_clock() -> DateTime {
    DateTime::from_unix_seconds(unix_time(SystemTime::now()))
        .unwrap_or_else(|| DateTime::from_unix_seconds(0).expect("epoch"))
}

struct Handler {
    user: String,
    password: String,
    scram: ScramCredentials,
    rng: SystemRandom,
}

impl Handler {
    fn check(&self, request: &VerifyRequest) -> Verification {
        match request {
            VerifyRequest::Password {
                authzid,
                authcid,
                password,
            } if *authcid == self.user
                && *password == self.password
                && authzid.as_ref().is_none_or(|z| *z == self.user) =>
            {
                Verification::Accepted
            }
            VerifyRequest::Scram { authzid, username }
                if *username == self.user && authzid.as_ref().is_none_or(|z| *z == self.user) =>
            {
                let mut nonce = [0u8; 18];
                if self.rng.fill(&mut nonce).is_err() {
                    return Verification::Rejected;
                }
                Verification::Scram {
                    credentials: self.scram.clone(),
                    server_nonce: nonce.iter().map(|b| format!("{b:02x}")).collect(),
                }
            }
            _ => Verification::Rejected,
        }
    }
}

impl ServerHandler<MemoryStore> for Handler {
    async fn on_event(
        &mut self,
        session: &mut ServerSession<MemoryStore>,
        event: ServerEvent,
    ) -> io::Result<()> {
        match event {
            ServerEvent::Login { username, password } => {
                let ok = username == self.user && password.expose() == self.password.as_bytes();
                if !ok {
                    // Slow down password guessing.
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                session
                    .login_verified(ok.then(|| self.user.clone()))
                    .map_err(io::Error::other)
            }
            ServerEvent::AuthVerify(request) => {
                let verdict = self.check(&request);
                if verdict == Verification::Rejected {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                session.auth_verified(verdict).map_err(io::Error::other)
            }
            _ => Ok(()),
        }
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
    let store = MemoryStore::with_clock(Arc::new(wall_clock));
    store.add_user(&args.user);
    let mut loaded = 0usize;
    if let Some(dir) = &args.load {
        for path in files(dir)? {
            let data = to_crlf(&std::fs::read(&path)?);
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let date = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| DateTime::from_unix_seconds(unix_time(t)));
            store.insert(
                &args.user,
                "INBOX",
                Bytes::from(data),
                &maildir_flags(name),
                date,
            )?;
            loaded += 1;
        }
    }
    let mut config = ServerConfig::new("Postel IMAP example ready");
    config.extensions = Extensions {
        compress: args.compress,
        ..Extensions::default()
    };
    let tls = if args.tls {
        config.starttls = true;
        config.plaintext_auth = false;
        Some(self_signed_acceptor(&args.hostname)?)
    } else {
        None
    };
    let config = Arc::new(config);
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)
        .map_err(|_| io::Error::other("no random numbers"))?;
    let scram = ScramCredentials::derive(&args.password, &salt, 4096);

    let listener = TcpListener::bind(args.listen).await?;
    println!(
        "imap-server: listening on {} with {loaded} messages for {}{}",
        listener.local_addr()?,
        args.user,
        if args.tls { " (STARTTLS)" } else { "" }
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let session = ServerSession::new(config.clone(), Instant::now());
        let mut handler = Handler {
            user: args.user.clone(),
            password: args.password.clone(),
            scram: scram.clone(),
            rng: rng.clone(),
        };
        let store = store.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Err(e) =
                serve_connection(stream, session, &mut handler, store, tls, DEFAULT_IDLE_POLL).await
            {
                eprintln!("imap-server: {peer}: {e}");
            }
        });
    }
}
