//! `posteld`: Postel's reference mail server and its admin subcommands.
//!
//! `posteld` alone (or `posteld serve`) receives mail over SMTP on
//! 127.0.0.1:2525, authenticates it and delivers it to `./posteld-mail`.
//! The `auth` tools do the checks one at a time: SPF evaluation, message verification
//! (SPF, DKIM, DMARC, ARC, iprev into an Authentication-Results header),
//! DKIM signing and key generation. Every command exits 0 when it ran,
//! whatever the result, and 2 with a message for bad arguments, unreadable
//! files and broken zone files.

mod auth;
mod resolver;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Postel's reference mail server.
#[derive(Debug, Parser)]
#[command(name = "posteld", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive mail over SMTP, authenticate it, deliver it to a Maildir
    /// (the default when no command is given).
    Serve(serve::ServeArgs),
    /// Mail authentication tools: SPF, DKIM, DMARC, ARC, iprev.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
}

/// A failure to run at all (exit code 2), as opposed to a check's result.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("posteld: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            None => serve::run(serve::ServeArgs::default()).await,
            Some(Command::Serve(args)) => serve::run(args).await,
            Some(Command::Auth(cmd)) => auth::run(cmd).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("posteld: {e}");
            ExitCode::from(2)
        }
    }
}
