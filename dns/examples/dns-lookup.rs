//! Looks one name up and prints the answer, from zone files, a given name
//! server, or the system's resolver.
//!
//! ```text
//! cargo run -p postel-dns --all-features --example dns-lookup -- \
//!     --zone dns/tests/data/example.zone example.com TXT
//! ```
//!
//! Exit status: 0 records, 1 NXDOMAIN or NODATA, 2 bad arguments, 3 a
//! temporary failure, 4 the zone files or the resolver could not be set up.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use postel_dns::{
    Answer, HickoryOptions, HickoryResolver, Query, RecordType, Resolver, ZoneResolver,
};

/// Look up NAME of type TYPE and print the answer, one record per line, or
/// NXDOMAIN, NODATA, TEMPFAIL.
#[derive(Parser, Debug)]
#[command(
    name = "dns-lookup",
    after_help = "Exit status: 0 records, 1 NXDOMAIN or NODATA, 2 usage, 3 TEMPFAIL, \
                  4 setup error (zone file, resolver configuration)."
)]
struct Args {
    /// Answer from this RFC 1035 zone file instead of the network
    /// (repeatable; the files are merged).
    #[arg(long, value_name = "FILE")]
    zone: Vec<PathBuf>,

    /// Ask this name server (IP:PORT) instead of those of /etc/resolv.conf.
    #[arg(long, value_name = "IP:PORT", conflicts_with = "zone")]
    server: Option<SocketAddr>,

    /// Timeout for one try, in milliseconds (network lookups only).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    timeout_ms: u64,

    /// The name to look up; for PTR an IP address may be given instead.
    name: String,

    /// The record type: A, AAAA, MX, TXT or PTR.
    #[arg(value_name = "TYPE")]
    rtype: RecordType,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let query = match (args.rtype, args.name.parse::<IpAddr>()) {
        (RecordType::Ptr, Ok(ip)) => Query::reverse(ip),
        _ => Query::new(&args.name, args.rtype),
    };

    let answer = if args.zone.is_empty() {
        let options = HickoryOptions::new().timeout(Duration::from_millis(args.timeout_ms));
        let resolver = match args.server {
            Some(server) => HickoryResolver::with_servers(&[server], &options),
            None => HickoryResolver::from_system_conf(&options),
        };
        match resolver {
            Ok(dns) => dns.lookup(&query).await,
            Err(e) => {
                eprintln!("dns-lookup: {e}");
                return ExitCode::from(4);
            }
        }
    } else {
        match ZoneResolver::from_files(&args.zone) {
            Ok(dns) => dns.lookup(&query).await,
            Err(e) => {
                // A syntax error reads FILE:LINE: message.
                eprintln!("{e}");
                return ExitCode::from(4);
            }
        }
    };

    println!(";; {query}");
    println!("{answer}");
    ExitCode::from(match answer {
        Answer::Records(_) => 0,
        Answer::NxDomain | Answer::NoData => 1,
        Answer::TempFail(_) => 3,
    })
}
