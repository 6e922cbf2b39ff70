//! Sends one message file with the Sans-IO client session and prints each
//! recipient's outcome.
//!
//! ```text
//! cargo run --release -p postel-smtp --example send -- --server 127.0.0.1:2525 --from a@example.org --to b@example.net FILE
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use postel_sasl::ClientCredentials;
use postel_smtp::client::{ClientAuth, ClientConfig, DeliveryStatus, Envelope, TlsPolicy};
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::tokio_io::{ClientTls, send_messages};
use postel_smtp::{ForwardPath, Mailbox, ReversePath};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Tls {
    None,
    Opportunistic,
    Required,
}

#[derive(Parser, Debug)]
#[command(about = "Send a message file over SMTP and print each recipient's outcome")]
struct Args {
    /// host:port of the SMTP server.
    #[arg(long)]
    server: String,
    /// Envelope sender (empty for the null sender <>).
    #[arg(long)]
    from: String,
    /// Envelope recipient; repeat for more.
    #[arg(long, required = true)]
    to: Vec<String>,
    /// EHLO name.
    #[arg(long, default_value = "send.postel.test")]
    helo: String,
    /// STARTTLS policy.
    #[arg(long, value_enum, default_value = "opportunistic")]
    tls: Tls,
    /// With --tls required: accept any certificate (opportunistic TLS never
    /// checks certificates, as RFC 7435 allows).
    #[arg(long)]
    insecure: bool,
    /// AUTH user name.
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// AUTH password.
    #[arg(long)]
    password: Option<String>,
    /// Allow AUTH without TLS.
    #[arg(long)]
    plaintext_auth: bool,
    /// Use DATA even when the server offers CHUNKING.
    #[arg(long)]
    no_chunking: bool,
    /// The message (RFC 5322) to send.
    file: PathBuf,
}

/// Certificate checks off: only for opportunistic TLS and --insecure.
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector(verify: bool) -> Result<TlsConnector, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let config = if verify {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

fn parse_args(args: &Args) -> Result<Envelope, String> {
    let from = if args.from.is_empty() || args.from == "<>" {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(Mailbox::parse(&args.from).map_err(|e| format!("--from: {e}"))?)
    };
    let recipients = args
        .to
        .iter()
        .map(|t| {
            Mailbox::parse(t)
                .map(|m| (ForwardPath::Mailbox(m), RcptParameters::default()))
                .map_err(|e| format!("--to {t}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Envelope {
        from,
        params: MailParameters::default(),
        recipients,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut envelope = match parse_args(&args) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("send: {e}");
            return ExitCode::from(2);
        }
    };
    let body = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("send: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    envelope.params.size = Some(body.len() as u64);
    let has_8bit = body.iter().any(|b| *b >= 0x80);
    if has_8bit {
        envelope.params.body = Some(postel_smtp::params::BodyType::EightBitMime);
    }
    let mut config = ClientConfig::new(args.helo.clone());
    config.use_chunking = !args.no_chunking;
    config.tls = match args.tls {
        Tls::None => TlsPolicy::Disabled,
        Tls::Opportunistic => TlsPolicy::Opportunistic,
        Tls::Required => TlsPolicy::Required,
    };
    if let (Some(user), Some(password)) = (&args.user, &args.password) {
        config.auth = Some(ClientAuth {
            mechanism: None,
            credentials: ClientCredentials::password(user.clone(), password.clone()),
            scram_nonce: Some(nonce()),
            allow_plaintext_without_tls: args.plaintext_auth,
        });
    }
    let host = args
        .server
        .rsplit_once(':')
        .map_or(args.server.as_str(), |(h, _)| h);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls = match (args.tls, ServerName::try_from(host)) {
        (Tls::None, _) => None,
        (policy, Ok(name)) => {
            let verify = matches!(policy, Tls::Required) && !args.insecure;
            match connector(verify) {
                Ok(connector) => Some(ClientTls {
                    connector,
                    server_name: name,
                }),
                Err(e) => {
                    eprintln!("send: TLS setup: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        (_, Err(e)) => {
            eprintln!("send: bad server name: {e}");
            return ExitCode::from(2);
        }
    };
    let stream = match TcpStream::connect(&args.server).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("send: cannot connect to {}: {e}", args.server);
            return ExitCode::from(1);
        }
    };
    match send_messages(stream, config, tls, vec![(envelope, body)]).await {
        Ok(outcomes) => {
            let mut all_ok = true;
            for outcome in outcomes {
                for r in outcome.recipients {
                    let (word, reply) = match &r.status {
                        DeliveryStatus::Accepted(reply) => ("accepted", reply),
                        DeliveryStatus::TransientFailure(reply) => ("deferred", reply),
                        DeliveryStatus::PermanentFailure(reply) => ("rejected", reply),
                    };
                    all_ok &= matches!(r.status, DeliveryStatus::Accepted(_));
                    println!("{}: {word}: {reply}", r.to);
                }
            }
            if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::from(1)
        }
    }
}

/// A SCRAM nonce from the operating system's random source, hex encoded
/// (printable, no commas).
fn nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 18];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        eprintln!("send: no randomness for the SCRAM nonce");
        std::process::exit(1);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
