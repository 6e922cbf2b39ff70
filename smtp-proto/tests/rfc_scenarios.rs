//! The example sessions of RFC 5321 Appendix D, RFC 2920 §3.2 and RFC 3030,
//! and the transcripts of the seed document, replayed against the server
//! session (and, for D.1, the client session).

mod common;

use std::time::Instant;

use common::{
    CHUNK_SIZES, Decision, Harness, accept_all, greeted, lossy, parse_replies, rcpt, read_seed,
    run_transcript, sender,
};
use postel_smtp::client::{
    ClientConfig, ClientEvent, ClientSession, DeliveryStatus, Envelope, MessageOutcome,
    RecipientOutcome, TlsPolicy,
};
use postel_smtp::extensions::{Capabilities, Extensions};
use postel_smtp::params::{MailParameters, RcptParameters};
use postel_smtp::server::{ServerConfig, ServerEvent};
use postel_smtp::{EnhancedCode, ForwardPath, Reply};

/// The EHLO reply `ServerConfig::new("foo.com")` gives a client named bar.com.
const FOO_EHLO_REPLY: &str = "250-foo.com Hello bar.com\r\n\
    250-PIPELINING\r\n\
    250-8BITMIME\r\n\
    250-SMTPUTF8\r\n\
    250-SIZE 36700160\r\n\
    250-DSN\r\n\
    250-ENHANCEDSTATUSCODES\r\n\
    250-CHUNKING\r\n\
    250-BINARYMIME\r\n\
    250 LIMITS RCPTMAX=100\r\n";

/// D.1's message as it crosses the wire (the second line is dot-stuffed).
const D1_WIRE_BODY: &str = "Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n";
/// D.1's message after unstuffing.
const D1_BODY: &str = "Blah blah blah...\r\n..etc. etc. etc.\r\n";

/// Refuses Green@foo.com the way D.1 shows, accepts everything else.
fn d1_decider(event: &ServerEvent) -> Decision {
    match event {
        ServerEvent::RcptTo { to, .. } if to.to_string() == "<Green@foo.com>" => {
            Decision::Reply(Reply::new(550, None, "No such user here"))
        }
        _ => Decision::Accept,
    }
}

#[test]
fn rfc5321_d1_typical_transaction_reply_codes_events_and_body() {
    for chunk in CHUNK_SIZES {
        let mut h = Harness::new(ServerConfig::new("foo.com"), d1_decider);
        assert_eq!(lossy(&h.take_new_output()), "220 foo.com ESMTP Postel\r\n");
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO bar.com\r\n", &[250]),
                ("MAIL FROM:<Smith@bar.com>\r\n", &[250]),
                ("RCPT TO:<Jones@foo.com>\r\n", &[250]),
                ("RCPT TO:<Green@foo.com>\r\n", &[550]),
                ("RCPT TO:<Brown@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                (D1_WIRE_BODY, &[250]),
                ("QUIT\r\n", &[221]),
            ],
        );
        assert!(h.session.is_closed(), "chunk {chunk}");
        assert_eq!(h.bodies, vec![D1_BODY.as_bytes().to_vec()], "chunk {chunk}");
        assert_eq!(
            h.events,
            vec![
                ServerEvent::Hello {
                    domain: "bar.com".into(),
                    extended: true
                },
                ServerEvent::MailFrom {
                    from: sender("Smith@bar.com"),
                    params: MailParameters::default()
                },
                ServerEvent::RcptTo {
                    to: rcpt("Jones@foo.com"),
                    params: RcptParameters::default()
                },
                ServerEvent::RcptTo {
                    to: rcpt("Green@foo.com"),
                    params: RcptParameters::default()
                },
                ServerEvent::RcptTo {
                    to: rcpt("Brown@foo.com"),
                    params: RcptParameters::default()
                },
                ServerEvent::MessageStart,
                ServerEvent::MessageData(D1_BODY.as_bytes().to_vec().into()),
                ServerEvent::MessageEnd {
                    size: D1_BODY.len() as u64
                },
                ServerEvent::Quit,
            ],
            "chunk {chunk}"
        );
        assert_eq!(h.session.info().messages, 1);
    }
}

#[test]
fn rfc5321_d1_exact_server_bytes() {
    let mut h = Harness::new(ServerConfig::new("foo.com"), d1_decider);
    let client = format!(
        "EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\n\
         RCPT TO:<Green@foo.com>\r\nRCPT TO:<Brown@foo.com>\r\nDATA\r\n{D1_WIRE_BODY}QUIT\r\n"
    );
    h.feed(client.as_bytes(), usize::MAX);
    let expected = format!(
        "220 foo.com ESMTP Postel\r\n\
         {FOO_EHLO_REPLY}\
         250 2.1.0 Ok\r\n\
         250 2.1.5 Ok\r\n\
         550 No such user here\r\n\
         250 2.1.5 Ok\r\n\
         354 2.0.0 End data with <CR><LF>.<CR><LF>\r\n\
         250 2.0.0 Ok: queued\r\n\
         221 2.0.0 foo.com closing connection\r\n"
    );
    assert_eq!(lossy(&h.output), expected);
}

#[test]
fn rfc5321_d2_aborted_transaction_with_rset() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), d1_decider);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO bar.com\r\n", &[250]),
                ("MAIL FROM:<Smith@bar.com>\r\n", &[250]),
                ("RCPT TO:<Jones@foo.com>\r\n", &[250]),
                ("RCPT TO:<Green@foo.com>\r\n", &[550]),
                ("RSET\r\n", &[250]),
            ],
        );
        assert!(
            h.session.transaction().is_none(),
            "RSET must drop the transaction"
        );
        // After RSET a new MAIL is fine (no 503 "sender already specified").
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<Smith@bar.com>\r\n", &[250]),
                ("QUIT\r\n", &[221]),
            ],
        );
        let kinds: Vec<&'static str> = h.events.iter().map(event_kind).collect();
        assert_eq!(
            kinds,
            [
                "Hello",
                "MailFrom",
                "RcptTo",
                "RcptTo",
                "TransactionReset",
                "MailFrom",
                "TransactionReset",
                "Quit"
            ],
            "chunk {chunk}"
        );
        assert!(h.bodies.is_empty());
        assert_eq!(h.session.info().messages, 0);
    }
}

#[test]
fn rfc5321_d2_rset_reply_bytes() {
    let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
    h.feed(b"EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\n", usize::MAX);
    h.take_new_output();
    h.feed(b"RSET\r\n", usize::MAX);
    assert_eq!(lossy(&h.take_new_output()), "250 2.0.0 Ok\r\n");
}

const D3_BODY: &str = "Date: Thu, 21 May 1998 05:33:29 -0700\r\n\
    From: John Q. Public <JQP@bar.com>\r\n\
    Subject: The Next Meeting of the Board\r\n\
    To: Jones@xyz.com\r\n\
    \r\n\
    Bill:\r\n\
    The next meeting of the board of directors will be\r\n\
    on Tuesday.\r\n\
    John.\r\n";

#[test]
fn rfc5321_d3_relay_receives_source_routed_recipient() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO bar.com\r\n", &[250]),
                ("MAIL FROM:<JQP@bar.com>\r\n", &[250]),
                ("RCPT TO:<@foo.com:Jones@XYZ.COM>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                (&format!("{D3_BODY}.\r\n"), &[250]),
                ("QUIT\r\n", &[221]),
            ],
        );
        // The source route is dropped (RFC 5321 §4.1.1.3, Appendix C).
        assert_eq!(h.recipients(), ["<Jones@XYZ.COM>"], "chunk {chunk}");
        assert_eq!(h.senders(), ["<JQP@bar.com>"]);
        assert_eq!(h.bodies, vec![D3_BODY.as_bytes().to_vec()]);
    }
}

#[test]
fn rfc5321_d3_final_hop_receives_message_with_trace_header() {
    let body = format!(
        "Received: from bar.com by foo.com ; Thu, 21 May 1998\r\n    05:33:29 -0700\r\n{D3_BODY}"
    );
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("xyz.com"), accept_all);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO foo.com\r\n", &[250]),
                ("MAIL FROM:<JQP@bar.com>\r\n", &[250]),
                ("RCPT TO:<Jones@XYZ.COM>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                (&format!("{body}.\r\n"), &[250]),
                ("QUIT\r\n", &[221]),
            ],
        );
        assert_eq!(h.recipients(), ["<Jones@XYZ.COM>"]);
        assert_eq!(h.bodies, vec![body.as_bytes().to_vec()], "chunk {chunk}");
        assert!(h.events.contains(&ServerEvent::MessageEnd {
            size: body.len() as u64
        }));
    }
}

#[test]
fn rfc5321_d4_vrfy_gets_252_then_mail_is_sent() {
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("foo.com"), accept_all);
        h.feed(b"EHLO bar.com\r\n", chunk);
        h.take_new_output();
        h.feed(b"VRFY Crispin\r\n", chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
        );
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<EAK@bar.com>\r\n", &[250]),
                ("RCPT TO:<Admin.MRC@foo.com>\r\n", &[250]),
                ("DATA\r\n", &[354]),
                (D1_WIRE_BODY, &[250]),
                ("QUIT\r\n", &[221]),
            ],
        );
        assert_eq!(h.recipients(), ["<Admin.MRC@foo.com>"]);
        assert_eq!(h.bodies, vec![D1_BODY.as_bytes().to_vec()]);
        // VRFY is answered by the session itself: no event for it.
        assert_eq!(h.events.first().map(event_kind), Some("Hello"));
        assert_eq!(h.events.get(1).map(event_kind), Some("MailFrom"));
    }
}

const RFC2920_BATCH: &str = "MAIL FROM:<mrose@dbc.mtview.ca.us>\r\n\
    RCPT TO:<ned@innosoft.com>\r\n\
    RCPT TO:<dan@innosoft.com>\r\n\
    RCPT TO:<kvc@innosoft.com>\r\n\
    DATA\r\n";

fn rfc2920_decider(event: &ServerEvent) -> Decision {
    match event {
        ServerEvent::RcptTo { to, .. } if to.to_string() == "<dan@innosoft.com>" => {
            Decision::Reply(Reply::with_status(
                550,
                (5, 1, 1),
                "<dan@innosoft.com>: no such user",
            ))
        }
        _ => Decision::Accept,
    }
}

#[test]
fn rfc2920_pipelined_batch_gets_all_replies_in_one_write_in_order() {
    let mut h = greeted(ServerConfig::new("innosoft.com"), rfc2920_decider);
    h.feed(b"EHLO dbc.mtview.ca.us\r\n", usize::MAX);
    let ehlo = parse_replies(&h.take_new_output());
    assert!(ehlo[0].lines().iter().any(|l| l == "PIPELINING"));
    let writes_before = h.writes.len();
    h.feed(RFC2920_BATCH.as_bytes(), usize::MAX);
    assert_eq!(h.writes.len(), writes_before + 1, "one batch of replies");
    assert_eq!(
        lossy(&h.take_new_output()),
        "250 2.1.0 Ok\r\n\
         250 2.1.5 Ok\r\n\
         550 5.1.1 <dan@innosoft.com>: no such user\r\n\
         250 2.1.5 Ok\r\n\
         354 2.0.0 End data with <CR><LF>.<CR><LF>\r\n"
    );
    // The end of data and QUIT, pipelined too.
    let writes_before = h.writes.len();
    h.feed(b"Hi all\r\n.\r\nQUIT\r\n", usize::MAX);
    assert_eq!(h.writes.len(), writes_before + 1);
    assert_eq!(
        lossy(&h.take_new_output()),
        "250 2.0.0 Ok: queued\r\n221 2.0.0 innosoft.com closing connection\r\n"
    );
    assert_eq!(h.bodies, vec![b"Hi all\r\n".to_vec()]);
    assert_eq!(
        h.session.info().messages,
        1,
        "message accepted for ned and kvc"
    );
    assert_eq!(
        h.recipients(),
        [
            "<ned@innosoft.com>",
            "<dan@innosoft.com>",
            "<kvc@innosoft.com>"
        ]
    );
}

#[test]
fn rfc2920_pipelined_batch_is_chunking_invariant() {
    let script = format!("EHLO dbc.mtview.ca.us\r\n{RFC2920_BATCH}Hi all\r\n.\r\nQUIT\r\n");
    let mut reference = greeted(ServerConfig::new("innosoft.com"), rfc2920_decider);
    reference.feed(script.as_bytes(), usize::MAX);
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("innosoft.com"), rfc2920_decider);
        h.feed(script.as_bytes(), chunk);
        assert_eq!(lossy(&h.output), lossy(&reference.output), "chunk {chunk}");
        assert_eq!(h.events, reference.events, "chunk {chunk}");
    }
    let codes: Vec<u16> = parse_replies(&reference.output)
        .iter()
        .map(Reply::code)
        .collect();
    assert_eq!(codes, [220, 250, 250, 250, 550, 250, 354, 250, 221]);
}

/// RFC 3030 §4.1's one-chunk message.
const RFC3030_SINGLE: &str = "To: Susan@random.com\r\n\
    From: Sam@random.com\r\n\
    Subject: This is a bodyless test message\r\n";

fn rfc3030_decider(event: &ServerEvent) -> Decision {
    match event {
        ServerEvent::MessageEnd { size } => Decision::Reply(Reply::new(
            250,
            None,
            format!("Message OK, {size} octets received"),
        )),
        _ => Decision::Accept,
    }
}

#[test]
fn rfc3030_single_bdat_last_chunk() {
    assert_eq!(RFC3030_SINGLE.len(), 86);
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("cnri.reston.va.us"), rfc3030_decider);
        let ehlo = h.send(b"EHLO ymir.claremont.edu\r\n", chunk);
        assert!(ehlo[0].lines().iter().any(|l| l == "CHUNKING"));
        run_transcript(
            &mut h,
            chunk,
            &[
                ("MAIL FROM:<Sam@Random.com>\r\n", &[250]),
                ("RCPT TO:<Susan@Random.com>\r\n", &[250]),
            ],
        );
        h.feed(
            format!("BDAT 86 LAST\r\n{RFC3030_SINGLE}").as_bytes(),
            chunk,
        );
        assert_eq!(
            lossy(&h.take_new_output()),
            "250 Message OK, 86 octets received\r\n",
            "chunk {chunk}"
        );
        run_transcript(&mut h, chunk, &[("QUIT\r\n", &[221])]);
        assert_eq!(h.bodies, vec![RFC3030_SINGLE.as_bytes().to_vec()]);
        let kinds: Vec<&str> = h.events.iter().map(event_kind).collect();
        assert_eq!(
            kinds,
            [
                "Hello",
                "MailFrom",
                "RcptTo",
                "MessageStart",
                "MessageData",
                "MessageEnd",
                "Quit"
            ]
        );
        assert!(h.events.contains(&ServerEvent::MessageEnd { size: 86 }));
    }
}

#[test]
fn rfc3030_two_chunks_then_bdat_0_last_body_is_verbatim() {
    // BDAT carries octets as they are: no dot-unstuffing, no end-of-data
    // sequence, bare line endings included.
    let first = "To: ned@innosoft.com\r\nFrom: mrose@dbc.mtview.ca.us\r\nSubject: chunks\r\n\r\n";
    let second = "..not unstuffed\r\n.\r\nstill the body\nbare LF and bare CR\rend\r\n";
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("innosoft.com"), accept_all);
        run_transcript(
            &mut h,
            chunk,
            &[
                ("EHLO dbc.mtview.ca.us\r\n", &[250]),
                ("MAIL FROM:<mrose@dbc.mtview.ca.us>\r\n", &[250]),
                ("RCPT TO:<ned@innosoft.com>\r\n", &[250]),
            ],
        );
        h.feed(format!("BDAT {}\r\n{first}", first.len()).as_bytes(), chunk);
        assert_eq!(
            lossy(&h.take_new_output()),
            format!("250 2.0.0 {} octets received\r\n", first.len())
        );
        h.feed(
            format!("BDAT {}\r\n{second}", second.len()).as_bytes(),
            chunk,
        );
        let total = first.len() + second.len();
        assert_eq!(
            lossy(&h.take_new_output()),
            format!("250 2.0.0 {total} octets received\r\n")
        );
        h.feed(b"BDAT 0 LAST\r\n", chunk);
        assert_eq!(lossy(&h.take_new_output()), "250 2.0.0 Ok: queued\r\n");
        run_transcript(&mut h, chunk, &[("QUIT\r\n", &[221])]);
        assert_eq!(
            h.bodies,
            vec![format!("{first}{second}").into_bytes()],
            "chunk {chunk}"
        );
        assert!(
            h.events
                .contains(&ServerEvent::MessageEnd { size: total as u64 })
        );
        assert_eq!(
            h.events
                .iter()
                .filter(|e| **e == ServerEvent::MessageStart)
                .count(),
            1
        );
    }
}

#[test]
fn rfc3030_pipelined_bdat_sequence_in_one_write() {
    let body_a = "Subject: pipelined\r\n\r\n";
    let body_b = "part two\r\n";
    let script = format!(
        "EHLO ymir.claremont.edu\r\nMAIL FROM:<Sam@Random.com>\r\nRCPT TO:<Susan@Random.com>\r\n\
         BDAT {}\r\n{body_a}BDAT {} LAST\r\n{body_b}QUIT\r\n",
        body_a.len(),
        body_b.len()
    );
    for chunk in CHUNK_SIZES {
        let mut h = greeted(ServerConfig::new("cnri.reston.va.us"), accept_all);
        h.feed(script.as_bytes(), chunk);
        let replies = parse_replies(&h.take_new_output());
        let codes: Vec<u16> = replies.iter().map(Reply::code).collect();
        assert_eq!(codes, [250, 250, 250, 250, 250, 221], "chunk {chunk}");
        assert_eq!(
            replies[3].text(),
            format!("{} octets received", body_a.len())
        );
        assert_eq!(replies[4].text(), "Ok: queued");
        assert_eq!(h.bodies, vec![format!("{body_a}{body_b}").into_bytes()]);
    }
}

// ----- the seed transcripts -----

/// One exchange of a printed transcript: a client line (None for the
/// greeting) and the server text that follows it (CRLF line ends).
struct Exchange {
    client: Option<String>,
    server: String,
}

fn is_server_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && (b.len() == 3 || b[3] == b' ' || b[3] == b'-')
}

/// Splits a seed transcript into exchanges; `#` lines are comments.
fn parse_seed_transcript(text: &str) -> Vec<Exchange> {
    let mut out = vec![Exchange {
        client: None,
        server: String::new(),
    }];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if is_server_line(line) {
            let last = out.last_mut().expect("non-empty");
            last.server.push_str(line);
            last.server.push_str("\r\n");
        } else {
            out.push(Exchange {
                client: Some(line.to_owned()),
                server: String::new(),
            });
        }
    }
    out
}

const TELNET_SEED: &str = "smtp-telnet-session.txt";

fn telnet_server_config() -> ServerConfig {
    let mut config = ServerConfig::new("mxfront8g.mail.yandex.net");
    config.greeting =
        "(Want to use Yandex.Mail for your domain? Visit http://pdd.yandex.ru)".to_owned();
    config
}

#[test]
fn seed_telnet_session_replays_with_lenient_paths() {
    let exchanges = parse_seed_transcript(&read_seed(TELNET_SEED));
    assert_eq!(exchanges.len(), 8, "greeting + 7 client lines in the seed");
    for chunk in CHUNK_SIZES {
        let mut h = Harness::new(telnet_server_config(), accept_all);
        for ex in &exchanges {
            if let Some(line) = &ex.client {
                h.feed(format!("{line}\r\n").as_bytes(), chunk);
            }
            let ours_bytes = h.take_new_output();
            let ours = parse_replies(&ours_bytes);
            let theirs = parse_replies(ex.server.as_bytes());
            let ours_codes: Vec<u16> = ours.iter().map(Reply::code).collect();
            let their_codes: Vec<u16> = theirs.iter().map(Reply::code).collect();
            assert_eq!(
                ours_codes,
                their_codes,
                "after {:?} we wrote {:?}, the seed shows {:?}",
                ex.client,
                lossy(&ours_bytes),
                ex.server
            );
            // Where the seed's server gave an enhanced code, ours matches it.
            for (o, t) in ours.iter().zip(&theirs) {
                if let Some(code) = t.enhanced() {
                    assert_eq!(o.enhanced(), Some(code), "after {:?}", ex.client);
                }
            }
            // The greeting and the HELO reply are byte for byte the seed's.
            match ex.client.as_deref() {
                None => assert_eq!(lossy(&ours_bytes), ex.server),
                Some(l) if l.starts_with("HELO") => assert_eq!(lossy(&ours_bytes), ex.server),
                _ => {}
            }
        }
        assert!(h.session.is_closed());
        assert_eq!(h.senders(), ["<dradchuk@nodrop.in>"], "chunk {chunk}");
        assert_eq!(h.recipients(), ["<lliopt@yandex.ru>"]);
        assert_eq!(h.bodies, vec![b"test data.\r\n".to_vec()]);
        assert_eq!(
            h.events[0],
            ServerEvent::Hello {
                domain: "nodrop.in".into(),
                extended: false
            }
        );
    }
}

#[test]
fn seed_telnet_session_refused_with_strict_paths() {
    let exchanges = parse_seed_transcript(&read_seed(TELNET_SEED));
    let mut config = telnet_server_config();
    config.strictness.lenient_paths = false;
    for chunk in CHUNK_SIZES {
        let mut h = Harness::new(config.clone(), accept_all);
        h.take_new_output();
        let mut replies = Vec::new();
        for ex in exchanges.iter().skip(1) {
            let line = ex.client.as_deref().expect("client line");
            let r = h.send(format!("{line}\r\n").as_bytes(), chunk);
            replies.push((line.to_owned(), r));
        }
        let codes: Vec<(&str, Vec<u16>)> = replies
            .iter()
            .map(|(l, r)| (l.as_str(), r.iter().map(Reply::code).collect()))
            .collect();
        assert_eq!(
            codes,
            [
                ("HELO nodrop.in", vec![250]),
                ("MAIL FROM:dradchuk@nodrop.in", vec![501]),
                ("RCPT TO: lliopt@yandex.ru", vec![501]),
                ("DATA", vec![503]),
                ("test data.", vec![500]),
                (".", vec![500]),
                ("QUIT", vec![221]),
            ],
            "chunk {chunk}"
        );
        for (_, r) in &replies[1..3] {
            assert_eq!(r[0].enhanced(), Some(EnhancedCode::new(5, 5, 4)));
        }
        assert!(h.senders().is_empty());
        assert!(h.recipients().is_empty());
        assert!(h.bodies.is_empty());
    }
}

const EHLO_SEED: &str = "esmtp-ehlo-response.txt";

fn seed_capabilities() -> Capabilities {
    Capabilities {
        eight_bit_mime: true,
        pipelining: true,
        size: Some(42_991_616),
        starttls: true,
        dsn: true,
        enhanced_status_codes: true,
        ..Capabilities::default()
    }
}

fn seed_ehlo_server_config() -> ServerConfig {
    let mut config = ServerConfig::new("mxfront5g.mail.yandex.net");
    config.extensions = Extensions {
        eight_bit_mime: true,
        pipelining: true,
        size: true,
        starttls: true,
        dsn: true,
        enhanced_status_codes: true,
        ..Extensions::default()
    };
    config.limits.max_message_size = 42_991_616;
    config
}

#[test]
fn seed_ehlo_our_reply_advertises_exactly_the_seed_set() {
    let exchanges = parse_seed_transcript(&read_seed(EHLO_SEED));
    let ex = exchanges
        .iter()
        .find(|e| e.client.is_some())
        .expect("the seed has a client line");
    let ehlo_line = ex.client.as_deref().unwrap();
    assert_eq!(ehlo_line, "EHLO nodrop.in");
    let seed_reply = parse_replies(ex.server.as_bytes());
    assert_eq!(seed_reply.len(), 1);

    let mut h = greeted(seed_ehlo_server_config(), accept_all);
    let ours = h.send(format!("{ehlo_line}\r\n").as_bytes(), usize::MAX);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].code(), 250);
    assert_eq!(
        ours[0].lines()[0],
        "mxfront5g.mail.yandex.net Hello nodrop.in"
    );
    assert_eq!(
        Capabilities::from_ehlo_lines(ours[0].lines()),
        seed_capabilities()
    );

    // Same keyword lines as the seed's server, in whatever order.
    let mut our_keywords = ours[0].lines()[1..].to_vec();
    let mut seed_keywords = seed_reply[0].lines()[1..].to_vec();
    our_keywords.sort();
    seed_keywords.sort();
    assert_eq!(our_keywords, seed_keywords);

    // Once TLS is up, STARTTLS is no longer offered; the rest stays.
    h.feed(b"STARTTLS\r\n", usize::MAX);
    assert_eq!(
        lossy(&h.take_new_output()),
        "220 2.0.0 Ready to start TLS\r\n"
    );
    h.session.tls_established(common::test_tls()).unwrap();
    let after = h.send(format!("{ehlo_line}\r\n").as_bytes(), usize::MAX);
    assert_eq!(
        Capabilities::from_ehlo_lines(after[0].lines()),
        Capabilities {
            starttls: false,
            ..seed_capabilities()
        }
    );
}

#[test]
fn seed_ehlo_reply_parsed_by_the_client() {
    let exchanges = parse_seed_transcript(&read_seed(EHLO_SEED));
    let seed_reply = exchanges
        .iter()
        .find(|e| e.client.is_some())
        .expect("the seed has a client line")
        .server
        .clone();
    assert_eq!(
        Capabilities::from_ehlo_lines(parse_replies(seed_reply.as_bytes())[0].lines()),
        seed_capabilities()
    );
    for chunk in CHUNK_SIZES {
        let now = Instant::now();
        let mut client = ClientSession::new(ClientConfig::new("nodrop.in"), now);
        for piece in b"220 mxfront5g.mail.yandex.net ESMTP\r\n".chunks(chunk) {
            client.enqueue_input(now, piece);
            assert_eq!(client.poll_event(), None);
        }
        assert_eq!(
            lossy(&client.poll_transmit().unwrap()),
            "EHLO nodrop.in\r\n"
        );
        for piece in seed_reply.as_bytes().chunks(chunk) {
            client.enqueue_input(now, piece);
            assert_eq!(client.poll_event(), None);
        }
        assert_eq!(client.capabilities(), &seed_capabilities(), "chunk {chunk}");
        // Opportunistic TLS: the seed's server offers STARTTLS, so it is next.
        assert_eq!(lossy(&client.poll_transmit().unwrap()), "STARTTLS\r\n");
        client.enqueue_input(now, b"220 2.0.0 Start TLS\r\n");
        assert_eq!(client.poll_event(), Some(ClientEvent::StartTls));
    }
}

// ----- the client side of D.1 -----

fn d1_envelope() -> Envelope {
    Envelope {
        from: sender("Smith@bar.com"),
        params: MailParameters::default(),
        recipients: ["Jones@foo.com", "Green@foo.com", "Brown@foo.com"]
            .iter()
            .map(|r| (rcpt(r), RcptParameters::default()))
            .collect(),
    }
}

/// Feeds `reply` to the client in pieces; returns the events it raised.
fn client_feed(client: &mut ClientSession, reply: &str, chunk: usize) -> Vec<ClientEvent> {
    let now = Instant::now();
    let mut events = Vec::new();
    for piece in reply.as_bytes().chunks(chunk) {
        client.enqueue_input(now, piece);
        while let Some(e) = client.poll_event() {
            events.push(e);
        }
    }
    events
}

fn client_output(client: &mut ClientSession) -> String {
    lossy(&client.poll_transmit().unwrap_or_default())
}

#[test]
fn rfc5321_d1_client_side_bytes_and_per_recipient_outcomes() {
    for chunk in CHUNK_SIZES {
        let now = Instant::now();
        let mut config = ClientConfig::new("bar.com");
        config.tls = TlsPolicy::Opportunistic;
        let mut c = ClientSession::new(config, now);
        assert_eq!(client_output(&mut c), "");

        let ev = client_feed(
            &mut c,
            "220 foo.com Simple Mail Transfer Service Ready\r\n",
            chunk,
        );
        assert!(ev.is_empty());
        assert_eq!(client_output(&mut c), "EHLO bar.com\r\n");

        let ev = client_feed(
            &mut c,
            "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
            chunk,
        );
        assert_eq!(ev, [ClientEvent::Ready]);
        assert_eq!(
            client_output(&mut c),
            "",
            "no STARTTLS offered, no AUTH wanted"
        );
        assert_eq!(c.capabilities().size, Some(0));
        assert!(!c.capabilities().pipelining);

        c.send(now, d1_envelope()).unwrap();
        assert_eq!(client_output(&mut c), "MAIL FROM:<Smith@bar.com>\r\n");
        // No PIPELINING: one command per reply.
        for (reply, next) in [
            ("250 OK\r\n", "RCPT TO:<Jones@foo.com>\r\n"),
            ("250 OK\r\n", "RCPT TO:<Green@foo.com>\r\n"),
            ("550 No such user here\r\n", "RCPT TO:<Brown@foo.com>\r\n"),
            ("250 OK\r\n", "DATA\r\n"),
        ] {
            assert!(client_feed(&mut c, reply, chunk).is_empty());
            assert_eq!(client_output(&mut c), next, "after {reply:?}");
        }
        let ev = client_feed(
            &mut c,
            "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            chunk,
        );
        assert_eq!(ev, [ClientEvent::SendBody]);
        c.body_chunk(D1_BODY.as_bytes()).unwrap();
        c.body_end(now).unwrap();
        assert_eq!(
            client_output(&mut c),
            D1_WIRE_BODY,
            "dot-stuffed on the wire"
        );

        let ev = client_feed(&mut c, "250 OK\r\n", chunk);
        let ok = Reply::new(250, None, "OK");
        assert_eq!(
            ev,
            [ClientEvent::Delivered(MessageOutcome {
                recipients: vec![
                    RecipientOutcome {
                        to: rcpt("Jones@foo.com"),
                        status: DeliveryStatus::Accepted(ok.clone()),
                    },
                    RecipientOutcome {
                        to: rcpt("Green@foo.com"),
                        status: DeliveryStatus::PermanentFailure(Reply::new(
                            550,
                            None,
                            "No such user here"
                        )),
                    },
                    RecipientOutcome {
                        to: rcpt("Brown@foo.com"),
                        status: DeliveryStatus::Accepted(ok),
                    },
                ]
            })],
            "chunk {chunk}"
        );
        assert_eq!(client_output(&mut c), "");
        c.quit(now).unwrap();
        assert_eq!(client_output(&mut c), "QUIT\r\n");
        let ev = client_feed(
            &mut c,
            "221 foo.com Service closing transmission channel\r\n",
            chunk,
        );
        assert_eq!(ev, [ClientEvent::Closed]);
        assert!(c.is_closed());
    }
}

#[test]
fn rfc5321_d1_client_against_our_server() {
    let now = Instant::now();
    let mut config = ClientConfig::new("bar.com");
    config.use_chunking = false;
    let client = ClientSession::new(config, now);
    let server = Harness::new(ServerConfig::new("foo.com"), d1_decider);
    let mut pair = common::Pair::new(client, server);
    assert_eq!(pair.run(), [ClientEvent::Ready]);
    pair.client.send(now, d1_envelope()).unwrap();
    assert_eq!(pair.run(), [ClientEvent::SendBody]);
    pair.client.body_chunk(D1_BODY.as_bytes()).unwrap();
    pair.client.body_end(now).unwrap();
    let ev = pair.run();
    let [ClientEvent::Delivered(outcome)] = ev.as_slice() else {
        panic!("expected one Delivered, got {ev:?}");
    };
    let statuses: Vec<(String, u16, bool)> = outcome
        .recipients
        .iter()
        .map(|r| {
            (
                r.to.to_string(),
                r.status.reply().code(),
                matches!(r.status, DeliveryStatus::PermanentFailure(_)),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("<Jones@foo.com>".to_owned(), 250, false),
            ("<Green@foo.com>".to_owned(), 550, true),
            ("<Brown@foo.com>".to_owned(), 250, false),
        ]
    );
    // Our server offers PIPELINING: MAIL, the RCPTs and DATA went in one batch.
    assert!(lossy(&pair.client_bytes).contains(
        "MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\nRCPT TO:<Green@foo.com>\r\n\
         RCPT TO:<Brown@foo.com>\r\nDATA\r\n"
    ));
    assert_eq!(pair.server.bodies, vec![D1_BODY.as_bytes().to_vec()]);
    pair.client.quit(now).unwrap();
    assert_eq!(pair.run(), [ClientEvent::Closed]);
    assert!(pair.server.session.is_closed());
    assert_eq!(
        pair.server
            .events
            .iter()
            .filter(|e| matches!(
                e,
                ServerEvent::RcptTo {
                    to: ForwardPath::Mailbox(_),
                    ..
                }
            ))
            .count(),
        3
    );
}

fn event_kind(e: &ServerEvent) -> &'static str {
    match e {
        ServerEvent::Hello { .. } => "Hello",
        ServerEvent::MailFrom { .. } => "MailFrom",
        ServerEvent::RcptTo { .. } => "RcptTo",
        ServerEvent::MessageStart => "MessageStart",
        ServerEvent::MessageData(_) => "MessageData",
        ServerEvent::MessageEnd { .. } => "MessageEnd",
        ServerEvent::MessageAborted { .. } => "MessageAborted",
        ServerEvent::TransactionReset => "TransactionReset",
        ServerEvent::AuthVerify(_) => "AuthVerify",
        ServerEvent::Authenticated(_) => "Authenticated",
        ServerEvent::StartTls => "StartTls",
        ServerEvent::Etrn { .. } => "Etrn",
        ServerEvent::Quit => "Quit",
        ServerEvent::TimedOut => "TimedOut",
    }
}
