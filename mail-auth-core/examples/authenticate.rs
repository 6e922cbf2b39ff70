//! Authenticate a received message the way a receiving server does, with
//! DNS answered from zone files, and print the Authentication-Results
//! header.
//!
//! ```text
//! cargo run -p postel-auth --example authenticate -- \
//!     --ip 192.0.2.1 --helo mx.example.com --mail-from alice@example.com \
//!     --zone example.zone message.eml
//! ```
//!
//! A message from a real client: capture one with `posteld` (or any MTA)
//! and pass the file here.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use postel_auth::{AuthConfig, AuthRequest, authenticate};
use postel_dns::ZoneResolver;

#[derive(Parser, Debug)]
#[command(about = "SPF, DKIM, DMARC and iprev for one message; prints Authentication-Results")]
struct Args {
    /// The SMTP client's address.
    #[arg(long)]
    ip: IpAddr,
    /// The HELO name.
    #[arg(long)]
    helo: String,
    /// The MAIL FROM address (empty for <>).
    #[arg(long = "mail-from", default_value = "")]
    mail_from: String,
    /// Zone files that answer every DNS query (repeatable).
    #[arg(long = "zone", required = true)]
    zones: Vec<PathBuf>,
    /// The message file.
    message: PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let resolver = ZoneResolver::from_files(&args.zones)?;
    let message = std::fs::read(&args.message)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let request = AuthRequest {
        ip: args.ip,
        helo: &args.helo,
        mail_from: &args.mail_from,
        message: &message,
        now_unix: now.as_secs(),
        dmarc_sample: (now.subsec_nanos() % 100) as u8,
    };
    let report = authenticate(&resolver, &request, &AuthConfig::new("example.localhost")).await;
    print!("{}", report.authentication_results.to_header_field());
    Ok(())
}
