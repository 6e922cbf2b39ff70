//! One client connection (SMTP or LMTP) driven over tokio: the Sans-IO
//! [`ClientSession`] of postel-smtp does the protocol, this loop moves the
//! bytes, runs the timeouts and the STARTTLS handshake, and turns the
//! outcomes into per-recipient results for the queue.

use std::io;
use std::time::{Duration, Instant};

use postel_smtp::client::{
    ClientError, ClientEvent, ClientSession, DeliveryStatus, Envelope as SmtpEnvelope,
    MessageOutcome,
};
use postel_smtp::extensions::Capabilities;
use postel_smtp::params::{
    BodyType, DeliverBy as SmtpDeliverBy, MailParameters, Notify as SmtpNotify,
    OriginalRecipient as SmtpOrcpt, RcptParameters, Ret as SmtpRet,
};
use postel_smtp::{EnhancedCode, ForwardPath, Mailbox, Reply, ReversePath, UsageError};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::route::RouteError;
use crate::envelope::{Body, ByMode, Envelope, Ret};
use crate::state::{Outcome, RecipientOutcome};

/// What became of one recipient in one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The server took it (2yz).
    Delivered,
    /// Try again later (4yz, or the connection failed).
    Deferred,
    /// Failed for good (5yz, or a permanent routing error).
    Failed,
}

/// One recipient's result, with the reply that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient's index in the envelope.
    pub index: usize,
    /// Delivered, deferred or failed.
    pub status: Status,
    /// The reply code (the server's, or one made up for a local failure).
    pub code: u16,
    /// The enhanced status code (RFC 3463), if known.
    pub enhanced: Option<EnhancedCode>,
    /// The reply text.
    pub text: String,
    /// The server that answered (`host[addr]:port`), if one did.
    pub remote: Option<String>,
}

impl RecipientResult {
    fn from_reply(index: usize, reply: &Reply, remote: &str) -> Self {
        let status = if reply.is_positive() {
            Status::Delivered
        } else if reply.is_permanent() {
            Status::Failed
        } else {
            Status::Deferred
        };
        RecipientResult {
            index,
            status,
            code: reply.code(),
            enhanced: reply.enhanced(),
            text: reply.text(),
            remote: Some(remote.to_owned()),
        }
    }

    /// A result decided here rather than by a server, from a reply line
    /// such as `451 4.4.1 connect to ...: refused` (code, optional enhanced
    /// code, text). The status follows the code's first digit.
    pub fn local(index: usize, reply_line: &str, remote: Option<String>) -> Self {
        let (code, rest) = match reply_line.split_once(' ') {
            Some((c, rest)) => (c.parse::<u16>().unwrap_or(451), rest),
            None => (451, reply_line),
        };
        let code = if (200..600).contains(&code) {
            code
        } else {
            451
        };
        let (enhanced, text) = match EnhancedCode::parse_prefix(rest.as_bytes()) {
            Some((e, used)) => (Some(e), rest.get(used..).unwrap_or("").trim_start()),
            None => (None, rest),
        };
        let status = match code / 100 {
            2 => Status::Delivered,
            5 => Status::Failed,
            _ => Status::Deferred,
        };
        RecipientResult {
            index,
            status,
            code,
            enhanced,
            text: text.to_owned(),
            remote,
        }
    }

    /// The reply as one line: `550 5.1.1 text`.
    pub fn reply(&self) -> String {
        match self.enhanced {
            Some(e) => format!("{} {} {}", self.code, e, self.text),
            None => format!("{} {}", self.code, self.text),
        }
    }

    /// The queue's outcome for this result.
    pub fn to_outcome(&self) -> RecipientOutcome {
        let reply = self.reply();
        let outcome = match self.status {
            Status::Delivered => Outcome::Delivered { reply },
            Status::Deferred => Outcome::Deferred { reply },
            Status::Failed => Outcome::Failed { reply },
        };
        RecipientOutcome {
            index: self.index,
            outcome,
        }
    }
}

/// A connection-level failure: no session, or the session broke. It
/// defers the recipients it touches and counts against the destination.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The TCP (or Unix socket) connection failed.
    #[error("connect to {peer}: {source}")]
    Connect {
        /// Where.
        peer: String,
        /// The OS error (refused, unreachable ...).
        #[source]
        source: io::Error,
    },
    /// The connection was not established in time.
    #[error("connect to {peer}: timed out after {after:?}")]
    ConnectTimeout {
        /// Where.
        peer: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The TLS handshake after STARTTLS failed (or the certificate did not
    /// verify, with required TLS).
    #[error("TLS handshake with {peer}: {source}")]
    Tls {
        /// Where.
        peer: String,
        /// The handshake error.
        #[source]
        source: io::Error,
    },
    /// TLS is required but the host has no name a certificate could show.
    #[error("TLS is required but {host:?} is not a valid TLS server name")]
    TlsName {
        /// The host.
        host: String,
    },
    /// The session failed: greeting or EHLO refused, 421, STARTTLS missing
    /// under required TLS, a reply timeout, a malformed reply.
    #[error("{peer}: {error}")]
    Protocol {
        /// Where.
        peer: String,
        /// What the client session said.
        error: ClientError,
    },
    /// Reading or writing failed.
    #[error("I/O with {peer}: {source}")]
    Io {
        /// Where.
        peer: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A write did not complete in time (the server stopped reading).
    #[error("{peer}: write timed out after {after:?}")]
    WriteTimeout {
        /// Where.
        peer: String,
        /// The timeout.
        after: Duration,
    },
    /// The server closed the connection unexpectedly.
    #[error("{peer} closed the connection")]
    Closed {
        /// Where.
        peer: String,
    },
    /// The client session was driven wrongly (a bug here, not the peer's).
    #[error("client session misuse: {0}")]
    Usage(#[from] UsageError),
}

impl SessionError {
    /// The reply recorded for the recipients this failure defers: always
    /// a 4yz, with an enhanced code for the kind of failure.
    pub fn reply(&self) -> String {
        let status = match self {
            SessionError::Connect { .. } | SessionError::ConnectTimeout { .. } => "451 4.4.1",
            SessionError::Tls { .. } => "451 4.7.5",
            SessionError::TlsName { .. } => "451 4.7.4",
            SessionError::Protocol { error, .. } => match error {
                ClientError::TlsUnavailable | ClientError::StartTlsRefused(_) => "451 4.7.4",
                ClientError::ServerClosing(_) => "421 4.4.2",
                ClientError::TimedOut(_) => "451 4.4.2",
                _ => "451 4.4.0",
            },
            SessionError::Io { .. }
            | SessionError::WriteTimeout { .. }
            | SessionError::Closed { .. } => "451 4.4.2",
            SessionError::Usage(_) => "451 4.3.0",
        };
        format!("{status} {self}")
    }

    pub(crate) fn is_tls_handshake(&self) -> bool {
        matches!(self, SessionError::Tls { .. })
    }
}

/// No address answered.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// There was nothing to try.
    #[error("no address to connect to")]
    NoTargets,
    /// The host of a fixed next hop (an LMTP server) could not be
    /// resolved. Always temporary here: the next hop is configuration.
    #[error("cannot resolve the next hop: {0}")]
    Resolve(#[from] RouteError),
    /// Every address failed; the last failure is kept.
    #[error("{last} ({tried} address(es) tried)")]
    AllFailed {
        /// How many addresses were tried.
        tried: usize,
        /// The last failure.
        #[source]
        last: SessionError,
    },
}

impl ConnectError {
    /// The reply recorded for the recipients this failure defers.
    pub fn reply(&self) -> String {
        match self {
            ConnectError::NoTargets => format!("451 4.4.1 {self}"),
            ConnectError::Resolve(_) => format!("451 4.4.3 {self}"),
            ConnectError::AllFailed { last, .. } => last.reply(),
        }
    }
}

/// A byte stream: TCP, TCP with TLS, or a Unix socket.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// Between a failed upgrade and the end.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection already closed")
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf).await,
            Stream::Gone => Err(gone()),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(data).await,
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            #[cfg(unix)]
            Stream::Unix(s) => s.write_all(data).await,
            Stream::Gone => Err(gone()),
        }
    }

    async fn shutdown(&mut self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            #[cfg(unix)]
            Stream::Unix(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        };
    }
}

const READ_BUFFER: usize = 16 * 1024;
const BODY_CHUNK: usize = 64 * 1024;

/// TLS for a connection: the connector and the name to present and check.
pub(crate) type TlsSetup = Option<(TlsConnector, ServerName<'static>)>;

/// The client session and its stream.
pub(crate) struct Conn {
    session: ClientSession,
    stream: Stream,
    buf: Vec<u8>,
    peer: String,
    tls: TlsSetup,
    io_timeout: Duration,
}

impl Conn {
    /// Drives a fresh session on `stream` to the point where it can send
    /// mail (greeting, EHLO/LHLO, STARTTLS).
    pub(crate) async fn open(
        stream: Stream,
        session: ClientSession,
        tls: TlsSetup,
        peer: String,
        io_timeout: Duration,
    ) -> Result<Conn, SessionError> {
        let mut conn = Conn {
            session,
            stream,
            buf: vec![0; READ_BUFFER],
            peer,
            tls,
            io_timeout,
        };
        match conn.next_event().await {
            Ok(ClientEvent::Ready) => Ok(conn),
            Ok(ClientEvent::Failed(error)) => {
                conn.stream.shutdown().await;
                Err(SessionError::Protocol {
                    peer: conn.peer,
                    error,
                })
            }
            Ok(_) => Err(SessionError::Closed { peer: conn.peer }),
            Err(e) => {
                conn.stream.shutdown().await;
                Err(e)
            }
        }
    }

    async fn write(&mut self) -> Result<(), SessionError> {
        while let Some(out) = self.session.poll_transmit() {
            match tokio::time::timeout(self.io_timeout, self.stream.write_all(&out)).await {
                Ok(Ok(())) => {}
                Ok(Err(source)) => {
                    return Err(SessionError::Io {
                        peer: self.peer.clone(),
                        source,
                    });
                }
                Err(_) => {
                    return Err(SessionError::WriteTimeout {
                        peer: self.peer.clone(),
                        after: self.io_timeout,
                    });
                }
            }
        }
        Ok(())
    }

    async fn upgrade(&mut self) -> Result<(), SessionError> {
        let Some((connector, name)) = self.tls.clone() else {
            return Err(SessionError::TlsName {
                host: self.peer.clone(),
            });
        };
        let Stream::Tcp(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(SessionError::Tls {
                peer: self.peer.clone(),
                source: io::Error::other("STARTTLS on a connection that is not plain TCP"),
            });
        };
        let handshake = tokio::time::timeout(self.io_timeout, connector.connect(name, tcp)).await;
        let tls = match handshake {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(SessionError::Tls {
                    peer: self.peer.clone(),
                    source,
                });
            }
            Err(_) => {
                return Err(SessionError::Tls {
                    peer: self.peer.clone(),
                    source: io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"),
                });
            }
        };
        self.stream = Stream::Tls(Box::new(tls));
        self.session.tls_established(Instant::now())?;
        Ok(())
    }

    /// The next event of the session, doing I/O until there is one.
    /// STARTTLS is handled here.
    async fn next_event(&mut self) -> Result<ClientEvent, SessionError> {
        loop {
            if let Some(event) = self.session.poll_event() {
                if event == ClientEvent::StartTls {
                    self.write().await?;
                    self.upgrade().await?;
                    continue;
                }
                return Ok(event);
            }
            self.write().await?;
            if self.session.is_closed() {
                return Err(SessionError::Closed {
                    peer: self.peer.clone(),
                });
            }
            let deadline = self
                .session
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + self.io_timeout);
            let read = tokio::time::timeout_at(
                tokio::time::Instant::from_std(deadline),
                self.stream.read(&mut self.buf),
            )
            .await;
            match read {
                Err(_) => self.session.handle_timeout(Instant::now()),
                Ok(Ok(0)) => {
                    return Err(SessionError::Closed {
                        peer: self.peer.clone(),
                    });
                }
                Ok(Ok(n)) => {
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    self.session.enqueue_input(Instant::now(), data);
                }
                Ok(Err(source)) => {
                    return Err(SessionError::Io {
                        peer: self.peer.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// One message transaction.
    async fn transact(
        &mut self,
        envelope: SmtpEnvelope,
        data: &[u8],
    ) -> Result<MessageOutcome, SessionError> {
        self.session.send(Instant::now(), envelope)?;
        loop {
            match self.next_event().await? {
                ClientEvent::SendBody => {
                    for chunk in data.chunks(BODY_CHUNK) {
                        self.session.body_chunk(chunk)?;
                        self.write().await?;
                    }
                    self.session.body_end(Instant::now())?;
                }
                ClientEvent::Delivered(outcome) => {
                    // A session that failed mid-message reports the message
                    // (all transient) and then the failure: the failure is
                    // what counts.
                    if self.session.is_closed() {
                        if let Some(ClientEvent::Failed(error)) = self.session.poll_event() {
                            return Err(SessionError::Protocol {
                                peer: self.peer.clone(),
                                error,
                            });
                        }
                        return Err(SessionError::Closed {
                            peer: self.peer.clone(),
                        });
                    }
                    return Ok(outcome);
                }
                ClientEvent::Failed(error) => {
                    return Err(SessionError::Protocol {
                        peer: self.peer.clone(),
                        error,
                    });
                }
                ClientEvent::Ready | ClientEvent::Closed | ClientEvent::StartTls => {
                    return Err(SessionError::Closed {
                        peer: self.peer.clone(),
                    });
                }
            }
        }
    }

    async fn quit(mut self) {
        if self.session.quit(Instant::now()).is_ok() {
            let wait = self.io_timeout.min(Duration::from_secs(10));
            let _ = tokio::time::timeout(wait, async {
                loop {
                    match self.next_event().await {
                        Ok(ClientEvent::Closed) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
        }
        self.stream.shutdown().await;
    }
}

/// A message to send on a [`Connection`]: the queue's envelope, which of
/// its recipients to send to, and the data.
#[derive(Debug, Clone, Copy)]
pub struct OutboundMessage<'a> {
    /// The envelope (sender and DSN parameters come from it).
    pub envelope: &'a Envelope,
    /// Indices into `envelope.recipients` of the recipients to send to.
    pub recipients: &'a [usize],
    /// The message as received.
    pub data: &'a [u8],
    /// With DELIVERBY, the time left (the next hop's BY=).
    pub deliver_by_left: Option<Duration>,
}

/// What one message on a connection came to.
#[derive(Debug)]
pub struct Delivery {
    /// One result per recipient asked for (out-of-range indices are
    /// skipped), in the order asked.
    pub results: Vec<RecipientResult>,
    /// The connection failed during the transaction: the recipients it
    /// reached are deferred with its reply, and the connection is unusable.
    pub connection_error: Option<SessionError>,
}

/// An open SMTP or LMTP connection, ready for messages; one message at a
/// time, as many as wanted (the client sends RSET itself after a
/// transaction that failed half way).
pub struct Connection {
    conn: Conn,
    messages: usize,
    broken: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.conn.peer)
            .field("tls", &self.conn.session.is_tls())
            .field("messages", &self.messages)
            .finish()
    }
}

fn mail_parameters(envelope: &Envelope, size: usize, left: Option<Duration>) -> MailParameters {
    MailParameters {
        size: Some(size as u64),
        body: envelope.body.map(|b| match b {
            Body::SevenBit => BodyType::SevenBit,
            Body::EightBitMime => BodyType::EightBitMime,
            Body::BinaryMime => BodyType::BinaryMime,
        }),
        smtputf8: envelope.smtputf8,
        ret: envelope.ret.map(|r| match r {
            Ret::Full => SmtpRet::Full,
            Ret::Headers => SmtpRet::Headers,
        }),
        envid: envelope.envid.clone(),
        requiretls: envelope.requiretls,
        mt_priority: (envelope.priority != 0).then_some(envelope.priority),
        by: envelope.deliver_by.map(|by| SmtpDeliverBy {
            seconds: left.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            return_if_late: by.mode == ByMode::Return,
            trace: by.trace,
        }),
        ..MailParameters::default()
    }
}

fn forward_path(address: &str) -> Option<ForwardPath> {
    if address.eq_ignore_ascii_case("postmaster") {
        return Some(ForwardPath::Postmaster);
    }
    Mailbox::parse(address).ok().map(ForwardPath::Mailbox)
}

impl Connection {
    pub(crate) fn new(conn: Conn) -> Self {
        Connection {
            conn,
            messages: 0,
            broken: false,
        }
    }

    /// The server: `host[addr]:port` or the socket path.
    pub fn peer(&self) -> &str {
        &self.conn.peer
    }

    /// Whether STARTTLS succeeded.
    pub fn is_tls(&self) -> bool {
        self.conn.session.is_tls()
    }

    /// What the server offered in its EHLO/LHLO reply.
    pub fn capabilities(&self) -> &Capabilities {
        self.conn.session.capabilities()
    }

    /// Messages sent on this connection so far.
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// False once the connection failed; open a new one.
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.conn.session.is_closed()
    }

    /// Sends one message: MAIL FROM with SIZE, BODY, SMTPUTF8, RET, ENVID,
    /// REQUIRETLS, MT-PRIORITY and BY as the envelope has them (the client
    /// session drops those the server does not offer, and refuses the
    /// message where dropping one would change its meaning), RCPT TO with
    /// NOTIFY and ORCPT when the server offers DSN, then the data.
    /// Addresses that do not parse fail here without being sent.
    pub async fn deliver(&mut self, message: &OutboundMessage<'_>) -> Delivery {
        let env = message.envelope;
        let peer = self.conn.peer.clone();
        let mut results = Vec::new();
        let mut sent = Vec::new();
        let from = if env.sender.is_empty() {
            Some(ReversePath::Null)
        } else {
            Mailbox::parse(&env.sender).ok().map(ReversePath::Mailbox)
        };
        let Some(from) = from else {
            for &i in message.recipients {
                if i < env.recipients.len() {
                    results.push(RecipientResult::local(
                        i,
                        "553 5.1.7 The sender address is not valid SMTP syntax",
                        None,
                    ));
                }
            }
            return Delivery {
                results,
                connection_error: None,
            };
        };
        let mut recipients = Vec::new();
        for &i in message.recipients {
            let Some(r) = env.recipients.get(i) else {
                continue;
            };
            match forward_path(&r.address) {
                Some(path) => {
                    let params = RcptParameters {
                        notify: r.notify.map(|n| SmtpNotify {
                            success: n.success,
                            failure: n.failure,
                            delay: n.delay,
                        }),
                        orcpt: r.orcpt.as_ref().map(|o| SmtpOrcpt {
                            addr_type: o.addr_type.clone(),
                            address: o.address.clone(),
                        }),
                        ..RcptParameters::default()
                    };
                    recipients.push((path, params));
                    sent.push(i);
                }
                None => results.push(RecipientResult::local(
                    i,
                    "553 5.1.3 The recipient address is not valid SMTP syntax",
                    None,
                )),
            }
        }
        if sent.is_empty() {
            return Delivery {
                results,
                connection_error: None,
            };
        }
        if !self.is_usable() {
            let error = SessionError::Closed { peer };
            let reply = error.reply();
            results.extend(
                sent.iter()
                    .map(|&i| RecipientResult::local(i, &reply, None)),
            );
            return Delivery {
                results,
                connection_error: Some(error),
            };
        }
        let smtp_envelope = SmtpEnvelope {
            from,
            params: mail_parameters(env, message.data.len(), message.deliver_by_left),
            recipients,
        };
        self.messages += 1;
        match self.conn.transact(smtp_envelope, message.data).await {
            Ok(outcome) => {
                for (i, r) in sent.iter().zip(outcome.recipients.iter()) {
                    let reply = match &r.status {
                        DeliveryStatus::Accepted(reply)
                        | DeliveryStatus::TransientFailure(reply)
                        | DeliveryStatus::PermanentFailure(reply) => reply,
                    };
                    results.push(RecipientResult::from_reply(*i, reply, &peer));
                }
                // A short outcome would be the session's bug; never lose a
                // recipient over it.
                for &i in sent.iter().skip(outcome.recipients.len()) {
                    results.push(RecipientResult::local(
                        i,
                        "451 4.3.0 No outcome for this recipient",
                        Some(peer.clone()),
                    ));
                }
                Delivery {
                    results,
                    connection_error: None,
                }
            }
            Err(error) => {
                self.broken = true;
                let reply = error.reply();
                results.extend(
                    sent.iter()
                        .map(|&i| RecipientResult::local(i, &reply, Some(peer.clone()))),
                );
                Delivery {
                    results,
                    connection_error: Some(error),
                }
            }
        }
    }

    /// Says QUIT (waiting briefly for the answer) and closes.
    pub async fn quit(self) {
        if self.broken {
            let mut conn = self.conn;
            conn.stream.shutdown().await;
            return;
        }
        self.conn.quit().await;
    }
}
