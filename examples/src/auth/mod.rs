//! `posteld auth ...`: the mail-authentication tools.

mod keygen;
mod sign;
mod spf;
mod verify;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::UsageError;

/// The `auth` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Evaluate SPF for a client IP, HELO name and MAIL FROM address.
    Spf(SpfArgs),
    /// Verify a message: SPF, DKIM, DMARC, iprev; print Authentication-Results.
    Verify(VerifyArgs),
    /// DKIM-sign a message and print it with the signature prepended.
    Sign(SignArgs),
    /// Make a DKIM key and print the zone-file line that publishes it.
    Keygen(KeygenArgs),
}

/// Arguments of `posteld auth verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The SMTP client's IP address.
    #[arg(long)]
    pub ip: IpAddr,
    /// The HELO/EHLO name the client gave.
    #[arg(long)]
    pub helo: String,
    /// The MAIL FROM address (empty for the null reverse-path).
    #[arg(long = "mail-from")]
    pub mail_from: String,
    /// A zone file to answer DNS queries from (may repeat).
    #[arg(long = "zone")]
    pub zones: Vec<PathBuf>,
    /// The authserv-id written in Authentication-Results.
    #[arg(long = "authserv-id", default_value = "posteld.localhost")]
    pub authserv_id: String,
    /// Unix time to verify at (default: now); for reproducible runs.
    #[arg(long)]
    pub time: Option<u64>,
    /// Print a JSON object instead of the header value.
    #[arg(long)]
    pub json: bool,
    /// The message file (RFC 5322, CRLF or LF line ends).
    pub message: PathBuf,
}

/// Arguments of `posteld auth sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signing domain (d=).
    #[arg(long)]
    pub domain: String,
    /// The selector (s=).
    #[arg(long)]
    pub selector: String,
    /// The private key, PEM (PKCS#8, or PKCS#1 for RSA).
    #[arg(long)]
    pub key: PathBuf,
    /// rsa-sha256 or ed25519-sha256; must match the key (default: the key's).
    #[arg(long)]
    pub algorithm: Option<String>,
    /// header/body canonicalization, e.g. relaxed/relaxed (default), simple/simple.
    #[arg(long, default_value = "relaxed/relaxed")]
    pub canonicalization: String,
    /// Add t= with this Unix time (default: now).
    #[arg(long)]
    pub time: Option<u64>,
    /// Add x= this many seconds after t=.
    #[arg(long)]
    pub expire_after: Option<u64>,
    /// The message file.
    pub message: PathBuf,
}

/// Arguments of `posteld auth keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// rsa (2048 bits) or ed25519.
    #[arg(long)]
    pub algorithm: String,
    /// The domain the key signs for.
    #[arg(long)]
    pub domain: String,
    /// The selector.
    #[arg(long)]
    pub selector: String,
    /// Where to write the private key (PEM, mode 0600).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `posteld auth spf`.
#[derive(Debug, Args)]
pub struct SpfArgs {
    /// The SMTP client's IP address.
    #[arg(long)]
    pub ip: IpAddr,
    /// The HELO/EHLO name the client gave.
    #[arg(long)]
    pub helo: String,
    /// The MAIL FROM address (empty for the null reverse-path).
    #[arg(long = "mail-from")]
    pub mail_from: String,
    /// A zone file to answer DNS queries from (may repeat); without it the
    /// system's resolver is used.
    #[arg(long = "zone")]
    pub zones: Vec<PathBuf>,
    /// Print a JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Run one `auth` subcommand.
pub async fn run(cmd: AuthCommand) -> Result<(), UsageError> {
    match cmd {
        AuthCommand::Spf(args) => spf::run(args).await,
        AuthCommand::Verify(args) => verify::run(args).await,
        AuthCommand::Sign(args) => sign::run(args),
        AuthCommand::Keygen(args) => keygen::run(args),
    }
}

/// Read a file, or say which one could not be read.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, UsageError> {
    std::fs::read(path).map_err(|e| UsageError(format!("{}: cannot read: {e}", path.display())))
}

/// Seconds since the Unix epoch by this machine's clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
