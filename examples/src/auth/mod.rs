//! `posteld auth ...`: the mail-authentication tools.

mod spf;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::UsageError;

/// The `auth` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Evaluate SPF for a client IP, HELO name and MAIL FROM address.
    Spf(SpfArgs),
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
    }
}
