//! Runs the client and server sides of one SASL exchange against each other
//! in memory and prints it as it would look in an SMTP session (RFC 4954),
//! with each base64 line's decoded content alongside.
//!
//! ```text
//! cargo run -p postel-sasl --example sasl_exchange -- \
//!     --mechanism SCRAM-SHA-256 --user user --password pencil
//! ```
//!
//! Options:
//!
//! * `--mechanism NAME`: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER or SCRAM-SHA-256
//! * `--user U`, `--password P`: the account the server knows (for the
//!   bearer mechanisms, P is the token)
//! * `--client-password P2`: have the client use another password, to see
//!   a failure
//! * `--no-initial-response`: do not send an initial response with `AUTH`

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::process::ExitCode;

use postel_sasl::{
    ClientCredentials, ClientExchange, Mechanism, ScramCredentials, ServerExchange, ServerOptions,
    ServerStep, Verification, VerifyRequest, wire,
};

struct Args {
    mechanism: Mechanism,
    user: String,
    password: String,
    client_password: Option<String>,
    initial_response: bool,
}

const USAGE: &str = "usage: sasl_exchange --mechanism NAME --user U --password P \
                     [--client-password P2] [--no-initial-response]";

fn parse_args() -> Result<Args, String> {
    let mut mechanism = None;
    let mut user = None;
    let mut password = None;
    let mut client_password = None;
    let mut initial_response = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--mechanism" => {
                let name = value("--mechanism")?;
                mechanism = Some(name.parse::<Mechanism>().map_err(|e| e.to_string())?);
            }
            "--user" => user = Some(value("--user")?),
            "--password" => password = Some(value("--password")?),
            "--client-password" => client_password = Some(value("--client-password")?),
            "--no-initial-response" => initial_response = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args {
        mechanism: mechanism.ok_or(format!("--mechanism is required\n{USAGE}"))?,
        user: user.ok_or(format!("--user is required\n{USAGE}"))?,
        password: password.ok_or(format!("--password is required\n{USAGE}"))?,
        client_password,
        initial_response,
    })
}

/// Random hex from std's hasher keys. Good enough to show the exchange;
/// real code must draw nonces and salts from a cryptographic RNG.
fn demo_random(len: usize) -> String {
    let mut out = String::new();
    let mut counter = 0u64;
    while out.len() < len {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(counter);
        out.push_str(&format!("{:016x}", hasher.finish()));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// Prints one protocol line, with the decoded payload if there is one.
fn line(who: &str, text: &str, payload: Option<&[u8]>) {
    match payload {
        Some(data) if !data.is_empty() => {
            println!("{who}: {text:<60}  [{}]", data.escape_ascii());
        }
        _ => println!("{who}: {text}"),
    }
}

/// The server's password store: one user, and the verdict it gives.
fn check(args: &Args, scram: &ScramCredentials, request: &VerifyRequest) -> Verification {
    match request {
        VerifyRequest::Password {
            authcid, password, ..
        } if *authcid == args.user && *password == args.password => Verification::Accepted,
        VerifyRequest::Bearer { token, .. } if *token == args.password => {
            Verification::AcceptedAs(args.user.clone())
        }
        VerifyRequest::Scram { username, .. } if *username == args.user => Verification::Scram {
            credentials: scram.clone(),
            server_nonce: demo_random(24),
        },
        _ => Verification::Rejected,
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let secret = args.client_password.as_ref().unwrap_or(&args.password);
    let credentials = match args.mechanism {
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => {
            ClientCredentials::bearer(&args.user, secret)
        }
        _ => ClientCredentials::password(&args.user, secret),
    };
    let mut client = ClientExchange::new(args.mechanism, credentials, Some(demo_random(24)))
        .map_err(|e| e.to_string())?;
    let scram = ScramCredentials::derive(&args.password, demo_random(16).as_bytes(), 4096);
    let mut server = ServerExchange::new(args.mechanism, ServerOptions::default());

    let command = format!("AUTH {}", args.mechanism);
    let initial = if args.initial_response {
        client.initial_response()
    } else {
        None
    };
    let mut step = match &initial {
        Some(ir) => {
            line(
                "C",
                &format!("{command} {}", wire::encode_initial_response(ir)),
                Some(ir),
            );
            server.start(Some(ir))
        }
        None => {
            line("C", &command, None);
            server.start(None)
        }
    };
    // SMTP cannot carry data with 235: SCRAM's server-final goes out as one
    // more 334 challenge, answered by an empty line.
    let mut pending_success = None;
    loop {
        step = match step {
            ServerStep::Challenge(challenge) => {
                line(
                    "S",
                    &format!("334 {}", wire::encode(&challenge)),
                    Some(&challenge),
                );
                match client.respond(&challenge) {
                    Ok(response) => {
                        line("C", &wire::encode(&response), Some(&response));
                        if let Some(identity) = pending_success.take() {
                            ServerStep::Success {
                                identity,
                                additional: None,
                            }
                        } else {
                            server.respond(&response)
                        }
                    }
                    Err(err) => {
                        println!("   (client gives up: {err})");
                        line("C", "*", None);
                        server.cancel()
                    }
                }
            }
            ServerStep::Verify(request) => {
                let verdict = check(args, &scram, &request);
                println!("   (server checks {request:?}: {verdict:?})");
                server.verified(verdict)
            }
            ServerStep::Success {
                identity,
                additional: Some(data),
            } => {
                pending_success = Some(identity);
                ServerStep::Challenge(data)
            }
            ServerStep::Success {
                identity,
                additional: None,
            } => {
                line("S", "235 2.7.0 Authentication successful", None);
                println!("   (server: authenticated as {identity:?})");
                return match client.finish(None) {
                    Ok(()) => {
                        if args.mechanism == Mechanism::ScramSha256 {
                            println!("   (client: server signature verified)");
                        } else {
                            println!("   (client: success accepted)");
                        }
                        Ok(true)
                    }
                    Err(err) => Err(format!("client refuses the success: {err}")),
                };
            }
            ServerStep::Failure(err) => {
                line("S", "535 5.7.8 Authentication credentials invalid", None);
                println!("   (server: {err})");
                if let Some(error) = client.server_error() {
                    println!("   (client: server said {error})");
                }
                return Ok(false);
            }
        };
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
