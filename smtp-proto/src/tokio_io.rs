//! Tokio adapters (feature `tokio`): drive a [`ServerSession`] or a
//! [`ClientSession`] over a TCP stream, with STARTTLS through tokio-rustls.
//! These are thin loops; all protocol decisions stay in the sessions.

use std::future::Future;
use std::io;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::client::{ClientConfig, ClientEvent, ClientSession, Envelope, MessageOutcome};
use crate::server::{ServerEvent, ServerSession, TlsInfo};

/// The application side of a server connection.
pub trait ServerHandler: Send {
    /// Called for every event. Events that need a decision must be decided
    /// (on `session`) before the returned future completes.
    fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerEvent,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// How a driving loop ended.
enum Next {
    Done,
    StartTls,
}

const READ_BUFFER: usize = 64 * 1024;

async fn drive_server<S, H>(
    stream: &mut S,
    session: &mut ServerSession,
    handler: &mut H,
    buf: &mut [u8],
) -> io::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: ServerHandler,
{
    loop {
        while let Some(event) = session.poll_event() {
            let starttls = matches!(event, ServerEvent::StartTls);
            handler.on_event(session, event).await?;
            if starttls {
                if let Some(out) = session.poll_transmit() {
                    stream.write_all(&out).await?;
                }
                stream.flush().await?;
                return Ok(Next::StartTls);
            }
        }
        if let Some(out) = session.poll_transmit() {
            stream.write_all(&out).await?;
        }
        if session.is_closed() {
            stream.flush().await?;
            let _ = stream.shutdown().await;
            return Ok(Next::Done);
        }
        if !session.wants_input() {
            return Err(io::Error::other(
                "the handler returned without deciding a pending event",
            ));
        }
        let read = match session.poll_timeout() {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline.into(), stream.read(buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        session.handle_timeout(Instant::now());
                        continue;
                    }
                }
            }
            None => stream.read(buf).await,
        };
        match read? {
            0 => return Ok(Next::Done),
            n => session.enqueue_input(Instant::now(), &buf[..n]),
        }
    }
}

/// Serves one SMTP/LMTP connection to the end. With `tls`, STARTTLS (if the
/// session offers it) upgrades the connection through rustls.
pub async fn serve_connection<H: ServerHandler>(
    mut stream: TcpStream,
    mut session: ServerSession,
    handler: &mut H,
    tls: Option<TlsAcceptor>,
) -> io::Result<()> {
    let mut buf = vec![0u8; READ_BUFFER];
    match drive_server(&mut stream, &mut session, handler, &mut buf).await? {
        Next::Done => Ok(()),
        Next::StartTls => {
            let Some(acceptor) = tls else {
                return Err(io::Error::other("STARTTLS offered without a TLS acceptor"));
            };
            let mut tls_stream = acceptor.accept(stream).await?;
            let (_, conn) = tls_stream.get_ref();
            let info = TlsInfo {
                protocol: conn
                    .protocol_version()
                    .map(|v| format!("{v:?}"))
                    .unwrap_or_default(),
                cipher: conn
                    .negotiated_cipher_suite()
                    .map(|c| format!("{:?}", c.suite()))
                    .unwrap_or_default(),
            };
            session
                .tls_established(info)
                .map_err(|e| io::Error::other(e.to_string()))?;
            match drive_server(&mut tls_stream, &mut session, handler, &mut buf).await? {
                Next::Done => Ok(()),
                Next::StartTls => Err(io::Error::other("STARTTLS twice")),
            }
        }
    }
}

/// TLS for a client connection: the connector and the name to verify.
#[derive(Clone)]
pub struct ClientTls {
    /// The rustls connector (its configuration decides certificate checks).
    pub connector: TlsConnector,
    /// The server's name as the certificate must show it.
    pub server_name: ServerName<'static>,
}

async fn drive_client<S>(
    stream: &mut S,
    session: &mut ClientSession,
    buf: &mut [u8],
    mut on_event: impl FnMut(&mut ClientSession, ClientEvent) -> io::Result<bool>,
) -> io::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        while let Some(event) = session.poll_event() {
            if matches!(event, ClientEvent::StartTls) {
                if let Some(out) = session.poll_transmit() {
                    stream.write_all(&out).await?;
                }
                stream.flush().await?;
                return Ok(Next::StartTls);
            }
            if !on_event(session, event)? {
                if let Some(out) = session.poll_transmit() {
                    stream.write_all(&out).await?;
                }
                return Ok(Next::Done);
            }
        }
        if let Some(out) = session.poll_transmit() {
            stream.write_all(&out).await?;
        }
        if session.is_closed() {
            return Ok(Next::Done);
        }
        let read = match session.poll_timeout() {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline.into(), stream.read(buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        session.handle_timeout(Instant::now());
                        continue;
                    }
                }
            }
            None => stream.read(buf).await,
        };
        match read? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            n => session.enqueue_input(Instant::now(), &buf[..n]),
        }
    }
}

/// Sends each `(envelope, body)` over one connection and returns the
/// outcomes in order, then QUITs. Session failures (greeting refused, TLS
/// required but missing, AUTH refused, a timeout) are errors; per-recipient
/// refusals are outcomes.
pub async fn send_messages(
    mut stream: TcpStream,
    config: ClientConfig,
    tls: Option<ClientTls>,
    messages: Vec<(Envelope, Vec<u8>)>,
) -> io::Result<Vec<MessageOutcome>> {
    let mut session = ClientSession::new(config, Instant::now());
    let mut buf = vec![0u8; READ_BUFFER];
    let mut queue = messages.into_iter();
    let mut body: Option<Vec<u8>> = None;
    let mut outcomes = Vec::new();
    let mut failure: Option<String> = None;
    let mut on_event = |s: &mut ClientSession, e: ClientEvent| -> io::Result<bool> {
        let now = Instant::now();
        let usage = |e: crate::error::UsageError| io::Error::other(e.to_string());
        match e {
            ClientEvent::Ready | ClientEvent::Delivered(_) => {
                if let ClientEvent::Delivered(o) = e {
                    outcomes.push(o);
                }
                match queue.next() {
                    Some((envelope, b)) => {
                        body = Some(b);
                        s.send(now, envelope).map_err(usage)?;
                    }
                    None => s.quit(now).map_err(usage)?,
                }
            }
            ClientEvent::SendBody => {
                let b = body.take().unwrap_or_default();
                for chunk in b.chunks(256 * 1024) {
                    s.body_chunk(chunk).map_err(usage)?;
                }
                s.body_end(now).map_err(usage)?;
            }
            ClientEvent::Failed(err) => {
                failure = Some(err.to_string());
                return Ok(false);
            }
            ClientEvent::Closed => return Ok(false),
            ClientEvent::StartTls => {}
        }
        Ok(true)
    };
    match drive_client(&mut stream, &mut session, &mut buf, &mut on_event).await? {
        Next::Done => {}
        Next::StartTls => {
            let Some(tls) = tls else {
                return Err(io::Error::other(
                    "STARTTLS accepted but no TLS connector given",
                ));
            };
            let mut tls_stream = tls.connector.connect(tls.server_name, stream).await?;
            session
                .tls_established(Instant::now())
                .map_err(|e| io::Error::other(e.to_string()))?;
            if let Next::StartTls =
                drive_client(&mut tls_stream, &mut session, &mut buf, &mut on_event).await?
            {
                return Err(io::Error::other("STARTTLS twice"));
            }
        }
    }
    if let Some(f) = failure {
        return Err(io::Error::other(f));
    }
    Ok(outcomes)
}
