//! Logs in to an IMAP server over plain TCP (no TLS: for test servers on
//! a trusted network), selects a mailbox, and either lists its messages or
//! saves every message to a folder, driving the Sans-IO [`ClientSession`]
//! with a blocking `std::net::TcpStream`.
//!
//! ```text
//! cargo run -p postel-imap --example imap-fetch -- --host 127.0.0.1 --port 143 \
//!     --user alice --password secret [--mailbox INBOX] [--save DIR]
//! ```
//!
//! Without `--save` it prints one line per message from
//! `UID FETCH 1:* (UID FLAGS RFC822.SIZE)`: `<uid> <size> <flags>`. With
//! `--save DIR` it sends `UID FETCH 1:* (UID BODY.PEEK[])` and streams each
//! message straight into `DIR/<uid>.eml` (first written as
//! `DIR/seq-<n>.part`, renamed when the FETCH response, which carries the
//! UID, completes): a message is never held in memory whole. Both FETCHes
//! run in `DataMode::Stream`, so a large mailbox is never collected either.
//!
//! The password goes in the clear; the server may refuse LOGIN
//! (LOGINDISABLED) on a connection that is not TLS or not local.

use std::collections::HashMap;
use std::error::Error;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use postel_imap::client::{
    ClientConfig, ClientEvent, ClientSession, DataMode, ResponseLimits, StreamedItem,
};
use postel_imap::{
    Command, CommandBody, Data, FetchData, Flag, Mailbox, NameEncoding, SelectParams, StatusKind,
    StatusResponse, Tag,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(Parser, Debug)]
#[command(about = "List or save the messages of an IMAP mailbox (plain TCP, no TLS)")]
struct Args {
    /// Server host name or address.
    #[arg(long)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 143)]
    port: u16,
    /// User name (LOGIN).
    #[arg(long)]
    user: String,
    /// Password (LOGIN).
    #[arg(long)]
    password: String,
    /// Mailbox to select.
    #[arg(long, default_value = "INBOX")]
    mailbox: String,
    /// Save every message (BODY.PEEK[]) to this folder instead of listing.
    #[arg(long)]
    save: Option<PathBuf>,
}

/// A session over a blocking TCP connection.
struct Connection {
    stream: TcpStream,
    session: ClientSession,
    buf: Vec<u8>,
}

impl Connection {
    fn flush(&mut self) -> Result<()> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.stream.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Runs the session until the command `tag` completes, passing every
    /// other event to `on_event`; returns the completion.
    fn run(
        &mut self,
        tag: &Tag,
        mut on_event: impl FnMut(ClientEvent) -> Result<()>,
    ) -> Result<(StatusResponse, Vec<Data>)> {
        loop {
            self.flush()?;
            while let Some(event) = self.session.next_event() {
                match event {
                    ClientEvent::Done {
                        tag: t,
                        status,
                        data,
                        ..
                    } if t == *tag => {
                        self.flush()?;
                        return Ok((status, data));
                    }
                    ClientEvent::NotSent { tag: t, reason } if t == *tag => {
                        return Err(format!("{tag} not sent: {reason}").into());
                    }
                    ClientEvent::Failed(e) => return Err(format!("protocol failure: {e}").into()),
                    ClientEvent::Error(e) => eprintln!("warning: {e}"),
                    ClientEvent::Closed => return Err("the session closed".into()),
                    ClientEvent::Bye(s) => eprintln!("server: BYE {}", s.text),
                    ClientEvent::Status { tag: None, status } => {
                        eprintln!("server: {} {}", status.kind.as_str(), status.text);
                    }
                    other => on_event(other)?,
                }
            }
            self.flush()?;
            let n = self.stream.read(&mut self.buf)?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.session.enqueue_input(&self.buf[..n]);
        }
    }

    /// Runs a command to completion; fails unless it ends OK.
    fn expect_ok(
        &mut self,
        what: &str,
        tag: Tag,
        on_event: impl FnMut(ClientEvent) -> Result<()>,
    ) -> Result<Vec<Data>> {
        let (status, data) = self.run(&tag, on_event)?;
        if status.kind != StatusKind::Ok {
            return Err(format!("{what} failed: {} {}", status.kind.as_str(), status.text).into());
        }
        Ok(data)
    }
}

fn flags_text(flags: &[Flag]) -> String {
    let items: Vec<String> = flags.iter().map(Flag::to_string).collect();
    format!("({})", items.join(" "))
}

fn uid_of(items: &[FetchData]) -> Option<u32> {
    items.iter().find_map(|i| match i {
        FetchData::Uid(u) => Some(*u),
        _ => None,
    })
}

fn list(conn: &mut Connection) -> Result<()> {
    let tag = conn.session.enqueue_with(
        parse_body("UID FETCH 1:* (UID FLAGS RFC822.SIZE)")?,
        DataMode::Stream,
    )?;
    let mut count = 0u64;
    conn.expect_ok("UID FETCH", tag, |event| {
        if let ClientEvent::Data {
            data: Data::Fetch { items, .. },
            ..
        } = event
        {
            let uid = uid_of(&items).unwrap_or(0);
            let size = items.iter().find_map(|i| match i {
                FetchData::Rfc822Size(s) => Some(*s),
                _ => None,
            });
            let flags = items.iter().find_map(|i| match i {
                FetchData::Flags(f) => Some(flags_text(f)),
                _ => None,
            });
            println!(
                "{uid} {} {}",
                size.map_or("-".into(), |s| s.to_string()),
                flags.unwrap_or_else(|| "-".into())
            );
            count += 1;
        }
        Ok(())
    })?;
    println!("listed {count} messages");
    Ok(())
}

fn save(conn: &mut Connection, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let tag = conn.session.enqueue_with(
        parse_body("UID FETCH 1:* (UID BODY.PEEK[])")?,
        DataMode::Stream,
    )?;
    // The message being streamed, and the finished ones waiting for their
    // FETCH response (which carries the UID) by sequence number.
    let mut current: Option<(u32, File)> = None;
    let mut parts: HashMap<u32, PathBuf> = HashMap::new();
    let (mut saved, mut octets) = (0u64, 0u64);
    conn.expect_ok("UID FETCH", tag, |event| {
        match event {
            ClientEvent::FetchLiteralStart { literal, .. } => {
                if matches!(literal.item, StreamedItem::BodySection { .. }) {
                    let path = dir.join(format!("seq-{}.part", literal.seq));
                    current = Some((literal.seq, File::create(&path)?));
                    parts.insert(literal.seq, path);
                }
            }
            ClientEvent::FetchLiteralData(chunk) => {
                if let Some((_, file)) = current.as_mut() {
                    file.write_all(&chunk)?;
                    octets += chunk.len() as u64;
                }
            }
            ClientEvent::FetchLiteralEnd => {
                if let Some((_, file)) = current.take() {
                    file.sync_all()?;
                }
            }
            ClientEvent::Data {
                data: Data::Fetch { seq, items },
                ..
            } => {
                let Some(uid) = uid_of(&items) else {
                    eprintln!("warning: FETCH {seq} without UID");
                    return Ok(());
                };
                let target = dir.join(format!("{uid}.eml"));
                if let Some(part) = parts.remove(&seq) {
                    std::fs::rename(&part, &target)?;
                } else if let Some(FetchData::BodySection {
                    data: Some(body), ..
                }) = items
                    .iter()
                    .find(|i| matches!(i, FetchData::BodySection { .. }))
                {
                    // Small enough to come inline (or empty).
                    std::fs::write(&target, body)?;
                    octets += body.len() as u64;
                } else {
                    return Ok(());
                }
                println!("saved {uid} {}", target.display());
                saved += 1;
            }
            _ => {}
        }
        Ok(())
    })?;
    println!("saved {saved} messages ({octets} octets)");
    Ok(())
}

fn parse_body(text: &str) -> Result<CommandBody> {
    Ok(Command::parse(format!("x {text}\r\n").as_bytes())?.body)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let stream = TcpStream::connect((args.host.as_str(), args.port))?;
    let config = ClientConfig {
        // No TLS in this example: the caller asked for plain TCP.
        allow_plaintext_auth: true,
        limits: ResponseLimits {
            // Stream every message body, whatever its size.
            stream_threshold: 0,
            ..ResponseLimits::default()
        },
        ..ClientConfig::default()
    };
    let mut conn = Connection {
        stream,
        session: ClientSession::new(config),
        buf: vec![0; 64 * 1024],
    };

    let login = conn.session.login(&args.user, &args.password)?;
    conn.expect_ok("LOGIN", login, |event| {
        if let ClientEvent::Greeting(g) = event {
            eprintln!("server: {} {}", g.kind.as_str(), g.text);
        }
        Ok(())
    })?;

    // IMAP4rev2 names are UTF-8; IMAP4rev1 names modified UTF-7.
    let encoding = match conn.session.capabilities() {
        Some(c) if c.imap4rev2() => NameEncoding::Utf8,
        _ => NameEncoding::Utf7,
    };
    let mailbox = Mailbox::from_name(&args.mailbox, encoding)?;
    let select = conn.session.enqueue(CommandBody::Select {
        mailbox,
        params: SelectParams::default(),
    })?;
    let data = conn.expect_ok("SELECT", select, |_| Ok(()))?;
    let exists = data.iter().find_map(|d| match d {
        Data::Exists(n) => Some(*n),
        _ => None,
    });
    println!("{}: {} messages", args.mailbox, exists.unwrap_or(0));

    if exists.unwrap_or(0) > 0 {
        match &args.save {
            Some(dir) => save(&mut conn, dir)?,
            None => list(&mut conn)?,
        }
    }

    let logout = conn.session.logout()?;
    conn.flush()?;
    // The session ends with Done for LOGOUT, then Closed.
    conn.expect_ok("LOGOUT", logout, |_| Ok(()))?;
    Ok(())
}
