//! The LMTP session printed in the seed (`shared/seed/lmtp-session.txt`),
//! replayed byte for byte against the server session, and the same exchange
//! driven by our LMTP client.

use std::time::Instant;

use postel_lmtp::{DeliveryStatus, LmtpClient, LmtpServer, RecipientReply};
use postel_smtp::client::{ClientEvent, Envelope};
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::server::{ConnectionInfo, ServerEvent};
use postel_smtp::{ForwardPath, Mailbox, Reply, ReversePath};

fn seed_transcript() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/seed/lmtp-session.txt"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "the seed transcript {path} is missing ({e}); CI needs ../shared beside the checkout"
        )
    })
}

/// Client lines of the transcript (those without a reply code), with the
/// message body; each ends with CRLF.
fn client_lines(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !(l.len() >= 4
                && l.as_bytes()[..3].iter().all(u8::is_ascii_digit)
                && matches!(l.as_bytes()[3], b' ' | b'-'))
        })
        .map(|l| format!("{l}\r\n"))
        .collect()
}

/// A server that answers like the seed's: c@example.com is unable to
/// accept messages.
fn serve(server: &mut LmtpServer) {
    while let Some(event) = server.poll_event() {
        match event {
            ServerEvent::Hello { .. } => server.accept().unwrap(),
            ServerEvent::MailFrom { from, .. } => server
                .reject(Reply::new(250, None, format!("{from} Sender ok")))
                .unwrap(),
            ServerEvent::RcptTo { to, .. } => server
                .reject(Reply::new(250, None, format!("{to} Recipient ok")))
                .unwrap(),
            ServerEvent::MessageEnd { .. } => {
                let replies = server
                    .recipients()
                    .iter()
                    .map(|r| {
                        let addr =
                            r.to.mailbox()
                                .map(|m| m.as_str().to_owned())
                                .unwrap_or_default();
                        if addr == "c@example.com" {
                            Reply::new(
                                550,
                                None,
                                format!("<{addr}>... User unable to accept messages"),
                            )
                        } else {
                            Reply::new(
                                250,
                                None,
                                format!("<{addr}>... OK (mail.example.com [192.168.1.10])"),
                            )
                        }
                    })
                    .collect();
                server.respond_per_recipient(replies).unwrap();
            }
            _ => {}
        }
    }
}

#[test]
fn seed_lmtp_session_three_recipients_third_refused() {
    let transcript = seed_transcript();
    let now = Instant::now();
    let mut server = LmtpServer::new("mail.example.com", ConnectionInfo::default(), now);
    let mut out = server.poll_transmit().unwrap();
    for line in client_lines(&transcript) {
        // One byte at a time: the result must not depend on chunking.
        for b in line.as_bytes() {
            server.enqueue_input(now, std::slice::from_ref(b));
            serve(&mut server);
        }
        if let Some(o) = server.poll_transmit() {
            out.extend_from_slice(&o);
        }
    }
    let out = String::from_utf8(out).unwrap();
    let codes: Vec<&str> = out.lines().map(|l| &l[..4]).collect();
    assert_eq!(
        codes,
        [
            "220 ", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250-", "250 ",
            "250 ", "250 ", "250 ", "250 ", "354 ", "250 ", "250 ", "550 ", "221 "
        ],
        "{out}"
    );
    assert!(out.contains("250 <a@example.com>... OK (mail.example.com [192.168.1.10])\r\n"));
    assert!(out.contains("250 <b@example.com>... OK"));
    assert!(out.contains("550 <c@example.com>... User unable to accept messages\r\n"));
    assert!(out.starts_with("220 mail.example.com LMTP"));
    assert!(out.contains("250-mail.example.com Hello test.net\r\n"));
    assert!(server.is_closed());
}

#[test]
fn lmtp_client_reports_each_recipient() {
    let now = Instant::now();
    let mut server = LmtpServer::new("mail.example.com", ConnectionInfo::default(), now);
    let mut client = LmtpClient::new("test.net", now);
    let mb = |s: &str| Mailbox::parse(s).unwrap();
    let envelope = Envelope {
        from: ReversePath::Mailbox(mb("a@test.net")),
        params: MailParameters::default(),
        recipients: ["a@example.com", "b@example.com", "c@example.com"]
            .iter()
            .map(|a| (ForwardPath::Mailbox(mb(a)), RcptParameters::default()))
            .collect(),
    };
    let body =
        b"From: a@test.net\r\nSubject: Test LMTP message\r\n\r\nThis is a test LMTP message.\r\n";
    let mut envelope = Some(envelope);
    let mut outcome = None;
    for _ in 0..100 {
        if let Some(o) = server.poll_transmit() {
            client.enqueue_input(now, &o);
        }
        while let Some(e) = client.poll_event() {
            match e {
                ClientEvent::Ready => client.send(now, envelope.take().unwrap()).unwrap(),
                ClientEvent::SendBody => {
                    client.body_chunk(body).unwrap();
                    client.body_end(now).unwrap();
                }
                ClientEvent::Delivered(o) => {
                    outcome = Some(o);
                    client.quit(now).unwrap();
                }
                ClientEvent::Closed => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        if let Some(o) = client.poll_transmit() {
            server.enqueue_input(now, &o);
        }
        serve(&mut server);
        if server.is_closed() && client.session().is_closed() {
            break;
        }
    }
    let outcome = outcome.expect("no outcome");
    let statuses: Vec<_> = outcome
        .recipients
        .iter()
        .map(|r| match &r.status {
            DeliveryStatus::Accepted(_) => "accepted",
            DeliveryStatus::TransientFailure(_) => "deferred",
            DeliveryStatus::PermanentFailure(_) => "rejected",
        })
        .collect();
    assert_eq!(statuses, ["accepted", "accepted", "rejected"]);
    assert_eq!(outcome.recipients[2].status.reply().code(), 550);
    assert!(client.session().is_closed());
}

#[test]
fn refused_body_gets_one_reply_per_recipient() {
    let now = Instant::now();
    let mut server = LmtpServer::new("mx", ConnectionInfo::default(), now);
    let _ = server.poll_transmit();
    server.enqueue_input(now, b"LHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@mx>\r\nRCPT TO:<c@mx>\r\nDATA\r\nbare\nLF\r\n.\r\n");
    while let Some(e) = server.poll_event() {
        if e.needs_decision() {
            server.accept().unwrap();
        }
    }
    let out = String::from_utf8(server.poll_transmit().unwrap()).unwrap();
    assert_eq!(out.matches("550 5.6.0").count(), 2, "{out}");
}

#[test]
fn recipient_reply_builders() {
    let to = ForwardPath::Mailbox(Mailbox::parse("u@example.com").unwrap());
    assert_eq!(
        RecipientReply::delivered(&to).to_bytes(),
        b"250 2.1.5 <u@example.com> delivered\r\n"
    );
    assert_eq!(RecipientReply::mailbox_full(&to).code(), 552);
    assert_eq!(RecipientReply::temporary_failure(&to).code(), 451);
}

/// Drives an LMTP client against an LMTP server in memory; returns the
/// outcome of one message.
fn exchange(
    server: &mut LmtpServer,
    client: &mut LmtpClient,
    envelope: Envelope,
    body: &[u8],
    ready: bool,
) -> postel_lmtp::MessageOutcome {
    let now = Instant::now();
    let mut envelope = Some(envelope);
    if ready {
        client.send(now, envelope.take().unwrap()).unwrap();
    }
    let mut outcome = None;
    for _ in 0..1000 {
        if let Some(o) = server.poll_transmit() {
            client.enqueue_input(now, &o);
        }
        while let Some(e) = client.poll_event() {
            match e {
                ClientEvent::Ready => client.send(now, envelope.take().unwrap()).unwrap(),
                ClientEvent::SendBody => {
                    for piece in body.chunks(1000) {
                        client.body_chunk(piece).unwrap();
                    }
                    client.body_end(now).unwrap();
                }
                ClientEvent::Delivered(o) => outcome = Some(o),
                other => panic!("unexpected {other:?}"),
            }
        }
        if let Some(o) = outcome.take() {
            return o;
        }
        if let Some(o) = client.poll_transmit() {
            server.enqueue_input(now, &o);
        }
        while let Some(e) = server.poll_event() {
            if e.needs_decision() {
                server.accept().unwrap();
            }
        }
    }
    panic!("no outcome: the client and server disagree on the number of replies");
}

#[test]
fn lmtp_bdat_message_too_large_fails_every_recipient_without_hanging() {
    let now = Instant::now();
    let mut config = postel_smtp::server::ServerConfig::lmtp("mx");
    config.limits.max_message_size = 2500;
    let mut server =
        LmtpServer::with_config(std::sync::Arc::new(config), ConnectionInfo::default(), now)
            .unwrap();
    let mut client = LmtpClient::new("mta", now);
    let mb = |s: &str| ForwardPath::Mailbox(Mailbox::parse(s).unwrap());
    for (i, body_len) in [2400, 2600, 5000, 2500].into_iter().enumerate() {
        let envelope = Envelope {
            from: ReversePath::Null,
            params: MailParameters::default(),
            recipients: vec![
                (mb("a@mx"), RcptParameters::default()),
                (mb("b@mx"), RcptParameters::default()),
            ],
        };
        let outcome = exchange(
            &mut server,
            &mut client,
            envelope,
            &vec![b'x'; body_len],
            i > 0,
        );
        let codes: Vec<u16> = outcome
            .recipients
            .iter()
            .map(|r| r.status.reply().code())
            .collect();
        if body_len <= 2500 {
            assert_eq!(codes, [250, 250], "{body_len}");
        } else {
            assert_eq!(codes, [552, 552], "{body_len}");
        }
    }
}

#[test]
fn lmtp_refused_last_bdat_chunk_answers_every_recipient() {
    let now = Instant::now();
    let mut config = postel_smtp::server::ServerConfig::lmtp("mx");
    config.limits.max_message_size = 10;
    let mut server =
        LmtpServer::with_config(std::sync::Arc::new(config), ConnectionInfo::default(), now)
            .unwrap();
    let _ = server.poll_transmit();
    server.enqueue_input(now, b"LHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@mx>\r\nRCPT TO:<c@mx>\r\nRCPT TO:<d@mx>\r\nBDAT 20 LAST\r\n01234567890123456789NOOP\r\n");
    while let Some(e) = server.poll_event() {
        if e.needs_decision() {
            server.accept().unwrap();
        }
    }
    let out = String::from_utf8(server.poll_transmit().unwrap()).unwrap();
    assert_eq!(out.matches("552 5.3.4").count(), 3, "{out}");
    assert!(out.ends_with("250 2.0.0 Ok\r\n"), "{out}");
}
