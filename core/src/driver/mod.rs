//! The one tokio driver (feature `tokio`): runs any [`Session`] over any
//! stream, carries out its upgrades (STARTTLS, COMPRESS), waits for its
//! deadlines, stops reading while it waits for a decision, and ends it
//! politely on a shutdown signal.
//!
//! The pieces are public so that every program uses the same loop:
//! [`Transport`] (the stream, TLS and deflate), [`Handler`] (the
//! application's answers), [`drive`] (the loop), [`Shutdown`] (the signal)
//! and the rustls configurations in [`tls`].

mod compress;
pub mod tls;
mod transport;

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::session::{Session, SessionEvent, Upgrade, Upgraded};

pub use transport::{Io, TlsRole, Transport, server_tls_info, tls_info};

/// The application side of a session: it sees every event and answers the
/// ones that carry a ticket before its future completes.
pub trait Handler<S: Session>: Send {
    /// Called for every event, upgrades included (the driver carries those
    /// out after this returns). Answer a decision on `session` before the
    /// future completes; an error ends the connection.
    fn on_event(
        &mut self,
        session: &mut S,
        event: S::Event,
    ) -> impl Future<Output = io::Result<()>> + Send;

    /// Work that goes on between writes without new input, such as
    /// streaming a message from a store one chunk at a time: called after
    /// the events are handled and the output written; return true while
    /// there is more (the driver writes the output and calls again).
    fn pump(&mut self, session: &mut S) -> impl Future<Output = io::Result<bool>> + Send {
        let _ = session;
        async { Ok(false) }
    }
}

/// A handler from a closure, for sessions whose events need no async work.
pub struct FnHandler<F>(pub F);

impl<S, F> Handler<S> for FnHandler<F>
where
    S: Session + Send,
    S::Event: Send,
    F: FnMut(&mut S, S::Event) -> io::Result<()> + Send,
{
    fn on_event(
        &mut self,
        session: &mut S,
        event: S::Event,
    ) -> impl Future<Output = io::Result<()>> + Send {
        let result = (self.0)(session, event);
        async move { result }
    }
}

/// The sending half of a shutdown signal: [`trigger`](Self::trigger) asks
/// every session driven with a matching [`Shutdown`] to finish its reply
/// and close.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// Asks every session to close.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// The receiving half of a shutdown signal, cloned for each connection.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A signal and its trigger.
    pub fn channel() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// A signal that never fires.
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // Dropping the sender makes `changed` fail; we then wait forever.
        drop(tx);
        Shutdown(rx)
    }

    /// Whether shutdown was asked for.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when shutdown is asked for (never, for [`never`](Self::never)).
    pub async fn triggered(&mut self) {
        loop {
            if *self.0.borrow_and_update() {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// How [`drive`] runs a session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriveOptions {
    /// TLS for STARTTLS (a session that asks for it without one fails).
    pub tls: Option<TlsRole>,
    /// The most bytes read from the wire at once (default 64 KiB).
    pub read_buffer: usize,
    /// How long a session may take to close after shutdown is asked for
    /// (default 30 seconds); then the connection is dropped.
    pub shutdown_grace: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        Self {
            tls: None,
            read_buffer: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl DriveOptions {
    /// Options with TLS for STARTTLS.
    pub fn with_tls(mut self, tls: TlsRole) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// How [`drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// The session closed and its last output was written.
    Closed,
    /// The peer closed the connection before the session ended.
    PeerClosed,
    /// Shutdown was asked for and the session did not close within the
    /// grace period.
    ShutdownTimedOut,
}

/// Writes whatever the session has queued. Returns how many bytes went out.
pub async fn write_output<S: Session, IO: Io>(
    session: &mut S,
    transport: &mut Transport<IO>,
    out: &mut Vec<u8>,
) -> io::Result<usize> {
    out.clear();
    let n = session.poll_transmit(out);
    if n > 0 {
        transport.write_all(out).await?;
    }
    Ok(n)
}

/// Carries out an upgrade a session asked for: writes and flushes its
/// output, does the handshake or starts compression, and tells the session.
pub async fn upgrade<S: Session, IO: Io>(
    session: &mut S,
    transport: &mut Transport<IO>,
    upgrade: Upgrade,
    tls: Option<&TlsRole>,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    write_output(session, transport, out).await?;
    transport.flush().await?;
    let done = match upgrade {
        Upgrade::StartTls => {
            let role = tls.ok_or_else(|| {
                io::Error::other("the session asked for STARTTLS but the driver has no TLS")
            })?;
            Upgraded::Tls(transport.start_tls(role).await?)
        }
        Upgrade::Compress(method) => {
            transport.start_compression(method)?;
            Upgraded::Compress(method)
        }
    };
    session.upgrade_done(Instant::now(), done)?;
    Ok(())
}

/// Runs `session` over `transport` to its end: the one loop every Postel
/// program uses. Returns how it ended; I/O errors and handler errors end it
/// with an error.
pub async fn drive<S, H, IO>(
    session: &mut S,
    transport: &mut Transport<IO>,
    handler: &mut H,
    options: &DriveOptions,
    mut shutdown: Shutdown,
) -> io::Result<Ending>
where
    S: Session + Send,
    S::Event: Send,
    H: Handler<S>,
    IO: Io,
{
    let mut out = Vec::new();
    let mut input = Vec::new();
    let mut shutdown_deadline: Option<tokio::time::Instant> = None;
    loop {
        while let Some(event) = session.poll_event() {
            let up = event.upgrade();
            handler.on_event(session, event).await?;
            // A long response (an IMAP FETCH) pauses at its high-water
            // mark: write as we go.
            write_output(session, transport, &mut out).await?;
            if let Some(up) = up {
                upgrade(session, transport, up, options.tls.as_ref(), &mut out).await?;
            }
        }
        if write_output(session, transport, &mut out).await? > 0 {
            continue;
        }
        if handler.pump(session).await? {
            write_output(session, transport, &mut out).await?;
            continue;
        }
        if session.is_closed() {
            let _ = transport.shutdown().await;
            return Ok(Ending::Closed);
        }
        if shutdown_deadline.is_none() && shutdown.is_triggered() {
            session.begin_shutdown(Instant::now());
            shutdown_deadline = Some(tokio::time::Instant::now() + options.shutdown_grace);
            continue;
        }
        let deadline = session.poll_timeout();
        let reading = session.wants_input();
        if !reading && deadline.is_none() {
            return Err(io::Error::other(
                "the session waits for a decision the handler did not give",
            ));
        }
        let sleep_until = deadline.map(tokio::time::Instant::from_std);
        tokio::select! {
            read = transport.read(&mut input, options.read_buffer), if reading => {
                match read? {
                    0 => return Ok(Ending::PeerClosed),
                    _ => session.enqueue_input(Instant::now(), &input),
                }
            }
            () = sleep(sleep_until), if sleep_until.is_some() => {
                session.handle_timeout(Instant::now());
            }
            () = shutdown.triggered(), if shutdown_deadline.is_none() => {}
            () = sleep(shutdown_deadline), if shutdown_deadline.is_some() => {
                return Ok(Ending::ShutdownTimedOut);
            }
        }
    }
}

async fn sleep(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
