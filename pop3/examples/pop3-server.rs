//! A POP3 server for one account over an in-memory maildrop loaded from a
//! folder: a Maildir (files in `DIR/cur` and `DIR/new`) or a folder of
//! `.eml` files. Deletions committed by QUIT are applied to the in-memory
//! maildrop, and with `--delete-files` to the files too.
//!
//! ```text
//! cargo run --release -p postel-pop3 --example pop3-server -- --listen 127.0.0.1:1110 \
//!     --user alice --password secret --load /path/to/maildir [--tls] [--delete-files]
//! ```
//!
//! Logins: USER/PASS, APOP (the password is the shared secret) and SASL
//! PLAIN, LOGIN and SCRAM-SHA-256. With `--tls` the server offers STLS with
//! a self-signed certificate and refuses passwords in the clear before it;
//! without it, plaintext logins are allowed.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Parser;
use postel_pop3::apop::{ApopTimestamp, verify_apop};
use postel_pop3::maildrop::{
    Maildrop, MaildropRefusal, MaildropStore, MemoryMaildrop, MemoryStore, MessageInfo,
    is_valid_uid,
};
use postel_pop3::server::{ConnectionInfo, ServerConfig, ServerEvent, ServerSession};
use postel_pop3::tokio_io::{ServerHandler, serve_connection};
use postel_sasl::{Mechanism, ScramCredentials, Verification, VerifyRequest};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

#[derive(Parser, Debug)]
#[command(about = "POP3 server for one account over messages loaded from a folder")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1110")]
    listen: SocketAddr,
    /// The account's user name.
    #[arg(long)]
    user: String,
    /// The account's password (also the APOP shared secret).
    #[arg(long)]
    password: String,
    /// A Maildir (cur/ and new/) or a folder of .eml files to serve.
    #[arg(long)]
    load: PathBuf,
    /// Offer STLS with a self-signed certificate; refuse passwords in the
    /// clear before it.
    #[arg(long)]
    tls: bool,
    /// Remove the files of messages deleted by a committed QUIT.
    #[arg(long)]
    delete_files: bool,
    /// Host name for the greeting and the certificate.
    #[arg(long, default_value = "pop3.postel.test")]
    hostname: String,
}

/// The folder's messages: which file holds which unique id.
fn load(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let maildir = dir.join("cur").is_dir() || dir.join("new").is_dir();
    let folders = if maildir {
        vec![dir.join("cur"), dir.join("new")]
    } else {
        vec![dir.to_path_buf()]
    };
    for folder in folders {
        if !folder.is_dir() {
            continue;
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .filter(|p| maildir || p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        files.extend(names);
    }
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for path in files {
        let uid = uid_for(&path, maildir);
        let uid = if out.iter().any(|(u, _)| *u == uid) {
            sha256_hex(path.to_string_lossy().as_bytes())
        } else {
            uid
        };
        out.push((uid, path));
    }
    Ok(out)
}

/// The file name's stem (a Maildir name up to its `:2,` flags) when it is a
/// valid unique id, else a SHA-256 of the name.
fn uid_for(path: &Path, maildir: bool) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if maildir {
        name.split(':').next().unwrap_or(&name).to_owned()
    } else {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if is_valid_uid(&stem) {
        stem
    } else {
        sha256_hex(name.as_bytes())
    }
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The in-memory store plus the files behind it.
#[derive(Clone)]
struct FolderStore {
    memory: MemoryStore,
    files: Arc<HashMap<String, PathBuf>>,
    delete_files: bool,
}

struct FolderMaildrop {
    inner: MemoryMaildrop,
    files: Arc<HashMap<String, PathBuf>>,
    delete_files: bool,
}

impl MaildropStore for FolderStore {
    type Maildrop = FolderMaildrop;

    fn lock(&self, user: &str) -> Result<FolderMaildrop, MaildropRefusal> {
        Ok(FolderMaildrop {
            inner: self.memory.lock(user)?,
            files: Arc::clone(&self.files),
            delete_files: self.delete_files,
        })
    }
}

impl Maildrop for FolderMaildrop {
    fn messages(&self) -> Vec<MessageInfo> {
        self.inner.messages()
    }

    fn read(&mut self, index: usize, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(index, offset, buf)
    }

    fn commit(&mut self, deleted: &[usize]) -> io::Result<()> {
        let uids: Vec<String> = deleted
            .iter()
            .filter_map(|&i| self.inner.uid(i).map(str::to_owned))
            .collect();
        self.inner.commit(deleted)?;
        if self.delete_files {
            for uid in uids {
                if let Some(path) = self.files.get(&uid) {
                    std::fs::remove_file(path)?;
                }
            }
        }
        Ok(())
    }
}

/// Checks the one account's credentials.
struct Account {
    user: String,
    password: String,
    scram: ScramCredentials,
    rng: SystemRandom,
}

impl Account {
    fn nonce(&self) -> String {
        let mut bytes = [0u8; 18];
        let _ = self.rng.fill(&mut bytes);
        postel_sasl::wire::encode(&bytes)
    }

    fn check(&self, user: &str, password: &str) -> bool {
        // Both compared in full, so the time taken says nothing.
        let user_ok = user.as_bytes() == self.user.as_bytes();
        let password_ok = ring::digest::digest(&ring::digest::SHA256, password.as_bytes()).as_ref()
            == ring::digest::digest(&ring::digest::SHA256, self.password.as_bytes()).as_ref();
        user_ok & password_ok
    }
}

struct Handler {
    account: Arc<Account>,
}

impl ServerHandler for Handler {
    async fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> io::Result<()> {
        let a = &self.account;
        match event {
            ServerEvent::Login { user, password } => {
                let ok = a.check(&user, password.as_str());
                if !ok {
                    // Slow down password guessing (RFC 1939 §13).
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                session.login_verified(ok).map_err(io::Error::other)?;
            }
            ServerEvent::Apop {
                user,
                timestamp,
                digest,
            } => {
                let ok = user == a.user && verify_apop(&timestamp, &a.password, &digest);
                session.login_verified(ok).map_err(io::Error::other)?;
            }
            ServerEvent::AuthVerify(request) => {
                let verdict = match request {
                    VerifyRequest::Password {
                        authzid,
                        authcid,
                        password,
                    } => {
                        // Acting as another user is not allowed here.
                        let as_self = authzid.as_ref().is_none_or(|z| *z == authcid);
                        if as_self && a.check(&authcid, &password) {
                            Verification::Accepted
                        } else {
                            Verification::Rejected
                        }
                    }
                    VerifyRequest::Scram { authzid, username } => {
                        let as_self = authzid.as_ref().is_none_or(|z| *z == username);
                        if as_self && username == a.user {
                            Verification::Scram {
                                credentials: a.scram.clone(),
                                server_nonce: a.nonce(),
                            }
                        } else {
                            Verification::Rejected
                        }
                    }
                    VerifyRequest::Bearer { .. } => Verification::Rejected,
                };
                session.auth_verified(verdict).map_err(io::Error::other)?;
            }
            ServerEvent::TimedOut => eprintln!("pop3-server: client timed out"),
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

static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let rng = SystemRandom::new();

    let memory = MemoryStore::new();
    let mut files = HashMap::new();
    for (uid, path) in load(&args.load)? {
        memory.add(&args.user, &uid, &std::fs::read(&path)?)?;
        files.insert(uid, path);
    }
    let store = FolderStore {
        memory,
        files: Arc::new(files),
        delete_files: args.delete_files,
    };

    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| "no randomness")?;
    let account = Arc::new(Account {
        scram: ScramCredentials::derive(&args.password, &salt, 4096),
        user: args.user.clone(),
        password: args.password.clone(),
        rng: rng.clone(),
    });

    let mut config = ServerConfig::new(args.hostname.clone());
    config.extensions.stls = args.tls;
    config.extensions.sasl = vec![Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login];
    config.allow_plaintext_login = !args.tls;
    let config = Arc::new(config);
    let tls = if args.tls {
        Some(self_signed_acceptor(&args.hostname)?)
    } else {
        None
    };

    let listener = TcpListener::bind(args.listen).await?;
    println!(
        "pop3-server: listening on {} ({} messages for {})",
        listener.local_addr()?,
        store.memory.messages(&args.user).len(),
        args.user
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (config, tls, store) = (Arc::clone(&config), tls.clone(), store.clone());
        let mut handler = Handler {
            account: Arc::clone(&account),
        };
        let mut random = [0u8; 8];
        let _ = rng.fill(&mut random);
        let unique = format!(
            "{}.{}.{}",
            std::process::id(),
            CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let timestamp = ApopTimestamp::generate(&unique, &args.hostname)?;
        tokio::spawn(async move {
            let connection = ConnectionInfo {
                peer: Some(peer),
                local: stream.local_addr().ok(),
            };
            let session = ServerSession::with_apop(config, connection, timestamp, Instant::now());
            if let Err(e) = serve_connection(stream, session, &mut handler, store, tls).await {
                eprintln!("pop3-server: {peer}: {e}");
            }
        });
    }
}
