//! The driver over real loopback TCP, with a toy line protocol that uses
//! every part of the contract: a greeting, a decision with a ticket,
//! STARTTLS, COMPRESS, a deadline, back-pressure and shutdown.

use std::time::{Duration, Instant};

use postel_core::driver::tls::insecure::{accept_any_certificate_connector, self_signed_acceptor};
use postel_core::driver::{DriveOptions, Ending, FnHandler, Shutdown, TlsRole, Transport, drive};
use postel_core::testkit::{Pair, VirtualClock, replay_at_every_chunking};
use postel_core::{
    CloseReason, Compression, Session, SessionEvent, Ticket, TicketBook, Upgrade, Upgraded,
    UsageError,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;

/// Events of the toy server.
#[derive(Debug)]
enum Ev {
    /// `ASK x`: answer yes or no.
    Ask(String, Ticket),
    StartTls,
    Compress,
    Closed(CloseReason),
}

impl SessionEvent for Ev {
    fn upgrade(&self) -> Option<Upgrade> {
        match self {
            Ev::StartTls => Some(Upgrade::StartTls),
            Ev::Compress => Some(Upgrade::Compress(Compression::Deflate)),
            _ => None,
        }
    }
    fn needs_decision(&self) -> bool {
        matches!(self, Ev::Ask(..))
    }
    fn close_reason(&self) -> Option<&CloseReason> {
        match self {
            Ev::Closed(r) => Some(r),
            _ => None,
        }
    }
}

/// A line server: `ECHO x`, `ASK x` (a decision), `STARTTLS`, `COMPRESS`,
/// `QUIT`; ten seconds of silence close it.
struct Toy {
    input: Vec<u8>,
    output: Vec<u8>,
    events: Vec<Ev>,
    tickets: TicketBook,
    upgrading: Option<Upgrade>,
    tls: bool,
    closed: bool,
    shutting_down: bool,
    deadline: Instant,
}

impl Toy {
    fn new(now: Instant) -> Self {
        Toy {
            input: Vec::new(),
            output: b"+OK toy\r\n".to_vec(),
            events: Vec::new(),
            tickets: TicketBook::new(),
            upgrading: None,
            tls: false,
            closed: false,
            shutting_down: false,
            deadline: now + Duration::from_secs(10),
        }
    }

    fn answer(&mut self, ticket: Ticket, yes: bool) -> Result<(), postel_core::DecisionError> {
        let ticket = self.tickets.verify(ticket)?;
        self.tickets.redeem(ticket);
        self.output
            .extend_from_slice(if yes { b"+YES\r\n" } else { b"-NO\r\n" });
        self.work();
        Ok(())
    }

    fn close(&mut self, line: &[u8], reason: CloseReason) {
        self.output.extend_from_slice(line);
        self.closed = true;
        self.events.push(Ev::Closed(reason));
    }

    fn work(&mut self) {
        while !self.closed && self.upgrading.is_none() && !self.tickets.is_pending() {
            if self.shutting_down {
                self.close(b"-BYE shutting down\r\n", CloseReason::LocalQuit);
                return;
            }
            let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let line: Vec<u8> = self.input.drain(..end + 2).take(end).collect();
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(text) = line.strip_prefix("ECHO ") {
                self.output
                    .extend_from_slice(format!("+{text}\r\n").as_bytes());
            } else if let Some(q) = line.strip_prefix("ASK ") {
                let t = self.tickets.issue();
                self.events.push(Ev::Ask(q.to_owned(), t));
            } else if line == "STARTTLS" && !self.tls {
                self.output.extend_from_slice(b"+GO\r\n");
                self.input.clear(); // plaintext injection
                self.upgrading = Some(Upgrade::StartTls);
                self.events.push(Ev::StartTls);
            } else if line == "COMPRESS" {
                self.output.extend_from_slice(b"+DEFLATE\r\n");
                self.upgrading = Some(Upgrade::Compress(Compression::Deflate));
                self.events.push(Ev::Compress);
            } else if line == "QUIT" {
                self.close(b"+BYE\r\n", CloseReason::PeerQuit);
            } else {
                self.output.extend_from_slice(b"-ERR\r\n");
            }
        }
    }
}

impl Session for Toy {
    type Event = Ev;
    fn enqueue_input(&mut self, now: Instant, input: &[u8]) {
        self.deadline = now + Duration::from_secs(10);
        self.input.extend_from_slice(input);
        self.work();
    }
    fn poll_event(&mut self) -> Option<Ev> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        postel_core::session::move_output(&mut self.output, out)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (!self.closed).then_some(self.deadline)
    }
    fn handle_timeout(&mut self, now: Instant) {
        if !self.closed && now >= self.deadline {
            self.tickets.withdraw();
            self.close(b"-TIMEOUT\r\n", CloseReason::TimedOut);
        }
    }
    fn wants_input(&self) -> bool {
        !self.closed && self.upgrading.is_none() && !self.tickets.is_pending()
    }
    fn upgrade_done(&mut self, _now: Instant, done: Upgraded) -> Result<(), UsageError> {
        if self.upgrading != Some(done.upgrade()) {
            return Err(UsageError::WrongState("no such upgrade was asked for"));
        }
        self.upgrading = None;
        if matches!(done, Upgraded::Tls(_)) {
            self.tls = true;
        }
        self.work();
        Ok(())
    }
    fn begin_shutdown(&mut self, _now: Instant) {
        self.shutting_down = true;
        self.work();
    }
    fn is_closed(&self) -> bool {
        self.closed
    }
}

fn decide(s: &mut Toy, e: Ev) -> std::io::Result<()> {
    if let Ev::Ask(q, t) = e {
        s.answer(t, q == "yes")?;
    }
    Ok(())
}

async fn serve_one(listener: TcpListener, shutdown: Shutdown) -> std::io::Result<Ending> {
    let (stream, _) = listener.accept().await?;
    let options = DriveOptions::default()
        .with_tls(TlsRole::Server(self_signed_acceptor("toy.test").unwrap()));
    let mut session = Toy::new(Instant::now());
    let mut transport = Transport::plain(stream);
    drive(
        &mut session,
        &mut transport,
        &mut FnHandler(decide),
        &options,
        shutdown,
    )
    .await
}

#[tokio::test]
async fn decisions_starttls_and_quit_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve_one(listener, Shutdown::never()));

    let stream = TcpStream::connect(addr).await.unwrap();
    let mut plain = BufReader::new(stream);
    let mut line = String::new();
    plain.read_line(&mut line).await.unwrap();
    assert_eq!(line, "+OK toy\r\n");
    // Pipelined plaintext after STARTTLS is discarded by the session.
    plain
        .get_mut()
        .write_all(b"ASK yes\r\nSTARTTLS\r\nECHO injected\r\n")
        .await
        .unwrap();
    for want in ["+YES\r\n", "+GO\r\n"] {
        line.clear();
        plain.read_line(&mut line).await.unwrap();
        assert_eq!(line, want);
    }
    let connector = accept_any_certificate_connector().unwrap();
    let name = ServerName::try_from("toy.test").unwrap();
    let tls = connector.connect(name, plain.into_inner()).await.unwrap();
    let mut tls = BufReader::new(tls);
    tls.get_mut()
        .write_all(b"ASK no\r\nECHO secret\r\nQUIT\r\n")
        .await
        .unwrap();
    for want in ["-NO\r\n", "+secret\r\n", "+BYE\r\n"] {
        line.clear();
        tls.read_line(&mut line).await.unwrap();
        assert_eq!(line, want);
    }
    assert_eq!(server.await.unwrap().unwrap(), Ending::Closed);
}

#[tokio::test]
async fn shutdown_lets_the_session_say_goodbye() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = Shutdown::channel();
    let server = tokio::spawn(serve_one(listener, shutdown));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    r.get_mut().write_all(b"ECHO a\r\n").await.unwrap();
    line.clear();
    r.read_line(&mut line).await.unwrap();
    assert_eq!(line, "+a\r\n");
    trigger.trigger();
    line.clear();
    r.read_line(&mut line).await.unwrap();
    assert_eq!(line, "-BYE shutting down\r\n");
    assert_eq!(server.await.unwrap().unwrap(), Ending::Closed);
}

#[tokio::test]
async fn compress_turns_deflate_on_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve_one(listener, Shutdown::never()));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut client = Transport::plain(stream);
    let mut buf = Vec::new();
    let mut got = Vec::new();
    while !got.ends_with(b"+DEFLATE\r\n") {
        if got.is_empty() {
            client.write_all(b"COMPRESS\r\n").await.unwrap();
        }
        client.read(&mut buf, 4096).await.unwrap();
        got.extend_from_slice(&buf);
    }
    client.start_compression(Compression::Deflate).unwrap();
    client.write_all(b"ECHO packed\r\nQUIT\r\n").await.unwrap();
    got.clear();
    while !got.ends_with(b"+BYE\r\n") {
        assert!(client.read(&mut buf, 4096).await.unwrap() > 0);
        got.extend_from_slice(&buf);
    }
    assert_eq!(got, b"+packed\r\n+BYE\r\n");
    assert_eq!(server.await.unwrap().unwrap(), Ending::Closed);
}

/// The toy client: sends its script, then waits.
struct Script {
    lines: Vec<&'static [u8]>,
    output: Vec<u8>,
    closed: bool,
}

impl Session for Script {
    type Event = Ev;
    fn enqueue_input(&mut self, _: Instant, input: &[u8]) {
        if input.ends_with(b"+BYE\r\n") || input.ends_with(b"-TIMEOUT\r\n") {
            self.closed = true;
        }
        if !self.lines.is_empty() {
            self.output.extend_from_slice(self.lines.remove(0));
        }
    }
    fn poll_event(&mut self) -> Option<Ev> {
        None
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        postel_core::session::move_output(&mut self.output, out)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn wants_input(&self) -> bool {
        !self.closed
    }
    fn upgrade_done(&mut self, _: Instant, _: Upgraded) -> Result<(), UsageError> {
        Err(UsageError::WrongState("no upgrade"))
    }
    fn begin_shutdown(&mut self, _: Instant) {}
    fn is_closed(&self) -> bool {
        self.closed
    }
}

#[test]
fn the_pair_jumps_the_virtual_clock_to_the_deadline() {
    let clock = VirtualClock::new();
    let client = Script {
        lines: vec![b"ECHO hi\r\n"],
        output: Vec::new(),
        closed: false,
    };
    let mut pair = Pair::new(client, Toy::new(clock.now()), clock);
    pair.run(|_, _, _| {}, |s, e, _| decide(s, e).unwrap());
    assert_eq!(
        pair.sent_by(postel_core::testkit::Side::Server),
        ["+OK toy", "+hi", "-TIMEOUT"]
    );
    assert_eq!(pair.clock.elapsed(), Duration::from_secs(10));
}

#[test]
fn a_stale_ticket_changes_nothing() {
    let now = Instant::now();
    let mut s = Toy::new(now);
    s.enqueue_input(now, b"ASK yes\r\nASK no\r\n");
    let Some(Ev::Ask(_, first)) = s.poll_event() else {
        panic!()
    };
    s.answer(first, true).unwrap();
    let Some(Ev::Ask(_, second)) = s.poll_event() else {
        panic!()
    };
    let mut other = Toy::new(now);
    other.enqueue_input(now, b"ASK x\r\n");
    let Some(Ev::Ask(_, foreign)) = other.poll_event() else {
        panic!()
    };
    let err = s.answer(foreign, true).unwrap_err();
    assert_eq!(err.error(), &UsageError::ForeignTicket);
    s.answer(second, false).unwrap();
    assert_eq!(s.take_transmit().unwrap(), b"+OK toy\r\n+YES\r\n-NO\r\n");
}

#[test]
fn replay_finds_the_same_output_at_every_cut() {
    let out = replay_at_every_chunking(
        b"ECHO a\r\nASK yes\r\nECHO b\r\nQUIT\r\n",
        Instant::now(),
        || {
            (Toy::new(Instant::now()), |s: &mut Toy, e: Ev| {
                decide(s, e).unwrap()
            })
        },
    );
    assert_eq!(out, b"+OK toy\r\n+a\r\n+YES\r\n+b\r\n+BYE\r\n");
}
