//! The byte stream under a session: plain, TLS (either side), and
//! optionally compressed, changed in place by an upgrade.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::compress::Deflate;
use crate::connection::TlsInfo;
use crate::session::Compression;

/// Any stream a session can run over: TCP, a Unix socket, an in-memory
/// duplex, or a TLS stream over one of them.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How this end takes part in a TLS handshake, for STARTTLS and implicit
/// TLS.
#[derive(Clone)]
pub enum TlsRole {
    /// We are the server.
    Server(TlsAcceptor),
    /// We are the client and verify the server as `server_name` (the
    /// connector's configuration decides how strictly).
    Client {
        /// The rustls connector.
        connector: TlsConnector,
        /// The name the server's certificate must show.
        server_name: ServerName<'static>,
    },
}

impl std::fmt::Debug for TlsRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsRole::Server(_) => f.write_str("TlsRole::Server"),
            TlsRole::Client { server_name, .. } => {
                write!(f, "TlsRole::Client({})", server_name.to_str())
            }
        }
    }
}

enum Stream<IO> {
    Plain(IO),
    Server(Box<tokio_rustls::server::TlsStream<IO>>),
    Client(Box<tokio_rustls::client::TlsStream<IO>>),
    /// Only while a handshake has the stream, or after one failed.
    Gone,
}

/// A connection as a session's driver sees it: the stream, what TLS
/// negotiated, and the deflate layer once COMPRESS is on.
pub struct Transport<IO> {
    stream: Stream<IO>,
    tls: Option<TlsInfo>,
    deflate: Option<Deflate>,
}

impl<IO> std::fmt::Debug for Transport<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("tls", &self.tls)
            .field("compressed", &self.deflate.is_some())
            .finish()
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "a TLS handshake failed on this connection",
    )
}

impl<IO: Io> Transport<IO> {
    /// A plaintext connection.
    pub fn plain(io: IO) -> Self {
        Self {
            stream: Stream::Plain(io),
            tls: None,
            deflate: None,
        }
    }

    /// Does the handshake first (implicit TLS: SMTPS, IMAPS, POP3S) and
    /// returns the secured connection; its [`tls_info`](Self::tls_info) goes
    /// into the session's `ConnectionInfo`.
    pub async fn implicit_tls(io: IO, role: &TlsRole) -> io::Result<Self> {
        let mut t = Self::plain(io);
        t.start_tls(role).await?;
        Ok(t)
    }

    /// Upgrades a plaintext connection to TLS in place (after a STARTTLS
    /// event, once all output is written) and returns what was negotiated.
    pub async fn start_tls(&mut self, role: &TlsRole) -> io::Result<TlsInfo> {
        let Stream::Plain(io) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(io::Error::other("TLS is already on for this connection"));
        };
        let info = match role {
            TlsRole::Server(acceptor) => {
                let tls = acceptor.accept(io).await?;
                let info = server_tls_info(tls.get_ref().1);
                self.stream = Stream::Server(Box::new(tls));
                info
            }
            TlsRole::Client {
                connector,
                server_name,
            } => {
                let tls = connector.connect(server_name.clone(), io).await?;
                let info = tls_info(&**tls.get_ref().1);
                self.stream = Stream::Client(Box::new(tls));
                info
            }
        };
        self.tls = Some(info.clone());
        Ok(info)
    }

    /// Turns compression on in both directions (after a COMPRESS event,
    /// once all output is written).
    pub fn start_compression(&mut self, method: Compression) -> io::Result<()> {
        if self.deflate.is_some() {
            return Err(io::Error::other("compression is already on"));
        }
        match method {
            Compression::Deflate => self.deflate = Some(Deflate::new()),
        }
        Ok(())
    }

    /// What TLS negotiated, once it is on.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Whether COMPRESS is on.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    fn io(&mut self) -> io::Result<&mut (dyn Io + '_)> {
        Ok(match &mut self.stream {
            Stream::Plain(s) => s,
            Stream::Server(s) => s.as_mut(),
            Stream::Client(s) => s.as_mut(),
            Stream::Gone => return Err(gone()),
        })
    }

    /// Reads what the peer sent into `buf` (cleared first; at most
    /// `limit` bytes from the wire), decompressed when COMPRESS is on.
    /// Returns 0 at the end of the stream.
    pub async fn read(&mut self, buf: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
        loop {
            buf.clear();
            buf.reserve(limit);
            let io = self.io()?;
            let n = io.take(limit as u64).read_buf(buf).await?;
            if n == 0 {
                return Ok(0);
            }
            match &mut self.deflate {
                None => return Ok(n),
                Some(d) => {
                    let plain = d.decompress(buf)?;
                    if !plain.is_empty() {
                        *buf = plain;
                        return Ok(buf.len());
                    }
                }
            }
        }
    }

    /// Writes all of `data` (compressed and flushed when COMPRESS is on).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.deflate {
            Some(d) => {
                let packed = d.compress(data)?;
                self.io()?.write_all(&packed).await
            }
            None => self.io()?.write_all(data).await,
        }
    }

    /// Flushes what was written.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.io()?.flush().await
    }

    /// Flushes and closes our direction (a TLS close_notify first).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        let io = self.io()?;
        io.flush().await?;
        io.shutdown().await
    }

    /// The stream under TLS and compression, if TLS never started.
    pub fn into_plain(self) -> Option<IO> {
        match self.stream {
            Stream::Plain(s) => Some(s),
            _ => None,
        }
    }
}

/// What a rustls connection negotiated, in the form trace headers use
/// (`TLSv1.3`, IANA cipher names).
pub fn tls_info<D>(conn: &rustls::ConnectionCommon<D>) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|c| {
            let suite = c.suite();
            let name = suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned);
            // rustls names TLS 1.3 suites TLS13_*; IANA (and Postfix) TLS_*.
            match name.strip_prefix("TLS13_") {
                Some(rest) => format!("TLS_{rest}"),
                None => name,
            }
        })
        .unwrap_or_default();
    let mut info = TlsInfo::new(version, cipher);
    info.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    info.peer_certificate = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.as_ref().to_vec());
    info
}

/// [`tls_info`] for a server connection, with the name the client asked
/// for (SNI).
pub fn server_tls_info(conn: &rustls::ServerConnection) -> TlsInfo {
    let mut info = tls_info(&**conn);
    info.sni = conn.server_name().map(str::to_owned);
    info
}
