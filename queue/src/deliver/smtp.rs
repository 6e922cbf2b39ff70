//! The SMTP delivery agent: connects to each address of a destination in
//! turn until one answers, with STARTTLS opportunistic or required, and
//! hands out a [`Connection`] that carries any number of messages.

use std::time::{Duration, Instant};

use postel_smtp::client::{ClientConfig, ClientSession, ClientTimeouts, TlsPolicy};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use super::route::Target;
use super::session::{Conn, ConnectError, Connection, SessionError, Stream, TlsSetup};
use super::tls::{Connectors, TlsSetupError, server_name};

/// How the SMTP client behaves.
#[derive(Debug, Clone)]
pub struct SmtpPolicy {
    /// The name sent with EHLO.
    pub hello_name: String,
    /// STARTTLS: [`TlsPolicy::Opportunistic`] (the default: used when
    /// offered, certificates not checked, plaintext when the handshake
    /// fails), [`TlsPolicy::Required`] (certificate chain and host name
    /// checked; no TLS means the recipients wait), or
    /// [`TlsPolicy::Disabled`].
    pub tls: TlsPolicy,
    /// Trust the webpki (Mozilla) roots for required TLS (default true).
    pub webpki_roots: bool,
    /// More trusted roots for required TLS: a private CA, or a test's
    /// self-signed certificate.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// How long a TCP connect may take (Postfix's
    /// `smtp_connect_timeout`, 30 s).
    pub connect_timeout: Duration,
    /// Reply timeouts (RFC 5321 §4.5.3.2).
    pub timeouts: ClientTimeouts,
    /// The longest a write or a TLS handshake may take (5 minutes).
    pub io_timeout: Duration,
    /// Use BDAT when the server offers CHUNKING (default true); DATA
    /// otherwise.
    pub use_chunking: bool,
    /// Pipeline MAIL, RCPT and DATA when the server offers PIPELINING.
    pub use_pipelining: bool,
    /// Messages sent over one connection before it is closed and a new one
    /// opened (Postfix's `smtp_connection_reuse_count_limit`; 100).
    pub max_messages_per_connection: usize,
}

impl Default for SmtpPolicy {
    fn default() -> Self {
        SmtpPolicy {
            hello_name: "localhost".to_owned(),
            tls: TlsPolicy::Opportunistic,
            webpki_roots: true,
            extra_roots: Vec::new(),
            connect_timeout: Duration::from_secs(30),
            timeouts: ClientTimeouts::default(),
            io_timeout: Duration::from_secs(300),
            use_chunking: true,
            use_pipelining: true,
            max_messages_per_connection: 100,
        }
    }
}

/// The SMTP delivery agent: a policy with its TLS configuration built.
#[derive(Debug, Clone)]
pub struct SmtpAgent {
    policy: SmtpPolicy,
    connectors: Connectors,
}

impl SmtpAgent {
    /// Builds the TLS configuration of `policy`.
    pub fn new(policy: SmtpPolicy) -> Result<Self, TlsSetupError> {
        let connectors = Connectors::new(policy.webpki_roots, &policy.extra_roots)?;
        Ok(SmtpAgent { policy, connectors })
    }

    /// The policy.
    pub fn policy(&self) -> &SmtpPolicy {
        &self.policy
    }

    /// Connects to the targets in turn until one is ready for mail: the TCP
    /// connection is made, the greeting is 220, EHLO (or HELO) is
    /// accepted, and STARTTLS is done as the policy asks. A refused or
    /// silent address, a 4yz or 5yz greeting, or missing TLS moves on to the
    /// next; with opportunistic TLS a failed handshake is retried once in
    /// plaintext on the same address.
    pub async fn connect(&self, targets: &[Target]) -> Result<Connection, ConnectError> {
        let mut last = None;
        let mut tried = 0;
        for target in targets {
            tried += 1;
            match self.connect_one(target, self.policy.tls).await {
                Ok(c) => return Ok(c),
                Err(e) if e.is_tls_handshake() && self.policy.tls == TlsPolicy::Opportunistic => {
                    match self.connect_one(target, TlsPolicy::Disabled).await {
                        Ok(c) => return Ok(c),
                        Err(e) => last = Some(e),
                    }
                }
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(last) => Err(ConnectError::AllFailed { tried, last }),
            None => Err(ConnectError::NoTargets),
        }
    }

    /// Connects to one address with the given TLS policy.
    pub async fn connect_one(
        &self,
        target: &Target,
        tls: TlsPolicy,
    ) -> Result<Connection, SessionError> {
        let peer = target.to_string();
        let policy = &self.policy;
        let tcp =
            match tokio::time::timeout(policy.connect_timeout, TcpStream::connect(target.addr))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(source)) => return Err(SessionError::Connect { peer, source }),
                Err(_) => {
                    return Err(SessionError::ConnectTimeout {
                        peer,
                        after: policy.connect_timeout,
                    });
                }
            };
        let _ = tcp.set_nodelay(true);
        let setup: TlsSetup = match tls {
            TlsPolicy::Disabled => None,
            TlsPolicy::Opportunistic => {
                // Nothing is checked; the name only goes out as SNI.
                let name = server_name(&target.host)
                    .unwrap_or_else(|| ServerName::IpAddress(target.addr.ip().into()));
                Some((self.connectors.opportunistic.clone(), name))
            }
            TlsPolicy::Required => match server_name(&target.host) {
                Some(name) => Some((self.connectors.verifying.clone(), name)),
                None => {
                    return Err(SessionError::TlsName {
                        host: target.host.clone(),
                    });
                }
            },
        };
        let mut config = ClientConfig::new(policy.hello_name.clone());
        config.tls = tls;
        config.timeouts = policy.timeouts;
        config.use_chunking = policy.use_chunking;
        config.use_pipelining = policy.use_pipelining;
        let session = ClientSession::new(config, Instant::now());
        let conn = Conn::open(Stream::Tcp(tcp), session, setup, peer, policy.io_timeout).await?;
        Ok(Connection::new(conn))
    }
}
