//! The LMTP delivery agent (RFC 2033): to a TCP address or a Unix socket,
//! with one reply per recipient after the data, so one mailbox can refuse
//! (over quota, say) while the others take the message.

use std::time::{Duration, Instant};

use postel_dns::Resolver;
use postel_lmtp::LmtpClient;
use postel_smtp::client::{ClientConfig, ClientTimeouts, TlsPolicy};
use tokio::net::TcpStream;

use super::route::{LmtpTarget, resolve_host};
use super::session::{Conn, ConnectError, Connection, SessionError, Stream};

/// How the LMTP client behaves.
#[derive(Debug, Clone)]
pub struct LmtpPolicy {
    /// The name sent with LHLO.
    pub hello_name: String,
    /// How long a connect may take (30 s).
    pub connect_timeout: Duration,
    /// Reply timeouts.
    pub timeouts: ClientTimeouts,
    /// The longest a write may take (5 minutes).
    pub io_timeout: Duration,
    /// Messages over one connection before a new one (100).
    pub max_messages_per_connection: usize,
}

impl Default for LmtpPolicy {
    fn default() -> Self {
        LmtpPolicy {
            hello_name: "localhost".to_owned(),
            connect_timeout: Duration::from_secs(30),
            timeouts: ClientTimeouts::default(),
            io_timeout: Duration::from_secs(300),
            max_messages_per_connection: 100,
        }
    }
}

/// The LMTP delivery agent. LMTP runs on trusted links: no STARTTLS.
#[derive(Debug, Clone, Default)]
pub struct LmtpAgent {
    policy: LmtpPolicy,
}

impl LmtpAgent {
    /// An agent with this policy.
    pub fn new(policy: LmtpPolicy) -> Self {
        LmtpAgent { policy }
    }

    /// The policy.
    pub fn policy(&self) -> &LmtpPolicy {
        &self.policy
    }

    /// Connects to the target (each address of a TCP host in turn) and
    /// says LHLO.
    pub async fn connect<R: Resolver + ?Sized>(
        &self,
        resolver: &R,
        target: &LmtpTarget,
    ) -> Result<Connection, ConnectError> {
        match target {
            LmtpTarget::Tcp { host, port } => {
                let targets = resolve_host(resolver, host, *port).await?;
                let mut last = None;
                let mut tried = 0;
                for t in &targets {
                    tried += 1;
                    let peer = t.to_string();
                    let tcp = match tokio::time::timeout(
                        self.policy.connect_timeout,
                        TcpStream::connect(t.addr),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(source)) => {
                            last = Some(SessionError::Connect { peer, source });
                            continue;
                        }
                        Err(_) => {
                            last = Some(SessionError::ConnectTimeout {
                                peer,
                                after: self.policy.connect_timeout,
                            });
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    match self.open(Stream::Tcp(tcp), peer).await {
                        Ok(c) => return Ok(c),
                        Err(e) => last = Some(e),
                    }
                }
                match last {
                    Some(last) => Err(ConnectError::AllFailed { tried, last }),
                    None => Err(ConnectError::NoTargets),
                }
            }
            LmtpTarget::Unix(path) => self.connect_unix(path).await,
        }
    }

    #[cfg(unix)]
    async fn connect_unix(&self, path: &std::path::Path) -> Result<Connection, ConnectError> {
        let peer = format!("unix:{}", path.display());
        let stream = match tokio::time::timeout(
            self.policy.connect_timeout,
            tokio::net::UnixStream::connect(path),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(ConnectError::AllFailed {
                    tried: 1,
                    last: SessionError::Connect { peer, source },
                });
            }
            Err(_) => {
                return Err(ConnectError::AllFailed {
                    tried: 1,
                    last: SessionError::ConnectTimeout {
                        peer,
                        after: self.policy.connect_timeout,
                    },
                });
            }
        };
        self.open(Stream::Unix(stream), peer)
            .await
            .map_err(|last| ConnectError::AllFailed { tried: 1, last })
    }

    #[cfg(not(unix))]
    async fn connect_unix(&self, path: &std::path::Path) -> Result<Connection, ConnectError> {
        Err(ConnectError::AllFailed {
            tried: 1,
            last: SessionError::Connect {
                peer: format!("unix:{}", path.display()),
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "Unix sockets are not available here",
                ),
            },
        })
    }

    async fn open(&self, stream: Stream, peer: String) -> Result<Connection, SessionError> {
        let mut config = ClientConfig::lmtp(self.policy.hello_name.clone());
        config.tls = TlsPolicy::Disabled;
        config.timeouts = self.policy.timeouts;
        let session = LmtpClient::with_config(config, Instant::now()).into_session();
        let conn = Conn::open(stream, session, None, peer, self.policy.io_timeout).await?;
        Ok(Connection::new(conn))
    }
}
