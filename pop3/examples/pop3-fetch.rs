//! Fetches every message of a POP3 maildrop into a folder, driving the
//! Sans-IO [`ClientSession`] over tokio by hand: each message streams
//! straight into its file, a chunk at a time.
//!
//! ```text
//! cargo run --release -p postel-pop3 --example pop3-fetch -- --server 127.0.0.1:110 \
//!     --user alice --password secret --out ./mail \
//!     [--tls none|opportunistic|required] [--insecure] [--ca FILE] [--delete]
//! ```
//!
//! It logs in with USER/PASS, asks STAT, UIDL (when CAPA lists it) and
//! LIST, retrieves message `n` into `OUT/n.eml` (unstuffed, line endings as
//! the server sent them, normally CRLF) and QUITs. With `--delete` each
//! message is marked deleted only once its file is written and synced, so
//! a failure never loses mail; the server removes them at QUIT.
//!
//! STLS (`--tls`, default `opportunistic`) checks the server's certificate
//! against the PEM bundle `--ca` (Debian's system bundle by default), or not
//! at all with `--insecure`. With `--tls opportunistic` and a server that
//! does not offer STLS, or with `--tls none`, the password goes in the
//! clear.
//!
//! Output, one line each: `STAT <count> <octets>`, `UIDL <n> <uid>`,
//! `LIST <n> <octets>`, `RETR <n> <octets> <file>`, `DELE <n>`,
//! `QUIT <server's response>`, and a last line
//! `fetched <n> messages (<octets> octets), deleted <d>`. Errors go to
//! stderr; the exit status is 0 only if every message was fetched and the
//! QUIT succeeded.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use postel_pop3::Command;
use postel_pop3::client::{ClientAuth, ClientConfig, ClientEvent, ClientSession, TlsPolicy};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Tls {
    None,
    Opportunistic,
    Required,
}

#[derive(Parser, Debug)]
#[command(about = "Fetch every message of a POP3 maildrop into a folder")]
struct Args {
    /// host:port of the POP3 server.
    #[arg(long)]
    server: String,
    /// User name (USER).
    #[arg(long)]
    user: String,
    /// Password (PASS).
    #[arg(long)]
    password: String,
    /// STLS policy.
    #[arg(long, value_enum, default_value = "opportunistic")]
    tls: Tls,
    /// Accept any certificate after STLS.
    #[arg(long)]
    insecure: bool,
    /// PEM file of the certificates to trust after STLS.
    #[arg(long, default_value = "/etc/ssl/certs/ca-certificates.crt")]
    ca: PathBuf,
    /// Delete each message on the server once it is safely in its file.
    #[arg(long)]
    delete: bool,
    /// Folder for the messages (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// Certificate checks off (`--insecure`); handshake signatures are still
/// verified.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS connector, built when the server has accepted STLS (so that a
/// missing CA bundle matters only when TLS is used).
fn connector(args: &Args) -> io::Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
    let config = if args.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let bad_ca = |e: &dyn std::fmt::Display| {
            io::Error::other(format!("--ca {}: {e}", args.ca.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&args.ca).map_err(|e| bad_ca(&e))? {
            roots
                .add(cert.map_err(|e| bad_ca(&e))?)
                .map_err(|e| bad_ca(&e))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The host part of `host:port` (without the brackets of an IPv6 address).
fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The message being written.
struct Current {
    number: u32,
    path: PathBuf,
    file: BufWriter<File>,
}

/// What the session asks for and what came of it.
struct Fetch {
    out: PathBuf,
    delete: bool,
    current: Option<Current>,
    /// RETRs given and not yet answered.
    outstanding: usize,
    fetched: u32,
    octets: u64,
    deleted: u32,
    /// Refused commands, a failed session, a bad QUIT.
    problems: Vec<String>,
    closed: bool,
}

impl Fetch {
    fn new(out: &Path, delete: bool) -> Self {
        Self {
            out: out.to_path_buf(),
            delete,
            current: None,
            outstanding: 0,
            fetched: 0,
            octets: 0,
            deleted: 0,
            problems: Vec::new(),
            closed: false,
        }
    }

    /// Reacts to one event; false when the session is over.
    fn on_event(&mut self, session: &mut ClientSession, event: ClientEvent) -> io::Result<bool> {
        let now = Instant::now();
        match event {
            ClientEvent::Ready => {
                session.stat(now).map_err(io::Error::other)?;
                if session.capabilities().uidl {
                    session.uidl(now, None).map_err(io::Error::other)?;
                }
                session.list(now, None).map_err(io::Error::other)?;
            }
            ClientEvent::Stat { count, size } => println!("STAT {count} {size}"),
            ClientEvent::Uidl(ids) => {
                for id in ids {
                    println!("UIDL {} {}", id.number, id.uid);
                }
            }
            ClientEvent::List(listing) => {
                for entry in &listing {
                    println!("LIST {} {}", entry.number, entry.size);
                    session.retr(now, entry.number).map_err(io::Error::other)?;
                }
                self.outstanding = listing.len();
                if listing.is_empty() {
                    session.quit(now).map_err(io::Error::other)?;
                }
            }
            ClientEvent::MessageStart { number } => {
                let path = self.out.join(format!("{number}.eml"));
                let file = BufWriter::with_capacity(64 * 1024, File::create(&path)?);
                self.current = Some(Current { number, path, file });
            }
            ClientEvent::MessageData(chunk) => {
                if let Some(current) = self.current.as_mut() {
                    current.file.write_all(&chunk)?;
                }
            }
            ClientEvent::MessageEnd { number, size } => {
                let Some(current) = self.current.take() else {
                    return Err(io::Error::other("message end without a start"));
                };
                debug_assert_eq!(current.number, number);
                let file = current.file.into_inner().map_err(|e| e.into_error())?;
                if self.delete {
                    // On disk before the server may forget it.
                    file.sync_all()?;
                    session.dele(now, number).map_err(io::Error::other)?;
                }
                println!("RETR {number} {size} {}", current.path.display());
                self.fetched += 1;
                self.octets += size;
                self.retr_answered(session)?;
            }
            ClientEvent::Deleted { number } => {
                println!("DELE {number}");
                self.deleted += 1;
            }
            ClientEvent::Refused { command, response } => {
                self.problems
                    .push(format!("{} refused: {response}", command.keyword()));
                if matches!(command, Command::Retr { .. }) {
                    self.retr_answered(session)?;
                }
            }
            ClientEvent::Closed(response) => {
                println!("QUIT {response}");
                if !response.is_ok() {
                    self.problems.push(format!("QUIT: {response}"));
                }
                self.closed = true;
                return Ok(false);
            }
            ClientEvent::Failed(error) => {
                self.problems.push(error.to_string());
                return Ok(false);
            }
            // StartTls is handled by the driving loop.
            _ => {}
        }
        Ok(true)
    }

    /// One RETR less to wait for; QUIT after the last one (and after the
    /// DELE that may follow it).
    fn retr_answered(&mut self, session: &mut ClientSession) -> io::Result<()> {
        self.outstanding = self.outstanding.saturating_sub(1);
        if self.outstanding == 0 {
            session.quit(Instant::now()).map_err(io::Error::other)?;
        }
        Ok(())
    }
}

/// How a driving loop ended.
enum Step {
    Done,
    StartTls,
}

/// Runs the session over `stream` until it ends or asks for TLS.
async fn drive<T>(
    stream: &mut T,
    session: &mut ClientSession,
    fetch: &mut Fetch,
    buf: &mut [u8],
) -> io::Result<Step>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        while let Some(event) = session.poll_event() {
            let starttls = matches!(event, ClientEvent::StartTls);
            let go_on = fetch.on_event(session, event)?;
            if let Some(out) = session.poll_transmit() {
                stream.write_all(&out).await?;
            }
            if starttls {
                stream.flush().await?;
                return Ok(Step::StartTls);
            }
            if !go_on {
                stream.flush().await?;
                return Ok(Step::Done);
            }
        }
        if let Some(out) = session.poll_transmit() {
            stream.write_all(&out).await?;
        }
        if session.is_closed() {
            return Ok(Step::Done);
        }
        let read = match session.poll_timeout() {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline.into(), stream.read(buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        session.handle_timeout(Instant::now());
                        continue;
                    }
                }
            }
            None => stream.read(buf).await,
        };
        match read? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            n => session.enqueue_input(Instant::now(), &buf[..n]),
        }
    }
}

async fn run(args: &Args, fetch: &mut Fetch) -> io::Result<()> {
    let mut config = ClientConfig::new(Some(ClientAuth::UserPass {
        user: args.user.clone(),
        password: args.password.clone(),
    }));
    config.tls = match args.tls {
        Tls::None => TlsPolicy::Disabled,
        Tls::Opportunistic => TlsPolicy::Opportunistic,
        Tls::Required => TlsPolicy::Required,
    };
    // Asked for on the command line (`--tls none`, or opportunistic TLS
    // that the server does not offer); `required` never gets there.
    config.allow_plaintext_without_tls = true;

    let mut stream = TcpStream::connect(&args.server).await?;
    stream.set_nodelay(true)?;
    let mut session = ClientSession::new(config, Instant::now());
    let mut buf = vec![0u8; 64 * 1024];
    if let Step::StartTls = drive(&mut stream, &mut session, fetch, &mut buf).await? {
        let name = ServerName::try_from(host_of(&args.server).to_owned())
            .map_err(|e| io::Error::other(format!("server name: {e}")))?;
        let mut tls = connector(args)?.connect(name, stream).await?;
        session
            .tls_established(Instant::now())
            .map_err(io::Error::other)?;
        if let Step::StartTls = drive(&mut tls, &mut session, fetch, &mut buf).await? {
            return Err(io::Error::other("STLS twice"));
        }
        let _ = tls.shutdown().await;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("pop3-fetch: cannot create {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    let mut fetch = Fetch::new(&args.out, args.delete);
    let outcome = run(&args, &mut fetch).await;
    println!(
        "fetched {} messages ({} octets), deleted {}",
        fetch.fetched, fetch.octets, fetch.deleted
    );
    if let Err(e) = outcome {
        eprintln!("pop3-fetch: {}: {e}", args.server);
        return ExitCode::from(1);
    }
    for problem in &fetch.problems {
        eprintln!("pop3-fetch: {problem}");
    }
    if fetch.problems.is_empty() && fetch.closed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
