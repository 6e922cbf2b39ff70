//! Tokio adapter (feature `tokio`): drives a [`ServerSession`] over a TCP
//! stream, with STARTTLS through tokio-rustls and COMPRESS=DEFLATE
//! (RFC 4978) through flate2. A thin loop: every protocol decision stays in
//! the session.
//!
//! Store calls are synchronous and run on the connection's task: an
//! in-memory store is fine; a store that blocks for long should be run
//! with `tokio::task::block_in_place` or on a dedicated runtime.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::server::{MailboxStore, ServerEvent, ServerSession};

/// The application side of a server connection.
pub trait ServerHandler<S: MailboxStore>: Send {
    /// Called for every event but `StartTls`, `Compress` and `Closed`,
    /// which the driver handles. `Login` and `AuthVerify` must be decided on
    /// `session` before the returned future completes.
    fn on_event(
        &mut self,
        session: &mut ServerSession<S>,
        event: ServerEvent,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// How often an idling session looks for changes in the store.
pub const DEFAULT_IDLE_POLL: Duration = Duration::from_millis(500);

const READ_BUFFER: usize = 64 * 1024;

enum Next {
    Done,
    StartTls,
}

/// RFC 4978 raw deflate in both directions.
struct Deflate {
    out: Compress,
    inp: Decompress,
}

impl Deflate {
    fn new() -> Self {
        Self {
            out: Compress::new(Compression::default(), false),
            inp: Decompress::new(false),
        }
    }

    /// Compresses `data` and flushes, so the client can read it at once.
    fn compress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut pos = 0;
        loop {
            out.reserve(4096);
            let before = self.out.total_in();
            self.out
                .compress_vec(&data[pos..], &mut out, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            pos += (self.out.total_in() - before) as usize;
            if pos >= data.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Decompresses what arrived; bounded by the input and the inflater's
    /// own window, and the session bounds what it buffers.
    fn decompress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() * 4 + 64);
        let mut pos = 0;
        loop {
            out.reserve(16 * 1024);
            let before = self.inp.total_in();
            let status = self
                .inp
                .decompress_vec(&data[pos..], &mut out, FlushDecompress::Sync)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            pos += (self.inp.total_in() - before) as usize;
            if status == Status::StreamEnd {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the client ended the deflate stream",
                ));
            }
            if pos >= data.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

fn usage(e: crate::error::UsageError) -> io::Error {
    io::Error::other(e.to_string())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn write_out<T: AsyncWrite + Unpin>(
    stream: &mut T,
    deflate: &mut Option<Deflate>,
    data: &[u8],
) -> io::Result<()> {
    match deflate {
        Some(d) => {
            let packed = d.compress(data)?;
            stream.write_all(&packed).await
        }
        None => stream.write_all(data).await,
    }
}

async fn drive<T, H, S>(
    stream: &mut T,
    session: &mut ServerSession<S>,
    handler: &mut H,
    store: &mut S,
    deflate: &mut Option<Deflate>,
    idle_poll: Duration,
    buf: &mut [u8],
) -> io::Result<Next>
where
    T: AsyncRead + AsyncWrite + Unpin,
    H: ServerHandler<S>,
    S: MailboxStore,
{
    loop {
        session.set_unix_time(unix_now());
        while let Some(event) = session.poll_event(store) {
            match event {
                ServerEvent::StartTls => {
                    if let Some(out) = session.poll_transmit() {
                        write_out(stream, deflate, &out).await?;
                    }
                    stream.flush().await?;
                    return Ok(Next::StartTls);
                }
                ServerEvent::Compress => {
                    if let Some(out) = session.poll_transmit() {
                        write_out(stream, deflate, &out).await?;
                    }
                    *deflate = Some(Deflate::new());
                }
                ServerEvent::Closed => {}
                other => handler.on_event(session, other).await?,
            }
            // A long FETCH pauses at the high-water mark: write as we go.
            if let Some(out) = session.poll_transmit() {
                write_out(stream, deflate, &out).await?;
            }
        }
        if let Some(out) = session.poll_transmit() {
            write_out(stream, deflate, &out).await?;
            continue;
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
        let deadline = session.poll_timeout();
        let wait = if session.is_idling() {
            Some(idle_poll)
        } else {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        };
        let read = match wait {
            Some(wait) => match tokio::time::timeout(wait, stream.read(buf)).await {
                Ok(r) => r,
                Err(_) => {
                    session.check_mailbox(store);
                    session.handle_timeout(Instant::now());
                    continue;
                }
            },
            None => stream.read(buf).await,
        };
        match read? {
            0 => return Ok(Next::Done),
            n => match deflate {
                Some(d) => {
                    let plain = d.decompress(&buf[..n])?;
                    session.enqueue_input(Instant::now(), &plain);
                }
                None => session.enqueue_input(Instant::now(), &buf[..n]),
            },
        }
    }
}

/// Serves one IMAP connection to the end over `store`. With `tls`,
/// STARTTLS (when the session offers it) upgrades the connection.
pub async fn serve_connection<H, S>(
    mut stream: TcpStream,
    mut session: ServerSession<S>,
    handler: &mut H,
    mut store: S,
    tls: Option<TlsAcceptor>,
    idle_poll: Duration,
) -> io::Result<()>
where
    H: ServerHandler<S>,
    S: MailboxStore,
{
    let mut buf = vec![0u8; READ_BUFFER];
    let mut deflate = None;
    let next = drive(
        &mut stream,
        &mut session,
        handler,
        &mut store,
        &mut deflate,
        idle_poll,
        &mut buf,
    )
    .await?;
    if let Next::Done = next {
        return Ok(());
    }
    let Some(acceptor) = tls else {
        return Err(io::Error::other("STARTTLS offered without a TLS acceptor"));
    };
    let mut tls_stream = acceptor.accept(stream).await?;
    session.tls_established().map_err(usage)?;
    match drive(
        &mut tls_stream,
        &mut session,
        handler,
        &mut store,
        &mut deflate,
        idle_poll,
        &mut buf,
    )
    .await?
    {
        Next::Done => Ok(()),
        Next::StartTls => Err(io::Error::other("STARTTLS twice")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trip_in_pieces() {
        let mut server = Deflate::new();
        let mut client = Deflate::new();
        let text: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut got = Vec::new();
        for piece in text.chunks(10_000) {
            let packed = server.compress(piece).unwrap();
            // Each flush is readable on its own.
            got.extend(client.decompress(&packed).unwrap());
            assert_eq!(got.len() % 10_000, 0);
        }
        assert_eq!(got, text);
    }
}
