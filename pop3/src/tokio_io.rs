//! Tokio adapters (feature `tokio`): drive a [`ServerSession`] or a
//! [`ClientSession`] over a TCP stream, with STLS through tokio-rustls.
//! These are thin loops; all protocol decisions stay in the sessions.
//!
//! The server loop streams each retrieved message from the
//! [`MaildropStore`] a chunk at a time and writes every chunk before reading
//! the next. Maildrop calls are synchronous: an in-memory store is fine; a
//! store on a slow disk should keep its reads short.

use std::future::Future;
use std::io;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::client::{ClientConfig, ClientEvent, ClientSession};
use crate::maildrop::{MaildropAgent, MaildropStore};
use crate::server::{ServerEvent, ServerSession, TlsInfo};

/// The application side of a server connection: credential checks and
/// whatever it wants to see of the other events. Maildrop events never
/// reach it (the driver answers them from the store).
pub trait ServerHandler: Send {
    /// Called for every event but `OpenMaildrop`, `Retrieve` and `Commit`.
    /// Events that need a decision (`Login`, `Apop`, `AuthVerify`) must be
    /// decided on `session` before the returned future completes.
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

const READ_BUFFER: usize = 16 * 1024;

fn usage(e: crate::error::UsageError) -> io::Error {
    io::Error::other(e.to_string())
}

async fn drive_server<T, H, S>(
    stream: &mut T,
    session: &mut ServerSession,
    handler: &mut H,
    agent: &mut MaildropAgent<S>,
    buf: &mut [u8],
) -> io::Result<Next>
where
    T: AsyncRead + AsyncWrite + Unpin,
    H: ServerHandler,
    S: MaildropStore,
{
    loop {
        while let Some(event) = session.poll_event() {
            let Some(event) = agent.handle(session, event).map_err(usage)? else {
                // Stream a retrieval chunk by chunk, writing as we go.
                while agent.is_streaming() {
                    if let Some(e) = agent.pump(session).map_err(usage)? {
                        eprintln!("pop3: cannot read message: {e}");
                    }
                    if let Some(out) = session.poll_transmit() {
                        stream.write_all(&out).await?;
                    }
                }
                continue;
            };
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
            // The connection dropped: nothing is committed.
            0 => return Ok(Next::Done),
            n => session.enqueue_input(Instant::now(), &buf[..n]),
        }
    }
}

/// Serves one POP3 connection to the end, answering maildrop events from
/// `store`. With `tls`, STLS (if the session offers it) upgrades the
/// connection through rustls. The maildrop lock is released when this
/// returns, whatever the reason.
pub async fn serve_connection<H, S>(
    mut stream: TcpStream,
    mut session: ServerSession,
    handler: &mut H,
    store: S,
    tls: Option<TlsAcceptor>,
) -> io::Result<()>
where
    H: ServerHandler,
    S: MaildropStore,
{
    let mut agent = MaildropAgent::new(store);
    let mut buf = vec![0u8; READ_BUFFER];
    match drive_server(&mut stream, &mut session, handler, &mut agent, &mut buf).await? {
        Next::Done => Ok(()),
        Next::StartTls => {
            let Some(acceptor) = tls else {
                return Err(io::Error::other("STLS offered without a TLS acceptor"));
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
            session.tls_established(info).map_err(usage)?;
            match drive_server(&mut tls_stream, &mut session, handler, &mut agent, &mut buf).await?
            {
                Next::Done => Ok(()),
                Next::StartTls => Err(io::Error::other("STLS twice")),
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

/// One message fetched by [`fetch_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Its number in the session.
    pub number: u32,
    /// Its unique id, if the server has UIDL.
    pub uid: Option<String>,
    /// The content, unstuffed.
    pub data: Vec<u8>,
}

async fn drive_client<T>(
    stream: &mut T,
    session: &mut ClientSession,
    buf: &mut [u8],
    mut on_event: impl FnMut(&mut ClientSession, ClientEvent) -> io::Result<bool>,
) -> io::Result<Next>
where
    T: AsyncRead + AsyncWrite + Unpin,
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

/// Logs in, retrieves every message (with its UIDL id when the server has
/// UIDL), deletes them if `delete`, and QUITs. Each message is collected in
/// memory: for large maildrops drive a [`ClientSession`] yourself and write
/// [`ClientEvent::MessageData`] where it belongs.
pub async fn fetch_all(
    mut stream: TcpStream,
    config: ClientConfig,
    tls: Option<ClientTls>,
    delete: bool,
) -> io::Result<Vec<FetchedMessage>> {
    let mut session = ClientSession::new(config, Instant::now());
    let mut buf = vec![0u8; READ_BUFFER];
    let mut messages: Vec<FetchedMessage> = Vec::new();
    let mut failure: Option<String> = None;
    let mut receiving: Option<u32> = None;
    // RETRs sent and not yet answered; QUIT goes once none is left.
    let mut outstanding = 0usize;
    let mut on_event = |s: &mut ClientSession, e: ClientEvent| -> io::Result<bool> {
        let now = Instant::now();
        match e {
            ClientEvent::Ready => {
                if s.capabilities().uidl {
                    s.uidl(now, None).map_err(usage)?;
                }
                s.list(now, None).map_err(usage)?;
            }
            ClientEvent::Uidl(ids) => {
                for id in ids {
                    messages.push(FetchedMessage {
                        number: id.number,
                        uid: Some(id.uid),
                        data: Vec::new(),
                    });
                }
            }
            ClientEvent::List(list) => {
                for entry in list {
                    if !messages.iter().any(|m| m.number == entry.number) {
                        messages.push(FetchedMessage {
                            number: entry.number,
                            uid: None,
                            data: Vec::new(),
                        });
                    }
                    s.retr(now, entry.number).map_err(usage)?;
                    outstanding += 1;
                }
                if outstanding == 0 {
                    s.quit(now).map_err(usage)?;
                }
            }
            ClientEvent::MessageStart { number } => receiving = Some(number),
            ClientEvent::MessageEnd { number, .. } => {
                // DELE only once the message is here: a refused or broken
                // RETR must leave the message on the server.
                if delete {
                    s.dele(now, number).map_err(usage)?;
                }
                outstanding -= 1;
                if outstanding == 0 {
                    s.quit(now).map_err(usage)?;
                }
            }
            ClientEvent::MessageData(chunk) => {
                if let Some(m) = messages.iter_mut().find(|m| Some(m.number) == receiving) {
                    m.data.extend_from_slice(&chunk);
                }
            }
            ClientEvent::Refused { command, response } => {
                failure = Some(format!("{} refused: {response}", command.keyword()));
                if matches!(command, crate::command::Command::Retr { .. }) {
                    outstanding -= 1;
                    if outstanding == 0 {
                        s.quit(now).map_err(usage)?;
                    }
                }
            }
            ClientEvent::Failed(err) => {
                failure = Some(err.to_string());
                return Ok(false);
            }
            ClientEvent::Closed(response) => {
                if !response.is_ok() {
                    failure = Some(format!("QUIT: {response}"));
                }
                return Ok(false);
            }
            _ => {}
        }
        Ok(true)
    };
    match drive_client(&mut stream, &mut session, &mut buf, &mut on_event).await? {
        Next::Done => {}
        Next::StartTls => {
            let Some(tls) = tls else {
                return Err(io::Error::other("STLS accepted but no TLS connector given"));
            };
            let mut tls_stream = tls.connector.connect(tls.server_name, stream).await?;
            session.tls_established(Instant::now()).map_err(usage)?;
            if let Next::StartTls =
                drive_client(&mut tls_stream, &mut session, &mut buf, &mut on_event).await?
            {
                return Err(io::Error::other("STLS twice"));
            }
        }
    }
    if let Some(f) = failure {
        return Err(io::Error::other(f));
    }
    messages.sort_by_key(|m| m.number);
    Ok(messages)
}
